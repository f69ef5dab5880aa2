"""Plasticity in the spiking engine: STDP rules, adaptive thresholds, normalisation.

Rules (frozen parameter objects, given to :meth:`Network.connect` as
``plasticity=``):

* :class:`STDP`: pair-based STDP with traces (Morrison, Diesmann & Gerstner 2008,
  doi:10.1007/s00422-008-0233-1, eqs. 11-14), all-to-all or nearest-spike,
  additive or multiplicative weight dependence (Guetig, Aharonov, Rotter &
  Sompolinsky 2003, doi:10.1523/JNEUROSCI.23-09-03697.2003);
* :class:`TripletSTDP`: the triplet rule of Pfister & Gerstner (2006),
  doi:10.1523/JNEUROSCI.1425-06.2006, all-to-all or nearest-spike, with the
  parameter sets NEST and NESTML ship (:meth:`TripletSTDP.visual_cortex`).

Both run on the two execution paths (compiled and tensor) with the same
floating-point operations, so in float64 they give identical weights.

Traces are kept per neuron (not per synapse) and decay lazily: a trace stores its
value at the neuron's last spike, and is read at step ``k`` as
``value * decay(k - last)``, with ``decay(m) = lo[m mod 1024] * hi[m // 1024]``
from two small tables of ``exp(-j dt / tau)`` built once with NumPy. Both paths
read the same tables, so neither calls its own ``exp``.

Step order (Brian2's event-driven ``Synapses``, whose ``on_pre`` pathway runs
before ``on_post``): after the threshold, every spike is first propagated with the
weight it had, then for each presynaptic spike the pre traces are updated and
every plastic synapse of the neuron is depressed with the postsynaptic trace; then
for each postsynaptic spike the post traces are updated and every plastic synapse
onto the neuron is potentiated with the presynaptic trace. A pre and a post spike
in the same step therefore count as ``t_post - t_pre = 0`` (potentiation).

Homeostasis: :class:`AdaptiveThreshold` (``Network.population(...,
adaptation=)``) and :meth:`Projection.normalize
<neurodl.simulate.Projection.normalize>`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from neurodl._validate import check_option, check_positive
from neurodl.errors import ValidationError

if TYPE_CHECKING:
    from neurodl.simulate.network import Network

__all__ = [
    "STDP",
    "AdaptiveThreshold",
    "PlasticState",
    "Plasticity",
    "TorchPlasticity",
    "TripletSTDP",
    "adaptation_vectors",
    "decay_tables",
    "theta_table",
]

TRACES = ("all_to_all", "nearest")
WEIGHT_DEPENDENCES = ("additive", "multiplicative")
_LO = 1024  # entries of the fine decay table (m mod 1024)
_MAX_HI = 1 << 16  # entries of the coarse table at most: tau / dt <= ~90 000


def _check_real(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"{name!r} must be a number; got {value!r}.")
    if math.isnan(value):
        raise ValidationError(f"{name!r} must not be NaN; got {value!r}.")
    return float(value)


def _check_bounds(w_min: float, w_max: float, dependence: str) -> None:
    _check_real("w_min", w_min)
    _check_real("w_max", w_max)
    if not w_min < w_max:
        raise ValidationError(f"'w_min' must be < 'w_max' ({w_max}); got {w_min}.")
    if dependence == "multiplicative" and (w_min != 0.0 or not math.isfinite(w_max)):
        raise ValidationError(
            "'weight_dependence' 'multiplicative' needs w_min = 0 and a finite "
            f"w_max (weights live in [0, w_max]); got w_min {w_min}, w_max {w_max}."
        )


@dataclass(frozen=True)
class STDP:
    """Pair-based STDP with traces (Morrison, Diesmann & Gerstner 2008).

    Each presynaptic neuron keeps a trace ``x`` (time constant ``tau_plus``), each
    postsynaptic neuron a trace ``y`` (``tau_minus``); a spike sets ``x <- x + 1``
    (``trace="all_to_all"``: every pair counts) or ``x <- 1`` (``"nearest"``:
    symmetric nearest-spike pairing, MDG 2008 Fig. 7B, NEST's
    ``stdp_nn_symm_synapse``). On a presynaptic spike ``w <- w - F_-(w) y``, on a
    postsynaptic spike ``w <- w + F_+(w) x``, then ``w`` is clipped to
    ``[w_min, w_max]``. For one pair at ``dt_s = t_post - t_pre`` this is the
    window ``a_plus exp(-dt_s / tau_plus)`` (``dt_s >= 0``) and
    ``-a_minus exp(dt_s / tau_minus)`` (``dt_s < 0``).

    Weight dependence (Guetig et al. 2003; MDG 2008 eqs. 15-16 with
    ``a_plus = lambda w_max``, ``a_minus = alpha lambda w_max``):

    * ``"additive"``: ``F_+ = a_plus``, ``F_- = a_minus`` (Song, Miller & Abbott
      2000; bimodal weights, needs the bounds);
    * ``"multiplicative"``: ``F_+ = a_plus (1 - w / w_max)^mu_plus``,
      ``F_- = a_minus (w / w_max)^mu_minus`` (``mu = 1``: van Rossum et al. 2000;
      ``0 < mu < 1``: Guetig's intermediate rule; unimodal weights).

    Parameters
    ----------
    a_plus, a_minus : float
        Amplitudes (>= 0) in weight units (mV for current synapses).
    tau_plus, tau_minus : float
        Trace time constants in ms (> 0).
    w_min, w_max : float
        Hard bounds (``w_min < w_max``; infinite allowed for additive).
    trace : {"all_to_all", "nearest"}
    weight_dependence : {"additive", "multiplicative"}
    mu_plus, mu_minus : float
        Exponents of the multiplicative dependence (>= 0).

    Examples
    --------
    Brian2's ``examples/synapses/STDP.py`` (Song et al. 2000), weights in mV:

    >>> gmax = 0.01 * 60.0  # g_max times the driving force (Ee - vr) = 60 mV
    >>> rule = STDP(a_plus=0.01 * gmax, a_minus=0.0105 * gmax, w_max=gmax)
    >>> rule.window(10.0) > 0 > rule.window(-10.0)
    True
    """

    a_plus: float = 0.01
    a_minus: float = 0.0105
    tau_plus: float = 20.0
    tau_minus: float = 20.0
    w_min: float = 0.0
    w_max: float = 1.0
    trace: str = "all_to_all"
    weight_dependence: str = "additive"
    mu_plus: float = 1.0
    mu_minus: float = 1.0

    def __post_init__(self) -> None:
        check_positive("a_plus", self.a_plus, strict=False)
        check_positive("a_minus", self.a_minus, strict=False)
        check_positive("tau_plus", self.tau_plus)
        check_positive("tau_minus", self.tau_minus)
        check_option("trace", self.trace, TRACES)
        check_option("weight_dependence", self.weight_dependence, WEIGHT_DEPENDENCES)
        check_positive("mu_plus", self.mu_plus, strict=False)
        check_positive("mu_minus", self.mu_minus, strict=False)
        _check_bounds(self.w_min, self.w_max, self.weight_dependence)

    def window(self, dt_s: float) -> float:
        """Additive weight change for one pair at ``dt_s = t_post - t_pre`` (ms)."""
        if dt_s >= 0:
            return self.a_plus * math.exp(-dt_s / self.tau_plus)
        return -self.a_minus * math.exp(dt_s / self.tau_minus)

    def _kernel(self) -> tuple[list[float], list[int], list[float]]:
        taus = [self.tau_plus, self.tau_plus, self.tau_minus, self.tau_minus]
        f = [self.a_plus, 0.0, self.a_minus, 0.0, self.w_min, self.w_max]
        f += [self.mu_plus, self.mu_minus]
        flags = [
            int(self.trace == "nearest"),
            int(self.weight_dependence == "multiplicative"),
            0,
        ]
        return f, flags, taus


@dataclass(frozen=True)
class TripletSTDP:
    """Triplet STDP (Pfister & Gerstner 2006), all-to-all or nearest-spike.

    Presynaptic traces ``r1`` (``tau_plus``), ``r2`` (``tau_x``); postsynaptic
    ``o1`` (``tau_minus``), ``o2`` (``tau_y``). On a presynaptic spike
    ``w <- w - o1 (a2_minus + a3_minus r2(t - eps))`` and then ``r1, r2`` jump; on
    a postsynaptic spike ``w <- w + r1 (a2_plus + a3_plus o2(t - eps))`` and then
    ``o1, o2`` jump (``t - eps``: the value before the current spike's jump). A
    jump is ``+1`` (``"all_to_all"``) or a reset to 1 (``"nearest"``, P&G's
    nearest-spike model). ``a3_plus = a3_minus = 0`` is pair STDP. Weights are
    clipped to ``[w_min, w_max]``; the weight dependence multiplies the two
    updates as in :class:`STDP`.

    Parameters
    ----------
    a2_plus, a3_plus, a2_minus, a3_minus : float
        Amplitudes (>= 0), in weight units.
    tau_plus, tau_x, tau_minus, tau_y : float
        Trace time constants in ms (> 0). Defaults: P&G 2006's visual-cortex
        fit, as NEST and NESTML ship it (16.8, 101, 33.7, 125 ms).
    w_min, w_max, trace, weight_dependence, mu_plus, mu_minus
        As in :class:`STDP`.
    """

    a2_plus: float = 5e-10
    a3_plus: float = 6.2e-3
    a2_minus: float = 7e-3
    a3_minus: float = 2.3e-4
    tau_plus: float = 16.8
    tau_x: float = 101.0
    tau_minus: float = 33.7
    tau_y: float = 125.0
    w_min: float = 0.0
    w_max: float = 1.0
    trace: str = "all_to_all"
    weight_dependence: str = "additive"
    mu_plus: float = 1.0
    mu_minus: float = 1.0

    def __post_init__(self) -> None:
        for name in ("a2_plus", "a3_plus", "a2_minus", "a3_minus"):
            check_positive(name, getattr(self, name), strict=False)
        for name in ("tau_plus", "tau_x", "tau_minus", "tau_y"):
            check_positive(name, getattr(self, name))
        check_option("trace", self.trace, TRACES)
        check_option("weight_dependence", self.weight_dependence, WEIGHT_DEPENDENCES)
        check_positive("mu_plus", self.mu_plus, strict=False)
        check_positive("mu_minus", self.mu_minus, strict=False)
        _check_bounds(self.w_min, self.w_max, self.weight_dependence)

    @classmethod
    def visual_cortex(
        cls, trace: str = "all_to_all", *, w_min: float = 0.0, w_max: float = 1.0
    ) -> TripletSTDP:
        """P&G 2006's minimal visual-cortex models, with NEST's and NESTML's numbers.

        ``"all_to_all"``: NEST's ``stdp_triplet_synapse`` example (Aplus 5e-10,
        Aplus_triplet 6.2e-3, Aminus 7e-3, Aminus_triplet 2.3e-4); ``"nearest"``:
        NESTML's ``stdp_triplet_nn`` (7.5e-10, 9.3e-3, 7e-3, 2.3e-4). Both with
        tau_plus 16.8, tau_x 101, tau_minus 33.7, tau_y 125 ms.
        """
        check_option("trace", trace, TRACES)
        if trace == "nearest":
            return cls(7.5e-10, 9.3e-3, 7e-3, 2.3e-4, w_min=w_min, w_max=w_max,
                       trace="nearest")  # fmt: skip
        return cls(w_min=w_min, w_max=w_max)

    def _kernel(self) -> tuple[list[float], list[int], list[float]]:
        taus = [self.tau_plus, self.tau_x, self.tau_minus, self.tau_y]
        f = [self.a2_plus, self.a3_plus, self.a2_minus, self.a3_minus]
        f += [self.w_min, self.w_max, self.mu_plus, self.mu_minus]
        flags = [
            int(self.trace == "nearest"),
            int(self.weight_dependence == "multiplicative"),
            1,
        ]
        return f, flags, taus


Plasticity = STDP | TripletSTDP


@dataclass(frozen=True)
class AdaptiveThreshold:
    """Adaptive threshold (homeostasis; Diehl & Cook 2015).

    Diehl & Cook 2015, doi:10.3389/fncom.2015.00099.

    Each neuron spikes when ``v >= v_th + theta``; ``theta`` decays as
    ``tau dtheta/dt = -theta`` (exactly: ``theta <- theta exp(-dt/tau)`` each
    step, with the membrane integration) and jumps by ``a`` at each of the
    neuron's spikes (with the reset). ``theta`` persists across
    :meth:`Network.reset` (like weights, it is learned state).

    Parameters
    ----------
    a : float
        Increase per spike in mV (>= 0; Diehl & Cook: 0.05 mV).
    tau : float
        Decay time constant in ms (> 0; Diehl & Cook: 1e7 ms).
    theta0 : float
        Initial ``theta`` in mV (>= 0, so ``theta`` never falls below 0 and a
        refractory neuron, held at ``v_reset < v_th``, cannot spike).
    """

    a: float = 0.05
    tau: float = 1e7
    theta0: float = 0.0

    def __post_init__(self) -> None:
        check_positive("a", self.a, strict=False)
        check_positive("tau", self.tau)
        check_positive("theta0", self.theta0, strict=False)


# ----------------------------------------------------------------- kernel tables
def theta_table(net: Network, np_dtype: Any) -> np.ndarray:
    """Per population: (adaptive?, jump a, decay per step) for the compiled path."""
    out = np.zeros((len(net.populations), 3), np_dtype)
    for p_i, pop in enumerate(net.populations):
        if pop.adaptation is not None:
            ad = pop.adaptation
            out[p_i] = [1.0, ad.a, math.exp(-net.dt / ad.tau)]
    return out


def adaptation_vectors(net: Network) -> tuple[Tensor, Tensor] | None:
    """Per-neuron (jump, decay) of the adaptive thresholds; None if there are none."""
    if all(p.adaptation is None for p in net.populations):
        return None
    jump = np.zeros(net.n_lif)
    decay = np.ones(net.n_lif)
    for pop in net.populations:
        if pop.adaptation is not None:
            jump[pop.start : pop.start + pop.n] = pop.adaptation.a
            decay[pop.start : pop.start + pop.n] = math.exp(
                -net.dt / pop.adaptation.tau
            )
    return (
        torch.as_tensor(jump, dtype=net.dtype, device=net.device),
        torch.as_tensor(decay, dtype=net.dtype, device=net.device),
    )


def decay_tables(tau: float, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """``lo[j] = exp(-j dt/tau)`` (j < 1024), ``hi[q] = exp(-1024 q dt/tau)``.

    ``hi`` runs until ``exp`` underflows to 0, so ``decay(m) = lo[m % 1024] *
    hi[min(m // 1024, len(hi) - 1)]`` is exactly 0 beyond it.
    """
    ratio = dt / tau
    n_hi = math.ceil(746.0 / (_LO * ratio)) + 2
    if n_hi > _MAX_HI:
        raise ValidationError(
            f"trace time constant {tau} ms is too long for dt {dt} ms "
            f"(tau / dt must be <= {_MAX_HI * _LO // 746}); got {tau / dt:.0f}."
        )
    lo = np.exp(-np.arange(_LO, dtype=np.float64) * ratio)
    hi = np.exp(-np.arange(n_hi, dtype=np.float64) * (_LO * ratio))
    return lo, hi


def _row_segments(indptr: np.ndarray, syn_rule: np.ndarray) -> tuple[np.ndarray, ...]:
    """Cut each CSR row holding plastic synapses into runs of one rule.

    Returns ``ptr`` (rows + 1,) and ``seg`` (n, 3): ``lo, hi, rule`` of each run
    (rule -1: static synapses), the runs of row ``j`` at ``ptr[j]:ptr[j + 1]``,
    in the row's order and covering it; a row without plastic synapses has none.
    """
    n_rows = indptr.size - 1
    ptr = np.zeros(n_rows + 1, np.int64)
    if not syn_rule.size:
        return ptr, np.zeros((1, 3), np.int64)
    rows = np.repeat(np.arange(n_rows), np.diff(indptr))
    start = np.ones(syn_rule.size, bool)
    start[1:] = (rows[1:] != rows[:-1]) | (syn_rule[1:] != syn_rule[:-1])
    lo = np.flatnonzero(start)
    hi = np.append(lo[1:], syn_rule.size)
    rule, row = syn_rule[lo].astype(np.int64), rows[lo]
    plastic_row = np.zeros(n_rows, bool)
    plastic_row[row[rule >= 0]] = True
    keep = plastic_row[row]
    np.cumsum(np.bincount(row[keep], minlength=n_rows), out=ptr[1:])
    seg = np.stack([lo[keep], hi[keep], rule[keep]], axis=1).astype(np.int64)
    return ptr, seg if seg.size else np.zeros((1, 3), np.int64)


class PlasticState:
    """Tables and trace state of a network's plastic projections (built once).

    Per rule ``r`` (one per plastic projection): ``rule_f[r]`` = a2+, a3+, a2-,
    a3-, w_min, w_max, mu+, mu-; ``rule_i[r]`` = nearest, multiplicative,
    triplet, pre start (global), pre n, post start (LIF), post n, pre-trace
    offset, post-trace offset, and the post-trace slot of a synapse minus its
    target's flat index (so the kernel reads it off ``tgt``). Per CSR slot:
    ``syn_rule`` (-1: not plastic), ``syn_pre_tr``/``syn_post_tr`` (trace
    slots). ``pre_seg_ptr``/``pre_seg``: each CSR row holding plastic synapses
    cut into runs of one rule (``lo, hi, rule``; rule -1: static synapses),
    covering the row in order; rows without plastic synapses have none.
    ``post_indptr``/``post_syn``: the plastic synapses onto each LIF neuron (CSR
    slots, ascending), with their ``post_rule`` and ``post_pre_tr`` in the same
    order (``post_syn``/``post_pre_tr`` int32 while the table allows: half the
    bytes to stream); ``post_one_rule``: per LIF neuron, the rule of all its
    plastic synapses (-1 if they differ or it has none).
    ``pre_tr``/``post_tr`` (2, n): the two traces at each neuron's last update,
    ``pre_last``/``post_last``: that step. Decay tables ``dec_lo`` (R, 4, 1024),
    ``dec_hi`` (R, 4, H), ``dec_nhi`` (R, 4): traces r1, r2, o1, o2.
    """

    @classmethod
    def empty(cls) -> PlasticState:
        """Return placeholder tables for a network without plasticity."""
        self = cls.__new__(cls)
        self.projections, self.slots, self.local, self.n_rules = [], [], [], 0
        self.rule_f = np.zeros((1, 8))
        self.rule_i = np.zeros((1, 10), np.int64)
        self.syn_rule = np.zeros(0, np.int32)
        self.syn_pre_tr = self.syn_post_tr = np.zeros(0, np.int64)
        self.pre_seg_ptr = np.zeros(1, np.int64)
        self.pre_seg = np.zeros((1, 3), np.int64)
        self.post_indptr = np.zeros(1, np.int64)
        self.post_syn = self.post_pre_tr = np.zeros(1, np.int32)
        self.post_rule = np.zeros(1, np.int32)
        self.post_one_rule = np.zeros(1, np.int32)
        self.pre_tr = self.post_tr = np.zeros((2, 1))
        self.pre_last = self.post_last = np.zeros(1, np.int64)
        self.dec_lo = np.zeros((1, 4, _LO))
        self.dec_hi = np.zeros((1, 4, 1))
        self.dec_nhi = np.ones((1, 4), np.int64)
        return self

    def __init__(self, net: Network) -> None:
        projs = [p for p in net.projections if p.plasticity is not None]
        self.projections = projs
        n_rules = len(projs)
        n_syn = int(net._tgt.size)
        self.rule_f = np.zeros((max(n_rules, 1), 8))
        self.rule_i = np.zeros((max(n_rules, 1), 10), np.int64)
        self.syn_rule = np.full(n_syn if n_rules else 0, -1, np.int32)
        self.syn_pre_tr = np.zeros(n_syn if n_rules else 0, np.int64)
        self.syn_post_tr = np.zeros(n_syn if n_rules else 0, np.int64)
        tables: list[list[tuple[np.ndarray, np.ndarray]]] = []
        self.slots: list[np.ndarray] = []
        self.local: list[tuple[np.ndarray, np.ndarray]] = []  # pre, post indices
        offsets = {(p.index, syn): off for p, syn, off in net.channels}
        ch_offset = {p: offsets[(p.post.index, p.synapse)] for p in projs}
        pre_off = post_off = 0
        post_lists = []
        for r, proj in enumerate(projs):
            assert proj.plasticity is not None
            f, flags, taus = proj.plasticity._kernel()
            slots = proj._slots()
            self.slots.append(slots)
            pre_l = np.searchsorted(net._indptr, slots, side="right") - 1
            pre_l -= proj.pre.start
            post_l = net._tgt[slots].astype(np.int64) - ch_offset[proj]
            self.local.append((pre_l, post_l))
            self.rule_f[r] = f
            self.rule_i[r] = [
                *flags,
                proj.pre.start,
                proj.pre.n,
                proj.post.start,
                proj.post.n,
                pre_off,
                post_off,
                post_off - ch_offset[proj],
            ]
            self.syn_rule[slots] = r
            self.syn_pre_tr[slots] = pre_off + pre_l
            self.syn_post_tr[slots] = post_off + post_l
            post_lists.append((proj.post.start + post_l, slots))
            pre_off += proj.pre.n
            post_off += proj.post.n
            tables.append([decay_tables(t, net.dt) for t in taus])
        self.n_rules = n_rules
        # plastic synapses onto each LIF neuron, CSR slots ascending
        if post_lists:
            tgt = np.concatenate([t for t, _ in post_lists])
            sl = np.concatenate([s for _, s in post_lists])
            order = np.lexsort((sl, tgt))
            self.post_syn = sl[order].astype(np.int64)
            counts = np.bincount(tgt, minlength=net.n_lif)
        else:
            self.post_syn = np.zeros(0, np.int64)
            counts = np.zeros(net.n_lif, np.int64)
        # CSC-ordered copies: the post-spike loop reads them sequentially
        self.post_pre_tr = self.syn_pre_tr[self.post_syn]
        self.post_rule = self.syn_rule[self.post_syn]
        small = max(n_syn, pre_off) < 2**31
        self.post_syn = self.post_syn.astype(np.int32 if small else np.int64)
        self.post_pre_tr = self.post_pre_tr.astype(np.int32 if small else np.int64)
        self.pre_seg_ptr, self.pre_seg = _row_segments(net._indptr, self.syn_rule)
        self.post_indptr = np.zeros(net.n_lif + 1, np.int64)
        np.cumsum(counts, out=self.post_indptr[1:])
        # per neuron: the rule of all its plastic synapses, -1 if they differ
        self.post_one_rule = np.full(net.n_lif, -1, np.int32)
        if self.post_rule.size:
            first = self.post_rule[
                np.minimum(self.post_indptr[:-1], self.post_rule.size - 1)
            ]
            same = np.ones(net.n_lif, bool)
            owner = np.repeat(np.arange(net.n_lif), counts)
            np.logical_and.at(same, owner, self.post_rule == first[owner])
            self.post_one_rule[same & (counts > 0)] = first[same & (counts > 0)]
        n_hi = max((len(h) for tab in tables for _, h in tab), default=1)
        self.dec_lo = np.zeros((max(n_rules, 1), 4, _LO))
        self.dec_hi = np.zeros((max(n_rules, 1), 4, n_hi))
        self.dec_nhi = np.ones((max(n_rules, 1), 4), np.int64)
        for r, tab in enumerate(tables):
            for c, (lo, hi) in enumerate(tab):
                self.dec_lo[r, c] = lo
                self.dec_hi[r, c, : hi.size] = hi
                self.dec_nhi[r, c] = hi.size
        self.pre_tr = np.zeros((2, max(pre_off, 1)))
        self.post_tr = np.zeros((2, max(post_off, 1)))
        self.pre_last = np.zeros(max(pre_off, 1), np.int64)
        self.post_last = np.zeros(max(post_off, 1), np.int64)

    def kernel_args(self, np_dtype: Any) -> tuple[Any, ...]:
        """Return the compiled kernel's plasticity arguments (run_chunk's order)."""
        return (
            self.n_rules,
            self.rule_f,
            self.rule_i,
            self.pre_seg_ptr,
            self.pre_seg,
            self.post_rule,
            self.post_one_rule,
            self.post_indptr,
            self.post_syn,
            self.post_pre_tr,
            self.pre_tr,
            self.pre_last,
            self.post_tr,
            self.post_last,
            self.dec_lo.reshape(-1, self.dec_lo.shape[2]),
            self.dec_hi.reshape(-1, self.dec_hi.shape[2]),
            self.dec_nhi.reshape(-1),
            np.zeros(self.rule_f.shape[0]),
            np.zeros(max(int(np.diff(self.post_indptr).max(initial=0)), 1), np_dtype),
        )

    def reset(self) -> None:
        """Traces back to zero (time 0)."""
        self.pre_tr[:] = 0.0
        self.post_tr[:] = 0.0
        self.pre_last[:] = 0
        self.post_last[:] = 0


# ------------------------------------------------------------------ tensor path
class TorchPlasticity:
    """The STDP updates of the tensor path (batch 1), in the compiled kernel's order.

    ``wf``: the network's weights in CSR order (updated in place); ``copies``:
    other tensors holding the plastic synapses (``(tensor, position of each CSR
    slot in it)``), kept equal to ``wf``. Traces live in tensors during the run and
    go back to ``state`` with :meth:`finish`.
    """

    def __init__(
        self,
        state: PlasticState,
        net: Network,
        wf: Tensor,
        copies: list[tuple[Tensor, Tensor]],
    ) -> None:
        dev = net.device
        self.state, self.net, self.wf, self.copies = state, net, wf, copies

        def tt(a: np.ndarray) -> Tensor:
            if a.dtype == np.float64:
                return torch.as_tensor(a, dtype=net.dtype, device=dev)
            return torch.as_tensor(a, device=dev)

        self.pre_tr, self.post_tr = tt(state.pre_tr.copy()), tt(state.post_tr.copy())
        self.pre_last = tt(state.pre_last.copy())
        self.post_last = tt(state.post_last.copy())
        self.syn_pre_tr, self.syn_post_tr = tt(state.syn_pre_tr), tt(state.syn_post_tr)
        has_in = np.diff(state.post_indptr) > 0
        self.rules: list[dict[str, Any]] = []
        for r, (proj, slots) in enumerate(
            zip(state.projections, state.slots, strict=True)
        ):
            ri, rf = state.rule_i[r], state.rule_f[r]
            pre_l, post_l = state.local[r]
            order = np.argsort(slots, kind="stable")
            by_pre, pre_sorted = slots[order], pre_l[order]  # CSR rows: pre sorted
            order = np.lexsort((slots, post_l))
            by_post = slots[order]
            self.rules.append(
                {
                    "nearest": bool(ri[0]),
                    "mult": bool(ri[1]),
                    "triplet": bool(ri[2]),
                    "pre": (int(ri[3]), int(ri[4]), int(ri[7])),
                    "post": (int(ri[5]), int(ri[6]), int(ri[8])),
                    "f": [float(x) for x in rf],
                    "pre_slots": tt(by_pre.astype(np.int64)),
                    "pre_indptr": tt(
                        np.searchsorted(pre_sorted, np.arange(proj.pre.n + 1))
                    ),
                    "post_slots": tt(by_post.astype(np.int64)),
                    "post_indptr": tt(
                        np.searchsorted(post_l[order], np.arange(proj.post.n + 1))
                    ),
                    "has_in": tt(has_in[ri[5] : ri[5] + ri[6]]),
                    "lo": [tt(state.dec_lo[r, c]) for c in range(4)],
                    "hi": [
                        tt(state.dec_hi[r, c, : state.dec_nhi[r, c]]) for c in range(4)
                    ],
                }
            )

    @staticmethod
    def _decay(rule: dict[str, Any], c: int, m: Tensor) -> Tensor:
        hi = rule["hi"][c]
        return rule["lo"][c][m & (_LO - 1)] * hi[(m >> 10).clamp(max=hi.numel() - 1)]

    def _jump(
        self, rule: dict[str, Any], side: int, idx: Tensor, k: int
    ) -> Tensor | None:
        """Update the traces of neurons ``idx`` (local); return the second's before."""
        tr, last = (self.pre_tr, self.pre_last) if side == 0 else (
            self.post_tr, self.post_last)  # fmt: skip
        t = (rule["pre"] if side == 0 else rule["post"])[2] + idx
        m = k - last[t]
        before = None
        ones = torch.ones(t.numel(), dtype=tr.dtype, device=tr.device)
        if rule["triplet"]:
            before = tr[1, t] * self._decay(rule, 2 * side + 1, m)
            tr[1, t] = ones if rule["nearest"] else before + 1.0
        d1 = self._decay(rule, 2 * side, m)
        tr[0, t] = ones if rule["nearest"] else tr[0, t] * d1 + 1.0
        last[t] = k
        return before

    def _write(self, slots: Tensor, wv: Tensor) -> None:
        self.wf[slots] = wv
        for tensor, pos in self.copies:
            # pos is -1 for slots not in this copy (another delay group): a
            # plain ``tensor[pos[slots]]`` would write them into its last element
            at = pos[slots]
            mine = at >= 0
            tensor[at[mine]] = wv[mine]

    def step(self, k: int, z_all: Tensor, fired: Tensor) -> None:
        """Depress (pre spikes), then potentiate (post spikes) at step ``k``."""
        from neurodl.simulate._torch_engine import expand_events

        for rule in self.rules:
            a2p, a3p, a2m, a3m, w_min, w_max, mu_p, mu_m = rule["f"]
            start, n, _ = rule["pre"]
            zpre = z_all[:, start : start + n]
            jj = torch.nonzero(zpre[0]).reshape(-1)
            if jj.numel():
                before = self._jump(rule, 0, jj, k)
                _, rep, pos = expand_events(zpre, rule["pre_indptr"])
                if pos.numel():
                    slots = rule["pre_slots"][pos]
                    pt = self.syn_post_tr[slots]
                    o1 = self.post_tr[0, pt] * self._decay(
                        rule, 2, k - self.post_last[pt]
                    )
                    if rule["triplet"]:
                        scr = torch.zeros(n, dtype=o1.dtype, device=o1.device)
                        assert before is not None
                        scr[jj] = before
                        dw = o1 * (a2m + a3m * scr[rep])
                    else:
                        dw = o1 * a2m
                    wv = self.wf[slots]
                    if rule["mult"]:
                        x = wv / w_max
                        wv = wv - dw * (x if mu_m == 1.0 else x**mu_m)
                    else:
                        wv = wv - dw
                    self._write(slots, wv.clamp(w_min, w_max))
            start, n, _ = rule["post"]
            zpost = fired[:, start : start + n] & rule["has_in"]
            ii = torch.nonzero(zpost[0]).reshape(-1)
            if not ii.numel():
                continue
            before = self._jump(rule, 1, ii, k)
            _, rep, pos = expand_events(zpost, rule["post_indptr"])
            if not pos.numel():
                continue
            slots = rule["post_slots"][pos]
            pt = self.syn_pre_tr[slots]
            r1 = self.pre_tr[0, pt] * self._decay(rule, 0, k - self.pre_last[pt])
            if rule["triplet"]:
                scr = torch.zeros(n, dtype=r1.dtype, device=r1.device)
                assert before is not None
                scr[ii] = before
                dw = r1 * (a2p + a3p * scr[rep])
            else:
                dw = r1 * a2p
            wv = self.wf[slots]
            if rule["mult"]:
                x = 1.0 - wv / w_max
                wv = wv + dw * (x if mu_p == 1.0 else x**mu_p)
            else:
                wv = wv + dw
            self._write(slots, wv.clamp(w_min, w_max))

    def finish(self) -> None:
        """Traces back into the state; learned weights into the projections."""
        st = self.state
        st.pre_tr[:] = self.pre_tr.cpu().numpy()
        st.post_tr[:] = self.post_tr.cpu().numpy()
        st.pre_last[:] = self.pre_last.cpu().numpy()
        st.post_last[:] = self.post_last.cpu().numpy()
        with torch.no_grad():
            for proj, slots in zip(st.projections, st.slots, strict=True):
                idx = torch.as_tensor(slots, device=self.wf.device)
                proj.weight.copy_(self.wf[idx].to(proj.weight.dtype))
