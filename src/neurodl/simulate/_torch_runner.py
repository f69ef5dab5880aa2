"""Run loop of the tensor path (called by :meth:`Network.run`).

The step of :mod:`neurodl.simulate._numba_engine` on torch tensors, batched and
differentiable; the per-step tables come from :mod:`neurodl.simulate._runner`.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from neurodl.errors import ValidationError
from neurodl.simulate import _models
from neurodl.simulate._keyed import TorchPoisson
from neurodl.simulate._torch_engine import (
    SparsePropagate,
    SpmvPropagate,
    dense_propagate,
)
from neurodl.simulate.groups import ConductanceSynapse, DeltaSynapse, SpikeSource
from neurodl.simulate.plasticity import adaptation_vectors

if TYPE_CHECKING:
    from neurodl.simulate.network import Network, Population

from neurodl.simulate._runner import (
    _CHUNK,
    _channel_coefficients,
    _monitor_layout,
    _pop_coefficients,
    _progress,
    _source_schedule,
    _store_samples,
)

__all__ = ["run_torch"]


# --------------------------------------------------------------------- torch path
class _Propagator:
    """Synapses grouped by delay, ready for the tensor path."""

    def __init__(
        self,
        net: Network,
        grad: bool,
        mode: str,
        tgt_map: np.ndarray | None = None,
        n_out: int | None = None,
        w_all: Tensor | None = None,
    ) -> None:
        """``tgt_map``/``n_out``: write into another layout of the synaptic state.

        ``w_all``: the weights in CSR order to use (default the projections');
        groups that copy a part of it are listed in ``copies`` as ``(weights,
        CSR slots)``.
        """
        dev = net.device
        n_g = net.n_g if n_out is None else n_out
        tgt_all = net._tgt if tgt_map is None else tgt_map[net._tgt]
        dense = mode == "dense"
        spmv = mode == "spmv"
        w_all = net.global_weights() if w_all is None else w_all
        self.groups: list[tuple[int, Any]] = []
        self.copies: list[tuple[Tensor, np.ndarray]] = []
        delays = np.unique(net._dly) if net._dly.size else np.zeros(0, np.int64)
        gpre_all = net._gpre
        for d in delays:
            sel = np.nonzero(net._dly == d)[0]
            pre = gpre_all[sel]
            indptr = np.searchsorted(pre, np.arange(net.n_all + 1)).astype(np.int64)
            sel_t = torch.as_tensor(sel, device=dev)
            w = w_all[sel_t] if sel.size != w_all.numel() else w_all
            if w is not w_all:
                self.copies.append((w, sel))
            tgt = torch.as_tensor(tgt_all[sel].astype(np.int64), device=dev)
            indptr_t = torch.as_tensor(indptr, device=dev)
            if dense:
                wd = torch.zeros(net.n_all, n_g, dtype=net.dtype, device=dev)
                pre_t = torch.as_tensor(pre, device=dev)
                wd = wd.index_put((pre_t, tgt), w, accumulate=True)
                self.groups.append((int(d), ("dense", wd)))
            elif spmv:
                pre_t = torch.as_tensor(pre, device=dev)
                by_tgt = torch.as_tensor(np.lexsort((pre, tgt_all[sel])), device=dev)
                tgt_sorted = tgt[by_tgt]
                indptr_tt = torch.searchsorted(
                    tgt_sorted, torch.arange(n_g + 1, device=dev)
                )
                w_csr = None
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)  # "beta state"
                    wt = torch.sparse_csr_tensor(
                        indptr_tt,
                        pre_t[by_tgt],
                        w.detach()[by_tgt],
                        size=(n_g, net.n_all),
                        check_invariants=False,
                    )
                    if grad:
                        w_csr = torch.sparse_csr_tensor(
                            indptr_t,
                            tgt,
                            w.detach(),
                            size=(net.n_all, n_g),
                            check_invariants=False,
                        )
                spec = ("spmv", w, wt, w_csr, pre_t if grad else None, tgt)
                self.groups.append((int(d), spec))
            else:
                csr = None
                if grad:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", UserWarning)  # "beta state"
                        csr = torch.sparse_csr_tensor(
                            indptr_t,
                            tgt,
                            w.detach(),
                            size=(net.n_all, n_g),
                            check_invariants=False,
                        )
                self.groups.append((int(d), ("sparse", w, indptr_t, tgt, csr)))
        self.n_g = n_g

    def __call__(self, z: Tensor) -> list[tuple[int, Tensor]]:
        out = []
        for d, spec in self.groups:
            if spec[0] == "dense":
                out.append((d, dense_propagate(z, spec[1])))
            elif spec[0] == "spmv":
                _, w, wt, w_csr, pre, tgt = spec
                out.append((d, SpmvPropagate.apply(z, w, wt, w_csr, pre, tgt)))
            else:
                _, w, indptr, tgt, csr = spec
                out.append((d, SparsePropagate.apply(z, w, indptr, tgt, csr, self.n_g)))
        return out


def _torch_pop_terms(net: Network, pop: Population, grad: bool) -> dict[str, Any]:
    """Per-step constants of a population: Python floats, or tensors if learnable."""
    co: dict[str, Any] = _pop_coefficients(net, pop)
    if not (grad and pop.learnable):
        return co
    dt = net.dt

    def val(name: str) -> Any:
        return pop.learnable.get(name, pop.value(name))

    tau = val("tau_mem")
    tau_t = torch.as_tensor(tau, dtype=net.dtype, device=net.device)
    a = torch.exp(-dt / tau_t)
    co.update(
        v_rest=val("v_rest"),
        v_th=val("v_th"),
        v_reset=val("v_reset"),
        a=a,
        iext=val("i_ext") * (1.0 - a) if pop.method == "exact" else val("i_ext"),
        dt_tau=dt / tau_t,
    )
    co["channels"] = []
    for pop2, syn, _ in net.channels:
        if pop2 is not pop:
            continue
        if isinstance(syn, DeltaSynapse):
            co["channels"].append(_channel_coefficients(net, pop, 0.0))
        elif pop.method == "exact":
            decay = math.exp(-dt / syn.tau)
            ts = syn.tau
            if abs(ts - pop.value("tau_mem")) > 1e-9 * ts:
                coef: Any = ts / (ts - tau_t) * (decay - a)
            else:
                # tau_mem = tau_syn: the 0/0 limit dt/tau e^{-dt/tau}, with the
                # limit of d coef / d tau_mem as its (first-order) gradient
                slope = decay * (dt**2 / (2.0 * ts**3) - dt / ts**2)
                shift = tau_t - tau_t.detach()
                coef = dt / ts * decay + shift * slope
            co["channels"].append((decay, coef))
        else:
            co["channels"].append((1.0 - dt / syn.tau, 0.0))
    return co


def _group_steps(
    net: Network, group: Any, lif_rec: list[Tensor], src_rec: list[Tensor]
) -> list[Tensor]:
    """Return the recorded steps of ``group`` (a population or a spike source)."""
    if isinstance(group, SpikeSource):
        lo = group.start - net.n_lif
        return [x[:, lo : lo + group.n] for x in src_rec]
    return [x[:, group.start : group.start + group.n] for x in lif_rec]


def _flush_spikes(
    net: Network,
    lif_rec: list[Tensor],
    src_rec: list[Tensor],
    k_start: int,
    grad: bool,
) -> None:
    """Move recorded spikes (steps from ``k_start``) into the spike monitors.

    ``lif_rec``/``src_rec``: one ``(batch, n_lif)`` / ``(batch, n_sources)`` tensor
    per step (spikes, or the differentiable ``z`` when ``grad``).
    """
    batch = net.batch
    upto = k_start + max(len(lif_rec), len(src_rec))
    for stream in net.stream_monitors:
        seq = _group_steps(net, stream.group, lif_rec, src_rec)
        if not seq:
            continue
        t_i, n_i = torch.nonzero(torch.stack(seq)[:, 0].detach(), as_tuple=True)
        stream._feed((t_i + k_start).cpu().numpy(), n_i.cpu().numpy(), upto)
    for mon in net.spike_monitors:
        group = mon.group
        seq = _group_steps(net, group, lif_rec, src_rec)
        if not seq:
            continue
        stacked = torch.stack(seq)  # (T, batch, n)
        if grad or mon.dense:
            mon._dense.append(stacked.to(net.dtype))
            mon.spikes = torch.cat(mon._dense)
        t_i, b_i, n_i = torch.nonzero(stacked.detach(), as_tuple=True)
        order = torch.argsort(t_i * batch * group.n + b_i * group.n + n_i)
        mon._add(
            (t_i[order] + k_start).cpu().numpy(),
            n_i[order].cpu().numpy(),
            b_i[order].cpu().numpy(),
        )
    lif_rec.clear()
    src_rec.clear()


class _Layout:
    """Every LIF neuron in one vector; synaptic variables in ``K`` slots per neuron.

    Population ``p``'s ``c``-th synapse type lives in slot ``c`` (``K`` = the most
    types a population has); a population with fewer types gets dummy slots with
    ``coef = 0``, ``decay = 1`` that stay 0 and add exactly ``+0.0``, as in the
    compiled kernel. So one step is a few whole-vector operations whatever the
    number of populations, in the compiled kernel's operation order.
    """

    def __init__(self, net: Network, grad: bool) -> None:
        dev, dtype = net.device, net.dtype
        pops = net.populations
        n = net.n_lif
        self.n = n
        self.k = max((len(p.channels) for p in pops), default=0)
        terms = [_torch_pop_terms(net, pop, grad) for pop in pops]

        def vec(values: list[Any]) -> Tensor:
            return torch.cat(
                [
                    torch.as_tensor(x, dtype=dtype, device=dev).expand(pop.n)
                    for x, pop in zip(values, pops, strict=True)
                ]
            )

        self.v_rest = vec([t["v_rest"] for t in terms])
        self.v_th = vec([t["v_th"] for t in terms])
        self.v_reset = vec([t["v_reset"] for t in terms])
        self.a = vec([t["a"] for t in terms])
        self.iext = vec([t["iext"] for t in terms])
        self.dt_tau = vec([t["dt_tau"] for t in terms])
        self.ref = torch.cat(
            [
                torch.full((p.n,), int(t["ref"]), device=dev)
                for t, p in zip(terms, pops, strict=True)
            ]
        )
        methods = {"exact" if p.method == "exact" else "euler" for p in pops}
        self.method = methods.pop() if len(methods) == 1 else "mixed"
        self.exact_mask = vec([p.method == "exact" for p in pops]).bool()
        # slots
        flat_to_slot = np.zeros(net.n_g, np.int64)
        coef: list[list[Any]] = [[0.0] * len(pops) for _ in range(self.k)]
        decay: list[list[Any]] = [[1.0] * len(pops) for _ in range(self.k)]
        erev: list[list[Any]] = [[0.0] * len(pops) for _ in range(self.k)]
        cond: list[list[Any]] = [[False] * len(pops) for _ in range(self.k)]
        delta: list[list[Any]] = [[False] * len(pops) for _ in range(self.k)]
        for p_i, pop in enumerate(pops):
            slot = 0
            for pop2, syn, off in net.channels:
                if pop2 is not pop:
                    continue
                if "channels" in terms[p_i]:
                    d, c = terms[p_i]["channels"][slot]
                else:
                    d, c = _channel_coefficients(net, pop, syn.tau)
                decay[slot][p_i], coef[slot][p_i] = d, c
                erev[slot][p_i] = getattr(syn, "e_rev", 0.0)
                cond[slot][p_i] = isinstance(syn, ConductanceSynapse)
                # delta inputs of Euler populations: added to v after the step
                delta[slot][p_i] = (
                    isinstance(syn, DeltaSynapse) and pop.method != "exact"
                )
                flat_to_slot[off : off + pop.n] = (
                    slot * n + pop.start + np.arange(pop.n)
                )
                slot += 1
        self.cond_lists, self.erev_lists = cond, erev  # per slot, per population
        self.coef = [vec(c) for c in coef]
        self.decay = [vec(d) for d in decay]
        self.erev = [vec(e) for e in erev]
        self.cond = [vec(c).bool() for c in cond]
        self.cond_kind = [
            "all" if all(c) else "none" if not any(c) else "mixed" for c in cond
        ]
        self.delta = [vec(c).bool() if any(c) else None for c in delta]
        self.flat_to_slot = flat_to_slot
        self.flat_to_slot_t = torch.as_tensor(flat_to_slot, device=dev)

    def to_slots(self, flat: Tensor) -> list[Tensor]:
        """Flat channel layout ``(batch, n_g)`` -> ``K`` tensors ``(batch, n)``."""
        out = flat.new_zeros(flat.shape[0], self.k * self.n)
        out = out.index_copy(1, self.flat_to_slot_t, flat)
        return list(out.split(self.n, dim=1)) if self.k else []

    def to_flat(self, slots: list[Tensor]) -> Tensor:
        """``K`` slot tensors -> the flat channel layout ``(batch, n_g)``."""
        return torch.cat(slots, dim=1).index_select(1, self.flat_to_slot_t)

    def integrate(self, v: Tensor, gs: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        """Integrate every neuron below threshold: ``(acc, decayed gs)``."""
        exact = euler = None
        if self.method in ("exact", "mixed"):
            exact = self.v_rest + (v - self.v_rest) * self.a + self.iext
            for k in range(self.k):
                exact = exact + gs[k] * self.coef[k]
        if self.method in ("euler", "mixed"):
            euler = (self.v_rest - v) + self.iext
            for k in range(self.k):
                kind = self.cond_kind[k]
                if kind == "none":
                    term = gs[k]
                elif kind == "all":
                    term = gs[k] * (self.erev[k] - v)
                else:
                    term = torch.where(self.cond[k], gs[k] * (self.erev[k] - v), gs[k])
                delta = self.delta[k]
                if delta is not None:
                    term = torch.where(delta, 0.0, term)
                euler = euler + term
            euler = v + euler * self.dt_tau
            for k in range(self.k):
                delta = self.delta[k]
                if delta is not None:
                    euler = euler + torch.where(delta, gs[k], 0.0)
        new_gs = [gs[k] * self.decay[k] for k in range(self.k)]
        if exact is None:
            assert euler is not None
            return euler, new_gs
        if euler is None:
            return exact, new_gs
        return torch.where(self.exact_mask, exact, euler), new_gs


def run_torch(
    net: Network,
    n_steps: int,
    show: bool,
    grad: bool,
    detach_reset: bool,
    propagation: str,
) -> None:
    """Advance ``net`` by ``n_steps`` with torch tensors (autograd if ``grad``)."""
    if net._ring.any():
        raise ValidationError(
            "delayed spikes from a compiled-path run are in flight; continue with "
            "backend 'numba' (switching paths mid-delay is not supported)."
        )
    dev, dtype, batch = net.device, net.dtype, net.batch
    spike_fn = net.surrogate
    with torch.set_grad_enabled(grad):
        lay = _Layout(net, grad)
        if net._plastic is None:
            prop = _Propagator(net, grad, propagation, lay.flat_to_slot, lay.k * lay.n)
        v, refr, theta, aux = net.v, net.refr, net.theta, net.aux
        adapt = adaptation_vectors(net)
        mods = (
            _models.TorchModels(net, lay.cond_lists, lay.erev_lists)
            if any(_models.model_kind(p.params) for p in net.populations)
            else None
        )
        if net._plastic is not None:
            from neurodl.simulate.plasticity import TorchPlasticity

            wf = net.global_weights().detach().clone()
            n_slots = lay.k * lay.n
            prop = _Propagator(net, grad, propagation, lay.flat_to_slot, n_slots, wf)
            copies = []
            for w_copy, sel in prop.copies:
                pos = np.full(wf.numel(), -1, np.int64)
                pos[sel] = np.arange(sel.size)
                copies.append((w_copy, torch.as_tensor(pos, device=dev)))
            plastic = TorchPlasticity(net._plastic, net, wf, copies)
        gs = lay.to_slots(net.g)
        pending = {key: lay.to_slots(x) for key, x in net._pending.items()}
        src_step, src_gidx = _source_schedule(net, net.step, n_steps)
        src_gidx_t = torch.as_tensor(src_gidx - net.n_lif, device=dev)
        bounds = np.searchsorted(src_step, np.arange(net.step, net.step + n_steps + 1))
        n_src = net.n_all - net.n_lif
        sampler = _Sampler(net, lay)
        poisson = (
            TorchPoisson(net, lay.n, lay.flat_to_slot) if net.poisson_inputs else None
        )
        samples: list[Tensor] = []
        sample_steps: list[int] = []
        lif_rec: list[Tensor] = []
        src_rec: list[Tensor] = []
        record = bool(net.spike_monitors or net.stream_monitors)
        k0 = net.step
        k_flush = k0
        keep_dense = grad or any(m.dense for m in net.spike_monitors)
        with _progress(show, n_steps) as bar:
            task = bar.add_task("run", total=n_steps) if bar is not None else None
            for step in range(n_steps):
                k = k0 + step
                if sampler.active and k % sampler.every == 0:
                    samples.append(sampler(v, gs, aux))
                    sample_steps.append(k)
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
                if grad:
                    z = spike_fn(acc - v_th) * (~frozen).to(dtype)
                    v = torch.where(fired, lay.v_reset, v_new)
                    if not detach_reset:
                        # d v / d z = v_reset - v_new; adds exactly 0 forward
                        v = v + (z - z.detach()) * (lay.v_reset - v_new)
                else:
                    z = fired.to(dtype)
                    v = torch.where(fired, lay.v_reset, v_new)
                refr = torch.where(fired, lay.ref, (refr - 1).clamp_(min=0))
                if mods is not None:
                    aux = mods.reset(fired, z, aux_new, grad)
                if record:
                    lif_rec.append(z if grad else fired)
                z_all = z
                if n_src:
                    z_src = torch.zeros(batch, n_src, dtype=dtype, device=dev)
                    lo, hi = int(bounds[step]), int(bounds[step + 1])
                    if hi > lo:
                        z_src[:, src_gidx_t[lo:hi]] = 1.0
                    z_all = torch.cat((z, z_src), dim=1)
                    if record:
                        src_rec.append(z_src > 0)
                if prop.groups:
                    for d, contrib in prop(z_all):
                        parts = list(contrib.split(lay.n, dim=1))
                        old = pending.get(k + d)
                        pending[k + d] = (
                            parts
                            if old is None
                            else [a + b for a, b in zip(old, parts, strict=True)]
                        )
                    inp = pending.pop(k, None)
                    if inp is not None:
                        gs = [g + x for g, x in zip(gs, inp, strict=True)]
                if poisson is not None:
                    gs = poisson(k, gs)
                if net._plastic is not None and (
                    int(bounds[step + 1]) > int(bounds[step]) or bool(fired.any())
                ):
                    plastic.step(k, z_all, fired)
                if (step + 1) % _CHUNK == 0:
                    if not keep_dense:
                        _flush_spikes(net, lif_rec, src_rec, k_flush, grad)
                        k_flush = k + 1
                    if bar is not None:
                        bar.update(task, completed=step + 1)
        net.step += n_steps
        # write the state back (flat channel layout, shared with the compiled path)
        net.v, net.refr, net.theta, net.aux = v, refr, theta.detach(), aux
        if net._plastic is not None:
            plastic.finish()
        if lay.k:
            net.g = lay.to_flat(gs)
        net._pending = {key: lay.to_flat(x) for key, x in pending.items()}
        _flush_spikes(net, lif_rec, src_rec, k_flush, grad)
        if samples:
            vals = torch.stack(samples)
            _store_samples(
                net,
                np.asarray(sample_steps, np.int64),
                vals if grad else vals.cpu().numpy(),
                grad,
            )


class _Sampler:
    """Reads the state monitors' columns with one gather per state tensor."""

    def __init__(self, net: Network, lay: _Layout) -> None:
        kind, index, self.every = _monitor_layout(net)
        self.active = bool(kind.size)
        dev = net.device
        is_g = kind == 1
        pos = index.copy()
        if lay.k:
            pos[is_g] = lay.flat_to_slot[index[is_g]]
        # v columns first, then slot by slot, then the models' b/u/w; ``order``
        # puts them back in place
        self.v_idx = torch.as_tensor(pos[kind == 0], device=dev)
        self.a_idx = torch.as_tensor(pos[kind == 2], device=dev)
        gpos = pos[kind == 1]
        self.g_idx = [
            torch.as_tensor(
                gpos[gpos // max(lay.n, 1) == s] % max(lay.n, 1), device=dev
            )
            for s in range(lay.k)
        ]
        cols = [np.nonzero(kind == 0)[0]] + [
            np.nonzero(kind == 1)[0][gpos // max(lay.n, 1) == s] for s in range(lay.k)
        ]
        cols.append(np.nonzero(kind == 2)[0])
        self.order = torch.as_tensor(np.argsort(np.concatenate(cols)), device=dev)

    def __call__(self, v: Tensor, gs: list[Tensor], aux: Tensor) -> Tensor:
        parts = [v.index_select(1, self.v_idx)]
        parts += [g.index_select(1, i) for g, i in zip(gs, self.g_idx, strict=False)]
        parts.append(aux.index_select(1, self.a_idx))
        return torch.cat(parts, dim=1).index_select(1, self.order)
