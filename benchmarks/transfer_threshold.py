"""What unlabelled alignment changes for the tangent space across subjects.

    python benchmarks/transfer_threshold.py [--protocol mne]

Leave-one-subject-out on S001-S008 under MOABB's protocol (8-32 Hz IIR, 0-3 s,
µV), or with ``--protocol mne`` under neurodl's default (MNE's example: 7-30 Hz
FIR, average reference, 1-2 s): OAS covariances, the tangent space at the
training subjects' Karcher mean, ``LogisticRegression(C=1)`` (MOABB's TS+LR, and
neurodl's ``riemann`` under either protocol). Each held-out subject is scored by

- ROC-AUC (MOABB's metric: it ranks the trials and ignores the threshold),
- accuracy (the decisions a new user gets with no calibration at all),
- the *majority share*: the fraction of the new user's trials the decoder gives to
  the class it predicts most often (the classes are nearly balanced, 21-24 trials each,
  so a decoder with the right threshold is near 0.5 and a decoder that sends
  one command whatever the user imagines is at 1.0),
- the *offset*: the mean of the decoder's decision values over the new user's
  trials, in units of their SD (0 when the threshold sits among the trials).

Alignments, each estimated per subject without labels:

- ``none``; ``ea`` and ``recenter`` (:mod:`neurodl.decode.transfer`, on the
  trials the subject is scored on);
- ``ea-rest`` and ``recenter-rest``: the same filters estimated from the subject's
  rest periods (T0, the same 0-3 s windows) instead of its trials, the reference
  Zanini et al. (2018) take for motor imagery;
- ``recenter-stretch``: re-centring of the OAS covariances followed by
  pyRiemann's ``TLStretch``/``TLScale`` stretch to unit dispersion (Rodrigues et
  al. 2019, steps 1-2 of Riemannian Procrustes analysis; both label-free).
- ``tangent-center``: no filter on the signals. Every subject's trials go to the
  tangent space at the training subjects' Karcher mean (as ``none``), then each
  subject's mean tangent vector is subtracted (the new user's from its own
  unlabelled trials): pyRiemann's ``TLCenter`` on tangent vectors (0.8+).
  Named before it was run (2026-12-04), with this prediction: its ROC-AUC stays
  within 0.01 of ``none`` (subtracting a constant from the new user's vectors
  cannot change their ranking; only the weights learnt from centred sources can),
  and its accuracy rises like ``recenter``'s. The hypothesis it tests: aligning
  the signals loses left-right ranking because each subject's whitening mixes
  the channels differently, while centring the tangent vectors keeps one frame.

Every variant is scored on the held-out subjects; this is a diagnostic and
chooses nothing. It writes ``benchmarks/records/transfer_threshold.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ALIGNMENTS = (
    "none",
    "ea",
    "recenter",
    "ea-rest",
    "recenter-rest",
    "recenter-stretch",
    "tangent-center",
)


def _covs(subject, method, rest):
    """OAS covariances of one subject's trials under ``method``."""
    import numpy as np
    from pyriemann.geometry.base import logm, powm

    from neurodl.decode.riemann import oas_covariances
    from neurodl.decode.transfer import align, alignment_filter

    base, _, ref = method.partition("-")
    if base in ("none", "tangent"):  # tangent-center centres the vectors later
        return oas_covariances(subject.X)
    if ref == "stretch":
        C = oas_covariances(subject.X)
        w = alignment_filter(subject.X, "recenter")
        C = w @ C @ w  # the Riemannian mean of C is now the identity
        L = logm(C)
        dispersion = float(np.mean(np.sum(L * L, axis=(1, 2))))
        return powm(C, np.sqrt(1.0 / dispersion))
    if ref == "rest":  # the subject's filter, estimated from its rest periods
        return oas_covariances(align(subject.X, alignment_filter(rest, base)))
    return oas_covariances(align(subject.X, alignment_filter(subject.X, base)))


def _bounds(subs, train):
    """Where one training subject's rows end and the next one's begin."""
    import numpy as np

    return np.cumsum([subs[k].y.size for k in train])[:-1]


def _rest_epochs(data, subject, task, protocol):
    import numpy as np

    from neurodl.data.eeg import load_eeg

    ep = load_eeg(
        data,
        subject=subject,
        runs=task.runs,
        rest=True,
        l_freq=protocol.l_freq,
        h_freq=protocol.h_freq,
        filter_method=protocol.filter_method,
        tmin=protocol.tmin,
        tmax=protocol.tmax,
        reference=protocol.reference,
    )
    is_rest = np.asarray(ep.classes)[ep.y] == "rest"
    return ep.X[is_rest] * protocol.scale


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--data", type=Path, default=HERE.parent.parent / "shared/data/eegmmidb"
    )
    ap.add_argument("--protocol", choices=("moabb", "mne"), default="moabb")
    ap.add_argument("--json", type=Path, help="default records/transfer_threshold.json")
    args = ap.parse_args()
    suffix = "" if args.protocol == "moabb" else f"_{args.protocol}"
    args.json = args.json or HERE / "records" / f"transfer_threshold{suffix}.json"
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    from neurodl.decode.riemann import TangentSpace
    from neurodl.decode.stats import compare
    from neurodl.decode.subjects import PROTOCOLS, TASKS, load_subject
    from neurodl.decode.transfer import centre_tangent

    protocol = PROTOCOLS[args.protocol]
    out: dict = {"command": " ".join(sys.argv), "per_subject": {}, "mean": {}}
    print(
        "| task | alignment | ROC-AUC | accuracy | majority share | |offset| / SD | "
        "accuracy - none [95 % CI], p |"
    )
    print("|---|---|---|---|---|---|---|")
    for name in ("left-right", "hands-feet"):
        task = TASKS[name]
        subs = [load_subject(args.data, s, task, protocol) for s in range(1, 9)]
        rests = [_rest_epochs(args.data, s, task, protocol) for s in range(1, 9)]
        for method in ALIGNMENTS:
            covs = [_covs(s, method, r) for s, r in zip(subs, rests, strict=True)]
            rows = []
            for t in range(len(subs)):
                train = [k for k in range(len(subs)) if k != t]
                ts = TangentSpace()
                F = ts.fit_transform(np.concatenate([covs[k] for k in train]))
                Ft = ts.transform(covs[t])
                if method == "tangent-center":  # each subject's mean vector to 0
                    F = np.concatenate(
                        [centre_tangent(f) for f in np.split(F, _bounds(subs, train))]
                    )
                    Ft = centre_tangent(Ft)
                lr = LogisticRegression(C=1.0).fit(
                    F, np.concatenate([subs[k].y for k in train])
                )
                d = lr.decision_function(Ft)
                y = subs[t].y
                pred = (d > 0).astype(int)
                rows.append(
                    {
                        "subject": subs[t].subject,
                        "roc_auc": float(roc_auc_score(y, d)),
                        "accuracy": float(np.mean(pred == y)),
                        "majority_share": float(max(pred.mean(), 1 - pred.mean())),
                        "offset_sd": float(abs(d.mean()) / d.std()),
                    }
                )
            out["per_subject"][f"{name}/{method}"] = rows
            mean = {
                k: float(np.mean([r[k] for r in rows]))
                for k in rows[0]
                if k != "subject"
            }
            out["mean"][f"{name}/{method}"] = mean
            if method == "none":
                base = [r["accuracy"] for r in rows]
                diff = "—"
            else:
                (c,) = compare({method: [r["accuracy"] for r in rows], "none": base})
                diff = (
                    f"{c['mean_diff']:+.3f} [{c['ci_low']:+.3f}, {c['ci_high']:+.3f}]"
                    f", p = {c['p']:.3f}"
                )
            print(
                f"| {name} | {method} | {mean['roc_auc']:.3f} | {mean['accuracy']:.3f} "
                f"| {mean['majority_share']:.2f} | {mean['offset_sd']:.2f} | {diff} |",
                flush=True,
            )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
