"""Windowed run loops of a distributed network (see :mod:`.distributed`).

Both loops repeat the single-process loops of :mod:`neurodl.simulate._runner`
step for step, with the propagation of a window's spikes deferred to its last
step, after the exchange.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from neurodl.errors import ValidationError
from neurodl.simulate import _delivery, _models
from neurodl.simulate._keyed import TorchPoisson, poisson_tables
from neurodl.simulate._runner import _progress, _source_schedule, _step_tables
from neurodl.simulate._tables import kernel_weights
from neurodl.simulate._torch_runner import _Layout, _Propagator
from neurodl.simulate.distributed import window_steps
from neurodl.simulate.plasticity import adaptation_vectors, theta_table
from neurodl.simulate.stream_monitors import deliver

if TYPE_CHECKING:
    from neurodl.simulate.distributed import Distributed
    from neurodl.simulate.network import Network

__all__ = ["run_numba_windows", "run_torch_windows"]


def _window_sources(
    src_step: np.ndarray, src_gidx: np.ndarray, kw: int, todo: int, n_all: int
) -> np.ndarray:
    """Codes ``(step - kw) n_all + index`` of the source spikes of a window."""
    a, b = np.searchsorted(src_step, [kw, kw + todo])
    return (src_step[a:b] - kw) * n_all + src_gidx[a:b]


def _merge(
    dist_: Distributed, local: np.ndarray, sources: np.ndarray, kw: int, n_all: int
) -> tuple[np.ndarray, np.ndarray]:
    """Every spike of the window, in global (step, index) order."""
    codes = dist_.exchange(local)
    if sources.size:
        codes = np.concatenate((codes, sources))
    codes = np.sort(codes)
    return kw + codes // n_all, codes % n_all


def _to_monitors(net: Network, steps: list[np.ndarray], idx: list[np.ndarray]) -> None:
    """Hand the run's global spike record (all processes) to every monitor."""
    s_all = np.concatenate(steps) if steps else np.zeros(0, np.int64)
    i_all = np.concatenate(idx) if idx else np.zeros(0, np.int64)
    deliver(net, s_all, i_all, int(net.step))


def _own_tables(net: Network, lo: int, hi: int) -> tuple[np.ndarray, ...]:
    """Owned part of each population, of ``g`` and of each Poisson input."""
    own_bounds = np.zeros((len(net.populations), 3), np.int64)
    for p, pop in enumerate(net.populations):
        s0 = min(max(lo, pop.start), pop.start + pop.n)
        s1 = max(min(hi, pop.start + pop.n), s0)
        own_bounds[p] = [s0, s1, pop.start]
    own_g = []
    for pop, _syn, off in net.channels:
        s0, s1 = own_bounds[pop.index, :2]
        if s1 > s0:
            own_g.append([off + s0 - pop.start, off + s1 - pop.start])
    own_g_a = np.asarray(own_g, np.int64).reshape(-1, 2)
    pin_own = np.zeros((len(net.poisson_inputs), 2), np.int64)
    for q, inp in enumerate(net.poisson_inputs):
        s0, s1 = own_bounds[inp.pop.index, :2]
        pin_own[q] = [s0 - inp.pop.start, s1 - inp.pop.start]
    return own_bounds, own_g_a, pin_own


def run_numba_windows(
    net: Network, dist_: Distributed, n_steps: int, show: bool
) -> None:
    """Run the compiled path of a distributed run."""
    from neurodl.simulate._dist_numba import deliver, local_steps

    if net._pending:
        raise ValidationError(
            "delayed spikes from a tensor-path run are in flight; continue with "
            "backend 'torch' (switching paths mid-delay is not supported)."
        )
    np_dtype = np.float64 if net.dtype == torch.float64 else np.float32
    pops = net.populations
    n_pop = len(pops)
    pop_method = np.array([0 if p.method == "exact" else 1 for p in pops], np.int64)
    pop_f, pop_ref, ch_pop, ch_kind, ch_off, ch_f = _step_tables(net, np_dtype)
    pop_ch = np.full((n_pop, 2), -1, np.int64)
    for c, p_i in enumerate(ch_pop):
        pop_ch[p_i, int((ch_pop[:c] == p_i).sum())] = c
    if not ch_pop.size:
        ch_kind, ch_off = np.zeros(1, np.int64), np.zeros(1, np.int64)
        ch_f = np.zeros((1, 3), np_dtype)
    w = kernel_weights(net, np_dtype)  # CSR order (kept while unchanged)
    net.v = net.v.detach().clone()
    net.g = net.g.detach().clone()
    net.refr = net.refr.clone()
    net.aux = net.aux.detach().clone()
    v, refr, g, aux = (x[0].numpy() for x in (net.v, net.refr, net.g, net.aux))
    pop_model, pop_mf = _models.model_table(net, np_dtype)
    if net._ring.dtype != np_dtype:
        net._ring = net._ring.astype(np_dtype)
    ring = net._ring
    touched = np.zeros(net.n_g, np.uint8)
    touched_list = np.zeros(net.n_g, np.int64)
    src_step, src_gidx = _source_schedule(net, net.step, n_steps)
    zero = np.zeros(2 * max(p.n for p in pops), np_dtype)
    spk = np.zeros(net.n_all, np.int64)
    theta = net.theta[0].numpy()
    pop_theta = theta_table(net, np_dtype)
    pin_i, pin_key, pin_w, pin_cdf, pin_guide = poisson_tables(net, np_dtype)
    compiled = dist_.shm is not None or dist_.world == 1
    no_pull = np.zeros(0, np.int64)
    gptr, bk, bk_n = _delivery.delivery_tables(net, pull=compiled)
    own_bounds, own_g, pin_own = _own_tables(net, dist_.lo, dist_.hi)
    width = window_steps(dist_)
    n_own = dist_.hi - dist_.lo
    out_step = np.zeros(width * n_own + 1, np.int64)
    out_idx = np.zeros(width * n_own + 1, np.int64)
    n_all = net.n_all
    rec_s: list[np.ndarray] = []
    rec_i: list[np.ndarray] = []
    if compiled:
        args = (
            v, refr, g, own_bounds, pop_method, pop_f, pop_ref, pop_ch, ch_kind,
            ch_off, ch_f, ring, np.zeros_like(ring[:2]), own_g, zero, spk, theta,
            pop_theta, aux, pop_model, pop_mf, pin_i, pin_key, pin_w, pin_cdf,
            pin_guide, pin_own, net._indptr, net._tgt, w, net._dly, touched,
            touched_list, bk, bk_n,
        )  # fmt: skip
        try:  # the buckets replayed: the ring holds every event in flight
            _compiled_windows(
                net, dist_, n_steps, show, width, src_step, src_gidx, gptr,
                (ring, net._tgt, w), args,
            )  # fmt: skip
        finally:
            _delivery.spill_all(ring, bk, bk_n)
        return
    done = 0
    try:
        with _progress(show, n_steps) as bar:
            task = bar.add_task("run", total=n_steps) if bar is not None else None
            while done < n_steps:
                todo = min(width, n_steps - done)
                kw = net.step
                n_loc = local_steps(
                    kw, todo, True, v, refr, g, own_bounds, pop_method, pop_f, pop_ref,
                    pop_ch, ch_kind, ch_off, ch_f, ring, ring, own_g, zero, spk,
                    theta, pop_theta, aux, pop_model, pop_mf, pin_i, pin_key, pin_w,
                    pin_cdf, pin_guide, pin_own, bk, bk_n, out_step, out_idx, 0,
                    no_pull, no_pull, no_pull, net._tgt, w, 0,
                )  # fmt: skip
                local = (out_step[:n_loc] - kw) * n_all + out_idx[:n_loc]
                sources = _window_sources(src_step, src_gidx, kw, todo, n_all)
                sp_step, sp_idx = _merge(dist_, local, sources, kw, n_all)
                deliver(
                    kw + todo - 1, sp_step, sp_idx, g, net._indptr, net._tgt, w,
                    net._dly, ring, touched, touched_list, own_g, pin_i, pin_key,
                    pin_w, pin_cdf, pin_guide, pin_own, bk, bk_n,
                )  # fmt: skip
                rec_s.append(sp_step)
                rec_i.append(sp_idx)
                net.step += todo
                done += todo
                if bar is not None:
                    bar.update(task, completed=done)
    finally:
        _delivery.spill_all(ring, bk, bk_n)
    _to_monitors(net, rec_s, rec_i)


_SPINS = 5_000  # pause instructions (~0.2 ms) before a wait yields the CPU


def _compiled_windows(
    net: Network,
    dist_: Distributed,
    n_steps: int,
    show: bool,
    width: int,
    src_step: np.ndarray,
    src_gidx: np.ndarray,
    gptr: np.ndarray,
    ring_tgt_w: tuple[np.ndarray, ...],
    args: tuple,
) -> None:
    """Whole windows in one compiled call, the shared-memory exchange inside.

    Pulling (``gptr`` not empty), the run's record of every spike is the history
    that the steps pull from; at the end, the synapses of its last spikes that
    arrive later are pushed into the ring.
    """
    import os
    import time

    from neurodl.simulate._dist_numba import run_windows

    n_all = net.n_all
    shm = dist_.shm
    buf = shm.buf if shm is not None else np.zeros((1, 2, 2), np.int64)
    cap = max(4 * n_all, 1 << 16)
    rec_step = np.zeros(cap, np.int64)
    rec_idx = np.zeros(cap, np.int64)
    n_rec = np.zeros(1, np.int64)
    sp_step = np.zeros(width * n_all + 1, np.int64)
    sp_idx = np.zeros(width * n_all + 1, np.int64)
    n_own = dist_.hi - dist_.lo
    loc_step = np.zeros(width * n_own + 1, np.int64)
    loc_idx = np.zeros(width * n_own + 1, np.int64)
    ptr = np.zeros(dist_.world + 1, np.int64)
    src_pos = np.zeros(1, np.int64)
    seq = shm.seq if shm is not None else 0
    resume = False
    done = 0
    k_first = int(net.step)
    hist_ptr = np.zeros(n_steps + 1 if gptr.size else 1, np.int64)
    last = time.monotonic()
    try:
        with _progress(show, n_steps) as bar:
            task = bar.add_task("run", total=n_steps) if bar is not None else None
            while done < n_steps:
                did, status, seq = run_windows(
                    net.step, n_steps - done, width, resume, _SPINS, buf, dist_.rank,
                    dist_.world, seq, n_all, src_step, src_gidx, src_pos, rec_step,
                    rec_idx, n_rec, sp_step, sp_idx, loc_step, loc_idx, ptr, k_first,
                    hist_ptr, gptr, *args,
                )  # fmt: skip
                net.step += did
                done += did
                resume = status == 1
                now = time.monotonic()
                if did:
                    last = now
                if status == 1:  # waiting longer than the spin: yield the CPU
                    dist_.extra["yields"] = dist_.extra.get("yields", 0) + 1
                    if now - last > dist_.timeout_s:
                        assert shm is not None
                        shm.timed_out()
                    os.sched_yield()
                elif status == 2:
                    cap *= 2
                    rec_step = np.resize(rec_step, cap)
                    rec_idx = np.resize(rec_idx, cap)
                if bar is not None:
                    bar.update(task, completed=done)
    finally:  # the ring again holds every event in flight
        if gptr.size:
            ring, tgt, w = ring_tgt_w
            _delivery.push_tail(
                int(net.step), k_first, hist_ptr, rec_idx, ring, gptr, tgt, w
            )
    if shm is not None:
        shm.seq = seq
    dist_.extra["spins"] = dist_.extra.get("spins", 0) + int(ptr[dist_.world])
    dist_.windows += -(-n_steps // width)  # (the compiled wait is not timed)
    n = int(n_rec[0])
    _to_monitors(net, [rec_step[:n]], [rec_idx[:n]])


def run_torch_windows(
    net: Network, dist_: Distributed, n_steps: int, show: bool, propagation: str
) -> None:
    """Run the tensor path of a distributed run (batch 1, no gradient).

    Every process integrates all neurons (whole-vector operations), but only its
    own neurons receive synaptic input and only their spikes are sent; the
    others' come from the exchange.
    """
    if net._ring.any():
        raise ValidationError(
            "delayed spikes from a compiled-path run are in flight; continue with "
            "backend 'numba' (switching paths mid-delay is not supported)."
        )
    dev, dtype = net.device, net.dtype
    lo, hi, n_all = dist_.lo, dist_.hi, net.n_all
    with torch.no_grad():
        lay = _Layout(net, False)
        prop = _Propagator(net, False, propagation, lay.flat_to_slot, lay.k * lay.n)
        v, refr, theta, aux = net.v, net.refr, net.theta, net.aux
        adapt = adaptation_vectors(net)
        mods = (
            _models.TorchModels(net, lay.cond_lists, lay.erev_lists)
            if any(_models.model_kind(p.params) for p in net.populations)
            else None
        )
        gs = lay.to_slots(net.g)
        pending = {key: lay.to_slots(x) for key, x in net._pending.items()}
        src_step, src_gidx = _source_schedule(net, net.step, n_steps)
        poisson = (
            TorchPoisson(net, lay.n, lay.flat_to_slot) if net.poisson_inputs else None
        )
        width = window_steps(dist_)
        rec_s: list[np.ndarray] = []
        rec_i: list[np.ndarray] = []
        done = 0

        def land(k: int, gs: list[torch.Tensor]) -> list[torch.Tensor]:
            """End of step ``k``: its ring slot, then the Poisson inputs."""
            if prop.groups:
                inp = pending.pop(k, None)
                if inp is not None:
                    gs = [g + x for g, x in zip(gs, inp, strict=True)]
            if poisson is not None:
                gs = poisson(k, gs)
            return gs

        with _progress(show, n_steps) as bar:
            task = bar.add_task("run", total=n_steps) if bar is not None else None
            while done < n_steps:
                todo = min(width, n_steps - done)
                kw = net.step
                local = []
                for step in range(todo):
                    k = kw + step
                    # the neuron update of _runner.run_torch (grad=False)
                    gs_old = gs
                    acc, gs = lay.integrate(v, gs)
                    if mods is not None:
                        acc, aux_new = mods.integrate(v, gs_old, aux, acc)
                    frozen = refr > 0
                    v_th = lay.v_th
                    if adapt is not None:
                        theta = theta * adapt[1]
                        v_th = v_th + theta
                    if mods is not None:
                        v_th = mods.threshold(v_th, aux_new)
                    fired = (acc >= v_th) & ~frozen
                    if adapt is not None:
                        theta = theta + adapt[0] * fired.to(dtype)
                    v_new = torch.where(frozen, v, acc)
                    z = fired.to(dtype)
                    v = torch.where(fired, lay.v_reset, v_new)
                    refr = torch.where(fired, lay.ref, (refr - 1).clamp_(min=0))
                    if mods is not None:
                        aux = mods.reset(fired, z, aux_new, False)
                    ids = torch.nonzero(fired[0, lo:hi]).flatten().cpu().numpy()
                    local.append(step * n_all + lo + ids)
                    if step < todo - 1:
                        gs = land(k, gs)
                sources = _window_sources(src_step, src_gidx, kw, todo, n_all)
                codes = np.concatenate(local) if local else np.zeros(0, np.int64)
                sp_step, sp_idx = _merge(dist_, codes, sources, kw, n_all)
                if prop.groups:
                    bounds = np.searchsorted(sp_step, np.arange(kw, kw + todo + 1))
                    for step in range(todo):
                        a, b = int(bounds[step]), int(bounds[step + 1])
                        z_all = torch.zeros(1, n_all, dtype=dtype, device=dev)
                        if b > a:
                            z_all[0, torch.as_tensor(sp_idx[a:b], device=dev)] = 1.0
                        k = kw + step
                        for d, contrib in prop(z_all):
                            parts = list(contrib.split(lay.n, dim=1))
                            old = pending.get(k + d)
                            pending[k + d] = (
                                parts
                                if old is None
                                else [
                                    a_ + b_ for a_, b_ in zip(old, parts, strict=True)
                                ]
                            )
                gs = land(kw + todo - 1, gs)
                rec_s.append(sp_step)
                rec_i.append(sp_idx)
                net.step += todo
                done += todo
                if bar is not None:
                    bar.update(task, completed=done)
        net.v, net.refr, net.theta, net.aux = v, refr, theta, aux
        if lay.k:
            net.g = lay.to_flat(gs)
        net._pending = {key: lay.to_flat(x) for key, x in pending.items()}
    _to_monitors(net, rec_s, rec_i)
