"""Hebbian, BCM and Hopfield rules: closed-form targets over seeds, and speed.

The targets are checked over many seeds; the speed is that of the compiled online
loop against the same steps as torch calls.

What is measured
----------------
Targets (LEARNING.md section 3; the tests check one to five seeds of each):

* Oja and Sanger (k = 3) on 20,000 samples of N(0, Q diag(5, 3, 2, 1, .5, .3, .2,
  .1) Q^T), centred, 20 epochs, lr 0.01 / (1 + epoch): |cos| with numpy's
  eigenvectors of x^T x / n and |(|w| - 1)|, over ``--seeds`` seeds; Oja's
  subspace rule: the spectral norm of W^T W - U_3 U_3^T.
* BCM, K = 4 orthonormal inputs (the unit vectors), over ``--bcm-seeds`` seeds:
  the settings of the tests (1M steps, lr 0.005 decaying to 2e-5, theta rate 0.05)
  and LEARNING.md's (200k steps, constant lr 0.005): the top response (target
  K within 5 %) and the largest other response (target < 0.05).
* Classic Hopfield N = 400, 3 trials x 10 cues started at the stored pattern:
  mean overlap against the load P / N.
* Modern Hopfield d = 64, beta = 1: the fraction of all M patterns retrieved
  (sign of one update equal to the pattern) from cues with b bits flipped.

Speed (one thread, ``--repeats`` interleaved repeats, medians): online steps per
second of ``engine="numba"`` (the compiled loop) and ``engine="torch"`` (the step
functions called from Python), which give the same weights (the tests hold them
equal to 1e-12 in float64); and one asynchronous Hopfield recall (N = 400, 10 cues,
load 0.1) on both engines.

Run
---
From the repository root::

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/hebbian.py --json out.json
"""

from __future__ import annotations

import os

os.environ["OMP_NUM_THREADS"] = "1"

import argparse
import json
import statistics
import time

import numpy as np
import torch

from neurodl.learning.bcm import fit_bcm
from neurodl.learning.hebbian import fit_hebbian
from neurodl.learning.hopfield import (
    capacity_curve,
    flip_bits,
    hopfield_recall,
    hopfield_weights,
    modern_hopfield_step,
)


def gaussian(n=20_000, seed=0):
    rng = np.random.default_rng(seed)
    d = 8
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    var = np.array([5, 3, 2, 1, 0.5, 0.3, 0.2, 0.1])
    x = (rng.standard_normal((n, d)) * np.sqrt(var)) @ q.T
    x -= x.mean(0)
    _, evecs = np.linalg.eigh(x.T @ x / n)
    return torch.from_numpy(x), evecs[:, ::-1].T.copy()


def pca_targets(seeds):
    x, axes = gaussian()
    out = {}
    for rule, k in [("oja", 1), ("sanger", 3)]:
        cos, dnorm = [], []
        for s in range(seeds):
            w = fit_hebbian(x, rule, k, n_epochs=20, lr=0.01, seed=s).weights.numpy()
            n = np.linalg.norm(w, axis=1)
            cos.append([abs(float(w[i] @ axes[i])) / n[i] for i in range(k)])
            dnorm.append(float(np.abs(n - 1).max()))
        c = np.array(cos)
        out[rule] = {
            "min_cos_per_component": c.min(0).round(4).tolist(),
            "median_cos_per_component": np.median(c, 0).round(4).tolist(),
            "max_abs_norm_minus_1": round(max(dnorm), 4),
        }
    err = []
    u = axes[:3].T
    for s in range(seeds):
        w = fit_hebbian(x, "subspace", 3, n_epochs=20, seed=s).weights.numpy()
        err.append(float(np.linalg.norm(w.T @ w - u @ u.T, 2)))
    out["subspace"] = {"max_projector_error": round(max(err), 4)}
    return out


def bcm_targets(seeds):
    x = torch.eye(4, dtype=torch.float64)
    out = {}
    settings = {
        "tests (1M steps, lr 0.005 -> 2e-5)": dict(
            n_steps=1_000_000, lr=0.005, lr_final=2e-5
        ),
        "LEARNING.md (200k steps, lr 0.005 constant)": dict(
            n_steps=200_000, lr=0.005, lr_final=None
        ),
    }
    for name, kw in settings.items():
        top, rest = [], []
        for s in range(seeds):
            r = fit_bcm(x, seed=s, **kw).responses[:, 0].sort(descending=True).values
            top.append(float(r[0]))
            rest.append(float(r[1:].max()))
        t = np.array(top)
        out[name] = {
            "top_min": round(t.min(), 3),
            "top_median": round(float(np.median(t)), 3),
            "top_max": round(t.max(), 3),
            "fraction_within_5pct": float(np.mean(np.abs(t - 4) <= 0.2)),
            "rest_max": float(max(rest)),
        }
    return out


def hopfield_targets():
    c = capacity_curve(400, (0.05, 0.10, 0.12, 0.14, 0.16, 0.20, 0.30))
    return {
        f"{a:.2f}": round(float(m), 4)
        for a, m in zip(c.loads.tolist(), c.overlap, strict=True)
    }


def modern_targets():
    out = {}
    for m, flips in [(2000, 8), (2000, 16), (10_000, 8), (2000, 24)]:
        gen = torch.Generator().manual_seed(0)
        x = torch.randint(0, 2, (m, 64), generator=gen).double() * 2 - 1
        out_ = modern_hopfield_step(x, flip_bits(x, flips, seed=1), 1.0)
        out[f"M={m}, {flips} bits"] = float((out_.sign() == x).all(1).double().mean())
    return out


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def speed(repeats):
    x, _ = gaussian()
    small = x[:1000]
    eye = torch.eye(4, dtype=torch.float64)
    xi = torch.randint(
        0, 2, (40, 400), generator=torch.Generator().manual_seed(0)
    ).double()
    xi = xi * 2 - 1
    j = hopfield_weights(xi)
    cues = xi[:10]
    jobs = {
        "oja d=8": (
            lambda: fit_hebbian(x, "oja", n_epochs=5),
            lambda: fit_hebbian(small, "oja", n_epochs=1, engine="torch"),
            100_000,
            1000,
        ),
        "sanger k=3 d=8": (
            lambda: fit_hebbian(x, "sanger", 3, n_epochs=5),
            lambda: fit_hebbian(small, "sanger", 3, n_epochs=1, engine="torch"),
            100_000,
            1000,
        ),
        "bcm d=4": (
            lambda: fit_bcm(eye, n_steps=1_000_000),
            lambda: fit_bcm(eye, n_steps=1000, engine="torch"),
            1_000_000,
            1000,
        ),
        "hopfield recall N=400 x10": (
            lambda: hopfield_recall(j, cues, engine="numba"),
            lambda: hopfield_recall(j, cues, engine="torch"),
            1,
            1,
        ),
    }
    for fast, slow, _, _ in jobs.values():  # warm-up (compiles)
        fast()
        slow()
    times = {k: ([], []) for k in jobs}
    for r in range(repeats):
        for name, (fast, slow, _, _) in jobs.items():
            pair = [(0, fast), (1, slow)]
            for i, fn in pair if r % 2 == 0 else pair[::-1]:
                times[name][i].append(timed(fn))
    out = {}
    for name, (_, _, n_fast, n_slow) in jobs.items():
        tf = statistics.median(times[name][0])
        ts = statistics.median(times[name][1])
        if n_fast == 1:
            out[name] = {
                "numba_s": round(tf, 4),
                "torch_s": round(ts, 4),
                "speedup": round(ts / tf, 1),
            }
        else:
            out[name] = {
                "numba_steps_per_s": round(n_fast / tf),
                "torch_steps_per_s": round(n_slow / ts),
                "speedup": round((n_fast / tf) / (n_slow / ts), 1),
            }
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--bcm-seeds", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    res = {
        "pca": pca_targets(args.seeds),
        "bcm": bcm_targets(args.bcm_seeds),
        "hopfield_overlap_by_load": hopfield_targets(),
        "modern_one_step_retrieval": modern_targets(),
        "speed": speed(args.repeats),
        "load_before": os.getloadavg(),
    }
    res["wall_s"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(res, indent=2))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=2)


if __name__ == "__main__":
    main()
