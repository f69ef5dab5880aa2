"""Runs from files: label tables, BIDS events, BIDS folders (neurodl.imaging.runs)."""

import nibabel as nib
import numpy as np
import pytest

from neurodl.errors import DataFileError, ShapeError, ValidationError
from neurodl.imaging.mvpa import check_runs, select_task
from neurodl.imaging.runs import (
    Event,
    events_to_labels,
    find_bids_runs,
    load_runs,
    read_events,
    read_label_table,
    repetition_time,
)


def _write_events(path, rows):
    lines = ["onset\tduration\ttrial_type\tresponse_time"]
    lines += [f"{o}\t{d}\t{t}\tn/a" for o, d, t in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def _run_img(n, tr=2.0, seed=0, affine=None, shape=(3, 3, 2)):
    data = np.random.default_rng(seed).standard_normal((*shape, n)).astype(np.float32)
    img = nib.Nifti1Image(data, np.eye(4) if affine is None else affine)
    img.header.set_zooms((1.0, 1.0, 1.0, tr))
    img.header.set_xyzt_units("mm", "sec")
    return img


def _mask(shape=(3, 3, 2), affine=None):
    return nib.Nifti1Image(
        np.ones(shape, np.int8), np.eye(4) if affine is None else affine
    )


def test_volume_takes_the_event_covering_its_start():
    # TR 2.5: volumes start at 0, 2.5, 5, 7.5, 10, 12.5; the event [5, 10) holds
    # the starts 5 and 7.5 (not 10); [10.5, 11) holds no start at all.
    evs = [Event(5.0, 5.0, "face", 2), Event(10.5, 0.5, "house", 3)]
    labels = events_to_labels(evs, 6, 2.5)
    assert labels.tolist() == ["rest", "rest", "face", "face", "rest", "rest"]
    # an event ending exactly at the end of the run is inside it
    assert events_to_labels([Event(12.5, 2.5, "cat", 2)], 6, 2.5)[-1] == "cat"


def test_event_past_the_end_of_the_run_names_file_times_and_length():
    with pytest.raises(ValidationError) as err:
        events_to_labels([Event(12.5, 5.0, "cat", 7)], 6, 2.5, source="'r1_events.tsv'")
    msg = str(err.value)
    assert "'events'" in msg and "r1_events.tsv" in msg and "line 7" in msg
    assert "12.5 + 5 = 17.5 s" in msg and "15 s" in msg and "6 volumes" in msg


def test_overlapping_events_of_two_types_are_an_error():
    evs = [Event(0.0, 5.0, "face", 2), Event(2.5, 2.5, "house", 3)]
    with pytest.raises(ValidationError, match=r"lines 2 \('face'\) and 3"):
        events_to_labels(evs, 4, 2.5)
    same = [Event(0.0, 5.0, "face", 2), Event(2.5, 2.5, "face", 3)]
    assert events_to_labels(same, 4, 2.5).tolist() == ["face", "face", "rest", "rest"]


def test_read_events(tmp_path):
    p = _write_events(tmp_path / "e.tsv", [(0, 2.5, "face"), (5, 0, "n/a")])
    assert read_events(p) == [Event(0.0, 2.5, "face", 2)]
    (tmp_path / "bad.tsv").write_text("onset\tduration\n0\t1\n")
    with pytest.raises(DataFileError, match="trial_type"):
        read_events(tmp_path / "bad.tsv")
    _write_events(tmp_path / "neg.tsv", [(-1, 2, "face")])
    with pytest.raises(DataFileError, match=r"onset on line 2 .*'-1'"):
        read_events(tmp_path / "neg.tsv")
    with pytest.raises(DataFileError, match=r"'events' must be an events\.tsv"):
        read_events(tmp_path / "none.tsv")


def test_read_label_table_forms(tmp_path):
    (tmp_path / "a.txt").write_text("face 0\nhouse 0\n\nface 1\n")
    lab, runs = read_label_table(tmp_path / "a.txt")
    assert lab.tolist() == ["face", "house", "face"] and runs.tolist() == [0, 0, 1]
    # nilearn's Haxby labels.txt: a header naming the columns
    (tmp_path / "b.txt").write_text("labels chunks\nface 0\nhouse 1\n")
    lab, runs = read_label_table(tmp_path / "b.txt")
    assert lab.tolist() == ["face", "house"] and runs.tolist() == [0, 1]
    # tab-separated, columns found by name, labels with spaces
    (tmp_path / "c.tsv").write_text("run\tonset\ttrial_type\n2\t0\tbig face\n")
    lab, runs = read_label_table(tmp_path / "c.tsv")
    assert lab.tolist() == ["big face"] and runs.tolist() == [2]
    (tmp_path / "d.txt").write_text("face\nhouse\n")
    lab, runs = read_label_table(tmp_path / "d.txt")
    assert lab.tolist() == ["face", "house"] and runs is None
    (tmp_path / "e.txt").write_text("face 0\nhouse x\n")
    with pytest.raises(DataFileError, match=r"'labels'.*integers; line 2 has 'x'"):
        read_label_table(tmp_path / "e.txt")
    (tmp_path / "f.txt").write_text("face 0\nhouse\n")
    with pytest.raises(DataFileError, match="line 2 has 1"):
        read_label_table(tmp_path / "f.txt")


def test_repetition_time_units():
    img = _run_img(4, tr=2500.0)
    img.header.set_xyzt_units("mm", "msec")
    assert repetition_time(img) == pytest.approx(2.5)
    assert repetition_time(_run_img(4, tr=0.0)) is None


def test_find_bids_runs_natural_order_and_errors(tmp_path):
    func = tmp_path / "sub-01" / "func"
    func.mkdir(parents=True)
    for r in (1, 2, 10):
        name = f"sub-01_task-objects_run-{r}"
        (func / f"{name}_bold.nii.gz").write_bytes(b"")
        _write_events(func / f"{name}_events.tsv", [])
    bolds, events = find_bids_runs(tmp_path)
    assert [b.name.split("_")[2] for b in bolds] == ["run-1", "run-2", "run-10"]
    assert all(e.name.endswith("_events.tsv") for e in events)
    # a subject's folder and a func folder work too
    assert find_bids_runs(tmp_path / "sub-01")[0] == bolds == find_bids_runs(func)[0]
    (func / "sub-01_task-objects_run-10_events.tsv").unlink()
    with pytest.raises(DataFileError, match=r"run-10_bold.nii.gz' has no events"):
        find_bids_runs(tmp_path)
    other = tmp_path / "sub-02" / "func"
    other.mkdir(parents=True)
    (other / "sub-02_task-objects_run-1_bold.nii.gz").write_bytes(b"")
    with pytest.raises(ValidationError, match=r"several subjects \(sub-01, sub-02\)"):
        find_bids_runs(tmp_path)
    with pytest.raises(DataFileError, match="holds no BIDS runs"):
        find_bids_runs(tmp_path / "sub-01" / "anat")


def test_load_runs_events_and_tables(tmp_path):
    for r in range(2):
        nib.save(_run_img(6, seed=r), tmp_path / f"r{r}.nii.gz")
        _write_events(tmp_path / f"r{r}.tsv", [(0, 4, "face"), (6, 4, "house")])
    nib.save(_mask(), tmp_path / "mask.nii.gz")
    files = [tmp_path / "r0.nii.gz", tmp_path / "r1.nii.gz"]
    rd = load_runs(
        files,
        tmp_path / "mask.nii.gz",
        events=[tmp_path / "r0.tsv", tmp_path / "r1.tsv"],
    )
    assert rd.X.shape == (12, 18) and rd.tr == [2.0, 2.0]
    assert rd.labels.tolist() == ["face", "face", "rest", "house", "house", "rest"] * 2
    assert rd.runs.tolist() == [0] * 6 + [1] * 6 and rd.labels_from == "events"
    (tmp_path / "t.txt").write_text("face\n" * 12)
    rd2 = load_runs(files, tmp_path / "mask.nii.gz", labels=tmp_path / "t.txt")
    np.testing.assert_array_equal(rd2.X, rd.X)
    assert rd2.runs.tolist() == rd.runs.tolist() and rd2.runs_from == "data"
    with pytest.raises(ShapeError, match="'labels' must have one row per volume"):
        load_runs(files[:1], tmp_path / "mask.nii.gz", labels=tmp_path / "t.txt")


def test_load_runs_mask_mismatch_names_both_files(tmp_path):
    nib.save(_run_img(4), tmp_path / "r0.nii.gz")
    nib.save(_mask(shape=(3, 3, 3)), tmp_path / "m.nii.gz")
    (tmp_path / "t.txt").write_text("a 0\nb 0\na 1\nb 1\n")
    with pytest.raises(ShapeError) as err:
        load_runs(
            tmp_path / "r0.nii.gz", tmp_path / "m.nii.gz", labels=tmp_path / "t.txt"
        )
    msg = str(err.value)
    assert "'mask' and 'data' must have the same 3-D grid" in msg
    assert "r0.nii.gz" in msg and "m.nii.gz" in msg and "(3, 3, 3)" in msg


def test_select_task_and_check_runs():
    labels = np.array(["rest", "face", "house", "cat"])
    assert select_task(labels, "all") == ("cat", "face", "house")
    assert select_task(labels, None) == ("cat", "face", "house", "rest")
    assert select_task(labels, ["house", "face"]) == ("face", "house")
    with pytest.raises(ValidationError, match=r"'task' lists .*'dog'.*'cat', 'face'"):
        select_task(labels, ["face", "dog"])
    with pytest.raises(ValidationError, match=r"'8way' keeps .*'bottle'"):
        select_task(labels, "8way")
    check_runs(["a", "b", "a", "b"], [0, 0, 1, 1])
    with pytest.raises(ValidationError, match=r"run 1 holds only 'a' \(2 volumes\)"):
        check_runs(["a", "b", "a", "a"], [0, 0, 1, 1])
    with pytest.raises(ValidationError, match=r"run 1 \(x.nii\) holds only"):
        check_runs(["a", "b", "a", "a"], [0, 0, 1, 1], run_names={1: "1 (x.nii)"})
