"""The online motor-imagery decoder: causal band-pass, CSP log power, LDA.

:func:`fit_online_decoder` trains an :class:`OnlineDecoder` on recorded
motor-imagery runs (by default the bundled PhysioNet eegmmidb runs 6, 10 and 14,
epochs 1-2 s after each cue, both fists (T1, class ``"both_fists"``) against both
feet (T2, class ``"both_feet"``); runs 4, 8, 12 give ``"left_fist"`` against
``"right_fist"``, each run's classes named from its task) through
:class:`neurodl.decode.CSPLDA` (CSP log power and scikit-learn's LDA), keeping
only arrays: it saves to and loads from safetensors (no pickle: a decoder file
cannot run code). :class:`CausalFilter` applies a second-order-section IIR filter
chunk by chunk, carrying its state, so the online signal equals the offline causal
filtering the decoder was trained on.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neurodl.bci.stream import Recording, channel_label, load_recording
from neurodl.errors import ValidationError

__all__ = [
    "CausalFilter",
    "OnlineDecoder",
    "fit_online_decoder",
    "load_online_decoder",
]

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
        Event marker -> class label, to score a live run
        (``{"T1": "both_fists", ...}``).
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
        If the file is missing or not an online decoder.
    neurodl.errors.FormatError
        If the file is corrupted (a ModelFileError too).
    """
    from neurodl._io import read_tensors
    from neurodl.errors import FormatError

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
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise FormatError(
            f"{str(path)!r} is an online-decoder file with missing or bad fields: "
            f"{exc!r}",
            path=path,
            fmt="neurodl online decoder",
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
    (log-power features) and scikit-learn's LDA, through
    :class:`neurodl.decode.CSPLDA`.

    Parameters
    ----------
    recordings : sequence of Recording, optional
        Training recordings (same rate and channels). Default: bundled eegmmidb
        ``runs``.
    runs : iterable of int
        Bundled runs to train on when ``recordings`` is None (6, 10, 14).
    marker_classes : mapping of str to str, optional
        Event label -> class label. Default: named from the eegmmidb runs'
        task (:func:`neurodl.data.eeg.eegmmidb_events`): the bundled ``runs``,
        or recordings read from files named ``S###R##.edf``; other recordings
        must give it.
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
    from scipy.signal import butter

    from neurodl.data.eeg import eegmmidb_events, eegmmidb_file_events
    from neurodl.decode.eeg import CSPLDA

    run_list = [int(r) for r in runs]
    recs = (
        [load_recording(run=r) for r in run_list]
        if recordings is None
        else list(recordings)
    )
    if not recs:
        raise ValidationError("give at least one recording to train on.")
    if marker_classes is not None:
        mc = dict(marker_classes)
    elif recordings is None:
        mc = eegmmidb_events(run_list)
    else:
        mc = eegmmidb_file_events([r.source for r in recs], name="marker_classes")
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
    model = CSPLDA(n_components=n_components).fit(Xa, ya)
    feats = model.features(Xa)
    decoder = OnlineDecoder(
        filters=np.asarray(model.csp_.filters_[:n_components], dtype=float),
        coef=np.atleast_2d(np.asarray(model.lda_.coef_, dtype=float)),
        intercept=np.atleast_1d(np.asarray(model.lda_.intercept_, dtype=float)),
        classes=[str(c) for c in model.classes_],
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
            "train_accuracy": float(np.mean(model.predict(Xa) == ya)),
        },
    )
    if not np.allclose(decoder.features(Xa), feats, rtol=1e-6, atol=1e-8):
        raise RuntimeError("CSP features differ from MNE's transform (MNE changed?).")
    if cv >= 2:
        from sklearn.model_selection import StratifiedKFold

        from neurodl.decode.evaluate import cross_validate

        folds = StratifiedKFold(cv, shuffle=True, random_state=0)
        res = cross_validate(CSPLDA(n_components=n_components), Xa, ya, cv=folds)
        decoder.info["cv_accuracy"] = res.mean()
    return decoder
