"""The accuracy cost of subject-level differential privacy on real EEG (issue 12).

    OMP_NUM_THREADS=1 python benchmarks/dp_eegmmidb.py [--seeds 5] [--json out.json]

Data: eegmmidb subjects S001-S008 (``/work/shared/data/eegmmidb``, or
``--data``), motor-imagery runs 6, 10, 14 (both fists vs both feet), epochs
0.5-3.5 s after the cue (``neurodl.data.load_eeg``): 45 trials per subject, 360 in
all.

Decoder, trained across subjects and tested on a subject it never saw
(leave-one-subject-out, 8 folds; features by
:func:`neurodl.tasks.private_eeg.eeg_subject_features`, as ``neurodl train eeg``
makes them): per-trial log-variance of the 64 channels in
three bands, 8-13, 13-20 and 20-30 Hz (192 features;
:class:`~neurodl.decode.private.LogVariance`: no fitting, so nothing leaks across
subjects), z-scored within each subject with that subject's own statistics
(:func:`~neurodl.decode.private.standardize_per_subject`: a function of one
subject's data, so it costs no subject-level privacy), then
:class:`~neurodl.decode.private.DPClassifier` (softmax regression, Adam lr 0.05,
clipping norm 1). The feature set was picked by a non-private LOSO comparison
(scikit-learn LogisticRegression, C 0.01): one 7-30 Hz band and 1-2 s gave
0.617, two bands 0.669, these three bands 0.700; runs 4, 8, 12 (left vs right
fist) at most 0.633. The DP recipe was fixed before looking at its accuracy:

- no DP: the same loop without clipping or noise (q = 1, 100 steps);
- subject-level epsilon 8 and 1 (delta 1e-5, PRV): q = 1 (with 7 training
  subjects, subsampling amplifies little), 50 steps;
- sample-level epsilon 8 and 1, for contrast (it warns: a subject has 45 windows,
  so its guarantee is about 45 * epsilon): q = 0.1, 200 steps.

Also a non-private scikit-learn LogisticRegression on the same features as a
reference. Each DP setting runs ``--seeds`` times (noise and sampling seeds);
accuracy is the mean over the 8 held-out subjects, reported as the median (and
min-max) over seeds, with the time per fit.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import warnings
from pathlib import Path

import numpy as np

from neurodl.decode.private import DPClassifier
from neurodl.privacy.dp import SampleLevelPrivacyWarning
from neurodl.tasks.private_eeg import eeg_subject_features

DATA = Path("/work/shared/data/eegmmidb")
RUNS = (6, 10, 14)
BANDS = ((8.0, 13.0), (13.0, 20.0), (20.0, 30.0))
TMIN, TMAX = 0.5, 3.5

SETTINGS = {
    "no DP": {"dp_epsilon": None, "sample_rate": 1.0, "steps": 100},
    "subject eps=8": {"dp_epsilon": 8.0, "sample_rate": 1.0, "steps": 50},
    "subject eps=1": {"dp_epsilon": 1.0, "sample_rate": 1.0, "steps": 50},
    "sample eps=8": {
        "dp_epsilon": 8.0,
        "privacy_unit": "sample",
        "sample_rate": 0.1,
        "steps": 200,
    },
    "sample eps=1": {
        "dp_epsilon": 1.0,
        "privacy_unit": "sample",
        "sample_rate": 0.1,
        "steps": 200,
    },
}
COMMON = {"lr": 0.05, "max_grad_norm": 1.0, "dp_delta": None, "hidden": ()}


def loso(X, y, g, make) -> tuple[float, list[float], float]:
    """Leave-one-subject-out: mean accuracy, per-subject accuracies, s per fit."""
    accs, secs = [], []
    for s in np.unique(g):
        train, test = g != s, g == s
        t0 = time.perf_counter()
        clf = make()
        if isinstance(clf, DPClassifier):
            clf.fit(X[train], y[train], groups=g[train])
        else:
            clf.fit(X[train], y[train])
        secs.append(time.perf_counter() - t0)
        accs.append(float((clf.predict(X[test]) == y[test]).mean()))
    return float(np.mean(accs)), accs, statistics.median(secs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    t0 = time.perf_counter()
    X, y, g, _ = eeg_subject_features(
        args.data, range(1, 9), runs=RUNS, bands=BANDS, tmin=TMIN, tmax=TMAX
    )
    load_s = time.perf_counter() - t0
    from sklearn.linear_model import LogisticRegression

    results: dict[str, dict] = {}
    for C in (0.01, 1.0):
        ref, ref_subj, ref_s = loso(
            X, y, g, lambda C=C: LogisticRegression(C=C, max_iter=2000)
        )
        results[f"sklearn LogisticRegression C={C:g} (no DP)"] = {
            "accuracy": ref,
            "per_subject": ref_subj,
            "fit_s": ref_s,
        }
    for name, setting in SETTINGS.items():
        runs, privacy, secs = [], None, []
        for seed in range(args.seeds):

            def make(seed=seed, setting=setting):
                return DPClassifier(**COMMON, **setting, random_state=seed)

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SampleLevelPrivacyWarning)
                acc, _, sec = loso(X, y, g, make)
            runs.append(acc)
            secs.append(sec)
        if setting.get("dp_epsilon") is not None:
            probe = DPClassifier(**COMMON, **setting, random_state=0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SampleLevelPrivacyWarning)
                probe.fit(X[g != 1], y[g != 1], groups=g[g != 1])
            privacy = probe.privacy_.to_dict()
        results[name] = {
            "accuracy_median": statistics.median(runs),
            "accuracy_min": min(runs),
            "accuracy_max": max(runs),
            "accuracy_per_seed": runs,
            "fit_s": statistics.median(secs),
            "settings": {**COMMON, **setting},
            "privacy_fold_without_S001": privacy,
        }
    out = {
        "subjects": 8,
        "runs": RUNS,
        "bands_hz": BANDS,
        "window_s": (TMIN, TMAX),
        "n_features": int(X.shape[1]),
        "n_trials": len(y),
        "chance": float(np.unique(y, return_counts=True)[1].max() / len(y)),
        "load_s": load_s,
        "seeds": args.seeds,
        "results": results,
        "load_avg": list(os.getloadavg()),
    }
    print(
        f"{len(y)} trials, 8 subjects, chance {out['chance']:.3f}; load {load_s:.1f} s"
    )
    for name, r in results.items():
        if "accuracy_median" in r:
            p = r["privacy_fold_without_S001"]
            eps = (
                f"eps {p['epsilon']:.3f} per {p['privacy_unit']}, sigma "
                f"{p['noise_multiplier']:.3g}"
                if p
                else "-"
            )
            print(
                f"{name:>36}: LOSO accuracy {r['accuracy_median']:.3f} "
                f"[{r['accuracy_min']:.3f}, {r['accuracy_max']:.3f}] over "
                f"{args.seeds} seeds; {r['fit_s'] * 1000:.0f} ms/fit; {eps}"
            )
        else:
            print(
                f"{name:>36}: LOSO accuracy {r['accuracy']:.3f} "
                f"(per subject {np.round(r['per_subject'], 3).tolist()})"
            )
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
