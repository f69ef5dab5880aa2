"""neurodl.decode.convnet: modules, estimators and the real-data accuracy target."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import DataConversionWarning, NotFittedError
from sklearn.model_selection import ShuffleSplit
from sklearn.utils.estimator_checks import parametrize_with_checks

from neurodl.decode.convnet import (
    PRESETS,
    ConvNetClassifier,
    EEGNet,
    EEGNetClassifier,
    ShallowConvNet,
    ShallowConvNetClassifier,
)
from neurodl.errors import NonFiniteError, ShapeError, ValidationError


# ------------------------------------------------------------------ synthetic data
def power_dataset(
    n_trials: int = 40, n_channels: int = 6, n_times: int = 200, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Noise plus a 12 Hz rhythm (160 Hz sampling) whose amplitude tells the class.

    Class 0: strong rhythm on a mixture of channels 0 and 1; class 1: on 2 and 3.
    The class mean of every sample is zero: only the power differs.
    """
    rng = np.random.default_rng(seed)
    y = np.tile([0, 1], n_trials // 2)
    t = np.arange(n_times) / 160.0
    X = rng.normal(size=(n_trials, n_channels, n_times))
    for i, c in enumerate(y):
        phase = rng.uniform(0, 2 * np.pi)
        rhythm = 3.0 * np.sin(2 * np.pi * 12.0 * t + phase)
        X[i, 2 * c] += rhythm
        X[i, 2 * c + 1] += 0.5 * rhythm
    return X * 1e-5, y  # volts, as MNE gives them


FAST = {"epochs": 15, "crop_length": 96, "pool_length": 48, "pool_stride": 8}


# ---------------------------------------------------------- scikit-learn's checks
@parametrize_with_checks(
    [
        ShallowConvNetClassifier(epochs=20, random_state=0),
        EEGNetClassifier(epochs=20, random_state=0),
        ConvNetClassifier("shallow", epochs=20, batch_size=16, random_state=0),
    ]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


# ------------------------------------------------------------------------ modules
def test_shallow_module_shapes_and_receptive_field():
    net = ShallowConvNet(
        10, 3, n_temporal=2, temporal_kernel=5, n_spatial=4, pool_length=20
    )
    net.eval()
    out = net(torch.zeros(7, 10, 100))
    # (100 - 5 + 1 - 20) // 10 + 1 windows
    assert out.shape == (7, 3, 8)
    assert net.receptive_field == 24
    assert net(torch.zeros(2, 10, 24)).shape == (2, 3, 1)


def test_eegnet_module_shapes():
    net = EEGNet(10, 2, f1=4, depth=2, f2=8, kernel_length=16, head_length=2)
    net.eval()
    assert net.receptive_field == 4 * 8 * 2
    assert net(torch.zeros(3, 10, 64)).shape == (3, 2, 1)
    assert net(torch.zeros(3, 10, 128)).shape == (3, 2, 3)


# --------------------------------------------------------------------- estimators
@pytest.mark.parametrize("cls", [ShallowConvNetClassifier, EEGNetClassifier])
def test_learns_a_power_difference(cls):
    X, y = power_dataset(n_trials=60, seed=1)
    X_test, y_test = power_dataset(n_trials=40, seed=2)
    params = dict(FAST) if cls is ShallowConvNetClassifier else {"epochs": 15}
    clf = cls(random_state=0, **params).fit(X, y)
    assert clf.score(X_test, y_test) >= 0.9
    proba = clf.predict_proba(X_test)
    assert proba.shape == (40, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert clf.decision_function(X_test).shape == (40,)
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]


def test_deterministic_given_random_state():
    X, y = power_dataset(n_trials=20)
    a = ShallowConvNetClassifier(random_state=3, **FAST).fit(X, y)
    b = ShallowConvNetClassifier(random_state=3, **FAST).fit(X, y)
    c = ShallowConvNetClassifier(random_state=4, **FAST).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert a.loss_curve_ == b.loss_curve_
    assert a.loss_curve_ != c.loss_curve_


def test_fit_leaves_global_torch_rng_alone():
    X, y = power_dataset(n_trials=12)
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    ShallowConvNetClassifier(epochs=2, random_state=0).fit(X, y)
    assert torch.equal(torch.rand(3), expected)


def test_labels_and_classes_are_kept():
    X, y = power_dataset(n_trials=20)
    labels = np.array(["feet", "hands"])[y]
    clf = ShallowConvNetClassifier(random_state=0, **FAST).fit(X, labels)
    np.testing.assert_array_equal(clf.classes_, ["feet", "hands"])
    assert set(clf.predict(X)) <= {"feet", "hands"}


def test_standardisation_uses_training_trials_only():
    X, y = power_dataset(n_trials=20)
    clf = ShallowConvNetClassifier(epochs=1, random_state=0).fit(X[:12], y[:12])
    np.testing.assert_allclose(clf.mean_, X[:12].mean(axis=(0, 2)))
    np.testing.assert_allclose(clf.scale_, X[:12].std(axis=(0, 2)))
    mean = clf.mean_.copy()
    clf.predict(X[12:] + 1.0)  # prediction does not refit the statistics
    np.testing.assert_array_equal(clf.mean_, mean)


def test_presets_and_resolved_params():
    X, y = power_dataset(n_trials=8, n_times=40)
    shallow = ShallowConvNetClassifier(epochs=1, random_state=0).fit(X, y)
    assert shallow.params_ == {**PRESETS["shallow"], "epochs": 1}
    assert isinstance(shallow.module_, ShallowConvNet)
    eegnet = EEGNetClassifier(epochs=1, random_state=0).fit(X, y)
    assert isinstance(eegnet.module_, EEGNet)
    assert "arch" not in ShallowConvNetClassifier().get_params()
    assert clone(EEGNetClassifier()).arch == "eegnet"
    assert ConvNetClassifier("eegnet").get_params()["arch"] == "eegnet"


def test_kernels_are_clipped_to_short_trials():
    X, y = power_dataset(n_trials=10, n_times=5)
    clf = ShallowConvNetClassifier(epochs=2, random_state=0).fit(X, y)
    assert clf.predict(X).shape == (10,)
    flat = ShallowConvNetClassifier(epochs=2, random_state=0).fit(X[:, :, 0], y)
    assert flat.n_times_ == 1
    assert flat.predict(X[:, :, 0]).shape == (10,)


def test_longer_trials_are_averaged_over_windows():
    X, y = power_dataset(n_trials=30, n_times=200)
    clf = ShallowConvNetClassifier(random_state=0, **FAST).fit(X[:, :, :120], y)
    assert clf.min_times_ == clf.module_.receptive_field
    assert clf.predict_proba(X).shape == (30, 2)
    with pytest.raises(ShapeError, match=r"at least \d+ time samples"):
        clf.predict(X[:, :, : clf.min_times_ - 1])


def test_early_stopping_on_an_inner_split():
    X, y = power_dataset(n_trials=30)
    clf = ShallowConvNetClassifier(validation_fraction=0.2, random_state=0, **FAST).fit(
        X, y
    )
    assert len(clf.validation_curve_) == FAST["epochs"]
    assert len(clf.loss_curve_) == FAST["epochs"]


def test_multiclass():
    X, _ = power_dataset(n_trials=30)
    y3 = np.arange(30) % 3
    clf = ShallowConvNetClassifier(random_state=0, **FAST).fit(X, y3)
    assert clf.predict_proba(X).shape == (30, 3)
    assert clf.decision_function(X).shape == (30, 3)


# ------------------------------------------------------------------------- errors
def test_too_few_trials():
    X, y = power_dataset(n_trials=2)
    with pytest.raises(ValidationError, match=r"at least 2 trials per class.*got 2"):
        ShallowConvNetClassifier().fit(X, y)


def test_one_class():
    X, _ = power_dataset(n_trials=6)
    with pytest.raises(ValidationError, match="1 class"):
        ShallowConvNetClassifier().fit(X, np.zeros(6))


def test_nan_in_X():
    X, y = power_dataset(n_trials=6)
    X[2, 1, 5] = np.nan
    with pytest.raises(NonFiniteError, match=r"'X' must be finite.*\(2, 1, 5\)"):
        ShallowConvNetClassifier().fit(X, y)
    clf = ShallowConvNetClassifier(epochs=1, random_state=0).fit(np.nan_to_num(X), y)
    X[2, 1, 5] = np.inf
    with pytest.raises(NonFiniteError, match="'X'"):
        clf.predict(X)


@pytest.mark.parametrize("shape", [(4,), (2, 3, 4, 5)])
def test_bad_X_shape(shape):
    with pytest.raises(ShapeError, match=r"'X' must be 3-D \(trials, channels, times"):
        ShallowConvNetClassifier().fit(np.zeros(shape), [0, 1, 0, 1][: shape[0]])


def test_empty_axes_are_named():
    with pytest.raises(ShapeError, match=r"0 time sample\(s\) \(shape=\(4, 3, 0\)\)"):
        ShallowConvNetClassifier().fit(np.zeros((4, 3, 0)), [0, 1, 0, 1])


def test_y_mismatch():
    X, y = power_dataset(n_trials=8)
    with pytest.raises(ShapeError, match="same number of trials; got 8 and 7"):
        ShallowConvNetClassifier().fit(X, y[:-1])
    with pytest.raises(ShapeError, match="'y' must be 1-D"):
        ShallowConvNetClassifier().fit(X, np.stack([y, y], axis=1))
    with pytest.raises(ValidationError, match="requires y to be passed"):
        ShallowConvNetClassifier().fit(X, None)
    with pytest.raises(NonFiniteError, match="'y' must be finite"):
        ShallowConvNetClassifier().fit(X, np.full(8, np.nan))


def test_column_y_is_raveled_with_a_warning():
    X, y = power_dataset(n_trials=8, n_times=40)
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        clf = ShallowConvNetClassifier(epochs=1, random_state=0).fit(X, y[:, None])
    assert clf.predict(X).shape == (8,)


def test_channel_mismatch_at_predict():
    X, y = power_dataset(n_trials=8, n_times=40)
    clf = ShallowConvNetClassifier(epochs=1, random_state=0).fit(X, y)
    with pytest.raises(ShapeError, match=r"X has 5 features, but .* expecting 6"):
        clf.predict(X[:, :5])


def test_not_fitted():
    with pytest.raises(NotFittedError):
        ShallowConvNetClassifier().predict(np.zeros((2, 3, 4)))


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("arch", "deep"),
        ("epochs", 0),
        ("n_filters", 2.5),
        ("lr", -1.0),
        ("weight_decay", float("nan")),
        ("dropout", 1.0),
        ("crop_length", -5),
        ("validation_fraction", 1.5),
        ("augment", "yes"),
        ("threads", 0),
        ("device", "abacus"),
    ],
)
def test_bad_hyperparameters_are_named(param, value):
    X, y = power_dataset(n_trials=8, n_times=40)
    clf = ConvNetClassifier(epochs=1).set_params(**{param: value})
    with pytest.raises(ValidationError, match=f"'{param}'"):
        clf.fit(X, y)


# --------------------------------------------------------------- the real target
def _eegmmidb(tmin: float, tmax: float) -> tuple[np.ndarray, np.ndarray]:
    from neurodl.data.eeg import load_eeg

    epochs = load_eeg("eegmmidb", subject=1, runs=(6, 10, 14), tmin=tmin, tmax=tmax)
    return epochs.X, epochs.y


def _cv_accuracy(clf: ConvNetClassifier, X: np.ndarray, y: np.ndarray) -> list[float]:
    cv = ShuffleSplit(10, test_size=0.2, random_state=42)
    scores = []
    for train, test in cv.split(X):
        scores.append(clone(clf).fit(X[train], y[train]).score(X[test], y[test]))
    return scores


def test_shallow_convnet_reaches_target_on_eegmmidb():
    """>= 0.85 over MNE's CSP example folds, the ten fits within 180 s of CPU."""
    X, y = _eegmmidb(0.0, 4.0)  # the window the presets are meant for
    assert X.shape == (45, 64, 641)
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        t0 = time.process_time()
        scores = _cv_accuracy(ShallowConvNetClassifier(random_state=0), X, y)
        cpu_s = time.process_time() - t0
    finally:
        torch.set_num_threads(old)
    assert np.mean(scores) >= 0.85, scores
    assert cpu_s <= 180.0


@pytest.mark.slow
def test_eegnet_on_eegmmidb():
    X, y = _eegmmidb(0.0, 4.0)
    scores = _cv_accuracy(EEGNetClassifier(random_state=0), X, y)
    assert np.mean(scores) >= 0.8, scores
