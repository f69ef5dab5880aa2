"""`neurodl simulate cuba|coba`."""

import json

import pytest

from neurodl.cli import main


def run(capsys, *args):
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out = capsys.readouterr()
    return exit_info.value.code or 0, out.out, out.err


@pytest.mark.parametrize("model", ["cuba", "coba"])
def test_json_keys_and_values(capsys, model):
    code, out, _ = run(
        capsys,
        "simulate",
        model,
        "--n",
        "1000",
        "--duration",
        "200",
        "--seed",
        "3",
        "--json",
        "--quiet",
    )
    assert code == 0
    data = json.loads(out)
    assert set(data) >= {
        "model",
        "n",
        "seed",
        "duration_ms",
        "backend",
        "n_synapses",
        "n_spikes",
        "rate_hz",
        "cv_isi",
        "setup_seconds",
        "run_seconds",
    }
    assert data["model"] == model and data["n"] == 1000 and data["seed"] == 3
    assert data["rate_hz"] == pytest.approx(data["n_spikes"] / 1000 / 0.2)
    assert data["n_synapses"] == pytest.approx(80 * 1000, rel=0.03)


def test_same_seed_same_result_across_backends(capsys):
    outs = []
    for backend in ("numba", "torch"):
        code, out, _ = run(
            capsys,
            "simulate",
            "cuba",
            "--n",
            "500",
            "--duration",
            "100",
            "--backend",
            backend,
            "--json",
        )
        assert code == 0
        outs.append(json.loads(out))
    assert outs[0]["n_spikes"] == outs[1]["n_spikes"]
    assert outs[0]["cv_isi"] == outs[1]["cv_isi"]


def test_figure_and_text_output(capsys, tmp_path):
    fig = tmp_path / "raster.png"
    code, out, _ = run(
        capsys,
        "simulate",
        "cuba",
        "--n",
        "500",
        "--duration",
        "100",
        "--figure",
        str(fig),
    )
    assert code == 0
    assert "Hz" in out and "ISI CV" in out and fig.stat().st_size > 1000


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--n", "2"], "'--n' must be >= 5"),
        (["--duration", "0.05"], "multiple of dt"),
        (["--backend", "nest"], "'--backend' must be one of"),
        (["--dtype", "float16"], "'--dtype' must be one of"),
    ],
)
def test_bad_input_is_one_line(capsys, args, message):
    code, _out, err = run(capsys, "simulate", "cuba", *args)
    assert code == 1
    assert message in err and err.count("\n") == 1


# --- --procs (issue 13, helper "dist") ---
@pytest.mark.parametrize("model", ["cuba", "coba"])
def test_procs_gives_the_same_json_apart_from_timings(capsys, model, tmp_path):
    outs = []
    for procs in ("1", "2"):
        fig = tmp_path / f"raster{procs}.png"
        args = ["simulate", model, "--n", "500", "--duration", "50", "--seed", "2"]
        args += ["--procs", procs, "--json", "--quiet", "--figure", str(fig)]
        code, out, err = run(capsys, *args)
        assert code == 0, err
        assert fig.exists()
        data = json.loads(out)
        del data["setup_seconds"], data["run_seconds"], data["figure"]
        outs.append(data)
    assert outs[0]["n_spikes"] > 0
    assert outs[0] == outs[1]


def test_procs_more_than_neurons_is_one_clear_error(capsys):
    code, _, err = run(capsys, "simulate", "cuba", "--n", "5", "--procs", "6")
    assert code == 1
    assert err.startswith("neurodl: error: '--procs'") and "6 processes for 5" in err
    assert "Traceback" not in err


# --- end --procs ---
