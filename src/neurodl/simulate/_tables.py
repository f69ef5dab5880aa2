"""The synapse tables of a network: keyed draws into one CSR table.

Called by :meth:`Network.build <neurodl.simulate.Network.build>`. Each projection is
drawn per block of target neurons (:func:`neurodl.simulate._keyed.draw_projection`),
then every synapse is placed into one global CSR table (rows: presynaptic neurons)
by a counting sort. Each row is grouped by delay: the synapses of neuron ``j`` with
delay ``d`` are ``net._gptr[j L + d] : net._gptr[j L + d + 1]`` (``L`` the ring
length), one run that the compiled path pulls whole
(:mod:`neurodl.simulate._delivery`); within a group, projections keep their order
and each keeps its own (a projection is itself sorted by neuron, then delay).
A projection's synapses of one (neuron, delay) are thus one run of its own order
and one run of the table; :func:`slots_of`, :func:`csr_order` and
:func:`csr_weights` find them by walking the projections in order with one cursor
per group (compiled, no per-synapse index kept).
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

__all__ = [
    "build_tables",
    "check_delay",
    "csr_order",
    "csr_weights",
    "kernel_weights",
    "slots_of",
    "widen_groups",
]


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
    # projections -> one global CSR table, filled by a counting sort by (row,
    # delay) (each rule returns its synapses sorted by presynaptic neuron, then
    # delay): within a group, projections keep their order and each its own
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
    big_l = max_d + 1
    gptr = np.zeros(net.n_all * big_l + 1, np.int64)
    for proj, (row_count, _post, d) in zip(net.projections, drawn, strict=True):
        _count_groups(proj.pre.start, row_count, d, big_l, gptr)
    np.cumsum(gptr, out=gptr)
    net._gptr = gptr
    net._indptr = gptr[::big_l].copy()  # row j starts at its delay-0 group
    n_total = int(gptr[-1])
    net._tgt = np.empty(n_total, _index_dtype(net.n_g))
    net._dly = np.empty(n_total, _delay_dtype(max_d))
    net._perm_cache = None  # CSR slot -> order: built on demand (csr_order)
    net._w_cache = None  # a compiled run's weights (kernel_weights)
    cursor = gptr[:-1].copy()
    offset = 0
    drawn.reverse()  # popped in projection order: each freed once placed
    for proj in net.projections:
        row_count, post, d = drawn.pop()
        c_off = ch_offset[(proj.post.index, proj.synapse)]
        _place(proj.pre.start, row_count, d, big_l, cursor, net._tgt, post, c_off)
        proj._row_count = row_count
        proj._dly = d
        proj._offset, proj._count = offset, int(post.size)
        offset += post.size
        del post
    del cursor
    _fill_delays(gptr, big_l, net._dly)
    _trim()


@njit(cache=True, nogil=True)
def _count_groups(  # pragma: no cover - compiled
    start: int, row_count: np.ndarray, d: np.ndarray, big_l: int, gcount: np.ndarray
) -> None:
    """``gcount[(start + i) L + d + 1] += 1`` for each synapse (row i, delay d)."""
    pos = 0
    for i in range(row_count.shape[0]):
        base = (start + i) * big_l + 1
        for _ in range(row_count[i]):
            gcount[base + d[pos]] += 1
            pos += 1


@njit(cache=True, nogil=True)
def _place(  # pragma: no cover - compiled
    start: int,
    row_count: np.ndarray,
    d: np.ndarray,
    big_l: int,
    cursor: np.ndarray,
    out: np.ndarray,
    values: np.ndarray,
    shift: int,
) -> None:
    """``out[slot] = value + shift`` for each synapse of a projection, in its order.

    ``slot``: the next free place of its (row, delay) group (``cursor``, advanced).
    """
    pos = 0
    for i in range(row_count.shape[0]):
        base = (start + i) * big_l
        end = pos + row_count[i]
        while pos < end:  # one run of equal delay (the row is sorted by delay)
            dd = d[pos]
            stop = pos + 1
            while stop < end and d[stop] == dd:
                stop += 1
            x = base + dd
            at = cursor[x] - pos
            for q in range(pos, stop):
                out[at + q] = values[q] + shift
            cursor[x] += stop - pos
            pos = stop


@njit(cache=True, nogil=True)
def _take(  # pragma: no cover - compiled
    start: int,
    row_count: np.ndarray,
    d: np.ndarray,
    big_l: int,
    cursor: np.ndarray,
    slots: np.ndarray,
) -> None:
    """Advance ``cursor`` over a projection; its slots into ``slots`` (if sized)."""
    pos = 0
    keep = slots.shape[0] > 0
    for i in range(row_count.shape[0]):
        base = (start + i) * big_l
        for _ in range(row_count[i]):
            x = base + d[pos]
            if keep:
                slots[pos] = cursor[x]
            cursor[x] += 1
            pos += 1


@njit(cache=True, nogil=True)
def _fill_delays(
    gptr: np.ndarray, big_l: int, dly: np.ndarray
) -> None:  # pragma: no cover
    """Each slot's delay from the group table."""
    for x in range(gptr.shape[0] - 1):
        d = x % big_l
        for syn in range(gptr[x], gptr[x + 1]):
            dly[syn] = d


def widen_groups(net: Network, big_l: int) -> None:
    """Give the group table ``big_l`` delays per row (a longer global ring).

    A process of a distributed run may hold shorter delays than the longest of
    all: its rows gain empty groups for the delays it does not have.
    """
    old = _big_l(net)
    if big_l == old:
        return
    if big_l < old:
        raise ValueError(f"cannot narrow the group table ({old} -> {big_l})")
    new = np.empty(net.n_all * big_l + 1, np.int64)
    grid = new[:-1].reshape(net.n_all, big_l)
    grid[:, :old] = net._gptr[:-1].reshape(net.n_all, old)
    grid[:, old:] = net._indptr[1:, None]  # empty: at the row's end
    new[-1] = net._gptr[-1]
    net._gptr = new


def _big_l(net: Network) -> int:
    return (int(net._gptr.size) - 1) // max(net.n_all, 1) if net.n_all else 1


def slots_of(proj: Projection) -> np.ndarray:
    """CSR positions of ``proj``'s synapses, in its own order (int64)."""
    net = proj.net
    big_l = _big_l(net)
    cursor = net._gptr[:-1].copy()
    none = np.zeros(0, np.int64)
    lo, hi = proj.pre.start, proj.pre.start + proj.pre.n
    for q in net.projections:
        if q is proj:
            slots = np.empty(proj._count, np.int64)
            _take(q.pre.start, q._row_count, q._dly, big_l, cursor, slots)
            return slots
        if q.pre.start < hi and lo < q.pre.start + q.pre.n:  # rows shared
            _take(q.pre.start, q._row_count, q._dly, big_l, cursor, none)
    raise ValueError("projection not in its network")  # pragma: no cover


def csr_order(net: Network) -> np.ndarray:
    """CSR slot -> index into the projections' concatenated weights."""
    n_total = int(net._tgt.size)
    out = np.empty(n_total, _index_dtype(n_total))
    big_l = _big_l(net)
    cursor = net._gptr[:-1].copy()
    for proj in net.projections:
        idx = np.arange(proj._offset, proj._offset + proj._count, dtype=out.dtype)
        _place(proj.pre.start, proj._row_count, proj._dly, big_l, cursor, out, idx, 0)
    return out


def csr_weights(net: Network, dtype: Any, out: np.ndarray | None = None) -> np.ndarray:
    """Every projection's weights placed in CSR order (no index arrays).

    ``out``: an array to fill (of ``dtype`` and the table's size), else a new one.
    """
    if out is None or out.dtype != dtype or out.size != net._tgt.size:
        out = np.empty(int(net._tgt.size), dtype)
    big_l = _big_l(net)
    cursor = net._gptr[:-1].copy()
    for proj in net.projections:
        w = proj.weight.detach().cpu().numpy().astype(dtype, copy=False)
        _place(proj.pre.start, proj._row_count, proj._dly, big_l, cursor, out, w, 0)
    return out


def kernel_weights(net: Network, dtype: Any) -> np.ndarray:
    """Return the CSR weights of a compiled run, kept between runs while unchanged.

    Placing every weight costs about a second per 3e8 synapses (and, into a new
    array, its first-touch page faults). The placed copy is kept on ``net``, with
    a fingerprint of each projection's weights as they were placed (which
    tensor, its memory, and a 64-bit polynomial hash of its bytes: one
    sequential read); a run whose projections still match it reuses the copy,
    else the weights are placed again into the same array. A network with
    plasticity writes its weights during the run: its copy is never reused.
    """
    parts: list[Any] = [(dtype, net._tgt.size)]
    for proj in net.projections:
        wt = proj.weight.detach()
        if wt.device.type != "cpu" or not wt.is_contiguous():
            break  # no fingerprint: place them
        a = wt.numpy().reshape(-1)
        bits = a.view(np.uint64 if a.itemsize == 8 else np.uint32)
        parts.append((id(proj.weight), wt.data_ptr(), a.dtype.str, _fingerprint(bits)))
    key = parts if len(parts) == len(net.projections) + 1 else None
    cached = net._w_cache
    if (
        key is not None
        and cached is not None
        and cached[0] == key
        and net._plastic is None
    ):
        return cached[1]
    out = csr_weights(net, dtype, None if cached is None else cached[1])
    net._w_cache = None if key is None or net._plastic is not None else (key, out)
    return out


@njit(cache=True, nogil=True)
def _fingerprint(x: np.ndarray) -> int:  # pragma: no cover - compiled
    """Hash ``x``'s words (64-bit polynomial, four interleaved lanes)."""
    c = np.uint64(0x100000001B3)
    h0 = np.uint64(0x9E3779B97F4A7C15)
    h1 = np.uint64(0xC2B2AE3D27D4EB4F)
    h2 = np.uint64(0x165667B19E3779F9)
    h3 = np.uint64(0x27D4EB2F165667C5)
    n = x.shape[0]
    m = n - n % 4
    for i in range(0, m, 4):
        h0 = h0 * c + np.uint64(x[i])
        h1 = h1 * c + np.uint64(x[i + 1])
        h2 = h2 * c + np.uint64(x[i + 2])
        h3 = h3 * c + np.uint64(x[i + 3])
    for i in range(m, n):
        h0 = h0 * c + np.uint64(x[i])
    h = h0 ^ (h1 * np.uint64(3)) ^ (h2 * np.uint64(5)) ^ (h3 * np.uint64(7))
    return int(h ^ np.uint64(n))


def _trim() -> None:
    """Return the build's freed scratch memory to the OS (glibc; else nothing)."""
    import contextlib
    import ctypes
    import sys

    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing
            ctypes.CDLL("libc.so.6").malloc_trim(0)
