"""Distributions of per-synapse weights and delays.

For ``Network.connect``'s ``weight=`` and ``delay=``.

:class:`Normal` is NEST's ``normal`` parameter with its two ways of bounding a
draw: ``"redraw"`` (NEST's ``redraw``: draw again until the value lies in
``[low, high]``; Potjans & Diesmann 2014) and ``"clip"`` (GeNN's PD14 script). Draws
come from the projection's keyed block streams (see :mod:`neurodl.simulate._keyed`),
so they do not depend on how the network is split over processes.
"""

from __future__ import annotations

import math
from dataclasses import KW_ONLY, dataclass

import numpy as np

from neurodl.errors import ValidationError

__all__ = ["Distribution", "Normal"]

_MIN_MASS = 1e-9  # redraw needs at least this probability inside [low, high]
_MAX_ROUNDS = 10_000  # redraw rounds before giving up (never reached if mass > min)


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"{name!r} must be a number; got {value!r}.")
    return float(value)


@dataclass(frozen=True)
class Normal:
    """Normal distribution ``N(mean, sd)``, bounded to ``[low, high]``.

    Parameters
    ----------
    mean : float
        Mean (weight units, or ms for a delay).
    sd : float
        Standard deviation (>= 0; 0 gives ``mean`` every time).
    low, high : float
        Bounds, ``low < high`` (default unbounded). A sign rule: ``low=0.0`` for
        excitatory weights, ``high=0.0`` for inhibitory ones.
    bound : {"redraw", "clip"}
        ``"redraw"``: draw again until inside the bounds (NEST); ``"clip"``: clip
        to them (GeNN).

    Examples
    --------
    >>> import numpy as np
    >>> w = Normal(87.81, 8.781, low=0.0).draw(np.random.default_rng(0), 1000)
    >>> bool(w.min() >= 0.0), w.shape
    (True, (1000,))
    """

    mean: float
    sd: float
    _: KW_ONLY
    low: float = -math.inf
    high: float = math.inf
    bound: str = "redraw"

    def __post_init__(self) -> None:
        mean = _number("mean", self.mean)
        sd = _number("sd", self.sd)
        low = _number("low", self.low)
        high = _number("high", self.high)
        if not math.isfinite(mean):
            raise ValidationError(f"'mean' must be finite; got {self.mean!r}.")
        if not math.isfinite(sd) or sd < 0:
            raise ValidationError(f"'sd' must be finite and >= 0; got {self.sd!r}.")
        if math.isnan(low) or math.isnan(high) or not low < high:
            raise ValidationError(
                f"'low' must be < 'high'; got low={self.low!r}, high={self.high!r}."
            )
        if self.bound not in ("redraw", "clip"):
            raise ValidationError(
                f"'bound' must be 'redraw' or 'clip'; got {self.bound!r}."
            )
        if self.bound == "redraw" and self.mass() < _MIN_MASS:
            raise ValidationError(
                f"Normal({mean}, {sd}) puts probability {self.mass():.3g} in "
                f"[low, high] = [{low}, {high}]: 'redraw' would not end; widen the "
                "bounds or use bound='clip'."
            )

    def mass(self) -> float:
        """Probability of ``[low, high]`` under the unbounded ``N(mean, sd)``."""
        if self.sd == 0:
            return 1.0 if self.low <= self.mean <= self.high else 0.0

        def cdf(x: float) -> float:
            if x == math.inf:
                return 1.0
            if x == -math.inf:
                return 0.0
            return 0.5 * math.erfc(-(x - self.mean) / (self.sd * math.sqrt(2.0)))

        return cdf(self.high) - cdf(self.low)

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Return ``n`` float64 draws from ``rng``, inside ``[low, high]``."""
        x = rng.normal(self.mean, self.sd, size=n)
        if self.bound == "clip":
            return np.clip(x, self.low, self.high)
        bad = np.flatnonzero((x < self.low) | (x > self.high))
        rounds = 0
        while bad.size:
            rounds += 1
            if rounds > _MAX_ROUNDS:  # pragma: no cover - excluded by the mass check
                raise ValidationError(
                    f"Normal({self.mean}, {self.sd}): redraw did not land in "
                    f"[{self.low}, {self.high}] after {_MAX_ROUNDS} rounds."
                )
            y = rng.normal(self.mean, self.sd, size=bad.size)
            x[bad] = y
            bad = bad[(y < self.low) | (y > self.high)]
        return x


Distribution = Normal
