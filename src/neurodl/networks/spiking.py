"""Feed-forward spiking networks of LIF layers, trained by backprop through time.

Every layer ``l`` projects its input for all time steps at once and then runs a
leaky integrate-and-fire (LIF) recurrence over time. In normalised units (the
threshold ``theta`` is 1 by default, currents and potentials are in units of it),
for time steps ``t = 0 .. T-1`` and with ``v[-1] = z[-1] = 0``::

    I[t] = x[t] W + b                              input current, all t at once
    i[t] = alpha i[t-1] + I[t]                     synaptic filter (only with tau_syn)
    v[t] = beta v[t-1] + i[t] - theta z[t-1]       reset="subtract"
    v[t] = beta (1 - z[t-1]) v[t-1] + i[t]         reset="zero"
    z[t] = H(v[t] - theta)                         spike, H(0) = 1

with ``beta = exp(-dt / tau_mem)`` and ``alpha = exp(-dt / tau_syn)`` (without
``tau_syn``, ``i = I``). This is snnTorch's ``Leaky(beta, threshold,
reset_mechanism=...)`` with its default ``reset_delay=True`` (and, with
``tau_syn``, its ``Synaptic(alpha, beta)`` for ``reset="subtract"``): the reset
caused by a spike at ``t - 1`` is applied at ``t``, and ``v[t]`` is the potential
that is compared with the threshold. snnTorch computes the reset from a detached
copy of the spike, so by default (``detach_reset=True``) no gradient flows through
the reset, as there. Two differences remain: snnTorch's spike is
``H(v - theta)`` with ``H(0) = 0`` (neurodl: ``H(0) = 1``, see
:mod:`neurodl.neurons.surrogate`; the two differ only when ``v`` equals ``theta``
exactly), and snnTorch's ``Synaptic`` with ``reset_mechanism="zero"`` also zeroes
the new synaptic input in the reset step, which here it does not.

With ``output="membrane"`` the last layer is a non-spiking leaky integrator
(snnTorch's ``Leaky(beta, reset_mechanism="none")``): ``v[t] = beta v[t-1] + i[t]``
and the network returns ``v``.

Back-propagation through time
-----------------------------
The recurrence of each layer runs inside one :class:`torch.autograd.Function` whose
backward is the adjoint recurrence written out. With ``delta[t] = dL/dv[t]`` (the
total derivative, through everything after ``t``), ``g_z[t] = dL/dz[t]`` and
``g_v[t] = dL/dv[t]`` the gradients arriving from above (from the next layer's
projection or from the loss), ``s[t] = sigma'(v[t] - theta)`` the surrogate
derivative and ``r = 0`` with ``detach_reset`` (``1`` without), for
``t = T-1 .. 0`` and ``delta[T] = 0``::

    delta[t] = g_z[t] s[t] + c[t] delta[t+1] (+ g_v[t] for the membrane readout)

    c[t] = dv[t+1]/dv[t] = beta - r theta s[t]                      reset="subtract"
    c[t] = dv[t+1]/dv[t] = beta (1 - z[t]) - r beta v[t] s[t]       reset="zero"
    c[t] = beta                                                     readout

then the synaptic filter backwards, ``eps[t] = delta[t] + alpha eps[t+1]``
(``eps = delta`` without it), and::

    dL/dI[t]   = eps[t]
    dL/dbeta   = sum over t, batch of delta[t] u[t-1]       (learn_beta)
                 u = v (subtract, readout) or (1 - z) v (zero)
    dL/dW      = x^T dL/dI,  dL/db = sum over t, batch of dL/dI,
    dL/dx[t]   = dL/dI[t] W^T                       (one matrix product each)

``s[t]``, ``g_z s`` and ``c`` are computed for all time steps at once; the loop over
time is then one fused multiply-add per step, in place. The forward loop is three
in-place operations per step on preallocated tensors. :func:`lif_sequence` with
``engine="reference"`` computes the same equations as a plain loop under
autograd (with :class:`~neurodl.neurons.surrogate.Surrogate`); the tests check
that both give the same spikes and gradients.

Event-driven input
------------------
Spiking input is mostly zeros. On the CPU, a layer of at least 64 neurons whose
input is at most 10 % nonzero computes ``I = x W + b`` event by event (each input
spike adds one row of ``W``) and ``dL/dW = x^T dL/dI`` likewise (each spike adds
one row of ``dL/dI``), in small numba kernels: the work scales with the number of
spikes instead of ``T * batch * n_in``. See ``projection`` in
:class:`SpikingFeedForward`.

References
----------
Neftci, Mostafa & Zenke (2019), Surrogate gradient learning in spiking neural
networks. IEEE Signal Processing Magazine. doi:10.1109/MSP.2019.2931595

Eshraghian et al. (2023), Training spiking neural networks using lessons from deep
learning. Proc. IEEE. doi:10.1109/JPROC.2023.3308088 (snnTorch)

Examples
--------
>>> import torch
>>> net = SpikingFeedForward((4, 8, 2), tau_mem=10.0, seed=0, dtype=torch.float64)
>>> x = (torch.rand(20, 3, 4, generator=torch.Generator().manual_seed(0)) < 0.3)
>>> z = net(x.double())
>>> z.shape
torch.Size([20, 3, 2])
>>> z.sum().backward()
>>> net.layers[0].W.grad.shape
torch.Size([4, 8])
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from neurodl._validate import check_finite, check_option, check_positive, check_sizes
from neurodl.errors import ShapeError, ValidationError
from neurodl.neurons.surrogate import Surrogate, get_surrogate

__all__ = [
    "ENGINES",
    "OUTPUTS",
    "PROJECTIONS",
    "RESETS",
    "LIFLayer",
    "SpikingFeedForward",
    "lif_sequence",
]

RESETS = ("subtract", "zero")
"""Reset mechanisms after a spike: subtract the threshold, or set ``v`` to 0."""

OUTPUTS = ("spikes", "membrane")
"""What the network returns: the last layer's spikes, or a non-spiking readout."""

PROJECTIONS = ("auto", "dense", "events")
"""How a layer computes ``x W + b``: see :func:`_project`."""

ENGINES = ("fused", "reference")
"""``fused``: hand-written BPTT (:class:`_LIFFunction`); ``reference``: autograd."""


# ---------------------------------------------------------------------- fused
class _LIFFunction(torch.autograd.Function):
    """The LIF recurrence of one layer over all time steps, with its adjoint.

    See the module docstring for the equations and the delta rule. ``beta`` is a
    tensor (learnable, per neuron) or None, in which case the float ``beta_value``
    is used.
    """

    @staticmethod
    def forward(
        ctx: Any,
        current: Tensor,
        beta: Tensor | None,
        beta_value: float,
        alpha: float | None,
        threshold: float,
        reset: str,
        detach_reset: bool,
        surrogate: Surrogate,
        spiking: bool,
    ) -> Tensor:
        n_steps = current.shape[0]
        v = current.clone(memory_format=torch.contiguous_format)  # becomes v[t]
        if alpha is not None:  # synaptic filter: i[t] = alpha i[t-1] + I[t]
            for t in range(1, n_steps):
                v[t].add_(v[t - 1], alpha=alpha)
        z = torch.empty_like(v) if spiking else v.new_empty(0)
        subtract = reset == "subtract"
        for t in range(n_steps):
            vt = v[t]
            if t > 0:
                prev = v[t - 1]
                if spiking and not subtract:  # v[t] = beta (1 - z[t-1]) v[t-1] + i[t]
                    if beta is None:
                        vt.add_(prev, alpha=beta_value)
                        vt.addcmul_(z[t - 1], prev, value=-beta_value)
                    else:
                        vt.addcmul_(prev * (1.0 - z[t - 1]), beta)
                else:  # v[t] = beta v[t-1] + i[t] (- theta z[t-1])
                    if beta is None:
                        vt.add_(prev, alpha=beta_value)
                    else:
                        vt.addcmul_(prev, beta)
                    if spiking:
                        vt.sub_(z[t - 1], alpha=threshold)
            if spiking:  # z[t] = H(v[t] - theta), written as 0.0 / 1.0
                torch.ge(vt, threshold, out=z[t])
        ctx.save_for_backward(v, z, beta)
        ctx.beta_value = beta_value
        ctx.alpha = alpha
        ctx.threshold = threshold
        ctx.subtract = subtract
        ctx.detach_reset = detach_reset
        ctx.surrogate = surrogate
        ctx.spiking = spiking
        return z if spiking else v

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        v, z, beta = ctx.saved_tensors
        b: Tensor | float = ctx.beta_value if beta is None else beta
        n_steps = v.shape[0]
        # delta starts as the direct term (g_z s, or g_v for the readout); c[t] is
        # dv[t+1]/dv[t] where it is not the constant beta
        c: Tensor | None = None
        if ctx.spiking:
            s = ctx.surrogate.derivative(v - ctx.threshold)
            delta = grad * s
            if ctx.subtract:
                if not ctx.detach_reset:
                    c = b - ctx.threshold * s  # beta - theta s[t]
            elif ctx.detach_reset:
                c = (1.0 - z) * b  # beta (1 - z[t])
            else:
                c = (1.0 - z - v * s) * b  # beta (1 - z[t] - v[t] s[t])
        else:
            delta = grad.clone(memory_format=torch.contiguous_format)
        # reverse recurrence: delta[t] += c[t] delta[t+1], one op per step, in place
        for t in range(n_steps - 2, -1, -1):
            if c is not None:
                delta[t].addcmul_(c[t], delta[t + 1])
            elif beta is None:
                delta[t].add_(delta[t + 1], alpha=ctx.beta_value)
            else:
                delta[t].addcmul_(delta[t + 1], beta)
        grad_beta = None
        if beta is not None and ctx.needs_input_grad[1]:
            # dv[t]/dbeta = u[t-1] = v[t-1], or (1 - z[t-1]) v[t-1] for reset "zero"
            u = v[:-1]
            if ctx.spiking and not ctx.subtract:
                u = u * (1.0 - z[:-1])
            grad_beta = (delta[1:] * u).sum(dim=(0, 1)).sum_to_size(beta.shape)
        if ctx.alpha is not None:  # synaptic filter: eps[t] = delta[t] + alpha eps[t+1]
            for t in range(n_steps - 2, -1, -1):
                delta[t].add_(delta[t + 1], alpha=ctx.alpha)
        return delta, grad_beta, None, None, None, None, None, None, None


# ------------------------------------------------------------------ reference
def _reference(
    current: Tensor,
    beta: Tensor | float,
    alpha: float | None,
    threshold: float,
    reset: str,
    detach_reset: bool,
    surrogate: Surrogate,
    spiking: bool,
) -> Tensor:
    """Run the recurrence of :class:`_LIFFunction` as a plain autograd loop."""
    v = torch.zeros_like(current[0])
    z = torch.zeros_like(v)
    i = torch.zeros_like(v)
    out = []
    for t in range(current.shape[0]):
        x = current[t]
        if alpha is not None:
            i = alpha * i + x
            x = i
        if not spiking:
            v = beta * v + x
            out.append(v)
            continue
        r = z.detach() if detach_reset else z
        if reset == "subtract":
            v = beta * v + x - threshold * r
        else:
            v = beta * (1.0 - r) * v + x
        z = surrogate(v - threshold)
        out.append(z)
    return torch.stack(out)


# ----------------------------------------------------------------- functional
def lif_sequence(
    current: Tensor,
    beta: float | Tensor,
    *,
    alpha: float | None = None,
    threshold: float = 1.0,
    reset: str = "subtract",
    detach_reset: bool = True,
    surrogate: str | Surrogate = "fast_sigmoid",
    spiking: bool = True,
    engine: str = "fused",
) -> Tensor:
    """Run the LIF recurrence over time on a given input current.

    See the module docstring for the equations and their backward pass.

    Parameters
    ----------
    current : Tensor, shape (time, batch, n)
        Input current ``I[t]``, in units of the threshold.
    beta : float or Tensor
        Membrane decay per step, ``exp(-dt / tau_mem)``, in [0, 1]; a tensor of
        shape ``()`` or ``(n,)`` receives a gradient.
    alpha : float or None
        Synaptic decay per step, ``exp(-dt / tau_syn)``; None: no synaptic filter.
    threshold : float
        Firing threshold ``theta`` (> 0).
    reset : {"subtract", "zero"}
        What a spike does to the potential at the next step.
    detach_reset : bool
        Whether the reset is left out of the gradient (snnTorch's behaviour).
    surrogate : str or Surrogate
        Pseudo-derivative of the spike; a name takes its default slope.
    spiking : bool
        False: a non-spiking leaky integrator (no threshold, no reset), returning
        ``v``.
    engine : {"fused", "reference"}
        ``"fused"``: the hand-written forward and backward loops; ``"reference"``:
        a plain loop differentiated by autograd (slow; for checking).

    Returns
    -------
    Tensor, shape (time, batch, n)
        Spikes ``z`` (0.0 or 1.0), or the potential ``v`` when ``spiking=False``.
    """
    if not isinstance(current, Tensor) or current.ndim != 3:
        shape = tuple(current.shape) if isinstance(current, Tensor) else current
        raise ShapeError(
            f"'current' must be a 3-D tensor with axes (time, batch, n); got {shape!r}."
        )
    if current.shape[0] < 1:
        raise ShapeError(
            "'current' needs at least one time step; got shape "
            f"{tuple(current.shape)} (time, batch, n)."
        )
    check_option("reset", reset, RESETS)
    check_option("engine", engine, ENGINES)
    check_positive("threshold", threshold)
    spike = get_surrogate(surrogate)
    if not isinstance(beta, Tensor) and not 0.0 <= beta <= 1.0:
        raise ValidationError(f"'beta' must be in [0, 1]; got {beta!r}.")
    if alpha is not None and not 0.0 <= alpha <= 1.0:
        raise ValidationError(f"'alpha' must be in [0, 1] or None; got {alpha!r}.")
    if engine == "reference":
        return _reference(
            current, beta, alpha, threshold, reset, detach_reset, spike, spiking
        )
    beta_t, beta_f = (beta, 0.0) if isinstance(beta, Tensor) else (None, float(beta))
    out: Tensor = _LIFFunction.apply(
        current,
        beta_t,
        beta_f,
        None if alpha is None else float(alpha),
        float(threshold),
        reset,
        bool(detach_reset),
        spike,
        spiking,
    )
    return out


# ------------------------------------------------------- event-driven input
def _scan_kernel(x: Any, rowptr: Any, cols: Any, vals: Any) -> int:
    """Write the nonzeros of ``x`` (rows x columns) as CSR; -1 if they do not fit."""
    n_rows, n_cols = x.shape
    cap = cols.shape[0]
    nnz = 0
    for r in range(n_rows):
        rowptr[r] = nnz
        for c in range(n_cols):
            xv = x[r, c]
            if xv != 0:
                if nnz == cap:
                    return -1
                cols[nnz] = c
                vals[nnz] = xv
                nnz += 1
    rowptr[n_rows] = nnz
    return nnz


def _spmm_kernel(rowptr: Any, cols: Any, vals: Any, w: Any, b: Any, out: Any) -> None:
    """``out = x w + b`` with ``x`` in CSR: one row of ``w`` per input event."""
    n_rows, n_out = out.shape
    for r in range(n_rows):
        for j in range(n_out):
            out[r, j] = b[j]
        for k in range(rowptr[r], rowptr[r + 1]):
            c = cols[k]
            v = vals[k]
            for j in range(n_out):
                out[r, j] += v * w[c, j]


def _spmm_t_kernel(rowptr: Any, cols: Any, vals: Any, g: Any, dw: Any) -> None:
    """``dw = x^T g`` with ``x`` in CSR: each event adds its row of ``g``."""
    n_rows, n_out = g.shape
    dw[:] = 0
    for r in range(n_rows):
        for k in range(rowptr[r], rowptr[r + 1]):
            c = cols[k]
            v = vals[k]
            for j in range(n_out):
                dw[c, j] += v * g[r, j]


@functools.cache
def _event_kernels() -> tuple[Any, Any, Any] | None:
    """Return the numba-compiled kernels (compiled on first use), or None."""
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a dependency
        return None
    jit = numba.njit(nogil=True, cache=False)
    return jit(_scan_kernel), jit(_spmm_kernel), jit(_spmm_t_kernel)


EVENT_MIN_OUTPUTS = 64
"""``projection="auto"`` runs event-driven only for layers this wide or wider."""

EVENT_MAX_DENSITY = 0.1
"""... and only while at most this fraction of the input entries is nonzero."""


class _EventProjection(torch.autograd.Function):
    """``I = x W + b`` for a sparse ``x`` (spikes): work per event, not per entry.

    ``x`` arrives as compressed rows ``(rowptr, cols, vals)``. Forward: each event
    ``x[r, c]`` adds ``x[r, c] W[c]`` to row ``r`` of ``I``. Backward:
    ``dL/dW = x^T dL/dI`` (each event adds ``x[r, c] dL/dI[r]`` to row ``c``),
    ``dL/db = sum_r dL/dI[r]``, ``dL/dx = dL/dI W^T`` (dense, only if needed).
    """

    @staticmethod
    def forward(
        ctx: Any,
        x: Tensor,
        w: Tensor,
        b: Tensor,
        csr: tuple[Any, Any, Any],
        kernels: tuple[Any, Any, Any],
    ) -> Tensor:
        out = torch.empty(x.shape[0], w.shape[1], dtype=w.dtype)
        w_np = w.detach().contiguous().numpy()
        kernels[1](*csr, w_np, b.detach().contiguous().numpy(), out.numpy())
        ctx.csr = csr
        ctx.kernels = kernels
        ctx.save_for_backward(w)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        (w,) = ctx.saved_tensors
        grad = grad.contiguous()
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = grad @ w.T
        if ctx.needs_input_grad[1]:
            grad_w = torch.empty_like(w)
            ctx.kernels[2](*ctx.csr, grad.numpy(), grad_w.numpy())
        if ctx.needs_input_grad[2]:
            grad_b = grad.sum(dim=0)
        return grad_x, grad_w, grad_b, None, None


def _project(x: Tensor, w: Tensor, b: Tensor, projection: str) -> Tensor:
    """Return ``x W + b`` for ``x`` of shape (rows, n_in): dense or per event.

    ``"auto"`` chooses the event-driven product on the CPU when the layer has at
    least :data:`EVENT_MIN_OUTPUTS` outputs and at most :data:`EVENT_MAX_DENSITY`
    of ``x`` is nonzero (one pass over ``x`` finds out); ``"events"`` uses it
    whenever it can (CPU, float32/float64, numba installed).
    """
    if projection == "dense" or x.device.type != "cpu" or x.dtype != w.dtype:
        return torch.addmm(b, x, w)
    if w.dtype not in (torch.float32, torch.float64) or x.numel() == 0:
        return torch.addmm(b, x, w)
    if projection == "auto" and w.shape[1] < EVENT_MIN_OUTPUTS:
        return torch.addmm(b, x, w)
    kernels = _event_kernels()
    if kernels is None:  # pragma: no cover - numba is a dependency
        return torch.addmm(b, x, w)
    x_np = x.detach().contiguous().numpy()
    density = EVENT_MAX_DENSITY if projection == "auto" else 1.0
    cap = max(1, math.ceil(density * x.numel()))
    rowptr = np.empty(x.shape[0] + 1, dtype=np.int64)
    cols = np.empty(cap, dtype=np.int32)
    vals = np.empty(cap, dtype=x_np.dtype)
    if kernels[0](x_np, rowptr, cols, vals) < 0:  # too dense: BLAS is faster
        return torch.addmm(b, x, w)
    out: Tensor = _EventProjection.apply(x, w, b, (rowptr, cols, vals), kernels)
    return out


# -------------------------------------------------------------------- modules
class LIFLayer(nn.Module):
    """A fully connected layer of LIF neurons: ``I = x W + b``, then the recurrence.

    Parameters
    ----------
    n_in, n_out : int
        Widths of the layer below and of this layer.
    beta : float
        Membrane decay per step, ``exp(-dt / tau_mem)``.
    alpha : float or None
        Synaptic decay per step, or None for no synaptic filter.
    threshold : float
        Firing threshold (normalised units).
    reset : {"subtract", "zero"}
    detach_reset : bool
    surrogate : Surrogate
    spiking : bool
        False: the non-spiking readout, returning the potential.
    learn_beta : bool
        Make ``beta`` a parameter of shape ``(n_out,)``, clamped to [0, 1] in the
        forward pass (as snnTorch does).
    projection : {"auto", "dense", "events"}
        How ``x W + b`` is computed; see :class:`SpikingFeedForward`.
    dtype, device
        Where the parameters live.

    Attributes
    ----------
    W : Parameter, shape (n_in, n_out)
    b : Parameter, shape (n_out,)
    beta : Parameter, shape (n_out,), or float
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        *,
        beta: float,
        alpha: float | None,
        threshold: float,
        reset: str,
        detach_reset: bool,
        surrogate: Surrogate,
        spiking: bool,
        learn_beta: bool = False,
        projection: str = "auto",
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        self.projection = check_option("projection", projection, PROJECTIONS)
        self.W = nn.Parameter(torch.empty(n_in, n_out, dtype=dtype, device=device))
        self.b = nn.Parameter(torch.empty(n_out, dtype=dtype, device=device))
        self.beta: nn.Parameter | float
        if learn_beta:
            self.beta = nn.Parameter(
                torch.full((n_out,), beta, dtype=self.W.dtype, device=self.W.device)
            )
        else:
            self.beta = beta
        self.beta_init = beta
        self.alpha = alpha
        self.threshold = threshold
        self.reset = reset
        self.detach_reset = detach_reset
        self.surrogate = surrogate
        self.spiking = spiking
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Draw ``W, b ~ U(-1/sqrt(n_in), 1/sqrt(n_in))`` (as ``nn.Linear``).

        The draw is made in float64 on the CPU and then cast, so a generator state
        gives the same layer in every dtype and on every device. A learnable
        ``beta`` goes back to its initial value.
        """
        n_in, n_out = self.W.shape
        bound = 1.0 / math.sqrt(n_in)
        w = torch.rand(n_in, n_out, generator=generator, dtype=torch.float64)
        b = torch.rand(n_out, generator=generator, dtype=torch.float64)
        self.W.copy_((w * 2 - 1) * bound)
        self.b.copy_((b * 2 - 1) * bound)
        if isinstance(self.beta, Tensor):
            self.beta.fill_(self.beta_init)

    def forward(self, x: Tensor, engine: str = "fused") -> Tensor:
        """Return the spikes (or readout potential), shape ``(time, batch, n_out)``.

        ``x`` has shape ``(time, batch, n_in)``; it is not checked here.
        """
        n_steps, batch, n_in = x.shape
        x2 = x.reshape(n_steps * batch, n_in)
        if engine == "reference":
            current = torch.addmm(self.b, x2, self.W)
        else:
            current = _project(x2, self.W, self.b, self.projection)
        beta = self.beta.clamp(0.0, 1.0) if isinstance(self.beta, Tensor) else self.beta
        return lif_sequence(
            current.view(n_steps, batch, -1),
            beta,
            alpha=self.alpha,
            threshold=self.threshold,
            reset=self.reset,
            detach_reset=self.detach_reset,
            surrogate=self.surrogate,
            spiking=self.spiking,
            engine=engine,
        )

    def extra_repr(self) -> str:
        """Describe the layer for ``print(net)``."""
        n_in, n_out = self.W.shape
        kind = "LIF" if self.spiking else "leaky readout"
        return f"{n_in} -> {n_out}, {kind}"


class SpikingFeedForward(nn.Module):
    """A feed-forward network of LIF layers, fast to train by BPTT.

    See the module docstring for the neuron equations, how they match snnTorch,
    and the backward pass.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths from input to output, e.g. ``(700, 256, 20)``.
    tau_mem : float
        Membrane time constant in ms (> 0); ``beta = exp(-dt / tau_mem)``.
    tau_syn : float or None
        Synaptic time constant in ms (> 0), ``alpha = exp(-dt / tau_syn)``; None
        (default): the input current enters the membrane directly.
    threshold : float
        Firing threshold (> 0), in the units of the currents (1: normalised).
    reset : {"subtract", "zero"}
        After a spike, subtract the threshold from ``v`` or set ``v`` to 0.
    detach_reset : bool
        Leave the reset out of the gradient (default, as snnTorch does).
    surrogate : str or Surrogate
        Pseudo-derivative of the spike, one of
        :data:`neurodl.neurons.surrogate.SURROGATES`.
    slope : float or None
        Slope of the surrogate; None takes its default (25 for ``fast_sigmoid``).
    output : {"spikes", "membrane"}
        ``"spikes"``: the last layer is LIF and the network returns its spikes;
        ``"membrane"``: the last layer is a non-spiking leaky integrator and the
        network returns its potential.
    learn_beta : bool
        Learn one ``beta`` per neuron (initialised from ``tau_mem``).
    projection : {"auto", "dense", "events"}
        How each layer computes ``x W + b`` for all time steps. ``"dense"``: one
        matrix product. ``"events"``: one row of ``W`` per nonzero input (a spike),
        and ``dL/dW`` likewise, so the work scales with the number of spikes
        (CPU, float32/float64). ``"auto"`` (default): events on the CPU for layers
        of at least 64 neurons whose input is at most 10 % nonzero, else dense.
        All three give the same result up to rounding. At 700 -> 256, batch 64,
        T = 100 and 2 % input spikes, events take ~5 ms of a step where the
        dense products take ~45 ms.
    dt : float
        Time step in ms (> 0).
    seed : int or None
        Seed of the weight initialisation; None draws from torch's generator.
    dtype, device
        Where the parameters live (default float32 on the CPU).

    Examples
    --------
    >>> net = SpikingFeedForward((700, 256, 20), tau_mem=20.0, seed=0)
    >>> net
    SpikingFeedForward(
      (layers): ModuleList(
        (0): LIFLayer(700 -> 256, LIF)
        (1): LIFLayer(256 -> 20, LIF)
      )
    )
    >>> round(net.beta, 4)
    0.9512
    """

    def __init__(
        self,
        sizes: tuple[int, ...] | list[int],
        *,
        tau_mem: float = 20.0,
        tau_syn: float | None = None,
        threshold: float = 1.0,
        reset: str = "subtract",
        detach_reset: bool = True,
        surrogate: str | Surrogate = "fast_sigmoid",
        slope: float | None = None,
        output: str = "spikes",
        learn_beta: bool = False,
        projection: str = "auto",
        dt: float = 1.0,
        seed: int | None = None,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        self.sizes = check_sizes("sizes", sizes)
        self.tau_mem = check_positive("tau_mem", tau_mem)
        if tau_syn is not None:
            check_positive("tau_syn", tau_syn)
        self.tau_syn = tau_syn
        self.threshold = check_positive("threshold", threshold)
        self.reset = check_option("reset", reset, RESETS)
        self.output = check_option("output", output, OUTPUTS)
        self.projection = check_option("projection", projection, PROJECTIONS)
        self.dt = check_positive("dt", dt)
        for name, flag in (("detach_reset", detach_reset), ("learn_beta", learn_beta)):
            if not isinstance(flag, bool):
                raise ValidationError(f"{name!r} must be True or False; got {flag!r}.")
        self.detach_reset = detach_reset
        self.learn_beta = learn_beta
        self.surrogate = get_surrogate(surrogate, slope)
        self.beta = math.exp(-dt / tau_mem)
        self.alpha = None if tau_syn is None else math.exp(-dt / tau_syn)
        n_layers = len(self.sizes) - 1
        layers = tuple(
            LIFLayer(
                self.sizes[i],
                self.sizes[i + 1],
                beta=self.beta,
                alpha=self.alpha,
                threshold=float(threshold),
                reset=reset,
                detach_reset=detach_reset,
                surrogate=self.surrogate,
                spiking=output == "spikes" or i < n_layers - 1,
                learn_beta=learn_beta,
                projection=projection,
                dtype=dtype,
                device=device,
            )
            for i in range(n_layers)
        )
        self.layers = nn.ModuleList(layers)
        self.lif: tuple[LIFLayer, ...] = layers  # typed, cheap to iterate
        self.reset_parameters(seed)

    @property
    def dtype(self) -> torch.dtype:
        """Floating-point type of the parameters."""
        return self.lif[0].W.dtype

    @property
    def device(self) -> torch.device:
        """Device of the parameters."""
        return self.lif[0].W.device

    @torch.no_grad()
    def reset_parameters(self, seed: int | None = None) -> None:
        """Draw new weights and biases; put ``beta`` back to ``exp(-dt / tau_mem)``.

        ``W, b ~ U(-1/sqrt(n_in), 1/sqrt(n_in))``, as ``nn.Linear``, drawn in
        float64 on the CPU from ``seed`` and then cast, so a seed gives the same
        network in every dtype and on every device.
        """
        gen = torch.Generator()
        if seed is None:
            gen.manual_seed(int(torch.randint(0, 2**62, (1,)).item()))
        else:
            gen.manual_seed(seed)
        for layer in self.lif:
            layer.reset_parameters(gen)

    def _check_input(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            x = torch.as_tensor(x)
        n_in = self.sizes[0]
        if x.ndim != 3:
            raise ShapeError(
                f"'x' must be 3-D with axes (time, batch, features); got shape "
                f"{tuple(x.shape)}. A single sample needs a batch axis of 1."
            )
        if x.shape[2] != n_in:
            raise ShapeError(
                f"'x' has shape {tuple(x.shape)} but the network expects shape "
                f"(time, batch, {n_in}) (time, batch, features): {x.shape[2]} != "
                f"{n_in} features."
            )
        if x.shape[0] < 1:
            raise ShapeError(
                f"'x' needs at least one time step; got shape {tuple(x.shape)} "
                "(time, batch, features)."
            )
        if x.dtype != self.dtype or x.device != self.device:
            x = x.to(dtype=self.dtype, device=self.device)
        # one cheap reduction; the full check (which says where) only if it fails
        if not bool(torch.isfinite(x.sum())):
            check_finite("x", x)
        return x

    def forward(self, x: Tensor, *, engine: str = "fused") -> Tensor:
        """Return the output over time, shape ``(time, batch, n_outputs)``.

        Parameters
        ----------
        x : Tensor, shape (time, batch, n_inputs)
            Input spikes (or any real-valued input), converted to the parameters'
            dtype.
        engine : {"fused", "reference"}
            See :func:`lif_sequence`.

        Returns
        -------
        Tensor, shape (time, batch, n_outputs)
            Spikes (0.0 / 1.0), or the readout potential for
            ``output="membrane"`` (units of the threshold).
        """
        check_option("engine", engine, ENGINES)
        a = self._check_input(x)
        for layer in self.lif:
            a = layer(a, engine)
        return a
