"""Keyed random numbers: connectivity per block of targets, Poisson counts per step.

Nothing here depends on how neurons are split over processes or threads:

* a projection's synapses (and their drawn weights and delays) are drawn per block
  of :data:`TARGET_BLOCK` target neurons, each block from its own stream
  ``default_rng([seed, TAG, projection, block])``; :class:`FixedTotalNumber` first
  splits its total over the blocks with one draw from a ``(seed, projection)``
  stream. So the synapses onto any range of targets can be drawn alone
  (:func:`draw_projection` with ``lo, hi``), and they are exactly those of the
  full network, in the same order;
* a Poisson input's count for neuron ``i`` in step ``k`` is a function of
  ``(seed, input, i, k)`` only: a counter-based hash (SplitMix64) gives a uniform
  ``u`` in [0, 1), inverted against a float64 table of the binomial CDF. The
  numba kernel (:func:`poisson_add`) and the tensor path (:func:`poisson_counts`)
  compute the same integers and compare the same floats, so both give the same
  counts.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from numba import njit
from torch import Tensor

from neurodl.errors import ValidationError
from neurodl.simulate.connectivity import (
    Explicit,
    FixedInDegree,
    FixedProbability,
    FixedTotalNumber,
    Rule,
    _fixed_probability,
)
from neurodl.simulate.distributions import Normal

if TYPE_CHECKING:
    from neurodl.simulate.network import Network

__all__ = [
    "TARGET_BLOCK",
    "TorchPoisson",
    "binomial_cdf",
    "draw_projection",
    "poisson_add",
    "poisson_add_range",
    "poisson_counts",
    "poisson_guide",
    "poisson_tables",
    "step_key",
    "total_number_block",
]

TARGET_BLOCK = 1024  # target neurons per connectivity stream (a constant)
_TAG_SYN = 0x53594E41  # "SYNA": block streams
_TAG_TOTAL = 0x544F5441  # "TOTA": FixedTotalNumber's split over blocks
_TAG_POISSON = 0x504F4953  # "POIS": Poisson-input keys
_M64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_MUL1 = 0xBF58476D1CE4E5B9
_MUL2 = 0x94D049BB133111EB

WeightSpec = float | np.ndarray | Callable[[np.random.Generator, int], np.ndarray]


# --------------------------------------------------------------- connectivity
@njit(cache=True, nogil=True)
def _stable_order(key: np.ndarray, n_keys: int) -> np.ndarray:  # pragma: no cover
    """Permutation that sorts ``key`` (ints in ``[0, n_keys)``) stably: O(n)."""
    start = np.zeros(n_keys + 1, np.int64)
    for i in range(key.shape[0]):
        start[key[i] + 1] += 1
    for j in range(n_keys):
        start[j + 1] += start[j]
    out = np.empty(key.shape[0], np.int64)
    for i in range(key.shape[0]):
        kk = key[i]
        out[start[kk]] = i
        start[kk] += 1
    return out


@njit(cache=True, nogil=True)
def _group_rows_by_delay(  # pragma: no cover - compiled
    pre: np.ndarray, post: np.ndarray, w: np.ndarray, d: np.ndarray
) -> None:
    """Stable counting sort of each row (a run of equal ``pre``) by delay, in place.

    A row already in delay order (every constant-delay projection) is left as is.
    """
    n = pre.shape[0]
    a = 0
    while a < n:
        b = a + 1
        ordered = True
        lo = d[a]
        hi = d[a]
        while b < n and pre[b] == pre[a]:
            ordered = ordered and d[b] >= d[b - 1]
            lo = min(lo, d[b])
            hi = max(hi, d[b])
            b += 1
        if not ordered:
            at = np.zeros(hi - lo + 1, np.int64)
            for i in range(a, b):
                at[d[i] - lo] += 1
            run = a
            for x in range(hi - lo + 1):
                c = at[x]
                at[x] = run
                run += c
            p_row = post[a:b].copy()
            w_row = w[a:b].copy()
            d_row = d[a:b].copy()
            for i in range(b - a):
                pos = at[d_row[i] - lo]
                at[d_row[i] - lo] = pos + 1
                post[pos] = p_row[i]
                w[pos] = w_row[i]
                d[pos] = d_row[i]
        a = b


@njit(cache=True, nogil=True)
def _scatter(  # pragma: no cover - compiled
    key: np.ndarray,
    cursor: np.ndarray,
    post_b: np.ndarray,
    post: np.ndarray,
    w_b: np.ndarray,
    w: np.ndarray,
    d_b: np.ndarray,
    d: np.ndarray,
) -> None:
    """Place one block by a stable counting sort on ``key`` (empty w/d: skip)."""
    has_w = w.shape[0] > 0
    has_d = d.shape[0] > 0
    for i in range(key.shape[0]):
        kk = key[i]
        at = cursor[kk]
        cursor[kk] = at + 1
        post[at] = post_b[i]
        if has_w:
            w[at] = w_b[i]
        if has_d:
            d[at] = d_b[i]


def _block_rng(seed: int, proj: int, block: int) -> np.random.Generator:
    return np.random.default_rng([seed, _TAG_SYN, proj, block])


def _in_degree_block(
    rule: FixedInDegree,
    n_pre: int,
    b0: int,
    b1: int,
    rng: np.random.Generator,
    same: bool,
) -> tuple[np.ndarray, np.ndarray]:
    k = rule.k
    pres = np.empty((b1 - b0, k), dtype=np.int64)
    for j in range(b0, b1):
        if same and not rule.allow_autapses:
            draw = rng.choice(n_pre - 1, size=k, replace=False)
            draw[draw >= j] += 1
        else:
            draw = rng.choice(n_pre, size=k, replace=False)
        pres[j - b0] = draw
    post = np.repeat(np.arange(b0, b1, dtype=np.int64), k)
    return pres.reshape(-1), post


def total_number_block(
    rule: FixedTotalNumber,
    n_pre: int,
    n_post: int,
    b0: int,
    b1: int,
    count: int,
    rng: np.random.Generator,
    same: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` synapses onto targets ``[b0, b1)``, sorted by target (stably)."""
    no_auto = same and not rule.allow_autapses
    m = n_pre - 1 if no_auto else n_pre
    if count == 0 or m <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if rule.allow_multapses:
        post = rng.integers(b0, b1, size=count, dtype=np.int64)
        pre = rng.integers(0, m, size=count, dtype=np.int64)
    else:
        pos = _distinct(rng, (b1 - b0) * m, count)
        post_l, pre = np.divmod(pos, m)
        post = post_l + b0
    if no_auto:
        pre[pre >= post] += 1
    order = _stable_order(post - b0, b1 - b0)
    return pre[order], post[order]


def _distinct(rng: np.random.Generator, space: int, count: int) -> np.ndarray:
    """``count`` distinct integers of ``[0, space)``, a uniform set, sorted.

    Memory in ``count``, not ``space``: draws with replacement topped up until
    distinct (a permutation only when ``count`` is over half of ``space``).
    """
    if 2 * count > space:
        return np.sort(rng.permutation(space)[:count]).astype(np.int64)
    got = _dedupe(rng.integers(0, space, size=count, dtype=np.int64))
    while got.size < count:
        more = rng.integers(0, space, size=count - got.size, dtype=np.int64)
        got = _dedupe(np.concatenate((got, more)))
    return got


def _dedupe(x: np.ndarray) -> np.ndarray:
    """Sorted distinct values (a sort: faster here than NumPy's hashed unique)."""
    x.sort()
    keep = np.ones(x.size, bool)
    keep[1:] = x[1:] != x[:-1]
    return x[keep]


def _total_split(
    rule: FixedTotalNumber, n_pre: int, n_post: int, same: bool, seed: int, proj: int
) -> np.ndarray:
    """Synapses per target block: one draw from the ``(seed, projection)`` stream."""
    n_blocks = -(-n_post // TARGET_BLOCK)
    sizes = np.full(n_blocks, TARGET_BLOCK, np.int64)
    sizes[-1] = n_post - TARGET_BLOCK * (n_blocks - 1)
    rng = np.random.default_rng([seed, _TAG_TOTAL, proj])
    if rule.allow_multapses:
        return rng.multinomial(rule.n, sizes / n_post).astype(np.int64)
    m = n_pre - 1 if same and not rule.allow_autapses else n_pre
    return rng.multivariate_hypergeometric(sizes * m, rule.n, method="marginals")


def _block_values(
    spec: Any, rng: np.random.Generator, n: int, what: str, name: str
) -> np.ndarray | None:
    """Per-synapse values of one block drawn from its stream (None: not drawn)."""
    if isinstance(spec, Normal):
        return spec.draw(rng, n)
    if callable(spec) and not isinstance(spec, np.ndarray):
        out = np.asarray(spec(rng, n), dtype=np.float64)
        if out.shape != (n,):
            raise ValidationError(
                f"projection {name!r}: {what!r} callable must return {n} values; "
                f"got shape {out.shape}."
            )
        return out
    return None


def delay_steps(d_ms: np.ndarray, dt: float, drawn: bool) -> np.ndarray:
    """Round delays in ms to whole steps.

    ``rint`` for given delays, half up (NEST's rounding) for drawn ones.
    """
    x = d_ms / dt
    return (np.floor(x + 0.5) if drawn else np.rint(x)).astype(np.int64)


def draw_projection(
    rule: Rule,
    n_pre: int,
    n_post: int,
    same: bool,
    seed: int,
    proj: int,
    weight: Any,
    delay: Any,
    dt: float,
    name: str,
    lo: int = 0,
    hi: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Draw the synapses of one projection onto targets ``[lo, hi)`` (local).

    Returns ``pre, post`` (int64), ``w`` (float64) and ``d`` (delay in steps,
    int64), sorted by ``pre``, then by delay, then by ``post`` (multapses in
    draw order): the order of a CSR row, each row grouped by delay so that the
    compiled path can take a row's synapses of one delay as one run
    (:func:`neurodl.simulate._delivery.pull_tables`). The grouping is stable, so
    the synapses from one neuron onto one target with one delay keep their order,
    and every target sums its inputs as before. A restricted range gives exactly
    the full draw's synapses onto those targets, in the same order.
    """
    hi = n_post if hi is None else hi
    ranged = (lo, hi) != (0, n_post)
    if isinstance(weight, np.ndarray) and ranged:
        # a given array follows the whole projection's order: draw it all
        out = draw_projection(
            rule, n_pre, n_post, same, seed, proj, weight, delay, dt, name
        )
        keep = (out[1] >= lo) & (out[1] < hi)
        return out[0][keep], out[1][keep], out[2][keep], out[3][keep]
    pres: list[np.ndarray] = []
    posts: list[np.ndarray] = []
    ws: list[np.ndarray | None] = []
    ds: list[np.ndarray | None] = []
    given: list[np.ndarray] = []
    ew = ed = None
    explicit = isinstance(rule, Explicit)
    if explicit:
        e_pre = rule.array("i").astype(np.int64)  # type: ignore[union-attr]
        e_post = rule.array("j").astype(np.int64)  # type: ignore[union-attr]
        for what, idx, n in (("i", e_pre, n_pre), ("j", e_post, n_post)):
            if idx.size and (idx.min() < 0 or idx.max() >= n):
                bad = idx[(idx < 0) | (idx >= n)][0]
                raise ValidationError(
                    f"{what!r} indices must lie in [0, {n}); got {int(bad)}."
                )
        e_block = e_post // TARGET_BLOCK
        n_blocks = max(-(-n_post // TARGET_BLOCK), 1)
        by_block = _stable_order(e_block, n_blocks)
        bounds = np.searchsorted(e_block[by_block], np.arange(n_blocks + 1))
    elif isinstance(rule, FixedInDegree):
        avail = n_pre - (1 if same and not rule.allow_autapses else 0)
        if rule.k > avail:
            raise ValidationError(
                "'k' must be <= the number of available presynaptic neurons "
                f"({avail}); got {rule.k}."
            )
    elif isinstance(rule, FixedTotalNumber):
        rule.check(n_pre, n_post, same)
        split = _total_split(rule, n_pre, n_post, same, seed, proj)
    elif not isinstance(rule, FixedProbability):
        raise ValidationError(
            "'rule' must be FixedProbability, FixedInDegree, FixedTotalNumber or "
            f"Explicit; got {type(rule).__name__}."
        )
    idx_t = np.int32 if max(n_pre, n_post) < 2**31 - 1 else np.int64
    first = lo // TARGET_BLOCK
    last = -(-hi // TARGET_BLOCK)
    for b in range(first, last):
        b0 = b * TARGET_BLOCK
        b1 = min(b0 + TARGET_BLOCK, n_post)
        rng = _block_rng(seed, proj, b)
        sel: np.ndarray | None = None
        if explicit:
            sel = by_block[bounds[b] : bounds[b + 1]]
            pre, post = e_pre[sel], e_post[sel]
        elif isinstance(rule, FixedProbability):
            post_l, pre = _fixed_probability(rule, b1 - b0, n_pre, rng)
            post = post_l.astype(np.int64) + b0
            pre = pre.astype(np.int64)
            if same and not rule.allow_autapses:
                keep = pre != post
                pre, post = pre[keep], post[keep]
        elif isinstance(rule, FixedInDegree):
            pre, post = _in_degree_block(rule, n_pre, b0, b1, rng, same)
        else:
            assert isinstance(rule, FixedTotalNumber)
            pre, post = total_number_block(
                rule, n_pre, n_post, b0, b1, int(split[b]), rng, same
            )
        n = pre.size
        w = _block_values(weight, rng, n, "weight", name)
        d = _block_values(delay, rng, n, "delay", name)
        if ranged:
            keep = (post >= lo) & (post < hi)
            pre, post = pre[keep], post[keep]
            w = w[keep] if w is not None else None
            d = d[keep] if d is not None else None
            sel = sel[keep] if sel is not None else None
        if not explicit:  # compact while the other blocks are drawn
            pre, post = pre.astype(idx_t), post.astype(idx_t)
            if d is not None:
                d = delay_steps(d, dt, True).astype(np.int32)
        pres.append(pre)
        posts.append(post)
        ws.append(w)
        ds.append(d)
        if sel is not None:
            given.append(sel)
    if not explicit:
        out = _sorted_by_pre(pres, posts, ws, ds, weight, delay, dt, n_pre, name)
        _group_rows_by_delay(*out)
        return out
    if pres:
        pre = np.concatenate(pres)
        post = np.concatenate(posts)
    else:
        pre = post = np.zeros(0, np.int64)
    n_syn = pre.size
    w_all = _assemble(ws, weight, n_syn)
    d_drawn = isinstance(delay, Normal) or callable(delay)
    d_all = _assemble(ds, delay, n_syn)
    sel_all = np.concatenate(given) if given else np.zeros(0, np.int64)
    ew = rule.array("weight")  # type: ignore[union-attr]
    ed = rule.array("delay")  # type: ignore[union-attr]
    if ew is not None:
        w_all = ew[sel_all]
    if ed is not None:
        d_all, d_drawn = ed[sel_all], False
    order = np.lexsort((post, pre))
    pre, post = pre[order], post[order]
    w_all = w_all[order]
    d_all = d_all[order]
    if isinstance(weight, np.ndarray) and ew is None:
        w_all = np.asarray(weight, dtype=np.float64)
        if w_all.shape != (n_syn,):
            raise ValidationError(
                f"projection {name!r}: 'weight' must give {n_syn} finite values; "
                f"got shape {w_all.shape}."
            )
    if not np.all(np.isfinite(w_all)):
        raise ValidationError(
            f"projection {name!r}: 'weight' must give {n_syn} finite values."
        )
    out = pre, post, w_all, delay_steps(d_all, dt, d_drawn)
    _group_rows_by_delay(*out)
    return out


def _sorted_by_pre(
    pres: list[Any],
    posts: list[Any],
    ws: list[Any],
    ds: list[Any],
    weight: Any,
    delay: Any,
    dt: float,
    n_pre: int,
    name: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Merge the blocks (each sorted by target) into CSR order.

    A stable counting sort by ``pre``, block by block, each block freed once
    placed (no concatenated copy, no permutation array).
    """
    counts = np.zeros(n_pre, np.int64)
    for p in pres:
        counts += np.bincount(p, minlength=n_pre)
    n_syn = int(counts.sum())
    cursor = np.zeros(n_pre, np.int64)
    np.cumsum(counts[:-1], out=cursor[1:])
    idx_t = pres[0].dtype if pres else np.int32
    pre = np.repeat(np.arange(n_pre, dtype=idx_t), counts)
    post = np.empty(n_syn, idx_t)
    w = np.empty(n_syn) if ws and ws[0] is not None else None
    d = np.empty(n_syn, np.int32) if ds and ds[0] is not None else None
    no_w, no_d = np.zeros(0), np.zeros(0, np.int32)
    for b in range(len(pres)):
        _scatter(
            pres[b],
            cursor,
            posts[b],
            post,
            no_w if w is None else ws[b],
            no_w if w is None else w,
            no_d if d is None else ds[b],
            no_d if d is None else d,
        )
        pres[b] = posts[b] = ws[b] = ds[b] = None  # free as we go
    if w is None:
        if isinstance(weight, np.ndarray):
            w = np.asarray(weight, dtype=np.float64)
            if w.shape != (n_syn,):
                raise ValidationError(
                    f"projection {name!r}: 'weight' must give {n_syn} finite "
                    f"values; got shape {w.shape}."
                )
        elif isinstance(weight, int | float):
            w = np.full(n_syn, float(weight))
        else:  # drawn per block, and no block here
            w = np.zeros(n_syn)
    if not np.all(np.isfinite(w)):
        raise ValidationError(
            f"projection {name!r}: 'weight' must give {n_syn} finite values."
        )
    if d is None and isinstance(delay, int | float):
        d = np.full(n_syn, delay_steps(np.array([float(delay)]), dt, False)[0])
    elif d is None:  # drawn per block, and no block here
        d = np.zeros(n_syn, np.int32)
    return pre, post, w, d


def _assemble(parts: list[np.ndarray | None], spec: Any, n_syn: int) -> np.ndarray:
    if parts and parts[0] is not None:
        return np.concatenate(parts)  # type: ignore[arg-type]
    if isinstance(spec, np.ndarray) or not isinstance(spec, int | float):
        return np.zeros(n_syn)  # filled by the caller (array specs)
    return np.full(n_syn, float(spec))


# -------------------------------------------------------------- Poisson input
def _mix(z: int) -> int:
    """SplitMix64's finaliser on a Python int (mod 2**64)."""
    z = (z ^ (z >> 30)) * _MUL1 & _M64
    z = (z ^ (z >> 27)) * _MUL2 & _M64
    return z ^ (z >> 31)


def input_key(seed: int, index: int, trial: int = 0) -> int:
    """Return the key of Poisson input ``index``.

    ``trial > 0``: batch trials of the tensor path get their own draws; trial 0
    is the batch-1 run.
    """
    h = _mix((seed * _GOLDEN + _TAG_POISSON) & _M64)
    h = _mix((h ^ index) + _GOLDEN & _M64)
    if trial:
        h = _mix((h ^ trial) + _MUL1 & _M64)
    return h


def step_key(key: int, step: int) -> int:
    """Return an input's key of step ``step`` (neuron i: ``mix(hk + (i+1) G)``)."""
    return _mix((key ^ step) + _GOLDEN & _M64)


def binomial_cdf(n: int, p: float) -> np.ndarray:
    """Float64 CDF table of Binomial(n, p), cut 40 sd above the mean.

    The last entry is 1.0 exactly, so an inversion ``#{c: cdf[c] <= u}`` of any
    ``u`` in [0, 1) stays in range (the tail cut off is below 1e-300).
    """
    if p <= 0.0:
        return np.ones(1)
    if p >= 1.0:
        cdf = np.zeros(n + 1)
        cdf[-1] = 1.0
        return cdf
    hi = min(n, int(n * p + 40.0 * math.sqrt(n * p * (1.0 - p)) + 40.0))
    k = np.arange(hi + 1)
    lg_k = np.array([math.lgamma(x + 1.0) for x in range(hi + 1)])
    lg_nk = np.array([math.lgamma(n - x + 1.0) for x in range(hi + 1)])
    log_pmf = (
        math.lgamma(n + 1.0) - lg_k - lg_nk + k * math.log(p) + (n - k) * math.log1p(-p)
    )
    pmf = np.exp(log_pmf)
    log_p0 = n * math.log1p(-p)
    if log_p0 > -700.0:  # the product recurrence: more accurate than lgamma's
        ratio = (n - k[:-1]) / (k[:-1] + 1.0) * (p / (1.0 - p))
        pmf = math.exp(log_p0) * np.concatenate(([1.0], np.cumprod(ratio)))
    cdf = np.minimum(np.cumsum(pmf), 1.0)
    cdf[-1] = 1.0
    return np.maximum.accumulate(cdf)


_GUIDE_BITS = 10  # guide table: 1024 buckets of u


def poisson_guide(pin_cdf: np.ndarray) -> np.ndarray:
    """Guide tables of CDF rows: ``guide[q, b] = #{c: cdf[q, c] <= b / 1024}``.

    A draw ``u`` in bucket ``b = floor(1024 u)`` starts its inversion at
    ``guide[b]`` (a count no larger than the answer, since ``b / 1024 <= u``), so
    the scan is short whatever the mean count, and gives the same count as a scan
    from zero (Chen & Asau's guide table).
    """
    edges = np.arange(1 << _GUIDE_BITS) / float(1 << _GUIDE_BITS)
    rows = np.atleast_2d(pin_cdf)
    guide = np.zeros((rows.shape[0], edges.size), np.int32)
    for q in range(rows.shape[0]):
        guide[q] = np.searchsorted(rows[q], edges, side="right")
    return guide


@njit(cache=True, nogil=True, error_model="numpy")
def poisson_add_range(  # pragma: no cover - compiled
    k: int,
    g: np.ndarray,
    pin_i: np.ndarray,  # (Q, 3): offset in g, n neurons, CDF length
    pin_key: np.ndarray,  # (Q,) uint64 input keys
    pin_w: np.ndarray,  # (Q,) weight
    pin_cdf: np.ndarray,  # (Q, L) CDF tables, padded with 1.0
    pin_guide: np.ndarray,  # (Q, 1024) int32 guide tables (poisson_guide)
    pin_own: np.ndarray,  # (Q, 2) neurons [i0, i1) of each input; (0, 2): all
) -> None:
    """Add every Poisson input's ``count * weight`` of step ``k`` to ``g``.

    ``count = #{c: cdf[c] <= u}`` (``searchsorted(side="right")``, as the tensor
    path), found from the guide table's start for ``u``'s top 10 bits; every
    neuron gets ``+ count * weight`` (also ``+ 0.0``, as the tensor path).
    ``pin_own`` restricts each input to the neurons a process owns
    (:mod:`neurodl.simulate.distributed`): neuron ``i`` hashes the same key
    whichever process owns it.
    """
    golden = np.uint64(0x9E3779B97F4A7C15)
    m1 = np.uint64(0xBF58476D1CE4E5B9)
    m2 = np.uint64(0x94D049BB133111EB)
    s30 = np.uint64(30)
    s27 = np.uint64(27)
    s31 = np.uint64(31)
    s11 = np.uint64(11)
    s_guide = np.uint64(64 - _GUIDE_BITS)  # u's top bits: z >> 11 has 53
    scale = 1.0 / 9007199254740992.0
    for q in range(pin_i.shape[0]):
        off = pin_i[q, 0]
        i0 = pin_own[q, 0] if pin_own.shape[0] > 0 else 0
        i1 = pin_own[q, 1] if pin_own.shape[0] > 0 else pin_i[q, 1]
        wq = pin_w[q]
        cdf = pin_cdf[q]
        guide = pin_guide[q]
        z = (pin_key[q] ^ np.uint64(k)) + golden
        z = (z ^ (z >> s30)) * m1
        z = (z ^ (z >> s27)) * m2
        # the step's key; neuron i hashes key + (i + 1) G
        zi = (z ^ (z >> s31)) + np.uint64(i0) * golden
        for i in range(i0, i1):
            zi = zi + golden
            z = (zi ^ (zi >> s30)) * m1
            z = (z ^ (z >> s27)) * m2
            z = z ^ (z >> s31)
            u = float(np.int64(z >> s11)) * scale  # < 2**53: exact, signed cvt
            a = np.int64(guide[np.int64(z >> s_guide)])
            while cdf[a] <= u:  # the last entry is 1.0 > u: the scan stops
                a += 1
            g[off + i] = g[off + i] + a * wq


_ALL = np.zeros((0, 2), np.int64)


@njit(cache=True, nogil=True, error_model="numpy")
def poisson_add(  # pragma: no cover - compiled
    k: int,
    g: np.ndarray,
    pin_i: np.ndarray,
    pin_key: np.ndarray,
    pin_w: np.ndarray,
    pin_cdf: np.ndarray,
    pin_guide: np.ndarray,
) -> None:
    """:func:`poisson_add_range` over every neuron of every input."""
    poisson_add_range(k, g, pin_i, pin_key, pin_w, pin_cdf, pin_guide, _ALL)


def _signed(x: int) -> int:
    return x - (1 << 64) if x >= 1 << 63 else x


_S_MUL1 = _signed(_MUL1)
_S_MUL2 = _signed(_MUL2)
_S_GOLDEN = _signed(_GOLDEN)


def _shr(z: Tensor, s: int) -> Tensor:
    """Logical right shift of int64 bit patterns."""
    return (z >> s) & ((1 << (64 - s)) - 1)


def poisson_counts(hk: Tensor, n: int, cdf: Tensor) -> Tensor:
    """Return the counts of neurons ``0..n-1`` for step keys ``hk`` (int64, (B,)).

    The hash of :func:`poisson_add` in int64 torch ops (wrapping multiplies,
    logical shifts by masking); returns float counts of shape ``(B, n)``.
    """
    i = torch.arange(1, n + 1, dtype=torch.int64, device=hk.device)
    z = hk[:, None] + i[None, :] * _S_GOLDEN
    z = (z ^ _shr(z, 30)) * _S_MUL1
    z = (z ^ _shr(z, 27)) * _S_MUL2
    z = z ^ _shr(z, 31)
    u = _shr(z, 11).to(torch.float64) * (1.0 / 9007199254740992.0)
    c = torch.searchsorted(cdf, u.reshape(-1), right=True).reshape(u.shape)
    return c.clamp_(max=cdf.numel() - 1)


def check_rate(rate: float, n: int, dt: float) -> float:
    """Per-step probability of one Poisson process at ``rate`` Hz."""
    p = rate * dt * 1e-3
    if not math.isfinite(p) or p > 1.0:
        raise ValidationError(
            f"'rate' times dt must be <= 1 per step (rate <= {1e3 / dt:g} Hz at dt "
            f"{dt} ms); got {rate!r}."
        )
    return p


def poisson_tables(net: Network, np_dtype: Any) -> tuple[np.ndarray, ...]:
    """Poisson inputs as kernel arrays: ``(pin_i, pin_key, pin_w, pin_cdf, pin_guide)``.

    ``pin_i`` (Q, 3): offset of the target variable in ``g``, neurons, CDF length;
    ``pin_key`` (Q,) uint64 keys; ``pin_w`` (Q,); ``pin_cdf`` (Q, L) float64;
    ``pin_guide`` (Q, 1024) int32 (:func:`poisson_guide`).
    """
    offsets = {(p.index, s): off for p, s, off in net.channels}
    q = len(net.poisson_inputs)
    cdfs = [
        binomial_cdf(inp.n, check_rate(inp.rate, inp.n, net.dt))
        for inp in net.poisson_inputs
    ]
    width = max([2] + [c.size for c in cdfs])  # padded with 1.0
    pin_i = np.zeros((q, 3), np.int64)
    pin_key = np.zeros(q, np.uint64)
    pin_w = np.zeros(q, np_dtype)
    pin_cdf = np.ones((q, width), np.float64)
    for r, (inp, cdf) in enumerate(zip(net.poisson_inputs, cdfs, strict=True)):
        pin_i[r] = [offsets[(inp.pop.index, inp.synapse)], inp.pop.n, cdf.size]
        pin_key[r] = input_key(net.seed, inp.index)
        pin_w[r] = inp.weight
        pin_cdf[r, : cdf.size] = cdf
    return pin_i, pin_key, pin_w, pin_cdf, poisson_guide(pin_cdf)


class TorchPoisson:
    """Poisson inputs on the tensor path: the kernel's hash in int64 torch ops."""

    def __init__(self, net: Network, n: int, flat_to_slot: np.ndarray) -> None:
        """``n``: neurons per slot; ``flat_to_slot``: the tensor path's layout."""
        offsets = {(p.index, s): off for p, s, off in net.channels}
        dev = net.device
        self.dtype = net.dtype
        self.n = n
        self.inputs = []
        for inp in net.poisson_inputs:
            cdf = binomial_cdf(inp.n, check_rate(inp.rate, inp.n, net.dt))
            off = offsets[(inp.pop.index, inp.synapse)]
            slot = int(flat_to_slot[off]) // n
            keys = [input_key(net.seed, inp.index, b) for b in range(net.batch)]
            self.inputs.append(
                (
                    slot,
                    inp.pop.start,
                    inp.pop.n,
                    torch.as_tensor(cdf, dtype=torch.float64, device=dev),
                    keys,
                    inp.weight,
                )
            )
        self.device = dev

    def __call__(self, k: int, gs: list[Tensor]) -> list[Tensor]:
        gs = list(gs)
        for slot, start, n, cdf, keys, w in self.inputs:
            hk = torch.tensor(
                [_signed(step_key(key, k)) for key in keys],
                dtype=torch.int64,
                device=self.device,
            )
            add = poisson_counts(hk, n, cdf).to(self.dtype) * w
            g = gs[slot]
            gs[slot] = torch.cat(
                (g[:, :start], g[:, start : start + n] + add, g[:, start + n :]), 1
            )
        return gs
