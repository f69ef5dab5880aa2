"""Monitors: the spikes of a group, and sampled state variables of a population."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from torch import Tensor

if TYPE_CHECKING:
    from neurodl.simulate.groups import Group, Population, Synapse

__all__ = ["SpikeMonitor", "StateMonitor"]


class SpikeMonitor:
    """Records the spikes of one group.

    Attributes (after a run; they accumulate over successive runs)
    ----------
    times : ndarray of float64, shape (n_spikes,)
        Spike times in ms.
    indices : ndarray of int64, shape (n_spikes,)
        Neuron index within the group (with ``indices=`` given to
        ``spike_monitor``, only those neurons' spikes are kept).
    trials : ndarray of int64, shape (n_spikes,)
        Batch element of each spike (tensor path with ``batch > 1``; else zeros).
    spikes : Tensor, shape (time, batch, n), or None
        The spike train as a tensor, kept by the tensor path when the network runs
        with ``grad=True`` (differentiable) or the monitor has ``dense=True``.
    """

    def __init__(
        self, group: Group, dense: bool, indices: np.ndarray | None = None
    ) -> None:
        self.group = group
        self.dense = dense
        #: the recorded neurons (sorted), or None for the whole group
        self.record = indices
        self._member: np.ndarray | None = None
        if indices is not None:
            self._member = np.zeros(group.n, bool)
            self._member[indices] = True
        self._steps: list[np.ndarray] = []
        self._idx: list[np.ndarray] = []
        self._trials: list[np.ndarray] = []
        self._dense: list[Tensor] = []
        self.spikes: Tensor | None = None

    def _add(self, steps: np.ndarray, idx: np.ndarray, trials: np.ndarray) -> None:
        if self._member is not None:
            keep = self._member[idx]
            steps, idx, trials = steps[keep], idx[keep], trials[keep]
        self._steps.append(steps.astype(np.int64))
        self._idx.append(idx.astype(np.int64))
        self._trials.append(trials.astype(np.int64))

    @property
    def steps(self) -> np.ndarray:
        """Time step of each spike, shape (n_spikes,)."""
        return np.concatenate(self._steps) if self._steps else np.zeros(0, np.int64)

    @property
    def times(self) -> np.ndarray:
        """Spike times in ms, shape (n_spikes,)."""
        return self.steps * self.group.net.dt

    @property
    def indices(self) -> np.ndarray:
        """Neuron index of each spike within the group, shape (n_spikes,)."""
        return np.concatenate(self._idx) if self._idx else np.zeros(0, np.int64)

    @property
    def trials(self) -> np.ndarray:
        """Batch element of each spike, shape (n_spikes,)."""
        return np.concatenate(self._trials) if self._trials else np.zeros(0, np.int64)

    @property
    def count(self) -> np.ndarray:
        """Spikes per neuron (summed over trials), shape (n,)."""
        return np.bincount(self.indices, minlength=self.group.n)

    def clear(self) -> None:
        """Forget what was recorded."""
        self._steps.clear()
        self._idx.clear()
        self._trials.clear()
        self._dense.clear()
        self.spikes = None


class StateMonitor:
    """Samples a state variable of some neurons of a population.

    ``variable`` is ``"v"`` (mV) or the synaptic variable of a synapse object
    connected to the population. Values are taken at the start of every
    ``every``-th step (the value at time ``t``), as Brian2's StateMonitor does.

    Attributes (after a run)
    ----------
    times : ndarray, shape (n_samples,)
        Sample times in ms.
    values : ndarray, shape (n_samples, n_recorded) or (n_samples, batch, n_rec)
        The samples (batch axis only for the tensor path with ``batch > 1``).
    tensor : Tensor, shape (n_samples, batch, n_recorded), or None
        The samples as a differentiable tensor (tensor path with ``grad=True``).
    """

    def __init__(
        self,
        pop: Population,
        variable: str | Synapse,
        indices: np.ndarray,
        every: int,
    ) -> None:
        self.pop = pop
        self.variable = variable
        self.index = indices
        self.every = every
        self._times: list[np.ndarray] = []
        self._values: list[np.ndarray] = []
        self._tensor: list[Tensor] = []
        self.tensor: Tensor | None = None

    @property
    def times(self) -> np.ndarray:
        """Sample times in ms."""
        if not self._times:
            return np.zeros(0)
        return np.concatenate(self._times) * self.pop.net.dt

    @property
    def values(self) -> np.ndarray:
        """Samples, shape (n_samples, n_recorded) (batch 1)."""
        if not self._values:
            return np.zeros((0, self.index.size))
        out = np.concatenate(self._values)
        return out[:, 0, :] if out.ndim == 3 and out.shape[1] == 1 else out

    def clear(self) -> None:
        """Forget what was recorded."""
        self._times.clear()
        self._values.clear()
        self._tensor.clear()
        self.tensor = None
