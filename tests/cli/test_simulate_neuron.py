"""``neurodl simulate neuron``, run in-process through neurodl.cli.main."""

import json

import pytest

from neurodl.cli import main
from neurodl.cli.simulate import DEFAULT_CURRENT, MODELS


def run(capsys, *args):
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out = capsys.readouterr()
    return exit_info.value.code or 0, out.out, out.err


def test_simulate_is_listed(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "simulate" in out


def test_cli_models_are_the_driver_models():
    from neurodl.neurons import NEURON_MODELS

    assert tuple(NEURON_MODELS) == MODELS == tuple(DEFAULT_CURRENT)


def test_help_gives_the_current_units(capsys):
    code, out, _ = run(capsys, "simulate", "neuron", "--help")
    text = " ".join(out.split())
    assert code == 0
    for unit in ("R*I in mV", "dimensionless", "uA/cm^2", "pA"):
        assert unit in text


@pytest.mark.parametrize("model", MODELS)
def test_json_output(capsys, model):
    code, out, _ = run(
        capsys,
        "simulate",
        "neuron",
        model,
        "--duration",
        "30",
        "--dt",
        "0.05",
        "--json",
    )
    assert code == 0
    data = json.loads(out)
    # an ISI rate needs two spikes; when it is null, "warnings" says why
    assert ("warnings" in data) == (data["isi_rate_hz"] is None)
    assert set(data) - {"warnings"} == {
        "model",
        "method",
        "current",
        "current_unit",
        "duration_ms",
        "dt_ms",
        "n_spikes",
        "rate_hz",
        "isi_rate_hz",
        "spike_times_ms",
        "params",
    }
    assert data["model"] == model and data["current"] == DEFAULT_CURRENT[model]
    assert data["n_spikes"] == len(data["spike_times_ms"]) >= 1
    assert data["rate_hz"] == pytest.approx(1000.0 * data["n_spikes"] / 30.0)


def test_lif_rate_and_set(capsys):
    # lif_fI.json row RI = 25 mV, exact, dt 0.1 ms: 111 spikes in 2 s, 55.56 Hz
    args = ["simulate", "neuron", "lif", "--current", "25", "--duration", "2000"]
    code, out, _ = run(capsys, *args, "--dt", "0.1", "--json")
    data = json.loads(out)
    assert code == 0 and data["n_spikes"] == 111
    assert data["isi_rate_hz"] == pytest.approx(55.55555555555556, rel=1e-12)
    code, out, _ = run(
        capsys, *args, "--dt", "0.1", "--json", "--set", "tau_mem=20", "--set",
        "t_ref=0", "--method", "euler",
    )  # fmt: skip
    data = json.loads(out)
    assert code == 0 and data["method"] == "euler"
    assert data["params"]["tau_mem"] == 20.0 and data["params"]["t_ref"] == 0.0
    assert data["n_spikes"] < 111  # slower membrane: fewer spikes


def test_table_output(capsys):
    code, out, _ = run(
        capsys, "simulate", "neuron", "hh", "--current", "10", "--duration", "20"
    )
    assert code == 0
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == [
        "model",
        "current",
        "time",
        "spikes",
        "rate",
        "ISI",
        "spike",
        "parameters",
    ]
    assert "uA/cm^2" in out and "1.901" in out  # first spike (hh_spikes.json, RK4)


def test_a_silent_neuron_prints_no_rate(capsys):
    code, out, _ = run(capsys, "simulate", "neuron", "lif", "--current", "5")
    assert code == 0 and "spikes       0" in out
    code, out, _ = run(capsys, "simulate", "neuron", "lif", "--current", "5", "--json")
    data = json.loads(out)
    assert data["n_spikes"] == 0 and data["isi_rate_hz"] is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["qif"], "'MODEL' must be one of 'lif', 'alif', 'izhikevich', 'hh', 'adex'"),
        (["lif", "--set", "tau=3"],
         "unknown lif parameter 'tau' in --set; valid names: tau_mem, v_rest, v_th, "
         "v_reset, t_ref, r_m."),
        (["adex", "--set", "g_l=abc"], "'--set g_l' must be a finite number"),
        (["adex", "--set", "g_l=nan"], "'--set g_l' must be a finite number"),
        (["hh", "--set", "g_na"], "'--set' must look like name=value"),
        (["lif", "--set", "tau_mem=-1"], "'--set tau_mem' must be > 0; got -1.0"),
        (["lif", "--set", "v_reset=-40"], "'--set v_reset' must be below 'v_th'"),
        (["izhikevich", "--method", "rk4"],
         "'--method' must be one of 'euler', 'izhikevich2003'; got 'rk4'"),
        (["hh", "--dt", "-0.01"], "'--dt' must be > 0; got -0.01"),
        (["alif", "--duration", "0"], "'--duration' must be > 0"),
    ],
)  # fmt: skip
def test_user_errors_print_one_line_and_exit_1(capsys, args, message):
    code, _, err = run(capsys, "simulate", "neuron", *args)
    assert code == 1
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
