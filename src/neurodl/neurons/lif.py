"""Leaky integrate-and-fire neuron: parameters, state, one pure step, a module."""

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
    "LIF",
    "LIF_METHODS",
    "LIFParams",
    "LIFState",
    "lif_initial_state",
    "lif_step",
]

LIF_METHODS: tuple[str, ...] = ("exact", "euler")
"""Integration schemes of :func:`lif_step`."""


@dataclass(frozen=True)
class LIFParams:
    """Parameters of the leaky integrate-and-fire neuron.

    A field may also be a floating-point tensor that broadcasts against the state
    (per-neuron values, or a learnable parameter), in the input's dtype and device.

    Attributes
    ----------
    tau_mem : float
        Membrane time constant ``tau``, ms (> 0).
    v_rest : float
        Resting (leak reversal) potential ``E_L``, mV.
    v_th : float
        Firing threshold, mV.
    v_reset : float
        Reset potential, mV (below ``v_th``).
    t_ref : float
        Absolute refractory period, ms (>= 0).
    r_m : float
        Membrane resistance, MOhm (> 0), so that ``r_m * i`` is in mV for ``i`` in nA.

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

    def __post_init__(self) -> None:
        check_real("tau_mem", self.tau_mem, rule="> 0")
        check_real("v_rest", self.v_rest)
        check_real("v_th", self.v_th)
        check_real("v_reset", self.v_reset)
        check_real("t_ref", self.t_ref, rule=">= 0")
        check_real("r_m", self.r_m, rule="> 0")
        check_below("v_reset", self.v_reset, "v_th", self.v_th)


class LIFState(NamedTuple):
    """State of leaky integrate-and-fire neurons; every field has shape ``(..., n)``.

    Attributes
    ----------
    v : Tensor
        Membrane potential, mV.
    refrac : Tensor
        Refractory time left, ms (0 when the neuron may integrate).
    """

    v: Tensor
    refrac: Tensor


def lif_initial_state(like: Tensor, p: LIFParams) -> LIFState:
    """Neurons at rest (``v = v_rest``, not refractory), shaped like ``like``.

    Parameters
    ----------
    like : Tensor, shape (..., n)
        Gives the shape, dtype and device (for example the input current).
    p : LIFParams
        Parameters.

    Returns
    -------
    LIFState
    """
    return LIFState(v=torch.zeros_like(like) + p.v_rest, refrac=torch.zeros_like(like))


def _lif_update(
    ops: Ops, i: Any, s: LIFState, p: LIFParams, dt: float, method: str, reset: str
) -> tuple[Any, LIFState]:
    # the math of lif_step, on tensors or on floats (see neurodl.neurons._common)
    v_inf = p.v_rest + p.r_m * i
    if method == "exact":
        v_new = v_inf + (s.v - v_inf) * ops.exp(-dt / p.tau_mem)
    else:
        v_new = s.v + dt / p.tau_mem * (v_inf - s.v)
    free = refractory_free(s.refrac, dt)
    v_new = ops.where(free, v_new, s.v)
    z = ops.spike(v_new - p.v_th) * ops.as_float(free, v_new)
    spiked = z > 0
    v_out = ops.where(spiked, reset_value(reset, v_new, p.v_th, p.v_reset), v_new)
    return z, LIFState(v_out, refractory_next(ops, spiked, s.refrac, p.t_ref, dt))


def lif_step(
    i: Tensor,
    state: LIFState,
    p: LIFParams,
    dt: float,
    *,
    method: str = "exact",
    reset: str = "zero",
    surrogate: Surrogate | None = None,
) -> tuple[Tensor, LIFState]:
    r"""Advance leaky integrate-and-fire neurons by one time step.

    Below threshold the membrane potential follows

    .. math:: \tau \frac{dv}{dt} = E_L - v + R i,

    with ``E_L = p.v_rest``, ``tau = p.tau_mem`` and ``R = p.r_m``. The input
    current is held constant over the step, so ``v_inf = E_L + R i`` and

    * ``method="exact"``: ``v' = v_inf + (v - v_inf) exp(-dt / tau)`` (exact
      integration of the linear ODE; Rotter & Diesmann 1999,
      doi:10.1007/s004220050570);
    * ``method="euler"``: ``v' = v + dt / tau (v_inf - v)`` (forward Euler).

    After the update the neuron spikes if ``v' >= v_th``: ``z = H(v' - v_th)``,
    computed with ``surrogate`` so that ``z`` is differentiable by BPTT. A spiking
    neuron is reset:

    * ``reset="zero"``: ``v' = v_reset``;
    * ``reset="subtract"``: ``v' = v' - (v_th - v_reset)``;
    * ``reset="none"``: ``v'`` is kept.

    The reset is not differentiated through ``z`` (a "detached" reset; Zenke &
    Vogels 2021, doi:10.1162/neco_a_01367).

    Refractoriness follows Brian2's ``(unless refractory)`` (Stimberg et al. 2019,
    doi:10.7554/eLife.47314): a spike is time-stamped at the start of the step that
    crossed the threshold, and every later step that starts less than ``t_ref``
    after that stamp leaves ``v`` unchanged (so ``v`` stays at ``v_reset`` after a
    ``"zero"`` reset) and cannot spike. ``state.refrac`` holds the refractory time
    left; a step is skipped when it is at least ``dt`` (up to 1e-3 dt of rounding).

    Parameters
    ----------
    i : Tensor, shape (..., n)
        Input current, nA (so ``R i`` is in mV); float32 or float64, any device.
    state : LIFState
        State at the start of the step, fields of shape (..., n).
    p : LIFParams
        Parameters.
    dt : float
        Time step, ms (> 0).
    method : {"exact", "euler"}
        Integration scheme.
    reset : {"zero", "subtract", "none"}
        What a spike does to ``v``.
    surrogate : Surrogate, optional
        Spike function; default :data:`~neurodl.neurons.DEFAULT_SURROGATE`
        (fast sigmoid, slope 1/mV).

    Returns
    -------
    z : Tensor, shape (..., n)
        Spikes (1.0 or 0.0) in ``i``'s dtype.
    state : LIFState
        State at the end of the step.

    Raises
    ------
    ValidationError
        If ``dt``, ``method``, ``reset`` or ``surrogate`` is not allowed.

    References
    ----------
    Gerstner, Kistler, Naud & Paninski (2014), Neuronal Dynamics, ch. 1.3,
    doi:10.1017/CBO9781107447615.

    Examples
    --------
    >>> p = LIFParams()
    >>> i = torch.tensor([25.0, 10.0], dtype=torch.float64)  # nA: R i = 25, 10 mV
    >>> s = lif_initial_state(i, p)
    >>> for _ in range(200):  # 20 ms at dt = 0.1 ms
    ...     z, s = lif_step(i, s, p, 0.1)
    ...     if z[0] == 1:
    ...         break
    >>> z.tolist(), s.v.round(decimals=2).tolist(), s.refrac.round(decimals=6).tolist()
    ([1.0, 0.0], [-70.0, -62.0], [1.9, 0.0])
    """
    check_step_args(dt, method, LIF_METHODS, reset)
    return _lif_update(torch_ops(surrogate), i, state, p, dt, method, reset)


class LIF(nn.Module):
    """Leaky integrate-and-fire neurons. See `lif_step`.

    Parameters
    ----------
    p : LIFParams, optional
        Parameters (default ``LIFParams()``).
    dt : float
        Time step, ms.
    method, reset, surrogate
        As in :func:`lif_step`.
    """

    def __init__(
        self,
        p: LIFParams | None = None,
        dt: float = 0.1,
        *,
        method: str = "exact",
        reset: str = "zero",
        surrogate: Surrogate | None = None,
    ) -> None:
        super().__init__()
        check_step_args(dt, method, LIF_METHODS, reset)
        self.p = LIFParams() if p is None else p
        self.dt = dt
        self.method = method
        self.reset = reset
        self.surrogate = surrogate

    def initial_state(self, i: Tensor) -> LIFState:
        """Neurons at rest, shaped like ``i``. See `lif_initial_state`."""
        return lif_initial_state(i, self.p)

    def forward(
        self, i: Tensor, state: LIFState | None = None
    ) -> tuple[Tensor, LIFState]:
        """One step from ``state`` (default: at rest). See `lif_step`."""
        state = self.initial_state(i) if state is None else state
        return lif_step(
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
