r"""Brian2 runner for Song, Miller & Abbott (2000): ``examples/synapses/STDP.py``.

Run with the Brian2 venv's Python (``benchmarks/song2000.py`` makes it)::

    python brian2_song.py learn SEED DURATION_S OUT.json [--target cpp_standalone]
    python brian2_song.py reference INPUTS.npz OUT.json [--learn]

The model is the example's, verbatim (brian-team/brian2,
``examples/synapses/STDP.py``)::

    N = 1000; taum = 10*ms; taupre = 20*ms; taupost = taupre
    Ee = 0*mV; vt = -54*mV; vr = -60*mV; El = -74*mV; taue = 5*ms
    F = 15*Hz; gmax = .01; dApre = .01
    dApost = -dApre * taupre / taupost * 1.05
    dApost *= gmax; dApre *= gmax
    eqs_neurons = '''
    dv/dt = (ge * (Ee-vr) + El - v) / taum : volt
    dge/dt = -ge / taue : 1
    '''
    input = PoissonGroup(N, rates=F)
    neurons = NeuronGroup(1, eqs_neurons, threshold='v>vt', reset='v = vr',
                          method='exact')
    S = Synapses(input, neurons,
                 '''w : 1
                    dApre/dt = -Apre / taupre : 1 (event-driven)
                    dApost/dt = -Apost / taupost : 1 (event-driven)''',
                 on_pre='''ge += w
                        Apre += dApre
                        w = clip(w + Apost, 0, gmax)''',
                 on_post='''Apost += dApost
                         w = clip(w + Apre, 0, gmax)''')
    S.connect()
    S.w = 'rand() * gmax'
    run(100*second)

(no ``v`` initialisation: it starts at 0 mV, above threshold, so the neuron
spikes at t = 0).

``learn``: the example as it is, ``seed(SEED)``, any duration; writes the final
weights and the postsynaptic spike times. ``reference``: the inputs are a
``SpikeGeneratorGroup`` with the spike steps and indices of ``INPUTS.npz``
(``steps``, ``indices``, ``w0``, ``n_steps``) and the initial weights ``w0``;
without ``--learn`` dApre = dApost = 0 (the weights never move), with it the
example's rates. Target: numpy (no compiler) for ``reference``.
"""

import argparse
import json
import shutil
import tempfile
import time

import brian2 as b2
import numpy as np
from brian2 import Hz, ms, mV, second


def build(inputs=None, learn=True):
    """Build the example's network; ``inputs``: (steps, indices, w0) for Poisson."""
    n = 1000
    taum, taupre, taupost = 10 * ms, 20 * ms, 20 * ms
    Ee, vt, vr, El, taue = 0 * mV, -54 * mV, -60 * mV, -74 * mV, 5 * ms
    gmax = 0.01
    dApre = 0.01
    dApost = -dApre * taupre / taupost * 1.05
    dApost *= gmax
    dApre *= gmax
    if not learn:
        dApre = dApost = 0.0
    eqs = """
    dv/dt = (ge * (Ee-vr) + El - v) / taum : volt
    dge/dt = -ge / taue : 1
    """
    if inputs is None:
        inp = b2.PoissonGroup(n, rates=15 * Hz)
    else:
        steps, idx, _ = inputs
        inp = b2.SpikeGeneratorGroup(n, idx, steps * b2.defaultclock.dt)
    neurons = b2.NeuronGroup(
        1,
        eqs,
        threshold="v>vt",
        reset="v = vr",
        method="exact",
        namespace={"Ee": Ee, "vr": vr, "El": El, "taum": taum, "taue": taue, "vt": vt},
    )
    S = b2.Synapses(
        inp,
        neurons,
        """w : 1
           dApre/dt = -Apre / taupre : 1 (event-driven)
           dApost/dt = -Apost / taupost : 1 (event-driven)""",
        on_pre="""ge += w
                  Apre += dApre
                  w = clip(w + Apost, 0, gmax)""",
        on_post="""Apost += dApost
                   w = clip(w + Apre, 0, gmax)""",
        namespace={
            "taupre": taupre,
            "taupost": taupost,
            "gmax": gmax,
            "dApre": dApre,
            "dApost": dApost,
        },
    )
    S.connect()
    if inputs is None:
        S.w = "rand() * gmax"
    else:
        S.w = inputs[2][S.i[:]]
    mon = b2.SpikeMonitor(neurons)
    net = b2.Network(inp, neurons, S, mon)
    return net, S, mon


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="mode", required=True)
    a = sub.add_parser("learn")
    a.add_argument("seed", type=int)
    a.add_argument("duration_s", type=float)
    a.add_argument("out")
    a.add_argument("--target", default="cpp_standalone")
    r = sub.add_parser("reference")
    r.add_argument("inputs")
    r.add_argument("out")
    r.add_argument("--learn", action="store_true")
    args = ap.parse_args()
    b2.defaultclock.dt = 0.1 * ms
    tmp = None
    if args.mode == "learn":
        if args.target == "cpp_standalone":
            tmp = tempfile.mkdtemp(prefix="brian2_song_")
            b2.set_device("cpp_standalone", directory=tmp, build_on_run=True)
            b2.prefs.devices.cpp_standalone.openmp_threads = 0
        else:
            b2.prefs.codegen.target = args.target
        b2.seed(args.seed)
        net, S, mon = build()
        t0 = time.time()
        net.run(args.duration_s * second)
        wall = time.time() - t0
        out = {
            "seed": args.seed,
            "duration_s": args.duration_s,
            "target": args.target,
            "wall_s": wall,
            "run_s": float(getattr(b2.get_device(), "_last_run_time", wall) or wall),
            "w": np.asarray(S.w[:]).tolist(),
            "i": np.asarray(S.i[:]).tolist(),
            "post_spike_times_ms": (np.asarray(mon.t / ms)).tolist(),
            "brian2": b2.__version__,
        }
    else:
        b2.prefs.codegen.target = "numpy"
        d = np.load(args.inputs)
        inputs = (d["steps"], d["indices"], d["w0"])
        net, S, mon = build(inputs, learn=args.learn)
        net.run(int(d["n_steps"]) * b2.defaultclock.dt)
        w = np.empty(1000)
        w[np.asarray(S.i[:])] = np.asarray(S.w[:])
        out = {
            "learn": bool(args.learn),
            "post_spike_steps": np.rint(np.asarray(mon.t / ms) / 0.1)
            .astype(int)
            .tolist(),
            "w": w.tolist(),
            "brian2": b2.__version__,
        }
    with open(args.out, "w") as f:
        json.dump(out, f)
    if tmp is not None:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
