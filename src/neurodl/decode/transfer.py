"""Transfer to a new user: alignment without labels, and calibration draws.

Each subject (a *domain*) gets its own spatial filter ``W`` computed from its
trials without their labels, and every trial ``X`` of that subject becomes
``W X``:

- ``"ea"``, Euclidean alignment (He & Wu 2020, IEEE TBME 67(2):399-410):
  ``W = R^{-1/2}`` with ``R`` the arithmetic mean of the subject's trial
  covariances (Ledoit-Wolf shrunk, as MOABB's ``EuclideanAlignment`` estimates
  them, so average-referenced data stay invertible). The aligned subject's mean
  covariance is the identity.
- ``"recenter"``, Riemannian re-centering (Zanini et al. 2018, IEEE TBME
  65(5):1107-1116): ``W = M^{-1/2}`` with ``M`` the Riemannian mean of the
  subject's OAS covariances (:func:`neurodl.decode.riemann.mean_riemann`, equal to
  pyRiemann's, and pyRiemann's ``invsqrtm``, as
  its ``TLCenter`` computes it). On covariances this is ``W C Wᵀ``, the
  re-centering of every subject's mean to the identity; applied to the signals
  it also sits in front of a CSP or a ConvNet.

Both work on the signals, so they fit in front of any pipeline. A third one
works on the tangent-space pipeline's features instead:

- ``"tangent"``, tangent-space centring (pyRiemann's ``TLCenter`` on tangent
  vectors, 0.8+): no filter on the signals; every subject's trials go to the
  tangent space at the training subjects' Karcher mean, as without alignment,
  and each subject's mean tangent vector is subtracted (:func:`centre_tangent`).
  It moves a subject's vectors by a constant, so it keeps the frame of the
  channels that the classifier's weights read, which a filter ``W`` mixes
  differently in every subject; on eegmmidb it keeps the tangent space's
  ranking of a new user's trials and puts its threshold back
  (``benchmarks/transfer_threshold.py``). Only the ``"riemann"`` pipeline has
  tangent vectors (:data:`TANGENT_PIPELINES`).

All three are *transductive* for the new user: its filter or centre comes from
its own unlabelled trials (the ones it is scored on), the "zero-calibration,
unlabelled target" setting of MOABB 1.7.2's
``CrossSubjectEvaluation(cs_mode=TRAIN_AND_TARGET_UNLABELED_FULL)``.

:func:`calibration_draws` picks the labelled calibration trials of the new user for
a learning curve: the first ``k`` trials of each class in a seeded permutation,
for each ``k``, and one test set - the trials outside the largest calibration set
- shared by every ``k`` so the points of the curve are comparable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from neurodl.errors import ValidationError

__all__ = [
    "ALIGNMENTS",
    "TANGENT_PIPELINES",
    "align",
    "alignment_filter",
    "calibration_draws",
    "centre_tangent",
    "check_tangent_pipelines",
]

ALIGNMENTS = ("none", "ea", "recenter", "tangent")
"""Alignments :func:`alignment_filter` knows."""

TANGENT_PIPELINES = ("riemann",)
"""Pipelines with tangent vectors, the only ones ``"tangent"`` applies to."""


def _covariances(X: np.ndarray, estimator: str) -> np.ndarray:
    from pyriemann.geometry.covariance import covariances

    return np.asarray(covariances(X, estimator=estimator))


def alignment_filter(X: np.ndarray, method: str) -> np.ndarray | None:
    """Spatial filter that aligns one subject's trials ``X`` (no labels used).

    Returns None for ``"none"`` and for ``"tangent"`` (which centres the tangent
    vectors, :func:`centre_tangent`, and leaves the signals as they are);
    otherwise a symmetric (n_channels, n_channels) matrix ``W`` (see the module
    docstring).
    """
    from pyriemann.geometry.base import invsqrtm

    if method in ("none", "tangent"):
        return None
    if method == "ea":
        mean = _covariances(X, "lwf").mean(axis=0)
    elif method == "recenter":
        from neurodl.decode.riemann import mean_riemann, oas_covariances

        mean = mean_riemann(oas_covariances(X))
    else:
        raise ValidationError(
            f"'align' must be one of {', '.join(map(repr, ALIGNMENTS))}; got "
            f"{method!r}."
        )
    w = np.asarray(invsqrtm(mean))
    return (w + w.T) / 2


def align(X: np.ndarray, W: np.ndarray | None) -> np.ndarray:
    """Return ``W X`` for every trial (``X`` itself when ``W`` is None)."""
    if W is None:
        return X
    return np.einsum("ij,njt->nit", W, X, optimize=True)


def check_tangent_pipelines(pipelines: Sequence[str]) -> None:
    """Raise unless every pipeline has tangent vectors (``align="tangent"``)."""
    others = [n for n in pipelines if n not in TANGENT_PIPELINES]
    if others:
        raise ValidationError(
            f"'align' 'tangent' centres each subject's tangent vectors, so it needs "
            f"the tangent-space pipeline {' or '.join(map(repr, TANGENT_PIPELINES))} "
            f"only; got pipelines {others} too (align them with 'ea' or 'recenter')."
        )


def centre_tangent(F: np.ndarray) -> np.ndarray:
    """One subject's tangent vectors ``F`` (n_trials, n_features) less their mean.

    pyRiemann's ``TLCenter`` on tangent vectors, for one domain. The mean needs
    several of the subject's trials; a single trial would become the zero vector.
    """
    F = np.asarray(F, dtype=float)
    if F.ndim != 2 or F.shape[0] < 2:
        raise ValidationError(
            f"tangent-space centring needs the tangent vectors of at least 2 trials "
            f"of one subject, shape (n_trials, n_features); got shape {F.shape}."
        )
    return F - F.mean(axis=0)


def calibration_draws(
    y: np.ndarray, sizes: Sequence[int], *, repeats: int, seed: int
) -> list[tuple[dict[int, np.ndarray], np.ndarray]]:
    """Calibration trials of a new user, ``repeats`` seeded draws.

    Each draw is ``({k: indices of k trials per class}, test indices)``; the
    calibration sets are nested (the ``k = 4`` trials are among the ``k = 8``
    ones) and the test trials are those outside the largest set.
    """
    y = np.asarray(y)
    kmax = max(sizes)
    classes, counts = np.unique(y, return_counts=True)
    if counts.min() <= kmax:
        raise ValidationError(
            f"'calibration' of up to {kmax} trials per class needs more than "
            f"{kmax} trials in every class of the new user (the rest are the "
            f"test trials); the fewest is {int(counts.min())}."
        )
    rng = np.random.default_rng(seed)
    draws: list[tuple[dict[int, np.ndarray], np.ndarray]] = []
    for _ in range(repeats):
        order = {int(c): rng.permutation(np.flatnonzero(y == c)) for c in classes}
        calib = {
            int(k): np.sort(np.concatenate([o[:k] for o in order.values()]))
            for k in sizes
        }
        test = np.sort(np.concatenate([o[kmax:] for o in order.values()]))
        draws.append((calib, test))
    return draws


def check_sizes(sizes: Any, *, option: str = "calibration") -> tuple[int, ...]:
    """Calibration sizes: distinct integers >= 0, sorted."""
    try:
        values = [int(v) for v in sizes]
    except (TypeError, ValueError):
        raise ValidationError(
            f"{option!r} must be trial counts per class such as 0 4 8 16; got "
            f"{sizes!r}."
        ) from None
    if not values or min(values) < 0 or len(set(values)) != len(values):
        raise ValidationError(
            f"{option!r} must be distinct trial counts per class >= 0 such as "
            f"0 4 8 16; got {sizes!r}."
        )
    return tuple(sorted(values))
