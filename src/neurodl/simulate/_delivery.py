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
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["RING_DIRECT_BYTES", "buckets", "land", "push", "spill", "spill_all"]

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
