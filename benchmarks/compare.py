"""RSA and encoding benchmark: neurodl.compare against rsatoolbox, himalaya, sklearn.

    python benchmarks/compare.py                      # 3 repeats (rsatoolbox: 1)
    python benchmarks/compare.py --repeats 1          # quicker
    python benchmarks/compare.py --parts ridge        # one part only

Everyone runs in the same process on one thread (``OMP_NUM_THREADS=1`` set before
numpy / torch are imported, ``torch.set_num_threads(1)``); times are medians over
``--repeats`` runs, after one untimed warm-up call of each neurodl function.

* **rsa**: synthetic data, 4 runs x 100 conditions x 10,000 voxels (400 patterns)
  plus 200 x 10,000 residuals, float64, seed 0. Three parts, each timed alone:

  - *RDM*: correlation RDM of the 100 run-averaged condition patterns:
    ``neurodl.compare.rsa.rdm`` vs ``rsatoolbox.rdm.calc_rdm(method="correlation",
    descriptor="conds")`` vs NumPy ``1 - np.corrcoef``.
  - *noise precision*: ``noise_precision(residuals, "shrinkage_diag")`` vs
    ``rsatoolbox.data.noise.prec_from_residuals(residuals,
    method="shrinkage_diag")`` (a dense 10,000 x 10,000 matrix).
  - *crossnobis*: leave-one-run-out crossnobis RDM with that precision:
    ``crossnobis_rdm(patterns, runs, noise, conditions=conds)`` vs
    ``calc_rdm(method="crossnobis", descriptor="conds", cv_descriptor="runs",
    noise=prec)``; each gets its own library's precision matrix.

  rsatoolbox's precision takes about 2 minutes at this size (its crossnobis
  about 2 s, on the machine of the first record), so both are run
  ``--rsatoolbox-repeats`` times (default 1). Agreement: max abs difference
  of the RDMs and of the precision matrices (relative to the largest entry).
* **ridge**: synthetic encoding data, 1,000 samples x 500 features -> 10,000
  targets (centred, float64, seed 0), 10 alphas ``np.logspace(-2, 7, 10)``,
  ``KFold(5)`` without shuffling, ``fit_intercept=False`` (himalaya's default),
  negative mean squared error as the CV score (himalaya's default; neurodl
  ``scoring="l2"``): ``neurodl.compare.encoding.RidgeEncoder`` vs himalaya
  ``RidgeCV`` on ``set_backend("torch")`` (float64 CPU tensors) vs scikit-learn
  ``RidgeCV(alphas, alpha_per_target=True)``, which uses efficient
  leave-one-out (GCV) instead of 5-fold CV, so its alphas are not expected to
  match. Agreement: fraction of targets whose chosen alpha equals himalaya's,
  and max abs difference of the coefficients.
* **searchlight**: not repeated here; see ``benchmarks/searchlight.py`` and
  ``benchmarks/records/searchlight.json``.

Results are printed as Markdown and written as JSON to
``benchmarks/records/compare.json`` (``--json`` to change).
"""

from __future__ import annotations

import os

os.environ["OMP_NUM_THREADS"] = "1"
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import torch

N_RUNS, N_COND, N_VOX, N_RES = 4, 100, 10_000, 200
N_SAMPLES, N_FEATURES, N_TARGETS = 1_000, 500, 10_000
ALPHAS = np.logspace(-2, 7, 10)
N_FOLDS = 5


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, list[float], Any]:
    """Median wall time of ``repeats`` calls, all times, and the last result."""
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times, out


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -------------------------------------------------------------------------- RSA
def rsa_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    signal = rng.standard_normal((N_COND, N_VOX))
    patterns = np.concatenate(
        [signal + rng.standard_normal((N_COND, N_VOX)) for _ in range(N_RUNS)]
    )
    runs = np.repeat(np.arange(N_RUNS), N_COND)
    conds = np.tile(np.arange(N_COND), N_RUNS)
    # spatially smooth-ish noise so the shrinkage is not trivially 1
    base = rng.standard_normal((N_RES, N_VOX))
    residuals = base + 0.5 * np.roll(base, 1, axis=1)
    return patterns, runs, conds, residuals


def bench_rsa(repeats: int, peer_repeats: int) -> dict[str, Any]:
    from rsatoolbox.data import Dataset
    from rsatoolbox.data.noise import prec_from_residuals
    from rsatoolbox.rdm import calc_rdm

    from neurodl.compare.rsa import crossnobis_rdm, noise_precision, rdm

    patterns, runs, conds, residuals = rsa_data()
    means = patterns.reshape(N_RUNS, N_COND, N_VOX).mean(0)
    ds_means = Dataset(measurements=means, obs_descriptors={"conds": np.arange(N_COND)})
    ds_all = Dataset(
        measurements=patterns, obs_descriptors={"conds": conds, "runs": runs}
    )
    out: dict[str, Any] = {"rsatoolbox": version("rsatoolbox")}

    # warm-up (imports, first-call overheads) on a small slice
    rdm(means[:, :100])
    noise_precision(residuals[:, :100])
    crossnobis_rdm(patterns[:, :100], runs, None, conditions=conds)

    # --- RDM
    say("[rsa] RDM ...")
    t_n, ts_n, r_n = timed(lambda: rdm(means, "correlation"), repeats)
    t_p, ts_p, r_p = timed(
        lambda: calc_rdm(ds_means, method="correlation", descriptor="conds"), repeats
    )
    t_np, ts_np, r_np = timed(lambda: 1.0 - np.corrcoef(means), repeats)
    m_p = r_p.get_matrices()[0]
    out["rdm"] = {
        "neurodl_s": t_n,
        "rsatoolbox_s": t_p,
        "numpy_s": t_np,
        "times": {"neurodl": ts_n, "rsatoolbox": ts_p, "numpy": ts_np},
        "max_abs_diff_rsatoolbox": float(np.abs(r_n - m_p).max()),
        "max_abs_diff_numpy": float(
            np.abs(r_n - r_np)[~np.eye(N_COND, dtype=bool)].max()
        ),
    }
    say(f"[rsa] RDM neurodl {t_n:.3f} s, rsatoolbox {t_p:.3f} s, numpy {t_np:.3f} s")

    # --- noise precision
    say("[rsa] noise precision ...")
    t_n, ts_n, prec_n = timed(
        lambda: noise_precision(residuals, "shrinkage_diag"), repeats
    )
    t_p, ts_p, prec_p = timed(
        lambda: prec_from_residuals(residuals, method="shrinkage_diag"), peer_repeats
    )
    prec_p = np.asarray(prec_p)
    scale = float(np.abs(prec_p).max())
    prec_diff = float(np.abs(prec_n - prec_p).max())
    out["noise_precision"] = {
        "neurodl_s": t_n,
        "rsatoolbox_s": t_p,
        "times": {"neurodl": ts_n, "rsatoolbox": ts_p},
        "max_abs_diff": prec_diff,
        "max_rel_diff": prec_diff / scale,
    }
    say(f"[rsa] precision neurodl {t_n:.3f} s, rsatoolbox {t_p:.3f} s")

    # --- crossnobis
    say("[rsa] crossnobis ...")
    t_n, ts_n, cn_n = timed(
        lambda: crossnobis_rdm(patterns, runs, prec_n, conditions=conds), repeats
    )
    t_p, ts_p, cn_p = timed(
        lambda: calc_rdm(
            ds_all,
            method="crossnobis",
            descriptor="conds",
            cv_descriptor="runs",
            noise=prec_p,
        ),
        peer_repeats,
    )
    m_p = cn_p.get_matrices()[0]
    out["crossnobis"] = {
        "neurodl_s": t_n,
        "rsatoolbox_s": t_p,
        "times": {"neurodl": ts_n, "rsatoolbox": ts_p},
        "max_abs_diff": float(np.abs(cn_n - m_p).max()),
        "max_abs_value": float(np.abs(m_p).max()),
    }
    say(f"[rsa] crossnobis neurodl {t_n:.3f} s, rsatoolbox {t_p:.3f} s")
    out["shape"] = {
        "n_runs": N_RUNS,
        "n_conditions": N_COND,
        "n_voxels": N_VOX,
        "n_residuals": N_RES,
    }
    out["repeats"] = repeats
    out["rsatoolbox_repeats"] = peer_repeats
    return out


# ------------------------------------------------------------------------ ridge
def ridge_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N_SAMPLES, N_FEATURES))
    W = rng.standard_normal((N_FEATURES, N_TARGETS)) * rng.uniform(0.0, 0.1, N_TARGETS)
    Y = X @ W + rng.standard_normal((N_SAMPLES, N_TARGETS))
    return X - X.mean(0), Y - Y.mean(0)


def bench_ridge(repeats: int, skip_sklearn: bool) -> dict[str, Any]:
    from himalaya.backend import set_backend
    from himalaya.ridge import RidgeCV as HimalayaRidgeCV
    from sklearn.linear_model import RidgeCV as SkRidgeCV
    from sklearn.model_selection import KFold

    from neurodl.compare.encoding import RidgeEncoder

    X, Y = ridge_data()
    cv = KFold(N_FOLDS)
    backend = set_backend("torch", on_error="raise")

    def ours() -> RidgeEncoder:
        return RidgeEncoder(
            ALPHAS, fit_intercept=False, cv=cv, scoring="l2", dtype="float64"
        ).fit(X, Y)

    def hima() -> Any:
        return HimalayaRidgeCV(alphas=ALPHAS, fit_intercept=False, cv=cv).fit(X, Y)

    def sk() -> Any:
        return SkRidgeCV(alphas=ALPHAS, alpha_per_target=True).fit(X, Y)

    # warm-up on a few targets
    RidgeEncoder(ALPHAS, fit_intercept=False, cv=cv, scoring="l2").fit(X, Y[:, :50])
    HimalayaRidgeCV(alphas=ALPHAS, fit_intercept=False, cv=cv).fit(X, Y[:, :50])

    say("[ridge] neurodl ...")
    t_n, ts_n, m_n = timed(ours, repeats)
    say("[ridge] himalaya ...")
    t_h, ts_h, m_h = timed(hima, repeats)
    a_h = np.asarray(backend.to_numpy(m_h.best_alphas_))
    c_h = np.asarray(backend.to_numpy(m_h.coef_))
    out: dict[str, Any] = {
        "himalaya": version("himalaya"),
        "sklearn": version("scikit-learn"),
        "neurodl_s": t_n,
        "himalaya_s": t_h,
        "times": {"neurodl": ts_n, "himalaya": ts_h},
        "alpha_agreement_himalaya": float(np.mean(np.isclose(m_n.best_alphas_, a_h))),
        "coef_max_abs_diff_himalaya": float(np.abs(m_n.coef_ - c_h).max()),
        "coef_max_abs": float(np.abs(c_h).max()),
    }
    say(f"[ridge] neurodl {t_n:.3f} s, himalaya {t_h:.3f} s")
    if not skip_sklearn:
        say("[ridge] sklearn ...")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t_s, ts_s, m_s = timed(sk, repeats)
        out["sklearn_s"] = t_s
        out["times"]["sklearn"] = ts_s
        out["alpha_agreement_sklearn_gcv"] = float(
            np.mean(np.isclose(m_n.best_alphas_, m_s.alpha_))
        )
        say(f"[ridge] sklearn {t_s:.3f} s")
    out["shape"] = {
        "n_samples": N_SAMPLES,
        "n_features": N_FEATURES,
        "n_targets": N_TARGETS,
        "alphas": ALPHAS.tolist(),
        "cv": f"KFold({N_FOLDS})",
        "fit_intercept": False,
    }
    out["repeats"] = repeats
    return out


# ----------------------------------------------------------------------- report
def report(rsa: dict[str, Any] | None, ridge: dict[str, Any] | None) -> str:
    lines: list[str] = []
    if rsa:
        rp = rsa["rsatoolbox_repeats"]
        lines += [
            f"### RSA: {N_RUNS} runs x {N_COND} conditions x {N_VOX} voxels, "
            f"{N_RES} residuals (neurodl median of {rsa['repeats']}, rsatoolbox "
            f"RDM median of {rsa['repeats']}, precision/crossnobis of {rp})",
            "",
            "| part | neurodl s | rsatoolbox s | NumPy s | speed-up vs rsatoolbox "
            "| agreement (max abs diff) |",
            "|---|---:|---:|---:|---:|---|",
        ]
        r, p, c = rsa["rdm"], rsa["noise_precision"], rsa["crossnobis"]
        lines.append(
            f"| correlation RDM | {r['neurodl_s']:.4f} | {r['rsatoolbox_s']:.4f} | "
            f"{r['numpy_s']:.4f} | {r['rsatoolbox_s'] / r['neurodl_s']:.1f}x | "
            f"rsatoolbox {r['max_abs_diff_rsatoolbox']:.2g}, NumPy "
            f"{r['max_abs_diff_numpy']:.2g} |"
        )
        lines.append(
            f"| noise precision (shrinkage_diag) | {p['neurodl_s']:.3f} | "
            f"{p['rsatoolbox_s']:.2f} | - | "
            f"{p['rsatoolbox_s'] / p['neurodl_s']:.1f}x | "
            f"{p['max_abs_diff']:.2g} (rel. {p['max_rel_diff']:.2g}) |"
        )
        lines.append(
            f"| crossnobis | {c['neurodl_s']:.3f} | {c['rsatoolbox_s']:.2f} | - | "
            f"{c['rsatoolbox_s'] / c['neurodl_s']:.1f}x | {c['max_abs_diff']:.2g} "
            f"(max abs value {c['max_abs_value']:.3g}) |"
        )
        cn_n = p["neurodl_s"] + c["neurodl_s"]
        cn_p = p["rsatoolbox_s"] + c["rsatoolbox_s"]
        lines.append(
            f"| precision + crossnobis | {cn_n:.3f} | {cn_p:.2f} | - | "
            f"{cn_p / cn_n:.1f}x | |"
        )
        tot_n, tot_p = cn_n + r["neurodl_s"], cn_p + r["rsatoolbox_s"]
        lines += [
            f"| **total** | {tot_n:.3f} | {tot_p:.2f} | - | {tot_p / tot_n:.1f}x | |",
            "",
        ]
    if ridge:
        lines += [
            f"### Ridge encoding: {N_SAMPLES} x {N_FEATURES} -> {N_TARGETS} targets, "
            f"{len(ALPHAS)} alphas (median of {ridge['repeats']})",
            "",
            "| contender | CV | s | neurodl speed-up | alphas equal to neurodl's |",
            "|---|---|---:|---:|---:|",
            f"| neurodl RidgeEncoder | KFold(5) | {ridge['neurodl_s']:.3f} | 1.0x | "
            "- |",
            f"| himalaya RidgeCV (torch) | KFold(5) | {ridge['himalaya_s']:.3f} | "
            f"{ridge['himalaya_s'] / ridge['neurodl_s']:.2f}x | "
            f"{100 * ridge['alpha_agreement_himalaya']:.2f}% (coef max abs diff "
            f"{ridge['coef_max_abs_diff_himalaya']:.2g}) |",
        ]
        if "sklearn_s" in ridge:
            lines.append(
                f"| sklearn RidgeCV(alpha_per_target) | GCV (LOO) | "
                f"{ridge['sklearn_s']:.3f} | "
                f"{ridge['sklearn_s'] / ridge['neurodl_s']:.2f}x | "
                f"{100 * ridge['alpha_agreement_sklearn_gcv']:.1f}% (different CV) |"
            )
        lines.append("")
    lines.append(
        "Searchlight: see `benchmarks/searchlight.py` and "
        "`benchmarks/records/searchlight.json`."
    )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--rsatoolbox-repeats",
        type=int,
        default=1,
        help="runs of rsatoolbox's precision and crossnobis (minutes each)",
    )
    ap.add_argument("--parts", nargs="+", default=["rsa", "ridge"])
    ap.add_argument("--skip-sklearn", action="store_true")
    ap.add_argument(
        "--json", type=Path, default=Path(__file__).parent / "records/compare.json"
    )
    args = ap.parse_args()
    torch.set_num_threads(1)
    ridge = (
        bench_ridge(args.repeats, args.skip_sklearn) if "ridge" in args.parts else None
    )
    rsa = (
        bench_rsa(args.repeats, args.rsatoolbox_repeats)
        if "rsa" in args.parts
        else None
    )
    text = report(rsa, ridge)
    print(text)
    record = {
        "benchmark": "neurodl.compare vs rsatoolbox / himalaya / sklearn",
        "threads": 1,
        "torch_threads": torch.get_num_threads(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "rsa": rsa,
        "ridge": ridge,
        "searchlight": "see benchmarks/searchlight.py, records/searchlight.json",
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
