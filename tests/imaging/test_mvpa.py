"""Leave-one-run-out decoding of the Haxby slice."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from neurodl.errors import NonFiniteError, ShapeError, ValidationError
from neurodl.imaging import decode_volumes, load_haxby, standardize_runs


@pytest.fixture(scope="module")
def haxby():
    return load_haxby()


def test_eight_way(haxby):
    res = decode_volumes(*haxby, task="8way")
    assert res["balanced_accuracy"] >= 0.50
    assert res["chance_level"] == 0.125 and len(res["classes"]) == 8
    assert res["n_splits"] == 12 and len(res["folds"]["balanced_accuracy"]) == 12
    assert res["n_volumes"] == 864


def test_faces_houses(haxby):
    res = decode_volumes(*haxby, task="faces-houses", permutations=5)
    assert res["balanced_accuracy"] >= 0.95 and res["chance_level"] == 0.5
    p = res["permutation_test"]
    assert p["n_permutations"] == 5 and p["p_value"] == pytest.approx(1 / 6)
    assert p["permutation_mean"] < 0.75


def test_any_estimator(haxby):
    est = LogisticRegression(max_iter=500)
    res = decode_volumes(*haxby, task="faces-houses", estimator=est)
    assert res["balanced_accuracy"] >= 0.9 and "LogisticRegression" in res["estimator"]


def test_one_run_is_an_error(haxby):
    X, labels, runs = haxby
    sel = runs == 3
    with pytest.raises(ValidationError, match="at least two runs"):
        decode_volumes(X[sel], labels[sel], runs[sel], task="faces-houses")


def test_input_errors(haxby):
    X, labels, runs = haxby
    with pytest.raises(ShapeError):
        decode_volumes(X[:-1], labels, runs)
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(NonFiniteError):
        decode_volumes(bad, labels, runs)
    with pytest.raises(ValidationError, match="'task'"):
        decode_volumes(X, labels, runs, task="9way")


def test_standardize_runs_zscores_each_run():
    rng = np.random.default_rng(0)
    X = rng.normal(5, 3, (40, 4))
    runs = np.repeat([0, 1], 20)
    Z = standardize_runs(X, runs, detrend=False)
    for r in (0, 1):
        np.testing.assert_allclose(Z[runs == r].mean(0), 0, atol=1e-12)
        np.testing.assert_allclose(Z[runs == r].std(0), 1)
