"""Online decoding of a live LSL stream into cursor commands.

The pieces:

* :func:`fit_online_decoder` trains an :class:`OnlineDecoder` (causal band-pass,
  MNE's CSP and scikit-learn's LDA) on recorded motor-imagery runs; by default the
  bundled PhysioNet eegmmidb runs 6, 10 and 14, epochs 1-2 s after each cue, both
  fists (T1, class ``"hands"``) against both feet (T2, class ``"feet"``). It saves to
  and loads from safetensors (no pickle: a decoder file cannot run code).
* :class:`CausalFilter` applies a second-order-section IIR filter chunk by chunk,
  carrying its state, so the online signal equals the offline causal filtering.
* :class:`OnlineRunner` (or :func:`run_online`) resolves the stream, keeps a ring
  buffer, decodes a sliding window every ``step`` samples, maps the output to a
  velocity, moves a :class:`~neurodl.bci.device.Cursor2D`, sends the command to an
  LSL ``Control`` outlet and logs the trajectory; it reports latency, dropped
  samples, stalls and reconnects in an :class:`OnlineSummary`.

Class label -> velocity command (:data:`DEFAULT_COMMANDS`, workspace units per
second before the cursor's gain): ``hands`` -> up ``(0, +1)``, ``feet`` -> down
``(0, -1)``, ``left`` -> ``(-1, 0)``, ``right`` -> ``(+1, 0)``, ``rest`` -> still.
A regressor whose ``predict`` returns shape ``(1, 2)`` gives the velocity directly.

Latency is end to end: from the LSL timestamp of the newest sample in the window,
mapped to the local clock with ``inlet.time_correction()``, to the moment the command
was pushed to the control outlet (``pylsl.local_clock()`` after the push). It splits
into ``receive`` (sample time -> pulled from the inlet: outlet lateness, transport,
polling) and ``decode`` (pulled -> sent: filtering, buffering, ``predict``, cursor,
push).

Dropped samples: with the nominal rate (times the replay speed, if the stream says),
a jump of the timestamps by more than 1.5 sample periods means ``round(jump /
period) - 1`` samples were lost.

Stalls: when no sample arrives for ``stall_timeout`` seconds the runner reports
``stalled``, holds the cursor still and looks for the stream every 0.25 s (a direct
resolve by name or type, and a continuous resolver). A stream with a new uid (a
restarted outlet with the same name and source id, or a brand-new one) gets a fresh
inlet (``reconnected``); data arriving again on the old inlet (a paused outlet, or
liblsl's own recovery of ``recover=True`` inlets) ends the stall as ``resumed``.
Either way the filter, ring buffer and gap counter start over, so the break does not
count as dropped samples.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neurodl.bci.device import Cursor2D, TrajectoryLog
from neurodl.bci.stream import (
    DEFAULT_STREAM,
    VOLT_SCALE,
    GapCounter,
    Recording,
    StreamNotFoundError,
    channel_label,
    load_recording,
    pull_available,
    quiet_lsl,
    resolve_stream,
    stream_metadata,
)
from neurodl.errors import ValidationError

__all__ = [
    "DEFAULT_COMMANDS",
    "DEFAULT_MARKER_CLASSES",
    "CausalFilter",
    "OnlineDecoder",
    "OnlineRunner",
    "OnlineSummary",
    "fit_online_decoder",
    "load_online_decoder",
    "loopback_demo",
    "run_online",
]

DEFAULT_COMMANDS: dict[str, tuple[float, float]] = {
    "hands": (0.0, 1.0),
    "feet": (0.0, -1.0),
    "left": (-1.0, 0.0),
    "right": (1.0, 0.0),
    "rest": (0.0, 0.0),
}
"""Velocity command ``(vx, vy)`` of each class label: hands up, feet down."""

DEFAULT_MARKER_CLASSES: dict[str, str] = {"T1": "hands", "T2": "feet"}
"""eegmmidb runs 6, 10, 14: T1 cues both fists, T2 both feet (T0 is rest)."""

_DECODER_KIND = "bci-online-decoder"


class CausalFilter:
    """A causal IIR filter (second-order sections) applied chunk by chunk.

    The state carries over between calls, so filtering a stream in chunks gives the
    same result as one ``scipy.signal.sosfilt`` over the whole signal. The state
    starts at the steady state for the first sample (``sosfilt_zi``), which avoids
    the onset transient of a zero state.

    Parameters
    ----------
    sos : numpy.ndarray or None
        Second-order sections, shape ``(n_sections, 6)``; None passes data through.
    """

    def __init__(self, sos: np.ndarray | None):
        self.sos = None if sos is None else np.asarray(sos, dtype=float)
        self._zi: np.ndarray | None = None
        if self.sos is not None:  # import now, not while samples pile up
            from scipy.signal import sosfilt, sosfilt_zi

            self._sosfilt = sosfilt
            self._sosfilt_zi = sosfilt_zi

    def reset(self) -> None:
        """Forget the state (the next chunk starts a new signal)."""
        self._zi = None

    def process(self, x: np.ndarray) -> np.ndarray:
        """Filter ``x`` of shape ``(n_samples, n_channels)`` along time."""
        if self.sos is None or len(x) == 0:
            return np.asarray(x, dtype=float)
        if self._zi is None:
            self._zi = self._sosfilt_zi(self.sos)[:, :, None] * x[0][None, None, :]
        y, self._zi = self._sosfilt(self.sos, x, axis=0, zi=self._zi)
        return np.asarray(y)


@dataclass
class OnlineDecoder:
    """A fitted motor-imagery decoder: CSP log-power features and a linear classifier.

    ``predict(X)`` takes windows ``(n_windows, n_channels, n_samples)`` that were
    band-passed with :attr:`sos` (causally, by :class:`CausalFilter`) and returns
    class labels; it follows the scikit-learn ``predict`` API.

    Attributes
    ----------
    filters : numpy.ndarray
        CSP spatial filters, ``(n_components, n_channels)``.
    coef : numpy.ndarray
        LDA weights, ``(1, n_components)`` for two classes, else
        ``(n_classes, n_components)``.
    intercept : numpy.ndarray
        LDA intercepts, ``(1,)`` or ``(n_classes,)``.
    classes : list of str
        Class labels (the order of the LDA).
    ch_names : list of str
        Channels the decoder needs, in the order of :attr:`filters`' columns.
    sfreq : float
        Sampling rate of the training data, Hz.
    sos : numpy.ndarray
        Band-pass filter, second-order sections.
    window_samples : int
        Length of the training epochs, samples (the default online window).
    unit : str
        Unit of the training data (``"microvolts"``).
    band : tuple of float
        Pass band, Hz.
    marker_classes : dict of str to str
        Event marker -> class label, to score a live run (``{"T1": "hands", ...}``).
    info : dict
        How it was trained: runs, epochs per class, ``tmin``/``tmax`` and the
        cross-validated accuracy if computed.
    """

    filters: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    classes: list[str]
    ch_names: list[str]
    sfreq: float
    sos: np.ndarray
    window_samples: int
    unit: str = "microvolts"
    band: tuple[float, float] = (7.0, 30.0)
    marker_classes: dict[str, str] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def classes_(self) -> np.ndarray:
        """Class labels, as scikit-learn names them."""
        return np.asarray(self.classes)

    def _check(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        if X.ndim == 2:
            X = X[None]
        if X.ndim != 3 or X.shape[1] != self.filters.shape[1] or X.shape[2] < 2:
            raise ValidationError(
                "windows must have shape (n_windows, n_channels, n_samples) with "
                f"n_channels = {self.filters.shape[1]} and n_samples >= 2; got "
                f"{X.shape}."
            )
        return X

    def features(self, X: np.ndarray) -> np.ndarray:
        """CSP features: log mean power of each spatially filtered signal."""
        X = self._check(X)
        power = np.mean(np.square(self.filters @ X), axis=2)
        return np.log(np.maximum(power, np.finfo(float).tiny))

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """LDA scores: ``(n,)`` for two classes (> 0 means ``classes[1]``)."""
        scores = self.features(X) @ self.coef.T + self.intercept
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class label of each window, shape ``(n_windows,)``."""
        scores = self.decision_function(X)
        idx = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[idx]

    def make_filter(self) -> CausalFilter:
        """Return a fresh causal band-pass filter for a stream."""
        return CausalFilter(self.sos)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the decoder to a safetensors file (atomic; no pickle).

        Returns
        -------
        pathlib.Path
            The written path.
        """
        import torch

        from neurodl._io import write_tensors

        tensors = {
            "filters": torch.from_numpy(np.ascontiguousarray(self.filters, float)),
            "coef": torch.from_numpy(np.ascontiguousarray(self.coef, float)),
            "intercept": torch.from_numpy(np.ascontiguousarray(self.intercept, float)),
            "sos": torch.from_numpy(np.ascontiguousarray(self.sos, float)),
        }
        meta = {
            "kind": _DECODER_KIND,
            "version": 1,
            "classes": list(self.classes),
            "ch_names": list(self.ch_names),
            "sfreq": self.sfreq,
            "window_samples": self.window_samples,
            "unit": self.unit,
            "band": list(self.band),
            "marker_classes": dict(self.marker_classes),
            "info": self.info,
        }
        return write_tensors(path, tensors, meta)


def load_online_decoder(path: str | os.PathLike[str]) -> OnlineDecoder:
    """Read a decoder written by :meth:`OnlineDecoder.save`.

    Raises
    ------
    neurodl.errors.ModelFileError
        If the file is missing, corrupted or not an online decoder.
    """
    from neurodl._io import read_tensors
    from neurodl.errors import ModelFileError

    tensors, meta = read_tensors(path, kind=_DECODER_KIND)
    try:
        return OnlineDecoder(
            filters=tensors["filters"].numpy(),
            coef=tensors["coef"].numpy(),
            intercept=tensors["intercept"].numpy(),
            sos=tensors["sos"].numpy(),
            classes=[str(c) for c in meta["classes"]],
            ch_names=[str(c) for c in meta["ch_names"]],
            sfreq=float(meta["sfreq"]),
            window_samples=int(meta["window_samples"]),
            unit=str(meta["unit"]),
            band=(float(meta["band"][0]), float(meta["band"][1])),
            marker_classes={str(k): str(v) for k, v in meta["marker_classes"].items()},
            info=dict(meta.get("info", {})),
        )
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ModelFileError(
            f"{str(path)!r} is an online-decoder file with missing or bad fields: "
            f"{exc!r}"
        ) from exc


def _pick_channels(
    wanted: Sequence[str], available: Sequence[str], where: str
) -> np.ndarray:
    """Find ``wanted`` in ``available`` (exact, then case/dot-insensitive)."""
    exact = {c: i for i, c in enumerate(available)}
    loose = {channel_label(c).lower(): i for i, c in enumerate(available)}
    idx, missing = [], []
    for c in wanted:
        i = exact.get(c, loose.get(channel_label(c).lower()))
        if i is None:
            missing.append(c)
        else:
            idx.append(i)
    if missing:
        raise ValidationError(
            f"{where} lacks {len(missing)} channel(s) the decoder was trained on: "
            f"{', '.join(missing)} (it has: {', '.join(available)})."
        )
    return np.asarray(idx, dtype=int)


def _epochs(
    rec: Recording,
    picks: np.ndarray,
    sos: np.ndarray,
    classes: Mapping[str, str],
    tmin: float,
    n_times: int,
) -> tuple[list[np.ndarray], list[str]]:
    y = CausalFilter(sos).process(rec.data[:, picks].astype(float))
    start = round(tmin * rec.sfreq)
    X, labels = [], []
    for s, lab in rec.events:
        if lab in classes and s + start + n_times <= rec.n_samples:
            X.append(y[s + start : s + start + n_times].T)
            labels.append(classes[lab])
    return X, labels


def fit_online_decoder(
    recordings: Sequence[Recording] | None = None,
    *,
    runs: Iterable[int] = (6, 10, 14),
    marker_classes: Mapping[str, str] | None = None,
    band: tuple[float, float] = (7.0, 30.0),
    order: int = 4,
    tmin: float = 1.0,
    tmax: float = 2.0,
    n_components: int = 4,
    channels: Sequence[str] | None = None,
    cv: int = 0,
) -> OnlineDecoder:
    """Fit a CSP + LDA motor-imagery decoder that runs online.

    Each recording is band-passed with a causal Butterworth filter (the same one
    the online runner applies, so features match), cut into epochs ``tmin`` to
    ``tmax`` seconds after each cue of ``marker_classes``, and fed to MNE's CSP
    (log-power features) and scikit-learn's LDA.

    Parameters
    ----------
    recordings : sequence of Recording, optional
        Training recordings (same rate and channels). Default: bundled eegmmidb
        ``runs``.
    runs : iterable of int
        Bundled runs to train on when ``recordings`` is None (6, 10, 14).
    marker_classes : mapping of str to str, optional
        Event label -> class label (default :data:`DEFAULT_MARKER_CLASSES`).
    band : tuple of float
        Pass band, Hz.
    order : int
        Butterworth order.
    tmin, tmax : float
        Epoch start and end after the cue, seconds; ``tmax - tmin`` sets the
        default online window.
    n_components : int
        CSP components kept.
    channels : sequence of str, optional
        Train on these channels only (default: all).
    cv : int
        If >= 2, also report the ``cv``-fold cross-validated accuracy of the same
        pipeline in ``decoder.info["cv_accuracy"]``.

    Returns
    -------
    OnlineDecoder

    Raises
    ------
    ValidationError
        Bad parameters, recordings that disagree, or fewer than two epochs of
        each of two classes.
    """
    from mne.decoding import CSP
    from mne.utils import use_log_level
    from scipy.signal import butter
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    mc = dict(DEFAULT_MARKER_CLASSES if marker_classes is None else marker_classes)
    run_list = [int(r) for r in runs]
    recs = (
        [load_recording(run=r) for r in run_list]
        if recordings is None
        else list(recordings)
    )
    if not recs:
        raise ValidationError("give at least one recording to train on.")
    sfreq = recs[0].sfreq
    for r in recs[1:]:
        if r.sfreq != sfreq:
            raise ValidationError(
                f"training recordings disagree on the sampling rate: {sfreq:g} Hz "
                f"and {r.sfreq:g} Hz."
            )
    lo, hi = (float(b) for b in band)
    if not 0 < lo < hi < sfreq / 2:
        raise ValidationError(
            f"'band' must satisfy 0 < low < high < {sfreq / 2:g} Hz (Nyquist); "
            f"got {band!r}."
        )
    if not (0 <= tmin < tmax):
        raise ValidationError(
            f"need 0 <= tmin < tmax; got tmin={tmin!r}, tmax={tmax!r}."
        )
    n_times = round((tmax - tmin) * sfreq)
    if n_times < 2:
        raise ValidationError("the epoch tmax - tmin is shorter than two samples.")
    names = list(channels) if channels is not None else list(recs[0].ch_names)
    sos = butter(order, (lo, hi), btype="bandpass", fs=sfreq, output="sos")
    X: list[np.ndarray] = []
    y: list[str] = []
    for i, r in enumerate(recs):
        picks = _pick_channels(names, r.ch_names, f"training recording {i + 1}")
        xs, ys = _epochs(r, picks, sos, mc, tmin, n_times)
        X += xs
        y += ys
    counts = {c: y.count(c) for c in sorted(set(y))}
    if len(counts) < 2 or min(counts.values()) < 2:
        raise ValidationError(
            "need at least two epochs of each of two classes to train; got "
            f"{counts or 'none'} (markers {sorted(mc)})."
        )
    if not 1 <= n_components <= len(names):
        raise ValidationError(
            f"'n_components' must be in 1..{len(names)}; got {n_components!r}."
        )
    Xa = np.stack(X)
    ya = np.asarray(y)
    csp = CSP(n_components=n_components, reg=None, log=True, norm_trace=False)
    with use_log_level("error"):
        feats = csp.fit_transform(Xa, ya)
    lda = LinearDiscriminantAnalysis().fit(feats, ya)
    decoder = OnlineDecoder(
        filters=np.asarray(csp.filters_[:n_components], dtype=float),
        coef=np.atleast_2d(np.asarray(lda.coef_, dtype=float)),
        intercept=np.atleast_1d(np.asarray(lda.intercept_, dtype=float)),
        classes=[str(c) for c in lda.classes_],
        ch_names=names,
        sfreq=float(sfreq),
        sos=np.asarray(sos),
        window_samples=n_times,
        unit=recs[0].unit,
        band=(lo, hi),
        marker_classes=mc,
        info={
            "recordings": [r.source for r in recs],
            "epochs": counts,
            "tmin": tmin,
            "tmax": tmax,
            "n_components": n_components,
            "order": order,
            "train_accuracy": float(np.mean(lda.predict(feats) == ya)),
        },
    )
    if not np.allclose(decoder.features(Xa), feats, rtol=1e-6, atol=1e-8):
        raise RuntimeError("CSP features differ from MNE's transform (MNE changed?).")
    if cv >= 2:
        from sklearn.model_selection import StratifiedKFold, cross_val_score
        from sklearn.pipeline import make_pipeline

        pipe = make_pipeline(
            CSP(n_components=n_components, reg=None, log=True, norm_trace=False),
            LinearDiscriminantAnalysis(),
        )
        folds = StratifiedKFold(cv, shuffle=True, random_state=0)
        with use_log_level("error"):
            scores = cross_val_score(pipe, Xa, ya, cv=folds)
        decoder.info["cv_accuracy"] = float(np.mean(scores))
    return decoder


def _stats(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "max": None, "mean": None, "n": 0}
    a = np.asarray(values, dtype=float)
    return {
        "p50": round(float(np.percentile(a, 50)), 3),
        "p95": round(float(np.percentile(a, 95)), 3),
        "max": round(float(a.max()), 3),
        "mean": round(float(a.mean()), 3),
        "n": len(values),
    }


@dataclass
class OnlineSummary:
    """What an online run did.

    Attributes
    ----------
    stream : str
        Name of the stream decoded.
    sfreq : float
        Its nominal rate, Hz.
    channels : int
        Channels used by the decoder.
    window_samples, step_samples : int
        Window length and decoding step, samples.
    duration_s : float
        Seconds from connecting to the end.
    samples : int
        Samples received.
    windows : int
        Windows decoded (= commands sent = trajectory rows).
    skipped_windows : int
        Due windows not decoded because a later one was already available (the
        runner decodes only the newest window to stay real-time).
    dropped_samples : int
        Samples missing from the stream (timestamp jumps > 1.5 periods).
    gaps : int
        Number of such jumps.
    stalls : int
        Times no sample arrived for ``stall_timeout`` seconds.
    reconnects : int
        Times the runner opened a new inlet on a restarted or new stream.
    resumes : int
        Stalls that ended with data on the same inlet (a paused stream, or one
        liblsl recovered itself).
    latency_ms, receive_ms, decode_ms : dict
        ``p50``, ``p95``, ``max``, ``mean`` and ``n`` of the end-to-end latency and
        of its two parts (see the module notes), ms. ``n`` counts the windows
        decoded once the clock offset was known (liblsl needs ~0.6 s after
        connecting); earlier ones (only with windows shorter than that) have a
        NaN latency in the trajectory.
    commands : dict of str to int
        Windows per decoded label.
    score : dict or None
        Windows scored against the marker stream and the fraction correct.
    trajectory : str or None
        Path of the trajectory file.
    control_stream : str or None
        Name of the LSL control outlet.
    final_position : list of float
        Cursor ``(x, y)`` at the end.
    stopped_by : str
        ``"duration"``, ``"stop"`` or ``"interrupt"``.
    events : list of dict
        ``{"t": seconds since start, "event": ..., "detail": ...}``: stalls,
        resumes, reconnects.
    """

    stream: str
    sfreq: float
    channels: int
    window_samples: int
    step_samples: int
    duration_s: float = 0.0
    samples: int = 0
    windows: int = 0
    skipped_windows: int = 0
    dropped_samples: int = 0
    gaps: int = 0
    stalls: int = 0
    reconnects: int = 0
    resumes: int = 0
    latency_ms: dict[str, float | None] = field(default_factory=dict)
    receive_ms: dict[str, float | None] = field(default_factory=dict)
    decode_ms: dict[str, float | None] = field(default_factory=dict)
    commands: dict[str, int] = field(default_factory=dict)
    score: dict[str, float | int | None] | None = None
    trajectory: str | None = None
    control_stream: str | None = None
    final_position: list[float] = field(default_factory=lambda: [0.0, 0.0])
    stopped_by: str = "duration"
    events: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a JSON-ready dict."""
        return asdict(self)

    def lines(self) -> list[str]:
        """Human-readable summary lines."""
        lat, rec, dec = self.latency_ms, self.receive_ms, self.decode_ms

        def ms(d: Mapping[str, float | None], key: str) -> str:
            v = d.get(key)
            return "-" if v is None else f"{v:.2f}"

        out = [
            f"stream      {self.stream} ({self.channels} ch at {self.sfreq:g} Hz), "
            f"{self.duration_s:.1f} s, ended by {self.stopped_by}",
            f"windows     {self.windows} of {self.window_samples} samples every "
            f"{self.step_samples} (skipped {self.skipped_windows})",
            f"latency     p50 {ms(lat, 'p50')} ms, p95 {ms(lat, 'p95')} ms, "
            f"max {ms(lat, 'max')} ms (receive p95 {ms(rec, 'p95')}, decode p95 "
            f"{ms(dec, 'p95')})",
            f"samples     {self.samples} received, {self.dropped_samples} dropped "
            f"in {self.gaps} gap(s)",
            f"stalls      {self.stalls} (reconnects {self.reconnects}, resumes "
            f"{self.resumes})",
            "commands    "
            + (", ".join(f"{k} {v}" for k, v in self.commands.items()) or "-"),
        ]
        if self.score and self.score.get("windows"):
            out.append(
                f"score       {self.score['correct']}/{self.score['windows']} cued "
                f"windows correct ({self.score['accuracy']:.0%})"
            )
        if self.trajectory:
            out.append(f"trajectory  {self.trajectory}")
        return out


class _Ring:
    """The newest ``capacity`` samples, readable as one contiguous window."""

    def __init__(self, capacity: int, n_channels: int):
        self.capacity = capacity
        self.buf = np.zeros((2 * capacity, n_channels))
        self.pos = 0
        self.count = 0

    def extend(self, y: np.ndarray) -> None:
        m = len(y)
        if m >= self.capacity:
            y = y[-self.capacity :]
            m = self.capacity
        idx = (self.pos + np.arange(m)) % self.capacity
        self.buf[idx] = y
        self.buf[idx + self.capacity] = y
        self.pos = (self.pos + m) % self.capacity
        self.count = min(self.count + m, self.capacity)

    def latest(self, n: int) -> np.ndarray:
        end = self.pos + self.capacity
        return self.buf[end - n : end]


class _Offset:
    """An inlet's clock offset (``time_correction``), estimated without blocking.

    liblsl needs about 0.6 s for a first estimate; ``time_correction(timeout=0)``
    starts it in the background and raises until it is ready. :meth:`get` polls
    (at most every 50 ms) and refreshes a known value every 2 s.
    """

    def __init__(self, inlet: Any):
        self.inlet = inlet
        self.value: float | None = None
        self._polled = -math.inf
        self.poll(0.0)

    def poll(self, timeout: float) -> float | None:
        import pylsl

        with contextlib.suppress(pylsl.util.TimeoutError, pylsl.util.LostError):
            self.value = float(self.inlet.time_correction(timeout=timeout))
        return self.value

    def get(self, now: float) -> float | None:
        wait = 0.05 if self.value is None else 2.0
        if now - self._polled >= wait:
            self._polled = now
            self.poll(0.0)
        return self.value


class OnlineRunner:
    """Decode a live LSL stream into cursor commands (see the module notes).

    Parameters
    ----------
    decoder : object
        Anything with ``predict(X)`` for windows ``X`` of shape
        ``(1, n_channels, n_window_samples)``; a classifier returning one label, or
        a regressor returning a velocity of shape ``(1, 2)``. If it has
        ``sfreq``, ``ch_names``, ``unit``, ``sos``, ``window_samples``,
        ``classes_`` or ``marker_classes`` (as :class:`OnlineDecoder` does), they
        set the defaults of the parameters of the same meaning.
    name : str, optional
        Stream name to resolve (default ``"neurodl-eeg"`` unless ``stream_type``
        is given).
    stream_type : str, optional
        Stream content type; with ``name``, both must match.
    sfreq : float, optional
        Rate the decoder expects; a stream at another rate is an error.
    ch_names : sequence of str, optional
        Channels the decoder expects, in order (default: all of the stream's).
    sos : numpy.ndarray, optional
        Causal filter applied to the stream before buffering.
    window : int, optional
        Window length, samples (default ``decoder.window_samples``).
    step : int
        Decode every ``step`` new samples.
    commands : mapping, optional
        Label -> ``(vx, vy)`` (default :data:`DEFAULT_COMMANDS`).
    output : {"auto", "class", "velocity"}
        How to read ``predict``: ``auto`` treats an output of shape ``(1, 2)`` as
        a velocity and anything else as a class label.
    cursor : Cursor2D, optional
        The simulated device (default ``Cursor2D()``: workspace [-1, 1]^2, gain
        0.5).
    trajectory : str or os.PathLike, optional
        CSV or NPZ file for the trajectory (none if omitted).
    control_name : str or None
        Name of the LSL control outlet (default ``stream name + "-control"``);
        ``""`` opens none.
    resolve_timeout : float
        Seconds to find the stream at the start.
    stall_timeout : float
        Seconds without a sample after which the stream counts as stalled.
    poll : float
        Longest wait of one blocking pull, seconds.
    flush_every : float
        Seconds between trajectory flushes.
    score_span : tuple of float
        Windows whose newest sample lies this many seconds after a cue are scored
        against the cue (markers from the replayed marker stream).
    log : callable, optional
        Called with one-line status messages (e.g. ``"stalled"``).
    """

    def __init__(
        self,
        decoder: Any,
        *,
        name: str | None = None,
        stream_type: str | None = None,
        sfreq: float | None = None,
        ch_names: Sequence[str] | None = None,
        sos: np.ndarray | None = None,
        window: int | None = None,
        step: int = 16,
        commands: Mapping[Any, Sequence[float]] | None = None,
        output: str = "auto",
        cursor: Cursor2D | None = None,
        trajectory: str | os.PathLike[str] | None = None,
        control_name: str | None = None,
        resolve_timeout: float = 5.0,
        stall_timeout: float = 2.0,
        poll: float = 0.05,
        flush_every: float = 1.0,
        score_span: tuple[float, float] = (1.0, 4.0),
        log: Callable[[str], None] | None = None,
    ):
        if not callable(getattr(decoder, "predict", None)):
            raise ValidationError("'decoder' must have a predict(X) method.")
        if output not in ("auto", "class", "velocity"):
            raise ValidationError(
                f"'output' must be one of 'auto', 'class', 'velocity'; got {output!r}."
            )
        self.decoder = decoder
        self.name = name if name or stream_type else DEFAULT_STREAM
        self.stream_type = stream_type
        self.sfreq = sfreq if sfreq is not None else getattr(decoder, "sfreq", None)
        names = ch_names if ch_names is not None else getattr(decoder, "ch_names", None)
        self.ch_names = None if names is None else [str(c) for c in names]
        self.unit = getattr(decoder, "unit", None)
        self.sos = sos if sos is not None else getattr(decoder, "sos", None)
        w = window if window is not None else getattr(decoder, "window_samples", None)
        if w is None:
            raise ValidationError(
                "give 'window' (samples): the decoder has no window_samples."
            )
        for key, val in (("window", w), ("step", step)):
            if (
                isinstance(val, bool)
                or not isinstance(val, int | np.integer)
                or val < 1
            ):
                raise ValidationError(f"{key!r} must be an integer >= 1; got {val!r}.")
        self.window = int(w)
        self.step = int(step)
        for key, val in (
            ("resolve_timeout", resolve_timeout),
            ("stall_timeout", stall_timeout),
            ("poll", poll),
        ):
            if not (math.isfinite(val) and val > 0):
                raise ValidationError(f"{key!r} must be a number > 0; got {val!r}.")
        self.commands = {
            k: np.asarray(v, dtype=float).reshape(2)
            for k, v in (DEFAULT_COMMANDS if commands is None else commands).items()
        }
        self.output = output
        if output != "velocity":
            classes = getattr(decoder, "classes_", None)
            if classes is not None:
                missing = [
                    c for c in np.asarray(classes).tolist() if c not in self.commands
                ]
                if missing:
                    raise ValidationError(
                        f"no velocity command for class(es) {missing}; the command "
                        f"map has {sorted(map(str, self.commands))}."
                    )
        self.cursor = cursor if cursor is not None else Cursor2D()
        self.trajectory_path = None if trajectory is None else Path(trajectory)
        self.log_rows = (
            None
            if trajectory is None
            else TrajectoryLog(trajectory, flush_every=flush_every)
        )
        self.control_name = control_name
        self.resolve_timeout = float(resolve_timeout)
        self.stall_timeout = float(stall_timeout)
        self.poll = float(poll)
        self.score_span = (float(score_span[0]), float(score_span[1]))
        self.marker_classes = dict(getattr(decoder, "marker_classes", {}) or {})
        self._log = log or (lambda _msg: None)
        self.latencies_ms: list[float] = []
        """End-to-end latency of each timed window of the last :meth:`run`, ms."""

    # -- connecting ---------------------------------------------------------------

    def _check_stream(self, meta: Mapping[str, Any]) -> tuple[np.ndarray, float]:
        """Validate a stream against the decoder; return channel picks and scale."""
        where = f"LSL stream {meta['name']!r}"
        if self.sfreq is not None and not math.isclose(
            meta["sfreq"], float(self.sfreq), rel_tol=1e-6
        ):
            raise ValidationError(
                f"{where} runs at {meta['sfreq']:g} Hz but the decoder was trained "
                f"at {float(self.sfreq):g} Hz; stream at {float(self.sfreq):g} Hz "
                "or train on data at the stream's rate."
            )
        if meta["sfreq"] <= 0:
            raise ValidationError(
                f"{where} has an irregular rate (0); online decoding needs a "
                "regularly sampled stream."
            )
        if self.ch_names is None:
            picks = np.arange(meta["n_channels"])
        elif meta["ch_names"] is None:
            if meta["n_channels"] != len(self.ch_names):
                raise ValidationError(
                    f"{where} has no channel labels and {meta['n_channels']} "
                    f"channels; the decoder needs {len(self.ch_names)}."
                )
            picks = np.arange(meta["n_channels"])
        else:
            picks = _pick_channels(self.ch_names, meta["ch_names"], where)
        scale = 1.0
        units = meta["units"]
        if self.unit and units:
            src = VOLT_SCALE.get(str(units[0]).strip().lower())
            dst = VOLT_SCALE.get(str(self.unit).strip().lower())
            if src is not None and dst is not None:
                scale = src / dst
        return picks, scale

    def _open(
        self, info: Any, timeout: float
    ) -> tuple[Any, dict[str, Any], np.ndarray, float, _Offset]:
        import pylsl

        inlet = pylsl.StreamInlet(
            info, max_buflen=60, recover=True, processing_flags=0, as_numpy=True
        )
        try:
            full = inlet.info(timeout=timeout)
            meta = stream_metadata(full)
            picks, scale = self._check_stream(meta)
            inlet.open_stream(timeout=timeout)
            offset = _Offset(inlet)
        except BaseException:
            inlet.close_stream()
            del inlet
            raise
        return inlet, meta, picks, scale, offset

    # -- the loop ---------------------------------------------------------------

    def run(
        self, duration: float | None = None, stop: threading.Event | None = None
    ) -> OnlineSummary:
        """Decode until ``duration`` seconds pass, ``stop`` is set, or Ctrl-C.

        Returns
        -------
        OnlineSummary
            Also when interrupted; the trajectory file is written either way.

        Raises
        ------
        StreamNotFoundError
            If no stream is found within ``resolve_timeout`` at the start.
        ValidationError
            If the stream's rate or channels do not fit the decoder (at the start
            or after a reconnect).
        """
        import pylsl

        quiet_lsl()
        if duration is not None and not (math.isfinite(duration) and duration > 0):
            raise ValidationError(f"'duration' must be a number > 0; got {duration!r}.")
        clock = pylsl.local_clock
        filt = CausalFilter(self.sos)  # before connecting: may import scipy
        info = resolve_stream(self.name, self.stream_type, self.resolve_timeout)
        try:
            inlet, meta, picks, scale, offset = self._open(info, self.resolve_timeout)
        except (pylsl.util.TimeoutError, pylsl.util.LostError) as exc:
            raise StreamNotFoundError(
                f"LSL stream {info.name()!r} was found but did not answer within "
                f"{self.resolve_timeout:g} s ({exc}); is its outlet still running?"
            ) from exc
        uid = meta["uid"]
        period = 1.0 / (meta["sfreq"] * meta["speed"])
        prop, value = ("name", self.name) if self.name else ("type", self.stream_type)
        resolver = pylsl.ContinuousResolver(
            prop=prop, value=value, forget_after=max(2.0, self.stall_timeout)
        )
        markers = self._open_markers(meta)
        control = self._open_control(meta)
        summary = OnlineSummary(
            stream=meta["name"],
            sfreq=meta["sfreq"],
            channels=len(picks),
            window_samples=self.window,
            step_samples=self.step,
            trajectory=None
            if self.trajectory_path is None
            else str(self.trajectory_path),
            control_stream=None if control is None else control.get_info().name(),
        )
        ring = _Ring(self.window, len(picks))
        gaps = GapCounter(period)
        latency: list[float] = []
        self.latencies_ms = latency  # every timed window, for histograms
        receive: list[float] = []
        decode: list[float] = []
        cue: tuple[float, str] | None = None
        scored = correct = 0
        new = 0
        prev_t: float | None = None
        start = clock()
        end_at = math.inf if duration is None else start + duration
        last_data = start
        last_resolve = 0.0
        failed: set[str] = set()  # streams that vanished before they opened
        stalled = False
        max_samples = max(1024, 4 * self.window)

        def event(kind: str, detail: str = "") -> None:
            summary.events.append(
                {"t": round(clock() - start, 3), "event": kind, "detail": detail}
            )
            self._log(f"{kind}: {detail}" if detail else kind)

        def restart_pipeline() -> None:
            nonlocal new, prev_t, ring
            filt.reset()
            ring = _Ring(self.window, len(picks))
            gaps.reset()
            new = 0
            prev_t = None

        try:
            while True:
                now = clock()
                if now >= end_at:
                    summary.stopped_by = "duration"
                    break
                if stop is not None and stop.is_set():
                    summary.stopped_by = "stop"
                    break
                try:
                    chunk, ts = pull_available(
                        inlet, min(self.poll, max(end_at - now, 0.0)), max_samples
                    )
                except pylsl.util.LostError:
                    chunk, ts = None, np.empty(0)
                t_pull = clock()
                if markers is not None:
                    with contextlib.suppress(pylsl.util.LostError):
                        mk, mts = pull_available(markers[0], 0.0, 64)
                        if mk is not None:
                            label = mk[-1][0]
                            label = (
                                label.decode()
                                if isinstance(label, bytes)
                                else str(label)
                            )
                            moff = markers[1].get(t_pull)
                            if moff is None:  # not estimated yet: the data's
                                moff = offset.value or 0.0
                            cue = (float(mts[-1]) + moff, label)
                if chunk is None or len(ts) == 0:
                    if not stalled and t_pull - last_data > self.stall_timeout:
                        stalled = True
                        summary.stalls += 1
                        self.cursor.hold()
                        event(
                            "stalled",
                            f"no sample for {self.stall_timeout:g} s; cursor held, "
                            "looking for the stream",
                        )
                    if stalled and t_pull - last_resolve >= 0.25:
                        last_resolve = t_pull
                        # a direct query finds a new outlet at once (only live
                        # outlets answer); the continuous resolver also sees a
                        # new one next to a paused old one
                        seen = pylsl.resolve_byprop(prop, value, 1, 0.1)
                        fresh = [
                            s
                            for s in [*seen, *resolver.results()]
                            if s.uid() != uid
                            and s.uid() not in failed
                            and (
                                self.stream_type is None or s.type() == self.stream_type
                            )
                        ]
                        if fresh:
                            newest = max(fresh, key=lambda s: s.created_at())
                            try:
                                opened = self._open(newest, 1.0)
                            except (pylsl.util.TimeoutError, pylsl.util.LostError):
                                failed.add(newest.uid())  # a stale listing
                                continue
                            inlet.close_stream()
                            inlet, meta, picks, scale, offset = opened
                            uid = meta["uid"]
                            gaps.period = 1.0 / (meta["sfreq"] * meta["speed"])
                            restart_pipeline()
                            if markers is not None:
                                markers[0].close_stream()
                            markers = self._open_markers(meta)
                            summary.reconnects += 1
                            last_data = clock()
                            stalled = False
                            event("reconnected", f"new outlet of {meta['name']!r}")
                    continue
                if stalled:
                    stalled = False
                    summary.resumes += 1
                    restart_pipeline()
                    event("resumed", "samples arrive again")
                last_data = t_pull
                summary.samples += len(ts)
                gaps.update(ts)
                x = chunk[:, picks].astype(float)
                if scale != 1.0:
                    x *= scale
                ring.extend(filt.process(x))
                new += len(ts)
                if ring.count < self.window:
                    new = min(new, self.step)  # decode as soon as the ring is full
                    continue
                if new < self.step:
                    continue
                summary.skipped_windows += new // self.step - 1
                new = 0
                window = ring.latest(self.window).T[None]
                label, velocity = self._interpret(self.decoder.predict(window))
                remote = float(ts[-1])
                dt = self.step * period if prev_t is None else remote - prev_t
                prev_t = remote
                pos = self.cursor.step(velocity, min(max(dt, 0.0), 1.0))
                if control is not None:
                    control.push_sample([velocity[0], velocity[1], pos[0], pos[1]])
                t_send = clock()
                # the clock offset needs ~0.6 s for a first estimate; windows
                # decoded before it are not timed
                tc = offset.get(t_pull)
                t_newest = remote + (0.0 if tc is None else tc)
                lat = math.nan
                if tc is not None:
                    lat = (t_send - t_newest) * 1e3
                    latency.append(lat)
                    receive.append((t_pull - t_newest) * 1e3)
                    decode.append((t_send - t_pull) * 1e3)
                summary.windows += 1
                summary.commands[label] = summary.commands.get(label, 0) + 1
                if cue is not None and cue[1] in self.marker_classes:
                    since = t_newest - cue[0]
                    if self.score_span[0] <= since < self.score_span[1]:
                        scored += 1
                        correct += int(label == self.marker_classes[cue[1]])
                if self.log_rows is not None:
                    self.log_rows.append(t_send, pos, velocity, label, lat, t_newest)
                    self.log_rows.maybe_flush()
        except KeyboardInterrupt:
            summary.stopped_by = "interrupt"
        finally:
            if self.log_rows is not None:
                self.log_rows.flush()
            summary.duration_s = round(clock() - start, 3)
            summary.dropped_samples = gaps.dropped
            summary.gaps = gaps.gaps
            summary.latency_ms = _stats(latency)
            summary.receive_ms = _stats(receive)
            summary.decode_ms = _stats(decode)
            summary.final_position = [float(p) for p in self.cursor.position]
            if self.marker_classes:
                summary.score = {
                    "windows": scored,
                    "correct": correct,
                    "accuracy": None if not scored else round(correct / scored, 4),
                }
            inlet.close_stream()
            del inlet, control, markers, resolver
        return summary

    def _interpret(self, out: Any) -> tuple[str, np.ndarray]:
        """Turn one ``predict`` output into ``(label, velocity)``."""
        arr = np.asarray(out)
        as_velocity = self.output == "velocity" or (
            self.output == "auto"
            and arr.ndim == 2
            and arr.shape == (1, 2)
            and arr.dtype.kind in "fiu"
        )
        if as_velocity:
            v = arr.astype(float).reshape(-1)
            if v.size != 2:
                raise ValidationError(
                    f"a velocity decoder must return shape (1, 2); got {arr.shape}."
                )
            return "velocity", v
        key = arr.reshape(-1)[0].item() if arr.size else None
        if key not in self.commands:
            raise ValidationError(
                f"the decoder returned class {key!r}, which has no velocity command; "
                f"the command map has {sorted(map(str, self.commands))}."
            )
        return str(key), self.commands[key]

    def _open_markers(self, meta: Mapping[str, Any]) -> tuple[Any, _Offset] | None:
        """Open the marker inlet named in the stream's metadata, if any."""
        if not self.marker_classes or not meta.get("markers"):
            return None
        import pylsl

        found = pylsl.resolve_byprop("name", meta["markers"], 1, 1.0)
        if not found:
            self._log(f"no marker stream {meta['markers']!r}; the run is not scored")
            return None
        inlet = pylsl.StreamInlet(
            max(found, key=lambda s: s.created_at()), recover=True
        )
        try:
            inlet.open_stream(timeout=1.0)
        except (pylsl.util.TimeoutError, pylsl.util.LostError):
            return None
        return inlet, _Offset(inlet)

    def _open_control(self, meta: Mapping[str, Any]) -> Any:
        """Open the control outlet (4 float channels: vx, vy, x, y)."""
        if self.control_name == "":
            return None
        import pylsl

        name = self.control_name or f"{meta['name']}-control"
        info = pylsl.StreamInfo(
            name,
            "Control",
            4,
            pylsl.IRREGULAR_RATE,
            "float32",
            f"neurodl-control:{name}",
        )
        info.set_channel_labels(["vx", "vy", "x", "y"])
        info.set_channel_units(["workspace/s", "workspace/s", "workspace", "workspace"])
        info.desc().append_child_value("manufacturer", "neurodl bci run")
        return pylsl.StreamOutlet(info)


def run_online(
    decoder: Any,
    *,
    duration: float | None = None,
    stop: threading.Event | None = None,
    **options: Any,
) -> OnlineSummary:
    """Build an :class:`OnlineRunner` with ``options`` and run it.

    Parameters
    ----------
    decoder : object
        See :class:`OnlineRunner`.
    duration : float, optional
        Seconds to run (default: until ``stop`` or Ctrl-C).
    stop : threading.Event, optional
        Set it to end the run from another thread.
    **options
        Keyword arguments of :class:`OnlineRunner`.

    Returns
    -------
    OnlineSummary
    """
    return OnlineRunner(decoder, **options).run(duration=duration, stop=stop)


def loopback_demo(
    seconds: float = 8.0,
    *,
    run: int = 6,
    train_runs: Iterable[int] = (10, 14),
    chunk: int = 4,
    step: int = 16,
    trajectory: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Replay a bundled EEG run over LSL on this machine and decode it live.

    An outlet thread streams run ``run`` (64 channels at 160 Hz, real time, chunks
    of ``chunk`` samples) under a unique name; the runner decodes it for
    ``seconds`` with a CSP + LDA decoder fitted on ``train_runs`` (by default runs
    the replayed one is not part of, so the cue score is honest).

    Returns
    -------
    dict
        ``p50_ms``, ``p95_ms``, ``max_ms`` (end-to-end latency), ``receive_p95_ms``,
        ``decode_p95_ms``, ``dropped_samples``, ``windows``, ``stalls``,
        ``n_channels``, ``sfreq``, ``seconds``, ``run``, ``train_runs``, ``score``
        (cued windows correct) and ``latencies_ms`` (one value per timed window).
        JSON-ready (no NaN).
    """
    import uuid

    runs = [int(r) for r in train_runs]
    decoder = fit_online_decoder(runs=runs)
    rec = load_recording(run=run)
    name = f"neurodl-loopback-{uuid.uuid4().hex[:12]}"
    ready, stop = threading.Event(), threading.Event()
    from neurodl.bci.stream import replay

    thread = threading.Thread(
        target=replay,
        args=(rec, name),
        kwargs={"chunk": chunk, "stop": stop, "ready": ready},
        daemon=True,
    )
    thread.start()
    try:
        if not ready.wait(10.0):
            raise RuntimeError("the replay outlet did not start within 10 s.")
        runner = OnlineRunner(decoder, name=name, step=step, trajectory=trajectory)
        s = runner.run(duration=seconds)
    finally:
        stop.set()
        thread.join(10.0)

    def num(d: Mapping[str, float | None], key: str) -> float:
        v = d.get(key)
        return float("nan") if v is None else float(v)

    out = {
        "p50_ms": num(s.latency_ms, "p50"),
        "p95_ms": num(s.latency_ms, "p95"),
        "max_ms": num(s.latency_ms, "max"),
        "receive_p95_ms": num(s.receive_ms, "p95"),
        "decode_p95_ms": num(s.decode_ms, "p95"),
        "dropped_samples": s.dropped_samples,
        "windows": s.windows,
        "stalls": s.stalls,
        "n_channels": s.channels,
        "sfreq": s.sfreq,
        "seconds": float(seconds),
        "run": run,
        "train_runs": runs,
        "score": s.score,
        "latencies_ms": [round(v, 4) for v in runner.latencies_ms],
    }
    if any(isinstance(v, float) and not math.isfinite(v) for v in out.values()):
        raise RuntimeError(f"the live loop timed no window in {seconds:g} s: {out}")
    return out
