"""Compiled back-propagation through time: the whole simulation as one autograd node.

:class:`CompiledSimulation` runs the network forward in numba (the step of
:mod:`neurodl.simulate._numba_engine`, same floating-point operations), keeps a
compact tape, and computes the gradient with an explicit reverse-time adjoint
recurrence, also in numba. Its gradients are the tensor path's
(``run(..., grad=True, backend="torch")``: surrogate spike derivative, reset
detached by default, refractory neurons masked); a test holds them to 1e-9.
:meth:`Network.run` takes it for ``grad=True`` on the CPU with batch 1 (backend
``"auto"`` or ``"numba"``)::

    mon = net.spike_monitor(pop)        # before the first run
    for proj in net.projections:
        proj.weight.requires_grad_(True)
    net.run(100.0, grad=True)
    loss = mon.spikes.sum()             # SpikeMonitor.spikes: (T, 1, n)
    loss.backward()                     # proj.weight.grad, learnable params' grad

Adjoint equations
-----------------
Write ``v_k``, ``g_k`` for the membrane potential and a synaptic variable at the
start of step ``k`` (what a state monitor samples), ``u_k`` for the integrated,
pre-threshold value (``acc``), ``f_k = [r_k = 0]`` for "not refractory", and
``z_k = f_k H(u_k - v_th)`` for the spike. One step is::

    u_k     = v_rest + (v_k - v_rest) a + i_ext (1 - a) + sum_c coef_c g_ck   (exact)
    u_k     = v_k + dt/tau [(v_rest - v_k) + i_ext + sum_cur g + sum_cond g (e - v_k)]
    v_k+1   = v_reset        if z_k            (reset, detached from u_k)
              u_k            if f_k and not z_k
              v_k            if not f_k        (frozen while refractory)
    g_k+1   = decay g_k + sum_{s: tgt_s = g} w_s z_{pre_s, k - d_s}

With the adjoints ``lv_k = dL/dv_k``, ``lg_k = dL/dg_k`` (``L`` the loss on the
recorded spikes ``z`` and state samples), going backwards from
``lv_T = dL/dv_T``, ``lg_T = dL/dg_T``::

    lz_k  = dL/dz_k + sum_{s in out(i)} w_s lg_{tgt_s, k + d_s + 1}
            [+ (v_reset - u_k) lv_k+1           if the reset is not detached]
    lu_k  = f_k ( [not z_k] lv_k+1 + sigma'(u_k - v_th) lz_k )
    lv_k  = [not f_k] lv_k+1 + du_k/dv_k lu_k + dL/dv_k|sample
    lg_k  = decay lg_k+1 + du_k/dg_k lu_k + dL/dg_k|sample
    dL/dw_s = sum_{k: pre_s spiked at k} lg_{tgt_s, k + d_s + 1}

``du/dv = a`` (exact) or ``1 - dt/tau (1 + sum_cond g)`` (Euler);
``du/dg = coef`` (exact), ``dt/tau`` (Euler, current) or ``dt/tau (e - v)``
(Euler, conductance). This is BPTT with a surrogate derivative ``sigma'`` in place
of ``dH/du`` (Neftci, Mostafa & Zenke 2019, doi:10.1109/MSP.2019.2931595), written
in the event-based form of Wunderlich & Pehle (2021, EventProp,
doi:10.1038/s41598-021-91786-z; the structure of its weight gradient, not its
exact spike-time derivatives): weights get gradient only at presynaptic spikes,
and the delayed adjoints ``lg_{k + d + 1}`` come from a reverse ring buffer of
``max_delay + 1`` rows. Gradients of the learnable population parameters
(``Population.learn``) are sums of ``lu_k du_k/dtheta`` (and of ``-sigma' lz_k``
for ``v_th``, of ``lv_k+1`` at spikes for ``v_reset``) over neurons and steps.

Nothing but ``u_k`` is stored per neuron and step: ``z_k`` and ``f_k`` follow from
the spike list (each spike keeps the step of its neuron's previous spike, so the
reverse pass knows the last spike before ``k``: refractory while it is at most
``t_ref`` steps back), and ``v_k`` (for the conductance terms) is ``v_reset``
after a spike, else the previous step's stored value.

Event tape: the adjoint reads ``u_k`` only through ``sigma'(u_k - v_th)`` (and
``(v_reset - u_k)``, which multiplies it, when the reset is not detached), except
for ``v_k`` in the Euler conductance terms and the ``tau_mem`` derivative. With
the compact-support ``"triangle"`` surrogate (zero unless ``|u - v_th| < 1/slope``)
a population that needs neither (exact integration, or Euler with current
synapses only; ``tau_mem`` not learnable) keeps ``u_k`` only for its
non-refractory neurons within ``1/slope`` of threshold (a hair more: ``1 + 1e-6``,
so that no rounding can drop a nonzero ``sigma'``): a growable list of (``u_k``,
neuron) in step order. The backward takes ``u_k = +inf``, i.e. ``sigma' = 0``,
elsewhere: the same values as from the dense tape, so the same gradients to the
bit. Every other population keeps the dense tape (``_EVENT_TAPE = False`` forces
it everywhere).

Cost
----
The forward pass costs what the no-grad compiled run costs, plus the spike list
and the tape, plus filling the dense spike output (``torch.zeros``: first-touch
page faults on ``8 T n`` bytes, at N = 16000, 1 s about 0.25-0.45 s on the 2-core
VM, more than the no-grad run; a lazily zeroed anonymous map measured no cheaper
once the loss has read every page, numpy's huge-page advice 0.1-2.8 s). A dense
tape adds as much again (all of it written to fresh pages); the event tape adds
little (CUBA: 5 % of the neuron-steps are events). The backward pass touches every
neuron once per step, and the synapses of a neuron only where
``sigma'(u_k - v_th) != 0`` (spike adjoint) or it spiked (weight gradient). With
``"triangle"`` the backward is thus event-driven too; the row sums at the events
(latency-bound gathers) are about half of it at N = 16000. ``fast_sigmoid``,
``arctan`` and ``sigmoid`` are nonzero everywhere, so every non-refractory neuron
needs its outgoing-synapse sum every step: one full sparse mat-vec ``W lg`` per
step, which is inherent to those surrogates.

Measured (CUBA, 1 s at dt = 0.1 ms, loss = spike count, all weights learnable,
float64, 2-core VM, median of 3): N = 4000, no-grad 0.032 s, ``triangle`` forward
0.15 s + backward 0.29 s (14x), ``fast_sigmoid`` 0.24 s + 2.3 s (80x); N = 16000,
no-grad 0.14 s, ``triangle`` 0.6 s + 1.4 s (14x), ``fast_sigmoid`` 2.1 s + 13-15 s.

Memory: the dense tape holds one state-dtype value (``u_k``, or the frozen ``v_k``)
per neuron and step, i.e. 8 bytes (float64) or 4 bytes (float32) per
neuron-step; one more per neuron-step in Euler populations with conductance
synapses (the sum of their ``g``), and one more in populations whose ``tau_mem``
is learnable. The event tape holds 12 (float32: 8) bytes per event and 8 per
step. Plus 24 bytes per spike. The recorded spikes are returned densely,
``(T, 1, n)`` in the state dtype, as the tensor path keeps them: 8 (4) bytes per
recorded neuron-step. CUBA, 1 s at dt = 0.1 ms, float64, peak resident memory of
the whole run (including the spike output): N = 4000, ``triangle`` 0.72 GB
(``fast_sigmoid``: 1.0 GB); N = 16000, ``triangle`` 1.8 GB (``fast_sigmoid``:
2.95 GB).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from neurodl.errors import ValidationError
from neurodl.simulate._numba_grad_kernels import backward_pass, forward_chunk

if TYPE_CHECKING:
    from neurodl.simulate.network import Network

__all__ = ["CompiledSimulation", "run_numba_grad"]

_NEVER = -(2**62)  # "no earlier spike" in the refractory bookkeeping
_SURROGATE_ID = {"fast_sigmoid": 0, "arctan": 1, "sigmoid": 2, "triangle": 3}
_PARAMS = ("tau_mem", "v_th", "v_rest", "v_reset", "i_ext")
_CHUNK = 1000  # forward steps per compiled call (progress granularity)
# keep u_k as events (not a dense tape) where the backward needs it only near the
# threshold; False: dense tape everywhere (tests compare the two)
_EVENT_TAPE = True
_EVENT_WIN = 1.0 + 1e-6  # events: |u_k - v_th| slope < _EVENT_WIN (sigma' support)
_EVENT_ROOM = 8  # first event record: room for 1 / _EVENT_ROOM of the neuron-steps


# ------------------------------------------------------------------- the plan
@dataclass
class _Plan:
    """Everything the compiled passes need besides the differentiable inputs."""

    net: Network
    n_steps: int
    k0: int
    np_dtype: Any
    detach_reset: bool
    show: bool
    pop_bounds: np.ndarray
    pop_method: np.ndarray
    pop_f: np.ndarray
    pop_d: np.ndarray
    pop_ref: np.ndarray
    pop_ch: np.ndarray
    pop_t2: np.ndarray
    pop_t3: np.ndarray
    pop_t1: np.ndarray
    n1: int
    n2: int
    n3: int
    n_event: int
    slope: float
    ch_kind: np.ndarray
    ch_off: np.ndarray
    ch_f: np.ndarray
    src_step: np.ndarray
    src_gidx: np.ndarray
    rec_col: np.ndarray
    n_rec: int
    rec_pops: list[tuple[int, int]]
    mon_kind: np.ndarray
    mon_index: np.ndarray
    every: int
    n_samples: int
    refr0: np.ndarray
    saved: dict[str, Any] = field(default_factory=dict)


def _make_plan(net: Network, n_steps: int, show: bool, detach_reset: bool) -> _Plan:
    from neurodl.simulate._runner import (
        _monitor_layout,
        _source_schedule,
        _step_tables,
    )

    np_dtype = np.float64 if net.dtype == torch.float64 else np.float32
    pops = net.populations
    n_pop = len(pops)
    pop_f, pop_ref, ch_pop, ch_kind, ch_off, ch3 = _step_tables(net, np_dtype)
    # the fourth column: d coef / d tau_mem (exact integration)
    ch_f = np.zeros((ch3.shape[0], 4), np_dtype)
    ch_f[:, :3] = ch3
    pop_d = np.zeros((n_pop, 4), np.float64)
    pop_ch = np.zeros((n_pop, 2), np.int64)  # range of its synaptic variables
    pop_t2 = np.full(n_pop, -1, np.int64)
    pop_t3 = np.full(n_pop, -1, np.int64)
    n2 = n3 = 0
    dt = net.dt
    for p_i, pop in enumerate(pops):
        tau = pop.value("tau_mem")
        a = math.exp(-dt / tau)
        da = a * dt / tau**2
        pop_d[p_i] = [pop.value("i_ext"), da, -dt / tau**2, 1.0 - a]
        mine = np.flatnonzero(ch_pop == p_i)  # contiguous: channels go by population
        first = int((ch_pop < p_i).sum())
        pop_ch[p_i] = (first, first + mine.size)
        for c in mine:
            ts = net.channels[c][1].tau
            decay = math.exp(-dt / ts)
            if pop.method == "exact" and ts != tau:
                ch_f[c, 3] = ts / (ts - tau) ** 2 * (decay - a) - ts / (ts - tau) * da
            elif pop.method == "exact":  # the limit tau_mem -> tau_syn
                ch_f[c, 3] = a * (dt**2 / (2.0 * ts**3) - dt / ts**2)
        if pop.method != "exact" and bool((ch_kind[mine] == 1).any()):
            pop_t2[p_i] = n2
            n2 += pop.n
        if "tau_mem" in pop.learnable:
            pop_t3[p_i] = n3
            n3 += pop.n
    src_step, src_gidx = _source_schedule(net, net.step, n_steps)
    # dense tape where the backward reads u_k (or v_k) away from the threshold:
    # surrogates with unbounded support, Euler conductance terms, learnable tau_mem
    pop_t1 = np.full(n_pop, -1, np.int64)
    n1 = n_event = 0
    events = _EVENT_TAPE and net.surrogate.name == "triangle"
    for p_i, pop in enumerate(pops):
        if events and pop_t2[p_i] < 0 and pop_t3[p_i] < 0:
            n_event += pop.n
        else:
            pop_t1[p_i] = n1
            n1 += pop.n
    rec_col = np.full(net.n_lif, -1, np.int64)
    n_rec = 0
    for pop in _recorded_pops(net):
        rec_col[pop.start : pop.start + pop.n] = np.arange(n_rec, n_rec + pop.n)
        n_rec += pop.n
    mon_kind, mon_index, every = _monitor_layout(net)
    k0 = net.step
    first = k0 + (-k0) % every
    n_samples = len(range(first, k0 + n_steps, every)) if mon_kind.size else 0
    return _Plan(
        net=net,
        n_steps=n_steps,
        k0=k0,
        np_dtype=np_dtype,
        detach_reset=detach_reset,
        show=show,
        pop_bounds=np.array([[p.start, p.start + p.n] for p in pops], np.int64),
        pop_method=np.array([0 if p.method == "exact" else 1 for p in pops], np.int64),
        pop_f=pop_f,
        pop_d=pop_d,
        pop_ref=pop_ref,
        pop_ch=pop_ch,
        pop_t2=pop_t2,
        pop_t3=pop_t3,
        pop_t1=pop_t1,
        n1=n1,
        n2=n2,
        n3=n3,
        n_event=n_event,
        slope=float(net.surrogate.slope),
        ch_kind=ch_kind,
        ch_off=ch_off,
        ch_f=ch_f,
        src_step=src_step,
        src_gidx=src_gidx,
        rec_col=rec_col,
        n_rec=n_rec,
        rec_pops=[(p.start, p.n) for p in _recorded_pops(net)],
        mon_kind=mon_kind,
        mon_index=mon_index,
        every=every,
        n_samples=n_samples,
        refr0=net.refr[0].detach().cpu().numpy().astype(np.int64),
    )


def _recorded_pops(net: Network) -> list[Any]:
    """Return the populations with a spike monitor, in network order."""
    groups = {id(m.group) for m in net.spike_monitors}
    return [p for p in net.populations if id(p) in groups]


def _empty(shape: tuple[int, ...], dtype: torch.dtype) -> np.ndarray:
    # torch's allocator: no transparent-huge-page advice, whose first touch
    # can cost more than the whole forward pass on some (virtual) machines
    return torch.empty(shape, dtype=dtype).numpy()


def _grow(a: np.ndarray, n: int, cap: int) -> np.ndarray:
    """Return a copy of ``a[:n]`` with room for ``cap`` entries."""
    out = _empty((cap,), torch.from_numpy(a[:0]).dtype)
    out[:n] = a[:n]
    return out


def _numpy(t: Tensor, dtype: Any) -> np.ndarray:
    return np.ascontiguousarray(t.detach().cpu().numpy(), dtype=dtype).copy()


# -------------------------------------------------------------- autograd node
class CompiledSimulation(torch.autograd.Function):
    """The whole simulation of ``plan.n_steps`` steps as one differentiable op.

    Inputs: ``plan`` (:class:`_Plan`), ``w`` (S,) global weights in CSR order,
    ``v0`` (N_lif,) and ``g0`` (G,) initial state, ``pend`` (D, G) synaptic input
    in flight for steps ``k0 .. k0 + D - 1`` (``D`` the largest delay in steps),
    ``theta`` (P, 5) population parameters (``tau_mem``, ``v_th``, ``v_rest``,
    ``v_reset``, ``i_ext``).

    Outputs: ``samples`` (n_samples, M) state-monitor samples, ``v`` (N_lif,) and
    ``g`` (G,) the final state, ``pend`` (D, G) the inputs still in flight, then
    one ``z`` (T, n_p) per recorded population (``plan.rec_pops``): its spikes,
    all in the state dtype.
    """

    @staticmethod
    def forward(
        ctx: Any,
        plan: _Plan,
        w: Tensor,
        v0: Tensor,
        g0: Tensor,
        pend: Tensor,
        theta: Tensor,
    ) -> tuple[Tensor, ...]:
        from neurodl.simulate._runner import _progress

        net = plan.net
        dt = plan.np_dtype
        tdt = net.dtype
        n_steps, k0 = plan.n_steps, plan.k0
        n_lif, n_g = net.n_lif, net.n_g
        store = any(t.requires_grad for t in (w, v0, g0, pend, theta))
        w_np = _numpy(w, dt)
        v = _numpy(v0, dt)
        g = _numpy(g0, dt)
        refr = plan.refr0.copy()
        big_l = net.max_delay + 1
        ring = np.zeros((big_l, n_g), dt)
        pend_np = _numpy(pend, dt)
        for j in range(pend_np.shape[0]):
            ring[(k0 + j) % big_l] = pend_np[j]
        t_rows = n_steps if store else 0
        tape = _empty((t_rows, plan.n1 if store else 0), tdt)
        tape2 = _empty((t_rows, plan.n2 if store else 0), tdt)
        tape3 = _empty((t_rows, plan.n3 if store else 0), tdt)
        n_event = plan.n_event if store else 0
        # room for 1/8 of the neuron-steps (CUBA: 5 %): pages never written cost
        # nothing (torch.empty: no huge-page advice); more: grown by doubling
        cap_e = n_event * t_rows // _EVENT_ROOM if n_event else 0
        cap_e = min(cap_e, 1 << 26) + 2 * n_event
        ev_u = _empty((cap_e,), tdt)
        ev_idx = _empty((cap_e,), torch.int32)
        ev_ptr = np.zeros(n_steps + 1 if store else 0, np.int64)
        cap = max(4 * n_lif, 1 << 14)
        sp_step = np.zeros(cap, np.int64)
        sp_idx = np.zeros(cap, np.int64)
        sp_prev = np.zeros(cap, np.int64)
        n_sp = np.zeros(1, np.int64)
        last_step = np.full(n_lif, _NEVER, np.int64)
        for p_i, (start, stop) in enumerate(plan.pop_bounds):
            r0 = plan.refr0[start:stop]
            virt = r0 - 1 - plan.pop_ref[p_i]  # a spike that explains r0 > 0
            last_step[start:stop] = np.where(r0 > 0, virt, _NEVER)
        last_step0 = last_step.copy()
        mon_out = np.zeros((plan.n_samples, plan.mon_kind.size), dt)
        mon_pos = np.zeros(1, np.int64)
        src_pos = np.zeros(1, np.int64)
        touched = np.zeros(n_g, np.uint8)
        touched_list = np.zeros(n_g, np.int64)
        spk = np.zeros(net.n_all, np.int64)
        acc = np.zeros(n_lif, dt)
        done = 0
        with _progress(plan.show, n_steps) as bar:
            task = bar.add_task("run", total=n_steps) if bar is not None else None
            while done < n_steps:
                todo = min(_CHUNK, n_steps - done)
                did = forward_chunk(
                    k0, done, todo, v, refr, g,
                    plan.pop_bounds, plan.pop_method, plan.pop_f, plan.pop_ref,
                    plan.pop_ch, plan.pop_t2, plan.pop_t3, plan.pop_t1,
                    plan.ch_kind, plan.ch_off, plan.ch_f,
                    net._indptr, net._tgt, w_np, net._dly, ring,
                    touched, touched_list, n_lif,
                    plan.src_step, plan.src_gidx, src_pos,
                    sp_step, sp_idx, sp_prev, n_sp, last_step,
                    plan.mon_kind, plan.mon_index, plan.every, mon_out, mon_pos,
                    store, tape, tape2, tape3, _EVENT_WIN, plan.slope,
                    ev_u, ev_idx, ev_ptr, n_event, spk, acc,
                )  # fmt: skip
                done += did
                if did < todo and int(n_sp[0]) + n_lif > cap:  # spikes: grow
                    cap *= 2
                    sp_step = np.resize(sp_step, cap)
                    sp_idx = np.resize(sp_idx, cap)
                    sp_prev = np.resize(sp_prev, cap)
                if n_event and did < todo and ev_ptr[done] + n_event > cap_e:  # events
                    cap_e *= 2
                    ev_u = _grow(ev_u, int(ev_ptr[done]), cap_e)
                    ev_idx = _grow(ev_idx, int(ev_ptr[done]), cap_e)
                if bar is not None:
                    bar.update(task, completed=done)
        n = int(n_sp[0])
        sp_step, sp_idx, sp_prev = sp_step[:n], sp_idx[:n], sp_prev[:n]
        # outputs: one dense spike tensor per recorded population. torch.zeros:
        # a lazily zeroed map (untouched pages free until the loss reads them)
        # measured no faster once the loss has read it, numpy's huge-page advice
        # far slower at times
        zs = []
        for start, n_p in plan.rec_pops:
            keep = (sp_idx >= start) & (sp_idx < start + n_p)
            z = torch.zeros((n_steps, n_p), dtype=tdt)
            z.numpy()[sp_step[keep], sp_idx[keep] - start] = 1
            zs.append(z)
        d = big_l - 1
        k_end = k0 + n_steps
        pend_out = np.zeros((d, n_g), dt)
        for j in range(d):
            pend_out[j] = ring[(k_end + j) % big_l]
        plan.saved.update(
            sp_step=sp_step,
            sp_idx=sp_idx,
            sp_prev=sp_prev,
            last_step=last_step,
            last_step0=last_step0,
            refr=refr,
        )
        if store:
            ctx.saved = dict(
                w=w_np,
                v0=_numpy(v0, dt),
                tape=tape,
                tape2=tape2,
                tape3=tape3,
                ev_u=ev_u[: ev_ptr[-1]] if n_event else ev_u,
                ev_idx=ev_idx[: ev_ptr[-1]] if n_event else ev_idx,
                ev_ptr=ev_ptr,
                sp_idx=sp_idx,
                sp_prev=sp_prev,
                lif_ptr=np.searchsorted(sp_step, np.arange(n_steps + 1)).astype(
                    np.int64
                ),
                last_step=last_step,
            )
        ctx.plan = plan
        ctx.set_materialize_grads(False)
        return (
            torch.from_numpy(mon_out),
            torch.from_numpy(v),
            torch.from_numpy(g),
            torch.from_numpy(pend_out),
            *zs,
        )

    @staticmethod
    def backward(
        ctx: Any,
        gs: Tensor | None,
        gv: Tensor | None,
        gg: Tensor | None,
        gp: Tensor | None,
        *gzs: Tensor | None,
    ) -> tuple[Any, ...]:
        plan: _Plan = ctx.plan
        net = plan.net
        sv = ctx.saved
        dt = plan.np_dtype
        n_steps, k0 = plan.n_steps, plan.k0
        n_lif, n_g = net.n_lif, net.n_g
        big_l = net.max_delay + 1
        lam_v = np.zeros(n_lif, dt) if gv is None else _numpy(gv, dt)
        lamg = np.zeros((big_l, n_g), dt)
        if gg is not None:
            lamg[n_steps % big_l] = _numpy(gg, dt)
        if gp is not None:
            gp_np = _numpy(gp, dt)
            for j in range(big_l - 1):
                lamg[(n_steps + j + 1) % big_l] = gp_np[j]
        # dL/dz: a loss like spikes.sum() or f(spikes.sum(0)) gives a gradient
        # that is constant in time (stride 0): keep it as one row
        gz_const = np.zeros(plan.n_rec, dt)
        gz_full = np.zeros((0, 0), dt)
        col = 0
        for (_, n_p), gz in zip(plan.rec_pops, gzs, strict=True):
            if gz is not None:
                if gz.stride(0) == 0 or n_steps == 1:
                    gz_const[col : col + n_p] += gz[0].detach().cpu().numpy()
                else:
                    if gz_full.size == 0:
                        gz_full = np.zeros((n_steps, plan.n_rec), dt)
                    gz_full[:, col : col + n_p] += gz.detach().cpu().numpy()
            col += n_p
        gs_np = _numpy(gs, dt) if gs is not None else np.zeros((0, 0), dt)
        src_ptr = np.searchsorted(plan.src_step, np.arange(k0, k0 + n_steps + 1))
        need_p = bool(ctx.needs_input_grad[5])
        dw = np.zeros(sv["w"].shape[0], dt)
        dtheta = np.zeros((len(net.populations), 5), np.float64)
        backward_pass(
            k0, n_steps,
            plan.pop_bounds, plan.pop_method, plan.pop_f, plan.pop_d, plan.pop_ref,
            plan.pop_ch, plan.pop_t2, plan.pop_t3, plan.pop_t1,
            plan.ch_kind, plan.ch_off, plan.ch_f,
            net._indptr, net._tgt, sv["w"], net._dly,
            sv["tape"], sv["tape2"], sv["tape3"],
            sv["ev_u"], sv["ev_idx"], sv["ev_ptr"], sv["v0"],
            sv["sp_idx"], sv["sp_prev"], sv["lif_ptr"], sv["last_step"],
            plan.src_gidx, src_ptr.astype(np.int64),
            gz_const, gz_full.size > 0, gz_full, plan.rec_col,
            gs is not None, gs_np, plan.mon_kind, plan.mon_index, plan.every,
            _SURROGATE_ID[net.surrogate.name], float(net.surrogate.slope),
            plan.detach_reset, need_p,
            lam_v, lamg, np.zeros(n_lif, dt), np.zeros(n_lif, np.int64),
            np.zeros(n_lif, np.uint8), np.full(n_lif, np.inf, dt), dw, dtheta,
        )  # fmt: skip
        tdt = net.dtype
        needs = ctx.needs_input_grad
        out_w = torch.from_numpy(dw) if needs[1] else None
        out_v = torch.from_numpy(lam_v) if needs[2] else None
        out_g = torch.from_numpy(lamg[0].copy()) if needs[3] else None
        out_p = None
        if needs[4]:
            rows = [lamg[(j + 1) % big_l] for j in range(big_l - 1)]
            out_p = torch.from_numpy(np.stack(rows) if rows else np.zeros((0, n_g), dt))
        out_t = torch.from_numpy(dtheta).to(tdt) if need_p else None
        return None, out_w, out_v, out_g, out_p, out_t


# ------------------------------------------------------------------- the run
def run_numba_grad(net: Network, n_steps: int, show: bool, detach_reset: bool) -> None:
    """Advance ``net`` by ``n_steps`` with the compiled BPTT path (``grad=True``).

    Fills the monitors as :func:`neurodl.simulate._torch_runner.run_torch` does with
    ``grad=True``: ``SpikeMonitor.spikes`` (T, 1, n) and ``StateMonitor.tensor``
    (n_samples, 1, M) are differentiable with respect to the projections' weights,
    the learnable population parameters and the state the run started from.
    """
    from neurodl.simulate._runner import _store_samples, compiled_grad_unsupported

    reason = compiled_grad_unsupported(net)
    if reason is not None:
        raise ValidationError(f"the compiled gradient path does not support {reason}.")
    dtype = net.dtype
    plan = _make_plan(net, n_steps, show, detach_reset)
    k0 = net.step
    d = net.max_delay
    # synaptic input in flight: from a tensor-path or compiled-gradient run
    # (tensors, maybe differentiable) or a no-grad compiled run (net._ring)
    rows: list[Tensor] = []
    pending_keys = set(net._pending)
    ring = net._ring if net._ring.any() else None
    for j in range(d):
        key = k0 + j
        row = torch.zeros(net.n_g, dtype=dtype)
        if key in net._pending:
            row = row + net._pending[key].reshape(-1)
        if ring is not None and ring[key % (d + 1)].any():
            row = row + torch.from_numpy(ring[key % (d + 1)]).to(dtype)
            pending_keys.add(key)
        rows.append(row)
    pend = torch.stack(rows) if rows else torch.zeros((0, net.n_g), dtype=dtype)
    theta = torch.stack(
        [
            torch.stack(
                [
                    torch.as_tensor(
                        pop.learnable.get(name, pop.value(name)), dtype=dtype
                    ).reshape(())
                    for name in _PARAMS
                ]
            )
            for pop in net.populations
        ]
    )
    with torch.enable_grad():
        samples, v, g, pend_out, *zs = CompiledSimulation.apply(
            plan, net.global_weights(), net.v[0], net.g[0], pend, theta
        )
    sv = plan.saved
    net._ring[:] = 0
    # inputs in flight, as the tensor path keeps them: a row for every step that
    # some delay reaches from this run (even with no spike: the surrogate gradient
    # of z = 0 flows through it), or that held an input when the run started
    delays = np.unique(net._dly) if net._dly.size else np.zeros(0, np.int64)
    net._pending = {
        k0 + n_steps + j: pend_out[j : j + 1]
        for j in range(d)
        if np.any((delays >= j + 1) & (delays <= j + n_steps))
        or k0 + n_steps + j in pending_keys
    }
    net.v = v.unsqueeze(0)
    net.g = g.unsqueeze(0)
    net.refr = torch.from_numpy(sv["refr"]).unsqueeze(0)
    net.step += n_steps
    # spike monitors
    sp_step, sp_idx = sv["sp_step"], sv["sp_idx"]
    z_of = {id(pop): z for pop, z in zip(_recorded_pops(net), zs, strict=True)}
    for mon in net.spike_monitors:
        group = mon.group
        start, n = group.start, group.n
        if id(group) in z_of:
            dense = z_of[id(group)].unsqueeze(1)
            keep = (sp_idx >= start) & (sp_idx < start + n)
            steps, idx = sp_step[keep], sp_idx[keep] - start
        else:
            keep = (plan.src_gidx >= start) & (plan.src_gidx < start + n)
            steps = plan.src_step[keep] - k0
            idx = plan.src_gidx[keep] - start
            dense = torch.zeros((n_steps, 1, n), dtype=dtype)
            dense[torch.from_numpy(steps), 0, torch.from_numpy(idx)] = 1.0
        mon._dense.append(dense)
        mon.spikes = torch.cat(mon._dense) if len(mon._dense) > 1 else dense
        mon._add(steps + k0, idx, np.zeros(steps.size, np.int64))
    if plan.n_samples:
        sample_steps = np.arange(k0 + (-k0) % plan.every, net.step, plan.every)
        _store_samples(net, sample_steps.astype(np.int64), samples.unsqueeze(1), True)
