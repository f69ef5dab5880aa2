"""Numba kernels of the compiled BPTT path: forward with tape, reverse adjoint pass.

The equations, the tape and the costs are described in
:mod:`neurodl.simulate._numba_grad`, which drives these kernels.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["backward_pass", "forward_chunk"]


@njit(cache=True, nogil=True, inline="always")
def _sigma(kind, slope, x):  # type: ignore[no-untyped-def]
    # pseudo-derivatives of neurodl.neurons.surrogate (same formulas)
    if kind == 0:
        d = 1.0 + slope * abs(x)
        return 1.0 / (d * d)
    if kind == 1:
        y = math.pi / 2.0 * slope * x
        return (slope / 2.0) / (1.0 + y * y)
    if kind == 2:
        s = 1.0 / (1.0 + math.exp(-(slope * x)))
        return slope * s * (1.0 - s)
    t = 1.0 - slope * abs(x)
    return slope * t if t > 0.0 else 0.0


@njit(cache=True, nogil=True)
def _row_dot(lo, hi, w, tgt, lam):  # type: ignore[no-untyped-def]
    # sum_s w[s] lam[tgt[s]] over one CSR row (no delays)
    acc = 0.0
    for s in range(lo, hi):
        acc += w[s] * lam[tgt[s]]
    return acc


@njit(cache=True, nogil=True)
def _row_dot_delayed(lo, hi, w, tgt, dly, lam, base, n_big_l, n_g):  # type: ignore[no-untyped-def]
    # sum_s w[s] lam[(base + dly[s]) % L, tgt[s]], lam flattened (L * G,)
    acc = 0.0
    for s in range(lo, hi):
        slot = base + dly[s]
        if slot >= n_big_l:
            slot -= n_big_l
        acc += w[s] * lam[slot * n_g + tgt[s]]
    return acc


@njit(cache=True, nogil=True)
def _integrate(  # type: ignore[no-untyped-def]
    start,
    stop,
    exact,
    f,
    v,
    refr,
    g,
    c0,
    c1,
    ch_kind,
    ch_off,
    ch_f,
    u,
    u0,
    s2,
    t2,
    s3,
    t3,
):
    """Integrate one population: ``u[u0 + i - start]`` = the new v (frozen: the old).

    The operations of ``_numba_engine._integrate_*`` in the same order, in loops
    the compiler can vectorise; ``s2``/``s3`` (tape rows, from columns ``t2``/``t3``
    when >= 0) get the conductance sum and the ``tau_mem`` derivative terms.
    """
    n = stop - start
    v_rest = f[0]
    a = f[3]
    iext = f[4]
    dt_tau = f[5]
    n_ch = c1 - c0
    vv = v[start:stop]
    rr = refr[start:stop]
    uu = u[u0 : u0 + n]
    if exact and n_ch <= 2 and t3 < 0:
        ca = c0
        cb = c0 + 1 if n_ch == 2 else c0
        ga = g[ch_off[ca] : ch_off[ca] + n] if n_ch > 0 else g[0:0]
        gb = g[ch_off[cb] : ch_off[cb] + n] if n_ch > 0 else g[0:0]
        coa = ch_f[ca, 1] if n_ch > 0 else 0.0
        cob = ch_f[cb, 1] if n_ch > 0 else 0.0
        da = ch_f[ca, 0] if n_ch > 0 else 0.0
        db = ch_f[cb, 0] if n_ch > 0 else 0.0
        if n_ch == 2:
            for i in range(n):
                vi = vv[i]
                x = v_rest + (vi - v_rest) * a + iext
                x = x + ga[i] * coa
                x = x + gb[i] * cob
                ga[i] = ga[i] * da
                gb[i] = gb[i] * db
                uu[i] = vi if rr[i] > 0 else x
        elif n_ch == 1:
            for i in range(n):
                vi = vv[i]
                x = v_rest + (vi - v_rest) * a + iext
                x = x + ga[i] * coa
                ga[i] = ga[i] * da
                uu[i] = vi if rr[i] > 0 else x
        else:
            for i in range(n):
                vi = vv[i]
                x = v_rest + (vi - v_rest) * a + iext
                uu[i] = vi if rr[i] > 0 else x
        return
    if exact:
        for i in range(n):
            uu[i] = v_rest + (vv[i] - v_rest) * a + iext
    else:
        for i in range(n):
            uu[i] = (v_rest - vv[i]) + iext
    if t2 >= 0:
        s2[t2 : t2 + n] = 0.0
    if t3 >= 0:
        s3[t3 : t3 + n] = 0.0
    for c in range(c0, c1):
        gg = g[ch_off[c] : ch_off[c] + n]
        decay = ch_f[c, 0]
        coef = ch_f[c, 1]
        e_rev = ch_f[c, 2]
        dcoef = ch_f[c, 3]
        cond = ch_kind[c] == 1
        for i in range(n):
            gv = gg[i]
            if exact:
                term = gv * coef
                if t3 >= 0:
                    s3[t3 + i] += gv * dcoef
            else:
                term = gv * (e_rev - vv[i]) if cond else gv
                if t3 >= 0:
                    s3[t3 + i] += term
                if t2 >= 0 and cond:
                    s2[t2 + i] += gv
            uu[i] = uu[i] + term
            gg[i] = gv * decay
    for i in range(n):
        vi = vv[i]
        x = uu[i] if exact else vi + uu[i] * dt_tau
        uu[i] = vi if rr[i] > 0 else x


@njit(cache=True, nogil=True)
def forward_chunk(
    k0: int,
    r0: int,
    n_todo: int,
    v: np.ndarray,  # (N_lif,) state, updated in place
    refr: np.ndarray,  # (N_lif,) int64 refractory counters
    g: np.ndarray,  # (G,) synaptic variables
    pop_bounds: np.ndarray,  # (P, 2)
    pop_method: np.ndarray,  # (P,) 0 exact, 1 euler
    pop_f: np.ndarray,  # (P, 6) v_rest, v_th, v_reset, a, iext_term, dt_tau
    pop_ref: np.ndarray,  # (P,)
    pop_ch: np.ndarray,  # (P, 2) channel range
    pop_t2: np.ndarray,  # (P,) column of the population in tape2, or -1
    pop_t3: np.ndarray,  # (P,) column in tape3, or -1
    pop_t1: np.ndarray,  # (P,) column in tape, or -1: u_k kept as events only
    ch_kind: np.ndarray,  # (C,) 0 current, 1 conductance
    ch_off: np.ndarray,  # (C,)
    ch_f: np.ndarray,  # (C, 4) decay, coef, e_rev, dcoef/dtau_mem
    indptr: np.ndarray,  # (N_all + 1,)
    tgt: np.ndarray,  # (S,)
    w: np.ndarray,  # (S,)
    dly: np.ndarray,  # (S,)
    ring: np.ndarray,  # (L, G) inputs in flight, row (step % L)
    touched: np.ndarray,  # (G,) uint8 scratch
    touched_list: np.ndarray,  # (G,) int64 scratch
    n_lif: int,
    src_step: np.ndarray,  # (Q,) absolute steps, sorted
    src_gidx: np.ndarray,  # (Q,)
    src_pos: np.ndarray,  # (1,)
    sp_step: np.ndarray,  # (cap,) relative step of each LIF spike
    sp_idx: np.ndarray,  # (cap,) its neuron
    sp_prev: np.ndarray,  # (cap,) relative step of that neuron's previous spike
    n_sp: np.ndarray,  # (1,)
    last_step: np.ndarray,  # (N_lif,) relative step of each neuron's last spike
    mon_kind: np.ndarray,  # (M,)
    mon_index: np.ndarray,  # (M,)
    mon_every: int,
    mon_out: np.ndarray,  # (n_samples, M)
    mon_pos: np.ndarray,  # (1,)
    store: bool,
    tape: np.ndarray,  # (T, n1) u_k (v_k while refractory), dense-tape populations
    tape2: np.ndarray,  # (T, n2) sum of conductances (Euler populations)
    tape3: np.ndarray,  # (T, n3) d(synaptic input)/d tau_mem
    win: float,  # events: non-refractory u_k with |u_k - v_th| slope < win
    slope: float,
    ev_u: np.ndarray,  # (cap_e,) u_k of each event
    ev_idx: np.ndarray,  # (cap_e,) int32 its neuron
    ev_ptr: np.ndarray,  # (T + 1,) events of step r: ev_ptr[r]..ev_ptr[r+1]
    n_sparse: int,  # neurons of the event-tape populations
    spk: np.ndarray,  # (N_all,) int64 scratch
    acc: np.ndarray,  # (N_lif,) scratch (no tape)
) -> int:
    """Run steps ``r0 .. r0 + n_todo - 1`` (absolute ``k0 + r``); return the count.

    Stops early when the spike or the event record could overflow in the next step.
    """
    n_pop = pop_bounds.shape[0]
    big_l = ring.shape[0]
    n_mon = mon_kind.shape[0]
    cap = sp_step.shape[0]
    cap_e = ev_u.shape[0]
    ne = ev_ptr[r0] if store else 0
    for step in range(n_todo):
        r = r0 + step
        k = k0 + r
        if n_sp[0] + n_lif > cap or (store and ne + n_sparse > cap_e):
            return step
        if n_mon > 0 and k % mon_every == 0:
            row = mon_pos[0]
            for m in range(n_mon):
                if mon_kind[m] == 0:
                    mon_out[row, m] = v[mon_index[m]]
                else:
                    mon_out[row, m] = g[mon_index[m]]
            mon_pos[0] = row + 1
        n_spk = 0
        o = n_sp[0]
        for p in range(n_pop):
            start = pop_bounds[p, 0]
            stop = pop_bounds[p, 1]
            dense = store and pop_t1[p] >= 0
            events = store and pop_t1[p] < 0
            u = tape[r] if dense else acc
            u0 = pop_t1[p] if dense else start
            _integrate(
                start, stop, pop_method[p] == 0, pop_f[p], v, refr, g,
                pop_ch[p, 0], pop_ch[p, 1], ch_kind, ch_off, ch_f, u, u0,
                tape2[r] if store else acc, pop_t2[p] if store else -1,
                tape3[r] if store else acc, pop_t3[p] if store else -1,
            )  # fmt: skip
            # threshold and reset (torch path's rule: only non-refractory fire)
            v_th = pop_f[p, 1]
            v_reset = pop_f[p, 2]
            ref = pop_ref[p]
            for i in range(start, stop):
                ri = refr[i]
                x = u[u0 + i - start]
                if ri > 0:
                    refr[i] = ri - 1
                    continue
                if events and abs(x - v_th) * slope < win:
                    ev_u[ne] = x
                    ev_idx[ne] = i
                    ne += 1
                if x >= v_th:
                    v[i] = v_reset
                    refr[i] = ref
                    spk[n_spk] = i
                    n_spk += 1
                    sp_step[o] = r
                    sp_idx[o] = i
                    sp_prev[o] = last_step[i]
                    last_step[i] = r
                    o += 1
                else:
                    v[i] = x
        n_sp[0] = o
        if store:
            ev_ptr[r + 1] = ne
        q = src_pos[0]
        while q < src_step.shape[0] and src_step[q] == k:
            spk[n_spk] = src_gidx[q]
            n_spk += 1
            q += 1
        src_pos[0] = q
        # propagate: the same accumulation order as run_chunk
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
            for x_ in range(n_touch):
                t = touched_list[x_]
                g[t] = g[t] + ring[0, t]
                ring[0, t] = 0.0
                touched[t] = 0
        else:
            base = k % big_l
            for s in range(n_spk):
                j = spk[s]
                for syn in range(indptr[j], indptr[j + 1]):
                    slot = base + dly[syn]
                    if slot >= big_l:
                        slot -= big_l
                    ring[slot, tgt[syn]] += w[syn]
            for t in range(g.shape[0]):
                g[t] = g[t] + ring[base, t]
                ring[base, t] = 0.0
    return n_todo


@njit(cache=True, nogil=True)
def backward_pass(
    k0: int,
    n_steps: int,
    pop_bounds: np.ndarray,
    pop_method: np.ndarray,
    pop_f: np.ndarray,  # (P, 6) as forward_chunk
    pop_d: np.ndarray,  # (P, 4) i_ext, da/dtau, d(dt/tau)/dtau, 1 - a
    pop_ref: np.ndarray,
    pop_ch: np.ndarray,
    pop_t2: np.ndarray,
    pop_t3: np.ndarray,
    pop_t1: np.ndarray,
    ch_kind: np.ndarray,
    ch_off: np.ndarray,
    ch_f: np.ndarray,
    indptr: np.ndarray,
    tgt: np.ndarray,
    w: np.ndarray,
    dly: np.ndarray,
    tape: np.ndarray,
    tape2: np.ndarray,
    tape3: np.ndarray,
    ev_u: np.ndarray,
    ev_idx: np.ndarray,
    ev_ptr: np.ndarray,
    v0: np.ndarray,  # (N_lif,) v at the first step
    sp_idx: np.ndarray,
    sp_prev: np.ndarray,
    lif_ptr: np.ndarray,  # (T + 1,) LIF spikes of step r: lif_ptr[r]..lif_ptr[r+1]
    last_step: np.ndarray,  # (N_lif,) after the forward pass
    src_gidx: np.ndarray,
    src_ptr: np.ndarray,  # (T + 1,) source spikes of step r
    gz_const: np.ndarray,  # (n_rec,) dL/dz, the part that is the same every step
    has_gz: bool,
    gz: np.ndarray,  # (T, n_rec) dL/dz, the rest (if has_gz)
    rec_col: np.ndarray,  # (N_lif,) column of each neuron in gz, or -1
    has_gs: bool,
    gs: np.ndarray,  # (n_samples, M) dL/d(sample)
    mon_kind: np.ndarray,
    mon_index: np.ndarray,
    mon_every: int,
    sur_kind: int,
    slope: float,
    detach_reset: bool,
    need_p: bool,
    lam_v: np.ndarray,  # (N_lif,) in: dL/dv_T; out: dL/dv_0
    lamg: np.ndarray,  # (L, G) in: lg_T.. lg_T+L-1 at rows step % L; out: lg_0..
    lam_acc: np.ndarray,  # (N_lif,) scratch
    s_lt: np.ndarray,  # (N_lif,) int64 scratch
    fired_flag: np.ndarray,  # (N_lif,) uint8 scratch
    u_ev: np.ndarray,  # (N_lif,) scratch, +inf: u_k of this step's events
    dw: np.ndarray,  # (S,) out: dL/dw
    dtheta: np.ndarray,  # (P, 5) out: tau_mem, v_th, v_rest, v_reset, i_ext
) -> None:
    """Reverse-time adjoint recurrence of the module docstring, steps T-1..0."""
    n_pop = pop_bounds.shape[0]
    big_l = lamg.shape[0]
    n_g = lamg.shape[1]
    n_mon = mon_kind.shape[0]
    lam_flat = lamg.reshape(-1)
    lam0 = lamg[0]
    for i in range(s_lt.shape[0]):
        s_lt[i] = last_step[i]
    row = gs.shape[0] - 1
    for r in range(n_steps - 1, -1, -1):
        k = k0 + r
        nxt = (r + 1) % big_l
        cur = r % big_l
        ev_lo = ev_ptr[r] if ev_ptr.shape[0] > 0 else 0  # this step's u_k events
        ev_hi = ev_ptr[r + 1] if ev_ptr.shape[0] > 0 else 0
        for e in range(ev_lo, ev_hi):
            u_ev[ev_idx[e]] = ev_u[e]
        for e in range(lif_ptr[r], lif_ptr[r + 1]):
            i = sp_idx[e]
            fired_flag[i] = 1
            s_lt[i] = sp_prev[e]  # now: the last spike strictly before r
        # 1. per neuron: lu_k and lv_k
        for p in range(n_pop):
            start = pop_bounds[p, 0]
            stop = pop_bounds[p, 1]
            v_rest = pop_f[p, 0]
            v_th = pop_f[p, 1]
            v_reset = pop_f[p, 2]
            a = pop_f[p, 3]
            dt_tau = pop_f[p, 5]
            ref = pop_ref[p]
            t2 = pop_t2[p]
            t3 = pop_t3[p]
            t1 = pop_t1[p]
            exact = pop_method[p] == 0
            # u_k of the population; event tape: +inf (sigma' = 0) but at events
            xr = tape[r, t1 : t1 + stop - start] if t1 >= 0 else u_ev[start:stop]
            d_vth = 0.0
            d_vreset = 0.0
            s_lu = 0.0
            d_tau = 0.0
            for i in range(start, stop):
                lv = lam_v[i]
                if s_lt[i] >= r - ref:  # refractory: v_k+1 = v_k
                    lam_acc[i] = 0.0
                    continue
                fired = fired_flag[i] == 1
                lu = 0.0 if fired else lv
                x = xr[i - start]
                sd = _sigma(sur_kind, slope, x - v_th)
                if sd != 0.0:
                    lz = 0.0
                    col = rec_col[i]
                    if col >= 0:
                        lz = gz_const[col]
                        if has_gz:
                            lz += gz[r, col]
                    if not detach_reset:
                        lz += (v_reset - x) * lv
                    if big_l == 1:
                        lz += _row_dot(indptr[i], indptr[i + 1], w, tgt, lam0)
                    else:
                        lz += _row_dot_delayed(
                            indptr[i],
                            indptr[i + 1],
                            w,
                            tgt,
                            dly,
                            lam_flat,
                            nxt,
                            big_l,
                            n_g,
                        )
                    lu += sd * lz
                    if need_p:
                        d_vth -= sd * lz
                lam_acc[i] = lu
                if exact:
                    lam_v[i] = a * lu
                elif t2 >= 0:
                    lam_v[i] = lu * (1.0 - dt_tau * (1.0 + tape2[r, t2 + i - start]))
                else:
                    lam_v[i] = lu * (1.0 - dt_tau)
                if need_p:
                    if fired:
                        d_vreset += lv
                    s_lu += lu
                    if t3 >= 0 and lu != 0.0:
                        if r == 0:
                            vk = v0[i]
                        elif s_lt[i] == r - 1:
                            vk = v_reset
                        else:
                            vk = tape[r - 1, t1 + i - start]
                        s3 = tape3[r, t3 + i - start]
                        if exact:
                            d_u = ((vk - v_rest) - pop_d[p, 0]) * pop_d[p, 1] + s3
                        else:
                            d_u = ((v_rest - vk) + pop_d[p, 0] + s3) * pop_d[p, 2]
                        d_tau += lu * d_u
            if need_p:
                dtheta[p, 0] += d_tau
                dtheta[p, 1] += d_vth
                dtheta[p, 2] += s_lu * (pop_d[p, 3] if exact else dt_tau)
                dtheta[p, 3] += d_vreset
                dtheta[p, 4] += s_lu * (pop_d[p, 3] if exact else dt_tau)
        # 2. weights: lg_{tgt, r + d + 1} at the spikes of step r
        for part in range(2):
            lo = lif_ptr[r] if part == 0 else src_ptr[r]
            hi = lif_ptr[r + 1] if part == 0 else src_ptr[r + 1]
            for e in range(lo, hi):
                j = sp_idx[e] if part == 0 else src_gidx[e]
                if big_l == 1:
                    for s in range(indptr[j], indptr[j + 1]):
                        dw[s] += lam0[tgt[s]]
                else:
                    for s in range(indptr[j], indptr[j + 1]):
                        slot = nxt + dly[s]
                        if slot >= big_l:
                            slot -= big_l
                        dw[s] += lam_flat[slot * n_g + tgt[s]]
        # 3. synaptic adjoints lg_r (row r % L held lg_{r+L}, no longer needed)
        for p in range(n_pop):
            start = pop_bounds[p, 0]
            stop = pop_bounds[p, 1]
            v_reset = pop_f[p, 2]
            dt_tau = pop_f[p, 5]
            t1 = pop_t1[p]
            exact = pop_method[p] == 0
            for c in range(pop_ch[p, 0], pop_ch[p, 1]):
                off = ch_off[c] - start
                decay = ch_f[c, 0]
                coef = ch_f[c, 1] if exact else dt_tau
                if exact or ch_kind[c] == 0:
                    for i in range(start, stop):
                        lamg[cur, off + i] = (
                            lamg[nxt, off + i] * decay + coef * lam_acc[i]
                        )
                else:
                    e_rev = ch_f[c, 2]
                    for i in range(start, stop):
                        lu = lam_acc[i]
                        new = lamg[nxt, off + i] * decay
                        if lu != 0.0:
                            if r == 0:
                                vk = v0[i]
                            elif s_lt[i] == r - 1:
                                vk = v_reset
                            else:
                                vk = tape[r - 1, t1 + i - start]
                            new += dt_tau * (e_rev - vk) * lu
                        lamg[cur, off + i] = new
        # 4. state-monitor samples of step r
        if has_gs and n_mon > 0 and k % mon_every == 0:
            for m in range(n_mon):
                if mon_kind[m] == 0:
                    lam_v[mon_index[m]] += gs[row, m]
                else:
                    lamg[cur, mon_index[m]] += gs[row, m]
            row -= 1
        for e in range(lif_ptr[r], lif_ptr[r + 1]):
            fired_flag[sp_idx[e]] = 0
        for e in range(ev_lo, ev_hi):
            u_ev[ev_idx[e]] = math.inf
