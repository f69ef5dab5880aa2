"""neurodl.decode.riemann against pyRiemann: tangent space fits on real EEG folds.

    python benchmarks/riemann_mean.py                   # S001-S008, 5 repeats

The 40 training folds of MOABB's within-subject evaluation of left vs right fist
(S001-S008, 8-32 Hz IIR, 0-3 s, µV; StratifiedKFold(5, shuffle=True,
random_state=42); 36 OAS covariance matrices of 64 channels per fold): for each,
``TangentSpace(metric="riemann").fit_transform`` on the training matrices and
``transform`` on the test ones, pyRiemann's against neurodl's, taking turns, one
thread. Reports the medians of ``--repeats`` passes over the 40 folds, the largest
difference of the tangent vectors, and the steps each mean took.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--data", type=Path, default=HERE.parent.parent / "shared/data/eegmmidb"
    )
    ap.add_argument("--subjects", type=int, nargs="+", default=list(range(1, 9)))
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", type=Path, default=HERE / "records" / "riemann_mean.json")
    args = ap.parse_args()
    os.environ.update(
        OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1"
    )
    import numpy as np
    import torch
    from pyriemann.tangentspace import TangentSpace as PyrTS
    from sklearn.model_selection import StratifiedKFold
    from threadpoolctl import threadpool_limits

    from neurodl.decode.riemann import TangentSpace, oas_covariances
    from neurodl.decode.subjects import PROTOCOLS, TASKS, load_subject

    threadpool_limits(1)
    torch.set_num_threads(1)
    folds = []
    for s in args.subjects:
        sub = load_subject(args.data, s, TASKS["left-right"], PROTOCOLS["moabb"])
        C = oas_covariances(sub.X)
        cv = StratifiedKFold(5, shuffle=True, random_state=42)
        folds += [(C[tr], C[te]) for tr, te in cv.split(C[:, 0, 0], sub.y)]

    def run(cls: type) -> tuple[float, list]:
        t0 = time.perf_counter()
        out = []
        for tr, te in folds:
            ts = cls()
            out.append((ts.fit_transform(tr), ts.transform(te), ts))
        return time.perf_counter() - t0, out

    t_pyr, t_ours = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for i in range(args.repeats):
            a, ref = run(PyrTS)
            b, ours = run(TangentSpace)
            t_pyr.append(a)
            t_ours.append(b)
            print(
                f"repeat {i}: pyRiemann {a:.3f} s, neurodl {b:.3f} s", file=sys.stderr
            )
    worst = max(
        float(max(np.abs(r[0] - o[0]).max(), np.abs(r[1] - o[1]).max()))
        for r, o in zip(ref, ours, strict=True)
    )
    steps = [o[2].n_steps_ for o in ours]
    mp, mo = statistics.median(t_pyr), statistics.median(t_ours)
    out = {
        "folds": len(folds),
        "pyriemann_s": t_pyr,
        "neurodl_s": t_ours,
        "median_pyriemann_s": mp,
        "median_neurodl_s": mo,
        "speedup": mp / mo,
        "max_abs_tangent_diff": worst,
        "newton_steps": {str(k): steps.count(k) for k in sorted(set(steps))},
        "command": " ".join(sys.argv),
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=1) + "\n")
    print(
        f"{len(folds)} folds: pyRiemann {mp:.3f} s, neurodl {mo:.3f} s (medians of "
        f"{args.repeats}): {mp / mo:.2f}x; max |tangent diff| {worst:.1e}; Newton "
        f"steps {out['newton_steps']}"
    )


if __name__ == "__main__":
    main()
