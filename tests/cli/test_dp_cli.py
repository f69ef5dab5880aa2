"""``neurodl train features`` with DP options, ``neurodl info``, ``neurodl audit
membership``: the privacy block goes into the model file, comes back out of it, and
the audit reads the recipe from it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from neurodl._io import read_header
from neurodl.cli import main
from tests.privacy.subjects import subject_task


def _run(capsys, args):
    with pytest.raises(SystemExit) as info:
        main(args)
    out = capsys.readouterr()
    return info.value.code, out.out, out.err


def _ok(capsys, args):
    code, out, err = _run(capsys, args)
    assert code == 0, err
    return out, err


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("dp")
    X, y, g = subject_task(n_subjects=40, n_windows=8, n_features=6, seed=2)
    np.savez(d / "data.npz", X=X, y=y, subjects=g)
    (d / "members.txt").write_text("\n".join(str(s) for s in range(20)) + "\n")
    return d


def test_train_info_audit_round_trip(capsys, files):
    model = files / "dp.safetensors"
    out, _ = _ok(
        capsys,
        [
            "train", "features", str(files / "data.npz"),
            "--subjects", str(files / "members.txt"),
            "--out", str(model),
            "--dp-epsilon", "4", "--dp-delta", "1e-3",
            "--privacy-unit", "subject", "--max-grad-norm", "0.5",
            "--steps", "60", "--sample-rate", "0.25", "--accountant", "rdp",
            "--hidden", "8", "--json",
        ],
    )  # fmt: skip
    res = json.loads(out)
    p = res["privacy"]
    assert res["n_subjects"] == 20 and res["n_windows"] == 160
    assert p["epsilon"] <= 4.0 and p["delta"] == 1e-3 and p["accountant"] == "rdp"
    assert p["privacy_unit"] == "subject" and p["n_units"] == 20
    assert p["max_grad_norm"] == 0.5 and p["steps"] == 60 and p["sample_rate"] == 0.25
    assert p["noise_multiplier"] > 0 and res["privacy_warnings"] == []
    # the file holds exactly that block
    assert read_header(model)[1]["privacy"] == p
    out, _ = _ok(capsys, ["info", str(model), "--json"])
    info = json.loads(out)
    assert info["privacy"] == p and info["n_parameters"] == 6 * 8 + 8 + 8 * 2 + 2
    assert info["estimator"] == "neurodl.DPClassifier"
    out, _ = _ok(capsys, ["info", str(model)])
    assert "privacy unit: subject" in out and "epsilon (accountant's" in out
    assert "noise multiplier sigma" in out
    out, _ = _ok(
        capsys,
        [
            "audit", "membership", str(model), "--data", str(files / "data.npz"),
            "--members", str(files / "members.txt"), "--shadows", "2", "--json",
        ],
    )  # fmt: skip
    audit = json.loads(out)
    assert audit["n_members"] == 20 and audit["n_nonmembers"] == 20
    assert set(audit["attacks"]) == {"loss", "lira"}
    for a in audit["attacks"].values():
        assert 0 <= a["auc"] <= 1 and 0 <= a["tpr_at_fpr"] <= 1 and a["fpr"] == 0.05
    assert audit["dp_bound_tpr"] == pytest.approx(
        min(1, np.exp(p["epsilon"]) * 0.05 + 1e-3)
    )


def test_no_dp_model_says_so(capsys, files):
    model = files / "plain.safetensors"
    out, _ = _ok(
        capsys,
        ["train", "features", str(files / "data.npz"), "--out", str(model),
         "--steps", "20"],
    )  # fmt: skip
    assert "no differential privacy" in out
    out, _ = _ok(capsys, ["info", str(model)])
    assert "privacy: no differential privacy" in out
    out, _ = _ok(capsys, ["info", str(model), "--json"])
    assert json.loads(out)["privacy"] is None
    out, _ = _ok(
        capsys,
        ["audit", "membership", str(model), "--data", str(files / "data.npz"),
         "--members", str(files / "members.txt"), "--attack", "loss"],
    )  # fmt: skip
    assert "without differential privacy: no bound" in out


def test_sample_unit_prints_the_warning(capsys, files):
    out, err = _ok(
        capsys,
        ["train", "features", str(files / "data.npz"),
         "--out", str(files / "sample.safetensors"), "--dp-epsilon", "2",
         "--privacy-unit", "sample", "--steps", "5", "--sample-rate", "0.05",
         "--json"],
    )  # fmt: skip
    assert "warning: privacy_unit='sample'" in err and "group privacy" in err
    res = json.loads(out)
    assert res["privacy"]["privacy_unit"] == "sample" and res["privacy_warnings"]
    out, _ = _ok(capsys, ["info", str(files / "sample.safetensors")])
    assert "protects one window, not one person" in out


def test_delta_rule_on_the_command_line(capsys, files):
    code, _, err = _run(
        capsys,
        ["train", "features", str(files / "data.npz"),
         "--out", str(files / "never.safetensors"), "--dp-epsilon", "1",
         "--dp-delta", "0.025"],
    )  # fmt: skip
    assert (
        code == 1 and "'--dp-delta' must be < 1/(number of privacy units) = 1/40" in err
    )
    assert not (files / "never.safetensors").exists()


SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "eegmmidb"


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data/eegmmidb is absent")
def test_train_eeg_private_per_subject(capsys, tmp_path):
    # 4 eegmmidb subjects, one band: the subject of each epoch is the privacy unit
    model = tmp_path / "eeg.safetensors"
    out, _ = _ok(
        capsys,
        ["train", "eeg", "--data", str(SHARED), "--subjects", "1-4",
         "--test-subjects", "4", "--bands", "8-30", "--dp-epsilon", "8",
         "--out", str(model), "--json"],
    )  # fmt: skip
    res = json.loads(out)
    assert res["train_subjects"] == [1, 2, 3] and res["test_subjects"] == [4]
    assert res["classes"] == ["both_feet", "both_fists"] and res["n_features"] == 64
    assert res["n_train_trials"] == 135  # 45 trials per subject
    p = res["privacy"]
    assert p["privacy_unit"] == "subject" and p["n_units"] == 3 and p["epsilon"] <= 8
    assert 0 <= res["test_accuracy"] <= 1 and set(res["test_per_subject"]) == {"4"}
    info = json.loads(_ok(capsys, ["info", str(model), "--json"])[0])
    assert info["privacy"] == p and info["classes"] == ["both_feet", "both_fists"]
