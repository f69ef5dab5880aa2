"""``neurodl learn``: every rule one option away, with curves, accuracy and angles."""

from __future__ import annotations

import json

import pytest

from neurodl.cli import main


def _run(capsys, args):
    with pytest.raises(SystemExit) as info:
        main(args)
    out = capsys.readouterr()
    return info.value.code, out.out, out.err


def test_learn_fa_reports_curves_accuracy_and_angles(capsys, tmp_path):
    fig = tmp_path / "fa.png"
    code, out, err = _run(
        capsys,
        [
            "learn",
            "--rule",
            "fa",
            "--data",
            "digits",
            "--hidden",
            "64",
            "--epochs",
            "3",
            "--lr",
            "0.01",
            "--train-samples",
            "600",
            "--figure",
            str(fig),
            "--json",
        ],
    )
    assert code == 0, err
    r = json.loads(out)
    assert r["rule"] == "fa" and r["data"] == "digits"
    assert r["sizes"] == [64, 64, 10] and r["n_train"] == 600 and r["n_test"] == 450
    assert len(r["test_accuracy_curve"]) == len(r["train_loss"]) == 3
    assert r["test_accuracy"] > 0.5  # ten classes: chance is 0.1
    # one angle per layer per epoch; the output layer gets the true gradient
    assert len(r["update_angle"]) == 3 and len(r["update_angle"][0]) == 2
    assert r["update_angle"][-1][-1] == pytest.approx(0.0, abs=1e-3)
    assert 0.0 < r["update_angle"][-1][0] < 90.0
    assert fig.stat().st_size > 0


@pytest.mark.parametrize("rule", ["pc", "ff"])
def test_learn_local_rules_share_the_report(capsys, rule):
    code, out, err = _run(
        capsys,
        [
            "learn",
            "--rule",
            rule,
            "--data",
            "digits",
            "--hidden",
            "64",
            "--epochs",
            "2",
            "--train-samples",
            "400",
        ],
    )
    assert code == 0, err
    assert out.startswith(f"{rule} on digits (")
    assert "test accuracy" in out and "400 training samples" in out


def test_learn_dfa_on_a_net_without_hidden_layer_is_one_error(capsys):
    code, _, err = _run(capsys, ["learn", "--rule", "dfa", "--hidden", "x"])
    assert code == 1 and "'--hidden'" in err and "Traceback" not in err
