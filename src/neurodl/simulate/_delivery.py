"""Delayed spike delivery on the compiled paths: the delay ring behind buckets.

A synaptic event of step ``k`` with delay ``d`` adds its weight to
``ring[(k + d) mod L, target]``; step ``k + d`` then adds the row to ``g`` and
clears it. In a large network (the cortical microcircuit: 43 slots x 77k targets,
26 MB in float64) every event is a write to a random cache line of a ring far
larger than the CPU's L2 cache, and the run is bound by those misses.

When the ring is larger than :data:`RING_DIRECT_BYTES`, events are first appended
to a per-slot bucket of ``(target, weight)`` pairs (sequential writes), and a
bucket is replayed into its ring row (one row, ``n_g`` values, stays in cache
while it is written) when it is full and before the row lands in ``g``. The
replay performs the same ``ring[slot, t] += w`` in the same order as writing each
event directly, so the sums, and the spikes, are bit-identical; only the time at
which each addition happens moves. Outside the kernels the buckets are empty
(:func:`spill_all` at the end of a run), so ``Network._ring`` always holds every
event in flight.

Without plasticity the compiled paths *pull* instead (:data:`PULL`). Each CSR row
is grouped by delay (:mod:`neurodl.simulate._tables`: ``net._gptr``), so the
synapses of one neuron with one delay are one run. Step ``k`` adds to its own ring
row, for the steps ``s = k - d`` from the oldest to the newest and each spike of
step ``s`` in spike order, the delay-``d`` run of the spike's row
(:func:`pull_step`): every (slot, target) cell receives the additions it would
have received pushed, in the same order, so the sums are bit-identical, but the
writes go to one row of ``n_g`` values (in cache) instead of a random cell of the
whole ring, and each run is read whole. After a call's first ``L`` steps every
ring row is zero when its step comes, so the step sums into one scratch row that
stays in cache instead (:func:`pull_row`; full scale, 2 processes: the pull's
ring rows from L3 cost about a third of its time). Without zero delays a step's
spikes first arrive a step later, so a step pulls the next step's row too
(:func:`pull_two`): a spike's delay-``d`` and delay-``d + 1`` runs are adjacent,
one stream. At the end of a call, the synapses of the last ``L - 1`` steps'
spikes that arrive later are pushed into the ring (:func:`push_tail`), which then
again holds every event in flight.

Measured at full scale (the cortical microcircuit, float64, 1 process, 1 s, DC
drive): pushing costs about 10.6 s, pulling a row per step into the ring 5.6 s
(``benchmarks/RESULTS.md``); rows in cache and two at a time, see there.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit
from numba.core import cgutils, types
from numba.extending import intrinsic

__all__ = [
    "PULL",
    "RING_DIRECT_BYTES",
    "buckets",
    "delivery_tables",
    "land",
    "land_row",
    "pull_row",
    "pull_step",
    "pull_two",
    "push",
    "push_tail",
    "spill",
    "spill_all",
]

PULL = True  # compiled paths without plasticity pull (tests compare with push)
RING_DIRECT_BYTES = 4 << 20  # a ring this small is written directly (cached)
BUCKET_EVENTS = 1 << 16  # events per slot's bucket


def buckets(ring: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Empty buckets for ``ring`` (L, G): ``(bk, bk_n)``.

    ``bk`` (L * 2 * cap,) of the ring's dtype holds each slot's events as
    interleaved ``(target, weight)`` pairs (the target as a float: exact below
    2**24 in float32, 2**53 in float64); ``bk_n`` (L,) counts them. Capacity 0
    (direct writes) for a ring of one slot, of at most :data:`RING_DIRECT_BYTES`,
    or with more targets than the dtype holds exactly.
    """
    big_l, n_g = ring.shape
    exact = 2**24 if ring.dtype == np.float32 else 2**53
    direct = big_l == 1 or ring.nbytes <= RING_DIRECT_BYTES or n_g >= exact
    cap = 0 if direct else BUCKET_EVENTS
    return np.zeros(big_l * 2 * cap, ring.dtype), np.zeros(big_l, np.int64)


def delivery_tables(
    net: Any, pull: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(gptr, bk, bk_n)`` of a compiled run: pull, or push through buckets.

    Pulls (``gptr`` = the network's group table, no buckets: the pulled rows are
    written in cache) when :data:`PULL`, ``pull`` (the caller's path can), the
    network has no plasticity and the ring has delays; else ``gptr`` is empty
    and the ring gets :func:`buckets`.
    """
    ring = net._ring
    if pull and PULL and net._plastic is None and ring.shape[0] > 1:
        empty = np.zeros(0, ring.dtype)
        return net._gptr, empty, np.zeros(ring.shape[0], np.int64)
    return (np.zeros(0, np.int64), *buckets(ring))


@njit(cache=True, nogil=True, error_model="numpy")
def spill(ring, bk, bk_n, slot):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Replay bucket ``slot`` into its ring row, in arrival order; empty it."""
    row = ring[slot]
    o = slot * (bk.shape[0] // bk_n.shape[0])
    for e in range(bk_n[slot]):
        row[np.int64(bk[o + 2 * e])] += bk[o + 2 * e + 1]
    bk_n[slot] = 0


@njit(cache=True, nogil=True, error_model="numpy")
def spill_all(ring, bk, bk_n):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Replay every bucket (the end of a run: the ring then holds all events)."""
    for slot in range(bk_n.shape[0]):
        if bk_n[slot] > 0:
            spill(ring, bk, bk_n, slot)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def push(lo, hi, base, tgt, w, dly, ring, bk, bk_n):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Deliver synapses ``[lo, hi)`` of a spike whose step has ring slot ``base``.

    Slot of delay ``d``: ``base + d``, wrapped with one comparison (delays are
    below the ring length), no modulo per event.
    """
    big_l = ring.shape[0]
    cap = bk.shape[0] // (2 * big_l)
    if cap == 0:
        for syn in range(lo, hi):
            slot_d = base + dly[syn]
            slot_d = slot_d - big_l if slot_d >= big_l else slot_d
            ring[slot_d, tgt[syn]] += w[syn]
        return
    for syn in range(lo, hi):
        slot_d = base + np.int64(dly[syn])
        slot_d = slot_d - big_l if slot_d >= big_l else slot_d
        n = bk_n[slot_d]
        if n == cap:
            spill(ring, bk, bk_n, slot_d)
            n = 0
        o = (slot_d * cap + n) * 2
        bk[o] = tgt[syn]
        bk[o + 1] = w[syn]
        bk_n[slot_d] = n + 1


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def land(g, ring, bk, bk_n, slot, lo, hi):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Add ring row ``slot`` (its bucket replayed first) to ``g[lo:hi]``; clear it."""
    if bk_n[slot] > 0:
        spill(ring, bk, bk_n, slot)
    for t in range(lo, hi):
        g[t] = g[t] + ring[slot, t]
        ring[slot, t] = 0.0


# --------------------------------------------------------------- pull delivery
def _prefetch_intrinsic(write: int) -> Any:
    """``llvm.prefetch`` of ``arr[idx]`` as a numba intrinsic (0: read, 1: write).

    A hint only: no effect on results, never faults. High temporal locality,
    data cache.
    """

    @intrinsic
    def prefetch(typingctx, arr, idx):  # type: ignore[no-untyped-def]
        sig = types.void(arr, idx)

        def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
            aryty = signature.args[0]
            ary = context.make_array(aryty)(context, builder, args[0])
            ptr = cgutils.get_item_pointer(
                context, builder, aryty, ary, [args[1]], wraparound=False
            )
            ir = cgutils.ir
            p8 = builder.bitcast(ptr, ir.IntType(8).as_pointer())
            i32 = ir.IntType(32)
            fnty = ir.FunctionType(ir.VoidType(), [p8.type, i32, i32, i32])
            fn = builder.module.declare_intrinsic("llvm.prefetch", [p8.type], fnty)
            builder.call(fn, [p8, i32(write), i32(3), i32(1)])
            return context.get_dummy_value()

        return sig, codegen

    return prefetch


_prefetch_read = _prefetch_intrinsic(0)
prefetch_write = _prefetch_intrinsic(1)

_RUNS = 64  # runs gathered before they are added (their table reads overlap)
_AHEAD = 4  # runs ahead whose first cache lines are prefetched


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _add_runs(runs, n, row0, row1, tgt, w):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Add runs ``0..n-1`` in order: ``[a, b)`` to ``row0``, ``[b, c)`` to ``row1``.

    Each run's start is fetched ``_AHEAD`` runs early.
    """
    for r in range(min(_AHEAD, n)):
        _prefetch_read(tgt, runs[r, 0])
        _prefetch_read(w, runs[r, 0])
    for r in range(n):
        if r + _AHEAD < n:
            lo = runs[r + _AHEAD, 0]
            _prefetch_read(tgt, lo)
            _prefetch_read(w, lo)
            _prefetch_read(w, min(lo + 8, w.shape[0] - 1))
        for syn in range(runs[r, 0], runs[r, 1]):
            row0[tgt[syn]] += w[syn]
        for syn in range(runs[r, 1], runs[r, 2]):
            row1[tgt[syn]] += w[syn]


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def pull_row(k, k_first, ring, acc):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Return the row summing step ``k``'s arrivals (the call began at ``k_first``).

    Ring row ``k mod L`` in the call's first ``L`` steps (it may hold events the
    previous call pushed); after them every ring row is zero when its step comes,
    and a scratch row ``acc[k mod 2]`` (zero until its step's arrivals are
    pulled) takes its place: the same sums, in two rows that stay in cache
    instead of a new ring row each step.
    """
    big_l = ring.shape[0]
    return ring[k % big_l] if k - k_first < big_l else acc[k % 2]


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def land_row(g, row, lo, hi):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Add ``row[lo:hi]`` (a pulled step's arrivals) to ``g[lo:hi]``; clear it."""
    for t in range(lo, hi):
        g[t] = g[t] + row[t]
        row[t] = 0.0


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _pull(  # type: ignore[no-untyped-def]  # pragma: no cover
    k, k_first, k_from, k_known, hist_ptr, hist_idx, ring, acc, gptr, tgt, w, two
):  # fmt: skip
    """:func:`pull_step` (``two`` false) or :func:`pull_two`."""
    big_l = ring.shape[0]
    row0 = pull_row(k, k_first, ring, acc)
    row1 = pull_row(k + 1, k_first, ring, acc)
    runs = np.empty((_RUNS, 3), np.int64)
    n = 0
    for s in range(max(k_first, k_from, k - big_l + 1), min(k, k_known - 1) + 1):
        d = k - s
        for h in range(hist_ptr[s - k_first], hist_ptr[s - k_first + 1]):
            x = hist_idx[h] * big_l + d
            a = gptr[x]
            b = gptr[x + 1]
            c = gptr[x + 2] if two and d + 1 < big_l else b
            if c > a:
                runs[n, 0] = a
                runs[n, 1] = b
                runs[n, 2] = c
                n += 1
                if n == _RUNS:
                    _add_runs(runs, n, row0, row1, tgt, w)
                    n = 0
    _add_runs(runs, n, row0, row1, tgt, w)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def pull_step(  # type: ignore[no-untyped-def]  # pragma: no cover
    k, k_first, k_from, k_known, hist_ptr, hist_idx, ring, acc, gptr, tgt, w
):  # fmt: skip
    """Add to step ``k``'s row (:func:`pull_row`) every synapse arriving then.

    From the spikes of steps ``max(k_first, k_from)`` (the history's first, or
    the first not pulled yet) to ``k_known - 1`` (the last known), oldest first:
    calls for consecutive ranges of steps add what one call for their union adds,
    in the same order. The spikes of step ``s`` are
    ``hist_idx[hist_ptr[s - k_first] : hist_ptr[s - k_first + 1]]``, and the
    synapses of neuron ``j`` with delay ``d`` are ``gptr[j L + d] : gptr[j L + d
    + 1]``. The runs are listed ``_RUNS`` at a time (independent table reads),
    then added in that order while the next runs' first cache lines are fetched
    (each run is a short stream from memory, whose start would otherwise wait).
    """
    _pull(
        k, k_first, k_from, k_known, hist_ptr, hist_idx, ring, acc, gptr, tgt, w, False
    )


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def pull_two(  # type: ignore[no-untyped-def]  # pragma: no cover
    k, k_first, k_from, k_known, hist_ptr, hist_idx, ring, acc, gptr, tgt, w
):  # fmt: skip
    """:func:`pull_step` for steps ``k`` and ``k + 1`` at once, from the same spikes.

    A spike's delay-``d`` and delay-``d + 1`` runs are adjacent in its row, so
    each spike's synapses arriving at ``k`` and ``k + 1`` are one stream from
    memory, split between the two rows; each row takes its additions in the
    order of :func:`pull_step`. Measured on the full-scale microcircuit's tables
    (one of 2 processes, with a step's other memory traffic between pulls:
    ``benchmarks/pull_rows.py``): 2.5 s per simulated s pulled a step at a time,
    2.2 s two at a time.
    """
    _pull(
        k, k_first, k_from, k_known, hist_ptr, hist_idx, ring, acc, gptr, tgt, w, True
    )


@njit(cache=True, nogil=True, error_model="numpy")
def push_tail(  # type: ignore[no-untyped-def]  # pragma: no cover
    k_end, k_first, hist_ptr, hist_idx, ring, gptr, tgt, w
):  # fmt: skip
    """Push the synapses of the history's spikes that arrive at ``k_end`` or later.

    Spikes in step order, each spike's synapses in row order: for each (slot,
    target) cell, the order in which pushing them at their own step adds them.
    """
    big_l = ring.shape[0]
    for s in range(max(k_first, k_end - big_l + 1), k_end):
        d_lo = k_end - s
        for h in range(hist_ptr[s - k_first], hist_ptr[s - k_first + 1]):
            x = hist_idx[h] * big_l
            for d in range(d_lo, big_l):
                slot = (s + d) % big_l
                for syn in range(gptr[x + d], gptr[x + d + 1]):
                    ring[slot, tgt[syn]] += w[syn]
