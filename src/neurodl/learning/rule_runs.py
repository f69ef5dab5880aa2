"""One call to train a credit-assignment rule on a standard dataset and report it.

:func:`train_rule` is what ``neurodl learn --rule`` and ``benchmarks/learning_rules.py``
run: a tanh MLP with two hidden layers of 256 units trained with Adam (lr 1e-3,
batch 100) on MNIST-1D (60 epochs), scikit-learn's digits (40 epochs) or MNIST
(5 epochs), the settings of ``LEARNING.md`` §0.1. The weights start like
``torch.nn.Linear``'s (``init="pytorch"``).
"""

from __future__ import annotations

import time
from dataclasses import asdict, replace
from typing import Any

import numpy as np
import torch
from torch import Tensor

from neurodl._validate import check_int, check_option
from neurodl.learning.trainer import RULES, TrainConfig, accuracy, fit
from neurodl.networks.feedforward import FeedForward

__all__ = ["RULE_DATA", "load_rule_data", "train_rule"]

RULE_DATA = ("mnist1d", "digits", "mnist")
"""Datasets :func:`train_rule` knows."""

DEFAULT_EPOCHS = {"mnist1d": 60, "digits": 40, "mnist": 5}


def load_rule_data(
    data: str, dtype: torch.dtype = torch.float32
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Return ``(x_train, y_train, x_test, y_test)`` of one of :data:`RULE_DATA`.

    MNIST-1D: the ``mnist1d`` package's default 4000/1000 split; digits: the
    training part of :func:`neurodl.data.load_digits` (its validation part added
    back) against its test part; MNIST: 60,000/10,000 images as 784 pixels scaled
    to [0, 1].
    """
    check_option("data", data, RULE_DATA)
    if data == "mnist1d":
        from neurodl.data import load_mnist1d

        xtr, ytr, xte, yte = load_mnist1d()
    elif data == "mnist":
        from neurodl.data import load_mnist

        (xi, ytr), (xt, yte) = load_mnist("train"), load_mnist("test")
        xtr = xi.reshape(len(xi), -1).astype(np.float32) / 255.0
        xte = xt.reshape(len(xt), -1).astype(np.float32) / 255.0
    else:
        from neurodl.data import load_digits

        s = load_digits()
        xtr = np.concatenate([s.x_train.numpy(), s.x_val.numpy()])
        ytr = np.concatenate([s.y_train.numpy(), s.y_val.numpy()])
        xte, yte = s.x_test.numpy(), s.y_test.numpy()
    return (
        torch.as_tensor(xtr, dtype=dtype),
        torch.as_tensor(ytr, dtype=torch.int64),
        torch.as_tensor(xte, dtype=dtype),
        torch.as_tensor(yte, dtype=torch.int64),
    )


def train_rule(
    rule: str,
    data: str = "mnist1d",
    *,
    hidden: tuple[int, ...] = (256, 256),
    activation: str = "tanh",
    epochs: int | None = None,
    batch_size: int = 100,
    optimizer: str = "adam",
    lr: float = 1e-3,
    seed: int = 0,
    kp_decay: float | None = None,
    track_alignment: bool = True,
    threads: int | str = 1,
    arrays: tuple[Tensor, Tensor, Tensor, Tensor] | None = None,
) -> dict[str, Any]:
    """Train a network with ``rule`` on ``data``; return a JSON-friendly record.

    Parameters
    ----------
    rule : str
        One of :data:`neurodl.learning.trainer.RULES`.
    data : {"mnist1d", "digits", "mnist"}
    hidden : tuple of int
        Hidden widths (the input and output widths come from the data).
    activation : str
        Hidden activation; the output is a softmax with cross-entropy.
    epochs : int or None
        None: 60 (MNIST-1D), 40 (digits), 5 (MNIST).
    batch_size, optimizer, lr
        As :class:`~neurodl.learning.trainer.TrainConfig`.
    seed : int
        Seed of the weights, the shuffling and the feedback matrices.
    kp_decay : float or None
        Kolen-Pollack's weight decay (None: ``TrainConfig``'s default).
    track_alignment : bool
        Record the angles per epoch (see ``TrainConfig.track_alignment``).
    threads : int or "auto"
        Intra-op threads (see :func:`~neurodl.learning.trainer.fit`).
    arrays : (x_train, y_train, x_test, y_test), optional
        The data already loaded by :func:`load_rule_data` (saves reloading it).

    Returns
    -------
    dict
        ``rule``, ``data``, ``sizes``, ``seed``, ``config`` (the TrainConfig),
        ``test_accuracy``, ``train_loss``, ``test_loss`` and ``test_accuracy_curve``
        per epoch, ``update_angle`` and ``weight_angle`` per epoch and layer
        (degrees; empty lists without ``track_alignment``), ``seconds``.
    """
    check_option("rule", rule, RULES)
    check_int("seed", seed, minimum=0)
    xtr, ytr, xte, yte = load_rule_data(data) if arrays is None else arrays
    n_classes = int(max(int(ytr.max()), int(yte.max()))) + 1
    sizes = (xtr.shape[1], *hidden, n_classes)
    net = FeedForward(
        sizes, activation, "softmax", init="pytorch", seed=seed, dtype=xtr.dtype
    )
    cfg = TrainConfig(
        loss="cross_entropy",
        optimizer=optimizer,
        lr=lr,
        epochs=DEFAULT_EPOCHS[data] if epochs is None else epochs,
        batch_size=batch_size,
        seed=seed,
        rule=rule,
        feedback_seed=seed,
        track_alignment=track_alignment,
    )
    if kp_decay is not None:
        cfg = replace(cfg, kp_decay=kp_decay)
    t0 = time.perf_counter()
    h = fit(
        net,
        xtr,
        ytr,
        cfg,
        validation=(xte, yte),
        progress=False,
        threads=threads,
        description=f"{rule} on {data}",
    )
    seconds = time.perf_counter() - t0
    return {
        "rule": rule,
        "data": data,
        "sizes": list(sizes),
        "activation": activation,
        "seed": seed,
        "config": asdict(cfg),
        "test_accuracy": accuracy(net, xte, yte, "cross_entropy"),
        "train_loss": h.loss,
        "test_loss": h.val_loss,
        "test_accuracy_curve": h.val_accuracy,
        "update_angle": h.update_angle,
        "weight_angle": h.weight_angle,
        "seconds": seconds,
    }
