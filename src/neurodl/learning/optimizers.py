"""Gradient-descent update rules for the explicit engine.

Each optimizer updates a list of parameters in place from a list of gradients, with
the same arithmetic as its ``torch.optim`` counterpart (tested side by side), but
without the bookkeeping that makes ``torch.optim`` slow on small networks: the
per-step cost is a handful of fused ``torch._foreach_*`` kernels.

* :class:`GradientDescent`: ``w <- w - lr g`` (``torch.optim.SGD``).
* :class:`Momentum`: ``v <- mu v + g``, ``w <- w - lr v`` (``SGD(momentum=mu)``).
* :class:`Adam`: Kingma & Ba (2015), arXiv:1412.6980 (``torch.optim.Adam``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from neurodl._validate import check_option, check_positive
from neurodl.errors import ValidationError

__all__ = [
    "OPTIMIZERS",
    "Adam",
    "GradientDescent",
    "Momentum",
    "Optimizer",
    "make_optimizer",
]


class Optimizer:
    """Base class: holds the parameters and the state tensors of an update rule."""

    name = "optimizer"

    def __init__(self, params: Sequence[Tensor], lr: float) -> None:
        self.params = list(params)
        self.lr = check_positive("lr", lr)
        # detached tensors (FeedForward.weights()) need no grad-mode switch per step
        self._needs_no_grad = any(p.requires_grad for p in self.params)

    def step(self, grads: Sequence[Tensor]) -> None:
        """Update every parameter in place from its gradient."""
        if self._needs_no_grad:
            with torch.no_grad():
                self._update(list(grads))
        else:
            self._update(list(grads))

    def _update(self, grads: list[Tensor]) -> None:
        raise NotImplementedError

    def state_tensors(self) -> dict[str, Tensor]:
        """Return the state tensors, keyed for a checkpoint."""
        return {}

    def state_scalars(self) -> dict[str, float | int]:
        """Return the scalar state for a checkpoint."""
        return {}

    def load_state(
        self, tensors: dict[str, Tensor], scalars: dict[str, float | int]
    ) -> None:
        """Restore what :meth:`state_tensors` and :meth:`state_scalars` returned."""
        mine = self.state_tensors()
        if set(mine) != set(tensors):
            raise ValidationError(
                f"{self.name} state holds tensors {sorted(mine)}; the checkpoint has "
                f"{sorted(tensors)}."
            )
        with torch.no_grad():
            for key, t in mine.items():
                t.copy_(tensors[key])


class GradientDescent(Optimizer):
    """Plain gradient descent, ``w <- w - lr * dL/dw``: the article's rule."""

    name = "sgd"

    def _update(self, grads: list[Tensor]) -> None:
        # w <- w - lr g
        torch._foreach_add_(self.params, grads, alpha=-self.lr)


class Momentum(Optimizer):
    """Gradient descent with (heavy-ball) momentum, as ``torch.optim.SGD``.

    ``v <- mu v + g`` (``v = g`` on the first step), ``w <- w - lr v``.
    """

    name = "momentum"

    def __init__(
        self, params: Sequence[Tensor], lr: float, momentum: float = 0.9
    ) -> None:
        super().__init__(params, lr)
        if not 0.0 <= momentum < 1.0:
            raise ValidationError(f"'momentum' must lie in [0, 1); got {momentum!r}.")
        self.momentum = momentum
        self.velocity = [torch.zeros_like(p, requires_grad=False) for p in self.params]
        self.steps = 0

    def _update(self, grads: list[Tensor]) -> None:
        # v <- mu v + g (v = g on the first step);  w <- w - lr v
        if self.steps == 0:
            torch._foreach_copy_(self.velocity, grads)
        else:
            torch._foreach_mul_(self.velocity, self.momentum)
            torch._foreach_add_(self.velocity, grads)
        torch._foreach_add_(self.params, self.velocity, alpha=-self.lr)
        self.steps += 1

    def state_tensors(self) -> dict[str, Tensor]:
        """Return the velocities."""
        return {f"velocity.{i}": v for i, v in enumerate(self.velocity)}

    def state_scalars(self) -> dict[str, float | int]:
        """Return the step count."""
        return {"steps": self.steps}

    def load_state(
        self, tensors: dict[str, Tensor], scalars: dict[str, float | int]
    ) -> None:
        """Restore velocities and step count."""
        super().load_state(tensors, scalars)
        self.steps = int(scalars["steps"])


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015, arXiv:1412.6980), arithmetic as ``torch.optim.Adam``.

    ``m <- b1 m + (1 - b1) g``, ``v <- b2 v + (1 - b2) g^2``,
    ``w <- w - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)``.
    """

    name = "adam"

    def __init__(
        self,
        params: Sequence[Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        super().__init__(params, lr)
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValidationError(f"'betas[{i}]' must lie in [0, 1); got {beta!r}.")
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps = check_positive("eps", eps)
        self.m = [torch.zeros_like(p, requires_grad=False) for p in self.params]
        self.v = [torch.zeros_like(p, requires_grad=False) for p in self.params]
        self.steps = 0

    def _update(self, g: list[Tensor]) -> None:
        b1, b2 = self.betas
        self.steps += 1
        torch._foreach_lerp_(self.m, g, 1.0 - b1)
        torch._foreach_mul_(self.v, b2)
        torch._foreach_addcmul_(self.v, g, g, value=1.0 - b2)
        bias1 = 1.0 - b1**self.steps
        bias2_sqrt = (1.0 - b2**self.steps) ** 0.5
        denom = torch._foreach_sqrt(self.v)
        torch._foreach_div_(denom, bias2_sqrt)
        torch._foreach_add_(denom, self.eps)
        torch._foreach_addcdiv_(self.params, self.m, denom, value=-self.lr / bias1)

    def state_tensors(self) -> dict[str, Tensor]:
        """Return the first and second moments."""
        out = {f"m.{i}": t for i, t in enumerate(self.m)}
        out.update({f"v.{i}": t for i, t in enumerate(self.v)})
        return out

    def state_scalars(self) -> dict[str, float | int]:
        """Return the step count."""
        return {"steps": self.steps}

    def load_state(
        self, tensors: dict[str, Tensor], scalars: dict[str, float | int]
    ) -> None:
        """Restore moments and step count."""
        super().load_state(tensors, scalars)
        self.steps = int(scalars["steps"])


OPTIMIZERS = ("sgd", "momentum", "adam")
"""Names accepted by :func:`make_optimizer`."""


def make_optimizer(
    name: str, params: Sequence[Tensor], lr: float, *, momentum: float = 0.9
) -> Optimizer:
    """Return the optimizer called ``name`` over ``params``."""
    check_option("optimizer", name, OPTIMIZERS)
    if name == "sgd":
        return GradientDescent(params, lr)
    if name == "momentum":
        return Momentum(params, lr, momentum)
    return Adam(params, lr)
