"""Spiking networks: populations, projections, monitors, and a clock-driven run.

Build a network by adding LIF populations (and spike sources), connect them with
projections (current- or conductance-based exponential synapses, a connectivity
rule, weights, fixed delays), attach monitors, then :meth:`Network.run`::

    net = Network(dt=0.1, seed=1)
    exc = net.population(3200, LIFParams(tau_mem=20.0, v_rest=-49.0, v_th=-50.0,
                                         v_reset=-60.0, t_ref=5.0))
    net.connect(exc, exc, FixedProbability(0.02), CurrentSynapse(tau=5.0),
                weight=1.62)
    spikes = net.spike_monitor(exc)
    net.run(1000.0)
    spikes.times, spikes.indices

Neuron model (per population, see :class:`~neurodl.neurons.LIFParams`)::

    tau_mem dv/dt = (v_rest - v) + i_ext + sum_c x_c + sum_k g_k (e_k - v)
    tau_c dx_c/dt = -x_c        (current synapse, x in mV; a spike adds w mV)
    tau_k dg_k/dt = -g_k        (conductance synapse, g relative to the leak)

``v >= v_th`` spikes; ``v`` is set to ``v_reset`` and held there for ``t_ref``.
Populations of adaptive LIF, Izhikevich and AdEx neurons (``ALIFParams``,
``IzhikevichParams``, ``AdExParams``) sit beside LIF ones on both paths; how
the synaptic variables enter their equations: :mod:`neurodl.simulate._models`.
Sub-threshold integration is exact (``method="exact"``, the linear propagator, as
Brian2's ``method='exact'``; current synapses only) or forward Euler
(``method="euler"``). The step order is Brian2's (see
:mod:`neurodl.simulate._numba_engine`), so spike times fall on the same grid.

Two execution paths, one API:

* ``backend="numba"``: a compiled, event-driven CPU loop, single-threaded, for
  plain simulation, and with ``run(..., grad=True)`` a compiled BPTT pass
  (forward tape plus reverse-time adjoint recurrence, batch 1;
  :mod:`neurodl.simulate._numba_grad`);
* ``backend="torch"``: torch tensors on any device, batched, differentiable
  (``run(..., grad=True)``) through surrogate spike gradients and a custom
  event-driven autograd function for the synapses.

``backend="auto"`` takes numba on the CPU with batch 1 (with or without gradients)
and torch otherwise; the compiled no-grad kernel integrates at most two synapse
types per population (more go to the tensor path). In float64 both paths give the
same spikes for the same seed (a test holds them to it), and neither depends on the
number of threads.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from neurodl._validate import check_device, check_int, check_option, check_positive
from neurodl.errors import ShapeError, ValidationError
from neurodl.neurons.lif import LIFParams
from neurodl.neurons.surrogate import Surrogate, get_surrogate
from neurodl.simulate import _models
from neurodl.simulate._build import check_synapse
from neurodl.simulate._models import ModelParams
from neurodl.simulate._tables import check_delay
from neurodl.simulate.connectivity import Rule
from neurodl.simulate.distributions import Normal
from neurodl.simulate.groups import (
    ConductanceSynapse,
    CurrentSynapse,
    DeltaSynapse,
    Group,
    InitSpec,
    PoissonInput,
    Population,
    Projection,
    SpikeSource,
    Synapse,
)
from neurodl.simulate.monitors import SpikeMonitor, StateMonitor
from neurodl.simulate.plasticity import STDP, AdaptiveThreshold, TripletSTDP
from neurodl.simulate.stream_monitors import (
    RateMonitor,
    StatsMonitor,
    check_batch_one,
    check_group,
    check_indices,
    steps_of,
)

__all__ = [
    "BACKENDS",
    "ConductanceSynapse",
    "CurrentSynapse",
    "DeltaSynapse",
    "Network",
    "PoissonInput",
    "Population",
    "Projection",
    "RateMonitor",
    "SpikeMonitor",
    "SpikeSource",
    "StateMonitor",
    "StatsMonitor",
]

BACKENDS = ("auto", "numba", "torch")
PROPAGATIONS = ("sparse", "events", "spmv", "dense")
_PROGRESS_STEPS = 50_000  # runs at least this long show a progress bar ("auto")


class Network:
    """A spiking network simulated on a fixed time grid.

    Parameters
    ----------
    dt : float
        Time step in ms (> 0).
    seed : int
        Seeds connectivity, initial state and Poisson sources (NumPy ``PCG64``).
        The same seed gives the same network and spikes on every backend and
        thread count (tensor path: on the CPU in float64).
    dtype : torch.dtype
        ``torch.float64`` (default, exact agreement between paths) or
        ``torch.float32``.
    device : str or torch.device
        Where the tensor path runs.
    backend : {"auto", "numba", "torch"}
        Default execution path of :meth:`run`.
    batch : int
        Independent trials run side by side (tensor path): same synapses,
        initial state drawn per trial.
    surrogate : Surrogate or str
        Spike function of the tensor path with ``grad=True``; its slope is per mV
        (default ``fast_sigmoid`` with slope 1 per mV).
    """

    # set by build (neurodl.simulate._build.build_network)
    n_lif: int  # neurons of the populations (the LIF index space)
    n_all: int  # and the spike sources after them
    n_g: int  # synaptic variables
    channels: list[tuple[Population, Synapse, int]]  # (pop, synapse, offset in g)
    max_delay: int  # steps
    theta: Tensor  # adaptive thresholds, (batch, n_lif)
    _aux0: Tensor
    _initial: tuple[Tensor, Tensor]
    _ring: np.ndarray  # the compiled path's delay ring
    v: Tensor  # membrane potentials, (batch, n_lif)
    g: Tensor  # synaptic variables, (batch, n_g)
    aux: Tensor  # ALIF b, Izhikevich u, AdEx w, (batch, n_lif)
    refr: Tensor  # refractory steps left, (batch, n_lif)
    _pending: dict[int, Tensor]  # tensor path: step -> delayed input

    def __init__(
        self,
        dt: float = 0.1,
        seed: int = 0,
        *,
        dtype: torch.dtype = torch.float64,
        device: str | torch.device = "cpu",
        backend: str = "auto",
        batch: int = 1,
        surrogate: Surrogate | str = "fast_sigmoid",
    ) -> None:
        self.dt = float(check_positive("dt", dt))
        self.seed = check_int("seed", seed, minimum=0)
        check_option("dtype", dtype, (torch.float32, torch.float64))
        self.dtype = dtype
        self.device = check_device("device", device)
        self.backend = check_option("backend", backend, BACKENDS)
        self.batch = check_int("batch", batch, minimum=1)
        self.surrogate = (
            get_surrogate(surrogate, 1.0)
            if isinstance(surrogate, str)
            else get_surrogate(surrogate)
        )
        self.populations: list[Population] = []
        self.sources: list[SpikeSource] = []
        self.projections: list[Projection] = []
        self.spike_monitors: list[SpikeMonitor] = []
        self.state_monitors: list[StateMonitor] = []
        self.poisson_inputs: list[PoissonInput] = []
        self.stream_monitors: list[RateMonitor | StatsMonitor] = []
        self.target_range: tuple[int, int] | None = None  # see _build
        # the CSR synapse table (set by _tables.build_tables)
        self._indptr = np.zeros(1, np.int64)
        self._tgt: np.ndarray = np.zeros(0, np.int32)
        self._dly: np.ndarray = np.zeros(0, np.uint8)
        self._perm_cache: np.ndarray | None = None
        self._gptr = np.zeros(1, np.int64)  # (row, delay) groups (see _tables)
        self._w_cache: tuple[Any, np.ndarray] | None = None  # _tables.kernel_weights
        self._dist: Any = None  # distributed.Distributed, see distribute()
        self.step = 0  # steps simulated so far
        self.built = False
        self._plastic: Any = None  # plasticity.PlasticState after build, if any
        self.setup_seconds = 0.0
        self._rng = np.random.default_rng(np.random.SeedSequence(self.seed))

    # ------------------------------------------------------------------ build API
    def _check_not_built(self) -> None:
        if self.built:
            raise ValidationError(
                "the network is already built (it has run); add populations, "
                "projections and monitors before the first run."
            )

    def _name(self, name: str | None, prefix: str, count: int) -> str:
        return name if name is not None else f"{prefix}{count}"

    @property
    def t(self) -> float:
        """Simulated time so far, in ms."""
        return self.step * self.dt

    def population(
        self,
        n: int,
        params: ModelParams | None = None,
        *,
        method: str = "auto",
        i_ext: float = 0.0,
        v0: InitSpec | None = None,
        adaptation: AdaptiveThreshold | None = None,
        name: str | None = None,
    ) -> Population:
        """Add ``n`` neurons (LIF, adaptive LIF, Izhikevich or AdEx).

        Parameters
        ----------
        n : int
            Number of neurons (>= 1).
        params : LIFParams, ALIFParams, IzhikevichParams or AdExParams
            The neuron model and its parameters (default ``LIFParams()``); see
            :mod:`neurodl.simulate._models` for the equations with synapses
            (``r_m`` is not used: LIF/ALIF inputs are in mV).
        method : str
            Sub-threshold integration. LIF and ALIF: ``"auto"``, ``"exact"`` or
            ``"euler"`` (``"auto"``: exact when every synapse onto the
            population is current-based, else Euler); Izhikevich: ``"euler"``
            (``"auto"``) or ``"izhikevich2003"``; AdEx: ``"euler"`` (``"auto"``).
        i_ext : float
            Constant drive in the model's input units: ``R I`` in mV (LIF,
            ALIF), mV/ms (Izhikevich), pA (AdEx).
        v0 : float, ("uniform", lo, hi), ("normal", mean, sd) or array, optional
            Initial membrane potential in mV (default ``v_rest``; Izhikevich
            -65 mV with ``u = b v0``; AdEx ``e_l`` with ``w = 0``).

        All four models run on both paths, with current and conductance
        synapses, delays and monitors (``state_monitor(pop, "b" | "u" | "w")``
        records ALIF's threshold adaptation, Izhikevich's ``u``, AdEx's ``w``),
        and all four are differentiable on the tensor path (``run(grad=True)``:
        surrogate spike gradients, as their ``*_step`` functions); the compiled
        gradient path takes LIF populations only.
        adaptation : AdaptiveThreshold, optional
            An adaptive threshold ``v_th + theta`` (homeostasis, Diehl & Cook
            2015); read ``theta`` from :attr:`Population.theta`.
        """
        self._check_not_built()
        check_int("n", n, minimum=1)
        params = LIFParams() if params is None else params
        method = _models.check_population(params, method, adaptation)
        if not math.isfinite(i_ext):
            raise ValidationError(f"'i_ext' must be finite; got {i_ext!r}.")
        if adaptation is not None and not isinstance(adaptation, AdaptiveThreshold):
            raise ValidationError(
                "'adaptation' must be AdaptiveThreshold or None; "
                f"got {type(adaptation).__name__}."
            )
        pop = Population(
            self,
            len(self.populations),
            n,
            params,
            method,
            float(i_ext),
            v0,
            self._name(name, "pop", len(self.populations)),
            adaptation,
        )
        self.populations.append(pop)
        return pop

    def spike_source(
        self,
        n: int,
        times: Sequence[float] | np.ndarray = (),
        indices: Sequence[int] | np.ndarray = (),
        *,
        rate: float = 0.0,
        name: str | None = None,
    ) -> SpikeSource:
        """Add ``n`` input neurons spiking at ``times`` (ms) or as Poisson(``rate`` Hz).

        Explicit times are rounded to the time grid; Poisson spikes are drawn per
        step with probability ``rate dt``, from the network's seed, the same for
        every backend.
        """
        self._check_not_built()
        check_int("n", n, minimum=1)
        check_positive("rate", rate, strict=False)
        t = np.asarray(times, dtype=np.float64).reshape(-1)
        i = np.asarray(indices).reshape(-1)
        if t.shape != i.shape:
            raise ShapeError(
                f"'times' and 'indices' must have the same length; got {t.size} "
                f"and {i.size}."
            )
        if i.size and (not np.issubdtype(i.dtype, np.integer) or i.min() < 0):
            raise ValidationError("'indices' must be non-negative integers.")
        if i.size and i.max() >= n:
            raise ValidationError(f"'indices' must be < n ({n}); got {int(i.max())}.")
        if t.size and (not np.all(np.isfinite(t)) or t.min() < 0):
            raise ValidationError("'times' must be finite and >= 0 ms.")
        if rate and t.size:
            raise ValidationError("give either 'times' or 'rate', not both.")
        steps = np.rint(t / self.dt).astype(np.int64)
        pairs = steps * n + i.astype(np.int64)
        if np.unique(pairs).size != pairs.size:
            raise ValidationError(
                "a spike source neuron cannot spike twice in one time step "
                f"(dt {self.dt} ms); 'times' has duplicates for the same index "
                "after rounding to the grid."
            )
        src = SpikeSource(
            self,
            n,
            t,
            i.astype(np.int64),
            float(rate),
            self._name(name, "source", len(self.sources)),
        )
        self.sources.append(src)
        return src

    def connect(
        self,
        pre: Group,
        post: Population,
        rule: Rule,
        synapse: Synapse | None = None,
        *,
        weight: float
        | np.ndarray
        | Normal
        | Callable[[np.random.Generator, int], np.ndarray] = 1.0,
        delay: float | Normal = 0.0,
        plasticity: STDP | TripletSTDP | None = None,
        name: str | None = None,
    ) -> Projection:
        """Connect ``pre`` to ``post``.

        Parameters
        ----------
        pre : Population or SpikeSource
        post : Population
        rule : FixedProbability, FixedInDegree, FixedTotalNumber or Explicit
        synapse : CurrentSynapse, ConductanceSynapse or DeltaSynapse
            Projections onto one population with equal synapse objects share one
            synaptic variable (like ``ge`` in Brian2's CUBA).
        weight : float, Normal, array of shape (n_synapses,), or callable
            mV for current and delta synapses, leak-relative conductance for
            conductance synapses. A :class:`~neurodl.simulate.Normal` (or a
            callable, which gets ``(rng, n)``) is drawn per block of target
            neurons from that block's keyed stream.
        delay : float or Normal
            Transmission delay in ms: 0 or at least one step ``dt`` (a positive
            delay below one step is an error). A number is rounded to the grid
            (0: the next step's integration sees the spike); a ``Normal`` is
            drawn per synapse and rounded half up (NEST's rounding), and its
            ``low`` must be >= dt/2. Given per-synapse delays:
            ``Explicit(delay=)``.
        plasticity : STDP or TripletSTDP, optional
            Spike-timing-dependent plasticity of these weights
            (:mod:`neurodl.simulate.plasticity`); the learned weights are in
            ``Projection.weight`` after each run. Needs delay 0 (traces are
            kept per neuron, so an axonal or dendritic delay is not modelled),
            batch 1 and ``grad=False``.
        """
        self._check_not_built()
        if pre.net is not self or post.net is not self:
            raise ValidationError("'pre' and 'post' must belong to this network.")
        if not isinstance(post, Population):
            raise ValidationError(
                f"'post' must be a Population; got {type(post).__name__}."
            )
        synapse = check_synapse(synapse, post)
        if isinstance(weight, Normal | np.ndarray) or callable(weight):
            pass
        elif isinstance(weight, bool) or not isinstance(weight, int | float):
            raise ValidationError(
                "'weight' must be a number, a Normal, an array or a callable; "
                f"got {weight!r}."
            )
        elif not math.isfinite(weight):
            raise ValidationError(f"'weight' must be finite; got {weight!r}.")
        delay = check_delay(delay, self.dt, rule)
        if plasticity is not None:
            if not isinstance(plasticity, STDP | TripletSTDP):
                raise ValidationError(
                    "'plasticity' must be STDP, TripletSTDP or None; "
                    f"got {type(plasticity).__name__}."
                )
            if delay != 0:
                raise ValidationError(
                    f"'delay' must be 0 on a projection with 'plasticity' (STDP "
                    "traces are kept per neuron, so a delay between spike and "
                    f"synapse is not modelled); got {delay!r}."
                )
        proj = Projection(
            self,
            pre,
            post,
            rule,
            synapse,
            weight,
            delay,
            self._name(name, "projection", len(self.projections)),
            plasticity,
        )
        if synapse not in post.channels:
            post.channels.append(synapse)
        self.projections.append(proj)
        return proj

    def poisson_input(
        self,
        pop: Population,
        n: int,
        rate: float,
        weight: float,
        synapse: Synapse | None = None,
        name: str | None = None,
    ) -> PoissonInput:
        """Drive every neuron of ``pop`` with ``n`` Poisson processes of ``rate`` Hz.

        Brian2's ``PoissonInput``: in every step each neuron gets a count
        ``Binomial(n, rate dt)`` times ``weight`` added to the synaptic variable
        of ``synapse`` where a delay-0 spike lands (the next integration sees
        it). No synapses or spike events are made. The counts come from a
        counter-based hash of (seed, input, neuron, step), the same on both
        paths and however the network is split.

        Parameters
        ----------
        pop : Population
        n : int
            Number of independent processes per neuron (>= 1).
        rate : float
            Rate of each process in Hz (>= 0, ``rate dt <= 1``).
        weight : float
            mV (current, delta synapses) or leak-relative conductance.
        synapse : CurrentSynapse, ConductanceSynapse or DeltaSynapse, optional
            Default ``CurrentSynapse()``; shares the variable of equal synapse
            objects of :meth:`connect`.
        """
        from neurodl.simulate._keyed import check_rate

        self._check_not_built()
        if not isinstance(pop, Population) or pop.net is not self:
            raise ValidationError(
                f"'pop' must be a Population of this network; got {type(pop).__name__}."
            )
        check_int("n", n, minimum=1)
        check_positive("rate", rate, strict=False)
        check_rate(float(rate), n, self.dt)
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            raise ValidationError(f"'weight' must be a number; got {weight!r}.")
        if not math.isfinite(weight):
            raise ValidationError(f"'weight' must be finite; got {weight!r}.")
        synapse = check_synapse(synapse, pop)
        inp = PoissonInput(
            self,
            len(self.poisson_inputs),
            pop,
            int(n),
            float(rate),
            float(weight),
            synapse,
            self._name(name, "poisson", len(self.poisson_inputs)),
        )
        if synapse not in pop.channels:
            pop.channels.append(synapse)
        self.poisson_inputs.append(inp)
        return inp

    def spike_monitor(
        self,
        group: Group,
        indices: Sequence[int] | np.ndarray | None = None,
        *,
        dense: bool = False,
    ) -> SpikeMonitor:
        """Record the spikes of ``group`` (``dense``: also as a tensor, torch path).

        ``indices``: record only these neurons of the group (their indices within
        the group are reported; ``dense`` tensors keep the whole group).
        """
        self._check_not_built()
        check_group(self, group)
        idx = None
        if indices is not None:
            idx = check_indices(group, indices)
        mon = SpikeMonitor(group, dense, idx)
        self.spike_monitors.append(mon)
        return mon

    def rate_monitor(self, group: Group, bin: float = 1.0) -> RateMonitor:
        """Count the spikes of ``group`` per ``bin`` ms (population rate), streamed.

        ``bin`` is a multiple of ``dt``. Read ``counts``, ``times`` (bin starts,
        ms) and ``rate`` (Hz) of the returned :class:`RateMonitor`.
        """
        self._check_not_built()
        check_group(self, group)
        check_batch_one(self, "rate_monitor")
        mon = RateMonitor(group, steps_of(self.dt, "bin", bin, positive=True))
        self.stream_monitors.append(mon)
        return mon

    def stats_monitor(
        self,
        group: Group,
        start: float = 0.0,
        cc_sample: int = 250,
        cc_bin: float = 2.0,
    ) -> StatsMonitor:
        """Stream per-neuron rates, ISI CVs and spike-count correlations of ``group``.

        The INM-6 protocol's statistics (Dasbach et al. 2021): spikes from
        ``start`` ms on; the CV of neurons with more than two spikes; Pearson
        correlations of spike counts in ``cc_bin``-ms bins between the pairs of
        ``cc_sample`` neurons drawn from the network's seed. Only running sums are
        kept (see :class:`~neurodl.simulate.stream_monitors.StatsMonitor`).
        """
        self._check_not_built()
        check_group(self, group)
        check_batch_one(self, "stats_monitor")
        start_step = steps_of(self.dt, "start", start, positive=False)
        check_int("cc_sample", cc_sample, minimum=2)
        bin_steps = steps_of(self.dt, "cc_bin", cc_bin, positive=True)
        key = (self.seed, len(self.stream_monitors))
        mon = StatsMonitor(group, start_step, cc_sample, bin_steps, key)
        self.stream_monitors.append(mon)
        return mon

    def state_monitor(
        self,
        pop: Population,
        variable: str | Synapse = "v",
        indices: Sequence[int] | np.ndarray | None = None,
        *,
        every: int = 1,
    ) -> StateMonitor:
        """Sample ``variable`` of neurons ``indices``.

        ``variable``: ``"v"``, a synapse object connected to ``pop``, or the
        model's second state variable: ``"b"`` (ALIF), ``"u"`` (Izhikevich),
        ``"w"`` (AdEx).
        """
        self._check_not_built()
        aux = _models.state_name(pop.params)
        if variable != "v" and variable not in pop.channels and variable != aux:
            extra = f", {aux!r}" if aux is not None else ""
            raise ValidationError(
                f"'variable' must be 'v'{extra} or a synapse connected to "
                f"{pop.name!r}; got {variable!r}."
            )
        idx = (
            np.arange(pop.n)
            if indices is None
            else np.asarray(indices, dtype=np.int64).reshape(-1)
        )
        if idx.size and (idx.min() < 0 or idx.max() >= pop.n):
            raise ValidationError(
                f"'indices' must lie in [0, {pop.n}); got {idx.min()}..{idx.max()}."
            )
        mon = StateMonitor(pop, variable, idx, check_int("every", every, minimum=1))
        self.state_monitors.append(mon)
        return mon

    # ---------------------------------------------------------------------- build
    def build(self) -> None:
        """Draw connectivity and the initial state (done by the first run)."""
        if self._dist is not None and not self.built:
            from neurodl.simulate import distributed

            distributed.build(self, self._dist)
            return
        self._build()

    def distribute(
        self, group: Any = None, *, procs: int | None = None, exchange: str = "auto"
    ) -> None:
        """Split this network over the processes of a ``torch.distributed`` group.

        Call it on every process, after the same construction calls and before
        the first run; :meth:`run` then simulates this process's block of
        neurons and exchanges spikes with the others, and every process's spike
        monitors hold all spikes, identical for any number of processes (see
        :mod:`neurodl.simulate.distributed`). ``group``: default the default
        process group; ``procs``: the expected number of processes (checked);
        ``exchange``: ``"gloo"`` (the group's ``all_gather``), ``"shm"`` (shared
        memory, processes on one x86-64 machine) or ``"auto"`` (shm where it
        can, else the group's collective).
        """
        from neurodl.simulate import distributed

        self._dist = distributed.attach(self, group, procs, exchange)

    def _build(self, targets: tuple[int, int] | None = None) -> None:
        """Build; ``targets``: only the synapses onto LIF neurons ``[lo, hi)``.

        A restricted build (for a process that owns those neurons) draws the
        same synapses onto them as a full build, in the same CSR order (rows keep
        every presynaptic neuron); the rest of the network is built in full.
        """
        from neurodl.simulate._build import build_network

        build_network(self, targets)

    def reset(self) -> None:
        """Back to time 0: the initial state, no spikes in flight, monitors cleared.

        Connectivity, weights (also those learned by plasticity), adaptive
        thresholds and learnable parameters are kept, STDP traces cleared, and
        Poisson sources replay the same spikes; so a training loop can
        ``reset()`` and ``run()`` once per iteration.
        """
        if not self.built:
            return
        v0, g0 = self._initial
        self.v = v0.clone()
        self.g = g0.clone()
        self.aux = self._aux0.clone()
        self.refr = torch.zeros_like(self.refr)
        self.step = 0
        self._pending = {}
        self._ring[:] = 0
        if self._plastic is not None:
            self._plastic.reset()
        for src in self.sources:
            src.rng = np.random.default_rng(src.seed)
        for mon in self.spike_monitors:
            mon.clear()
        for stream in self.stream_monitors:
            stream.clear()
        for smon in self.state_monitors:
            smon.clear()

    @property
    def _gpre(self) -> np.ndarray:
        """Presynaptic global index of every synapse, in CSR order."""
        return np.repeat(np.arange(self.n_all, dtype=np.int64), np.diff(self._indptr))

    @property
    def n_synapses(self) -> int:
        """Total number of synapses (after build)."""
        return int(self._tgt.size) if self.built else 0

    @property
    def _perm(self) -> np.ndarray:
        """CSR slot -> index into the concatenated projection weights (cached)."""
        if self._perm_cache is None:
            from neurodl.simulate._tables import csr_order

            self._perm_cache = csr_order(self)
        return self._perm_cache

    def global_weights(self) -> Tensor:
        """Return all weights in CSR order, differentiable w.r.t. each projection's."""
        if not self.projections:
            return torch.zeros(0, dtype=self.dtype, device=self.device)
        flat = torch.cat([p.weight for p in self.projections])
        return flat[torch.as_tensor(self._perm.astype(np.int64), device=self.device)]

    def parameters(self) -> list[Tensor]:
        """Tensors that require grad: projection weights and learnable parameters."""
        out = [p.weight for p in self.projections if p.weight.requires_grad]
        for pop in self.populations:
            out.extend(pop.learnable.values())
        return out

    def _max_synapse_types(self) -> int:
        return max((len(p.channels) for p in self.populations), default=0)

    # ----------------------------------------------------------------------- run
    def run(
        self,
        duration: float,
        *,
        backend: str | None = None,
        grad: bool = False,
        progress: bool | str = "auto",
        detach_reset: bool = True,
        propagation: str = "sparse",
    ) -> None:
        """Simulate ``duration`` ms from the current state.

        Parameters
        ----------
        duration : float
            In ms, a multiple of ``dt`` (to 1e-9 of a step).
        backend : {"auto", "numba", "torch"}, optional
            Overrides the network's default for this run.
        grad : bool
            Keep the gradient, so a loss on the monitors' ``spikes``/``tensor``
            can be back-propagated to weights and learnable parameters. On the
            CPU with batch 1, backend ``"numba"`` (and ``"auto"``) run the whole
            simulation as one compiled autograd node with a reverse-time adjoint
            pass (:mod:`neurodl.simulate._numba_grad`; same gradients as the
            tensor path); ``"torch"`` keeps the step-by-step autograd graph (any
            device, batches, ``propagation="dense"``).
        progress : bool or "auto"
            Show a progress bar ("auto": on a terminal, for long runs).
        detach_reset : bool
            ``grad=True``: do not back-propagate through the reset (default, as
            snnTorch; Zenke & Vogels 2021, doi:10.1162/neco_a_01367). With
            ``False`` the reset contributes ``(v_reset - v) dz/dv``, which makes
            gradients of mV-scaled models grow quickly over time.
        propagation : {"sparse", "events", "spmv", "dense"}
            Tensor path. ``"sparse"`` (default) = ``"events"``: only the
            synapses of neurons that spiked (the same sums as the compiled
            path); ``"spmv"``: one sparse matrix product with the whole weight
            matrix per step, without a host synchronisation (measured slower on
            an H100 than events: see benchmarks/RESULTS.md); ``"dense"``: a
            dense ``z @ W`` reference (for tests; memory ``n_pre x n_post``).
        """
        from neurodl.simulate import _runner

        n_steps, backend = _runner.check_run(
            self,
            duration,
            self.backend if backend is None else backend,
            grad,
            propagation,
        )
        self.build()
        show = (
            progress
            if isinstance(progress, bool)
            else (n_steps >= _PROGRESS_STEPS and _is_tty())
        )
        if self._dist is not None:
            from neurodl.simulate import distributed

            distributed.run(self, n_steps, backend, show, grad, propagation)
            return
        if backend == "numba" and grad:
            _runner.run_numba_grad(self, n_steps, show, detach_reset)
        elif backend == "numba":
            _runner.run_numba(self, n_steps, show)
        else:
            from neurodl.simulate._torch_runner import run_torch

            run_torch(self, n_steps, show, grad, detach_reset, propagation)


def _is_tty() -> bool:
    import sys

    return sys.stderr.isatty()
