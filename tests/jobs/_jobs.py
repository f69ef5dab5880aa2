"""Job functions for the tests of :mod:`neurodl.jobs` (imported by the workers)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

FAIL_AT = "NEURODL_TEST_JOB_FAIL_AT"
CALLS = "NEURODL_TEST_JOB_CALLS"


def noisy(params: dict, seed: int) -> dict:
    """Draw from a generator seeded by ``seed``; record the call; fail on request."""
    x = params["x"]
    calls = os.environ.get(CALLS)
    if calls:
        Path(calls, f"{x:g}").write_text(str(seed))
    if os.environ.get(FAIL_AT) == f"{x:g}":
        raise RuntimeError(f"job killed at x={x:g}")
    rng = np.random.default_rng(seed)
    draws = rng.normal(size=params.get("n", 5))
    return {"x": x, "mean": float(draws.mean()), "first": float(draws[0])}
