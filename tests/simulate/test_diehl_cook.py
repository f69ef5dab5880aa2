"""Diehl & Cook (2015) network: equations, plasticity, encoding, labels, files, errors.

Closed forms are those of the discrete maps the kernel runs (forward Euler for the
neurons and conductances, as the authors' Brian 1 code; exact exponentials for the
STDP traces and the threshold decay), in float64.
"""

import math
from dataclasses import replace

import numpy as np
import pytest

from neurodl.errors import ModelFileError, ShapeError, ValidationError
from neurodl.simulate import _diehl_cook_kernel as K
from neurodl.simulate.diehl_cook import (
    DiehlCook,
    DiehlCookParams,
    assign_labels,
    classify,
    train_stdp_mnist,
)

P = DiehlCookParams()


def _quiet(n_steps: int, **kw) -> DiehlCookParams:
    """Parameters for a run of exactly ``n_steps`` steps without retries."""
    return replace(
        P, t_present=n_steps * P.dt, t_rest=0.0, max_delay=0.0, min_spikes=0, **kw
    )


def _blank(n: int = 1) -> np.ndarray:
    return np.zeros((n, 28, 28), np.uint8)


def test_membrane_relaxation_is_the_euler_closed_form():
    # no input: v_k = v_rest + (v_0 - v_rest) (1 - dt/tau)^k, exc. and inh.
    k = 300
    net = DiehlCook(3, params=_quiet(k), seed=0)
    v0_e, v0_i = net.v_e.copy(), net.v_i.copy()
    net.responses(_blank())
    want_e = P.v_rest_e + (v0_e - P.v_rest_e) * (1 - P.dt / P.tau_e) ** k
    want_i = P.v_rest_i + (v0_i - P.v_rest_i) * (1 - P.dt / P.tau_i) ** k
    np.testing.assert_allclose(net.v_e, want_e, rtol=0, atol=1e-12)
    np.testing.assert_allclose(net.v_i, want_i, rtol=0, atol=1e-12)
    # ... which approaches the ODE's exponential as dt -> 0 (within 0.1 mV here)
    exact = P.v_rest_e + (v0_e - P.v_rest_e) * math.exp(-k * P.dt / P.tau_e)
    assert np.all(np.abs(net.v_e - exact) < 0.1)


def test_conductances_decay_and_drive_v_as_the_equations():
    # ge_k = ge_0 (1 - dt/tau_ge)^k; v follows
    # v' = v + dt/tau ((v_rest - v) + ge (E_exc - v) + gi (E_inh - v)), old values
    k = 20
    net = DiehlCook(1, params=_quiet(k), seed=0)
    net.ge_e[:] = 2.0
    net.gi_e[:] = 1.5
    net.ge_i[:] = 0.1
    v, ge, gi = net.v_e[0], 2.0, 1.5
    for _ in range(k):
        v = v + P.dt / P.tau_e * (
            (P.v_rest_e - v) + ge * (P.e_exc - v) + gi * (P.e_inh_e - v)
        )
        ge *= 1 - P.dt / P.tau_ge
        gi *= 1 - P.dt / P.tau_gi
    net.responses(_blank())
    assert abs(net.ge_e[0] - 2.0 * (1 - P.dt / P.tau_ge) ** k) < 1e-15
    assert abs(net.gi_e[0] - 1.5 * (1 - P.dt / P.tau_gi) ** k) < 1e-15
    assert abs(net.v_e[0] - v) < 1e-12


def _pair(pre, post, n_steps=500, w0=0.5):
    pf, _ = P._vectors()
    w = np.full((1, 1), w0)
    pre = np.asarray(pre, np.int64)
    return K.stdp_replay(
        w, pre, np.zeros(len(pre), np.int64), np.asarray(post, np.int64), n_steps, pf
    )[0, 0]


@pytest.mark.parametrize("dt_ms", [1.0, 5.0, 20.0, 50.0, 100.0])
def test_stdp_rule_matches_its_equations(dt_ms):
    # Diehl & Cook's released rule: pre spike -> w -= nu_pre x_post1;
    # post spike -> w += nu_post x_pre x_post2(t-); traces reset to 1.
    s = round(dt_ms / P.dt)
    t = s * P.dt
    # pre then post, no earlier post spike: x_post1 = x_post2 = 0 -> no change
    assert _pair([10], [10 + s]) == 0.5
    # post then pre: depression by the post1 trace
    want = 0.5 - P.nu_pre * math.exp(-t / P.tau_post1)
    assert abs(_pair([10 + s], [10]) - want) <= 1e-12
    # post (step 0), pre (step a), post (step a + s): depression, then potentiation
    # gated by the second post trace of the first post spike
    a = 7
    want = (
        0.5
        - P.nu_pre * math.exp(-a * P.dt / P.tau_post1)
        + P.nu_post * math.exp(-t / P.tau_pre) * math.exp(-(a + s) * P.dt / P.tau_post2)
    )
    assert abs(_pair([a], [0, a + s]) - want) <= 1e-12


def test_stdp_weights_stay_in_bounds():
    # potentiation is capped at w_max, depression floored at 0
    assert _pair([1], [0, 2], w0=0.999999) == P.w_max
    assert _pair([1], [0], w0=1e-6) == 0.0


def test_weight_normalisation_sums_to_78():
    rng = np.random.default_rng(0)
    w = rng.random((784, 7))
    K.normalise(w, 78.0)
    np.testing.assert_allclose(w.sum(axis=0), 78.0, rtol=1e-13)
    # and the network normalises before each presentation
    net = DiehlCook(5, params=_quiet(1, nu_pre=0.0, nu_post=0.0), seed=1)
    assert abs(net.w.sum(axis=0) - 78.0).max() > 1.0
    net.train(_blank())
    np.testing.assert_allclose(net.w.sum(axis=0), 78.0, rtol=1e-13)


def test_theta_decays_exponentially_and_freezes_for_testing():
    k = 400
    net = DiehlCook(2, params=_quiet(k, tau_theta=1000.0), seed=0)
    net.train(_blank())
    np.testing.assert_allclose(
        net.theta, 20.0 * math.exp(-k * P.dt / 1000.0), rtol=1e-12
    )
    before = net.theta.copy()
    net.responses(_blank())
    assert np.array_equal(net.theta, before)


def test_theta_rises_by_theta_plus_per_spike():
    # theta_T = theta_0 e^{-T/tau} + 0.05 sum_s e^{-(T - t_s)/tau}: with 1e7 ms the
    # spike terms are 0.05 each to within 0.05 (1 - e^{-T/tau}).
    k = 800
    params = _quiet(k, intensity=40.0, nu_pre=0.0, nu_post=0.0)
    net = DiehlCook(1, params=params, seed=0)
    img = np.full((1, 784), 255, np.uint8)
    counts, _ = net._run(img, learn=True, first=0, progress=None, chunk=1)
    c = int(counts.sum())
    assert c >= 3
    decay = math.exp(-k * P.dt / P.tau_theta)
    excess = net.theta[0] - 20.0 * decay
    assert abs(excess - 0.05 * c) <= 0.05 * c * (1 - decay) + 1e-12


def test_poisson_input_rates_are_pixel_over_4_hz():
    # p = pixel / 8 * intensity * dt: 255 -> 63.75 Hz; counts are Binomial(n, p)
    n = 200_000
    img = np.array([255.0, 64.0, 0.0])
    p_scale = P.intensity * P.rate_scale * P.dt * 1e-3
    assert abs(255 * P.intensity * P.rate_scale - 63.75) < 1e-12
    ev_pix = np.empty(3 * n, np.int64)
    ev_step = np.empty(3 * n, np.int64)
    start = np.empty(n + 1, np.int64)
    order = np.empty(3 * n, np.int64)
    K.seed_rng(3)
    n_ev = K.poisson_events(img, p_scale, n, ev_pix, ev_step, start, order)
    for pix in range(3):
        p = img[pix] * p_scale
        got = int(np.sum(ev_pix[:n_ev] == pix))
        sd = math.sqrt(n * p * (1 - p))
        assert abs(got - n * p) <= 5 * sd + 1e-9, (pix, got, n * p)
        steps = ev_step[:n_ev][ev_pix[:n_ev] == pix]
        assert np.all(np.diff(steps) >= 1)  # one Bernoulli draw per step at most
    # bucketed by step: order[start[k]:start[k+1]] are the pixels firing at step k
    assert start[n] == n_ev
    k = int(ev_step[0])
    assert ev_pix[0] in order[start[k] : start[k + 1]]


def test_label_assignment_and_classification_on_a_constructed_case():
    counts = np.array([[5, 0, 1], [3, 1, 1], [0, 4, 2], [1, 0, 6]])
    labels = np.array([0, 0, 1, 2])
    a, props, rates = assign_labels(counts, labels)
    assert a.tolist() == [0, 1, 2]
    np.testing.assert_allclose(rates[0, :3], [4.0, 0.0, 1.0])
    np.testing.assert_allclose(props[0, :3], [0.8, 0.0, 0.2])
    np.testing.assert_allclose(props[2, :3], [1 / 9, 2 / 9, 6 / 9])
    probe = np.array([[2, 3, 3], [0, 1, 3], [3, 0, 3.5]])
    # all-activity: mean count of each class's neurons (ties: lowest class)
    assert classify(probe, a).tolist() == [1, 2, 2]
    # proportion weighting: 3 * 0.8 = 2.4 > 3.5 * 2/3
    assert classify(probe, a, props, method="proportion").tolist() == [1, 2, 0]


def test_save_load_resumes_exactly(tmp_path):
    rng = np.random.default_rng(0)
    x = (rng.random((4, 28, 28)) < 0.2).astype(np.uint8) * 200
    params = replace(P, t_present=40.0, t_rest=10.0)
    a = DiehlCook(6, params=params, seed=2).train(x[:2])
    a.save(tmp_path / "dc.safetensors")
    b = DiehlCook.load(tmp_path / "dc.safetensors")
    assert b.n_trained_ == 2 and b.params == params
    a.train(x[2:])
    b.train(x[2:], chunk=1)
    c = DiehlCook(6, params=params, seed=2).train(x, chunk=3)
    for name in ("w", "theta", "v_e", "v_i", "timer_e", "post2", "last_arr", "clock"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
        assert np.array_equal(getattr(a, name), getattr(c, name)), name


def test_smoke_run_learns_and_predicts():
    rng = np.random.default_rng(1)
    x = np.zeros((6, 28, 28), np.uint8)
    x[:3, 5:23, 12:16] = 255  # vertical bars
    x[3:, 12:16, 5:23] = 255  # horizontal bars
    x = np.where(rng.random(x.shape) < 0.9, x, 0).astype(np.uint8)
    y = np.array([1, 1, 1, 7, 7, 7])
    net = DiehlCook(8, seed=0).train(x)
    assert net.attempts_.shape == (6,)
    np.testing.assert_allclose(net.w.sum(axis=0), 78.0, rtol=0.05)
    counts = net.assign_labels(x, y)
    assert counts.shape == (6, 8) and np.all(counts.sum(axis=1) >= 0)
    pred = net.predict(x)
    assert pred.shape == (6,) and set(pred.tolist()) <= {1, 7}
    assert net.receptive_fields().shape == (8, 28, 28)


def test_bad_input_names_the_parameter(tmp_path):
    with pytest.raises(ValidationError, match="'n_exc' must be >= 1"):
        DiehlCook(0)
    with pytest.raises(ValidationError, match="'dt'"):
        DiehlCookParams(dt=-0.5)
    with pytest.raises(ValidationError, match="'dt' must be below"):
        DiehlCookParams(tau_ge=0.4)
    with pytest.raises(ValidationError, match="'nu_post'"):
        DiehlCookParams(nu_post=float("nan"))
    net = DiehlCook(2)
    with pytest.raises(ShapeError, match="'images' must have shape"):
        net.train(np.zeros((2, 27, 27)))
    with pytest.raises(
        ValidationError, match=r"'images' must hold pixel intensities in \[0, 255\]"
    ):
        net.train(np.full((1, 784), 300.0))
    with pytest.raises(ValidationError, match="assign_labels"):
        net.predict(_blank())
    with pytest.raises(ValidationError, match=r"'labels' must be in 0\.\.9"):
        assign_labels(np.ones((2, 3)), np.array([0, 10]))
    with pytest.raises(ValidationError, match="'method' must be one of"):
        classify(np.ones((2, 3)), np.zeros(3, int), method="vote")
    with pytest.raises(ValidationError, match="'n_images' must be at most 60000"):
        train_stdp_mnist(n_images=70000)
    bad = tmp_path / "x.safetensors"
    bad.write_bytes(b"not a file")
    with pytest.raises(ModelFileError):
        DiehlCook.load(bad)


def test_lateral_inhibition_wiring():
    # exc 0 fires -> its own inh neuron gets ge += 10.4 (one to one); that inh
    # neuron fires next step -> every other exc neuron gets gi += w_ie (all but one)
    net = DiehlCook(3, params=_quiet(2), seed=0)
    net.v_e[:] = [-40.0, -70.0, -70.0]
    net.v_i[:] = -60.0
    net.timer_e[:] = P.block_steps()  # long after any spike
    counts = net.responses(_blank())
    assert counts.tolist() == [[1, 0, 0]]
    np.testing.assert_allclose(net.gi_e, [0.0, 50.0, 50.0], rtol=0, atol=1e-15)
    np.testing.assert_allclose(
        net.ge_i, [10.4 * (1 - P.dt / P.tau_ge), 0.0, 0.0], rtol=0, atol=1e-15
    )
    assert net.v_i[0] == P.v_reset_i and net.refr_i[0] == P.steps(P.t_ref_i)
    assert net.v_e[0] == P.v_reset_e and net.refr_e[0] == P.steps(P.t_ref_e) - 1


@pytest.mark.parametrize("rate", [0.1, 100.0])
def test_timer_blocks_spikes_for_t_ref_over_rate_while_v_is_free_after_t_ref(rate):
    # Brian code: threshold "(v > theta - offset + v_thresh_e) and (timer > refrac_e)",
    # dtimer/dt = rate, timer = 0 at a spike; v held at v_reset for refrac_e = 5 ms.
    # Driven hard (ge = 50 each step: one free Euler step from -65 mV reaches
    # -65 + dt/tau (50 * 65) = -48.75 mV > -52 mV), the neuron fires every
    # block = least s with s dt rate > 5 ms steps: 101 (50.5 ms) at rate 0.1,
    # and every 11 steps at rate 100 (Brian 1's literal ``100.0 : ms``): the
    # 10 clamped steps, then the first free one.
    params = _quiet(1, timer_rate=rate)
    block = params.block_steps()
    assert block == (101 if rate == 0.1 else 1)
    net = DiehlCook(1, params=params, seed=0)
    net.timer_e[:] = block  # no earlier spike
    net.v_e[:] = P.v_reset_e
    spikes, v = [], []
    for k in range(260):
        net.ge_e[:] = 50.0
        if net.responses(_blank())[0, 0]:
            spikes.append(k)
        v.append(net.v_e[0])
    period = max(block, P.steps(P.t_ref_e) + 1)
    assert spikes == list(range(0, 260, period))
    ref = P.steps(P.t_ref_e)
    for s in spikes:
        # v clamped at v_reset for the 5 ms refractory period ...
        assert all(x == P.v_reset_e for x in v[s : s + ref + 1])
    if rate == 0.1:
        # ... then free: one Euler step above threshold, and it stays above
        # (fixed point -65/51 mV) for the rest of the 50.5 ms block, unspiked
        assert v[ref + 1] == P.v_reset_e + P.dt / P.tau_e * 50.0 * -P.v_reset_e
        assert min(v[ref + 1 : block]) > P.v_th_e


@pytest.mark.parametrize(
    ("gi", "euler"), [(150.0, True), (199.0, True), (500.0, False)]
)
def test_a_step_that_would_overshoot_is_the_exact_exponential(gi, euler):
    # Euler while dt/tau (1 + ge + gi) <= 1; beyond, Euler steps past the fixed
    # point v_inf (and diverges past 2: a dozen inhibitory spikes at once with
    # w_ie = 17, two with w_ie = 120), so the step is v_inf + (v - v_inf) e^(-k g)
    net = DiehlCook(1, params=_quiet(1), seed=0)
    net.v_e[:] = -50.0
    net.gi_e[:] = gi
    net.responses(_blank())
    k, g = P.dt / P.tau_e, 1.0 + gi
    if euler:
        want = -50.0 + k * ((P.v_rest_e + 50.0) + gi * (P.e_inh_e + 50.0))
    else:
        v_inf = (P.v_rest_e + gi * P.e_inh_e) / g
        want = v_inf + (-50.0 - v_inf) * math.exp(-k * g)
    assert abs(net.v_e[0] - want) < 1e-12
    assert P.e_inh_e <= net.v_e[0] <= -50.0  # never past the reversal
