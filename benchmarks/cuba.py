"""CUBA/COBA benchmark: neurodl against Brian2, NEST and BrainPy, side by side.

    python benchmarks/cuba.py                      # N = 4000, 16000, 64000, 1 s
    python benchmarks/cuba.py --quick              # N = 4000 only, fewer repeats
    python benchmarks/cuba.py --model coba --peers brian2_cpp_standalone

Every contender runs in a fresh process with one thread (``OMP_NUM_THREADS=1``,
``torch.set_num_threads(1)``, Brian2 ``openmp_threads = 0``, NEST
``local_num_threads = 1``, XLA single-threaded), on the same definition
(``benchmarks/peers.py`` quotes it), ``p = 80 / N``. The peers live in the
git-ignored ``benchmarks/.venv-peers`` (Brian2 needs numpy < 2.4), made on first
use by ``peers.ensure_env``.

Reported per contender and size, medians over ``--repeats`` runs (seeds 0, 1, ...):

* ``run_s``: the simulation loop only (Brian2: ``device._last_run_time``);
* ``setup_s``: construction + code generation + compilation (neurodl: building the
  network and compiling or loading the numba kernel);
* ``first_s``: time to first result, from launching the process to holding the
  spikes, for a network never compiled before (neurodl: empty numba cache);
* ``B/syn``: resident memory per synapse;
* rate and ISI CV (``peers.cv_isi``, the same function for everyone);
* ratios ``run/cpp`` and ``first/cpp`` against Brian2 ``cpp_standalone``.

``--grad-ms T`` also times the tensor path for ``T`` ms with and without gradients
(backward of the spike count to all weights) at every size up to ``--grad-max-n``,
and reports with-gradient time against neurodl's compiled no-grad run and against
the tensor path's own no-grad run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from peers import PEERS, ensure_env, run_peer, thread_env  # noqa: E402

RESULTS = HERE / "results"


def run_neurodl(
    model: str,
    n: int,
    duration_s: float,
    seed: int,
    cache_dir: str,
    backend: str = "numba",
    grad_ms: float = 0.0,
    torch_grad_ms: float = 0.0,
) -> dict:
    env = thread_env(1) | {"NUMBA_CACHE_DIR": cache_dir}
    with tempfile.TemporaryDirectory(prefix="neurodl-bench-") as tmp:
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, str(HERE / "neurodl_net.py"), model, str(n)]
        cmd += [repr(duration_s), str(seed), str(out), "--backend", backend]
        if grad_ms:
            cmd += ["--grad-ms", str(grad_ms)]
        if torch_grad_ms:
            cmd += ["--torch-grad-ms", str(torch_grad_ms)]
        t_launch = time.time()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            return {"peer": f"neurodl_{backend}", "n": n, "error": proc.stderr[-2000:]}
        res = json.loads(out.read_text())
    res["first_result_s"] = res.pop("t_spikes_epoch") - t_launch
    res["error"] = None
    return res


def _median(rows: list[dict], key: str) -> float | None:
    vals = [r[key] for r in rows if r.get("error") is None and r.get(key) is not None]
    return statistics.median(vals) if vals else None


def summarize(name: str, rows: list[dict], first: dict | None = None) -> dict:
    ok = [r for r in rows if r.get("error") is None]
    out = {"contender": name, "runs": len(rows), "ok": len(ok)}
    for key in (
        "run_s",
        "setup_s",
        "first_result_s",
        "rate_hz",
        "cv_isi",
        "rss_per_synapse_bytes",
        "peak_rss_mb",
        "n_synapses",
        "compile_s",
    ):
        out[key] = _median(rows, key)
    if first is not None:  # neurodl: the cold start is its own run
        out["first_result_cached_s"] = out["first_result_s"]
        out["first_result_s"] = first.get("first_result_s")
        out["setup_cached_s"] = out["setup_s"]
        out["setup_s"] = first.get("setup_s")
    if not ok:
        out["error"] = rows[0].get("error") if rows else "not run"
    return out


def fmt(x: float | None, spec: str = ".3f") -> str:
    return "-" if x is None else format(x, spec)


def table(model: str, n: int, summaries: list[dict]) -> str:
    cpp = next(
        (s for s in summaries if s["contender"] == "brian2_cpp_standalone"), None
    )
    lines = [
        f"### {model.upper()} N = {n}",
        "",
        "| contender | run_s | setup_s | first_s | B/syn | rate Hz | CV | "
        "run/cpp | first/cpp |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        # neurodl's kernel is not network-specific: it compiles once per machine
        # (at install with the Makefile); first_s is with an empty numba cache,
        # the row "(kernel cached)" a new network with the kernel already cached.
    ]
    rows = []
    for s in summaries:
        rows.append(s)
        if s.get("first_result_cached_s") is not None:
            rows.append(
                {
                    **s,
                    "contender": s["contender"] + " (kernel cached)",
                    "first_result_s": s["first_result_cached_s"],
                    "setup_s": s["setup_cached_s"],
                }
            )
    for s in rows:
        r_ratio = f_ratio = None
        if cpp and cpp.get("run_s") and s.get("run_s"):
            r_ratio = s["run_s"] / cpp["run_s"]
        if cpp and cpp.get("first_result_s") and s.get("first_result_s"):
            f_ratio = s["first_result_s"] / cpp["first_result_s"]
        if s.get("error"):
            lines.append(
                f"| {s['contender']} | failed: "
                f"{' '.join(str(s['error']).split())[:120]} |||||||||"
            )
            continue
        lines.append(
            f"| {s['contender']} | {fmt(s['run_s'])} | {fmt(s['setup_s'], '.2f')} | "
            f"{fmt(s['first_result_s'], '.2f')} | "
            f"{fmt(s['rss_per_synapse_bytes'], '.1f')} | {fmt(s['rate_hz'], '.2f')} | "
            f"{fmt(s['cv_isi'])} | {fmt(r_ratio, '.2f')} | {fmt(f_ratio, '.3f')} |"
        )
    return "\n".join(lines)


def grad_report(grad: dict, nograd_run_s: float, duration_s: float) -> str:
    """Markdown lines for the gradient timings of one size."""
    lines = [
        "",
        f"Gradients, N = {grad['n']} ({grad['n_synapses']} weights), loss = total "
        "spike count, forward + backward; ratio to neurodl's compiled no-grad run "
        "of the same simulated time:",
        "",
        "| path | simulated ms | s | per simulated s | x no-grad | grads finite |",
        "|---|---:|---:|---:|---:|---|",
    ]
    nograd_per_ms = nograd_run_s / (duration_s * 1000.0)
    rows = [
        ("compiled, fast_sigmoid", "numba_grad", grad["grad_ms"]),
        ("compiled, triangle", "numba_grad_triangle", grad["grad_ms"]),
        ("tensor (torch), fast_sigmoid", "torch_grad", grad["torch_grad_ms"]),
        ("tensor (torch), no grad", "torch_nograd", grad["torch_grad_ms"]),
    ]
    for label, key, ms in rows:
        total = grad.get(f"{key}_total_s")
        if total is None:
            continue
        same = grad.get("numba_nograd_total_s")
        base = same / grad["grad_ms"] if same and key.startswith("numba") else None
        ratio = total / ms / (base or nograd_per_ms)
        lines.append(
            f"| {label} | {ms:g} | {total:.3f} | {total / ms * 1000:.3f} | "
            f"{ratio:.1f} | {grad.get(f'{key}_finite', '-')} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="cuba", choices=["cuba", "coba"])
    ap.add_argument("--sizes", type=int, nargs="+", default=[4000, 16000, 64000])
    ap.add_argument("--duration", type=float, default=1.0, help="simulated seconds")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--peer-repeats",
        type=int,
        default=None,
        help="repeats for the peers (default: --repeats)",
    )
    ap.add_argument("--peers", nargs="*", default=list(PEERS), choices=list(PEERS))
    ap.add_argument("--grad-ms", type=float, default=1000.0)
    ap.add_argument("--torch-grad-ms", type=float, default=100.0)
    ap.add_argument(
        "--other-repeats",
        type=int,
        default=None,
        help="repeats for peers other than brian2_cpp_standalone (default: "
        "--peer-repeats); NEST at 64k takes minutes per run",
    )
    ap.add_argument("--grad-max-n", type=int, default=16000)
    ap.add_argument("--quick", action="store_true", help="N = 4000, 1 repeat")
    ap.add_argument("--json", type=Path, default=None, help="write all results here")
    args = ap.parse_args(argv)
    if args.quick:
        args.sizes, args.repeats = [4000], 1
    peer_repeats = args.peer_repeats or args.repeats
    if args.peers:
        ensure_env("peers")
    report, everything = [], []
    warm_cache = tempfile.mkdtemp(prefix="neurodl-numba-cache-")
    # fill the warm cache (no-grad and gradient kernels)
    run_neurodl(args.model, 500, 0.01, 0, warm_cache, grad_ms=1.0)
    for n in args.sizes:
        summaries = []
        # neurodl: one cold start (empty numba cache), then warm repeats
        with tempfile.TemporaryDirectory(prefix="neurodl-numba-cold-") as cold:
            first = run_neurodl(args.model, n, args.duration, 0, cold)
        rows = [
            run_neurodl(args.model, n, args.duration, seed, warm_cache)
            for seed in range(args.repeats)
        ]
        everything += [first, *rows]
        summaries.append(summarize("neurodl (numba)", rows, first))
        grad = None
        if args.grad_ms and n <= args.grad_max_n:
            grad = run_neurodl(
                args.model,
                n,
                args.duration,
                0,
                warm_cache,
                grad_ms=args.grad_ms,
                torch_grad_ms=args.torch_grad_ms,
            )
            everything.append(grad)
        for peer in args.peers:
            k = peer_repeats
            if peer != "brian2_cpp_standalone" and args.other_repeats:
                k = args.other_repeats
            prow = [
                run_peer(peer, args.model, n, args.duration, seed) for seed in range(k)
            ]
            everything += prow
            summaries.append(summarize(peer, prow))
            print(json.dumps(summaries[-1]), file=sys.stderr, flush=True)
        report.append(table(args.model, n, summaries))
        if grad is not None and grad.get("error") is None:
            report.append(grad_report(grad, summaries[0]["run_s"], args.duration))
        shown = (
            report[-2:]
            if grad is not None and grad.get("error") is None
            else report[-1:]
        )
        print("\n".join(shown), flush=True)
    md = "\n\n".join(report)
    print("\n" + md)
    RESULTS.mkdir(exist_ok=True)
    path = args.json or RESULTS / f"{args.model}.json"
    path.write_text(
        json.dumps(
            {
                "args": vars(args) | {"json": str(args.json)},
                "results": everything,
                "report": md,
            },
            indent=1,
            default=str,
        )
    )
    print(f"\nwritten: {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
