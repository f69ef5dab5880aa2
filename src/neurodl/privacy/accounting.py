"""Privacy accounting for DP-SGD: the noise for a target epsilon, and the epsilon spent.

The sampled Gaussian mechanism, composed over ``steps`` steps at Poisson rate
``q``, is accounted by Opacus's accountants (PRV by default, Gopi et al. 2021;
RDP, Mironov 2017): :func:`noise_multiplier_for` solves the noise multiplier for a
target ``(epsilon, delta)`` (``opacus.accountants.utils.get_noise_multiplier``)
and :func:`epsilon_spent` reports the accountant's ``get_epsilon(delta)``. The
unit of privacy (a subject or a row) does not enter the arithmetic: it is what
one "record" of the accountant is. :class:`PrivacyReport` is what a trained
model carries in its file.
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import asdict, dataclass
from typing import Any

from neurodl._validate import check_option, check_positive
from neurodl.errors import ValidationError

__all__ = [
    "ACCOUNTANTS",
    "PrivacyReport",
    "check_delta",
    "default_delta",
    "epsilon_spent",
    "noise_multiplier_for",
]

ACCOUNTANTS = ("prv", "rdp")
"""Opacus accountants: PRV (Gopi et al. 2021, the default) or RDP (Mironov 2017)."""


def default_delta(n_units: int) -> float:
    """Return the default delta: ``min(1e-5, 0.1 / n_units)``, well below ``1/n``."""
    return min(1e-5, 0.1 / n_units)


def check_delta(dp_delta: Any, n_units: int, unit: str = "subject") -> float:
    """Return ``dp_delta`` if it lies in (0, 1/``n_units``); otherwise raise.

    A mechanism that publishes one unit's data outright with probability
    ``delta`` is (0, delta)-DP; with ``delta >= 1/n`` it may publish someone's
    data, so delta must be well below one over the number of privacy units.
    """
    check_positive("dp_delta", dp_delta)
    if not dp_delta < 1.0 / n_units:
        raise ValidationError(
            f"'dp_delta' must be < 1/(number of privacy units) = 1/{n_units} = "
            f"{1.0 / n_units:.3g} ({n_units} {unit}s; a larger delta allows "
            f"publishing a whole {unit}'s data with that probability); got "
            f"{dp_delta!r}."
        )
    return float(dp_delta)


def _quiet_accountant() -> None:
    """Inside ``warnings.catch_warnings()``: silence the accountants' own notices.

    RDP says when the optimal order is the largest it tried (the bound is still
    valid); PRV at ``sample_rate == 1`` takes ``log(1 - q) = log 0`` on the way
    (numpy's divide-by-zero warning) and still returns the right epsilon (it
    agrees with RDP's bound from below: tests).
    """
    warnings.filterwarnings("ignore", message=".*[Oo]ptimal order.*")
    warnings.filterwarnings(
        "ignore", message="divide by zero encountered in log", category=RuntimeWarning
    )


def noise_multiplier_for(
    dp_epsilon: float,
    dp_delta: float,
    sample_rate: float,
    steps: int,
    accountant: str = "prv",
) -> float:
    """Return the noise multiplier ``sigma`` that spends at most ``dp_epsilon``.

    ``opacus.accountants.utils.get_noise_multiplier`` (binary search to within
    0.01 of the target, from below). Answers are cached: shadow models of one
    recipe (``neurodl audit membership``) solve once.
    """
    check_positive("dp_epsilon", dp_epsilon)
    check_option("accountant", accountant, ACCOUNTANTS)
    return _solve_sigma(
        float(dp_epsilon), float(dp_delta), float(sample_rate), int(steps), accountant
    )


@functools.lru_cache(maxsize=64)
def _solve_sigma(
    dp_epsilon: float, dp_delta: float, sample_rate: float, steps: int, accountant: str
) -> float:
    from opacus.accountants.utils import (  # type: ignore[import-untyped]
        get_noise_multiplier,
    )

    try:
        with warnings.catch_warnings():
            _quiet_accountant()
            return float(
                get_noise_multiplier(
                    target_epsilon=dp_epsilon,
                    target_delta=dp_delta,
                    sample_rate=sample_rate,
                    steps=steps,
                    accountant=accountant,
                )
            )
    except ValueError as exc:  # "The privacy budget is too low."
        raise ValidationError(
            f"'dp_epsilon' {dp_epsilon!r} cannot be reached over {steps} steps at "
            f"sample rate {sample_rate!r} (the noise would exceed 1e6): {exc}"
        ) from exc


def epsilon_spent(
    noise_multiplier: float,
    sample_rate: float,
    steps: int,
    dp_delta: float,
    accountant: str = "prv",
) -> float:
    """Return the accountant's epsilon after ``steps`` sampled Gaussian steps.

    ``inf`` for ``noise_multiplier == 0`` (no noise, no privacy) and 0 for no
    steps.
    """
    from opacus.accountants import (  # type: ignore[import-untyped]
        create_accountant,
    )

    check_option("accountant", accountant, ACCOUNTANTS)
    if steps == 0:
        return 0.0
    if noise_multiplier <= 0:
        return math.inf
    acc = create_accountant(mechanism=accountant)
    acc.history = [(noise_multiplier, sample_rate, steps)]
    with warnings.catch_warnings():
        _quiet_accountant()
        return float(acc.get_epsilon(delta=dp_delta))


@dataclass(frozen=True)
class PrivacyReport:
    """What a differentially private training run guarantees, and how.

    Attributes
    ----------
    epsilon : float
        The accountant's epsilon after training (``get_epsilon(delta)``).
    delta : float
    privacy_unit : {"subject", "sample"}
        What one neighbouring dataset adds or removes.
    accountant : {"prv", "rdp"}
    noise_multiplier : float
        ``sigma``: the noise std is ``sigma * max_grad_norm``.
    sample_rate : float
        ``q``, the Poisson sampling rate of the units.
    steps : int
    max_grad_norm : float
        ``C``, the clipping norm of one unit's gradient.
    n_units : int
        Number of privacy units (subjects or rows) in the training data.
    target_epsilon : float or None
        The epsilon asked for (None when ``noise_multiplier`` was given).
    """

    epsilon: float
    delta: float
    privacy_unit: str
    accountant: str
    noise_multiplier: float
    sample_rate: float
    steps: int
    max_grad_norm: float
    n_units: int
    target_epsilon: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as JSON-friendly values (for a model file's metadata)."""
        out = asdict(self)
        if math.isinf(self.epsilon):
            out["epsilon"] = "inf"
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PrivacyReport:
        """Rebuild a report written by :meth:`to_dict`."""
        d = dict(d)
        d["epsilon"] = float(d["epsilon"])
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})

    def summary(self) -> str:
        """Return one line: ``(epsilon, delta)``-DP per unit, and how it was spent."""
        return (
            f"({self.epsilon:.3g}, {self.delta:.3g})-DP per {self.privacy_unit} "
            f"({self.n_units} {self.privacy_unit}s; {self.accountant.upper()} "
            f"accountant; sigma {self.noise_multiplier:.4g}, q {self.sample_rate:.4g}, "
            f"{self.steps} steps, max_grad_norm {self.max_grad_norm:g})"
        )
