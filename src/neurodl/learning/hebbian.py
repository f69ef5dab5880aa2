"""Unsupervised Hebbian rules: Hebb, Oja, Sanger (GHA), Oja's subspace rule, BCM.

Each rule is a pure step function on one sample (``w, x, lr -> new w``) and runs
over a data set with :func:`fit_hebbian` or :func:`fit_bcm`: online, one sample per
step, in a seeded order. On the CPU the loop is compiled (numba) with the same
arithmetic as the step functions (the tests hold the two equal in float64); on
other devices, or with ``engine="torch"``, the step functions run in a Python loop.

With ``y = W x`` for weights ``W`` (k, d) and one sample ``x`` (d,), the rules are

============  ==========================================  =========================
rule          update ``dW`` (row ``i``)                   converges to
============  ==========================================  =========================
``hebb``      ``lr y_i x``                                diverges (no bound)
``oja``       ``lr y_i (x - y_i W_i)``                    ``+-e_1``, unit norm
``sanger``    ``lr y_i (x - sum_{m <= i} y_m W_m)``       ``+-e_i`` in order
``subspace``  ``lr y_i (x - sum_m y_m W_m)``              a basis of span(e_1..e_k)
============  ==========================================  =========================

where ``e_i`` are the eigenvectors of the second-moment matrix ``C = E[x x^T]``
(the covariance for centred data), by decreasing eigenvalue. In matrix form Oja is
``dW = lr (y x^T - diag(y y^T) W)``, Sanger ``dW = lr (y x^T - LT[y y^T] W)`` with
``LT`` the lower triangle including the diagonal, and the subspace rule
``dW = lr (y x^T - y y^T W)``.

BCM, a Hebbian rule with a sliding threshold, is in :mod:`neurodl.learning.bcm`.

References
----------
Hebb, D. O. (1949). The Organization of Behavior. Wiley.
Oja, E. (1982). J. Math. Biol. 15:267-273. doi:10.1007/BF00275687
Oja, E. (1989). Int. J. Neural Syst. 1:61-68 (subspace rule).
doi:10.1142/S0129065789000475
Sanger, T. D. (1989). Neural Networks 2:459-473. doi:10.1016/0893-6080(89)90044-0
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor

from neurodl._validate import (
    check_int,
    check_matrix,
    check_option,
    check_positive,
)
from neurodl.errors import ShapeError, TrainingDivergedError, ValidationError
from neurodl.learning._hebbian_common import (
    HEBBIAN_ENGINES,
    as_float,
    check_step,
    init_weights,
    resolve_engine,
)

__all__ = [
    "HEBBIAN_ENGINES",
    "HEBBIAN_RULES",
    "HEBBIAN_SCHEDULES",
    "HebbianFit",
    "OjaTrajectory",
    "fit_hebbian",
    "hebb_step",
    "oja_step",
    "oja_trajectory",
    "sanger_step",
    "subspace_step",
]

HEBBIAN_RULES = ("hebb", "oja", "sanger", "subspace")
"""Rules :func:`fit_hebbian` knows."""

HEBBIAN_SCHEDULES = ("constant", "inverse")
"""Named learning-rate schedules: ``lr`` each epoch, or ``lr / (1 + epoch)``."""

_RULE_CODE = {"hebb": 0, "oja": 1, "sanger": 2, "subspace": 3}


# ------------------------------------------------------------ step functions
# The private versions take (k, d) weights and skip the checks (hot loops).
def _hebb(w: Tensor, x: Tensor, lr: float) -> Tensor:
    y = w @ x
    return w + (lr * y)[:, None] * x


def _oja(w: Tensor, x: Tensor, lr: float) -> Tensor:
    y = w @ x
    return w + (lr * y)[:, None] * (x - y[:, None] * w)


def _sanger(w: Tensor, x: Tensor, lr: float) -> Tensor:
    y = w @ x
    back = torch.cumsum(y[:, None] * w, dim=0)  # row i: sum_{m <= i} y_m w_m
    return w + (lr * y)[:, None] * (x - back)


def _subspace(w: Tensor, x: Tensor, lr: float) -> Tensor:
    y = w @ x
    return w + (lr * y)[:, None] * (x - y @ w)


_STEPS: dict[str, Callable[[Tensor, Tensor, float], Tensor]] = {
    "hebb": _hebb,
    "oja": _oja,
    "sanger": _sanger,
    "subspace": _subspace,
}


def _apply(rule: str, w: Tensor, x: Tensor, lr: float) -> Tensor:
    if w.ndim == 1:
        return _STEPS[rule](w[None], x, lr)[0]
    return _STEPS[rule](w, x, lr)


def hebb_step(w: Tensor, x: Tensor, lr: float) -> Tensor:
    """One step of plain Hebbian learning: ``w <- w + lr y x`` with ``y = w x``.

    The rule has no decay term, so ``|w|`` never shrinks (for ``lr > 0``,
    ``|w + lr y x|^2 = |w|^2 + (2 lr + lr^2 |x|^2) y^2``) and, on average,
    ``w <- (I + lr C) w`` grows like ``(1 + lr lambda_1)^t`` along the leading
    eigenvector: plain Hebb diverges. Use :func:`oja_step` for a bounded rule.

    Parameters
    ----------
    w : Tensor, shape (n_features,) or (n_components, n_features)
        Weights of one neuron, or one row per neuron.
    x : Tensor, shape (n_features,)
        One input sample.
    lr : float
        Learning rate (> 0).

    Returns
    -------
    Tensor
        The new weights, shape of ``w``.

    References
    ----------
    Hebb (1949), The Organization of Behavior.

    Examples
    --------
    >>> w = torch.tensor([1.0, 0.0], dtype=torch.float64)
    >>> hebb_step(w, torch.tensor([1.0, 1.0], dtype=torch.float64), 0.5)
    tensor([1.5000, 0.5000], dtype=torch.float64)
    """
    w, x = check_step("hebb", w, x, lr, matrix=False)
    return _apply("hebb", w, x, lr)


def oja_step(w: Tensor, x: Tensor, lr: float) -> Tensor:
    """One step of Oja's rule: ``w <- w + lr y (x - y w)`` with ``y = w x``.

    Hebb plus a decay ``-lr y^2 w`` that keeps ``|w|`` near 1. For small ``lr``
    the stable fixed points are ``w = +-e_1``, the unit leading eigenvector of
    ``C = E[x x^T]``: the neuron extracts the first principal component (of
    centred data). A 2-D ``w`` is ``k`` independent Oja neurons (all find ``e_1``;
    see :func:`sanger_step` for distinct components).

    Parameters
    ----------
    w : Tensor, shape (n_features,) or (n_components, n_features)
    x : Tensor, shape (n_features,)
    lr : float
        Learning rate (> 0); keep ``lr |x|^2`` well below 1.

    Returns
    -------
    Tensor
        The new weights, shape of ``w``.

    References
    ----------
    Oja (1982), J. Math. Biol. 15:267. doi:10.1007/BF00275687

    Examples
    --------
    >>> w = torch.tensor([1.0, 0.0], dtype=torch.float64)
    >>> oja_step(w, torch.tensor([1.0, 1.0], dtype=torch.float64), 0.5)
    tensor([1.0000, 0.5000], dtype=torch.float64)
    """
    w, x = check_step("oja", w, x, lr, matrix=False)
    return _apply("oja", w, x, lr)


def sanger_step(w: Tensor, x: Tensor, lr: float) -> Tensor:
    """One step of Sanger's generalized Hebbian algorithm (GHA).

    ``y = W x`` and ``W <- W + lr (y x^T - LT[y y^T] W)``, with ``LT`` the lower
    triangle including the diagonal; row by row,
    ``W_i <- W_i + lr y_i (x - sum_{m <= i} y_m W_m)``. Row 1 follows Oja's rule;
    row ``i`` follows Oja's rule on the input with the first ``i - 1`` components
    removed, so row ``i`` converges to ``+-e_i``, the ``i``-th unit eigenvector of
    ``C = E[x x^T]``, in order of decreasing eigenvalue.

    Parameters
    ----------
    w : Tensor, shape (n_components, n_features)
    x : Tensor, shape (n_features,)
    lr : float
        Learning rate (> 0).

    Returns
    -------
    Tensor, shape (n_components, n_features)

    References
    ----------
    Sanger (1989), Neural Networks 2:459. doi:10.1016/0893-6080(89)90044-0
    """
    w, x = check_step("sanger", w, x, lr, matrix=True)
    return _sanger(w, x, lr)


def subspace_step(w: Tensor, x: Tensor, lr: float) -> Tensor:
    """One step of Oja's subspace rule: ``W <- W + lr (y x^T - y y^T W)``, ``y = W x``.

    Symmetric in the rows: ``W`` converges to an orthonormal basis of the span of
    the top ``k`` eigenvectors of ``C = E[x x^T]`` (``W^T W -> U_k U_k^T``), but
    to no particular rotation of it; use :func:`sanger_step` for the ordered axes.

    Parameters
    ----------
    w : Tensor, shape (n_components, n_features)
    x : Tensor, shape (n_features,)
    lr : float
        Learning rate (> 0).

    Returns
    -------
    Tensor, shape (n_components, n_features)

    References
    ----------
    Oja (1989), Int. J. Neural Syst. 1:61. doi:10.1142/S0129065789000475
    """
    w, x = check_step("subspace", w, x, lr, matrix=True)
    return _subspace(w, x, lr)


# ------------------------------------------------------------------ fitting
class HebbianFit(NamedTuple):
    """What :func:`fit_hebbian` returns.

    Attributes
    ----------
    weights : Tensor, shape (n_components, n_features)
        Final weights, one row per neuron.
    trajectory : Tensor, shape (n_records, n_components, n_features)
        Weights at ``steps`` (empty unless ``record_every > 0``).
    steps : Tensor, shape (n_records,), int64
        Online step (samples seen) of each record; the first is 0.
    rule : str
    """

    weights: Tensor
    trajectory: Tensor
    steps: Tensor
    rule: str


def _epoch_lrs(lr: float, schedule: Any, n_epochs: int) -> list[float]:
    if callable(schedule):
        out = []
        for e in range(n_epochs):
            v = schedule(e)
            if (
                isinstance(v, bool)
                or not isinstance(v, int | float)
                or not (math.isfinite(v) and v > 0)
            ):
                raise ValidationError(
                    f"'schedule' must return a finite learning rate > 0 for each "
                    f"epoch; got {v!r} for epoch {e}."
                )
            out.append(float(v))
        return out
    check_option("schedule", schedule, HEBBIAN_SCHEDULES)
    if schedule == "constant":
        return [float(lr)] * n_epochs
    return [float(lr) / (1 + e) for e in range(n_epochs)]


def _diverged(rule: str, epoch: int, lr: float) -> TrainingDivergedError:
    if rule == "hebb":
        hint = (
            "plain Hebbian learning (dw = lr y x) has no decay term and grows "
            "without bound; use rule 'oja' or 'sanger' for bounded weights"
        )
    else:
        hint = f"lower 'lr' (got {lr}); keep lr * max |x|^2 well below 1"
    return TrainingDivergedError(
        f"rule {rule!r} diverged in epoch {epoch + 1}: the weights became NaN or "
        f"infinite. Hint: {hint}.",
        epoch=epoch + 1,
    )


def fit_hebbian(
    x: Tensor,
    rule: str = "oja",
    n_components: int = 1,
    *,
    n_epochs: int = 20,
    lr: float = 0.01,
    schedule: str | Callable[[int], float] = "inverse",
    seed: int = 0,
    w_init: Tensor | None = None,
    record_every: int = 0,
    engine: str = "auto",
) -> HebbianFit:
    """Run one Hebbian rule online over a data set, one sample per step.

    Each epoch visits every sample once in a fresh random order; the step is
    :func:`hebb_step`, :func:`oja_step`, :func:`sanger_step` or
    :func:`subspace_step` (see the module docstring for the equations).

    Parameters
    ----------
    x : Tensor, shape (n_samples, n_features)
        Data. The rules find eigenvectors of ``E[x x^T]``: centre ``x`` first
        to get principal components.
    rule : {"hebb", "oja", "sanger", "subspace"}
    n_components : int
        Number of neurons (rows of the weights); at most ``n_features`` for
        ``sanger`` and ``subspace``.
    n_epochs : int
        Passes over the data (>= 1).
    lr : float
        Learning rate (> 0).
    schedule : {"constant", "inverse"} or callable
        ``"constant"``: ``lr`` throughout; ``"inverse"``: ``lr / (1 + epoch)``
        (epoch from 0); or a function ``epoch -> learning rate``.
    seed : int
        Seeds the initial weights (normal, std ``1/sqrt(n_features)``) and the
        sample order.
    w_init : Tensor, shape (n_components, n_features), optional
        Initial weights instead of random ones.
    record_every : int
        Keep the weights every this many steps (0: only the final ones).
    engine : {"auto", "numba", "torch"}
        ``numba``: compiled loop (CPU, float32/float64); ``torch``: the step
        functions in a Python loop (any device). Same arithmetic.

    Returns
    -------
    HebbianFit

    Raises
    ------
    TrainingDivergedError
        If the weights become NaN or infinite (plain Hebb always does, given time).

    Examples
    --------
    >>> gen = torch.Generator().manual_seed(0)
    >>> x = torch.randn(2000, 2, generator=gen, dtype=torch.float64)
    >>> x = x * torch.tensor([2.0, 0.5], dtype=torch.float64)
    >>> w = fit_hebbian(x, "oja", lr=0.02).weights[0]
    >>> bool(abs(w[0]) > 0.99 and abs(w.norm() - 1) < 0.02)
    True
    """
    x = check_matrix("x", as_float("x", x)).detach()
    check_option("rule", rule, HEBBIAN_RULES)
    n, d = x.shape
    if n < 1:
        raise ShapeError("'x' must hold at least one sample; got shape (0, ...).")
    check_int("n_components", n_components, minimum=1)
    if rule in ("sanger", "subspace") and n_components > d:
        raise ValidationError(
            f"'n_components' must be <= n_features ({d}) for rule {rule!r}; "
            f"got {n_components}."
        )
    check_int("n_epochs", n_epochs, minimum=1)
    check_positive("lr", lr)
    check_int("seed", seed, minimum=0)
    check_int("record_every", record_every, minimum=0)
    lrs = _epoch_lrs(lr, schedule, n_epochs)
    eng = resolve_engine(engine, x)
    gen = torch.Generator().manual_seed(seed)
    w = init_weights("w_init", w_init, (n_components, d), x)
    if w is None:
        w = (torch.randn(n_components, d, generator=gen, dtype=x.dtype) / d**0.5).to(
            x.device
        )
    records, steps = ([w.clone()], [0]) if record_every else ([], [])
    step = 0
    if eng == "numba":
        from neurodl.learning._hebbian_kernels import hebbian_steps

        wn = np.ascontiguousarray(w.cpu().numpy())
        xn = np.ascontiguousarray(x.numpy())
        code = _RULE_CODE[rule]
    for epoch, lr_e in enumerate(lrs):
        order = torch.randperm(n, generator=gen)
        chunk = record_every or n
        for start in range(0, n, chunk):
            idx = order[start : start + chunk]
            if eng == "numba":
                lr_arr = np.full(idx.shape[0], lr_e, dtype=xn.dtype)
                hebbian_steps(wn, xn, idx.numpy(), lr_arr, code)
            else:
                for i in idx.tolist():
                    w = _STEPS[rule](w, x[i], lr_e)
            step += idx.shape[0]
            if record_every:
                records.append(torch.from_numpy(wn.copy()) if eng == "numba" else w)
                steps.append(step)
        final = torch.from_numpy(wn) if eng == "numba" else w
        if not bool(torch.isfinite(final).all()):
            raise _diverged(rule, epoch, lr_e)
    weights = torch.from_numpy(wn.copy()) if eng == "numba" else w
    traj = torch.stack(records) if records else x.new_zeros((0, n_components, d))
    return HebbianFit(
        weights=weights,
        trajectory=traj,
        steps=torch.tensor(steps, dtype=torch.int64),
        rule=rule,
    )


# ------------------------------------------------------------- figure data
class OjaTrajectory(NamedTuple):
    """Data for a figure of Oja's rule finding the first principal axis.

    Attributes
    ----------
    x : Tensor, shape (n_samples, n_features)
        The synthetic Gaussian data (zero mean).
    axes : Tensor, shape (n_features, n_features)
        Unit eigenvectors of ``x^T x / n_samples`` as rows, by decreasing
        eigenvalue (``axes[0]`` is the target).
    eigenvalues : Tensor, shape (n_features,)
    steps : Tensor, shape (n_records,), int64
    weights : Tensor, shape (n_records, n_features)
        Oja's weight vector at each step in ``steps``.
    cosine : Tensor, shape (n_records,)
        ``|cos(w, axes[0])|``.
    norm : Tensor, shape (n_records,)
        ``|w|``.
    """

    x: Tensor
    axes: Tensor
    eigenvalues: Tensor
    steps: Tensor
    weights: Tensor
    cosine: Tensor
    norm: Tensor


def _gaussian(
    n: int, variances: Sequence[float], gen: torch.Generator, dtype: torch.dtype
) -> Tensor:
    """Draw samples of N(0, Q diag(variances) Q^T), Q a random rotation."""
    var = torch.as_tensor(list(variances), dtype=dtype)
    d = var.shape[0]
    q, r = torch.linalg.qr(torch.randn(d, d, generator=gen, dtype=dtype))
    q = q * torch.sign(torch.diagonal(r))  # Haar-distributed rotation
    z = torch.randn(n, d, generator=gen, dtype=dtype) * var.sqrt()
    return z @ q.T


def oja_trajectory(
    n_samples: int = 1000,
    variances: Sequence[float] = (4.0, 1.0),
    *,
    n_epochs: int = 3,
    lr: float = 0.01,
    record_every: int = 20,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
) -> OjaTrajectory:
    """Run Oja's rule on a synthetic Gaussian and return the data for a figure.

    The data are ``n_samples`` draws of ``N(0, Q diag(variances) Q^T)`` with a
    random rotation ``Q`` (centred afterwards); the weights start random and
    follow :func:`oja_step` with ``lr / (1 + epoch)``. Plot ``x``, ``axes[0]`` and
    ``weights`` in the plane for 2-D data, and ``cosine`` and ``norm`` against
    ``steps`` (both go to 1).

    Parameters
    ----------
    n_samples : int
    variances : sequence of float
        Variance along each principal axis (> 0; a clear gap between the first
        two makes convergence fast).
    n_epochs, lr, record_every, seed
        As in :func:`fit_hebbian`.
    dtype : torch.dtype

    Returns
    -------
    OjaTrajectory

    Examples
    --------
    >>> t = oja_trajectory()
    >>> bool(t.cosine[-1] > 0.99 and abs(t.norm[-1] - 1) < 0.02)
    True
    """
    check_int("n_samples", n_samples, minimum=2)
    if isinstance(variances, str) or not isinstance(variances, Sequence):
        raise ValidationError(
            f"'variances' must be a sequence of numbers > 0; got {variances!r}."
        )
    for i, v in enumerate(variances):
        check_positive(f"variances[{i}]", v)
    if len(variances) < 1:
        raise ValidationError("'variances' must hold at least one number; got ().")
    check_int("record_every", record_every, minimum=1)
    gen = torch.Generator().manual_seed(check_int("seed", seed, minimum=0))
    x = _gaussian(n_samples, variances, gen, dtype)
    x = x - x.mean(0)
    evals, evecs = torch.linalg.eigh(x.T @ x / n_samples)
    axes = evecs.flip(1).T
    fit = fit_hebbian(
        x, "oja", n_epochs=n_epochs, lr=lr, seed=seed, record_every=record_every
    )
    w = fit.trajectory[:, 0]
    norm = w.norm(dim=1)
    return OjaTrajectory(
        x=x,
        axes=axes,
        eigenvalues=evals.flip(0),
        steps=fit.steps,
        weights=w,
        cosine=(w @ axes[0]).abs() / norm,
        norm=norm,
    )
