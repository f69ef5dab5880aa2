"""``neurodl deid`` end to end: output, mapping and report apart, JSON summary."""

import datetime as dt
import json

import pytest

from neurodl.cli.main import main
from tests.privacy.test_deid import _edf, _scan


def _run(capsys, args):
    with pytest.raises(SystemExit) as info:
        main(args)
    return info.value.code, capsys.readouterr()


def test_deid_writes_output_mapping_and_report(capsys, tmp_path):
    src = tmp_path / "in" / "P1"
    src.mkdir(parents=True)
    _edf(src / "P1_run1.edf")
    _edf(src / "P1_run2.edf", start=dt.datetime(2024, 3, 9, 15, 0, 0))
    key = tmp_path / "keys" / "k.key"
    key.parent.mkdir()
    assert _run(capsys, ["keygen", "--out", str(key)])[0] == 0
    args = [
        "deid",
        str(tmp_path / "in"),
        "--out",
        str(tmp_path / "out"),
        "--mapping",
        str(tmp_path / "keys" / "map.enc"),
        "--key-file",
        str(key),
        "--json",
    ]
    code, io = _run(capsys, args)
    assert code == 0, io.err
    summary = json.loads(io.out)
    assert summary["files"] == 2 and summary["subjects"] == 1
    assert summary["by_status"] == {"written": 2}
    assert _scan(tmp_path / "out") == []
    report = tmp_path / "keys" / "deid-report.json"
    assert json.loads(report.read_text())["summary"]["files"] == 2
    assert "local patient identification" in report.with_suffix(".txt").read_text()
    assert not (tmp_path / "keys" / "map.enc").read_bytes().startswith(b"{")
    # run it again over its own output: nothing more to change
    again = [*args[:1], str(tmp_path / "out"), "--out", str(tmp_path / "out2")]
    again += ["--mapping", str(tmp_path / "keys" / "map2.json"), "--json"]
    code, io = _run(capsys, again)
    assert code == 0 and json.loads(io.out)["fields_changed"] == 0


def test_deid_refuses_mapping_inside_out(capsys, tmp_path):
    (tmp_path / "in").mkdir()
    _edf(tmp_path / "in" / "a.edf")
    code, io = _run(
        capsys,
        [
            "deid",
            str(tmp_path / "in"),
            "--out",
            str(tmp_path / "out"),
            "--mapping",
            str(tmp_path / "out" / "map.json"),
        ],
    )
    assert code == 1
    assert "'--mapping'" in io.err and "inside '--out'" in io.err
    assert not (tmp_path / "out").exists()
