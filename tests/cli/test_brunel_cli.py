"""`neurodl simulate brunel` and `neurodl sweep brunel`."""

from __future__ import annotations

import json
import socket

import pytest

from neurodl.cli import main
from neurodl.jobs import point_seed

TINY = ["--n-exc", "400", "--c-exc", "100", "--duration", "300", "--transient", "100"]


def run(capsys, *args):
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out = capsys.readouterr()
    return exit_info.value.code or 0, out.out, out.err


def test_simulate_brunel_json(capsys):
    code, out, err = run(
        capsys, "simulate", "brunel", "--regime", "AI", *TINY, "--seed", "4", "--json"
    )
    assert code == 0, err
    data = json.loads(out)
    assert (data["g"], data["nu"], data["base_seed"]) == (5.0, 2.0, 4)
    assert data["seed"] == point_seed(4, {"g": 5.0, "nu": 2.0})
    assert data["regime"] in ("SR", "SI-fast", "SI-slow", "AI", "Q")
    assert {
        "rate_hz",
        "cv_isi",
        "synchrony",
        "modulation",
        "f_peak_hz",
        "peak_power",
        "n_spikes",
    } <= set(data)
    code, text, _ = run(
        capsys, "simulate", "brunel", "--g", "5", "--nu", "2", *TINY, "--seed", "4"
    )
    assert code == 0 and f"regime {data['regime']}" in text


def test_sweep_brunel_writes_results_and_figure_and_resumes(capsys, tmp_path):
    out = tmp_path / "sweep"
    args = [
        "sweep",
        "brunel",
        "--g",
        "4:6:2",
        "--nu",
        "1:2:2",
        *TINY,
        "--n-jobs",
        "2",
        "--out",
        str(out),
        "--quiet",
    ]
    code, text, err = run(capsys, *args, "--json")
    assert code == 0, err
    data = json.loads(text)
    assert data["n_points"] == 4 and data["computed"] == 4 and data["workers"] == 2
    assert (out / "phase_diagram.png").read_bytes()[:4] == b"\x89PNG"
    doc = json.loads((out / "results.json").read_text())
    assert doc["points"] == data["points"]
    assert len(list((out / "points").glob("*.json"))) == 4
    # the same point alone: `simulate brunel` with the same seed and settings
    code, alone, _ = run(
        capsys, "simulate", "brunel", "--g", "6", "--nu", "1", *TINY, "--json"
    )
    first = next(p for p in doc["points"] if p["params"] == {"g": 6.0, "nu": 1.0})
    alone_res = json.loads(alone)
    alone_res.pop("base_seed")
    assert alone_res == first["result"]
    # started again: every point is found, none is run
    code, text, _ = run(capsys, *args)
    assert code == 0 and "4 points (0 run, 4 found" in text


def test_sweep_brunel_with_a_scheduler_that_does_not_answer(capsys, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "sweep"
    code, _, err = run(
        capsys,
        "sweep",
        "brunel",
        "--g",
        "5",
        "--nu",
        "2",
        *TINY,
        "--scheduler",
        f"tcp://127.0.0.1:{port}",
        "--out",
        str(out),
    )
    assert code == 1
    assert err.startswith("neurodl: error: '--scheduler'") and "does not answer" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--g", "3:8"], "'--g' must be 'start:stop:count'"),
        (["--nu", "1:2:0"], "'--nu' must have a count >= 1"),
        (
            ["--n-jobs", "2", "--scheduler", "local:2"],
            "'--n-jobs' and '--scheduler' exclude each other",
        ),
    ],
)
def test_sweep_brunel_bad_input(capsys, tmp_path, args, message):
    out = tmp_path / "sweep"
    code, _, err = run(capsys, "sweep", "brunel", *args, "--out", str(out))
    assert code == 1 and message in err, err
    assert not out.exists()


def test_simulate_brunel_unknown_regime(capsys):
    code, _, err = run(capsys, "simulate", "brunel", "--regime", "chaos")
    assert code == 1 and "'--regime' must be one of 'SR'" in err, err
