"""Centered kernel alignment (CKA) between two sets of representations.

CKA (Kornblith, Norouzi, Lee & Hinton 2019, arXiv:1905.00414) compares two
representations of the same ``n`` stimuli, ``x`` of shape ``(n, p1)`` and ``y`` of
shape ``(n, p2)``, through their ``n x n`` Gram (kernel) matrices ``K`` and ``L``::

    CKA(K, L) = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L))

with ``HSIC(K, L) = <HKH, HLH>_F`` (``H`` the centering matrix; the scale factor
``1/(n-1)^2`` cancels). For a linear kernel (``K = x x^T``) this equals the
feature-space form ``||y^T x||_F^2 / (||x^T x||_F ||y^T y||_F)`` after centering the
columns of ``x`` and ``y``, which costs ``O(n p1 p2)`` instead of ``O(n^2 p)``.

The *debiased* estimator replaces HSIC with its unbiased estimator (Song et al.
2012, JMLR 13:1393; used for CKA by Nguyen, Raghu & Kornblith 2021,
arXiv:2010.15327), removing the bias towards 1 for ``p >> n``.

Every sum is accumulated in float64, also for float32 input (float32 drifted by
0.02 at ``n = 10,000``); torch tensors are computed on their own device.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from neurodl._validate import check_finite, check_option
from neurodl.errors import ShapeError, ValidationError

__all__ = ["KERNELS", "cka", "gram_linear", "gram_rbf", "hsic"]

KERNELS = ("linear", "rbf")
"""Kernels accepted by :func:`cka`."""

_DEFAULT_SIGMA = 0.8


def _as_float64(name: str, x: Any) -> Tensor:
    """Return ``x`` as a finite 2-D float64 tensor on its own device."""
    t = x.detach() if isinstance(x, Tensor) else torch.as_tensor(np.asarray(x))
    if t.is_complex() or t.dtype == torch.bool:
        raise ValidationError(f"{name!r} must hold real numbers; got dtype {t.dtype}.")
    if t.ndim != 2:
        raise ShapeError(
            f"{name!r} must be 2-D with axes (n_samples, n_features); got shape "
            f"{tuple(t.shape)}."
        )
    t = t.to(torch.float64)
    return check_finite(name, t)


def _check_pair(x: Any, y: Any, minimum: int) -> tuple[Tensor, Tensor]:
    xt = _as_float64("x", x)
    yt = _as_float64("y", y)
    if xt.shape[0] != yt.shape[0]:
        raise ShapeError(
            f"'x' and 'y' must have the same number of rows (samples); got shapes "
            f"{tuple(xt.shape)} and {tuple(yt.shape)}."
        )
    if xt.shape[0] < minimum:
        raise ShapeError(
            f"'x' and 'y' need at least {minimum} rows (samples) for this "
            f"estimator; got {xt.shape[0]}."
        )
    if yt.device != xt.device:
        yt = yt.to(xt.device)
    return xt, yt


def _median(values: Tensor) -> Tensor:
    """Median of all entries, averaging the two middle ones (as ``np.median``)."""
    flat = values.reshape(-1)
    m = flat.numel()
    hi = torch.kthvalue(flat, m // 2 + 1).values
    if m % 2:
        return hi
    lo = torch.kthvalue(flat, m // 2).values
    return (lo + hi) / 2


def gram_linear(x: Tensor) -> Tensor:
    """Return the linear Gram matrix ``x x^T`` in float64, shape ``(n, n)``."""
    xt = _as_float64("x", x)
    return xt @ xt.T


def gram_rbf(x: Tensor, sigma: float = _DEFAULT_SIGMA) -> Tensor:
    """Return the RBF Gram matrix with a bandwidth relative to the median distance.

    ``K_ij = exp(-d_ij^2 / (2 sigma^2 median(d^2)))``, the median taken over all
    ``n^2`` squared distances (zeros on the diagonal included), as in Kornblith et
    al.'s reference code.

    Parameters
    ----------
    x : Tensor or array, shape (n, p)
        Representation; computed in float64 on its device.
    sigma : float
        Bandwidth as a fraction of the median distance (> 0).

    Returns
    -------
    Tensor, shape (n, n)
    """
    xt = _as_float64("x", x)
    return _gram_rbf(xt, _check_sigma(sigma))


def _check_sigma(sigma: float | None) -> float:
    if sigma is None:
        return _DEFAULT_SIGMA
    if isinstance(sigma, bool) or not isinstance(sigma, int | float):
        raise ValidationError(f"'sigma' must be a number > 0 or None; got {sigma!r}.")
    if not np.isfinite(sigma) or sigma <= 0:
        raise ValidationError(
            f"'sigma' must be a finite number > 0 or None; got {sigma!r}."
        )
    return float(sigma)


def _gram_rbf(x: Tensor, sigma: float) -> Tensor:
    dot = x @ x.T
    sq_norms = torch.diagonal(dot)
    sq_dist = (sq_norms[:, None] + sq_norms[None, :] - 2 * dot).clamp_(min=0.0)
    sq_dist.fill_diagonal_(0.0)
    median = _median(sq_dist)
    if not median > 0:
        raise ValidationError(
            "'x' must have a non-zero median pairwise distance for the RBF kernel "
            "(the bandwidth is relative to it); got median 0 (mostly identical rows)."
        )
    return torch.exp(-sq_dist / (2 * sigma**2 * median))


def _center_gram(gram: Tensor, unbiased: bool) -> Tensor:
    """Center a Gram matrix; ``unbiased`` gives the U-statistic centering.

    With ``unbiased`` the inner product of two centered matrices equals
    ``n (n - 3)`` times the unbiased HSIC estimator of Song et al. (2012).
    """
    gram = gram.clone()
    if unbiased:
        n = gram.shape[0]
        gram.fill_diagonal_(0.0)
        means = gram.sum(0) / (n - 2)
        means -= means.sum() / (2 * (n - 1))
        gram -= means[:, None]
        gram -= means[None, :]
        gram.fill_diagonal_(0.0)
    else:
        means = gram.mean(0)
        means -= means.mean() / 2
        gram -= means[:, None]
        gram -= means[None, :]
    return gram


def hsic(k: Tensor, l: Tensor, *, debiased: bool = False) -> float:  # noqa: E741
    """Return ``<K_c, L_c>_F``, HSIC of two Gram matrices up to a constant.

    Biased: ``tr(HKH HLH)`` (HSIC times ``(n - 1)^2``); debiased: the unbiased
    estimator times ``n (n - 3)``. The constants cancel in :func:`cka`.

    Parameters
    ----------
    k, l : Tensor or array, shape (n, n)
        Gram matrices; computed in float64.
    debiased : bool
        Use the unbiased estimator (needs ``n >= 4``).

    Returns
    -------
    float
    """
    kt, lt = _check_pair(k, l, 4 if debiased else 1)
    if kt.shape[0] != kt.shape[1] or lt.shape[0] != lt.shape[1]:
        raise ShapeError(
            f"'k' and 'l' must be square Gram matrices; got shapes "
            f"{tuple(kt.shape)} and {tuple(lt.shape)}."
        )
    kc = _center_gram(kt, debiased)
    lc = _center_gram(lt, debiased)
    return float(torch.sum(kc * lc))


def _debiased_dot(
    xty: Tensor, rows_x: Tensor, rows_y: Tensor, norm_x: Tensor, norm_y: Tensor, n: int
) -> Tensor:
    """Unbiased HSIC times ``n (n - 3)`` from feature-space sums (Kornblith)."""
    return (
        xty
        - n / (n - 2.0) * torch.dot(rows_x, rows_y)
        + norm_x * norm_y / ((n - 1) * (n - 2))
    )


def _linear_feature_space(x: Tensor, y: Tensor, debiased: bool) -> Tensor:
    x = x - x.mean(0, keepdim=True)
    y = y - y.mean(0, keepdim=True)
    num = torch.linalg.matrix_norm(y.T @ x) ** 2
    nx = torch.linalg.matrix_norm(x.T @ x)
    ny = torch.linalg.matrix_norm(y.T @ y)
    if debiased:
        n = x.shape[0]
        rows_x = torch.einsum("ij,ij->i", x, x)
        rows_y = torch.einsum("ij,ij->i", y, y)
        sx, sy = rows_x.sum(), rows_y.sum()
        num = _debiased_dot(num, rows_x, rows_y, sx, sy, n)
        nx = torch.sqrt(_debiased_dot(nx**2, rows_x, rows_x, sx, sx, n))
        ny = torch.sqrt(_debiased_dot(ny**2, rows_y, rows_y, sy, sy, n))
    return _ratio(num, nx, ny)


def _ratio(num: Tensor, nx: Tensor, ny: Tensor) -> Tensor:
    for name, norm in (("x", nx), ("y", ny)):
        if not bool(norm > 0):
            raise ValidationError(
                f"{name!r} must vary across samples: its centered self-similarity "
                f"is {float(norm)!r}, so CKA is undefined (a constant "
                "representation, or too few samples for the debiased estimator)."
            )
    return num / (nx * ny)


def cka(
    x: Tensor | np.ndarray,
    y: Tensor | np.ndarray,
    kernel: str = "linear",
    *,
    debiased: bool = False,
    sigma: float | None = None,
) -> float:
    """Return the centered kernel alignment of two representations.

    Parameters
    ----------
    x : Tensor or array, shape (n, p1)
        First representation: one row per stimulus.
    y : Tensor or array, shape (n, p2)
        Second representation of the same stimuli, in the same order.
    kernel : {"linear", "rbf"}
        Kernel applied to each representation.
    debiased : bool
        Use the unbiased HSIC estimator (Song et al. 2012; needs ``n >= 4``). The
        result can then be slightly negative for unrelated representations.
    sigma : float or None
        RBF bandwidth as a fraction of the median pairwise distance (Kornblith et
        al.'s convention); None means 0.8. Only used with ``kernel="rbf"``.

    Returns
    -------
    float
        CKA, in ``[0, 1]`` for the biased estimator; 1 for identical
        representations.

    Raises
    ------
    ShapeError
        If ``x`` or ``y`` is not 2-D, or their numbers of rows differ.
    NonFiniteError
        If either holds NaN or infinity.
    ValidationError
        For an unknown kernel, a bad ``sigma``, or a constant representation.

    Notes
    -----
    Computed in float64 on the device of ``x`` (``y`` is moved there). The linear
    kernel uses the feature-space form ``||y^T x||_F^2 / (||x^T x||_F ||y^T y||_F)``
    (with Kornblith's debiasing terms) when both ``p1`` and ``p2`` are below ``n``,
    and the Gram matrices otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(50, 5))
    >>> round(cka(x, 3.0 * x), 12)
    1.0
    """
    check_option("kernel", kernel, KERNELS)
    if not isinstance(debiased, bool):
        raise ValidationError(f"'debiased' must be True or False; got {debiased!r}.")
    xt, yt = _check_pair(x, y, 4 if debiased else 2)
    n = xt.shape[0]
    if kernel == "linear":
        if sigma is not None:
            raise ValidationError(
                f"'sigma' is only used with kernel='rbf'; got sigma={sigma!r} with "
                "kernel='linear'."
            )
        if xt.shape[1] < n and yt.shape[1] < n:
            return float(_linear_feature_space(xt, yt, debiased))
        k, l = xt @ xt.T, yt @ yt.T  # noqa: E741
    else:
        s = _check_sigma(sigma)
        k, l = _gram_rbf(xt, s), _gram_rbf(yt, s)  # noqa: E741
    kc = _center_gram(k, debiased)
    lc = _center_gram(l, debiased)
    num = torch.sum(kc * lc)
    nx = torch.linalg.matrix_norm(kc)
    ny = torch.linalg.matrix_norm(lc)
    return float(_ratio(num, nx, ny))
