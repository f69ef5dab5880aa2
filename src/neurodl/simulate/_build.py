"""Building a :class:`~neurodl.simulate.Network`: index spaces, synapses, state.

Called by :meth:`Network.build` (and, restricted to the synapses onto a range of
neurons, by a process of a distributed run); the synapse tables themselves are
drawn by :func:`neurodl.simulate._tables.build_tables`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from neurodl._validate import check_option
from neurodl.errors import ShapeError, ValidationError
from neurodl.simulate import _models
from neurodl.simulate.groups import (
    ConductanceSynapse,
    CurrentSynapse,
    DeltaSynapse,
    InitSpec,
    Population,
    Synapse,
)

if TYPE_CHECKING:
    from neurodl.simulate.network import Network

__all__ = ["build_network", "check_synapse"]


def check_synapse(synapse: Any, post: Population) -> Synapse:
    synapse = CurrentSynapse() if synapse is None else synapse
    if not isinstance(synapse, CurrentSynapse | ConductanceSynapse | DeltaSynapse):
        raise ValidationError(
            "'synapse' must be CurrentSynapse, ConductanceSynapse or DeltaSynapse; "
            f"got {type(synapse).__name__}."
        )
    if isinstance(synapse, DeltaSynapse) and _models.model_kind(post.params) >= 2:
        raise ValidationError(
            "'synapse': DeltaSynapse (v += w) drives LIF and ALIF populations; "
            f"{post.name!r} is {type(post.params).__name__}, whose input enters "
            "its equation as a current: use CurrentSynapse."
        )
    return synapse


def _draw(spec: InitSpec, n: int, rng: np.random.Generator, what: str) -> np.ndarray:
    if isinstance(spec, int | float) and not isinstance(spec, bool):
        return np.full(n, float(spec))
    if isinstance(spec, tuple) and len(spec) == 3 and isinstance(spec[0], str):
        kind, a, b = spec
        check_option(f"{what} distribution", kind, ("uniform", "normal"))
        if kind == "uniform":
            return rng.uniform(float(a), float(b), size=n)
        return rng.normal(float(a), float(b), size=n)
    arr = np.asarray(spec, dtype=np.float64)
    if arr.shape != (n,):
        raise ShapeError(f"{what!r} must have shape ({n},); got {arr.shape}.")
    return arr


def build_network(net: Network, targets: tuple[int, int] | None = None) -> None:
    """Build ``net``; ``targets``: only the synapses onto LIF neurons ``[lo, hi)``."""
    if net.built:
        return
    t0 = time.perf_counter()
    if not net.populations:
        raise ValidationError("the network has no population; add one first.")
    rng = net._rng
    offset = 0
    for pop in net.populations:
        pop.start = offset
        offset += pop.n
        if pop.method == "auto":
            pop.method = (
                "exact"
                if all(
                    isinstance(s, CurrentSynapse | DeltaSynapse) for s in pop.channels
                )
                else "euler"
            )
        elif pop.method == "exact" and not all(
            isinstance(s, CurrentSynapse | DeltaSynapse) for s in pop.channels
        ):
            raise ValidationError(
                f"population {pop.name!r}: method 'exact' needs current "
                "synapses only (conductance synapses make v nonlinear); use "
                "'euler'."
            )
    net.n_lif = offset
    for src in net.sources:
        src.start = offset
        offset += src.n
        src.seed = int(rng.integers(2**63))
        src.rng = np.random.default_rng(src.seed)
    net.n_all = offset
    # synaptic channels: one flat vector, channel by channel
    net.channels = []
    g_off = 0
    for pop in net.populations:
        for syn in pop.channels:
            net.channels.append((pop, syn, g_off))
            g_off += pop.n
    net.n_g = g_off
    ch_offset = {(p.index, s): off for p, s, off in net.channels}
    from neurodl.simulate._tables import build_tables

    build_tables(net, targets, ch_offset)
    net.max_delay = int(net._dly.max()) if net._dly.size else 0
    # initial state
    batch = net.batch
    v = np.empty((batch, net.n_lif))
    aux = np.zeros((batch, net.n_lif))  # ALIF b, Izhikevich u, AdEx w
    g = np.zeros((batch, net.n_g))
    for b in range(batch):
        for pop in net.populations:
            spec = pop.v0 if pop.v0 is not None else _models.rest_potential(pop.params)
            v[b, pop.start : pop.start + pop.n] = _draw(spec, pop.n, rng, "v0")
            aux[b, pop.start : pop.start + pop.n] = _models.initial_aux(
                pop.params, v[b, pop.start : pop.start + pop.n]
            )
        for pop, syn, off in net.channels:
            if syn in pop.g0:
                g[b, off : off + pop.n] = _draw(pop.g0[syn], pop.n, rng, "g0")
    net.v = torch.as_tensor(v, dtype=net.dtype, device=net.device)
    net.g = torch.as_tensor(g, dtype=net.dtype, device=net.device)
    net.aux = torch.as_tensor(aux, dtype=net.dtype, device=net.device)
    net._aux0 = net.aux.clone()
    net.refr = torch.zeros((batch, net.n_lif), dtype=torch.int64, device=net.device)
    theta = np.zeros((batch, net.n_lif))
    for pop in net.populations:
        if pop.adaptation is not None:
            theta[:, pop.start : pop.start + pop.n] = pop.adaptation.theta0
    net.theta = torch.as_tensor(theta, dtype=net.dtype, device=net.device)
    from neurodl.simulate.plasticity import PlasticState

    net._plastic = (
        PlasticState(net)
        if any(p.plasticity is not None for p in net.projections)
        else None
    )
    np_dtype = np.float64 if net.dtype == torch.float64 else np.float32
    net._ring = np.zeros((net.max_delay + 1, net.n_g), np_dtype)  # numba
    net._pending = {}  # torch path: step -> input
    net._initial = (net.v.clone(), net.g.clone())
    net.built = True
    net.setup_seconds += time.perf_counter() - t0
