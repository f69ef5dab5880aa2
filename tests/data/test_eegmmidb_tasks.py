"""eegmmidb classes are named from each run's task (PhysioNet's description).

PhysioNet (eegmmidb 1.0.0) and MNE's ``eegbci`` docs: T1 is the left fist in runs
3, 4, 7, 8, 11, 12 and both fists in runs 5, 6, 9, 10, 13, 14; T2 is the right
fist and both feet in the same runs; T0 is rest; runs 1 and 2 are baselines.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from neurodl.cli import main
from neurodl.data import DATASETS, EEGMMIDB_RUNS, eegmmidb_events, load_eeg
from neurodl.data.eeg import eegmmidb_file_events
from neurodl.decode import CSPLDA, cross_validate
from neurodl.errors import ValidationError
from tests.data.test_eeg import _mne_example_epochs

mne = pytest.importorskip("mne")

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "eegmmidb"
needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason="../shared/data/eegmmidb is not beside the clone"
)


@pytest.mark.parametrize("run", [3, 4, 7, 8, 11, 12])
def test_left_right_fist_runs(run):
    assert eegmmidb_events([run]) == {"T1": "left_fist", "T2": "right_fist"}


@pytest.mark.parametrize("run", [5, 6, 9, 10, 13, 14])
def test_both_fists_both_feet_runs(run):
    assert eegmmidb_events([run]) == {"T1": "both_fists", "T2": "both_feet"}


def test_every_task_run_is_described():
    assert sorted(EEGMMIDB_RUNS) == list(range(3, 15))
    imagined = sorted(r for r, (task, _) in EEGMMIDB_RUNS.items() if "imagined" in task)
    assert imagined == [4, 6, 8, 10, 12, 14]


def test_rest_only_when_asked():
    assert "T0" not in eegmmidb_events([6, 10, 14])
    assert eegmmidb_events([4], rest=True)["T0"] == "rest"
    assert "rest" not in load_eeg(runs=(6,), min_trials_per_class=3).classes
    ep = load_eeg(runs=(6,), rest=True, min_trials_per_class=3)
    assert ep.classes == ("both_feet", "both_fists", "rest")


def test_mixing_the_two_tasks_lists_the_runs():
    with pytest.raises(
        ValidationError,
        match=r"'runs' mixes the two eegmmidb tasks.*runs \[4, 8\] hold left_fist "
        r"vs right_fist.*runs \[6\] hold both_fists vs both_feet",
    ):
        eegmmidb_events([4, 6, 8])
    with pytest.raises(ValidationError, match="mixes the two eegmmidb tasks"):
        load_eeg(runs=(4, 6))
    # executed and imagined runs of one contrast may be pooled
    assert eegmmidb_events([3, 4]) == eegmmidb_events([4])


def test_baseline_runs_have_no_classes():
    with pytest.raises(ValidationError, match=r"\[1\].*baselines with no cues"):
        eegmmidb_events([1, 4])


def test_files_not_named_as_eegmmidb_need_events():
    assert eegmmidb_file_events(["x/S007R12.edf"]) == {
        "T1": "left_fist",
        "T2": "right_fist",
    }
    with pytest.raises(ValidationError, match=r"'events' must be given.*my_run"):
        eegmmidb_file_events(["S001R04.edf", "my_run.edf"])


def test_bundled_left_right_runs_have_checksums():
    info = DATASETS["eegmmidb"]
    assert info.extra["runs"] == "4 6 8 10 12 14"
    for r in (4, 8, 12):
        assert f"S001R{r:02d}.edf" in info.files
    from neurodl.data.registry import verify_dataset

    verify_dataset("eegmmidb")


def test_left_right_runs_equal_mnes_pipeline():
    """CSP + LDA on runs 4, 8, 12 with MNE's example protocol, MNE run beside it."""
    from mne.decoding import CSP
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.model_selection import ShuffleSplit, cross_val_score
    from sklearn.pipeline import Pipeline

    ep = load_eeg(runs=(4, 8, 12))
    assert ep.classes == ("left_fist", "right_fist")
    assert ep.info["trials_per_class"] == {"left_fist": 23, "right_fist": 22}
    X, labels, _ = _mne_example_epochs((4, 8, 12))
    # to float64 rounding: see tests/data/test_eeg.py (the projector's matrix
    # product over epochs of different widths rounds differently on AVX-512)
    np.testing.assert_allclose(ep.X, X, rtol=1e-12, atol=0)
    # MNE's labels: 0 = T2 (right fist), 1 = T1 (left fist); ours sort the names
    np.testing.assert_array_equal(ep.y, 1 - labels)
    clf = Pipeline(
        [
            ("CSP", CSP(n_components=4, reg=None, log=True, norm_trace=False)),
            ("LDA", LinearDiscriminantAnalysis()),
        ]
    )
    with mne.utils.use_log_level("error"):
        ref = cross_val_score(
            clf, X, labels, cv=ShuffleSplit(10, test_size=0.2, random_state=42)
        )
    ours = cross_validate(CSPLDA(), ep.X, ep.y)
    np.testing.assert_allclose(ours.scores["accuracy"], ref, atol=1e-12)


def test_cli_names_the_left_right_classes(capsys):
    with pytest.raises(SystemExit) as info:
        main(["decode", "eeg", "--runs", "4", "8", "12", "--json"])
    assert (info.value.code or 0) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["classes"] == ["left_fist", "right_fist"]
    assert res["tasks"] == ["imagined left fist vs right fist"]
    assert res["mean"]["accuracy"] == pytest.approx(0.611111, abs=5e-7)


def test_cli_mixed_runs_is_one_clear_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["decode", "eeg", "--runs", "4", "6"])
    err = capsys.readouterr().err
    assert info.value.code == 1
    assert "'--runs' mixes the two eegmmidb tasks" in err
    assert len(err.strip().splitlines()) == 1


@needs_shared
@pytest.mark.parametrize("subject", [2, 5, 8])
def test_a_folder_of_any_subject(subject):
    # PhysioNet's layout (a folder of S### folders) and the subject's own folder
    for folder in (SHARED, SHARED / f"S{subject:03d}"):
        ep = load_eeg(folder, subject=subject, runs=(4, 8, 12))
        assert ep.classes == ("left_fist", "right_fist")
        assert ep.info["files"] == [f"S{subject:03d}R{r:02d}.edf" for r in (4, 8, 12)]
        assert ep.X.shape[1:] == (64, 161)
        assert sorted(set(ep.groups.tolist())) == [4, 8, 12]
    ep = load_eeg(SHARED, subject=subject, runs=(6, 10, 14))
    assert ep.classes == ("both_feet", "both_fists")


@needs_shared
def test_cli_on_another_subjects_folder(capsys):
    with pytest.raises(SystemExit) as info:
        main(
            [
                *("decode", "eeg", "--data", str(SHARED), "--subject", "3"),
                *("--runs", "4", "8", "12", "--splits", "3", "--json"),
            ]
        )
    assert (info.value.code or 0) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["classes"] == ["left_fist", "right_fist"] and res["subject"] == 3


def test_online_decoder_names_classes_from_the_runs():
    from neurodl.bci.decoder import fit_online_decoder
    from neurodl.bci.online import DEFAULT_COMMANDS

    dec = fit_online_decoder(runs=(4, 8, 12))
    assert dec.classes == ["left_fist", "right_fist"]
    assert dec.marker_classes == {"T1": "left_fist", "T2": "right_fist"}
    assert DEFAULT_COMMANDS["left_fist"] == (-1.0, 0.0)
    assert DEFAULT_COMMANDS["right_fist"] == (1.0, 0.0)
