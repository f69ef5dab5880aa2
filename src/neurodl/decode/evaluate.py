"""Evaluation that cannot leak: cross-validation, chance level, permutation tests.

Every estimator is cloned and fitted inside each fold by scikit-learn's
``cross_validate`` (so every fitted step - CSP filters, covariance means,
standardisation, network weights - sees the training trials only). Folds run in
parallel through joblib with ``n_jobs``; wrap a call in
``joblib.parallel_config(backend="dask")`` (or ``"ray"``) to run them on a cluster.

Splitters:

- ``"shuffle"``: ``ShuffleSplit(n_splits, test_size, random_state)`` (MNE's example);
- ``"stratified"``: ``StratifiedShuffleSplit``;
- ``"runs"``: leave one run (group) out, for recordings of several runs;
- ``"time"``: ``TimeSeriesSplit`` with a ``gap`` (continuous data: train on the past,
  test on the future, and leave out the bins a history window would share).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neurodl._validate import check_fraction, check_int, check_n_jobs
from neurodl.errors import ShapeError, ValidationError

__all__ = [
    "CLASSIFICATION_METRICS",
    "CVResult",
    "chance_level",
    "classification_scores",
    "cross_validate",
    "make_cv",
    "permutation_test",
    "regression_scores",
]

CLASSIFICATION_METRICS = ("accuracy", "balanced_accuracy", "kappa")
"""Scores :func:`cross_validate` reports for classifiers."""


def classification_scores(y_true: Any, y_pred: Any) -> dict[str, float]:
    """Accuracy, balanced accuracy and Cohen's kappa of predicted labels."""
    from sklearn.metrics import (
        accuracy_score,
        balanced_accuracy_score,
        cohen_kappa_score,
    )

    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ShapeError(
            f"'y_pred' must have the shape of 'y_true' {y_true.shape}; got "
            f"{y_pred.shape}."
        )
    kappa = (
        float(cohen_kappa_score(y_true, y_pred))
        if np.unique(np.concatenate([y_true, y_pred])).size > 1
        else 0.0  # one label everywhere: kappa is 0/0, no agreement beyond chance
    )
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
        "kappa": kappa,
    }


def regression_scores(y_true: Any, y_pred: Any) -> dict[str, Any]:
    """R² and Pearson correlation per output column, and their means over columns.

    R² is ``1 - SS_res / SS_tot`` of each column (scikit-learn's ``r2_score`` with
    ``multioutput="raw_values"``); the ``r2`` and ``corr`` entries average the columns.

    A column whose true values are constant has no R² (``SS_tot = 0``) and no
    correlation; one whose predictions are constant has no correlation. Those are
    NaN, not a stand-in such as scikit-learn's 0 or 1, and ``warnings`` (present
    only then) maps each undefined entry to the reason.
    """
    from sklearn.metrics import r2_score

    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    if t.ndim == 1:
        t = t[:, None]
    if p.ndim == 1:
        p = p[:, None]
    if t.shape != p.shape:
        raise ShapeError(
            f"'y_pred' must have the shape of 'y_true' {t.shape}; got {p.shape}."
        )
    varies_t, varies_p = t.std(axis=0) > 0, p.std(axis=0) > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = np.asarray(
            r2_score(t, p, multioutput="raw_values", force_finite=False),
            dtype=np.float64,
        )
    r2[~varies_t] = np.nan
    corr = np.array(
        [
            float(np.corrcoef(t[:, j], p[:, j])[0, 1])
            if varies_t[j] and varies_p[j]
            else np.nan
            for j in range(t.shape[1])
        ]
    )
    out: dict[str, Any] = {
        "r2": float(r2.mean()),
        "corr": float(corr.mean()),
        "r2_per_output": r2.tolist(),
        "corr_per_output": corr.tolist(),
    }
    warnings: dict[str, str] = {}
    for j in range(t.shape[1]):
        if not varies_t[j]:
            why = f"the true values of output {j} are constant: R² undefined"
            warnings[f"r2_per_output[{j}]"] = why
            warnings[f"corr_per_output[{j}]"] = why.replace("R²", "correlation")
        elif not varies_p[j]:
            warnings[f"corr_per_output[{j}]"] = (
                f"the predictions of output {j} are constant: correlation undefined"
            )
    for key in ("r2", "corr"):
        if np.isnan(out[key]):
            warnings[key] = f"mean over outputs, undefined where one output's {key} is"
    if warnings:
        out["warnings"] = warnings
    return out


def chance_level(y: Any) -> float:
    """Accuracy of always predicting the most frequent class of ``y``."""
    _, counts = np.unique(np.asarray(y), return_counts=True)
    if counts.size == 0:
        raise ValidationError("'y' must hold at least one label; got none.")
    return float(counts.max() / counts.sum())


def make_cv(
    cv: Any = "shuffle",
    *,
    n_splits: int = 10,
    test_size: float = 0.2,
    random_state: int = 42,
    gap: int = 0,
) -> Any:
    """Return a scikit-learn splitter by name, or ``cv`` itself if it is one.

    ``"shuffle"`` is MNE's example protocol: ``ShuffleSplit(10, test_size=0.2,
    random_state=42)``.
    """
    from sklearn import model_selection as ms

    if not isinstance(cv, str):
        if not hasattr(cv, "split"):
            raise ValidationError(
                f"'cv' must be 'shuffle', 'stratified', 'runs', 'time' or a "
                f"scikit-learn splitter; got {cv!r}."
            )
        return cv
    check_int("n_splits", n_splits, minimum=2)
    test_size = check_fraction("test_size", test_size)
    if cv == "shuffle":
        return ms.ShuffleSplit(n_splits, test_size=test_size, random_state=random_state)
    if cv == "stratified":
        return ms.StratifiedShuffleSplit(
            n_splits, test_size=test_size, random_state=random_state
        )
    if cv == "runs":
        return ms.LeaveOneGroupOut()
    if cv == "time":
        check_int("gap", gap, minimum=0)
        return ms.TimeSeriesSplit(n_splits=n_splits, gap=gap)
    raise ValidationError(
        f"'cv' must be 'shuffle', 'stratified', 'runs', 'time' or a scikit-learn "
        f"splitter; got {cv!r}."
    )


@dataclass
class CVResult:
    """Scores of a cross-validation, fold by fold, with the chance level."""

    scores: dict[str, list[float]]
    chance: float
    fit_seconds: list[float]
    seconds: float
    n_splits: int
    cv: str
    n_jobs: int | None
    extra: dict[str, Any] = field(default_factory=dict)

    def mean(self, metric: str = "accuracy") -> float:
        """Mean of ``metric`` over the folds."""
        if metric not in self.scores:
            raise ValidationError(
                f"'metric' must be one of {', '.join(map(repr, self.scores))}; got "
                f"{metric!r}."
            )
        return float(np.mean(self.scores[metric]))

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready summary: means, stds, per-fold scores, chance, times."""
        return {
            "mean": {k: round(float(np.mean(v)), 6) for k, v in self.scores.items()},
            "std": {k: round(float(np.std(v)), 6) for k, v in self.scores.items()},
            "folds": {
                k: [round(float(x), 6) for x in v] for k, v in self.scores.items()
            },
            "chance_level": round(self.chance, 6),
            "n_splits": self.n_splits,
            "cv": self.cv,
            "n_jobs": self.n_jobs,
            "fit_seconds_total": round(float(np.sum(self.fit_seconds)), 3),
            "seconds": round(self.seconds, 3),
            **self.extra,
        }


def cross_validate(
    estimator: Any,
    X: Any,
    y: Any,
    *,
    cv: Any = "shuffle",
    groups: Any = None,
    n_jobs: int | None = None,
    n_splits: int = 10,
    test_size: float = 0.2,
    random_state: int = 42,
) -> CVResult:
    """Cross-validate a classifier; every fitted step is refitted inside each fold.

    Parameters
    ----------
    estimator : scikit-learn classifier
        Cloned for every fold.
    X, y : array-like
        Trials and labels.
    cv : str or splitter
        See :func:`make_cv`. ``"runs"`` needs ``groups``.
    groups : array-like, optional
        Run (or session) of each trial, for grouped splits.
    n_jobs : int, optional
        Folds in parallel through joblib (None: one process).
    n_splits, test_size, random_state : see :func:`make_cv`.

    Returns
    -------
    CVResult
        Accuracy, balanced accuracy and Cohen's kappa per fold. The chance level is
        the share of the most frequent class in ``y`` (as MNE's example reports
        it); ``extra["majority_classifier_accuracy"]`` is what always predicting
        each fold's most frequent training class scores on its test folds.
    """
    from sklearn.metrics import make_scorer
    from sklearn.model_selection import cross_validate as sk_cross_validate

    y = np.asarray(y)
    if len(X) != len(y):
        raise ShapeError(
            f"'X' and 'y' must have one row per trial; got {len(X)} and {len(y)}."
        )
    check_n_jobs(n_jobs)
    splitter = make_cv(
        cv, n_splits=n_splits, test_size=test_size, random_state=random_state
    )
    if cv == "runs":
        if groups is None:
            raise ValidationError("'groups' must be given for cv='runs'; got None.")
        if np.unique(np.asarray(groups)).size < 2:
            raise ValidationError(
                f"cv='runs' needs trials from at least two runs; 'groups' holds "
                f"only {np.unique(np.asarray(groups)).tolist()}."
            )
    # named shuffle splitters ignore groups (and would warn about them)
    groups_used = groups if cv == "runs" or not isinstance(cv, str) else None
    splits = list(splitter.split(X, y, groups_used))
    scoring = {
        "accuracy": "accuracy",
        "balanced_accuracy": "balanced_accuracy",
        "kappa": make_scorer(_kappa),
    }
    t0 = time.perf_counter()
    res = sk_cross_validate(
        estimator,
        X,
        y,
        cv=splits,
        scoring=scoring,
        n_jobs=n_jobs,
        error_score="raise",
    )
    seconds = time.perf_counter() - t0
    majority = float(
        np.mean([_majority_share(y[train], y[test]) for train, test in splits])
    )
    return CVResult(
        scores={m: [float(s) for s in res[f"test_{m}"]] for m in scoring},
        chance=chance_level(y),
        fit_seconds=[float(s) for s in res["fit_time"]],
        seconds=seconds,
        n_splits=len(splits),
        cv=cv if isinstance(cv, str) else type(cv).__name__,
        n_jobs=n_jobs,
        extra={"majority_classifier_accuracy": round(majority, 6)},
    )


def _kappa(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return classification_scores(y_true, y_pred)["kappa"]


def _majority_share(y_train: np.ndarray, y_test: np.ndarray) -> float:
    labels, counts = np.unique(y_train, return_counts=True)
    return float(np.mean(y_test == labels[np.argmax(counts)]))


def permutation_test(
    estimator: Any,
    X: Any,
    y: Any,
    *,
    cv: Any = "shuffle",
    groups: Any = None,
    n_permutations: int = 100,
    n_jobs: int | None = None,
    random_state: int = 0,
) -> dict[str, Any]:
    """Permutation test of the cross-validated accuracy (Ojala & Garriga 2010).

    The labels are shuffled ``n_permutations`` times (within groups when given) and
    the whole cross-validation rerun; the p-value is ``(C + 1) / (n_permutations +
    1)`` with ``C`` the number of shuffles scoring at least the true accuracy.
    """
    from sklearn.model_selection import permutation_test_score

    check_int("n_permutations", n_permutations, minimum=1)
    check_n_jobs(n_jobs)
    score, perm, p = permutation_test_score(
        estimator,
        X,
        np.asarray(y),
        cv=make_cv(cv),
        groups=groups,
        n_permutations=n_permutations,
        n_jobs=n_jobs,
        random_state=random_state,
        scoring="accuracy",
    )
    return {
        "accuracy": float(score),
        "p_value": float(p),
        "n_permutations": n_permutations,
        "permutation_mean": float(np.mean(perm)),
        "permutation_p95": float(np.percentile(perm, 95)),
    }


def __getattr__(name: str) -> Any:
    """Return ``evaluate_subjects`` (many subjects) from its module, on first use."""
    if name == "evaluate_subjects":
        from neurodl.decode.benchmark import evaluate_subjects

        return evaluate_subjects
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
