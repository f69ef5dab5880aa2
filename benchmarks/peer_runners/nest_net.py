"""NEST runner for the CUBA/COBA benchmark.

Run with the peer venv's Python (see ``benchmarks/peers.py``)::

    python nest_net.py MODEL N DURATION_S SEED OUT.json [--threads 1] [--spikes S.npz]

Mapping of Brian2's definitions (quoted in ``benchmarks/peers.py``) onto NEST's
built-in models; resolution 0.1 ms, ``local_num_threads`` = threads (1),
``rng_seed = seed + 1`` (NEST needs >= 1), ``pairwise_bernoulli`` connectivity with
autapses allowed (as Brian2's ``connect(p=...)``), excitatory sources the first
``int(0.8 * N)`` neurons, ``p = 80 / N``, delay 0.1 ms (NEST's minimum: one step;
Brian2's synapses act without delay, so a spike reaches its targets one step later
in NEST).

CUBA -> ``iaf_psc_exp`` (exact integration, as Brian2's ``'exact'``).
NEST: ``C_m dV/dt = -(C_m/tau_m)(V - E_L) + I_ex + I_in``, ``tau_syn dI/dt = -I``,
a spike of weight w adds w to I. Brian2: ``dv/dt = (ge + gi - (v - El))/taum``
with ``ge += we``. Dividing NEST's equation by ``C_m/tau_m`` gives
``tau_m dV/dt = -(V - E_L) + (tau_m/C_m) I``, so ``ge = (tau_m/C_m) I`` and a jump
of ``we`` mV in ge is a jump of ``w = we * C_m / tau_m`` in I. With NEST's default
``C_m = 250 pF`` and ``tau_m = 20 ms``, ``C_m/tau_m = 12.5 nS``:
``we = 1.62 mV -> 20.25 pA``, ``wi = -9 mV -> -112.5 pA`` (the choice of C_m
cancels). E_L = -49, V_th = -50, V_reset = -60 mV, t_ref = 5 ms,
tau_syn_ex = 5, tau_syn_in = 10 ms, I_e = 0; V_m uniform in [-60, -50) mV.
NEST clamps V to V_reset during t_ref while the currents keep decaying, as
Brian2's ``(unless refractory)``; NEST fires on ``V >= V_th``, Brian2 on ``v > Vt``.

COBA -> ``iaf_cond_exp`` (GSL RKF45 adaptive integration inside each 0.1 ms step,
where Brian2's example uses forward Euler). NEST:
``C_m dV/dt = -g_L (V - E_L) - g_ex (V - E_ex) - g_in (V - E_in)``. Brian2 (potentials
relative to rest): ``taum dv/dt = -v + ge (Ee - v) + gi (Ei - v)`` with conductances in
units of the leak conductance, so ``g_ex = ge * g_L``. With ``g_L = 10 nS`` and
``C_m = 200 pF`` (``tau_m = C_m/g_L = 20 ms``): ``we = 0.6 -> 6 nS``,
``wi = 6.7 -> 67 nS``, given as weight -67 nS because NEST's conductance models send
negative weights to the inhibitory conductance and add ``|w|`` to it;
E_L = V_reset = -60, V_th = -50, E_ex = 0, E_in = -80 mV,
tau_syn_ex = 5, tau_syn_in = 10 ms, t_ref = 5 ms. Initial values as Brian2's
``v = (randn()*5 - 5) mV`` (relative): V_m ~ N(-65, 5) mV,
g_ex ~ 10 nS * N(4, 1.5) = N(40, 15) nS, g_in ~ N(200, 120) nS.

``run_s`` is the wall time of ``nest.Run`` after ``nest.Prepare()``; ``setup_s``
holds Create/Connect/Prepare and reading the spike recorder.
"""

import time

T_PROCESS = time.time()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from peers import proc_status_kb, reset_peak_rss, spike_stats  # noqa: E402

os.environ.setdefault("PYNEST_QUIET", "1")
import nest  # noqa: E402

T_IMPORTED = time.time()


def build(model: str, n: int, seed: int, threads: int):
    """Create the network; returns the population, recorder and RSS checkpoints."""
    nest.ResetKernel()
    nest.SetKernelStatus(
        {
            "resolution": 0.1,
            "local_num_threads": threads,
            "rng_seed": seed + 1,
            "print_time": False,
        }
    )
    n_exc = int(0.8 * n)
    p = 80.0 / n
    if model == "cuba":
        c_m, tau_m = 250.0, 20.0
        params = {
            "C_m": c_m,
            "tau_m": tau_m,
            "tau_syn_ex": 5.0,
            "tau_syn_in": 10.0,
            "E_L": -49.0,
            "V_th": -50.0,
            "V_reset": -60.0,
            "t_ref": 5.0,
            "I_e": 0.0,
        }
        pop = nest.Create("iaf_psc_exp", n, params=params)
        pop.V_m = nest.random.uniform(-60.0, -50.0)
        w_e = 1.62 * c_m / tau_m
        w_i = -9.0 * c_m / tau_m
    else:
        g_l = 10.0
        params = {
            "C_m": 200.0,
            "g_L": g_l,
            "E_L": -60.0,
            "V_th": -50.0,
            "V_reset": -60.0,
            "t_ref": 5.0,
            "E_ex": 0.0,
            "E_in": -80.0,
            "tau_syn_ex": 5.0,
            "tau_syn_in": 10.0,
            "I_e": 0.0,
        }
        pop = nest.Create("iaf_cond_exp", n, params=params)
        pop.V_m = nest.random.normal(-65.0, 5.0)
        pop.g_ex = nest.random.normal(4.0 * g_l, 1.5 * g_l)
        pop.g_in = nest.random.normal(20.0 * g_l, 12.0 * g_l)
        w_e = 0.6 * g_l
        w_i = -6.7 * g_l  # NEST routes negative weights to g_in, adding |w|
    conn = {"rule": "pairwise_bernoulli", "p": p, "allow_autapses": True}
    nest.Connect(pop[:n_exc], pop, conn, {"weight": w_e, "delay": 0.1})
    nest.Connect(pop[n_exc:], pop, conn, {"weight": w_i, "delay": 0.1})
    rss_synapses_kb = proc_status_kb("VmRSS")
    rec = nest.Create("spike_recorder")
    nest.Connect(pop, rec)
    rss_recorder_kb = proc_status_kb("VmRSS") - rss_synapses_kb
    return pop, rec, {"w_exc": w_e, "w_inh": w_i}, rss_recorder_kb


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", choices=["cuba", "coba"])
    ap.add_argument("n", type=int)
    ap.add_argument("duration", type=float)
    ap.add_argument("seed", type=int)
    ap.add_argument("out")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--spikes", default=None)
    args = ap.parse_args()

    nest.verbosity = nest.VerbosityLevel.WARNING
    rss_before_kb = proc_status_kb("VmRSS")
    reset_peak_rss()
    t_construct = time.time()
    pop, rec, weights, rss_recorder_kb = build(
        args.model, args.n, args.seed, args.threads
    )
    n_syn = int(nest.GetKernelStatus("num_connections")) - args.n  # minus recorder
    nest.Prepare()
    t_built = time.time()
    built_hwm = proc_status_kb("VmHWM")
    t0 = time.perf_counter()
    nest.Run(args.duration * 1000.0)
    run_s = time.perf_counter() - t0
    nest.Cleanup()
    ev = rec.get("events")
    times = np.asarray(ev["times"], dtype=np.float64) / 1000.0
    first_id = pop[0].global_id
    idx = np.asarray(ev["senders"], dtype=np.int64) - first_id
    t_spikes = time.time()
    res = {
        "peer": "nest",
        "model": args.model,
        "n": args.n,
        "n_synapses": n_syn,
        "duration_s": args.duration,
        "seed": args.seed,
        "run_s": run_s,
        "setup_s": (t_spikes - t_construct) - run_s,
        "import_s": T_IMPORTED - T_PROCESS,
        "construct_s": t_built - t_construct,
        "compile_s": 0.0,
        "t_spikes_epoch": t_spikes,
        "threads": args.threads,
        "peak_rss_mb": proc_status_kb("VmHWM") / 1024,
        "rss_per_synapse_bytes": (built_hwm - rss_before_kb) * 1024 / max(n_syn, 1),
        "rss_recorder_mb": rss_recorder_kb / 1024,
        "rss_per_synapse_excl_recorder_bytes": (
            (built_hwm - rss_before_kb - rss_recorder_kb) * 1024 / max(n_syn, 1)
        ),
        "versions": {"nest": nest.__version__, "numpy": np.__version__},
        "dtype": "float64",
        "weights_nest": weights,
        "notes": [
            "model iaf_psc_exp (cuba) / iaf_cond_exp (coba); delay 0.1 ms; "
            "'after building' = after nest.Prepare()",
            "connecting all N neurons to the spike_recorder costs ~32 kB of RSS "
            "per neuron in NEST 3.10 (rss_recorder_mb); it is part of "
            "rss_per_synapse_bytes, rss_per_synapse_excl_recorder_bytes leaves "
            "it out",
        ],
    }
    res.update(spike_stats(times, idx, args.n, args.duration))
    res["error"] = None
    if args.spikes:
        np.savez_compressed(args.spikes, t=times, i=idx, n=args.n)
    Path(args.out).write_text(json.dumps(res))
    print(json.dumps(res))


if __name__ == "__main__":
    main()
