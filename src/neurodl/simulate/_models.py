r"""Adaptive LIF, Izhikevich and AdEx populations: their step on both engine paths.

A population's neuron model is the type of its parameters: ``LIFParams``,
``ALIFParams``, ``IzhikevichParams`` or ``AdExParams`` (:mod:`neurodl.neurons`;
the same parameters, checks and step math as ``lif_step``, ``alif_step``,
``izhikevich_step`` and ``adex_step``). Each model has one state variable besides
``v`` (``b``, ``u``, ``w``), kept per neuron in ``Network.aux`` (0 for LIF) and
recorded by ``state_monitor(pop, "b" | "u" | "w")``.

How the synaptic variables enter (``I_syn = sum_c x_c + sum_k g_k (e_k - v)``,
in the model's own input units, the units of the neurons' ``i`` / ``I`` and of
``i_ext``):

* LIF and ALIF (mV, i.e. ``R i``)::

      tau_mem dv/dt = (v_rest - v) + i_ext + I_syn
      ALIF: b' = b exp(-dt/tau_adapt) ("exact") or b - dt/tau_adapt b ("euler");
            spike when v' >= v_th + b'; then v' = v_reset, b' += delta_th

  (``r_m`` is not used: inputs are already in mV, as for LIF populations; the
  reset is the neurons' ``reset="zero"``);
  current synapses: ``x`` in mV; conductance: ``g`` relative to the leak.
* Izhikevich (mV/ms)::

      dv/dt = 0.04 v^2 + 5 v + 140 - u + i_ext + I_syn,  du/dt = a (b v - u)

  ``method="euler"`` (default) or ``"izhikevich2003"`` (two half-steps for ``v``,
  ``I_syn`` evaluated at each half-step's ``v``; then ``u`` from the new ``v``);
  current synapses: ``x`` in mV/ms; conductance: ``g`` in 1/ms. No refractory
  period (as the model); spike when ``v' >= v_peak``: ``v' = c``, ``u' += d``.
* AdEx (pA)::

      c_m dv/dt = g_l (e_l - v) + g_l delta_t exp((v - v_t)/delta_t) - w
                  + i_ext + I_syn
      tau_w dw/dt = a (v - e_l) - w

  forward Euler (``method="euler"``); current synapses: ``x`` in pA;
  conductance: ``g`` in nS. ``v`` is held for ``t_ref`` after a spike while ``w``
  evolves; spike when ``v' >= v_peak``: ``v' = v_reset``, ``w' += b``.

Synaptic variables of Izhikevich and AdEx populations decay by forward Euler
(``x' = x (1 - dt/tau)``), as those of LIF populations integrated with Euler.
Refractoriness (LIF, ALIF, AdEx) is the engine's (Brian2's): ``round(t_ref/dt) -
1`` frozen integrations after the spike step.

Gradients (tensor path, ``run(grad=True)``): all four models are differentiable
through the surrogate spike function ``z = H(v' - threshold)``; ALIF's also flows
through the threshold ``v_th + b'`` and through ``b' + delta_th z`` (as
``alif_step``); the resets of ``v``, ``u`` and ``w`` are not differentiated
(``detach_reset=False`` adds the ``v`` reset's term, as for LIF). The compiled
gradient path (``backend="numba", grad=True``) takes LIF populations only.

The compiled kernels (:mod:`neurodl.simulate._models_numba`, loaded with the
compiled engine) and the tensor twin :class:`TorchModels` here use the same order
of floating-point operations, so in float64 both paths give the same spikes.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from neurodl.errors import ValidationError
from neurodl.neurons.adex import AdExParams
from neurodl.neurons.alif import ALIFParams
from neurodl.neurons.izhikevich import IzhikevichParams
from neurodl.neurons.lif import LIFParams

if TYPE_CHECKING:
    from neurodl.simulate.groups import Population
    from neurodl.simulate.network import Network

__all__ = [
    "KIND_ADEX",
    "KIND_ALIF",
    "KIND_IZH",
    "KIND_LIF",
    "ModelParams",
    "TorchModels",
    "check_population",
    "initial_aux",
    "model_kind",
    "model_table",
    "pop_coefficients",
    "rest_potential",
    "state_name",
]

ModelParams = LIFParams | ALIFParams | IzhikevichParams | AdExParams

KIND_LIF, KIND_ALIF, KIND_IZH, KIND_ADEX = 0, 1, 2, 3
_KINDS: tuple[type, ...] = (LIFParams, ALIFParams, IzhikevichParams, AdExParams)
_METHODS: dict[int, tuple[str, ...]] = {
    KIND_LIF: ("auto", "exact", "euler"),
    KIND_ALIF: ("auto", "exact", "euler"),
    KIND_IZH: ("auto", "euler", "izhikevich2003"),
    KIND_ADEX: ("auto", "euler"),
}
_STATE: dict[int, str] = {KIND_ALIF: "b", KIND_IZH: "u", KIND_ADEX: "w"}
N_MF = 13  # columns of the per-population model table


def model_kind(params: Any) -> int:
    """Return the model code of a parameter object (0 LIF, 1 ALIF, 2 Izh, 3 AdEx)."""
    for kind, cls in enumerate(_KINDS):
        if type(params) is cls:
            return kind
    raise ValidationError(
        "'params' must be LIFParams, ALIFParams, IzhikevichParams or AdExParams "
        f"(neurodl.neurons); got {type(params).__name__}."
    )


def state_name(params: Any) -> str | None:
    """Name of the model's second state variable (``None`` for LIF)."""
    return _STATE.get(model_kind(params))


def check_population(params: Any, method: str, adaptation: Any) -> str:
    """Check a population's model options; return its method.

    ``"auto"`` is kept for LIF and ALIF (resolved at build) and becomes
    ``"euler"`` for Izhikevich and AdEx. The parameters' own ranges are checked
    by their dataclasses (``neurodl.neurons``); a network population takes
    plain numbers (one value per population, no tensors).
    """
    kind = model_kind(params)
    name = type(params).__name__
    for field in dataclasses.fields(params):
        value = getattr(params, field.name)
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValidationError(
                f"{field.name!r} of {name} must be a number in a network "
                f"population (one value per population); got {type(value).__name__}"
                ". Per-neuron values: one population per value; learnable: "
                "Population.learn."
            )
    if method not in _METHODS[kind]:
        raise ValidationError(
            f"'method' must be one of {_METHODS[kind]} for a population of "
            f"{name}; got {method!r}."
        )
    if adaptation is not None and kind != KIND_LIF:
        raise ValidationError(
            f"'adaptation' (AdaptiveThreshold) is supported on LIFParams "
            f"populations only; got a population of {name} (ALIFParams has its "
            "own threshold adaptation)."
        )
    if kind in (KIND_IZH, KIND_ADEX) and method == "auto":
        return "euler"
    return method


def rest_potential(params: Any) -> float:
    """Default initial ``v`` (mV): ``v_rest``, -65 (Izhikevich's start) or ``e_l``."""
    kind = model_kind(params)
    if kind == KIND_IZH:
        return -65.0
    if kind == KIND_ADEX:
        return float(params.e_l)
    return float(params.v_rest)


def initial_aux(params: Any, v: np.ndarray) -> np.ndarray:
    """Return the initial second state variable: ``u = b v`` (Izhikevich), else 0."""
    if model_kind(params) == KIND_IZH:
        return params.b * v
    return np.zeros_like(v)


def pop_coefficients(net: Network, pop: Population) -> dict[str, float]:
    """Per-step constants of an Izhikevich or AdEx population in the LIF layout.

    The LIF integration of the shared code runs on these neurons too (its result
    is replaced by the model's); ``v_th`` and ``v_reset`` are the model's cut-off
    and reset, which the threshold and reset of both paths use.
    """
    p = pop.params
    if model_kind(p) == KIND_IZH:
        assert isinstance(p, IzhikevichParams)
        v_th, v_reset, ref = p.v_peak, p.c, 0.0
    else:
        assert isinstance(p, AdExParams)
        v_th, v_reset = p.v_peak, p.v_reset
        ref = float(max(round(p.t_ref / net.dt) - 1, 0))
    return {
        "v_rest": 0.0,
        "v_th": float(v_th),
        "v_reset": float(v_reset),
        "a": 1.0,
        "iext": 0.0,
        "dt_tau": 0.0,
        "ref": ref,
    }


def _row(net: Network, pop: Population) -> list[float]:
    """Return the model table row of a population (see ``step_model``)."""
    p, dt = pop.params, net.dt
    kind = model_kind(p)
    row = [0.0] * N_MF
    if kind == KIND_ALIF:
        assert isinstance(p, ALIFParams)
        exact = pop.method == "exact"
        decay = math.exp(-dt / p.tau_adapt) if exact else dt / p.tau_adapt
        row[:3] = [decay, float(p.delta_th), 1.0 if exact else 0.0]
    elif kind == KIND_IZH:
        assert isinstance(p, IzhikevichParams)
        row[:8] = [p.a, p.b, p.c, p.d, p.v_peak, pop.i_ext, dt, 0.5 * dt]
        row[8] = 1.0 if pop.method == "izhikevich2003" else 0.0
    elif kind == KIND_ADEX:
        assert isinstance(p, AdExParams)
        row[:13] = [
            p.c_m, p.g_l, p.e_l, p.v_t, p.delta_t, p.v_peak, p.v_reset,
            dt / p.tau_w, p.a, p.b, pop.i_ext, dt, p.g_l * p.delta_t,
        ]  # fmt: skip
    return [float(x) for x in row]


def model_table(net: Network, np_dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    """``pop_model`` (P,) model codes and ``pop_mf`` (P, N_MF) their constants."""
    pops = net.populations
    pop_model = np.array([model_kind(p.params) for p in pops], np.int64)
    pop_mf = np.zeros((len(pops), N_MF), np_dtype)
    for p_i, pop in enumerate(pops):
        pop_mf[p_i] = _row(net, pop)
    return pop_model, pop_mf


# ------------------------------------------------------------------ tensor twin
class TorchModels:
    """The tensor path's ALIF, Izhikevich and AdEx updates (same operation order).

    Parameters
    ----------
    net : Network
        A built network with at least one non-LIF population.
    slot_cond : list of list of bool
        ``slot_cond[k][p]``: slot ``k`` of population ``p`` is a conductance
        synapse (the tensor layout's slots,
        :class:`neurodl.simulate._torch_runner._Layout`).
    erev : list of list of float
        Reversal potentials per slot and population.
    """

    def __init__(
        self, net: Network, slot_cond: list[list[bool]], erev: list[list[float]]
    ) -> None:
        dev, dtype = net.device, net.dtype
        n = net.n_lif
        self.k = len(slot_cond)
        self.pops = []
        jump_w = np.zeros(n)
        jump_z = np.zeros(n)
        alif = np.zeros(n, bool)
        for p_i, pop in enumerate(net.populations):
            kind = model_kind(pop.params)
            sl = slice(pop.start, pop.start + pop.n)
            row = _row(net, pop)
            if kind == KIND_ALIF:
                alif[sl] = True
                jump_z[sl] = row[1]
            elif kind == KIND_IZH:
                jump_w[sl] = row[3]
            elif kind == KIND_ADEX:
                jump_w[sl] = row[9]
            cond = [slot_cond[k][p_i] for k in range(self.k)]
            ev = [float(erev[k][p_i]) for k in range(self.k)]
            self.pops.append((kind, sl, row, cond, ev))
        self.alif = torch.as_tensor(alif, device=dev)
        self.any_alif = bool(alif.any())
        self.jump_w = torch.as_tensor(jump_w, dtype=dtype, device=dev)
        self.jump_z = torch.as_tensor(jump_z, dtype=dtype, device=dev)
        self.jump = torch.as_tensor(jump_w + jump_z, dtype=dtype, device=dev)

    def _syn(self, x: Any, v: Tensor, gs: list[Tensor], cond: list[bool],
             ev: list[float]) -> Any:  # fmt: skip
        for k in range(self.k):
            x = x + (gs[k] * (ev[k] - v) if cond[k] else gs[k])
        return x

    def integrate(
        self, v: Tensor, gs: list[Tensor], aux: Tensor, acc: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Replace the LIF integration ``acc`` of Izhikevich/AdEx neurons; new aux.

        ``v``, ``aux``, ``acc``: (batch, n_lif); ``gs``: the slots at the start of
        the step. Returns ``(acc, aux')`` with ``aux'`` before the resets.
        """
        acc_parts, aux_parts = [], []
        for kind, sl, m, cond, ev in self.pops:
            vi, ai = v[:, sl], aux[:, sl]
            g = [x[:, sl] for x in gs]
            if kind == KIND_LIF:
                acc_parts.append(acc[:, sl])
                aux_parts.append(ai)
            elif kind == KIND_ALIF:
                acc_parts.append(acc[:, sl])
                aux_parts.append(ai * m[0] if m[2] else ai - m[0] * ai)
            elif kind == KIND_IZH:
                a, b, dt, half = m[0], m[1], m[6], m[7]
                x = self._syn(m[5], vi, g, cond, ev)
                if m[8]:
                    vh = vi + half * _izh_f_t(vi, ai, x)
                    xh = self._syn(m[5], vh, g, cond, ev)
                    vn = vh + half * _izh_f_t(vh, ai, xh)
                    un = ai + dt * (a * (b * vn - ai))
                else:
                    vn = vi + dt * _izh_f_t(vi, ai, x)
                    un = ai + dt * (a * (b * vi - ai))
                acc_parts.append(vn)
                aux_parts.append(un)
            else:
                c_m, g_l, e_l, v_t, delta_t = m[0], m[1], m[2], m[3], m[4]
                sc = m[12] * torch.exp((vi - v_t) / delta_t)
                x = self._syn(m[10], vi, g, cond, ev)
                dv = (g_l * (e_l - vi) + sc - ai + x) / c_m
                aux_parts.append(ai + m[7] * (m[8] * (vi - e_l) - ai))
                acc_parts.append(vi + m[11] * dv)
        return torch.cat(acc_parts, dim=1), torch.cat(aux_parts, dim=1)

    def threshold(self, v_th: Tensor, aux: Tensor) -> Tensor:
        """``v_th + b'`` on ALIF neurons (``+ 0.0``, exact, elsewhere)."""
        if not self.any_alif:
            return v_th
        return v_th + torch.where(self.alif, aux, torch.zeros_like(aux))

    def reset(self, fired: Tensor, z: Tensor, aux: Tensor, grad: bool) -> Tensor:
        """``u += d``, ``w += b`` at spikes; ALIF's ``b += delta_th z``."""
        if grad:
            return torch.where(fired, aux + self.jump_w, aux) + self.jump_z * z
        return torch.where(fired, aux + self.jump, aux)


def _izh_f_t(v: Tensor, u: Tensor, x: Any) -> Tensor:
    return 0.04 * v * v + 5.0 * v + 140.0 - u + x
