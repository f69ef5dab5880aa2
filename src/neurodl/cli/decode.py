"""``neurodl decode eeg|spikes``: cross-validated decoding of real recordings."""

from __future__ import annotations

from pathlib import Path

import typer

from neurodl.cli._common import (
    JSON,
    check_writable,
    cli_errors,
    echo_json,
    echo_warnings,
    write_json,
)
from neurodl.errors import ValidationError

app = typer.Typer(help="Decode recordings with honest cross-validation.")

OUT_OPT = typer.Option(None, "--out", help="Also write the results as JSON here.")


def _runs(runs: list[int], extra: list[str]) -> list[int]:
    """Accept ``--runs 6 10 14`` (click gives the 10 and 14 as extra arguments)."""
    out = list(runs)
    for a in extra:
        if not a.lstrip("-").isdigit():
            raise ValidationError(
                f"unexpected argument {a!r}; '--runs' takes run numbers such as "
                "'--runs 6 10 14'."
            )
        out.append(int(a))
    if not out:
        raise ValidationError("'--runs' must name at least one run; got none.")
    return out


def _events(text: str) -> dict[str, str]:
    """Parse ``--events 'T1=left,T2=right'`` into ``{"T1": "left", "T2": "right"}``."""
    out: dict[str, str] = {}
    for item in text.split(","):
        key, sep, value = (s.strip() for s in item.partition("="))
        if not sep or not key or not value:
            raise ValidationError(
                "'--events' must be ANNOTATION=CLASS pairs separated by commas, "
                f"such as 'T1=left_hand,T2=right_hand'; got {text!r}."
            )
        out[key] = value
    return out


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": False}
)
@cli_errors(
    n_splits="--splits",
    random_state="--seed",
    min_trials_per_class="--runs",
    n_permutations="--permutations",
)
def eeg(
    ctx: typer.Context,
    data: str = typer.Option(
        "eegmmidb", "--data", help="Bundled dataset name, folder or EEG file."
    ),
    subject: int = typer.Option(1, "--subject", help="PhysioNet subject number."),
    runs: list[int] = typer.Option(
        [6, 10, 14], "--runs", help="Runs to use, e.g. --runs 6 10 14."
    ),
    pipeline: str = typer.Option(
        "csp-lda",
        "--pipeline",
        help="csp-lda, fbcsp, riemann, mdm, convnet or eegnet.",
    ),
    cv: str = typer.Option(
        "shuffle", "--cv", help="shuffle (MNE's example), stratified or runs."
    ),
    splits: int = typer.Option(10, "--splits", help="Number of shuffle splits."),
    seed: int = typer.Option(42, "--seed", help="Seed of the splits."),
    n_jobs: int = typer.Option(1, "--n-jobs", help="Folds in parallel (joblib)."),
    tmin: float = typer.Option(None, "--tmin", help="Epoch start, s after the cue."),
    tmax: float = typer.Option(None, "--tmax", help="Epoch end, s after the cue."),
    l_freq: float = typer.Option(None, "--l-freq", help="High-pass edge, Hz."),
    h_freq: float = typer.Option(None, "--h-freq", help="Low-pass edge, Hz."),
    events: str = typer.Option(
        None,
        "--events",
        help="Annotation -> class, e.g. 'T1=left_hand,T2=right_hand' (default for "
        "eegmmidb runs: named from the run's task).",
    ),
    rest: bool = typer.Option(
        False, "--rest", help="Also decode rest (T0) as a class."
    ),
    permutations: int = typer.Option(
        0, "--permutations", help="Also run a label-permutation test with N shuffles."
    ),
    out: Path = OUT_OPT,
    as_json: bool = JSON,
) -> None:
    """Cross-validate an EEG decoder (defaults: MNE's motor-imagery example).

    eegmmidb classes are named from the runs: left_fist/right_fist in runs 3, 4,
    7, 8, 11, 12 and both_fists/both_feet in runs 5, 6, 9, 10, 13, 14.
    """
    from neurodl.tasks.decoding import decode_eeg

    check_writable("--out", out)

    res = decode_eeg(
        data,
        subject=subject,
        runs=_runs(runs, ctx.args),
        pipeline=pipeline,
        cv=cv,
        n_splits=splits,
        random_state=seed,
        n_jobs=n_jobs,
        tmin=tmin,
        tmax=tmax,
        l_freq=l_freq,
        h_freq=h_freq,
        events=None if events is None else _events(events),
        rest=rest,
        permutations=permutations,
    )
    if out is not None:
        write_json(out, res)
    if as_json:
        echo_json(res)
        return
    m = res["mean"]
    echo_warnings(res)
    typer.echo(
        f"{pipeline} on {res['data']} subject {subject} runs {res['runs']}: "
        f"{res['n_trials']} trials {res['classes']}, {res['n_splits']} {cv} splits: "
        f"accuracy {m['accuracy']:.4f} (+/- {res['std']['accuracy']:.4f}), "
        f"balanced {m['balanced_accuracy']:.4f}, kappa {m['kappa']:.4f}; chance "
        f"{res['chance_level']:.4f}; {res['seconds']:.1f} s"
    )
    if "permutation_test" in res:
        p = res["permutation_test"]
        typer.echo(
            f"permutation test: p = {p['p_value']:.4f} over {p['n_permutations']} "
            "label shuffles"
        )


@app.command()
@cli_errors(
    path="--data",
    rebin_s="--rebin",
    bins_before="--history",
    bins_after="--history",
    random_state="--seed",
)
def spikes(
    data: str = typer.Option(
        "spikes_m1", "--data", help="Bundled dataset name or a .mat/.npz/.nwb file."
    ),
    decoder: str = typer.Option(
        "wiener", "--decoder", help="wiener, kalman, gru or lstm."
    ),
    spikes_key: str = typer.Option(
        None, "--spikes-key", help="Variable holding the spike counts."
    ),
    target_key: str = typer.Option(
        None, "--target-key", help="Variable holding the behaviour to decode."
    ),
    position_key: str = typer.Option(
        None, "--position-key", help="Position variable (Kalman state), if any."
    ),
    bin_s: float = typer.Option(
        None,
        "--bin-s",
        help="Bin width in s of a file with no time vector (or of an NWB file's "
        "spike-time binning).",
    ),
    rebin: float = typer.Option(
        None, "--rebin", help="New bin width in s (a whole multiple of the file's)."
    ),
    history: int = typer.Option(
        6, "--history", help="Bins before and after the current one (6: 13 bins)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the recurrent decoder."),
    epochs: int = typer.Option(12, "--epochs", help="Most epochs (recurrent)."),
    figure: Path = typer.Option(
        None, "--figure", help="Also write a decoded-vs-true PNG here."
    ),
    out: Path = OUT_OPT,
    as_json: bool = JSON,
) -> None:
    """Decode behaviour from spike counts: time-ordered 70/15/15 split, test R²."""
    from neurodl.tasks.decoding import decode_spikes

    check_writable("--figure", figure)
    check_writable("--out", out)

    res = decode_spikes(
        data,
        decoder=decoder,
        spikes_key=spikes_key,
        target_key=target_key,
        position_key=position_key,
        bin_s=bin_s,
        rebin_s=rebin,
        bins_before=history,
        bins_after=history,
        random_state=seed,
        epochs=epochs,
    )
    summary = res.summary
    if figure is not None:
        from neurodl.viz import save_decoded_velocity

        save_decoded_velocity(
            res.y_test,
            {decoder: res.y_pred},
            res.bin_s,
            figure,
            f"{decoder}: test R² {summary['test']['r2']:.3f}",
            labels=res.target_names,
        )
        summary["figure"] = str(figure)
    if out is not None:
        write_json(out, summary)
    if as_json:
        echo_json(summary)
        return
    typer.echo(
        f"{decoder} on {summary['data']} ({summary['n_units']} units, "
        f"{summary['n_bins']} bins of {summary['bin_s'] * 1000:g} ms): test R² "
        f"{summary['test']['r2']:.4f} (per output {summary['test']['r2_per_output']}), "
        f"validation R² {summary['validation']['r2']:.4f}; chosen on validation: "
        f"{summary['chosen_on_validation']}; {summary['seconds']:.1f} s"
    )
    echo_warnings(summary)
