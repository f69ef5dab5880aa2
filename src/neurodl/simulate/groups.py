"""Network building blocks: synapse types, populations, spike sources, projections.

Handles returned by :class:`~neurodl.simulate.Network`'s ``population``,
``spike_source`` and ``connect``; the network owns their state.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from neurodl._validate import check_option, check_positive
from neurodl.errors import ValidationError
from neurodl.neurons.lif import LIFParams
from neurodl.simulate.connectivity import Rule
from neurodl.simulate.distributions import Normal

if TYPE_CHECKING:
    from neurodl.simulate._models import ModelParams
    from neurodl.simulate.network import Network
    from neurodl.simulate.plasticity import AdaptiveThreshold, Plasticity

__all__ = [
    "ConductanceSynapse",
    "CurrentSynapse",
    "DeltaSynapse",
    "Group",
    "InitSpec",
    "PoissonInput",
    "Population",
    "Projection",
    "SpikeSource",
    "Synapse",
]

InitSpec = float | tuple[str, float, float] | np.ndarray | Sequence[float]


@dataclass(frozen=True)
class CurrentSynapse:
    """Exponential current synapse: a spike adds ``weight`` (mV) to ``x``.

    ``tau dx/dt = -x`` and ``x`` enters ``tau_mem dv/dt`` directly (Brian2's CUBA
    ``ge``). Parameters: ``tau`` in ms (> 0).
    """

    tau: float = 5.0

    def __post_init__(self) -> None:
        check_positive("tau", self.tau)


@dataclass(frozen=True)
class ConductanceSynapse:
    """Exponential conductance synapse: a spike adds ``weight`` to ``g``.

    ``tau dg/dt = -g`` and ``g (e_rev - v)`` enters ``tau_mem dv/dt``; ``g`` is in
    units of the leak conductance (Brian2's COBA ``ge``). Parameters: ``tau`` in ms
    (> 0), ``e_rev`` in mV.
    """

    tau: float = 5.0
    e_rev: float = 0.0

    def __post_init__(self) -> None:
        check_positive("tau", self.tau)
        if not math.isfinite(self.e_rev):
            raise ValidationError(f"'e_rev' must be finite; got {self.e_rev!r}.")


@dataclass(frozen=True)
class DeltaSynapse:
    """Delta synapse: a spike adds ``weight`` (mV) to ``v`` directly.

    The weights arriving in a step are added to ``v`` after that step's decay and
    before the threshold, and are discarded while the neuron is refractory (NEST's
    ``iaf_psc_delta``; Brunel 2000). All projections with a ``DeltaSynapse`` onto
    one population share one input variable (``tau = 0``: it keeps nothing from
    one step to the next).
    """

    @property
    def tau(self) -> float:
        """Time constant in ms: 0 (the input lasts one step)."""
        return 0.0


Synapse = CurrentSynapse | ConductanceSynapse | DeltaSynapse


class Population:
    """A group of neurons of one model and parameter set (handle; see :class:`Network`).

    ``params`` is ``LIFParams``, ``ALIFParams``, ``IzhikevichParams`` or
    ``AdExParams`` (see :mod:`neurodl.simulate._models`).
    """

    def __init__(
        self,
        net: Network,
        index: int,
        n: int,
        params: ModelParams,
        method: str,
        i_ext: float,
        v0: InitSpec | None,
        name: str,
        adaptation: AdaptiveThreshold | None = None,
    ) -> None:
        self.net = net
        self.index = index
        self.adaptation = adaptation
        self.n = n
        self.params = params
        self.method = method
        self.i_ext = i_ext
        self.v0 = v0
        self.name = name
        self.start = 0  # set at build: offset in the LIF index space
        self.channels: list[Synapse] = []
        self.g0: dict[Synapse, InitSpec] = {}
        self.learnable: dict[str, Tensor] = {}
        # the firing rate it is expected to have (Hz), if known: only weighs its
        # synapses' work when a distributed run splits the network into blocks
        # (distributed.expected_cost); the spikes are the same without it
        self.expected_rate_hz: float | None = None

    def __repr__(self) -> str:
        return f"Population({self.name!r}, n={self.n})"

    @property
    def theta(self) -> np.ndarray:
        """Adaptive threshold of each neuron in mV, shape ``(n,)`` (batch: (b, n)).

        Zeros for a population without ``adaptation``; before the first run, the
        initial value.
        """
        if not self.net.built:
            theta0 = self.adaptation.theta0 if self.adaptation is not None else 0.0
            return np.full(self.n, theta0)
        out = self.net.theta[:, self.start : self.start + self.n].cpu().numpy()
        return out[0].copy() if out.shape[0] == 1 else out.copy()

    def learn(self, *names: str) -> list[Tensor]:
        """Make parameters trainable in the tensor path; return their tensors.

        ``names`` are fields of :class:`~neurodl.neurons.LIFParams` (``tau_mem``,
        ``v_rest``, ``v_th``, ``v_reset``) or ``"i_ext"``. Each becomes a scalar
        leaf tensor with ``requires_grad=True``, used by later runs (the compiled
        path reads its current value).
        """
        allowed = ("tau_mem", "v_rest", "v_th", "v_reset", "i_ext")
        if not isinstance(self.params, LIFParams):
            raise ValidationError(
                "learnable parameters are supported on LIFParams populations only; "
                f"{self.name!r} is a population of {type(self.params).__name__}."
            )
        out = []
        for name in names:
            check_option("name", name, allowed)
            if name not in self.learnable:
                value = self.i_ext if name == "i_ext" else getattr(self.params, name)
                self.learnable[name] = torch.tensor(
                    float(value),
                    dtype=self.net.dtype,
                    device=self.net.device,
                    requires_grad=True,
                )
            out.append(self.learnable[name])
        return out

    def value(self, name: str) -> float:
        """Return the current value of a parameter (a learnable one's tensor value)."""
        if name in self.learnable:
            return float(self.learnable[name].detach())
        return float(self.i_ext if name == "i_ext" else getattr(self.params, name))

    def init_synapse(self, synapse: Synapse, value: InitSpec) -> None:
        """Set the initial value of the synaptic variable of ``synapse`` (default 0)."""
        self.net._check_not_built()
        self.g0[synapse] = value


class SpikeSource:
    """Neurons that spike at given times (or as Poisson processes).

    Parameters
    ----------
    times : array_like of float, shape (n_spikes,)
        Spike times in ms (rounded to the time grid).
    indices : array_like of int, shape (n_spikes,)
        Which neuron spikes, in ``[0, n)``.
    rate : float
        For a Poisson source: rate in Hz (``times``/``indices`` empty).
    """

    def __init__(
        self,
        net: Network,
        n: int,
        times: np.ndarray,
        indices: np.ndarray,
        rate: float,
        name: str,
    ) -> None:
        self.net = net
        self.n = n
        self.times = times
        self.indices = indices
        self.rate = rate
        self.name = name
        self.start = 0  # global index offset, set at build
        self.rng: np.random.Generator | None = None
        self.seed = 0

    def __repr__(self) -> str:
        return f"SpikeSource({self.name!r}, n={self.n})"


Group = Population | SpikeSource


class PoissonInput:
    """Independent Poisson processes onto every neuron of a population.

    Handle of :meth:`Network.poisson_input`: ``n`` processes of ``rate`` Hz.
    """

    def __init__(
        self,
        net: Network,
        index: int,
        pop: Population,
        n: int,
        rate: float,
        weight: float,
        synapse: Synapse,
        name: str,
    ) -> None:
        self.net = net
        self.index = index
        self.pop = pop
        self.n = n
        self.rate = rate
        self.weight = weight
        self.synapse = synapse
        self.name = name

    def __repr__(self) -> str:
        return (
            f"PoissonInput({self.name!r} -> {self.pop.name!r}, n={self.n}, "
            f"rate={self.rate} Hz)"
        )


class Projection:
    """Synapses from ``pre`` to ``post`` of one synapse type (see Network.connect).

    After the network is built, ``pre_index``/``post_index`` list the synapses sorted
    by presynaptic neuron, ``weight`` is a tensor of shape ``(n_synapses,)`` (set
    ``weight.requires_grad_()`` to train it) and ``delay_steps`` holds the delays in
    steps. The index arrays are read from the network's one CSR table on demand.
    """

    def __init__(
        self,
        net: Network,
        pre: Group,
        post: Population,
        rule: Rule,
        synapse: Synapse,
        weight: float
        | np.ndarray
        | Normal
        | Callable[[np.random.Generator, int], np.ndarray],
        delay: float | Normal,
        name: str,
        plasticity: Plasticity | None = None,
    ) -> None:
        self.net = net
        self.pre = pre
        self.post = post
        self.plasticity = plasticity
        self.rule = rule
        self.synapse = synapse
        self.weight_spec = weight
        self.delay = delay
        self.name = name
        self.weight: Tensor = torch.zeros(0)
        self._offset = 0  # set at build: where its synapses start in the net's order
        self._count = 0
        # set at build: its synapses per presynaptic neuron, and the delay of
        # each (steps, in its own order: sorted by neuron, then delay); with
        # the network's group table they give each synapse's CSR slot
        self._row_count = np.zeros(0, np.int64)
        self._dly = np.zeros(0, np.uint8)

    def __repr__(self) -> str:
        return (
            f"Projection({self.pre.name!r} -> {self.post.name!r}, "
            f"{type(self.synapse).__name__}, n_synapses={self.n_synapses})"
        )

    def _slots(self) -> np.ndarray:
        """Positions of this projection's synapses in the network's CSR table."""
        from neurodl.simulate._tables import slots_of

        return slots_of(self)

    @property
    def pre_index(self) -> np.ndarray:
        """Presynaptic neuron of each synapse (within ``pre``), sorted, int64."""
        if not self.net.built:
            return np.zeros(0, np.int64)
        return np.repeat(np.arange(self.pre.n, dtype=np.int64), self._row_count)

    @property
    def post_index(self) -> np.ndarray:
        """Postsynaptic neuron of each synapse (within ``post``), int64."""
        if not self.net.built:
            return np.zeros(0, np.int64)
        offset = {(p.index, s): off for p, s, off in self.net.channels}
        tgt = self.net._tgt[self._slots()].astype(np.int64)
        return tgt - offset[(self.post.index, self.synapse)]

    @property
    def delay_steps(self) -> np.ndarray:
        """Transmission delay of each synapse, in time steps, int64."""
        if not self.net.built:
            return np.zeros(0, np.int64)
        return self._dly.astype(np.int64)

    @property
    def n_synapses(self) -> int:
        """Number of synapses (after build)."""
        return self._count

    def weight_matrix(self) -> np.ndarray:
        """Weights as a dense ``(pre.n, post.n)`` array (synapses of a pair summed).

        Column ``i`` holds the weights onto postsynaptic neuron ``i`` (its
        receptive field); absent synapses are 0.
        """
        self.net.build()
        out = np.zeros((self.pre.n, self.post.n))
        w = self.weight.detach().cpu().numpy().astype(np.float64)
        np.add.at(out, (self.pre_index, self.post_index), w)
        return out

    def normalize(self, total: float) -> None:
        """Rescale the weights onto each postsynaptic neuron to sum to ``total``.

        Competition by normalisation (Diehl & Cook 2015 keep each excitatory
        neuron's input weights summing to 78): ``w_ij <- w_ij total / sum_i w_ij``
        for every postsynaptic neuron ``j`` whose weights do not sum to 0. Call it
        between runs: every ``N`` ms by running in ``N``-ms pieces (a run
        continues exactly where the last stopped), or once per presentation.
        """
        if isinstance(total, bool) or not isinstance(total, int | float):
            raise ValidationError(f"'total' must be a number; got {total!r}.")
        if not math.isfinite(total):
            raise ValidationError(f"'total' must be finite; got {total!r}.")
        self.net.build()
        post = torch.as_tensor(self.post_index, device=self.weight.device)
        with torch.no_grad():
            sums = torch.zeros(self.post.n, dtype=self.weight.dtype,
                               device=self.weight.device)  # fmt: skip
            sums.index_add_(0, post, self.weight)
            scale = torch.where(sums != 0, total / sums, torch.ones_like(sums))
            self.weight.mul_(scale[post])
