from datetime import UTC, datetime

import h5py
import numpy as np
import pytest
import scipy.io

from neurodl.data.registry import dataset_file
from neurodl.data.spikes import SpikeData, load_spikes
from neurodl.errors import DataFileError, NonFiniteError, ShapeError, ValidationError

RNG = np.random.default_rng(0)


def _npz(tmp_path, name="rec.npz", **arrays):
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


def _example(n_bins=40, n_units=5, n_dims=2):
    counts = RNG.poisson(2.0, size=(n_bins, n_units)).astype(float)
    target = RNG.standard_normal((n_bins, n_dims))
    return counts, target


# ------------------------------------------------------------------ bundled dataset


@pytest.fixture(scope="module")
def m1():
    return load_spikes("spikes_m1")


def test_m1_by_name_time_first(m1):
    assert isinstance(m1, SpikeData)
    assert m1.counts.shape == (15536, 171)
    assert m1.target.shape == (15536, 3)
    assert m1.counts.dtype == np.float64 and m1.target.dtype == np.float64
    assert m1.bin_s == 0.05
    assert m1.dataset == "spikes_m1" and m1.file_format == "mat"
    raw = scipy.io.loadmat(dataset_file("spikes_m1", "m1_stevenson_2011.mat"))
    np.testing.assert_array_equal(m1.counts, raw["spikes"].T)
    np.testing.assert_array_equal(m1.target, raw["handVel"].T)
    np.testing.assert_array_equal(m1.time, raw["time"].ravel())
    # handVel's third row (z) is constant zero: decoding uses x and y
    assert np.all(m1.target[:, 2] == 0)
    assert m1.target[:, :2].std(axis=0).min() > 0.01


def test_m1_summary(m1):
    s = m1.to_dict()
    assert s["n_bins"] == 15536 and s["n_units"] == 171 and s["n_dims"] == 3
    assert s["total_spikes"] == m1.counts.sum()
    assert s["target_names"] == ["handVel[0]", "handVel[1]", "handVel[2]"]
    assert 1 < s["mean_rate_hz"] < 100


def test_m1_by_path_target_dims_and_several_keys():
    path = dataset_file("spikes_m1", "m1_stevenson_2011.mat")
    d = load_spikes(path, target_key=("handPos", "handVel"), target_dims=(0, 1, 3, 4))
    assert d.dataset is None
    assert d.target_names == ("handPos[0]", "handPos[1]", "handVel[0]", "handVel[1]")
    raw = scipy.io.loadmat(path)
    np.testing.assert_array_equal(d.target[:, 2:], raw["handVel"][:2].T)
    np.testing.assert_array_equal(d.target[:, :2], raw["handPos"][:2].T)


def test_dataset_of_another_kind_is_refused():
    with pytest.raises(ValidationError, match=r"kind 'eeg'.*'spikes_m1'"):
        load_spikes("eegmmidb")


# --------------------------------------------------------------------- orientation


@pytest.mark.parametrize("spikes_t", [False, True])
@pytest.mark.parametrize("target_t", [False, True])
def test_orientation_found_by_matching_lengths(tmp_path, spikes_t, target_t):
    counts, target = _example(n_bins=37, n_units=6, n_dims=3)
    path = _npz(
        tmp_path,
        spikes=counts.T if spikes_t else counts,
        handVel=target.T if target_t else target,
    )
    d = load_spikes(path, bin_s=0.02)
    np.testing.assert_array_equal(d.counts, counts)
    np.testing.assert_array_equal(d.target, target)
    assert d.bin_s == 0.02 and d.time is None and d.file_format == "npz"
    assert d.unit_names == tuple(f"unit{i}" for i in range(6))


def test_one_dimensional_target(tmp_path):
    counts, target = _example(n_bins=20)
    d = load_spikes(
        _npz(tmp_path, spikes=counts.T, y=target[:, 0]), target_key="y", bin_s=1
    )
    assert d.target.shape == (20, 1)
    np.testing.assert_array_equal(d.target[:, 0], target[:, 0])


def test_ambiguous_orientation_names_both_shapes(tmp_path):
    path = _npz(tmp_path, spikes=np.ones((5, 5)), handVel=np.zeros((5, 2)))
    with pytest.raises(ShapeError, match=r"\(5, 5\) and \(5, 2\).*more than one pair"):
        load_spikes(path, bin_s=0.05)


def test_no_matching_axis_names_both_shapes(tmp_path):
    path = _npz(tmp_path, spikes=np.ones((4, 7)), handVel=np.zeros((3, 5)))
    with pytest.raises(ShapeError, match=r"\(4, 7\) and \(3, 5\).*no axis"):
        load_spikes(path, bin_s=0.05)


def test_matlab_v73_file(tmp_path):
    counts, target = _example(n_bins=30, n_units=4)
    path = tmp_path / "rec73.mat"
    # MATLAB v7.3 is HDF5 with a 512-byte header; arrays are stored transposed
    with h5py.File(path, "w", userblock_size=512) as f:
        f["spikes"] = counts  # read back as (30, 4): time axis found either way
        f["handVel"] = target.T
        f["time"] = (np.arange(30) * 0.025)[None, :]
    with path.open("r+b") as f:
        f.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: test HDF5 schema")
    d = load_spikes(path)
    assert d.file_format == "mat-v7.3"
    np.testing.assert_array_equal(d.counts, counts)
    np.testing.assert_array_equal(d.target, target)
    assert d.bin_s == 0.025


# ------------------------------------------------------------------ time and binning


def test_bin_width_from_time_vector_and_argument(tmp_path):
    counts, target = _example(n_bins=10)
    time = 3.0 + 0.05 * np.arange(10)
    d = load_spikes(_npz(tmp_path, spikes=counts, handVel=target, time=time))
    assert d.bin_s == 0.05
    np.testing.assert_array_equal(d.time, time)
    with pytest.raises(ValidationError, match="'bin_s' must agree with the time"):
        load_spikes(
            _npz(tmp_path, "b.npz", spikes=counts, handVel=target, time=time),
            bin_s=0.1,
        )
    with pytest.raises(ValidationError, match="'bin_s' must be given"):
        load_spikes(_npz(tmp_path, "c.npz", spikes=counts, handVel=target))
    with pytest.raises(ValidationError, match="'bin_s' must be a number > 0"):
        load_spikes(_npz(tmp_path, "d.npz", spikes=counts, handVel=target), bin_s=-1)


def test_time_vector_with_gap_is_refused(tmp_path):
    counts, target = _example(n_bins=10)
    time = 0.05 * np.arange(10)
    time[6:] += 1.0
    path = _npz(tmp_path, spikes=counts, handVel=target, time=time)
    with pytest.raises(ValidationError, match=r"evenly spaced.*bins 5"):
        load_spikes(path)


def test_rebin_sums_counts_and_averages_target(tmp_path):
    counts, target = _example(n_bins=11, n_units=3)
    time = 0.05 * np.arange(11)
    d = load_spikes(
        _npz(tmp_path, spikes=counts.T, handVel=target.T, time=time), rebin_s=0.15
    )
    assert d.counts.shape == (3, 3)  # 11 bins -> 3 whole groups of 3, 2 dropped
    assert d.bin_s == pytest.approx(0.15)
    np.testing.assert_array_equal(d.counts, counts[:9].reshape(3, 3, 3).sum(axis=1))
    np.testing.assert_allclose(d.target, target[:9].reshape(3, 3, 2).mean(axis=1))
    np.testing.assert_allclose(d.time, time[:9].reshape(3, 3).mean(axis=1))


def test_rebin_must_be_a_multiple(tmp_path):
    counts, target = _example(n_bins=10)
    path = _npz(tmp_path, spikes=counts, handVel=target)
    with pytest.raises(
        ValidationError,
        match=r"'rebin_s' must be an integer multiple.*0\.05 s; got 0\.07",
    ):
        load_spikes(path, bin_s=0.05, rebin_s=0.07)
    with pytest.raises(ValidationError, match="'rebin_s' must be a number > 0"):
        load_spikes(path, bin_s=0.05, rebin_s=0)


def test_m1_rebinned(m1):
    d = load_spikes("spikes_m1", rebin_s=0.1, target_dims=(0, 1))
    assert d.counts.shape == (7768, 171) and d.bin_s == pytest.approx(0.1)
    np.testing.assert_array_equal(d.counts[0], m1.counts[:2].sum(axis=0))
    np.testing.assert_allclose(d.target[5], m1.target[10:12, :2].mean(axis=0))


# --------------------------------------------------------------------- bad inputs


def test_missing_key_lists_the_file_keys(tmp_path):
    counts, target = _example()
    path = _npz(tmp_path, spk=counts, handVel=target)
    with pytest.raises(
        ValidationError,
        match=r"'spikes_key' must name an array in .*got 'spikes', but the file has "
        r"'handVel', 'spk'",
    ):
        load_spikes(path, bin_s=0.05)
    with pytest.raises(ValidationError, match=r"'target_key' must name .*got 'vel'"):
        load_spikes(path, spikes_key="spk", target_key="vel", bin_s=0.05)
    with pytest.raises(ValidationError, match=r"'position_key' must name .*got 'p'"):
        load_spikes(
            path, spikes_key="spk", target_key="p", names={"target_key": "position_key"}
        )


def test_nan_in_spikes_says_how_many_and_where(tmp_path):
    counts, target = _example(n_bins=20)
    counts[3:5, 1] = np.nan
    counts[12, 0] = np.nan
    with pytest.raises(NonFiniteError, match=r"3 NaN.*3 of 20 time bin.*bins 3-4, 12"):
        load_spikes(_npz(tmp_path, spikes=counts.T, handVel=target), bin_s=0.05)


def test_nan_in_target_is_refused(tmp_path):
    counts, target = _example(n_bins=20)
    target[7:10] = np.nan
    with pytest.raises(NonFiniteError, match=r"target.*6 NaN.*bins 7-9"):
        load_spikes(_npz(tmp_path, spikes=counts, handVel=target), bin_s=0.05)


def test_negative_counts_are_refused(tmp_path):
    counts, target = _example(n_bins=20)
    counts[4, 2] = -1
    with pytest.raises(ValidationError, match=r"must be >= 0; got 1 negative.*bins 4"):
        load_spikes(_npz(tmp_path, spikes=counts, handVel=target), bin_s=0.05)


def test_bad_target_dims(tmp_path):
    counts, target = _example()
    path = _npz(tmp_path, spikes=counts, handVel=target)
    with pytest.raises(ValidationError, match=r"'target_dims' must be .* 0\.\.1"):
        load_spikes(path, bin_s=0.05, target_dims=(0, 2))


def test_missing_file_and_unknown_suffix(tmp_path):
    with pytest.raises(
        DataFileError, match=r"'path' must be an existing file.*nope\.mat"
    ):
        load_spikes(tmp_path / "nope.mat")
    with pytest.raises(ValidationError, match=r"'path' must end in one of \.mat"):
        load_spikes(tmp_path / "rec.csv")


@pytest.mark.parametrize("suffix", [".mat", ".npz", ".nwb"])
def test_truncated_file_names_the_file(tmp_path, suffix):
    counts, target = _example(n_bins=200, n_units=20)
    good = tmp_path / "good.mat"
    scipy.io.savemat(good, {"spikes": counts.T, "handVel": target.T})
    if suffix == ".npz":
        good = _npz(tmp_path, spikes=counts, handVel=target)
    if suffix == ".nwb":
        good = _write_nwb(tmp_path / "good.nwb", {0: [0.1]}, np.zeros((5, 1)), 0.1)
    bad = tmp_path / f"bad{suffix}"
    data = good.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFileError, match=rf"cannot read .*bad\{suffix}"):
        load_spikes(bad, bin_s=0.05)


# ---------------------------------------------------------------------------- NWB


def _write_nwb(path, spike_times, behaviour, dt, name="hand_velocity"):
    from pynwb import NWBHDF5IO, NWBFile, TimeSeries
    from pynwb.behavior import BehavioralTimeSeries

    nwb = NWBFile(
        session_description="test",
        identifier="neurodl-test",
        session_start_time=datetime(2024, 1, 1, tzinfo=UTC),
    )
    for times in spike_times.values():
        nwb.add_unit(spike_times=np.asarray(times, dtype=float))
    module = nwb.create_processing_module("behavior", "behaviour")
    series = BehavioralTimeSeries(name="BehavioralTimeSeries")
    series.add_timeseries(
        TimeSeries(
            name=name,
            data=behaviour,
            unit="m/s",
            timestamps=np.arange(len(behaviour)) * dt,
        )
    )
    module.add(series)
    nwb.add_acquisition(TimeSeries(name="other", data=np.zeros(3), unit="V", rate=1.0))
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path


def test_nwb_spike_times_binned_exactly(tmp_path):
    spike_times = {
        0: [0.01, 0.02, 0.03, 0.25, 0.91, 1.5],  # 1.5 s is past the last bin
        1: [0.15, 0.45, 0.46, 0.47],
        2: [],
    }
    # behaviour sampled every 0.1 s for 1 s: x = t, y = 2 - 3 t (linear, so the
    # interpolation to bin centres is exact)
    t = np.arange(11) * 0.1
    behaviour = np.stack([t, 2 - 3 * t], axis=1)
    path = _write_nwb(tmp_path / "rec.nwb", spike_times, behaviour, 0.1)
    d = load_spikes(path, target_key="hand_velocity", bin_s=0.2)
    assert d.file_format == "nwb" and d.bin_s == 0.2
    assert d.counts.shape == (5, 3) and d.unit_names == ("0", "1", "2")
    expected = np.array(
        [
            [3, 1, 0],  # [0.0, 0.2)
            [1, 0, 0],  # [0.2, 0.4)
            [0, 3, 0],  # [0.4, 0.6)
            [0, 0, 0],  # [0.6, 0.8)
            [1, 0, 0],  # [0.8, 1.0)
        ]
    )
    np.testing.assert_array_equal(d.counts, expected)
    centres = np.array([0.1, 0.3, 0.5, 0.7, 0.9])
    np.testing.assert_allclose(d.time, centres)
    np.testing.assert_allclose(d.target, np.stack([centres, 2 - 3 * centres], axis=1))
    assert d.target_names == ("hand_velocity[0]", "hand_velocity[1]")
    r = load_spikes(path, target_key="hand_velocity", bin_s=0.1, rebin_s=0.2)
    np.testing.assert_array_equal(r.counts, expected)


def test_nwb_needs_bin_width_and_a_known_series(tmp_path):
    path = _write_nwb(tmp_path / "rec.nwb", {0: [0.1]}, np.zeros((5, 2)), 0.1)
    with pytest.raises(ValidationError, match="'bin_s' must be given for NWB"):
        load_spikes(path, target_key="hand_velocity")
    with pytest.raises(
        ValidationError, match=r"got 'handVel'.*TimeSeries 'hand_velocity', 'other'"
    ):
        load_spikes(path, bin_s=0.1)
