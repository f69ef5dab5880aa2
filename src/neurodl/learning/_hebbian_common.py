"""Shared input checks of the local learning rules (Hebbian, BCM, Hopfield)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from neurodl._validate import check_finite, check_option, check_positive
from neurodl.errors import ShapeError, ValidationError

__all__ = [
    "HEBBIAN_ENGINES",
    "as_float",
    "check_rate",
    "check_step",
    "init_weights",
    "resolve_engine",
]

HEBBIAN_ENGINES = ("auto", "numba", "torch")
"""``auto``: the compiled loop for CPU float32/float64 tensors, else torch."""


def as_float(name: str, x: Any) -> Tensor:
    """Return ``x`` as a finite floating tensor (non-float input -> default dtype)."""
    if not isinstance(x, Tensor):
        try:
            x = torch.as_tensor(np.asarray(x))
        except (TypeError, ValueError) as exc:
            raise ValidationError(
                f"{name!r} must be a numeric array; got {type(x).__name__}."
            ) from exc
    if not x.is_floating_point():
        x = x.to(torch.get_default_dtype())
    return check_finite(name, x)


def check_step(
    rule: str, w: Any, x: Any, lr: Any, *, matrix: bool
) -> tuple[Tensor, Tensor]:
    """Check one step's arguments; ``matrix``: ``w`` must be (k, d)."""
    check_positive("lr", lr)
    w = as_float("w", w)
    x = as_float("x", x)
    if matrix and w.ndim != 2:
        raise ShapeError(
            f"'w' must be 2-D with axes (n_components, n_features) for the {rule} "
            f"rule; got shape {tuple(w.shape)}."
        )
    if w.ndim not in (1, 2):
        raise ShapeError(
            "'w' must be 1-D (n_features,) or 2-D (n_components, n_features); "
            f"got shape {tuple(w.shape)}."
        )
    if x.ndim != 1 or x.shape[0] != w.shape[-1]:
        raise ShapeError(
            f"'x' must be one sample of shape ({w.shape[-1]},) to match 'w' of shape "
            f"{tuple(w.shape)}; got shape {tuple(x.shape)}."
        )
    if x.dtype != w.dtype or x.device != w.device:
        raise ValidationError(
            f"'x' must have the dtype and device of 'w' ({w.dtype}, {w.device}); "
            f"got {x.dtype}, {x.device}."
        )
    return w, x


def resolve_engine(engine: str, x: Tensor) -> str:
    """Return ``"numba"`` or ``"torch"`` for ``engine`` and the data ``x``."""
    check_option("engine", engine, HEBBIAN_ENGINES)
    compiled_ok = x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64)
    if engine == "numba" and not compiled_ok:
        raise ValidationError(
            "'engine' 'numba' needs a CPU float32 or float64 'x'; got "
            f"{x.dtype} on {x.device}. Use engine='torch'."
        )
    if engine == "auto":
        return "numba" if compiled_ok else "torch"
    return engine


def init_weights(
    name: str, w_init: Any, shape: tuple[int, int], x: Tensor
) -> Tensor | None:
    """Return ``w_init`` checked and as (k, d) in ``x``'s dtype/device, or None."""
    if w_init is None:
        return None
    w = as_float(name, w_init)
    if w.ndim == 1 and shape[0] == 1:
        w = w[None]
    if tuple(w.shape) != shape:
        raise ShapeError(
            f"{name!r} must have shape {shape} (n_components, n_features) to match "
            f"'x' of shape {tuple(x.shape)}; got shape {tuple(w.shape)}."
        )
    return w.detach().to(dtype=x.dtype, device=x.device).clone()


def check_rate(theta_rate: Any) -> float:
    """Return ``theta_rate`` as a float if it is in (0, 1]."""
    check_positive("theta_rate", theta_rate)
    if theta_rate > 1:
        raise ValidationError(f"'theta_rate' must be in (0, 1]; got {theta_rate!r}.")
    return float(theta_rate)
