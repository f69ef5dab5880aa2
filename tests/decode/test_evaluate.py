import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import TimeSeriesSplit

from neurodl.decode import (
    chance_level,
    classification_scores,
    cross_validate,
    make_cv,
    permutation_test,
    regression_scores,
)
from neurodl.errors import ShapeError, ValidationError


class Memorizer(ClassifierMixin, BaseEstimator):
    """Nearest training trial's label: perfect only if it saw the test trials."""

    def fit(self, X, y):
        self.X_, self.y_ = np.asarray(X), np.asarray(y)
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        d = ((np.asarray(X)[:, None, :] - self.X_[None]) ** 2).sum(-1)
        return self.y_[d.argmin(1)]


def test_folds_cannot_see_their_test_trials():
    # random labels: a model fitted on the test trials would score 1.0; inside the
    # folds it must be at chance
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))
    y = rng.integers(0, 2, 200)
    res = cross_validate(Memorizer(), X, y)
    assert res.n_splits == 10
    assert 0.35 < res.mean() < 0.65
    assert res.chance == chance_level(y)


def test_parallel_folds_equal_serial():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 3))
    y = (X[:, 0] > 0).astype(int)
    a = cross_validate(Memorizer(), X, y, n_jobs=1)
    b = cross_validate(Memorizer(), X, y, n_jobs=2)
    assert a.scores == b.scores
    assert a.mean() > 0.8


def test_leave_one_run_out_needs_groups():
    X = np.zeros((6, 2))
    y = np.array([0, 1] * 3)
    with pytest.raises(ValidationError, match="'groups' must be given for cv='runs'"):
        cross_validate(Memorizer(), X, y, cv="runs")
    with pytest.raises(ValidationError, match="at least two runs"):
        cross_validate(Memorizer(), X, y, cv="runs", groups=np.ones(6))
    with pytest.raises(ShapeError, match="one row per trial"):
        cross_validate(Memorizer(), X, y[:5])


def test_time_splits_train_on_the_past_with_a_gap():
    cv = make_cv("time", n_splits=4, gap=13)
    assert isinstance(cv, TimeSeriesSplit)
    for train, test in cv.split(np.zeros((200, 1))):
        assert train.max() + 13 < test.min()
    with pytest.raises(ValidationError, match="'cv' must be 'shuffle'"):
        make_cv("kfold")
    for bad in (0.0, 1.0, "0.2", None, float("nan")):
        with pytest.raises(ValidationError, match=r"'test_size' must be .*in \(0, 1\)"):
            make_cv("shuffle", test_size=bad)


def test_scores_against_hand_computed_values():
    s = classification_scores([0, 0, 1, 1], [0, 1, 1, 1])
    assert s["accuracy"] == 0.75
    assert s["balanced_accuracy"] == 0.75
    # kappa = (po - pe) / (1 - pe): po = .75, pe = .5*.25 + .5*.75 = .5
    assert s["kappa"] == pytest.approx(0.5)
    r = regression_scores([[1, 0], [2, 1], [3, 0]], [[1, 0], [2, 1], [3, 0]])
    assert r["r2"] == 1.0 and r["corr"] == pytest.approx(1.0)
    r = regression_scores([1.0, 2.0, 3.0], [2.0, 2.0, 2.0])
    assert r["r2"] == pytest.approx(0.0)


def test_permutation_test_separates_signal_from_noise():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(60, 2))
    y = (X[:, 0] > 0).astype(int)
    real = permutation_test(Memorizer(), X, y, n_permutations=30)
    assert real["p_value"] == pytest.approx(1 / 31)
    noise = permutation_test(Memorizer(), X, rng.integers(0, 2, 60), n_permutations=30)
    assert noise["p_value"] > 0.05
