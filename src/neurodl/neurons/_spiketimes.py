"""Spike times from voltage traces, and firing rates from spike times."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from neurodl._validate import check_positive
from neurodl.errors import ShapeError

__all__ = ["isi_rate", "spike_times_crossing"]


def spike_times_crossing(
    v: ArrayLike, dt: float, threshold: float = 0.0, *, t0: float = 0.0
) -> np.ndarray:
    """Return the times of the upward threshold crossings of a sampled trace.

    Sample ``k`` is taken at ``t0 + k dt``. A crossing between samples ``k`` and
    ``k + 1`` (``v[k] < threshold <= v[k + 1]``) is timed by linear interpolation,
    ``t0 + (k + (threshold - v[k]) / (v[k + 1] - v[k])) dt``.

    Parameters
    ----------
    v : array_like, shape (n_samples,)
        Membrane potential, mV.
    dt : float
        Sampling interval, ms (> 0).
    threshold : float
        Threshold, mV.
    t0 : float
        Time of the first sample, ms.

    Returns
    -------
    ndarray, shape (n_crossings,)
        Crossing times, ms, increasing.

    Examples
    --------
    >>> spike_times_crossing([-10.0, 10.0, 30.0, -5.0, 5.0], dt=0.1).round(6).tolist()
    [0.05, 0.35]
    """
    check_positive("dt", dt)
    x = np.asarray(v, dtype=np.float64)
    if x.ndim != 1:
        raise ShapeError(
            f"'v' must be 1-D with axes (n_samples,); got shape {x.shape}."
        )
    k = np.flatnonzero((x[:-1] < threshold) & (x[1:] >= threshold))
    frac = (threshold - x[k]) / (x[k + 1] - x[k])
    out: np.ndarray = t0 + (k + frac) * dt
    return out


def isi_rate(spike_times: ArrayLike) -> float:
    """Return the firing rate from the mean inter-spike interval, in Hz.

    ``rate = 1000 / mean(ISI)`` with the intervals in ms.

    Parameters
    ----------
    spike_times : array_like, shape (n_spikes,)
        Spike times, ms, increasing.

    Returns
    -------
    float
        Rate in Hz; NaN with fewer than two spikes.

    Examples
    --------
    >>> isi_rate([10.0, 30.0, 50.0])
    50.0
    """
    t = np.asarray(spike_times, dtype=np.float64)
    if t.size < 2:
        return math.nan
    return 1000.0 / float(np.mean(np.diff(t)))
