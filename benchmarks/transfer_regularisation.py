"""Alignment and the tangent space across subjects, over regularisation strengths.

Is alignment's loss for the tangent space across subjects a regularisation
artefact?

    python benchmarks/transfer_regularisation.py

Leave-one-subject-out on S001-S008 (MOABB's protocol: 8-32 Hz IIR, 0-3 s, µV),
OAS covariances, the tangent space at the training subjects' Karcher mean and a
logistic regression, with no alignment, Euclidean alignment and Riemannian
re-centering (``neurodl.decode.transfer``), for the regularisation strengths ``C``
in ``--C``. Prints the mean ROC-AUC over the 8 held-out subjects per task,
alignment and ``C``.

A diagnostic, scored on the held-out subjects: it says whether some ``C`` reverses
the comparison, and chooses nothing (MOABB's ``C = 1`` stays the pipeline's).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _aligned(X, method, align, alignment_filter):
    return X if method == "none" else align(X, alignment_filter(X, method))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--data", type=Path, default=HERE.parent.parent / "shared/data/eegmmidb"
    )
    ap.add_argument("--C", type=float, nargs="+", default=[0.01, 0.1, 1.0, 10.0])
    ap.add_argument(
        "--json", type=Path, default=HERE / "records" / "transfer_regularisation.json"
    )
    args = ap.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    from neurodl.decode.riemann import TangentSpace, oas_covariances
    from neurodl.decode.subjects import PROTOCOLS, TASKS, load_subject
    from neurodl.decode.transfer import align, alignment_filter

    out: dict = {"C": args.C, "command": " ".join(sys.argv), "mean_roc_auc": {}}
    for task in ("left-right", "hands-feet"):
        subs = [
            load_subject(args.data, s, TASKS[task], PROTOCOLS["moabb"])
            for s in range(1, 9)
        ]
        for method in ("none", "ea", "recenter"):
            covs = [
                oas_covariances(_aligned(s.X, method, align, alignment_filter))
                for s in subs
            ]
            scores: dict[float, list[float]] = {c: [] for c in args.C}
            for t in range(len(subs)):
                rest = [k for k in range(len(subs)) if k != t]
                ts = TangentSpace()
                F = ts.fit_transform(np.concatenate([covs[k] for k in rest]))
                y = np.concatenate([subs[k].y for k in rest])
                Ft = ts.transform(covs[t])
                for c in args.C:
                    lr = LogisticRegression(C=c).fit(F, y)
                    auc = roc_auc_score(subs[t].y, lr.decision_function(Ft))
                    scores[c].append(float(auc))
            means = {str(c): float(np.mean(v)) for c, v in scores.items()}
            out["mean_roc_auc"][f"{task}/{method}"] = means
            row = ", ".join(f"C={c}: {m:.3f}" for c, m in means.items())
            print(f"{task:10s} {method:8s} {row}", flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
