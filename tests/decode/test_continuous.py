import numpy as np
import pytest
from sklearn.metrics import r2_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from neurodl.data.spikes import load_spikes
from neurodl.decode.continuous import (
    KalmanDecoder,
    RecurrentDecoder,
    WienerFilter,
    _fit_wiener,
    history_windows,
    split_time_ordered,
)
from neurodl.errors import ShapeError, ValidationError

# ------------------------------------------------------------ scikit-learn checks

_SEQUENTIAL = (
    "the Kalman filter is sequential: a prediction depends on the earlier rows of "
    "the same call, so predicting subsets or shuffled rows gives other values"
)


def _expected_failed_checks(estimator):
    if isinstance(estimator, KalmanDecoder):
        return {
            "check_methods_subset_invariance": _SEQUENTIAL,
            "check_methods_sample_order_invariance": _SEQUENTIAL,
        }
    return {}


@parametrize_with_checks(
    [
        WienerFilter(),
        WienerFilter(alpha=1.0),
        KalmanDecoder(),
        KalmanDecoder(C=2.0),
        # small and quick for the checks' 20-200-sample data sets
        RecurrentDecoder(hidden=16, epochs=50, lr=1e-2, random_state=0),
        RecurrentDecoder(
            cell="lstm", hidden=16, epochs=50, lr=1e-2, dropout=0.0, random_state=0
        ),
    ],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


# ------------------------------------------------------------------ data helpers


def test_history_windows_by_hand():
    counts = np.array([[1, 10], [2, 20], [3, 30], [4, 40]], dtype=float)
    w, valid = history_windows(counts, bins_before=2, bins_current=1, bins_after=1)
    assert w.shape == (4, 4, 2)
    expected = np.array(
        [
            [[0, 0], [0, 0], [1, 10], [2, 20]],
            [[0, 0], [1, 10], [2, 20], [3, 30]],
            [[1, 10], [2, 20], [3, 30], [4, 40]],
            [[2, 20], [3, 30], [4, 40], [0, 0]],
        ],
        dtype=float,
    )
    np.testing.assert_array_equal(w, expected)
    assert valid.tolist() == [False, False, True, False]


def test_history_windows_without_current_bin_and_nan_fill():
    counts = np.arange(5.0)[:, None]
    w, valid = history_windows(counts, 1, 0, 1, fill=np.nan)
    np.testing.assert_array_equal(w[2, :, 0], [1, 3])
    np.testing.assert_array_equal(w[0, :, 0], [np.nan, 1])
    assert valid.tolist() == [False, True, True, True, False]
    # Glaser's semantics: drop the rows with NaN, exactly the invalid ones
    assert not np.isnan(w[valid]).any() and np.isnan(w[~valid]).any(axis=(1, 2)).all()


def test_history_windows_default_is_13_bins():
    w, valid = history_windows(np.ones((20, 3)))
    assert w.shape == (20, 13, 3) and valid.sum() == 20 - 12


def test_history_windows_errors():
    with pytest.raises(ValidationError, match=r"'bins_before' must be >= 0; got -1\."):
        history_windows(np.ones((5, 2)), bins_before=-1)
    with pytest.raises(ValidationError, match="'bins_current' must be one of 0, 1"):
        history_windows(np.ones((5, 2)), bins_current=2)
    with pytest.raises(ShapeError, match=r"'counts' must be 2-D.*\(5,\)"):
        history_windows(np.ones(5))


def test_split_time_ordered():
    tr, va, te = split_time_ordered(100)
    assert (len(tr), len(va), len(te)) == (70, 15, 15)
    np.testing.assert_array_equal(np.concatenate([tr, va, te]), np.arange(100))
    tr, va, te = split_time_ordered(100, trim_start=2, trim_end=3)
    assert tr[0] == 2 and tr[-1] == 66 and va[0] == 72 and va[-1] == 81
    assert te[0] == 87 and te[-1] == 96
    with pytest.raises(ValidationError, match="'fractions' must be numbers > 0"):
        split_time_ordered(10, (0.5, 0.6))


# ------------------------------------------------------------------------ Wiener


def test_wiener_equals_lstsq_on_flattened_history():
    rng = np.random.default_rng(1)
    counts = rng.poisson(3.0, size=(300, 4)).astype(float)
    w, valid = history_windows(counts, 2, 1, 2)
    X, y = w[valid], rng.standard_normal((int(valid.sum()), 2))
    model = WienerFilter().fit(X, y)
    flat = np.hstack([X.reshape(len(X), -1), np.ones((len(X), 1))])
    ref = np.linalg.lstsq(flat, y, rcond=None)[0]
    np.testing.assert_allclose(model.coef_, ref[:-1].T, atol=1e-10)
    np.testing.assert_allclose(model.intercept_, ref[-1], atol=1e-10)
    np.testing.assert_allclose(model.predict(X), flat @ ref, atol=1e-10)
    # 2-D (flattened) input gives the same model
    np.testing.assert_allclose(
        WienerFilter().fit(X.reshape(len(X), -1), y).coef_, model.coef_, atol=1e-12
    )


def test_wiener_collinear_gives_minimum_norm_lstsq():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((50, 3))
    X = np.hstack([x, x[:, :1]])  # a duplicated column: rank-deficient
    y = rng.standard_normal(50)
    model = WienerFilter(fit_intercept=False).fit(X, y)
    np.testing.assert_allclose(
        model.coef_, np.linalg.lstsq(X, y, rcond=None)[0], atol=1e-10
    )


def test_wiener_ridge_closed_form():
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((40, 5)), rng.standard_normal((40, 2))
    model = WienerFilter(alpha=2.0).fit(X, y)
    Xc, yc = X - X.mean(0), y - y.mean(0)
    ref = np.linalg.solve(Xc.T @ Xc + 2.0 * np.eye(5), Xc.T @ yc)
    np.testing.assert_allclose(model.coef_, ref.T, atol=1e-10)
    with pytest.raises(ValidationError, match=r"'alpha' must be a finite number >= 0"):
        WienerFilter(alpha=-1.0).fit(X, y)


def test_wiener_penalties_sharing_one_gram_equal_their_own_fits():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((60, 4))
    X = np.hstack([x, x[:, :1]])  # rank-deficient: alpha 0 takes the lstsq path
    y = rng.standard_normal((60, 2))
    alphas = (0.0, 0.5, 30.0)
    fits = [WienerFilter(alpha=a) for a in alphas]
    _fit_wiener(fits, X, y)
    for a, m in zip(alphas, fits, strict=True):
        own = WienerFilter(alpha=a).fit(X, y)
        assert np.array_equal(m.coef_, own.coef_), a
        assert np.array_equal(m.intercept_, own.intercept_), a
        assert m.n_features_in_ == 5
        np.testing.assert_array_equal(m.predict(X), own.predict(X))
    with pytest.raises(ValidationError, match="'fit_intercept'"):
        _fit_wiener([WienerFilter(), WienerFilter(fit_intercept=False)], X, y)
    with pytest.raises(ValidationError, match=r"'alpha' must be a finite number"):
        _fit_wiener([WienerFilter(), WienerFilter(alpha=float("nan"))], X, y)


# ------------------------------------------------------------------------ Kalman


def _simulate_lds(n=20000, n_units=12, lag=0, seed=0, A=((0.95, 0.1), (-0.1, 0.9))):
    rng = np.random.default_rng(seed)
    A = np.array(A)
    H = rng.standard_normal((n_units, 2))
    x = np.zeros((n, 2))
    for t in range(1, n):
        x[t] = A @ x[t - 1] + rng.normal(0, 0.3, 2)
    z = x @ H.T + rng.normal(0, 0.5, (n, n_units))
    if lag:  # z_{t + lag} observes x_t
        z = np.roll(z, lag, axis=0)
    return A, H, x, z


def test_kalman_recovers_generating_system():
    A, H, x, z = _simulate_lds()
    model = KalmanDecoder().fit(z, x)
    np.testing.assert_allclose(model.A_, A, atol=0.02)
    np.testing.assert_allclose(model.H_, H, atol=0.03)
    np.testing.assert_allclose(model.W_, 0.09 * np.eye(2), atol=0.01)
    np.testing.assert_allclose(model.Q_, 0.25 * np.eye(12), atol=0.02)
    assert r2_score(x[-2000:], model.predict(z[-2000:])) > 0.9


def test_kalman_lag_pairs_state_with_later_or_earlier_spikes():
    # spikes lead the state by one bin; weakly autocorrelated state
    _, H, x, z = _simulate_lds(lag=-1, A=((0.5, 0.2), (-0.2, 0.5)))
    good = KalmanDecoder(lag=-1).fit(z, x)
    np.testing.assert_allclose(good.H_, H, atol=0.03)
    bad = KalmanDecoder(lag=0).fit(z, x)
    test = slice(-2000, None)
    assert good.score(z[test], x[test]) > bad.score(z[test], x[test]) + 0.05


def _glaser_kalman(A, W, H, Q, z, x0, P0):
    """The textbook filter (Glaser's KalmanFilterDecoder.predict), for reference."""
    x, P, out = x0.copy(), P0.copy(), []
    for t in range(len(z)):
        if t:
            x, P = A @ x, A @ P @ A.T + W
        K = P @ H.T @ np.linalg.inv(H @ P @ H.T + Q)
        x = x + K @ (z[t] - H @ x)
        P = (np.eye(len(x)) - K @ H) @ P
        out.append(x)
    return np.array(out)


def test_kalman_predict_equals_textbook_filter():
    _, _, x, z = _simulate_lds(n=3000, n_units=5, seed=4)
    m = KalmanDecoder(C=1.5).fit(z[:2500], x[:2500])
    got = m.predict(z[2500:])
    ref = _glaser_kalman(
        m.A_, m.W_, m.H_, m.Q_, z[2500:] - m.obs_mean_, np.zeros(2), m.state_cov_
    )
    np.testing.assert_allclose(got, ref + m.state_mean_, atol=1e-9)


def test_kalman_errors():
    with pytest.raises(ValidationError, match=r"'C' must be a finite number > 0"):
        KalmanDecoder(C=0).fit(np.ones((5, 2)), np.ones(5))
    with pytest.raises(
        ValidationError,
        match=r"at least 2 time bins.*lag -4; got 5 sample\(s\), 1 of them",
    ):
        KalmanDecoder(lag=-4).fit(np.ones((5, 2)), np.ones(5))


# --------------------------------------------------------------------- recurrent


def _toy_sequences(n=600, n_hist=5, n_units=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_hist, n_units))
    y = np.stack([X[:, -1, 0] + 0.5 * X[:, -3, 1], X[:, :, 2].mean(1)], axis=1)
    return X, y


def test_recurrent_smoke_learns_and_is_deterministic():
    X, y = _toy_sequences()
    kw = {"hidden": 32, "epochs": 30, "lr": 5e-3, "dropout": 0.0, "random_state": 0}
    a = RecurrentDecoder(**kw).fit(X[:500], y[:500])
    b = RecurrentDecoder(**kw).fit(X[:500], y[:500])
    np.testing.assert_array_equal(a.predict(X[500:]), b.predict(X[500:]))
    assert a.score(X[500:], y[500:]) > 0.8
    # early stopping kept the best validation epoch
    assert 1 <= a.best_epoch_ <= a.n_epochs_ <= 30
    best = a.validation_loss_curve_[a.best_epoch_ - 1]
    assert best == min(a.validation_loss_curve_)
    # standardization uses the inner training part only (no leakage)
    n_tr = 500 - round(0.1 * 500)
    np.testing.assert_allclose(a.x_mean_, X[:n_tr].reshape(-1, 4).mean(0))
    np.testing.assert_allclose(a.y_mean_, y[:n_tr].mean(0))


def test_recurrent_flattened_input_with_n_history():
    X, y = _toy_sequences(n=200)
    kw = {"hidden": 8, "epochs": 3, "random_state": 1}
    a = RecurrentDecoder(**kw).fit(X, y)
    b = RecurrentDecoder(n_history=5, **kw).fit(X.reshape(200, -1), y)
    np.testing.assert_allclose(a.predict(X), b.predict(X.reshape(200, -1)), atol=1e-6)
    assert b.n_history_ == 5 and b.n_units_ == 4
    with pytest.raises(ShapeError, match="not a multiple of 'n_history' = 3"):
        RecurrentDecoder(n_history=3, **kw).fit(X.reshape(200, -1)[:, :10], y)
    with pytest.raises(ShapeError, match="'n_history' is 4"):
        RecurrentDecoder(n_history=4, **kw).fit(X, y)


def test_recurrent_parameter_errors():
    X, y = _toy_sequences(n=20)
    with pytest.raises(ValidationError, match=r"'cell' must be one of 'gru', 'lstm'"):
        RecurrentDecoder(cell="rnn").fit(X, y)
    with pytest.raises(
        ValidationError, match=r"'dropout' must be a number in \[0, 1\)"
    ):
        RecurrentDecoder(dropout=1.0).fit(X, y)
    with pytest.raises(ValidationError, match="'device' must be"):
        RecurrentDecoder(device="tpu").fit(X, y)


# ------------------------------------------------------- real data: M1 hand velocity
# Acceptance targets: time-ordered 70/15/15 split, 13-bin history (6 before, the
# current bin, 6 after), inputs z-scored with the training part's statistics,
# outputs centred on the training mean; R2 on the test part averaged over x and y.

BINS = 6


def _r2(y_true, y_pred):
    return float(np.mean(r2_score(y_true, y_pred, multioutput="raw_values")))


@pytest.fixture(scope="module")
def m1_windows():
    data = load_spikes("spikes_m1", target_dims=(0, 1))
    windows, _ = history_windows(data.counts, BINS, 1, BINS)
    parts = split_time_ordered(data.n_bins, trim_start=BINS, trim_end=BINS)
    tr = parts[0]
    mean, std = windows[tr].mean(axis=0), windows[tr].std(axis=0)
    z = (windows - mean) / np.where(std > 0, std, 1.0)
    y = data.target - data.target[tr].mean(axis=0)
    return z, y, parts


def test_m1_wiener_filter(m1_windows):
    z, y, (tr, va, te) = m1_windows
    flat = z.reshape(len(z), -1)
    model = WienerFilter().fit(flat[tr], y[tr])
    assert _r2(y[va], model.predict(flat[va])) >= 0.80
    assert _r2(y[te], model.predict(flat[te])) >= 0.74


def test_m1_kalman_filter():
    # Glaser et al.'s Kalman decoder: state = position, velocity, acceleration;
    # observation = the current bin's z-scored counts; lag and C chosen on the
    # validation part; scored on velocity
    data = load_spikes(
        "spikes_m1", target_key=("handPos", "handVel"), target_dims=(0, 1, 3, 4)
    )
    acc = np.gradient(data.target[:, 2:], data.bin_s, axis=0)
    tr, va, te = split_time_ordered(data.n_bins, trim_start=BINS, trim_end=BINS)
    kin = np.hstack([data.target, acc])
    kin = kin - kin[tr].mean(axis=0)
    mean, std = data.counts[tr].mean(axis=0), data.counts[tr].std(axis=0)
    z = (data.counts - mean) / np.where(std > 0, std, 1.0)
    vel = slice(2, 4)
    scores = {}
    for lag in (-2, -1, 0):
        for C in (1.0, 2.0):
            m = KalmanDecoder(C=C, lag=lag).fit(z[tr], kin[tr])
            scores[lag, C] = (_r2(kin[va, vel], m.predict(z[va])[:, vel]), m)
    best_val, best = max(scores.values(), key=lambda s: s[0])
    assert best_val >= 0.70
    assert _r2(kin[te, vel], best.predict(z[te])[:, vel]) >= 0.63
    # the default (lag 0, C 1) alone also clears the target
    m0 = scores[0, 1.0][1]
    assert _r2(kin[te, vel], m0.predict(z[te])[:, vel]) >= 0.63


def _fit_m1_recurrent(m1_windows, **kw):
    z, y, (tr, va, _) = m1_windows
    fit_rows = np.concatenate([tr, va])
    # early stopping on the inner, time-ordered tail: exactly the validation part
    model = RecurrentDecoder(validation_fraction=len(va) / len(fit_rows), **kw)
    return model.fit(z[fit_rows], y[fit_rows])


def test_m1_recurrent_decoder(m1_windows):
    z, y, (_, va, te) = m1_windows
    # about 45 s of one CPU thread; R2 0.887 (validation) and 0.825 (test)
    model = _fit_m1_recurrent(
        m1_windows,
        cell="gru",
        hidden=256,
        dropout=0.3,
        epochs=12,
        patience=3,
        random_state=0,
    )
    assert _r2(y[va], model.predict(z[va])) >= 0.85
    assert _r2(y[te], model.predict(z[te])) >= 0.78


def test_m1_recurrent_decoder_smoke(m1_windows):
    z, y, (_, _, te) = m1_windows
    model = _fit_m1_recurrent(
        m1_windows, hidden=64, dropout=0.2, epochs=2, lr=3e-3, random_state=0
    )
    assert model.n_epochs_ == 2
    assert _r2(y[te], model.predict(z[te])) >= 0.6
