"""Surrogate-gradient spike functions.

A spiking neuron emits ``z = H(x)`` with ``x = v - v_th`` (the Heaviside step,
``H(x) = 1`` for ``x >= 0``). Its derivative is zero almost everywhere, so training
by back-propagation replaces it in the backward pass by a smooth pseudo-derivative
``sigma'(x)`` (Neftci, Mostafa & Zenke 2019, doi:10.1109/MSP.2019.2931595). The
forward pass stays an exact step.

Each surrogate has a ``slope`` (per unit of ``x``: per mV when ``x`` is in mV, per
threshold when the model is normalised to ``v_th = 1``):

========================  =================================================  =====
name                      pseudo-derivative ``sigma'(x)``                    slope
========================  =================================================  =====
``"fast_sigmoid"``        ``1 / (1 + slope |x|)^2``  (SuperSpike; Zenke &     25
                          Ganguli 2018, doi:10.1162/neco_a_01086)
``"arctan"``              ``(slope/2) / (1 + (pi/2 slope x)^2)``  (Fang et    2
                          al. 2021, doi:10.1109/ICCV48922.2021.00266)
``"sigmoid"``             ``slope s(slope x) (1 - s(slope x))``               5
``"triangle"``            ``slope max(0, 1 - slope |x|)``  (Esser et al.     1
                          2016; zero outside ``|x| < 1/slope``)
========================  =================================================  =====

``fast_sigmoid`` and ``arctan`` match snnTorch's ``surrogate.fast_sigmoid`` and
``surrogate.atan`` with the same slope.

Examples
--------
>>> import torch
>>> spike = get_surrogate("fast_sigmoid", slope=25.0)
>>> x = torch.tensor([-0.1, 0.0, 0.2], requires_grad=True)
>>> z = spike(x)
>>> z.tolist()
[0.0, 1.0, 1.0]
>>> z.sum().backward()
>>> [round(g, 4) for g in x.grad.tolist()]
[0.0816, 1.0, 0.0278]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from neurodl._validate import check_option, check_positive

__all__ = ["SURROGATES", "Surrogate", "get_surrogate", "heaviside"]


def heaviside(x: Tensor) -> Tensor:
    """Spike indicator ``1.0 where x >= 0 else 0.0``, in ``x``'s dtype (no gradient)."""
    return (x >= 0).to(x.dtype)


def _fast_sigmoid(x: Tensor, slope: float) -> Tensor:
    return 1.0 / (1.0 + slope * x.abs()) ** 2


def _arctan(x: Tensor, slope: float) -> Tensor:
    return (slope / 2.0) / (1.0 + (math.pi / 2.0 * slope * x) ** 2)


def _sigmoid(x: Tensor, slope: float) -> Tensor:
    s = torch.sigmoid(slope * x)
    return slope * s * (1.0 - s)


def _triangle(x: Tensor, slope: float) -> Tensor:
    return slope * torch.clamp(1.0 - slope * x.abs(), min=0.0)


_DERIVATIVES: dict[str, tuple[Callable[[Tensor, float], Tensor], float]] = {
    "fast_sigmoid": (_fast_sigmoid, 25.0),
    "arctan": (_arctan, 2.0),
    "sigmoid": (_sigmoid, 5.0),
    "triangle": (_triangle, 1.0),
}

SURROGATES: tuple[str, ...] = tuple(_DERIVATIVES)


class _SpikeFunction(torch.autograd.Function):
    """Heaviside forward, surrogate derivative backward."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, name: str, slope: float) -> Tensor:
        ctx.save_for_backward(x)
        ctx.name = name
        ctx.slope = slope
        return heaviside(x)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        (x,) = ctx.saved_tensors
        derivative, _ = _DERIVATIVES[ctx.name]
        return grad * derivative(x, ctx.slope), None, None


@dataclass(frozen=True)
class Surrogate:
    """A spike function: exact step forward, smooth pseudo-derivative backward.

    Parameters
    ----------
    name : str
        One of :data:`SURROGATES`.
    slope : float
        Sharpness of the pseudo-derivative, per unit of the argument (> 0).
    """

    name: str = "fast_sigmoid"
    slope: float = 25.0

    def __post_init__(self) -> None:
        check_option("surrogate", self.name, SURROGATES)
        check_positive("slope", self.slope)

    def __call__(self, x: Tensor) -> Tensor:
        """Return ``H(x)``; differentiable through the pseudo-derivative."""
        if not (x.requires_grad and torch.is_grad_enabled()):
            return heaviside(x)
        out: Tensor = _SpikeFunction.apply(x, self.name, float(self.slope))
        return out

    def derivative(self, x: Tensor) -> Tensor:
        """Return the pseudo-derivative ``sigma'(x)`` (same shape as ``x``)."""
        derivative, _ = _DERIVATIVES[self.name]
        return derivative(x, float(self.slope))


def get_surrogate(
    name: str | Surrogate = "fast_sigmoid", slope: float | None = None
) -> Surrogate:
    """Look a surrogate up by name; ``slope=None`` takes its default (table above)."""
    if isinstance(name, Surrogate):
        return name if slope is None else Surrogate(name.name, slope)
    check_option("surrogate", name, SURROGATES)
    return Surrogate(name, _DERIVATIVES[name][1] if slope is None else slope)
