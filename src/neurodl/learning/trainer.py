"""Minibatch gradient-descent training with checkpoints and exact resume.

:func:`fit` trains a :class:`~neurodl.networks.FeedForward` with gradients from the
explicit delta rules (``engine="explicit"``) or from autograd
(``engine="autograd"``), and one of the update rules in
:mod:`neurodl.learning.optimizers`. ``TrainConfig(rule=...)`` chooses how the error
reaches the hidden layers: back-propagation (``"bp"``) or one of the rules without
weight transport in :mod:`neurodl.learning.feedback` (``"fa"``, ``"dfa"``,
``"sign"``, ``"kp"``).

Reproducibility: the shuffling order comes from a private generator seeded with
``config.seed``. A checkpoint holds the parameters, the optimizer state, that
generator's state, the feedback matrices (``kp``'s as they have evolved), the
early-stopping state and the history, so a run resumed from a
checkpoint is bit-identical to a run that was never interrupted.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from neurodl._io import read_tensors, write_tensors
from neurodl._threads import resolve_threads, use_threads
from neurodl._validate import check_int, check_option, check_positive
from neurodl.errors import (
    FormatError,
    ModelFileError,
    TrainingDivergedError,
    ValidationError,
)
from neurodl.learning.feedback import (
    FEEDBACK_RULES,
    Feedback,
    feedback_step,
    make_feedback,
    update_angles,
    weight_angles,
)
from neurodl.learning.optimizers import (
    OPTIMIZERS,
    GradientDescent,
    Optimizer,
    make_optimizer,
)
from neurodl.networks.feedforward import FeedForward
from neurodl.networks.losses import LOSSES, Loss, get_loss

__all__ = ["ENGINES", "RULES", "History", "TrainConfig", "accuracy", "fit"]

ENGINES = ("explicit", "autograd")
RULES: tuple[str, ...] = ("bp", *FEEDBACK_RULES)
"""Credit-assignment rules ``fit`` trains with (``TrainConfig.rule``).

A new rule adds its name here and its dispatch in :func:`fit`; rules that need
something of the network are checked there (see :func:`_rule_state`).
"""
ALIGNMENT_PROBE = 1000
"""``track_alignment`` measures the angles on the first this many training samples."""
CHECKPOINT_KIND = "neurodl.Checkpoint"
CHECKPOINT_NAME = "checkpoint.safetensors"


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run's arithmetic.

    Parameters
    ----------
    loss : {"mse", "bce", "cross_entropy"}
    optimizer : {"sgd", "momentum", "adam"}
        ``"sgd"`` is the plain rule ``w <- w - lr dL/dw``.
    lr : float
        Learning rate ``eta`` (> 0).
    momentum : float
        Momentum coefficient for ``optimizer="momentum"``, in [0, 1).
    epochs : int
        Number of passes over the training set (>= 1).
    batch_size : int or None
        Minibatch size; None for full-batch gradient descent.
    shuffle : bool
        Reshuffle the samples every epoch (minibatches only).
    engine : {"explicit", "autograd"}
        Where gradients come from.
    seed : int
        Seed of the shuffling order.
    patience : int or None
        Early stopping: stop when the monitored loss (validation loss if given,
        else training loss) has not improved by more than ``min_delta`` for this
        many epochs. None: never stop early.
    min_delta : float
        Smallest decrease that counts as an improvement (>= 0).
    restore_best : bool
        On an early stop, put back the parameters of the best epoch.
    checkpoint_every : int
        Write a checkpoint every this many epochs (0: only with ``checkpoint_dir``
        at the end).
    track_accuracy : bool
        Record the training-set accuracy after every epoch (``bce`` and
        ``cross_entropy``; one extra forward pass over the training set).
    rule : {"bp", "fa", "dfa", "sign", "kp"}
        How the error reaches the hidden layers: back-propagation, feedback
        alignment, direct feedback alignment, sign symmetry or Kolen-Pollack
        (:mod:`neurodl.learning.feedback`). Rules other than ``"bp"`` need
        ``engine="explicit"`` and a network with a hidden layer.
    feedback_seed : int
        Seed of the random feedback matrices (``fa``, ``dfa``, ``kp``).
    kp_decay : float
        Kolen-Pollack's weight decay ``lambda`` (>= 0; ``kp`` only): each step
        multiplies every weight matrix and its feedback matrix by ``1 - lr lambda``.
        The default 0.1 suits Adam at lr 1e-3 (MNIST-1D: 69.4 % test accuracy,
        final update angles 10-11 degrees; 1.0 gave 62.5 %); with plain SGD at a
        large lr, lower it (the decay per step is ``lr lambda``).
    track_alignment : bool
        After every epoch record, per layer, the angle between the rule's weight
        update and the back-propagation gradient (``History.update_angle``) and
        the angle between each W and its feedback matrix (``History.weight_angle``),
        measured on the first :data:`ALIGNMENT_PROBE` training samples.
    """

    loss: str = "mse"
    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    epochs: int = 100
    batch_size: int | None = None
    shuffle: bool = True
    engine: str = "explicit"
    seed: int = 0
    patience: int | None = None
    min_delta: float = 0.0
    restore_best: bool = True
    checkpoint_every: int = 0
    track_accuracy: bool = False
    rule: str = "bp"
    feedback_seed: int = 0
    kp_decay: float = 0.1
    track_alignment: bool = False

    def __post_init__(self) -> None:
        """Check every field."""
        check_option("loss", self.loss, LOSSES)
        check_option("optimizer", self.optimizer, OPTIMIZERS)
        check_option("engine", self.engine, ENGINES)
        check_positive("lr", self.lr)
        if not 0.0 <= self.momentum < 1.0:
            raise ValidationError(
                f"'momentum' must lie in [0, 1); got {self.momentum!r}."
            )
        check_int("epochs", self.epochs, minimum=1)
        if self.batch_size is not None:
            check_int("batch_size", self.batch_size, minimum=1)
        check_int("seed", self.seed, minimum=0)
        if self.patience is not None:
            check_int("patience", self.patience, minimum=1)
        check_positive("min_delta", self.min_delta, strict=False)
        check_int("checkpoint_every", self.checkpoint_every, minimum=0)
        check_option("rule", self.rule, RULES)
        check_int("feedback_seed", self.feedback_seed, minimum=0)
        check_positive("kp_decay", self.kp_decay, strict=False)
        if self.rule != "bp" and self.engine != "explicit":
            raise ValidationError(
                f"'rule' {self.rule!r} runs on engine 'explicit' only; got engine "
                f"{self.engine!r}."
            )
        if self.track_accuracy and self.loss == "mse":
            raise ValidationError(
                "'track_accuracy' needs a classification loss ('bce' or "
                "'cross_entropy'); got loss 'mse'."
            )


@dataclass
class History:
    """Per-epoch record of a training run (lists indexed by epoch - 1).

    ``update_angle[e][l]`` and ``weight_angle[e][l]`` (degrees) are filled with
    ``TrainConfig(track_alignment=True)``: see
    :func:`neurodl.learning.feedback.update_angles` and
    :func:`~neurodl.learning.feedback.weight_angles`.
    """

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    update_angle: list[list[float]] = field(default_factory=list)
    weight_angle: list[list[float]] = field(default_factory=list)
    best_epoch: int = 0
    best_loss: float = math.inf
    wait: int = 0
    stopped: str = ""

    @property
    def epochs(self) -> int:
        """Number of epochs run."""
        return len(self.loss)

    def to_dict(self) -> dict[str, Any]:
        """Return the history as JSON-friendly values."""
        out = asdict(self)
        out["best_loss"] = None if math.isinf(self.best_loss) else self.best_loss
        out["epochs"] = self.epochs
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> History:
        """Rebuild a history written by :meth:`to_dict`."""
        d = dict(d)
        d.pop("epochs", None)
        if d.get("best_loss") is None:
            d["best_loss"] = math.inf
        return cls(**d)


def accuracy(net: FeedForward, x: Tensor, y: Tensor, loss: str | Loss) -> float:
    """Return the fraction of samples classified correctly.

    ``bce``: output logit > 0 (probability > 0.5) against targets >= 0.5;
    ``cross_entropy``: arg-max against the class index (or the target's arg-max);
    ``mse``: outputs rounded to the nearest integer against the targets.
    """
    fn = get_loss(loss)
    with torch.no_grad():
        x = net._check_input(x)
        y = net._check_target(fn, x, y)
        t = net._trace(x)
        return _fraction_right(fn, t.z[-1], t.a[-1], y)


def _fraction_right(fn: Loss, z: Tensor, a: Tensor, y: Tensor) -> float:
    """Accuracy from output logits ``z``, outputs ``a`` and prepared targets ``y``."""
    if fn.name == "bce":
        right = (z > 0) == (y >= 0.5)
    elif fn.name == "cross_entropy":
        right = z.argmax(dim=1) == y.argmax(dim=1)
    else:
        right = torch.round(a) == y
    if right.ndim == 2:
        right = right.all(dim=1)
    return float(right.to(torch.float64).mean())


StopRule = Callable[[FeedForward, History], bool]


def fit(
    net: FeedForward,
    x: Tensor,
    y: Tensor,
    config: TrainConfig | None = None,
    *,
    validation: tuple[Tensor, Tensor] | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
    progress: bool | None = None,
    stop_when: StopRule | None = None,
    threads: int | str = "auto",
    description: str = "training",
) -> History:
    """Train ``net`` on ``(x, y)`` in place and return the history.

    Parameters
    ----------
    net : FeedForward
    x : Tensor, shape (n_samples, n_inputs)
    y : Tensor, shape (n_samples, n_outputs) or (n_samples,)
        Targets; class indices allowed for ``cross_entropy``.
    config : TrainConfig
        The run's settings (default ``TrainConfig()``).
    validation : (x_val, y_val), optional
        Evaluated after every epoch: validation loss (and accuracy for ``bce`` and
        ``cross_entropy``); monitored by early stopping.
    checkpoint_dir : path, optional
        Folder for ``checkpoint.safetensors``, written atomically every
        ``config.checkpoint_every`` epochs and at the end.
    resume : bool
        Continue from the checkpoint in ``checkpoint_dir`` (which must exist and
        have been written with the same config and network shape).
    progress : bool or None
        Show a rich progress bar; None: only when stderr is a terminal.
    stop_when : callable, optional
        ``stop_when(net, history) -> bool``, called after each epoch; True stops the
        run (``history.stopped == "stop_when"``).
    threads : int or "auto"
        Intra-op threads while training; see :mod:`neurodl._threads`.
    description : str
        Label of the progress bar.

    Raises
    ------
    TrainingDivergedError
        If the training loss becomes NaN or infinite. The network is put back to
        its parameters at the end of the last finite epoch, and the last checkpoint
        (written before the failure) is left untouched.
    """
    cfg = config if config is not None else TrainConfig()
    fn = get_loss(cfg.loss)
    fn.check_output_activation(net.dense[-1].activation)
    x = net._check_input(x)
    y = net._check_target(fn, x, y)
    val = None
    if validation is not None:
        xv = net._check_input(validation[0])
        val = (xv, net._check_target(fn, xv, validation[1]))
    n = x.shape[0]
    if n == 0:
        raise ValidationError("'x' must hold at least one sample; got shape (0, ...).")
    batch = n if cfg.batch_size is None else min(cfg.batch_size, n)
    params = net.weights()  # detached views of the parameters, updated in place
    opt = make_optimizer(cfg.optimizer, params, cfg.lr, momentum=cfg.momentum)
    feedback = _rule_state(net, cfg)
    gen = torch.Generator().manual_seed(cfg.seed)
    history = History()
    ckpt = (
        Path(checkpoint_dir) / CHECKPOINT_NAME if checkpoint_dir is not None else None
    )
    best = [p.clone() for p in params] if cfg.patience is not None else None
    if resume:
        if ckpt is None:
            raise ValidationError("'resume' needs 'checkpoint_dir'; got None.")
        history = _load_checkpoint(ckpt, net, opt, gen, best, cfg, feedback)
    if progress is None:
        progress = _stderr_is_terminal()
    n_work = sum(p.numel() for p in params) * batch
    terms = fn.terms(n, y.shape[1])
    # Divergence puts the network back to the end of the last finite epoch. An
    # epoch of one batch reads its loss before updating (accept) and so never
    # leaves it; minibatch epochs copy the parameters first.
    one_batch = batch >= n
    # kp's feedback matrices move with the weights and are put back with them
    moving = params + (feedback.matrices if feedback and feedback.rule == "kp" else [])
    snapshot = None if one_batch else [p.clone() for p in moving]
    summed = [math.nan]  # the one batch's summed loss, read before the update

    def accept(value: Tensor) -> bool:
        summed[0] = value.item()
        return math.isfinite(summed[0])

    with (
        use_threads(resolve_threads(threads, n_work)),
        _Progress(progress, description, cfg.epochs, history.epochs) as bar,
    ):
        for epoch in range(history.epochs, cfg.epochs):
            if history.stopped:
                break
            t0 = time.perf_counter()
            if snapshot is None:
                train_step(
                    net,
                    params,
                    x,
                    y,
                    fn,
                    opt,
                    None,
                    cfg.engine,
                    accept=accept,
                    feedback=feedback,
                )
                epoch_loss = summed[0] / terms
            else:
                torch._foreach_copy_(snapshot, moving)
                total = _run_epoch(
                    net, params, x, y, fn, opt, cfg, batch, gen, feedback
                )
                epoch_loss = float(total) / terms
            if not math.isfinite(epoch_loss):
                if snapshot is not None:
                    torch._foreach_copy_(moving, snapshot)
                good = str(ckpt) if ckpt and ckpt.exists() else None
                where = f" The last good checkpoint is {good!r}." if good else ""
                raise TrainingDivergedError(
                    f"training loss became {epoch_loss} in epoch {epoch + 1}; the "
                    f"network was put back to the end of epoch {epoch}.{where} "
                    f"Hint: lower the learning rate (lr={cfg.lr}) or check the "
                    "inputs' scale.",
                    epoch=epoch + 1,
                    checkpoint=good,
                )
            history.loss.append(epoch_loss)
            if cfg.track_accuracy:
                history.accuracy.append(accuracy(net, x, y, fn))
            monitored = epoch_loss
            if val is not None:
                with torch.no_grad():
                    t = net._trace(val[0])
                    vloss = float(fn.value(t.z[-1], t.a[-1], val[1]))
                    if fn.name != "mse":
                        history.val_accuracy.append(
                            _fraction_right(fn, t.z[-1], t.a[-1], val[1])
                        )
                history.val_loss.append(vloss)
                monitored = vloss
            history.seconds.append(time.perf_counter() - t0)
            if cfg.track_alignment:
                probe = slice(0, ALIGNMENT_PROBE)
                history.update_angle.append(
                    update_angles(net, feedback, x[probe], y[probe], fn)
                )
                history.weight_angle.append(weight_angles(net, feedback))
            _early_stopping(history, monitored, cfg, params, best)
            if (
                stop_when is not None
                and not history.stopped
                and stop_when(net, history)
            ):
                history.stopped = "stop_when"
            if (
                ckpt is not None
                and cfg.checkpoint_every
                and (epoch + 1) % cfg.checkpoint_every == 0
            ):
                _save_checkpoint(ckpt, net, opt, gen, best, cfg, history, feedback)
            bar.advance(epoch_loss)
        if (
            history.stopped == "early_stopping"
            and cfg.restore_best
            and best is not None
        ):
            torch._foreach_copy_(params, best)
        if ckpt is not None:
            _save_checkpoint(ckpt, net, opt, gen, best, cfg, history, feedback)
    return history


def _rule_state(net: FeedForward, cfg: TrainConfig) -> Feedback | None:
    """Return what ``cfg.rule`` needs while training ``net`` (None for ``"bp"``).

    Raises the one error naming 'rule' when the rule does not apply to ``net``.
    """
    return make_feedback(net, cfg.rule, seed=cfg.feedback_seed, kp_decay=cfg.kp_decay)


def _run_epoch(
    net: FeedForward,
    weights: list[Tensor],
    x: Tensor,
    y: Tensor,
    fn: Loss,
    opt: Optimizer,
    cfg: TrainConfig,
    batch: int,
    gen: torch.Generator,
    feedback: Feedback | None = None,
) -> Tensor:
    """Run one epoch; return the loss summed over its terms, a 0-d tensor."""
    n = x.shape[0]
    if batch >= n:
        batches = [(x, y)]
    else:
        order = torch.randperm(n, generator=gen) if cfg.shuffle else torch.arange(n)
        order = order.to(x.device)
        batches = [
            (x[idx], y[idx])
            for idx in (order[i : i + batch] for i in range(0, n, batch))
        ]
    total = torch.zeros((), dtype=torch.float64, device=x.device)
    for xb, yb in batches:
        train_step(net, weights, xb, yb, fn, opt, total, cfg.engine, feedback=feedback)
    return total


def train_step(
    net: FeedForward,
    weights: list[Tensor],
    x: Tensor,
    y: Tensor,
    loss: Loss,
    opt: Optimizer,
    total: Tensor | None = None,
    engine: str = "explicit",
    *,
    accept: Callable[[Tensor], bool] | None = None,
    feedback: Feedback | None = None,
) -> Tensor:
    """Take one minibatch step; return the loss summed over its terms (0-d tensor).

    ``weights`` are ``net.weights()`` (which ``opt`` updates); ``x`` and ``y`` must
    be validated and shaped. The summed loss is also added to ``total`` in place
    when given. ``accept``: called with the summed loss before anything is
    updated; the weights and the optimizer are left untouched unless it returns
    True. This is the whole of the training loop's hot path
    (``benchmarks/backprop.py`` times exactly this function). ``feedback``: the
    rule's pathway (:func:`neurodl.learning.feedback.make_feedback`; explicit
    engine), None for back-propagation.
    """
    if feedback is not None:
        value = feedback_step(net, feedback, weights, x, y, loss, opt, accept=accept)
    elif engine == "explicit" and type(opt) is GradientDescent:
        # the article's rule, applied layer by layer without gradient tensors
        value = net.descend(x, y, loss, opt.lr, weights, accept=accept)
    else:
        if engine == "explicit":
            summed, grads = net.loss_and_grads(
                x, y, loss, reduction="sum", weights=weights
            )
            assert summed is not None  # with_loss defaults to True
            value = summed
        else:
            mean, grads = _autograd_step(net, x, y, loss)
            # the sum in float64, as the epoch's total has always accumulated it
            terms = loss.terms(x.shape[0], y.shape[1])
            value = mean.to(torch.float64) * terms
        if accept is None or accept(value):
            opt.step(grads)
    if total is not None:
        total.add_(value)
    return value


def _autograd_step(
    net: FeedForward, x: Tensor, y: Tensor, fn: Loss
) -> tuple[Tensor, list[Tensor]]:
    t = net._trace(x)
    value = fn.value(t.z[-1], t.a[-1], y)
    grads = torch.autograd.grad(value, net.parameters_list())
    return value.detach(), list(grads)


def _early_stopping(
    history: History,
    monitored: float,
    cfg: TrainConfig,
    params: list[Tensor],
    best: list[Tensor] | None,
) -> None:
    if monitored < history.best_loss - cfg.min_delta:
        history.best_loss = monitored
        history.best_epoch = history.epochs
        history.wait = 0
        if best is not None:
            torch._foreach_copy_(best, params)
    else:
        history.wait += 1
        if cfg.patience is not None and history.wait >= cfg.patience:
            history.stopped = "early_stopping"


def _save_checkpoint(
    path: Path,
    net: FeedForward,
    opt: Optimizer,
    gen: torch.Generator,
    best: list[Tensor] | None,
    cfg: TrainConfig,
    history: History,
    feedback: Feedback | None,
) -> None:
    tensors: dict[str, Tensor] = {f"model.{k}": v for k, v in net.named_parameters()}
    if feedback is not None:
        tensors.update(feedback.state_tensors())
    tensors.update({f"optimizer.{k}": v for k, v in opt.state_tensors().items()})
    tensors["rng"] = gen.get_state()
    if best is not None:
        tensors.update({f"best.{i}": t for i, t in enumerate(best)})
    meta = {
        "kind": CHECKPOINT_KIND,
        "network": net.config(),
        "train_config": asdict(cfg),
        "optimizer": opt.state_scalars(),
        "history": history.to_dict(),
    }
    write_tensors(path, tensors, meta)


def _load_checkpoint(
    path: Path,
    net: FeedForward,
    opt: Optimizer,
    gen: torch.Generator,
    best: list[Tensor] | None,
    cfg: TrainConfig,
    feedback: Feedback | None,
) -> History:
    tensors, meta = read_tensors(path, kind=CHECKPOINT_KIND)
    if meta.get("network") != net.config():
        raise ModelFileError(
            f"checkpoint {str(path)!r} was written for network {meta.get('network')}, "
            f"not for {net.config()}."
        )
    # fields added after a checkpoint was written count as their defaults there
    saved = {**asdict(TrainConfig()), **meta.get("train_config", {})}
    mine = asdict(cfg)
    diff = {
        k: (saved.get(k), v)
        for k, v in mine.items()
        if k not in ("epochs",) and saved.get(k) != v
    }
    if diff:
        pairs = ", ".join(
            f"{k}: checkpoint {a!r} vs now {b!r}" for k, (a, b) in diff.items()
        )
        raise ValidationError(
            f"cannot resume from {str(path)!r}: the training config differs ({pairs}). "
            "Only 'epochs' may change on resume."
        )
    try:
        with torch.no_grad():
            for name, p in net.named_parameters():
                p.copy_(tensors[f"model.{name}"])
            if best is not None:
                saved_best = [tensors[f"best.{i}"] for i in range(len(best))]
                torch._foreach_copy_(best, saved_best)
        prefix = "optimizer."
        opt.load_state(
            {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)},
            meta.get("optimizer", {}),
        )
        if feedback is not None:
            feedback.load_state(tensors)
        gen.set_state(tensors["rng"])
        return History.from_dict(meta["history"])
    except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as exc:
        raise FormatError(
            f"checkpoint {str(path)!r} is missing or has bad fields: {exc!r}",
            path=path,
            fmt="neurodl checkpoint",
        ) from exc


def _stderr_is_terminal() -> bool:
    import sys

    return bool(getattr(sys.stderr, "isatty", lambda: False)())


class _Progress:
    """A rich progress bar over epochs, or nothing when disabled."""

    def __init__(self, enabled: bool, description: str, total: int, done: int) -> None:
        self.enabled = enabled
        self.description = description
        self.total = total
        self.done = done

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]}"),
                TimeRemainingColumn(),
                transient=True,
            )
            self._bar.__enter__()
            self._task = self._bar.add_task(
                self.description, total=self.total, completed=self.done, loss="-"
            )
        return self

    def advance(self, loss: float) -> None:
        if self.enabled:
            self._bar.update(self._task, advance=1, loss=f"{loss:.4g}")

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self._bar.__exit__(None, None, None)
