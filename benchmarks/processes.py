r"""One network across 1, 2, 3 processes: the same spikes, and the wall time.

::

    OMP_NUM_THREADS=1 python benchmarks/processes.py --models cuba brunel \
        microcircuit --procs 1 2 3 --duration 1000 [--scale 0.1] [--json out.json]

Each point runs in its own launch of ``procs`` processes
(:func:`neurodl.simulate.distributed.launch`, gloo on 127.0.0.1, one thread per
process). ``procs = 1`` is the plain single-process run (no process group in the
simulation), the baseline. Per point: build time (the block of connectivity of
rank 0), a presimulation of ``--presim`` ms (the compiled kernels load or compile
here; discarded), then the timed run of ``--duration`` ms with spike monitors on
every neuron; the sorted (step, id) spike array's SHA-256 must be the same for
every ``procs``. Models: CUBA (Brette et al. 2007; N = ``--cuba-n``; zero delay,
so one exchange per step), Brunel (2000) model A at g 5, eta 2 (12,500 neurons,
C_E 1000; delay 1.5 ms: one exchange per 16 steps), the Potjans & Diesmann
microcircuit at ``--scale`` with Poisson drive (minimum delay 0.1 ms: one exchange
per 2 steps).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np


def _digest(mons: list) -> tuple[str, int]:
    arrs = []
    for m in mons:
        key = np.lexsort((m.indices, m.steps))
        arrs.append(np.stack([m.steps[key], m.indices[key]]).astype(np.int64))
    raw = b"".join(a.tobytes() for a in arrs)
    return hashlib.sha256(raw).hexdigest(), int(sum(a.shape[1] for a in arrs))


def _build(model: str, n: int, scale: float, backend: str) -> tuple:
    if model == "cuba":
        from neurodl.simulate import cuba

        net, mon = cuba(n, seed=1, backend=backend)
        return net, [mon]
    if model == "brunel":
        from neurodl.models import brunel

        net, exc, inh = brunel.build(5.0, 2.0, seed=1, backend=backend)
        return net, [net.spike_monitor(exc), net.spike_monitor(inh)]
    from neurodl.models import potjans_diesmann

    mc = potjans_diesmann.build(scale, drive="poisson", seed=55, backend=backend)
    return mc.net, mc.monitors


def point(
    model: str,
    n: int,
    scale: float,
    presim: float,
    duration: float,
    backend: str,
    distributed: bool,
    exchange: str = "auto",
) -> dict:
    """Build, presimulate and time one run (a launch target)."""
    t0 = time.perf_counter()
    net, mons = _build(model, n, scale, backend)
    if distributed:
        net.distribute(exchange=exchange)
    net.build()
    build_s = time.perf_counter() - t0
    if presim > 0:
        net.run(presim, progress=False)
    for m in mons:
        m.clear()
    dist_ = net._dist
    ex0 = dist_.exchange_seconds if dist_ is not None else 0.0
    sp0 = dist_.extra.get("spins", 0) if dist_ is not None else 0
    t0 = time.perf_counter()
    net.run(duration, progress=False)
    run_s = time.perf_counter() - t0
    sha, n_spikes = _digest(mons)
    waits = [dist_.exchange_seconds - ex0] if dist_ is not None else [0.0]
    spins = [0.0]
    if dist_ is not None and dist_.world > 1:
        import torch
        import torch.distributed as dist

        mine = torch.tensor(
            [dist_.exchange_seconds - ex0, dist_.extra.get("spins", 0) - sp0],
            dtype=torch.float64,
        )
        every = [torch.zeros(2, dtype=torch.float64) for _ in range(dist_.world)]
        dist.all_gather(every, mine)
        waits = [float(x[0]) for x in every]
        spins = [float(x[1]) for x in every]
    return {
        "yields": dist_.extra.get("yields", 0) if dist_ is not None else 0,
        "exchange_s_per_rank": waits,
        "spins_per_rank": spins,  # compiled shared-memory waits (pause ~8 ns)
        "build_s": build_s,
        "run_s": run_s,
        "exchange_s": (dist_.exchange_seconds - ex0) if dist_ is not None else 0.0,
        "window_steps": (dist_.d_min + 1) if dist_ is not None else None,
        "n_neurons": net.n_lif,
        "n_synapses": dist_.n_synapses if dist_ is not None else net.n_synapses,
        "n_spikes": n_spikes,
        "sha256": sha,
    }


def _control(model: str, args: argparse.Namespace) -> None:
    """Time two independent single-process runs at once: the cores free now.

    On a shared machine the second core may be busy; ``capacity`` = 2 x alone /
    slower of the pair is the speed-up two processes could have at best.
    """
    from concurrent.futures import ThreadPoolExecutor

    from neurodl.simulate.distributed import launch

    kwargs = {
        "model": model,
        "n": args.cuba_n,
        "scale": args.scale,
        "presim": args.presim,
        "duration": args.duration,
        "backend": args.backend,
        "distributed": False,
    }
    target = f"{__file__}:point"
    alone = launch(target, 1, kwargs, timeout_s=3600)["run_s"]
    with ThreadPoolExecutor(2) as pool:
        pair = [f.result()["run_s"] for f in [pool.submit(launch, target, 1, kwargs)
                                              for _ in range(2)]]  # fmt: skip
    print(
        f"{model:12s} control: alone {alone:.2f} s, two at once "
        f"{pair[0]:.2f} / {pair[1]:.2f} s: parallel capacity "
        f"{2 * alone / max(pair):.2f}x",
        flush=True,
    )


def main() -> None:
    """Run the grid of models x process counts; print a table (and JSON)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", default=["cuba", "brunel", "microcircuit"])
    ap.add_argument("--procs", nargs="+", type=int, default=[1, 2, 3])
    ap.add_argument("--duration", type=float, default=1000.0, help="timed ms")
    ap.add_argument("--presim", type=float, default=100.0, help="discarded ms")
    ap.add_argument("--scale", type=float, default=0.1, help="microcircuit scale")
    ap.add_argument("--cuba-n", type=int, default=4000)
    ap.add_argument("--backend", default="numba", choices=["numba", "torch"])
    ap.add_argument("--exchange", default="auto", choices=["auto", "gloo", "shm"])
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument(
        "--control",
        action="store_true",
        help="also time two independent single-process runs at once",
    )
    args = ap.parse_args()
    from neurodl.simulate.distributed import launch

    rows = []
    for model in args.models:
        if args.control:
            _control(model, args)
        base = None
        for procs in args.procs:
            kwargs = {
                "model": model,
                "n": args.cuba_n,
                "scale": args.scale,
                "presim": args.presim,
                "duration": args.duration,
                "backend": args.backend,
                "distributed": procs > 1,
                "exchange": args.exchange,
            }
            res = launch(f"{__file__}:point", procs, kwargs, timeout_s=3600)
            res.update(model=model, procs=procs)
            if base is None:
                base = res
            res["speedup"] = base["run_s"] / res["run_s"]
            res["same_spikes"] = res["sha256"] == base["sha256"]
            rows.append(res)
            print(
                f"{model:12s} procs {procs}: {res['n_neurons']} neurons, "
                f"{res['n_synapses']} synapses, {res['n_spikes']} spikes, "
                f"build {res['build_s']:.2f} s, run {res['run_s']:.2f} s "
                f"(gloo exchange+wait per rank "
                f"{'/'.join(f'{x:.2f}' for x in res['exchange_s_per_rank'])} s, "
                f"CPU yields while waiting {res['yields']}, spins per rank "
                f"{'/'.join(f'{x:.3g}' for x in res['spins_per_rank'])}, window "
                f"{res['window_steps']} steps), speed-up {res['speedup']:.2f}x, "
                f"same spikes: {res['same_spikes']} ({res['sha256'][:12]})",
                flush=True,
            )
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1))
    if not all(r["same_spikes"] for r in rows):
        sys.exit("spikes differ between process counts")


if __name__ == "__main__":
    main()
