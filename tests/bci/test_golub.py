"""The Golub et al. (2018) session: its decoder rebuilt and checked against the file.

Tolerances and why (velocities in mm/s, up to 249 / 292 in the two blocks):

* ``vraw_*`` (single-step velocities, computed offline by the paper's code through
  the stored gain K): reproduced to <= 1e-12 mm/s absolute, i.e. <= 5e-15 relative
  to the velocity scale - floating-point rounding (measured 2.3e-13).
* The online drive ``M2 u + m0`` differs from ``vraw_*`` by 3e-8 mm/s; that is not
  slack: it is exactly ``(K_file - K_exact)(y - d)`` (checked to 1e-12), because the
  file's stored K is 1.1e-10 (relative) off the Riccati gain that M1, M2, m0 were
  built from.
* The online filtered velocity is not stored; the cursor directions it produced are.
  With the unrecorded velocity state at the end of each trial's freeze and the
  unrecorded target fitted, ``decode`` reproduces them to <= 1e-13 (measured 6.6e-15).
"""

import numpy as np
import pytest
import scipy.io

from neurodl.bci.golub import (
    BLOCK_MAPPING,
    BLOCKS,
    MAPPINGS,
    FAKalmanMapping,
    fit_trial_starts,
    load_golub_session,
    mapping_differences,
    reproduce_session,
    steady_state_kalman_gain,
)
from neurodl.errors import ShapeError, ValidationError


@pytest.fixture(scope="module")
def session():
    return load_golub_session()


@pytest.fixture(scope="module")
def fits(session):
    return {b: fit_trial_starts(session, b) for b in BLOCKS}


def test_session_layout_and_dt(session):
    assert session.dt == 0.045  # 45 ms bins
    assert session.intuitive.dt == session.perturbed.dt == 0.045
    assert (session.monkey, session.date) == ("Jeffy", "20120305")
    for m in (session.intuitive, session.perturbed):
        assert (m.n_units, m.n_factors) == (86, 10)
    for block in BLOCKS:
        clouds = session.clouds(block)
        assert [c.angle for c in clouds] == [0, 45, 90, 135, 180, 225, 270, 315]
        assert all(c.spikes.shape == (69, 86) for c in clouds)
        assert all(c.cursor_to_target.shape == (69, 2) for c in clouds)
        assert session.trial_numbers[block].shape == (50,)
    # the intuitive mapping has no permutation; the perturbed one shuffles factors
    assert np.array_equal(session.intuitive.permutation, np.eye(10))
    perm = session.perturbed.permutation
    assert not np.array_equal(perm, np.eye(10))
    assert np.array_equal(perm @ perm.T, np.eye(10))


@pytest.mark.parametrize("block", BLOCKS)
@pytest.mark.parametrize("mapping", MAPPINGS)
def test_recorded_velocities_reproduced(session, block, mapping):
    r = reproduce_session(session, block, mapping=mapping)
    assert r["n_clouds"] == 8
    assert r["n_steps"] == 552
    assert len(r["per_cloud_max_abs_diff"]) == 8
    assert r["max_abs_diff"] <= 1e-12  # mm/s; velocities reach 200-340 mm/s
    assert r["relative_error"] <= 5e-15
    assert r["factors_max_abs_diff"] <= 1e-14
    # the online drive differs only by the stored gain's deviation, to rounding
    assert 1e-9 < r["online_max_abs_diff"] < 1e-7
    assert r["gain_explained_max_abs_diff"] <= 1e-12


def test_block_default_mapping_and_cursor_summary(session):
    before = reproduce_session(session)
    assert before["block"] == "beforeLearning"
    assert before["mapping"] == "intuitive"
    after = reproduce_session(session, "afterLearning")
    assert after["mapping"] == "perturbed"
    for r in (before, after):
        assert r["n_trials"] == 50
        assert r["cursor_max_error"] <= 1e-13
    assert before["n_trials_checked"] == 39
    assert after["n_trials_checked"] == 46
    # reproducing a block with the mapping that was not online has no cursor check
    assert "cursor_max_error" not in reproduce_session(
        session, "beforeLearning", mapping="perturbed"
    )


def _iterated_gain(A, C, Q, R, n=500):
    P = np.zeros_like(A)
    for _ in range(n):
        Pp = A @ P @ A.T + Q
        K = Pp @ C.T @ np.linalg.inv(C @ Pp @ C.T + R)
        P = (np.eye(len(A)) - K @ C) @ Pp
    return K


@pytest.mark.parametrize("name", MAPPINGS)
def test_gain_from_riccati_equals_file(session, name):
    m = session.mapping(name)
    K, P = steady_state_kalman_gain(m.A, m.C, m.Q, m.R)
    assert np.allclose(P, P.T, rtol=0, atol=1e-9)
    # the Riccati solution is the limit of the filter's own recursion
    assert np.max(np.abs(K - _iterated_gain(m.A, m.C, m.Q, m.R))) <= 1e-12
    # the stored K is 1.1e-10 (relative) off; M1, M2, m0 were built from the exact K
    dK = np.max(np.abs(K - m.gain))
    assert 1e-9 < dK <= 5e-9
    assert dK / np.max(np.abs(K)) <= 2e-10
    diffs = mapping_differences(m, m.rebuild())
    assert diffs["M1"] <= 1e-15
    assert diffs["M2"] <= 1e-13
    assert diffs["m0"] <= 1e-12
    assert diffs["beta"] <= 1e-15
    assert diffs["orth_scale"] <= 1e-14
    assert diffs["gain"] == pytest.approx(dK)
    # with the stored K instead, M2 would miss by 1.7e-9
    stored_m2 = m.gain @ m.permutation @ np.diag(m.factor_scale) @ m.beta
    stored_m2 = stored_m2 * m.spike_scale
    assert np.max(np.abs(stored_m2 - m.M2)) > 1e-10


@pytest.mark.parametrize("block", BLOCKS)
def test_decode_replays_online_cursor(session, fits, block):
    m = session.mapping(BLOCK_MAPPING[block])
    clouds = session.clouds(block)
    checked = [f for f in fits[block] if f.n_steps > 0]
    assert len(fits[block]) == 50  # one freeze per trial
    assert all(f.n_frozen == 3 for f in fits[block])
    assert len(checked) >= 39
    for f in checked:
        c = clouds[f.cloud]
        e = c.cursor_to_target[f.start : f.start + f.n_steps]
        # frozen: the cursor sits at the centre and points at the cloud's target
        assert np.all(e[: f.n_frozen] == e[0])
        angle = np.degrees(np.arctan2(e[0, 1], e[0, 0])) % 360
        assert angle == pytest.approx(c.angle, abs=1e-4)
        # moving: the public decoder, started from the fitted state, moves the cursor
        spikes = c.spikes[f.start + f.n_frozen : f.start + f.n_steps]
        v = m.decode(spikes, v0=np.array(f.v_init))
        steps = np.vstack([f.v_init, v[:-1]]) * session.dt
        p = np.cumsum(steps, axis=0)
        rel = np.array(f.target) - p
        replay = rel / np.linalg.norm(rel, axis=1, keepdims=True)
        assert np.max(np.abs(replay - e[f.n_frozen :])) <= 1e-13
        assert f.max_error <= 1e-13
        assert np.isnan(f.next_error) or f.next_error > 1e-3
        # the velocity state at a trial start is not zero, nor what a filter reset to
        # zero before the freeze (and run through it) would hold: it is unrecorded
        assert np.hypot(*f.v_init) > 1.0
        freeze = c.spikes[f.start : f.start + f.n_frozen]
        assert np.hypot(*(m.decode(freeze)[-1] - f.v_init)) > 1.0
    # one target per direction, stored in single precision
    for k in range(8):
        targets = np.array([f.target for f in checked if f.cloud == k])
        assert np.ptp(targets, axis=0).max() <= 1e-10
        t = targets.mean(axis=0)
        assert np.max(np.abs(t - t.astype(np.float32))) <= 1e-10
        assert np.hypot(*t) == pytest.approx(151.64, abs=0.03)


def test_online_decoder_used_spike_space_weights(session, fits):
    # through the stored K the cursor replay is 1000x worse: online ran M2, m0
    for block in BLOCKS:
        online = max(f.max_error for f in fits[block] if f.n_steps)
        via_k = fit_trial_starts(session, block, via="factors", tol=1e-6)
        worst_k = max(f.max_error for f in via_k if f.n_steps)
        assert worst_k > 100 * online


def test_decode_recursion_and_routes(session):
    m = session.intuitive
    spikes = session.clouds("beforeLearning")[0].spikes
    g = m.drive(spikes)
    v = m.decode(spikes)
    assert v.shape == (69, 2)
    assert np.array_equal(v[0], g[0])  # v0 = 0 by default
    assert np.allclose(v[1:], v[:-1] @ m.M1.T + g[1:], rtol=0, atol=1e-12)
    v0 = np.array([10.0, -5.0])
    assert np.allclose(m.decode(spikes, v0=v0)[0], m.M1 @ v0 + g[0], atol=1e-12)
    # with an exactly built mapping both routes agree to rounding
    exact = m.rebuild()
    assert np.allclose(
        exact.drive(spikes), exact.drive(spikes, via="factors"), rtol=0, atol=1e-12
    )
    # constant input converges to the fixed point (I - M1)^-1 g
    const = np.tile(spikes[0], (400, 1))
    fixed = np.linalg.solve(np.eye(2) - m.M1, g[0])
    assert np.allclose(m.decode(const)[-1], fixed, rtol=1e-12, atol=1e-9)


def test_from_parameters_small_synthetic():
    rng = np.random.default_rng(0)
    q, k = 12, 3
    L = rng.normal(size=(q, k))
    mapping = FAKalmanMapping.from_parameters(
        loadings=L,
        uniquenesses=rng.uniform(0.2, 1.0, q),
        spike_mean=rng.uniform(1, 5, q),
        spike_scale=rng.uniform(0.5, 2, q),
        factor_scale=rng.uniform(0.5, 2, k),
        A=0.9 * np.eye(2),
        Q=np.eye(2),
        C=rng.normal(size=(k, 2)),
        d=rng.normal(size=k),
        R=np.eye(k),
        dt=0.05,
        b=np.array([0.1, -0.2]),
    )
    K = _iterated_gain(mapping.A, mapping.C, mapping.Q, mapping.R)
    assert np.max(np.abs(mapping.gain - K)) <= 1e-12
    beta = L.T @ np.linalg.inv(L @ L.T + np.diag(mapping.uniquenesses))
    assert np.allclose(mapping.beta, beta, atol=1e-12)
    spikes = rng.poisson(3, size=(20, q))
    assert np.allclose(
        mapping.drive(spikes), mapping.drive(spikes, via="factors"), atol=1e-12
    )
    # orthonormalised factors have the loadings' singular values as scale
    assert np.allclose(mapping.orth_scale, np.linalg.svd(L, compute_uv=False))
    assert not mapping.M2.flags.writeable


def test_errors(session, tmp_path):
    with pytest.raises(ValidationError) as exc:
        reproduce_session(session, "x")
    assert str(exc.value) == (
        "'block' must be one of 'beforeLearning', 'afterLearning'; got 'x'."
    )
    with pytest.raises(ValidationError, match="'mapping' must be one of"):
        reproduce_session(session, mapping="both")
    with pytest.raises(ValidationError, match="'via' must be one of"):
        session.intuitive.drive(np.zeros((2, 86)), via="rates")
    with pytest.raises(ShapeError, match=r"\(n_steps, 86\)"):
        session.intuitive.decode(np.zeros((5, 85)))
    with pytest.raises(ShapeError, match="'v0'"):
        session.intuitive.decode(np.zeros((5, 86)), v0=np.zeros(3))
    missing = tmp_path / "nope.mat"
    with pytest.raises(ValidationError, match=r"nope\.mat"):
        load_golub_session(missing)
    text = tmp_path / "text.mat"
    text.write_text("not a MATLAB file")
    with pytest.raises(ValidationError, match=r"text\.mat.*not a Golub session file"):
        load_golub_session(text)
    empty = tmp_path / "empty.mat"
    scipy.io.savemat(empty, {"other": np.zeros(3)})
    with pytest.raises(ValidationError, match=r"empty\.mat.*'expParams' is missing"):
        load_golub_session(empty)


def _as_dict(obj):
    if hasattr(obj, "_fieldnames"):
        return {f: _as_dict(getattr(obj, f)) for f in obj._fieldnames}
    return obj


def test_missing_field_is_named(session, tmp_path):
    raw = scipy.io.loadmat(session.path, squeeze_me=True, struct_as_record=False)
    data = {k: _as_dict(v) for k, v in raw.items() if not k.startswith("__")}
    del data["expParams"]["perturbedMapping"]["M2"]
    bad = tmp_path / "no_m2.mat"
    scipy.io.savemat(bad, data)
    with pytest.raises(ValidationError) as exc:
        load_golub_session(bad)
    assert "no_m2.mat" in str(exc.value)
    assert "'expParams.perturbedMapping.M2' is missing" in str(exc.value)
    # the round trip itself loads back to the same session
    del data["expParams"]["perturbedMapping"]
    data["expParams"]["perturbedMapping"] = _as_dict(raw["expParams"].perturbedMapping)
    good = tmp_path / "copy.mat"
    scipy.io.savemat(good, data)
    again = load_golub_session(good)
    assert reproduce_session(again, "afterLearning")["max_abs_diff"] <= 1e-12
