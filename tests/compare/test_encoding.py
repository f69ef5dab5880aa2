import numpy as np
import pytest
import torch
from himalaya.backend import get_backend, set_backend
from himalaya.ridge import RidgeCV as HimalayaRidgeCV
from himalaya.scoring import r2_score as himalaya_r2
from sklearn.linear_model import Ridge
from sklearn.linear_model import RidgeCV as SkRidgeCV
from sklearn.metrics import r2_score
from sklearn.model_selection import KFold, LeaveOneOut

from neurodl.compare.encoding import (
    RidgeEncoder,
    ceiling_normalized,
    corr_per_target,
    r2_per_target,
)
from neurodl.errors import NonFiniteError, ShapeError, ValidationError

ALPHAS = np.logspace(-2, 4, 13)


def _np(a: object) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        return a.detach().cpu().numpy()
    return np.asarray(a)


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 30)) + 1.0
    W = rng.normal(size=(30, 50)) * rng.uniform(0, 1, 50)
    Y = X @ W + 3.0 * rng.normal(size=(120, 50)) + 2.0
    return X, Y


@pytest.fixture
def himalaya_backend():  # type: ignore[no-untyped-def]
    previous = get_backend().name
    yield set_backend
    set_backend(previous)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("scoring", ["r2", "l2"])
def test_matches_himalaya_ridgecv(
    data: tuple[np.ndarray, np.ndarray],
    himalaya_backend,  # type: ignore[no-untyped-def]
    backend: str,
    fit_intercept: bool,
    scoring: str,
) -> None:
    X, Y = data
    if not fit_intercept:
        X, Y = X - X.mean(0), Y - Y.mean(0)
    himalaya_backend(backend)
    params = {"score_func": himalaya_r2} if scoring == "r2" else {}
    ref = HimalayaRidgeCV(
        alphas=ALPHAS, fit_intercept=fit_intercept, cv=5, solver_params=params
    ).fit(X, Y)
    model = RidgeEncoder(
        ALPHAS, fit_intercept=fit_intercept, cv=5, scoring=scoring
    ).fit(X, Y)
    np.testing.assert_allclose(model.best_alphas_, _np(ref.best_alphas_), rtol=1e-9)
    np.testing.assert_allclose(model.cv_scores_, _np(ref.cv_scores_), atol=1e-10)
    np.testing.assert_allclose(model.coef_, _np(ref.coef_), atol=1e-10)
    np.testing.assert_allclose(model.predict(X), _np(ref.predict(X)), atol=1e-9)
    np.testing.assert_allclose(model.score(X, Y), _np(ref.score(X, Y)), atol=1e-10)
    if fit_intercept:
        np.testing.assert_allclose(model.intercept_, _np(ref.intercept_), atol=1e-9)


def test_matches_himalaya_with_more_features_than_samples(
    himalaya_backend,  # type: ignore[no-untyped-def]
) -> None:
    rng = np.random.default_rng(5)
    X = rng.normal(size=(40, 70))
    Y = X[:, :5] @ rng.normal(size=(5, 8)) + rng.normal(size=(40, 8))
    himalaya_backend("numpy")
    ref = HimalayaRidgeCV(
        alphas=ALPHAS,
        fit_intercept=True,
        cv=KFold(4, shuffle=True, random_state=0),
        solver_params={"score_func": himalaya_r2, "warn": False},
    ).fit(X, Y)
    model = RidgeEncoder(ALPHAS, cv=KFold(4, shuffle=True, random_state=0)).fit(
        torch.from_numpy(X), torch.from_numpy(Y)
    )
    np.testing.assert_allclose(model.best_alphas_, ref.best_alphas_, rtol=1e-9)
    np.testing.assert_allclose(model.cv_scores_, ref.cv_scores_, atol=1e-10)
    np.testing.assert_allclose(model.coef_, ref.coef_, atol=1e-10)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_single_alpha_equals_sklearn_ridge(
    data: tuple[np.ndarray, np.ndarray], fit_intercept: bool
) -> None:
    X, Y = data
    model = RidgeEncoder([3.0], fit_intercept=fit_intercept).fit(X, Y)
    ref = Ridge(alpha=3.0, fit_intercept=fit_intercept).fit(X, Y)
    np.testing.assert_allclose(model.coef_, ref.coef_.T, atol=1e-10)
    np.testing.assert_allclose(model.intercept_, ref.intercept_, atol=1e-9)
    np.testing.assert_allclose(
        model.score(X, Y),
        r2_score(Y, ref.predict(X), multioutput="raw_values"),
        atol=1e-10,
    )


def test_leave_one_out_equals_sklearn_gcv() -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(50, 8))
    Y = X @ rng.normal(size=(8, 6)) * np.array([0, 0.1, 0.3, 1, 3, 10]) + rng.normal(
        size=(50, 6)
    )
    alphas = np.logspace(-2, 3, 11)
    model = RidgeEncoder(alphas, cv=LeaveOneOut(), scoring="l2").fit(X, Y)
    ref = SkRidgeCV(alphas=alphas, alpha_per_target=True).fit(X, Y)
    np.testing.assert_allclose(model.best_alphas_, ref.alpha_, rtol=1e-12)
    np.testing.assert_allclose(model.coef_, ref.coef_.T, atol=1e-10)
    # the LOO mean squared error at the chosen alpha is sklearn's best_score_
    np.testing.assert_allclose(
        model.cv_scores_ - 1e-10 * np.log(model.best_alphas_),
        ref.best_score_,
        atol=1e-10,
    )


def test_one_dimensional_target(data: tuple[np.ndarray, np.ndarray]) -> None:
    X, Y = data
    model = RidgeEncoder(ALPHAS).fit(X, Y[:, 3])
    full = RidgeEncoder(ALPHAS).fit(X, Y)
    assert model.coef_.shape == (30,)
    assert model.predict(X).shape == (120,)
    assert isinstance(model.score(X, Y[:, 3]), float)
    np.testing.assert_allclose(model.coef_, full.coef_[:, 3], atol=1e-12)


def test_target_batches_and_float32(data: tuple[np.ndarray, np.ndarray]) -> None:
    X, Y = data
    full = RidgeEncoder(ALPHAS).fit(X, Y)
    batched = RidgeEncoder(ALPHAS, n_targets_batch=7).fit(X, Y)
    np.testing.assert_array_equal(batched.best_alphas_, full.best_alphas_)
    np.testing.assert_allclose(batched.coef_, full.coef_, atol=1e-12)
    single = RidgeEncoder(ALPHAS, dtype="float32").fit(X, Y)
    assert single.coef_.dtype == np.float32
    np.testing.assert_allclose(single.coef_, full.coef_, atol=1e-3)


def test_r2_and_corr_per_target() -> None:
    rng = np.random.default_rng(4)
    y = rng.normal(size=(30, 4))
    p = y + rng.normal(size=(30, 4))
    np.testing.assert_allclose(
        r2_per_target(y, p), r2_score(y, p, multioutput="raw_values"), atol=1e-12
    )
    expected = [np.corrcoef(y[:, i], p[:, i])[0, 1] for i in range(4)]
    np.testing.assert_allclose(corr_per_target(y, p), expected, atol=1e-12)
    const = np.ones((30, 1))
    assert r2_per_target(const, const + 1.0)[0] == 0.0
    assert corr_per_target(const, p[:, :1])[0] == 0.0
    assert float(r2_per_target(y[:, 0], y[:, 0])) == 1.0
    assert np.allclose(r2_per_target(torch.from_numpy(y), p), r2_per_target(y, p))


def test_ceiling_normalized() -> None:
    out = ceiling_normalized(np.array([0.2, 0.1, 0.3]), np.array([0.4, 0.0, 0.6]))
    np.testing.assert_allclose(out, [0.5, np.nan, 0.5])
    assert ceiling_normalized(0.25, 0.5) == 0.5
    out = ceiling_normalized(
        np.array([0.2, 0.1]), np.array([0.4, 0.05]), min_ceiling=0.1
    )
    np.testing.assert_allclose(out, [0.5, np.nan])
    with pytest.raises(ShapeError, match="broadcastable"):
        ceiling_normalized(np.zeros(3), np.ones(2))
    with pytest.raises(NonFiniteError, match="ceiling"):
        ceiling_normalized(np.zeros(2), np.array([1.0, np.nan]))


def test_errors(data: tuple[np.ndarray, np.ndarray]) -> None:
    X, Y = data
    with pytest.raises(ShapeError, match=r"\(120, 30\) and \(119, 50\)"):
        RidgeEncoder().fit(X, Y[:119])
    bad = Y.copy()
    bad[0, 0] = np.inf
    with pytest.raises(NonFiniteError, match="'Y'"):
        RidgeEncoder().fit(X, bad)
    with pytest.raises(ValidationError, match="alphas"):
        RidgeEncoder([1.0, -1.0]).fit(X, Y)
    with pytest.raises(ValidationError, match="scoring"):
        RidgeEncoder(scoring="mse").fit(X, Y)
    with pytest.raises(ValidationError, match="not fitted"):
        RidgeEncoder().predict(X)
    model = RidgeEncoder().fit(X, Y)
    with pytest.raises(ShapeError, match="30 columns"):
        model.predict(X[:, :5])
    with pytest.raises(ShapeError, match="2-D"):
        RidgeEncoder().fit(X[:, 0], Y)


def test_sklearn_clone_and_params() -> None:
    from sklearn.base import clone

    model = RidgeEncoder([1.0, 2.0], cv=3, scoring="l2")
    copy = clone(model)
    assert copy.get_params()["cv"] == 3
    assert copy.get_params()["scoring"] == "l2"


def test_explainable_variance_recovers_the_simulated_ceiling():
    from neurodl.compare.encoding import explainable_variance

    # signal variance 1, noise variance 4 per trial, 5 repeats: the averaged
    # response has noise variance 4/5, so the ceiling is 1 / (1 + 0.8) = 0.556
    rng = np.random.default_rng(0)
    signal = rng.normal(size=(20000, 3))
    trials = signal[None] + rng.normal(scale=2.0, size=(5, 20000, 3))
    ev = explainable_variance(trials)
    np.testing.assert_allclose(ev, 1 / 1.8, atol=0.02)
    # a ridge model given the true signal reaches the ceiling, and no further
    r2 = r2_per_target(trials.mean(0), signal)
    np.testing.assert_allclose(r2 / ev, 1.0, atol=0.05)
    # pure noise: ceiling about 0
    noise = rng.normal(size=(4, 5000, 2))
    assert np.all(np.abs(explainable_variance(noise)) < 0.1)
    with pytest.raises(ValidationError, match="at least 2 repetitions"):
        explainable_variance(trials[:1])
