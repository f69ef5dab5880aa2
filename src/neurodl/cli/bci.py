"""``neurodl bci``: live decoding over Lab Streaming Layer.

``neurodl bci replay`` streams a recording (the bundled eegmmidb runs or a file) as
an LSL outlet in real time, with its event markers; ``neurodl bci run`` decodes a
live stream into 2-D cursor commands (LSL ``Control`` outlet and a simulated cursor
whose trajectory is logged), and reports latency, dropped samples and stalls.
"""

from __future__ import annotations

import re
from pathlib import Path

import typer

from neurodl.cli._common import JSON, check_writable, cli_errors, echo_json
from neurodl.errors import ValidationError

app = typer.Typer(
    help="Live decoding over Lab Streaming Layer: replay a recording, decode it.",
    no_args_is_help=True,
)

DEFAULT_NAME = "neurodl-eeg"

QUIET = typer.Option(False, "--quiet", "-q", help="No status lines on stderr.")


def parse_runs(items: list[str]) -> list[int]:
    """Turn ``--train-runs`` items (``"6"``, ``"6,10"`` or ``"6 10 14"``) into ints.

    Raises
    ------
    ValidationError
        For an item that is not a list of integers, or no runs at all.
    """
    out: list[int] = []
    for item in items:
        for part in re.split(r"[,\s]+", item.strip()):
            if not part:
                continue
            if not part.isdigit():
                raise ValidationError(
                    f"'--train-runs' takes run numbers such as '6,10,14'; got {item!r}."
                )
            out.append(int(part))
    if not out:
        raise ValidationError("'--train-runs' needs at least one run number.")
    return out


def _status(quiet: bool, message: str) -> None:
    if not quiet:
        typer.echo(f"neurodl bci: {message}", err=True)


@app.command()
@cli_errors(stream_type="--type")
def replay(
    data: str = typer.Option("eegmmidb", help="Bundled dataset to replay."),
    run: int = typer.Option(6, help="Bundled run: 4, 6, 8, 10, 12 or 14."),
    path: Path | None = typer.Option(
        None,
        "--path",
        help="Replay this file instead: EDF/BDF/GDF (MNE) or .npz with 'data' "
        "(n_channels, n_samples) and 'sfreq'.",
    ),
    name: str = typer.Option(
        DEFAULT_NAME, help="LSL stream name (markers: NAME-markers)."
    ),
    stream_type: str = typer.Option("EEG", "--type", help="LSL content type."),
    chunk: int = typer.Option(4, help="Samples per pushed chunk."),
    speed: float = typer.Option(
        1.0, help="1.0 streams in real time, 2.0 twice as fast."
    ),
    loop: bool = typer.Option(False, "--loop/--no-loop", help="Start over at the end."),
    duration: float | None = typer.Option(
        None, help="Stop after this many seconds (default: the end of the data)."
    ),
    markers: bool = typer.Option(
        True, "--markers/--no-markers", help="Also stream the event markers."
    ),
    as_json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Stream a recording as an LSL outlet in real time (Ctrl-C stops it)."""
    from neurodl.bci.stream import MARKER_SUFFIX, load_recording
    from neurodl.bci.stream import replay as do_replay

    rec = load_recording(path, data=data, run=run)
    length = rec.n_samples / rec.sfreq
    marker_text = f", markers on {name + MARKER_SUFFIX!r}" if markers else ""
    _status(
        quiet,
        f"streaming {name!r}: {rec.n_channels} ch at {rec.sfreq:g} Hz, "
        f"{length:.1f} s of {Path(rec.source).name} at speed {speed:g}"
        f"{' (looping)' if loop else ''}{marker_text}; Ctrl-C stops.",
    )
    stats = do_replay(
        rec,
        name,
        stream_type=stream_type,
        chunk=chunk,
        speed=speed,
        loop=loop,
        duration=duration,
        markers=markers,
    )
    if as_json:
        echo_json(stats.to_dict() | {"source": rec.source})
        return
    typer.echo(
        f"sent {stats.samples_sent} samples in {stats.chunks} chunks and "
        f"{stats.markers_sent} markers in {stats.duration_s:.2f} s "
        f"(latest push {stats.late_ms_max:.2f} ms behind schedule)"
        f"{', stopped' if stats.stopped else ''}."
    )


@app.command(name="run")
@cli_errors(runs="--train-runs")
def run_cmd(
    name: str = typer.Option(DEFAULT_NAME, help="Name of the LSL stream to decode."),
    stream_type: str | None = typer.Option(
        None, "--type", help="Content type of the stream (e.g. EEG); must match too."
    ),
    train_runs: list[str] | None = typer.Option(
        None,
        "--train-runs",
        help="Bundled eegmmidb runs to fit the CSP+LDA decoder on at start, e.g. "
        "'6,10,14' (default) or repeated.",
    ),
    decoder_path: Path | None = typer.Option(
        None,
        "--decoder",
        help="Load a decoder saved with --save-decoder instead of fitting one.",
    ),
    save_decoder: Path | None = typer.Option(
        None, help="Save the fitted decoder here (.safetensors, no pickle)."
    ),
    window: float | None = typer.Option(
        None, help="Window length, s (default: the training epoch, 1 s)."
    ),
    step: float = typer.Option(0.1, help="Decode every STEP seconds of data."),
    duration: float | None = typer.Option(
        None, help="Stop after this many seconds (default: until Ctrl-C)."
    ),
    stall_timeout: float = typer.Option(
        2.0, help="Seconds without a sample before the stream counts as stalled."
    ),
    resolve_timeout: float = typer.Option(
        5.0, help="Seconds to wait for the stream at the start."
    ),
    trajectory: Path = typer.Option(
        Path("runs/bci/trajectory.csv"),
        help="Cursor trajectory file (.csv or .npz), rewritten atomically.",
    ),
    control_name: str | None = typer.Option(
        None, help="Name of the LSL Control outlet (default: NAME-control)."
    ),
    gain: float = typer.Option(
        0.5, help="Cursor speed, workspace units per second (workspace [-1, 1]^2)."
    ),
    as_json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Decode a live LSL stream into 2-D cursor commands; print latency and drops.

    Class commands: both_fists -> up, both_feet -> down, left_fist -> left,
    right_fist -> right (--train-runs 4,8,12 decodes left vs right). The cursor
    holds still while the stream is stalled, and the run reconnects when the
    stream comes back.
    """
    from neurodl.bci.decoder import fit_online_decoder, load_online_decoder
    from neurodl.bci.device import Cursor2D, trajectory_format
    from neurodl.bci.online import OnlineRunner

    if decoder_path is not None and train_runs:
        raise ValidationError("give either --decoder or --train-runs, not both.")
    for key, val in (
        ("--step", step),
        ("--gain", gain),
        ("--window", window),
        ("--duration", duration),
        ("--stall-timeout", stall_timeout),
        ("--resolve-timeout", resolve_timeout),
    ):
        if val is not None and not val > 0:
            raise ValidationError(f"{key!r} must be > 0; got {val!r}.")
    for key, text in (
        ("--name", name),
        ("--type", stream_type),
        ("--control-name", control_name),
    ):
        if text is not None and not text.strip():
            raise ValidationError(f"{key!r} must be a non-empty name; got {text!r}.")
    trajectory_format(trajectory, "--trajectory")
    check_writable("--trajectory", trajectory)
    check_writable("--save-decoder", save_decoder)
    if decoder_path is not None and not decoder_path.is_file():
        raise ValidationError(
            f"'--decoder' must be a decoder file saved with --save-decoder; "
            f"{str(decoder_path)!r} does not exist."
        )
    if decoder_path is not None:
        decoder = load_online_decoder(decoder_path)
        _status(quiet, f"loaded decoder {str(decoder_path)!r}")
    else:
        runs = parse_runs(train_runs or ["6,10,14"])
        _status(
            quiet,
            f"fitting CSP+LDA on eegmmidb runs {', '.join(map(str, runs))} "
            "(band 7-30 Hz causal, epochs 1-2 s after the cue)",
        )
        decoder = fit_online_decoder(runs=runs)
    if save_decoder is not None:
        decoder.save(save_decoder)
        _status(quiet, f"saved decoder to {str(save_decoder)!r}")
    win = decoder.window_samples if window is None else round(window * decoder.sfreq)
    stp = max(1, round(step * decoder.sfreq))
    if win < 2:
        raise ValidationError(f"'--window' must span at least 2 samples; got {window}.")
    runner = OnlineRunner(
        decoder,
        name=name,
        stream_type=stream_type,
        window=win,
        step=stp,
        cursor=Cursor2D(gain=gain),
        trajectory=trajectory,
        control_name=control_name,
        resolve_timeout=resolve_timeout,
        stall_timeout=stall_timeout,
        log=lambda msg: _status(quiet, msg),
    )
    _status(quiet, f"waiting for LSL stream {name!r} (up to {resolve_timeout:g} s)")
    summary = runner.run(duration=duration)
    if as_json:
        echo_json(summary.to_dict())
        return
    for line in summary.lines():
        typer.echo(line)
