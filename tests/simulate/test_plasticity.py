"""STDP, triplet STDP, adaptive thresholds and normalisation in the spiking engine.

Every weight change is checked against its closed form (Morrison, Diesmann &
Gerstner 2008 eqs. 11-16; Pfister & Gerstner 2006 eqs. 2-5; Guetig et al. 2003) on
both execution paths, and the paths against each other in float64.
"""

import math

import numpy as np
import pytest
import torch

from neurodl.errors import ValidationError
from neurodl.neurons.lif import LIFParams
from neurodl.simulate import (
    STDP,
    AdaptiveThreshold,
    CurrentSynapse,
    Explicit,
    FixedProbability,
    Network,
    TripletSTDP,
)
from neurodl.simulate.plasticity import decay_tables

BACKENDS = ["numba", "torch"]
DT = 0.1
W0 = 0.5


def run_patterns(pre_times, post_times, rule, backend, w0=W0, dt=DT):
    """One synapse per pattern: pre spikes at ``pre_times[n]``, post ``post_times[n]``.

    The postsynaptic neuron ``n`` is forced to spike: a driver spikes one step
    before each wanted post spike through a current synapse with ``tau = dt``
    (Euler: the synaptic variable decays to exactly 0 after one step), 1e4 mV
    strong. The plastic synapse (``w0`` of order 1 mV) cannot make it spike.
    Returns the weight changes and the post spike times per pattern.
    """
    n = len(pre_times)
    net = Network(dt=dt, backend=backend)
    pi = [k for k, ts in enumerate(pre_times) for _ in ts]
    di = [k for k, ts in enumerate(post_times) for _ in ts]
    pre = net.spike_source(n, times=[t for ts in pre_times for t in ts], indices=pi)
    drv = net.spike_source(
        n, times=[t - dt for ts in post_times for t in ts], indices=di
    )
    p = LIFParams(tau_mem=10.0, v_rest=-70.0, v_th=-50.0, v_reset=-70.0, t_ref=0.0)
    post = net.population(n, p, method="euler")
    one = Explicit(np.arange(n), np.arange(n))
    net.connect(drv, post, one, CurrentSynapse(dt), weight=1e4)
    proj = net.connect(pre, post, one, CurrentSynapse(5.0), weight=w0, plasticity=rule)
    mon = net.spike_monitor(post)
    t_end = max(t for ts in [*pre_times, *post_times] for t in ts) + 5.0
    net.run(round(t_end / dt) * dt, progress=False)
    times = [np.round(mon.times[mon.indices == k], 9) for k in range(n)]
    return proj.weight.detach().numpy() - w0, times


@pytest.mark.parametrize("backend", BACKENDS)
def test_pair_stdp_equals_the_analytic_window(backend):
    # MDG 2008 eq. 11-14 with all-to-all traces; for one pair the trace
    # implementation is the window a+ e^{-dt/tau+} (dt = t_post - t_pre >= 0),
    # -a- e^{dt/tau-} (dt < 0), Bi & Poo's tau+ 16.8, tau- 33.7 ms.
    rule = STDP(
        a_plus=0.01, a_minus=0.012, tau_plus=16.8, tau_minus=33.7, w_min=-5, w_max=5
    )
    lags = np.concatenate([-np.arange(1, 101), np.arange(1, 101)]).astype(float)
    t_pre = [5.0 + max(-d, 0.0) for d in lags]
    t_post = [t + d for t, d in zip(t_pre, lags, strict=True)]
    dw, times = run_patterns([[t] for t in t_pre], [[t] for t in t_post], rule, backend)
    for t, ts in zip(t_post, times, strict=True):
        assert ts.tolist() == [round(t, 9)]
    expected = np.array([rule.window(d) for d in lags])
    assert expected[:100].max() < 0 < expected[100:].min()
    np.testing.assert_allclose(dw, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_simultaneous_spikes_potentiate_like_brian2(backend):
    # Brian2 runs on_pre before on_post: a pre and a post spike in the same step
    # first depress with the old post trace (0), then potentiate by a+ (checked
    # with Brian2 2.9.0: w 0 -> 1 for dApre = 1, dApost = -1).
    dw, _ = run_patterns([[20.0]], [[20.0]], STDP(w_min=-1.0), backend)
    assert dw[0] == pytest.approx(0.01, abs=1e-15)


@pytest.mark.parametrize("backend", BACKENDS)
def test_nearest_and_all_to_all_differ_as_the_closed_forms_say(backend):
    # pre-pre-post (5, 15 -> 25 ms), post-post-pre (5, 15 -> 25), pre-post-pre
    # (5 -> 15 -> 25). All-to-all sums every pair; nearest-spike (traces reset
    # to 1) pairs each spike with the latest one of the other side only.
    tp, tm, ap, am = 16.8, 33.7, 0.01, 0.012
    pre = [[5.0, 15.0], [25.0], [5.0, 25.0]]
    post = [[25.0], [5.0, 15.0], [15.0]]
    e = math.exp
    all_to_all = [
        ap * (e(-20 / tp) + e(-10 / tp)),
        -am * (e(-20 / tm) + e(-10 / tm)),
        ap * e(-10 / tp) - am * e(-10 / tm),
    ]
    nearest = [ap * e(-10 / tp), -am * e(-10 / tm), ap * e(-10 / tp) - am * e(-10 / tm)]
    for trace, want in (("all_to_all", all_to_all), ("nearest", nearest)):
        rule = STDP(ap, am, tp, tm, w_min=-5.0, w_max=5.0, trace=trace)
        dw, _ = run_patterns(pre, post, rule, backend)
        np.testing.assert_allclose(dw, want, rtol=0, atol=1e-12)
    assert abs(all_to_all[0] - nearest[0]) > 1e-3


TRIPLET = {"a2_plus": 5e-3, "a3_plus": 6.2e-3, "a2_minus": 7e-3, "a3_minus": 2.3e-3}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("trace", ["all_to_all", "nearest"])
def test_triplet_rule_equals_its_closed_form(backend, trace):
    # Pfister & Gerstner 2006 eqs. 2-5: a post spike adds r1 (A2+ + A3+ o2(t-e)),
    # a pre spike subtracts o1 (A2- + A3- r2(t-e)). Patterns (ms):
    # pre-post-post 0 | 10, 30; post-pre-post 0, 30 | 10 (post 0 and 30, pre 10);
    # pre-post-pre 0, 30 | 10; pre-post-post-post 0 | 10, 20, 30 (all-to-all
    # and nearest differ only here: o2 holds one or two earlier posts).
    r = TripletSTDP(**TRIPLET, w_min=-5.0, w_max=5.0, trace=trace)
    a2p, a3p, a2m, a3m = TRIPLET.values()
    tp, tx, tm, ty = r.tau_plus, r.tau_x, r.tau_minus, r.tau_y
    e = math.exp
    pre = [[0.0], [10.0], [0.0, 30.0], [0.0]]
    post = [[10.0, 30.0], [0.0, 30.0], [10.0], [10.0, 20.0, 30.0]]
    o2_last = e(-10 / ty) + (e(-20 / ty) if trace == "all_to_all" else 0.0)
    want = [
        e(-10 / tp) * a2p + e(-30 / tp) * (a2p + a3p * e(-20 / ty)),
        -e(-10 / tm) * a2m + e(-20 / tp) * (a2p + a3p * e(-30 / ty)),
        e(-10 / tp) * a2p - e(-20 / tm) * (a2m + a3m * e(-30 / tx)),
        e(-10 / tp) * a2p
        + e(-20 / tp) * (a2p + a3p * e(-10 / ty))
        + e(-30 / tp) * (a2p + a3p * o2_last),
    ]
    pre = [[t + 5.0 for t in ts] for ts in pre]
    post = [[t + 5.0 for t in ts] for ts in post]
    dw, _ = run_patterns(pre, post, r, backend)
    np.testing.assert_allclose(dw, want, rtol=0, atol=1e-12)


def test_triplet_with_zero_triplet_terms_is_pair_stdp():
    # NEST's documentation: Aplus_triplet = Aminus_triplet = 0 recovers pair STDP.
    pair = STDP(0.01, 0.012, 16.8, 33.7, w_min=-5.0, w_max=5.0)
    trip = TripletSTDP(0.01, 0.0, 0.012, 0.0, w_min=-5.0, w_max=5.0)
    pre, post = [[5.0, 15.0], [25.0, 31.0]], [[25.0, 40.0], [5.0, 30.0]]
    a, _ = run_patterns(pre, post, pair, "numba")
    b, _ = run_patterns(pre, post, trip, "numba")
    np.testing.assert_array_equal(a, b)


def test_nest_and_nestml_parameter_sets():
    a2a = TripletSTDP.visual_cortex("all_to_all")
    nn = TripletSTDP.visual_cortex("nearest")
    assert (a2a.a2_plus, a2a.a3_plus, a2a.a2_minus, a2a.a3_minus) == (
        5e-10,
        6.2e-3,
        7e-3,
        2.3e-4,
    )
    assert (nn.a2_plus, nn.a3_plus, nn.trace) == (7.5e-10, 9.3e-3, "nearest")
    assert (a2a.tau_plus, a2a.tau_x, a2a.tau_minus, a2a.tau_y) == (
        16.8,
        101.0,
        33.7,
        125.0,
    )


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("mu", [1.0, 0.5])
def test_multiplicative_dependence(backend, mu):
    # Guetig et al. 2003: potentiation a+ (1 - w/w_max)^mu e^{-dt/tau+},
    # depression a- (w/w_max)^mu e^{dt/tau-}; w0 = 0.3, w_max = 1.
    w0, ap, am = 0.3, 0.02, 0.03
    rule = STDP(
        ap,
        am,
        20.0,
        20.0,
        w_max=1.0,
        weight_dependence="multiplicative",
        mu_plus=mu,
        mu_minus=mu,
    )
    dw, _ = run_patterns([[10.0], [20.0]], [[15.0], [12.0]], rule, backend, w0=w0)
    want = [ap * (1 - w0) ** mu * math.exp(-5 / 20), -am * w0**mu * math.exp(-8 / 20)]
    np.testing.assert_allclose(dw, want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_hard_bounds(backend):
    # 6 potentiating (depressing) pairs 1 ms apart (a = 0.1, tau 20 ms) from 0.5
    # end exactly at w_max = 1 (w_min = 0.2).
    rule = STDP(a_plus=0.1, a_minus=0.1, w_min=0.2, w_max=1.0)
    ts = [float(t) for t in range(10, 130, 20)]
    dw, _ = run_patterns(
        [ts, [t + 1 for t in ts]], [[t + 1 for t in ts], ts], rule, backend
    )
    assert dw[0] + W0 == 1.0
    assert dw[1] + W0 == 0.2


def _random_network(backend):
    net = Network(dt=0.1, seed=3, backend=backend)
    src = net.spike_source(60, rate=40.0)
    p = LIFParams(tau_mem=20.0, v_rest=-60.0, v_th=-50.0, v_reset=-65.0, t_ref=2.0)
    exc = net.population(
        80,
        p,
        v0=("uniform", -65.0, -50.0),
        adaptation=AdaptiveThreshold(a=0.5, tau=50.0),
    )
    inh = net.population(20, p, v0=("uniform", -65.0, -50.0))
    syn_e, syn_i = CurrentSynapse(5.0), CurrentSynapse(10.0)
    projs = [
        net.connect(
            src,
            exc,
            FixedProbability(0.3),
            syn_e,
            weight=lambda rng, n: rng.uniform(0.0, 8.0, n),
            plasticity=STDP(0.1, 0.11, w_max=8.0),
        ),
        net.connect(
            exc,
            exc,
            FixedProbability(0.1),
            syn_e,
            weight=1.0,
            plasticity=TripletSTDP(**TRIPLET, w_max=3.0, trace="nearest"),
        ),
        net.connect(
            exc,
            inh,
            FixedProbability(0.2),
            syn_e,
            weight=4.0,
            plasticity=STDP(
                0.05,
                0.05,
                10.0,
                30.0,
                w_max=6.0,
                weight_dependence="multiplicative",
                trace="nearest",
            ),
        ),
    ]
    net.connect(inh, exc, FixedProbability(0.3), syn_i, weight=-2.0, delay=1.5)
    mon = net.spike_monitor(exc)
    return net, projs, exc, mon


def test_torch_and_numba_learn_identical_weights_in_float64():
    # A random network with pair (all-to-all, additive), triplet (nearest) and
    # multiplicative rules, recurrent plastic synapses, an adaptive threshold and a
    # delayed inhibitory projection: the two paths give bit-identical weights,
    # thresholds and spikes, and the weights did move.
    out = {}
    for backend in BACKENDS:
        net, projs, exc, mon = _random_network(backend)
        net.build()
        w_before = [p.weight.detach().clone() for p in projs]
        net.run(100.0, progress=False)
        moved = [
            float((p.weight - w).abs().max())
            for p, w in zip(projs, w_before, strict=True)
        ]
        assert min(moved) > 1e-3
        out[backend] = (
            [p.weight.detach().numpy().copy() for p in projs],
            exc.theta,
            mon.times,
            mon.indices,
        )
    a, b = out["numba"], out["torch"]
    for wa, wb in zip(a[0], b[0], strict=True):
        np.testing.assert_array_equal(wa, wb)
    np.testing.assert_array_equal(a[1], b[1])
    assert a[1].max() > 0.5
    np.testing.assert_array_equal(a[2], b[2])
    np.testing.assert_array_equal(a[3], b[3])


def test_runs_continue_exactly_across_calls_and_paths():
    # Traces and weights carry over: 80 ms numba + 70 ms torch == 150 ms numba.
    net1, projs1, _, _ = _random_network("numba")
    net1.run(150.0, progress=False)
    net2, projs2, _, _ = _random_network("numba")
    net2.run(80.0, progress=False)
    net2.run(70.0, backend="torch", progress=False)
    for p1, p2 in zip(projs1, projs2, strict=True):
        np.testing.assert_array_equal(p1.weight.numpy(), p2.weight.numpy())


def test_paths_agree_without_delays_with_static_synapses_in_plastic_rows():
    # Without delays the compiled path propagates and depresses a row run by run
    # (plastic runs of each rule, static runs between them): rows of exc hold
    # a triplet, a static, a multiplicative (mu != 1, conductance) and a pair
    # projection's synapses. Both paths give bit-identical weights and spikes.
    from neurodl.simulate import ConductanceSynapse

    trip = TripletSTDP(0.05, 0.05, 0.05, 0.02, w_max=3.0, trace="nearest")
    mult = STDP(0.005, 0.005, 10.0, 30.0, w_max=0.1, mu_plus=0.5, mu_minus=0.7,
                weight_dependence="multiplicative")  # fmt: skip
    pair = STDP(0.05, 0.06, w_max=3.0)
    wide = STDP(0.1, 0.11, w_max=8.0)
    out = {}
    for backend in BACKENDS:
        net = Network(dt=0.1, seed=5, backend=backend)
        src = net.spike_source(60, rate=40.0)
        p = LIFParams(tau_mem=20.0, v_rest=-60.0, v_th=-50.0, v_reset=-65.0)
        exc = net.population(80, p, v0=("uniform", -65.0, -50.0))
        inh = net.population(20, p, v0=("uniform", -65.0, -50.0))
        e, cond = CurrentSynapse(5.0), ConductanceSynapse(3.0, 0.0)
        fp = FixedProbability
        w_in = lambda rng, n: rng.uniform(0, 8, n)  # noqa: E731
        projs = [
            net.connect(src, exc, fp(0.3), e, weight=w_in, plasticity=wide),
            net.connect(exc, exc, fp(0.1), e, weight=1.0, plasticity=trip),
        ]
        net.connect(exc, inh, fp(0.1), e, weight=2.0)
        net.connect(src, inh, fp(0.1), e, weight=3.0)
        projs.append(net.connect(exc, inh, fp(0.2), cond, weight=0.04, plasticity=mult))
        projs.append(net.connect(exc, exc, fp(0.05), e, weight=1.0, plasticity=pair))
        net.connect(inh, exc, fp(0.3), CurrentSynapse(10.0), weight=-2.0)
        mon = net.spike_monitor(exc)
        net.build()
        w0 = [pr.weight.detach().clone() for pr in projs]
        net.run(100.0, progress=False)
        for pr, w in zip(projs, w0, strict=True):
            assert float((pr.weight - w).abs().max()) > 1e-4
        weights = [pr.weight.detach().numpy().copy() for pr in projs]
        out[backend] = (weights, mon.times, mon.indices)
    for a, b in zip(out["numba"][0], out["torch"][0], strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(out["numba"][1], out["torch"][1])
    np.testing.assert_array_equal(out["numba"][2], out["torch"][2])


def test_reset_keeps_learned_weights_and_clears_traces():
    net, projs, _, _ = _random_network("numba")
    net.run(50.0, progress=False)
    w = [p.weight.clone() for p in projs]
    net.reset()
    assert not net._plastic.pre_tr.any() and not net._plastic.post_last.any()
    for p, w0 in zip(projs, w, strict=True):
        assert torch.equal(p.weight, w0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_adaptive_threshold_closed_form(backend):
    # theta(t) = sum over the neuron's spikes t_s <= t of a e^{-(t - t_s)/tau}
    # (jump at each spike, exact exponential decay per step); the rate drops.
    def run(adapt):
        net = Network(dt=0.1, backend=backend)
        p = LIFParams(tau_mem=10.0, v_rest=-70.0, v_th=-50.0, v_reset=-70.0, t_ref=1.0)
        pop = net.population(1, p, i_ext=30.0, adaptation=adapt)
        mon = net.spike_monitor(pop)
        net.run(t_end, progress=False)
        return pop, mon

    a, tau, t_end = 2.0, 100.0, 120.0
    pop, mon = run(AdaptiveThreshold(a=a, tau=tau))
    want = sum(a * math.exp(-(t_end - t) / tau) for t in mon.times + 0.1)
    assert pop.theta[0] == pytest.approx(want, rel=1e-12)
    _, plain = run(None)
    assert mon.times.size < 0.7 * plain.times.size


def test_normalize_sets_column_sums():
    net = Network(dt=0.1, seed=1)
    src = net.spike_source(30, rate=10.0)
    pop = net.population(5)
    proj = net.connect(
        src,
        pop,
        FixedProbability(0.5),
        CurrentSynapse(),
        weight=lambda rng, n: rng.uniform(0, 1, n),
    )
    proj.normalize(7.8)
    np.testing.assert_allclose(proj.weight_matrix().sum(axis=0), 7.8, rtol=1e-14)
    m = proj.weight_matrix()
    assert m.shape == (30, 5)
    assert np.count_nonzero(m) == proj.n_synapses


def test_lateral_inhibition_with_an_inhibitory_projection():
    # Winner-take-all without a special mechanism: each excitatory neuron drives
    # its own inhibitory partner, which inhibits every other excitatory neuron
    # (Diehl & Cook 2015's wiring). Neuron 0 gets the strongest drive and
    # silences the others; without inhibition all three fire.
    def counts(w_inh):
        net = Network(dt=0.1)
        p = LIFParams(tau_mem=20.0, v_rest=-65.0, v_th=-52.0, v_reset=-65.0, t_ref=2.0)
        exc = net.population(3, p)
        drive = net.spike_source(3, rate=1000.0)
        net.connect(
            drive,
            exc,
            Explicit([0, 1, 2], [0, 1, 2]),
            CurrentSynapse(5.0),
            weight=np.array([5.0, 4.0, 3.5]),
        )
        inh = net.population(
            3,
            LIFParams(tau_mem=10.0, v_rest=-60.0, v_th=-40.0, v_reset=-45.0, t_ref=2.0),
        )
        net.connect(exc, inh, Explicit([0, 1, 2], [0, 1, 2]), weight=100.0)
        i, j = np.nonzero(1 - np.eye(3))
        net.connect(inh, exc, Explicit(i, j), CurrentSynapse(10.0), weight=w_inh)
        mon = net.spike_monitor(exc)
        net.run(200.0, progress=False)
        return mon.count

    assert (counts(0.0) > 0).all()
    c = counts(-50.0)
    assert c[0] > 10 and c[1:].sum() <= 2


def test_errors():
    net = Network()
    src = net.spike_source(2, rate=10.0)
    pop = net.population(2)
    with pytest.raises(ValidationError, match="'delay' must be 0"):
        net.connect(src, pop, FixedProbability(1.0), delay=1.0, plasticity=STDP())
    with pytest.raises(ValidationError, match="'plasticity' must be STDP"):
        net.connect(src, pop, FixedProbability(1.0), plasticity="stdp")
    with pytest.raises(ValidationError, match="'adaptation' must be"):
        net.population(2, adaptation=0.05)
    net.connect(src, pop, Explicit([0, 1], [0, 1], delay=[0.0, 2.0]), plasticity=STDP())
    with pytest.raises(ValidationError, match=r"'delay' must be 0.*up to 2\.0 ms"):
        net.run(1.0)
    with pytest.raises(ValidationError, match="'trace' must be one of"):
        STDP(trace="nearest_spike")
    with pytest.raises(ValidationError, match="'weight_dependence' must be one of"):
        TripletSTDP(weight_dependence="mult")
    with pytest.raises(ValidationError, match="'w_min' must be < 'w_max'"):
        STDP(w_min=1.0, w_max=1.0)
    with pytest.raises(ValidationError, match="'multiplicative' needs w_min = 0"):
        STDP(weight_dependence="multiplicative", w_max=math.inf)
    with pytest.raises(ValidationError, match="'tau_minus' must be > 0"):
        STDP(tau_minus=0.0)
    with pytest.raises(ValidationError, match="'a' must be >= 0"):
        AdaptiveThreshold(a=-1.0)
    with pytest.raises(ValidationError, match="too long for dt"):
        net2 = Network(dt=0.001)
        s2, p2 = net2.spike_source(1, rate=1.0), net2.population(1)
        net2.connect(s2, p2, FixedProbability(1.0), plasticity=STDP(tau_plus=1e5))
        net2.run(0.001)
    for kwargs, msg in (
        ({"grad": True}, "'grad=True' is not supported"),
        ({"propagation": "dense"}, "'propagation' must be 'sparse' or 'events'"),
    ):
        net3 = Network()
        s3, p3 = net3.spike_source(1, rate=1.0), net3.population(1)
        net3.connect(s3, p3, FixedProbability(1.0), plasticity=STDP())
        with pytest.raises(ValidationError, match=msg):
            net3.run(1.0, **kwargs)
    net4 = Network(batch=2)
    s4, p4 = net4.spike_source(1, rate=1.0), net4.population(1)
    net4.connect(s4, p4, FixedProbability(1.0), plasticity=STDP())
    with pytest.raises(ValidationError, match="batch 1"):
        net4.run(1.0)


def test_decay_tables_give_the_exponential():
    # decay(m) = lo[m % 1024] hi[m // 1024] = e^{-m dt/tau} to rounding, and
    # exactly 0 once e^{-m dt/tau} underflows (tau 20 ms, dt 0.1 ms).
    lo, hi = decay_tables(20.0, 0.1)
    m = np.arange(0, 160_000, 7)
    got = lo[m % 1024] * hi[np.minimum(m // 1024, hi.size - 1)]
    want = np.exp(-m * 0.1 / 20.0)
    # the exponent itself carries a rounding error of ~ulp(m dt/tau), so the
    # relative error may grow as a few ulp times (1 + m dt/tau)
    bound = 4e-16 * (1.0 + m * 0.1 / 20.0) * want + 1e-300
    assert np.all(np.abs(got - want) <= bound)
    assert np.abs(got - want)[m < 4000].max() <= 2.3e-16
    assert hi[-1] == 0.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_many_post_spikes_between_pre_spikes(backend):
    # 40 post spikes between two pre spikes (more than the compiled path's
    # post-spike history holds, so its deferred potentiation flushes): every
    # pair still counts, all-to-all: sum a+ e^{-(t_k - 5)/tau+} minus the
    # second pre spike's a- sum e^{-(95 - t_k)/tau-}.
    ap, am, tp, tm = 0.01, 0.012, 16.8, 33.7
    rule = STDP(ap, am, tp, tm, w_min=-5.0, w_max=5.0)
    posts = [10.0 + 2.0 * n for n in range(40)]
    dw, _ = run_patterns([[5.0, 95.0]], [posts], rule, backend)
    want = sum(ap * math.exp(-(t - 5.0) / tp) for t in posts) - sum(
        am * math.exp(-(95.0 - t) / tm) for t in posts
    )
    assert dw[0] == pytest.approx(want, abs=1e-12)
