"""One evaluation across subjects, serial against joblib and a local Dask cluster.

    python benchmarks/subjects_backends.py               # 8 subjects, 2 workers
    python benchmarks/subjects_backends.py --repeats 3

``evaluate_subjects`` on eegmmidb S001-S008, both tasks, within-subject (MNE's
protocol), pipelines CSP+LDA, tangent space, MDM and the shallow ConvNet (seed 0):
64 units. Run serially, with ``n_jobs=2`` (joblib, loky processes) and with
``scheduler="local:2"`` (a Dask ``LocalCluster`` of 2 one-thread workers, started
inside the timed call), each from a cold cache, taking turns; the wall time of the
whole call (loading included) is the median over ``--repeats``. The scores of the
three must be identical (checked). One BLAS/torch thread per unit everywhere.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def scores(doc: dict) -> dict:
    return {
        (u["spec"]["task"], u["spec"]["pipeline"], u["spec"]["subject"]): [
            (f["accuracy"], f["roc_auc"]) for f in u["result"]["folds"]
        ]
        for u in doc["units"]
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/eegmmidb")
    ap.add_argument("--subjects", type=int, nargs="+", default=list(range(1, 9)))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument(
        "--pipelines", nargs="+", default=["csp-lda", "riemann", "mdm", "convnet"]
    )
    ap.add_argument(
        "--json", type=Path, default=HERE / "records" / "subjects_backends.json"
    )
    args = ap.parse_args()
    from neurodl.decode.benchmark import evaluate_subjects

    kw = dict(
        tasks=["left-right", "hands-feet"], pipelines=args.pipelines, scheme="within"
    )
    modes = {
        "serial": {},
        f"joblib n_jobs={args.workers}": {"n_jobs": args.workers},
        f"dask local:{args.workers}": {"scheduler": f"local:{args.workers}"},
    }
    times: dict[str, list[float]] = {m: [] for m in modes}
    ref = None
    units = 0
    for i in range(args.repeats):
        for mode, extra in modes.items():
            t0 = time.perf_counter()
            doc = evaluate_subjects(args.data, args.subjects, **kw, **extra)
            times[mode].append(time.perf_counter() - t0)
            units = doc["run"]["units"]
            got = scores(doc)
            if ref is None:
                ref = got
            elif got != ref:
                raise SystemExit(f"{mode}: scores differ from the serial run")
            print(f"repeat {i} {mode}: {times[mode][-1]:.1f} s", file=sys.stderr)
    med = {m: statistics.median(t) for m, t in times.items()}
    base = med["serial"]
    out = {
        "units": units,
        "subjects": args.subjects,
        "pipelines": args.pipelines,
        "times_s": times,
        "median_s": med,
        "speedup": {m: base / t for m, t in med.items()},
        "identical_scores": True,
        "command": " ".join(sys.argv),
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=1) + "\n")
    print(f"| backend | wall s (median of {args.repeats}) | speed-up |")
    print("|---|---|---|")
    for m, t in med.items():
        print(f"| {m} | {t:.1f} | {base / t:.2f}x |")
    print(f"\n{units} units; scores identical across the three.")


if __name__ == "__main__":
    main()
