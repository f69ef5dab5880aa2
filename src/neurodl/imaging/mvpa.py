"""MVPA decoding of fMRI volumes with leave-one-run-out cross-validation.

Preprocessing follows nilearn's Haxby decoding example: rest volumes are dropped
(``"8way"``: the 8 categories face, house, cat, bottle, scissors, shoe, chair,
scrambledpix; ``"faces-houses"``: face and house only; ``"all"``: every label
but ``"rest"``; or any list of labels), and each voxel is
linearly detrended and z-scored within each run (run-wise, so no information
crosses folds). The default classifier is ``StandardScaler`` + ``SVC(kernel=
"linear", C=1)``, refitted inside each fold.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from neurodl._validate import check_int
from neurodl.errors import NonFiniteError, ShapeError, ValidationError

__all__ = [
    "TASKS",
    "check_runs",
    "decode_volumes",
    "default_estimator",
    "select_task",
    "standardize_runs",
]

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
"""Named label sets of the Haxby data; ``"all"`` (every label but ``"rest"``) and
any sequence of labels are accepted as well."""

REST = "rest"
"""The label that ``task="all"`` leaves out (volumes outside any event, fixation)."""

TaskSpec = str | Sequence[str] | None


def select_task(labels: Any, task: TaskSpec, *, name: str = "task") -> tuple[str, ...]:
    """Return the labels a task keeps, checked against the labels of the data.

    Parameters
    ----------
    labels : array-like of str
        Label of each volume.
    task : str, sequence of str or None
        ``"8way"`` or ``"faces-houses"`` (:data:`TASKS`), ``"all"`` (every label
        but ``"rest"``), None (every label, rest included) or the labels to keep.
    name : str
        How error messages refer to ``task`` (the command line passes
        ``"--task"``).

    Returns
    -------
    tuple of str
        The kept labels, sorted.

    Raises
    ------
    ValidationError
        ``task`` names a label the data does not hold (the message lists the
        labels that it holds).
    """
    present = sorted({str(v) for v in np.asarray(labels).astype(str).ravel()})
    if task is None:
        return tuple(present)
    if task == "all":
        return tuple(v for v in present if v != REST)
    if isinstance(task, str):
        if task not in TASKS:
            raise ValidationError(
                f"{name!r} must be one of {', '.join(map(repr, (*TASKS, 'all')))}, "
                f"None or a list of labels; got {task!r}."
            )
        wanted: tuple[str, ...] = TASKS[task]
    else:
        wanted = tuple(str(v) for v in task)
        if not wanted:
            raise ValidationError(f"{name!r} must list at least one label; got none.")
    missing = [v for v in wanted if v not in present]
    if missing:
        what = f"{task!r} keeps" if isinstance(task, str) else "lists"
        raise ValidationError(
            f"{name!r} {what} labels the data does not hold: "
            f"{', '.join(map(repr, missing))}; the data's labels are "
            f"{', '.join(map(repr, present))}"
            + (
                ""
                if isinstance(task, str)
                else f" (or name a task: {', '.join(map(repr, (*TASKS, 'all')))})"
            )
            + "."
        )
    return tuple(sorted(set(wanted)))


def check_runs(
    labels: Any,
    runs: Any,
    *,
    name: str = "runs",
    run_names: Mapping[Any, str] | None = None,
) -> None:
    """Check that every run holds at least two labels (leave-one-run-out needs it).

    A held-out run with a single class gives a balanced accuracy that is just the
    recall of that class, and the folds stop being comparable; it is an error.

    Parameters
    ----------
    labels, runs : array-like
        Label and run of each (already selected) volume.
    name : str
        The parameter the runs come from, for the message.
    run_names : mapping, optional
        Run id -> how to name the run in the message (e.g. its file).
    """
    labels = np.asarray(labels).astype(str)
    runs = np.asarray(runs)
    for r in np.unique(runs):
        present = np.unique(labels[runs == r])
        if len(present) < 2:
            rv = r.item() if isinstance(r, np.generic) else r
            desc = run_names.get(rv, repr(rv)) if run_names else repr(rv)
            raise ValidationError(
                f"every run of {name!r} must hold at least two of the task's labels "
                f"for leave-one-run-out scoring by balanced accuracy; run {desc} "
                f"holds only {str(present[0])!r} ({int((runs == r).sum())} volumes)."
            )


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
    task: TaskSpec = "8way",
    standardize: bool = True,
    detrend: bool = True,
    permutations: int = 0,
    random_state: int = 0,
    n_jobs: int | None = None,
    run_names: Mapping[Any, str] | None = None,
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
    task : {"8way", "faces-houses", "all", None} or sequence of str
        Which labels to keep (:func:`select_task`; None: every label present, rest
        included; ``"all"``: every label but ``"rest"``).
    standardize, detrend : bool
        Run-wise preprocessing (:func:`standardize_runs`), done before the
        selection of volumes, as in nilearn's example.
    permutations : int
        If > 0, also a label-permutation test (labels shuffled within runs).
    random_state : int
        Seed of the permutation test.
    n_jobs : int, optional
        Folds in parallel (joblib).
    run_names : mapping, optional
        Run id -> name (e.g. its file) for error messages.

    Returns
    -------
    dict
        ``balanced_accuracy`` and ``accuracy`` (mean), ``folds`` (per run),
        ``chance_level`` (1 / number of classes), classes, counts and seconds;
        ``permutation_test`` when asked.

    Raises
    ------
    ValidationError
        Among others: a task label the data does not hold, fewer than two classes
        or runs, or a run that holds one of the task's labels only.
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
    check_int("permutations", permutations, minimum=0)
    check_int("random_state", random_state, minimum=0)
    kept = select_task(labels, task)
    if standardize:
        X = standardize_runs(X, runs, detrend=detrend)
    keep = np.isin(labels, kept)
    X, y, groups = X[keep], labels[keep], runs[keep]
    classes = np.unique(y)
    if len(classes) < 2:
        raise ValidationError(
            f"'task' must keep at least two classes to decode; {task!r} leaves "
            f"{[str(c) for c in classes]}."
        )
    run_ids = np.unique(groups)
    if len(run_ids) < 2:
        raise ValidationError(
            f"'runs' must hold at least two runs with the task's labels: "
            f"leave-one-run-out cross-validation needs at least two runs; got "
            f"{len(run_ids)} ({run_ids.tolist()})."
        )
    check_runs(y, groups, run_names=run_names)
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
        "task": task if task is None or isinstance(task, str) else list(kept),
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
