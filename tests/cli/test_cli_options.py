"""Every option of every command, given a bad value, is named in the error.

The user typed ``--bin-s``, not the Python parameter ``bin_s``: an error raised on
behalf of a command names the option as typed, says the rule and the value, on one
line, without a traceback, and leaves no ``--out`` file behind. The walk is over
the commands the CLI really has, so a new option without a bad-value case here
fails :func:`test_every_option_has_a_case`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from neurodl.cli import main
from neurodl.cli.main import app
from neurodl.data.registry import dataset_file

FLAGS = {
    "--json",
    "--quiet",
    "--verify",
    "--resume",
    "--loop",
    "--markers",
    "--rest",
    "--keep-flagged",
    "--allow-face",
}
"""Switches: they take no value, so no value of theirs can be bad."""
FLAGS |= {"--thalamic"}  # simulate microcircuit (issue 13, helper "microcircuit")

# placeholders filled per test: an existing file, an existing folder, a missing path
FILE, DIR, MISSING = "{file}", "{dir}", "{missing}"


_SMALL = Path(__file__).parent / "data"
FEATURES = str(_SMALL / "features_small.npz")  # 20 subjects x 4 windows x 4 features
MEMBERS = str(_SMALL / "members_small.txt")  # subjects 0-9
SMALL_MODEL = str(_SMALL / "model_small.safetensors")  # DPClassifier on 0-9, eps 8
# the bundled eegmmidb folder: every bad value is refused before a file is read
EEG_FOLDER = str(dataset_file("eegmmidb", "S001R06.edf").parent)


def _haxby(name: str) -> str:
    return str(dataset_file("haxby_slice", name))


IMAGING_FILES = [
    "--data",
    _haxby("bold.nii.gz"),
    "--mask",
    _haxby("mask.nii.gz"),
    "--labels",
    _haxby("attributes_literal.txt"),
]

# the training options 'train features' and 'train eeg' share
DP_TRAINING = {
    "--steps": ["0"],
    "--sample-rate": ["1.5"],
    "--lr": ["0"],
    "--optimizer": ["lbfgs"],
    "--dp-epsilon": ["0"],
    "--dp-delta": ["0.5", "--dp-epsilon", "8"],
    "--privacy-unit": ["person"],
    "--max-grad-norm": ["0"],
    "--accountant": ["gdp"],
    "--seed": ["-1"],
}

# command -> (arguments every case starts from, {option: bad value(s)})
CASES: dict[str, tuple[list[str], dict[str, list[str]]]] = {
    "tour": ([], {"--out": [FILE]}),
    "encrypt": (
        ["/", "--out", "/tmp/neurodl_cli_walk_never_written.enc"],
        {
            "PATH": [MISSING],
            "--out": [FILE],
            "--key-file": [FILE],
            "--passphrase-env": ["NEURODL_NO_VAR"],
        },
    ),
    "decrypt": (
        ["/", "--out", "/tmp/neurodl_cli_walk_never_written.bin"],
        {
            "PATH": [MISSING],
            "--out": [FILE],
            "--key-file": [FILE],
            "--passphrase-env": ["NEURODL_NO_VAR"],
        },
    ),
    "keygen": ([], {"--out": [FILE]}),
    "deid": (
        [
            __file__,
            "--out",
            "/tmp/neurodl_cli_walk_deid_never_written",
            "--mapping",
            "/tmp/neurodl_cli_walk_deid_never_written.json",
        ],
        {
            "PATH": [MISSING],
            "--out": [FILE],
            "--mapping": [FILE],
            "--report": [DIR],
            "--key-file": [FILE],
            "--passphrase-env": ["NEURODL_NO_VAR"],
            "--subject-pattern": ["("],
            "--allow": ["re:("],
        },
    ),
    "deface": (
        [_haxby("mask.nii.gz"), "--out", "/tmp/neurodl_cli_walk_never_written.nii.gz"],
        {
            "PATH": [MISSING],
            "--out": [FILE],
            "--mask": [MISSING],
            "--buffer-mm": ["0"],
            "--threshold": ["1.5"],
        },
    ),
    "bci replay": (
        ["--duration", "0.2", "--quiet"],
        {
            "--data": ["nope"],
            "--run": ["99"],
            "--path": [MISSING],
            "--name": [""],
            "--type": [""],
            "--chunk": ["0"],
            "--speed": ["0"],
            "--duration": ["-1"],
        },
    ),
    "bci run": (
        ["--duration", "0.2", "--resolve-timeout", "0.2", "--quiet"],
        {
            "--name": [""],
            "--type": [""],
            "--train-runs": ["x"],
            "--decoder": [MISSING],
            "--save-decoder": [DIR],
            "--window": ["0"],
            "--step": ["0"],
            "--duration": ["-1"],
            "--stall-timeout": ["0"],
            "--resolve-timeout": ["0"],
            "--trajectory": [DIR + "/trajectory.txt"],
            "--control-name": [""],
            "--gain": ["0"],
        },
    ),
    "learn": (
        ["--data", "digits", "--epochs", "1", "--quiet"],
        {
            "--rule": ["backprop"],
            "--data": ["cifar10"],
            "--hidden": ["0"],
            "--epochs": ["0"],
            "--lr": ["0"],
            "--batch-size": ["0"],
            "--seed": ["-1"],
            "--train-samples": ["5"],
            "--figure": [DIR],
        },
    ),
    "learn stdp-mnist": (
        ["--images", "10", "--test-images", "10", "--quiet"],
        {
            "--neurons": ["0"],
            "--images": ["0"],
            "--test-images": ["0"],
            "--seed": ["-1"],
            "--inhibition": ["-1"],
            "--figure": [DIR],
        },
    ),
    "compare rsa": (
        [],
        {
            "--model": ["nope"],
            "--brain": ["nope"],
            "--seed": ["-1"],
            "--figure": [DIR],
            "--out": [DIR],
        },
    ),
    "data list": ([], {}),
    "decode eeg": (
        [],
        {
            "--data": [MISSING],
            "--subject": ["0"],
            "--runs": ["5"],
            "--pipeline": ["svm"],
            "--cv": ["loo"],
            "--splits": ["0"],
            "--seed": ["-1"],
            "--n-jobs": ["0"],
            "--tmin": ["3"],
            "--tmax": ["0.5"],
            "--l-freq": ["40"],
            "--h-freq": ["100"],
            "--events": ["T1"],
            "--permutations": ["-1"],
            "--out": [DIR],
        },
    ),
    "decode spikes": (
        [],
        {
            "--data": [MISSING],
            "--decoder": ["svm"],
            "--spikes-key": ["nope"],
            "--target-key": ["nope"],
            "--position-key": ["nope", "--decoder", "kalman"],
            "--bin-s": ["-1"],
            "--rebin": ["0.07"],
            "--history": ["-1"],
            "--seed": ["-1"],
            "--epochs": ["0"],
            "--figure": [DIR],
            "--out": [DIR],
        },
    ),
    "demo xor": (
        ["--quiet"],
        {
            "--activation": ["relu7"],
            "--hidden": ["0"],
            "--seed": ["-1"],
            "--seeds": ["9-3"],
            "--engine": ["magic"],
            "--lr": ["-1"],
            "--epochs": ["0"],
            "--restarts": ["-1"],
        },
    ),
    "imaging decode": (
        IMAGING_FILES,
        {
            "--data": [MISSING],
            "--mask": [MISSING],
            "--labels": [MISSING],
            "--events": [FILE],
            "--task": ["nope"],
            "--tr": ["0"],
            "--permutations": ["-1"],
            "--seed": ["-1"],
            "--out": [DIR],
        },
    ),
    "train digits": (
        ["--quiet"],
        {
            "--hidden": ["0"],
            "--activation": ["relu7"],
            "--engine": ["magic"],
            "--optimizer": ["lbfgs"],
            "--lr": ["0"],
            "--epochs": ["0"],
            "--batch-size": ["0"],
            "--seed": ["-1"],
            "--out": [FILE],
            "--checkpoint-every": ["-1"],
        },
    ),
    "train features": (
        [FEATURES, "--out", "/tmp/neurodl_cli_walk_never_written.safetensors"],
        {
            "PATH": [MISSING],
            "--out": [DIR],
            "--subjects": [FILE],
            "--hidden": ["0"],
            "--activation": ["relu7"],
            **DP_TRAINING,
        },
    ),
    "train eeg": (
        ["--data", EEG_FOLDER, "--out", "/tmp/neurodl_cli_walk_never_written.st"],
        {
            "--data": [MISSING],
            "--out": [DIR],
            "--subjects": ["9-3"],
            "--test-subjects": ["x"],
            "--runs": ["99"],
            "--bands": ["13-8"],
            "--tmin": ["5"],
            "--tmax": ["0"],
            "--hidden": ["0"],
            **DP_TRAINING,
        },
    ),
    "info": ([SMALL_MODEL], {"MODEL": []}),
    "audit membership": (
        [SMALL_MODEL, "--data", FEATURES, "--members", MEMBERS],
        {
            "MODEL": [],
            "--data": [MISSING],
            "--members": [FILE],
            "--attack": ["rmia"],
            "--shadows": ["1"],
            "--seed": ["-1"],
            "--out": [DIR],
        },
    ),
    "simulate neuron": (
        ["lif"],
        {
            "MODEL": [],
            "--current": ["nan"],
            "--duration": ["0"],
            "--dt": ["-1"],
            "--method": ["rk9"],
            "--set": ["tau_mem=-1"],
        },
    ),
    **{
        f"simulate {net}": (
            ["--n", "100", "--duration", "5"],
            {
                "--n": ["2"],
                "--duration": ["0.05"],
                "--seed": ["-1"],
                "--backend": ["nest"],
                "--dtype": ["float16"],
                "--device": ["gpu9"],
                "--figure": [DIR],
            },
        )
        for net in ("cuba", "coba")
    },
    # --- simulate microcircuit (issue 13, helper "microcircuit") ---
    "simulate microcircuit": (
        ["--scale", "0.01", "--duration", "5", "--presim", "0"],
        {
            "--scale": ["0"],
            "--duration": ["0.05"],
            "--presim": ["-1"],
            "--drive": ["ac"],
            "--seed": ["-1"],
            "--backend": ["nest"],
            "--dtype": ["float16"],
            "--device": ["gpu9"],
            "--procs": ["100000"],  # more processes than neurons
            "--figure": [DIR],
        },
    ),
    # --- end simulate microcircuit ---
    # --- Brunel (2000): one point, and the Dask sweep (issue 13, helper "brunel") ---
    "simulate brunel": (
        ["--g", "5", "--nu", "2", "--n-exc", "400", "--c-exc", "100"],
        {
            "--g": ["-1"],
            "--nu": ["nan"],
            "--regime": ["chaos"],
            "--seed": ["-1"],
            "--duration": ["0"],
            "--transient": ["5000"],
            "--n-exc": ["2"],
            "--c-exc": ["1000"],
            "--backend": ["nest"],
        },
    ),
    "sweep brunel": (
        [
            *("--g", "5", "--nu", "2", "--n-exc", "400", "--c-exc", "100"),
            *("--out", "/nope/brunel_sweep"),
        ],
        {
            "--g": ["3:8"],
            "--nu": ["1:2:0"],
            "--out": [FILE],
            "--n-jobs": ["0"],
            "--scheduler": ["nowhere"],
            "--seed": ["-1"],
            "--duration": ["0"],
            "--transient": ["5000"],
            "--n-exc": ["2"],
            "--c-exc": ["1000"],
            "--backend": ["nest"],
            "--figure": [DIR],
        },
    ),
    # --- end Brunel ---
    "benchmark eeg": (
        ["--data", EEG_FOLDER, "--subjects", "1", "--out", "/tmp/neurodl_cli_walk_b"],
        {
            "--data": [MISSING],
            "--subjects": ["0"],
            "--task": ["feet"],
            "--pipelines": ["svm"],
            "--scheme": ["kfold"],
            "--protocol": ["nope"],
            "--align": ["ea"],
            "--calibration": ["4"],
            "--seeds": ["1", "1"],
            "--cv-seed": ["-1"],
            "--runs": ["4", "6"],
            "--min-trials": ["0"],
            "--n-jobs": ["0"],
            "--scheduler": ["nowhere"],
            "--out": [FILE],
        },
    ),
}

# --- --procs of simulate cuba|coba (issue 13, helper "dist") ---
for _net in ("cuba", "coba"):
    CASES[f"simulate {_net}"][1]["--procs"] = ["0"]
# --- end --procs ---


def _commands() -> dict[str, list[str]]:
    """Every leaf command of the CLI and the names its parameters are typed as."""
    out: dict[str, list[str]] = {}

    def walk(cmd, path):
        names = []
        for p in cmd.params:
            opts = [o for o in p.opts if o.startswith("--")]
            names.append(opts[0] if opts else p.name.upper())
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, [*path, name])
            # a group that runs on its own (``neurodl learn --rule ...``) has options
            if path and names:
                out[" ".join(path)] = names
            return
        out[" ".join(path)] = names

    walk(typer.main.get_command(app), [])
    return out


def test_every_option_has_a_case():
    for command, options in _commands().items():
        assert command in CASES, f"no bad-value cases for 'neurodl {command}'"
        valued = {o for o in options if o not in FLAGS}
        assert valued == set(CASES[command][1]), command


def _run(capsys, args):
    with pytest.raises(SystemExit) as info:
        main(args)
    captured = capsys.readouterr()
    return info.value.code, captured.err


PARAMS = [
    pytest.param(command, option, id=f"{command} {option}")
    for command, (_, bad) in CASES.items()
    for option in bad
]


@pytest.mark.parametrize(("command", "option"), PARAMS)
def test_bad_value_names_the_option(capsys, tmp_path, command, option):
    base, bad = CASES[command]
    a_file = tmp_path / "a_file.txt"
    a_file.write_text("not what the option wants\n")
    (tmp_path / "a_dir").mkdir()
    fill = {FILE: str(a_file), DIR: str(tmp_path / "a_dir"), MISSING: "/nope/x.bin"}
    values = [fill.get(v, v).replace(DIR, str(tmp_path / "a_dir")) for v in bad[option]]
    if option == "MODEL":
        args = [*command.split(), "qif", *base[1:]]
    elif option == "PATH":  # the path argument comes first
        args = [*command.split(), *values, *base[1:]]
    else:
        args = [*command.split(), *base, option, *values]
    before = sorted(p.name for p in tmp_path.rglob("*"))
    code, err = _run(capsys, args)
    assert code in (1, 2), err
    assert f"'{option}" in err, err
    assert "Traceback" not in err
    if code == 1:
        assert err.startswith("neurodl: error: ") and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written


# options of the root command go before the command (``neurodl --key-file F info
# MODEL``): the key for reading encrypted inputs; a bad value is named like any other
ROOT_FLAGS = {"--version", "--debug", "--help"}
ROOT_CASES: dict[str, list[str]] = {
    "--key-file": [MISSING, DIR, FILE],  # FILE: not 32 bytes
    "--passphrase-env": ["NEURODL_NO_VAR"],
}


def test_every_root_option_has_a_case():
    root = typer.main.get_command(app)
    options = {next(o for o in p.opts if o.startswith("--")) for p in root.params}
    assert options - ROOT_FLAGS == set(ROOT_CASES)


@pytest.mark.parametrize(
    ("option", "value"), [(o, v) for o, vs in ROOT_CASES.items() for v in vs]
)
def test_bad_root_value_names_the_option(capsys, tmp_path, monkeypatch, option, value):
    monkeypatch.delenv("NEURODL_NO_VAR", raising=False)
    a_file = tmp_path / "a_file.txt"
    a_file.write_text("not a key\n")
    (tmp_path / "a_dir").mkdir()
    fill = {FILE: str(a_file), DIR: str(tmp_path / "a_dir"), MISSING: "/nope/x.bin"}
    before = sorted(p.name for p in tmp_path.rglob("*"))
    code, err = _run(capsys, [option, fill.get(value, value), "info", "/nope/m.st"])
    assert code == 1, err
    assert f"'{option}'" in err and "Traceback" not in err
    assert err.startswith("neurodl: error: ") and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
