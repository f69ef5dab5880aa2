"""Izhikevich's simple spiking neuron (2003)."""

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
    torch_ops,
)
from neurodl.neurons.surrogate import Surrogate

__all__ = [
    "IZHIKEVICH_METHODS",
    "Izhikevich",
    "IzhikevichParams",
    "IzhikevichState",
    "izhikevich_initial_state",
    "izhikevich_step",
]

IZHIKEVICH_METHODS: tuple[str, ...] = ("euler", "izhikevich2003")
"""Integration schemes of :func:`izhikevich_step`."""


@dataclass(frozen=True)
class IzhikevichParams:
    """Parameters of the Izhikevich neuron; the default is regular spiking (RS).

    ``v`` is in mV and time in ms; ``u`` and the input ``I`` are in the model's own
    units (mV/ms), as in Izhikevich (2003). A field may also be a floating-point
    tensor that broadcasts against the state.

    Attributes
    ----------
    a : float
        Recovery rate of ``u``, 1/ms (> 0).
    b : float
        Sensitivity of ``u`` to ``v``, 1/ms.
    c : float
        Reset potential of ``v``, mV (below ``v_peak``).
    d : float
        Jump of ``u`` at a spike, mV/ms.
    v_peak : float
        Spike cut-off, mV.

    Raises
    ------
    ValidationError
        If a value breaks its rule; the message names the field.
    """

    a: float = 0.02
    b: float = 0.2
    c: float = -65.0
    d: float = 8.0
    v_peak: float = 30.0

    def __post_init__(self) -> None:
        check_real("a", self.a, rule="> 0")
        check_real("b", self.b)
        check_real("c", self.c)
        check_real("d", self.d)
        check_real("v_peak", self.v_peak)
        check_below("c", self.c, "v_peak", self.v_peak)


class IzhikevichState(NamedTuple):
    """State of Izhikevich neurons; every field has shape ``(..., n)``.

    Attributes
    ----------
    v : Tensor
        Membrane potential, mV.
    u : Tensor
        Recovery variable, mV/ms.
    """

    v: Tensor
    u: Tensor


def izhikevich_initial_state(
    like: Tensor, p: IzhikevichParams, v: float = -65.0
) -> IzhikevichState:
    """Neurons at ``v`` with ``u = b v`` (Izhikevich's own start), shaped like ``like``.

    Parameters
    ----------
    like : Tensor, shape (..., n)
        Gives the shape, dtype and device.
    p : IzhikevichParams
        Parameters.
    v : float
        Initial membrane potential, mV.

    Returns
    -------
    IzhikevichState
    """
    v0 = torch.zeros_like(like) + v
    return IzhikevichState(v=v0, u=p.b * v0)


def _dvdt(v: Any, u: Any, i: Any) -> Any:
    return 0.04 * v * v + 5.0 * v + 140.0 - u + i


def _izhikevich_update(
    ops: Ops, i: Any, s: IzhikevichState, p: IzhikevichParams, dt: float, method: str
) -> tuple[Any, IzhikevichState]:
    # the math of izhikevich_step, on tensors or on floats
    if method == "euler":
        v_new = s.v + dt * _dvdt(s.v, s.u, i)
        u_new = s.u + dt * (p.a * (p.b * s.v - s.u))
    else:
        half = 0.5 * dt
        v_half = s.v + half * _dvdt(s.v, s.u, i)
        v_new = v_half + half * _dvdt(v_half, s.u, i)
        u_new = s.u + dt * (p.a * (p.b * v_new - s.u))
    z = ops.spike(v_new - p.v_peak)
    spiked = z > 0
    return z, IzhikevichState(
        ops.where(spiked, p.c, v_new), ops.where(spiked, u_new + p.d, u_new)
    )


def izhikevich_step(
    i: Tensor,
    state: IzhikevichState,
    p: IzhikevichParams,
    dt: float,
    *,
    method: str = "euler",
    surrogate: Surrogate | None = None,
) -> tuple[Tensor, IzhikevichState]:
    r"""Advance Izhikevich neurons by one time step.

    .. math::

        \frac{dv}{dt} = 0.04 v^2 + 5 v + 140 - u + I, \qquad
        \frac{du}{dt} = a (b v - u), \qquad
        v \ge v_{peak} \Rightarrow v \leftarrow c,\ u \leftarrow u + d,

    with ``v`` in mV and ``t`` in ms; ``I`` is held constant over the step.

    * ``method="euler"``: forward Euler on both variables from the old values,
      ``v' = v + dt f(v, u)``, ``u' = u + dt a (b v - u)``, as Brian2's
      ``method='euler'``;
    * ``method="izhikevich2003"``: the scheme of Izhikevich's MATLAB code, two
      half-steps for ``v`` (``v <- v + dt/2 f(v, u)``, twice) and then
      ``u' = u + dt a (b v' - u)`` with the new ``v'``. The paper uses it with
      ``dt = 1`` ms.

    After the update the neuron spikes if ``v' >= v_peak``:
    ``z = H(v' - v_peak)`` through ``surrogate``; a spiking neuron gets
    ``v' = c`` and ``u' = u' + d`` (reset not differentiated through ``z``).
    As in Brian2, a run time-stamps the spike at the start of the step.

    Parameters
    ----------
    i : Tensor, shape (..., n)
        Input ``I`` in the model's units (mV/ms).
    state : IzhikevichState
        State at the start of the step.
    p : IzhikevichParams
        Parameters.
    dt : float
        Time step, ms (> 0).
    method : {"euler", "izhikevich2003"}
        Integration scheme.
    surrogate : Surrogate, optional
        Spike function; default :data:`~neurodl.neurons.DEFAULT_SURROGATE`.

    Returns
    -------
    z : Tensor, shape (..., n)
        Spikes (1.0 or 0.0) in ``i``'s dtype.
    state : IzhikevichState
        State at the end of the step.

    Raises
    ------
    ValidationError
        If ``dt``, ``method`` or ``surrogate`` is not allowed.

    References
    ----------
    Izhikevich (2003), Simple model of spiking neurons, IEEE Trans. Neural Netw.
    14:1569, doi:10.1109/TNN.2003.820440.

    Examples
    --------
    >>> p = IzhikevichParams()
    >>> i = torch.tensor([10.0], dtype=torch.float64)
    >>> s = izhikevich_initial_state(i, p)
    >>> steps = []
    >>> for k in range(100):  # 10 ms at dt = 0.1 ms
    ...     z, s = izhikevich_step(i, s, p, 0.1)
    ...     if z.item():
    ...         steps.append(k)
    >>> [round(k * 0.1, 1) for k in steps]  # first spike time, ms
    [3.3]
    """
    check_step_args(dt, method, IZHIKEVICH_METHODS)
    return _izhikevich_update(torch_ops(surrogate), i, state, p, dt, method)


class Izhikevich(nn.Module):
    """Izhikevich neurons. See `izhikevich_step`.

    Parameters
    ----------
    p : IzhikevichParams, optional
        Parameters (default: regular spiking).
    dt : float
        Time step, ms.
    method, surrogate
        As in :func:`izhikevich_step`.
    """

    def __init__(
        self,
        p: IzhikevichParams | None = None,
        dt: float = 0.1,
        *,
        method: str = "euler",
        surrogate: Surrogate | None = None,
    ) -> None:
        super().__init__()
        check_step_args(dt, method, IZHIKEVICH_METHODS)
        self.p = IzhikevichParams() if p is None else p
        self.dt = dt
        self.method = method
        self.surrogate = surrogate

    def initial_state(self, i: Tensor) -> IzhikevichState:
        """Neurons at -65 mV, shaped like ``i``. See `izhikevich_initial_state`."""
        return izhikevich_initial_state(i, self.p)

    def forward(
        self, i: Tensor, state: IzhikevichState | None = None
    ) -> tuple[Tensor, IzhikevichState]:
        """One step from ``state`` (default: at -65 mV). See `izhikevich_step`."""
        state = self.initial_state(i) if state is None else state
        return izhikevich_step(
            i, state, self.p, self.dt, method=self.method, surrogate=self.surrogate
        )

    def extra_repr(self) -> str:
        """Parameters, time step and method, for ``repr``."""
        return f"{self.p}, dt={self.dt}, method={self.method!r}"
