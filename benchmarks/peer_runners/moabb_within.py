r"""MOABB 1.7.2 WithinSessionEvaluation on local PhysioNet eegmmidb files.

Run with the ``moabb`` venv's Python (``peers.ensure_env("moabb")``, see
``benchmarks/peers.py``)::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
    benchmarks/.venv-moabb/bin/python benchmarks/peer_runners/moabb_within.py \
        --data ../shared/data/eegmmidb --subjects 1 2 3 4 5 6 7 8 \
        --pipelines csp-lda ts-lr --seed 42 \
        --out benchmarks/records/moabb_within_peer.json \
        --dump-dir benchmarks/results/moabb_dump

What it runs: ``PhysionetMI()`` (imagined runs; for ``LeftRightImagery`` only
runs 4, 8, 12 contribute trials) restricted to ``--subjects``,
``LeftRightImagery()`` (8-32 Hz, 0-3 s, ROC-AUC) and
``WithinSessionEvaluation(paradigm, datasets=[dataset], random_state=seed,
n_jobs=1, overwrite=True, hdf5_path=<temp dir>)``, ``evaluation.process(pipelines)``
on the pipelines of MOABB's ``pipelines/CSP.yml`` and ``pipelines/TSLR.yml``:

* ``csp-lda``: Covariances(estimator="oas") -> pyriemann.spatialfilters.CSP(nfilter=6)
  -> LinearDiscriminantAnalysis(solver="svd")
* ``ts-lr``: Covariances(estimator="oas") -> TangentSpace(metric="riemann")
  -> LogisticRegression(C=1.0)

No download: the EDF files are symlinked into a temporary tree in the layout
moabb's ``data_dl`` computes for the PhysioNet URL
(``<root>/MNE-eegbci-data/files/eegmmidb/1.0.0/S001/S001R04.edf``),
``MNE_DATASETS_EEGBCI_PATH=<root>`` points moabb there, and
``MOABB_DOWNLOAD_PROVIDER=upstream`` stops moabb's NEMAR prefetch. For an
existing file ``data_dl`` passes the file's own sha256 to ``pooch.retrieve``,
which then does not download. ``_MNE_FAKE_HOME_DIR`` is a temporary folder so
no user MNE config is read or written. On top of that a ``sys.addaudithook``
refuses every ``socket.connect`` / ``socket.getaddrinfo`` (``--allow-network``
turns that off); the attempts are counted in the output (``network_attempts``).

Besides MOABB's results the runner records, by wrapping
``moabb.evaluations.base._evaluate_fold`` (the function MOABB 1.7.2's
``process`` -> ``_process_parallel`` -> ``_evaluate_parallel_dataset`` calls
once per (fold, pipeline)), the exact train/test indices and the per-fold score
and fit time. The wrapper only observes; it calls the original unchanged.

``--dump-dir``: per subject ``S###.npz`` with ``X`` (float64, n x 64 x 481, in
microvolts, exactly ``paradigm.get_data(dataset, [s])``), ``y`` (str labels),
``run`` (metadata run column), ``session``, ``onset_sample`` (event sample in
its run, from the same pipeline's epochs), ``ch_names``, and ``test_idx_fold{k}`` /
``train_idx_fold{k}`` (k = 0..4) indices into this subject's arrays, as used
by the evaluation (the same for both pipelines; checked). The runner also
checks that the per-subject arrays equal the slices of the all-subject arrays
the evaluation used, and that the folds equal
``StratifiedKFold(5, shuffle=True, random_state=seed).split(X_s, y_s)``.
"""

import time

T_PROCESS = time.time()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

NETWORK_ATTEMPTS: list[str] = []
_FORBID_NETWORK = [True]


def _audit(event, args):
    if event in ("socket.connect", "socket.getaddrinfo") and _FORBID_NETWORK[0]:
        NETWORK_ATTEMPTS.append(f"{event} {args!r}"[:200])
        raise OSError(f"network access refused by moabb_within.py: {event} {args!r}")


def _parse(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="folder holding S001/S001R04.edf ...")
    ap.add_argument("--subjects", type=int, nargs="+", default=list(range(1, 9)))
    ap.add_argument(
        "--pipelines",
        nargs="+",
        default=["csp-lda", "ts-lr"],
        choices=["csp-lda", "ts-lr"],
    )
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", required=True, help="result JSON")
    ap.add_argument("--dump-dir", default=None, help="write S###.npz per subject here")
    ap.add_argument(
        "--allow-network", action="store_true", help="don't refuse socket connections"
    )
    return ap.parse_args(argv)


ARGS = _parse() if __name__ == "__main__" else None
if ARGS is not None and ARGS.allow_network:
    _FORBID_NETWORK[0] = False
sys.addaudithook(_audit)

RUNS = (4, 6, 8, 10, 12, 14)  # PhysionetMI(imagined=True).hand_runs + feet_runs


def build_tree(data: Path, subjects, root: Path) -> Path:
    """Symlink the EDF files into the layout moabb's data_dl expects; return root."""
    for s in subjects:
        dst = root / "MNE-eegbci-data" / "files" / "eegmmidb" / "1.0.0" / f"S{s:03d}"
        dst.mkdir(parents=True, exist_ok=True)
        for r in RUNS:
            src = (data / f"S{s:03d}" / f"S{s:03d}R{r:02d}.edf").resolve()
            if not src.is_file():
                raise FileNotFoundError(src)
            (dst / src.name).symlink_to(src)
    return root


def main(args) -> int:
    tmp = tempfile.TemporaryDirectory(prefix="neurodl-moabb-")
    tmpdir = Path(tmp.name)
    root = build_tree(Path(args.data), args.subjects, tmpdir / "mne_data")
    (tmpdir / "home").mkdir()
    os.environ["MNE_DATASETS_EEGBCI_PATH"] = str(root)
    os.environ["MOABB_DOWNLOAD_PROVIDER"] = "upstream"
    os.environ["_MNE_FAKE_HOME_DIR"] = str(tmpdir / "home")
    os.environ.setdefault("MNE_LOGGING_LEVEL", "WARNING")

    t0 = time.time()
    import mne
    import moabb
    import moabb.evaluations.base as mev_base
    import numpy as np
    import pyriemann
    import scipy
    import sklearn
    from moabb.datasets import PhysionetMI
    from moabb.evaluations import WithinSessionEvaluation
    from moabb.paradigms import LeftRightImagery
    from pyriemann.estimation import Covariances
    from pyriemann.spatialfilters import CSP
    from pyriemann.tangentspace import TangentSpace
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline

    import_s = time.time() - t0
    moabb.set_log_level("warning")

    makers = {
        # pipelines/CSP.yml ("CSP + LDA")
        "csp-lda": lambda: make_pipeline(
            Covariances(estimator="oas"),
            CSP(nfilter=6),
            LinearDiscriminantAnalysis(solver="svd"),
        ),
        # pipelines/TSLR.yml ("Tangent Space LR")
        "ts-lr": lambda: make_pipeline(
            Covariances(estimator="oas"),
            TangentSpace(metric="riemann"),
            LogisticRegression(C=1.0),
        ),
    }
    pipelines = {name: makers[name]() for name in args.pipelines}

    dataset = PhysionetMI(subjects=list(args.subjects))
    paradigm = LeftRightImagery()
    evaluation = WithinSessionEvaluation(
        paradigm=paradigm,
        datasets=[dataset],
        random_state=args.seed,
        n_jobs=1,
        overwrite=True,
        hdf5_path=str(tmpdir / "results"),
    )

    # --- observe the folds MOABB evaluates (no change to what it computes)
    folds: list[dict] = []
    seen_data: dict = {}
    orig_evaluate_fold = mev_base._evaluate_fold

    def recording_evaluate_fold(X, y, metadata, **task):
        out = orig_evaluate_fold(X, y, metadata, **task)
        seen_data.setdefault("X", X)
        seen_data.setdefault("y", y)
        seen_data.setdefault("metadata", metadata)
        for res in out:
            folds.append(
                {
                    "subject": int(task["subject"]),
                    "session": str(task["session"]),
                    "pipeline": task["pipeline_name"],
                    "cv_ind": int(task["cv_ind"]),
                    "train_idx": np.asarray(task["train_idx"]),
                    "test_idx": np.asarray(task["test_idx"]),
                    "score": float(res["score"]),
                    "time": float(res["time"]),
                }
            )
        return out

    mev_base._evaluate_fold = recording_evaluate_fold
    t1 = time.perf_counter()
    results = evaluation.process(pipelines)
    process_s = time.perf_counter() - t1
    mev_base._evaluate_fold = orig_evaluate_fold

    rows = []
    results = results.assign(_subj=results["subject"].astype(int))
    for _, r in results.sort_values(["_subj", "pipeline"]).iterrows():
        subj = int(r["subject"])
        fs = sorted(
            (
                f
                for f in folds
                if f["subject"] == subj and f["pipeline"] == r["pipeline"]
            ),
            key=lambda f: f["cv_ind"],
        )
        rows.append(
            {
                "subject": subj,
                "session": str(r["session"]),
                "pipeline": r["pipeline"],
                # MOABB's results DataFrame (read back from its HDF5 file, whose
                # data array is float32: MOABB creates it without a dtype)
                "score": float(r["score"]),
                "samples": int(r["samples"]),
                "samples_test": int(r["samples_test"]),
                "time": float(r["time"]),
                # the same, before the float32 round trip: np.mean of the fold
                # scores in float64 (what _aggregate_fold_results computes)
                "score_f64": float(np.mean([f["score"] for f in fs])),
                "time_f64": float(np.mean([f["time"] for f in fs])),
                "fold_scores": [f["score"] for f in fs],
                "fold_fit_s": [f["time"] for f in fs],
            }
        )

    # --- per-subject data, timed, compared with what the evaluation used
    Xall, yall, mall = seen_data["X"], seen_data["y"], seen_data["metadata"]
    get_data_s = {}
    per_subject = {}
    checks = {}
    if args.dump_dir:
        Path(args.dump_dir).mkdir(parents=True, exist_ok=True)
    for s in args.subjects:
        t = time.perf_counter()
        X, y, meta = paradigm.get_data(dataset, [s])
        get_data_s[s] = time.perf_counter() - t
        # channel names and event onsets (sample in its run), from the epochs path
        # of the same pipeline (outside the timing; checked equal to X)
        ep = paradigm.get_data(dataset, [s], return_epochs=True)[0]
        onset_sample = ep.events[:, 0].astype(np.int64)
        epochs_match_X = bool(np.array_equal(ep.get_data() * dataset.unit_factor, X))
        sel = np.flatnonzero((mall["subject"] == s).to_numpy())
        offset = int(sel[0])
        assert np.array_equal(sel, np.arange(offset, offset + len(sel)))
        same_X = bool(np.array_equal(X, Xall[sel]))
        same_y = bool(np.array_equal(y, yall[sel]))
        same_run = bool(
            np.array_equal(meta["run"].to_numpy(), mall["run"].to_numpy()[sel])
        )
        # folds used by MOABB, in this subject's local indices
        fs = [f for f in folds if f["subject"] == s]
        by_pipe = {}
        for f in fs:
            by_pipe.setdefault(f["pipeline"], {})[f["cv_ind"]] = (
                f["train_idx"] - offset,
                f["test_idx"] - offset,
            )
        names = sorted(by_pipe)
        first = by_pipe[names[0]]
        cv_inds = sorted(first)
        same_folds_across_pipes = all(
            all(
                np.array_equal(by_pipe[n][k][0], first[k][0])
                and np.array_equal(by_pipe[n][k][1], first[k][1])
                for k in cv_inds
            )
            for n in names
        )
        local = [first[k] for k in cv_inds]
        ref = list(
            StratifiedKFold(n_splits=5, shuffle=True, random_state=args.seed).split(
                np.zeros(len(y)), y
            )
        )
        folds_match_skf = len(ref) == len(local) and all(
            np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
            for a, b in zip(local, ref, strict=True)
        )
        checks[s] = {
            "X_equals_evaluation_slice": same_X,
            "y_equals_evaluation_slice": same_y,
            "run_equals_evaluation_slice": same_run,
            "folds_identical_for_all_pipelines": bool(same_folds_across_pipes),
            "folds_equal_StratifiedKFold_5_shuffle_seed_on_y": bool(folds_match_skf),
            "offset_in_evaluation_arrays": offset,
            "epochs_get_data_x1e6_equals_X": epochs_match_X,
        }
        per_subject[s] = {
            "n_trials": len(y),
            "X_shape": list(X.shape),
            "X_dtype": str(X.dtype),
            "labels": {
                str(k): int(v)
                for k, v in zip(*np.unique(y, return_counts=True), strict=True)
            },
            "runs": sorted({str(v) for v in meta["run"]}),
            "sessions": sorted({str(v) for v in meta["session"]}),
            "test_idx": [t[1].tolist() for t in local],
            "onset_sample": onset_sample.tolist(),
            "sfreq": float(ep.info["sfreq"]),
        }
        if s == args.subjects[0]:
            per_subject[s]["ch_names"] = list(ep.ch_names)
            per_subject[s]["X0_ch0_first5"] = [float(v) for v in X[0, 0, :5]]
            per_subject[s]["y_first10"] = [str(v) for v in y[:10]]
        if args.dump_dir:
            extra = {}
            for k, (tr, te) in enumerate(local):
                extra[f"train_idx_fold{k}"] = tr.astype(np.int64)
                extra[f"test_idx_fold{k}"] = te.astype(np.int64)
            np.savez(
                Path(args.dump_dir) / f"S{s:03d}.npz",
                X=np.asarray(X, dtype=np.float64),
                y=np.asarray(y, dtype=str),
                run=meta["run"].to_numpy().astype(str),
                session=meta["session"].to_numpy().astype(str),
                onset_sample=onset_sample,
                ch_names=np.asarray(ep.ch_names, dtype=str),
                **extra,
            )

    doc = {
        "peer": "moabb",
        "evaluation": "WithinSessionEvaluation",
        "paradigm": "LeftRightImagery() (fmin=8, fmax=32, tmin=0, tmax=None -> "
        "dataset interval [0, 3] s, scoring roc_auc)",
        "dataset": "PhysionetMI(imagined=True, executed=False), local files",
        "subjects": list(args.subjects),
        "pipelines": {
            "csp-lda": "make_pipeline(Covariances(estimator='oas'), "
            "pyriemann.spatialfilters.CSP(nfilter=6), "
            "LinearDiscriminantAnalysis(solver='svd'))  # moabb pipelines/CSP.yml",
            "ts-lr": "make_pipeline(Covariances(estimator='oas'), "
            "TangentSpace(metric='riemann'), LogisticRegression(C=1.0))  "
            "# moabb pipelines/TSLR.yml",
        },
        "seed": args.seed,
        "n_jobs": 1,
        "results": rows,
        "mean_score": {
            p: float(np.mean([r["score_f64"] for r in rows if r["pipeline"] == p]))
            for p in args.pipelines
        },
        "process_s": process_s,
        "process_s_note": "time.perf_counter() around evaluation.process(pipelines): "
        "data loading (one paradigm.get_data for all subjects), 5 folds x pipelines "
        "x subjects, hdf5 result writing",
        "get_data_s": {str(k): v for k, v in get_data_s.items()},
        "get_data_s_note": "paradigm.get_data(dataset, [s]) per subject, run after "
        "process() (OS file cache warm)",
        "import_s": import_s,
        "time_column_note": "MOABB's 'time' = mean over the 5 folds of the "
        "perf_counter() duration of pipeline.fit(X_train, y_train)",
        "per_subject": {str(k): v for k, v in per_subject.items()},
        "checks": {str(k): v for k, v in checks.items()},
        "network_attempts": NETWORK_ATTEMPTS,
        "network_forbidden": _FORBID_NETWORK[0],
        "threads": {
            k: os.environ.get(k)
            for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
        },
        "versions": {
            "python": sys.version.split()[0],
            "moabb": moabb.__version__,
            "mne": mne.__version__,
            "pyriemann": pyriemann.__version__,
            "sklearn": sklearn.__version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
        },
        "command": " ".join([os.path.basename(sys.executable), *sys.argv]),
        "wall_s_total": time.time() - T_PROCESS,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")
    for r in rows:
        subj, pipe = r["subject"], r["pipeline"]
        print(f"S{subj:03d} {pipe:8s} {r['score_f64']:.8f} {r['score']:.8f}")
    print(f"process_s {process_s:.2f}  network_attempts {len(NETWORK_ATTEMPTS)}")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main(ARGS))
