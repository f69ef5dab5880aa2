r"""Brunel (2000): the NEST reference for the regime classifier, and the Dask sweep.

Two subcommands, run from the repository root with neurodl's venv::

    python benchmarks/brunel_sweep.py reference --n-exc 10000 --seeds 0 \
        --out tests/reference/brunel_nest.json
    python benchmarks/brunel_sweep.py sweep --g 3:8:17 --nu 0.5:4:17 \
        --n-exc 10000 --duration 1200

``reference`` runs the four points of Brunel's Fig. 8 in NEST 3.10 (the peer venv
of ``benchmarks/peers.py``, ``ensure_env("peers")``; ``--python`` names another
interpreter with NEST), one thread, and computes their statistics with neurodl's
own :func:`neurodl.models.brunel.regime_stats` from NEST's spikes, so that the
classifier's thresholds can be calibrated on, and tested against, a peer. With
``--neurodl`` it runs neurodl's network on the same points beside it.

``sweep`` runs the grid through :func:`neurodl.jobs.run_jobs` with 1 local worker
and then with 2 (one thread each, fresh output folders) and reports the wall
times and the parallel efficiency T1 / (2 T2); the two sweeps' results must be
identical (they are compared). Set ``OMP_NUM_THREADS=1``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _nest_point(
    py: str, g: float, nu: float, n_exc: int, c_exc: int, duration: float, seed: int
) -> tuple[dict, np.ndarray, np.ndarray]:
    from peers import thread_env

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "spikes.npz"
        cmd = [
            py,
            str(HERE / "peer_runners" / "brunel_nest.py"),
            "--g",
            str(g),
            "--eta",
            str(nu),
            "--n-exc",
            str(n_exc),
            "--c-exc",
            str(c_exc),
            "--duration",
            str(duration),
            "--seed",
            str(seed),
            "--out",
            str(out),
        ]
        r = subprocess.run(
            cmd, capture_output=True, text=True, env=thread_env(1), check=True
        )
        info = json.loads(r.stdout.strip().splitlines()[-1])
        d = np.load(out)
        return info, d["times_ms"], d["senders"]


def reference(args: argparse.Namespace) -> int:
    """Run the Fig. 8 points in NEST (and neurodl); write their statistics."""
    from neurodl.models.brunel import FIG8, classify, regime_stats, run_point, sizes

    py = args.python
    if py is None:
        from peers import ensure_env, env_python

        ensure_env("peers")
        py = str(env_python("peers"))
    s = sizes(args.n_exc, args.c_exc)
    n = s["n_exc"] + s["n_inh"]
    points = {}
    for name, pt in FIG8.items():
        runs = []
        for seed in args.seeds:
            info, t, i = _nest_point(
                py, pt["g"], pt["nu"], args.n_exc, args.c_exc, args.duration, seed
            )
            st = regime_stats(t, i, n, args.transient, args.duration)
            row = {"seed": seed, **st, "regime": classify(st), **info}
            runs.append(row)
            print(f"NEST {name} seed {seed}: {json.dumps(row)}", file=sys.stderr)
        entry = {**pt, "nest": runs}
        if args.neurodl:
            entry["neurodl"] = []
            for seed in args.seeds:
                res = run_point(
                    pt["g"],
                    pt["nu"],
                    seed,
                    args.duration,
                    transient=args.transient,
                    n_exc=args.n_exc,
                    c_exc=args.c_exc,
                )
                entry["neurodl"].append(res)
                print(f"neurodl {name} seed {seed}: {json.dumps(res)}", file=sys.stderr)
        points[name] = entry
    doc = {
        "what": "Brunel (2000) Fig. 8 points: statistics of neurodl.models.brunel."
        "regime_stats on NEST 3.10 spikes (all neurons, window [transient, "
        "duration) ms)",
        "command": "python benchmarks/brunel_sweep.py " + shlex.join(sys.argv[1:]),
        "model": {
            **s,
            "duration_ms": args.duration,
            "transient_ms": args.transient,
            "dt_ms": 0.1,
            "delay_ms": 1.5,
            "j_mv": 0.1,
            "runner": "benchmarks/peer_runners/brunel_nest.py",
        },
        "points": points,
    }
    text = json.dumps(doc, indent=1, allow_nan=False) + "\n"
    if args.out:
        Path(args.out).write_text(text)
    else:
        print(text)
    return 0


def timed_job(params: dict, seed: int) -> dict:
    """Run :func:`neurodl.models.brunel.sweep_job`; add the job's CPU seconds."""
    from neurodl.models.brunel import sweep_job

    t0 = time.process_time()
    res = sweep_job(params, seed)
    res["cpu_s"] = time.process_time() - t0
    return res


def _load() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def sweep(args: argparse.Namespace) -> int:
    """Time the grid with 1 and 2 local workers; print and return the figures."""
    from neurodl.jobs import grid, parse_grid, run_jobs

    points = grid(g=parse_grid("g", args.g), nu=parse_grid("nu", args.nu))
    common = {
        "duration": args.duration,
        "transient": args.transient,
        "n_exc": args.n_exc,
        "c_exc": args.c_exc,
        "backend": "auto",
    }
    walls: dict[int, float] = {}
    cpus: dict[int, float] = {}
    loads: dict[int, list[float]] = {}
    docs: dict[int, dict] = {}
    for workers in args.workers:
        before = _load()
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            docs[workers] = run_jobs(
                timed_job,
                points,
                seed=0,
                common=common,
                out=tmp,
                n_jobs=workers,
                progress=True,
            )
            walls[workers] = time.perf_counter() - t0
        cpus[workers] = sum(p["result"].pop("cpu_s") for p in docs[workers]["points"])
        loads[workers] = [before, _load()]
        print(
            f"{workers} worker(s): {walls[workers]:.1f} s wall, "
            f"{cpus[workers]:.1f} s job CPU, load {loads[workers]}",
            file=sys.stderr,
        )
    base = docs[args.workers[0]]["points"]
    same = all(d["points"] == base for d in docs.values())
    regimes: dict[str, int] = {}
    for p in base:
        regimes[p["result"]["regime"]] = regimes.get(p["result"]["regime"], 0) + 1
    out = {
        "command": "python benchmarks/brunel_sweep.py " + shlex.join(sys.argv[1:]),
        "points": len(points),
        "wall_s": walls,
        "job_cpu_s": cpus,
        "load_before_after": loads,
        "identical_results": same,
        "regimes": regimes,
    }
    if 1 in walls and 2 in walls:
        out["efficiency_2_workers"] = walls[1] / (2 * walls[2])
        # what 2 idle cores would give: the 2-worker wall time if each job took
        # its 1-worker CPU time (no contention from other processes)
        out["job_cpu_ratio_2_vs_1"] = cpus[2] / cpus[1]
    print(json.dumps(out, indent=1))
    return 0 if same else 1


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run a subcommand."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("reference", "sweep"):
        p = sub.add_parser(name)
        p.add_argument("--n-exc", type=int, default=10000)
        p.add_argument("--c-exc", type=int, default=1000)
        p.add_argument("--duration", type=float, default=1200.0)
        p.add_argument("--transient", type=float, default=200.0)
    r = sub.choices["reference"]
    r.add_argument("--seeds", type=int, nargs="+", default=[0])
    r.add_argument("--python", default=None, help="interpreter with NEST 3.10")
    r.add_argument("--neurodl", action="store_true", help="also run neurodl")
    r.add_argument("--out", default=None)
    s = sub.choices["sweep"]
    s.add_argument("--g", default="3:8:17")
    s.add_argument("--nu", default="0.5:4:17")
    s.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args(argv)
    return reference(args) if args.cmd == "reference" else sweep(args)


if __name__ == "__main__":
    sys.exit(main())
