"""The synapse tables of a network: keyed draws into one CSR table.

Called by :meth:`Network.build <neurodl.simulate.Network.build>`. Each projection is
drawn per block of target neurons (:func:`neurodl.simulate._keyed.draw_projection`),
then every synapse is placed into one global CSR table (rows: presynaptic neurons)
by a counting sort: each projection's synapses of one presynaptic neuron are one run
of that neuron's row, placed by a compiled loop without scratch arrays.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from numba import njit

from neurodl._validate import check_positive
from neurodl.errors import ValidationError
from neurodl.simulate.connectivity import Explicit, Rule
from neurodl.simulate.distributions import Normal

if TYPE_CHECKING:
    from neurodl.simulate.groups import Projection, Synapse
    from neurodl.simulate.network import Network

__all__ = ["build_tables", "check_delay", "csr_order", "csr_weights", "slots_of"]


def _index_dtype(largest: int) -> type[np.signedinteger[Any]]:
    """int32 when every index fits, else int64 (halves the synapse tables)."""
    return np.int32 if largest < 2**31 - 1 else np.int64


def _delay_dtype(largest: int) -> type[np.integer[Any]]:
    """Return the smallest integer type that holds every delay (in steps)."""
    if largest < 2**8:
        return np.uint8
    return np.int16 if largest < 2**15 else np.int32


def check_delay(delay: Any, dt: float, rule: Rule) -> float | Normal:
    """Validate ``delay`` (ms): 0, or at least one step; see Network.connect."""
    what = type(rule).__name__
    if isinstance(delay, Normal):
        if delay.low < dt / 2:
            raise ValidationError(
                f"'delay' ({what}): a delay distribution must have low >= dt/2 "
                f"({dt / 2:g} ms at dt {dt} ms), so that every draw rounds to at "
                f"least one time step (a positive delay below one step cannot be "
                f"simulated); got low={delay.low!r}."
            )
        return delay
    check_positive("delay", delay, strict=False)
    arrays = [float(delay)]
    if isinstance(rule, Explicit) and rule.array("delay") is not None:
        d = rule.array("delay")
        assert d is not None
        if d.size and d.min() < 0:
            raise ValidationError(
                f"'delay' ({what}): delays must be >= 0 ms; got {float(d.min())!r}."
            )
        arrays.extend(d[(d > 0) & (d < dt)][:1].tolist())
    for x in arrays:
        if 0 < x < dt * (1 - 1e-9):
            raise ValidationError(
                f"'delay' ({what}): a delay must be 0 or at least one time step "
                f"(dt = {dt} ms; a positive delay below one step cannot be "
                f"simulated); got {x!r} ms."
            )
    return float(delay)


def build_tables(
    net: Network,
    targets: tuple[int, int] | None,
    ch_offset: dict[tuple[int, Synapse], int],
) -> None:
    """Draw every projection (onto LIF neurons ``targets``) into ``net``'s CSR."""
    # projections -> one global CSR table, filled by a counting sort (each
    # rule returns its synapses sorted by presynaptic neuron): within a row,
    # projections keep their order and each keeps its own
    from neurodl.simulate._keyed import draw_projection

    lo_t, hi_t = (0, net.n_lif) if targets is None else targets
    if not 0 <= lo_t <= hi_t <= net.n_lif:
        raise ValidationError(
            f"'targets' must be a range within [0, {net.n_lif}]; got {targets!r}."
        )
    net.target_range = (lo_t, hi_t)
    drawn = []
    counts = np.zeros(net.n_all, np.int64)
    max_d = 0
    for p_i, proj in enumerate(net.projections):
        same = proj.pre is proj.post
        lo = min(max(lo_t - proj.post.start, 0), proj.post.n)
        hi = min(max(hi_t - proj.post.start, 0), proj.post.n)
        pre, post, w, d = draw_projection(
            proj.rule,
            proj.pre.n,
            proj.post.n,
            same,
            net.seed,
            p_i,
            proj.weight_spec,
            proj.delay,
            net.dt,
            proj.name,
            lo,
            max(hi, lo),
        )
        if d.size and d.min() < 0:
            raise ValidationError(f"projection {proj.name!r}: delays must be >= 0.")
        if proj.plasticity is not None and d.size and d.max() > 0:
            raise ValidationError(
                f"projection {proj.name!r}: 'delay' must be 0 on a projection "
                "with 'plasticity' (STDP traces are kept per neuron, so a "
                f"delay is not modelled); got up to "
                f"{round(float(d.max()) * net.dt, 10)} ms."
            )
        max_d = max(max_d, int(d.max()) if d.size else 0)
        proj.weight = torch.as_tensor(w, dtype=net.dtype, device=net.device)
        # pre is sorted: keep its run lengths, not one index per synapse
        row_count = np.bincount(pre, minlength=proj.pre.n).astype(np.int64)
        del pre
        counts[proj.pre.start : proj.pre.start + proj.pre.n] += row_count
        idx_t = _index_dtype(max(proj.pre.n, proj.post.n))
        d_t = _delay_dtype(int(d.max()) if d.size else 0)
        drawn.append((row_count, post.astype(idx_t, copy=False), d.astype(d_t)))
        del post, w, d
    net._indptr = np.zeros(net.n_all + 1, np.int64)
    np.cumsum(counts, out=net._indptr[1:])
    n_total = int(net._indptr[-1])
    fill = net._indptr[:-1].copy()
    net._tgt = np.empty(n_total, _index_dtype(net.n_g))
    net._dly = np.empty(n_total, _delay_dtype(max_d))
    net._perm_cache = None  # CSR slot -> order: built on demand (csr_order)
    offset = 0
    drawn.reverse()  # popped in projection order: each freed once placed
    for proj in net.projections:
        row_count, post, d = drawn.pop()
        c_off = ch_offset[(proj.post.index, proj.synapse)]
        # within each row the projection's synapses form one run of the CSR
        # table (after the earlier projections' runs): where it starts, and its
        # length, instead of a per-synapse map; placed run by run (compiled, no
        # scratch arrays)
        rows = slice(proj.pre.start, proj.pre.start + proj.pre.n)
        proj._row_base = fill[rows].copy()
        proj._row_count = row_count
        _runs(proj._row_base, row_count, net._tgt, post, c_off)
        _runs(proj._row_base, row_count, net._dly, d, 0)
        fill[rows] += row_count
        proj._offset, proj._count = offset, int(post.size)
        offset += post.size
        del post, d
    _trim()


@njit(cache=True, nogil=True)
def _runs(  # pragma: no cover - compiled
    base: np.ndarray,
    count: np.ndarray,
    out: np.ndarray,
    values: np.ndarray,
    shift: int,
) -> None:
    """``out[base[i] : base[i] + count[i]] = next count[i] values + shift``."""
    pos = 0
    for i in range(base.shape[0]):
        b = base[i]
        for j in range(count[i]):
            out[b + j] = values[pos + j] + shift
        pos += count[i]


def slots_of(proj: Projection) -> np.ndarray:
    """CSR positions of ``proj``'s synapses, in its own order (int64)."""
    count = proj._row_count
    first = np.zeros(count.size, np.int64)
    np.cumsum(count[:-1], out=first[1:])
    return np.arange(int(count.sum()), dtype=np.int64) + np.repeat(
        proj._row_base - first, count
    )


def csr_order(net: Network) -> np.ndarray:
    """CSR slot -> index into the projections' concatenated weights."""
    n_total = int(net._tgt.size)
    out = np.empty(n_total, _index_dtype(n_total))
    for proj in net.projections:
        idx = np.arange(proj._offset, proj._offset + proj._count, dtype=out.dtype)
        _runs(proj._row_base, proj._row_count, out, idx, 0)
    return out


def csr_weights(net: Network, dtype: Any) -> np.ndarray:
    """Every projection's weights placed in CSR order (no index arrays)."""
    out = np.empty(int(net._tgt.size), dtype)
    for proj in net.projections:
        w = proj.weight.detach().cpu().numpy().astype(dtype, copy=False)
        _runs(proj._row_base, proj._row_count, out, w, 0)
    return out


def _trim() -> None:
    """Return the build's freed scratch memory to the OS (glibc; else nothing)."""
    import contextlib
    import ctypes
    import sys

    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing
            ctypes.CDLL("libc.so.6").malloc_trim(0)
