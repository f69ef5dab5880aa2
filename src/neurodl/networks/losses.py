"""Loss functions with their derivatives with respect to the output layer.

Each loss gives its value and ``delta_L = dL/dz_L``, the error signal at the output
layer's pre-activation that starts back-propagation. Conventions match PyTorch so
values can be compared directly:

* ``mse``: ``mean((a - y)^2)`` over all entries (``torch.nn.functional.mse_loss``).
  ``delta_L = 2 (a - y) / numel * f'(z_L)``.
* ``bce``: binary cross-entropy computed from the logits ``z_L`` (PyTorch's
  stable ``binary_cross_entropy_with_logits``), mean over all entries
  (``binary_cross_entropy_with_logits``). ``delta_L = (sigmoid(z_L) - y) / numel``.
  The output activation must be ``sigmoid`` (``net(x)`` gives probabilities) or
  ``identity`` (``net(x)`` gives logits).
* ``cross_entropy``: softmax cross-entropy from the logits ``z_L``, mean over samples
  (``torch.nn.functional.cross_entropy``). Targets are class indices, shape
  ``(n_samples,)``, or class probabilities, shape ``(n_samples, n_classes)``.
  ``delta_L = (softmax(z_L) - Y) / n_samples``. Output activation ``softmax`` or
  ``identity``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from neurodl._validate import check_option
from neurodl.errors import ShapeError, ValidationError
from neurodl.neurons.activations import Activation

__all__ = ["LOSSES", "Loss", "get_loss", "prepare_target"]


_REDUCTIONS = {"none": 0, "mean": 1, "sum": 2}
"""ATen's reduction codes (``torch.nn._reduction.get_enum``)."""


@dataclass(frozen=True)
class Loss:
    """A loss on the network output, with the output-layer delta rule.

    Attributes
    ----------
    name : str
        The name it is looked up by.
    output_activations : tuple of str or None
        Output activations it accepts (None: any).
    """

    name: str
    output_activations: tuple[str, ...] | None

    def value(self, z: Tensor, a: Tensor, y: Tensor, reduction: str = "mean") -> Tensor:
        """Return the scalar loss from logits ``z``, outputs ``a`` and targets ``y``.

        ``y`` must already be in the form :func:`prepare_target` returns.
        ``reduction="sum"`` returns the sum instead of the mean, over the same
        terms: divide by :meth:`terms` to get the mean. (Sums of several batches
        add up exactly, which is how the trainer totals an epoch.)
        """
        if self.name == "mse":
            # mean((a - y)^2)
            return F.mse_loss(a, y, reduction=reduction)
        if self.name == "bce":
            # mean(log(1 + e^z) - z y), PyTorch's overflow-free kernel, called
            # directly: F.binary_cross_entropy_with_logits's Python checks cost
            # more than the kernel on small batches
            if z.shape != y.shape:
                raise ShapeError(
                    f"'y' has shape {tuple(y.shape)} but the logits have shape "
                    f"{tuple(z.shape)}; see prepare_target."
                )
            return torch.binary_cross_entropy_with_logits(
                z, y, None, None, _REDUCTIONS[reduction]
            )
        # cross_entropy: mean over samples of -sum_k Y_k log softmax(z)_k
        return F.cross_entropy(z, y, reduction=reduction)

    def terms(self, n_samples: int, n_outputs: int) -> int:
        """Return how many terms the mean averages: all entries, or samples (CE)."""
        return n_samples if self.name == "cross_entropy" else n_samples * n_outputs

    def delta(
        self,
        z: Tensor,
        a: Tensor,
        y: Tensor,
        activation: Activation,
        *,
        scaled: bool = True,
    ) -> Tensor:
        """Return ``delta_L = dL/dz_L``, shape ``(n_samples, n_outputs)``.

        ``scaled=False`` leaves out the mean's constant factor
        (:meth:`mean_factor`): it returns ``delta_L / mean_factor``, one
        elementwise operation fewer, for a caller that folds the factor into its
        learning rate (every later rule is linear in delta).
        """
        if self.name == "mse":
            # dL/da = 2 (a - y) / numel, then the output activation's chain rule
            grad_a = a - y
            if scaled:
                grad_a.mul_(2.0 / a.numel())
            return activation.backward(z, a, grad_a)
        if self.name == "bce":
            # d/dz [log(1 + e^z) - z y] = sigmoid(z) - y, over numel terms
            sigmoid = activation.name == "sigmoid"  # a is sigmoid(z) already
            delta = a - y if sigmoid else torch.sigmoid(z).sub_(y)
        # d/dz [-sum_k Y_k log softmax(z)_k] = softmax(z) - Y   (sum_k Y_k = 1)
        elif activation.name == "softmax":
            delta = a - y
        else:
            delta = torch.softmax(z, dim=-1).sub_(y)
        return delta.div_(self.terms(*z.shape)) if scaled else delta

    def mean_factor(self, z: Tensor) -> float:
        """Return the constant factor of ``delta_L``: ``2/numel`` (mse), ``1/terms``.

        ``delta(..., scaled=True) == mean_factor(z) * delta(..., scaled=False)``.
        """
        if self.name == "mse":
            return 2.0 / z.numel()
        return 1.0 / self.terms(*z.shape)

    def check_output_activation(self, activation: Activation) -> None:
        """Raise if this loss cannot be used with ``activation`` on the output layer."""
        allowed = self.output_activations
        if allowed is not None and activation.name not in allowed:
            opts = " or ".join(map(repr, allowed))
            raise ValidationError(
                f"loss {self.name!r} is computed from the logits and needs "
                f"output_activation {opts}; got {activation.name!r}. "
                "Hint: use loss='mse' for other output activations."
            )


LOSSES: dict[str, Loss] = {
    "mse": Loss("mse", None),
    "bce": Loss("bce", ("sigmoid", "identity")),
    "cross_entropy": Loss("cross_entropy", ("softmax", "identity")),
}
"""Every loss, by name."""


def get_loss(name: str | Loss) -> Loss:
    """Return the loss called ``name``; the error lists the allowed names."""
    if isinstance(name, Loss):
        return name
    if isinstance(name, str) and name in LOSSES:
        return LOSSES[name]
    return LOSSES[check_option("loss", name, LOSSES)]


@functools.lru_cache(maxsize=16)
def _identity(n: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """Return the ``n x n`` identity, made once per size, dtype and device.

    Read-only: :func:`prepare_target` only selects rows from it (new tensors).
    """
    return torch.eye(n, dtype=dtype, device=device)


def _check_labels(labels: Tensor, n_outputs: int) -> None:
    """Raise a clear error unless every class label lies in ``[0, n_outputs)``."""
    if labels.numel():
        lo, hi = (int(v) for v in torch.aminmax(labels))
        if lo < 0 or hi >= n_outputs:
            raise ValidationError(
                f"'y' class labels must lie in [0, {n_outputs - 1}] for a network "
                f"with {n_outputs} outputs; got labels from {lo} to {hi}."
            )


def prepare_target(
    loss: Loss, y: Tensor, n_samples: int, n_outputs: int, dtype: torch.dtype
) -> Tensor:
    """Return targets ``y`` for ``loss``: ``dtype``, shape ``(n_samples, n_outputs)``.

    A 1-D target is accepted for a single output (mse, bce) and, for
    ``cross_entropy``, as integer class indices (turned into one-hot rows).

    Raises
    ------
    ShapeError
        If the shapes do not fit; the message names both shapes.
    ValidationError
        If class indices are out of range.
    """
    want = (n_samples, n_outputs)
    if loss.name == "cross_entropy" and y.ndim == 1 and not y.is_floating_point():
        if y.shape[0] != n_samples:
            raise ShapeError(
                f"'y' holds {y.shape[0]} class labels, shape {tuple(y.shape)}, but "
                f"the input has {n_samples} samples: expected shape ({n_samples},)."
            )
        labels = y if y.dtype in (torch.int64, torch.int32) else y.long()
        eye = _identity(n_outputs, dtype, y.device)
        if y.device.type == "cpu":
            # one-hot rows as rows of the identity; index_select checks the range
            # itself, so valid labels cost one operation
            try:
                return eye.index_select(0, labels)
            except IndexError:
                _check_labels(labels, n_outputs)
                raise
        _check_labels(labels, n_outputs)  # a bad index on a GPU is a device assert
        return eye.index_select(0, labels)
    if y.ndim == 1 and n_outputs == 1:
        y = y.reshape(-1, 1)
    if tuple(y.shape) != want:
        raise ShapeError(
            f"'y' has shape {tuple(y.shape)} but the network output has shape "
            f"{want} (n_samples, n_outputs)."
        )
    return y if y.dtype == dtype else y.to(dtype)
