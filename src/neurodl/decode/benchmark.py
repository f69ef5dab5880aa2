"""Decoders across many subjects: within-subject, run-wise and leave-one-subject-out.

:func:`evaluate_subjects` scores EEG pipelines on every subject of a dataset under
one protocol (:mod:`neurodl.decode.subjects`) with one of three schemes:

- ``"within"``: the protocol's within-subject folds (MNE's ``ShuffleSplit(10,
  0.2, 42)``, or MOABB's ``StratifiedKFold(5, shuffle=True, random_state=seed)``),
  the fold scores averaged per subject;
- ``"runs"``: leave one run out within each subject (no trial of a test run was
  recorded in the same run as a training trial);
- ``"loso"``: leave one subject out: train on every other subject, score the new
  one, optionally after aligning every subject without labels (``align``, see
  :mod:`neurodl.decode.transfer`) and with a learning curve over a few labelled
  calibration trials of the new user (``calibration``).

Every pipeline sees the same folds (they depend on the labels and the split
seed only). A *unit of work* is one (task, pipeline, subject, seed); each one's
result is stored atomically under ``out/cache/`` as soon as it is done, keyed by
the pipeline's configuration, the subject, the data's checksums (the SHA-256 of
the run files, with the task and protocol) and the seeds, so an interrupted
evaluation started again computes only what is missing, and a changed pipeline
recomputes only itself. Units run serially (default), through joblib
(``n_jobs``) or on a Dask cluster (``scheduler``: ``"local:N"`` or an address),
with one BLAS and torch thread each; the scores do not depend on which.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from neurodl._atomic import atomic_path
from neurodl._json import json_ready, json_text
from neurodl._validate import check_int, check_option
from neurodl.decode.subjects import (
    PROTOCOLS,
    Loader,
    Protocol,
    SubjectData,
    Task,
    data_checksum,
    file_checksums,
    file_header,
    load_subject,
    make_task,
)
from neurodl.decode.transfer import ALIGNMENTS, align, alignment_filter
from neurodl.errors import ValidationError

__all__ = [
    "PIPELINES",
    "SCHEMES",
    "build_pipeline",
    "evaluate_subjects",
    "pipeline_config",
]

SCHEMES = ("within", "runs", "loso")
"""Evaluation schemes."""

PIPELINES = ("csp-lda", "riemann", "mdm", "fbcsp", "convnet", "eegnet")
"""Pipelines :func:`build_pipeline` knows."""

STOCHASTIC = frozenset({"fbcsp", "convnet", "eegnet"})
"""Pipelines whose fit depends on a seed: run once per seed in ``seeds``."""

CALIBRATION_REPEATS = 5
"""Random draws of the new user's calibration trials per point of the curve."""


# -------------------------------------------------------------------- pipelines
def build_pipeline(
    name: str, protocol: Protocol, *, sfreq: float, rank: int | None, seed: int = 0
) -> Any:
    """Return a fresh, unfitted pipeline ``name`` for data made by ``protocol``.

    Under the ``"moabb"`` protocol, ``"csp-lda"`` and ``"riemann"`` are MOABB's
    own ``CSP.yml`` (OAS covariances, pyRiemann ``CSP(nfilter=6)``, LDA) and
    ``TSLR.yml`` (OAS covariances, ``TangentSpace("riemann")``,
    ``LogisticRegression(C=1)``) so the scores are MOABB's. Otherwise the names
    are :func:`neurodl.decode.make_pipeline`'s (``rank``, the rank the protocol's
    reference leaves, spares CSP its estimate).
    """
    check_option("pipelines", name, PIPELINES)
    if protocol.name == "moabb" and name in ("csp-lda", "riemann"):
        from pyriemann.estimation import Covariances
        from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline as sk_pipeline

        if name == "csp-lda":
            from pyriemann.spatialfilters import CSP

            return sk_pipeline(
                Covariances(estimator="oas"),
                CSP(nfilter=6),
                LinearDiscriminantAnalysis(solver="svd"),
            )
        from pyriemann.tangentspace import TangentSpace

        return sk_pipeline(
            Covariances(estimator="oas"),
            TangentSpace(metric="riemann"),
            LogisticRegression(C=1.0),
        )
    from neurodl.decode.eeg import make_pipeline

    return make_pipeline(name, sfreq=sfreq, rank=rank, random_state=seed)


def pipeline_config(
    name: str, protocol: Protocol, *, sfreq: float, rank: int | None
) -> dict[str, Any]:
    """Return the pipeline's class and parameters (seed left out), with a hash."""
    est = build_pipeline(name, protocol, sfreq=sfreq, rank=rank)
    params = {
        k: repr(v)
        for k, v in sorted(est.get_params(deep=True).items())
        if not k.endswith("random_state") and not hasattr(v, "get_params")
    }
    steps = [type(s).__name__ for _, s in getattr(est, "steps", [("", est)])]
    text = json.dumps({"name": name, "steps": steps, "params": params}, sort_keys=True)
    return {
        "name": name,
        "steps": steps,
        "params": params,
        "stochastic": name in STOCHASTIC,
        "hash": hashlib.sha256(text.encode()).hexdigest()[:16],
    }


# ----------------------------------------------------------------------- splits
def make_splits(
    scheme: str, protocol: Protocol, y: np.ndarray, groups: np.ndarray, cv_seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Train/test indices of one subject for ``"within"`` or ``"runs"``."""
    from sklearn import model_selection as ms

    if scheme == "runs":
        if np.unique(groups).size < 2:
            raise ValidationError(
                f"scheme 'runs' needs at least two runs per subject; got runs "
                f"{np.unique(groups).tolist()}."
            )
        splitter: Any = ms.LeaveOneGroupOut()
    elif protocol.name == "moabb":
        splitter = ms.StratifiedKFold(5, shuffle=True, random_state=cv_seed)
    else:
        splitter = ms.ShuffleSplit(10, test_size=0.2, random_state=cv_seed)
    dummy = np.zeros((y.size, 1))
    grouped = groups if scheme == "runs" else None
    return [(tr, te) for tr, te in splitter.split(dummy, y, grouped)]


def _scores(est: Any, X: np.ndarray, y: np.ndarray) -> dict[str, float | None]:
    """Accuracy, and ROC-AUC as scikit-learn's ``"roc_auc"`` scorer (two classes)."""
    from sklearn.metrics import get_scorer

    acc = float(np.mean(est.predict(X) == y))
    auc = float(get_scorer("roc_auc")(est, X, y)) if np.unique(y).size == 2 else None
    return {"accuracy": acc, "roc_auc": auc}


# ------------------------------------------------------------------- one unit
def run_unit(
    spec: dict[str, Any], subjects: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """Compute one unit of work: ``spec`` on the subjects' arrays.

    ``subjects`` holds dicts with ``subject``, ``X``, ``y``, ``groups``: the one
    subject for ``"within"`` and ``"runs"``, every subject for ``"loso"``.
    Runs on one BLAS thread and one torch thread.
    """
    import torch
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    t0 = time.perf_counter()
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            if spec["scheme"] == "loso":
                out = _run_loso(spec, subjects)
            else:
                out = _run_folds(spec, subjects[0])
    finally:
        torch.set_num_threads(torch_threads)
    target = next(s for s in subjects if s["subject"] == spec["subject"])
    counts = np.bincount(target["y"], minlength=len(spec["classes"]))
    out["trials_per_class"] = {
        c: int(n) for c, n in zip(spec["classes"], counts, strict=True)
    }
    out["seconds"] = time.perf_counter() - t0
    return out


def _fit(
    spec: dict[str, Any], X: np.ndarray, y: np.ndarray, *, headless: bool = False
) -> tuple[Any, float]:
    protocol = PROTOCOLS[spec["protocol"]]
    est = build_pipeline(
        spec["pipeline"],
        protocol,
        sfreq=spec["sfreq"],
        rank=spec["rank"],
        seed=spec["seed"],
    )
    if headless:  # the first step was applied to every trial already
        est = est[1:]
    t0 = time.perf_counter()
    est.fit(X, y)
    return est, time.perf_counter() - t0


def _trial_features(spec: dict[str, Any], X: np.ndarray) -> tuple[np.ndarray, bool]:
    """Apply a pipeline's per-trial first step (a covariance estimate) once.

    A pipeline that starts with pyRiemann's ``Covariances`` computes each trial's
    matrix from that trial alone (nothing is fitted), so the matrices of all the
    subject's trials are computed once and the folds fit the rest of the
    pipeline: the same numbers, one estimate per trial instead of one per fold.
    """
    est = build_pipeline(
        spec["pipeline"],
        PROTOCOLS[spec["protocol"]],
        sfreq=spec["sfreq"],
        rank=spec["rank"],
    )
    steps = getattr(est, "steps", None)
    if steps and type(steps[0][1]).__name__ == "Covariances":
        return np.asarray(steps[0][1].transform(X)), True
    return X, False


def _run_folds(spec: dict[str, Any], sub: dict[str, Any]) -> dict[str, Any]:
    y, groups = sub["y"], sub["groups"]
    X, headless = _trial_features(spec, sub["X"])
    protocol = PROTOCOLS[spec["protocol"]]
    folds = []
    for train, test in make_splits(
        spec["scheme"], protocol, y, groups, spec["cv_seed"]
    ):
        est, fit_s = _fit(spec, X[train], y[train], headless=headless)
        folds.append(
            {"test": test.tolist(), "fit_s": fit_s} | _scores(est, X[test], y[test])
        )
    return {
        "folds": folds,
        "accuracy": float(np.mean([f["accuracy"] for f in folds])),
        "roc_auc": _mean_or_none([f["roc_auc"] for f in folds]),
    }


def _mean_or_none(values: Sequence[float | None]) -> float | None:
    return None if any(v is None for v in values) else float(np.mean(values))  # type: ignore[arg-type]


def _run_loso(
    spec: dict[str, Any], subjects: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    from neurodl.decode.transfer import calibration_draws

    target = spec["subject"]
    aligned = {
        s["subject"]: (align(s["X"], alignment_filter(s["X"], spec["align"])), s["y"])
        for s in subjects
    }
    Xt, yt = aligned[target]
    sources = [v for k, v in aligned.items() if k != target]
    X_src = np.concatenate([x for x, _ in sources])
    y_src = np.concatenate([y for _, y in sources])
    est, fit_s = _fit(spec, X_src, y_src)
    out: dict[str, Any] = {
        "folds": [
            {"test": list(range(yt.size)), "fit_s": fit_s} | _scores(est, Xt, yt)
        ],
        "n_train": int(y_src.size),
    }
    out["accuracy"] = out["folds"][0]["accuracy"]
    out["roc_auc"] = out["folds"][0]["roc_auc"]
    sizes = spec.get("calibration") or []
    if sizes:
        draws = calibration_draws(
            yt, sizes, repeats=CALIBRATION_REPEATS, seed=spec["cv_seed"]
        )
        curve: dict[str, list[dict[str, Any]]] = {str(k): [] for k in sizes}
        for calib, test in draws:
            for k in sizes:
                idx = calib[k]
                if k == 0:
                    model = est
                else:
                    model, _ = _fit(
                        spec,
                        np.concatenate([X_src, Xt[idx]]),
                        np.concatenate([y_src, yt[idx]]),
                    )
                curve[str(k)].append(
                    {"calibration": idx.tolist(), "test": test.tolist()}
                    | _scores(model, Xt[test], yt[test])
                )
        out["calibration"] = curve
    return out


# --------------------------------------------------------------------- backends
class _Backend:
    """Serial, joblib or Dask execution of independent calls."""

    def __init__(self, n_jobs: int | None, scheduler: str | None, timeout_s: float):
        self.kind = "serial"
        self.n_jobs = 1
        self.client: Any = None
        self.cluster: Any = None
        if scheduler is not None:
            from neurodl.jobs.runner import connect_cluster, parse_scheduler

            kind, target = parse_scheduler(scheduler, n_jobs)
            try:
                import distributed  # noqa: F401
            except ImportError:  # pragma: no cover - dask is a dependency
                raise ValidationError(
                    "'scheduler' needs Dask: pip install 'dask[distributed]'."
                ) from None
            self.client, self.cluster = connect_cluster(kind, target, timeout_s)
            self.kind = "dask"
            self.n_jobs = len(self.client.scheduler_info().get("workers", {}))
        elif n_jobs is not None and n_jobs != 1:
            self.kind = "joblib"
            self.n_jobs = check_int("n_jobs", n_jobs, minimum=1)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def map(
        self, fn: Callable[..., Any], calls: Sequence[tuple[Any, ...]]
    ) -> Iterator[tuple[int, Any]]:
        """Yield ``(index, fn(*calls[index]))`` as the calls finish."""
        if self.kind == "serial" or len(calls) == 0:
            for i, args in enumerate(calls):
                yield i, fn(*args)
        elif self.kind == "joblib":
            from joblib import Parallel, delayed

            par = Parallel(
                n_jobs=self.n_jobs, return_as="generator_unordered", max_nbytes="1M"
            )
            yield from par(
                delayed(_indexed)(i, fn, args) for i, args in enumerate(calls)
            )
        else:
            from distributed import as_completed

            futures = {
                self.client.submit(fn, *args, pure=False): i
                for i, args in enumerate(calls)
            }
            try:
                for fut in as_completed(list(futures)):
                    yield futures[fut], fut.result()
            finally:
                for fut in futures:
                    fut.cancel()

    def share(self, obj: Any) -> Any:
        """Send ``obj`` to the workers once (Dask) or hand it on as it is."""
        if self.kind == "dask":
            # a list, so a dict goes out whole (a dict is scattered item by item)
            return self.client.scatter([obj], broadcast=True)[0]
        return obj


def _indexed(i: int, fn: Callable[..., Any], args: tuple[Any, ...]) -> tuple[int, Any]:
    return i, fn(*args)


# ----------------------------------------------------------------------- cache
def unit_key(spec: dict[str, Any]) -> str:
    """Hex key of a unit of work: its canonical JSON, hashed."""
    return hashlib.sha256(json_text(spec).encode()).hexdigest()[:24]


def _load_cached(path: Path, spec: dict[str, Any]) -> dict[str, Any] | None:
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if stored.get("spec") != json.loads(json_text(spec)):
        return None
    result = stored.get("result")
    return result if isinstance(result, dict) else None


def _store(path: Path, spec: dict[str, Any], result: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(
            json_text({"spec": spec, "result": json_ready(result)}) + "\n",
            encoding="utf-8",
        )


# ------------------------------------------------------------------ evaluation
def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0]}
    for pkg in (
        "neurodl",
        "numpy",
        "scipy",
        "scikit-learn",
        "mne",
        "pyriemann",
        "torch",
    ):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:  # pragma: no cover
            out[pkg] = "absent"
    return out


def _check_inputs(
    pipelines: Sequence[str],
    scheme: str,
    align_: str,
    seeds: Sequence[int],
    calibration: Sequence[int] | None,
) -> tuple[list[str], list[int], tuple[int, ...]]:
    from neurodl.decode.transfer import check_sizes

    names = list(pipelines)
    if not names:
        raise ValidationError("'pipelines' must name at least one pipeline; got none.")
    for n in names:
        check_option("pipelines", n, PIPELINES)
    if len(set(names)) != len(names):
        raise ValidationError(f"'pipelines' repeats a pipeline; got {names}.")
    check_option("scheme", scheme, SCHEMES)
    check_option("align", align_, ALIGNMENTS)
    if align_ != "none" and scheme != "loso":
        raise ValidationError(
            f"'align' {align_!r} aligns subjects to each other, so it needs "
            f"scheme 'loso'; got scheme {scheme!r}."
        )
    seed_list = [check_int("seeds", s, minimum=0) for s in seeds]
    if not seed_list or len(set(seed_list)) != len(seed_list):
        raise ValidationError(f"'seeds' must be distinct integers >= 0; got {seeds!r}.")
    sizes: tuple[int, ...] = ()
    if calibration:
        if scheme != "loso":
            raise ValidationError(
                f"'calibration' trials of a new user need scheme 'loso'; got "
                f"scheme {scheme!r}."
            )
        sizes = check_sizes(calibration)
    return names, seed_list, sizes


def _check_same_montage(loaded: dict[int, SubjectData]) -> None:
    ref_s = min(loaded)
    ref = loaded[ref_s]
    for s, sub in sorted(loaded.items()):
        if sub.ch_names != ref.ch_names:
            missing = sorted(set(ref.ch_names) - set(sub.ch_names))
            extra = sorted(set(sub.ch_names) - set(ref.ch_names))
            what = (f"lacks {missing[:8]}" if missing else "") + (
                f"{' and ' if missing else ''}has {extra[:8]} in addition"
                if extra
                else ""
            )
            raise ValidationError(
                f"subjects must share one channel set for scheme 'loso' (a model "
                f"trained on some subjects is applied to another); subject {s} "
                f"{what or 'orders its channels differently'} compared with "
                f"subject {ref_s} ({len(sub.ch_names)} vs {len(ref.ch_names)} "
                "channels). Pick common channels first."
            )
        if sub.classes != ref.classes or sub.sfreq != ref.sfreq:
            raise ValidationError(
                f"subjects must share classes and sampling rate for scheme 'loso'; "
                f"subject {s} has {sub.classes} at {sub.sfreq:g} Hz, subject "
                f"{ref_s} {ref.classes} at {ref.sfreq:g} Hz."
            )


def evaluate_subjects(
    data: str | os.PathLike[str] | Loader,
    subjects: Sequence[int],
    *,
    tasks: Sequence[str] = ("left-right",),
    pipelines: Sequence[str] = ("csp-lda", "riemann"),
    scheme: str = "within",
    protocol: str = "mne",
    align: str = "none",
    calibration: Sequence[int] | None = None,
    seeds: Sequence[int] = (0,),
    cv_seed: int | None = None,
    runs: Sequence[int] | None = None,
    min_trials_per_class: int = 5,
    out: str | os.PathLike[str] | None = None,
    n_jobs: int | None = None,
    scheduler: str | None = None,
    progress: bool = False,
    timeout_s: float = 10.0,
) -> dict[str, Any]:
    """Evaluate ``pipelines`` on ``subjects`` for each of ``tasks``.

    Parameters
    ----------
    data : path or callable
        A folder of ``S###`` subject folders (eegmmidb's layout, ``S001/S001R04.edf``),
        or ``loader(subject) -> EEGEpochs`` for other datasets.
    subjects : sequence of int
        Subject numbers.
    tasks : sequence of str
        ``"left-right"`` and/or ``"hands-feet"``
        (:data:`~neurodl.decode.subjects.TASKS`).
    pipelines : sequence of str
        Names from :data:`PIPELINES`.
    scheme : {"within", "runs", "loso"}
        See the module docstring.
    protocol : {"mne", "moabb"}
        :data:`~neurodl.decode.subjects.PROTOCOLS`.
    align : {"none", "ea", "recenter"}
        Unlabelled alignment of each subject (``"loso"`` only).
    calibration : sequence of int, optional
        Labelled trials per class of the new user for a learning curve
        (``"loso"`` only), e.g. ``(0, 4, 8, 16)``.
    seeds : sequence of int
        Seeds of the stochastic pipelines (:data:`STOCHASTIC`), each run once per
        seed; the others run once.
    cv_seed : int, optional
        Seed of the within-subject folds and calibration draws (default: 42,
        the seed of MNE's example).
    runs : sequence of int, optional
        Other runs of the task's kind (e.g. the executed 3, 7, 11).
    min_trials_per_class : int
        Fewer trials in a class of a subject is an error naming the subject.
    out : path, optional
        Folder for ``cache/`` (one file per finished unit) and ``results.json``.
    n_jobs : int, optional
        Units in parallel through joblib.
    scheduler : str, optional
        ``"local:N"`` or a Dask scheduler's address (``"tcp://host:8786"``).
    progress : bool
        Progress bar over units on stderr.
    timeout_s : float
        How long an existing Dask scheduler may take to answer.

    Returns
    -------
    dict
        ``units`` (spec and result of each), ``subjects`` (checksums, files,
        trials per class), ``pipelines`` (configurations), ``protocol``,
        ``versions``, ``run`` (computed, reused, backend, wall time) and
        ``report`` (:func:`neurodl.decode.report.summarize`).
    """
    from neurodl.decode.report import summarize

    t_start = time.perf_counter()
    proto = PROTOCOLS[check_option("protocol", protocol, PROTOCOLS)]
    names, seed_list, sizes = _check_inputs(
        pipelines, scheme, align, seeds, calibration
    )
    task_objs = [make_task(t, runs) for t in dict.fromkeys(tasks)]
    if not task_objs:
        raise ValidationError("'tasks' must name at least one task; got none.")
    subj = sorted({check_int("subjects", s, minimum=1) for s in subjects})
    if scheme == "loso" and len(subj) < 2:
        raise ValidationError(f"scheme 'loso' needs at least two subjects; got {subj}.")
    cv = 42 if cv_seed is None else check_int("cv_seed", cv_seed, minimum=0)
    check_int("min_trials_per_class", min_trials_per_class, minimum=1)
    if scheduler is not None:
        from neurodl.jobs.runner import parse_scheduler

        parse_scheduler(scheduler, n_jobs)
    elif n_jobs is not None:
        check_int("n_jobs", n_jobs, minimum=1)
    folder = None if out is None else Path(out)
    if folder is not None and folder.exists() and not folder.is_dir():
        raise ValidationError(f"'out' must be a folder; got {str(folder)!r}, a file.")

    # checksums first (cheap), so cached units need no loading
    checks: dict[tuple[str, int], str] = {}
    files: dict[tuple[str, int], dict[str, str]] = {}
    headers: dict[tuple[str, int], tuple[float, int]] = {}
    if not callable(data):
        for t in task_objs:
            for s in subj:
                files[t.name, s] = file_checksums(data, s, t.runs)
                checks[t.name, s] = data_checksum(
                    files[t.name, s], t, proto, min_trials_per_class
                )
                headers[t.name, s] = file_header(data, s, t.runs)
    backend: _Backend | None = None
    loaded: dict[tuple[str, int], SubjectData] = {}
    try:
        if callable(data):  # the arrays are the checksum: load first
            backend = _Backend(n_jobs, scheduler, timeout_s)
            loaded = _load_all(
                backend, data, task_objs, subj, proto, min_trials_per_class
            )
            for key, sub in loaded.items():
                checks[key] = sub.checksum
                headers[key] = (sub.sfreq, len(sub.ch_names))
        specs = _make_specs(
            task_objs,
            subj,
            names,
            seed_list,
            scheme,
            proto,
            align,
            sizes,
            cv,
            checks,
            headers,
            loaded,
        )
        results: dict[str, dict[str, Any]] = {}
        for spec in specs:
            if folder is not None:
                found = _load_cached(folder / "cache" / f"{unit_key(spec)}.json", spec)
                if found is not None:
                    results[unit_key(spec)] = found
        reused = len(results)
        todo = [s for s in specs if unit_key(s) not in results]
        if todo:
            if backend is None:
                backend = _Backend(n_jobs, scheduler, timeout_s)
            need = {(s["task"], s["subject"]) for s in todo}
            if scheme == "loso":
                need = {(s["task"], x) for s in todo for x in subj}
            missing = sorted(need - set(loaded))
            if missing:
                loaded.update(
                    _load_keys(
                        backend, data, task_objs, missing, proto, min_trials_per_class
                    )
                )
            if scheme == "loso":
                for t in task_objs:
                    _check_same_montage({s: loaded[t.name, s] for s in subj})
            _run_todo(
                backend, todo, loaded, folder, results, progress, reused, len(specs)
            )
        backend_kind = backend.kind if backend is not None else "none"
        workers = backend.n_jobs if backend is not None else 0
    finally:
        if backend is not None:
            backend.close()
    units = [{"spec": s, "result": results[unit_key(s)]} for s in specs]
    doc = {
        "protocol": proto.to_dict(),
        "scheme": scheme,
        "align": align,
        "calibration": list(sizes),
        "tasks": {
            t.name: {
                "runs": list(t.runs),
                "description": t.description,
                "events": t.events,
            }
            for t in task_objs
        },
        "pipelines": {n: units_config(specs, n) for n in names},
        "seeds": seed_list,
        "cv_seed": cv,
        "subjects": _subject_info(task_objs, subj, files, loaded, units),
        "units": units,
        "versions": _versions(),
        "run": {
            "units": len(specs),
            "computed": len(specs) - reused,
            "reused": reused,
            "backend": backend_kind,
            "workers": workers,
            "wall_s": time.perf_counter() - t_start,
        },
    }
    doc["report"] = summarize(doc)
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(folder / "results.json") as tmp:
            tmp.write_text(json_text(json_ready(doc)) + "\n", encoding="utf-8")
    return doc


def units_config(specs: Sequence[dict[str, Any]], name: str) -> dict[str, Any]:
    """Return pipeline ``name``'s configuration as its first unit records it."""
    for s in specs:
        if s["pipeline"] == name:
            return dict(s["config"])
    return {}  # pragma: no cover - every pipeline has units


def _make_specs(
    task_objs: Sequence[Task],
    subj: Sequence[int],
    names: Sequence[str],
    seed_list: Sequence[int],
    scheme: str,
    proto: Protocol,
    align_: str,
    sizes: tuple[int, ...],
    cv: int,
    checks: dict[tuple[str, int], str],
    headers: dict[tuple[str, int], tuple[float, int]],
    loaded: dict[tuple[str, int], SubjectData],
) -> list[dict[str, Any]]:
    configs: dict[tuple[str, float, int | None], dict[str, Any]] = {}
    specs = []
    for t in task_objs:
        for name in names:
            for s in subj:
                sfreq, n_ch = headers[t.name, s]
                # the rank the average reference leaves (CSP need not estimate it)
                rank = n_ch - 1 if proto.reference == "average" else None
                if (t.name, s) in loaded:
                    classes = list(loaded[t.name, s].classes)
                else:
                    classes = sorted(set(t.events.values()))
                ckey = (name, sfreq, rank)
                if ckey not in configs:
                    configs[ckey] = pipeline_config(name, proto, sfreq=sfreq, rank=rank)
                data_id = (
                    {str(x): checks[t.name, x] for x in subj}
                    if scheme == "loso"
                    else {str(s): checks[t.name, s]}
                )
                for seed in seed_list if name in STOCHASTIC else seed_list[:1]:
                    specs.append(
                        {
                            "task": t.name,
                            "runs": list(t.runs),
                            "classes": classes,
                            "pipeline": name,
                            "config": configs[ckey],
                            "subject": s,
                            "scheme": scheme,
                            "protocol": proto.name,
                            "align": align_,
                            "calibration": list(sizes),
                            "seed": int(seed),
                            "cv_seed": cv,
                            "sfreq": sfreq,
                            "rank": rank,
                            "data": data_id,
                        }
                    )
    return specs


def _load_all(
    backend: _Backend,
    data: Any,
    task_objs: Sequence[Task],
    subj: Sequence[int],
    proto: Protocol,
    min_trials: int,
) -> dict[tuple[str, int], SubjectData]:
    keys = [(t.name, s) for t in task_objs for s in subj]
    return _load_keys(backend, data, task_objs, keys, proto, min_trials)


def _load_keys(
    backend: _Backend,
    data: Any,
    task_objs: Sequence[Task],
    keys: Sequence[tuple[str, int]],
    proto: Protocol,
    min_trials: int,
) -> dict[tuple[str, int], SubjectData]:
    by_name = {t.name: t for t in task_objs}
    calls = [(data, s, by_name[t], proto, min_trials) for t, s in keys]
    out: dict[tuple[str, int], SubjectData] = {}
    for i, sub in backend.map(_load_one, calls):
        out[keys[i]] = sub
    return out


def _load_one(
    data: Any, subject: int, task: Task, proto: Protocol, min_trials: int
) -> SubjectData:
    return load_subject(data, subject, task, proto, min_trials_per_class=min_trials)


def _arrays(sub: SubjectData) -> dict[str, Any]:
    return {"subject": sub.subject, "X": sub.X, "y": sub.y, "groups": sub.groups}


def _run_todo(
    backend: _Backend,
    todo: Sequence[dict[str, Any]],
    loaded: dict[tuple[str, int], SubjectData],
    folder: Path | None,
    results: dict[str, dict[str, Any]],
    progress: bool,
    done: int,
    total: int,
) -> None:
    from neurodl.jobs.runner import _progress

    shared = {key: backend.share(_arrays(sub)) for key, sub in loaded.items()}
    calls = []
    for spec in todo:
        if spec["scheme"] == "loso":
            keys = sorted(k for k in loaded if k[0] == spec["task"])
            calls.append((spec, [shared[k] for k in keys]))
        else:
            calls.append((spec, [shared[spec["task"], spec["subject"]]]))
    bar = _progress(total, done, progress)
    try:
        for i, result in backend.map(run_unit, calls):
            spec = todo[i]
            results[unit_key(spec)] = json_ready(result)
            if folder is not None:
                _store(folder / "cache" / f"{unit_key(spec)}.json", spec, result)
            if bar is not None:
                bar.advance(bar.task_ids[0])
    finally:
        if bar is not None:
            bar.stop()


def _subject_info(
    task_objs: Sequence[Task],
    subj: Sequence[int],
    files: dict[tuple[str, int], dict[str, str]],
    loaded: dict[tuple[str, int], SubjectData],
    units: Sequence[dict[str, Any]],
) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for t in task_objs:
        per: dict[str, Any] = {}
        for s in subj:
            info: dict[str, Any] = {"files": files.get((t.name, s), {})}
            sub = loaded.get((t.name, s))
            if sub is not None:
                info.update(
                    checksum=sub.checksum,
                    trials_per_class=sub.trials_per_class(),
                    n_channels=len(sub.ch_names),
                    sfreq=sub.sfreq,
                )
            else:  # every unit came from the cache: counts from a stored unit
                info["trials_per_class"] = _cached_counts(units, t.name, s)
            per[str(s)] = info
        out[t.name] = per
    return out


def _cached_counts(
    units: Sequence[dict[str, Any]], task: str, subject: int
) -> dict[str, int] | None:
    for u in units:
        if u["spec"]["task"] == task and u["spec"]["subject"] == subject:
            counts = u["result"].get("trials_per_class")
            if counts:
                return dict(counts)
    return None
