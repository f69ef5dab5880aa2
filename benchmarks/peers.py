r"""Peer simulators for the CUBA/COBA benchmark: Brian2, NEST and BrainPy.

The peers run in their own virtual environment (``benchmarks/.venv-peers``,
git-ignored), because their pins clash with neurodl's (Brian2 2.9 needs
``numpy < 2.4``). This module only needs the standard library and numpy, so the
peer runners (``benchmarks/peer_runners/*.py``, executed by the peer venv's
Python) import :func:`cv_isi` and the RSS helpers from it, and neurodl's side of
``benchmarks/cuba.py`` imports the same :func:`cv_isi`.

Usage from the repository root::

    python benchmarks/peers.py --peer brian2_cpp_standalone --model cuba \
        --n 4000 --seeds 0 1 2 --json

and from Python::

    from peers import ensure_env, run_peer   # with benchmarks/ on sys.path
    ensure_env("peers")                       # idempotent (stamp file)
    res = run_peer("nest", "cuba", n=4000, duration_s=1.0, seed=0)

Network definitions
-------------------
Both networks are benchmarks 1 (COBA) and 2 (CUBA) of Brette et al. (2007),
"Simulation of networks of spiking neurons: a review of tools and strategies",
J Comput Neurosci 23:349-398, doi:10.1007/s10827-007-0038-6, themselves the
networks of Vogels & Abbott (2005). N = 4000 neurons, the first 80 % excitatory,
every ordered pair (i, j) connected independently with probability p (self
connections allowed, as in Brian2's ``connect(p=...)``), no delay, dt = 0.1 ms,
1 s simulated, no external input. Scaling rule for N != 4000 (from
``shared/reference/cuba.json``): keep ~80 synapses per neuron, ``p = 80 / N``,
``n_exc = int(0.8 * N)``; weights unchanged.

CUBA is Brian2's ``examples/CUBA.py`` (brian-team/brian2; the example names the
integration method ``'linear'``, which Brian2 2.9 calls ``'exact'``)::

    taum = 20*ms
    taue = 5*ms
    taui = 10*ms
    Vt = -50*mV
    Vr = -60*mV
    El = -49*mV

    eqs = '''
    dv/dt  = (ge+gi-(v-El))/taum : volt (unless refractory)
    dge/dt = -ge/taue : volt
    dgi/dt = -gi/taui : volt
    '''

    P = NeuronGroup(4000, eqs, threshold='v>Vt', reset='v = Vr', refractory=5*ms,
                    method='linear')
    P.v = 'Vr + rand() * (Vt - Vr)'
    P.ge = 0*mV
    P.gi = 0*mV

    we = (60*0.27/10)*mV # excitatory synaptic weight (voltage)
    wi = (-20*4.5/10)*mV # inhibitory synaptic weight
    Ce = Synapses(P, P, on_pre='ge += we')
    Ci = Synapses(P, P, on_pre='gi += wi')
    Ce.connect('i<3200', p=0.02)
    Ci.connect('i>=3200', p=0.02)

    s_mon = SpikeMonitor(P)

    run(1 * second)

COBA: the current brian-team/brian2 tree has no ``examples/COBA.py`` any more
(its ``examples/`` holds ``CUBA.py`` and ``COBAHH.py``, and
``frompapers/Stimberg_et_al_2018/example_1_COBA.py`` is a different network with
short-term plasticity and a 150 pA bias current). The Brette et al. COBA
benchmark is Brian's ``examples/COBA.py`` (brian-team/brian, R. Brette, Dec
2007), which early Brian2 carried over as ``examples/COBA.py``; its Brian2 form
(``Connection`` -> ``Synapses``, ``pre=`` -> ``on_pre=``) is::

    # Time constants
    taum = 20 * msecond
    taue = 5 * msecond
    taui = 10 * msecond
    # Reversal potentials
    Ee = (0. + 60.) * mvolt
    Ei = (-80. + 60.) * mvolt

    eqs = Equations('''
    dv/dt = (-v+ge*(Ee-v)+gi*(Ei-v))*(1./taum) : volt (unless refractory)
    dge/dt = -ge*(1./taue) : 1
    dgi/dt = -gi*(1./taui) : 1
    ''')
    # NB 1: conductances are in units of the leak conductance
    # NB 2: multiplication is faster than division

    P = NeuronGroup(4000, model=eqs, threshold='v>10*mV',
                    reset='v=0*mvolt', refractory=5*ms, method='euler')
    Pe = P[:3200]
    Pi = P[3200:]
    we = 6. / 10. # excitatory synaptic weight (voltage)
    wi = 67. / 10. # inhibitory synaptic weight
    Ce = Synapses(Pe, P, on_pre='ge+=%f' % we)
    Ce.connect(p=0.02)
    Ci = Synapses(Pi, P, on_pre='gi+=%f' % wi)
    Ci.connect(p=0.02)

    # Initialization
    P.v = '(randn()*5 - 5)*mV'
    P.ge = 'randn()*1.5 + 4'
    P.gi = 'randn()*12 + 20'

Potentials are relative to the resting potential -60 mV (threshold -50 mV,
reset -60 mV, Ee = 0 mV, Ei = -80 mV absolute); the runners use the same
values. How NEST and BrainPy map these is documented in their runners
(``peer_runners/nest_net.py``, ``peer_runners/brainpy_net.py``).

Result dictionary (:func:`run_peer`)
------------------------------------
``run_s``
    the simulation loop only, by the peer's own clock: Brian2
    ``device._last_run_time`` (both targets), NEST wall time of ``nest.Run``
    (after ``nest.Prepare``), BrainPy wall time of the already-compiled loop (a
    second, identical run after ``reset_state``; see its runner).
``setup_s``
    everything after the imports and before the loop starts: network
    construction, code generation, compilation (C++ ``make`` for
    cpp_standalone, Cython for brian2_cython, XLA for BrainPy), connectivity,
    ``nest.Prepare``. Measured as the wall time from the start of construction to
    the spikes being in hand minus ``run_s``, so it also holds the (small)
    reading of the spike monitor.
``first_result_s``
    wall time from launching the runner process (``subprocess.Popen``, so
    interpreter start and imports included) to having the spike times and
    indices in hand as numpy arrays, for a network never compiled before (fresh
    Brian2 project directory / Cython cache per run, fresh JAX process).
``import_s``
    from the first line of the runner script to the end of its imports (the
    simulator's import dominates), part of ``first_result_s``.
``compile_s``
    the compiler alone where it can be separated: ``make`` for
    cpp_standalone, the summed Cython extension builds for brian2_cython (in
    construction and before the run), XLA compile + first run minus the second
    run for BrainPy.
``rate_hz``, ``cv_isi``, ``n_spikes``
    ``n_spikes / (n * duration_s)`` and :func:`cv_isi` on the whole population.
``peak_rss_mb``
    peak resident set (``VmHWM``) of the process that holds the network during
    the run: the compiled ``main`` binary for cpp_standalone, the Python process
    otherwise (its peak is reset, via ``/proc/self/clear_refs``, just before
    construction, so import-time transients don't count).
``rss_per_synapse_bytes``
    ``(VmHWM after building - VmRSS just before building) / n_synapses`` in the
    same process, "after building" being just before the loop starts (after
    connectivity, spike-queue initialisation, ``nest.Prepare``; for BrainPy
    after XLA compilation, which it cannot separate from the first run). For
    cpp_standalone both are read by C++ code inserted into ``main`` (after
    ``brian_start``, and before ``network.run``). In-process compilers (Cython,
    XLA) count in the peak, so small networks overstate the per-synapse cost.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RUNNERS = HERE / "peer_runners"

#: One environment holds all peers: they install and import side by side.
ENVS: dict[str, list[str]] = {
    "peers": [
        "brian2==2.9.0",
        "numpy>=2.0,<2.4",
        "cython>=3.0",
        "setuptools",
        "nest-simulator==3.10.0",
        "brainpy[cpu]==2.8.2",  # [cpu]: jax[cpu] and brainevent[cpu] (numba kernels)
        "jax[cpu]==0.10.2",
        "jaxlib==0.10.2",
    ],
    # MOABB, for benchmarks/peer_runners/moabb_within.py. The scientific stack is
    # pinned to the main venv's versions so that score differences cannot come
    # from library versions. moabb's hard requirements pull no torch (braindecode
    # is only its optional "deeplearning" extra, not installed).
    "moabb": [
        "moabb==1.7.2",
        "pyriemann==0.12",
        "scikit-learn==1.9.1",
        "mne==1.13.2",
        "numpy==2.4.6",
        "scipy==1.17.1",
    ],
}

#: peer name -> (environment, runner script, extra runner arguments)
PEERS: dict[str, tuple[str, str, list[str]]] = {
    "brian2_cpp_standalone": ("peers", "brian2_net.py", ["--target", "cpp_standalone"]),
    "brian2_cython": ("peers", "brian2_net.py", ["--target", "cython"]),
    "nest": ("peers", "nest_net.py", []),
    "brainpy": ("peers", "brainpy_net.py", []),
}
MODELS = ("cuba", "coba")

RESULT_KEYS = (
    "peer",
    "model",
    "n",
    "n_synapses",
    "duration_s",
    "seed",
    "run_s",
    "setup_s",
    "first_result_s",
    "rate_hz",
    "cv_isi",
    "n_spikes",
    "peak_rss_mb",
    "rss_per_synapse_bytes",
    "error",
)


# --------------------------------------------------------------------------- stats
def cv_isi(times_s, indices, n: int, min_spikes: int = 3) -> float:
    """Mean over neurons of the coefficient of variation of their ISIs.

    For each neuron with at least ``min_spikes`` spikes (default 3, i.e. at least
    two inter-spike intervals) take its ISIs ``d = diff(sorted(times))`` and
    ``std(d) / mean(d)`` with the population standard deviation (``ddof=0``);
    return the unweighted mean of these over those neurons (NaN if none).

    This is the definition that reproduces ``shared/reference/cuba.json``
    (Brian2 0.514, band 0.48-0.56): Brian2 2.9.0 cpp_standalone CUBA, N = 4000,
    seeds 0-4 gives 0.515-0.529 with it. The alternatives fall outside the band
    on the same spikes: neurons with >= 2 spikes (a single ISI counts as CV 0)
    0.453-0.465, ``ddof=1`` 0.58-0.60, all ISIs pooled 0.96-0.99.

    Parameters
    ----------
    times_s : array_like
        Spike times (any unit; the CV is dimensionless).
    indices : array_like
        Neuron index of each spike, in ``[0, n)``.
    n : int
        Number of neurons.
    min_spikes : int
        Neurons with fewer spikes are left out (at least 2 is always required).
    """
    t = np.asarray(times_s, dtype=np.float64).ravel()
    i = np.asarray(indices, dtype=np.int64).ravel()
    if t.shape != i.shape:
        raise ValueError("times_s and indices differ in length")
    if t.size == 0:
        return math.nan
    order = np.lexsort((t, i))
    t, i = t[order], i[order]
    counts = np.bincount(i, minlength=n)
    same = i[1:] == i[:-1]
    isi, owner = np.diff(t)[same], i[1:][same]
    k = np.bincount(owner, minlength=n).astype(np.float64)
    s1 = np.bincount(owner, weights=isi, minlength=n)
    keep = (counts >= max(min_spikes, 2)) & (k > 0)
    if not keep.any():
        return math.nan
    mean = s1 / np.maximum(k, 1.0)
    # two-pass variance (sum of squared deviations), robust for tiny ISI spreads
    dev2 = np.bincount(owner, weights=(isi - mean[owner]) ** 2, minlength=n)
    cv = np.sqrt(dev2[keep] / k[keep]) / mean[keep]
    return float(np.mean(cv))


def cv_isi_pooled(times_s, indices, n: int) -> float:
    """CV of all ISIs of all neurons pooled (an alternative, not the reference's)."""
    t = np.asarray(times_s, dtype=np.float64).ravel()
    i = np.asarray(indices, dtype=np.int64).ravel()
    order = np.lexsort((t, i))
    t, i = t[order], i[order]
    isi = np.diff(t)[i[1:] == i[:-1]]
    if isi.size < 2:
        return math.nan
    return float(np.std(isi) / np.mean(isi))


def spike_stats(times_s, indices, n: int, duration_s: float) -> dict:
    """Rate, ISI CV and spike count of a population, the same for every peer."""
    t = np.asarray(times_s, dtype=np.float64)
    return {
        "n_spikes": int(t.size),
        "rate_hz": float(t.size / (n * duration_s)),
        "cv_isi": cv_isi(t, indices, n),
    }


# ----------------------------------------------------------------------- memory
def proc_status_kb(field: str, pid: int | str = "self") -> int:
    """Read a ``kB`` field of ``/proc/<pid>/status`` (``VmRSS``, ``VmHWM``), else 0."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def reset_peak_rss() -> bool:
    """Reset this process's ``VmHWM`` to its current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


# ------------------------------------------------------------------ environments
def _env_name(name: str) -> str:
    if name in ENVS:
        return name
    if name in PEERS:
        return PEERS[name][0]
    raise ValueError(f"unknown environment or peer {name!r}; known: {sorted(ENVS)}")


def env_dir(name: str = "peers") -> Path:
    """Directory of the peer virtual environment (``benchmarks/.venv-<env>``)."""
    return HERE / f".venv-{_env_name(name)}"


def env_python(name: str = "peers") -> Path:
    """Return the Python interpreter of a peer environment."""
    return env_dir(name) / "bin" / "python"


def ensure_env(name: str = "peers", verbose: bool = True) -> Path:
    """Create the peer venv if missing and pip-install its pinned packages.

    ``name`` is an environment (``"peers"``) or a peer name, which maps to its
    environment. Idempotent: a stamp file (``.neurodl-peers-stamp``) records a
    hash of the requirement list, and nothing is done while it matches. Installs
    from PyPI with pip only (Brian2 2.9.0 with numpy < 2.4 and Cython,
    nest-simulator 3.10.0 from its manylinux wheel, BrainPy 2.8.2 with
    ``jax[cpu]`` and brainevent's numba CPU kernels). Returns the environment's
    directory; its interpreter is ``<dir>/bin/python`` (:func:`env_python`).
    """
    env = _env_name(name)
    reqs = ENVS[env]
    path = env_dir(env)
    stamp = path / ".neurodl-peers-stamp"
    digest = hashlib.sha256("\n".join(reqs).encode()).hexdigest()
    py = path / "bin" / "python"

    def say(msg: str) -> None:
        if verbose:
            print(f"[peers] {msg}", file=sys.stderr, flush=True)

    if stamp.is_file() and py.exists() and stamp.read_text().split("\n")[0] == digest:
        say(f"environment {path} is up to date")
        return path
    if not py.exists():
        say(f"creating virtual environment {path}")
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    cmd = [str(py), "-m", "pip", "install", "--disable-pip-version-check", *reqs]
    say("installing: " + " ".join(cmd[1:]))
    subprocess.run(cmd, check=True, stdout=sys.stderr)
    freeze = subprocess.run(
        [str(py), "-m", "pip", "freeze"], capture_output=True, text=True, check=True
    ).stdout
    stamp.write_text(digest + "\n" + freeze)
    say(f"environment {path} ready")
    return path


# ------------------------------------------------------------------------ running
def thread_env(threads: int = 1) -> dict[str, str]:
    """Environment variables that hold numpy/OpenMP/XLA to ``threads`` threads."""
    t = str(threads)
    env = dict(os.environ)
    env.update(
        OMP_NUM_THREADS=t,
        MKL_NUM_THREADS=t,
        OPENBLAS_NUM_THREADS=t,
        NUMEXPR_NUM_THREADS=t,
        NUMBA_NUM_THREADS=t,
        JAX_PLATFORMS="cpu",
        PYTHONUNBUFFERED="1",
    )
    if threads == 1:
        env["XLA_FLAGS"] = (
            "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        )
    env.pop("PYTHONPATH", None)
    return env


def _error_result(peer, model, n, duration_s, seed, error: str) -> dict:
    res = dict.fromkeys(RESULT_KEYS)
    res.update(peer=peer, model=model, n=n, duration_s=duration_s, seed=seed)
    res["error"] = error
    return res


def run_peer(
    peer: str,
    model: str,
    n: int,
    duration_s: float,
    seed: int,
    threads: int = 1,
    timeout_s: float | None = 1800.0,
    spikes_path: str | os.PathLike | None = None,
) -> dict:
    """Run one peer simulation in a subprocess of the peer venv; return its result.

    The runner (``peer_runners/<script>``) is started with the venv's Python,
    ``OMP_NUM_THREADS=threads`` and the XLA single-thread flags, and writes a JSON
    file; its keys are described in this module's docstring (the documented set
    plus ``import_s``, ``construct_s``, ``compile_s``, versions and notes).
    ``first_result_s`` is completed here from the launch time. On failure the
    dictionary has the identifying keys, ``None`` elsewhere and ``error`` set to
    the reason (the tail of the runner's stderr). ``spikes_path`` (``.npz``)
    keeps the spike times (s) and indices.
    """
    if peer not in PEERS:
        raise ValueError(f"unknown peer {peer!r}; known: {sorted(PEERS)}")
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; known: {MODELS}")
    env, script, extra = PEERS[peer]
    py = env_python(env)
    if not py.exists():
        return _error_result(
            peer, model, n, duration_s, seed, f"no environment: run ensure_env({env!r})"
        )
    with tempfile.TemporaryDirectory(prefix="neurodl-peer-") as tmp:
        out = Path(tmp) / "result.json"
        cmd = [str(py), str(RUNNERS / script), model, str(n), repr(duration_s)]
        cmd += [str(seed), str(out), "--threads", str(threads), *extra]
        if spikes_path is not None:
            cmd += ["--spikes", str(spikes_path)]
        t_launch = time.time()
        try:
            proc = subprocess.run(
                cmd,
                env=thread_env(threads),
                capture_output=True,
                text=True,
                timeout=timeout_s,
                cwd=tmp,
            )
        except subprocess.TimeoutExpired:
            return _error_result(
                peer, model, n, duration_s, seed, f"timed out after {timeout_s} s"
            )
        if proc.returncode != 0 or not out.is_file():
            tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-15:]
            return _error_result(
                peer,
                model,
                n,
                duration_s,
                seed,
                f"runner exited {proc.returncode}: " + "\n".join(tail),
            )
        res = json.loads(out.read_text())
    res["first_result_s"] = res.pop("t_spikes_epoch") - t_launch
    res.setdefault("error", None)
    return res


# ---------------------------------------------------------------------- reference
COBA_DEFINITION = {
    "source": (
        "Brette et al. 2007 (doi:10.1007/s10827-007-0038-6) benchmark 1; Brian's "
        "examples/COBA.py (R. Brette, Dec 2007) as carried over to early Brian2 "
        "examples/COBA.py, run with Brian2 2.9 (see benchmarks/peers.py)"
    ),
    "N": 4000,
    "n_exc": 3200,
    "n_inh": 800,
    "p_connect": 0.02,
    "connectivity": "each ordered pair independently (Brian2 connect(p=...)), "
    "autapses allowed",
    "equations": "dv/dt = (-v + ge*(Ee - v) + gi*(Ei - v))/taum (unless refractory); "
    "dge/dt = -ge/taue; dgi/dt = -gi/taui; v relative to rest (-60 mV); ge, gi "
    "in units of the leak conductance",
    "tau_m_ms": 20.0,
    "tau_e_ms": 5.0,
    "tau_i_ms": 10.0,
    "E_rest_mV": -60.0,
    "E_exc_mV": 0.0,
    "E_inh_mV": -80.0,
    "v_th_mV": -50.0,
    "v_reset_mV": -60.0,
    "t_ref_ms": 5.0,
    "w_exc": 0.6,
    "w_inh": 6.7,
    "weights_note": "conductance jumps in units of g_L (6 nS and 67 nS for "
    "g_L = 10 nS, C_m = 200 pF)",
    "v0": "v = (randn()*5 - 5) mV relative to rest, i.e. N(-65, 5) mV",
    "ge0": "randn()*1.5 + 4",
    "gi0": "randn()*12 + 20",
    "method": "euler",
    "dt_ms": 0.1,
    "duration_s": 1.0,
    "threshold": "v > -50 mV (absolute)",
}

CV_DEFINITION = (
    "peers.cv_isi: mean over neurons with >= 3 spikes (>= 2 ISIs) of "
    "std(ISI)/mean(ISI), population std (ddof=0)"
)


def write_reference(results: list[dict], path: str | os.PathLike, command: str):
    """Write a Brian2 reference file (per-seed and median rate, CV, spike count)."""
    ok = [r for r in results if r.get("error") is None]
    if not ok:
        raise RuntimeError("no successful run to write")
    first = ok[0]
    per_seed = [
        {k: r[k] for k in ("seed", "rate_hz", "cv_isi", "n_spikes", "n_synapses")}
        for r in ok
    ]
    doc = {
        "model": first["model"].upper() + " benchmark network, Brian2 reference",
        "definition": COBA_DEFINITION if first["model"] == "coba" else None,
        "produced_with": {
            "peer": first["peer"],
            "brian2": first["versions"]["brian2"],
            "numpy": first["versions"]["numpy"],
            "threads": first["threads"],
        },
        "cv_isi_definition": CV_DEFINITION,
        "rate_definition": "n_spikes / (N * duration_s)",
        "per_seed": per_seed,
        "median": {
            k: statistics.median(r[k] for r in ok)
            for k in ("rate_hz", "cv_isi", "n_spikes")
        },
        "range": {
            k: [min(r[k] for r in ok), max(r[k] for r in ok)]
            for k in ("rate_hz", "cv_isi")
        },
        "command": command,
    }
    if doc["definition"] is None:
        doc["definition"] = "see shared/reference/cuba.json"
    Path(path).write_text(json.dumps(doc, indent=1) + "\n")


# ----------------------------------------------------------------------------- CLI
def _median_summary(results: list[dict]) -> dict:
    ok = [r for r in results if r.get("error") is None]
    keys = ("run_s", "setup_s", "first_result_s", "rate_hz", "cv_isi")
    keys += ("peak_rss_mb", "rss_per_synapse_bytes", "n_synapses")
    out: dict = {"runs": len(results), "ok": len(ok)}
    for k in keys:
        vals = [r[k] for r in ok if r.get(k) is not None]
        out[k] = statistics.median(vals) if vals else None
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--peer", required=True, choices=[*PEERS, "all"])
    ap.add_argument("--model", default="cuba", choices=MODELS)
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--duration", type=float, default=1.0, help="simulated seconds")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="print the result dicts")
    ap.add_argument(
        "--no-install", action="store_true", help="don't run ensure_env first"
    )
    ap.add_argument(
        "--reference",
        metavar="OUT.json",
        help="write the runs as a reference file (one Brian2 peer)",
    )
    args = ap.parse_args(argv)
    peers = list(PEERS) if args.peer == "all" else [args.peer]
    if not args.no_install:
        for env in sorted({PEERS[p][0] for p in peers}):
            ensure_env(env)
    results = []
    for peer in peers:
        for seed in args.seeds:
            res = run_peer(peer, args.model, args.n, args.duration, seed, args.threads)
            results.append(res)
            if not args.json:
                brief = {k: res.get(k) for k in RESULT_KEYS}
                print(json.dumps(brief), flush=True)
    if args.json:
        print(json.dumps(results, indent=1))
    if args.reference:
        argv_shown = sys.argv[1:] if argv is None else argv
        command = "python benchmarks/peers.py " + " ".join(argv_shown)
        write_reference(results, args.reference, command)
    for peer in peers:
        summary = _median_summary([r for r in results if r["peer"] == peer])
        print(
            f"median {peer} {args.model} n={args.n}: {json.dumps(summary)}",
            file=sys.stderr,
        )
    return 0 if all(r.get("error") is None for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
