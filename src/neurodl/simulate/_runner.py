"""Run loops of the compiled path, the tables both paths share, and a run's checks.

Called by :meth:`Network.run` (:func:`check_run` checks its arguments and picks the
execution path); the tensor path is in
:mod:`neurodl.simulate._torch_runner`.
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from neurodl._validate import check_option, check_positive
from neurodl.errors import ValidationError
from neurodl.neurons.adex import AdExParams
from neurodl.neurons.izhikevich import IzhikevichParams
from neurodl.simulate import _delivery, _models
from neurodl.simulate._keyed import poisson_tables
from neurodl.simulate._tables import kernel_weights
from neurodl.simulate.groups import ConductanceSynapse, DeltaSynapse
from neurodl.simulate.plasticity import theta_table
from neurodl.simulate.stream_monitors import deliver, record_mask

if TYPE_CHECKING:
    from neurodl.simulate.network import Network, Population

__all__ = ["check_run", "run_numba", "run_numba_grad"]


# ------------------------------------------------------------------ coefficients
def _pop_coefficients(net: Network, pop: Population) -> dict[str, float]:
    """Per-step constants of a population, from Python floats (shared by paths)."""
    if isinstance(pop.params, IzhikevichParams | AdExParams):
        return _models.pop_coefficients(net, pop)
    dt = net.dt
    tau = pop.value("tau_mem")
    a = math.exp(-dt / tau)
    iext = pop.value("i_ext")
    exact = pop.method == "exact"
    return {
        "v_rest": pop.value("v_rest"),
        "v_th": pop.value("v_th"),
        "v_reset": pop.value("v_reset"),
        "a": a,
        "iext": iext * (1.0 - a) if exact else iext,
        "dt_tau": dt / tau,
        # Brian2: v is integrated again at the step where t - t_spike >= t_ref,
        # so it stays frozen for round(t_ref/dt) - 1 integrations after the spike
        "ref": float(max(round(pop.params.t_ref / dt) - 1, 0)),
    }


def _channel_coefficients(
    net: Network, pop: Population, tau_s: float
) -> tuple[float, float]:
    """(decay, coef) of a synaptic variable with time constant ``tau_s``.

    ``tau_s == 0`` is a :class:`DeltaSynapse`: the step's input is added to ``v``
    whole (coef 1 in the exact integration; the Euler kernels add it after the
    step, see ``ch_kind`` 2) and nothing is kept (decay 0).
    """
    dt = net.dt
    if tau_s == 0.0:
        return 0.0, (1.0 if pop.method == "exact" else 0.0)
    if pop.method == "exact":
        tau_m = pop.value("tau_mem")
        decay = math.exp(-dt / tau_s)
        if tau_s == tau_m:
            coef = dt / tau_m * math.exp(-dt / tau_m)
        else:
            coef = tau_s / (tau_s - tau_m) * (decay - math.exp(-dt / tau_m))
        return decay, coef
    return 1.0 - dt / tau_s, 0.0


def _step_tables(
    net: Network, np_dtype: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-step constants as arrays, shared by the two compiled paths.

    Returns ``pop_f`` (P, 6): v_rest, v_th, v_reset, a, iext term, dt/tau;
    ``pop_ref`` (P,): refractory steps; and per synaptic variable, in
    ``net.channels`` order (grouped by population): ``ch_pop`` (C,) its
    population, ``ch_kind`` (C,) 0 current / 1 conductance / 2 delta (Euler
    populations add it to ``v`` after the step), ``ch_off`` (C,) its
    offset in the flat state, ``ch_f`` (C, 3): decay, coef, e_rev.
    """
    pops = net.populations
    pop_f = np.zeros((len(pops), 6), np_dtype)
    pop_ref = np.zeros(len(pops), np.int64)
    for p_i, pop in enumerate(pops):
        co = _pop_coefficients(net, pop)
        pop_f[p_i] = [co[k] for k in ("v_rest", "v_th", "v_reset", "a", "iext")] + [
            co["dt_tau"]
        ]
        pop_ref[p_i] = int(co["ref"])
    n_ch = len(net.channels)
    ch_pop = np.zeros(n_ch, np.int64)
    ch_kind = np.zeros(n_ch, np.int64)
    ch_off = np.zeros(n_ch, np.int64)
    ch_f = np.zeros((n_ch, 3), np_dtype)
    for c, (pop, syn, off) in enumerate(net.channels):
        decay, coef = _channel_coefficients(net, pop, syn.tau)
        ch_pop[c] = pop.index
        ch_kind[c] = (
            1
            if isinstance(syn, ConductanceSynapse)
            else (2 if isinstance(syn, DeltaSynapse) else 0)
        )
        ch_off[c] = off
        ch_f[c] = [decay, coef, getattr(syn, "e_rev", 0.0)]
    return pop_f, pop_ref, ch_pop, ch_kind, ch_off, ch_f


def _source_schedule(net: Network, k0: int, n_steps: int) -> tuple[np.ndarray, ...]:
    """Spike-source events in steps ``[k0, k0 + n_steps)``, sorted by (step, index)."""
    steps, gidx = [], []
    for src in net.sources:
        if src.rate > 0:
            assert src.rng is not None
            p = src.rate * net.dt * 1e-3
            if p >= 1:
                mask = np.ones((n_steps, src.n), bool)
            else:
                mask = src.rng.random((n_steps, src.n)) < p
            s, i = np.nonzero(mask)
            steps.append(s + k0)
            gidx.append(i + src.start)
        elif src.times.size:
            s = np.rint(src.times / net.dt).astype(np.int64)
            keep = (s >= k0) & (s < k0 + n_steps)
            steps.append(s[keep])
            gidx.append(src.indices[keep] + src.start)
    if not steps:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    s_all = np.concatenate(steps)
    g_all = np.concatenate(gidx)
    order = np.lexsort((g_all, s_all))
    return s_all[order].astype(np.int64), g_all[order].astype(np.int64)


def _monitor_layout(net: Network) -> tuple[np.ndarray, np.ndarray, int]:
    kinds, index = [], []
    offsets = {(p.index, s): off for p, s, off in net.channels}
    for mon in net.state_monitors:
        if mon.variable == "v":
            kinds.append(np.zeros(mon.index.size, np.int64))
            index.append(mon.index + mon.pop.start)
        elif isinstance(mon.variable, str):  # the model's b, u or w
            kinds.append(np.full(mon.index.size, 2, np.int64))
            index.append(mon.index + mon.pop.start)
        else:
            kinds.append(np.ones(mon.index.size, np.int64))
            syn = mon.variable
            assert not isinstance(syn, str)
            index.append(mon.index + offsets[(mon.pop.index, syn)])
    every = 1
    if net.state_monitors:
        every = net.state_monitors[0].every
        for mon in net.state_monitors[1:]:
            every = math.gcd(every, mon.every)

    def cat(xs: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(xs) if xs else np.zeros(0, np.int64)

    return cat(kinds), cat(index), every


def _store_samples(
    net: Network, steps: np.ndarray, values: np.ndarray | Tensor, grad: bool
) -> None:
    """Distribute samples (n_samples, batch, M) to the state monitors."""
    col = 0
    for mon in net.state_monitors:
        m = mon.index.size
        keep = steps % mon.every == 0
        part = values[keep][:, :, col : col + m]
        col += m
        mon._times.append(steps[keep])
        if isinstance(part, Tensor):
            mon._tensor.append(part)
            mon.tensor = torch.cat(mon._tensor)
            mon._values.append(part.detach().cpu().numpy())
        else:
            mon._values.append(part)


def _progress(show: bool, total: int) -> Any:
    if not show:
        return nullcontext(None)
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("simulate"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} steps"),
        TimeRemainingColumn(),
        transient=True,
    )


# --------------------------------------------------------------------- numba path
_CHUNK = 1000  # steps per compiled call and per progress update
# the spike record's first size (spikes; a call returns early when a step might
# not fit, and the record doubles)
_RECORD_PER_NEURON, _RECORD_MIN = 4, 1 << 16


def run_numba(net: Network, n_steps: int, show: bool) -> None:
    """Advance ``net`` by ``n_steps`` with the compiled kernel."""
    from neurodl.simulate._numba_engine import run_chunk

    np_dtype = np.float64 if net.dtype == torch.float64 else np.float32
    pops = net.populations
    n_pop = len(pops)
    pop_bounds = np.array([[p.start, p.start + p.n] for p in pops], np.int64)
    pop_method = np.array([0 if p.method == "exact" else 1 for p in pops], np.int64)
    pop_f, pop_ref, ch_pop, ch_kind, ch_off, ch_f = _step_tables(net, np_dtype)
    # each population's (up to) two synaptic variables, -1 for none
    pop_ch = np.full((n_pop, 2), -1, np.int64)
    for c, p_i in enumerate(ch_pop):
        pop_ch[p_i, int((ch_pop[:c] == p_i).sum())] = c
    if not ch_pop.size:  # at least one row: unused slots read row 0
        ch_kind, ch_off = np.zeros(1, np.int64), np.zeros(1, np.int64)
        ch_f = np.zeros((1, 3), np_dtype)
    w = kernel_weights(net, np_dtype)  # CSR order (kept while unchanged)
    if net._pending:
        raise ValidationError(
            "delayed spikes from a tensor-path run are in flight; continue with "
            "backend 'torch' (switching paths mid-delay is not supported)."
        )
    net.v = net.v.detach().clone()
    net.g = net.g.detach().clone()
    net.refr = net.refr.clone()
    net.aux = net.aux.detach().clone()
    aux = net.aux[0].numpy()
    pop_model, pop_mf = _models.model_table(net, np_dtype)
    v = net.v[0].numpy()
    refr = net.refr[0].numpy()
    g = net.g[0].numpy()
    if net._ring.dtype != np_dtype:
        net._ring = net._ring.astype(np_dtype)
    touched = np.zeros(net.n_g, np.uint8)
    touched_list = np.zeros(net.n_g, np.int64)
    src_step, src_gidx = _source_schedule(net, net.step, n_steps)
    src_pos = np.zeros(1, np.int64)
    rec_mask = record_mask(net)
    mon_kind, mon_index, every = _monitor_layout(net)
    first = net.step + (-net.step) % every
    n_samples = len(range(first, net.step + n_steps, every)) if mon_kind.size else 0
    mon_out = np.zeros((n_samples, mon_kind.size), np_dtype)
    mon_pos = np.zeros(1, np.int64)
    zero = np.zeros(2 * max(p.n for p in pops), np_dtype)
    spk = np.zeros(net.n_all, np.int64)
    theta = net.theta[0].numpy()
    pop_theta = theta_table(net, np_dtype)
    pl = net._plastic
    if pl is None:
        from neurodl.simulate.plasticity import PlasticState

        pl = PlasticState.empty()
    plastic_args = pl.kernel_args(np_dtype)
    pin_args = poisson_tables(net, np_dtype)
    gptr, *bk = _delivery.delivery_tables(net)
    pulls = gptr.size > 0
    cap = max(_RECORD_PER_NEURON * net.n_all, _RECORD_MIN)
    out_step = np.zeros(cap, np.int64)
    out_idx = np.zeros(cap, np.int64)
    hist_idx = np.zeros(cap if pulls else 0, np.int64)
    hist_ptr = np.zeros(_CHUNK + 1, np.int64)
    n_out = np.zeros(1, np.int64)
    done = 0
    try:  # the buckets replayed: the ring holds every event in flight
        with _progress(show, n_steps) as bar:
            task = bar.add_task("run", total=n_steps) if bar is not None else None
            while done < n_steps:
                todo = min(_CHUNK, n_steps - done)
                did = run_chunk(  # type: ignore[call-arg]
                    net.step,
                    todo,
                    v,
                    refr,
                    g,
                    pop_bounds,
                    pop_method,
                    pop_f,
                    pop_ref,
                    pop_ch,
                    ch_kind,
                    ch_off,
                    ch_f,
                    net._indptr,
                    net._tgt,
                    w,
                    net._dly,
                    net._ring,
                    touched,
                    touched_list,
                    net.n_lif,
                    src_step,
                    src_gidx,
                    src_pos,
                    rec_mask,
                    out_step,
                    out_idx,
                    n_out,
                    mon_kind,
                    mon_index,
                    every,
                    mon_out,
                    mon_pos,
                    zero,
                    spk,
                    theta,
                    pop_theta,
                    aux,
                    pop_model,
                    pop_mf,
                    *plastic_args,
                    *pin_args,
                    *bk,
                    gptr,
                    hist_idx,
                    hist_ptr,
                )
                net.step += did
                done += did
                # hand this chunk's spikes to the monitors, then reuse the record
                deliver(net, out_step[: n_out[0]], out_idx[: n_out[0]], net.step)
                n_out[0] = 0
                if did < todo:  # spike record full: grow it
                    cap *= 2
                    out_step = np.resize(out_step, cap)
                    out_idx = np.resize(out_idx, cap)
                    hist_idx = np.zeros(cap if pulls else 0, np.int64)
                if bar is not None:
                    bar.update(task, completed=done)
    finally:
        _delivery.spill_all(net._ring, *bk)
    if net._plastic is not None:  # learned weights back into the projections
        with torch.no_grad():
            for proj, slots in zip(pl.projections, pl.slots, strict=True):
                proj.weight.copy_(torch.as_tensor(w[slots]))
    if mon_kind.size:
        sample_steps = np.arange(first, net.step, every, dtype=np.int64)
        _store_samples(net, sample_steps, mon_out[:, None, :], grad=False)


# ------------------------------------------------- compiled gradient path (BPTT)
COMPILED_GRAD_SURROGATES = ("fast_sigmoid", "arctan", "sigmoid", "triangle")


def compiled_grad_unsupported(net: Network, propagation: str = "sparse") -> str | None:
    """Why the compiled gradient path cannot run ``net`` (``None``: it can)."""
    if net.device.type != "cpu":
        return f"device {net.device} (the compiled path runs on the CPU)"
    if net.batch != 1:
        return f"batch {net.batch} (the compiled path runs batch 1)"
    if propagation not in ("sparse", "events"):
        return f"propagation {propagation!r}"
    if net.surrogate.name not in COMPILED_GRAD_SURROGATES:
        return f"surrogate {net.surrogate.name!r}"
    if any(p.adaptation is not None for p in net.populations):
        return "adaptive thresholds"
    if any(isinstance(s, DeltaSynapse) for p in net.populations for s in p.channels):
        return "delta synapses"
    if net.poisson_inputs:
        return "Poisson inputs"
    if net.stream_monitors:
        return "rate or stats monitors"
    if any(_models.model_kind(p.params) for p in net.populations):
        return "ALIF, Izhikevich or AdEx populations"
    return None


def run_numba_grad(net: Network, n_steps: int, show: bool, detach_reset: bool) -> None:
    """Advance ``net`` by ``n_steps`` with the compiled BPTT path (``grad=True``).

    See :mod:`neurodl.simulate._numba_grad`.
    """
    from neurodl.simulate import _numba_grad

    _numba_grad.run_numba_grad(net, n_steps, show, detach_reset)


# ------------------------------------------------------------------ run checks
def check_run(
    net: Network, duration: float, backend: str, grad: bool, propagation: str
) -> tuple[int, str]:
    """Check :meth:`Network.run`'s arguments; return its steps and its path.

    ``backend`` ``"auto"`` becomes ``"numba"`` (the compiled loop: CPU, batch 1, at
    most two synapse types per population without gradients; with gradients
    where :func:`compiled_grad_unsupported` finds nothing against it) or
    ``"torch"``; a backend or option that cannot run this network is an error
    naming it.
    """
    from neurodl.simulate.network import BACKENDS, PROPAGATIONS

    check_positive("duration", duration)
    n_float = duration / net.dt
    n_steps = round(n_float)
    if abs(n_float - n_steps) > 1e-9 * max(1.0, n_float) or n_steps < 1:
        raise ValidationError(
            f"'duration' must be a positive multiple of dt ({net.dt} ms); "
            f"got {duration!r}."
        )
    check_option("propagation", propagation, PROPAGATIONS)
    backend = check_option("backend", backend, BACKENDS)
    if any(p.plasticity is not None for p in net.projections):
        if grad:
            raise ValidationError(
                "'grad=True' is not supported on a network with 'plasticity' "
                "(STDP changes the weights during the run); run with "
                "grad=False."
            )
        if net.batch != 1:
            raise ValidationError(
                "a network with 'plasticity' runs with batch 1 (each trial "
                f"would learn its own weights); got batch {net.batch}."
            )
        if propagation not in ("sparse", "events"):
            raise ValidationError(
                "'propagation' must be 'sparse' or 'events' on a network with "
                f"'plasticity'; got {propagation!r}."
            )
    if backend == "auto":
        on_cpu = net.device.type == "cpu" and net.batch == 1
        if grad:  # the compiled BPTT path where it applies
            on_cpu = compiled_grad_unsupported(net, propagation) is None
        backend = "numba" if on_cpu else "torch"
        if not grad and net._max_synapse_types() > 2:
            backend = "torch"
    if backend == "numba":
        if not grad and net._max_synapse_types() > 2:
            raise ValidationError(
                "backend 'numba' takes at most 2 synapse types per population "
                f"(got {net._max_synapse_types()}); use backend 'torch'."
            )
        reason = compiled_grad_unsupported(net, propagation) if grad else None
        if reason is not None:
            raise ValidationError(
                f"'grad=True' with {reason} needs backend 'torch' (the "
                "compiled gradient path does not support it)."
            )
        if net.device.type != "cpu" or net.batch != 1:
            raise ValidationError(
                "backend 'numba' runs on the CPU with batch 1; got device "
                f"{net.device} and batch {net.batch}."
            )
    return n_steps, backend
