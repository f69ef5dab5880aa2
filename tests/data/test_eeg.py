"""load_eeg against MNE's motor-imagery example, and its errors on bad recordings."""

import numpy as np
import pytest

from neurodl.data import load_eeg
from neurodl.data.registry import dataset_file
from neurodl.errors import DataFileError, NonFiniteError, ValidationError

mne = pytest.importorskip("mne")


@pytest.fixture(scope="module")
def epochs():
    return load_eeg()


def _mne_example_epochs(runs=(6, 10, 14)):
    """MNE's own example code (plot_decoding_csp_eeg), on the bundled runs.

    The example names T1 "hands" and T2 "feet" (right for runs 6, 10, 14); the
    labels are MNE's codes minus 2, so 0 is T2 and 1 is T1 whatever the names.
    """
    from mne.datasets import eegbci

    files = [dataset_file("eegmmidb", f"S001R{r:02d}.edf") for r in runs]
    raw = mne.io.concatenate_raws(
        [mne.io.read_raw_edf(f, preload=True, verbose="error") for f in files]
    )
    eegbci.standardize(raw)
    raw.annotations.rename(dict(T1="hands", T2="feet"))
    raw.set_eeg_reference(projection=True, verbose="error")
    raw.filter(
        7.0, 30.0, fir_design="firwin", skip_by_annotation="edge", verbose="error"
    )
    picks = mne.pick_types(
        raw.info, meg=False, eeg=True, stim=False, eog=False, exclude="bads"
    )
    ep = mne.Epochs(
        raw,
        event_id=["hands", "feet"],
        tmin=-1.0,
        tmax=4.0,
        proj=True,
        picks=picks,
        baseline=None,
        preload=True,
        verbose="error",
    )
    train = ep.copy().crop(tmin=1.0, tmax=2.0)
    return train.get_data(copy=True), ep.events[:, -1] - 2, ep.event_id


def test_defaults_give_mnes_example_data(epochs):
    X, labels, event_id = _mne_example_epochs()
    assert epochs.X.shape == (45, 64, 161) == X.shape
    # equal to float64 rounding: the average-reference projector is applied by a
    # matrix product over each epoch, and the example's epochs (-1..4 s, cropped
    # after) are wider than ours (1..2 s), so a sample can fall in another SIMD
    # block; on an AVX-512 CPU 0.5 % of the values (the last sample of a window)
    # differ in the last bit or two (relative 4e-13), elsewhere none
    np.testing.assert_allclose(epochs.X, X, rtol=1e-12, atol=0)
    # MNE codes feet=2, hands=3 -> labels 0/1; ours index the sorted class names
    # named from the runs' task (PhysioNet: T1 both fists, T2 both feet)
    assert epochs.classes == ("both_feet", "both_fists")
    assert event_id == {"feet": 2, "hands": 3}
    np.testing.assert_array_equal(epochs.y, labels)
    assert epochs.sfreq == 160.0
    assert epochs.rank == 63  # average reference removes one dimension
    assert epochs.info["trials_per_class"] == {"both_feet": 24, "both_fists": 21}
    assert epochs.chance_level() == pytest.approx(24 / 45)


@pytest.mark.parametrize(
    ("method", "tmin", "tmax", "rest"),
    [("iir", 0.0, 3.0, False), ("fir", -4.0, 6.0, False), ("iir", -5.0, 1.0, True)],
)
def test_unreferenced_epochs_are_mnes_bit_for_bit(method, tmin, tmax, rest):
    """Without a projection load_eeg cuts each run alone (no concatenation, no
    mne.Epochs); the epochs equal MNE's Epochs on the concatenated runs exactly,
    trials dropped at the run edges included."""
    from mne.datasets import eegbci

    files = [dataset_file("eegmmidb", f"S001R{r:02d}.edf") for r in (4, 8, 12)]
    raw = mne.io.concatenate_raws(
        [mne.io.read_raw_edf(f, preload=True, verbose="error") for f in files]
    )
    eegbci.standardize(raw)
    names = {"T1": "left_fist", "T2": "right_fist"} | ({"T0": "rest"} if rest else {})
    raw.annotations.rename(names)
    raw.filter(
        8.0,
        32.0,
        method=method,
        fir_design="firwin",
        skip_by_annotation="edge",
        verbose="error",
    )
    classes = sorted(names.values())
    ep = mne.Epochs(
        raw,
        event_id=classes,
        tmin=tmin,
        tmax=tmax,
        proj=True,
        picks=mne.pick_types(raw.info, eeg=True, exclude="bads"),
        baseline=None,
        preload=True,
        verbose="error",
    )
    ours = load_eeg(
        subject=1,
        runs=(4, 8, 12),
        rest=rest,
        l_freq=8.0,
        h_freq=32.0,
        filter_method=method,
        tmin=tmin,
        tmax=tmax,
        reference=None,
    )
    np.testing.assert_array_equal(ours.X, ep.get_data(copy=True))
    code = {c: name for name, c in ep.event_id.items()}
    assert [ours.classes[i] for i in ours.y] == [code[c] for c in ep.events[:, 2]]
    assert ours.ch_names == tuple(ep.ch_names)
    assert (ours.tmin, ours.tmax) == (ep.tmin, ep.tmax)
    assert ours.rank == 64
    if tmin < -4.1:  # the first rest of every run starts at 0 s
        assert len(ours.y) < 90


def test_unreferenced_epochs_of_cropped_fif_runs_are_mnes(tmp_path):
    """Runs that do not start at sample 0 (cropped FIF files) take MNE's own
    event samples; the epochs still equal MNE's Epochs on the concatenated runs."""
    paths = []
    for r in (4, 8):
        raw = mne.io.read_raw_edf(
            dataset_file("eegmmidb", f"S001R{r:02d}.edf"), preload=True, verbose="error"
        )
        raw.crop(tmin=1.0)  # first_samp = 160
        paths.append(tmp_path / f"run{r}_raw.fif")
        raw.save(paths[-1], verbose="error")
    raws = [mne.io.read_raw_fif(p, preload=True, verbose="error") for p in paths]
    assert raws[0].first_samp == 160
    raw = mne.io.concatenate_raws(raws)
    raw.annotations.rename({"T1": "left", "T2": "right"})
    raw.filter(8.0, 32.0, method="iir", skip_by_annotation="edge", verbose="error")
    ep = mne.Epochs(
        raw,
        event_id=["left", "right"],
        tmin=-0.5,
        tmax=2.0,
        proj=True,
        picks=mne.pick_types(raw.info, eeg=True),
        baseline=None,
        preload=True,
        verbose="error",
    )
    ours = load_eeg(
        paths,
        events={"T1": "left", "T2": "right"},
        l_freq=8.0,
        h_freq=32.0,
        filter_method="iir",
        tmin=-0.5,
        tmax=2.0,
        reference=None,
    )
    np.testing.assert_array_equal(ours.X, ep.get_data(copy=True))
    code = {c: name for name, c in ep.event_id.items()}
    assert [ours.classes[i] for i in ours.y] == [code[c] for c in ep.events[:, 2]]


def test_groups_are_the_runs(epochs):
    assert sorted(set(epochs.groups.tolist())) == [6, 10, 14]
    assert np.bincount(epochs.groups)[[6, 10, 14]].tolist() == [15, 15, 15]
    assert np.all(np.diff(epochs.groups) >= 0)


def test_picks_resample_and_window():
    ep = load_eeg(
        runs=(6,),
        picks=["C3", "Cz", "C4"],
        resample=80.0,
        tmin=0.5,
        tmax=2.5,
        min_trials_per_class=3,
    )
    assert ep.ch_names == ("C3", "Cz", "C4")
    assert ep.sfreq == 80.0
    assert ep.X.shape[1:] == (3, 160)  # 321 samples at 160 Hz -> 160 at 80 Hz
    assert ep.rank == 3


def test_unknown_channels_are_named():
    with pytest.raises(
        ValidationError, match=r"'picks' names channels .*\['C7', 'Foo'\]"
    ):
        load_eeg(picks=["C3", "C7", "Foo"])


def test_runs_not_bundled():
    with pytest.raises(ValidationError, match=r"'runs' must be among the bundled runs"):
        load_eeg(runs=(5, 6))


def test_class_with_too_few_trials():
    with pytest.raises(
        ValidationError,
        match=r"at least 10 trials .*'both_fists': 7",
    ):
        load_eeg(runs=(6,), min_trials_per_class=10)


FIF_EVENTS = {"T1": "left_hand", "T2": "right_hand"}


def _fif(path, sfreq, data=None, n=3):
    info = mne.create_info(["C3", "Cz", "C4"], sfreq, "eeg")
    rng = np.random.default_rng(0)
    data = rng.normal(0, 1e-5, (n, int(sfreq * 20))) if data is None else data
    raw = mne.io.RawArray(data, info, verbose="error")
    raw.set_annotations(mne.Annotations([2, 6, 10, 14], [1, 1, 1, 1], ["T1", "T2"] * 2))
    raw.save(path, verbose="error", overwrite=True)
    return path


def test_sampling_rate_mismatch_is_named(tmp_path):
    a = _fif(tmp_path / "a_raw.fif", 160.0)
    b = _fif(tmp_path / "b_raw.fif", 128.0)
    with pytest.raises(
        ValidationError,
        match=r"one sampling rate.*a_raw.fif: 160 Hz, b_raw.fif: 128 Hz",
    ):
        load_eeg([a, b], events=FIF_EVENTS)


def test_nan_segment_is_named(tmp_path):
    data = np.random.default_rng(1).normal(0, 1e-5, (3, 3200))
    data[1, 800:960] = np.nan
    f = _fif(tmp_path / "nan_raw.fif", 160.0, data)
    with pytest.raises(
        NonFiniteError,
        match=r"160 NaN or infinite samples in 1 channel\(s\) \(first 'Cz'\) "
        r"between 5.000 s and 5.994 s",
    ):
        load_eeg(f, events=FIF_EVENTS)


def test_truncated_edf_is_caught(tmp_path):
    src = dataset_file("eegmmidb", "S001R06.edf").read_bytes()
    bad = tmp_path / "S001R06.edf"
    bad.write_bytes(src[: len(src) // 2])
    with pytest.raises(
        DataFileError,
        match=r"is truncated: 1298448 bytes, but its header declares 125 data records",
    ):
        load_eeg(tmp_path, runs=(6,))
    bad.write_bytes(src[:100])
    with pytest.raises(DataFileError, match="shorter than the 256-byte"):
        load_eeg(bad)


def test_missing_and_unsupported_files(tmp_path):
    with pytest.raises(DataFileError, match="does not exist"):
        load_eeg(tmp_path / "nope.edf")
    txt = tmp_path / "x.txt"
    txt.write_text("hello")
    with pytest.raises(ValidationError, match=r"must end in one of \.edf"):
        load_eeg(txt)


def test_parameter_rules():
    with pytest.raises(ValidationError, match="'tmax' must be > 'tmin'"):
        load_eeg(tmin=2.0, tmax=1.0)
    with pytest.raises(ValidationError, match="below the Nyquist frequency 80 Hz"):
        load_eeg(h_freq=90.0)
    with pytest.raises(ValidationError, match="never occur: \\['T9'\\]"):
        load_eeg(events={"T1": "a", "T9": "b"})
