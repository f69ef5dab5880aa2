"""neurodl's MOABB protocol against MOABB itself, side by side, same files, same folds.

    python benchmarks/moabb_within.py                 # 8 subjects, 3 repeats
    python benchmarks/moabb_within.py --repeats 5 --subjects 1 2 3

MOABB 1.7.2's ``WithinSessionEvaluation`` on ``LeftRightImagery`` (PhysionetMI,
imagined left vs right fist, runs 4/8/12; 8-32 Hz IIR, 0-3 s, µV, ROC-AUC,
``StratifiedKFold(5, shuffle=True, random_state=42)`` per subject) with the
pipelines of MOABB's ``CSP.yml`` and ``TSLR.yml`` runs in its own git-ignored
environment (``benchmarks/.venv-moabb``, made by ``peers.ensure_env("moabb")``)
through ``peer_runners/moabb_within.py``, pointed at the same EDF files (no
download, network refused). neurodl runs ``evaluate_subjects(..., protocol="moabb",
scheme="within")`` with ``csp-lda`` and ``riemann`` in this process.

Checks: every subject's epochs equal MOABB's element by element (the runner's
``--dump-dir`` arrays), the folds are MOABB's own, and every per-subject score
equals MOABB's float64 score to 1e-6. Times: MOABB's ``evaluation.process``
(loading, 5 folds x 2 pipelines x subjects, its result file) against neurodl's
``evaluate_subjects`` (loading, the same folds, no cache), each in a fresh
process with its libraries imported before the clock starts, one thread each;
medians of ``--repeats`` runs, taking turns.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import peers  # noqa: E402

PIPES = {"csp-lda": "csp-lda", "riemann": "ts-lr"}  # neurodl name -> runner name


def run_moabb(data: Path, subjects: list[int], dump: Path | None) -> dict:
    py = peers.env_python("moabb")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "moabb.json"
        cmd = [
            str(py),
            str(HERE / "peer_runners" / "moabb_within.py"),
            "--data",
            str(data),
            "--subjects",
            *map(str, subjects),
            "--pipelines",
            *PIPES.values(),
            "--seed",
            "42",
            "--out",
            str(out),
        ]
        if dump is not None:
            cmd += ["--dump-dir", str(dump)]
        env = peers.thread_env(1)
        env.update(HTTP_PROXY="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9")
        subprocess.run(cmd, check=True, env=env, stdout=sys.stderr)
        return json.loads(out.read_text())


_CHILD = """
import json, sys, time
from pathlib import Path
t0 = time.time()
import mne, mne.datasets.eegbci, mne.io, numpy, pyriemann, scipy, scipy.signal, sklearn
import torch
from neurodl.decode.benchmark import evaluate_subjects
import_s = time.time() - t0
torch.set_num_threads(1)
data, out, subjects = Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3])
t1 = time.perf_counter()
doc = evaluate_subjects(data, subjects, tasks=["left-right"],
    pipelines=json.loads(sys.argv[4]), scheme="within", protocol="moabb", cv_seed=42)
wall = time.perf_counter() - t1
out.write_text(json.dumps({"wall_s": wall, "import_s": import_s, "doc": doc}))
"""


def run_neurodl(data: Path, subjects: list[int]) -> tuple[float, dict]:
    """Time ``evaluate_subjects`` in a fresh process, as MOABB's runner runs.

    The libraries are imported before the clock starts; no cache, one thread.
    """
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "neurodl.json"
        cmd = [sys.executable, "-c", _CHILD, str(data), str(out)]
        cmd += [json.dumps(subjects), json.dumps(list(PIPES))]
        subprocess.run(cmd, check=True, env=peers.thread_env(1), stdout=sys.stderr)
        res = json.loads(out.read_text())
    return res["wall_s"], res["doc"]


def check_arrays(data: Path, subjects: list[int], dump: Path) -> float:
    """Largest |neurodl X - MOABB X| (µV) over the subjects' epochs."""
    import numpy as np

    from neurodl.decode.subjects import PROTOCOLS, TASKS, load_subject

    worst = 0.0
    for s in subjects:
        ref = np.load(dump / f"S{s:03d}.npz", allow_pickle=True)
        sub = load_subject(data, s, TASKS["left-right"], PROTOCOLS["moabb"])
        if sub.X.shape != ref["X"].shape:
            raise SystemExit(f"S{s:03d}: shape {sub.X.shape} vs MOABB {ref['X'].shape}")
        labels = np.array([sub.classes[i] for i in sub.y])
        moabb_labels = np.char.replace(ref["y"].astype(str), "_hand", "_fist")
        if not (labels == moabb_labels).all():
            raise SystemExit(f"S{s:03d}: labels differ from MOABB's")
        worst = max(worst, float(np.abs(sub.X - ref["X"]).max()))
    return worst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/eegmmidb")
    ap.add_argument("--subjects", type=int, nargs="+", default=list(range(1, 9)))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", type=Path, default=HERE / "records" / "moabb_within.json")
    args = ap.parse_args()
    os.environ.update(
        OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1"
    )
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    import torch

    torch.set_num_threads(1)
    peers.ensure_env("moabb")

    dump = Path(tempfile.mkdtemp(prefix="moabb_dump_"))
    moabb_runs, neuro_runs = [], []
    ref = None
    doc = None
    for i in range(args.repeats):
        res = run_moabb(args.data, args.subjects, dump if i == 0 else None)
        ref = ref or res
        moabb_runs.append(res["process_s"])
        wall, doc = run_neurodl(args.data, args.subjects)
        neuro_runs.append(wall)
        print(
            f"repeat {i}: MOABB {moabb_runs[-1]:.2f} s, neurodl {wall:.2f} s",
            file=sys.stderr,
        )
    assert ref is not None and doc is not None
    import numpy as np

    x_diff = check_arrays(args.data, args.subjects, dump)

    mo = {(r["subject"], r["pipeline"]): r for r in ref["results"]}
    rows, worst, same_folds = [], 0.0, True
    for u in doc["units"]:
        s, p = u["spec"]["subject"], u["spec"]["pipeline"]
        r = mo[s, PIPES[p]]
        diff = abs(u["result"]["roc_auc"] - r["score_f64"])
        worst = max(worst, diff)
        ours = [sorted(f["test"]) for f in u["result"]["folds"]]
        z = np.load(dump / f"S{s:03d}.npz", allow_pickle=True)
        theirs = [sorted(z[f"test_idx_fold{k}"].tolist()) for k in range(len(ours))]
        same_folds = same_folds and ours == theirs
        rows.append(
            {
                "subject": s,
                "pipeline": p,
                "neurodl": u["result"]["roc_auc"],
                "moabb": r["score_f64"],
                "abs_diff": diff,
            }
        )
    t_moabb = statistics.median(moabb_runs)
    t_neuro = statistics.median(neuro_runs)
    out = {
        "subjects": args.subjects,
        "rows": rows,
        "max_abs_score_diff": worst,
        "max_abs_X_diff_uV": x_diff,
        "folds_checked_against_runner": same_folds,
        "moabb_process_s": moabb_runs,
        "neurodl_s": neuro_runs,
        "median_moabb_s": t_moabb,
        "median_neurodl_s": t_neuro,
        "speedup": t_moabb / t_neuro,
        "moabb_versions": ref["versions"],
        "neurodl_versions": doc["versions"],
        "command": " ".join(sys.argv),
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=1) + "\n")
    print(
        "| subject | csp-lda neurodl | csp-lda MOABB | riemann neurodl | TS+LR MOABB |"
    )
    print("|---|---|---|---|---|")
    by = {(r["subject"], r["pipeline"]): r for r in rows}
    for s in args.subjects:
        a, b = by[s, "csp-lda"], by[s, "riemann"]
        print(
            f"| S{s:03d} | {a['neurodl']:.4f} | {a['moabb']:.4f} | "
            f"{b['neurodl']:.4f} | {b['moabb']:.4f} |"
        )
    print(
        f"\nmax |score diff| {worst:.2e}; max |X diff| {x_diff:.2e} µV; "
        f"MOABB {t_moabb:.2f} s, neurodl {t_neuro:.2f} s (median of "
        f"{args.repeats}): {t_moabb / t_neuro:.2f}x"
    )


if __name__ == "__main__":
    main()
