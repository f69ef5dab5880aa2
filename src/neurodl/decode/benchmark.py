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
recomputes only itself. A stored unit is also computed again when another
version of neurodl stored it, or an earlier one that did not record every score
a unit now records (:data:`~neurodl.decode.units.UNIT_FIELDS`) or the versions.
Each unit records the package versions of the process that computed it; the
report names the units computed under other versions than the run's (a
dependency upgraded since, or a cluster worker with other packages).
Units run serially (default), through joblib
(``n_jobs``) or on a Dask cluster (``scheduler``: ``"local:N"`` or an address),
with one BLAS and torch thread each; the scores do not depend on which.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from neurodl._atomic import atomic_path
from neurodl._json import json_ready, json_text
from neurodl._validate import check_int, check_option
from neurodl.decode._backends import Backend, load_cached, store, unit_key
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
from neurodl.decode.transfer import (
    ALIGNMENTS,
    align,
    alignment_filter,
    check_tangent_pipelines,
)
from neurodl.decode.units import (
    _COST,
    PIPELINES,
    SCHEMES,
    STOCHASTIC,
    UNIT_FIELDS,
    build_pipeline,
    package_versions,
    pipeline_config,
    run_unit,
)
from neurodl.errors import ValidationError

__all__ = [
    "PIPELINES",
    "SCHEMES",
    "build_pipeline",
    "evaluate_subjects",
    "pipeline_config",
]


# ------------------------------------------------------------------ evaluation
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
    if align_ == "tangent":
        check_tangent_pipelines(names)
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
    align : {"none", "ea", "recenter", "tangent"}
        Unlabelled alignment of each subject (``"loso"`` only); ``"tangent"``
        centres the tangent vectors of the ``"riemann"`` pipeline (only).
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
        How long an existing Dask scheduler may take to answer, and to have a
        worker (one without workers, or with workers running another neurodl,
        is an error naming them).

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

    versions = package_versions()
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
    backend: Backend | None = None
    loaded: dict[tuple[str, int], SubjectData] = {}
    try:
        if callable(data):  # the arrays are the checksum: load first
            backend = Backend(n_jobs, scheduler, timeout_s)
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
                found = load_cached(
                    folder / "cache" / f"{unit_key(spec)}.json",
                    spec,
                    UNIT_FIELDS,
                    neurodl=versions["neurodl"],
                )
                if found is not None:
                    results[unit_key(spec)] = found
        reused = len(results)
        todo = [s for s in specs if unit_key(s) not in results]
        if todo:
            if backend is None:
                backend = Backend(n_jobs, scheduler, timeout_s)
            need = {(s["task"], s["subject"]) for s in todo}
            if scheme == "loso":
                need = {(s["task"], x) for s in todo for x in subj}
            missing = sorted(need - set(loaded))
            if missing:
                loaded.update(
                    _load_keys(
                        backend,
                        data,
                        task_objs,
                        missing,
                        proto,
                        min_trials_per_class,
                        files,
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
        "versions": versions,
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
    backend: Backend,
    data: Any,
    task_objs: Sequence[Task],
    subj: Sequence[int],
    proto: Protocol,
    min_trials: int,
) -> dict[tuple[str, int], SubjectData]:
    keys = [(t.name, s) for t in task_objs for s in subj]
    return _load_keys(backend, data, task_objs, keys, proto, min_trials, {})


def _load_keys(
    backend: Backend,
    data: Any,
    task_objs: Sequence[Task],
    keys: Sequence[tuple[str, int]],
    proto: Protocol,
    min_trials: int,
    files: dict[tuple[str, int], dict[str, str]],
) -> dict[tuple[str, int], SubjectData]:
    """Load ``keys`` through ``backend``; ``files``: checksums already computed."""
    by_name = {t.name: t for t in task_objs}
    calls = [
        (data, s, by_name[t], proto, min_trials, files.get((t, s))) for t, s in keys
    ]
    out: dict[tuple[str, int], SubjectData] = {}
    for i, sub in backend.map(_load_one, calls):
        out[keys[i]] = sub
    return out


def _load_one(
    data: Any,
    subject: int,
    task: Task,
    proto: Protocol,
    min_trials: int,
    files: dict[str, str] | None,
) -> SubjectData:
    return load_subject(
        data, subject, task, proto, min_trials_per_class=min_trials, files=files
    )


def _arrays(sub: SubjectData, method: str | None = None) -> dict[str, Any]:
    out = {"subject": sub.subject, "X": sub.X, "y": sub.y, "groups": sub.groups}
    if method is not None:
        out["X"] = align(sub.X, alignment_filter(sub.X, method))
        out["aligned"] = method
    return out


def _run_todo(
    backend: Backend,
    todo: Sequence[dict[str, Any]],
    loaded: dict[tuple[str, int], SubjectData],
    folder: Path | None,
    results: dict[str, dict[str, Any]],
    progress: bool,
    done: int,
    total: int,
) -> None:
    from neurodl.jobs.runner import _progress

    # alignment of each subject (no labels) once, not in every unit that uses it
    aligns = {s["align"] for s in todo if s["scheme"] == "loso"} - {"none"}
    method = aligns.pop() if len(aligns) == 1 else None
    shared = {key: backend.share(_arrays(sub, method)) for key, sub in loaded.items()}
    # the longest units first, so the last ones to finish are short
    todo = sorted(todo, key=lambda s: -_COST.get(s["pipeline"], 1))
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
                store(folder / "cache" / f"{unit_key(spec)}.json", spec, result)
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
