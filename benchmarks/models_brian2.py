r"""ALIF, Izhikevich and AdEx populations in networks: neurodl beside Brian2, spikes.

One network mixes five populations of 40 neurons: LIF (exact integration),
adaptive LIF with current synapses only (exact), adaptive LIF with current and
conductance synapses (Euler), Izhikevich (regular spiking, Euler) and AdEx
(Brette & Gerstner 2005 with a 1 ms refractory period, Euler). 40 input neurons
spike at given times (Poisson, 20 Hz, drawn once from the seed); every synapse is
explicit (``Explicit(i, j, weight, delay)``): inputs onto every population through
an exponential current synapse (5 ms) and, for the Euler populations, an
exponential conductance synapse (3 ms, reversal 0 mV); recurrent synapses inside
each population (excitatory and inhibitory weights) and a chain LIF -> ALIF ->
ALIF -> Izhikevich -> AdEx -> LIF, with delays from 0 to 3 ms on the 0.1 ms grid.
500 ms, dt 0.1 ms, float64.

Brian2 (2.9.0, numpy target, float64, in the peer environment of
``benchmarks/peers.py``) runs the same network from the same definition
(``peer_runners/brian2_models.py``: the models' equations written from
``neurodl.neurons``' docstrings, the same integration methods, ``SpikeGeneratorGroup``
inputs, ``Synapses`` with per-synapse delays); spike times are compared exactly
as step indices, population by population, for neurodl's compiled path and its
tensor path.

Commands (from the repository root)::

    python benchmarks/models_brian2.py reference  # tests/reference/models_brian2.json
    python benchmarks/models_brian2.py compare --repeats 3 [--seed 13]

``reference`` writes the definition and Brian2's spikes (the test
``tests/simulate/test_models_network.py`` rebuilds the network from the file);
``compare`` reruns Brian2, checks both neurodl paths against it and times the run
(Brian2's ``device._last_run_time`` against neurodl's ``run``, after a warm-up
run that compiles the kernels; medians over the repeats, one thread).
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

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import peers  # noqa: E402

RUNNER = HERE / "peer_runners" / "brian2_models.py"
REFERENCE = ROOT / "tests" / "reference" / "models_brian2.json"
COMMAND = "python benchmarks/models_brian2.py reference"
SEED = 13
N, N_SRC, DT, DURATION = 40, 40, 0.1, 500.0

LIF = {"tau_mem": 20.0, "v_rest": -65.0, "v_th": -50.0, "v_reset": -65.0,
       "t_ref": 2.0}  # fmt: skip
ALIF = {**LIF, "tau_adapt": 100.0, "delta_th": 3.0}
IZH = {"a": 0.02, "b": 0.2, "c": -65.0, "d": 8.0, "v_peak": 30.0}
ADEX = {"c_m": 281.0, "g_l": 30.0, "e_l": -70.6, "v_t": -50.4, "delta_t": 2.0,
        "v_peak": -40.4, "v_reset": -70.6, "tau_w": 144.0, "a": 4.0, "b": 80.5,
        "t_ref": 1.0}  # fmt: skip
# name, model, params, method, i_ext, v0 range, conductance synapse?, weight
# scale of current synapses (model units), of conductance synapses
POPS = [
    ("lif", "LIFParams", LIF, "exact", 14.0, (-65.0, -52.0), False, 2.0, 0.0),
    ("alif_exact", "ALIFParams", ALIF, "exact", 14.5, (-65.0, -52.0), False, 2.0, 0.0),
    ("alif_euler", "ALIFParams", ALIF, "euler", 12.0, (-65.0, -52.0), True, 2.0, 0.1),
    ("izhikevich", "IzhikevichParams", IZH, "euler", 3.0, (-70.0, -60.0), True, 2.5,
     0.015),
    ("adex", "AdExParams", ADEX, "euler", 400.0, (-70.6, -60.0), True, 250.0, 2.5),
]  # fmt: skip


def definition(seed: int = SEED) -> dict:
    """Return the network as plain data (JSON): inputs, populations, synapses."""
    rng = np.random.default_rng(seed)
    n_steps = round(DURATION / DT)
    # 20 Hz Poisson inputs, at most one spike per input and step
    mask = rng.random((n_steps, N_SRC)) < 20.0 * DT * 1e-3
    steps, idx = np.nonzero(mask)
    spec: dict = {
        "seed": seed,
        "dt": DT,
        "duration": DURATION,
        "source": {"n": N_SRC, "steps": steps.tolist(), "indices": idx.tolist()},
        "populations": [],
        "projections": [],
    }

    def pairs(n_pre: int, n_post: int, p: float, autapses: bool = True):
        m = rng.random((n_pre, n_post)) < p
        if not autapses:
            np.fill_diagonal(m, False)
        i, j = np.nonzero(m)
        return i, j

    def add(pre, post, channel, i, j, w, d):
        spec["projections"].append({
            "pre": pre, "post": post, "channel": channel, "i": i.tolist(),
            "j": j.tolist(), "w": np.round(w, 4).tolist(), "d": d.tolist(),
        })  # fmt: skip

    for name, model, prm, method, i_ext, (lo, hi), cond, wc, wg in POPS:
        channels = [{"name": "xc", "kind": "current", "tau": 5.0}]
        if cond:
            channels.append({"name": "xg", "kind": "conductance", "tau": 3.0,
                             "e_rev": 0.0})  # fmt: skip
        spec["populations"].append({
            "name": name, "model": model, "params": prm, "method": method,
            "n": N, "i_ext": i_ext, "channels": channels,
            "v0": np.round(rng.uniform(lo, hi, N), 3).tolist(),
        })  # fmt: skip
        i, j = pairs(N_SRC, N, 0.2)
        add("source", name, "xc", i, j, rng.uniform(0.5, 1.5, i.size) * wc,
            rng.choice([0, 1, 5, 10, 23], i.size))  # fmt: skip
        if cond:
            i, j = pairs(N_SRC, N, 0.1)
            add("source", name, "xg", i, j, rng.uniform(0.5, 1.5, i.size) * wg,
                rng.choice([0, 2, 7], i.size))  # fmt: skip
        i, j = pairs(N, N, 0.1, autapses=False)
        sign = np.where(rng.random(i.size) < 0.7, 1.0, -2.0)
        add(name, name, "xc", i, j, sign * rng.uniform(0.3, 1.0, i.size) * wc,
            rng.integers(5, 31, i.size))  # fmt: skip
    for (pre, *_), (post, *rest) in zip(POPS, POPS[1:] + POPS[:1], strict=True):
        wc = rest[-2]
        i, j = pairs(N, N, 0.1)
        add(pre, post, "xc", i, j, rng.uniform(0.2, 0.8, i.size) * wc,
            rng.integers(10, 21, i.size))  # fmt: skip
    return spec


def build_neurodl(spec: dict, backend: str):
    """Build the network of ``spec`` in neurodl; return (net, {name: monitor})."""
    from neurodl import neurons
    from neurodl.simulate import ConductanceSynapse, CurrentSynapse, Explicit, Network

    net = Network(dt=spec["dt"], seed=spec["seed"], backend=backend)
    src = spec["source"]
    groups: dict = {
        "source": net.spike_source(
            src["n"],
            times=np.asarray(src["steps"]) * spec["dt"],
            indices=np.asarray(src["indices"]),
        )
    }
    synapses: dict = {}
    for pop in spec["populations"]:
        params = getattr(neurons, pop["model"])(**pop["params"])
        groups[pop["name"]] = net.population(
            pop["n"], params, method=pop["method"], i_ext=pop["i_ext"],
            v0=np.asarray(pop["v0"]), name=pop["name"],
        )  # fmt: skip
        for ch in pop["channels"]:
            synapses[(pop["name"], ch["name"])] = (
                CurrentSynapse(ch["tau"])
                if ch["kind"] == "current"
                else ConductanceSynapse(ch["tau"], ch["e_rev"])
            )
    for proj in spec["projections"]:
        d = np.asarray(proj["d"], dtype=np.float64) * spec["dt"]
        rule = Explicit(np.asarray(proj["i"]), np.asarray(proj["j"]),
                        weight=np.asarray(proj["w"]), delay=d)  # fmt: skip
        net.connect(groups[proj["pre"]], groups[proj["post"]], rule,
                    synapses[(proj["post"], proj["channel"])])  # fmt: skip
    mons = {p["name"]: net.spike_monitor(groups[p["name"]])
            for p in spec["populations"]}  # fmt: skip
    return net, mons


def run_neurodl(spec: dict, backend: str) -> tuple[dict, float]:
    """Spikes per population (sorted by step, index) and the run's wall time."""
    net, mons = build_neurodl(spec, backend)
    net.build()
    t0 = time.perf_counter()
    net.run(spec["duration"], progress=False)
    wall = time.perf_counter() - t0
    out = {}
    for name, mon in mons.items():
        order = np.lexsort((mon.indices, mon.steps))
        out[name] = {"steps": mon.steps[order].tolist(),
                     "indices": mon.indices[order].tolist()}  # fmt: skip
    return out, wall


def run_brian2(spec: dict) -> dict:
    """Run the peer runner in the peer environment; return its JSON."""
    peers.ensure_env("peers")
    py = peers.env_python("peers")
    with tempfile.TemporaryDirectory() as tmp:
        sp, res = Path(tmp) / "spec.json", Path(tmp) / "out.json"
        sp.write_text(json.dumps(spec))
        subprocess.run([str(py), str(RUNNER), str(sp), str(res)], check=True,
                       env=peers.thread_env(1))  # fmt: skip
        return json.loads(res.read_text())


def match(ours: dict, theirs: dict) -> dict:
    """Per population: spike counts and whether the (step, index) lists are equal."""
    out = {}
    for name, b in theirs.items():
        a = ours[name]
        same = a["steps"] == b["steps"] and a["indices"] == b["indices"]
        first = None
        if not same:
            pa = set(zip(a["steps"], a["indices"], strict=True))
            pb = set(zip(b["steps"], b["indices"], strict=True))
            diff = sorted(pa ^ pb)
            first = diff[0][0] if diff else None
        out[name] = {"neurodl": len(a["steps"]), "brian2": len(b["steps"]),
                     "equal": same, "first_difference_step": first}  # fmt: skip
    return out


def make_reference() -> dict:
    """Write tests/reference/models_brian2.json and check neurodl against it."""
    spec = definition()
    b2 = run_brian2(spec)
    ref = {
        "what": "a network mixing LIF, adaptive LIF (exact and Euler), Izhikevich "
        "and AdEx populations with explicit synapses (current and conductance, "
        "delays) driven by given input spikes: Brian2's spike steps per "
        "population (dt 0.1 ms, float64, numpy target), with the network's "
        "complete definition",
        "command": COMMAND,
        "brian2": b2["brian2"],
        "target": b2["target"],
        "definition": spec,
        "spikes": b2["spikes"],
    }
    REFERENCE.write_text(json.dumps(ref, separators=(",", ":")) + "\n")
    print(f"wrote {REFERENCE}")
    for backend in ("numba", "torch"):
        ours, _ = run_neurodl(spec, backend)
        print(backend, json.dumps(match(ours, b2["spikes"]), indent=1))
    return ref


def compare(repeats: int, seed: int = SEED) -> dict:
    """Rerun Brian2 and both neurodl paths; exactness per model and run times.

    ``seed`` other than the reference's draws another network of the same kind.
    """
    spec = definition(seed)
    run_neurodl(spec, "numba")  # compile
    b2_runs, nd_runs, tr_runs = [], [], []
    result: dict = {}
    for _ in range(repeats):
        b2 = run_brian2(spec)
        b2_runs.append(b2["run_s"])
        ours, wall = run_neurodl(spec, "numba")
        nd_runs.append(wall)
        ours_t, wall_t = run_neurodl(spec, "torch")
        tr_runs.append(wall_t)
        result = {"numba": match(ours, b2["spikes"]),
                  "torch": match(ours_t, b2["spikes"])}  # fmt: skip
    b2_s, nd_s, tr_s = (statistics.median(x) for x in (b2_runs, nd_runs, tr_runs))
    summary = {
        "command": "python benchmarks/models_brian2.py compare "
        f"--repeats {repeats} --seed {seed}",
        "brian2": b2["brian2"],
        "match": result,
        "brian2_numpy_run_s": b2_s,
        "neurodl_numba_run_s": nd_s,
        "neurodl_torch_run_s": tr_s,
        "speedup_numba_vs_brian2_numpy": b2_s / nd_s,
        "speedup_torch_vs_brian2_numpy": b2_s / tr_s,
    }
    print(json.dumps(summary, indent=1))
    return summary


def main(argv: list[str] | None = None) -> int:
    """Command line: ``reference`` or ``compare``."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=["reference", "compare"])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=SEED, help="compare: the network")
    args = ap.parse_args(argv)
    if args.what == "reference":
        make_reference()
    else:
        compare(args.repeats, args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
