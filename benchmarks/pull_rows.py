r"""Where a pulled step's time goes: ring rows, a row in cache, two rows at once.

::

    OMP_NUM_THREADS=1 python benchmarks/pull_rows.py [--block 0] [--reps 5]

The full-scale cortical microcircuit (DC drive) runs 300 ms on one process; the
last 100 ms of its spikes are then pulled, step after step, through the tables
of one process's block of 2 (the restricted build of
:func:`neurodl.simulate.distributed.balanced_partition`'s block ``--block``), as
the engine pulls them, in these ways:

- ``ring``: each step sums into a ring row (the ring's rows in turn, from L3),
  then adds it to ``g`` and clears it (as the engine did before ``pull_row``);
- ``scratch``: each step sums into one scratch row that stays in cache
  (:func:`neurodl.simulate._delivery.pull_row` after a call's first ``L`` steps);
- ``two``: every other step pulls two rows at once
  (:func:`neurodl.simulate._delivery.pull_two`).

Each with nothing else between the steps and with a pass over 900 kB (read and
written: about what one process's neuron update touches, ``v``, ``refr``, ``g``
of 38k neurons) between them. Per variant the median of ``--reps`` runs, as
seconds per simulated second (10,000 steps) and ns per synaptic event.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from numba import njit

from neurodl.simulate._delivery import pull_row, pull_step, pull_two


@njit(cache=False)
def _touch(junk):  # type: ignore[no-untyped-def]
    for i in range(junk.shape[0]):
        junk[i] = junk[i] * 0.5 + 1.0


@njit(cache=False)
def _events(ks, k_first, hist_ptr, hist_idx, big_l, gptr):  # type: ignore[no-untyped-def]
    n = 0
    for k in ks:
        for s in range(max(k_first, k - big_l + 1), k):
            for h in range(hist_ptr[s - k_first], hist_ptr[s - k_first + 1]):
                x = hist_idx[h] * big_l + k - s
                n += gptr[x + 1] - gptr[x]
    return n


@njit(cache=False)
def _run(mode, ks, k_first, hist_ptr, hist_idx, ring, gptr, tgt, w, junk, lo, hi):  # type: ignore[no-untyped-def]
    """Pull and land ``ks`` with the engine's functions; return a checksum.

    As the single-process kernel calls them (``ks`` are past the call's first
    ``L`` steps: the rows are the scratch rows ``acc``). ``ring`` mode hands them
    two ring rows in turn as ``acc`` (a new pair of rows from L3 every other
    step, as each step's own ring row was before ``pull_row``).
    """
    big_l = ring.shape[0]
    g = np.zeros(ring.shape[1])
    scratch = np.zeros((2, ring.shape[1]))
    for k in ks:
        acc = scratch
        if mode == 0:
            q = 2 * ((k // 2) % (big_l // 2))
            acc = ring[q : q + 2]
        if mode != 2:
            pull_step(
                k, k_first, k_first, k + 1, hist_ptr, hist_idx, ring, acc, gptr, tgt, w
            )
        elif (k - ks[0]) % 2 == 0:
            pull_two(
                k, k_first, k_first, k + 1, hist_ptr, hist_idx, ring, acc, gptr, tgt, w
            )
        row = pull_row(k, k_first, ring, acc)
        for t in range(lo, hi):  # land the owned part
            g[t] += row[t]
            row[t] = 0.0
        if junk.shape[0] > 0:
            _touch(junk)
    return g[lo:hi].sum()


def main() -> None:
    """Run the full-scale microcircuit, then time the pull variants on a block."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--block", type=int, default=0, choices=[0, 1])
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    from neurodl.models import potjans_diesmann
    from neurodl.simulate._tables import kernel_weights
    from neurodl.simulate.distributed import balanced_partition

    mc = potjans_diesmann.build(1.0, drive="dc", seed=55)
    mc.net.build()
    mc.net.run(300.0, progress=False)
    k_end = int(mc.net.step)
    steps = np.concatenate([m.steps for m in mc.monitors])
    idx = np.concatenate(
        [m.indices + p.start for m, p in zip(mc.monitors, mc.populations, strict=True)]
    )
    lo, hi = balanced_partition(mc.net, 2)[args.block]
    del mc
    k_first = k_end - 1000
    keep = steps >= k_first
    order = np.lexsort((idx[keep], steps[keep]))
    steps = steps[keep][order].astype(np.int64)
    idx = idx[keep][order].astype(np.int64)
    hist_ptr = np.searchsorted(steps, np.arange(k_first, k_end + 1)).astype(np.int64)
    block = potjans_diesmann.build(1.0, drive="dc", seed=55).net
    block._build((lo, hi))
    gptr, tgt = block._gptr, block._tgt
    w = kernel_weights(block, np.float64)
    ring = np.zeros(block._ring.shape)
    big_l = ring.shape[0]
    ks = np.arange(k_first + big_l, k_end)
    n_ev = _events(ks, k_first, hist_ptr, idx, big_l, gptr)
    print(
        f"block {args.block} of 2 (neurons {lo}-{hi}), {ks.size} steps, "
        f"{idx.size} spikes in the last 100 ms, {n_ev} events",
        flush=True,
    )
    for junk_kb in (0, 900):
        junk = np.ones(junk_kb * 1024 // 8)
        for mode, name in enumerate(("ring", "scratch", "two")):
            a = (mode, ks, k_first, hist_ptr, idx, ring, gptr, tgt, w, junk, lo, hi)
            _run(*a)
            times = []
            for _ in range(args.reps):
                t0 = time.perf_counter()
                _run(*a)
                times.append(time.perf_counter() - t0)
            t = float(np.median(times))
            print(
                f"{name:8s} {junk_kb:4d} kB between steps: "
                f"{t / ks.size * 1e4:.2f} s per simulated s, {t * 1e9 / n_ev:.2f} ns "
                "per event",
                flush=True,
            )


if __name__ == "__main__":
    main()
