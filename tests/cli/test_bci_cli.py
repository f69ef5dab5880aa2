"""``neurodl bci replay`` and ``neurodl bci run`` on loopback LSL."""

import json
import threading
import uuid

import numpy as np
import pytest
from typer.testing import CliRunner

from neurodl.bci.device import read_trajectory
from neurodl.bci.stream import StreamNotFoundError, load_recording, quiet_lsl, replay
from neurodl.cli import bci
from neurodl.errors import ValidationError

quiet_lsl()
runner = CliRunner()


def unique(prefix="cli"):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def invoke(*args):
    return runner.invoke(bci.app, [str(a) for a in args])


def test_replay_streams_for_the_duration():
    result = invoke("replay", "--name", unique(), "--duration", 2, "--json", "-q")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["samples_sent"] == 320  # 2 s at 160 Hz
    assert data["n_channels"] == 64 and data["sfreq"] == 160.0
    assert 1.9 < data["duration_s"] < 2.5
    assert data["source"].endswith("S001R06.edf")


def test_replay_text_and_bad_run():
    result = invoke("replay", "--name", unique(), "--duration", 0.2, "--chunk", 8)
    assert result.exit_code == 0, result.output
    assert "sent 32 samples in 4 chunks" in result.stdout
    result = invoke("replay", "--run", 3, "--duration", 0.2)
    assert isinstance(result.exception, ValidationError)
    assert "4, 6, 8, 10, 12, 14" in str(result.exception)


def test_run_decodes_a_live_replay(tmp_path):
    name = unique()
    stop, ready = threading.Event(), threading.Event()
    rec = load_recording(run=6)
    th = threading.Thread(
        target=replay,
        args=(rec, name),
        kwargs={"stop": stop, "ready": ready, "duration": 30.0},
        daemon=True,
    )
    th.start()
    assert ready.wait(5)
    traj = tmp_path / "traj.npz"
    dec = tmp_path / "dec.safetensors"
    try:
        result = invoke(
            "run",
            "--name",
            name,
            "--train-runs",
            "6",
            "--save-decoder",
            dec,
            "--duration",
            2.5,
            "--step",
            0.25,
            "--trajectory",
            traj,
            "--json",
            "-q",
        )
    finally:
        stop.set()
        th.join(10)
    assert result.exit_code == 0, result.output
    s = json.loads(result.stdout)
    assert s["stream"] == name and s["channels"] == 64
    assert s["step_samples"] == 40 and s["window_samples"] == 160
    assert s["windows"] >= 3 and s["dropped_samples"] == 0
    assert s["latency_ms"]["p95"] is not None
    assert len(read_trajectory(traj)["x"]) == s["windows"]
    assert dec.is_file()


def test_run_loads_a_saved_decoder_and_reports_text(tmp_path):
    from neurodl.bci.decoder import fit_online_decoder

    path = fit_online_decoder(runs=(6,)).save(tmp_path / "dec.safetensors")
    name = unique()
    stop, ready = threading.Event(), threading.Event()
    rec = load_recording(run=10)
    th = threading.Thread(
        target=replay,
        args=(rec, name),
        kwargs={"stop": stop, "ready": ready, "speed": 2.0, "duration": 30.0},
        daemon=True,
    )
    th.start()
    assert ready.wait(5)
    try:
        result = invoke(
            "run",
            "--name",
            name,
            "--decoder",
            path,
            "--duration",
            1.5,
            "--trajectory",
            tmp_path / "t.csv",
        )
    finally:
        stop.set()
        th.join(10)
    assert result.exit_code == 0, result.output
    for word in ("latency", "p95", "dropped", "stalls", "trajectory"):
        assert word in result.stdout
    assert (tmp_path / "t.csv").is_file()


def test_run_without_a_stream_is_a_clear_error(tmp_path):
    from neurodl.bci.decoder import fit_online_decoder

    path = fit_online_decoder(runs=(6,)).save(tmp_path / "dec.safetensors")
    result = invoke(
        "run",
        "--name",
        unique("absent"),
        "--decoder",
        path,
        "--resolve-timeout",
        0.3,
        "--trajectory",
        tmp_path / "t.csv",
        "-q",
    )
    assert isinstance(result.exception, StreamNotFoundError)
    assert "within 0.3 s" in str(result.exception)


@pytest.mark.parametrize(
    ("items", "runs"),
    [(["6,10,14"], [6, 10, 14]), (["6 10"], [6, 10]), (["6", "14"], [6, 14])],
)
def test_parse_runs(items, runs):
    assert bci.parse_runs(items) == runs


def test_parse_runs_rejects_words():
    with pytest.raises(ValidationError, match="run numbers"):
        bci.parse_runs(["six"])
    with pytest.raises(ValidationError, match="both"):
        result = invoke("run", "--decoder", "x", "--train-runs", "6")
        raise result.exception


def test_main_registers_bci_when_wired():
    import importlib

    main = importlib.import_module("neurodl.cli.main")
    names = [g.name for g in main.app.registered_groups]
    if "bci" not in names:
        pytest.skip("the lead has not registered 'bci' in cli/main.py yet")
    with pytest.raises(SystemExit) as exc:
        main.main(
            [
                "bci",
                "run",
                "--name",
                unique("absent"),
                "--train-runs",
                "6",
                "--resolve-timeout",
                "0.2",
            ]
        )
    assert exc.value.code == 1


def test_trajectory_is_finite_numbers(tmp_path):
    # a trajectory written by the CLI reads back as numbers
    from neurodl.bci.device import TrajectoryLog

    log = TrajectoryLog(tmp_path / "t.csv")
    log.append(0.0, (0, 0), (0, 0), "rest", 0.5, 0.0)
    log.flush()
    assert np.isfinite(read_trajectory(tmp_path / "t.csv")["latency_ms"]).all()
