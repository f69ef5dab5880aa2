"""A motor-imagery decoder trained across subjects, private per subject.

Shared by ``neurodl train eeg`` and ``benchmarks/dp_eegmmidb.py``. Each subject's
epochs (:func:`neurodl.data.load_eeg`, eegmmidb-named files) become per-trial
log-variance features in a few frequency bands, z-scored with that subject's own
statistics: nothing is fitted across subjects, so the features cost no
subject-level privacy. A :class:`~neurodl.decode.private.DPClassifier` is then
trained with the subject of each epoch as the privacy unit, and tested on
held-out subjects it never saw.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neurodl.errors import ValidationError

__all__ = ["EEG_BANDS", "PrivateEEGResult", "eeg_subject_features", "train_eeg_private"]

EEG_BANDS: tuple[tuple[float, float], ...] = ((8.0, 13.0), (13.0, 20.0), (20.0, 30.0))
"""Default bands (Hz): mu, low beta, high beta."""


def check_bands(bands: Sequence[Sequence[float]]) -> tuple[tuple[float, float], ...]:
    """Return ``bands`` as ``((lo, hi), ...)`` with ``0 < lo < hi``; else raise."""
    out = []
    for i, b in enumerate(bands):
        lo, hi = (float(v) for v in b)
        if not 0 < lo < hi:
            raise ValidationError(
                f"'bands[{i}]' must be (low, high) Hz with 0 < low < high; got {b!r}."
            )
        out.append((lo, hi))
    if not out:
        raise ValidationError("'bands' must hold at least one band; got none.")
    return tuple(out)


def eeg_subject_features(
    data: str | os.PathLike[str],
    subjects: Sequence[int],
    *,
    runs: Sequence[int] = (6, 10, 14),
    bands: Sequence[Sequence[float]] = EEG_BANDS,
    tmin: float = 0.5,
    tmax: float = 3.5,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[str, ...]]:
    """Return ``(X, y, groups, classes)`` for eegmmidb-named recordings.

    ``X``: per-trial log-variance of every channel in each band (channels x bands
    columns), z-scored within each subject; ``y``: class names; ``groups``: the
    subject of each trial. ``data``: a folder holding ``S###R##.edf`` files (or ``S###``
    subfolders, PhysioNet's layout).
    """
    from neurodl.data import load_eeg
    from neurodl.decode.private import LogVariance, standardize_per_subject

    bands = check_bands(bands)
    xs, ys, gs = [], [], []
    classes: tuple[str, ...] | None = None
    for s in subjects:
        feats = []
        for lo, hi in bands:
            ep = load_eeg(
                data,
                subject=int(s),
                runs=runs,
                l_freq=lo,
                h_freq=hi,
                tmin=tmin,
                tmax=tmax,
            )
            feats.append(LogVariance().fit_transform(ep.X))
        if classes is None:
            classes = ep.classes
        elif ep.classes != classes:
            raise ValidationError(
                f"subject {s} has classes {ep.classes}, subject {subjects[0]} has "
                f"{classes}; every subject must share one task."
            )
        f = np.hstack(feats)
        xs.append(standardize_per_subject(f, np.zeros(len(f))))
        ys.append(np.asarray(ep.classes)[ep.y])  # class names, not indices
        gs.append(np.full(len(f), int(s)))
    assert classes is not None
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(gs), classes


@dataclass
class PrivateEEGResult:
    """Outcome of :func:`train_eeg_private` (``classifier`` is the fitted model)."""

    train_subjects: list[int]
    test_subjects: list[int]
    classes: list[str]
    n_features: int
    n_train_trials: int
    train_accuracy: float
    test_accuracy: float | None
    test_per_subject: dict[str, float]
    privacy: dict[str, Any] | None
    seconds: float
    warnings: list[str] = field(default_factory=list)
    classifier: Any = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-friendly values (without the classifier)."""
        return {k: v for k, v in self.__dict__.items() if k != "classifier"}


def train_eeg_private(
    data: str | os.PathLike[str],
    subjects: Sequence[int],
    *,
    test_subjects: Sequence[int] = (),
    runs: Sequence[int] = (6, 10, 14),
    bands: Sequence[Sequence[float]] = EEG_BANDS,
    tmin: float = 0.5,
    tmax: float = 3.5,
    **classifier: Any,
) -> PrivateEEGResult:
    """Train a :class:`~neurodl.decode.private.DPClassifier` across subjects.

    ``subjects`` not in ``test_subjects`` train it (each a privacy unit);
    ``test_subjects`` are held out and scored. ``classifier``: DPClassifier
    arguments (``dp_epsilon``, ``dp_delta``, ``privacy_unit``, ...). Warnings
    raised while training (the sample-level one) are returned, not shown.
    """
    import warnings

    from neurodl.decode.private import DPClassifier

    test = [int(s) for s in test_subjects]
    train = [int(s) for s in subjects if int(s) not in test]
    unknown = [s for s in test if s not in [int(v) for v in subjects]]
    if unknown:
        raise ValidationError(
            f"'test_subjects' must be among 'subjects'; got {unknown} outside "
            f"{list(subjects)}."
        )
    if len(train) < 2:
        raise ValidationError(
            f"'subjects' must leave at least 2 training subjects after the test "
            f"subjects; got {train}."
        )
    clf = DPClassifier(**classifier)
    clf.dp_config()  # settings checked before any file is read
    t0 = time.perf_counter()
    X, y, g, classes = eeg_subject_features(
        data, train + test, runs=runs, bands=bands, tmin=tmin, tmax=tmax
    )
    fit = np.isin(g, train)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf.fit(X[fit], y[fit], groups=g[fit])
    notes = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    per = {str(s): float((clf.predict(X[g == s]) == y[g == s]).mean()) for s in test}
    return PrivateEEGResult(
        train_subjects=train,
        test_subjects=test,
        classes=list(classes),
        n_features=int(X.shape[1]),
        n_train_trials=int(fit.sum()),
        train_accuracy=float(clf.score(X[fit], y[fit])),
        test_accuracy=float(clf.score(X[~fit], y[~fit])) if test else None,
        test_per_subject=per,
        privacy=clf.privacy_.to_dict() if clf.privacy_ is not None else None,
        seconds=time.perf_counter() - t0,
        warnings=notes,
        classifier=clf,
    )
