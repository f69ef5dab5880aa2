"""Hodgkin-Huxley squid giant axon (classic 1952 parameters, V in mV, rest -65 mV)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from neurodl.neurons._common import (
    Ops,
    ScalarOps,
    check_real,
    check_step_args,
    torch_ops,
)
from neurodl.neurons.surrogate import Surrogate

__all__ = [
    "HH_METHODS",
    "HHParams",
    "HHState",
    "HodgkinHuxley",
    "hh_initial_state",
    "hh_rates",
    "hh_step",
]

HH_METHODS: tuple[str, ...] = ("rk4", "exponential_euler")
"""Integration schemes of :func:`hh_step`."""


@dataclass(frozen=True)
class HHParams:
    """Parameters of the Hodgkin-Huxley neuron, per unit membrane area.

    The rate functions are fixed (see :func:`hh_rates`). A field may also be a
    floating-point tensor that broadcasts against the state.

    Attributes
    ----------
    c_m : float
        Membrane capacitance, uF/cm^2 (> 0).
    g_na, g_k, g_l : float
        Maximal sodium, potassium and leak conductances, mS/cm^2 (>= 0).
    e_na, e_k, e_l : float
        Reversal potentials, mV.
    v_th : float
        Spike detection threshold, mV: a spike is an upward crossing of it.

    Raises
    ------
    ValidationError
        If a value breaks its rule; the message names the field.
    """

    c_m: float = 1.0
    g_na: float = 120.0
    g_k: float = 36.0
    g_l: float = 0.3
    e_na: float = 50.0
    e_k: float = -77.0
    e_l: float = -54.387
    v_th: float = 0.0

    def __post_init__(self) -> None:
        check_real("c_m", self.c_m, rule="> 0")
        check_real("g_na", self.g_na, rule=">= 0")
        check_real("g_k", self.g_k, rule=">= 0")
        check_real("g_l", self.g_l, rule="> 0")
        check_real("e_na", self.e_na)
        check_real("e_k", self.e_k)
        check_real("e_l", self.e_l)
        check_real("v_th", self.v_th)


class HHState(NamedTuple):
    """State of Hodgkin-Huxley neurons; every field has shape ``(..., n)``.

    Attributes
    ----------
    v : Tensor
        Membrane potential, mV.
    m, h, n : Tensor
        Gating variables (sodium activation and inactivation, potassium
        activation), in [0, 1].
    """

    v: Tensor
    m: Tensor
    h: Tensor
    n: Tensor


def _rates(ops: Ops, v: Any) -> tuple[Any, Any, Any, Any, Any, Any]:
    # opening (alpha) and closing (beta) rates, 1/ms, of m, h and n at v (mV)
    am = ops.linexp((v + 40.0) / 10.0)  # = 0.1 (v+40) / (1 - exp(-(v+40)/10))
    bm = 4.0 * ops.exp(-(v + 65.0) / 18.0)
    ah = 0.07 * ops.exp(-(v + 65.0) / 20.0)
    bh = 1.0 / (1.0 + ops.exp(-(v + 35.0) / 10.0))
    an = 0.1 * ops.linexp((v + 55.0) / 10.0)  # = 0.01 (v+55) / (1 - exp(-(v+55)/10))
    bn = 0.125 * ops.exp(-(v + 65.0) / 80.0)
    return am, bm, ah, bh, an, bn


def hh_rates(v: float) -> dict[str, float]:
    """Return the opening and closing rates of the gates at a fixed potential.

    ``am = 0.1 (v+40) / (1 - exp(-(v+40)/10))``, ``bm = 4 exp(-(v+65)/18)``,
    ``ah = 0.07 exp(-(v+65)/20)``, ``bh = 1 / (1 + exp(-(v+35)/10))``,
    ``an = 0.01 (v+55) / (1 - exp(-(v+55)/10))``, ``bn = 0.125 exp(-(v+65)/80)``
    (removable singularities filled in by their limits).

    Parameters
    ----------
    v : float
        Membrane potential, mV.

    Returns
    -------
    dict
        ``{"am", "bm", "ah", "bh", "an", "bn"}``, each in 1/ms.

    Examples
    --------
    >>> r = hh_rates(-65.0)
    >>> round(r["am"] / (r["am"] + r["bm"]), 6)  # m at rest
    0.052932
    """
    return dict(
        zip(("am", "bm", "ah", "bh", "an", "bn"), _rates(ScalarOps(), v), strict=True)
    )


def hh_initial_state(like: Tensor, p: HHParams, v: float = -65.0) -> HHState:
    """Neurons at ``v`` with every gate at its steady state there.

    Parameters
    ----------
    like : Tensor, shape (..., n)
        Gives the shape, dtype and device.
    p : HHParams
        Parameters (unused: the rates are fixed; kept for a uniform signature).
    v : float
        Membrane potential, mV.

    Returns
    -------
    HHState
    """
    r = hh_rates(v)
    zeros = torch.zeros_like(like)
    return HHState(
        v=zeros + v,
        m=zeros + r["am"] / (r["am"] + r["bm"]),
        h=zeros + r["ah"] / (r["ah"] + r["bh"]),
        n=zeros + r["an"] / (r["an"] + r["bn"]),
    )


def _derivatives(
    ops: Ops, i: Any, y: Sequence[Any], p: HHParams
) -> tuple[Any, Any, Any, Any]:
    # time derivatives of (v, m, h, n) at y = (v, m, h, n)
    v, m, h, n = y
    am, bm, ah, bh, an, bn = _rates(ops, v)
    g_na = p.g_na * m * m * m * h
    g_k = p.g_k * (n * n) * (n * n)
    i_ion = g_na * (v - p.e_na) + g_k * (v - p.e_k) + p.g_l * (v - p.e_l)
    return (
        (i - i_ion) / p.c_m,
        am * (1.0 - m) - bm * m,
        ah * (1.0 - h) - bh * h,
        an * (1.0 - n) - bn * n,
    )


def _ahead(y: Sequence[Any], dydt: Sequence[Any], h: float) -> list[Any]:
    # an Euler trial point y + h dy/dt
    return [x + h * k for x, k in zip(y, dydt, strict=True)]


def _relax(ops: Ops, x: Any, x_inf: Any, rate: Any, dt: float) -> Any:
    # exact solution of dx/dt = rate (x_inf - x) over dt, rate and x_inf frozen
    return x_inf + (x - x_inf) * ops.exp(-rate * dt)


def _hh_update(
    ops: Ops, i: Any, s: HHState, p: HHParams, dt: float, method: str
) -> tuple[Any, HHState]:
    # the math of hh_step, on tensors or on floats
    v, m, h, n = s
    if method == "rk4":
        k1 = _derivatives(ops, i, s, p)
        k2 = _derivatives(ops, i, _ahead(s, k1, 0.5 * dt), p)
        k3 = _derivatives(ops, i, _ahead(s, k2, 0.5 * dt), p)
        k4 = _derivatives(ops, i, _ahead(s, k3, dt), p)
        new = HHState(
            *(
                x + dt / 6.0 * (a + 2.0 * b + 2.0 * c + d)
                for x, a, b, c, d in zip(s, k1, k2, k3, k4, strict=True)
            )
        )
    else:
        am, bm, ah, bh, an, bn = _rates(ops, v)
        g_na = p.g_na * m * m * m * h
        g_k = p.g_k * (n * n) * (n * n)
        g = g_na + g_k + p.g_l
        v_inf = (g_na * p.e_na + g_k * p.e_k + p.g_l * p.e_l + i) / g
        new = HHState(
            _relax(ops, v, v_inf, g / p.c_m, dt),
            _relax(ops, m, am / (am + bm), am + bm, dt),
            _relax(ops, h, ah / (ah + bh), ah + bh, dt),
            _relax(ops, n, an / (an + bn), an + bn, dt),
        )
    z = ops.spike(new.v - p.v_th) * ops.as_float(v < p.v_th, new.v)
    return z, new


def hh_step(
    i: Tensor,
    state: HHState,
    p: HHParams,
    dt: float,
    *,
    method: str = "rk4",
    surrogate: Surrogate | None = None,
) -> tuple[Tensor, HHState]:
    r"""Advance Hodgkin-Huxley neurons by one time step.

    .. math::

        C \frac{dV}{dt} = I - g_{Na} m^3 h (V - E_{Na}) - g_K n^4 (V - E_K)
                          - g_L (V - E_L), \qquad
        \frac{dx}{dt} = \alpha_x(V) (1 - x) - \beta_x(V) x \quad (x = m, h, n),

    with the rates of :func:`hh_rates` (V in mV, t in ms, I in uA/cm^2, held
    constant over the step).

    * ``method="rk4"``: classical fourth-order Runge-Kutta on ``(V, m, h, n)``;
    * ``method="exponential_euler"``: as Brian2 defines it: each equation is
      linear in its own variable once the others are frozen at the start of the
      step, ``dx/dt = (x_inf - x) / tau_x``, and is integrated exactly over
      ``dt``: ``x' = x_inf + (x - x_inf) exp(-dt / tau_x)``. For the gates
      ``x_inf = alpha / (alpha + beta)`` and ``1/tau = alpha + beta``; for ``V``
      ``1/tau = g / C`` with the total conductance ``g`` and
      ``V_inf = (g_Na m^3 h E_Na + g_K n^4 E_K + g_L E_L + I) / g``.

    There is no reset. A spike is an upward crossing of ``v_th`` during the step:
    ``z = H(V' - v_th)`` (through ``surrogate``) times ``[V < v_th]``. The driver
    :func:`~neurodl.neurons.simulate_neuron` times it by linear interpolation
    (:func:`~neurodl.neurons.spike_times_crossing`).

    Parameters
    ----------
    i : Tensor, shape (..., n)
        Injected current density, uA/cm^2.
    state : HHState
        State at the start of the step.
    p : HHParams
        Parameters.
    dt : float
        Time step, ms (> 0).
    method : {"rk4", "exponential_euler"}
        Integration scheme.
    surrogate : Surrogate, optional
        Spike function; default :data:`~neurodl.neurons.DEFAULT_SURROGATE`.

    Returns
    -------
    z : Tensor, shape (..., n)
        Spikes (1.0 or 0.0) in ``i``'s dtype.
    state : HHState
        State at the end of the step.

    Raises
    ------
    ValidationError
        If ``dt``, ``method`` or ``surrogate`` is not allowed.

    References
    ----------
    Hodgkin & Huxley (1952), J. Physiol. 117:500, doi:10.1113/jphysiol.1952.sp004764.
    Brian2's exponential Euler: Stimberg, Brette & Goodman (2019),
    doi:10.7554/eLife.47314.

    Examples
    --------
    >>> p = HHParams()
    >>> i = torch.tensor([10.0], dtype=torch.float64)
    >>> s = hh_initial_state(i, p)
    >>> for k in range(300):  # 3 ms at dt = 0.01 ms
    ...     z, s = hh_step(i, s, p, 0.01)
    ...     if z.item():
    ...         break
    >>> k  # the first upward crossing of 0 mV is in the step from 1.90 to 1.91 ms
    190
    """
    check_step_args(dt, method, HH_METHODS)
    return _hh_update(torch_ops(surrogate), i, state, p, dt, method)


class HodgkinHuxley(nn.Module):
    """Hodgkin-Huxley neurons. See `hh_step`.

    Parameters
    ----------
    p : HHParams, optional
        Parameters (default: the squid axon).
    dt : float
        Time step, ms.
    method, surrogate
        As in :func:`hh_step`.
    """

    def __init__(
        self,
        p: HHParams | None = None,
        dt: float = 0.01,
        *,
        method: str = "rk4",
        surrogate: Surrogate | None = None,
    ) -> None:
        super().__init__()
        check_step_args(dt, method, HH_METHODS)
        self.p = HHParams() if p is None else p
        self.dt = dt
        self.method = method
        self.surrogate = surrogate

    def initial_state(self, i: Tensor) -> HHState:
        """Neurons at -65 mV, shaped like ``i``. See `hh_initial_state`."""
        return hh_initial_state(i, self.p)

    def forward(
        self, i: Tensor, state: HHState | None = None
    ) -> tuple[Tensor, HHState]:
        """One step from ``state`` (default: at rest). See `hh_step`."""
        state = self.initial_state(i) if state is None else state
        return hh_step(
            i, state, self.p, self.dt, method=self.method, surrogate=self.surrogate
        )

    def extra_repr(self) -> str:
        """Parameters, time step and method, for ``repr``."""
        return f"{self.p}, dt={self.dt}, method={self.method!r}"
