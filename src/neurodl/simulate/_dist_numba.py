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
from numba.core import cgutils, types
from numba.extending import intrinsic

from neurodl.simulate._delivery import (
    land,
    land_row,
    pull_row,
    pull_step,
    pull_two,
    push,
)
from neurodl.simulate._keyed import poisson_add_range
from neurodl.simulate._models_numba import alif_threshold, step_model
from neurodl.simulate._numba_engine import _integrate

ir = cgutils.ir  # llvmlite's IR builder, as numba uses it

__all__ = ["deliver", "local_steps", "run_windows"]


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _end_step(  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    k, k_first, k_from, k_known, hist_ptr, hist_idx, gptr, tgt, w, g, ring, acc, bk,
    bk_n, own_g, pin_i, pin_key, pin_w, pin_cdf, pin_guide, pin_own,
):  # fmt: skip
    """Finish step 4 for the owned neurons: the ring slot, then Poisson.

    Pulling (``gptr`` not empty), the step's row (:func:`pull_row`: its ring
    row, or ``acc``) first takes what arrives at ``k`` from the spikes of steps
    ``k_from`` to ``k_known - 1`` (those before ``k_from`` are pulled already);
    then it lands in the owned ``g``.
    """
    if ring.shape[0] > 1:
        if gptr.shape[0] > 0:
            pull_step(
                k, k_first, k_from, k_known, hist_ptr, hist_idx, ring, acc, gptr,
                tgt, w,
            )  # fmt: skip
            row = pull_row(k, k_first, ring, acc)
            for r in range(own_g.shape[0]):
                land_row(g, row, own_g[r, 0], own_g[r, 1])
        else:
            for r in range(own_g.shape[0]):
                land(g, ring, bk, bk_n, k % ring.shape[0], own_g[r, 0], own_g[r, 1])
    if pin_i.shape[0] > 0:
        poisson_add_range(k, g, pin_i, pin_key, pin_w, pin_cdf, pin_guide, pin_own)


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
    acc: np.ndarray,  # (2, G) pulled rows after the run's first L steps (pull_row)
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
    pin_guide: np.ndarray,
    pin_own: np.ndarray,
    bk: np.ndarray,  # event buckets in front of the ring (see _delivery)
    bk_n: np.ndarray,
    out_step: np.ndarray,  # (n_steps * owned,) the window's spikes: step
    out_idx: np.ndarray,  # and global index, in (step, index) order
    k_first: int,  # pull (gptr not empty): the spike history's first step,
    hist_ptr: np.ndarray,  # where each of its steps starts in hist_idx,
    hist_idx: np.ndarray,  # every spike of every process before k0
    gptr: np.ndarray,
    tgt: np.ndarray,
    w: np.ndarray,
    k_from0: int,  # pull: step k0's row holds the arrivals of spikes before this
) -> int:
    """Advance the owned neurons ``n_steps`` steps from ``k0``; return the spikes.

    Steps 2, 3 and 5 of the single-process step (integrate, threshold, reset)
    for every step; the ring slot and the Poisson inputs (the end of step 4) for
    every step but the last when ``defer_last`` (:func:`deliver` finishes it).
    Pulling, a step's ring slot first takes the synapses that arrive then from
    the spikes before ``k0`` (a window is one step longer than the shortest
    delay, so no spike of the window arrives before its last step).
    """
    n_pop = own_bounds.shape[0]
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
                cb < 0,
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
        k_from = k_from0 if step == 0 else k_first
        _end_step(
            k, k_first, k_from, k0, hist_ptr, hist_idx, gptr, tgt, w, g, ring, acc,
            bk, bk_n, own_g, pin_i, pin_key, pin_w, pin_cdf, pin_guide, pin_own,
        )  # fmt: skip
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
    pin_guide: np.ndarray,
    pin_own: np.ndarray,
    bk: np.ndarray,
    bk_n: np.ndarray,
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
            base = sp_step[s] % big_l
            push(indptr[j], indptr[j + 1], base, tgt, w, dly, ring, bk, bk_n)
    none = np.zeros(0, np.int64)  # pushed: nothing to pull
    _end_step(
        k, k, k, k, none, none, none, tgt, w, g, ring, ring, bk, bk_n, own_g,
        pin_i, pin_key, pin_w, pin_cdf, pin_guide, pin_own,
    )  # fmt: skip


@intrinsic
def _relax(typingctx):  # type: ignore[no-untyped-def]
    """x86 ``pause``: the body of a spin-wait (lets the other hyperthread run)."""
    sig = types.void()

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        fnty = ir.FunctionType(ir.VoidType(), [])
        fn = builder.module.declare_intrinsic("llvm.x86.sse2.pause", fnty=fnty)
        builder.call(fn, [])
        return context.get_dummy_value()

    return sig, codegen


def _item_pointer(context, builder, signature, args):  # type: ignore[no-untyped-def]
    aryty = signature.args[0]
    ary = context.make_array(aryty)(context, builder, args[0])
    return cgutils.get_item_pointer(
        context, builder, aryty, ary, [args[1]], wraparound=False
    )


@intrinsic
def _load_acquire(typingctx, arr, idx):  # type: ignore[no-untyped-def]
    """``arr[idx]`` read atomically with acquire order (a flag in shared memory).

    Read anew on every call (never hoisted out of a wait loop), and the reads
    after it see what was written before the matching release store.
    """
    sig = arr.dtype(arr, idx)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        ptr = _item_pointer(context, builder, signature, args)
        return builder.load_atomic(ptr, "acquire", 8)

    return sig, codegen


@intrinsic
def _store_release(typingctx, arr, idx, val):  # type: ignore[no-untyped-def]
    """``arr[idx] = val`` atomically with release order (publish a flag)."""
    sig = types.void(arr, idx, arr.dtype)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        ptr = _item_pointer(context, builder, signature, args)
        builder.store_atomic(args[2], ptr, "release", 8)
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True, nogil=True, error_model="numpy")
def run_windows(  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    k0: int,
    n_steps: int,
    width: int,
    resume: bool,
    spin_limit: int,
    shm: np.ndarray,  # (world, 2, cap + 2) shared: [seq, count, codes...]
    rank: int,
    world: int,
    seq0: int,
    n_all: int,
    src_step: np.ndarray,
    src_gidx: np.ndarray,
    src_pos: np.ndarray,  # (1,) cursor into the source schedule
    rec_step: np.ndarray,  # (cap,) every spike of the run, (step, index) order
    rec_idx: np.ndarray,
    n_rec: np.ndarray,  # (1,)
    sp_step: np.ndarray,  # (width * n_all,) scratch: one window's spikes
    sp_idx: np.ndarray,
    loc_step: np.ndarray,  # (width * owned + 1,) scratch: this process's
    loc_idx: np.ndarray,
    ptr: np.ndarray,  # (world + 1,) int64 scratch; [world]: spins waited, summed
    k_first: int,  # pull (gptr not empty): the run's first step, and where
    hist_ptr: np.ndarray,  # each of its steps starts in rec_idx
    gptr: np.ndarray,
    v, refr, g, own_bounds, pop_method, pop_f, pop_ref, pop_ch, ch_kind, ch_off,
    ch_f, ring, acc, own_g, zero, spk, theta, pop_theta, aux, pop_model, pop_mf, pin_i,
    pin_key, pin_w, pin_cdf, pin_guide, pin_own, indptr, tgt, w, dly, touched,
    touched_list, bk, bk_n,
):  # fmt: skip
    """Run whole windows with the shared-memory exchange compiled in.

    Returns ``(steps done, status, seq)``: status 0 all done; 1 a process's spikes
    have not arrived after ``spin_limit`` spins (call again with ``resume`` to
    wait on, so the caller can yield the CPU and watch the time); 2 the record
    needs room (grow it, call again). ``seq``: windows exchanged so far.
    """
    done = 0
    seq = seq0
    pull = gptr.shape[0] > 0 and ring.shape[0] > 1
    flat = shm.reshape(shm.size)  # the same memory, for the atomic flag accesses
    row = shm.shape[2]
    while done < n_steps:
        todo = min(width, n_steps - done)
        kw = k0 + done
        slot = seq % 2
        n_loc = 0
        if not resume:
            if n_rec[0] + todo * n_all > rec_step.shape[0]:
                return done, 2, seq
            # pull: the previous window added its older arrivals (see below)
            two = pull and width > 1
            k_from0 = kw - width if two and kw > k_first else k_first
            n_loc = local_steps(
                kw, todo, True, v, refr, g, own_bounds, pop_method, pop_f, pop_ref,
                pop_ch, ch_kind, ch_off, ch_f, ring, acc, own_g, zero, spk, theta,
                pop_theta, aux, pop_model, pop_mf, pin_i, pin_key, pin_w, pin_cdf,
                pin_guide, pin_own, bk, bk_n, loc_step, loc_idx, k_first, hist_ptr,
                rec_idx, gptr, tgt, w, k_from0,
            )  # fmt: skip
            if world > 1:
                for i in range(n_loc):
                    shm[rank, slot, 2 + i] = (loc_step[i] - kw) * n_all + loc_idx[i]
                shm[rank, slot, 1] = n_loc
                _store_release(flat, (rank * 2 + slot) * row, seq + 1)  # type: ignore[call-arg]
            # while the others finish: the older arrivals of the last step, and
            # of the next window's first (its k_from0) where one follows
            if two and done + todo < n_steps:
                pull_two(
                    kw + todo - 1, k_first, k_first, kw, hist_ptr, rec_idx, ring,
                    acc, gptr, tgt, w,
                )  # fmt: skip
            elif pull:  # (a one-step window: its step is the first, k_from0)
                k_from = k_from0 if todo == 1 else k_first
                pull_step(
                    kw + todo - 1, k_first, k_from, kw, hist_ptr, rec_idx, ring,
                    acc, gptr, tgt, w,
                )  # fmt: skip
        resume = False
        if world > 1:
            for r in range(world):
                spins = 0
                while _load_acquire(flat, (r * 2 + slot) * row) != seq + 1:  # type: ignore[call-arg]
                    _relax()
                    spins += 1
                    ptr[world] += 1
                    if spins > spin_limit:
                        return done, 1, seq
                ptr[r] = 0
        # the window's spikes in global (step, index) order, sources last
        m = 0
        q = src_pos[0]
        p = 0
        for s in range(todo):
            ks = kw + s
            if world > 1:
                for r in range(world):
                    cnt = shm[r, slot, 1]
                    while ptr[r] < cnt:
                        code = shm[r, slot, 2 + ptr[r]]
                        if code // n_all != s:
                            break
                        sp_step[m] = ks
                        sp_idx[m] = code - s * n_all
                        m += 1
                        ptr[r] += 1
            else:
                while p < n_loc and loc_step[p] == ks:
                    sp_step[m] = ks
                    sp_idx[m] = loc_idx[p]
                    m += 1
                    p += 1
            while q < src_step.shape[0] and src_step[q] == ks:
                sp_step[m] = ks
                sp_idx[m] = src_gidx[q]
                m += 1
                q += 1
        src_pos[0] = q
        o = n_rec[0]
        if not pull:
            deliver(
                kw + todo - 1, sp_step[:m], sp_idx[:m], g, indptr, tgt, w, dly, ring,
                touched, touched_list, own_g, pin_i, pin_key, pin_w, pin_cdf,
                pin_guide, pin_own, bk, bk_n,
            )  # fmt: skip
        for i in range(m):
            rec_step[o + i] = sp_step[i]
            rec_idx[o + i] = sp_idx[i]
        n_rec[0] = o + m
        if pull:  # the window's spikes known: finish its last step
            i = 0
            for s in range(todo):
                while i < m and sp_step[i] == kw + s:
                    i += 1
                hist_ptr[kw + s - k_first + 1] = o + i
            k = kw + todo - 1
            _end_step(
                k, k_first, kw, k + 1, hist_ptr, rec_idx, gptr, tgt, w, g, ring, acc,
                bk, bk_n, own_g, pin_i, pin_key, pin_w, pin_cdf, pin_guide, pin_own,
            )  # fmt: skip
        seq += 1
        done += todo
    return done, 0, seq
