"""Differential privacy at the level of a person: per-subject (user-level) DP-SGD.

Neighbouring datasets differ by **one subject's entire data** (every session and
window), not by one window: that is what protects a person. Each step
(:func:`private_gradient`):

1. Poisson-sample the privacy units (subjects): each is in the step with
   probability ``q`` (``sample_rate``), independently.
2. For each sampled unit, take the gradient of its mean loss over its windows and
   clip it to norm ``C`` (``max_grad_norm``): ``g_u * min(1, C / ||g_u||)``.
3. Sum, add Gaussian noise ``N(0, sigma^2 C^2)`` to every coordinate, and divide by
   the *expected* batch ``q N`` (not the realised one, which would leak it).
4. Hand the result to the optimizer (SGD or Adam; post-processing).

This is the sampled Gaussian mechanism on units, so Opacus's accountants apply
unchanged with the unit as the record (:mod:`neurodl.privacy.accounting`): the
noise multiplier ``sigma`` is solved for a target ``(epsilon, delta)`` over
``steps`` steps at rate ``q`` (:func:`noise_multiplier_for`,
``opacus.accountants.utils.get_noise_multiplier``), and the reported epsilon is
the accountant's ``get_epsilon(delta)`` after training (:func:`epsilon_spent`; PRV
by default, 8-10 % tighter than RDP). Opacus has no
user-level mode (opacus issue #366), so the clipping loop is here.

``privacy_unit="sample"`` runs the same algorithm with each row (window) as the
unit, and warns (:class:`SampleLevelPrivacyWarning`): by group privacy a subject
with ``k`` windows is then protected only at about ``k * epsilon``.

Per-unit gradients are exact: per-sample gradients from ``torch.func.vmap(grad)``,
averaged within each unit (the gradient of a mean is the mean of the gradients).

Two caveats the numbers do not show: the noise comes from torch's seeded
pseudo-random generator (reproducible, not cryptographically secure), and
floating-point noise sampling has known theoretical attacks (Mironov 2012); treat
the guarantee as that of the algorithm, as Opacus does outside ``secure_mode``.
Everything computed from the data outside this loop (feature scaling fitted on all
subjects, CSP filters, early stopping on their loss) is not covered.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from neurodl._threads import resolve_threads, use_threads
from neurodl._validate import check_int, check_option, check_positive
from neurodl.errors import ShapeError, ValidationError
from neurodl.privacy.accounting import ACCOUNTANTS as ACCOUNTANTS
from neurodl.privacy.accounting import PrivacyReport as PrivacyReport
from neurodl.privacy.accounting import check_delta as check_delta
from neurodl.privacy.accounting import default_delta as default_delta
from neurodl.privacy.accounting import epsilon_spent as epsilon_spent
from neurodl.privacy.accounting import noise_multiplier_for as noise_multiplier_for

__all__ = [
    "ACCOUNTANTS",
    "PRIVACY_UNITS",
    "DPConfig",
    "DPFitResult",
    "PrivacyReport",
    "SampleLevelPrivacyWarning",
    "check_delta",
    "check_dp_module",
    "clip_units",
    "default_delta",
    "dp_fit",
    "dp_fit_module",
    "epsilon_spent",
    "noise_multiplier_for",
    "private_gradient",
    "unit_gradients",
    "unit_index",
]

PRIVACY_UNITS = ("subject", "sample")
"""What one neighbouring dataset adds or removes: a subject's data, or one row."""
OPTIMIZERS = ("adam", "sgd")

LossFn = Callable[[list[Tensor], Tensor, Tensor], Tensor]
"""``loss_fn(params, x, y)``: the mean loss over the rows of ``x``, a 0-d tensor.

It must be a mean over rows (row ``i``'s loss depends only on row ``i``) and
written with torch operations ``torch.func.vmap`` can batch (no ``.item()``).
"""


class SampleLevelPrivacyWarning(UserWarning):
    """Sample-level epsilon bounds what one *window* reveals, not one person.

    A subject with ``k`` windows in the data is protected only at about
    ``k * epsilon`` (group privacy): 500 windows at epsilon 3 is 1,500, no
    protection at all. Use ``privacy_unit="subject"`` to protect people.
    """


def _warn_sample_level(epsilon: float | None, rows_per_subject: float | None) -> None:
    k = (
        f"about {rows_per_subject:.0f} windows per subject here, so about "
        f"{rows_per_subject * epsilon:.0f}"
        if rows_per_subject is not None and epsilon is not None
        else "k windows: about k * epsilon"
    )
    warnings.warn(
        "privacy_unit='sample': epsilon bounds what one window (row) reveals, not "
        f"one person; by group privacy a subject is protected only at k * epsilon "
        f"({k}). Use privacy_unit='subject' with subject labels to protect people.",
        SampleLevelPrivacyWarning,
        stacklevel=3,
    )


# ------------------------------------------------------------------- settings
@dataclass(frozen=True)
class DPConfig:
    """Settings of a (differentially private) training run by :func:`dp_fit`.

    Parameters
    ----------
    dp_epsilon : float or None
        Target epsilon; the noise multiplier is solved for it. None: no privacy
        (the same loop and sampling without clipping or noise: the baseline).
    dp_delta : float or None
        Target delta, < 1/(number of units). None: :func:`default_delta`.
    privacy_unit : {"subject", "sample"}
        ``"sample"`` warns (:class:`SampleLevelPrivacyWarning`).
    max_grad_norm : float
        ``C``: each unit's gradient is clipped to this L2 norm.
    sample_rate : float
        ``q`` in (0, 1]: each unit joins a step with this probability.
    steps : int
        Optimizer steps (the accountant composes exactly this many).
    lr : float
        Learning rate.
    optimizer : {"adam", "sgd"}
    momentum : float
        SGD momentum in [0, 1).
    accountant : {"prv", "rdp"}
    noise_multiplier : float or None
        Use this ``sigma`` instead of solving for ``dp_epsilon`` (>= 0; 0 adds no
        noise and so gives epsilon = inf). Needs ``dp_epsilon`` None.
    seed : int
        Seed of the unit sampling and of the noise.
    chunk_size : int
        Rows per ``vmap`` call when computing per-sample gradients (bounds memory).
    """

    dp_epsilon: float | None = 8.0
    dp_delta: float | None = None
    privacy_unit: str = "subject"
    max_grad_norm: float = 1.0
    sample_rate: float = 0.1
    steps: int = 400
    lr: float = 0.01
    optimizer: str = "adam"
    momentum: float = 0.0
    accountant: str = "prv"
    noise_multiplier: float | None = None
    seed: int = 0
    chunk_size: int = 4096

    def __post_init__(self) -> None:
        """Check every field."""
        if self.dp_epsilon is not None:
            check_positive("dp_epsilon", self.dp_epsilon)
        if self.dp_delta is not None:
            check_positive("dp_delta", self.dp_delta)
            if self.dp_delta >= 1:
                raise ValidationError(f"'dp_delta' must be < 1; got {self.dp_delta!r}.")
        check_option("privacy_unit", self.privacy_unit, PRIVACY_UNITS)
        check_positive("max_grad_norm", self.max_grad_norm)
        check_positive("sample_rate", self.sample_rate)
        if self.sample_rate > 1:
            raise ValidationError(
                f"'sample_rate' must lie in (0, 1]; got {self.sample_rate!r}."
            )
        check_int("steps", self.steps, minimum=1)
        check_positive("lr", self.lr)
        check_option("optimizer", self.optimizer, OPTIMIZERS)
        if not 0.0 <= self.momentum < 1.0:
            raise ValidationError(
                f"'momentum' must lie in [0, 1); got {self.momentum!r}."
            )
        check_option("accountant", self.accountant, ACCOUNTANTS)
        if self.noise_multiplier is not None:
            check_positive("noise_multiplier", self.noise_multiplier, strict=False)
            if self.dp_epsilon is not None:
                raise ValidationError(
                    "give 'dp_epsilon' or 'noise_multiplier', not both; got "
                    f"dp_epsilon={self.dp_epsilon!r}, "
                    f"noise_multiplier={self.noise_multiplier!r}."
                )
        if self.dp_delta is not None and not self.private:
            raise ValidationError(
                f"'dp_delta' applies to private training only; got dp_delta="
                f"{self.dp_delta!r} without 'dp_epsilon' (give both, or neither for "
                "a non-private run)."
            )
        check_int("seed", self.seed, minimum=0)
        check_int("chunk_size", self.chunk_size, minimum=1)

    @property
    def private(self) -> bool:
        """Whether the run clips and adds noise (and so is accounted)."""
        return self.dp_epsilon is not None or self.noise_multiplier is not None


@dataclass
class DPFitResult:
    """Outcome of :func:`dp_fit`.

    ``privacy`` is None for a non-private run. ``losses`` is each step's mean loss
    over the rows it sampled: computed from the data without noise, so it is for
    diagnosis only and must not be published as private.
    """

    privacy: PrivacyReport | None
    losses: list[float] = field(default_factory=list)


# --------------------------------------------------------- per-unit gradients
def unit_index(groups: Any, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(units, index)``: the sorted distinct labels and each row's position.

    ``groups`` is one label per row (integers or strings).
    """
    arr = np.asarray(groups)
    if arr.ndim != 1 or arr.shape[0] != n_rows:
        raise ShapeError(
            f"'groups' must hold one subject label per row: shape ({n_rows},); got "
            f"shape {arr.shape}."
        )
    if arr.dtype == object:
        arr = arr.astype(str)
    units, index = np.unique(arr, return_inverse=True)
    return units, index.reshape(-1)


def unit_gradients(
    loss_fn: LossFn,
    params: Sequence[Tensor],
    x: Tensor,
    y: Tensor,
    index: Tensor,
    n_units: int,
    *,
    chunk_size: int = 4096,
) -> tuple[list[Tensor], Tensor]:
    """Return each unit's gradient of its mean loss, and the rows' mean loss.

    Parameters
    ----------
    loss_fn : callable
        ``loss_fn(params, x, y)``, a mean over rows (see :data:`LossFn`).
    params : sequence of Tensor
    x, y : Tensor
        The rows of the sampled units.
    index : Tensor of int64, shape (n_rows,)
        Each row's unit, in ``[0, n_units)``; every unit has at least one row.
    n_units : int
    chunk_size : int
        Rows per vmap call.

    Returns
    -------
    grads : list of Tensor
        One per parameter, shape ``(n_units, *param.shape)``: row ``u`` is the
        gradient of unit ``u``'s mean loss, the mean of its rows' gradients.
    mean_loss : Tensor
        0-d, the mean loss over all rows.
    """
    from torch.func import grad_and_value, vmap

    params = list(params)

    def one(p: list[Tensor], xi: Tensor, yi: Tensor) -> Tensor:
        return loss_fn(p, xi.unsqueeze(0), yi.unsqueeze(0))

    per_sample = vmap(grad_and_value(one), in_dims=(None, 0, 0), randomness="different")
    sums = [p.new_zeros((n_units, *p.shape)) for p in params]
    total = torch.zeros((), dtype=torch.float64, device=x.device)
    n = x.shape[0]
    for start in range(0, n, chunk_size):
        rows = slice(start, start + chunk_size)
        grads, values = per_sample(params, x[rows], y[rows])
        for acc, g in zip(sums, grads, strict=True):
            acc.index_add_(0, index[rows], g)
        total += values.detach().sum().to(torch.float64)
    counts = torch.bincount(index, minlength=n_units).to(params[0].dtype)
    out = [acc / counts.view(-1, *([1] * (acc.ndim - 1))) for acc in sums]
    return out, total / max(n, 1)


def clip_units(
    grads: Sequence[Tensor], max_grad_norm: float
) -> tuple[list[Tensor], Tensor]:
    """Clip each unit's whole gradient (all parameters together) to ``max_grad_norm``.

    ``g_u <- g_u * min(1, C / ||g_u||)`` exactly (a zero gradient stays zero).
    Returns the clipped gradients and the norms before clipping, shape (n_units,).
    """
    flat = [g.reshape(g.shape[0], -1) for g in grads]
    norms = torch.sqrt(sum(f.pow(2).sum(dim=1) for f in flat))  # type: ignore[arg-type]
    factor = max_grad_norm / torch.clamp(norms, min=max_grad_norm)
    shape = [(-1,) + (1,) * (g.ndim - 1) for g in grads]
    return [g * factor.view(s) for g, s in zip(grads, shape, strict=True)], norms


def private_gradient(
    grads: Sequence[Tensor],
    max_grad_norm: float,
    noise_multiplier: float,
    expected_batch: float,
    generator: torch.Generator | None = None,
) -> list[Tensor]:
    """Return ``(sum_u clip(g_u) + N(0, sigma^2 C^2)) / expected_batch`` per parameter.

    ``grads`` are per-unit gradients (:func:`unit_gradients`), shape
    ``(n_units, *param.shape)``; ``expected_batch`` is ``q N``. The noise is drawn
    on the CPU from ``generator`` and moved to the gradients' device.
    """
    clipped, _ = clip_units(grads, max_grad_norm)
    out = []
    std = noise_multiplier * max_grad_norm
    for g in clipped:
        s = g.sum(dim=0)
        if std > 0:
            noise = torch.randn(s.shape, generator=generator, dtype=torch.float64).to(
                dtype=s.dtype, device=s.device
            )
            s = s + std * noise
        out.append(s / expected_batch)
    return out


# ----------------------------------------------------------------- optimizer
class _Optimizer:
    """SGD (with momentum) or Adam on plain tensors, updated in place."""

    def __init__(self, params: list[Tensor], cfg: DPConfig) -> None:
        self.params = params
        self.cfg = cfg
        self.t = 0
        self.m = [torch.zeros_like(p) for p in params]
        self.v = (
            [torch.zeros_like(p) for p in params] if cfg.optimizer == "adam" else []
        )

    @torch.no_grad()
    def step(self, grads: list[Tensor]) -> None:
        cfg = self.cfg
        self.t += 1
        if cfg.optimizer == "sgd":
            for p, m, g in zip(self.params, self.m, grads, strict=True):
                m.mul_(cfg.momentum).add_(g)  # m <- mu m + g; w <- w - lr m
                p.sub_(m, alpha=cfg.lr)
            return
        b1, b2, eps = 0.9, 0.999, 1e-8  # Kingma & Ba 2015
        c1, c2 = 1 - b1**self.t, 1 - b2**self.t
        for p, m, v, g in zip(self.params, self.m, self.v, grads, strict=True):
            m.mul_(b1).add_(g, alpha=1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            p.addcdiv_(m / c1, (v / c2).sqrt_().add_(eps), value=-cfg.lr)


class _UnitBatches:
    """The rows of any set of units, found without scanning the data each step."""

    def __init__(self, idx: np.ndarray, n_units: int, device: torch.device) -> None:
        self.order = torch.as_tensor(np.argsort(idx, kind="stable"), device=device)
        self.counts = np.bincount(idx, minlength=n_units)
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)])
        self.device = device

    def rows(self, units: np.ndarray) -> tuple[Tensor, Tensor]:
        """Return the rows of ``units`` and each row's position in ``units``."""
        o = self.offsets
        if (self.counts[units] == 1).all():  # one row per unit (sample level)
            rows = self.order[torch.as_tensor(o[units], device=self.device)]
        else:
            rows = torch.cat([self.order[o[u] : o[u + 1]] for u in units])
        local = torch.repeat_interleave(
            torch.arange(len(units), device=self.device),
            torch.as_tensor(self.counts[units], device=self.device),
        )
        return rows, local


# --------------------------------------------------------------------- train
def dp_fit(
    loss_fn: LossFn,
    params: Sequence[Tensor],
    x: Tensor,
    y: Tensor,
    groups: Any = None,
    config: DPConfig | None = None,
    *,
    callback: Callable[[int, float], None] | None = None,
    threads: int | str = "auto",
) -> DPFitResult:
    """Train ``params`` in place with per-unit (subject-level) DP-SGD.

    Parameters
    ----------
    loss_fn : callable
        ``loss_fn(params, x, y)``: the mean loss over the rows (:data:`LossFn`).
    params : sequence of Tensor
        Updated in place (detached views of a model's parameters work).
    x, y : Tensor
        Inputs and targets, one row per window; ``y`` as ``loss_fn`` wants it.
    groups : array-like, shape (n_rows,)
        The subject of each row (needed for ``privacy_unit="subject"``; ignored,
        with each row its own unit, for ``"sample"``).
    config : DPConfig
    callback : callable, optional
        ``callback(step, mean_loss)`` after each step (1-based).
    threads : int or "auto"
        Intra-op threads while training (:mod:`neurodl._threads`; "auto": one
        for small models).

    Returns
    -------
    DPFitResult
        ``privacy`` holds the accountant's epsilon after training, which is at
        most ``config.dp_epsilon``.

    Raises
    ------
    ValidationError
        ``dp_delta`` not below 1/(number of units), no ``groups`` for the subject
        unit, fewer than two units.
    """
    cfg = config if config is not None else DPConfig()
    params = list(params)
    n = int(x.shape[0])
    if int(y.shape[0]) != n:
        raise ShapeError(
            f"'x' has {n} rows but 'y' has {int(y.shape[0])}; they must match."
        )
    if cfg.privacy_unit == "subject":
        if groups is None:
            raise ValidationError(
                "'groups' must give the subject of each row for "
                "privacy_unit='subject'; got None. (privacy_unit='sample' needs "
                "none, but protects one window, not one person.)"
            )
        _, idx = unit_index(groups, n)
    else:
        if cfg.private:
            per = None
            if groups is not None:
                _, g = unit_index(groups, n)
                per = n / (int(g.max()) + 1)
            _warn_sample_level(cfg.dp_epsilon, per)
        idx = np.arange(n)
    n_units = int(idx.max()) + 1 if n else 0
    if n_units < 2:
        raise ValidationError(
            f"DP training needs at least 2 privacy units ({cfg.privacy_unit}s); "
            f"got {n_units}."
        )
    delta = (
        check_delta(cfg.dp_delta, n_units, cfg.privacy_unit)
        if cfg.dp_delta is not None
        else default_delta(n_units)
    )
    sigma = 0.0
    if cfg.dp_epsilon is not None:
        sigma = noise_multiplier_for(
            cfg.dp_epsilon, delta, cfg.sample_rate, cfg.steps, cfg.accountant
        )
    elif cfg.noise_multiplier is not None:
        sigma = float(cfg.noise_multiplier)

    gen = torch.Generator().manual_seed(cfg.seed)
    batches = _UnitBatches(idx, n_units, x.device)
    expected = cfg.sample_rate * n_units
    work = sum(p.numel() for p in params) * max(1, int(expected * n / n_units))
    opt = _Optimizer(params, cfg)
    losses: list[float] = []
    with use_threads(resolve_threads(threads, work)):
        for step in range(1, cfg.steps + 1):
            chosen = torch.nonzero(
                torch.rand(n_units, generator=gen, dtype=torch.float64)
                < cfg.sample_rate
            ).flatten()
            if chosen.numel():
                rows, local = batches.rows(chosen.numpy())
                grads, value = unit_gradients(
                    loss_fn,
                    params,
                    x[rows],
                    y[rows],
                    local,
                    chosen.numel(),
                    chunk_size=cfg.chunk_size,
                )
                mean_loss = float(value)
            else:  # nobody sampled: the step is noise alone
                grads = [p.new_zeros((0, *p.shape)) for p in params]
                mean_loss = math.nan
            if cfg.private:
                step_grads = private_gradient(
                    grads, cfg.max_grad_norm, sigma, expected, gen
                )
            else:
                step_grads = [g.sum(dim=0) / expected for g in grads]
            opt.step(step_grads)
            losses.append(mean_loss)
            if callback is not None:
                callback(step, mean_loss)
    report = None
    if cfg.private:
        report = PrivacyReport(
            epsilon=epsilon_spent(
                sigma, cfg.sample_rate, cfg.steps, delta, cfg.accountant
            ),
            delta=delta,
            privacy_unit=cfg.privacy_unit,
            accountant=cfg.accountant,
            noise_multiplier=sigma,
            sample_rate=cfg.sample_rate,
            steps=cfg.steps,
            max_grad_norm=cfg.max_grad_norm,
            n_units=n_units,
            target_epsilon=cfg.dp_epsilon,
        )
    return DPFitResult(report, losses)


# ---------------------------------------------------------- torch nn.Module
def check_dp_module(module: nn.Module) -> None:
    """Raise unless ``module`` can be trained with per-unit gradients.

    BatchNorm normalises each row with statistics of the whole batch, so one
    subject's gradient depends on the others' data and cannot be clipped on its
    own: it is rejected (not converted). Replace it with GroupNorm or LayerNorm
    (``opacus.validators.ModuleValidator.fix(model)`` swaps in GroupNorm).
    """
    for name, sub in module.named_modules():
        if isinstance(sub, nn.modules.batchnorm._BatchNorm):
            raise ValidationError(
                f"'module' holds BatchNorm at {name or 'the top level'!r} "
                f"({type(sub).__name__}); BatchNorm mixes the rows of a batch, so a "
                "subject's gradient cannot be clipped on its own and DP-SGD does "
                "not apply. Replace it with GroupNorm or LayerNorm "
                "(opacus.validators.ModuleValidator.fix(model) swaps in GroupNorm)."
            )


def dp_fit_module(
    module: nn.Module,
    criterion: Callable[[Tensor, Tensor], Tensor],
    x: Tensor,
    y: Tensor,
    groups: Any = None,
    config: DPConfig | None = None,
    *,
    callback: Callable[[int, float], None] | None = None,
) -> DPFitResult:
    """Train a torch ``module`` in place with :func:`dp_fit`.

    ``criterion(output, target)`` must be a mean over rows (e.g.
    ``torch.nn.functional.cross_entropy``). BatchNorm is rejected
    (:func:`check_dp_module`); buffers are read but never updated.
    """
    from torch.func import functional_call

    check_dp_module(module)
    names = [k for k, p in module.named_parameters() if p.requires_grad]
    params = [p.detach() for k, p in module.named_parameters() if p.requires_grad]
    if not params:
        raise ValidationError("'module' has no trainable parameters.")

    def loss_fn(p: list[Tensor], xb: Tensor, yb: Tensor) -> Tensor:
        out = functional_call(module, dict(zip(names, p, strict=True)), (xb,))
        return criterion(out, yb)

    module.train()
    return dp_fit(loss_fn, params, x, y, groups, config, callback=callback)
