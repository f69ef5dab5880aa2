"""Adaptive leaky integrate-and-fire neuron (spike-triggered threshold adaptation)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from neurodl.neurons._common import (
    Ops,
    check_below,
    check_real,
    check_step_args,
    refractory_free,
    refractory_next,
    reset_value,
    torch_ops,
)
from neurodl.neurons.surrogate import Surrogate

__all__ = [
    "ALIF",
    "ALIF_METHODS",
    "ALIFParams",
    "ALIFState",
    "alif_initial_state",
    "alif_step",
]

ALIF_METHODS: tuple[str, ...] = ("exact", "euler")
"""Integration schemes of :func:`alif_step`."""


@dataclass(frozen=True)
class ALIFParams:
    """Parameters of the adaptive leaky integrate-and-fire neuron.

    The first six fields are those of :class:`~neurodl.neurons.LIFParams`. A field
    may also be a floating-point tensor that broadcasts against the state.

    Attributes
    ----------
    tau_mem : float
        Membrane time constant, ms (> 0).
    v_rest : float
        Resting potential ``E_L``, mV.
    v_th : float
        Threshold at rest (without adaptation), mV.
    v_reset : float
        Reset potential, mV (below ``v_th``).
    t_ref : float
        Absolute refractory period, ms (>= 0).
    r_m : float
        Membrane resistance, MOhm (> 0); ``r_m * i`` is in mV for ``i`` in nA.
    tau_adapt : float
        Time constant of the threshold adaptation, ms (> 0).
    delta_th : float
        Threshold increase per spike, mV (>= 0; 0 gives the LIF neuron).

    Raises
    ------
    ValidationError
        If a value breaks its rule; the message names the field.
    """

    tau_mem: float = 10.0
    v_rest: float = -70.0
    v_th: float = -50.0
    v_reset: float = -70.0
    t_ref: float = 2.0
    r_m: float = 1.0
    tau_adapt: float = 200.0
    delta_th: float = 2.0

    def __post_init__(self) -> None:
        check_real("tau_mem", self.tau_mem, rule="> 0")
        check_real("v_rest", self.v_rest)
        check_real("v_th", self.v_th)
        check_real("v_reset", self.v_reset)
        check_real("t_ref", self.t_ref, rule=">= 0")
        check_real("r_m", self.r_m, rule="> 0")
        check_real("tau_adapt", self.tau_adapt, rule="> 0")
        check_real("delta_th", self.delta_th, rule=">= 0")
        check_below("v_reset", self.v_reset, "v_th", self.v_th)


class ALIFState(NamedTuple):
    """State of adaptive LIF neurons; every field has shape ``(..., n)``.

    Attributes
    ----------
    v : Tensor
        Membrane potential, mV.
    b : Tensor
        Threshold adaptation, mV: the threshold is ``v_th + b``.
    refrac : Tensor
        Refractory time left, ms.
    """

    v: Tensor
    b: Tensor
    refrac: Tensor


def alif_initial_state(like: Tensor, p: ALIFParams) -> ALIFState:
    """Neurons at rest, unadapted and not refractory, shaped like ``like``.

    Parameters
    ----------
    like : Tensor, shape (..., n)
        Gives the shape, dtype and device.
    p : ALIFParams
        Parameters.

    Returns
    -------
    ALIFState
    """
    zeros = torch.zeros_like(like)
    return ALIFState(v=zeros + p.v_rest, b=zeros.clone(), refrac=zeros.clone())


def _alif_update(
    ops: Ops, i: Any, s: ALIFState, p: ALIFParams, dt: float, method: str, reset: str
) -> tuple[Any, ALIFState]:
    # the math of alif_step, on tensors or on floats (see neurodl.neurons._common)
    v_inf = p.v_rest + p.r_m * i
    if method == "exact":
        v_new = v_inf + (s.v - v_inf) * ops.exp(-dt / p.tau_mem)
        b_new = s.b * ops.exp(-dt / p.tau_adapt)
    else:
        v_new = s.v + dt / p.tau_mem * (v_inf - s.v)
        b_new = s.b - dt / p.tau_adapt * s.b
    free = refractory_free(s.refrac, dt)
    v_new = ops.where(free, v_new, s.v)
    threshold = p.v_th + b_new
    z = ops.spike(v_new - threshold) * ops.as_float(free, v_new)
    spiked = z > 0
    v_out = ops.where(spiked, reset_value(reset, v_new, threshold, p.v_reset), v_new)
    return z, ALIFState(
        v_out,
        b_new + p.delta_th * z,
        refractory_next(ops, spiked, s.refrac, p.t_ref, dt),
    )


def alif_step(
    i: Tensor,
    state: ALIFState,
    p: ALIFParams,
    dt: float,
    *,
    method: str = "exact",
    reset: str = "zero",
    surrogate: Surrogate | None = None,
) -> tuple[Tensor, ALIFState]:
    r"""Advance adaptive LIF neurons (threshold adaptation) by one time step.

    The membrane follows the LIF equation and the threshold ``v_th + b`` rises by
    ``delta_th`` at each spike and relaxes back with ``tau_adapt``:

    .. math::

        \tau_{mem} \frac{dv}{dt} = E_L - v + R i, \qquad
        \tau_{adapt} \frac{db}{dt} = -b, \qquad
        \text{spike: } v \ge v_{th} + b \Rightarrow b \leftarrow b + \Delta_{th}.

    This is the continuous-time form of the threshold adaptation of Bellec et al.'s
    LSNN (their ``beta (1 - rho)`` per spike, in mV here). The input current is
    held constant over the step;

    * ``method="exact"``: ``v`` as in :func:`~neurodl.neurons.lif_step` and
      ``b' = b exp(-dt / tau_adapt)`` (exact);
    * ``method="euler"``: forward Euler for both.

    The spike ``z = H(v' - (v_th + b'))`` uses ``surrogate``; gradients flow
    through ``v`` and through ``b' + delta_th z`` (the reset of ``v`` is detached).
    Reset modes and refractoriness are those of :func:`~neurodl.neurons.lif_step`,
    with ``"subtract"`` removing ``v_th + b' - v_reset``; ``b`` keeps relaxing
    while the neuron is refractory.

    Parameters
    ----------
    i : Tensor, shape (..., n)
        Input current, nA (``R i`` in mV).
    state : ALIFState
        State at the start of the step.
    p : ALIFParams
        Parameters.
    dt : float
        Time step, ms (> 0).
    method : {"exact", "euler"}
        Integration scheme.
    reset : {"zero", "subtract", "none"}
        What a spike does to ``v``.
    surrogate : Surrogate, optional
        Spike function; default :data:`~neurodl.neurons.DEFAULT_SURROGATE`.

    Returns
    -------
    z : Tensor, shape (..., n)
        Spikes (1.0 or 0.0) in ``i``'s dtype.
    state : ALIFState
        State at the end of the step.

    Raises
    ------
    ValidationError
        If ``dt``, ``method``, ``reset`` or ``surrogate`` is not allowed.

    References
    ----------
    Bellec, Salaj, Subramoney, Legenstein & Maass (2018), Long short-term memory and
    learning-to-learn in networks of spiking neurons, NeurIPS, arXiv:1803.09574.

    Examples
    --------
    >>> p = ALIFParams()
    >>> i = torch.tensor([30.0], dtype=torch.float64)
    >>> s = alif_initial_state(i, p)
    >>> n = 0
    >>> for _ in range(1000):  # 100 ms
    ...     z, s = alif_step(i, s, p, 0.1)
    ...     n += int(z.item())
    >>> n  # the LIF neuron (delta_th = 0) fires 7 times
    5
    """
    check_step_args(dt, method, ALIF_METHODS, reset)
    return _alif_update(torch_ops(surrogate), i, state, p, dt, method, reset)


class ALIF(nn.Module):
    """Adaptive leaky integrate-and-fire neurons. See `alif_step`.

    Parameters
    ----------
    p : ALIFParams, optional
        Parameters (default ``ALIFParams()``).
    dt : float
        Time step, ms.
    method, reset, surrogate
        As in :func:`alif_step`.
    """

    def __init__(
        self,
        p: ALIFParams | None = None,
        dt: float = 0.1,
        *,
        method: str = "exact",
        reset: str = "zero",
        surrogate: Surrogate | None = None,
    ) -> None:
        super().__init__()
        check_step_args(dt, method, ALIF_METHODS, reset)
        self.p = ALIFParams() if p is None else p
        self.dt = dt
        self.method = method
        self.reset = reset
        self.surrogate = surrogate

    def initial_state(self, i: Tensor) -> ALIFState:
        """Neurons at rest, shaped like ``i``. See `alif_initial_state`."""
        return alif_initial_state(i, self.p)

    def forward(
        self, i: Tensor, state: ALIFState | None = None
    ) -> tuple[Tensor, ALIFState]:
        """One step from ``state`` (default: at rest). See `alif_step`."""
        state = self.initial_state(i) if state is None else state
        return alif_step(
            i,
            state,
            self.p,
            self.dt,
            method=self.method,
            reset=self.reset,
            surrogate=self.surrogate,
        )

    def extra_repr(self) -> str:
        """Parameters, time step and options, for ``repr``."""
        return f"{self.p}, dt={self.dt}, method={self.method!r}, reset={self.reset!r}"
