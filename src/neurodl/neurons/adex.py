"""Adaptive exponential integrate-and-fire neuron (Brette & Gerstner 2005)."""

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
    torch_ops,
)
from neurodl.neurons.surrogate import Surrogate

__all__ = [
    "ADEX_METHODS",
    "AdEx",
    "AdExParams",
    "AdExState",
    "adex_initial_state",
    "adex_step",
]

ADEX_METHODS: tuple[str, ...] = ("euler",)
"""Integration schemes of :func:`adex_step`."""


@dataclass(frozen=True)
class AdExParams:
    """Parameters of the AdEx neuron; the default is Brette & Gerstner's (2005) cell.

    Units: pF, nS, mV, ms and pA (so ``nS * mV = pA`` and ``pA / pF = mV/ms``).
    A field may also be a floating-point tensor that broadcasts against the state.

    Attributes
    ----------
    c_m : float
        Membrane capacitance, pF (> 0).
    g_l : float
        Leak conductance, nS (> 0).
    e_l : float
        Leak reversal potential, mV.
    v_t : float
        Effective threshold ``V_T`` (where the exponential term takes over), mV.
    delta_t : float
        Slope factor ``Delta_T``, mV (> 0).
    v_peak : float
        Spike cut-off, mV (above ``v_reset``). The default ``V_T + 5 Delta_T`` is
        the cut-off of Brian2's Brette_Gerstner_2005 example.
    v_reset : float
        Reset potential ``V_r``, mV.
    tau_w : float
        Adaptation time constant, ms (> 0).
    a : float
        Subthreshold adaptation, nS.
    b : float
        Spike-triggered adaptation increment, pA.
    t_ref : float
        Absolute refractory period, ms (>= 0; the paper has none).

    Raises
    ------
    ValidationError
        If a value breaks its rule; the message names the field.
    """

    c_m: float = 281.0
    g_l: float = 30.0
    e_l: float = -70.6
    v_t: float = -50.4
    delta_t: float = 2.0
    v_peak: float = -40.4
    v_reset: float = -70.6
    tau_w: float = 144.0
    a: float = 4.0
    b: float = 80.5
    t_ref: float = 0.0

    def __post_init__(self) -> None:
        check_real("c_m", self.c_m, rule="> 0")
        check_real("g_l", self.g_l, rule="> 0")
        check_real("e_l", self.e_l)
        check_real("v_t", self.v_t)
        check_real("delta_t", self.delta_t, rule="> 0")
        check_real("v_peak", self.v_peak)
        check_real("v_reset", self.v_reset)
        check_real("tau_w", self.tau_w, rule="> 0")
        check_real("a", self.a)
        check_real("b", self.b)
        check_real("t_ref", self.t_ref, rule=">= 0")
        check_below("v_reset", self.v_reset, "v_peak", self.v_peak)


class AdExState(NamedTuple):
    """State of AdEx neurons; every field has shape ``(..., n)``.

    Attributes
    ----------
    v : Tensor
        Membrane potential, mV.
    w : Tensor
        Adaptation current, pA.
    refrac : Tensor
        Refractory time left, ms.
    """

    v: Tensor
    w: Tensor
    refrac: Tensor


def adex_initial_state(like: Tensor, p: AdExParams) -> AdExState:
    """Neurons at ``v = e_l`` with ``w = 0``, not refractory, shaped like ``like``.

    Parameters
    ----------
    like : Tensor, shape (..., n)
        Gives the shape, dtype and device.
    p : AdExParams
        Parameters.

    Returns
    -------
    AdExState
    """
    zeros = torch.zeros_like(like)
    return AdExState(v=zeros + p.e_l, w=zeros.clone(), refrac=zeros.clone())


def _adex_update(
    ops: Ops, i: Any, s: AdExState, p: AdExParams, dt: float, method: str
) -> tuple[Any, AdExState]:
    # the math of adex_step, on tensors or on floats (method: "euler" only)
    spike_current = p.g_l * p.delta_t * ops.exp((s.v - p.v_t) / p.delta_t)
    dv = (p.g_l * (p.e_l - s.v) + spike_current - s.w + i) / p.c_m
    w_new = s.w + dt / p.tau_w * (p.a * (s.v - p.e_l) - s.w)
    free = refractory_free(s.refrac, dt)
    v_new = ops.where(free, s.v + dt * dv, s.v)
    z = ops.spike(v_new - p.v_peak) * ops.as_float(free, v_new)
    spiked = z > 0
    return z, AdExState(
        ops.where(spiked, p.v_reset, v_new),
        ops.where(spiked, w_new + p.b, w_new),
        refractory_next(ops, spiked, s.refrac, p.t_ref, dt),
    )


def adex_step(
    i: Tensor,
    state: AdExState,
    p: AdExParams,
    dt: float,
    *,
    method: str = "euler",
    surrogate: Surrogate | None = None,
) -> tuple[Tensor, AdExState]:
    r"""Advance adaptive exponential integrate-and-fire neurons by one time step.

    .. math::

        C \frac{dV}{dt} = -g_L (V - E_L) + g_L \Delta_T e^{(V - V_T)/\Delta_T}
                          - w + I, \qquad
        \tau_w \frac{dw}{dt} = a (V - E_L) - w,

    and when ``V >= v_peak``: ``V <- V_r``, ``w <- w + b``. ``I`` is held constant
    over the step and ``method="euler"`` is forward Euler on both variables from
    the old values (Brian2's ``method='euler'``). The spike is
    ``z = H(V' - v_peak)`` through ``surrogate`` (reset not differentiated).
    Refractoriness follows :func:`~neurodl.neurons.lif_step`: ``V`` is held (at
    ``V_r``) for ``t_ref`` while ``w`` keeps evolving.

    In float32 keep ``(v_peak - v_t) / delta_t`` below about 80, or the
    exponential overflows.

    Parameters
    ----------
    i : Tensor, shape (..., n)
        Injected current, pA.
    state : AdExState
        State at the start of the step.
    p : AdExParams
        Parameters.
    dt : float
        Time step, ms (> 0).
    method : {"euler"}
        Integration scheme.
    surrogate : Surrogate, optional
        Spike function; default :data:`~neurodl.neurons.DEFAULT_SURROGATE`.

    Returns
    -------
    z : Tensor, shape (..., n)
        Spikes (1.0 or 0.0) in ``i``'s dtype.
    state : AdExState
        State at the end of the step.

    Raises
    ------
    ValidationError
        If ``dt``, ``method`` or ``surrogate`` is not allowed.

    References
    ----------
    Brette & Gerstner (2005), Adaptive exponential integrate-and-fire model as an
    effective description of neuronal activity, J. Neurophysiol. 94:3637,
    doi:10.1152/jn.00686.2005.

    Examples
    --------
    >>> p = AdExParams()
    >>> i = torch.tensor([1000.0], dtype=torch.float64)  # 1 nA
    >>> s = adex_initial_state(i, p)
    >>> n = 0
    >>> for _ in range(1000):  # 100 ms at dt = 0.1 ms
    ...     z, s = adex_step(i, s, p, 0.1)
    ...     n += int(z.item())
    >>> n  # adaptation: the intervals grow (13.7, 15.9, 18.7, 22.0 ms)
    5
    """
    check_step_args(dt, method, ADEX_METHODS)
    return _adex_update(torch_ops(surrogate), i, state, p, dt, method)


class AdEx(nn.Module):
    """Adaptive exponential integrate-and-fire neurons. See `adex_step`.

    Parameters
    ----------
    p : AdExParams, optional
        Parameters (default: Brette & Gerstner's cell).
    dt : float
        Time step, ms.
    method, surrogate
        As in :func:`adex_step`.
    """

    def __init__(
        self,
        p: AdExParams | None = None,
        dt: float = 0.1,
        *,
        method: str = "euler",
        surrogate: Surrogate | None = None,
    ) -> None:
        super().__init__()
        check_step_args(dt, method, ADEX_METHODS)
        self.p = AdExParams() if p is None else p
        self.dt = dt
        self.method = method
        self.surrogate = surrogate

    def initial_state(self, i: Tensor) -> AdExState:
        """Neurons at ``e_l``, shaped like ``i``. See `adex_initial_state`."""
        return adex_initial_state(i, self.p)

    def forward(
        self, i: Tensor, state: AdExState | None = None
    ) -> tuple[Tensor, AdExState]:
        """One step from ``state`` (default: at rest). See `adex_step`."""
        state = self.initial_state(i) if state is None else state
        return adex_step(
            i, state, self.p, self.dt, method=self.method, surrogate=self.surrogate
        )

    def extra_repr(self) -> str:
        """Parameters, time step and method, for ``repr``."""
        return f"{self.p}, dt={self.dt}, method={self.method!r}"
