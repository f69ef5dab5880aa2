"""Where the units of an evaluation run (serial, joblib, Dask) and where they are kept.

Each finished unit is stored atomically as ``cache/<key>.json`` (its specification
and result) by the one process that runs the evaluation, so nothing is lost when
it stops and two workers never write the same file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from neurodl._atomic import atomic_path
from neurodl._json import json_ready, json_text
from neurodl._validate import check_int

__all__ = ["Backend", "load_cached", "store", "unit_key"]


# --------------------------------------------------------------------- backends
class Backend:
    """Serial, joblib or Dask execution of independent calls."""

    def __init__(self, n_jobs: int | None, scheduler: str | None, timeout_s: float):
        self.kind = "serial"
        self.n_jobs = 1
        self.client: Any = None
        self.cluster: Any = None
        if scheduler is not None:
            from neurodl.jobs.runner import connect_cluster, parse_scheduler

            kind, target = parse_scheduler(scheduler, n_jobs)
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


def load_cached(
    path: Path,
    spec: dict[str, Any],
    fields: Sequence[str] = (),
    neurodl: str | None = None,
) -> dict[str, Any] | None:
    """Return the result stored at ``path`` for ``spec``, or None to compute it.

    None also when the stored result lacks one of ``fields``: a unit stored by an
    earlier version that did not record it yet is computed again, so every unit
    of a report records the same things. With ``neurodl`` (a version), None too
    when the result does not record that neurodl computed it: another version
    may compute it differently.
    """
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if stored.get("spec") != json.loads(json_text(spec)):
        return None
    result = stored.get("result")
    if not isinstance(result, dict) or any(f not in result for f in fields):
        return None
    if neurodl is not None:
        versions = result.get("versions")
        if not isinstance(versions, dict) or versions.get("neurodl") != neurodl:
            return None
    return result


def store(path: Path, spec: dict[str, Any], result: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(
            json_text({"spec": spec, "result": json_ready(result)}) + "\n",
            encoding="utf-8",
        )
