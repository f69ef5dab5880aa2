"""Pieces shared by the biological neuron models.

* :data:`DEFAULT_SURROGATE`, the spike function every ``*_step`` uses by default;
* parameter and step-argument checks;
* the refractory rule of Brian2's ``(unless refractory)``;
* two back-ends the step math runs on. Each model writes its update once, in terms
  of an ``ops`` object: :class:`TorchOps` (tensors, spikes through a surrogate) for
  the public ``*_step`` functions, :class:`ScalarOps` (Python floats, float64) for
  the single-neuron driver in :mod:`neurodl.neurons.run`, which is about 50 times
  faster per step than a loop over one-element tensors.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, Protocol

import torch
from torch import Tensor

from neurodl._validate import check_option, check_positive
from neurodl.errors import ValidationError
from neurodl.neurons.surrogate import Surrogate

__all__ = [
    "DEFAULT_SURROGATE",
    "RESET_MODES",
    "Ops",
    "ScalarOps",
    "TorchOps",
    "check_below",
    "check_real",
    "check_step_args",
    "refractory_free",
    "refractory_next",
    "reset_value",
    "torch_ops",
]

DEFAULT_SURROGATE = Surrogate("fast_sigmoid", 1.0)
"""Spike function of the biological models: Heaviside forward, SuperSpike's
``1 / (1 + |x|)^2`` backward with ``x = v - v_th`` in mV (slope 1/mV: the
pseudo-derivative is 1 at threshold, 1/4 at 1 mV and 1/121 at 10 mV from it)."""

RESET_MODES: tuple[str, ...] = ("zero", "subtract", "none")
"""Reset modes of the integrate-and-fire models (see ``lif_step``)."""

# A step is refractory when the refractory time left covers all of it; the slack
# absorbs the rounding of repeated ``refrac - dt`` (Brian2 uses the same 1e-3 dt
# slack when it turns times into step counts).
_REFRAC_SLACK = 1e-3


class Ops(Protocol):
    """The operations the step math needs, on tensors or on Python floats."""

    def spike(self, x: Any) -> Any:
        """``H(x)`` (0 or 1) in ``x``'s type; differentiable on the tensor back-end."""

    def exp(self, x: Any) -> Any:
        """``e^x``."""

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        """Return ``a`` where ``cond`` holds, else ``b``."""

    def as_float(self, cond: Any, like: Any) -> Any:
        """``cond`` as 1.0/0.0 in the type of ``like``."""

    def relu(self, x: Any) -> Any:
        """``max(x, 0)``."""

    def linexp(self, x: Any) -> Any:
        """``x / (1 - e^-x)``, continued by its limit 1 at ``x = 0``."""


class TorchOps:
    """Tensor back-end: torch functions; spikes through ``surrogate``.

    Parameters
    ----------
    surrogate : Surrogate
        The spike function.
    """

    def __init__(self, surrogate: Surrogate) -> None:
        self.spike = surrogate

    @staticmethod
    def exp(x: Any) -> Any:
        """``e^x`` for a tensor or a float (a float parameter stays a float)."""
        return torch.exp(x) if isinstance(x, Tensor) else math.exp(x)

    @staticmethod
    def where(cond: Any, a: Any, b: Any) -> Any:
        """``torch.where(cond, a, b)``."""
        return torch.where(cond, a, b)

    @staticmethod
    def as_float(cond: Any, like: Any) -> Any:
        """``cond`` as 1.0/0.0 in ``like``'s dtype."""
        return cond.to(like.dtype)

    @staticmethod
    def relu(x: Any) -> Any:
        """``max(x, 0)`` for a tensor or a float."""
        return torch.clamp(x, min=0.0) if isinstance(x, Tensor) else max(x, 0.0)

    @staticmethod
    def linexp(x: Any) -> Any:
        """``x / (1 - e^-x)`` with the removable singularity at 0 filled in."""
        small = x.abs() < 1e-6
        safe = torch.where(small, torch.ones_like(x), x)  # no 0/0, not even unused
        return torch.where(small, 1.0 + 0.5 * x, safe / -torch.expm1(-safe))


class ScalarOps:
    """Python-float back-end (float64, no gradient) for single-neuron runs."""

    @staticmethod
    def spike(x: float) -> float:
        """``1.0 if x >= 0 else 0.0``."""
        return 1.0 if x >= 0.0 else 0.0

    exp = staticmethod(math.exp)

    @staticmethod
    def where(cond: bool, a: Any, b: Any) -> Any:
        """Return ``a if cond else b``."""
        return a if cond else b

    @staticmethod
    def as_float(cond: bool, like: Any) -> float:
        """``1.0 if cond else 0.0``."""
        return 1.0 if cond else 0.0

    @staticmethod
    def relu(x: float) -> float:
        """``max(x, 0)``."""
        return x if x > 0.0 else 0.0

    @staticmethod
    def linexp(x: float) -> float:
        """``x / (1 - e^-x)`` with the removable singularity at 0 filled in."""
        if abs(x) < 1e-6:
            return 1.0 + 0.5 * x
        return x / -math.expm1(-x)


def torch_ops(surrogate: Surrogate | None) -> TorchOps:
    """Return the tensor back-end with ``surrogate`` (default: the default one)."""
    if surrogate is None:
        return TorchOps(DEFAULT_SURROGATE)
    if not isinstance(surrogate, Surrogate):
        raise ValidationError(
            "'surrogate' must be a neurodl.neurons.Surrogate such as "
            f"Surrogate('fast_sigmoid', 1.0); got {surrogate!r}."
        )
    return TorchOps(surrogate)


def check_real(name: str, value: Any, *, rule: str = "") -> Any:
    """Return a model parameter after checking it.

    ``value`` is a real number or a floating-point tensor (per-neuron or learnable
    values). ``rule`` is ``""`` (finite), ``"> 0"`` or ``">= 0"``.
    """
    if isinstance(value, Tensor):
        if not value.is_floating_point():
            raise ValidationError(
                f"{name!r} must be a number or a floating-point tensor; got a tensor "
                f"of dtype {value.dtype}."
            )
        x = value.detach()
        if not bool(torch.isfinite(x).all()):
            raise ValidationError(f"{name!r} must be finite; got {value!r}.")
        if (rule == "> 0" and not bool((x > 0).all())) or (
            rule == ">= 0" and not bool((x >= 0).all())
        ):
            raise ValidationError(
                f"{name!r} must be {rule} everywhere; got a tensor with minimum "
                f"{float(x.min())!r}."
            )
        return value
    if rule:
        return check_positive(name, value, strict=rule == "> 0")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"{name!r} must be a real number; got {value!r}.")
    if not math.isfinite(value):
        raise ValidationError(f"{name!r} must be finite; got {value!r}.")
    return value


def check_below(name: str, value: Any, other: str, other_value: Any) -> None:
    """Check ``value < other_value`` when both are plain numbers."""
    numbers = isinstance(value, int | float) and isinstance(other_value, int | float)
    if numbers and not value < other_value:
        raise ValidationError(
            f"{name!r} must be below {other!r} ({other_value!r} mV); got {value!r}."
        )


def check_step_args(
    dt: Any, method: str, methods: Iterable[str], reset: str | None = None
) -> None:
    """Check the time step (ms, > 0), the integration method and the reset mode."""
    check_positive("dt", dt)
    check_option("method", method, methods)
    if reset is not None:
        check_option("reset", reset, RESET_MODES)


def reset_value(reset: str, v: Any, threshold: Any, v_reset: Any) -> Any:
    """``v`` after a spike: ``v_reset``, ``v - (threshold - v_reset)`` or ``v``."""
    if reset == "zero":
        return v_reset
    if reset == "subtract":
        return v - (threshold - v_reset)
    return v


def refractory_free(refrac: Any, dt: float) -> Any:
    """Whether a step is integrated: the refractory time left is shorter than it.

    ``refrac`` (ms) is the refractory time left at the start of the step. A step
    that lies entirely inside the refractory period is skipped, as in Brian2 where
    a neuron that spiked in the step starting at ``t_s`` is refractory in every
    step starting before ``t_s + t_ref``.
    """
    return refrac < dt * (1.0 - _REFRAC_SLACK)


def refractory_next(ops: Ops, spiked: Any, refrac: Any, t_ref: Any, dt: float) -> Any:
    """Refractory time left (ms) at the end of a step.

    The period is counted from the spike's time stamp, the start of the step (as
    Brian2 does), so ``t_ref - dt`` is left at its end.
    """
    return ops.where(spiked, ops.relu(t_ref - dt), ops.relu(refrac - dt))
