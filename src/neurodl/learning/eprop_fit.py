"""Training recurrent spiking networks with e-prop: :func:`fit_eprop` and two tasks.

See :mod:`neurodl.learning.eprop` for the network, the equations and the
gradients. :func:`sine_pattern_task` is the pattern-generation task of Bellec et
al. (2020)'s reference tutorial (frozen Poisson input, a sum of sines as target,
``loss="mse"``); :func:`evidence_task` is a shortened evidence-accumulation task
(their Fig. 3: count left and right cues, answer after a delay;
``loss="cross_entropy"`` with a mask on the recall period, ALIF neurons help).

Examples
--------
>>> from neurodl.learning.eprop import RecurrentLIF
>>> x, target = sine_pattern_task(n_steps=60, n_in=20, seed=0)
>>> net = RecurrentLIF(20, 30, 1, seed=0)
>>> hist = fit_eprop(net, x, target, epochs=10, lr=0.01, rate_reg=10.0)
>>> hist.loss[-1] < 0.5 * hist.loss[0]
True
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import torch
from torch import Tensor

from neurodl._validate import check_int, check_option, check_positive
from neurodl.errors import ValidationError
from neurodl.learning.eprop import (
    FEEDBACKS,
    PARAM_NAMES,
    RecurrentLIF,
    _check_reg,
    _check_target,
    bptt_gradients,
    eprop_gradients,
    random_feedback,
)
from neurodl.learning.optimizers import OPTIMIZERS, make_optimizer

__all__ = [
    "EPROP_METHODS",
    "EpropHistory",
    "EvidenceTask",
    "evidence_task",
    "fit_eprop",
    "sine_pattern_task",
]

EPROP_METHODS = ("eprop", "bptt")
"""Training methods of :func:`fit_eprop`."""


# ------------------------------------------------------------------ training
@dataclass
class EpropHistory:
    """Learning curve of :func:`fit_eprop` (lists indexed by epoch - 1)."""

    loss: list[float] = field(default_factory=list)  # task loss, before the update
    rate: list[float] = field(default_factory=list)  # mean spikes per step
    seconds: list[float] = field(default_factory=list)
    method: str = "eprop"
    feedback: str = "symmetric"

    @property
    def epochs(self) -> int:
        """Number of epochs run."""
        return len(self.loss)

    def to_dict(self) -> dict[str, Any]:
        """Return the history as JSON-friendly values."""
        return {
            "loss": list(self.loss),
            "rate": list(self.rate),
            "seconds": list(self.seconds),
            "method": self.method,
            "feedback": self.feedback,
            "epochs": self.epochs,
        }


def fit_eprop(
    net: RecurrentLIF,
    x: Tensor,
    target: Tensor,
    *,
    loss: str = "mse",
    mask: Tensor | None = None,
    method: str = "eprop",
    feedback: str = "symmetric",
    epochs: int = 100,
    lr: float = 1e-3,
    optimizer: str = "adam",
    batch_size: int | None = None,
    rate_reg: float = 0.0,
    rate_target: float = 0.01,
    seed: int = 0,
) -> EpropHistory:
    """Train ``net`` in place with e-prop (or BPTT, for comparison).

    Each epoch visits the samples (axis 1 of ``x``) in mini-batches, in an order
    drawn from ``seed``; each batch gives one gradient (e-prop or BPTT) and one
    optimizer step on ``W_in, W_rec, W_out, b_out``. The same ``seed`` and the
    same initial network give the same run.

    Parameters
    ----------
    net : RecurrentLIF
    x, target, loss, mask, rate_reg, rate_target
        As in :func:`eprop_gradients` (``mask`` per sample, sliced with the batch).
    method : {"eprop", "bptt"}
        ``"bptt"``: the exact gradient by autograd (``feedback`` is then unused).
    feedback : {"symmetric", "random"}
        For e-prop; the random ``B`` is drawn once from ``seed``.
    epochs : int
        Passes over the data (>= 1).
    lr : float
        Learning rate (> 0).
    optimizer : str
        One of :data:`neurodl.learning.OPTIMIZERS` (default Adam).
    batch_size : int or None
        Samples per update; None: all of them (one update per epoch).
    seed : int
        Seed of the sample order and the random feedback (>= 0).

    Returns
    -------
    EpropHistory
        The task loss of each epoch (mean over its batches, measured before each
        update), the mean firing rate and the time taken.
    """
    check_option("method", method, EPROP_METHODS)
    check_option("feedback", feedback, FEEDBACKS)
    check_option("optimizer", optimizer, OPTIMIZERS)
    check_int("epochs", epochs, minimum=1)
    check_positive("lr", lr)
    check_int("seed", seed, minimum=0)
    x = net.check_input(x)
    tg = _check_target(net, x, target, mask, loss)  # checks shapes once
    _check_reg(rate_reg, rate_target)
    n_samples = x.shape[1]
    if batch_size is None:
        batch_size = n_samples
    check_int("batch_size", batch_size, minimum=1)
    fb = random_feedback(net, seed) if feedback == "random" else None
    params = list(net.params().values())
    opt = make_optimizer(optimizer, params, lr=lr)
    gen = torch.Generator().manual_seed(seed)
    mask_full = mask if mask is None else torch.as_tensor(mask)
    hist = EpropHistory(method=method, feedback=feedback)
    for _ in range(epochs):
        start = time.perf_counter()
        order = torch.randperm(n_samples, generator=gen)
        losses, rates = [], []
        for s in range(0, n_samples, batch_size):
            idx = order[s : s + batch_size]
            xb, tb = x[:, idx], tg.target[:, idx]
            mb = None if mask_full is None else mask_full[:, idx]
            kw: dict[str, Any] = {
                "loss": loss,
                "mask": mb,
                "rate_reg": rate_reg,
                "rate_target": rate_target,
            }
            if method == "eprop":
                fbm = net.W_out.detach() if fb is None else fb
                res = eprop_gradients(net, xb, tb, feedback=fbm, **kw)
            else:
                res = bptt_gradients(net, xb, tb, **kw)
            if not math.isfinite(res.loss):
                raise ValidationError(
                    f"the loss became {res.loss!r} at epoch {hist.epochs + 1}; "
                    f"lower 'lr' (got {lr!r})."
                )
            opt.step([res.grads[name] for name in PARAM_NAMES])
            with torch.no_grad():
                net.W_rec.mul_(net.rec_mask)  # no self-connections
            losses.append(res.task_loss)
            rates.append(float(res.rate.mean()))
        hist.loss.append(sum(losses) / len(losses))
        hist.rate.append(sum(rates) / len(rates))
        hist.seconds.append(time.perf_counter() - start)
    return hist


# ------------------------------------------------------------------ task
def sine_pattern_task(
    n_steps: int = 500,
    n_in: int = 50,
    n_out: int = 1,
    *,
    rate: float = 0.05,
    periods: tuple[float, ...] = (500.0, 250.0, 167.0, 100.0),
    seed: int = 0,
    dtype: torch.dtype | None = None,
) -> tuple[Tensor, Tensor]:
    """Pattern generation: frozen Poisson input, a sum of sines as the target.

    The reference code's ``tutorial_pattern_generation`` (Bellec et al. 2020,
    Fig. 2-type regression): each target is ``sum_k w_k sin(2 pi t / P_k +
    phi_k)`` with ``w_k ~ U(0.5, 2)``, ``phi_k ~ U(0, 2 pi)``, shifted to start at 0
    and scaled to a maximum ``|.|`` of 1 (as ``sum_of_sines_target``); the input
    is one frozen sample of ``n_in`` Poisson trains with spike probability
    ``rate`` per step (50 Hz at 1 ms steps).

    Returns
    -------
    x : Tensor, shape (n_steps, 1, n_in)
    target : Tensor, shape (n_steps, 1, n_out)
    """
    check_int("n_steps", n_steps, minimum=1)
    check_int("n_in", n_in, minimum=1)
    check_int("n_out", n_out, minimum=1)
    check_int("seed", seed, minimum=0)
    if not 0.0 < rate <= 1.0:
        raise ValidationError(f"'rate' must lie in (0, 1]; got {rate!r}.")
    if len(periods) < 1:
        raise ValidationError(f"'periods' needs at least one period; got {periods!r}.")
    for p in periods:
        check_positive("periods", p)
    gen = torch.Generator().manual_seed(seed)
    f64 = torch.float64
    x = (torch.rand(n_steps, 1, n_in, generator=gen, dtype=f64) < rate).to(f64)
    t = torch.arange(n_steps, dtype=f64)
    k = len(periods)
    out = []
    for _ in range(n_out):
        w = 0.5 + 1.5 * torch.rand(k, generator=gen, dtype=f64)
        phase = 2 * math.pi * torch.rand(k, generator=gen, dtype=f64)
        per = torch.tensor(periods, dtype=f64)
        s = (
            w[:, None] * torch.sin(2 * math.pi * t / per[:, None] + phase[:, None])
        ).sum(0)
        s = s - s[0]
        out.append(s / max(float(s.abs().max()), 1e-6))
    target = torch.stack(out, dim=1).unsqueeze(1)
    dt = dtype or torch.get_default_dtype()
    return x.to(dt), target.to(dt)


class EvidenceTask(NamedTuple):
    """Trials of :func:`evidence_task`: ``x, target, mask`` go to :func:`fit_eprop`."""

    x: Tensor  # (T, n_trials, 4 n_per_channel) input spikes
    target: Tensor  # (T, n_trials) int64: the trial's label at every step
    mask: Tensor  # (T, n_trials): 1 in the recall period, else 0
    label: Tensor  # (n_trials,) int64: 1 if most cues were on the right


def evidence_task(
    n_trials: int,
    *,
    n_cues: int = 3,
    cue_steps: int = 6,
    gap_steps: int = 4,
    delay: int = 100,
    recall_steps: int = 10,
    n_per_channel: int = 10,
    cue_rate: float = 0.4,
    noise_rate: float = 0.05,
    seed: int = 0,
    dtype: torch.dtype | None = None,
) -> EvidenceTask:
    """Evidence accumulation, shortened from Bellec et al. (2020), Fig. 3.

    Four input populations of ``n_per_channel`` (left cues, right cues, recall
    cue, background noise, as in the paper). ``n_cues`` cues, each ``cue_steps``
    long with ``gap_steps`` between them, drive the left or the right population
    at ``cue_rate`` spikes per step; after ``delay`` silent steps the recall
    population fires for ``recall_steps`` and the network must report the side
    that had most cues (class 1: right) during the recall period (``mask``).
    The noise population fires at ``noise_rate`` throughout. Use ``n_cues`` odd.
    """
    for name, value, low in (
        ("n_trials", n_trials, 1),
        ("n_cues", n_cues, 1),
        ("cue_steps", cue_steps, 1),
        ("gap_steps", gap_steps, 0),
        ("delay", delay, 0),
        ("recall_steps", recall_steps, 1),
        ("n_per_channel", n_per_channel, 1),
        ("seed", seed, 0),
    ):
        check_int(name, value, minimum=low)
    for name, rate in (("cue_rate", cue_rate), ("noise_rate", noise_rate)):
        if not 0.0 <= rate <= 1.0:
            raise ValidationError(f"{name!r} must lie in [0, 1]; got {rate!r}.")
    gen = torch.Generator().manual_seed(seed)
    f64, n = torch.float64, n_per_channel
    n_steps = n_cues * (cue_steps + gap_steps) + delay + recall_steps
    side = torch.randint(0, 2, (n_trials, n_cues), generator=gen)
    label = (2 * side.sum(1) > n_cues).long()
    x = torch.zeros(n_steps, n_trials, 4 * n, dtype=f64)
    for c in range(n_cues):
        t0 = c * (cue_steps + gap_steps)
        cues = torch.rand(cue_steps, n_trials, n, generator=gen, dtype=f64) < cue_rate
        for s in (0, 1):
            on = (side[:, c] == s).to(f64)[None, :, None]
            x[t0 : t0 + cue_steps, :, s * n : (s + 1) * n] += cues.to(f64) * on
    recall = torch.rand(recall_steps, n_trials, n, generator=gen, dtype=f64)
    x[n_steps - recall_steps :, :, 2 * n : 3 * n] = (recall < cue_rate).to(f64)
    noise = torch.rand(n_steps, n_trials, n, generator=gen, dtype=f64)
    x[:, :, 3 * n :] = (noise < noise_rate).to(f64)
    mask = torch.zeros(n_steps, n_trials, dtype=f64)
    mask[n_steps - recall_steps :] = 1.0
    target = label[None, :].expand(n_steps, n_trials).clone()
    dt = dtype or torch.get_default_dtype()
    return EvidenceTask(x.to(dt), target, mask.to(dt), label)
