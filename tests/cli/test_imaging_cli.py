"""``neurodl imaging decode`` (the sub-app alone, and through ``neurodl``)."""

import json
from pathlib import Path

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


# --- your own files: NIfTI runs with a label table, BIDS events, a BIDS folder ---

HAXBY = "haxby_slice"
RUN_NAME = "sub-01_task-objects_run-{}"


@pytest.fixture(scope="module")
def haxby_files():
    """The bundled slice's files: bold, mask and the per-volume label table."""
    from neurodl.data.registry import dataset_file

    return {
        k: str(dataset_file(HAXBY, f))
        for k, f in (
            ("bold", "bold.nii.gz"),
            ("mask", "mask.nii.gz"),
            ("labels", "attributes_literal.txt"),
        )
    }


def _events_rows(labels, tr):
    """BIDS events of a run from per-volume labels: one event per block, rest left
    out (volumes outside every event are 'rest')."""
    rows, i = [], 0
    while i < len(labels):
        j = i
        while j < len(labels) and labels[j] == labels[i]:
            j += 1
        if labels[i] != "rest":
            rows.append((i * tr, (j - i) * tr, labels[i]))
        i = j
    return rows


def _write_events(path, rows):
    text = "onset\tduration\ttrial_type\n"
    text += "".join(f"{o!r}\t{d!r}\t{t}\n" for o, d, t in rows)
    path.write_text(text)


@pytest.fixture(scope="module")
def bids_dir(tmp_path_factory, haxby_files):
    """The slice split into its 12 runs as a BIDS folder: per-run 4-D files (run-1 ..
    run-12, not zero-padded) with events.tsv made from the label table."""
    import nibabel as nib
    import numpy as np

    root = tmp_path_factory.mktemp("bids")
    func = root / "sub-01" / "func"
    func.mkdir(parents=True)
    img = nib.load(haxby_files["bold"])
    tr = float(img.header.get_zooms()[3])
    data = np.asarray(img.dataobj)
    rows = [
        line.split()
        for line in Path(haxby_files["labels"]).read_text().splitlines()
        if line.strip()
    ]
    labels = np.array([r[0] for r in rows])
    runs = np.array([int(r[1]) for r in rows])
    for r in range(12):
        sel = runs == r
        part = nib.Nifti1Image(data[..., sel], img.affine, header=img.header)
        nib.save(part, func / f"{RUN_NAME.format(r + 1)}_bold.nii.gz")
        _write_events(
            func / f"{RUN_NAME.format(r + 1)}_events.tsv",
            _events_rows(labels[sel].tolist(), tr),
        )
    return root


def _bold(root, r):
    return str(root / "sub-01" / "func" / f"{RUN_NAME.format(r)}_bold.nii.gz")


def _events(root, r):
    return str(root / "sub-01" / "func" / f"{RUN_NAME.format(r)}_events.tsv")


def _cli(capsys, *args):
    """Run ``neurodl imaging decode ARGS`` in-process: (exit code, stdout, stderr)."""
    from neurodl.cli.main import main

    with pytest.raises(SystemExit) as exit_info:
        main(["imaging", "decode", *args])
    cap = capsys.readouterr()
    return exit_info.value.code or 0, cap.out, cap.err


def _scores(out):
    res = json.loads(out)
    keys = ("balanced_accuracy", "accuracy", "folds", "classes", "counts", "n_splits")
    return {k: res[k] for k in keys}


@pytest.fixture(scope="module")
def by_name():
    """Scores of the bundled slice given by name, 8-way and faces vs houses."""
    from neurodl.imaging import decode_volumes, load_haxby

    X, labels, runs = load_haxby()
    return {
        t: {
            k: v
            for k, v in decode_volumes(X, labels, runs, task=t).items()
            if k in ("balanced_accuracy", "accuracy", "folds", "classes", "counts")
            or k == "n_splits"
        }
        for t in ("8way", "faces-houses")
    }


def test_files_give_the_scores_of_the_bundled_name(capsys, haxby_files, by_name):
    code, out, err = _cli(capsys, "--json")
    assert code == 0, err
    assert _scores(out) == by_name["8way"]
    args = ["--data", haxby_files["bold"], "--mask", haxby_files["mask"]]
    code, out, err = _cli(capsys, *args, "--labels", haxby_files["labels"], "--json")
    assert code == 0, err
    assert _scores(out) == by_name["8way"]  # default task for files: all but rest
    res = json.loads(out)
    assert res["data"] == [haxby_files["bold"]] and res["tr_s"] == 2.5
    assert res["task"] == "all" and res["labels"] == [haxby_files["labels"]]
    code, out, err = _cli(
        capsys, *args, "--labels", haxby_files["labels"], "--task", "faces-houses",
        "--json",
    )  # fmt: skip
    assert code == 0, err
    assert _scores(out) == by_name["faces-houses"]


def test_per_run_files_with_events_give_the_same_scores(capsys, bids_dir, by_name):
    bolds = [_bold(bids_dir, r) for r in range(1, 13)]
    events = [_events(bids_dir, r) for r in range(1, 13)]
    code, out, err = _cli(
        capsys, "--data", *bolds, "--mask", _mask_path(), "--events", *events, "--json"
    )
    assert code == 0, err
    assert _scores(out) == by_name["8way"]
    res = json.loads(out)
    assert res["data"] == bolds and res["events"] == events and res["tr_s"] == 2.5
    # repeated flags work as well, and text output names the files
    args = [a for b, e in zip(bolds, events, strict=True) for a in ("--data", b)]
    args += [a for e in events for a in ("--events", e)]
    code, out, err = _cli(capsys, *args, "--mask", _mask_path(), "--task", "face,house")
    assert code == 0, err
    assert "face,house on 12 files" in out and "balanced accuracy 0.9861" in out


def _mask_path():
    from neurodl.data.registry import dataset_file

    return str(dataset_file(HAXBY, "mask.nii.gz"))


def test_bids_folder(capsys, bids_dir, by_name, tmp_path):
    out_file = tmp_path / "res.json"
    code, out, err = _cli(
        capsys, "--data", str(bids_dir), "--mask", _mask_path(),
        "--task", "faces-houses", "--json", "--out", str(out_file),
    )  # fmt: skip
    assert code == 0, err
    assert _scores(out) == by_name["faces-houses"]
    res = json.loads(out)
    assert res["data"] == str(bids_dir) and len(res["files"]) == 12
    assert res["files"][1].endswith("run-2_bold.nii.gz")  # natural order
    assert json.loads(out_file.read_text()) == res


# --- errors: one line naming the option, the rule and the value; no --out file ---


def _error(capsys, tmp_path, *args):
    out_file = tmp_path / "never.json"
    code, out, err = _cli(capsys, *args, "--out", str(out_file))
    assert code == 1, (out, err)
    assert err.startswith("neurodl: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and not out_file.exists()
    return err


def _save_like(img, data, path, affine=None):
    import nibabel as nib

    nib.save(nib.Nifti1Image(data, img.affine if affine is None else affine), str(path))
    return str(path)


def test_mask_shape_and_affine_mismatch(capsys, tmp_path, haxby_files):
    import nibabel as nib
    import numpy as np

    mask = nib.load(haxby_files["mask"])
    m = np.asarray(mask.dataobj)
    bigger = _save_like(mask, np.concatenate([m, m], axis=1), tmp_path / "m2.nii.gz")
    base = ["--data", haxby_files["bold"], "--labels", haxby_files["labels"]]
    err = _error(capsys, tmp_path, *base, "--mask", bigger)
    assert "'--mask' and '--data' must have the same 3-D grid" in err
    assert "(40, 20, 1, 1452)" in err and "(40, 40, 1)" in err and "m2.nii.gz" in err
    shifted = _save_like(
        mask, m, tmp_path / "m3.nii.gz", affine=mask.affine + np.eye(4) * 0.5
    )
    err = _error(capsys, tmp_path, *base, "--mask", shifted)
    assert "'--mask' and '--data' must have the same affine" in err
    assert "m3.nii.gz" in err and "bold.nii.gz" in err


def test_event_past_the_end_of_a_run(capsys, tmp_path, bids_dir):
    bad = tmp_path / "run-2_events.tsv"
    rows = [*_read_rows(_events(bids_dir, 2)), (300.0, 5.0, "face")]
    _write_events(bad, rows)
    err = _error(
        capsys, tmp_path, "--data", _bold(bids_dir, 1), _bold(bids_dir, 2),
        "--mask", _mask_path(), "--events", _events(bids_dir, 1), str(bad),
    )  # fmt: skip
    assert "'--events' events must end within their run" in err
    assert str(bad) in err and "300 + 5 = 305 s" in err
    assert "302.5 s (121 volumes x TR 2.5 s)" in err


def _read_rows(path):
    lines = Path(path).read_text().splitlines()[1:]
    return [(float(o), float(d), t) for o, d, t in (ln.split("\t") for ln in lines)]


def test_run_with_one_label_only(capsys, tmp_path, bids_dir):
    only_faces = tmp_path / "faces_events.tsv"
    _write_events(
        only_faces, [r for r in _read_rows(_events(bids_dir, 2)) if r[2] == "face"]
    )
    err = _error(
        capsys, tmp_path, "--data", _bold(bids_dir, 1), _bold(bids_dir, 2),
        "--mask", _mask_path(), "--events", _events(bids_dir, 1), str(only_faces),
        "--task", "faces-houses",
    )  # fmt: skip
    assert "every run of '--data' must hold at least two of the task's labels" in err
    assert f"run 1 ({_bold(bids_dir, 2)}) holds only 'face' (9 volumes)" in err


def test_label_table_length_mismatch(capsys, tmp_path, haxby_files):
    short = tmp_path / "short.txt"
    short.write_text(
        "".join(Path(haxby_files["labels"]).read_text().splitlines(True)[:-1])
    )
    err = _error(
        capsys, tmp_path, "--data", haxby_files["bold"], "--mask",
        haxby_files["mask"], "--labels", str(short),
    )  # fmt: skip
    assert "'--labels' must have one row per volume" in err
    assert "1451 rows" in err and "1452 volumes" in err and "short.txt" in err


def test_one_file_without_a_run_column(capsys, tmp_path, haxby_files):
    no_runs = tmp_path / "labels_only.txt"
    no_runs.write_text(
        "".join(
            ln.split()[0] + "\n"
            for ln in Path(haxby_files["labels"]).read_text().splitlines()
        )
    )
    err = _error(
        capsys, tmp_path, "--data", haxby_files["bold"], "--mask",
        haxby_files["mask"], "--labels", str(no_runs),
    )  # fmt: skip
    assert "'--labels' must have a run column" in err and "labels_only.txt" in err


def test_labels_and_events_both_or_neither(capsys, tmp_path, bids_dir):
    base = ["--data", _bold(bids_dir, 1), "--mask", _mask_path()]
    err = _error(capsys, tmp_path, *base)
    assert "exactly one of '--labels'" in err and "'--events'" in err
    assert "got neither" in err
    both = [*base, "--labels", "x.txt", "--events", _events(bids_dir, 1)]
    assert "got both" in _error(capsys, tmp_path, *both)
    folder = ["--data", str(bids_dir), "--mask", _mask_path()]
    err = _error(capsys, tmp_path, *folder, "--events", _events(bids_dir, 1))
    assert "must not be given with a BIDS folder" in err


def test_unknown_task_labels_list_the_available_ones(capsys, tmp_path, haxby_files):
    err = _error(
        capsys, tmp_path, "--data", haxby_files["bold"], "--mask",
        haxby_files["mask"], "--labels", haxby_files["labels"], "--task", "cat,dog",
    )  # fmt: skip
    assert "'--task' lists labels the data does not hold: 'dog'" in err
    assert "'bottle', 'cat', 'chair', 'face', 'house', 'rest'" in err


def test_data_mask_and_events_count_errors(capsys, tmp_path, bids_dir, haxby_files):
    err = _error(capsys, tmp_path, "--data", "my_bold.nii.gz")
    assert "'--data' must be 'haxby_slice' (bundled), 4-D NIfTI files" in err
    assert "'my_bold.nii.gz'" in err
    err = _error(capsys, tmp_path, "--mask", haxby_files["mask"])
    assert "'--mask' applies to image files" in err
    err = _error(
        capsys, tmp_path, "--data", haxby_files["bold"], "--labels",
        haxby_files["labels"],
    )  # fmt: skip
    assert "'--mask' is required" in err
    err = _error(
        capsys, tmp_path, "--data", _bold(bids_dir, 1), _bold(bids_dir, 2),
        "--mask", _mask_path(), "--events", _events(bids_dir, 1),
    )  # fmt: skip
    assert "'--events' must give one events.tsv per '--data' file" in err
    assert "got 1 for 2 files" in err


def test_bids_folder_errors(capsys, tmp_path, bids_dir):
    import shutil

    two = tmp_path / "two"
    shutil.copytree(bids_dir / "sub-01", two / "sub-01")
    (two / "sub-02" / "func").mkdir(parents=True)
    for f in (two / "sub-01" / "func").iterdir():
        shutil.copy(f, two / "sub-02" / "func" / f.name.replace("sub-01", "sub-02"))
    err = _error(capsys, tmp_path, "--data", str(two), "--mask", _mask_path())
    assert "'--data' folder" in err and "several subjects" in err
    shutil.rmtree(two / "sub-02")
    (two / "sub-01" / "func" / f"{RUN_NAME.format(3)}_events.tsv").unlink()
    err = _error(capsys, tmp_path, "--data", str(two), "--mask", _mask_path())
    assert "run-3_bold.nii.gz' has no events file" in err


def test_spread_values():
    from neurodl.cli.imaging import spread_values

    assert spread_values(["--data", "a", "b", "--task", "x", "--events", "c"]) == [
        "--data", "a", "--data", "b", "--task", "x", "--events", "c",
    ]  # fmt: skip
    assert spread_values(["--data=a", "b", "--json"]) == [
        "--data=a", "--data", "b", "--json",
    ]  # fmt: skip


def test_one_run_is_an_error(capsys, tmp_path, bids_dir):
    err = _error(
        capsys, tmp_path, "--data", _bold(bids_dir, 1), "--mask", _mask_path(),
        "--events", _events(bids_dir, 1),
    )  # fmt: skip
    assert "'--data' must hold at least two runs" in err and "got 1" in err
