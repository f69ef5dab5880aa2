"""Many independent jobs through Dask: parameter sweeps, subjects, folds.

A *job* is a pure function ``func(params, seed) -> dict`` of a parameter dict and
an integer seed. :func:`run_jobs` runs one job per point of a list of parameter
dicts on a Dask cluster -- a local one with one thread per worker by default, or
an existing one (``scheduler="tcp://host:8786"``) -- and

* derives each point's seed from the base seed and the point's parameters
  (:func:`point_seed`), never from its position or the worker that runs it, so the
  results do not depend on the number of workers or the order of the points;
* stores each finished point atomically under ``out/points/`` and skips the points
  found there on a restart, so a killed sweep started again runs only the missing
  points;
* writes one result file, ``out/results.json``, atomically at the end.

>>> points = grid(g=[3.0, 5.0], nu=[2.0])
>>> points
[{'g': 3.0, 'nu': 2.0}, {'g': 5.0, 'nu': 2.0}]
>>> point_seed(0, points[0]) == point_seed(0, {"nu": 2.0, "g": 3.0})
True
>>> parse_grid("g", "3:8:3")
[3.0, 5.5, 8.0]
"""

from neurodl.jobs.runner import (
    grid,
    parse_grid,
    parse_scheduler,
    point_key,
    point_seed,
    run_jobs,
)

__all__ = [
    "grid",
    "parse_grid",
    "parse_scheduler",
    "point_key",
    "point_seed",
    "run_jobs",
]
