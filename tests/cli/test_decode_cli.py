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
    assert set(rows) == {"eegmmidb", "spikes_m1", "bci_golub"}
    for r in rows.values():
        assert r["present"] and all(r["verified"].values())
        assert r["licence"] and r["citation"]
    assert rows["eegmmidb"]["licence"].startswith("ODC-By")


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
    code, _, err = run(capsys, "decode", "eeg", "--runs", "4", "--out", str(out_file))
    assert code == 1
    assert err.startswith("neurodl: error: 'runs' must be among the bundled runs")
    assert len(err.strip().splitlines()) == 1
    assert not out_file.exists() and list(tmp_path.iterdir()) == []
    code, _, err = run(capsys, "decode", "eeg", "--pipeline", "svm")
    assert code == 1 and "'pipeline' must be one of" in err
    code, _, err = run(capsys, "decode", "eeg", "--runs", "6", "x")
    assert code == 1 and "unexpected argument 'x'" in err
