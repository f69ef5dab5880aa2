"""Spike-train statistics: firing rates, ISI coefficient of variation, rate curves."""

from __future__ import annotations

import numpy as np

from neurodl._validate import check_int, check_positive
from neurodl.errors import ShapeError

__all__ = ["CV_ISI_UNDEFINED", "cv_isi", "firing_rate", "population_rate"]

CV_ISI_UNDEFINED = (
    "no neuron fired at least {min_spikes} times ({intervals} inter-spike "
    "intervals): ISI CV undefined"
)
"""Why :func:`cv_isi` is NaN; format with ``min_spikes`` and ``intervals``."""


def _check_spikes(times: np.ndarray, indices: np.ndarray) -> tuple[np.ndarray, ...]:
    t = np.asarray(times, dtype=np.float64).reshape(-1)
    i = np.asarray(indices).reshape(-1).astype(np.int64)
    if t.shape != i.shape:
        raise ShapeError(
            f"'times' and 'indices' must have the same length; got {t.size} and "
            f"{i.size}."
        )
    return t, i


def firing_rate(n_spikes: int, n_neurons: int, duration: float) -> float:
    """Mean firing rate in Hz of ``n_neurons`` over ``duration`` ms."""
    check_int("n_neurons", n_neurons, minimum=1)
    check_positive("duration", duration)
    return float(n_spikes) / n_neurons / (duration * 1e-3)


def cv_isi(
    times: np.ndarray, indices: np.ndarray, n: int, min_spikes: int = 3
) -> float:
    """Mean over neurons of the ISI coefficient of variation ``std(ISI)/mean(ISI)``.

    Parameters
    ----------
    times : ndarray, shape (n_spikes,)
        Spike times (any unit).
    indices : ndarray of int, shape (n_spikes,)
        Neuron of each spike, in ``[0, n)``.
    n : int
        Number of neurons.
    min_spikes : int
        Neurons with fewer spikes (fewer than ``min_spikes - 1`` intervals) are left
        out. The default 3 (at least two intervals) is the convention of the CUBA
        reference bands (``tests/reference/cuba.json``).

    Returns
    -------
    float
        NaN when no neuron has enough spikes (:data:`CV_ISI_UNDEFINED` says why).
    """
    t, i = _check_spikes(times, indices)
    check_int("n", n, minimum=1)
    check_int("min_spikes", min_spikes, minimum=2)
    order = np.lexsort((t, i))
    t, i = t[order], i[order]
    counts = np.bincount(i, minlength=n)
    isi = np.diff(t)
    same = i[1:] == i[:-1]
    isi, owner = isi[same], i[1:][same]
    k = np.bincount(owner, minlength=n).astype(np.float64)
    s1 = np.bincount(owner, weights=isi, minlength=n)
    s2 = np.bincount(owner, weights=isi * isi, minlength=n)
    keep = counts >= min_spikes
    if not keep.any():
        return float("nan")
    mean = s1[keep] / k[keep]
    var = np.maximum(s2[keep] / k[keep] - mean**2, 0.0)
    return float(np.mean(np.sqrt(var) / mean))


def population_rate(
    times: np.ndarray, n: int, duration: float, bin_ms: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Return the population rate in Hz in bins of ``bin_ms``: (bin starts, rates)."""
    check_int("n", n, minimum=1)
    check_positive("duration", duration)
    check_positive("bin_ms", bin_ms)
    edges = np.arange(0.0, duration + bin_ms * 0.5, bin_ms)
    counts, _ = np.histogram(np.asarray(times, dtype=np.float64), edges)
    return edges[:-1], counts / n / (bin_ms * 1e-3)
