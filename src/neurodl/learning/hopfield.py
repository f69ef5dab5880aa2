"""Associative memories: the classic Hopfield network and the modern (dense) one.

Classic (Hopfield 1982): ``N`` binary neurons ``s_i = +-1`` store ``P`` patterns
``xi^mu`` in Hebbian weights

    ``J = (1/N) sum_mu xi^mu (xi^mu)^T``, with ``J_ii = 0``,

and recall by sign updates ``s_i <- sign(h_i)``, ``h_i = sum_j J_ij s_j`` (a tie
``h_i = 0``, up to rounding, keeps ``s_i``), one neuron at a time (asynchronous,
in a random order per sweep) or all at once (synchronous). Asynchronous updates
never raise the energy ``E(s) = -1/2 s^T J s``: flipping ``s_i`` changes it by
``-(s_i' - s_i) h_i <= 0``. Retrieval survives up to a load ``alpha = P/N`` of
about 0.138 (Amit, Gutfreund & Sompolinsky 1985); the overlap
``m = (1/N) xi . s`` measures it.

Modern (Ramsauer et al. 2021): continuous states ``xi`` (d,) and stored patterns
``X`` (d, M) as columns; the update

    ``xi_new = X softmax(beta X^T xi)``

is one step of minimising ``E = -lse(beta, X^T xi) + 1/2 xi^T xi + beta^-1 log M
+ 1/2 max_i |x_i|^2`` with ``lse(beta, z) = beta^-1 log sum_i exp(beta z_i)``;
E never increases under it, and well-separated patterns are retrieved in one step
with a capacity exponential in ``d``. Here patterns are rows: ``patterns`` (M, d),
states (d,) or (batch, d), and ``xi_new = softmax(beta xi X^T) X`` row-wise (the
attention operation).

References
----------
Hopfield, J. J. (1982). PNAS 79:2554-2558. doi:10.1073/pnas.79.8.2554
Amit, D. J., Gutfreund, H. & Sompolinsky, H. (1985). Phys. Rev. Lett. 55:1530.
doi:10.1103/PhysRevLett.55.1530
Ramsauer, H. et al. (2021). Hopfield Networks is All You Need. ICLR.
arXiv:2008.02217
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import torch
from torch import Tensor

from neurodl._validate import check_int, check_option, check_positive
from neurodl.errors import ShapeError, ValidationError
from neurodl.learning._hebbian_common import as_float, resolve_engine

__all__ = [
    "HOPFIELD_MODES",
    "CapacityCurve",
    "HopfieldRecall",
    "capacity_curve",
    "flip_bits",
    "hopfield_energy",
    "hopfield_overlap",
    "hopfield_recall",
    "hopfield_sync_step",
    "hopfield_update",
    "hopfield_weights",
    "modern_hopfield_energy",
    "modern_hopfield_retrieve",
    "modern_hopfield_step",
]

HOPFIELD_MODES = ("async", "sync")
"""Update orders of :func:`hopfield_recall`."""


# ------------------------------------------------------------------ checks
def _check_pm1(name: str, x: Any) -> Tensor:
    """Return ``x`` as a float tensor if every entry is -1 or +1."""
    x = as_float(name, x)
    bad = (x != 1) & (x != -1)
    if bool(bad.any()):
        where = tuple(int(i) for i in bad.nonzero()[0])
        raise ValidationError(
            f"{name!r} must hold only -1 and +1 (bipolar states); got "
            f"{float(x[where])!r} at index {where}."
        )
    return x


def _check_weights(weights: Any) -> Tensor:
    w = as_float("weights", weights)
    if w.ndim != 2 or w.shape[0] != w.shape[1]:
        raise ShapeError(
            "'weights' must be a square (n_neurons, n_neurons) matrix; got shape "
            f"{tuple(w.shape)}."
        )
    return w


def _check_state(name: str, state: Any, n: int, weights: Tensor) -> Tensor:
    s = _check_pm1(name, state)
    if s.ndim not in (1, 2) or s.shape[-1] != n:
        raise ShapeError(
            f"{name!r} must have shape ({n},) or (batch, {n}) to match 'weights' of "
            f"shape {tuple(weights.shape)}; got shape {tuple(s.shape)}."
        )
    return s.to(dtype=weights.dtype, device=weights.device)


def _batched(s: Tensor) -> Tensor:
    return s if s.ndim == 2 else s[None]


# --------------------------------------------------------------- classic net
def hopfield_weights(patterns: Tensor) -> Tensor:
    """Hebbian storage ``J = (1/N) sum_mu xi^mu (xi^mu)^T`` with a zero diagonal.

    Parameters
    ----------
    patterns : Tensor, shape (n_patterns, n_neurons)
        The patterns ``xi^mu``, entries -1 or +1.

    Returns
    -------
    Tensor, shape (n_neurons, n_neurons)
        Symmetric ``J`` with ``J_ii = 0``.

    References
    ----------
    Hopfield (1982), PNAS 79:2554. doi:10.1073/pnas.79.8.2554

    Examples
    --------
    >>> hopfield_weights(torch.tensor([[1.0, -1.0, 1.0]], dtype=torch.float64))
    tensor([[ 0.0000, -0.3333,  0.3333],
            [-0.3333,  0.0000, -0.3333],
            [ 0.3333, -0.3333,  0.0000]], dtype=torch.float64)
    """
    xi = _check_pm1("patterns", patterns)
    if xi.ndim != 2:
        raise ShapeError(
            "'patterns' must be 2-D with axes (n_patterns, n_neurons); got shape "
            f"{tuple(xi.shape)}."
        )
    j = xi.T @ xi / xi.shape[1]
    j.fill_diagonal_(0.0)
    return j


def hopfield_energy(weights: Tensor, state: Tensor) -> Tensor:
    """Energy ``E(s) = -1/2 s^T J s`` of a state (or a batch of states).

    Parameters
    ----------
    weights : Tensor, shape (n_neurons, n_neurons)
    state : Tensor, shape (n_neurons,) or (batch, n_neurons), entries -1 or +1

    Returns
    -------
    Tensor, shape () or (batch,)
    """
    j = _check_weights(weights)
    s = _check_state("state", state, j.shape[0], j)
    return -0.5 * ((s @ j) * s).sum(-1)


def _tie_tol(j: Tensor) -> Tensor:
    """Per neuron, the rounding bound of ``h_i``: ``N eps sum_j |J_ij|``.

    A field within it is a tie: exact ties (common, e.g. an even number of
    patterns) come out of floating-point sums as +-1e-17 noise whose sign
    depends on the summation order.
    """
    return j.shape[0] * torch.finfo(j.dtype).eps * j.abs().sum(1)


def _sign_keep(h: Tensor, s: Tensor, tol: Tensor) -> Tensor:
    """``sign(h)``, keeping ``s`` where ``|h| <= tol``."""
    return torch.where(h > tol, 1.0, torch.where(h < -tol, -1.0, s)).to(s.dtype)


def _async_update(j: Tensor, s: Tensor, index: Tensor, tol: Tensor) -> Tensor:
    """Update neuron ``index[b]`` of row ``b`` (s: (B, N), float) in place."""
    rows = torch.arange(s.shape[0], device=s.device)
    h = (j[index] * s).sum(1)
    s[rows, index] = _sign_keep(h, s[rows, index], tol[index])
    return s


def hopfield_update(weights: Tensor, state: Tensor, index: Tensor | int) -> Tensor:
    """One asynchronous update: ``s_i <- sign(sum_j J_ij s_j)`` for one neuron.

    A tie keeps ``s_i``: ``|h_i| <= N eps sum_j |J_ij|`` (``eps`` of the dtype),
    the rounding bound of the sum, so exact ties decide the same way whatever the
    summation order. With a symmetric ``J`` and zero diagonal
    the energy cannot rise: ``dE = -(s_i' - s_i) h_i <= 0``.

    Parameters
    ----------
    weights : Tensor, shape (n_neurons, n_neurons)
    state : Tensor, shape (n_neurons,) or (batch, n_neurons), entries -1 or +1
    index : int or Tensor of int, shape (batch,)
        The neuron to update (one per row of a batch).

    Returns
    -------
    Tensor
        The new state (a copy), shape of ``state``.
    """
    j = _check_weights(weights)
    s = _check_state("state", state, j.shape[0], j)
    sb = _batched(s).clone()
    idx = torch.as_tensor(index, device=sb.device)
    if idx.dtype not in (torch.int32, torch.int64) or idx.ndim > 1:
        raise ValidationError(
            f"'index' must be an int or a 1-D integer tensor; got {index!r}."
        )
    idx = idx.to(torch.int64).expand(sb.shape[0])
    if bool(((idx < 0) | (idx >= j.shape[0])).any()):
        raise ValidationError(
            f"'index' must be in [0, {j.shape[0]}); got {idx.tolist()!r}."
        )
    out = _async_update(j, sb, idx, _tie_tol(j))
    return out if s.ndim == 2 else out[0]


def hopfield_sync_step(weights: Tensor, state: Tensor) -> Tensor:
    """One synchronous update of every neuron: ``s <- sign(J s)`` (ties keep ``s``).

    Unlike asynchronous updates, this can end in a two-cycle instead of a fixed
    point.

    Parameters
    ----------
    weights : Tensor, shape (n_neurons, n_neurons)
    state : Tensor, shape (n_neurons,) or (batch, n_neurons)

    Returns
    -------
    Tensor
        The new state, shape of ``state``.
    """
    j = _check_weights(weights)
    s = _check_state("state", state, j.shape[0], j)
    return _sign_keep(s @ j.T, s, _tie_tol(j))


class HopfieldRecall(NamedTuple):
    """What :func:`hopfield_recall` returns.

    Attributes
    ----------
    states : Tensor, shape of the cues
        Final states.
    n_sweeps : Tensor, shape (batch,), int64
        Sweeps run per cue, including the last one that changed nothing.
    converged : Tensor, shape (batch,), bool
        Whether a sweep left the state unchanged (a fixed point).
    """

    states: Tensor
    n_sweeps: Tensor
    converged: Tensor


def hopfield_recall(
    weights: Tensor,
    cues: Tensor,
    *,
    mode: str = "async",
    max_sweeps: int = 100,
    seed: int = 0,
    engine: str = "auto",
) -> HopfieldRecall:
    """Run the sign dynamics from each cue until a sweep changes nothing.

    ``mode="async"``: each sweep updates every neuron once with
    :func:`hopfield_update`, in a fresh random order per cue (seeded); the energy
    never rises and the state ends at a fixed point. ``mode="sync"``: each sweep
    is one :func:`hopfield_sync_step`.

    Parameters
    ----------
    weights : Tensor, shape (n_neurons, n_neurons)
    cues : Tensor, shape (n_neurons,) or (batch, n_neurons), entries -1 or +1
    mode : {"async", "sync"}
    max_sweeps : int
        Upper bound on sweeps (>= 1).
    seed : int
        Seeds the update orders.
    engine : {"auto", "numba", "torch"}
        For ``async``: a compiled loop (CPU float32/float64) or torch calls per
        update (any device); the same updates in the same order.

    Returns
    -------
    HopfieldRecall

    Examples
    --------
    >>> xi = torch.tensor([[1.0, -1.0, 1.0, -1.0, 1.0]], dtype=torch.float64)
    >>> cue = xi.clone()
    >>> cue[0, 0] = -1.0
    >>> hopfield_recall(hopfield_weights(xi), cue).states
    tensor([[ 1., -1.,  1., -1.,  1.]], dtype=torch.float64)
    """
    j = _check_weights(weights).detach()
    s0 = _check_state("cues", cues, j.shape[0], j).detach()
    check_option("mode", mode, HOPFIELD_MODES)
    check_int("max_sweeps", max_sweeps, minimum=1)
    gen = torch.Generator().manual_seed(check_int("seed", seed, minimum=0))
    eng = resolve_engine(engine, j)
    tol = _tie_tol(j)
    s = _batched(s0).clone()
    b, n = s.shape
    n_sweeps = torch.zeros(b, dtype=torch.int64)
    done = torch.zeros(b, dtype=torch.bool)
    if eng == "numba" and mode == "async":
        from neurodl.learning._hebbian_kernels import hopfield_sweeps

        jn, tn = j.contiguous().numpy(), tol.numpy()
    for _ in range(max_sweeps):
        active = (~done).nonzero().flatten()
        if active.numel() == 0:
            break
        act = active.to(s.device)
        sa = s[act]
        if mode == "sync":
            new = _sign_keep(sa @ j.T, sa, tol)
            changed = (new != sa).any(1).cpu()
            sa = new
        else:
            order = torch.argsort(torch.rand(b, n, generator=gen), dim=1)[active]
            if eng == "numba":
                sn = sa.contiguous().numpy()
                ch = torch.zeros(sn.shape[0], dtype=torch.bool)
                hopfield_sweeps(jn, sn, order.numpy(), tn, ch.numpy())
                changed = ch
            else:
                before = sa.clone()
                order = order.to(s.device)
                for t in range(n):
                    _async_update(j, sa, order[:, t], tol)
                changed = (sa != before).any(1).cpu()
        s[act] = sa
        n_sweeps[active] += 1
        done[active] = ~changed
    states = s if s0.ndim == 2 else s[0]
    return HopfieldRecall(states=states, n_sweeps=n_sweeps, converged=done)


def hopfield_overlap(state: Tensor, patterns: Tensor) -> Tensor:
    """Overlap ``m = (1/N) xi . s`` of states with patterns, row by row.

    Parameters
    ----------
    state : Tensor, shape (n_neurons,) or (batch, n_neurons)
    patterns : Tensor, same shape as ``state``

    Returns
    -------
    Tensor, shape () or (batch,)
        1 for a perfect recall, about 0 for an unrelated state.
    """
    s = as_float("state", state)
    xi = as_float("patterns", patterns).to(s.dtype)
    if s.shape != xi.shape or s.ndim not in (1, 2):
        raise ShapeError(
            "'state' and 'patterns' must have the same shape, (n_neurons,) or "
            f"(batch, n_neurons); got {tuple(s.shape)} and {tuple(xi.shape)}."
        )
    return (s * xi).sum(-1) / s.shape[-1]


def flip_bits(patterns: Tensor, n_flips: int, *, seed: int = 0) -> Tensor:
    """Copy bipolar patterns with exactly ``n_flips`` random entries of each negated.

    Parameters
    ----------
    patterns : Tensor, shape (n_neurons,) or (batch, n_neurons)
    n_flips : int
        Entries to flip per pattern, 0 to ``n_neurons``.
    seed : int

    Returns
    -------
    Tensor
        The corrupted copies, shape of ``patterns``.
    """
    xi = as_float("patterns", patterns)
    if xi.ndim not in (1, 2):
        raise ShapeError(
            "'patterns' must be (n_neurons,) or (batch, n_neurons); got shape "
            f"{tuple(xi.shape)}."
        )
    check_int("n_flips", n_flips, minimum=0)
    if n_flips > xi.shape[-1]:
        raise ValidationError(
            f"'n_flips' must be <= n_neurons ({xi.shape[-1]}); got {n_flips}."
        )
    gen = torch.Generator().manual_seed(check_int("seed", seed, minimum=0))
    x2 = _batched(xi).clone()
    pick = torch.argsort(torch.rand(x2.shape, generator=gen), dim=1)[:, :n_flips]
    x2.scatter_(1, pick.to(x2.device), -x2.gather(1, pick.to(x2.device)))
    return x2 if xi.ndim == 2 else x2[0]


class CapacityCurve(NamedTuple):
    """What :func:`capacity_curve` returns (data for an overlap-vs-load figure).

    Attributes
    ----------
    loads : Tensor, shape (n_loads,)
        ``alpha = P / N`` as run (``P`` rounded).
    n_patterns : Tensor, shape (n_loads,), int64
    overlap : Tensor, shape (n_loads,)
        Mean final overlap with the cued pattern, over trials and cues.
    overlap_std : Tensor, shape (n_loads,)
    """

    loads: Tensor
    n_patterns: Tensor
    overlap: Tensor
    overlap_std: Tensor


def capacity_curve(
    n_neurons: int = 400,
    loads: Sequence[float] = (0.05, 0.10, 0.12, 0.14, 0.16, 0.20, 0.30),
    *,
    n_trials: int = 3,
    n_cues: int = 10,
    n_flips: int = 0,
    mode: str = "async",
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
) -> CapacityCurve:
    """Recall overlap of a Hebbian Hopfield network against its load ``P / N``.

    For each load and trial: ``P = round(alpha N)`` random patterns (entries +-1
    with probability 1/2) stored with :func:`hopfield_weights`; the first
    ``n_cues`` patterns (each with ``n_flips`` bits flipped) recalled with
    :func:`hopfield_recall`; the final :func:`hopfield_overlap` with the cued pattern.
    The overlap stays near 1 below the capacity ``alpha_c ~ 0.138`` and drops
    above it (Amit, Gutfreund & Sompolinsky 1985).

    Parameters
    ----------
    n_neurons : int
    loads : sequence of float
        Each > 0.
    n_trials : int
        Independent pattern sets per load.
    n_cues : int
        Patterns recalled per trial (at most ``P``).
    n_flips : int
        Bits flipped in each cue.
    mode : {"async", "sync"}
    seed : int
    dtype : torch.dtype

    Returns
    -------
    CapacityCurve
    """
    check_int("n_neurons", n_neurons, minimum=2)
    if isinstance(loads, str) or not isinstance(loads, Sequence) or not loads:
        raise ValidationError(
            f"'loads' must be a non-empty sequence of numbers > 0; got {loads!r}."
        )
    for i, a in enumerate(loads):
        check_positive(f"loads[{i}]", a)
    check_int("n_trials", n_trials, minimum=1)
    check_int("n_cues", n_cues, minimum=1)
    check_int("n_flips", n_flips, minimum=0)
    check_option("mode", mode, HOPFIELD_MODES)
    gen = torch.Generator().manual_seed(check_int("seed", seed, minimum=0))
    n_pat, means, stds = [], [], []
    for alpha in loads:
        p = max(1, round(alpha * n_neurons))
        m = []
        for _ in range(n_trials):
            xi = torch.randint(0, 2, (p, n_neurons), generator=gen).to(dtype) * 2 - 1
            cued = xi[: min(n_cues, p)]
            sub = int(torch.randint(0, 2**31 - 1, (1,), generator=gen))
            cues = flip_bits(cued, n_flips, seed=sub) if n_flips else cued
            res = hopfield_recall(hopfield_weights(xi), cues, mode=mode, seed=sub)
            m.append(hopfield_overlap(res.states, cued))
        mm = torch.cat(m)
        n_pat.append(p)
        means.append(mm.mean())
        stds.append(mm.std(correction=0))
    return CapacityCurve(
        loads=torch.tensor(n_pat, dtype=dtype) / n_neurons,
        n_patterns=torch.tensor(n_pat, dtype=torch.int64),
        overlap=torch.stack(means),
        overlap_std=torch.stack(stds),
    )


# ---------------------------------------------------------------- modern net
def _check_modern(patterns: Any, state: Any, beta: Any) -> tuple[Tensor, Tensor]:
    check_positive("beta", beta)
    x = as_float("patterns", patterns)
    if x.ndim != 2:
        raise ShapeError(
            "'patterns' must be 2-D with axes (n_patterns, n_features); got shape "
            f"{tuple(x.shape)}."
        )
    s = as_float("state", state).to(dtype=x.dtype, device=x.device)
    if s.ndim not in (1, 2) or s.shape[-1] != x.shape[1]:
        raise ShapeError(
            f"'state' must have shape ({x.shape[1]},) or (batch, {x.shape[1]}) to "
            f"match 'patterns' of shape {tuple(x.shape)}; got shape "
            f"{tuple(s.shape)}."
        )
    return x, s


def modern_hopfield_step(patterns: Tensor, state: Tensor, beta: float = 1.0) -> Tensor:
    """One update of the modern Hopfield network: ``xi <- softmax(beta xi X^T) X``.

    This is Ramsauer et al.'s ``xi_new = X softmax(beta X^T xi)`` with the
    patterns as rows; for a batch of states, attention with queries ``state``
    and keys = values = ``patterns``.

    Parameters
    ----------
    patterns : Tensor, shape (n_patterns, n_features)
        Stored patterns ``x_i`` (any real values).
    state : Tensor, shape (n_features,) or (batch, n_features)
    beta : float
        Inverse temperature (> 0).

    Returns
    -------
    Tensor
        The new state, shape of ``state``.

    References
    ----------
    Ramsauer et al. (2021), ICLR. arXiv:2008.02217

    Examples
    --------
    >>> x = torch.tensor([[1.0, 1.0], [1.0, -1.0]], dtype=torch.float64)
    >>> modern_hopfield_step(x, torch.tensor([0.9, 0.8], dtype=torch.float64), 20.0)
    tensor([1.0000, 1.0000], dtype=torch.float64)
    """
    x, s = _check_modern(patterns, state, beta)
    return torch.softmax(beta * (s @ x.T), dim=-1) @ x


def modern_hopfield_energy(
    patterns: Tensor, state: Tensor, beta: float = 1.0
) -> Tensor:
    """Energy ``E = -lse(beta, X^T xi) + 1/2 xi^T xi + log(M)/beta + 1/2 max|x_i|^2``.

    ``lse(beta, z) = beta^-1 log sum_i exp(beta z_i)`` and ``M`` is the number of
    patterns. :func:`modern_hopfield_step` never increases it (it is a
    concave-convex procedure on ``E``), and ``E >= 0``.

    Parameters
    ----------
    patterns : Tensor, shape (n_patterns, n_features)
    state : Tensor, shape (n_features,) or (batch, n_features)
    beta : float
        Inverse temperature (> 0).

    Returns
    -------
    Tensor, shape () or (batch,)

    References
    ----------
    Ramsauer et al. (2021), ICLR. arXiv:2008.02217
    """
    x, s = _check_modern(patterns, state, beta)
    lse = torch.logsumexp(beta * (s @ x.T), dim=-1) / beta
    big = 0.5 * (x * x).sum(1).max()
    return -lse + 0.5 * (s * s).sum(-1) + math.log(x.shape[0]) / beta + big


def modern_hopfield_retrieve(
    patterns: Tensor, state: Tensor, beta: float = 1.0, *, n_steps: int = 1
) -> Tensor:
    """Apply :func:`modern_hopfield_step` ``n_steps`` times (one usually suffices).

    Parameters
    ----------
    patterns : Tensor, shape (n_patterns, n_features)
    state : Tensor, shape (n_features,) or (batch, n_features)
        The cues.
    beta : float
    n_steps : int
        Updates (>= 1).

    Returns
    -------
    Tensor
        The retrieved states, shape of ``state``.
    """
    x, s = _check_modern(patterns, state, beta)
    check_int("n_steps", n_steps, minimum=1)
    for _ in range(n_steps):
        s = torch.softmax(beta * (s @ x.T), dim=-1) @ x
    return s
