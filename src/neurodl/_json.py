"""JSON results that never hold NaN: undefined numbers become ``null``, with a reason.

Strict JSON has no NaN or infinity (``json.dumps(..., allow_nan=False)`` raises on
them, and other readers reject them). A statistic that is undefined for an input,
such as the ISI CV of a network in which no neuron fired twice, is written as
``null``, and the result's ``warnings`` (a dict: path of the value -> why) says
which value and why. The code that computes a statistic knows why it can be
undefined and puts that reason in ``warnings`` itself; any non-finite number left
without one gets a generic reason here, so nothing is ever silently dropped.

>>> json_ready({"rate_hz": 0.0, "cv_isi": float("nan")})["warnings"]
{'cv_isi': 'nan is not a number JSON can hold: written as null'}
>>> json_ready({"r2": [0.5, float("-inf")], "warnings": {"r2[1]": "constant"}})
{'r2': [0.5, None], 'warnings': {'r2[1]': 'constant'}}
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["WARNINGS", "json_ready", "json_text"]

WARNINGS = "warnings"
"""Key of the dict (path of a value -> reason) that explains undefined values."""


def json_ready(data: Any) -> Any:
    """Return a copy of ``data`` with every NaN or infinity replaced by ``None``.

    NumPy scalars and arrays become plain numbers and lists. When ``data`` is a
    dict, each replaced value's path (``"test.r2_per_output[1]"``) gets an entry
    in ``data["warnings"]`` unless one is already there.
    """
    found: list[tuple[str, float]] = []
    out = _clean(data, "", found)
    if found and isinstance(out, dict):
        reasons = dict(out.get(WARNINGS) or {})
        for path, value in found:
            reasons.setdefault(
                path, f"{value} is not a number JSON can hold: written as null"
            )
        out[WARNINGS] = reasons
    return out


def json_text(data: Any) -> str:
    """Indented, strict JSON of :func:`json_ready` ``(data)``."""
    return json.dumps(json_ready(data), indent=2, allow_nan=False)


def _clean(x: Any, path: str, found: list[tuple[str, float]]) -> Any:
    if isinstance(x, Mapping):
        return {
            k: _clean(v, f"{path}.{k}" if path else str(k), found) for k, v in x.items()
        }
    if isinstance(x, list | tuple):
        return [_clean(v, f"{path}[{i}]", found) for i, v in enumerate(x)]
    if isinstance(x, np.ndarray):
        return _clean(x.tolist(), path, found)
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        found.append((path, x))
        return None
    return x
