r"""Brian2 side of ``benchmarks/models_brian2.py``: LIF, ALIF, Izhikevich, AdEx.

Run with the peer venv's Python (see ``benchmarks/peers.py``)::

    python brian2_models.py SPEC.json OUT.json

``SPEC.json`` is the network definition written by ``models_brian2.py`` (time
step, duration, input spike steps, populations with their model, parameters,
method, constant drive and initial ``v``, and every synapse as ``i, j, weight,
delay steps``). Each population becomes a ``NeuronGroup`` with the equations of
its model written from the docstrings of ``neurodl.neurons`` (``lif_step``,
``alif_step``, ``izhikevich_step``, ``adex_step``) and of
``neurodl.simulate._models`` for the synaptic terms, dimensionless (``v`` in mV,
``u`` in mV/ms, ``w`` and the AdEx inputs in pA), time in Brian2's seconds
through ``ms``. The inputs are a ``SpikeGeneratorGroup``; every projection is a
``Synapses`` object with ``on_pre='x_post += w_syn'`` and per-synapse delays.
numpy target, float64, one thread. ``OUT.json`` gets the spike steps per
population, Brian2's version and the run time (``device._last_run_time``).
"""

import json
import sys
import time

import brian2 as b2
import numpy as np

# dv/dt per model; I_syn: "+ xc" (current) and "+ xg*(e_g - v)" (conductance)
EQS = {
    "LIFParams": """
        dv/dt = (v_rest - v + i_ext{syn})/tau_m : 1 (unless refractory)
    """,
    "ALIFParams": """
        dv/dt = (v_rest - v + i_ext{syn})/tau_m : 1 (unless refractory)
        db/dt = -b/tau_a : 1
    """,
    "IzhikevichParams": """
        dv/dt = (0.04*v**2 + 5*v + 140 - u + i_ext{syn})/ms : 1
        du/dt = a*(b*v - u)/ms : 1
    """,
    "AdExParams": """
        dv/dt = (g_l*(e_l - v) + g_l*delta_t*exp((v - v_t)/delta_t) - w + i_ext{syn})/(c_m*ms) : 1 (unless refractory)
        dw/dt = (a*(v - e_l) - w)/tau_w : 1
    """,  # noqa: E501
}
THRESHOLD = {
    "LIFParams": ("v >= v_th", "v = v_reset"),
    "ALIFParams": ("v >= v_th + b", "v = v_reset; b += delta_th"),
    "IzhikevichParams": ("v >= v_peak", "v = c; u += d"),
    "AdExParams": ("v >= v_peak", "v = v_reset; w += b"),
}


def build(spec):
    ms = b2.ms
    b2.defaultclock.dt = spec["dt"] * ms
    src = spec["source"]
    steps = np.asarray(src["steps"], np.int64)
    inputs = b2.SpikeGeneratorGroup(
        src["n"], np.asarray(src["indices"]), steps * spec["dt"] * ms
    )
    groups = {"source": inputs}
    objs = [inputs]
    for pop in spec["populations"]:
        model = pop["model"]
        prm = dict(pop["params"])
        syn = ""
        extra = ""
        ns = {"i_ext": pop["i_ext"]}
        for ch in pop["channels"]:
            name = ch["name"]
            if ch["kind"] == "current":
                syn += f" + {name}"
            else:
                syn += f" + {name}*(e_{name} - v)"
                ns[f"e_{name}"] = ch["e_rev"]
            extra += f"\nd{name}/dt = -{name}/tau_{name} : 1"
            ns[f"tau_{name}"] = ch["tau"] * ms
        eqs = EQS[model].format(syn=syn) + extra
        refractory = False
        if model in ("LIFParams", "ALIFParams"):
            ns.update(
                v_rest=prm["v_rest"],
                v_th=prm["v_th"],
                v_reset=prm["v_reset"],
                tau_m=prm["tau_mem"] * ms,
            )
            if model == "ALIFParams":
                ns.update(tau_a=prm["tau_adapt"] * ms, delta_th=prm["delta_th"])
            refractory = prm["t_ref"] * ms
        elif model == "IzhikevichParams":
            ns.update({k: prm[k] for k in ("a", "b", "c", "d", "v_peak")})
        else:
            ns.update({k: prm[k] for k in ("c_m", "g_l", "e_l", "v_t", "delta_t")})
            ns.update({k: prm[k] for k in ("v_peak", "v_reset", "a", "b")})
            ns["tau_w"] = prm["tau_w"] * ms
            refractory = prm["t_ref"] * ms
        thr, reset = THRESHOLD[model]
        g = b2.NeuronGroup(
            pop["n"],
            eqs,
            threshold=thr,
            reset=reset,
            refractory=refractory,
            method=pop["method"],
            namespace=ns,
            name=pop["name"],
        )
        v0 = np.asarray(pop["v0"], dtype=np.float64)
        g.v = v0
        if model == "IzhikevichParams":
            g.u = prm["b"] * v0  # neurodl: u = b v0
        groups[pop["name"]] = g
        objs.append(g)
    for k, proj in enumerate(spec["projections"]):
        syn = b2.Synapses(
            groups[proj["pre"]],
            groups[proj["post"]],
            model="w_syn : 1",
            on_pre=f"{proj['channel']}_post += w_syn",
            name=f"proj{k}",
        )
        syn.connect(i=np.asarray(proj["i"]), j=np.asarray(proj["j"]))
        syn.w_syn = np.asarray(proj["w"], dtype=np.float64)
        syn.delay = np.asarray(proj["d"], dtype=np.float64) * spec["dt"] * ms
        objs.append(syn)
    mons = {p["name"]: b2.SpikeMonitor(groups[p["name"]]) for p in spec["populations"]}
    objs.extend(mons.values())
    return b2.Network(*objs), mons


def main() -> None:
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    b2.prefs.codegen.target = "numpy"
    b2.prefs.core.default_float_dtype = np.float64
    b2.prefs.logging.console_log_level = "WARNING"
    t0 = time.perf_counter()
    net, mons = build(spec)
    t1 = time.perf_counter()
    net.run(spec["duration"] * b2.ms)
    t2 = time.perf_counter()
    out = {
        "brian2": b2.__version__,
        "numpy": np.__version__,
        "target": "numpy",
        "construct_s": t1 - t0,
        "wall_run_s": t2 - t1,
        "run_s": float(b2.device._last_run_time),
        "spikes": {},
    }
    dt_s = spec["dt"] * 1e-3
    for name, mon in mons.items():
        t = np.asarray(mon.t_[:], dtype=np.float64)
        i = np.asarray(mon.i[:], dtype=np.int64)
        steps = np.rint(t / dt_s).astype(np.int64)
        order = np.lexsort((i, steps))
        out["spikes"][name] = {
            "steps": steps[order].tolist(),
            "indices": i[order].tolist(),
        }
    with open(sys.argv[2], "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
