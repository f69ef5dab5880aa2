"""Lab Streaming Layer (LSL) plumbing: recordings, replay outlets, resolving, gaps.

* :func:`load_recording` reads an EDF (the bundled PhysioNet eegmmidb runs or any
  file MNE reads) or an ``.npz`` array into a :class:`Recording`;
* :func:`replay` streams a recording as an LSL outlet in real time (or ``speed``
  times faster), in chunks, with per-sample LSL timestamps scheduled against a start
  time (no drift), channel labels, units and nominal rate in the stream metadata,
  and a second, irregular-rate string outlet with the event markers (T0/T1/T2);
* :func:`resolve_stream` finds a stream by name and/or type, or raises
  :class:`StreamNotFoundError` after a timeout;
* :class:`GapCounter` counts samples missing from a stream from jumps of its
  timestamps (> 1.5 sample periods).

liblsl logs INFO lines to stderr, and by default looks for streams on the whole local
network. :func:`quiet_lsl` silences the logging and keeps stream discovery on this
machine (``ResolveScope = machine``: recordings are personal data and do not go on
the network by accident), unless the user has an LSL configuration file of their own
(``LSLAPICFG``, ``./lsl_api.cfg``, ``~/lsl_api/lsl_api.cfg`` or
``/etc/lsl_api/lsl_api.cfg``), which then wins: to read an amplifier on another
machine, put ``[multicast]`` / ``ResolveScope = site`` in one.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neurodl.errors import FormatError, ValidationError

__all__ = [
    "DEFAULT_STREAM",
    "MARKER_SUFFIX",
    "VOLT_SCALE",
    "GapCounter",
    "Recording",
    "ReplayStats",
    "StreamNotFoundError",
    "channel_label",
    "load_recording",
    "pull_available",
    "quiet_lsl",
    "replay",
    "resolve_stream",
    "stream_metadata",
]

DEFAULT_STREAM = "neurodl-eeg"
"""Default name of the replayed EEG stream."""

MARKER_SUFFIX = "-markers"
"""The marker outlet of a replayed stream ``NAME`` is called ``NAME-markers``."""

VOLT_SCALE = {
    "v": 1e6,
    "volts": 1e6,
    "mv": 1e3,
    "millivolts": 1e3,
    "uv": 1.0,
    "µv": 1.0,
    "μv": 1.0,
    "microvolts": 1.0,
    "nv": 1e-3,
    "nanovolts": 1e-3,
}
"""Factor that turns a value in each (lower-cased) unit into microvolts."""

_LINGER_S = 0.1
"""Seconds a finished replay keeps its outlets open so the last chunk arrives."""

LSL_CONFIG = "[log]\nlevel = -3\n[multicast]\nResolveScope = machine\n"
"""neurodl's liblsl configuration: no INFO logging, streams of this machine only."""

_QUIET_DONE = False
_QUIET_LOCK = threading.Lock()


class StreamNotFoundError(ValidationError):
    """No LSL stream matched the name/type within the timeout."""


def quiet_lsl() -> bool:
    """Silence liblsl's logging, resolve on this machine only, unless configured.

    Must run before the first LSL call of the process to have an effect (liblsl
    reads its configuration once); every function of :mod:`neurodl.bci` that talks
    to LSL calls it first.

    Returns
    -------
    bool
        Whether neurodl's quiet configuration was installed (False when a user
        configuration file exists, or on a second call).
    """
    global _QUIET_DONE
    with _QUIET_LOCK:
        if _QUIET_DONE:
            return False
        _QUIET_DONE = True
        candidates = [
            os.environ.get("LSLAPICFG", ""),
            "lsl_api.cfg",
            str(Path.home() / "lsl_api" / "lsl_api.cfg"),
            "/etc/lsl_api/lsl_api.cfg",
        ]
        if any(c and Path(c).is_file() for c in candidates):
            return False
        import pylsl

        try:
            pylsl.set_config_content(LSL_CONFIG)
        except NotImplementedError:  # liblsl < 1.17.7: leave the default logging
            return False
        return True


def channel_label(raw_label: str) -> str:
    """Clean an EDF channel label: ``"Fc5."`` -> ``"Fc5"``, ``"Cz.."`` -> ``"Cz"``."""
    return raw_label.strip().rstrip(".").strip() or raw_label


@dataclass
class Recording:
    """A multichannel recording to replay or to train on.

    Attributes
    ----------
    data : numpy.ndarray
        Samples, shape ``(n_samples, n_channels)``, float32, in :attr:`unit`.
    sfreq : float
        Sampling rate, Hz.
    ch_names : list of str
        Channel labels.
    unit : str
        Unit of every channel (``"microvolts"`` for EEG read by neurodl).
    events : list of (int, str)
        ``(sample index, label)`` of each event (e.g. ``(672, "T2")``), sorted.
    source : str
        Where the data came from (a path or ``"array"``).
    """

    data: np.ndarray
    sfreq: float
    ch_names: list[str]
    unit: str = "microvolts"
    events: list[tuple[int, str]] = field(default_factory=list)
    source: str = "array"

    @property
    def n_samples(self) -> int:
        """Number of samples."""
        return int(self.data.shape[0])

    @property
    def n_channels(self) -> int:
        """Number of channels."""
        return int(self.data.shape[1])

    @classmethod
    def from_array(
        cls,
        data: np.ndarray,
        sfreq: float,
        ch_names: Sequence[str] | None = None,
        *,
        unit: str = "microvolts",
        events: Iterable[tuple[int, str]] = (),
    ) -> Recording:
        """Make a recording from ``data`` of shape ``(n_channels, n_samples)``.

        Parameters
        ----------
        data : numpy.ndarray
            Finite values, shape ``(n_channels, n_samples)`` (MNE's layout).
        sfreq : float
            Sampling rate in Hz (> 0).
        ch_names : sequence of str, optional
            Channel labels (default ``"ch1"``, ``"ch2"``, ...).
        unit : str
            Unit of the values.
        events : iterable of (int, str)
            ``(sample index, label)`` events.
        """
        arr = np.asarray(data)
        if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
            raise ValidationError(
                "'data' must be a 2-D array (n_channels, n_samples) with at least "
                f"one channel and one sample; got shape {arr.shape}."
            )
        if not np.issubdtype(arr.dtype, np.number) or not np.all(np.isfinite(arr)):
            raise ValidationError("'data' must hold finite numbers only.")
        if not (isinstance(sfreq, int | float) and math.isfinite(sfreq) and sfreq > 0):
            raise ValidationError(
                f"'sfreq' must be a finite number > 0; got {sfreq!r}."
            )
        names = (
            [f"ch{i + 1}" for i in range(arr.shape[0])]
            if ch_names is None
            else [str(c) for c in ch_names]
        )
        if len(names) != arr.shape[0]:
            raise ValidationError(
                f"'ch_names' has {len(names)} labels but 'data' has "
                f"{arr.shape[0]} channels (rows)."
            )
        if len(set(names)) != len(names):
            raise ValidationError("'ch_names' must be unique.")
        evs = sorted((int(s), str(lab)) for s, lab in events)
        bad = [s for s, _ in evs if not 0 <= s < arr.shape[1]]
        if bad:
            raise ValidationError(
                f"event samples {bad[:5]} lie outside 0..{arr.shape[1] - 1}."
            )
        return cls(
            data=np.ascontiguousarray(arr.T, dtype=np.float32),
            sfreq=float(sfreq),
            ch_names=names,
            unit=unit,
            events=evs,
        )


def load_recording(
    path: str | os.PathLike[str] | None = None,
    *,
    data: str = "eegmmidb",
    run: int = 6,
    key: bytes | None = None,
    passphrase: str | None = None,
) -> Recording:
    """Read a recording: a file, or run ``run`` of bundled dataset ``data``.

    Parameters
    ----------
    path : str or os.PathLike, optional
        An EDF/BDF/GDF file (read with MNE; values converted from volts to
        microvolts, annotations become events) or an ``.npz`` file with ``data``
        (``(n_channels, n_samples)``), ``sfreq`` and optionally ``ch_names`` and
        ``unit`` (read without pickle). When given, ``data`` and ``run`` are
        ignored.
    data : str
        Bundled dataset; only ``"eegmmidb"`` (64-channel EEG at 160 Hz).
    run : int
        Bundled run: 4, 8 or 12 (imagined left fist T1 / right fist T2) or 6, 10
        or 14 (imagined both fists T1 / both feet T2).
    key, passphrase : bytes or str, optional
        For a file written by ``neurodl encrypt`` (``S001R04.edf.enc``): the key
        file's 32 bytes or the passphrase; decrypted in memory, never to disk.

    Returns
    -------
    Recording

    Raises
    ------
    ValidationError
        Unknown dataset or run, a missing file, or a bad array.
    FormatError
        A malformed file (a :class:`ValidationError` too); see
        :func:`neurodl.data.eeg.read_raw`.
    DecryptionError
        An encrypted file without its key, or with a wrong one.
    """
    if path is None:
        from neurodl.data.registry import DATASETS, dataset_file

        if data != "eegmmidb":
            raise ValidationError(
                f"'data' must be 'eegmmidb' (the bundled EEG recording); got {data!r}."
            )
        runs = sorted(int(f[5:7]) for f in DATASETS[data].files)
        if run not in runs:
            raise ValidationError(
                f"'run' must be one of {', '.join(map(str, runs))} for dataset "
                f"{data!r}; got {run!r}."
            )
        path = dataset_file(data, f"S001R{run:02d}.edf")
    p = Path(path)
    if not p.is_file():
        raise ValidationError(
            f"'path' must be an existing recording file; {str(p)!r} does not exist."
        )
    from neurodl.privacy.plaintext import plain_name, plaintext_path

    if plain_name(p).lower().endswith(".npz"):
        with plaintext_path(p, key=key, passphrase=passphrase) as plain:
            return _load_npz(plain, p)
    import mne

    from neurodl.data.rawfile import read_raw

    raw = read_raw(p, key=key, passphrase=passphrase)
    picks = mne.pick_types(raw.info, eeg=True, exclude=[])
    if len(picks) == 0:
        picks = np.arange(len(raw.ch_names))
    values = raw.get_data(picks=picks) * 1e6  # volts -> microvolts
    sfreq = float(raw.info["sfreq"])
    events = [
        (round((onset - raw.first_time) * sfreq), str(desc))
        for onset, desc in zip(
            raw.annotations.onset, raw.annotations.description, strict=True
        )
    ]
    events = [(s, d) for s, d in events if 0 <= s < values.shape[1]]
    rec = Recording.from_array(
        values,
        sfreq,
        [channel_label(raw.ch_names[i]) for i in picks],
        unit="microvolts",
        events=events,
    )
    rec.source = str(p)
    return rec


def _load_npz(plain: Path, p: Path) -> Recording:
    try:
        with plain.open("rb") as fh, np.load(fh, allow_pickle=False) as z:
            if "data" not in z.files or "sfreq" not in z.files:
                raise ValidationError(
                    f"{str(p)!r} must hold arrays 'data' (n_channels, n_samples) and "
                    f"'sfreq'; it holds {z.files}."
                )
            values = z["data"]
            sfreq = float(np.asarray(z["sfreq"]).reshape(-1)[0])
            names = [str(c) for c in z["ch_names"]] if "ch_names" in z.files else None
            unit = str(z["unit"]) if "unit" in z.files else "microvolts"
    except ValidationError:
        raise
    except Exception as exc:  # zipfile and numpy raise many types on bad bytes
        raise FormatError(
            f"cannot read {str(p)!r} as an .npz array: {type(exc).__name__}: {exc}",
            path=p,
            fmt="npz",
        ) from exc
    rec = Recording.from_array(values, sfreq, names, unit=unit)
    rec.source = str(p)
    return rec


@dataclass
class ReplayStats:
    """What :func:`replay` sent.

    Attributes
    ----------
    name : str
        Stream name (the markers went to ``name + MARKER_SUFFIX``).
    n_channels : int
        Channels per sample.
    sfreq : float
        Nominal sampling rate of the stream (the recording's), Hz.
    speed : float
        Replay speed (1.0: real time).
    chunk : int
        Samples per pushed chunk.
    samples_sent : int
        Samples pushed.
    samples_skipped : int
        Samples left out on purpose (``drop``); their timestamps were skipped.
    chunks : int
        Chunks pushed.
    markers_sent : int
        Event markers pushed.
    duration_s : float
        Wall-clock seconds from the first scheduled sample to the end.
    late_ms_max : float
        Largest delay of a push behind its schedule, ms.
    stopped : bool
        Whether ``stop`` ended the replay early.
    """

    name: str
    n_channels: int
    sfreq: float
    speed: float
    chunk: int
    samples_sent: int = 0
    samples_skipped: int = 0
    chunks: int = 0
    markers_sent: int = 0
    duration_s: float = 0.0
    late_ms_max: float = 0.0
    stopped: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a JSON-ready dict."""
        return asdict(self)


def _make_info(
    recording: Recording, name: str, stream_type: str, source_id: str, speed: float
) -> Any:
    import pylsl

    info = pylsl.StreamInfo(
        name,
        stream_type,
        recording.n_channels,
        recording.sfreq,
        "float32",
        source_id,
    )
    info.set_channel_labels(list(recording.ch_names))
    info.set_channel_units([recording.unit] * recording.n_channels)
    info.set_channel_types([stream_type] * recording.n_channels)
    extra = info.desc().append_child("neurodl")
    extra.append_child_value("markers", name + MARKER_SUFFIX)
    extra.append_child_value("speed", repr(float(speed)))
    extra.append_child_value("source", recording.source)
    info.desc().append_child_value("manufacturer", "neurodl replay")
    return info


def replay(
    recording: Recording,
    name: str = DEFAULT_STREAM,
    *,
    stream_type: str = "EEG",
    chunk: int = 4,
    speed: float = 1.0,
    loop: bool = False,
    duration: float | None = None,
    markers: bool = True,
    source_id: str | None = None,
    drop: Iterable[tuple[int, int]] = (),
    wait_consumers: float = 0.0,
    stop: threading.Event | None = None,
    ready: threading.Event | None = None,
) -> ReplayStats:
    """Stream ``recording`` as an LSL outlet, paced like the live device.

    Sample ``k`` (counted from the start, across loops) carries the LSL timestamp
    ``t0 + k / (sfreq * speed)``, ``t0`` being ``local_clock()`` at the start; each
    chunk is pushed when its newest sample is due. Every push is scheduled against
    ``t0``, so late wake-ups never accumulate into drift.

    Parameters
    ----------
    recording : Recording
        What to stream.
    name : str
        Stream name. The markers (if any) go to ``name + "-markers"``.
    stream_type : str
        LSL content type of the data stream.
    chunk : int
        Samples per push (>= 1).
    speed : float
        1.0 streams in real time, 2.0 twice as fast. The nominal rate stays the
        recording's; ``speed`` is stored in the metadata (``desc/neurodl/speed``)
        so a reader can tell the sample spacing.
    loop : bool
        Start over at the end (timestamps keep counting).
    duration : float, optional
        Stop after this many wall-clock seconds (default: the end of the data,
        or never with ``loop``).
    markers : bool
        Also open the marker outlet and push each event when its sample is sent.
    source_id : str, optional
        LSL source id (default ``"neurodl-replay:" + name``); a restarted replay
        with the same id is recovered by inlets opened with ``recover=True``.
    drop : iterable of (int, int)
        ``(first sample, count)`` ranges (in samples since the start) to leave out,
        to simulate lost data: their timestamps are skipped.
    wait_consumers : float
        Wait up to this many seconds for a first inlet before the clock starts
        (samples pushed before any inlet connects reach nobody).
    stop : threading.Event, optional
        Set it to end the replay early (from another thread). Ctrl-C ends it
        too (``stats.stopped`` is then True).
    ready : threading.Event, optional
        Set once the outlets exist.

    Returns
    -------
    ReplayStats
    """
    import pylsl

    quiet_lsl()
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValidationError(f"'chunk' must be an integer >= 1; got {chunk!r}.")
    if not (isinstance(speed, int | float) and math.isfinite(speed) and speed > 0):
        raise ValidationError(f"'speed' must be a finite number > 0; got {speed!r}.")
    if duration is not None and not (math.isfinite(duration) and duration > 0):
        raise ValidationError(f"'duration' must be a number > 0; got {duration!r}.")
    if not name or not name.strip():
        raise ValidationError("'name' must be a non-empty stream name.")
    if not stream_type or not stream_type.strip():
        raise ValidationError("'stream_type' must be a non-empty content type.")
    rate = recording.sfreq * float(speed)
    n = recording.n_samples
    total = math.inf if loop else n
    if duration is not None:
        total = min(total, math.ceil(duration * rate))
    skipped: set[int] = set()
    for first, count in drop:
        skipped.update(range(int(first), int(first) + int(count)))
    sid = source_id or f"neurodl-replay:{name}"
    outlet = pylsl.StreamOutlet(
        _make_info(recording, name, stream_type, sid, speed), chunk_size=0
    )
    marker_outlet = None
    if markers:
        minfo = pylsl.StreamInfo(
            name + MARKER_SUFFIX,
            "Markers",
            1,
            pylsl.IRREGULAR_RATE,
            "string",
            sid + MARKER_SUFFIX,
        )
        marker_outlet = pylsl.StreamOutlet(minfo)
    events: dict[int, list[str]] = {}
    for s, lab in recording.events:
        events.setdefault(s, []).append(lab)
    stats = ReplayStats(
        name=name,
        n_channels=recording.n_channels,
        sfreq=recording.sfreq,
        speed=float(speed),
        chunk=chunk,
    )
    if ready is not None:
        ready.set()
    if wait_consumers > 0:
        outlet.wait_for_consumers(float(wait_consumers))
    data = recording.data
    t0 = pylsl.local_clock()
    k = 0
    try:
        while k < total:
            k1 = int(min(k + chunk, total))
            idx = np.arange(k, k1)
            times = t0 + idx / rate
            due = float(times[-1])
            delay = due - pylsl.local_clock()
            if delay > 0:
                if stop is not None:
                    if stop.wait(delay):
                        stats.stopped = True
                        break
                else:
                    time.sleep(delay)
            elif stop is not None and stop.is_set():
                stats.stopped = True
                break
            stats.late_ms_max = max(
                stats.late_ms_max, (pylsl.local_clock() - due) * 1e3
            )
            keep = np.array([i not in skipped for i in idx]) if skipped else None
            rows = idx % n
            if keep is not None and not keep.all():
                stats.samples_skipped += int((~keep).sum())
                rows, times = rows[keep], times[keep]
            if len(rows):
                outlet.push_chunk(data[rows], times.tolist())
                stats.samples_sent += len(rows)
                stats.chunks += 1
            if marker_outlet is not None and events:
                for r, t in zip(rows.tolist(), times.tolist(), strict=True):
                    for lab in events.get(r, ()):
                        marker_outlet.push_sample([lab], t)
                        stats.markers_sent += 1
            k = k1
    except KeyboardInterrupt:
        stats.stopped = True
    finally:
        stats.duration_s = pylsl.local_clock() - t0
        if not stats.stopped and outlet.have_consumers():
            time.sleep(_LINGER_S)  # destroying the outlet at once drops the last push
        del outlet, marker_outlet
    return stats


def pull_available(
    inlet: Any, timeout: float, max_samples: int = 1024
) -> tuple[np.ndarray | None, np.ndarray]:
    """Pull the buffered samples of ``inlet``, waiting up to ``timeout`` for the first.

    Works sample by sample: liblsl 1.18's ``pull_chunk`` blocks until the stream
    is recovered (forever if it never is, whatever its timeout) when the outlet
    of a recoverable inlet is gone while samples are still buffered;
    ``pull_sample`` returns them and then times out as documented.

    Parameters
    ----------
    inlet : pylsl.StreamInlet
        A numeric or string inlet.
    timeout : float
        Longest wait for the first sample, seconds (0: only what is buffered).
    max_samples : int
        Most samples returned.

    Returns
    -------
    samples : numpy.ndarray or None
        ``(n_samples, n_channels)``, None if nothing arrived.
    timestamps : numpy.ndarray
        The samples' LSL timestamps (remote clock), shape ``(n_samples,)``.
    """
    x, t = inlet.pull_sample(timeout=timeout)
    if not t:
        return None, np.empty(0)
    rows = [np.asarray(x)]
    stamps = [t]
    while len(stamps) < max_samples:
        x, t = inlet.pull_sample(timeout=0.0)
        if not t:
            break
        rows.append(np.asarray(x))
        stamps.append(t)
    return np.stack(rows), np.asarray(stamps, dtype=float)


def resolve_stream(
    name: str | None = None, stream_type: str | None = None, timeout: float = 5.0
) -> Any:
    """Find one LSL stream by name and/or type.

    Parameters
    ----------
    name : str, optional
        Stream name.
    stream_type : str, optional
        Content type (e.g. ``"EEG"``); with ``name``, both must match.
    timeout : float
        Seconds to wait.

    Returns
    -------
    pylsl.StreamInfo
        The most recently created matching stream.

    Raises
    ------
    StreamNotFoundError
        If no stream matches within ``timeout``.
    """
    import pylsl

    quiet_lsl()
    if not name and not stream_type:
        raise ValidationError("give a stream name or type to resolve.")
    if not (math.isfinite(timeout) and timeout >= 0):
        raise ValidationError(f"'timeout' must be a number >= 0; got {timeout!r}.")
    prop, value = ("name", name) if name else ("type", stream_type)
    assert value is not None
    found = pylsl.resolve_byprop(prop, value, 1, timeout)
    if name and stream_type:
        found = [f for f in found if f.type() == stream_type]
    if not found:
        what = " and ".join(
            f"{k} {v!r}" for k, v in (("name", name), ("type", stream_type)) if v
        )
        raise StreamNotFoundError(
            f"no LSL stream with {what} found within {timeout:g} s; start one "
            "(e.g. 'neurodl bci replay') or check the name and type. neurodl looks "
            "on this machine only, unless an lsl_api.cfg says otherwise "
            "('[multicast]' 'ResolveScope = site' for the local network)."
        )
    return max(found, key=lambda f: f.created_at())


def stream_metadata(info: Any) -> dict[str, Any]:
    """Channel labels, units, nominal rate, speed and marker stream of a stream.

    Parameters
    ----------
    info : pylsl.StreamInfo
        A full description (``inlet.info()``), not a bare resolver result.

    Returns
    -------
    dict
        ``name``, ``type``, ``source_id``, ``uid``, ``n_channels``, ``sfreq``,
        ``ch_names`` (None if the stream has no labels), ``units`` (None if none),
        ``speed`` (1.0 unless a neurodl replay says otherwise) and ``markers``
        (name of the marker stream, or None).
    """
    n_ch = info.channel_count()
    labels = info.get_channel_labels()
    units = info.get_channel_units()
    extra = info.desc().child("neurodl")
    speed = 1.0
    markers = None
    if not extra.empty():
        try:
            speed = float(extra.child_value("speed") or 1.0)
        except ValueError:
            speed = 1.0
        if not (math.isfinite(speed) and speed > 0):
            speed = 1.0
        markers = extra.child_value("markers") or None
    return {
        "name": info.name(),
        "type": info.type(),
        "source_id": info.source_id(),
        "uid": info.uid(),
        "n_channels": n_ch,
        "sfreq": float(info.nominal_srate()),
        "ch_names": list(labels) if labels and all(labels) else None,
        "units": list(units) if units and all(units) else None,
        "speed": speed,
        "markers": markers,
    }


class GapCounter:
    """Count samples missing from a regularly sampled stream.

    Two consecutive timestamps more than 1.5 sample periods apart mean that
    ``round(gap / period) - 1`` samples are missing.

    Parameters
    ----------
    period : float
        Sample period, seconds (``1 / (nominal_srate * speed)``).
    """

    def __init__(self, period: float):
        if not (math.isfinite(period) and period > 0):
            raise ValidationError(f"'period' must be a number > 0; got {period!r}.")
        self.period = float(period)
        self.dropped = 0
        self.gaps = 0
        self.backwards = 0
        self._last: float | None = None

    def reset(self) -> None:
        """Forget the last timestamp (after a reconnect the clock starts over)."""
        self._last = None

    def update(self, timestamps: np.ndarray) -> int:
        """Feed the timestamps of a new chunk; return the samples missing in it."""
        if len(timestamps) == 0:
            return 0
        ts = np.asarray(timestamps, dtype=float)
        d = np.diff(ts if self._last is None else np.concatenate(([self._last], ts)))
        self._last = float(ts[-1])
        self.backwards += int((d < 0).sum())
        big = d[d > 1.5 * self.period]
        if big.size == 0:
            return 0
        missing = int(np.maximum(np.rint(big / self.period) - 1, 1).sum())
        self.gaps += int(big.size)
        self.dropped += missing
        return missing
