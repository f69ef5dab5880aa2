"""Tensor path: the network step as torch operations, for GPUs and for gradients.

The step is the one of :mod:`neurodl.simulate._numba_engine`, batched over a leading
``batch`` axis and written in the same order of floating-point operations.

Spikes reach their targets through :class:`SparsePropagate`, a custom autograd
function over the CSR synapse table: its forward pass touches only the synapses of
the neurons that spiked (event-driven), and so does the weight gradient of its
backward pass; the gradient with respect to the spikes is one sparse matrix product
``W @ grad``. A dense ``z @ W`` reference (:func:`dense_propagate`) checks it.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

__all__ = ["SparsePropagate", "SpmvPropagate", "dense_propagate", "expand_events"]


def expand_events(z: Tensor, indptr: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Synapses of every spike in ``z``.

    Parameters
    ----------
    z : Tensor, shape (batch, n_pre)
        Spikes (nonzero = spike).
    indptr : Tensor of int64, shape (n_pre + 1,)
        CSR row pointer.

    Returns
    -------
    b : Tensor of int64, shape (n_events,)
        Batch index of each (spike, synapse) event.
    pre : Tensor of int64, shape (n_events,)
        Presynaptic index of each event.
    syn : Tensor of int64, shape (n_events,)
        Synapse index of each event, in ascending presynaptic order.
    """
    b, j = torch.nonzero(z, as_tuple=True)
    if b.numel() == 0:
        empty = torch.zeros(0, dtype=torch.int64, device=z.device)
        return empty, empty, empty
    starts = indptr[j]
    counts = indptr[j + 1] - starts
    total = int(counts.sum())
    if total == 0:
        empty = torch.zeros(0, dtype=torch.int64, device=z.device)
        return empty, empty, empty
    rep_b = torch.repeat_interleave(b, counts, output_size=total)
    first = torch.cumsum(counts, 0) - counts
    shift = torch.repeat_interleave(starts - first, counts, output_size=total)
    syn = torch.arange(total, device=z.device) + shift
    rep_j = torch.repeat_interleave(j, counts, output_size=total)
    return rep_b, rep_j, syn


class SparsePropagate(torch.autograd.Function):
    """``out[b, tgt[s]] += w[s] z[b, pre[s]]`` over the synapses of spiking neurons.

    Forward and weight gradient are event-driven (only synapses of neurons with
    ``z != 0``); the spike gradient is ``grad_z[b, i] = sum_{s: pre[s]=i} w[s]
    grad_out[b, tgt[s]]``, one CSR matrix product.
    """

    @staticmethod
    def forward(
        ctx: Any,
        z: Tensor,
        w: Tensor,
        indptr: Tensor,
        tgt: Tensor,
        csr: Tensor | None,
        n_out: int,
    ) -> Tensor:
        batch = z.shape[0]
        b, pre_of, syn = expand_events(z, indptr)
        if b.numel():
            vals = w[syn] * z[b, pre_of]
            flat = b * n_out + tgt[syn]
            out = torch.zeros(batch * n_out, dtype=z.dtype, device=z.device)
            out.index_add_(0, flat, vals)
            out = out.view(batch, n_out)
        else:
            out = torch.zeros(batch, n_out, dtype=z.dtype, device=z.device)
        ctx.save_for_backward(z, w, tgt, b, pre_of, syn)
        ctx.csr = csr
        ctx.n_out = n_out
        return out

    @staticmethod
    def backward(
        ctx: Any, grad_out: Tensor
    ) -> tuple[Tensor | None, Tensor | None, None, None, None, None]:
        z, w, tgt, b, pre_of, syn = ctx.saved_tensors
        grad_z = grad_w = None
        n_out = ctx.n_out
        if ctx.needs_input_grad[1]:
            grad_w = torch.zeros_like(w)
            if b.numel():
                g_flat = grad_out.reshape(-1)[b * n_out + tgt[syn]]
                grad_w.index_add_(0, syn, g_flat * z[b, pre_of])
        if ctx.needs_input_grad[0]:
            csr = ctx.csr
            if csr is None or csr.dtype != grad_out.dtype:
                raise RuntimeError("spike gradient needs the CSR weight matrix")
            # (n_pre, n_out) @ (n_out, batch) -> (n_pre, batch)
            grad_z = (csr @ grad_out.t().contiguous()).t()
        return grad_z, grad_w, None, None, None, None


class SpmvPropagate(torch.autograd.Function):
    """``out = z @ W`` as one sparse matrix product, with no host synchronisation.

    The event-driven :class:`SparsePropagate` must learn how many neurons spiked
    (a device-to-host copy every step); this variant multiplies by the whole CSR
    matrix instead (on an H100 it measured slower than the events all the same):
    ``out^T = W^T z^T`` with ``W^T`` stored by target (``wt``), and for the
    backward ``grad_z^T = W grad^T`` (``w_csr``, stored by presynaptic neuron) and
    ``grad_w[s] = sum_b z[b, pre[s]] grad[b, tgt[s]]``.
    The sums run in cuSPARSE's order, so float64 spikes can differ in the last bit
    from the event-driven path's.
    """

    @staticmethod
    def forward(
        ctx: Any,
        z: Tensor,
        w: Tensor,
        wt: Tensor,
        w_csr: Tensor | None,
        pre: Tensor | None,
        tgt: Tensor | None,
    ) -> Tensor:
        out = (wt @ z.t().contiguous()).t()
        ctx.save_for_backward(z)
        ctx.w_csr, ctx.pre, ctx.tgt = w_csr, pre, tgt
        return out

    @staticmethod
    def backward(
        ctx: Any, grad_out: Tensor
    ) -> tuple[Tensor | None, Tensor | None, None, None, None, None]:
        (z,) = ctx.saved_tensors
        grad_z = grad_w = None
        if ctx.needs_input_grad[0]:
            grad_z = (ctx.w_csr @ grad_out.t().contiguous()).t()
        if ctx.needs_input_grad[1]:
            grad_w = (z[:, ctx.pre] * grad_out[:, ctx.tgt]).sum(0)
        return grad_z, grad_w, None, None, None, None


def dense_propagate(z: Tensor, w_dense: Tensor) -> Tensor:
    """Propagate by ``z @ W`` with a dense ``(n_pre, n_out)`` matrix (reference)."""
    return z @ w_dense
