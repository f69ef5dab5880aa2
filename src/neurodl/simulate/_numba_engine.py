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
   then Poisson inputs add their counts times weight (as delay-0 spikes);
   without plasticity, the delayed synapses are pulled instead: step ``k`` adds
   the synapses that arrive at ``k`` from the spikes of the steps before, in the
   order pushing would have added them (:mod:`neurodl.simulate._delivery`);
5. reset: ``v = v_reset`` and start the refractory count.

With plasticity (:mod:`neurodl.simulate.plasticity`), step 4 also depresses each
plastic synapse of a presynaptic spike right after propagating it (its pre traces
updated first), and then every postsynaptic spike updates its post traces and
potentiates the plastic synapses onto it: Brian2's ``on_pre`` before ``on_post``.
An adaptive threshold decays with the integration (2.), is added to ``v_th`` at
the threshold (3.) and jumps with the reset (5.). ALIF, Izhikevich and AdEx
populations do 2., 3. and 5. in their own kernels
(:mod:`neurodl.simulate._models_numba`), at the same place in the step.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from neurodl.simulate._delivery import (
    land,
    land_row,
    prefetch_write,
    pull_row,
    pull_step,
    pull_two,
    push,
    push_tail,
)
from neurodl.simulate._keyed import poisson_add
from neurodl.simulate._models_numba import alif_threshold, step_model

__all__ = ["run_chunk"]


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _decay(dec_lo, dec_hi, dec_nhi, row, m):  # type: ignore[no-untyped-def]
    """``exp(-m dt/tau)`` of table row ``row`` (see plasticity.decay_tables).

    ``min`` rather than an ``if`` for the clamp: measured 10x faster here.
    """
    q = min(m >> 10, dec_nhi[row] - 1)
    return dec_lo[row, m & 1023] * dec_hi[row, q]


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _bound(wv, wmin, wmax):  # type: ignore[no-untyped-def]
    return min(max(wv, wmin), wmax)


@njit(cache=True, nogil=True, error_model="numpy")
def _spike_traces(  # type: ignore[no-untyped-def]
    j, k, side, tr, last, rule_i, dec_lo, dec_hi, dec_nhi, scratch
):
    """Update the traces of neuron ``j`` (side 0: pre, r1/r2; 1: post, o1/o2).

    For each rule whose pre (post) group holds ``j``: the second trace's value
    just before this spike goes to ``scratch[r]``, then both traces jump (+1, or
    set to 1 for nearest-spike rules). Returns whether any rule holds ``j``.
    """
    hit = False
    for r in range(rule_i.shape[0]):
        start = rule_i[r, 3 + 2 * side]
        if j < start or j >= start + rule_i[r, 4 + 2 * side]:
            continue
        hit = True
        t = rule_i[r, 7 + side] + j - start
        m = k - last[t]
        row = 4 * r + 2 * side
        d1 = _decay(dec_lo, dec_hi, dec_nhi, row, m)
        nearest = rule_i[r, 0] == 1
        if rule_i[r, 2] == 1:
            before = tr[1, t] * _decay(dec_lo, dec_hi, dec_nhi, row + 1, m)
            scratch[r] = before
            tr[1, t] = 1.0 if nearest else before + 1.0
        tr[0, t] = 1.0 if nearest else tr[0, t] * d1 + 1.0
        last[t] = k
    return hit


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _depress(  # type: ignore[no-untyped-def]
    wv, r, k, pt, rule_i, rule_f, post_tr, post_last, dec_lo, dec_hi, dec_nhi, scratch
):
    """``w - F_-(w) o1 (a2- + a3- r2(t - eps))``, clipped (pre spike)."""
    o1 = post_tr[0, pt] * _decay(dec_lo, dec_hi, dec_nhi, 4 * r + 2, k - post_last[pt])
    # pair rules: a3- = 0 and a2- + 0 * scratch is exactly a2- (no branch)
    dw = o1 * (rule_f[r, 2] + rule_f[r, 3] * scratch[r])
    if rule_i[r, 1] == 1:
        x = wv / rule_f[r, 5]
        mu = rule_f[r, 7]
        wv = wv - dw * (x if mu == 1.0 else x**mu)
    else:
        wv = wv - dw
    return _bound(wv, rule_f[r, 4], rule_f[r, 5])


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _potentiate(  # type: ignore[no-untyped-def]
    wv, r, k, pt, rule_i, rule_f, pre_tr, pre_last, dec_lo, dec_hi, dec_nhi, scratch
):
    """``w + F_+(w) r1 (a2+ + a3+ o2(t - eps))``, clipped (post spike)."""
    r1 = pre_tr[0, pt] * _decay(dec_lo, dec_hi, dec_nhi, 4 * r, k - pre_last[pt])
    dw = r1 * (rule_f[r, 0] + rule_f[r, 1] * scratch[r])
    if rule_i[r, 1] == 1:
        x = 1.0 - wv / rule_f[r, 5]
        mu = rule_f[r, 6]
        wv = wv + dw * (x if mu == 1.0 else x**mu)
    else:
        wv = wv + dw
    return _bound(wv, rule_f[r, 4], rule_f[r, 5])


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _propagate_depress(  # type: ignore[no-untyped-def]
    j, k, seg_ptr, seg, tgt, w, ring, touched, touched_list, n_touch,
    rule_i, rule_f, post_tr, post_last, dec_lo, dec_hi, dec_nhi, scratch,
):  # fmt: skip
    """Propagate the row of ``j`` (no delays), depressing each plastic synapse.

    The row goes run by run (``seg``: synapses of one rule, or static ones), in
    its order. Each plastic synapse is depressed right after its propagation:
    the depression reads only traces, which propagation does not touch, so this
    is the order of a separate pass after the row. The post trace's slot is the
    target's index plus ``rule_i[r, 9]``. For an additive rule the run's
    constants come out of the loop: the same operations as :func:`_depress`
    (``amp`` is its ``a2- + a3- r2``). Returns the new ``n_touch``.
    """
    for e in range(seg_ptr[j], seg_ptr[j + 1]):
        lo = seg[e, 0]
        hi = seg[e, 1]
        r = seg[e, 2]
        if r < 0 or rule_i[r, 1] == 1:
            for syn in range(lo, hi):
                t = tgt[syn]
                if touched[t] == 0:
                    touched[t] = 1
                    touched_list[n_touch] = t
                    n_touch += 1
                ring[0, t] += w[syn]
                if r >= 0:
                    w[syn] = _depress(
                        w[syn], r, k, t + rule_i[r, 9], rule_i, rule_f, post_tr,
                        post_last, dec_lo, dec_hi, dec_nhi, scratch,
                    )  # fmt: skip
            continue
        delta = rule_i[r, 9]
        amp = rule_f[r, 2] + rule_f[r, 3] * scratch[r]
        row = 4 * r + 2
        nhi = dec_nhi[row] - 1
        w_lo = rule_f[r, 4]
        w_hi = rule_f[r, 5]
        for syn in range(lo, hi):
            t = tgt[syn]
            if touched[t] == 0:
                touched[t] = 1
                touched_list[n_touch] = t
                n_touch += 1
            wv = w[syn]
            ring[0, t] += wv
            pt = t + delta
            m = k - post_last[pt]
            d = dec_lo[row, m & 1023] * dec_hi[row, min(m >> 10, nhi)]
            w[syn] = _bound(wv - post_tr[0, pt] * d * amp, w_lo, w_hi)
    return n_touch


@njit(cache=True, nogil=True, error_model="numpy")
def _integrate(  # type: ignore[no-untyped-def]
    vv, rr, f, method, ga, gb, da, db, ka, kb, ea, eb, coa, cob, one=False
):
    """Integrate one population with (up to) two synaptic variables in one pass.

    ``vv``/``rr``: the population's ``v`` and refractory counters; ``ga``/``gb``:
    its synaptic variables (an unused slot is a zero array with ``coef = 0`` and
    ``decay = 1``, which adds exactly ``+0.0``). Frozen (refractory) neurons keep
    ``v`` and count down. Same operation order as the tensor path. ``one``: the
    second slot is unused; the exact method then adds its ``+0.0`` without
    reading or writing the zero array (the same result, less memory traffic).
    """
    v_rest = f[0]
    a = f[3]
    iext = f[4]
    dt_tau = f[5]
    if method == 0 and one:
        for i in range(vv.shape[0]):
            vi = vv[i]
            x = v_rest + (vi - v_rest) * a + iext
            x = x + ga[i] * coa
            x = x + 0.0  # the unused slot: 0.0 * 0.0
            ga[i] = ga[i] * da
            r = rr[i]
            vv[i] = vi if r > 0 else x
            rr[i] = r - 1 if r > 0 else 0
    elif method == 0:
        # exact: v' = v_rest + (v - v_rest) a + iext_term + sum_c x_c coef_c
        for i in range(vv.shape[0]):
            vi = vv[i]
            x = v_rest + (vi - v_rest) * a + iext
            x = x + ga[i] * coa
            x = x + gb[i] * cob
            ga[i] = ga[i] * da
            gb[i] = gb[i] * db
            r = rr[i]
            vv[i] = vi if r > 0 else x
            rr[i] = r - 1 if r > 0 else 0
    else:
        # forward Euler: v' = v + dt/tau (v_rest - v + iext + sum_c I_c), with
        # I_c = x_c (current) or g_c (e_c - v) (conductance); a delta input
        # (kind 2) is added to v' whole, after the step
        for i in range(vv.shape[0]):
            vi = vv[i]
            x = (v_rest - vi) + iext
            x = x + (ga[i] if ka == 0 else (ga[i] * (ea - vi) if ka == 1 else 0.0))
            x = x + (gb[i] if kb == 0 else (gb[i] * (eb - vi) if kb == 1 else 0.0))
            x = vi + x * dt_tau
            if ka == 2:
                x = x + ga[i]
            if kb == 2:
                x = x + gb[i]
            ga[i] = ga[i] * da
            gb[i] = gb[i] * db
            r = rr[i]
            vv[i] = vi if r > 0 else x
            rr[i] = r - 1 if r > 0 else 0


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _room(n_out, n_hist, spk, cap, hist_idx, pull):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Whether the spike records can take a full step of spikes (``spk``'s size).

    A step starts only then (else the call returns early); pulling, the history
    of this call's spikes must have room too.
    """
    return n_out + spk.shape[0] <= cap and (
        not pull or n_hist + spk.shape[0] <= hist_idx.shape[0]
    )


@njit(cache=True, nogil=True, error_model="numpy")
def run_chunk(
    k0: int,
    n_steps: int,
    v: np.ndarray,
    refr: np.ndarray,
    g: np.ndarray,
    pop_bounds: np.ndarray,  # (P, 2) start, stop in the LIF index space
    pop_method: np.ndarray,  # (P,) 0 exact, 1 euler
    pop_f: np.ndarray,  # (P, 6) v_rest, v_th, v_reset, a, iext_term, dt_tau
    pop_ref: np.ndarray,  # (P,) refractory steps
    pop_ch: np.ndarray,  # (P, 2) its two synaptic variables' channels (-1: none)
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
    zero: np.ndarray,  # (2 * largest population,) zeros: unused channel slots
    spk: np.ndarray,  # (N_all,) int64 scratch
    theta: np.ndarray,  # (n_lif,) adaptive threshold (0 where none)
    pop_theta: np.ndarray,  # (P, 3) adaptive?, jump a, decay per step
    aux: np.ndarray,  # (n_lif,) ALIF b, Izhikevich u, AdEx w (0 for LIF)
    pop_model: np.ndarray,  # (P,) 0 LIF, 1 ALIF, 2 Izhikevich, 3 AdEx
    pop_mf: np.ndarray,  # (P, 13) model constants (see _models.model_table)
    n_rules: int,  # plastic projections (0: none; the arrays below unused)
    rule_f: np.ndarray,  # (R, 8) a2+, a3+, a2-, a3-, w_min, w_max, mu+, mu-
    rule_i: np.ndarray,  # (R, 10) see plasticity.PlasticState
    pre_seg_ptr: np.ndarray,  # (N_all + 1,) runs of one rule in each plastic row
    pre_seg: np.ndarray,  # (E, 3) lo, hi, rule (-1: static synapses)
    post_rule: np.ndarray,  # (P,) rule of each entry of post_syn
    post_one_rule: np.ndarray,  # (n_lif,) the rule of all its entries, or -1
    post_indptr: np.ndarray,  # (n_lif + 1,) plastic synapses onto each neuron
    post_syn: np.ndarray,  # (P,) their CSR slots
    post_pre_tr: np.ndarray,  # (P,) their pre-trace slots
    pre_tr: np.ndarray,  # (2, T_pre) r1, r2 at the last update
    pre_last: np.ndarray,  # (T_pre,) step of that update
    post_tr: np.ndarray,  # (2, T_post) o1, o2
    post_last: np.ndarray,  # (T_post,)
    dec_lo: np.ndarray,  # (4 R, 1024) decay tables of r1, r2, o1, o2 per rule
    dec_hi: np.ndarray,  # (4 R, H)
    dec_nhi: np.ndarray,  # (4 R,)
    scratch: np.ndarray,  # (R,) float scratch
    wbuf: np.ndarray,  # (largest plastic in-degree,) float scratch
    pin_i: np.ndarray,  # (Q, 3) Poisson inputs: offset in g, n, CDF length
    pin_key: np.ndarray,  # (Q,) uint64 keys (see _keyed)
    pin_w: np.ndarray,  # (Q,) weights
    pin_cdf: np.ndarray,  # (Q, L) binomial CDF tables
    pin_guide: np.ndarray,  # (Q, 1024) their guide tables
    bk: np.ndarray,  # event buckets in front of the ring (see _delivery;
    bk_n: np.ndarray,  # empty: direct writes)
    gptr: np.ndarray,  # (row, delay) groups of the CSR (empty: push each spike
    # at its step; see _delivery)
    hist_idx: np.ndarray,  # (cap,) int64 scratch: this call's spikes (pull)
    hist_ptr: np.ndarray,  # (n_steps + 1,) int64 scratch: where each step's start
) -> int:
    """Advance ``n_steps`` steps from step ``k0``; return the number of steps done.

    Returns early (fewer steps) when the spike record is full, so the caller can
    grow it and call again from where it stopped.
    """
    n_pop = pop_bounds.shape[0]
    big_l = ring.shape[0]
    n_mon = mon_kind.shape[0]
    cap = out_step.shape[0]
    pull = big_l > 1 and gptr.shape[0] > 0 and n_rules == 0
    acc = np.zeros_like(ring[:2])  # pulled rows after the first L steps (pull_row)
    # no delay 0: a step's spikes first arrive a step later, so the next step's
    # row can be pulled with this one's (pull_two)
    pairs = pull
    if pull:
        for j in range(gptr.shape[0] // big_l):
            if gptr[j * big_l + 1] > gptr[j * big_l]:
                pairs = False
                break
    paired = False  # this step's row was pulled with the step before
    n_hist = 0
    hist_ptr[0] = 0
    n_done = n_steps
    for step in range(n_steps):
        k = k0 + step
        if not _room(n_out[0], n_hist, spk, cap, hist_idx, pull):
            n_done = step
            break
        # 1. state monitors
        if n_mon > 0 and k % mon_every == 0:
            row = mon_pos[0]
            for m in range(n_mon):
                if mon_kind[m] == 0:
                    mon_out[row, m] = v[mon_index[m]]
                elif mon_kind[m] == 2:
                    mon_out[row, m] = aux[mon_index[m]]
                else:
                    mon_out[row, m] = g[mon_index[m]]
            mon_pos[0] = row + 1
        # 2. integrate, 3. threshold, 5. reset
        n_spk = 0
        for p in range(n_pop):
            start = pop_bounds[p, 0]
            stop = pop_bounds[p, 1]
            n = stop - start
            ca = pop_ch[p, 0]
            cb = pop_ch[p, 1]
            ga = g[ch_off[ca] : ch_off[ca] + n] if ca >= 0 else zero[:n]
            gb = g[ch_off[cb] : ch_off[cb] + n] if cb >= 0 else zero[n : 2 * n]
            ia = max(ca, 0)
            ib = max(cb, 0)
            kind = pop_model[p]
            if kind >= 2:  # Izhikevich, AdEx: their own integrate/threshold/reset
                n_spk = step_model(
                    kind, pop_mf[p], v[start:stop], refr[start:stop],
                    aux[start:stop], ga, gb,
                    ch_f[ia, 0] if ca >= 0 else 1.0,
                    ch_f[ib, 0] if cb >= 0 else 1.0,
                    ch_kind[ia] if ca >= 0 else 0,
                    ch_kind[ib] if cb >= 0 else 0,
                    ch_f[ia, 2], ch_f[ib, 2], pop_ref[p], spk, n_spk, start,
                )  # fmt: skip
                continue
            _integrate(
                v[start:stop],
                refr[start:stop],
                pop_f[p],
                pop_method[p],
                ga,
                gb,
                ch_f[ia, 0] if ca >= 0 else 1.0,
                ch_f[ib, 0] if cb >= 0 else 1.0,
                ch_kind[ia] if ca >= 0 else 0,
                ch_kind[ib] if cb >= 0 else 0,
                ch_f[ia, 2],
                ch_f[ib, 2],
                ch_f[ia, 1] if ca >= 0 else 0.0,
                ch_f[ib, 1] if cb >= 0 else 0.0,
                cb < 0,
            )
            # the reset does not affect propagation: do it with the threshold
            v_th = pop_f[p, 1]
            v_reset = pop_f[p, 2]
            ref = pop_ref[p]
            if kind == 1:  # ALIF: threshold v_th + b
                n_spk = alif_threshold(
                    pop_mf[p], v, refr, aux, start, stop, v_th, v_reset, ref, spk,
                    n_spk,
                )  # fmt: skip
            elif pop_theta[p, 0] == 0.0:
                for i in range(start, stop):
                    if v[i] >= v_th:
                        spk[n_spk] = i
                        n_spk += 1
                        v[i] = v_reset
                        refr[i] = ref
            else:
                jump = pop_theta[p, 1]
                th_decay = pop_theta[p, 2]
                for i in range(start, stop):
                    th = theta[i] * th_decay
                    if v[i] >= v_th + th:
                        spk[n_spk] = i
                        n_spk += 1
                        v[i] = v_reset
                        refr[i] = ref
                        th = th + jump
                    theta[i] = th
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
        # 4. propagate (plastic synapses: then depress, on_pre)
        if pull:  # this step's row from the spikes of the delays before
            for s in range(n_spk):
                hist_idx[n_hist + s] = spk[s]
            n_hist += n_spk
            hist_ptr[step + 1] = n_hist
            if paired:
                paired = False
            elif (  # the next step runs in this call (its records have room)
                pairs
                and step + 1 < n_steps
                and _room(n_out[0], n_hist, spk, cap, hist_idx, pull)
            ):
                pull_two(k, k0, k0, k + 1, hist_ptr, hist_idx, ring, acc, gptr, tgt, w)
                paired = True
            else:
                pull_step(k, k0, k0, k + 1, hist_ptr, hist_idx, ring, acc, gptr, tgt, w)
            land_row(g, pull_row(k, k0, ring, acc), 0, g.shape[0])
        elif big_l == 1:
            n_touch = 0
            for s in range(n_spk):
                j = spk[s]
                if n_rules > 0:
                    _spike_traces(
                        j, k, 0, pre_tr, pre_last, rule_i, dec_lo, dec_hi, dec_nhi,
                        scratch,
                    )  # fmt: skip
                if n_rules > 0 and pre_seg_ptr[j] < pre_seg_ptr[j + 1]:
                    n_touch = _propagate_depress(
                        j, k, pre_seg_ptr, pre_seg, tgt, w, ring, touched,
                        touched_list, n_touch, rule_i, rule_f, post_tr, post_last,
                        dec_lo, dec_hi, dec_nhi, scratch,
                    )  # fmt: skip
                    continue
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
            base = k % big_l
            for s in range(n_spk):
                j = spk[s]
                if n_rules > 0:
                    _spike_traces(
                        j, k, 0, pre_tr, pre_last, rule_i, dec_lo, dec_hi, dec_nhi,
                        scratch,
                    )  # fmt: skip
                push(indptr[j], indptr[j + 1], base, tgt, w, dly, ring, bk, bk_n)
                if n_rules == 0:
                    continue
                for e in range(pre_seg_ptr[j], pre_seg_ptr[j + 1]):
                    r = pre_seg[e, 2]
                    if r < 0:
                        continue
                    for syn in range(pre_seg[e, 0], pre_seg[e, 1]):
                        w[syn] = _depress(
                            w[syn], r, k, tgt[syn] + rule_i[r, 9], rule_i, rule_f,
                            post_tr, post_last, dec_lo, dec_hi, dec_nhi, scratch,
                        )  # fmt: skip
            land(g, ring, bk, bk_n, base, 0, g.shape[0])
        # Poisson inputs land where a delay-0 spike does
        if pin_i.shape[0] > 0:
            poisson_add(k, g, pin_i, pin_key, pin_w, pin_cdf, pin_guide)
        # plastic synapses onto each spiking neuron: potentiate (on_post)
        if n_rules > 0:
            for s in range(n_spk):
                i = spk[s]
                if i >= n_lif:
                    break  # spike sources come after the LIF neurons
                lo = post_indptr[i]
                hi = post_indptr[i + 1]
                if lo == hi:
                    continue
                _spike_traces(
                    i, k, 1, post_tr, post_last, rule_i, dec_lo, dec_hi, dec_nhi,
                    scratch,
                )  # fmt: skip
                r = post_one_rule[i]
                if r >= 0 and rule_i[r, 1] == 0:
                    # one additive rule onto the neuron (the common case): its
                    # constants out of the loop; the same operations as
                    # _potentiate (amp is its a2+ + a3+ o2, the same for all)
                    amp = rule_f[r, 0] + rule_f[r, 1] * scratch[r]
                    row = 4 * r
                    nhi = dec_nhi[row] - 1
                    w_lo = rule_f[r, 4]
                    w_hi = rule_f[r, 5]
                    # two passes: the increments (sequential reads, small
                    # tables) while the scattered weights are prefetched, then
                    # the weights' independent read-modify-writes
                    for x in range(lo, hi):
                        prefetch_write(w, post_syn[x])
                        pt = post_pre_tr[x]
                        m = k - pre_last[pt]
                        d = dec_lo[row, m & 1023] * dec_hi[row, min(m >> 10, nhi)]
                        wbuf[x - lo] = pre_tr[0, pt] * d * amp
                    for x in range(lo, hi):
                        syn = post_syn[x]
                        w[syn] = _bound(w[syn] + wbuf[x - lo], w_lo, w_hi)
                    continue
                # gather, update, scatter: the scattered weight reads are
                # independent, so the CPU overlaps their cache misses
                for x in range(lo, hi):
                    wbuf[x - lo] = w[post_syn[x]]
                for x in range(lo, hi):
                    wbuf[x - lo] = _potentiate(
                        wbuf[x - lo], post_rule[x], k, post_pre_tr[x], rule_i,
                        rule_f, pre_tr, pre_last, dec_lo, dec_hi, dec_nhi, scratch,
                    )  # fmt: skip
                for x in range(lo, hi):
                    w[post_syn[x]] = wbuf[x - lo]
    if pull:  # the ring again holds every event in flight
        push_tail(k0 + n_done, k0, hist_ptr, hist_idx, ring, gptr, tgt, w)
    return n_done
