"""Network engine: closed forms, delays, monitors, connectivity, errors."""

import math

import numpy as np
import pytest

from neurodl.errors import ShapeError, ValidationError
from neurodl.neurons.lif import LIFParams
from neurodl.simulate import (
    ConductanceSynapse,
    CurrentSynapse,
    Explicit,
    FixedInDegree,
    FixedProbability,
    Network,
)
from neurodl.simulate.connectivity import connect

BACKENDS = ["numba", "torch"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("ri", [25.0, 40.0])
def test_constant_drive_rate_matches_closed_form(backend, ri):
    # Closed form of tests/reference/lif_fI.json: rate = 1/(t_ref + tau ln(RI/(RI -
    # (v_th - v_reset)))). Spikes fall on the dt grid, so each interval is long by
    # less than one step: at dt 0.01 ms that is < 0.1% (as Brian2's 0.08%).
    p = LIFParams(tau_mem=10.0, v_rest=-70.0, v_th=-50.0, v_reset=-70.0, t_ref=2.0)
    net = Network(dt=0.01, backend=backend)
    pop = net.population(1, p, i_ext=ri)
    mon = net.spike_monitor(pop)
    net.run(2000.0 if backend == "numba" else 300.0, progress=False)
    isi = np.diff(mon.times)
    rate = 1000.0 / isi.mean()
    analytic = 1000.0 / (2.0 + 10.0 * math.log(ri / (ri - 20.0)))
    assert rate == pytest.approx(analytic, rel=1e-3)


@pytest.mark.parametrize("backend", BACKENDS)
def test_psp_of_current_synapse_is_the_difference_of_exponentials(backend):
    # One input spike at t_s with weight w into tau_m dv/dt = -(v - E) + x,
    # tau_s dx/dt = -x: v(t) - E = w tau_s/(tau_s - tau_m) (e^{-t'/tau_s} -
    # e^{-t'/tau_m}), t' = t - t_s - dt (the spike reaches x at the end of its
    # step). Exact integration reproduces it to rounding.
    tau_m, tau_s, w, dt = 20.0, 5.0, 2.0, 0.1
    net = Network(dt=dt, backend=backend)
    src = net.spike_source(1, times=[1.0], indices=[0])
    p = LIFParams(tau_mem=tau_m, v_rest=-70.0, v_th=0.0, v_reset=-80.0, t_ref=0.0)
    pop = net.population(1, p)
    net.connect(src, pop, FixedProbability(1.0), CurrentSynapse(tau_s), weight=w)
    vm = net.state_monitor(pop, "v")
    net.run(50.0, progress=False)
    t = vm.times - 1.0 - dt
    expected = np.where(
        t > 0,
        w * tau_s / (tau_s - tau_m) * (np.exp(-t / tau_s) - np.exp(-t / tau_m)),
        0.0,
    )
    np.testing.assert_allclose(vm.values[:, 0] + 70.0, expected, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_delay_shifts_the_response_by_whole_steps(backend):
    def first_change(delay):
        net = Network(dt=0.1, backend=backend)
        src = net.spike_source(1, times=[2.0], indices=[0])
        pop = net.population(1, LIFParams(v_th=0.0, v_reset=-80.0))
        net.connect(
            src,
            pop,
            FixedProbability(1.0),
            CurrentSynapse(2.0),
            weight=1.0,
            delay=delay,
        )
        vm = net.state_monitor(pop, "v")
        net.run(20.0, progress=False)
        return vm.times[np.nonzero(vm.values[:, 0] != -70.0)[0][0]]

    base = first_change(0.0)
    assert base == pytest.approx(2.2)  # spike at 2.0, in x after it, in v next step
    assert first_change(1.5) == pytest.approx(base + 1.5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_refractory_period_and_reset(backend):
    p = LIFParams(tau_mem=10.0, v_rest=-70.0, v_th=-50.0, v_reset=-75.0, t_ref=3.0)
    net = Network(dt=0.1, backend=backend)
    pop = net.population(1, p, i_ext=200.0)  # strong drive: fires at once after ref
    mon = net.spike_monitor(pop)
    vm = net.state_monitor(pop, "v")
    net.run(20.0, progress=False)
    isi = np.diff(mon.times)
    assert np.all(isi >= 3.0 + 0.1 - 1e-9)
    k = round(mon.times[0] / 0.1)
    # held at v_reset for t_ref = 30 steps after the spike (Brian2's rule:
    # integrated again from the step where t - t_spike >= t_ref)
    np.testing.assert_array_equal(vm.values[k + 1 : k + 31, 0], -75.0)
    assert vm.values[k + 31, 0] > -75.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_conductance_synapse_pulls_towards_reversal(backend):
    net = Network(dt=0.1, backend=backend)
    src = net.spike_source(1, times=[1.0], indices=[0])
    p = LIFParams(tau_mem=20.0, v_rest=-60.0, v_th=0.0, v_reset=-70.0, t_ref=0.0)
    exc = net.population(1, p, method="euler")
    inh = net.population(1, p, method="euler")
    net.connect(
        src, exc, FixedProbability(1.0), ConductanceSynapse(5.0, 0.0), weight=0.5
    )
    net.connect(
        src, inh, FixedProbability(1.0), ConductanceSynapse(5.0, -80.0), weight=0.5
    )
    ve = net.state_monitor(exc, "v")
    vi = net.state_monitor(inh, "v")
    net.run(30.0, progress=False)
    assert ve.values[:, 0].max() > -60.0 and vi.values[:, 0].min() < -60.0
    # the first step after the input: dv = dt/tau g (E - v), forward Euler
    k = int(np.nonzero(ve.values[:, 0] != -60.0)[0][0])
    assert ve.values[k, 0] + 60.0 == pytest.approx(0.1 / 20.0 * 0.5 * 60.0)


def test_spike_source_and_monitor_round_trip():
    net = Network(dt=0.5)
    src = net.spike_source(3, times=[1.0, 2.0, 2.0, 7.5], indices=[0, 2, 1, 0])
    mon = net.spike_monitor(src)
    net.population(1)
    net.run(10.0, progress=False)
    np.testing.assert_allclose(mon.times, [1.0, 2.0, 2.0, 7.5])
    np.testing.assert_array_equal(mon.indices, [0, 1, 2, 0])
    np.testing.assert_array_equal(mon.count, [2, 1, 1])


def test_poisson_source_rate_and_replay_after_reset():
    net = Network(dt=0.1, seed=4)
    src = net.spike_source(200, rate=20.0)
    net.population(1)
    mon = net.spike_monitor(src)
    net.run(1000.0, progress=False)
    first = mon.steps.copy()
    # 4000 expected spikes, sd ~63: a 5-sigma band
    assert abs(first.size - 4000) < 5 * math.sqrt(4000)
    net.reset()
    net.run(1000.0, progress=False)
    np.testing.assert_array_equal(first, mon.steps)


def test_state_monitor_every_and_synaptic_variable():
    net = Network(dt=0.1)
    src = net.spike_source(1, times=[0.0], indices=[0])
    pop = net.population(2)
    syn = CurrentSynapse(4.0)
    net.connect(src, pop, FixedProbability(1.0), syn, weight=3.0)
    gm = net.state_monitor(pop, syn, [1], every=10)
    net.run(10.0, progress=False)
    np.testing.assert_allclose(gm.times, np.arange(0, 10.0, 1.0))
    # x(t) = 3 exp(-(t - 0.1)/4) sampled at 1, 2, ... ms (exact decay per step)
    expected = 3.0 * np.exp(-(gm.times[1:] - 0.1) / 4.0)
    np.testing.assert_allclose(gm.values[1:, 0], expected, rtol=1e-12)


# ----------------------------------------------------------------- connectivity
def test_fixed_probability_counts_and_autapses():
    rng = np.random.default_rng(0)
    pre, post, _ = connect(FixedProbability(0.1), 300, 300, rng)
    n = 300 * 300
    assert abs(pre.size - 0.1 * n) < 5 * math.sqrt(n * 0.1 * 0.9)
    assert np.all(np.diff(pre) >= 0)
    assert len(set(zip(pre.tolist(), post.tolist(), strict=True))) == pre.size
    pre, post, _ = connect(
        FixedProbability(0.5, allow_autapses=False), 50, 50, rng, same_population=True
    )
    assert not np.any(pre == post)


def test_fixed_in_degree_is_exact_and_distinct():
    rng = np.random.default_rng(1)
    pre, post, _ = connect(FixedInDegree(7), 40, 25, rng)
    np.testing.assert_array_equal(np.bincount(post, minlength=25), 7)
    pairs = set(zip(pre.tolist(), post.tolist(), strict=True))
    assert len(pairs) == pre.size
    pre, post, _ = connect(
        FixedInDegree(39, allow_autapses=False), 40, 40, rng, same_population=True
    )
    assert not np.any(pre == post)
    with pytest.raises(ValidationError, match="'k' must be <="):
        connect(FixedInDegree(41), 40, 5, rng)


def test_explicit_synapses_keep_their_weights_and_delays():
    net = Network(dt=0.1)
    src = net.spike_source(3, times=[1.0], indices=[2])
    pop = net.population(2, LIFParams(v_th=0.0, v_reset=-80.0))
    proj = net.connect(
        src,
        pop,
        Explicit(
            i=[2, 0, 2], j=[1, 1, 0], weight=[0.5, 9.0, 0.25], delay=[0.0, 0.0, 1.0]
        ),
        CurrentSynapse(5.0),
    )
    net.run(1.0, progress=False)
    order = np.lexsort((proj.post_index, proj.pre_index))
    np.testing.assert_array_equal(proj.pre_index[order], [0, 2, 2])
    np.testing.assert_array_equal(proj.post_index[order], [1, 0, 1])
    np.testing.assert_allclose(proj.weight.numpy()[order], [9.0, 0.25, 0.5])
    np.testing.assert_array_equal(proj.delay_steps[order], [0, 10, 0])


# ---------------------------------------------------------------------- errors
def test_bad_input_gives_clear_errors():
    with pytest.raises(ValidationError, match="'dt' must be > 0"):
        Network(dt=0.0)
    with pytest.raises(ValidationError, match="'backend' must be one of"):
        Network(backend="nest")
    with pytest.raises(ValidationError, match="'p' must be a probability"):
        FixedProbability(1.5)
    with pytest.raises(ShapeError, match="same length"):
        Explicit(i=[0, 1], j=[0])
    net = Network()
    with pytest.raises(ValidationError, match="'v_reset' must be below 'v_th'"):
        net.population(3, LIFParams(v_th=-50.0, v_reset=-50.0))
    pop = net.population(3)
    with pytest.raises(ValidationError, match="'delay' must be >= 0"):
        net.connect(pop, pop, FixedProbability(0.5), delay=-1.0)
    with pytest.raises(ValidationError, match="multiple of dt"):
        net.run(0.25)
    with pytest.raises(ValidationError, match="needs backend 'torch'"):
        net.run(1.0, backend="numba", grad=True, propagation="dense")
    net.run(1.0, progress=False)
    with pytest.raises(ValidationError, match="already built"):
        net.population(2)
    with pytest.raises(ValidationError, match="'indices' must be < n"):
        Network().spike_source(2, times=[1.0], indices=[5])
    with pytest.raises(ValidationError, match="method 'exact' needs current"):
        n2 = Network()
        a = n2.population(2, method="exact")
        n2.connect(a, a, FixedProbability(1.0), ConductanceSynapse())
        n2.run(1.0)


def test_spike_source_rejects_two_spikes_in_one_step():
    # Brian2's SpikeGeneratorGroup refuses them too; the two paths would otherwise
    # disagree on whether they count once or twice.
    with pytest.raises(ValidationError, match="cannot spike twice in one time step"):
        Network(dt=0.1).spike_source(2, times=[1.0, 1.04], indices=[1, 1])


def test_three_synapse_types_run_on_the_tensor_path():
    def build():
        net = Network(dt=0.1)
        src = net.spike_source(1, times=[1.0], indices=[0])
        pop = net.population(1, LIFParams(v_th=0.0, v_reset=-80.0))
        for tau in (2.0, 5.0, 10.0):
            net.connect(
                src, pop, FixedProbability(1.0), CurrentSynapse(tau), weight=1.0
            )
        return net, net.state_monitor(pop, "v")

    net, vm = build()
    net.run(10.0, progress=False)  # auto: the tensor path
    t = vm.times[-1] - 1.1
    expected = sum(
        tau / (tau - 10.0) * (np.exp(-t / tau) - np.exp(-t / 10.0))
        for tau in (2.0, 5.0, 10.0)
        if tau != 10.0
    ) + t / 10.0 * np.exp(-t / 10.0)
    assert vm.values[-1, 0] + 70.0 == pytest.approx(expected, rel=1e-9)
    net2, _ = build()
    with pytest.raises(ValidationError, match="at most 2 synapse types"):
        net2.run(1.0, backend="numba")
