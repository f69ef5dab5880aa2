"""neurodl runner for benchmarks/cuba.py: one network in a fresh process.

    python benchmarks/neurodl_net.py MODEL N DURATION_S SEED OUT.json
        [--backend numba|torch] [--dtype float64|float32] [--grad-ms T]

Writes the keys of ``peers.run_peer`` (``run_s``, ``setup_s``, ``t_spikes_epoch``
for the time to first result, ``rate_hz``, ``cv_isi`` from ``peers.cv_isi``,
``n_spikes``, ``peak_rss_mb``, ``rss_per_synapse_bytes``), measured the same way:
``setup_s`` is network construction plus compiling (or loading) the kernel, RSS
per synapse is ``(VmHWM after building - VmRSS before) / n_synapses``, read before
the kernel is compiled (the JIT compiler's memory is in ``peak_rss_mb``). The numba
cache directory comes from ``NUMBA_CACHE_DIR``: the caller points it at an empty
folder for a cold start.

``--grad-ms T``: also time ``T`` ms with gradients on the compiled BPTT path
(forward tape + backward of the summed spike count to every synaptic weight), with
the default fast-sigmoid surrogate and with the compact triangle surrogate, and the
no-grad compiled run of the same length; ``--torch-grad-ms T``: the tensor path
with and without gradients.
"""

import time

T_PROCESS = time.time()

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from neurodl.simulate import coba, compile_kernels, cuba  # noqa: E402

# numba and the kernel module load with the imports, not in setup_s
from neurodl.simulate._numba_engine import run_chunk  # noqa: E402, F401
from peers import proc_status_kb, reset_peak_rss, spike_stats  # noqa: E402

T_IMPORTED = time.time()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", choices=["cuba", "coba"])
    ap.add_argument("n", type=int)
    ap.add_argument("duration_s", type=float)
    ap.add_argument("seed", type=int)
    ap.add_argument("out")
    ap.add_argument("--backend", default="numba", choices=["numba", "torch"])
    ap.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    ap.add_argument("--grad-ms", type=float, default=0.0)
    ap.add_argument("--torch-grad-ms", type=float, default=0.0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    dtype = torch.float64 if args.dtype == "float64" else torch.float32
    build = cuba if args.model == "cuba" else coba
    reset_peak_rss()
    rss0 = proc_status_kb("VmRSS")
    t0 = time.perf_counter()
    net, mon = build(args.n, seed=args.seed, dtype=dtype, backend=args.backend)
    net.build()
    t_built = time.perf_counter()
    # memory of the network itself: before the in-process JIT compiler's own
    # allocations (Brian2 cpp_standalone compiles in a separate process too)
    hwm = proc_status_kb("VmHWM")
    compile_s = 0.0
    if args.backend == "numba":
        compile_kernels((dtype,), grad=False)
        compile_s = time.perf_counter() - t_built
    t1 = time.perf_counter()
    net.run(args.duration_s * 1000.0, progress=False)
    run_s = time.perf_counter() - t1
    times, idx = mon.times * 1e-3, mon.indices
    t_spikes = time.time()
    setup_s = (time.perf_counter() - t0) - run_s
    res = {
        "peer": f"neurodl_{args.backend}" + ("_f32" if args.dtype == "float32" else ""),
        "model": args.model,
        "n": args.n,
        "n_synapses": net.n_synapses,
        "duration_s": args.duration_s,
        "seed": args.seed,
        "run_s": run_s,
        "setup_s": setup_s,
        "construct_s": t_built - t0,
        "compile_s": compile_s,
        "import_s": T_IMPORTED - T_PROCESS,
        "t_spikes_epoch": t_spikes,
        **spike_stats(times, idx, args.n, args.duration_s),
        "peak_rss_mb": proc_status_kb("VmHWM") / 1024,
        "rss_per_synapse_bytes": (hwm - rss0) * 1024 / max(net.n_synapses, 1),
        "versions": {"torch": torch.__version__},
    }
    if args.grad_ms or args.torch_grad_ms:
        res.update(grad_timing(build, args, dtype))
    Path(args.out).write_text(json.dumps(res))


def grad_timing(build, args, dtype) -> dict:  # type: ignore[no-untyped-def]
    """Forward + backward of the total spike count to every weight.

    Compiled BPTT path for ``--grad-ms`` (fast_sigmoid, the default surrogate, and
    triangle, whose compact support makes the backward event-driven), the tensor
    path for ``--torch-grad-ms`` with and without gradients.
    """
    out: dict = {"grad_ms": args.grad_ms, "torch_grad_ms": args.torch_grad_ms}
    cases = [
        ("numba_grad", "numba", True, "fast_sigmoid", args.grad_ms),
        ("numba_grad_triangle", "numba", True, "triangle", args.grad_ms),
        ("numba_nograd", "numba", False, "fast_sigmoid", args.grad_ms),
        ("torch_nograd", "torch", False, "fast_sigmoid", args.torch_grad_ms),
        ("torch_grad", "torch", True, "fast_sigmoid", args.torch_grad_ms),
    ]
    for name, backend, grad, surrogate, ms in cases:
        if not ms:
            continue
        net, mon = build(
            args.n, seed=args.seed, dtype=dtype, backend=backend, surrogate=surrogate
        )
        net.build()
        if grad:
            for proj in net.projections:
                proj.weight.requires_grad_(True)
        t0 = time.perf_counter()
        net.run(ms, grad=grad, progress=False)
        t1 = time.perf_counter()
        if grad:
            loss = sum(part.spikes.sum() for part in mon.parts)
            loss.backward()
            grads = [p.weight.grad for p in net.projections]
            out[f"{name}_finite"] = bool(all(torch.isfinite(g).all() for g in grads))
        t2 = time.perf_counter()
        out[f"{name}_forward_s"] = t1 - t0
        out[f"{name}_total_s"] = t2 - t0
    return out


if __name__ == "__main__":
    main()
