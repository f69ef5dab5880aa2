"""Run one neuron model under a constant current: spike times and firing rates.

:func:`simulate_neuron` drives one neuron and is what ``neurodl simulate neuron``
prints. Its time loop runs the model's step math on Python floats (float64) by
default: about 1 us per step (8 us for Hodgkin-Huxley with RK4) on one CPU core.
``backend="torch"`` runs the same math on one-element float64 tensors (the path of
the public ``*_step`` functions): the same spikes, 35-90 times slower.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from neurodl._validate import check_option, check_positive
from neurodl.errors import ValidationError
from neurodl.neurons._common import DEFAULT_SURROGATE, Ops, ScalarOps, TorchOps
from neurodl.neurons._spiketimes import isi_rate, spike_times_crossing
from neurodl.neurons.adex import (
    ADEX_METHODS,
    AdExParams,
    _adex_update,
    adex_initial_state,
)
from neurodl.neurons.alif import (
    ALIF_METHODS,
    ALIFParams,
    _alif_update,
    alif_initial_state,
)
from neurodl.neurons.hh import HH_METHODS, HHParams, _hh_update, hh_initial_state
from neurodl.neurons.izhikevich import (
    IZHIKEVICH_METHODS,
    IzhikevichParams,
    _izhikevich_update,
    izhikevich_initial_state,
)
from neurodl.neurons.lif import LIF_METHODS, LIFParams, _lif_update, lif_initial_state

__all__ = ["BACKENDS", "NEURON_MODELS", "NeuronModel", "NeuronRun", "simulate_neuron"]

BACKENDS: tuple[str, ...] = ("scalar", "torch")
"""Back-ends of :func:`simulate_neuron`: Python floats or one-element tensors."""


@dataclass(frozen=True)
class NeuronModel:
    """A neuron model as the driver and the command line see it.

    Attributes
    ----------
    name : str
        Name used on the command line.
    title : str
        Human-readable name.
    params_type : type
        Its ``*Params`` dataclass.
    methods : tuple of str
        Integration schemes; the first is the default.
    current_unit : str
        Unit of the injected current.
    crossing : bool
        Whether spikes are timed by interpolated upward threshold crossings of the
        trace (else at the start of the step that detects them, as Brian2 does).
    initial_state : callable
        ``initial_state(like, params)``: the state a run starts from.
    update : callable
        ``update(ops, i, state, params, dt, method) -> (z, state)``: the model's
        step math on a back-end (internal).
    """

    name: str
    title: str
    params_type: type[Any]
    methods: tuple[str, ...]
    current_unit: str
    crossing: bool
    initial_state: Callable[[torch.Tensor, Any], tuple[Any, ...]]
    update: Callable[[Ops, Any, Any, Any, float, str], tuple[Any, Any]]

    def params(self, overrides: Mapping[str, float] | None = None) -> Any:
        """Default parameters with ``overrides`` applied (names checked).

        Raises
        ------
        ValidationError
            For an unknown name (the message lists the valid ones) or a value that
            breaks its rule.
        """
        names = [f.name for f in dataclasses.fields(self.params_type)]
        overrides = dict(overrides or {})
        for key in overrides:
            if key not in names:
                raise ValidationError(
                    f"unknown {self.name} parameter {key!r}; valid names: "
                    f"{', '.join(names)}."
                )
        return self.params_type(**overrides)


def _lif_zero(ops: Ops, i: Any, s: Any, p: Any, dt: float, m: str) -> Any:
    return _lif_update(ops, i, s, p, dt, m, "zero")


def _alif_zero(ops: Ops, i: Any, s: Any, p: Any, dt: float, m: str) -> Any:
    return _alif_update(ops, i, s, p, dt, m, "zero")


NEURON_MODELS: dict[str, NeuronModel] = {
    m.name: m
    for m in (
        NeuronModel(
            "lif",
            "leaky integrate-and-fire",
            LIFParams,
            LIF_METHODS,
            "nA (R*I in mV with r_m = 1 MOhm)",
            False,
            lif_initial_state,
            _lif_zero,
        ),
        NeuronModel(
            "alif",
            "adaptive leaky integrate-and-fire",
            ALIFParams,
            ALIF_METHODS,
            "nA (R*I in mV with r_m = 1 MOhm)",
            False,
            alif_initial_state,
            _alif_zero,
        ),
        NeuronModel(
            "izhikevich",
            "Izhikevich",
            IzhikevichParams,
            IZHIKEVICH_METHODS,
            "model units (mV/ms)",
            False,
            izhikevich_initial_state,
            _izhikevich_update,
        ),
        NeuronModel(
            "hh",
            "Hodgkin-Huxley",
            HHParams,
            HH_METHODS,
            "uA/cm^2",
            True,
            hh_initial_state,
            _hh_update,
        ),
        NeuronModel(
            "adex",
            "adaptive exponential integrate-and-fire",
            AdExParams,
            ADEX_METHODS,
            "pA",
            False,
            adex_initial_state,
            _adex_update,
        ),
    )
}
"""The models :func:`simulate_neuron` runs, by name."""


@dataclass(frozen=True)
class NeuronRun:
    """The outcome of :func:`simulate_neuron`.

    Attributes
    ----------
    model, method : str
        Model name and integration scheme.
    current : float
        Injected current, in ``current_unit``.
    current_unit : str
        Unit of ``current``.
    duration, dt : float
        Simulated time and time step, ms.
    params : dict
        Every parameter of the model, by name.
    spike_times_ms : ndarray, shape (n_spikes,)
        Spike times, ms.
    v : ndarray, shape (n_steps + 1,), or None
        Membrane potential (mV) at ``t = k dt``, if recorded.
    """

    model: str
    method: str
    current: float
    current_unit: str
    duration: float
    dt: float
    params: dict[str, Any]
    spike_times_ms: np.ndarray
    v: np.ndarray | None = None

    @property
    def n_spikes(self) -> int:
        """Number of spikes."""
        return int(self.spike_times_ms.size)

    @property
    def rate_hz(self) -> float:
        """Spike count over the duration, Hz."""
        return 1000.0 * self.n_spikes / self.duration

    @property
    def isi_rate_hz(self) -> float:
        """``1000 / mean(ISI)``, Hz (NaN below two spikes). See `isi_rate`."""
        return isi_rate(self.spike_times_ms)

    @property
    def warnings(self) -> dict[str, str]:
        """Statistics undefined for this run, and why (empty when all are defined)."""
        if math.isnan(self.isi_rate_hz):
            return {
                "isi_rate_hz": f"{self.n_spikes} spike(s), fewer than two: no "
                "inter-spike interval, ISI rate undefined"
            }
        return {}

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready summary (no trace); ``warnings`` says what is None."""
        isi = self.isi_rate_hz
        out = {
            "model": self.model,
            "method": self.method,
            "current": self.current,
            "current_unit": self.current_unit,
            "duration_ms": self.duration,
            "dt_ms": self.dt,
            "n_spikes": self.n_spikes,
            "rate_hz": self.rate_hz,
            "isi_rate_hz": None if math.isnan(isi) else isi,
            "spike_times_ms": self.spike_times_ms.tolist(),
            "params": self.params,
        }
        if self.warnings:
            out["warnings"] = self.warnings
        return out


def simulate_neuron(
    model: str,
    current: float,
    duration: float,
    dt: float = 0.01,
    method: str | None = None,
    params: Mapping[str, float] | None = None,
    *,
    record_v: bool = False,
    backend: str = "scalar",
) -> NeuronRun:
    """Simulate one neuron under a constant current, from its initial state.

    The initial states are those of the ``*_initial_state`` functions (LIF/ALIF
    at ``v_rest``, Izhikevich at -65 mV with ``u = b v``, Hodgkin-Huxley at -65 mV
    with the gates at rest, AdEx at ``e_l`` with ``w = 0``). The run has
    ``round(duration / dt)`` steps. Spikes are time-stamped at the start of the step
    that detects them, as Brian2 does (``t = k dt``), except Hodgkin-Huxley spikes,
    timed at the upward ``v_th`` crossing by linear interpolation
    (:func:`spike_times_crossing`). Integrate-and-fire resets are ``"zero"``.

    Parameters
    ----------
    model : str
        One of :data:`NEURON_MODELS`: ``"lif"``, ``"alif"``, ``"izhikevich"``,
        ``"hh"``, ``"adex"``.
    current : float
        Injected current, constant: nA for LIF/ALIF (``R I`` in mV), the model's
        units for Izhikevich, uA/cm^2 for Hodgkin-Huxley, pA for AdEx.
    duration : float
        Simulated time, ms (> 0).
    dt : float
        Time step, ms (> 0).
    method : str, optional
        Integration scheme; default the model's first (``"exact"``, ``"exact"``,
        ``"euler"``, ``"rk4"``, ``"euler"``).
    params : mapping, optional
        Parameter overrides by name, e.g. ``{"tau_mem": 20.0}``.
    record_v : bool
        Keep the membrane potential trace in the result.
    backend : {"scalar", "torch"}
        Python floats (fast) or one-element float64 tensors.

    Returns
    -------
    NeuronRun

    Raises
    ------
    ValidationError
        For an unknown model, method, backend or parameter name, or a value that
        breaks its rule.

    Examples
    --------
    >>> run = simulate_neuron("lif", current=25.0, duration=200.0, dt=0.1)
    >>> run.n_spikes, round(run.isi_rate_hz, 2)  # closed form: 55.27 Hz
    (11, 55.56)
    """
    spec = NEURON_MODELS[check_option("model", model, NEURON_MODELS)]
    method = spec.methods[0] if method is None else method
    check_option("method", method, spec.methods)
    check_option("backend", backend, BACKENDS)
    check_positive("dt", dt)
    check_positive("duration", duration)
    if isinstance(current, bool) or not isinstance(current, int | float):
        raise ValidationError(f"'current' must be a real number; got {current!r}.")
    if not math.isfinite(current):
        raise ValidationError(f"'current' must be finite; got {current!r}.")
    n_steps = round(duration / dt)
    if n_steps < 1:
        raise ValidationError(
            f"'duration' must cover at least one step of dt = {dt!r} ms; "
            f"got {duration!r}."
        )
    p = spec.params(params)
    like = torch.zeros(1, dtype=torch.float64)
    state = spec.initial_state(like, p)
    ops: Ops
    if backend == "scalar":
        ops = ScalarOps()
        state_type: Any = type(state)  # the model's *State named tuple
        state = state_type(*(float(x) for x in state))
        i: Any = float(current)
    else:
        ops = TorchOps(DEFAULT_SURROGATE)
        i = torch.full((1,), float(current), dtype=torch.float64)
    steps, trace = _loop(
        spec.update, ops, i, state, p, dt, method, n_steps, record_v or spec.crossing
    )
    if spec.crossing:
        times = spike_times_crossing(trace, dt, float(p.v_th))
    else:
        times = np.asarray(steps, dtype=np.float64) * dt
    return NeuronRun(
        model=model,
        method=method,
        current=float(current),
        current_unit=spec.current_unit,
        duration=round(n_steps * dt, 12),
        dt=dt,
        params=dataclasses.asdict(p),
        spike_times_ms=times,
        v=trace if record_v else None,
    )


def _loop(
    update: Callable[[Ops, Any, Any, Any, float, str], tuple[Any, Any]],
    ops: Ops,
    i: Any,
    state: Any,
    p: Any,
    dt: float,
    method: str,
    n_steps: int,
    record: bool,
) -> tuple[list[int], np.ndarray]:
    # the time loop: step k takes the state from t = k dt to (k + 1) dt
    steps: list[int] = []
    trace: list[float] = [float(state.v)] if record else []
    for k in range(n_steps):
        z, state = update(ops, i, state, p, dt, method)
        if z:
            steps.append(k)
        if record:
            trace.append(float(state.v))
    return steps, np.asarray(trace, dtype=np.float64)
