"""Searchlight benchmark: neurodl's batched torch searchlight against nilearn's.

    OMP_NUM_THREADS=1 python benchmarks/searchlight.py            # 3 repeats each
    python benchmarks/searchlight.py --repeats 1 --estimators ridge

Data: the bundled Haxby slice (40 x 20 x 1 voxels, 530 in the mask), faces vs
houses (216 volumes), each voxel z-scored within each run, float64. Spheres of
radius 5.6 mm around all 530 mask voxels (discs of 3-9 voxels), leave-one-run-out
(12 folds). Both get the same image, mask, labels, folds and the same scikit-learn
estimator instance (``RidgeClassifier(alpha=1)`` and ``GaussianNB()``), so their
maps must be equal; the script checks it (max abs difference printed).

One thread each (``OMP_NUM_THREADS=1``, ``torch.set_num_threads(1)``, nilearn with
``n_jobs=1``); the time is the median over ``--repeats`` runs of the whole call
(sphere building included), reported per 1,000 spheres. Results are printed and
written as JSON to ``benchmarks/records/searchlight.json`` (``--json`` to change).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import json
import platform
import statistics
import time
import warnings
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import torch
from nilearn.decoding import SearchLight
from sklearn.linear_model import RidgeClassifier
from sklearn.model_selection import LeaveOneGroupOut
from sklearn.naive_bayes import GaussianNB

from neurodl.data.registry import dataset_file
from neurodl.imaging.searchlight import searchlight

RADIUS = 5.6
ESTIMATORS: dict[str, Any] = {"ridge": RidgeClassifier(alpha=1.0), "gnb": GaussianNB()}


def load() -> tuple[Any, Any, np.ndarray, np.ndarray]:
    bold: Any = nib.load(dataset_file("haxby_slice", "bold.nii.gz"))
    mask = nib.load(dataset_file("haxby_slice", "mask.nii.gz"))
    attrs = np.loadtxt(dataset_file("haxby_slice", "attributes_literal.txt"), dtype=str)
    keep = np.isin(attrs[:, 0], ["face", "house"])
    y, runs = attrs[keep, 0], attrs[keep, 1].astype(int)
    data = np.asarray(bold.get_fdata())[..., keep]
    for r in np.unique(runs):
        seg = data[..., runs == r]
        sd = seg.std(-1, keepdims=True)
        data[..., runs == r] = (seg - seg.mean(-1, keepdims=True)) / np.where(
            sd > 0, sd, 1.0
        )
    return nib.Nifti1Image(data, bold.affine), mask, y, runs


def timed(fn: Any, repeats: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--estimators", nargs="+", default=list(ESTIMATORS))
    ap.add_argument(
        "--json", type=Path, default=Path(__file__).parent / "records/searchlight.json"
    )
    args = ap.parse_args()
    torch.set_num_threads(1)
    img, mask, y, runs = load()
    n_spheres = int((np.asarray(mask.dataobj) != 0).sum())
    searchlight(img, mask, y, runs, radius_mm=RADIUS)  # warm-up (torch kernels)
    rows = []
    for name in args.estimators:
        est = ESTIMATORS[name]
        t_ours, ours = timed(
            lambda est=est: searchlight(
                img,
                mask,
                y,
                runs,
                radius_mm=RADIUS,
                estimator=est,
                cv=LeaveOneGroupOut(),
            ),
            args.repeats,
        )

        def peer(est: Any = est) -> np.ndarray:
            with warnings.catch_warnings():
                # nilearn warns for any estimator instance; same instance on purpose
                warnings.simplefilter("ignore", UserWarning)
                sl = SearchLight(
                    mask,
                    radius=RADIUS,
                    estimator=est,
                    cv=LeaveOneGroupOut(),
                    scoring="accuracy",
                    n_jobs=1,
                ).fit(img, y, groups=runs)
            return np.asarray(sl.scores_)

        t_peer, theirs = timed(peer, args.repeats)
        diff = float(np.abs(np.asarray(ours.get_fdata()) - theirs).max())
        row = {
            "estimator": repr(est),
            "n_spheres": n_spheres,
            "n_folds": len(np.unique(runs)),
            "n_samples": len(y),
            "neurodl_s_per_1000": 1000 * t_ours / n_spheres,
            "nilearn_s_per_1000": 1000 * t_peer / n_spheres,
            "speedup": t_peer / t_ours,
            "max_abs_diff": diff,
            "repeats": args.repeats,
        }
        rows.append(row)
        print(
            f"{name:6s} neurodl {row['neurodl_s_per_1000']:.3f} s/1000 spheres | "
            f"nilearn {row['nilearn_s_per_1000']:.2f} s/1000 | "
            f"x{row['speedup']:.0f} | max |diff| {diff:.3g}"
        )
    record = {
        "benchmark": "searchlight (Haxby slice, faces vs houses, r=5.6 mm, LOGO)",
        "threads": 1,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "results": rows,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
