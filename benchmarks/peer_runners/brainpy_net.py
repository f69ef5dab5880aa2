r"""BrainPy runner for the CUBA/COBA benchmark (BrainPy 2.8 ``bp.dyn`` API, JAX CPU).

Run with the peer venv's Python (see ``benchmarks/peers.py``)::

    python brainpy_net.py MODEL N DURATION_S SEED OUT.json \
        [--threads 1] [--spikes S.npz]

The network follows BrainPy's own E/I examples (``bp.dyn.LifRef`` populations,
``bp.dyn.FullProjAlignPostMg`` projections with ``bp.dnn.EventCSRLinear``,
``bp.dyn.Expon`` synapses, ``bp.dyn.CUBA``/``bp.dyn.COBA`` outputs) with Brian2's
parameters (quoted in ``benchmarks/peers.py``). ``LifRef`` integrates
``tau dV/dt = -(V - V_rest) + R I`` with ``R = 1``; the current ``I`` is ``g`` for
``CUBA`` (Brian2's ``ge + gi`` in mV) and ``g (E - V)`` for ``COBA`` (Brian2's
conductances in units of the leak conductance), so the weights carry over unchanged:
CUBA ``V_rest = -49``, ``V_th = -50``, ``V_reset = -60`` mV, ``we = 1.62``, ``wi = -9``,
V0 uniform in [-60, -50); COBA ``V_rest = V_reset = -60``, ``V_th = -50``, E = 0 / -80
mV, ``we = 0.6``, ``wi = 6.7``, V0 ~ N(-65, 5) mV, ge0 ~ N(4, 1.5), gi0 ~ N(20, 12);
``tau_ref = 5`` ms, synaptic tau 5 / 10 ms, dt 0.1 ms. Integration: ``exp_auto``
(exponential Euler, the closest to Brian2's ``'exact'``) for CUBA, ``euler`` for COBA
as Brian2's example. BrainPy's ``FixedProb`` draws a fixed out-degree, so the
connectivity is drawn here instead as Brian2's: every ordered pair independently with
``p = 80 / N`` (numpy ``default_rng(seed)``, geometric gaps), handed over as CSR.
Differences left: BrainPy computes in float32 (its default), fires on ``V >= V_th``
(Brian2 ``v > Vt``), holds V for ``t - t_last_spike <= tau_ref`` (one step longer
than Brian2), and its projections read the presynaptic spikes of the previous step
(as Brian2's zero-delay synapses, whose effect is seen at the next state update).

Timing: the first run (chunks of 1000 steps through one ``bm.for_loop`` each, so the
spike matrix never holds more than 100 ms) compiles with XLA and gives the spikes
(``first_result_s``); the network is then reset (``reset_state`` and the same
initial-value draws) and run again with the compiled code: ``run_s`` is that second
run, ``compile_s`` the first run minus the second.
"""

import time

T_PROCESS = time.time()

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import brainpy as bp  # noqa: E402
import brainpy.math as bm  # noqa: E402
import jax  # noqa: E402

from peers import proc_status_kb, reset_peak_rss, spike_stats  # noqa: E402

T_IMPORTED = time.time()
DT_MS = 0.1
CHUNK = 1000


def bernoulli_pairs(n: int, p: float, rng: np.random.Generator):
    """All ordered pairs (i, j) of ``n`` kept independently with probability p."""
    total = n * n
    flat = []
    pos = -1
    while True:
        m = int(total * p * 1.05) + 1000
        gaps = rng.geometric(p, size=m).astype(np.int64)
        cs = pos + np.cumsum(gaps)
        flat.append(cs[cs < total])
        if cs[-1] >= total:
            break
        pos = int(cs[-1])
    flat = np.concatenate(flat)
    return flat // n, flat % n


def csr_block(pre, post, pre_lo, pre_hi, post_lo, post_hi):
    sel = (pre >= pre_lo) & (pre < pre_hi) & (post >= post_lo) & (post < post_hi)
    i = pre[sel] - pre_lo
    j = post[sel] - post_lo
    order = np.lexsort((j, i))
    i, j = i[order], j[order]
    indptr = np.zeros(pre_hi - pre_lo + 1, dtype=np.int64)
    np.cumsum(np.bincount(i, minlength=pre_hi - pre_lo), out=indptr[1:])
    conn = bp.conn.CSRConn(j.astype(np.int32), indptr.astype(np.int32))
    return conn(pre_size=pre_hi - pre_lo, post_size=post_hi - post_lo), int(i.size)


class EINet(bp.DynSysGroup):
    """The E/I network: two LifRef populations and four projections."""

    def __init__(self, model: str, n: int, seed: int):
        super().__init__()
        self.model = model
        n_exc = int(0.8 * n)
        p = 80.0 / n
        if model == "cuba":
            pars = {"V_rest": -49.0, "V_th": -50.0, "V_reset": -60.0}
            pars["V_initializer"] = bp.init.Uniform(-60.0, -50.0)
            method, w_e, w_i = "exp_auto", 1.62, -9.0
        else:
            pars = {"V_rest": -60.0, "V_th": -50.0, "V_reset": -60.0}
            pars["V_initializer"] = bp.init.Normal(-65.0, 5.0)
            method, w_e, w_i = "euler", 0.6, 6.7
        self.E = bp.dyn.LifRef(n_exc, tau=20.0, tau_ref=5.0, method=method, **pars)
        self.I = bp.dyn.LifRef(n - n_exc, tau=20.0, tau_ref=5.0, method=method, **pars)
        pre, post = bernoulli_pairs(n, p, np.random.default_rng(seed))
        bounds = {"E": (0, n_exc), "I": (n_exc, n)}
        self.n_synapses = 0
        self.projs = {}
        for src, dst in (("E", "E"), ("E", "I"), ("I", "E"), ("I", "I")):
            conn, k = csr_block(pre, post, *bounds[src], *bounds[dst])
            self.n_synapses += k
            exc = src == "E"
            if model == "cuba":
                out = bp.dyn.CUBA.desc()
            else:
                out = bp.dyn.COBA.desc(E=0.0 if exc else -80.0)
            target = getattr(self, dst)
            proj = bp.dyn.FullProjAlignPostMg(
                pre=getattr(self, src),
                delay=None,
                comm=bp.dnn.EventCSRLinear(conn, w_e if exc else w_i),
                syn=bp.dyn.Expon.desc(target.varshape, tau=5.0 if exc else 10.0),
                out=out,
                post=target,
            )
            self.projs[src + dst] = proj
            setattr(self, f"{src}2{dst}", proj)
        self.init_conductances()

    def init_conductances(self):
        """Draw COBA's initial conductances (Brian2's ``randn()*1.5 + 4`` etc.)."""
        if self.model != "coba":
            return
        for name, (mean, std) in {"EE": (4.0, 1.5), "EI": (4.0, 1.5)}.items():
            g = self.projs[name].syn.g
            g.value = bm.random.randn(*g.shape) * std + mean
        for name, (mean, std) in {"IE": (20.0, 12.0), "II": (20.0, 12.0)}.items():
            g = self.projs[name].syn.g
            g.value = bm.random.randn(*g.shape) * std + mean

    def update(self):
        """Advance one step; return the spikes of all N neurons (E first)."""
        self.E2E()
        self.E2I()
        self.I2E()
        self.I2I()
        self.E()
        self.I()
        return bm.concatenate([self.E.spike.value, self.I.spike.value])


def make_chunk_fn(net):
    """One jitted scan over a chunk of steps; compiled once per chunk length."""

    @bm.jit
    def chunk(ind):
        return bm.for_loop(net.step_run, ind)

    return chunk


def run_chunks(chunk_fn, steps: int):
    times, idx = [], []
    for start in range(0, steps, CHUNK):
        ind = np.arange(start, min(start + CHUNK, steps))
        spk = np.asarray(chunk_fn(ind))
        k, i = np.nonzero(spk)
        times.append((ind[k]) * DT_MS / 1000.0)
        idx.append(i)
    return np.concatenate(times), np.concatenate(idx).astype(np.int64)


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

    bm.set_platform("cpu")
    bm.set_dt(DT_MS)
    bm.random.seed(args.seed)
    steps = round(args.duration * 1000.0 / DT_MS)

    rss_before_kb = proc_status_kb("VmRSS")
    reset_peak_rss()
    t_construct = time.time()
    net = EINet(args.model, args.n, args.seed)
    t_constructed = time.time()
    built_hwm_pre_jit = proc_status_kb("VmHWM")
    t0 = time.perf_counter()
    chunk_fn = make_chunk_fn(net)
    times, idx = run_chunks(chunk_fn, steps)
    first_run = time.perf_counter() - t0
    t_spikes = time.time()
    built_hwm = proc_status_kb("VmHWM")

    net.reset_state()
    net.init_conductances()
    t0 = time.perf_counter()
    times2, _ = run_chunks(chunk_fn, steps)
    run_s = time.perf_counter() - t0

    n_syn = net.n_synapses
    res = {
        "peer": "brainpy",
        "model": args.model,
        "n": args.n,
        "n_synapses": n_syn,
        "duration_s": args.duration,
        "seed": args.seed,
        "run_s": run_s,
        "setup_s": (t_spikes - t_construct) - run_s,
        "import_s": T_IMPORTED - T_PROCESS,
        "construct_s": t_constructed - t_construct,
        "compile_s": first_run - run_s,
        "first_run_s": first_run,
        "timed_run_n_spikes": int(times2.size),
        "t_spikes_epoch": t_spikes,
        "threads": args.threads,
        "peak_rss_mb": proc_status_kb("VmHWM") / 1024,
        "rss_per_synapse_bytes": (built_hwm - rss_before_kb) * 1024 / max(n_syn, 1),
        "rss_per_synapse_before_jit_bytes": (built_hwm_pre_jit - rss_before_kb)
        * 1024
        / max(n_syn, 1),
        "versions": {
            "brainpy": bp.__version__,
            "jax": jax.__version__,
            "numpy": np.__version__,
        },
        "dtype": np.dtype(bm.float_).name,
        "notes": [
            "spikes from the first (compiling) run; run_s from a second run of the "
            "compiled loop after reset_state; 'after building' includes XLA "
            "compilation and the first run (rss_per_synapse_before_jit_bytes: "
            "connectivity only)"
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
