r"""Brian2 runner for the CUBA/COBA benchmark (cpp_standalone or Cython runtime).

Run with the peer venv's Python (see ``benchmarks/peers.py``)::

    python brian2_net.py MODEL N DURATION_S SEED OUT.json \
        [--target cpp_standalone|cython] [--threads 1] [--spikes S.npz]

The networks are Brian2's ``examples/CUBA.py`` and the Brette et al. (2007) COBA
example, quoted in ``benchmarks/peers.py``, with ``p = 80 / N`` and
``n_exc = int(0.8 * N)``. ``method='exact'`` for CUBA (the example's
``'linear'``), ``'euler'`` for COBA, dt 0.1 ms.

cpp_standalone: a fresh temporary project directory per run (nothing cached),
``build_on_run=True``, ``openmp_threads = 0`` for one thread (``threads`` above 1
sets OpenMP threads) and ``make -j<threads>``. ``run_s`` is Brian2's
``device._last_run_time`` (the network loop inside ``main``), ``compile_s`` the
``make`` step; the RSS figures are read inside ``main`` by inserted C++ code.

cython: ``prefs.codegen.target = 'cython'`` with a fresh temporary
``prefs.codegen.runtime.cython.cache_dir``, so every extension is compiled;
``compile_s`` sums the Cython extension builds (timed around Brian2's
``cython_extension_manager.create_extension``); ``run_s`` is
``device._last_run_time`` (the loop in ``Network.run``).
"""

import time

T_PROCESS = time.time()

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import brian2 as b2  # noqa: E402

from peers import proc_status_kb, reset_peak_rss, spike_stats  # noqa: E402

T_IMPORTED = time.time()

# C++ that appends VmRSS and VmHWM of the running main to a file (cwd = project).
RSS_PROBE = """
{{
    std::ifstream _st("/proc/self/status");
    std::ofstream _out("{fname}", std::ios::app);
    std::string _line;
    while (std::getline(_st, _line))
        if (_line.rfind("VmRSS:", 0) == 0 || _line.rfind("VmHWM:", 0) == 0)
            _out << _line << "\\n";
}}
"""


def _read_probe(path: Path) -> dict[str, int]:
    vals = {}
    for line in path.read_text().splitlines():
        key, val = line.split(":")
        vals[key] = int(val.split()[0])
    return vals


def build(model: str, n: int, seed: int):
    ms, mV = b2.ms, b2.mV
    b2.defaultclock.dt = 0.1 * ms
    b2.seed(seed)
    n_exc = int(0.8 * n)
    p = 80.0 / n
    if model == "cuba":
        ns = {
            "taum": 20 * ms,
            "taue": 5 * ms,
            "taui": 10 * ms,
            "Vt": -50 * mV,
            "Vr": -60 * mV,
            "El": -49 * mV,
            "we": (60 * 0.27 / 10) * mV,
            "wi": (-20 * 4.5 / 10) * mV,
        }
        eqs = """
        dv/dt  = (ge+gi-(v-El))/taum : volt (unless refractory)
        dge/dt = -ge/taue : volt
        dgi/dt = -gi/taui : volt
        """
        P = b2.NeuronGroup(
            n,
            eqs,
            threshold="v>Vt",
            reset="v = Vr",
            refractory=5 * ms,
            method="exact",
            namespace=ns,
        )
        P.v = "Vr + rand() * (Vt - Vr)"
        P.ge = 0 * mV
        P.gi = 0 * mV
    else:
        ns = {
            "taum": 20 * ms,
            "taue": 5 * ms,
            "taui": 10 * ms,
            "Ee": (0.0 + 60.0) * mV,
            "Ei": (-80.0 + 60.0) * mV,
            "we": 6.0 / 10.0,
            "wi": 67.0 / 10.0,
        }
        eqs = """
        dv/dt = (-v+ge*(Ee-v)+gi*(Ei-v))*(1./taum) : volt (unless refractory)
        dge/dt = -ge*(1./taue) : 1
        dgi/dt = -gi*(1./taui) : 1
        """
        P = b2.NeuronGroup(
            n,
            eqs,
            threshold="v>10*mV",
            reset="v=0*mV",
            refractory=5 * ms,
            method="euler",
            namespace=ns,
        )
        P.v = "(randn()*5 - 5)*mV"
        P.ge = "randn()*1.5 + 4"
        P.gi = "randn()*12 + 20"
    Ce = b2.Synapses(P, P, on_pre="ge += we", namespace=ns)
    Ci = b2.Synapses(P, P, on_pre="gi += wi", namespace=ns)
    Ce.connect(f"i<{n_exc}", p=p)
    Ci.connect(f"i>={n_exc}", p=p)
    s_mon = b2.SpikeMonitor(P)
    net = b2.Network(P, Ce, Ci, s_mon)
    return net, (Ce, Ci), s_mon


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", choices=["cuba", "coba"])
    ap.add_argument("n", type=int)
    ap.add_argument("duration", type=float)
    ap.add_argument("seed", type=int)
    ap.add_argument("out")
    ap.add_argument("--target", choices=["cpp_standalone", "cython"], required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--spikes", default=None)
    args = ap.parse_args()

    b2.prefs.logging.console_log_level = "WARNING"
    work = Path(tempfile.mkdtemp(prefix="brian2-peer-"))
    compile_log: list[float] = []
    notes = []
    try:
        standalone = args.target == "cpp_standalone"
        if standalone:
            proj = work / "project"
            b2.set_device("cpp_standalone", directory=str(proj), build_on_run=True)
            b2.prefs.devices.cpp_standalone.openmp_threads = (
                0 if args.threads == 1 else args.threads
            )
            b2.prefs.devices.cpp_standalone.extra_make_args_unix = [f"-j{args.threads}"]
            b2.prefs.codegen.cpp.headers += ["<fstream>", "<string>"]
            b2.device.insert_code("main", RSS_PROBE.format(fname="rss_before.txt"))
            b2.device.insert_code(
                "before_network_run", RSS_PROBE.format(fname="rss_built.txt")
            )
            b2.device.insert_code(
                "after_network_run", RSS_PROBE.format(fname="rss_end.txt")
            )
        else:
            b2.prefs.codegen.target = "cython"
            b2.prefs.codegen.runtime.cython.cache_dir = str(work / "cython_cache")
            from brian2.codegen.runtime.cython_rt import extension_manager as em

            mgr = em.cython_extension_manager
            orig = mgr.create_extension

            def timed(*a, **k):
                t = time.perf_counter()
                try:
                    return orig(*a, **k)
                finally:
                    compile_log.append(time.perf_counter() - t)

            mgr.create_extension = timed
            # import the Cython compiler now, so that its modules are not counted
            # as memory of the network
            import Cython.Build.Inline
            import Cython.Compiler.Main  # noqa: F401

        rss_before_kb = proc_status_kb("VmRSS")
        reset_peak_rss()
        t_construct = time.time()
        net, syns, s_mon = build(args.model, args.n, args.seed)
        t_constructed = time.time()
        net.run(args.duration * b2.second)
        t_ran = time.time()
        times = np.asarray(s_mon.t_[:], dtype=np.float64)
        idx = np.asarray(s_mon.i[:], dtype=np.int64)
        t_spikes = time.time()
        n_syn = int(sum(len(s) for s in syns))
        run_s = float(b2.device._last_run_time)
        res = {
            "peer": f"brian2_{args.target}",
            "model": args.model,
            "n": args.n,
            "n_synapses": n_syn,
            "duration_s": args.duration,
            "seed": args.seed,
            "run_s": run_s,
            "setup_s": (t_spikes - t_construct) - run_s,
            "import_s": T_IMPORTED - T_PROCESS,
            "construct_s": t_constructed - t_construct,
            "t_spikes_epoch": t_spikes,
            "threads": args.threads,
            "versions": {"brian2": b2.__version__, "numpy": np.__version__},
            "dtype": "float64",
        }
        if standalone:
            before = _read_probe(proj / "rss_before.txt")
            built = _read_probe(proj / "rss_built.txt")
            end = _read_probe(proj / "rss_end.txt")
            timers = b2.device.timers
            make = timers["compile"]["make"] or 0.0
            clean = timers["compile"]["clean"] or 0.0
            res["compile_s"] = make + clean
            res["run_binary_s"] = timers["run_binary"]
            res["codegen_s"] = (
                (t_ran - t_constructed) - timers["run_binary"] - (make + clean)
            )
            res["peak_rss_mb"] = end["VmHWM"] / 1024
            res["rss_per_synapse_bytes"] = (
                (built["VmHWM"] - before["VmRSS"]) * 1024 / max(n_syn, 1)
            )
            res["python_peak_rss_mb"] = proc_status_kb("VmHWM") / 1024
            notes.append(
                "RSS read inside main: before = after brian_start, built = before "
                "network.run, peak = VmHWM after network.run"
            )
        else:
            built_hwm = proc_status_kb("VmHWM")
            res["compile_s"] = float(sum(compile_log))
            res["n_extensions_compiled"] = len(compile_log)
            res["peak_rss_mb"] = proc_status_kb("VmHWM") / 1024
            res["rss_per_synapse_bytes"] = (
                (built_hwm - rss_before_kb) * 1024 / max(n_syn, 1)
            )
            notes.append(
                "peak RSS includes the in-process Cython compiler; 'after building' "
                "is read after the run (Brian2 runtime initialises spike queues "
                "inside Network.run)"
            )
        res.update(spike_stats(times, idx, args.n, args.duration))
        res["notes"] = notes
        res["error"] = None
        if args.spikes:
            np.savez_compressed(args.spikes, t=times, i=idx, n=args.n)
        Path(args.out).write_text(json.dumps(res))
        print(json.dumps(res))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
