"""``neurodl imaging decode`` (the sub-app alone, and through ``neurodl``)."""

import json

import pytest
from typer.testing import CliRunner

from neurodl.cli.imaging import app
from neurodl.errors import ValidationError

runner = CliRunner()


def test_decode_faces_houses_json_and_out(tmp_path):
    out_file = tmp_path / "sub" / "res.json"
    res = runner.invoke(
        app,
        [
            "decode",
            "--task",
            "faces-houses",
            "--permutations",
            "3",
            "--json",
            "--out",
            str(out_file),
        ],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["balanced_accuracy"] >= 0.95
    assert data["chance_level"] == 0.5 and data["n_splits"] == 12
    assert data["permutation_test"]["n_permutations"] == 3
    assert json.loads(out_file.read_text()) == data
    assert not [p for p in out_file.parent.iterdir() if p.name.startswith(".")]


def test_decode_text():
    res = runner.invoke(app, ["decode", "--task", "faces-houses"])
    assert res.exit_code == 0, res.output
    assert "balanced accuracy" in res.output and "chance 0.5000" in res.output


def test_bad_task_is_a_validation_error():
    res = runner.invoke(app, ["decode", "--task", "9way"])
    assert isinstance(res.exception, ValidationError)
    assert "'--task'" in str(res.exception)


def test_registered_in_main(capsys):
    import importlib

    main_mod = importlib.import_module("neurodl.cli.main")

    if "imaging" not in {g.name for g in main_mod.app.registered_groups}:
        pytest.skip("imaging sub-app not registered in cli/main.py yet")
    with pytest.raises(SystemExit) as exit_info:
        main_mod.main(["imaging", "decode", "--task", "faces-houses", "--json"])
    assert (exit_info.value.code or 0) == 0
    assert json.loads(capsys.readouterr().out)["balanced_accuracy"] >= 0.95
