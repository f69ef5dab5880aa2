"""Statistics for decoding results across subjects (issue 14, section 1).

The conventions of the BCI field for a handful of subjects:

- :func:`chance_threshold`: the accuracy a classifier must reach on ``n`` test
  trials to beat chance at level ``alpha`` (binomial, Combrisson & Jerbi 2015,
  J Neurosci Methods 250:126, doi:10.1016/j.jneumeth.2015.01.010): with few
  trials, 1/c is no threshold.
- :func:`sign_flip_test`: the paired permutation test of the mean difference
  between two pipelines' per-subject scores, exact (all ``2**n`` sign flips) up
  to :data:`EXACT_MAX_SUBJECTS` subjects (MOABB's ``compute_pvals_perm``, there
  one-sided and exact up to 13).
- :func:`holm`: Holm's (1979) step-down adjustment across pipeline pairs.
- :func:`paired_effect`: the mean difference with its 95 % t interval and
  Cohen's ``d_z`` = mean / SD of the differences (MOABB's ``smd``).
- :func:`compare`: every pair of pipelines: the sign-flip test below
  :data:`WILCOXON_MIN_SUBJECTS` subjects, else Wilcoxon's signed-rank test (as
  MOABB's ``compute_dataset_statistics``), Holm-adjusted, with the effect.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats

from neurodl._validate import check_fraction, check_int, check_option
from neurodl.errors import ValidationError

__all__ = [
    "EXACT_MAX_SUBJECTS",
    "WILCOXON_MIN_SUBJECTS",
    "chance_threshold",
    "compare",
    "holm",
    "paired_effect",
    "sign_flip_test",
]

EXACT_MAX_SUBJECTS = 16  # 65,536 sign flips
WILCOXON_MIN_SUBJECTS = 20  # MOABB's perm_cutoff
_ALTERNATIVES = ("two-sided", "greater", "less")


def chance_threshold(n_trials: int, n_classes: int = 2, alpha: float = 0.05) -> float:
    """Return the accuracy that beats chance on ``n_trials`` at level ``alpha``.

    The smallest ``k / n_trials`` with ``P(X >= k) <= alpha`` for ``X ~
    Binomial(n_trials, 1 / n_classes)``: an accuracy at or above it is above
    chance (one-sided binomial test). 45 trials, 2 classes, 0.05: 29/45.
    """
    n_trials = check_int("n_trials", _python_int(n_trials), minimum=1)
    n_classes = check_int("n_classes", _python_int(n_classes), minimum=2)
    alpha = check_fraction("alpha", alpha)
    k = np.arange(n_trials + 2)
    tail = stats.binom.sf(k - 1, n_trials, 1.0 / n_classes)  # P(X >= k)
    first = int(np.argmax(tail <= alpha))  # tail(n + 1) = 0: always found
    return first / n_trials


def _pair(a: Any, b: Any) -> np.ndarray:
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValidationError(
            "paired scores must be two 1-D arrays of the same length (one score "
            f"per subject); got shapes {x.shape} and {y.shape}."
        )
    if x.size < 2:
        raise ValidationError(f"paired scores need >= 2 subjects; got {x.size}.")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValidationError("paired scores must be finite (a subject has NaN/inf).")
    return x - y


def _python_int(x: Any) -> Any:
    """Return a NumPy integer as a Python int (for :func:`check_int`), else ``x``."""
    return int(x) if isinstance(x, np.integer) else x


def sign_flip_test(
    a: Any,
    b: Any,
    *,
    alternative: str = "two-sided",
    n_flips: int = 10_000,
    seed: int = 0,
) -> float:
    """Return the p-value of the paired sign-flip test of ``mean(a - b)``.

    Under the null each subject's difference is as likely negative as positive.
    Exact (all ``2**n`` flips, the observed one included) for ``n`` up to
    :data:`EXACT_MAX_SUBJECTS`; beyond, ``n_flips`` random flips from ``seed``
    plus the observed one. ``alternative``: ``"greater"`` tests ``a > b``.
    """
    check_option("alternative", alternative, _ALTERNATIVES)
    d = _pair(a, b)
    n = d.size
    if n <= EXACT_MAX_SUBJECTS:
        codes = np.arange(2**n, dtype=np.int64)
        signs = 1.0 - 2.0 * ((codes[:, None] >> np.arange(n)) & 1)
    else:
        rng = np.random.default_rng(seed)
        signs = np.vstack([np.ones(n), rng.choice([-1.0, 1.0], size=(n_flips, n))])
    null = signs @ d / n
    obs = d.mean()
    tol = 1e-12 * max(1.0, float(np.abs(d).max()))  # ties in floating point
    if alternative == "greater":
        hits = null >= obs - tol
    elif alternative == "less":
        hits = null <= obs + tol
    else:
        hits = np.abs(null) >= abs(obs) - tol
    return float(hits.mean())


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Return Holm's step-down adjusted p-values, in the order given.

    The ``i``-th smallest of ``m`` is multiplied by ``m - i`` (``i`` from 0),
    made non-decreasing in that order and capped at 1: reject where the
    adjusted value is at most the level (family-wise error, Holm 1979).
    """
    p = np.asarray(pvalues, dtype=np.float64)
    if p.ndim != 1 or not ((p >= 0) & (p <= 1)).all():
        raise ValidationError("'pvalues' must be a 1-D array of values in [0, 1].")
    m = p.size
    order = np.argsort(p, kind="stable")
    adj = np.minimum(1.0, np.maximum.accumulate(p[order] * (m - np.arange(m))))
    out = np.empty(m)
    out[order] = adj
    return out


def paired_effect(a: Any, b: Any, confidence: float = 0.95) -> dict[str, float]:
    """Return the mean difference ``a - b``, its t interval and Cohen's ``d_z``.

    ``d_z`` = mean / SD (``ddof=1``) of the differences: an SD of 0 gives
    ``d_z`` = +-inf (nan for a zero mean) and a zero-width interval.
    """
    confidence = check_fraction("confidence", confidence)
    d = _pair(a, b)
    n = d.size
    mean = float(d.mean())
    sd = float(d.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * sd / np.sqrt(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        dz = float(np.float64(mean) / np.float64(sd))
    return {
        "mean_diff": mean,
        "ci_low": float(mean - half),
        "ci_high": float(mean + half),
        "d_z": dz,
    }


def compare(
    scores: Mapping[str, Any],
    *,
    alternative: str = "two-sided",
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Compare every pair of pipelines on their per-subject scores.

    ``scores``: pipeline name -> one score per subject (the same subjects, in
    the same order). One row per pair ``(a, b)`` (in the order given): the
    test (``"sign-flip"`` exact/random below :data:`WILCOXON_MIN_SUBJECTS`
    subjects, else ``"wilcoxon"``), its ``p``, the Holm-adjusted ``p_holm``
    across all pairs, the subjects, and :func:`paired_effect`.
    """
    check_option("alternative", alternative, _ALTERNATIVES)
    names = list(scores)
    if len(names) < 2:
        raise ValidationError(
            f"'scores' must hold >= 2 pipelines to compare; got {len(names)}."
        )
    rows: list[dict[str, Any]] = []
    for x, y in itertools.combinations(names, 2):
        d = _pair(scores[x], scores[y])
        a, b = np.asarray(scores[x], float), np.asarray(scores[y], float)
        if d.size < WILCOXON_MIN_SUBJECTS:
            test = "sign-flip"
            p = sign_flip_test(a, b, alternative=alternative, seed=seed)
        else:
            test = "wilcoxon"
            p = float(stats.wilcoxon(a, b, alternative=alternative).pvalue)
        rows.append(
            {"a": x, "b": y, "test": test, "n_subjects": int(d.size), "p": p}
            | paired_effect(a, b)
        )
    for row, adj in zip(rows, holm([r["p"] for r in rows]), strict=True):
        row["p_holm"] = float(adj)
    return rows
