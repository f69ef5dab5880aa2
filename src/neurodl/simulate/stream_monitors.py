"""Monitors that scale: population rates and spike statistics, streamed.

Both take the engine's spike records chunk by chunk (a chunk is a few hundred to a
thousand steps) and keep only running sums: no spike list of the whole run and no
dense (time x neuron) array.

* :class:`RateMonitor` -- the group's spike count per ``bin`` ms;
* :class:`StatsMonitor` -- from ``start`` ms on: per-neuron spike counts and rates,
  ISI coefficients of variation (neurons with more than two spikes), and the
  Pearson correlation of spike counts in ``cc_bin``-ms bins between the pairs of
  ``cc_sample`` neurons drawn once from the network's seed: the statistics of the
  INM-6 accuracy protocol for the cortical microcircuit (van Albada et al. 2018,
  Dasbach et al. 2021).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from neurodl._validate import check_positive
from neurodl.errors import ValidationError

if TYPE_CHECKING:
    from neurodl.simulate.groups import Group
    from neurodl.simulate.network import Network

__all__ = [
    "RateMonitor",
    "StatsMonitor",
    "check_batch_one",
    "check_group",
    "check_indices",
    "deliver",
    "record_mask",
    "steps_of",
]

_TAG_CC = 0x43435341  # "CCSA": the correlation sample's stream


class RateMonitor:
    """Spike count of a whole group per time bin, streamed.

    Attributes (after a run; they accumulate over successive runs)
    ----------
    counts : ndarray of int64, shape (n_bins,)
        Spikes of the group in each bin (the last bin may be incomplete).
    times : ndarray of float64, shape (n_bins,)
        Start of each bin in ms.
    rate : ndarray of float64, shape (n_bins,)
        Population rate in Hz: ``counts / (n * bin)``; an incomplete last bin is
        divided by its simulated length.
    """

    def __init__(self, group: Group, bin_steps: int) -> None:
        self.group = group
        self.bin_steps = bin_steps
        self._counts = np.zeros(0, np.int64)

    def _feed(self, steps: np.ndarray, idx: np.ndarray, upto: int) -> None:
        """Take the spikes of steps before ``upto`` (group-local ``idx``)."""
        n_bins = -(-upto // self.bin_steps)
        if n_bins > self._counts.size:
            self._counts = np.concatenate(
                (self._counts, np.zeros(n_bins - self._counts.size, np.int64))
            )
        if steps.size:
            self._counts += np.bincount(steps // self.bin_steps, minlength=n_bins)

    @property
    def counts(self) -> np.ndarray:
        """Spikes per bin, shape (n_bins,)."""
        return self._counts.copy()

    @property
    def times(self) -> np.ndarray:
        """Bin starts in ms, shape (n_bins,)."""
        return np.arange(self._counts.size) * self.bin_steps * self.group.net.dt

    @property
    def rate(self) -> np.ndarray:
        """Population rate per bin in Hz, shape (n_bins,)."""
        net = self.group.net
        lengths = np.full(self._counts.size, float(self.bin_steps))
        if lengths.size:
            lengths[-1] = net.step - (lengths.size - 1) * self.bin_steps
        return self._counts / (self.group.n * lengths * net.dt * 1e-3)

    def clear(self) -> None:
        """Forget what was recorded."""
        self._counts = np.zeros(0, np.int64)


class StatsMonitor:
    """Per-neuron rates, ISI CVs and spike-count correlations, streamed.

    Spikes from ``start`` on count. Rates are over ``[start, t)`` with ``t`` the
    time simulated so far. Correlations use whole ``cc_bin`` bins from ``start``
    (a bin still open at the end of a run is kept for the next run).

    Attributes (after a run)
    ----------
    counts : ndarray of int64, shape (n,)
        Spikes per neuron since ``start``.
    rates : ndarray of float64, shape (n,)
        Hz.
    cv : ndarray of float64, shape (n,)
        ISI coefficient of variation (sd / mean, ``ddof=0`` as Elephant's
        ``cv``), NaN for neurons with at most two spikes.
    cc_index : ndarray of int64, shape (m,)
        The ``m = min(cc_sample, n)`` neurons of the correlation sample, sorted.
    """

    def __init__(
        self,
        group: Group,
        start_step: int,
        cc_sample: int,
        cc_bin_steps: int,
        key: tuple[int, int],
    ) -> None:
        self.group = group
        self.start_step = start_step
        self.cc_bin_steps = cc_bin_steps
        n = group.n
        m = min(cc_sample, n)
        rng = np.random.default_rng([key[0], _TAG_CC, key[1]])
        self.cc_index = np.sort(rng.choice(n, size=m, replace=False)).astype(np.int64)
        self._slot = np.full(n, -1, np.int64)
        self._slot[self.cc_index] = np.arange(m)
        self.clear()

    def clear(self) -> None:
        """Forget what was recorded."""
        n, m = self.group.n, self.cc_index.size
        self._counts = np.zeros(n, np.int64)
        self._last = np.full(n, -1, np.int64)
        self._n_isi = np.zeros(n, np.int64)
        self._s1 = np.zeros(n)  # sums of ISIs and of their squares, in steps
        self._s2 = np.zeros(n)
        self._c1 = np.zeros(m)  # sums of bin counts and of their products
        self._c2 = np.zeros((m, m))
        self._n_bins = 0
        self._open_steps = np.zeros(0, np.int64)  # spikes of the open bin
        self._open_slots = np.zeros(0, np.int64)

    def _feed(self, steps: np.ndarray, idx: np.ndarray, upto: int) -> None:
        """Take the spikes of steps before ``upto`` (sorted by step)."""
        keep = steps >= self.start_step
        steps, idx = steps[keep], idx[keep]
        n = self.group.n
        if steps.size:
            self._counts += np.bincount(idx, minlength=n)
            # ISIs: each neuron's spikes in step order (a stable sort by neuron)
            order = np.argsort(idx, kind="stable")
            s, i = steps[order], idx[order]
            prev = np.empty_like(s)
            prev[1:] = s[:-1]
            first = np.ones(s.size, bool)
            first[1:] = i[1:] != i[:-1]
            prev[first] = self._last[i[first]]
            ok = prev >= 0
            isi = (s - prev)[ok].astype(np.float64)
            self._n_isi += np.bincount(i[ok], minlength=n)
            self._s1 += np.bincount(i[ok], weights=isi, minlength=n)
            self._s2 += np.bincount(i[ok], weights=isi * isi, minlength=n)
            last = np.ones(s.size, bool)
            last[:-1] = i[1:] != i[:-1]
            self._last[i[last]] = s[last]
        self._bin(steps, idx, upto)

    def _bin(self, steps: np.ndarray, idx: np.ndarray, upto: int) -> None:
        slots = self._slot[idx]
        sampled = slots >= 0
        steps = np.concatenate((self._open_steps, steps[sampled]))
        slots = np.concatenate((self._open_slots, slots[sampled]))
        done = max(upto - self.start_step, 0) // self.cc_bin_steps  # whole bins
        new = done - self._n_bins
        b = (steps - self.start_step) // self.cc_bin_steps
        closed = b < done
        if new > 0:
            m = self.cc_index.size
            counts = np.zeros((new, m))
            np.add.at(counts, (b[closed] - self._n_bins, slots[closed]), 1.0)
            self._c1 += counts.sum(axis=0)
            self._c2 += counts.T @ counts
            self._n_bins = done
        self._open_steps = steps[~closed]
        self._open_slots = slots[~closed]

    @property
    def counts(self) -> np.ndarray:
        """Spikes per neuron since ``start``, shape (n,)."""
        return self._counts.copy()

    @property
    def duration(self) -> float:
        """Time counted so far, in ms (from ``start`` to the end of the last run)."""
        net = self.group.net
        return max(net.step - self.start_step, 0) * net.dt

    @property
    def rates(self) -> np.ndarray:
        """Per-neuron rate in Hz, shape (n,) (NaN before ``start``)."""
        dur = self.duration
        if dur <= 0:
            return np.full(self.group.n, np.nan)
        return self._counts / (dur * 1e-3)

    @property
    def cv(self) -> np.ndarray:
        """ISI CV per neuron (NaN with at most two spikes), shape (n,)."""
        out = np.full(self.group.n, np.nan)
        ok = self._n_isi >= 2
        k = self._n_isi[ok]
        mean = self._s1[ok] / k
        var = np.maximum(self._s2[ok] / k - mean * mean, 0.0)
        out[ok] = np.sqrt(var) / mean
        return out

    def cc_matrix(self) -> np.ndarray:
        """Pearson correlations of the sample's bin counts, shape (m, m).

        NaN where a neuron's count never varied (e.g. a silent neuron).
        """
        b = self._n_bins
        m = self.cc_index.size
        if b == 0:
            return np.full((m, m), np.nan)
        mean = self._c1 / b
        cov = self._c2 / b - np.outer(mean, mean)
        sd = np.sqrt(np.maximum(np.diag(cov), 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            out = cov / np.outer(sd, sd)
        out[(sd == 0)[:, None] | (sd == 0)[None, :]] = np.nan
        return out

    @property
    def correlations(self) -> np.ndarray:
        """Correlations of the distinct pairs (upper triangle), finite ones only."""
        cc = self.cc_matrix()
        vals = cc[np.triu_indices(cc.shape[0], k=1)]
        return vals[np.isfinite(vals)]

    @property
    def n_bins(self) -> int:
        """Whole correlation bins counted so far."""
        return self._n_bins


# ------------------------------------------------------- checks of monitor input
def check_group(net: Network, group: Any) -> None:
    """Raise unless ``group`` is a Population or SpikeSource of ``net``."""
    from neurodl.simulate.groups import Population, SpikeSource

    if not isinstance(group, Population | SpikeSource) or group.net is not net:
        raise ValidationError(
            "'group' must be a Population or SpikeSource of this network; got "
            f"{type(group).__name__}."
        )


def check_indices(group: Group, indices: Any) -> np.ndarray:
    """Return ``indices`` of neurons of ``group``, sorted and unique."""
    idx = np.asarray(indices)
    if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
        raise ValidationError(
            f"'indices' must be a 1-D sequence of integers; got {indices!r}."
        )
    idx = np.unique(idx.astype(np.int64))
    if idx.size and (idx[0] < 0 or idx[-1] >= group.n):
        raise ValidationError(
            f"'indices' must lie in [0, {group.n}); got {idx[0]}..{idx[-1]}."
        )
    return idx


def steps_of(dt: float, name: str, ms: Any, *, positive: bool) -> int:
    """Return a duration in ms as whole steps (a multiple of dt, to 1e-9)."""
    check_positive(name, ms, strict=positive)
    x = ms / dt
    steps = round(x)
    if abs(x - steps) > 1e-9 * max(1.0, x):
        raise ValidationError(
            f"{name!r} must be a multiple of dt ({dt} ms); got {ms!r}."
        )
    return int(steps)


def check_batch_one(net: Network, what: str) -> None:
    """Raise unless ``net`` runs batch 1 (what the streamed monitors record)."""
    if net.batch != 1:
        raise ValidationError(
            f"{what} records batch 1; got batch {net.batch} (record batched runs "
            "with spike_monitor)."
        )


# ------------------------------------------------- spike records -> monitors
def record_mask(net: Network) -> np.ndarray:
    """Neurons whose spikes the compiled kernel records (uint8, (n_all,))."""
    rec_mask = np.zeros(net.n_all, np.uint8)
    for mon in net.spike_monitors:
        start = mon.group.start
        if mon.record is None:
            rec_mask[start : start + mon.group.n] = 1
        else:
            rec_mask[start + mon.record] = 1
    for stream in net.stream_monitors:
        rec_mask[stream.group.start : stream.group.start + stream.group.n] = 1
    return rec_mask


def deliver(net: Network, steps: np.ndarray, gidx: np.ndarray, upto: int) -> None:
    """Hand recorded spikes (global indices, steps before ``upto``) to monitors."""
    for mon in net.spike_monitors:
        start = mon.group.start
        keep = (gidx >= start) & (gidx < start + mon.group.n)
        mon._add(steps[keep], gidx[keep] - start, np.zeros(int(keep.sum()), np.int64))
    for stream in net.stream_monitors:
        start = stream.group.start
        keep = (gidx >= start) & (gidx < start + stream.group.n)
        stream._feed(steps[keep], gidx[keep] - start, upto)
