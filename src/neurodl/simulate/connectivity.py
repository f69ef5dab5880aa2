"""Connectivity rules: who connects to whom, drawn once and stored sparse.

A rule turns ``(n_pre, n_post, rng)`` into arrays ``(pre, post)`` of synapse
endpoints sorted by ``pre`` (then by ``post``), the order of a CSR matrix with one
row per presynaptic neuron, which is what event-driven propagation walks.

* :class:`FixedProbability` -- every ordered pair independently with probability ``p``
  (Brian2's ``connect(p=...)``, NEST's ``pairwise_bernoulli``).
* :class:`FixedInDegree` -- each postsynaptic neuron draws exactly ``k`` distinct
  presynaptic partners (NEST's ``fixed_indegree`` without multapses).
* :class:`FixedTotalNumber` -- ``n`` synapses, each with a source and a target drawn
  uniformly (NEST's ``fixed_total_number``; Potjans & Diesmann 2014).
* :class:`Explicit` -- given ``(i, j)`` pairs, with optional per-synapse weights and
  delays.

Random rules draw from a NumPy ``Generator``, so a network is a pure function of its
seed, whatever the number of threads or the backend. :class:`~neurodl.simulate.Network`
draws them per block of target neurons from keyed streams
(:mod:`neurodl.simulate._keyed`); :func:`connect` draws one projection from one
``Generator``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neurodl._validate import check_int
from neurodl.errors import ShapeError, ValidationError

__all__ = [
    "Explicit",
    "FixedInDegree",
    "FixedProbability",
    "FixedTotalNumber",
    "Rule",
    "connect",
]


@dataclass(frozen=True)
class FixedProbability:
    """Each ordered pair ``(i, j)`` connects independently with probability ``p``.

    Parameters
    ----------
    p : float
        Connection probability in ``[0, 1]``.
    allow_autapses : bool
        Allow ``i -> i`` when a population projects onto itself (Brian2's and NEST's
        default: allowed).
    """

    p: float
    allow_autapses: bool = True

    def __post_init__(self) -> None:
        p = self.p
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p <= 1:
            raise ValidationError(f"'p' must be a probability in [0, 1]; got {p!r}.")


@dataclass(frozen=True)
class FixedInDegree:
    """Each postsynaptic neuron gets exactly ``k`` distinct presynaptic partners.

    Parameters
    ----------
    k : int
        In-degree, ``0 <= k <= n_pre`` (``n_pre - 1`` without autapses).
    allow_autapses : bool
        Allow ``i -> i`` when a population projects onto itself.
    """

    k: int
    allow_autapses: bool = True

    def __post_init__(self) -> None:
        check_int("k", self.k, minimum=0)


@dataclass(frozen=True)
class FixedTotalNumber:
    """``n`` synapses in all, each drawing its source and its target uniformly.

    NEST's ``fixed_total_number`` (the rule of Potjans & Diesmann 2014): with
    multapses every synapse draws ``(pre, post)`` with replacement; without them
    no pair repeats (a uniform draw of ``n`` distinct pairs).

    Parameters
    ----------
    n : int
        Number of synapses (>= 0; without multapses at most the number of
        possible pairs).
    allow_autapses : bool
        Allow ``i -> i`` when a population projects onto itself.
    allow_multapses : bool
        Allow several synapses between one pair.
    """

    n: int
    allow_autapses: bool = True
    allow_multapses: bool = True

    def __post_init__(self) -> None:
        check_int("n", self.n, minimum=0)
        for name in ("allow_autapses", "allow_multapses"):
            if not isinstance(getattr(self, name), bool):
                raise ValidationError(
                    f"{name!r} must be True or False; got {getattr(self, name)!r}."
                )

    def check(self, n_pre: int, n_post: int, same: bool) -> None:
        """Raise if ``n`` synapses cannot be placed between the populations."""
        pairs = n_pre * n_post - (n_post if same and not self.allow_autapses else 0)
        limit = pairs if not self.allow_multapses else (0 if pairs == 0 else None)
        if limit is not None and self.n > limit:
            what = "distinct pairs" if not self.allow_multapses else "pairs"
            raise ValidationError(
                f"'n' must be <= the number of possible {what} ({limit} for "
                f"{n_pre} x {n_post} neurons"
                f"{', no autapses' if same and not self.allow_autapses else ''}); "
                f"got {self.n}."
            )


@dataclass(frozen=True)
class Explicit:
    """Synapses listed one by one.

    Parameters
    ----------
    i, j : array_like of int, shape (n_synapses,)
        Presynaptic and postsynaptic indices (within their populations).
    weight : array_like of float, shape (n_synapses,), optional
        Per-synapse weights; when given they replace the projection's ``weight``.
    delay : array_like of float, shape (n_synapses,), optional
        Per-synapse delays in ms; when given they replace the projection's ``delay``.
    """

    i: Any
    j: Any
    weight: Any = None
    delay: Any = None
    _arrays: dict[str, np.ndarray] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        arrays = {
            "i": np.asarray(self.i),
            "j": np.asarray(self.j),
        }
        for name in ("i", "j"):
            a = arrays[name]
            if a.ndim != 1 or (a.size and not np.issubdtype(a.dtype, np.integer)):
                raise ValidationError(
                    f"{name!r} must be a 1-D array of integer indices; got dtype "
                    f"{a.dtype} and shape {a.shape}."
                )
        if arrays["i"].shape != arrays["j"].shape:
            raise ShapeError(
                f"'i' and 'j' must have the same length; got {arrays['i'].size} "
                f"and {arrays['j'].size}."
            )
        for name in ("weight", "delay"):
            value = getattr(self, name)
            if value is None:
                continue
            a = np.asarray(value, dtype=np.float64)
            if a.shape != arrays["i"].shape:
                raise ShapeError(
                    f"{name!r} must have one value per synapse "
                    f"({arrays['i'].size}); got shape {a.shape}."
                )
            if not np.all(np.isfinite(a)):
                raise ValidationError(f"{name!r} must be finite; got NaN or inf.")
            arrays[name] = a
        self._arrays.update(arrays)

    def array(self, name: str) -> np.ndarray | None:
        """Return the validated array ``name`` (``"i"``, ``"j"``, ``"weight"``, ...)."""
        return self._arrays.get(name)


Rule = FixedProbability | FixedInDegree | FixedTotalNumber | Explicit


_BLOCK = 1 << 18  # gaps converted to (pre, post) at a time, to bound memory


def _fixed_probability(
    rule: FixedProbability, n_pre: int, n_post: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    # Bernoulli process over the flattened n_pre x n_post matrix: geometric gaps
    # between successes give the sorted positions of the synapses directly. Gaps
    # are drawn in rounds of about the expected count (the draws, hence the
    # network, depend only on the seed) and turned into small-integer (pre, post)
    # pairs a block at a time.
    total = n_pre * n_post
    p = float(rule.p)
    idx_t = np.int32 if max(n_pre, n_post) < 2**31 - 1 else np.int64
    if p == 0.0 or total == 0:
        return np.zeros(0, idx_t), np.zeros(0, idx_t)
    pres: list[np.ndarray] = []
    posts: list[np.ndarray] = []

    def keep(pos: np.ndarray) -> None:
        pre, post = np.divmod(pos, n_post)
        pres.append(pre.astype(idx_t))
        posts.append(post.astype(idx_t))

    if p == 1.0:
        for start in range(0, total, _BLOCK):
            keep(np.arange(start, min(start + _BLOCK, total), dtype=np.int64))
    else:
        last = -1
        expected = total * p
        done = False
        while not done:
            size = int(expected * 1.05 + 10 * np.sqrt(expected) + 100)
            for start in range(0, size, _BLOCK):
                gaps = rng.geometric(p, size=min(_BLOCK, size - start))
                if done:
                    continue  # draw the round to its end: same stream as one call
                pos = last + np.cumsum(gaps, dtype=np.int64)
                if pos[-1] >= total:
                    pos = pos[pos < total]
                    done = True
                if pos.size:
                    keep(pos)
                    last = int(pos[-1])
    if not pres:
        return np.zeros(0, idx_t), np.zeros(0, idx_t)
    return np.concatenate(pres), np.concatenate(posts)


def _fixed_in_degree(
    rule: FixedInDegree, n_pre: int, n_post: int, rng: np.random.Generator, same: bool
) -> tuple[np.ndarray, np.ndarray]:
    k = rule.k
    avail = n_pre - (1 if same and not rule.allow_autapses else 0)
    if k > avail:
        raise ValidationError(
            f"'k' must be <= the number of available presynaptic neurons ({avail}); "
            f"got {k}."
        )
    pres = np.empty((n_post, k), dtype=np.int64)
    for j in range(n_post):
        if same and not rule.allow_autapses:
            draw = rng.choice(n_pre - 1, size=k, replace=False)
            draw[draw >= j] += 1
        else:
            draw = rng.choice(n_pre, size=k, replace=False)
        pres[j] = draw
    post = np.repeat(np.arange(n_post, dtype=np.int64), k)
    pre = pres.reshape(-1)
    return pre, post


def connect(
    rule: Rule,
    n_pre: int,
    n_post: int,
    rng: np.random.Generator,
    *,
    same_population: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw the synapses of ``rule``.

    Parameters
    ----------
    rule : FixedProbability, FixedInDegree, FixedTotalNumber or Explicit
    n_pre, n_post : int
        Population sizes.
    rng : numpy.random.Generator
    same_population : bool
        Whether pre and post are one population (autapses are then possible).

    Returns
    -------
    pre, post : ndarray of int64, shape (n_synapses,)
        Sorted by ``pre``, then ``post``.
    order : ndarray of int64, shape (n_synapses,)
        For :class:`Explicit`, the permutation that sorts the given synapses (so
        per-synapse weights and delays can follow); ``arange`` otherwise.
    """
    if isinstance(rule, FixedProbability):
        pre, post = _fixed_probability(rule, n_pre, n_post, rng)
        if same_population and not rule.allow_autapses:
            keep = pre != post
            pre, post = pre[keep], post[keep]
        return pre, post, np.arange(pre.size, dtype=np.int64)
    if isinstance(rule, FixedInDegree):
        pre, post = _fixed_in_degree(rule, n_pre, n_post, rng, same_population)
    elif isinstance(rule, FixedTotalNumber):
        from neurodl.simulate._keyed import total_number_block

        rule.check(n_pre, n_post, same_population)
        pre, post = total_number_block(
            rule, n_pre, n_post, 0, n_post, rule.n, rng, same_population
        )
    elif isinstance(rule, Explicit):
        pre = rule.array("i").astype(np.int64)  # type: ignore[union-attr]
        post = rule.array("j").astype(np.int64)  # type: ignore[union-attr]
        for name, idx, n in (("i", pre, n_pre), ("j", post, n_post)):
            if idx.size and (idx.min() < 0 or idx.max() >= n):
                bad = idx[(idx < 0) | (idx >= n)][0]
                raise ValidationError(
                    f"{name!r} indices must lie in [0, {n}); got {int(bad)}."
                )
    else:
        raise ValidationError(
            "'rule' must be FixedProbability, FixedInDegree, FixedTotalNumber or "
            "Explicit; "
            f"got {type(rule).__name__}."
        )
    order = np.lexsort((post, pre)).astype(np.int64)
    return pre[order], post[order], order
