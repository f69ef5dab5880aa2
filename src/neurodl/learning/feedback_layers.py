"""Feedback alignment, sign symmetry, Kolen-Pollack and DFA as drop-in torch layers.

The rules of :mod:`neurodl.learning.feedback` for any PyTorch model, through
autograd: a layer's forward pass is the usual ``x W^T + b`` (``torch.nn.Linear``'s
convention, ``W`` of shape ``(out_features, in_features)``), and only the error it
sends to the layer below changes. With ``g = dL/d(output)``::

    dL/dW = g^T x,   dL/db = sum_n g            (as nn.Linear)
    error sent down = g B                         (nn.Linear: g W)

* :class:`FeedbackLinear` with ``rule="fa"``: ``B`` a fixed random buffer;
  ``"sign"``: ``B = s sign(W)``, ``s = sqrt(2 / (in + out))``; ``"kp"``: ``B`` is a
  parameter whose gradient is ``W``'s gradient, so any optimizer that treats ``W``
  and ``B`` alike gives them the same update. With ``torch.optim.SGD(...,
  weight_decay=lam)`` or ``torch.optim.AdamW(..., weight_decay=lam)`` on ``W`` and
  ``B`` (and no decay on the biases) this is Kolen-Pollack exactly:
  ``W - B`` shrinks by ``1 - lr lam`` per step.
* :class:`DFA`: direct feedback alignment in a user's own model. Put
  ``dfa.taps[i]`` after the activation of hidden layer ``i`` and ``dfa.head`` on the
  output logits; the output error ``e = dL/dz_L`` recorded at the head reaches tap
  ``i`` as ``e D_i`` (``D_i`` of shape ``(n_outputs, width_i)``), and autograd
  multiplies it by the activation's derivative below, so ``delta_i = (e D_i) *
  f'(z_i)``. The gradient arriving at a tap from above is discarded.

The random matrices are drawn like ``nn.Linear``'s weights (``U(-1/sqrt(fan_in),
1/sqrt(fan_in))``, fan-in ``in_features`` for ``B``, ``n_outputs`` for ``D_i``) from
a seeded generator. These layers give exactly the updates of the explicit deltas
(tested in float64 against :func:`~neurodl.learning.feedback.feedback_loss_and_grads`).

Examples
--------
>>> import torch
>>> from torch import nn
>>> dfa = DFA(3, (8,), seed=0)
>>> model = nn.Sequential(
...     FeedbackLinear(4, 8, rule="fa", seed=1), nn.Tanh(), dfa.taps[0],
...     nn.Linear(8, 3), dfa.head)
>>> x = torch.randn(5, 4)
>>> nn.functional.cross_entropy(model(x), torch.tensor([0, 1, 2, 1, 0])).backward()
>>> model[0].weight.grad.shape
torch.Size([8, 4])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from neurodl._validate import check_int, check_option
from neurodl.errors import ValidationError

__all__ = ["DFA", "LAYER_RULES", "DFAHead", "DFATap", "FeedbackLinear"]

LAYER_RULES = ("fa", "sign", "kp")
"""Rules a :class:`FeedbackLinear` can run (DFA goes through :class:`DFA`)."""


def _generator(seed: int | None) -> torch.Generator:
    gen = torch.Generator()
    if seed is None:
        gen.manual_seed(int(torch.randint(0, 2**62, (1,)).item()))
    else:
        gen.manual_seed(check_int("seed", seed, minimum=0))
    return gen


def _uniform(
    shape: tuple[int, int], fan_in: int, gen: torch.Generator, dtype: Any, device: Any
) -> Tensor:
    """``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` drawn in float64 on the CPU, then cast."""
    bound = 1.0 / math.sqrt(fan_in)
    w = (torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1) * bound
    return w.to(dtype=dtype or torch.get_default_dtype(), device=device)


class _FeedbackLinearFunction(torch.autograd.Function):
    """``x W^T + b`` whose backward sends ``g B`` down instead of ``g W``."""

    @staticmethod
    def forward(
        x: Tensor,
        weight: Tensor,
        bias: Tensor | None,
        feedback: Tensor,
        rule: str,
        scale: float,
    ) -> Tensor:
        return F.linear(x, weight, bias)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
        x, weight, bias, feedback, rule, scale = inputs
        ctx.save_for_backward(x, weight, feedback)
        ctx.rule = rule
        ctx.scale = scale
        ctx.has_bias = bias is not None

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple[Tensor | None, ...]:
        x, weight, feedback = ctx.saved_tensors
        grad_x = grad_w = grad_b = grad_fb = None
        if ctx.needs_input_grad[0]:
            B = torch.sign(weight).mul_(ctx.scale) if ctx.rule == "sign" else feedback
            grad_x = g.matmul(B)  # the error sent down: g B instead of g W
        g2 = g.reshape(-1, g.shape[-1])
        if ctx.needs_input_grad[1] or ctx.needs_input_grad[3]:
            grad_w = g2.T.mm(x.reshape(-1, x.shape[-1]))
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = g2.sum(dim=0)
        if ctx.rule == "kp" and ctx.needs_input_grad[3]:
            grad_fb = grad_w  # Kolen-Pollack: B gets W's update
        return grad_x, grad_w, grad_b, grad_fb, None, None


class FeedbackLinear(nn.Module):
    """A ``torch.nn.Linear`` whose backward uses a feedback matrix instead of W.

    Parameters
    ----------
    in_features, out_features : int
    bias : bool
        Learn an additive bias (as ``nn.Linear``).
    rule : {"fa", "sign", "kp"}
        Feedback alignment (fixed random ``B``), sign symmetry (``B = s sign(W)``,
        ``s = sqrt(2/(in + out))``) or Kolen-Pollack (``B`` learns with ``W``'s
        gradient; give ``W`` and ``B`` the same optimizer and weight decay).
    seed : int or None
        Seed of the weights and of ``B`` (None: torch's global generator).
    dtype, device
        Where the parameters live.

    Attributes
    ----------
    weight : Parameter, shape (out_features, in_features)
    bias : Parameter or None, shape (out_features,)
    feedback : Tensor, shape (out_features, in_features)
        ``B``: a buffer (``fa``), a parameter (``kp``), or None (``sign``: made
        from ``weight`` in every backward pass).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        rule: str = "fa",
        seed: int | None = None,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        if rule == "dfa":
            raise ValidationError(
                "'rule' 'dfa' is not a property of one layer; use DFA (its taps go "
                "after the hidden layers, its head on the output). FeedbackLinear "
                "takes 'fa', 'sign' or 'kp'; got 'dfa'."
            )
        self.rule = check_option("rule", rule, LAYER_RULES)
        self.in_features = check_int("in_features", in_features, minimum=1)
        self.out_features = check_int("out_features", out_features, minimum=1)
        gen = _generator(seed)
        shape = (out_features, in_features)
        self.weight = nn.Parameter(_uniform(shape, in_features, gen, dtype, device))
        self.bias = (
            nn.Parameter(
                _uniform((1, out_features), in_features, gen, dtype, device)[0]
            )
            if bias
            else None
        )
        self.scale = math.sqrt(2.0 / (in_features + out_features))
        self.feedback: Tensor | None
        if rule == "sign":
            self.feedback = None
        else:
            B = _uniform(shape, in_features, gen, dtype, device)
            if rule == "kp":
                self.feedback = nn.Parameter(B)
            else:
                self.register_buffer("feedback", B)

    def forward(self, x: Tensor) -> Tensor:
        """Return ``x W^T + b``; the backward sends ``g B`` to ``x``."""
        fb = self.weight if self.feedback is None else self.feedback
        out: Tensor = _FeedbackLinearFunction.apply(
            x, self.weight, self.bias, fb, self.rule, self.scale
        )
        return out

    def extra_repr(self) -> str:
        """Describe the layer for ``print(model)``."""
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}, rule={self.rule!r}"
        )


class _Pass:
    """One forward pass's output error, shared by the head and the taps."""

    __slots__ = ("error",)

    def __init__(self) -> None:
        self.error: Tensor | None = None


class _Link:
    """The forward pass the taps currently feed (closed by the head)."""

    __slots__ = ("current",)

    def __init__(self) -> None:
        self.current: _Pass | None = None

    def open(self) -> _Pass:
        if self.current is None:
            self.current = _Pass()
        return self.current

    def close(self) -> _Pass:
        p = self.open()
        self.current = None
        return p


class _TapFunction(torch.autograd.Function):
    @staticmethod
    def forward(a: Tensor, D: Tensor, p: _Pass) -> Tensor:
        return a.view_as(a)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
        _, D, p = inputs
        ctx.save_for_backward(D)
        ctx.p = p

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple[Tensor | None, ...]:
        (D,) = ctx.saved_tensors
        e = ctx.p.error
        if e is None:
            raise ValidationError(
                "DFA: a tap's backward ran before the output error was known; put "
                "'dfa.head' on the network's output (the logits the loss is "
                "computed from) in the same forward pass."
            )
        if e.shape[:-1] != g.shape[:-1]:
            raise ValidationError(
                f"DFA: the output error has shape {tuple(e.shape)} but the tap's "
                f"activation has shape {tuple(g.shape)}; one head per forward pass."
            )
        return e.matmul(D), None, None


class _HeadFunction(torch.autograd.Function):
    @staticmethod
    def forward(z: Tensor, p: _Pass) -> Tensor:
        return z.view_as(z)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
        ctx.p = inputs[1]

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple[Tensor | None, ...]:
        ctx.p.error = g  # e = dL/dz_L, then passed on unchanged
        return g, None


class DFATap(nn.Module):
    """Identity forward; backward replaces the incoming error by ``e D``."""

    def __init__(self, D: Tensor, link: _Link) -> None:
        super().__init__()
        self.register_buffer("D", D)
        self._link = link

    def matrix(self) -> Tensor:
        """Return ``D``, shape ``(n_outputs, width)``."""
        D = self._buffers["D"]
        assert D is not None
        return D

    def forward(self, a: Tensor) -> Tensor:
        """Return ``a`` unchanged (the hook is in the backward pass)."""
        out: Tensor = _TapFunction.apply(a, self.matrix(), self._link.open())
        return out

    def extra_repr(self) -> str:
        """Describe the tap."""
        n_out, width = self.matrix().shape
        return f"error {n_out} -> {width}"


class DFAHead(nn.Module):
    """Identity forward on the output logits; backward records ``e = dL/dz_L``."""

    def __init__(self, link: _Link) -> None:
        super().__init__()
        self._link = link

    def forward(self, z: Tensor) -> Tensor:
        """Return ``z`` unchanged and close the forward pass."""
        out: Tensor = _HeadFunction.apply(z, self._link.close())
        return out


class DFA(nn.Module):
    """Direct feedback alignment (Nøkland 2016) for a user's own torch model.

    Parameters
    ----------
    n_outputs : int
        Width of the output the loss is computed from (the logits).
    widths : sequence of int
        Widths of the hidden activations that receive the error, in order.
    seed : int or None
        Seed of the matrices ``D_i ~ U(-1/sqrt(n_outputs), 1/sqrt(n_outputs))``.
    dtype, device
        Where the matrices live.

    Attributes
    ----------
    taps : ModuleList of DFATap
        ``taps[i]`` goes right after hidden layer ``i``'s activation.
    head : DFAHead
        Goes on the output logits, before the loss.
    """

    def __init__(
        self,
        n_outputs: int,
        widths: Sequence[int],
        *,
        seed: int | None = None,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        check_int("n_outputs", n_outputs, minimum=1)
        if isinstance(widths, int) or len(widths) == 0:
            raise ValidationError(
                "'widths' must list the width of at least one hidden layer (DFA "
                f"sends the output error to hidden layers); got {widths!r}."
            )
        for i, w in enumerate(widths):
            check_int(f"widths[{i}]", w, minimum=1)
        gen = _generator(seed)
        link = _Link()
        self.taps = nn.ModuleList(
            [
                DFATap(_uniform((n_outputs, w), n_outputs, gen, dtype, device), link)
                for w in widths
            ]
        )
        self.head = DFAHead(link)
