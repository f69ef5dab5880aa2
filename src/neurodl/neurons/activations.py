"""Activation functions of artificial neurons, each with its derivative.

An artificial neuron computes ``a = f(z)`` with ``z = x @ w + b``. Back-propagation
needs ``f'(z)``; every activation here gives it in closed form, written next to the
value so the two cannot drift apart. The derivative takes both ``z`` and the already
computed ``a = f(z)`` because several rules are cheapest in terms of ``a``
(``sigmoid' = a (1 - a)``, ``tanh' = 1 - a^2``).

Look activations up by name with :func:`get_activation`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from neurodl._validate import check_option

__all__ = [
    "ACTIVATIONS",
    "OUTPUT_ACTIVATIONS",
    "Activation",
    "elu",
    "gelu",
    "get_activation",
    "identity",
    "leaky_relu",
    "relu",
    "sigmoid",
    "softmax",
    "softplus",
    "tanh",
]

_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@dataclass(frozen=True)
class Activation:
    """An elementwise activation function with its derivative.

    Parameters
    ----------
    name : str
        The name it is looked up by.
    value : callable
        ``value(z) -> a``; any shape, returns the same shape.
    derivative : callable
        ``derivative(z, a) -> f'(z)`` where ``a = value(z)``.
    fused : callable, optional
        ``fused(z, a, grad_a) -> grad_a * f'(z)`` in one kernel: PyTorch's own
        backward kernel for the same function, used by :meth:`backward` for speed.
        It computes the same rule as ``derivative`` (tested to 1e-15).
    """

    name: str
    value: Callable[[Tensor], Tensor]
    derivative: Callable[[Tensor, Tensor], Tensor]
    fused: Callable[[Tensor, Tensor, Tensor], Tensor] | None = None

    def __call__(self, z: Tensor) -> Tensor:
        """Return ``f(z)``."""
        return self.value(z)

    def backward(self, z: Tensor, a: Tensor, grad_a: Tensor) -> Tensor:
        """Return ``dL/dz`` from ``dL/da``: the chain rule ``grad_a * f'(z)``."""
        if self.fused is not None:
            return self.fused(z, a, grad_a)
        return grad_a * self.derivative(z, a)


class _Softmax(Activation):
    """Softmax over the last axis: an output activation, not an elementwise one."""

    def backward(self, z: Tensor, a: Tensor, grad_a: Tensor) -> Tensor:
        """Return ``dL/dz``: ``a * (g - sum(g * a))`` (the softmax Jacobian times g)."""
        return a * (grad_a - (grad_a * a).sum(dim=-1, keepdim=True))


def _no_elementwise_derivative(z: Tensor, a: Tensor) -> Tensor:
    raise TypeError("softmax has no elementwise derivative; use Activation.backward")


# sigmoid(z) = 1 / (1 + e^-z);  d/dz = a (1 - a)
_aten = torch.ops.aten

sigmoid = Activation(
    "sigmoid",
    torch.sigmoid,
    lambda z, a: a * (1.0 - a),
    lambda z, a, g: _aten.sigmoid_backward.default(g, a),
)

# tanh(z);  d/dz = 1 - a^2
tanh = Activation(
    "tanh",
    torch.tanh,
    lambda z, a: 1.0 - a * a,
    lambda z, a, g: _aten.tanh_backward.default(g, a),
)

# relu(z) = max(z, 0);  d/dz = 1 if z > 0 else 0  (0 at z = 0, as PyTorch)
relu = Activation(
    "relu",
    torch.relu,
    lambda z, a: (z > 0).to(z.dtype),
    lambda z, a, g: _aten.threshold_backward.default(g, a, 0),
)

LEAKY_SLOPE = 0.01
"""Slope of ``leaky_relu`` for z < 0 (PyTorch's default)."""

# leaky_relu(z) = z if z > 0 else 0.01 z;  d/dz = 1 if z > 0 else 0.01
leaky_relu = Activation(
    "leaky_relu",
    lambda z: torch.nn.functional.leaky_relu(z, LEAKY_SLOPE),
    lambda z, a: (z > 0).to(z.dtype) * (1.0 - LEAKY_SLOPE) + LEAKY_SLOPE,
    lambda z, a, g: _aten.leaky_relu_backward.default(g, z, LEAKY_SLOPE, False),
)

# elu(z) = z if z > 0 else e^z - 1;  d/dz = 1 if z > 0 else e^z = a + 1
elu = Activation(
    "elu",
    torch.nn.functional.elu,
    lambda z, a: torch.where(z > 0, torch.ones_like(a), a + 1.0),
)


def _softplus(z: Tensor) -> Tensor:
    # log(1 + e^z) = log(e^0 + e^z): no overflow, no threshold cut-off, and autograd
    # gives sigmoid(z) everywhere (a max/abs form would give 0 instead of 1/2 at z = 0)
    return torch.logaddexp(z, torch.zeros_like(z))


# softplus(z) = log(1 + e^z);  d/dz = sigmoid(z)
softplus = Activation("softplus", _softplus, lambda z, a: torch.sigmoid(z))


def _gelu_derivative(z: Tensor, a: Tensor) -> Tensor:
    # gelu(z) = z Phi(z);  d/dz = Phi(z) + z phi(z)
    cdf = 0.5 * (1.0 + torch.erf(z * _INV_SQRT2))
    pdf = _INV_SQRT_2PI * torch.exp(-0.5 * z * z)
    return cdf + z * pdf


# gelu(z) = z Phi(z) with the exact normal CDF (Hendrycks & Gimpel 2016,
# arXiv:1606.08415)
gelu = Activation(
    "gelu",
    torch.nn.functional.gelu,
    _gelu_derivative,
    lambda z, a, g: _aten.gelu_backward.default(g, z),
)

# identity(z) = z;  d/dz = 1
identity = Activation(
    "identity", lambda z: z, lambda z, a: torch.ones_like(z), lambda z, a, g: g
)

ACTIVATIONS: dict[str, Activation] = {
    f.name: f for f in (sigmoid, tanh, relu, leaky_relu, elu, softplus, gelu, identity)
}
"""Every elementwise activation, by name."""

# softmax(z)_k = e^{z_k} / sum_j e^{z_j};  d a_k / d z_j = a_k (delta_kj - a_j)
softmax = _Softmax(
    "softmax", lambda z: torch.softmax(z, dim=-1), _no_elementwise_derivative
)

OUTPUT_ACTIVATIONS: dict[str, Activation] = {**ACTIVATIONS, "softmax": softmax}
"""Activations allowed on the output layer: the elementwise ones and softmax."""


def get_activation(
    name: str | Activation, *, output: bool = False, param: str = "activation"
) -> Activation:
    """Return the activation called ``name`` (an :class:`Activation` passes through).

    Parameters
    ----------
    name : str or Activation
        One of :data:`ACTIVATIONS`, or of :data:`OUTPUT_ACTIVATIONS` when ``output``.
    output : bool
        Whether the activation is for the output layer (softmax allowed).
    param : str
        Parameter name used in the error message.

    Raises
    ------
    ValidationError
        If ``name`` is not allowed; the message lists the allowed names.
    """
    if isinstance(name, Activation):
        return name
    table = OUTPUT_ACTIVATIONS if output else ACTIVATIONS
    return table[check_option(param, name, table)]
