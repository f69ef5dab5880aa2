"""The minibatch loop shared by the energy-based and local rules (PC, EP, FF).

Each rule supplies a ``step(x_batch, labels_batch) -> float`` that updates its
network in place and returns the batch's summed training loss, and a
``predict(x) -> labels``. :func:`run_epochs` shuffles with a private seeded
generator (so a run is reproducible), records the per-epoch loss, training accuracy
and (optionally) validation accuracy in a :class:`~neurodl.learning.trainer.History`,
and stops with :class:`~neurodl.errors.TrainingDivergedError` on a non-finite loss.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch
from torch import Tensor

from neurodl._validate import (
    check_finite,
    check_int,
    check_matrix,
    check_option,
    check_positive,
)
from neurodl.errors import ShapeError, TrainingDivergedError, ValidationError
from neurodl.learning.optimizers import OPTIMIZERS
from neurodl.learning.trainer import History

__all__ = ["check_common", "check_data", "check_inputs", "check_labels", "run_epochs"]

TRAIN_EVAL = 10_000
"""Training samples the per-epoch training accuracy is measured on (the first)."""

Step = Callable[[Tensor, Tensor], float]
Predict = Callable[[Tensor], Tensor]


def check_inputs(
    name: str, x: object, n_features: int | None, dtype: torch.dtype, rule: str
) -> Tensor:
    """Return ``x`` as a finite ``(n_samples, n_features)`` tensor of ``dtype``."""
    t = x if isinstance(x, Tensor) else torch.as_tensor(x)
    if not t.is_floating_point():
        t = t.to(dtype)
    try:
        check_matrix(name, t, n_features=n_features)
    except ShapeError as exc:
        raise ShapeError(f"{rule}: {exc}") from None
    if t.shape[0] == 0:
        raise ValidationError(
            f"{rule}: {name!r} must hold at least one sample; got shape "
            f"{tuple(t.shape)}."
        )
    return check_finite(name, t.to(dtype))


def check_labels(
    name: str, y: object, n_samples: int, n_classes: int, rule: str
) -> Tensor:
    """Return ``y`` as int64 labels in ``[0, n_classes)``, shape ``(n_samples,)``."""
    t = y if isinstance(y, Tensor) else torch.as_tensor(y)
    if t.ndim != 1 or t.shape[0] != n_samples:
        raise ShapeError(
            f"{rule}: {name!r} must hold one class label per sample, shape "
            f"({n_samples},); got shape {tuple(t.shape)}."
        )
    if t.is_floating_point() or t.dtype == torch.bool:
        raise ValidationError(
            f"{rule}: {name!r} must hold integer class labels; got dtype "
            f"{str(t.dtype).removeprefix('torch.')}."
        )
    t = t.to(torch.int64)
    lo, hi = (int(v) for v in torch.aminmax(t))
    if lo < 0 or hi >= n_classes:
        raise ValidationError(
            f"{rule}: {name!r} class labels must lie in [0, {n_classes - 1}] for "
            f"{n_classes} classes; got labels from {lo} to {hi}."
        )
    return t


def check_common(
    rule: str, epochs: int, batch_size: int, lr: float, seed: int, optimizer: str
) -> None:
    """Check the arguments every rule's ``fit_*`` takes."""
    for name, value, low in (("epochs", epochs, 1), ("batch_size", batch_size, 1)):
        try:
            check_int(name, value, minimum=low)
        except ValidationError as exc:
            raise ValidationError(f"{rule}: {exc}") from None
    try:
        check_positive("lr", lr)
        check_int("seed", seed, minimum=0)
        check_option("optimizer", optimizer, OPTIMIZERS)
    except ValidationError as exc:
        raise ValidationError(f"{rule}: {exc}") from None


def check_data(
    rule: str,
    x: object,
    y: object,
    validation: tuple[object, object] | None,
    *,
    n_features: int | None,
    n_classes: int,
    dtype: torch.dtype,
) -> tuple[Tensor, Tensor, tuple[Tensor, Tensor] | None]:
    """Return ``(x, y, validation)`` checked for a rule's ``fit_*``.

    ``n_features`` None takes ``x``'s width, which ``validation``'s inputs must then
    have too.
    """
    xt = check_inputs("x", x, n_features, dtype, rule)
    yt = check_labels("y", y, xt.shape[0], n_classes, rule)
    if validation is None:
        return xt, yt, None
    xv = check_inputs("x_val", validation[0], xt.shape[1], dtype, rule)
    yv = check_labels("y_val", validation[1], xv.shape[0], n_classes, rule)
    return xt, yt, (xv, yv)


def run_epochs(
    step: Step,
    predict: Predict,
    x: Tensor,
    y: Tensor,
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    validation: tuple[Tensor, Tensor] | None,
    rule: str,
    track_accuracy: bool = True,
) -> History:
    """Train for ``epochs`` passes of shuffled minibatches; return the history.

    ``history.loss`` is the mean per-sample training loss the rule reports for the
    epoch (as the minibatches saw it), ``history.accuracy`` the training accuracy
    after the epoch (when ``track_accuracy``; on the first :data:`TRAIN_EVAL`
    training samples, since a prediction costs a relaxation (EP) or one pass per
    class (FF)) and ``history.val_accuracy`` the accuracy on ``validation``.
    """
    n = x.shape[0]
    gen = torch.Generator().manual_seed(seed)
    history = History()
    for epoch in range(epochs):
        t0 = time.perf_counter()
        order = torch.randperm(n, generator=gen)
        total = 0.0
        for i in range(0, n, batch_size):
            idx = order[i : i + batch_size]
            total += step(x[idx], y[idx])
        loss = total / n
        if not math.isfinite(loss):
            raise TrainingDivergedError(
                f"{rule}: training loss became {loss} in epoch {epoch + 1}. "
                "Hint: lower the learning rate.",
                epoch=epoch + 1,
            )
        history.loss.append(loss)
        if track_accuracy:
            history.accuracy.append(_accuracy(predict, x[:TRAIN_EVAL], y[:TRAIN_EVAL]))
        if validation is not None:
            history.val_accuracy.append(_accuracy(predict, *validation))
        history.seconds.append(time.perf_counter() - t0)
        if loss < history.best_loss:
            history.best_loss = loss
            history.best_epoch = epoch + 1
    return history


def _accuracy(predict: Predict, x: Tensor, y: Tensor, chunk: int = 2000) -> float:
    right = 0
    with torch.no_grad():
        for i in range(0, x.shape[0], chunk):
            right += int((predict(x[i : i + chunk]) == y[i : i + chunk]).sum())
    return right / x.shape[0]
