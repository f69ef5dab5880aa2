"""Differentially private training of a :class:`~neurodl.networks.FeedForward`.

:func:`fit_private` trains a network with per-subject (user-level) DP-SGD
(:mod:`neurodl.privacy.dp`): the network's own forward rules and losses, made
functional so that ``torch.func`` can take exact per-window gradients, averaged
per subject, clipped, summed and noised. The privacy report it returns goes into
the model file (:func:`neurodl.networks.io.save` with ``privacy=``).

Example
-------
>>> import torch
>>> from neurodl.networks import FeedForward
>>> from neurodl.privacy.dp import DPConfig
>>> net = FeedForward((4, 2), output_activation="softmax", seed=0)
>>> x = torch.randn(60, 4, generator=torch.Generator().manual_seed(0))
>>> y = (x[:, 0] > 0).long()
>>> subjects = torch.arange(60) // 3          # 20 subjects, 3 windows each
>>> cfg = DPConfig(dp_epsilon=8.0, dp_delta=1e-3, sample_rate=0.5, steps=20,
...                accountant="rdp")
>>> result = fit_private(net, x, y, subjects.numpy(), cfg)
>>> result.privacy.epsilon <= 8.0, result.privacy.privacy_unit
(True, 'subject')
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor

from neurodl.networks.feedforward import FeedForward
from neurodl.networks.losses import Loss, get_loss
from neurodl.privacy.dp import DPConfig, DPFitResult, dp_fit

__all__ = ["fit_private"]


def fit_private(
    net: FeedForward,
    x: Tensor,
    y: Tensor,
    groups: Any = None,
    config: DPConfig | None = None,
    *,
    loss: str | Loss = "cross_entropy",
    callback: Callable[[int, float], None] | None = None,
) -> DPFitResult:
    """Train ``net`` in place with subject-level DP-SGD (see ``dp_fit``).

    Parameters
    ----------
    net : FeedForward
    x : Tensor, shape (n_windows, n_inputs)
    y : Tensor
        Targets as the loss takes them (class indices for ``cross_entropy``).
    groups : array-like, shape (n_windows,)
        The subject of each window (the privacy unit); not needed for
        ``config.privacy_unit == "sample"``.
    config : DPConfig
        Privacy target and training settings (default ``DPConfig()``: epsilon 8
        per subject).
    loss : {"cross_entropy", "bce", "mse"}
    callback : callable, optional
        ``callback(step, mean_loss)`` after each step.

    Returns
    -------
    DPFitResult
        ``privacy``: the accountant's epsilon (at most the target), delta, noise,
        sampling rate and steps; None for ``DPConfig(dp_epsilon=None)``.
    """
    fn = get_loss(loss)
    fn.check_output_activation(net.dense[-1].activation)
    x = net._check_input(x)
    y = net._check_target(fn, x, y)

    def loss_fn(params: list[Tensor], xb: Tensor, yb: Tensor) -> Tensor:
        zs, acts = net._forward(xb, params)
        return fn.value(zs[-1], acts[-1], yb)

    return dp_fit(loss_fn, net.weights(), x, y, groups, config, callback=callback)
