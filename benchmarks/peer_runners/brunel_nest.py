"""Brunel (2000) sparse network in NEST 3.10; run by the peer venv's Python.

Written for neurodl from the published model (Brunel 2000, J Comput Neurosci
8:183-208, doi:10.1023/A:1008925309027; parameters in ``shared/notes/SCALE.md``
section 3.1), not from NEST's GPL example. N_E = 4 N_I excitatory and inhibitory
``iaf_psc_delta`` neurons (tau_m 20 ms, theta 20 mV, V_r 10 mV, tau_rp 2 ms,
E_L 0, inputs during the refractory period discarded), fixed in-degree C_E =
0.1 N_E and C_I = 0.1 N_I (distinct partners, autapses allowed, as
``neurodl.simulate.FixedInDegree``), weights J = 0.1 mV
and -g J, one delay D = 1.5 ms, dt 0.1 ms; external drive: one Poisson generator
per neuron at C_E * eta * nu_thr with weight J, nu_thr = theta / (J C_E tau_m).
Initial V_m uniform in [0, theta) mV.

Usage (peer venv)::

    python brunel_nest.py --g 5 --eta 2 --n-exc 10000 --duration 1200 --seed 0 \
        --out spikes.npz

prints a JSON line (build and run seconds, spike count) and writes the spikes
(``times_ms``, ``senders`` 0-based, excitatory first) to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main() -> None:
    """Build, run, and save the spikes of one Brunel network."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--g", type=float, required=True)
    ap.add_argument("--eta", type=float, required=True)
    ap.add_argument("--n-exc", type=int, default=10000)
    ap.add_argument("--c-exc", type=int, default=None)
    ap.add_argument("--duration", type=float, default=1200.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    import nest

    theta, tau, j, delay, dt = 20.0, 20.0, 0.1, 1.5, 0.1
    n_e, n_i = a.n_exc, a.n_exc // 4
    c_e = n_e // 10 if a.c_exc is None else a.c_exc
    c_i = max(1, c_e // 4)
    nu_thr = theta / (j * c_e * tau) * 1000.0  # Hz
    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.ResetKernel()
    nest.SetKernelStatus(
        {
            "resolution": dt,
            "local_num_threads": a.threads,
            "rng_seed": a.seed + 1,
            "print_time": False,
        }
    )
    t0 = time.perf_counter()
    params = {
        "C_m": 1.0,
        "tau_m": tau,
        "t_ref": 2.0,
        "E_L": 0.0,
        "V_reset": 10.0,
        "V_th": theta,
    }
    nodes = nest.Create("iaf_psc_delta", n_e + n_i, params=params)
    nodes.V_m = nest.random.uniform(0.0, theta)
    exc, inh = nodes[:n_e], nodes[n_e:]
    noise = nest.Create("poisson_generator", params={"rate": a.eta * nu_thr * c_e})
    rec = nest.Create("spike_recorder")
    syn_e = {"synapse_model": "static_synapse", "weight": j, "delay": delay}
    syn_i = {"synapse_model": "static_synapse", "weight": -a.g * j, "delay": delay}
    nest.Connect(noise, nodes, syn_spec=syn_e)
    rule = {"rule": "fixed_indegree", "allow_autapses": True, "allow_multapses": False}
    nest.Connect(exc, nodes, {**rule, "indegree": c_e}, syn_e)
    nest.Connect(inh, nodes, {**rule, "indegree": c_i}, syn_i)
    nest.Connect(nodes, rec)
    t1 = time.perf_counter()
    nest.Simulate(a.duration)
    t2 = time.perf_counter()
    ev = rec.get("events")
    first = nodes[0].global_id
    senders = np.asarray(ev["senders"], dtype=np.int64) - first
    times = np.asarray(ev["times"], dtype=np.float64)
    np.savez(a.out, times_ms=times, senders=senders.astype(np.int32))
    print(
        json.dumps(
            {
                "build_s": t1 - t0,
                "run_s": t2 - t1,
                "n_spikes": int(times.size),
                "nest": nest.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
