"""Bytes per synapse of a built network (numba path), at about 3e7 synapses.

A PD14-like network: two populations (20,000 and 5,000 neurons), four
FixedTotalNumber projections with Normal weights (redraw at the sign) and Normal
delays (PD14's: mean 1.5 / 0.75 ms, sd half the mean, low 0.05 ms, dt 0.1 ms).
Reported, per synapse:

* ``traced_held_B`` / ``traced_peak_B``: NumPy's allocations (``tracemalloc``)
  held after the build / at its peak: what the network keeps (float64 weights,
  the CSR target, delay and order tables) and the build's transient need;
* ``held_B``: RSS after the build minus RSS before (above the traced figure by
  what the allocator keeps of freed memory);
* ``peak_B``: peak RSS during the build minus RSS before (``VmHWM``, reset first;
  Linux);
* ``run_B``: peak RSS during a 1-ms numba run minus RSS before the build (adds
  the run's copy of the weights in CSR order and the kernel's state).

The kernels (``_stable_order``, the run kernel) are compiled on a small network
first, so the JIT compiler's memory is not counted. One thread::

    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 python benchmarks/synapse_memory.py \
        [--synapses 30000000] [--compat] [--json out.json]
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch

import neurodl.simulate as sim
from neurodl.neurons import LIFParams
from peers import proc_status_kb, reset_peak_rss

LIF = LIFParams(tau_mem=10.0, v_rest=-65.0, v_th=-50.0, v_reset=-65.0, t_ref=2.0)


def build(total: int, seed: int = 55, compat: bool = False) -> sim.Network:
    """Return an unbuilt PD14-like network with about ``total`` synapses.

    ``compat``: FixedProbability with scalar weights and delays instead (the rules
    of neurodl before FixedTotalNumber and Normal, to measure older commits).
    """
    net = sim.Network(dt=0.1, seed=seed, backend="numba")
    e = net.population(20_000, LIF, v0=("normal", -68.28, 5.36))
    i = net.population(5_000, LIF, v0=("normal", -63.16, 4.57))
    syn = sim.CurrentSynapse(0.5)
    share = {(e, e): 0.55, (i, e): 0.2, (e, i): 0.15, (i, i): 0.1}
    for (pre, post), f in share.items():
        exc = pre is e
        if compat:
            p = total * f / (pre.n * post.n)
            w_c, d_c = (3.5, 1.5) if exc else (-14.0, 0.8)
            net.connect(pre, post, sim.FixedProbability(p), syn, weight=w_c, delay=d_c)
            continue
        w = (
            sim.Normal(87.81 * 0.04, 8.781 * 0.04, low=0.0)
            if exc
            else sim.Normal(-351.2 * 0.04, 35.12 * 0.04, high=0.0)
        )
        mean = 1.5 if exc else 0.75
        rule = sim.FixedTotalNumber(int(total * f))
        d = sim.Normal(mean, mean / 2, low=0.05)
        net.connect(pre, post, rule, syn, weight=w, delay=d)
    return net


def main() -> None:
    """Measure and print (or write) the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--synapses", type=int, default=30_000_000)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--compat", action="store_true", help="FixedProbability, scalars")
    args = ap.parse_args()
    torch.set_num_threads(1)
    warm = build(
        20_000, compat=args.compat
    )  # compile the kernels outside the measurement
    warm.run(1.0, progress=False)
    del warm
    gc.collect()
    net = build(args.synapses, compat=args.compat)
    gc.collect()
    rss0 = proc_status_kb("VmRSS")
    peak_ok = reset_peak_rss()
    tracemalloc.start()
    t0 = time.perf_counter()
    net.build()
    setup_s = time.perf_counter() - t0
    gc.collect()
    traced, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    hwm = proc_status_kb("VmHWM")
    held = proc_status_kb("VmRSS")
    reset_peak_rss()
    net.run(1.0, progress=False)
    run = proc_status_kb("VmHWM")
    n = net.n_synapses
    out = {
        "synapses": n,
        "network": "FixedProbability, scalars" if args.compat else "PD14-like",
        "setup_s": round(setup_s, 2),
        "traced_held_B": round(traced / n, 2),
        "traced_peak_B": round(traced_peak / n, 2),
        "held_B": round((held - rss0) * 1024 / n, 2),
        "peak_B": round((hwm - rss0) * 1024 / n, 2) if peak_ok else None,
        "run_B": round((run - rss0) * 1024 / n, 2),
        "delay_dtype": str(net._dly.dtype),
        "target_dtype": str(net._tgt.dtype),
        "order_dtype": str(net._perm.dtype),
        "weight_dtype": str(net.projections[0].weight.dtype),
    }
    text = json.dumps(out, indent=1)
    print(text)
    if args.json is not None:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
