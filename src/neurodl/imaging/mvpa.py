"""MVPA decoding of fMRI volumes with leave-one-run-out cross-validation.

Preprocessing follows nilearn's Haxby decoding example: rest volumes are dropped
(``"8way"``: the 8 categories face, house, cat, bottle, scissors, shoe, chair,
scrambledpix; ``"faces-houses"``: face and house only), and each voxel is
linearly detrended and z-scored within each run (run-wise, so no information
crosses folds). The default classifier is ``StandardScaler`` + ``SVC(kernel=
"linear", C=1)``, refitted inside each fold.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from neurodl.errors import NonFiniteError, ShapeError, ValidationError

__all__ = ["TASKS", "decode_volumes", "default_estimator", "standardize_runs"]

TASKS = {
    "8way": (
        "face",
        "house",
        "cat",
        "bottle",
        "scissors",
        "shoe",
        "chair",
        "scrambledpix",
    ),
    "faces-houses": ("face", "house"),
}


def default_estimator() -> Any:
    """Standardisation followed by a linear SVM (``SVC(kernel="linear", C=1)``)."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    return make_pipeline(StandardScaler(), SVC(kernel="linear", C=1.0))


def standardize_runs(X: Any, runs: Any, *, detrend: bool = True) -> np.ndarray:
    """Detrend (linear, optional) and z-score every voxel within each run.

    Parameters
    ----------
    X : array-like
        Shape (n_volumes, n_voxels).
    runs : array-like
        Run of each volume.
    detrend : bool
        Remove each voxel's linear trend within each run first.

    Returns
    -------
    numpy.ndarray
        Float64 copy; constant voxels become 0.
    """
    from scipy.signal import detrend as sp_detrend

    out = np.array(X, dtype=np.float64)
    runs = np.asarray(runs)
    for r in np.unique(runs):
        sel = runs == r
        block = out[sel]
        if detrend and len(block) > 1:
            block = sp_detrend(block, axis=0, type="linear")
        sd = block.std(axis=0)
        out[sel] = (block - block.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    return out


def decode_volumes(
    X: Any,
    labels: Any,
    runs: Any,
    *,
    estimator: Any = None,
    task: str | None = "8way",
    standardize: bool = True,
    detrend: bool = True,
    permutations: int = 0,
    random_state: int = 0,
    n_jobs: int | None = None,
) -> dict[str, Any]:
    """Leave-one-run-out decoding of volume labels.

    Parameters
    ----------
    X : array-like
        Shape (n_volumes, n_voxels), e.g. from :func:`~neurodl.imaging.load_haxby`.
    labels : array-like of str
        Label of each volume.
    runs : array-like of int
        Run of each volume (the cross-validation groups).
    estimator : scikit-learn classifier, optional
        Default :func:`default_estimator`. Cloned for each fold.
    task : {"8way", "faces-houses", None}
        Which labels to keep (None: every label present, rest included).
    standardize, detrend : bool
        Run-wise preprocessing (:func:`standardize_runs`), done before the
        selection of volumes, as in nilearn's example.
    permutations : int
        If > 0, also a label-permutation test (labels shuffled within runs).
    random_state : int
        Seed of the permutation test.
    n_jobs : int, optional
        Folds in parallel (joblib).

    Returns
    -------
    dict
        ``balanced_accuracy`` and ``accuracy`` (mean), ``folds`` (per run),
        ``chance_level`` (1 / number of classes), classes, counts and seconds;
        ``permutation_test`` when asked.
    """
    from sklearn.base import clone
    from sklearn.model_selection import (
        LeaveOneGroupOut,
        cross_validate,
        permutation_test_score,
    )

    X = np.asarray(X, dtype=np.float64)
    labels = np.asarray(labels).astype(str)
    runs = np.asarray(runs)
    if X.ndim != 2:
        raise ShapeError(f"'X' must be 2-D (volumes, voxels); got shape {X.shape}.")
    if not (len(X) == len(labels) == len(runs)):
        raise ShapeError(
            f"'X', 'labels' and 'runs' must have one entry per volume; got "
            f"{len(X)}, {len(labels)} and {len(runs)}."
        )
    if not np.isfinite(X).all():
        raise NonFiniteError(
            f"'X' holds {int((~np.isfinite(X)).sum())} NaN or infinite values."
        )
    if task is not None and task not in TASKS:
        raise ValidationError(
            f"'task' must be '8way', 'faces-houses' or None; got {task!r}."
        )
    if isinstance(permutations, bool) or not isinstance(permutations, int):
        raise ValidationError(f"'permutations' must be an int; got {permutations!r}.")
    if permutations < 0:
        raise ValidationError(f"'permutations' must be >= 0; got {permutations}.")
    if standardize:
        X = standardize_runs(X, runs, detrend=detrend)
    keep = np.isin(labels, TASKS[task]) if task is not None else np.ones(len(X), bool)
    X, y, groups = X[keep], labels[keep], runs[keep]
    classes = np.unique(y)
    if len(classes) < 2:
        raise ValidationError(
            f"decoding needs at least two classes; task {task!r} leaves "
            f"{classes.tolist()}."
        )
    run_ids = np.unique(groups)
    if len(run_ids) < 2:
        raise ValidationError(
            f"leave-one-run-out cross-validation needs at least two runs; got "
            f"{len(run_ids)} ({run_ids.tolist()})."
        )
    est = default_estimator() if estimator is None else clone(estimator)
    cv = LeaveOneGroupOut()
    t0 = time.perf_counter()
    res = cross_validate(
        est,
        X,
        y,
        groups=groups,
        cv=cv,
        scoring=("balanced_accuracy", "accuracy"),
        n_jobs=n_jobs,
        error_score="raise",
    )
    out: dict[str, Any] = {
        "task": task,
        "estimator": repr(est),
        "n_volumes": len(y),
        "n_voxels": int(X.shape[1]),
        "classes": classes.tolist(),
        "counts": {str(c): int((y == c).sum()) for c in classes},
        "cv": "leave-one-run-out",
        "n_splits": len(run_ids),
        "runs": [
            int(r) if np.issubdtype(run_ids.dtype, np.integer) else str(r)
            for r in run_ids
        ],
        "balanced_accuracy": round(float(np.mean(res["test_balanced_accuracy"])), 6),
        "accuracy": round(float(np.mean(res["test_accuracy"])), 6),
        "std": round(float(np.std(res["test_balanced_accuracy"])), 6),
        "folds": {
            "balanced_accuracy": [
                round(float(v), 6) for v in res["test_balanced_accuracy"]
            ],
            "accuracy": [round(float(v), 6) for v in res["test_accuracy"]],
        },
        "chance_level": round(1.0 / len(classes), 6),
        "preprocessing": (
            ("linear detrend + " if detrend else "") + "z-score per voxel per run"
            if standardize
            else "none"
        ),
    }
    if permutations > 0:
        score, perm, p = permutation_test_score(
            est,
            X,
            y,
            groups=groups,
            cv=cv,
            n_permutations=permutations,
            n_jobs=n_jobs,
            random_state=random_state,
            scoring="balanced_accuracy",
        )
        out["permutation_test"] = {
            "balanced_accuracy": round(float(score), 6),
            "p_value": float(p),
            "n_permutations": permutations,
            "permutation_mean": round(float(np.mean(perm)), 6),
            "permutation_p95": round(float(np.percentile(perm, 95)), 6),
        }
    out["seconds"] = round(time.perf_counter() - t0, 3)
    return out
