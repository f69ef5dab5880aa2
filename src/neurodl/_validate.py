"""Shared input checks. Each returns the value it validated."""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

import torch

from neurodl.errors import NonFiniteError, ShapeError, ValidationError

T = TypeVar("T")


def check_option(name: str, value: T, allowed: Iterable[T]) -> T:
    """Return ``value`` if it is one of ``allowed``; otherwise raise a clear error."""
    allowed = list(allowed)
    if value not in allowed:
        opts = ", ".join(map(repr, allowed))
        raise ValidationError(f"{name!r} must be one of {opts}; got {value!r}.")
    return value


def check_positive(name: str, value: Any, *, strict: bool = True) -> Any:
    """Return ``value`` if it is a real number > 0 (or >= 0 with ``strict=False``)."""
    rule = "> 0" if strict else ">= 0"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"{name!r} must be a number {rule}; got {value!r}.")
    if not value == value or value in (float("inf"), float("-inf")):
        raise ValidationError(
            f"{name!r} must be a finite number {rule}; got {value!r}."
        )
    if (strict and value <= 0) or (not strict and value < 0):
        raise ValidationError(f"{name!r} must be {rule}; got {value!r}.")
    return value


def check_fraction(name: str, value: Any) -> float:
    """Return ``value`` as a float strictly between 0 and 1 (a level, a share)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValidationError(f"{name!r} must be a number in (0, 1); got {value!r}.")
    if not 0.0 < float(value) < 1.0:  # NaN fails too
        raise ValidationError(f"{name!r} must be in (0, 1); got {value!r}.")
    return float(value)


def check_int(name: str, value: Any, *, minimum: int | None = None) -> int:
    """Return ``value`` if it is an int (not a bool) and at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{name!r} must be an integer; got {value!r}.")
    if minimum is not None and value < minimum:
        raise ValidationError(f"{name!r} must be >= {minimum}; got {value!r}.")
    return value


def check_sizes(name: str, sizes: Any) -> list[int]:
    """Return layer sizes as a list of ints: at least two, each >= 1."""
    if isinstance(sizes, str | bytes) or not isinstance(sizes, Sequence):
        raise ValidationError(
            f"{name!r} must be a sequence of layer widths such as (2, 3, 1); "
            f"got {sizes!r}."
        )
    out = [check_int(f"{name}[{i}]", s, minimum=1) for i, s in enumerate(sizes)]
    if len(out) < 2:
        raise ValidationError(
            f"{name!r} needs at least two layers (input and output); "
            f"got {list(sizes)!r}."
        )
    return out


def check_finite(name: str, x: torch.Tensor) -> torch.Tensor:
    """Return ``x`` if every entry is finite; else say how many are not, and where."""
    if x.is_floating_point() and not bool(torch.isfinite(x).all()):
        bad = ~torch.isfinite(x)
        n_nan = int(torch.isnan(x).sum())
        n_inf = int(bad.sum()) - n_nan
        first = tuple(int(i) for i in bad.nonzero()[0])
        raise NonFiniteError(
            f"{name!r} must be finite; got {n_nan} NaN and {n_inf} infinite value(s) "
            f"in an array of shape {tuple(x.shape)} (first at index {first})."
        )
    return x


def check_matrix(
    name: str, x: torch.Tensor, *, n_features: int | None = None, axes: str = ""
) -> torch.Tensor:
    """Return ``x`` if it is 2-D and, when given, has ``n_features`` columns."""
    axes = axes or "(n_samples, n_features)"
    if x.ndim != 2:
        raise ShapeError(
            f"{name!r} must be 2-D with axes {axes}; got shape {tuple(x.shape)}."
        )
    if n_features is not None and x.shape[1] != n_features:
        raise ShapeError(
            f"{name!r} has shape {tuple(x.shape)} but the network expects "
            f"shape (n_samples, {n_features}) {axes}: {x.shape[1]} != {n_features} "
            "features."
        )
    return x


def check_device(name: str, device: Any) -> torch.device:
    """Return ``device`` as a :class:`torch.device` that exists on this machine.

    Raises
    ------
    ValidationError
        If it is no device string torch knows (``'gpu9'``), or a CUDA device
        this machine does not have.
    """
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise ValidationError(
            f"{name!r} must be a torch device such as 'cpu', 'cuda' or 'cuda:0'; "
            f"got {device!r}."
        ) from exc
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (dev.index or 0) >= count:
            raise ValidationError(
                f"{name!r} must be a device this machine has; got {device!r}, but "
                f"torch sees {count} CUDA device(s)."
            )
    return dev


def check_n_jobs(n_jobs: int | None) -> int | None:
    """Return ``n_jobs`` if joblib can take it: None, >= 1, or < 0 (all but some)."""
    if n_jobs is not None and (isinstance(n_jobs, bool) or not isinstance(n_jobs, int)):
        raise ValidationError(f"'n_jobs' must be an integer or None; got {n_jobs!r}.")
    if n_jobs == 0:
        raise ValidationError(
            "'n_jobs' must be >= 1 (that many processes) or negative (-1: every "
            "core); got 0."
        )
    return n_jobs
