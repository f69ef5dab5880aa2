"""Compiled kernels of a distributed run (see :mod:`neurodl.simulate.distributed`).

A process owns the LIF neurons ``[lo, hi)`` and the synapses onto them. One
exchange window is ``W`` steps; :func:`local_steps` advances the owned neurons
through them without propagating any spike (the window's spikes cannot reach an
integration inside the window), and :func:`deliver`, called in the window's last
step after the spikes of all processes are known, propagates them in global
(step, neuron id) order and finishes that step. Each target therefore sums its
inputs in the order of the single-process kernel
(:func:`neurodl.simulate._numba_engine.run_chunk`), whose operations these
kernels repeat one for one.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from neurodl.simulate._models_numba import alif_threshold, step_model
from neurodl.simulate._numba_engine import _integrate

__all__ = ["deliver", "local_steps"]


@njit(cache=True, nogil=True, error_model="numpy")
def poisson_add_range(  # pragma: no cover - compiled
    k: int,
    g: np.ndarray,
    pin_i: np.ndarray,  # (Q, 3): offset in g, n neurons, CDF length
    pin_key: np.ndarray,  # (Q,) uint64 input keys
    pin_w: np.ndarray,  # (Q,) weight
    pin_cdf: np.ndarray,  # (Q, L) CDF tables
    pin_own: np.ndarray,  # (Q, 2): the owned neurons [i0, i1) of each input
) -> None:
    """:func:`neurodl.simulate._keyed.poisson_add` for the owned neurons only.

    The same hash of (input key, step, neuron), so a neuron gets the same count
    whichever process owns it.
    """
    golden = np.uint64(0x9E3779B97F4A7C15)
    m1 = np.uint64(0xBF58476D1CE4E5B9)
    m2 = np.uint64(0x94D049BB133111EB)
    s30 = np.uint64(30)
    s27 = np.uint64(27)
    s31 = np.uint64(31)
    s11 = np.uint64(11)
    scale = 1.0 / 9007199254740992.0
    for q in range(pin_i.shape[0]):
        off = pin_i[q, 0]
        length = pin_i[q, 2]
        wq = pin_w[q]
        z = (pin_key[q] ^ np.uint64(k)) + golden
        z = (z ^ (z >> s30)) * m1
        z = (z ^ (z >> s27)) * m2
        hk = z ^ (z >> s31)
        for i in range(pin_own[q, 0], pin_own[q, 1]):
            z = hk + np.uint64(i + 1) * golden
            z = (z ^ (z >> s30)) * m1
            z = (z ^ (z >> s27)) * m2
            z = z ^ (z >> s31)
            u = float(z >> s11) * scale
            a = 0
            b = length - 1
            while a < b:
                mid = (a + b) >> 1
                if pin_cdf[q, mid] <= u:
                    a = mid + 1
                else:
                    b = mid
            if a > 0:
                g[off + i] = g[off + i] + a * wq


@njit(cache=True, nogil=True, error_model="numpy")
def local_steps(  # pragma: no cover - compiled
    k0: int,
    n_steps: int,
    defer_last: bool,
    v: np.ndarray,
    refr: np.ndarray,
    g: np.ndarray,
    own_bounds: np.ndarray,  # (P, 3): owned [s0, s1) of each population, its start
    pop_method: np.ndarray,
    pop_f: np.ndarray,
    pop_ref: np.ndarray,
    pop_ch: np.ndarray,
    ch_kind: np.ndarray,
    ch_off: np.ndarray,
    ch_f: np.ndarray,
    ring: np.ndarray,  # (L, G)
    own_g: np.ndarray,  # (R, 2): owned ranges of g
    zero: np.ndarray,
    spk: np.ndarray,  # (n_lif,) scratch
    theta: np.ndarray,
    pop_theta: np.ndarray,
    aux: np.ndarray,
    pop_model: np.ndarray,
    pop_mf: np.ndarray,
    pin_i: np.ndarray,
    pin_key: np.ndarray,
    pin_w: np.ndarray,
    pin_cdf: np.ndarray,
    pin_own: np.ndarray,
    out_step: np.ndarray,  # (n_steps * owned,) the window's spikes: step
    out_idx: np.ndarray,  # and global index, in (step, index) order
) -> int:
    """Advance the owned neurons ``n_steps`` steps from ``k0``; return the spikes.

    Steps 2, 3 and 5 of the single-process step (integrate, threshold, reset)
    for every step; the ring slot and the Poisson inputs (the end of step 4) for
    every step but the last when ``defer_last`` (:func:`deliver` finishes it).
    """
    n_pop = own_bounds.shape[0]
    big_l = ring.shape[0]
    n_out = 0
    for step in range(n_steps):
        k = k0 + step
        n_spk = 0
        for p in range(n_pop):
            s0 = own_bounds[p, 0]
            s1 = own_bounds[p, 1]
            if s1 <= s0:
                continue
            n = s1 - s0
            rel = s0 - own_bounds[p, 2]
            ca = pop_ch[p, 0]
            cb = pop_ch[p, 1]
            ga = g[ch_off[ca] + rel : ch_off[ca] + rel + n] if ca >= 0 else zero[:n]
            gb = (
                g[ch_off[cb] + rel : ch_off[cb] + rel + n]
                if cb >= 0
                else zero[n : 2 * n]
            )
            ia = max(ca, 0)
            ib = max(cb, 0)
            kind = pop_model[p]
            if kind >= 2:
                n_spk = step_model(
                    kind, pop_mf[p], v[s0:s1], refr[s0:s1], aux[s0:s1], ga, gb,
                    ch_f[ia, 0] if ca >= 0 else 1.0,
                    ch_f[ib, 0] if cb >= 0 else 1.0,
                    ch_kind[ia] if ca >= 0 else 0,
                    ch_kind[ib] if cb >= 0 else 0,
                    ch_f[ia, 2], ch_f[ib, 2], pop_ref[p], spk, n_spk, s0,
                )  # fmt: skip
                continue
            _integrate(
                v[s0:s1],
                refr[s0:s1],
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
            )
            v_th = pop_f[p, 1]
            v_reset = pop_f[p, 2]
            ref = pop_ref[p]
            if kind == 1:
                n_spk = alif_threshold(
                    pop_mf[p], v, refr, aux, s0, s1, v_th, v_reset, ref, spk, n_spk
                )
            elif pop_theta[p, 0] == 0.0:
                for i in range(s0, s1):
                    if v[i] >= v_th:
                        spk[n_spk] = i
                        n_spk += 1
                        v[i] = v_reset
                        refr[i] = ref
            else:
                jump = pop_theta[p, 1]
                th_decay = pop_theta[p, 2]
                for i in range(s0, s1):
                    th = theta[i] * th_decay
                    if v[i] >= v_th + th:
                        spk[n_spk] = i
                        n_spk += 1
                        v[i] = v_reset
                        refr[i] = ref
                        th = th + jump
                    theta[i] = th
        for s in range(n_spk):
            out_step[n_out] = k
            out_idx[n_out] = spk[s]
            n_out += 1
        if defer_last and step == n_steps - 1:
            break
        if big_l > 1:
            slot = k % big_l
            for r in range(own_g.shape[0]):
                for t in range(own_g[r, 0], own_g[r, 1]):
                    g[t] = g[t] + ring[slot, t]
                    ring[slot, t] = 0.0
        if pin_i.shape[0] > 0:
            poisson_add_range(k, g, pin_i, pin_key, pin_w, pin_cdf, pin_own)
    return n_out


@njit(cache=True, nogil=True, error_model="numpy")
def deliver(  # pragma: no cover - compiled
    k: int,
    sp_step: np.ndarray,  # (S,) every spike of the window, in (step, index) order
    sp_idx: np.ndarray,
    g: np.ndarray,
    indptr: np.ndarray,
    tgt: np.ndarray,
    w: np.ndarray,
    dly: np.ndarray,
    ring: np.ndarray,
    touched: np.ndarray,
    touched_list: np.ndarray,
    own_g: np.ndarray,
    pin_i: np.ndarray,
    pin_key: np.ndarray,
    pin_w: np.ndarray,
    pin_cdf: np.ndarray,
    pin_own: np.ndarray,
) -> None:
    """Propagate the window's spikes and finish its last step ``k``.

    Ring length 1 (no delays; then every spike is of step ``k``): the touched-list
    accumulation of the single-process kernel; else each spike's synapses go to
    ring slot ``(step + delay) mod L``, and slot ``k`` is added to the owned
    synaptic variables. Then the Poisson inputs of step ``k``.
    """
    big_l = ring.shape[0]
    if big_l == 1:
        n_touch = 0
        for s in range(sp_idx.shape[0]):
            j = sp_idx[s]
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
        for s in range(sp_idx.shape[0]):
            j = sp_idx[s]
            ks = sp_step[s]
            for syn in range(indptr[j], indptr[j + 1]):
                ring[(ks + dly[syn]) % big_l, tgt[syn]] += w[syn]
        slot = k % big_l
        for r in range(own_g.shape[0]):
            for t in range(own_g[r, 0], own_g[r, 1]):
                g[t] = g[t] + ring[slot, t]
                ring[slot, t] = 0.0
    if pin_i.shape[0] > 0:
        poisson_add_range(k, g, pin_i, pin_key, pin_w, pin_cdf, pin_own)
