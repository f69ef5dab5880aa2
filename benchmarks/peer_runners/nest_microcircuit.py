"""NEST 3.10 runner for the Potjans & Diesmann (2014) cortical microcircuit.

Written for neurodl from the published parameters (Potjans & Diesmann 2014,
Cereb. Cortex 24:785-806, doi:10.1093/cercor/bhs358, and the values of NEST's
former ``pynest/examples/Potjans_2014`` as tabulated in neurodl's issue-13 notes);
no code of NEST's example or of the ``microcircuit`` package is used. The same
parameter tables are in ``neurodl.models.potjans_diesmann`` (this script runs in
the peer venv, which has no neurodl, so they are repeated here).

Run with the peer venv's Python (see ``benchmarks/peers.py``)::

    python nest_microcircuit.py --scale 1.0 --seed 1 --t-sim 1000 \
        --drive poisson --threads 1 --out ref.json [--npz ref.npz] [--no-record]

Model: ``iaf_psc_exp`` (C_m 250 pF, tau_m 10 ms, E_L = V_reset = -65 mV,
V_th -50 mV, t_ref 2 ms, tau_syn 0.5 ms), "optimized" initial V_m per population,
``fixed_total_number`` connectivity (one copy of ``static_synapse`` per source
population, so that one thread may hold > 2**27 synapses; autapses and
multapses allowed) with
Q = ln(1 - C) / ln(1 - 1/(N_pre N_post)) synapses at full scale, times
N_scaling * K_scaling; weights normal (rel. sd 0.1) redrawn until their sign is
right; delays normal (sd = mean/2) redrawn below 0.05 ms; recurrent and external
weights / sqrt(K_scaling), K_ext * K_scaling, and the DC that restores the
full-scale mean input (computed from the full-scale NEST rates). Background: one
``poisson_generator`` per population at 8 Hz * K_ext, ``all_to_all`` (each target
an independent train), weight w_ext, delay 1.5 ms; or DC of
8 Hz * K_ext * w_ext * tau_syn. dt 0.1 ms; ``--t-presim`` (500 ms) simulated
first and discarded.

Output JSON: per-population mean rate (Hz) over the recorded window, wall times
(``build_s``: Create + Connect; ``presim_s``; ``run_s``: the recorded window),
peak RSS (VmHWM) after build and at the end, NEST version, the command. The npz
(``--npz``) holds per-neuron spike counts (uint16), per-neuron ISI CV for neurons
with > 2 spikes (float16, population-wise in ``cv_<pop>``) and the pairwise Pearson
correlations of spike counts in 2 ms bins over a seeded sample of each population
(``cc_<pop>``, float16) -- the sample drawn by :func:`cc_sample` (numpy
``default_rng(20140)``), which neurodl's side repeats.
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
from peers import proc_status_kb  # noqa: E402

os.environ.setdefault("PYNEST_QUIET", "1")
import nest  # noqa: E402

POPS = ("L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I")
N_FULL = np.array([20683, 5834, 21915, 5479, 4850, 1065, 14395, 2948])
K_EXT = np.array([1600, 1500, 2100, 1900, 2000, 1900, 2900, 2100], dtype=float)
V0_MEAN = np.array([-68.28, -63.16, -63.33, -63.45, -63.11, -61.66, -66.72, -61.43])
V0_SD = np.array([5.36, 4.57, 4.74, 4.94, 4.94, 4.55, 5.46, 4.48])
C = np.array(  # C[target, source]
    [
        [0.1009, 0.1689, 0.0437, 0.0818, 0.0323, 0.0, 0.0076, 0.0],
        [0.1346, 0.1371, 0.0316, 0.0515, 0.0755, 0.0, 0.0042, 0.0],
        [0.0077, 0.0059, 0.0497, 0.135, 0.0067, 0.0003, 0.0453, 0.0],
        [0.0691, 0.0029, 0.0794, 0.1597, 0.0033, 0.0, 0.1057, 0.0],
        [0.1004, 0.0622, 0.0505, 0.0057, 0.0831, 0.3726, 0.0204, 0.0],
        [0.0548, 0.0269, 0.0257, 0.0022, 0.06, 0.3158, 0.0086, 0.0],
        [0.0156, 0.0066, 0.0211, 0.0166, 0.0572, 0.0197, 0.0396, 0.2252],
        [0.0364, 0.001, 0.0034, 0.0005, 0.0277, 0.008, 0.0658, 0.1443],
    ]
)
FULL_MEAN_RATES = np.array([0.903, 2.965, 4.414, 5.876, 7.569, 8.633, 1.105, 7.829])
C_M, TAU_M, TAU_SYN = 250.0, 10.0, 0.5
PSP_E, G, BG_RATE, W_REL_SD = 0.15, -4.0, 8.0, 0.1
DELAY_E, DELAY_I, DELAY_REL_SD, DELAY_MIN = 1.5, 0.75, 0.5, 0.05
CC_SEED, CC_BIN_MS = 20140, 2.0


def psc_over_psp() -> float:
    """PSC amplitude (pA) giving a 1 mV PSP peak (iaf_psc_exp, Hanuschkin 2010)."""
    sub = 1.0 / (TAU_SYN - TAU_M)
    pre = TAU_M * TAU_SYN / C_M * sub
    frac = (TAU_M / TAU_SYN) ** sub
    return 1.0 / (pre * (frac**TAU_M - frac**TAU_SYN))


def tables(scale: float, k_scale: float, drive: str):
    """Return N, synapse counts Q, mean weights (pA), K_ext, w_ext and DC (pA)."""
    w_e = PSP_E * psc_over_psp()
    w = np.tile([w_e, G * w_e], (8, 4))
    w[0, 2] = 2.0 * w_e  # L4E -> L23E doubled
    n_full = N_FULL.astype(float)
    q_full = np.log(1.0 - C) / np.log(1.0 - 1.0 / np.outer(n_full, n_full))
    n = np.round(n_full * scale).astype(int)
    q = np.round(q_full * scale * k_scale).astype(np.int64)
    k_full = q_full / n_full[:, None]
    rec_full = (w * k_full * FULL_MEAN_RATES[None, :]).sum(axis=1)
    ext_full = w_e * K_EXT * BG_RATE
    comp = 0.001 * TAU_SYN * (1.0 - np.sqrt(k_scale)) * (rec_full + ext_full)
    k_ext = K_EXT * k_scale
    w_ext = w_e / np.sqrt(k_scale)
    dc = comp.copy()
    if drive == "dc":
        dc += 0.001 * TAU_SYN * BG_RATE * k_ext * w_ext
    return n, q, w / np.sqrt(k_scale), k_ext, w_ext, dc


def cc_sample(n: int, size: int) -> np.ndarray:
    """Sorted local indices of the neurons whose correlations are measured."""
    rng = np.random.default_rng(CC_SEED)
    return np.sort(rng.choice(n, size=min(size, n), replace=False))


def stats(times_ms, idx, n, t0, t1, cc_n):
    """Return per-neuron counts, CVs (> 2 spikes) and sampled pairwise CCs."""
    counts = np.bincount(idx, minlength=n)
    order = np.lexsort((times_ms, idx))
    t, i = times_ms[order], idx[order]
    isi = np.diff(t)
    same = i[1:] == i[:-1]
    isi, owner = isi[same], i[1:][same]
    cnt = np.bincount(owner, minlength=n).astype(float)
    s1 = np.bincount(owner, isi, minlength=n)
    s2 = np.bincount(owner, isi * isi, minlength=n)
    ok = counts > 2
    m = s1[ok] / cnt[ok]
    var = np.maximum(s2[ok] / cnt[ok] - m * m, 0.0)
    cv = np.sqrt(var) / m
    sample = cc_sample(n, cc_n)
    nb = round((t1 - t0) / CC_BIN_MS)
    pos = np.full(n, -1)
    pos[sample] = np.arange(sample.size)
    sel = pos[idx] >= 0
    b = np.clip(((times_ms[sel] - t0) / CC_BIN_MS).astype(int), 0, nb - 1)
    mat = np.zeros((sample.size, nb))
    np.add.at(mat, (pos[idx[sel]], b), 1.0)
    sd = mat.std(axis=1)
    good = sd > 0
    cc = np.corrcoef(mat[good]) if good.sum() > 1 else np.zeros((0, 0))
    cc = cc[np.triu_indices(cc.shape[0], 1)]
    return counts, cv, cc


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--k-scale", type=float, default=None)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--t-sim", type=float, default=1000.0)
    ap.add_argument("--t-presim", type=float, default=500.0)
    ap.add_argument("--drive", choices=("poisson", "dc"), default="poisson")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cc-sample", type=int, default=100)
    ap.add_argument("--out", required=True)
    ap.add_argument("--npz", default=None)
    ap.add_argument("--no-record", action="store_true")
    a = ap.parse_args(argv)
    k_scale = a.scale if a.k_scale is None else a.k_scale
    n, q, w, k_ext, w_ext, dc = tables(a.scale, k_scale, a.drive)

    t_build = time.time()
    nest.ResetKernel()
    nest.set(
        resolution=0.1, rng_seed=a.seed, local_num_threads=a.threads, print_time=False
    )
    pops = []
    for p in range(8):
        params = {
            "C_m": C_M,
            "tau_m": TAU_M,
            "E_L": -65.0,
            "V_th": -50.0,
            "V_reset": -65.0,
            "t_ref": 2.0,
            "tau_syn_ex": TAU_SYN,
            "tau_syn_in": TAU_SYN,
            "I_e": float(dc[p]),
            "V_m": nest.random.normal(mean=V0_MEAN[p], std=V0_SD[p]),
        }
        pops.append(nest.Create("iaf_psc_exp", int(n[p]), params=params))
    # NEST stores at most 2**27 - 2 connections per virtual process and synapse
    # model; one identical copy of static_synapse per source population keeps the
    # full-scale model (3e8 synapses) on one thread.
    for s in range(8):
        nest.CopyModel("static_synapse", f"static_from_{POPS[s]}")
    inf = float("inf")
    for t in range(8):
        for s in range(8):
            if q[t, s] <= 0:
                continue
            exc = s % 2 == 0
            mw, md = w[t, s], DELAY_E if exc else DELAY_I
            weight = nest.math.redraw(
                nest.random.normal(mean=mw, std=abs(mw) * W_REL_SD),
                min=0.0 if exc else -inf,
                max=inf if exc else 0.0,
            )
            delay = nest.math.redraw(
                nest.random.normal(mean=md, std=md * DELAY_REL_SD),
                min=DELAY_MIN,
                max=inf,
            )
            nest.Connect(
                pops[s],
                pops[t],
                conn_spec={
                    "rule": "fixed_total_number",
                    "N": int(q[t, s]),
                    "allow_autapses": True,
                    "allow_multapses": True,
                },
                syn_spec={
                    "synapse_model": f"static_from_{POPS[s]}",
                    "weight": weight,
                    "delay": delay,
                },
            )
    if a.drive == "poisson":
        for p in range(8):
            pg = nest.Create("poisson_generator", params={"rate": BG_RATE * k_ext[p]})
            nest.Connect(
                pg,
                pops[p],
                "all_to_all",
                syn_spec={"weight": float(w_ext), "delay": 1.5},
            )
    recs = []
    if not a.no_record:
        for p in range(8):
            sr = nest.Create("spike_recorder", params={"start": a.t_presim})
            nest.Connect(pops[p], sr)
            recs.append(sr)
    build_s = time.time() - t_build
    rss_build = proc_status_kb("VmHWM") / 1024.0
    t0 = time.time()
    nest.Simulate(a.t_presim)
    presim_s = time.time() - t0
    t0 = time.time()
    nest.Simulate(a.t_sim)
    run_s = time.time() - t0
    n_syn = int(nest.GetKernelStatus("num_connections"))
    res = {
        "simulator": "NEST",
        "nest_version": nest.__version__,
        "command": "python benchmarks/peer_runners/nest_microcircuit.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "scale": a.scale,
        "k_scale": k_scale,
        "seed": a.seed,
        "drive": a.drive,
        "threads": a.threads,
        "dt_ms": 0.1,
        "t_presim_ms": a.t_presim,
        "t_sim_ms": a.t_sim,
        "populations": list(POPS),
        "n": n.tolist(),
        "n_connections": n_syn,  # with the poisson_generator -> neuron ones
        "n_synapses": int(q.sum()),  # recurrent synapses
        "build_s": build_s,
        "presim_s": presim_s,
        "run_s": run_s,
        "rtf": run_s / (a.t_sim / 1000.0),
        "peak_rss_build_mb": rss_build,
        "peak_rss_mb": proc_status_kb("VmHWM") / 1024.0,
        "process_s": time.time() - T_PROCESS,
    }
    if recs:
        t1 = a.t_presim + a.t_sim
        rates, arrays = [], {}
        for p, sr in enumerate(recs):
            ev = sr.get("events")
            idx = np.asarray(ev["senders"], dtype=np.int64) - pops[p][0].global_id
            tm = np.asarray(ev["times"], dtype=float)
            keep = tm > a.t_presim
            counts, cv, cc = stats(
                tm[keep], idx[keep], int(n[p]), a.t_presim, t1, a.cc_sample
            )
            rates.append(float(counts.mean() / (a.t_sim / 1000.0)))
            arrays[f"counts_{POPS[p]}"] = np.minimum(counts, 65535).astype(np.uint16)
            arrays[f"cv_{POPS[p]}"] = cv.astype(np.float16)
            arrays[f"cc_{POPS[p]}"] = cc.astype(np.float16)
        res["rates_hz"] = rates
        res["mean_cv"] = [
            float(np.mean(arrays[f"cv_{p}"])) if arrays[f"cv_{p}"].size else None
            for p in POPS
        ]
        res["mean_cc"] = [
            float(np.mean(arrays[f"cc_{p}"].astype(float)))
            if arrays[f"cc_{p}"].size
            else None
            for p in POPS
        ]
        if a.npz:
            np.savez_compressed(a.npz, **arrays)
    Path(a.out).write_text(json.dumps(res, indent=1) + "\n")
    print(json.dumps({k: res[k] for k in res if k not in ("n",)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
