"""e-prop: online eligibility traces and learning signals for recurrent LIF networks.

Bellec, Scherr, Subramoney, Hajek, Salaj, Legenstein & Maass (2020), A solution to
the learning dilemma for recurrent networks of spiking neurons. Nat. Commun.
11:3625, doi:10.1038/s41467-020-17236-y (Methods, "Network models" and
"Eligibility traces"); reference code ``IGITUGraz/eligibility_propagation``
(``EligALIF`` in ``models.py``; the tests repeat its check
``numerical_verification_eprop_hardcoded_vs_autodiff.py``).

The network
-----------
``n_in`` inputs, ``n_rec`` recurrent LIF neurons (the last ``n_adaptive`` of them
adaptive, ALIF), ``n_out`` leaky readouts. Normalised units: the threshold
``v_th`` is 1 by default and weights are in units of it. Time steps ``t = 0 ..
T-1``, all state zero at ``t = -1``; weights act on row vectors (``x W``, as in
:mod:`neurodl.networks.spiking`), ``W_in[i, j]`` is the synapse from ``i`` to
``j``; ``W_rec`` has no self-connections (its diagonal is masked to 0)::

    v[t] = alpha v[t-1] + x[t] W_in + z[t-1] W_rec - v_th z[t-1]   (subtractive reset)
    a[t] = rho a[t-1] + z[t-1]                  (ALIF only; beta_j = 0 for LIF)
    A[t] = v_th + beta a[t]                     (adaptive threshold)
    z[t] = H((v[t] - A[t]) / v_th),   H(0) = 1   (0 while refractory)
    y[t] = kappa y[t-1] + z[t] W_out + b_out    (leaky readout)

with ``alpha = exp(-dt/tau_mem)``, ``rho = exp(-dt/tau_adapt)``, ``kappa =
exp(-dt/tau_out)``. This is the paper's Methods (eqs. for ``v^{t+1}``, ``a^{t+1}``,
``A^t`` and ``y^t``) with the input indexed at the step it arrives; the paper's
``z = H(v - A)`` uses ``H(0) = 0`` in the reference code (``tf.greater``), neurodl
``H(0) = 1`` (the two differ only when ``v`` equals ``A`` exactly). The
reference tutorials' ``LightLIF`` scales the input by ``1 - alpha`` and their
readout by ``1 - kappa``; that is the same model with rescaled weights. The spike's
pseudo-derivative is the paper's::

    psi[t] = (gamma_pd / v_th) max(0, 1 - |(v[t] - A[t]) / v_th|)

Loss and learning signal
------------------------
``E = sum_{t,b} m[t,b] l(y[t,b], y*[t,b]) / sum m`` with ``l = |y - y*|^2 / 2``
(``"mse"``) or the softmax cross-entropy (``"cross_entropy"``, ``y*`` a class
index), ``m`` an optional mask, plus the optional firing-rate regulariser
``E_reg = (c_reg / 2) sum_j (f_j - f*)^2``, ``f_j`` the mean of ``z_j`` over time
and batch (the paper's and the reference code's). The learning signal of neuron
``j`` is the error of the readouts sent back through a feedback matrix
``B`` (shape ``(n_rec, n_out)`` like ``W_out``)::

    L_j[t] = sum_k B[j, k] dE/dy_k[t]        (= sum_k B_jk (y_k - y*_k) m / sum m)

``B = W_out`` (``feedback="symmetric"``) or a fixed random matrix
(``feedback="random"``, ``N(0, 1/n_rec)``, drawn once).

Eligibility traces (forward in time)
------------------------------------
For a synapse ``i -> j`` with presynaptic term ``p_i[t] = x_i[t]`` (input) or
``z_i[t-1]`` (recurrent), the eligibility vector ``eps = (eps_v, eps_a) =
d(v_j[t], a_j[t]) / dW_ij`` along the neuron's own dynamics only::

    eps_v[t] = (alpha - r v_th psi[t-1]) eps_v[t-1]
               + r v_th beta psi[t-1] eps_a[t-1] + p_i[t]
    eps_a[t] = psi[t-1] eps_v[t-1] + (rho - beta psi[t-1]) eps_a[t-1]
    e[t]     = psi[t] (eps_v[t] - beta eps_a[t])            eligibility trace
    ebar[t]  = kappa ebar[t-1] + e[t]                       readout-filtered
    dE/dW_ij += sum_b L_j[t] ebar[t]                        every step, online

``r = 0`` with ``detach_reset=True`` (the reference code's choice: its
``stop_z_gradients`` also stops the spike in the reset) and ``1`` without. For
LIF (``beta_j = 0``, ``r = 0``) this is the paper's ``e_ji[t] = psi_j[t]
zbar_i[t]``, with ``zbar`` the presynaptic term filtered by ``alpha``. The
readout's own gradients are exact and local: ``dE/dW_out += zbar_kappa[t]^T
dE/dy[t]`` and ``dE/db_out`` likewise. The regulariser's gradient is ``c_reg
(f_j - f*) sum_{t,b} e[t] / (T B)``, with the sum accumulated online.

What e-prop is, exactly
-----------------------
Symmetric e-prop equals the gradient that autodiff computes when the error is not
propagated through the recurrent synapses (the spike entering ``z[t-1] W_rec`` is
detached, and the reset too when ``detach_reset``); the neuron's own dynamics,
adaptation included, stay in the gradient (``RecurrentLIF.forward(x,
gradient="eprop")``). With ``W_rec = 0`` it is the full BPTT gradient. The tests
check both to 1e-10 in float64. With recurrence, e-prop is an approximation of
BPTT (``gradient="bptt"``).

Examples
--------
>>> import torch
>>> net = RecurrentLIF(3, 8, 2, n_adaptive=4, seed=0, dtype=torch.float64)
>>> gen = torch.Generator().manual_seed(1)
>>> x = (torch.rand(30, 2, 3, generator=gen) < 0.2).double()
>>> target = torch.zeros(30, 2, 2, dtype=torch.float64)
>>> res = eprop_gradients(net, x, target)
>>> sorted(res.grads)
['W_in', 'W_out', 'W_rec', 'b_out']
>>> res.grads["W_rec"].diagonal().abs().max().item()
0.0
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from neurodl._validate import check_finite, check_int, check_option, check_positive
from neurodl.errors import ShapeError, ValidationError

__all__ = [
    "EPROP_GRADIENTS",
    "EPROP_LOSSES",
    "FEEDBACKS",
    "EpropResult",
    "EpropState",
    "RecurrentLIF",
    "RecurrentOutput",
    "bptt_gradients",
    "eprop_gradients",
    "eprop_initial_state",
    "eprop_step",
    "random_feedback",
]

FEEDBACKS = ("symmetric", "random")
"""How the learning signal is sent back: through ``W_out`` or a fixed random ``B``."""

EPROP_LOSSES = ("mse", "cross_entropy")
"""Losses on the readout, summed over masked time steps and averaged."""

EPROP_GRADIENTS = ("bptt", "eprop")
"""Autodiff modes of :meth:`RecurrentLIF.forward`: BPTT, or e-prop's stop-gradients."""

PARAM_NAMES = ("W_in", "W_rec", "W_out", "b_out")


class _PseudoSpike(torch.autograd.Function):
    """``H(x)`` forward (``H(0) = 1``); ``gamma max(0, 1 - |x|)`` backward."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, gamma: float) -> Tensor:
        ctx.save_for_backward(x)
        ctx.gamma = gamma
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        (x,) = ctx.saved_tensors
        return grad * ctx.gamma * torch.clamp(1.0 - x.abs(), min=0.0), None


def _refractory_next(refr: Tensor, z: Tensor, n_refractory: int) -> Tensor:
    """Return the refractory steps left: ``n_refractory`` after a spike, else 1 less."""
    return torch.where(z > 0, float(n_refractory), (refr - 1.0).clamp(min=0.0))


class RecurrentOutput(NamedTuple):
    """What :meth:`RecurrentLIF.forward` returns; each of shape ``(time, batch, .)``."""

    y: Tensor  # readout, (T, B, n_out)
    z: Tensor  # spikes, (T, B, n_rec)
    v: Tensor  # membrane potentials, (T, B, n_rec)


class RecurrentLIF(nn.Module):
    """A recurrent network of LIF (and ALIF) neurons with a leaky readout.

    The equations are in the module docstring (Bellec et al. 2020, Methods).

    Parameters
    ----------
    n_in, n_rec, n_out : int
        Numbers of inputs, recurrent neurons and readouts (each >= 1).
    n_adaptive : int
        How many of the recurrent neurons (the last ones) are adaptive (ALIF).
    tau_mem, tau_out, tau_adapt : float
        Membrane, readout and adaptation time constants, ms (> 0).
    beta_adapt : float
        Threshold increase per unit of adaptation ``a`` for the ALIF neurons, in
        units of the potential (>= 0); each spike adds 1 to ``a``.
    v_th : float
        Threshold (> 0); 1 in normalised units.
    gamma_pd : float
        Dampening factor of the pseudo-derivative (> 0; the paper's 0.3).
    n_refractory : int
        Steps after a spike in which the neuron cannot spike (>= 0); its
        pseudo-derivative is 0 then. The reference code's ``n_ref`` is
        ``n_refractory + 1``.
    detach_reset : bool
        Leave the reset out of the gradient (the reference code's e-prop does).
    dt : float
        Time step, ms (> 0).
    seed : int or None
        Seed of the initial weights (drawn in float64 on the CPU, then cast):
        ``W_in ~ N(0, 1/n_in)``, ``W_rec ~ N(0, 1/n_rec)`` without its diagonal,
        ``W_out ~ N(0, 1/n_rec)``, ``b_out = 0`` (the reference code's choice).
    dtype : torch.dtype or None
        Floating-point type of the parameters (default float32).
    """

    def __init__(
        self,
        n_in: int,
        n_rec: int,
        n_out: int,
        *,
        n_adaptive: int = 0,
        tau_mem: float = 20.0,
        tau_out: float = 20.0,
        tau_adapt: float = 200.0,
        beta_adapt: float = 0.1,
        v_th: float = 1.0,
        gamma_pd: float = 0.3,
        n_refractory: int = 0,
        detach_reset: bool = True,
        dt: float = 1.0,
        seed: int | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.n_in = check_int("n_in", n_in, minimum=1)
        self.n_rec = check_int("n_rec", n_rec, minimum=1)
        self.n_out = check_int("n_out", n_out, minimum=1)
        self.n_adaptive = check_int("n_adaptive", n_adaptive, minimum=0)
        self.n_refractory = check_int("n_refractory", n_refractory, minimum=0)
        if n_adaptive > n_rec:
            raise ValidationError(
                f"'n_adaptive' must be <= 'n_rec' ({n_rec}); got {n_adaptive!r}."
            )
        for name, value in (
            ("tau_mem", tau_mem),
            ("tau_out", tau_out),
            ("tau_adapt", tau_adapt),
            ("v_th", v_th),
            ("gamma_pd", gamma_pd),
            ("dt", dt),
        ):
            check_positive(name, value)
        check_positive("beta_adapt", beta_adapt, strict=False)
        if not isinstance(detach_reset, bool):
            raise ValidationError(
                f"'detach_reset' must be True or False; got {detach_reset!r}."
            )
        self.tau_mem, self.tau_out, self.tau_adapt = tau_mem, tau_out, tau_adapt
        self.beta_adapt, self.v_th, self.gamma_pd = beta_adapt, v_th, gamma_pd
        self.detach_reset, self.dt = detach_reset, dt
        self.alpha = math.exp(-dt / tau_mem)
        self.kappa = math.exp(-dt / tau_out)
        self.rho = math.exp(-dt / tau_adapt)
        dtype = dtype or torch.get_default_dtype()
        self.W_in = nn.Parameter(torch.empty(n_in, n_rec, dtype=dtype))
        self.W_rec = nn.Parameter(torch.empty(n_rec, n_rec, dtype=dtype))
        self.W_out = nn.Parameter(torch.empty(n_rec, n_out, dtype=dtype))
        self.b_out = nn.Parameter(torch.zeros(n_out, dtype=dtype))
        beta = torch.zeros(n_rec, dtype=dtype)
        beta[n_rec - n_adaptive :] = beta_adapt
        self.beta: Tensor
        self.rec_mask: Tensor
        self.register_buffer("beta", beta)
        self.register_buffer("rec_mask", 1.0 - torch.eye(n_rec, dtype=dtype))
        self.reset_parameters(seed)

    @property
    def adaptive(self) -> bool:
        """Whether any neuron adapts (``n_adaptive > 0`` and ``beta_adapt > 0``)."""
        return self.n_adaptive > 0 and self.beta_adapt > 0

    @torch.no_grad()
    def reset_parameters(self, seed: int | None = None) -> None:
        """Draw the weights again (see the class docstring); ``b_out = 0``."""
        gen = torch.Generator()
        gen.manual_seed(
            int(torch.randint(0, 2**62, (1,)).item()) if seed is None else seed
        )
        f64 = torch.float64
        w_in = torch.randn(self.n_in, self.n_rec, generator=gen, dtype=f64)
        w_rec = torch.randn(self.n_rec, self.n_rec, generator=gen, dtype=f64)
        w_out = torch.randn(self.n_rec, self.n_out, generator=gen, dtype=f64)
        self.W_in.copy_(w_in / math.sqrt(self.n_in))
        self.W_rec.copy_(w_rec.fill_diagonal_(0.0) / math.sqrt(self.n_rec))
        self.W_out.copy_(w_out / math.sqrt(self.n_rec))
        self.b_out.zero_()

    def params(self) -> dict[str, Tensor]:
        """Return the trainable parameters by name (``W_in, W_rec, W_out, b_out``)."""
        return {name: getattr(self, name) for name in PARAM_NAMES}

    def check_input(self, x: Any) -> Tensor:
        """Return ``x`` as a finite ``(time, batch, n_in)`` tensor, the net's dtype."""
        if not isinstance(x, Tensor):
            x = torch.as_tensor(x)
        if x.ndim != 3 or x.shape[2] != self.n_in or x.shape[0] < 1 or x.shape[1] < 1:
            raise ShapeError(
                f"'x' must have shape (time, batch, {self.n_in}) (time, batch, "
                f"inputs) with time, batch >= 1; got {tuple(x.shape)}."
            )
        x = x.to(dtype=self.W_in.dtype, device=self.W_in.device)
        check_finite("x", x)
        return x

    def forward(self, x: Tensor, *, gradient: str = "bptt") -> RecurrentOutput:
        """Run the network under autograd; the gradient mode picks what is stopped.

        Parameters
        ----------
        x : Tensor, shape (time, batch, n_in)
        gradient : {"bptt", "eprop"}
            ``"bptt"``: every path (the reset per ``detach_reset``).
            ``"eprop"``: the spikes entering the recurrent synapses are detached, so
            backward gives e-prop's gradient (symmetric feedback).

        Returns
        -------
        RecurrentOutput
            ``y``, ``z`` and ``v`` over time.
        """
        check_option("gradient", gradient, EPROP_GRADIENTS)
        x = self.check_input(x)
        w_rec = self.W_rec * self.rec_mask
        n_steps, batch = x.shape[:2]
        current = (x.reshape(n_steps * batch, -1) @ self.W_in).view(n_steps, batch, -1)
        v = x.new_zeros(batch, self.n_rec)
        a, z, refr = torch.zeros_like(v), torch.zeros_like(v), torch.zeros_like(v)
        y = x.new_zeros(batch, self.n_out)
        ys, zs, vs = [], [], []
        for t in range(n_steps):
            z_syn = z.detach() if gradient == "eprop" else z
            z_reset = z.detach() if self.detach_reset else z
            v = self.alpha * v + current[t] + z_syn @ w_rec - self.v_th * z_reset
            if self.adaptive:
                a = self.rho * a + z
                scaled = (v - self.v_th - self.beta * a) / self.v_th
            else:
                scaled = (v - self.v_th) / self.v_th
            z = _PseudoSpike.apply(scaled, self.gamma_pd)
            if self.n_refractory:  # no spike, no gradient while refractory
                z = z * (refr <= 0)
                refr = _refractory_next(refr, z.detach(), self.n_refractory)
            y = self.kappa * y + z @ self.W_out + self.b_out
            ys.append(y)
            zs.append(z)
            vs.append(v)
        return RecurrentOutput(torch.stack(ys), torch.stack(zs), torch.stack(vs))

    def extra_repr(self) -> str:
        """Describe the network for ``print(net)``."""
        return (
            f"{self.n_in} -> {self.n_rec} ({self.n_adaptive} adaptive) -> "
            f"{self.n_out}, tau_mem={self.tau_mem}, tau_out={self.tau_out}"
        )


# ------------------------------------------------------------------ losses
class _Target(NamedTuple):
    target: Tensor  # (T, B, n_out) float, or (T, B) int64 class index
    weight: Tensor  # (T, B): mask / sum(mask)
    loss: str


def _check_target(
    net: RecurrentLIF, x: Tensor, target: Any, mask: Any, loss: str
) -> _Target:
    check_option("loss", loss, EPROP_LOSSES)
    n_steps, batch = x.shape[:2]
    if not isinstance(target, Tensor):
        target = torch.as_tensor(target)
    if loss == "mse":
        want = (n_steps, batch, net.n_out)
        if tuple(target.shape) != want:
            raise ShapeError(
                f"'target' must have shape {want} (time, batch, outputs) for "
                f"loss='mse'; got {tuple(target.shape)}."
            )
        target = target.to(dtype=x.dtype, device=x.device)
        check_finite("target", target)
    else:
        if tuple(target.shape) != (n_steps, batch) or target.is_floating_point():
            raise ShapeError(
                f"'target' must be integer class indices of shape {(n_steps, batch)} "
                f"(time, batch) for loss='cross_entropy'; got {target.dtype} of "
                f"shape {tuple(target.shape)}."
            )
        target = target.to(dtype=torch.long, device=x.device)
        if bool(((target < 0) | (target >= net.n_out)).any()):
            raise ValidationError(
                f"'target' class indices must lie in [0, {net.n_out}) (n_out = "
                f"{net.n_out}); got values from {int(target.min())} to "
                f"{int(target.max())}."
            )
    if mask is None:
        m = x.new_ones(n_steps, batch)
    else:
        m = torch.as_tensor(mask).to(dtype=x.dtype, device=x.device)
        if tuple(m.shape) != (n_steps, batch):
            raise ShapeError(
                f"'mask' must have shape {(n_steps, batch)} (time, batch); got "
                f"{tuple(m.shape)}."
            )
        check_finite("mask", m)
        if bool((m < 0).any()) or float(m.sum()) <= 0:
            raise ValidationError(
                "'mask' must be >= 0 with a positive sum; got min "
                f"{float(m.min())!r} and sum {float(m.sum())!r}."
            )
    return _Target(target, m / m.sum(), loss)


def _error(tg: _Target, t: int, y: Tensor) -> tuple[Tensor, Tensor]:
    """Return ``dE/dy[t]`` (B, n_out) and the step's loss term (0-d)."""
    w = tg.weight[t].unsqueeze(1)
    if tg.loss == "mse":
        diff = y - tg.target[t]
        return w * diff, 0.5 * (w * diff * diff).sum()
    logp = torch.log_softmax(y, dim=1)
    onehot = torch.zeros_like(y).scatter_(1, tg.target[t].unsqueeze(1), 1.0)
    return w * (logp.exp() - onehot), -(w * onehot * logp).sum()


def _task_loss(y: Tensor, tg: _Target) -> Tensor:
    """Return the loss of readouts ``y`` (T, B, n_out), under autograd."""
    w = tg.weight.unsqueeze(2)
    if tg.loss == "mse":
        return 0.5 * (w * (y - tg.target) ** 2).sum()
    logp = torch.log_softmax(y, dim=2)
    return -(tg.weight * logp.gather(2, tg.target.unsqueeze(2)).squeeze(2)).sum()


# ------------------------------------------------------------------ e-prop
class EpropState(NamedTuple):
    """Online state of :func:`eprop_step`: the network, its traces and the sums.

    Nothing in it grows with time: every field is a fixed-size tensor. The
    presynaptic axis (``n_pre = n_in + n_rec``) holds the input synapses first,
    then the recurrent ones.
    """

    v: Tensor  # (B, n_rec) membrane potential
    a: Tensor  # (B, n_rec) threshold adaptation
    refr: Tensor  # (B, n_rec) refractory steps left
    z: Tensor  # (B, n_rec) spikes
    psi: Tensor  # (B, n_rec) pseudo-derivative at the last step
    y: Tensor  # (B, n_out) readout
    eps_v: Tensor  # (B, n_pre, 1) shared by all j (LIF, detached reset), else n_rec
    eps_a: Tensor  # (B, n_pre, n_rec), or empty without adaptation
    ebar: Tensor  # (B, n_pre, n_rec) eligibility traces filtered with kappa
    e_sum: Tensor  # (n_pre, n_rec) sum of e over time and batch, or empty
    zbar: Tensor  # (B, n_rec) spikes filtered with kappa (for W_out)
    onebar: Tensor  # () 1 filtered with kappa (for b_out)
    z_sum: Tensor  # (n_rec,) spike counts
    grads: tuple[Tensor, Tensor, Tensor]  # (W_in; W_rec) stacked, W_out, b_out
    loss: Tensor  # () task loss so far


def eprop_initial_state(
    net: RecurrentLIF, batch: int, *, sum_traces: bool = False
) -> EpropState:
    """Return the state before the first step: everything zero.

    ``sum_traces`` keeps the sum of the eligibility traces over time and batch
    (``e_sum``, which the firing-rate regulariser needs); otherwise it stays empty.
    """
    check_int("batch", batch, minimum=1)
    n, n_pre = net.n_rec, net.n_in + net.n_rec
    shared = not net.adaptive and net.detach_reset  # eps_v is the same for all j

    def zeros(*shape: int) -> Tensor:
        return torch.zeros(shape, dtype=net.W_in.dtype, device=net.W_in.device)

    return EpropState(
        v=zeros(batch, n),
        a=zeros(batch, n),
        refr=zeros(batch, n),
        z=zeros(batch, n),
        psi=zeros(batch, n),
        y=zeros(batch, net.n_out),
        eps_v=zeros(batch, n_pre, 1 if shared else n),
        eps_a=zeros(batch, n_pre, n) if net.adaptive else zeros(0),
        ebar=zeros(batch, n_pre, n),
        e_sum=zeros(n_pre, n) if sum_traces else zeros(0),
        zbar=zeros(batch, n),
        onebar=zeros(),
        z_sum=zeros(n),
        grads=(zeros(n_pre, n), zeros(n, net.n_out), zeros(net.n_out)),
        loss=zeros(),
    )


def eprop_step(
    net: RecurrentLIF,
    x_t: Tensor,
    state: EpropState,
    error_fn: Callable[[Tensor], tuple[Tensor, Tensor]],
    feedback: Tensor,
) -> tuple[Tensor, EpropState]:
    """Advance the network and e-prop by one time step, online.

    Parameters
    ----------
    net : RecurrentLIF
    x_t : Tensor, shape (batch, n_in)
        Input at this step.
    state : EpropState
        From :func:`eprop_initial_state` or the previous step.
    error_fn : callable
        ``y_t -> (dE/dy_t, loss term)``: the readout error at this step (shape
        ``(batch, n_out)``) and its share of the loss (0-d).
    feedback : Tensor, shape (n_rec, n_out)
        ``B``: ``net.W_out`` for symmetric e-prop, a fixed matrix for random.

    Returns
    -------
    y_t : Tensor, shape (batch, n_out)
    state : EpropState
        With the gradient sums advanced by ``L[t] ebar[t]``; ``grads[0]`` holds the
        input synapses' rows, then the recurrent ones (diagonal not yet masked).
    """
    alpha, kappa, v_th = net.alpha, net.kappa, net.v_th
    with torch.no_grad():
        # eligibility vectors from t-1 to t (module docstring), with psi[t-1]
        pre = torch.cat((x_t, state.z), dim=1).unsqueeze(2)  # p_i[t]
        psi3 = state.psi.unsqueeze(1)  # (B, 1, n)
        eps_v, eps_a = state.eps_v, state.eps_a
        if net.detach_reset:
            ev = torch.add(pre, eps_v, alpha=alpha)
        else:  # dv[t]/dv[t-1] = alpha - v_th psi[t-1]
            ev = torch.addcmul(pre, alpha - v_th * psi3, eps_v)
        ea = eps_a
        if net.adaptive:
            beta_psi = net.beta * psi3
            ea = torch.addcmul(psi3 * eps_v, net.rho - beta_psi, eps_a)
            if not net.detach_reset:  # dv[t]/da[t-1] = v_th beta psi[t-1]
                ev = torch.addcmul(ev, beta_psi, eps_a, value=v_th)
        # the network
        current = torch.addmm(x_t @ net.W_in, state.z, net.W_rec * net.rec_mask)
        v = torch.add(current.sub_(state.z, alpha=v_th), state.v, alpha=alpha)
        a = torch.add(state.z, state.a, alpha=net.rho) if net.adaptive else state.a
        scaled = (v - v_th - net.beta * a) / v_th if net.adaptive else (v - v_th) / v_th
        z = (scaled >= 0).to(v.dtype)
        psi = scaled.abs().neg_().add_(1.0).clamp_(min=0.0).mul_(net.gamma_pd / v_th)
        refr = state.refr
        if net.n_refractory:  # no spike and psi = 0 while refractory
            free = state.refr <= 0
            z.mul_(free)
            psi.mul_(free)
            refr = _refractory_next(state.refr, z, net.n_refractory)
        y = torch.add(torch.addmm(net.b_out, z, net.W_out), state.y, alpha=kappa)
        # eligibility traces e = psi (eps_v - beta eps_a), filtered with kappa
        psi3 = psi.unsqueeze(1)
        e = psi3 * (ev - net.beta * ea) if net.adaptive else psi3 * ev
        ebar = torch.add(e, state.ebar, alpha=kappa)
        # learning signal L_j[t] = sum_k B_jk dE/dy_k[t], and the sums
        err, loss_t = error_fn(y)
        signal = (err @ feedback.T).unsqueeze(1)
        zbar = torch.add(z, state.zbar, alpha=kappa)
        onebar = state.onebar * kappa + 1.0
        g_syn, g_out, g_b = state.grads
        grads = (
            g_syn + (signal * ebar).sum(0),
            torch.addmm(g_out, zbar.T, err),
            g_b + onebar * err.sum(0),
        )
        e_sum = state.e_sum
        if e_sum.numel():  # only for the rate regulariser
            e_sum = e_sum + e.sum(0)
        new = EpropState(
            v=v,
            a=a,
            refr=refr,
            z=z,
            psi=psi,
            y=y,
            eps_v=ev,
            eps_a=ea,
            ebar=ebar,
            e_sum=e_sum,
            zbar=zbar,
            onebar=onebar,
            z_sum=state.z_sum + z.sum(0),
            grads=grads,
            loss=state.loss + loss_t,
        )
    return y, new


class EpropResult(NamedTuple):
    """Gradients and outputs of one pass over a batch (e-prop or autodiff)."""

    grads: dict[str, Tensor]  # by parameter name
    loss: float  # task loss + regulariser
    task_loss: float  # the readout loss alone
    y: Tensor  # (T, B, n_out) readout
    rate: Tensor  # (n_rec,) mean spikes per step


def random_feedback(net: RecurrentLIF, seed: int = 0) -> Tensor:
    """Return a fixed random feedback ``B ~ N(0, 1/n_rec)`` of shape ``(n_rec, n_out)``.

    The draw is made in float64 from ``seed`` and cast to the network's dtype, as
    the reference code's ``B_random`` (``randn / sqrt(n_rec)``).
    """
    check_int("seed", seed, minimum=0)
    gen = torch.Generator().manual_seed(seed)
    b = torch.randn(net.n_rec, net.n_out, generator=gen, dtype=torch.float64)
    return (b / math.sqrt(net.n_rec)).to(dtype=net.W_out.dtype, device=net.W_out.device)


def _feedback_matrix(
    net: RecurrentLIF, feedback: str | Tensor, seed: int = 0
) -> Tensor:
    if isinstance(feedback, Tensor):
        if tuple(feedback.shape) != (net.n_rec, net.n_out):
            raise ShapeError(
                f"'feedback' as a matrix must have shape {(net.n_rec, net.n_out)} "
                f"(n_rec, n_out), like W_out; got {tuple(feedback.shape)}."
            )
        return feedback.detach().to(dtype=net.W_out.dtype, device=net.W_out.device)
    check_option("feedback", feedback, FEEDBACKS)
    return net.W_out.detach() if feedback == "symmetric" else random_feedback(net, seed)


def _check_reg(rate_reg: float, rate_target: float) -> None:
    check_positive("rate_reg", rate_reg, strict=False)
    check_positive("rate_target", rate_target, strict=False)


def eprop_gradients(
    net: RecurrentLIF,
    x: Tensor,
    target: Tensor,
    *,
    loss: str = "mse",
    mask: Tensor | None = None,
    feedback: str | Tensor = "symmetric",
    rate_reg: float = 0.0,
    rate_target: float = 0.01,
) -> EpropResult:
    """Run the network over ``x`` and return e-prop's gradient estimate, online.

    Steps :func:`eprop_step` through time: the traces and the gradient sums are
    updated every step and no history is kept (the state's size is independent of
    ``T``; only the readout ``y`` is collected, to return it).

    Parameters
    ----------
    net : RecurrentLIF
    x : Tensor, shape (time, batch, n_in)
    target : Tensor
        ``(time, batch, n_out)`` for ``loss="mse"``; integer class indices of shape
        ``(time, batch)`` for ``"cross_entropy"``.
    loss : {"mse", "cross_entropy"}
    mask : Tensor of shape (time, batch), or None
        Weight of each step in the loss (e.g. only the decision period); None: all 1.
    feedback : {"symmetric", "random"} or Tensor
        ``B = W_out``, ``random_feedback(net, 0)``, or a ``(n_rec, n_out)`` matrix.
    rate_reg, rate_target : float
        Coefficient ``c_reg`` (>= 0) and target ``f*`` (spikes per step) of the
        firing-rate regulariser.

    Returns
    -------
    EpropResult
    """
    x = net.check_input(x)
    tg = _check_target(net, x, target, mask, loss)
    fb = _feedback_matrix(net, feedback)
    _check_reg(rate_reg, rate_target)
    n_steps, batch = x.shape[:2]
    state = eprop_initial_state(net, batch, sum_traces=rate_reg > 0)
    ys = []
    for t in range(n_steps):
        y, state = eprop_step(net, x[t], state, functools.partial(_error, tg, t), fb)
        ys.append(y)
    g_syn, g_out, g_b = state.grads
    rate = state.z_sum / (n_steps * batch)
    task = float(state.loss)
    total = task
    if rate_reg > 0:  # d/dW (c/2) sum_j (f_j - f*)^2 = c (f_j - f*) sum e / (T B)
        coef = rate_reg * (rate - rate_target) / (n_steps * batch)
        g_syn = g_syn + state.e_sum * coef
        total += 0.5 * rate_reg * float(((rate - rate_target) ** 2).sum())
    g_in, g_rec = g_syn[: net.n_in], g_syn[net.n_in :]
    grads = dict(
        zip(PARAM_NAMES, (g_in, g_rec * net.rec_mask, g_out, g_b), strict=True)
    )
    return EpropResult(grads, total, task, torch.stack(ys), rate)


def bptt_gradients(
    net: RecurrentLIF,
    x: Tensor,
    target: Tensor,
    *,
    loss: str = "mse",
    mask: Tensor | None = None,
    gradient: str = "bptt",
    rate_reg: float = 0.0,
    rate_target: float = 0.01,
) -> EpropResult:
    """Return the same loss's gradients by autodiff: BPTT, or e-prop's stop-gradients.

    ``gradient="eprop"`` detaches the spikes entering ``W_rec``
    (:meth:`RecurrentLIF.forward`), which gives symmetric e-prop's gradient: the
    reference for :func:`eprop_gradients`. Parameters as there.
    """
    x = net.check_input(x)
    tg = _check_target(net, x, target, mask, loss)
    _check_reg(rate_reg, rate_target)
    params = list(net.params().values())
    with torch.enable_grad():
        out = net(x, gradient=gradient)
        task = _task_loss(out.y, tg)
        rate = out.z.mean(dim=(0, 1))
        total = task + 0.5 * rate_reg * ((rate - rate_target) ** 2).sum()
        grads = torch.autograd.grad(total, params)
    return EpropResult(
        dict(zip(PARAM_NAMES, grads, strict=True)),
        float(total.detach()),
        float(task.detach()),
        out.y.detach(),
        rate.detach(),
    )
