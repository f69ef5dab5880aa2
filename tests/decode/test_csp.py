"""neurodl's own CSP, run beside MNE's ``mne.decoding.CSP`` on real EEG.

Equality is to 1e-8 relative: filters and patterns row by row (each filter up to
its sign, scaled by its largest entry), log-power features element by element.
"""

from pathlib import Path

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from neurodl.data import load_eeg
from neurodl.decode import CSPLDA, cross_validate
from neurodl.decode.csp import CSP, estimate_rank
from neurodl.errors import ShapeError, ValidationError

mne = pytest.importorskip("mne")

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "eegmmidb"
RTOL = 1e-8


def _mne_csp(X, y, **kw):
    from mne.decoding import CSP as MNECSP

    with mne.utils.use_log_level("error"):
        return MNECSP(log=True, **kw).fit(X, y)


def _row_rel(ours, ref):
    """Largest difference per row / that row's largest entry, up to each row's sign."""
    sign = np.sign(np.sum(ours * ref, axis=1))
    diff = np.abs(ours * sign[:, None] - ref).max(axis=1)
    return float((diff / np.abs(ref).max(axis=1)).max())


def _assert_equal_to_mne(X, y, **kw):
    ref = _mne_csp(X, y, **kw)  # MNE's defaults: n_components=4, norm_trace=False
    ours = CSP(**kw).fit(X, y)
    assert ours.filters_.shape == ref.filters_.shape
    assert _row_rel(ours.filters_, ref.filters_) < RTOL
    # the patterns and filters flip together
    sign = np.sign(np.sum(ours.filters_ * ref.filters_, axis=1))
    assert _row_rel(ours.patterns_ * sign[:, None], ref.patterns_) < RTOL
    np.testing.assert_allclose(ours.transform(X), ref.transform(X), rtol=RTOL)
    if ref.evals_ is not None:
        np.testing.assert_allclose(ours.evals_, ref.evals_, rtol=RTOL, atol=1e-12)
    return ours


def _shared_subject(subject, runs=(6, 10, 14)):
    if not (SHARED / f"S{subject:03d}").is_dir():
        pytest.skip(f"eegmmidb S{subject:03d} is not in {SHARED}")
    return load_eeg(SHARED, subject=subject, runs=runs)


DATASETS = {
    # MNE's example: S001 imagined fists vs feet (bundled)
    "S001 runs 6/10/14": lambda: load_eeg(),
    # from the shared data folder: S001 imagined left vs right fist, other subjects
    "S001 runs 4/8/12": lambda: _shared_subject(1, (4, 8, 12)),
    "S002 runs 6/10/14": lambda: _shared_subject(2),
    "S005 runs 4/8/12": lambda: _shared_subject(5, (4, 8, 12)),
}


@pytest.fixture(scope="module", params=list(DATASETS))
def dataset(request):
    return DATASETS[request.param]()


def test_filters_patterns_features_equal_mnes(dataset):
    X, y = dataset.X, dataset.y
    ours = _assert_equal_to_mne(X, y)  # MNE's example: rank estimated
    assert ours.rank_ == dataset.rank == 63  # the average reference's
    # the rank stated instead of estimated: the same
    _assert_equal_to_mne(X, y, rank={"eeg": dataset.rank})


@pytest.mark.parametrize(
    "kw",
    [
        {"reg": 0.1},
        {"norm_trace": True},
        {"component_order": "alternate"},
        {"rank": {"eeg": 40}},  # below the data's rank: MNE's projections
        {"n_components": 6},
    ],
    ids=lambda kw: next(iter(kw)),
)
def test_options_equal_mnes(kw):
    ep = load_eeg()
    _assert_equal_to_mne(ep.X, ep.y, **kw)


@pytest.mark.parametrize("reg", ["oas", "ledoit_wolf"])
def test_estimated_shrinkage_equals_mnes_at_full_rank(reg):
    ep = load_eeg(reference=None)
    assert estimate_rank(np.hstack(ep.X)) == 64
    _assert_equal_to_mne(ep.X, ep.y, reg=reg)


def test_three_classes_equal_mnes_at_full_rank():
    # rest, fists, feet; 16 of the 64 average-referenced channels (full rank)
    ep = load_eeg(rest=True)
    _assert_equal_to_mne(ep.X[:, ::4], ep.y)


def test_three_classes_below_full_rank_are_reproducible():
    # MNE's filters here depend on the order of the trials (see neurodl.decode.csp);
    # neurodl's do not
    ep = load_eeg(rest=True)
    X, y = ep.X[:, ::4], ep.y
    X = X - X.mean(axis=1, keepdims=True)  # average reference of the 16: rank 15
    perm = np.random.default_rng(0).permutation(len(y))
    a = CSP().fit(X, y)
    b = CSP().fit(X[perm], y[perm])
    assert a.rank_ == 15
    assert _row_rel(b.filters_, a.filters_) < 1e-9
    np.testing.assert_allclose(b.transform(X), a.transform(X), rtol=1e-9)


def test_csp_lda_fold_scores_equal_mnes_pipeline_on_another_subject():
    from mne.decoding import CSP as MNECSP
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.model_selection import ShuffleSplit, cross_val_score
    from sklearn.pipeline import Pipeline

    ep = _shared_subject(2)
    pipe = Pipeline(
        [
            ("CSP", MNECSP(n_components=4, reg=None, log=True, norm_trace=False)),
            ("LDA", LinearDiscriminantAnalysis()),
        ]
    )
    cv = ShuffleSplit(10, test_size=0.2, random_state=42)
    with mne.utils.use_log_level("error"):
        ref = cross_val_score(pipe, ep.X, ep.y, cv=cv)
    ours = cross_validate(CSPLDA(), ep.X, ep.y)
    np.testing.assert_array_equal(ours.scores["accuracy"], ref)


def test_csplda_uses_neurodls_csp():
    ep = load_eeg()
    clf = CSPLDA(rank={"eeg": ep.rank}).fit(ep.X, ep.y)
    assert isinstance(clf.csp_, CSP)
    np.testing.assert_allclose(
        clf.features(ep.X), clf.csp_.transform(ep.X), rtol=0, atol=0
    )


def test_fit_transform_equals_fit_then_transform():
    ep = load_eeg()
    for log in (True, False):
        csp = CSP(log=log)
        np.testing.assert_allclose(
            csp.fit_transform(ep.X, ep.y), csp.transform(ep.X), rtol=1e-13
        )
    z = CSP(log=False).fit_transform(ep.X, ep.y)
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=0), 1, rtol=1e-12)
    assert CSP(n_components=3).fit(ep.X, ep.y).sources(ep.X).shape == (45, 3, 161)


def test_clear_errors():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 5, 40))
    y = np.array([0, 1] * 10)
    bad = [
        ({"n_components": 0}, r"'n_components' must be an integer >= 1; got 0"),
        ({"reg": 1.5}, r"'reg' as a shrinkage must be in \[0, 1\]; got 1.5"),
        ({"reg": "shrunk"}, r"'reg' must be None, a float in \[0, 1\] or one of"),
        ({"rank": 6}, r"'rank' = 6 exceeds the number of channels \(5\)"),
        ({"rank": "half"}, r"'rank' must be None, 'full', 'info'"),
        ({"rank": {"eeg": 0}}, r"'rank' must be None, 'full', 'info', an integer"),
        ({"log": "yes"}, r"'log' must be True or False"),
        ({"component_order": "best"}, r"'component_order' must be one of"),
    ]
    for kw, match in bad:
        with pytest.raises(ValidationError, match=match):
            CSP(**kw).fit(X, y)
    with pytest.raises(ValidationError, match="'alternate' needs two classes"):
        CSP(component_order="alternate").fit(X, np.arange(20) % 3)
    with pytest.raises(ValidationError, match="at least two classes"):
        CSP().fit(X, np.zeros(20))
    with pytest.raises(ShapeError, match=r"'X' must be 3-D"):
        CSP().fit(X[..., None], y)
    # a flat channel in data said to be of full rank: a clear error
    flat = X.copy()
    flat[:, 2] = 0.0
    with pytest.raises(ValidationError, match="class covariances are singular"):
        CSP(rank="full").fit(flat, y)
    with pytest.raises(ValidationError, match="class covariances are singular"):
        CSP(rank="full").fit(flat, np.arange(20) % 3)
    assert CSP().fit(flat, y).rank_ == 4  # the estimate sees it
    fitted = CSP().fit(X, y)
    with pytest.raises(ValueError, match="5 features"):
        fitted.transform(X[:, :3])


@parametrize_with_checks([CSP(), CSP(n_components=2, reg=0.1, log=False)])
def test_sklearn_common_checks(estimator, check):
    check(estimator)
