r"""Song, Miller & Abbott (2000) competitive STDP: neurodl beside Brian2; STDP speed.

The network is Brian2's ``examples/synapses/STDP.py`` (quoted in
``peer_runners/brian2_song.py``): 1000 Poisson inputs at 15 Hz onto one LIF neuron
(``taum`` 10 ms, ``El`` -74 mV, ``vt`` -54 mV, ``vr`` -60 mV, no refractory
period, ``v`` starting at 0 mV), exponential synapses (``taue`` 5 ms) whose
current is ``ge (Ee - vr)`` with the fixed driving force ``Ee - vr = 60 mV``,
exact integration, additive all-to-all STDP (``taupre = taupost = 20 ms``,
``dApre = 0.01 gmax``, ``dApost = -1.05 dApre``, weights clipped to
``[0, gmax]``, ``gmax = 0.01``), initial weights ``rand() gmax``, dt 0.1 ms, 100 s.
(The issue called it conductance-based with Euler; the example's text has the
fixed driving force and ``method='exact'``, and that is what runs here.)

neurodl's version: a ``spike_source(1000, rate=15)``, a population with
``LIFParams(10, -74, -54, -60, t_ref=0)``, ``v0 = 0``, a ``CurrentSynapse(5)``
with weights in mV (``w_mV = 60 w``) and ``STDP(a_plus=0.01 G, a_minus=0.0105
G, w_max=G)`` with ``G = 60 gmax``.

Commands (from the repository root; the Brian2 environment
``benchmarks/.venv-brian2``, git-ignored, is made on first use)::

    python benchmarks/song2000.py reference   # tests/reference/song2000_brian2.json
    python benchmarks/song2000.py compare --seeds 0 1 2 3 4 --duration 100
    python benchmarks/song2000.py speed --repeats 7

``compare`` runs Brian2's example (cpp_standalone, one thread) and neurodl
(compiled path) over the seeds and compares the final weight distributions: the
fraction of weights above ``gmax / 2`` (the issue's target: within 5 points),
the mean, and 20-bin histograms. ``speed`` times the compiled engine with and
without plasticity on the same run (one thread, interleaved repeats, medians):
Song's network (10 s) and a recurrent CUBA network (N = 4000, STDP on the
excitatory synapses, 5 s by default, in 1-s pieces).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import peers  # noqa: E402

ENV = "brian2"
peers.ENVS[ENV] = ["brian2==2.9.0", "numpy>=2.0,<2.4", "cython>=3.0", "setuptools"]
RUNNER = HERE / "peer_runners" / "brian2_song.py"
REFERENCE = ROOT / "tests" / "reference" / "song2000_brian2.json"
RECORD = HERE / "records" / "song2000.json"

GMAX = 0.01
DRIVE = 60.0  # Ee - vr, mV: weights in mV are 60 x Brian2's
REF_SEED, REF_STEPS = 2000, 20000  # the test reference: 2 s of inputs


def reference_inputs(seed: int = REF_SEED, n_steps: int = REF_STEPS):
    """Input spikes (steps, indices) and initial weights of the test reference.

    ``rng = default_rng(seed)``; ``w0 = rng.uniform(0, gmax, 1000)``; then
    ``rng.random((n_steps, 1000)) < 15 Hz * 0.1 ms`` gives the spikes (step-major).
    """
    rng = np.random.default_rng(seed)
    w0 = rng.uniform(0.0, GMAX, 1000)
    steps, idx = np.nonzero(rng.random((n_steps, 1000)) < 15.0 * 0.1 * 1e-3)
    return steps.astype(np.int64), idx.astype(np.int64), w0


def song_network(seed=0, *, learn=True, plastic=True, inputs=None, backend="numba"):
    """Song et al.'s network in neurodl; returns (net, projection, post monitor)."""
    from neurodl.neurons.lif import LIFParams
    from neurodl.simulate import STDP, CurrentSynapse, Explicit, Network

    net = Network(dt=0.1, seed=seed, backend=backend)
    if inputs is None:
        src = net.spike_source(1000, rate=15.0)
        weight = lambda rng, n: rng.uniform(0.0, GMAX * DRIVE, n)  # noqa: E731
    else:
        steps, idx, w0 = inputs
        src = net.spike_source(1000, times=steps * 0.1, indices=idx)
        weight = w0 * DRIVE
    p = LIFParams(tau_mem=10.0, v_rest=-74.0, v_th=-54.0, v_reset=-60.0, t_ref=0.0)
    post = net.population(1, p, method="exact", v0=0.0)
    g = GMAX * DRIVE
    rule = STDP(
        a_plus=0.01 * g if learn else 0.0,
        a_minus=0.01 * g * 1.05 if learn else 0.0,
        tau_plus=20.0,
        tau_minus=20.0,
        w_min=0.0,
        w_max=g,
    )
    proj = net.connect(
        src,
        post,
        Explicit(np.arange(1000), np.zeros(1000, np.int64)),
        CurrentSynapse(5.0),
        weight=weight,
        plasticity=rule if plastic else None,
    )
    return net, proj, net.spike_monitor(post)


def brian2(args: list[str]) -> None:
    peers.ensure_env(ENV)
    py = peers.env_python(ENV)
    subprocess.run([str(py), str(RUNNER), *args], check=True, env=peers.thread_env(1))


# ------------------------------------------------------------------- reference
def make_reference() -> dict:
    """Brian2's postsynaptic spikes for the reference inputs, frozen and learning."""
    steps, idx, w0 = reference_inputs()
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        inp = Path(tmp) / "inputs.npz"
        np.savez(inp, steps=steps, indices=idx, w0=w0, n_steps=REF_STEPS)
        for name, extra in (("frozen", []), ("learning", ["--learn"])):
            res = Path(tmp) / f"{name}.json"
            brian2(["reference", str(inp), str(res), *extra])
            out[name] = json.loads(res.read_text())
    ref = {
        "what": "Brian2 examples/synapses/STDP.py (Song, Miller & Abbott 2000) with "
        "its PoissonGroup replaced by a SpikeGeneratorGroup of the inputs below and "
        "S.w set to w0: postsynaptic spike steps (dt 0.1 ms) with the learning rates "
        "set to 0 ('frozen', weights never move) and as in the example "
        "('learning', with the final weights w, Brian2 units)",
        "command": "python benchmarks/song2000.py reference",
        "brian2": out["frozen"]["brian2"],
        "target": "numpy",
        "inputs": {
            "recipe": "rng = numpy.random.default_rng(seed); w0 = rng.uniform(0, "
            "0.01, 1000); steps, indices = numpy.nonzero(rng.random((n_steps, "
            "1000)) < 15 * 0.1e-3)",
            "seed": REF_SEED,
            "n_steps": REF_STEPS,
            "dt_ms": 0.1,
            "n_spikes": int(steps.size),
            "checksum": int((steps * 1000 + idx).sum()),
        },
        "frozen": {"post_spike_steps": out["frozen"]["post_spike_steps"]},
        "learning": {
            "post_spike_steps": out["learning"]["post_spike_steps"],
            "w": out["learning"]["w"],
        },
    }
    REFERENCE.write_text(json.dumps(ref) + "\n")
    print(f"wrote {REFERENCE}: {len(ref['frozen']['post_spike_steps'])} / "
          f"{len(ref['learning']['post_spike_steps'])} post spikes")  # fmt: skip
    return ref


# --------------------------------------------------------------------- compare
def weight_stats(w: np.ndarray) -> dict:
    """Fraction above gmax/2, mean (both in units of gmax) and a 20-bin histogram."""
    x = np.asarray(w, dtype=np.float64) / GMAX
    hist, _ = np.histogram(x, bins=20, range=(0.0, 1.0))
    return {
        "frac_above_half": float(np.mean(x > 0.5)),
        "mean": float(x.mean()),
        "frac_at_0": float(np.mean(x <= 0.01)),
        "frac_at_max": float(np.mean(x >= 0.99)),
        "hist20": hist.tolist(),
    }


def run_neurodl(seed: int, duration_s: float) -> dict:
    net, proj, mon = song_network(seed)
    t0 = time.perf_counter()
    for _ in range(round(duration_s)):  # 1-s pieces: the Poisson draws per piece
        net.run(1000.0, progress=False)
    wall = time.perf_counter() - t0
    w = proj.weight.numpy() / DRIVE
    return {"seed": seed, "wall_s": wall, "post_rate_hz": mon.times.size / duration_s,
            **weight_stats(w)}  # fmt: skip


def run_brian2(seed: int, duration_s: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        res = Path(tmp) / "out.json"
        brian2(["learn", str(seed), str(duration_s), str(res)])
        out = json.loads(res.read_text())
    return {"seed": seed, "wall_s": out["wall_s"], "run_s": out["run_s"],
            "post_rate_hz": len(out["post_spike_times_ms"]) / duration_s,
            **weight_stats(np.asarray(out["w"]))}  # fmt: skip


def compare(seeds: list[int], duration_s: float) -> dict:
    rows: dict[str, list[dict]] = {"brian2": [], "neurodl": []}
    for seed in seeds:
        for name, fn in (("neurodl", run_neurodl), ("brian2", run_brian2)):
            r = fn(seed, duration_s)
            rows[name].append(r)
            print(f"{name:8s} seed {seed}: above gmax/2 {r['frac_above_half']:.3f}, "
                  f"mean {r['mean']:.3f}, at 0 {r['frac_at_0']:.3f}, at max "
                  f"{r['frac_at_max']:.3f}, post {r['post_rate_hz']:.1f} Hz, "
                  f"{r['wall_s']:.1f} s", flush=True)  # fmt: skip
    summary = {}
    for name, rs in rows.items():
        fr = [r["frac_above_half"] for r in rs]
        summary[name] = {
            "frac_above_half_mean": statistics.mean(fr),
            "frac_above_half_sd": statistics.pstdev(fr),
            "mean_weight": statistics.mean(r["mean"] for r in rs),
            "post_rate_hz": statistics.mean(r["post_rate_hz"] for r in rs),
        }
    diff = (
        summary["neurodl"]["frac_above_half_mean"]
        - summary["brian2"]["frac_above_half_mean"]
    )
    summary["difference_points"] = 100.0 * diff
    summary["within_5_points"] = abs(100.0 * diff) <= 5.0
    print(json.dumps(summary, indent=1))
    return {"seeds": seeds, "duration_s": duration_s, "runs": rows, "summary": summary}


# ------------------------------------------------------------------------ speed
def cuba_stdp(plastic: bool, seed: int = 0, n: int = 4000):
    """Brian2's CUBA (N = 4000) with additive STDP on both excitatory projections.

    Small rates (a = 1e-4 of w_max per pair, w in [0, 2 x 1.62 mV]) keep the
    activity close to the static network's, so both runs do the same work.
    """
    from neurodl.neurons.lif import LIFParams
    from neurodl.simulate import STDP, CurrentSynapse, FixedProbability, Network

    net = Network(dt=0.1, seed=seed, backend="numba")
    p = LIFParams(tau_mem=20.0, v_rest=-49.0, v_th=-50.0, v_reset=-60.0, t_ref=5.0)
    n_exc = round(0.8 * n)
    exc = net.population(n_exc, p, v0=("uniform", -60.0, -50.0))
    inh = net.population(n - n_exc, p, v0=("uniform", -60.0, -50.0))
    e_syn, i_syn = CurrentSynapse(5.0), CurrentSynapse(10.0)
    rule = FixedProbability(80 / n)
    stdp = STDP(a_plus=3.24e-4, a_minus=3.4e-4, w_min=0.0, w_max=3.24)
    for post in (exc, inh):
        net.connect(exc, post, rule, e_syn, weight=1.62,
                    plasticity=stdp if plastic else None)  # fmt: skip
    for post in (exc, inh):
        net.connect(inh, post, rule, i_syn, weight=-9.0)
    mon = net.spike_monitor(exc)
    return net, mon


def _time_run(build, duration_ms: float, piece_ms: float) -> tuple[float, int]:
    net, mon = build()
    net.build()
    t0 = time.perf_counter()
    for _ in range(round(duration_ms / piece_ms)):
        net.run(piece_ms, progress=False)
    return time.perf_counter() - t0, int(mon.times.size)


def speed(repeats: int, cuba_seconds: float = 5.0) -> dict:
    import torch

    torch.set_num_threads(1)
    cases = {
        "song_10s": (
            lambda plastic: lambda: song_network(0, plastic=plastic)[::2],
            10_000.0,
            1000.0,
        ),
        f"cuba4000_stdp_{cuba_seconds:g}s": (
            lambda plastic: lambda: cuba_stdp(plastic),
            1000.0 * cuba_seconds,
            1000.0,
        ),
    }
    out = {}
    for name, (make, dur, piece) in cases.items():
        _time_run(make(True), 100.0, 100.0)  # compile / warm up
        times: dict[str, list[float]] = {"static": [], "stdp": []}
        spikes = {}
        for _ in range(repeats):  # interleaved
            for label, plastic in (("static", False), ("stdp", True)):
                t, n_spk = _time_run(make(plastic), dur, piece)
                times[label].append(t)
                spikes[label] = n_spk
        med = {k: statistics.median(v) for k, v in times.items()}
        ratios = [b / a for a, b in zip(times["static"], times["stdp"], strict=True)]
        out[name] = {
            "median_s": med,
            "ratio_of_medians": med["stdp"] / med["static"],
            "median_of_paired_ratios": statistics.median(ratios),
            "times_s": times,
            "spikes": spikes,
        }
        paired = statistics.median(ratios)
        print(f"{name}: static {med['static']:.3f} s, stdp {med['stdp']:.3f} s, "
              f"ratio {med['stdp'] / med['static']:.3f} (paired median "
              f"{paired:.3f}); spikes {spikes}", flush=True)  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("reference")
    c = sub.add_parser("compare")
    c.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    c.add_argument("--duration", type=float, default=100.0)
    s = sub.add_parser("speed")
    s.add_argument("--repeats", type=int, default=7)
    s.add_argument(
        "--cuba-seconds",
        type=float,
        default=5.0,
        help="simulated seconds of CUBA per timed run (1-s pieces)",
    )
    args = ap.parse_args()
    if args.cmd == "reference":
        make_reference()
        return
    record = json.loads(RECORD.read_text()) if RECORD.exists() else {}
    meta = {
        "command": "python benchmarks/song2000.py " + " ".join(sys.argv[1:]),
        "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout,
        "machine": platform.processor() or platform.machine(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    print(meta["uptime"].strip(), flush=True)
    if args.cmd == "compare":
        record["compare"] = {**meta, **compare(args.seeds, args.duration)}
    else:
        record["speed"] = {**meta, **speed(args.repeats, args.cuba_seconds)}
    meta_end = subprocess.run(["uptime"], capture_output=True, text=True).stdout
    record[args.cmd]["uptime_end"] = meta_end
    print(meta_end.strip())
    RECORD.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
