"""The tensor path on a CUDA GPU: CUBA at 64k to 1M neurons, with and without gradients.

    python benchmarks/gpu_simulate.py [--sizes 64000 256000 1000000] [--ms 200]
        [--dtype float32] [--grad-n 64000] [--json OUT]

For each size: build time (connectivity drawn on the CPU with NumPy, then moved),
run time per simulated second (median of ``--repeats`` runs of ``--ms`` ms after a
warm-up), rate and ISI CV, and peak GPU memory per synapse. ``--grad-n``: the same
with gradients (forward with the autograd graph + backward of the spike count to
every weight) at that size. Needs a CUDA device; prints a clear message otherwise.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import torch

from neurodl.simulate import cuba, cv_isi, firing_rate


def one(
    n: int,
    ms: float,
    dtype: torch.dtype,
    repeats: int,
    grad: bool,
    device: str = "cuda",
    propagation: str = "sparse",
) -> dict:
    cuda = device == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    net, mon = cuba(n, seed=0, device=device, dtype=dtype, backend="torch")
    net.build()
    _sync(device)
    build_s = time.perf_counter() - t0
    if grad:
        for proj in net.projections:
            proj.weight.requires_grad_(True)
    # warm-up (allocator, kernels)
    net.run(10.0, grad=grad, progress=False, propagation=propagation)
    times = []
    for _ in range(repeats):
        net.reset()
        _sync(device)
        t1 = time.perf_counter()
        net.run(ms, grad=grad, progress=False, propagation=propagation)
        if grad:
            loss = sum(part.spikes.sum() for part in mon.parts)
            loss.backward()
        _sync(device)
        times.append(time.perf_counter() - t1)
    per_s = statistics.median(times) / (ms * 1e-3)
    t_ms, idx = mon.times, mon.indices
    return {
        "n": n,
        "grad": grad,
        "propagation": propagation,
        "dtype": str(dtype),
        "n_synapses": net.n_synapses,
        "build_s": build_s,
        "s_per_simulated_s": per_s,
        "us_per_step": per_s * net.dt * 1e3,
        "rate_hz": firing_rate(t_ms.size, n, ms),
        "cv_isi": cv_isi(t_ms, idx, n),
        "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20 if cuda else None,
        "gpu_bytes_per_synapse": torch.cuda.max_memory_allocated()
        / max(net.n_synapses, 1)
        if cuda
        else None,
    }


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def shd_step(repeats: int = 20, device: str = "cuda") -> dict:
    """SHD-shaped training step (700 -> 256 -> 20 LIF, batch 64, T 100) on CUDA.

    neurodl's fused path against its own plain-autograd loop (``engine="reference"``,
    the loop a PyTorch user writes), same weights, float32, Adam.
    """
    from neurodl.networks import SpikingFeedForward

    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(100, 64, 700, generator=gen) < 0.02).float().to(device)
    y = torch.randint(0, 20, (64,), generator=gen).to(device)
    out = {"shape": "700-256-20, batch 64, T 100"}
    for engine in ("fused", "reference"):
        net = SpikingFeedForward((700, 256, 20), seed=0, device=device)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)

        def step() -> None:
            counts = net(x, engine=engine).sum(0)  # noqa: B023
            loss = torch.nn.functional.cross_entropy(counts, y)
            opt.zero_grad()  # noqa: B023
            loss.backward()
            opt.step()  # noqa: B023

        for _ in range(3):
            step()
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(repeats):
            step()
        _sync(device)
        out[f"{engine}_ms"] = (time.perf_counter() - t0) / repeats * 1e3
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[64000, 256000, 1000000])
    ap.add_argument("--ms", type=float, default=200.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--grad-n", type=int, nargs="*", default=[64000])
    ap.add_argument("--grad-ms", type=float, default=50.0)
    ap.add_argument("--json", default=None)
    ap.add_argument("--no-shd", action="store_true", help="skip the SHD step")
    ap.add_argument(
        "--events-n",
        type=int,
        nargs="*",
        default=[64000],
        help="also time propagation='events' (event-driven, syncs) at these sizes",
    )
    args = ap.parse_args(argv)
    if not torch.cuda.is_available():
        print("gpu_simulate: no CUDA device; nothing to measure.", file=sys.stderr)
        return 0
    dtype = torch.float32 if args.dtype == "float32" else torch.float64
    rows = [{"device": torch.cuda.get_device_name(), "torch": torch.__version__}]
    print(json.dumps(rows[0]), flush=True)
    for n in args.sizes:
        rows.append(one(n, args.ms, dtype, args.repeats, grad=False))
        print(json.dumps(rows[-1]), flush=True)
    for n in args.events_n:
        rows.append(one(n, args.ms, dtype, 1, grad=False, propagation="events"))
        print(json.dumps(rows[-1]), flush=True)
    for n in args.grad_n:
        rows.append(one(n, args.grad_ms, dtype, 1, grad=True))
        print(json.dumps(rows[-1]), flush=True)
    if not args.no_shd:
        rows.append(shd_step())
        print(json.dumps(rows[-1]), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
