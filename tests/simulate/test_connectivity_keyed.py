"""Keyed connectivity: FixedTotalNumber, Normal weights/delays, restricted builds."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from neurodl.errors import ValidationError
from neurodl.neurons import LIFParams
from neurodl.simulate import (
    CurrentSynapse,
    DeltaSynapse,
    Explicit,
    FixedInDegree,
    FixedProbability,
    FixedTotalNumber,
    Network,
    Normal,
)
from neurodl.simulate._keyed import TARGET_BLOCK

LIF = LIFParams(tau_mem=10.0, v_rest=-65.0, v_th=-50.0, v_reset=-65.0, t_ref=2.0)


def _network(seed: int = 5) -> Network:
    """Three populations straddling target blocks, every random rule."""
    net = Network(dt=0.1, seed=seed)
    a = net.population(2500, LIF)
    b = net.population(700, LIF)
    src = net.spike_source(300, rate=5.0)
    net.connect(
        a,
        a,
        FixedTotalNumber(60_000),
        weight=Normal(1.0, 0.3, low=0.0),
        delay=Normal(1.5, 0.75, low=0.05),
    )
    net.connect(
        b,
        a,
        FixedProbability(0.05),
        weight=Normal(-4.0, 0.4, high=0.0),
        delay=Normal(0.75, 0.375, low=0.05, bound="clip"),
    )
    net.connect(
        a,
        b,
        FixedInDegree(15, allow_autapses=False),
        DeltaSynapse(),
        weight=0.2,
        delay=1.0,
    )
    net.connect(
        b,
        b,
        FixedTotalNumber(5000, allow_autapses=False, allow_multapses=False),
        weight=0.5,
    )
    net.connect(src, b, FixedProbability(0.1), weight=lambda rng, n: rng.random(n))
    net.connect(
        a, b, Explicit(i=[3, 2000, 3, 7], j=[699, 0, 699, 1], delay=[0.2, 0, 0.1, 3])
    )
    return net


def _rows(net: Network) -> dict[int, list[tuple[int, int, float]]]:
    """Each presynaptic row as (target, delay, weight) in CSR order."""
    w = net.global_weights().numpy()
    out = {}
    for r in range(net.n_all):
        lo, hi = net._indptr[r], net._indptr[r + 1]
        out[r] = list(
            zip(
                net._tgt[lo:hi].tolist(),
                net._dly[lo:hi].tolist(),
                w[lo:hi].tolist(),
                strict=True,
            )
        )
    return out


def _lif_of(net: Network) -> np.ndarray:
    """LIF index of every flat synaptic-variable index."""
    out = np.zeros(net.n_g, np.int64)
    for pop, _syn, off in net.channels:
        out[off : off + pop.n] = pop.start + np.arange(pop.n)
    return out


@pytest.mark.parametrize("cuts", [[1], [1024, 2048], [1, 999, 2501, 2600, 3199]])
def test_restricted_builds_are_the_full_build_split(cuts):
    full = _network()
    full.build()
    rows = _rows(full)
    lif = _lif_of(full)
    edges = [0, *cuts, full.n_lif]
    total = 0
    for lo, hi in itertools.pairwise(edges):
        net = _network()
        net._build((lo, hi))
        part = _rows(net)
        total += net.n_synapses
        # each row: exactly the full row's synapses onto [lo, hi), in its order
        for r, row in rows.items():
            assert part[r] == [s for s in row if lo <= lif[s[0]] < hi]
    assert total == full.n_synapses


def test_same_seed_same_network_other_seed_other():
    a, b, c = _network(5), _network(5), _network(6)
    for net in (a, b, c):
        net.build()
    assert np.array_equal(a._tgt, b._tgt) and np.array_equal(a._indptr, b._indptr)
    assert not np.array_equal(a._indptr, c._indptr)


def test_fixed_total_number_counts_and_uniform_endpoints():
    net = Network(dt=0.1, seed=2)
    pre = net.population(300, LIF)
    post = net.population(3000, LIF)
    proj = net.connect(pre, post, FixedTotalNumber(90_000))
    net.build()
    assert proj.n_synapses == 90_000
    # sources and targets uniform: chi-square against equal counts
    for idx, n in ((proj.pre_index, 300), (proj.post_index, 3000)):
        counts = np.bincount(idx, minlength=n)
        assert stats.chisquare(counts).pvalue > 1e-4
    assert np.all(np.diff(proj.pre_index) >= 0)  # CSR order


def test_fixed_total_number_without_multapses_or_autapses():
    net = Network(dt=0.1, seed=3)
    a = net.population(40, LIF)
    proj = net.connect(
        a, a, FixedTotalNumber(1500, allow_autapses=False, allow_multapses=False)
    )
    full = net.connect(
        a, a, FixedTotalNumber(40 * 39, allow_autapses=False, allow_multapses=False)
    )
    net.build()
    pairs = set(zip(proj.pre_index.tolist(), proj.post_index.tolist(), strict=True))
    assert len(pairs) == 1500
    assert not np.any(proj.pre_index == proj.post_index)
    assert full.n_synapses == 40 * 39
    with pytest.raises(ValidationError, match="'n' must be <= the number of possible"):
        net2 = Network(dt=0.1)
        b = net2.population(10, LIF)
        net2.connect(
            b, b, FixedTotalNumber(91, allow_autapses=False, allow_multapses=False)
        )
        net2.build()


def test_fixed_total_number_with_multapses_repeats_pairs():
    # 2000 draws over 100 pairs: the number of distinct pairs follows the
    # occupancy law, E = P (1 - (1 - 1/P)^n)
    net = Network(dt=0.1, seed=4)
    a = net.population(10, LIF)
    proj = net.connect(a, a, FixedTotalNumber(200))
    net.build()
    distinct = len(
        set(zip(proj.pre_index.tolist(), proj.post_index.tolist(), strict=True))
    )
    expected = 100 * (1 - (1 - 1 / 100) ** 200)
    assert abs(distinct - expected) < 5 * math.sqrt(expected * (1 - expected / 100))
    assert distinct < 200


def test_normal_weights_and_delays_follow_the_truncated_normal():
    net = Network(dt=0.1, seed=8)
    a = net.population(2000, LIF)
    exc = net.connect(
        a,
        a,
        FixedTotalNumber(100_000),
        weight=Normal(87.81, 8.781, low=0.0),
        delay=Normal(1.5, 0.75, low=0.05),
    )
    inh = net.connect(
        a, a, FixedTotalNumber(50_000), weight=Normal(-1.0, 2.0, high=0.0)
    )
    clip = net.connect(
        a,
        a,
        FixedTotalNumber(50_000),
        weight=Normal(0.0, 1.0, low=-0.5, high=0.5, bound="clip"),
    )
    net.build()
    w = exc.weight.numpy()
    assert stats.kstest(w, stats.norm(87.81, 8.781).cdf).pvalue > 1e-4
    wi = inh.weight.numpy()
    assert wi.max() <= 0.0
    ref = stats.truncnorm(-np.inf, (0.0 + 1.0) / 2.0, loc=-1.0, scale=2.0)
    assert stats.kstest(wi, ref.cdf).pvalue > 1e-4
    wc = clip.weight.numpy()
    frac = np.mean(wc == 0.5)
    assert abs(frac - stats.norm.sf(0.5)) < 5 * math.sqrt(0.31 * 0.69 / wc.size)
    # delays: redrawn below 0.05 ms, then rounded half up to the 0.1-ms grid
    d = exc.delay_steps
    trunc = stats.truncnorm((0.05 - 1.5) / 0.75, np.inf, loc=1.5, scale=0.75)
    edges = (np.arange(d.max() + 2) - 0.5) * 0.1
    expected = np.diff(trunc.cdf(edges)) * d.size
    observed = np.bincount(d, minlength=edges.size - 1)
    assert d.min() == 1  # 0.05 ms rounds up to one step, never to 0
    keep = expected > 5
    chi = stats.chisquare(
        observed[keep], expected[keep] * observed[keep].sum() / expected[keep].sum()
    )
    assert chi.pvalue > 1e-4


def test_delays_below_one_step_are_errors():
    net = Network(dt=0.1)
    a = net.population(5, LIF)
    with pytest.raises(ValidationError, match=r"'delay' \(FixedProbability\).*0\.05"):
        net.connect(a, a, FixedProbability(0.5), delay=0.05)
    with pytest.raises(ValidationError, match=r"'delay' \(Explicit\).*0\.07"):
        net.connect(a, a, Explicit(i=[0, 1], j=[1, 2], delay=[0.2, 0.07]))
    with pytest.raises(ValidationError, match=r"'delay' \(FixedInDegree\).*low=0\.04"):
        net.connect(a, a, FixedInDegree(2), delay=Normal(1.0, 0.5, low=0.04))
    with pytest.raises(ValidationError, match=r"'delay'.*low=-inf"):
        net.connect(a, a, FixedInDegree(2), delay=Normal(1.0, 0.5))
    net.connect(a, a, FixedProbability(0.5), delay=0.0)  # 0 stays valid
    net.connect(a, a, FixedProbability(0.5), delay=0.1)


def test_normal_rejects_bad_parameters():
    for kwargs, match in (
        ({"mean": math.nan, "sd": 1.0}, "'mean' must be finite"),
        ({"mean": 0.0, "sd": -1.0}, "'sd' must be finite and >= 0"),
        ({"mean": 0.0, "sd": 1.0, "low": 1.0, "high": 1.0}, "'low' must be < 'high'"),
        ({"mean": 0.0, "sd": 1.0, "bound": "wrap"}, "'bound' must be"),
        ({"mean": 0.0, "sd": 1.0, "low": 50.0}, "'redraw' would not end"),
        ({"mean": 0.0, "sd": 0.0, "low": 1.0}, "'redraw' would not end"),
        ({"mean": "1", "sd": 1.0}, "'mean' must be a number"),
    ):
        with pytest.raises(ValidationError, match=match):
            Normal(**kwargs)
    assert np.all(Normal(2.0, 0.0).draw(np.random.default_rng(0), 3) == 2.0)


def test_target_block_is_a_constant():
    assert TARGET_BLOCK == 1024
    net = _network()
    with pytest.raises(ValidationError, match="'targets'"):
        net._build((5, 10**6))


def test_runs_with_normal_weights_on_both_paths():
    def run(backend: str) -> tuple[np.ndarray, np.ndarray]:
        net = Network(dt=0.1, seed=11, backend=backend)
        a = net.population(
            400,
            LIFParams(tau_mem=20.0, v_rest=0.0, v_th=20.0, v_reset=10.0, t_ref=2.0),
            i_ext=25.0,
            v0=("uniform", 0.0, 20.0),
        )
        net.connect(
            a,
            a,
            FixedTotalNumber(8000),
            CurrentSynapse(2.0),
            weight=Normal(0.5, 0.2, low=0.0),
            delay=Normal(1.5, 0.75, low=0.1),
        )
        net.connect(
            a,
            a,
            FixedInDegree(10),
            DeltaSynapse(),
            weight=Normal(-1.0, 0.1, high=0.0),
            delay=0.3,
        )
        mon = net.spike_monitor(a)
        net.run(100.0, progress=False)
        return mon.steps, mon.indices

    s1, i1 = run("numba")
    s2, i2 = run("torch")
    assert s1.size > 100
    np.testing.assert_array_equal(s1, s2)
    np.testing.assert_array_equal(i1, i2)


def test_csr_runs_replace_the_per_synapse_order():
    # each projection keeps, per presynaptic neuron, where its run of the CSR row
    # starts and its length; the per-synapse order (_perm) is derived on demand
    from neurodl.simulate._tables import csr_weights

    net = _network()
    net.build()
    assert net._perm_cache is None  # not built by a build
    w = csr_weights(net, np.float64)
    np.testing.assert_array_equal(w, net.global_weights().numpy())
    seen = np.zeros(net.n_synapses, bool)
    for proj in net.projections:
        slots = proj._slots()
        assert not seen[slots].any()
        seen[slots] = True
        rows = np.searchsorted(net._indptr, slots, side="right") - 1
        np.testing.assert_array_equal(rows - proj.pre.start, proj.pre_index)
        np.testing.assert_array_equal(
            net._perm[slots], proj._offset + np.arange(proj.n_synapses)
        )
    assert seen.all()


def test_distinct_draws_are_uniform_sets():
    from neurodl.simulate._keyed import _distinct

    rng = np.random.default_rng(0)
    hits = np.zeros(50, np.int64)
    for _ in range(2000):
        got = _distinct(rng, 50, 10)
        assert got.size == 10 and np.unique(got).size == 10
        hits[got] += 1
    assert stats.chisquare(hits).pvalue > 1e-4  # each element in 1/5 of the sets
    dense = _distinct(rng, 12, 11)
    assert np.unique(dense).size == 11 and dense.max() < 12
