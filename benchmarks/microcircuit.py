r"""Potjans & Diesmann (2014) microcircuit: neurodl beside NEST 3.10 in one run.

Three subcommands::

    # speed and memory, NEST and neurodl side by side (each run in its own process,
    # same thread count, presimulation 500 ms discarded, no recording)
    python benchmarks/microcircuit.py bench --scale 1.0 --t-sim 1000 \
        --threads 1 2 --drives dc poisson [--json out.json]

    # merge NEST reference runs (nest_microcircuit.py --out/--npz) into
    # tests/reference/microcircuit_nest_<tag>.{json,npz}
    python benchmarks/microcircuit.py collect --tag full /tmp/mc/full_s*.json

    # where neurodl's time goes (construction phases, presim, DC vs Poisson)
    python benchmarks/microcircuit.py profile --scale 0.1

NEST runs ``benchmarks/peer_runners/nest_microcircuit.py`` in the peer venv
(``peers.ensure_env("peers")``); neurodl runs
:func:`neurodl.models.potjans_diesmann.run`
with ``record=False`` in a child process of this interpreter, so each side's peak
RSS (``VmHWM`` / ``ru_maxrss``) is its own. Bytes per synapse = whole-process peak
RSS / recurrent synapses (as SCALE.md §2.4 counts NEST's 14 GB). Real-time factor
= wall time of the recorded window / simulated time. neurodl's compiled engine is
single-threaded, and uses T cores as T processes (``Network.distribute``, shared
memory exchange): ``--threads 2`` gives NEST two OpenMP threads and neurodl two
processes of one thread each (peak RSS summed over them, times of the slowest).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from peers import ensure_env, env_python, thread_env  # noqa: E402

RUNNER = HERE / "peer_runners" / "nest_microcircuit.py"
REFERENCE = HERE.parent / "tests" / "reference"

NEURODL_CHILD = """
import json, sys
sys.path.insert(0, sys.argv[2])
from microcircuit import neurodl_entry
from neurodl.simulate.distributed import launch
a = json.loads(sys.argv[1])
if a["threads"] == 1:
    out = neurodl_entry(a, distributed=False)
else:  # neurodl's way to T cores: T processes, one thread each
    out = launch(sys.argv[2] + "/microcircuit.py:neurodl_entry", a["threads"],
                 {"a": a, "distributed": True}, timeout_s=7200.0)
open(a["out"], "w").write(json.dumps(out))
"""


def neurodl_entry(a: dict, distributed: bool) -> dict:
    """One neurodl run (or one process of a launch); peak RSS summed over processes."""
    import resource

    import torch

    from neurodl.models import potjans_diesmann as pd

    torch.set_num_threads(1)
    dtype = torch.float32 if a["dtype"] == "float32" else torch.float64
    res = pd.run(
        a["t_sim"], a["scale"], drive=a["drive"], seed=a["seed"], presim=a["presim"],
        record=False, dtype=dtype, backend=a["backend"], distributed=distributed,
    )  # fmt: skip
    out = res.summary()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    if distributed:  # every process's peak, and the slowest process's times
        import torch.distributed as tdist

        x = torch.tensor([peak, out["setup_s"], out["run_s"]], dtype=torch.float64)
        total = x.clone()
        tdist.all_reduce(total, op=tdist.ReduceOp.SUM)
        tdist.all_reduce(x, op=tdist.ReduceOp.MAX)
        peak = float(total[0])
        out["setup_s"], out["run_s"] = float(x[1]), float(x[2])
        out["real_time_factor"] = out["run_s"] / (a["t_sim"] / 1000.0)
        out["processes"] = tdist.get_world_size()
    out["peak_rss_mb"] = peak
    return out


def run_nest(scale, t_sim, drive, threads, seed=1, presim=500.0, python=None) -> dict:
    """Run the NEST runner without recording; return its JSON (or an error)."""
    py = python or env_python("peers")
    with tempfile.TemporaryDirectory(prefix="mc-nest-") as tmp:
        out = Path(tmp) / "nest.json"
        cmd = [str(py), str(RUNNER), "--scale", str(scale), "--seed", str(seed)]
        cmd += ["--t-sim", str(t_sim), "--t-presim", str(presim), "--drive", drive]
        cmd += ["--threads", str(threads), "--no-record", "--out", str(out)]
        proc = subprocess.run(
            cmd, env=thread_env(threads), capture_output=True, text=True
        )
        if proc.returncode != 0:
            return {"error": proc.stderr[-2000:]}
        res = json.loads(out.read_text())
    return {
        "construction_s": res["build_s"],
        "run_s": res["run_s"],
        "rtf": res["rtf"],
        "peak_rss_mb": res["peak_rss_mb"],
        "n_synapses": res.get("n_synapses", res["n_connections"]),
        "error": None,
    }


def run_neurodl(
    scale,
    t_sim,
    drive,
    threads,
    seed=1,
    presim=500.0,
    dtype="float64",
    backend="auto",
) -> dict:
    """Run neurodl's microcircuit in a child process; return timing and memory."""
    with tempfile.TemporaryDirectory(prefix="mc-neurodl-") as tmp:
        out = Path(tmp) / "neurodl.json"
        args = dict(
            scale=scale,
            t_sim=t_sim,
            drive=drive,
            threads=threads,
            seed=seed,
            presim=presim,
            dtype=dtype,
            backend=backend,
            out=str(out),
        )
        env = thread_env(threads)
        if os.environ.get("PYTHONPATH"):  # a worktree's src (PREAMBLE), kept
            env["PYTHONPATH"] = os.environ["PYTHONPATH"]
        proc = subprocess.run(
            [sys.executable, "-c", NEURODL_CHILD, json.dumps(args), str(HERE)],
            env=env,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            return {"error": proc.stderr[-2000:]}
        res = json.loads(out.read_text())
    return {
        "construction_s": res["setup_s"],
        "run_s": res["run_s"],
        "rtf": res["real_time_factor"],
        "peak_rss_mb": res["peak_rss_mb"],
        "n_synapses": res["n_synapses"],
        "error": None,
    }


def bench(a) -> int:
    if a.nest_python is None:
        ensure_env("peers")
    rows = []
    for drive in a.drives:
        for threads in a.threads:
            for name, fn in (("nest", run_nest), ("neurodl", run_neurodl)):
                if name == "nest" and a.skip_nest:
                    continue
                t0 = time.time()
                kw = (
                    {"dtype": a.dtype}
                    if name == "neurodl"
                    else {"python": a.nest_python}
                )
                r = fn(a.scale, a.t_sim, drive, threads, **kw)
                r.update(
                    simulator=name,
                    drive=drive,
                    threads=threads,
                    wall_total_s=time.time() - t0,
                )
                if r.get("error") is None:
                    r["bytes_per_synapse"] = (
                        r["peak_rss_mb"] * 2**20 / max(r["n_synapses"], 1)
                    )
                rows.append(r)
                print(json.dumps(r), file=sys.stderr, flush=True)
    print(
        f"PD14 scale {a.scale}, {a.t_sim:g} ms after 500 ms presim, dtype "
        f"{a.dtype} (neurodl)"
    )
    print(
        f"{'drive':>7} {'thr':>3} {'simulator':>9} {'constr s':>9} {'run s':>8} "
        f"{'RTF':>7} {'peak MB':>8} {'B/syn':>6}"
    )
    for r in rows:
        if r.get("error"):
            print(
                f"{r['drive']:>7} {r['threads']:>3} {r['simulator']:>9} ERROR "
                f"{r['error'][-200:]}"
            )
            continue
        print(
            f"{r['drive']:>7} {r['threads']:>3} {r['simulator']:>9} "
            f"{r['construction_s']:>9.2f} {r['run_s']:>8.2f} {r['rtf']:>7.2f} "
            f"{r['peak_rss_mb']:>8.0f} {r['bytes_per_synapse']:>6.1f}"
        )
    for drive in a.drives:
        for threads in a.threads:
            pair = {
                r["simulator"]: r
                for r in rows
                if r["drive"] == drive
                and r["threads"] == threads
                and not r.get("error")
            }
            if len(pair) == 2:
                print(
                    f"{drive} {threads} thr: neurodl run time / NEST = "
                    f"{pair['neurodl']['run_s'] / pair['nest']['run_s']:.3f}"
                )
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


def collect(a) -> int:
    seeds, arrays = [], {}
    if a.append:  # keep the stored seeds, add the new files' seeds
        old = REFERENCE / f"microcircuit_nest_{a.tag}"
        seeds = json.loads(old.with_suffix(".json").read_text())["seeds"]
        with np.load(old.with_suffix(".npz")) as z:
            arrays = {k: z[k] for k in z.files}
    for f in sorted(a.files):
        meta = json.loads(Path(f).read_text())
        seeds.append(meta)
        npz = Path(f).with_suffix(".npz")
        with np.load(npz) as z:
            for k in z.files:
                arrays[f"s{meta['seed']}_{k}"] = z[k]
    rates = np.array([s["rates_hz"] for s in seeds])
    out = {
        "what": "Potjans & Diesmann 2014 microcircuit, NEST reference runs (one per "
        "seed): per-population mean rate (Hz) over t_sim after t_presim, mean ISI "
        "CV, mean pairwise spike-count correlation (2 ms bins); per-neuron arrays "
        "in the npz (s<seed>_counts_<pop> uint16, s<seed>_cv_<pop> float16 for "
        "neurons with > 2 spikes, s<seed>_cc_<pop> float16 over the sample of "
        "nest_microcircuit.cc_sample)",
        "produced_with": f"NEST {seeds[0]['nest_version']} (PyPI nest-simulator), "
        "benchmarks/peer_runners/nest_microcircuit.py; merged by: python "
        "benchmarks/microcircuit.py collect --tag "
        + a.tag
        + (" --append (seeds added to the stored ones)" if a.append else ""),
        "populations": seeds[0]["populations"],
        "rate_mean_hz": rates.mean(axis=0).tolist(),
        "rate_sd_hz": (rates.std(axis=0, ddof=1).tolist() if len(seeds) > 1 else None),
        "seeds": seeds,
    }
    REFERENCE.mkdir(exist_ok=True)
    (REFERENCE / f"microcircuit_nest_{a.tag}.json").write_text(
        json.dumps(out, indent=1) + "\n"
    )
    np.savez_compressed(REFERENCE / f"microcircuit_nest_{a.tag}.npz", **arrays)
    print(json.dumps({k: out[k] for k in ("rate_mean_hz", "rate_sd_hz")}))
    return 0


def _neurons_only(scale: float, drive: str):
    """Build the microcircuit's populations and background without its synapses."""
    from neurodl.models import potjans_diesmann as pd
    from neurodl.neurons import LIFParams
    from neurodl.simulate import CurrentSynapse, Network

    tab = pd.tables(scale, None, drive)
    net = Network(dt=pd.DT_MS, seed=1)
    params = LIFParams(tau_mem=10.0, v_rest=-65.0, v_th=-50.0, v_reset=-65.0, t_ref=2.0)
    for p in range(8):
        pop = net.population(
            int(tab.n[p]),
            params,
            i_ext=float(tab.dc_pa[p] * pd.MV_PER_PA),
            v0=("normal", float(pd.V0_MEAN_MV[p]), float(pd.V0_SD_MV[p])),
        )
        syn = CurrentSynapse(tau=pd.TAU_SYN_MS)
        if drive == "poisson":
            net.poisson_input(
                pop,
                n=round(float(tab.k_ext[p])),
                rate=pd.BG_RATE_HZ,
                weight=tab.w_ext_pa * pd.MV_PER_PA,
                synapse=syn,
            )
        else:  # a silent source keeps the synaptic variable (same step work)
            src = net.spike_source(1)
            net.connect(src, pop, _one_input(), syn, weight=0.0)
    return net


def _one_input():
    from neurodl.simulate import FixedInDegree

    return FixedInDegree(1)


def profile(a) -> int:
    """Time neurodl's phases at ``--scale`` (this process, one thread, best of N).

    Splits a step's cost into neuron update (+ background) and spike delivery by
    running the same populations and drive without recurrent synapses.
    """
    import torch

    from neurodl.models import potjans_diesmann as pd

    torch.set_num_threads(1)
    rows: dict = {}
    for drive in ("dc", "poisson"):
        best: dict = {}
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            mc = pd.build(a.scale, drive=drive, seed=1, record=False)
            t1 = time.perf_counter()
            mc.net.build()
            t2 = time.perf_counter()
            mc.net.run(100.0)  # first call: kernel load / compile
            t3 = time.perf_counter()
            mc.net.run(a.t_sim)
            t4 = time.perf_counter()
            net = _neurons_only(a.scale, drive)
            net.run(100.0)
            t5 = time.perf_counter()
            net.run(a.t_sim)
            t6 = time.perf_counter()
            row = {
                "connect_s": t1 - t0,
                "network_build_s": t2 - t1,
                "run_s": t4 - t3,
                "neurons_and_drive_s": t6 - t5,
            }
            best = {k: min(v, best.get(k, v)) for k, v in row.items()}
            del mc, net
        best["spike_delivery_s"] = best["run_s"] - best["neurons_and_drive_s"]
        best["rtf"] = best["run_s"] / (a.t_sim / 1000.0)
        rows[drive] = best
    print(json.dumps(rows, indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("bench")
    b.add_argument("--scale", type=float, default=1.0)
    b.add_argument("--t-sim", type=float, default=1000.0)
    b.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    b.add_argument("--drives", nargs="+", default=["dc", "poisson"])
    b.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    b.add_argument("--skip-nest", action="store_true")
    b.add_argument(
        "--nest-python",
        default=None,
        help="a Python with NEST 3.10 (default: the peer venv, created if missing)",
    )
    b.add_argument("--json", default=None)
    c = sub.add_parser("collect")
    c.add_argument("--tag", required=True)
    c.add_argument(
        "--append", action="store_true", help="add seeds to the stored reference"
    )
    c.add_argument("files", nargs="+")
    p = sub.add_parser("profile")
    p.add_argument("--scale", type=float, default=0.1)
    p.add_argument("--t-sim", type=float, default=1000.0)
    p.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    return {"bench": bench, "collect": collect, "profile": profile}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
