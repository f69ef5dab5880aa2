"""Compiled, event-driven CPU path: the whole time loop in one numba function.

The math is the same as the tensor path's (:mod:`neurodl.simulate._torch_engine`),
written in the same order of floating-point operations so that, in float64 and with
the same network, both paths give the same spikes; a test holds them to it.

One step ``k`` (time ``t = k dt``), as Brian2 schedules it:

1. record the state monitors (values at ``t``);
2. integrate every LIF neuron from ``t`` to ``t + dt`` (``v`` frozen while
   refractory; synaptic variables decay);
3. threshold: ``v >= v_th`` spikes; spike sources emit their scheduled spikes;
4. propagate: each spike adds its synapses' weights to the target's synaptic
   variable, ``delay`` steps later (delay 0: before the next integration);
5. reset: ``v = v_reset`` and start the refractory count.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["run_chunk"]


@njit(cache=True, nogil=True, inline="always")
def _channel_term(gv, vi, kind, e_rev):  # type: ignore[no-untyped-def]
    # current synapse: x (mV); conductance synapse: g (e_rev - v)
    if kind == 0:
        return gv
    return gv * (e_rev - vi)


@njit(cache=True, nogil=True)
def _integrate_fused(  # type: ignore[no-untyped-def]
    start, stop, method, f, v, refr, g, c0, n_ch, ch_kind, ch_off, ch_f
):
    """One population with at most two synaptic variables, in one pass.

    Frozen (refractory) neurons keep ``v`` and count down; the others take the
    integrated value. Same operation order as the tensor path.
    """
    n = stop - start
    v_rest = f[0]
    a = f[3]
    iext = f[4]
    dt_tau = f[5]
    # views of the (up to) two synaptic variables; unused ones get a dummy
    ca = c0
    cb = c0 + 1 if n_ch == 2 else c0
    ga = g[ch_off[ca] : ch_off[ca] + n]
    gb = g[ch_off[cb] : ch_off[cb] + n]
    da = ch_f[ca, 0]
    db = ch_f[cb, 0]
    ka = ch_kind[ca]
    kb = ch_kind[cb]
    ea = ch_f[ca, 2]
    eb = ch_f[cb, 2]
    coa = ch_f[ca, 1]
    cob = ch_f[cb, 1]
    vv = v[start:stop]
    rr = refr[start:stop]
    if method == 0:
        if n_ch == 2:
            for i in range(n):
                vi = vv[i]
                x = v_rest + (vi - v_rest) * a + iext
                x = x + ga[i] * coa
                x = x + gb[i] * cob
                ga[i] = ga[i] * da
                gb[i] = gb[i] * db
                r = rr[i]
                vv[i] = vi if r > 0 else x
                rr[i] = r - 1 if r > 0 else 0
        elif n_ch == 1:
            for i in range(n):
                vi = vv[i]
                x = v_rest + (vi - v_rest) * a + iext
                x = x + ga[i] * coa
                ga[i] = ga[i] * da
                r = rr[i]
                vv[i] = vi if r > 0 else x
                rr[i] = r - 1 if r > 0 else 0
        else:
            for i in range(n):
                vi = vv[i]
                x = v_rest + (vi - v_rest) * a + iext
                r = rr[i]
                vv[i] = vi if r > 0 else x
                rr[i] = r - 1 if r > 0 else 0
    else:
        if n_ch == 2:
            for i in range(n):
                vi = vv[i]
                x = (v_rest - vi) + iext
                x = x + _channel_term(ga[i], vi, ka, ea)
                x = x + _channel_term(gb[i], vi, kb, eb)
                x = vi + x * dt_tau
                ga[i] = ga[i] * da
                gb[i] = gb[i] * db
                r = rr[i]
                vv[i] = vi if r > 0 else x
                rr[i] = r - 1 if r > 0 else 0
        elif n_ch == 1:
            for i in range(n):
                vi = vv[i]
                x = (v_rest - vi) + iext
                x = x + _channel_term(ga[i], vi, ka, ea)
                x = vi + x * dt_tau
                ga[i] = ga[i] * da
                r = rr[i]
                vv[i] = vi if r > 0 else x
                rr[i] = r - 1 if r > 0 else 0
        else:
            for i in range(n):
                vi = vv[i]
                x = (v_rest - vi) + iext
                x = vi + x * dt_tau
                r = rr[i]
                vv[i] = vi if r > 0 else x
                rr[i] = r - 1 if r > 0 else 0


@njit(cache=True, nogil=True)
def _integrate_general(  # type: ignore[no-untyped-def]
    start, stop, method, f, v, refr, g, c0, n_ch, ch_kind, ch_off, ch_f, acc
):
    """Any number of synaptic variables: one pass per variable."""
    v_rest = f[0]
    a = f[3]
    iext = f[4]
    dt_tau = f[5]
    if method == 0:
        for i in range(start, stop):
            acc[i] = v_rest + (v[i] - v_rest) * a + iext
    else:
        for i in range(start, stop):
            acc[i] = (v_rest - v[i]) + iext
    for c in range(c0, c0 + n_ch):
        off = ch_off[c] - start
        decay = ch_f[c, 0]
        coef = ch_f[c, 1]
        e_rev = ch_f[c, 2]
        kind = ch_kind[c]
        for i in range(start, stop):
            if method == 0:
                acc[i] = acc[i] + g[off + i] * coef
            else:
                acc[i] = acc[i] + _channel_term(g[off + i], v[i], kind, e_rev)
            g[off + i] = g[off + i] * decay
    for i in range(start, stop):
        x = v[i] + acc[i] * dt_tau if method == 1 else acc[i]
        r = refr[i]
        v[i] = v[i] if r > 0 else x
        refr[i] = r - 1 if r > 0 else 0


@njit(cache=True, nogil=True)
def run_chunk(  # noqa: PLR0913 - a compiled kernel takes flat arrays
    k0: int,
    n_steps: int,
    v: np.ndarray,
    refr: np.ndarray,
    g: np.ndarray,
    pop_bounds: np.ndarray,  # (P, 2) start, stop in the LIF index space
    pop_method: np.ndarray,  # (P,) 0 exact, 1 euler
    pop_f: np.ndarray,  # (P, 6) v_rest, v_th, v_reset, a, iext_term, dt_tau
    pop_ref: np.ndarray,  # (P,) refractory steps
    pop_ch: np.ndarray,  # (P, 2) channel range of the population
    ch_kind: np.ndarray,  # (C,) 0 current, 1 conductance
    ch_off: np.ndarray,  # (C,) offset of the channel in g
    ch_f: np.ndarray,  # (C, 3) decay, coef, e_rev
    indptr: np.ndarray,  # (N_all + 1,) CSR by presynaptic global index
    tgt: np.ndarray,  # (S,) flat index into g
    w: np.ndarray,  # (S,)
    dly: np.ndarray,  # (S,) delay in steps
    ring: np.ndarray,  # (L, G) delayed input; L == 1: no delays
    touched: np.ndarray,  # (G,) uint8 scratch (L == 1)
    touched_list: np.ndarray,  # (G,) int64 scratch
    n_lif: int,
    src_step: np.ndarray,  # (Q,) scheduled source spikes, sorted by step
    src_gidx: np.ndarray,  # (Q,) their global indices
    src_pos: np.ndarray,  # (1,) cursor into the schedule
    rec_mask: np.ndarray,  # (N_all,) uint8: record this neuron's spikes
    out_step: np.ndarray,  # (cap,) recorded spike steps
    out_idx: np.ndarray,  # (cap,) recorded spike global indices
    n_out: np.ndarray,  # (1,) number recorded so far
    mon_kind: np.ndarray,  # (M,) 0: v[index], 1: g[index]
    mon_index: np.ndarray,  # (M,)
    mon_every: int,
    mon_out: np.ndarray,  # (n_samples, M)
    mon_pos: np.ndarray,  # (1,) samples written so far
    acc: np.ndarray,  # (N_lif,) scratch
    spk: np.ndarray,  # (N_all,) int64 scratch
) -> int:
    """Advance ``n_steps`` steps from step ``k0``; return the number of steps done.

    Returns early (fewer steps) when the spike record is full, so the caller can
    grow it and call again from where it stopped.
    """
    n_pop = pop_bounds.shape[0]
    big_l = ring.shape[0]
    n_mon = mon_kind.shape[0]
    cap = out_step.shape[0]
    for step in range(n_steps):
        k = k0 + step
        # the spike record must be able to take a full step of spikes
        if n_out[0] + spk.shape[0] > cap:
            return step
        # 1. state monitors
        if n_mon > 0 and k % mon_every == 0:
            row = mon_pos[0]
            for m in range(n_mon):
                if mon_kind[m] == 0:
                    mon_out[row, m] = v[mon_index[m]]
                else:
                    mon_out[row, m] = g[mon_index[m]]
            mon_pos[0] = row + 1
        # 2. integrate, 3. threshold, 5. reset
        n_spk = 0
        for p in range(n_pop):
            start = pop_bounds[p, 0]
            stop = pop_bounds[p, 1]
            c0 = pop_ch[p, 0]
            n_ch = pop_ch[p, 1] - c0
            if n_ch <= 2:
                _integrate_fused(
                    start, stop, pop_method[p], pop_f[p], v, refr, g, c0, n_ch,
                    ch_kind, ch_off, ch_f,
                )
            else:
                _integrate_general(
                    start, stop, pop_method[p], pop_f[p], v, refr, g, c0, n_ch,
                    ch_kind, ch_off, ch_f, acc,
                )
            # the reset does not affect propagation: do it with the threshold
            v_th = pop_f[p, 1]
            v_reset = pop_f[p, 2]
            ref = pop_ref[p]
            for i in range(start, stop):
                if v[i] >= v_th:
                    spk[n_spk] = i
                    n_spk += 1
                    v[i] = v_reset
                    refr[i] = ref
        # spike sources
        q = src_pos[0]
        while q < src_step.shape[0] and src_step[q] == k:
            spk[n_spk] = src_gidx[q]
            n_spk += 1
            q += 1
        src_pos[0] = q
        # record spikes
        o = n_out[0]
        for s in range(n_spk):
            j = spk[s]
            if rec_mask[j]:
                out_step[o] = k
                out_idx[o] = j
                o += 1
        n_out[0] = o
        # 4. propagate
        if big_l == 1:
            n_touch = 0
            for s in range(n_spk):
                j = spk[s]
                for syn in range(indptr[j], indptr[j + 1]):
                    t = tgt[syn]
                    if touched[t] == 0:
                        touched[t] = 1
                        touched_list[n_touch] = t
                        n_touch += 1
                    ring[0, t] += w[syn]
            for x in range(n_touch):
                t = touched_list[x]
                g[t] = g[t] + ring[0, t]
                ring[0, t] = 0.0
                touched[t] = 0
        else:
            for s in range(n_spk):
                j = spk[s]
                for syn in range(indptr[j], indptr[j + 1]):
                    ring[(k + dly[syn]) % big_l, tgt[syn]] += w[syn]
            slot = k % big_l
            for t in range(g.shape[0]):
                g[t] = g[t] + ring[slot, t]
                ring[slot, t] = 0.0
    return n_steps
