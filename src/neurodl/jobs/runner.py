"""Run a pure job function over many parameter points through Dask, resumably.

See :mod:`neurodl.jobs` for the contract. Dask is imported only when a cluster is
needed, so importing this module starts nothing and opens no socket.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from itertools import product
from pathlib import Path
from typing import Any

from neurodl._atomic import atomic_path
from neurodl._json import json_ready, json_text
from neurodl.errors import NeurodlError, ValidationError

__all__ = [
    "grid",
    "parse_grid",
    "parse_scheduler",
    "point_key",
    "point_seed",
    "run_jobs",
]

Job = Callable[[dict[str, Any], int], Mapping[str, Any]]

SCHEDULER_TIMEOUT_S = 5.0
"""How long :func:`run_jobs` waits for an existing scheduler to answer."""

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_WORKER_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
    "NEURODL_NUM_THREADS": "1",
}
_WORKER_CONFIG = {
    "distributed.worker.profile.enabled": False,
    # glibc's default (dynamic) trim threshold: Dask's 64 kB returns freed memory
    # to the system at once, and a torch fit allocates and frees small tensors
    # all the time
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
}


# ------------------------------------------------------------------ parameters
def _canonical(value: Any, name: str) -> Any:
    """Return ``value`` as plain JSON types (numpy scalars too); reject the rest."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        value = value.item()  # numpy scalar
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError(f"{name!r} must be finite; got {value!r}.")
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): _canonical(v, f"{name}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v, f"{name}[{i}]") for i, v in enumerate(value)]
    raise ValidationError(
        f"{name!r} must hold numbers, strings, booleans, lists or dicts; got "
        f"{type(value).__name__} {value!r}."
    )


def _digest(obj: Any) -> bytes:
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).digest()


def point_seed(seed: int, params: Mapping[str, Any]) -> int:
    """Return the seed of the job at ``params`` in a sweep with base ``seed``.

    A hash (SHA-256) of the base seed and the point's parameters, in [0, 2**63):
    it depends on neither the point's position in the sweep nor the worker that
    runs it, and the order of the keys does not matter. ``3`` and ``3.0`` are
    different parameters (give floats for float axes).

    >>> point_seed(0, {"g": 5.0, "nu": 2.0})
    7056506706325583413
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValidationError(f"'seed' must be an integer >= 0; got {seed!r}.")
    data = {"seed": seed, "params": _canonical(dict(params), "params")}
    return int.from_bytes(_digest(data)[:8], "big") >> 1


def point_key(params: Mapping[str, Any], common: Mapping[str, Any], seed: int) -> str:
    """Return the file name stem under which a finished point is stored.

    It hashes everything the result depends on: the point's parameters, the
    parameters common to all points and the base seed, so a restart with other
    settings never reuses a stored point.
    """
    data = {
        "params": _canonical(dict(params), "params"),
        "common": _canonical(dict(common), "common"),
        "seed": seed,
    }
    return _digest(data).hex()[:20]


def grid(**axes: Sequence[Any]) -> list[dict[str, Any]]:
    """Return every combination of the ``axes`` values, the last axis fastest.

    >>> grid(a=[1, 2], b=["x", "y"])
    [{'a': 1, 'b': 'x'}, {'a': 1, 'b': 'y'}, {'a': 2, 'b': 'x'}, {'a': 2, 'b': 'y'}]
    """
    names = list(axes)
    for name in names:
        if len(axes[name]) == 0:
            raise ValidationError(f"{name!r} must hold at least one value; got none.")
    return [dict(zip(names, values, strict=True)) for values in product(*axes.values())]


def parse_grid(name: str, text: str) -> list[float]:
    """Parse a grid axis: ``"start:stop:count"`` (evenly spaced) or one number.

    ``"3:8:11"`` gives 3.0, 3.5, ..., 8.0 (both ends included, as
    ``numpy.linspace``); ``"2.5"`` gives ``[2.5]``; a count of 1 gives ``[start]``.

    Raises
    ------
    ValidationError
        Naming ``name``, the expected form and the text given.
    """
    form = (
        f"{name!r} must be 'start:stop:count' (two finite numbers and an integer "
        f"count >= 1) or one number"
    )
    text = str(text).strip()
    one = re.fullmatch(_NUMBER, text)
    if one:
        value = float(text)
        if not math.isfinite(value):
            raise ValidationError(f"{form}; got {text!r}.")
        return [value]
    m = re.fullmatch(rf"\s*({_NUMBER})\s*:\s*({_NUMBER})\s*:\s*([-+]?\d+)\s*", text)
    if not m:
        raise ValidationError(f"{form}; got {text!r}.")
    start, stop, count = float(m.group(1)), float(m.group(2)), int(m.group(3))
    if not (math.isfinite(start) and math.isfinite(stop)):
        raise ValidationError(f"{form}; got {text!r}.")
    if count < 1:
        raise ValidationError(
            f"{name!r} must have a count >= 1; got {count} in {text!r}."
        )
    if count == 1:
        return [start]
    step = (stop - start) / (count - 1)
    values = [start + i * step for i in range(count)]
    values[-1] = stop
    return values


def parse_scheduler(scheduler: str | None, n_jobs: int | None) -> tuple[str, Any]:
    """Return ``("local", n_workers)`` or ``("address", address)``.

    ``scheduler`` is None (a local cluster of ``n_jobs`` workers, default: the
    number of CPUs), ``"local:N"`` (a local cluster of N workers) or an address
    with a scheme (``"tcp://host:8786"``). Giving both ``scheduler`` and
    ``n_jobs`` is an error.
    """
    if n_jobs is not None and (
        isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1
    ):
        raise ValidationError(f"'n_jobs' must be an integer >= 1; got {n_jobs!r}.")
    if scheduler is None:
        return "local", n_jobs if n_jobs is not None else max(1, os.cpu_count() or 1)
    if n_jobs is not None:
        raise ValidationError(
            f"'n_jobs' and 'scheduler' exclude each other (give one); got "
            f"n_jobs={n_jobs} and scheduler={scheduler!r}."
        )
    text = str(scheduler).strip()
    m = re.fullmatch(r"local:(\d+)", text)
    if m:
        n = int(m.group(1))
        if n < 1:
            raise ValidationError(
                f"'scheduler' 'local:N' needs N >= 1 workers; got {scheduler!r}."
            )
        return "local", n
    if re.fullmatch(r"[a-z][a-z0-9+.-]*://[^\s/]+", text):
        return "address", text
    raise ValidationError(
        f"'scheduler' must be 'local:N' or a Dask scheduler address such as "
        f"'tcp://host:8786'; got {scheduler!r}."
    )


# ---------------------------------------------------------------------- cluster
def connect_cluster(kind: str, value: Any, timeout_s: float) -> tuple[Any, Any]:
    """Start or reach the cluster; return ``(client, cluster or None)``."""
    import logging

    import dask
    from distributed import Client, LocalCluster

    if kind == "local":
        # Dask's sampling profiler takes the GIL every 10 ms to walk the running
        # task's stack: it made a ConvNet fit (many small torch calls) 1.7x slower
        # in a worker. The nannies hand this configuration to their workers.
        with dask.config.set(_WORKER_CONFIG):
            cluster = LocalCluster(
                n_workers=value,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                memory_limit=0,
                silence_logs=logging.ERROR,
                env=dict(_WORKER_ENV),
            )
        try:
            return Client(cluster), cluster
        except BaseException:
            cluster.close()
            raise
    try:
        client = Client(value, timeout=timeout_s)
    except (OSError, TimeoutError) as exc:
        raise ValidationError(
            f"'scheduler' {value!r} does not answer (waited {timeout_s:g} s: "
            f"{type(exc).__name__}); start a Dask scheduler there "
            f"('dask scheduler'), or use 'local:N' for a local cluster."
        ) from None
    try:
        check_workers(client, value, timeout_s)
    except BaseException:
        client.close()
        raise
    return client, None


def check_workers(client: Any, address: str, timeout_s: float) -> None:
    """Raise unless the scheduler has a worker and every worker runs this neurodl.

    Without a worker the jobs would wait forever; a worker with another neurodl
    (or none) would compute other results than this process (or fail on each job).
    """
    from importlib.metadata import PackageNotFoundError, version

    try:
        client.wait_for_workers(1, timeout=timeout_s)
    except TimeoutError:
        raise ValidationError(
            f"'scheduler' {address!r} answers but has no workers (waited "
            f"{timeout_s:g} s); start one there ('dask worker {address}'), or use "
            f"'local:N' for a local cluster."
        ) from None
    try:
        mine: str | None = version("neurodl")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree
        mine = None
    # a stdlib function, so a worker without neurodl can run it too
    found = client.run(version, "neurodl", on_error="return")
    other = {
        w: (
            v
            if isinstance(v, str)
            else "no neurodl"
            if isinstance(v, PackageNotFoundError)
            else f"no answer ({type(v).__name__})"
        )
        for w, v in found.items()
        if not (v == mine or (mine is None and isinstance(v, PackageNotFoundError)))
    }
    if other:
        listing = ", ".join(f"{w} has {v}" for w, v in sorted(other.items()))
        raise ValidationError(
            f"'scheduler' {address!r} has workers without this process's neurodl "
            f"{mine or '(not installed)'}: {listing}. Install the same neurodl on "
            f"every worker; another version could compute other results."
        )


def _call(func: Job, params: dict[str, Any], seed: int) -> dict[str, Any]:
    """Run one job in a worker; its result as JSON-ready data."""
    return json_ready(dict(func(dict(params), seed)))


# ---------------------------------------------------------------------- storage
def _load(path: Path, record: dict[str, Any]) -> dict[str, Any] | None:
    """Return the stored result of ``record``'s point, or None if absent or other."""
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    same = all(stored.get(k) == record[k] for k in ("params", "common", "base_seed"))
    if not same or not isinstance(stored.get("result"), dict):
        return None
    return stored["result"]


def _store(path: Path, record: dict[str, Any], result: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json_text({**record, "result": result}) + "\n", encoding="utf-8")


def _progress(total: int, done: int, show: bool) -> Any:
    if not show:
        return None
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )
    bar.start()
    bar.add_task("points", total=total, completed=done)
    return bar


# ------------------------------------------------------------------------- run
def run_jobs(
    func: Job,
    points: Sequence[Mapping[str, Any]],
    *,
    seed: int = 0,
    common: Mapping[str, Any] | None = None,
    out: str | os.PathLike[str] | None = None,
    n_jobs: int | None = None,
    scheduler: str | None = None,
    progress: bool = False,
    timeout_s: float = SCHEDULER_TIMEOUT_S,
    meta: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Run ``func(common | point, point_seed(seed, point))`` for every point.

    Parameters
    ----------
    func : callable
        The job: ``func(params, seed) -> dict``, a pure function (importable, or
        picklable by cloudpickle) whose result holds JSON data and numbers.
    points : sequence of dict
        The varying parameters of each job (e.g. :func:`grid`); no duplicates.
    seed : int
        Base seed; each point's seed is :func:`point_seed` ``(seed, point)``.
    common : dict, optional
        Parameters shared by every job (merged under each point's, stored with
        the results, and part of the key of the stored points).
    out : path, optional
        Folder for ``points/<key>.json`` (each finished point, written atomically
        as it finishes) and ``results.json`` (written atomically at the end).
        Points already stored there with the same parameters, common parameters
        and base seed are not run again. Without ``out`` nothing is stored.
    n_jobs : int, optional
        Workers of the local cluster (one thread each); default: the CPU count.
    scheduler : str, optional
        ``"local:N"`` or the address of a running Dask scheduler
        (``"tcp://host:8786"``); not together with ``n_jobs``.
    progress : bool
        Draw a progress bar on stderr.
    timeout_s : float
        How long to wait for an existing scheduler to answer.
    meta : dict, optional
        Extra data for ``results.json`` (e.g. the command that made it).

    Returns
    -------
    dict
        ``points`` (per point, in the given order: ``params``, ``seed``,
        ``result``), ``seed``, ``common``, ``meta`` and ``run`` (points computed
        and reused, workers, wall time). The same data is in ``results.json``.

    Raises
    ------
    ValidationError
        Bad points, options, or a scheduler that does not answer within
        ``timeout_s``, has no worker by then, or has workers running another
        neurodl (then nothing is written).
    Exception
        The first error a job raises, with the point named in a note; the points
        finished before it stay stored.
    """
    t0 = time.perf_counter()
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValidationError(f"'seed' must be an integer >= 0; got {seed!r}.")
    kind, target = parse_scheduler(scheduler, n_jobs)
    common_c = _canonical(dict(common or {}), "common")
    if len(points) == 0:
        raise ValidationError("'points' must hold at least one point; got none.")
    records: list[dict[str, Any]] = []
    keys: set[str] = set()
    for i, point in enumerate(points):
        params = _canonical(dict(point), f"points[{i}]")
        overlap = sorted(set(params) & set(common_c))
        if overlap:
            raise ValidationError(
                f"'points[{i}]' and 'common' both set {overlap}; give each once."
            )
        key = point_key(params, common_c, seed)
        if key in keys:
            raise ValidationError(f"'points[{i}]' repeats an earlier point: {params}.")
        keys.add(key)
        records.append(
            {
                "key": key,
                "params": params,
                "common": common_c,
                "base_seed": seed,
                "seed": point_seed(seed, params),
            }
        )
    folder = None if out is None else Path(out)
    if folder is not None and folder.exists() and not folder.is_dir():
        raise ValidationError(f"'out' must be a folder; got {str(folder)!r}, a file.")
    results: dict[str, dict[str, Any]] = {}
    if folder is not None and (folder / "points").is_dir():
        for rec in records:
            found = _load(folder / "points" / f"{rec['key']}.json", rec)
            if found is not None:
                results[rec["key"]] = found
    reused = len(results)
    todo = [rec for rec in records if rec["key"] not in results]
    workers = 0
    if todo:
        if kind == "local":
            target = min(target, len(todo))
        client, cluster = connect_cluster(kind, target, timeout_s)
        try:
            workers = len(client.scheduler_info().get("workers", {}))
            if folder is not None:
                (folder / "points").mkdir(parents=True, exist_ok=True)
            _run_todo(
                client, func, todo, folder, results, progress, reused, len(records)
            )
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    doc = {
        "seed": seed,
        "common": common_c,
        "meta": json_ready(dict(meta or {})),
        "points": [
            {"params": r["params"], "seed": r["seed"], "result": results[r["key"]]}
            for r in records
        ],
        "run": {
            "n_points": len(records),
            "computed": len(todo),
            "reused": reused,
            "workers": workers,
            "wall_s": time.perf_counter() - t0,
        },
    }
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(folder / "results.json") as tmp:
            tmp.write_text(json_text(doc) + "\n", encoding="utf-8")
    return doc


def _run_todo(
    client: Any,
    func: Job,
    todo: list[dict[str, Any]],
    folder: Path | None,
    results: dict[str, dict[str, Any]],
    progress: bool,
    done: int,
    total: int,
) -> None:
    from distributed import as_completed

    futures = {
        client.submit(
            _call, func, {**rec["common"], **rec["params"]}, rec["seed"], pure=False
        ): rec
        for rec in todo
    }
    bar = _progress(total, done, progress)
    try:
        for fut in as_completed(list(futures)):
            rec = futures[fut]
            if fut.status == "error":
                exc = fut.exception()
                for other in futures:
                    other.cancel()
                if isinstance(exc, BaseException):
                    if not isinstance(exc, NeurodlError):
                        exc.add_note(f"in the job at {rec['params']}")
                    raise exc
                raise RuntimeError(f"the job at {rec['params']} failed")
            result = fut.result()
            results[rec["key"]] = result
            if folder is not None:
                _store(folder / "points" / f"{rec['key']}.json", rec, result)
            if bar is not None:
                bar.advance(bar.task_ids[0])
    finally:
        if bar is not None:
            bar.stop()
        sys.stderr.flush()
