"""``neurodl data list`` and ``neurodl decode eeg``."""

import json

import pytest

from neurodl.cli import main


def run(capsys, *args):
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out = capsys.readouterr()
    return exit_info.value.code or 0, out.out, out.err


def test_data_list_json(capsys):
    code, out, _ = run(capsys, "data", "list", "--json", "--verify")
    assert code == 0
    rows = {r["name"]: r for r in json.loads(out)["datasets"]}
    assert set(rows) == {
        "eegmmidb",
        "spikes_m1",
        "bci_golub",
        "haxby_slice",
        "rsa_92images",
        "mnist",
    }
    for r in rows.values():
        assert r["present"] and all(r["verified"].values())
        assert r["licence"] and r["citation"]
    assert rows["eegmmidb"]["licence"].startswith("ODC-By")
    assert rows["mnist"]["licence"] == "CC BY-SA 3.0"


def test_data_list_text(capsys):
    code, out, _ = run(capsys, "data", "list")
    assert code == 0 and "eegmmidb" in out and "licence:" in out


def test_decode_eeg_csp_lda_as_in_the_issue(capsys, tmp_path):
    out_file = tmp_path / "res.json"
    code, out, _ = run(
        capsys,
        "decode",
        "eeg",
        "--data",
        "eegmmidb",
        "--subject",
        "1",
        "--runs",
        "6",
        "10",
        "14",
        "--pipeline",
        "csp-lda",
        "--json",
        "--out",
        str(out_file),
    )
    assert code == 0
    res = json.loads(out)
    assert res["runs"] == [6, 10, 14]
    assert res["mean"]["accuracy"] == pytest.approx(0.933333, abs=1e-6)
    assert res["chance_level"] == pytest.approx(0.533333, abs=1e-6)
    assert res["n_splits"] == 10 and len(res["folds"]["accuracy"]) == 10
    assert json.loads(out_file.read_text()) == res


def test_decode_eeg_bad_input_is_one_line_and_writes_nothing(capsys, tmp_path):
    out_file = tmp_path / "res.json"
    code, _, err = run(capsys, "decode", "eeg", "--runs", "5", "--out", str(out_file))
    assert code == 1
    assert err.startswith("neurodl: error: '--runs' must be among the bundled runs")
    assert len(err.strip().splitlines()) == 1
    assert not out_file.exists() and list(tmp_path.iterdir()) == []
    code, _, err = run(capsys, "decode", "eeg", "--pipeline", "svm")
    assert code == 1 and "'--pipeline' must be one of" in err
    code, _, err = run(capsys, "decode", "eeg", "--runs", "6", "x")
    assert code == 1 and "unexpected argument 'x'" in err


def test_decode_spikes_kalman_json(capsys, tmp_path):
    fig = tmp_path / "kalman.png"
    code, out, _ = run(
        capsys,
        "decode",
        "spikes",
        "--data",
        "spikes_m1",
        "--decoder",
        "kalman",
        "--json",
        "--figure",
        str(fig),
    )
    assert code == 0
    res = json.loads(out)
    assert res["targets"] == ["handVel[0]", "handVel[1]"]
    assert res["n_train_val_test"] == [10863, 2319, 2318]
    assert res["test"]["r2"] >= 0.63  # peer code (Glaser's KalmanFilterDecoder): 0.636
    assert fig.stat().st_size > 10_000


def test_decode_spikes_from_a_user_npz(capsys, tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    vel = np.zeros((3000, 2))
    for i in range(1, 3000):  # a stationary AR(1) "velocity"
        vel[i] = 0.95 * vel[i - 1] + rng.normal(size=2)
    rates = np.exp(0.3 * vel @ rng.normal(size=(2, 20)) - 1)
    counts = rng.poisson(np.clip(rates, 0, 20))
    np.savez(
        tmp_path / "rec.npz", counts=counts.T, velocity=vel, time=np.arange(3000) * 0.02
    )
    code, out, _ = run(
        capsys,
        "decode",
        "spikes",
        "--data",
        str(tmp_path / "rec.npz"),
        "--spikes-key",
        "counts",
        "--target-key",
        "velocity",
        "--json",
    )
    assert code == 0
    res = json.loads(out)
    assert res["n_units"] == 20 and res["bin_s"] == pytest.approx(0.02)
    assert res["test"]["r2"] > 0.3


def test_decode_spikes_bad_key_is_one_line(capsys, tmp_path):
    code, _, err = run(
        capsys,
        "decode",
        "spikes",
        "--target-key",
        "handAcc",
        "--out",
        str(tmp_path / "r.json"),
    )
    assert code == 1 and "handAcc" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r.json").exists()
