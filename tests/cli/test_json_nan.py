"""No command crashes on an undefined statistic: JSON says null and why, text too.

A 5 ms CUBA run has no neuron with an inter-spike interval; a target that never
moves has no R²; a layer whose units all fall silent has no correlation RDM. Each
is written as ``null`` with a readable ``warnings`` entry (path -> reason), and the
text output prints the same reason.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from neurodl._json import json_ready, json_text
from neurodl.cli import main


def run(capsys, *args):
    with pytest.raises(SystemExit) as info:
        main(list(args))
    out = capsys.readouterr()
    return info.value.code or 0, out.out, out.err


def test_json_ready_replaces_every_non_finite_number():
    data = {
        "a": float("nan"),
        "b": [1.0, float("inf"), np.float64(-np.inf)],
        "c": {"d": np.array([0.5, np.nan])},
        "ok": np.int64(3),
        "warnings": {"a": "a is undefined because of X"},
    }
    out = json_ready(data)
    assert out["a"] is None and out["b"] == [1.0, None, None]
    assert out["c"]["d"] == [0.5, None] and out["ok"] == 3
    assert out["warnings"]["a"] == "a is undefined because of X"  # kept
    assert set(out["warnings"]) == {"a", "b[1]", "b[2]", "c.d[1]"}
    assert "written as null" in out["warnings"]["b[1]"]
    json.loads(json_text(data))  # strict JSON
    assert math.isnan(data["a"])  # the input is left alone


@pytest.mark.parametrize("model", ["cuba", "coba"])
def test_short_network_run_has_no_isi_cv(capsys, tmp_path, model):
    # the command: 5 ms, no neuron fires twice
    code, out, err = run(
        capsys, "simulate", model, "--n", "4000", "--duration", "5", "--json"
    )
    assert code == 0, err
    res = json.loads(out)
    assert res["cv_isi"] is None
    assert "ISI CV undefined" in res["warnings"]["cv_isi"]
    code, out, err = run(capsys, "simulate", model, "--n", "4000", "--duration", "5")
    assert code == 0 and "Traceback" not in err
    assert "ISI CV undefined" in out and "warning: no neuron fired" in out


def test_silent_neuron_has_no_isi_rate(capsys):
    code, out, _ = run(capsys, "simulate", "neuron", "lif", "--current", "5", "--json")
    res = json.loads(out)
    assert code == 0 and res["n_spikes"] == 0 and res["isi_rate_hz"] is None
    assert "ISI rate undefined" in res["warnings"]["isi_rate_hz"]
    code, out, _ = run(capsys, "simulate", "neuron", "lif", "--current", "5")
    assert "ISI rate     undefined" in out and "warning: 0 spike(s)" in out


@pytest.fixture(scope="module")
def constant_target(tmp_path_factory):
    """The bundled M1 units (first 2500 bins) against a y velocity held at 0."""
    from scipy.io import loadmat, savemat

    from neurodl.data.registry import dataset_file

    m = loadmat(dataset_file("spikes_m1", "m1_stevenson_2011.mat"))
    vel = m["handVel"][:2, :2500].copy()
    vel[1] = 0.0
    path = tmp_path_factory.mktemp("spikes") / "still_y.mat"
    savemat(path, {"spikes": m["spikes"][:, :2500], "vel": vel})  # no time vector
    return path


def test_constant_target_has_no_r2(capsys, tmp_path, constant_target):
    args = ["decode", "spikes", "--data", str(constant_target), "--bin-s", "0.05"]
    args += ["--spikes-key", "spikes", "--target-key", "vel", "--history", "2"]
    out_file = tmp_path / "res.json"
    code, out, err = run(capsys, *args, "--json", "--out", str(out_file))
    assert code == 0, err
    res = json.loads(out)
    assert json.loads(out_file.read_text()) == res
    assert res["test"]["r2_per_output"][0] > 0.5  # x is still decoded
    assert res["test"]["r2_per_output"][1] is None and res["test"]["r2"] is None
    assert (
        "output 1 are constant: R² undefined"
        in (res["warnings"]["test.r2_per_output[1]"])
    )
    assert "undefined" in res["warnings"]["test.r2"]
    code, out, _ = run(capsys, *args)
    assert code == 0 and "warning: the true values of output 1 are constant" in out


def test_silent_layer_has_no_rsa(capsys, tmp_path):
    from neurodl.networks import FeedForward
    from neurodl.networks.io import save

    net = FeedForward((64, 8, 2), activation="relu", seed=0)
    with torch.no_grad():
        for name, p in net.named_parameters():
            p.fill_(0.0 if name.endswith("W") else -1.0)  # every ReLU silent
    model = save(net, tmp_path / "silent.safetensors")
    code, out, err = run(capsys, "compare", "rsa", "--model", str(model), "--json")
    assert code == 0, err
    res = json.loads(out)
    m = res["models"][0]
    assert m["human_it_spearman_mean"][0] is not None  # the input layer is fine
    assert m["human_it_spearman_mean"][1] is None
    why = res["warnings"]["models[0].human_it_spearman_mean[1]"]
    assert "layer 'layers.0' responds with a constant pattern" in why
    code, out, _ = run(capsys, "compare", "rsa", "--model", str(model))
    assert "human IT undefined" in out and "warning: layer 'layers.0'" in out


def test_online_run_without_windows_says_why():
    from neurodl.bci.online import OnlineSummary

    s = OnlineSummary(
        stream="x", sfreq=160.0, channels=64, window_samples=160, step_samples=16
    )
    d = s.to_dict()
    assert d["latency_ms"].get("p50") is None
    assert "no window was decoded" in d["warnings"]["latency_ms"]
    assert any(line.startswith("warning: no window") for line in s.lines())
    json.loads(json_text(d))


NAN = float("nan")


@pytest.mark.parametrize(
    ("args", "target", "result"),
    [
        (
            ["decode", "eeg"],
            "neurodl.tasks.decoding.decode_eeg",
            {"pipeline": "csp-lda", "kappa": NAN},
        ),
        (
            ["demo", "xor", "--seeds", "0-1"],
            "neurodl.tasks.xor.sweep_xor",
            {"solved": 0, "n_seeds": 2, "fraction": NAN},
        ),
    ],
)
def test_any_command_writes_nan_as_null(capsys, monkeypatch, args, target, result):
    """Whatever a command computes, its JSON cannot hold NaN (null and a reason)."""
    module, name = target.rsplit(".", 1)
    monkeypatch.setattr(
        __import__(module, fromlist=[name]), name, lambda *a, **k: dict(result)
    )
    code, out, err = run(capsys, *args, "--json")
    assert code == 0 and "Traceback" not in err
    res = json.loads(out)
    nan_key = next(k for k, v in result.items() if v != v)
    assert res[nan_key] is None
    assert "written as null" in res["warnings"][nan_key]
