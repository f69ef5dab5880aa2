"""LSL plumbing: recordings, the replay outlet (timestamps, metadata, markers), gaps."""

import threading
import time
import uuid

import numpy as np
import pylsl
import pytest

from neurodl.bci.stream import (
    MARKER_SUFFIX,
    GapCounter,
    Recording,
    StreamNotFoundError,
    load_recording,
    pull_available,
    quiet_lsl,
    replay,
    resolve_stream,
    stream_metadata,
)
from neurodl.errors import ValidationError

quiet_lsl()


def unique(prefix="test"):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def start_replay(rec, name, **kw):
    ready, stop, out = threading.Event(), threading.Event(), {}

    def target():
        out["stats"] = replay(rec, name, stop=stop, ready=ready, **kw)

    th = threading.Thread(target=target, daemon=True)
    th.start()
    assert ready.wait(5)
    return th, stop, out


def test_bundled_recording():
    rec = load_recording(run=6)
    assert rec.n_channels == 64 and rec.sfreq == 160.0
    assert rec.n_samples == 20000 and rec.data.dtype == np.float32
    assert rec.ch_names[:3] == ["Fc5", "Fc3", "Fc1"] and "Cz" in rec.ch_names
    assert rec.unit == "microvolts"
    assert 10 < float(np.std(rec.data)) < 500  # microvolts, not volts
    labels = {lab for _, lab in rec.events}
    assert labels == {"T0", "T1", "T2"} and len(rec.events) == 30
    assert rec.events[1] == (672, "T2")  # onset 4.2 s at 160 Hz


def test_bad_recording_inputs(tmp_path):
    with pytest.raises(
        ValidationError, match="'run' must be one of 4, 6, 8, 10, 12, 14"
    ):
        load_recording(run=3)
    with pytest.raises(ValidationError, match="'data' must be 'eegmmidb'"):
        load_recording(data="other")
    with pytest.raises(ValidationError, match="does not exist"):
        load_recording(tmp_path / "missing.edf")
    with pytest.raises(ValidationError, match="2-D array"):
        Recording.from_array(np.zeros(5), 100.0)
    with pytest.raises(ValidationError, match="finite"):
        Recording.from_array(np.full((2, 5), np.nan), 100.0)
    with pytest.raises(ValidationError, match="'ch_names' has 1 labels"):
        Recording.from_array(np.zeros((2, 5)), 100.0, ["a"])
    with pytest.raises(ValidationError, match="'sfreq'"):
        Recording.from_array(np.zeros((2, 5)), 0.0)


def test_npz_recording(tmp_path):
    data = np.arange(30, dtype=float).reshape(3, 10)
    np.savez(tmp_path / "r.npz", data=data, sfreq=250.0, ch_names=["a", "b", "c"])
    rec = load_recording(tmp_path / "r.npz")
    assert rec.sfreq == 250.0 and rec.ch_names == ["a", "b", "c"]
    np.testing.assert_array_equal(rec.data, data.T)
    np.savez(tmp_path / "bad.npz", x=data)
    with pytest.raises(ValidationError, match="'data'"):
        load_recording(tmp_path / "bad.npz")


def test_gap_counter():
    period = 1 / 160
    g = GapCounter(period)
    t = np.arange(10) * period
    assert g.update(t) == 0
    # 5 samples missing between chunks, 3 within the next chunk
    nxt = np.concatenate([t[-1] + (6 + np.arange(4)) * period])
    nxt = np.concatenate([nxt, nxt[-1] + (4 + np.arange(3)) * period])
    assert g.update(nxt) == 5 + 3
    assert (g.dropped, g.gaps) == (8, 2)
    # jitter up to 1.5 periods is not a gap
    g.update(nxt[-1] + np.array([1.4, 2.4]) * period)
    assert g.dropped == 8
    g.reset()
    assert g.update(np.array([1000.0])) == 0


def test_replay_timestamps_metadata_and_markers():
    n, sfreq = 200, 100.0
    data = np.random.default_rng(0).normal(size=(3, n)).astype(np.float32)
    events = [(60, "T0"), (100, "T1"), (150, "T2")]
    rec = Recording.from_array(data, sfreq, ["C3", "Cz", "C4"], events=events)
    name = unique()
    th, _stop, out = start_replay(rec, name, chunk=5, speed=2.0, wait_consumers=5.0)
    minlet = pylsl.StreamInlet(resolve_stream(name + MARKER_SUFFIX, timeout=5.0))
    minlet.open_stream(5.0)
    info = resolve_stream(name, "EEG", timeout=5.0)
    inlet = pylsl.StreamInlet(info, as_numpy=True)
    meta = stream_metadata(inlet.info(timeout=5.0))
    assert meta["ch_names"] == ["C3", "Cz", "C4"]
    assert meta["units"] == ["microvolts"] * 3
    assert meta["sfreq"] == 100.0 and meta["speed"] == 2.0
    assert meta["markers"] == name + MARKER_SUFFIX
    inlet.open_stream(5.0)
    got, stamps, arrival = [], [], []
    deadline = time.monotonic() + 5
    while th.is_alive() and time.monotonic() < deadline:
        x, ts = pull_available(inlet, 0.05)
        if x is not None:
            got.append(x)
            stamps.append(ts)
            arrival.append(pylsl.local_clock() - ts[-1])
    th.join(5)
    x, ts = pull_available(inlet, 0.0)
    if x is not None:
        got.append(x)
        stamps.append(ts)
    samples = np.concatenate(got)
    ts = np.concatenate(stamps)
    # the clock starts once an inlet is connected; liblsl may still miss the
    # first push (sccn/liblsl#176), so compare the tail
    assert len(samples) >= n - 10
    np.testing.assert_array_equal(samples, data.T[n - len(samples) :])
    # scheduled against one start time: exact spacing, no drift, at 2x speed
    np.testing.assert_allclose(np.diff(ts), 1 / (sfreq * 2), atol=1e-6)
    assert max(arrival) < 0.05
    stats = out["stats"]
    assert stats.samples_sent == n and stats.chunks == n // 5
    assert abs(stats.duration_s - (n - 1) / (2 * sfreq)) < 0.1
    marks, mts = pull_available(minlet, 1.0)
    assert [m[0] for m in marks] == ["T0", "T1", "T2"]
    first = n - len(samples)
    np.testing.assert_allclose(mts, ts[[s - first for s, _ in events]], atol=1e-6)


def test_replay_duration_and_loop():
    rec = Recording.from_array(np.ones((2, 40)), 400.0)
    stats = replay(rec, unique(), chunk=8, loop=True, duration=0.25, markers=False)
    assert stats.samples_sent == 100  # 2.5 loops of the 40 samples


def test_replay_validates():
    rec = Recording.from_array(np.ones((2, 40)), 400.0)
    with pytest.raises(ValidationError, match="'chunk'"):
        replay(rec, unique(), chunk=0)
    with pytest.raises(ValidationError, match="'speed'"):
        replay(rec, unique(), speed=-1.0)


def test_resolve_timeout_is_a_clear_error():
    name = unique("absent")
    with pytest.raises(StreamNotFoundError, match=f"no LSL stream with name '{name}'"):
        resolve_stream(name, timeout=0.2)
