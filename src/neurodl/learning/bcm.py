"""BCM: Hebbian learning with a sliding threshold that makes neurons selective.

``y = max(0, w x)``, ``dw = lr x y (y - theta)``, and
``theta <- theta + theta_rate (y^2 - theta)`` (a running average of ``y^2``).
Below the threshold activity weakens the active synapses, above it strengthens
them; because ``theta`` grows with the square of the activity, a neuron ends up
responding strongly to one input pattern and not at all to the others.

References
----------
Bienenstock, E. L., Cooper, L. N. & Munro, P. W. (1982). J. Neurosci. 2:32-48.
doi:10.1523/JNEUROSCI.02-01-00032.1982
Intrator, N. & Cooper, L. N. (1992). Neural Networks 5:3-17 (theta = E[y^2]).
doi:10.1016/S0893-6080(05)80003-6
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from neurodl._validate import check_int, check_matrix, check_positive
from neurodl.errors import ShapeError, TrainingDivergedError
from neurodl.learning._hebbian_common import (
    as_float,
    check_rate,
    check_step,
    init_weights,
    resolve_engine,
)

__all__ = ["BCMFit", "bcm_step", "fit_bcm"]


def _bcm(
    w: Tensor, theta: Tensor, x: Tensor, lr: float, theta_rate: float, rectify: bool
) -> tuple[Tensor, Tensor]:
    y = w @ x
    if rectify:
        y = torch.clamp(y, min=0.0)
    phi = y * (y - theta)
    return w + (lr * phi)[:, None] * x, theta + theta_rate * (y * y - theta)


def bcm_step(
    w: Tensor,
    theta: Tensor,
    x: Tensor,
    lr: float,
    theta_rate: float,
    *,
    rectify: bool = True,
) -> tuple[Tensor, Tensor]:
    """One step of the BCM rule with a sliding threshold ``theta ~ E[y^2]``.

    ``y = max(0, w x)`` (``y = w x`` with ``rectify=False``);
    ``w <- w + lr x y (y - theta)``; ``theta <- theta + theta_rate (y^2 - theta)``.
    Both updates use the old ``w`` and ``theta`` (explicit Euler on
    ``dw/dt = x y (y - theta)``, ``tau_theta dtheta/dt = y^2 - theta``).

    For ``K`` orthonormal inputs shown with probability ``1/K`` the fixed points
    need ``y_i (y_i - theta) = 0`` for each input ``i``: a neuron that responds to
    ``m`` of them has ``theta = K / m``. The stable one is selective (``m = 1``):
    a response of ``K`` to one input and 0 to the rest (LEARNING.md section 3.3;
    Intrator & Cooper 1992). ``theta`` must track faster than ``w``
    (``theta_rate >> lr``).

    Parameters
    ----------
    w : Tensor, shape (n_features,) or (n_neurons, n_features)
    theta : Tensor, shape () or (n_neurons,)
        The thresholds (one per neuron).
    x : Tensor, shape (n_features,)
    lr : float
        Learning rate of the weights (> 0).
    theta_rate : float
        Rate of the running average, in (0, 1].
    rectify : bool
        Rectify the output (``y >= 0``), as the classic model does.

    Returns
    -------
    (Tensor, Tensor)
        New weights (shape of ``w``) and thresholds (shape of ``theta``).

    References
    ----------
    Bienenstock, Cooper & Munro (1982), J. Neurosci. 2:32.
    doi:10.1523/JNEUROSCI.02-01-00032.1982; Intrator & Cooper (1992), Neural
    Networks 5:3. doi:10.1016/S0893-6080(05)80003-6

    Examples
    --------
    >>> w = torch.tensor([1.0, 0.0], dtype=torch.float64)
    >>> x = torch.tensor([2.0, 1.0], dtype=torch.float64)
    >>> bcm_step(w, torch.tensor(1.0, dtype=torch.float64), x, 0.1, 0.5)
    (tensor([1.4000, 0.2000], dtype=torch.float64), tensor(2.5000, dtype=torch.float64))
    """
    w, x = check_step("bcm", w, x, lr, matrix=False)
    check_rate(theta_rate)
    theta = as_float("theta", theta).to(w.dtype)
    want = () if w.ndim == 1 else (w.shape[0],)
    if tuple(theta.shape) != want:
        raise ShapeError(
            f"'theta' must have shape {want} (one threshold per neuron of 'w' of "
            f"shape {tuple(w.shape)}); got shape {tuple(theta.shape)}."
        )
    w2 = w if w.ndim == 2 else w[None]
    w_new, th_new = _bcm(w2, theta.reshape(-1), x, lr, theta_rate, rectify)
    return w_new.reshape(w.shape), th_new.reshape(theta.shape)


class BCMFit(NamedTuple):
    """What :func:`fit_bcm` returns.

    Attributes
    ----------
    weights : Tensor, shape (n_neurons, n_features)
    theta : Tensor, shape (n_neurons,)
        Final thresholds.
    responses : Tensor, shape (n_patterns, n_neurons)
        Output of each neuron to each pattern with the final weights.
    trajectory : Tensor, shape (n_records, n_neurons, n_features)
        Weights at ``steps`` (empty unless ``record_every > 0``).
    theta_trajectory : Tensor, shape (n_records, n_neurons)
    steps : Tensor, shape (n_records,), int64
    """

    weights: Tensor
    theta: Tensor
    responses: Tensor
    trajectory: Tensor
    theta_trajectory: Tensor
    steps: Tensor


def fit_bcm(
    x: Tensor,
    *,
    n_steps: int = 1_000_000,
    lr: float = 0.005,
    lr_final: float | None = 2e-5,
    theta_rate: float = 0.05,
    n_neurons: int = 1,
    seed: int = 0,
    w_init: Tensor | None = None,
    theta_init: float = 0.0,
    rectify: bool = True,
    record_every: int = 0,
    engine: str = "auto",
) -> BCMFit:
    """Train BCM neurons online on patterns drawn uniformly at random.

    Each step draws one row of ``x`` (with replacement) and applies
    :func:`bcm_step` to every neuron (neurons do not interact).

    Parameters
    ----------
    x : Tensor, shape (n_patterns, n_features)
        The input patterns.
    n_steps : int
        Number of online steps (>= 1).
    lr : float
        Learning rate of the weights (> 0) at the first step.
    lr_final : float or None
        The rate decays geometrically from ``lr`` to ``lr_final`` at the
        last step, ``lr_t = lr (lr_final / lr)^(t / (n_steps - 1))``: the
        fluctuations of ``w`` around its fixed point scale like ``sqrt(lr)``
        (``theta`` is a noisy running mean), so annealing settles them.
        ``None``: ``lr`` throughout.
    theta_rate : float
        Rate of the threshold's running average of ``y^2``, in (0, 1];
        it should be much larger than ``lr``.
    n_neurons : int
        Number of independent neurons.
    seed : int
        Seeds the initial weights (uniform in ``[0, 1/sqrt(n_features))``, so
        that every neuron responds at first) and the pattern draws.
    w_init : Tensor, shape (n_neurons, n_features), optional
    theta_init : float
        Initial threshold (>= 0).
    rectify : bool
        Rectified output ``y = max(0, w x)``.
    record_every : int
        Keep weights and thresholds every this many steps (0: none).
    engine : {"auto", "numba", "torch"}

    Returns
    -------
    BCMFit

    Examples
    --------
    >>> x = torch.eye(2, dtype=torch.float64)
    >>> fit = fit_bcm(x, n_steps=20_000, lr=0.01, theta_rate=0.1)
    >>> fit.responses.squeeze(1).sort().values.round(decimals=1)
    tensor([0., 2.], dtype=torch.float64)
    """
    x = check_matrix("x", as_float("x", x), axes="(n_patterns, n_features)").detach()
    n, d = x.shape
    if n < 1:
        raise ShapeError("'x' must hold at least one pattern; got shape (0, ...).")
    check_int("n_steps", n_steps, minimum=1)
    check_positive("lr", lr)
    if lr_final is not None:
        check_positive("lr_final", lr_final)
    rate = check_rate(theta_rate)
    check_int("n_neurons", n_neurons, minimum=1)
    check_int("seed", seed, minimum=0)
    check_positive("theta_init", theta_init, strict=False)
    check_int("record_every", record_every, minimum=0)
    eng = resolve_engine(engine, x)
    gen = torch.Generator().manual_seed(seed)
    w = init_weights("w_init", w_init, (n_neurons, d), x)
    if w is None:
        w = (torch.rand(n_neurons, d, generator=gen, dtype=x.dtype) / d**0.5).to(
            x.device
        )
    theta = torch.full((n_neurons,), float(theta_init), dtype=x.dtype, device=x.device)
    order = torch.randint(n, (n_steps,), generator=gen)
    rec_w: list[Tensor] = [w.clone()] if record_every else []
    rec_t: list[Tensor] = [theta.clone()] if record_every else []
    steps = [0] if record_every else []
    chunk = record_every or min(n_steps, 1 << 20)
    decay = 0.0
    if lr_final is not None and n_steps > 1:
        decay = math.log(lr_final / lr) / (n_steps - 1)
    if eng == "numba":
        from neurodl.learning._hebbian_kernels import bcm_steps

        wn = np.ascontiguousarray(w.cpu().numpy())
        tn = np.ascontiguousarray(theta.cpu().numpy())
        xn = np.ascontiguousarray(x.numpy())
    for start in range(0, n_steps, chunk):
        idx = order[start : start + chunk]
        t = np.arange(start, start + idx.shape[0], dtype=np.float64)
        lrs = lr * np.exp(decay * t) if decay else np.full(t.shape, float(lr))
        if eng == "numba":
            bcm_steps(wn, tn, xn, idx.numpy(), lrs, rate, bool(rectify))
            w, theta = torch.from_numpy(wn.copy()), torch.from_numpy(tn.copy())
        else:
            for i, lr_t in zip(idx.tolist(), lrs.tolist(), strict=True):
                w, theta = _bcm(w, theta, x[i], lr_t, rate, rectify)
        if record_every:
            rec_w.append(w)
            rec_t.append(theta)
            steps.append(start + idx.shape[0])
    if not bool(torch.isfinite(w).all() and torch.isfinite(theta).all()):
        raise TrainingDivergedError(
            "BCM diverged: the weights or thresholds became NaN or infinite. "
            f"Hint: lower 'lr' (got {lr}) or raise 'theta_rate' (got {theta_rate}); "
            "the threshold must track y^2 faster than the weights grow.",
            epoch=1,
        )
    y = x @ w.T
    responses = torch.clamp(y, min=0.0) if rectify else y
    empty_w = x.new_zeros((0, n_neurons, d))
    return BCMFit(
        weights=w,
        theta=theta,
        responses=responses,
        trajectory=torch.stack(rec_w) if rec_w else empty_w,
        theta_trajectory=torch.stack(rec_t) if rec_t else x.new_zeros((0, n_neurons)),
        steps=torch.tensor(steps, dtype=torch.int64),
    )
