"""Tests for neurodl.compare.rsa, run side by side with rsatoolbox."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.io
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.stats import rankdata

from neurodl.compare import rsa
from neurodl.errors import NonFiniteError, ShapeError, ValidationError

rsatoolbox = pytest.importorskip("rsatoolbox")
from rsatoolbox.data import Dataset  # noqa: E402
from rsatoolbox.data.noise import prec_from_residuals  # noqa: E402
from rsatoolbox.inference import boot_noise_ceiling  # noqa: E402
from rsatoolbox.rdm import RDMs, calc_rdm, compare  # noqa: E402

BUNDLED = Path(rsa.__file__).resolve().parents[1] / "data" / "bundled"
RSA92 = BUNDLED / "rsa_92images"

# our method name -> rsatoolbox's
COMPARE_NAMES = {
    "spearman": "spearman",
    "pearson": "corr",
    "cosine": "cosine",
    "kendall_tau_a": "tau-a",
    "kendall_tau_b": "kendall",
    "rho_a": "rho-a",
    "whitened_cosine": "cosine_cov",
    "whitened_pearson": "corr_cov",
}
TOL = 1e-10


def _vec(rdms: Any) -> np.ndarray:
    return np.asarray(rdms.get_vectors())


@pytest.fixture(scope="module")
def rng() -> np.random.Generator:
    return np.random.default_rng(2024)


@pytest.fixture(scope="module")
def brain_and_models() -> tuple[np.ndarray, np.ndarray]:
    brain = scipy.io.loadmat(
        RSA92 / "92_brainRDMs.mat", squeeze_me=True, struct_as_record=False
    )["RDMs"]
    models = scipy.io.loadmat(
        RSA92 / "92_modelRDMs.mat", squeeze_me=True, struct_as_record=False
    )["Models"]
    b = np.stack([np.asarray(s.RDM, dtype=float) for s in brain.ravel()])
    m = np.stack([np.asarray(s.RDM, dtype=float) for s in models.ravel()])
    return b, m


# ---------------------------------------------------------------- RDMs


@pytest.mark.parametrize("method", ["euclidean", "correlation"])
def test_rdm_matches_rsatoolbox(rng: np.random.Generator, method: str) -> None:
    x = rng.standard_normal((12, 40))
    ref = _vec(calc_rdm(Dataset(x), method=method))[0]
    ours = rsa.rdm(x, method)
    assert np.abs(rsa.condensed(ours) - ref).max() < TOL
    assert np.allclose(ours, ours.T) and np.all(np.diag(ours) == 0)


def test_rdm_descriptor_averages_like_rsatoolbox(rng: np.random.Generator) -> None:
    x = rng.standard_normal((15, 25))
    labels = np.array(list("cabcabcabcabcdd"))
    ds = Dataset(x, obs_descriptors={"cond": labels})
    for method in ("euclidean", "correlation"):
        ref = _vec(calc_rdm(ds, method=method, descriptor="cond"))[0]
        ours = rsa.rdm(x, method, descriptor=labels)
        assert ours.shape == (4, 4)
        assert np.abs(rsa.condensed(ours) - ref).max() < TOL


def test_rdm_cosine_matches_scipy(rng: np.random.Generator) -> None:
    from scipy.spatial.distance import pdist

    x = rng.standard_normal((9, 30))
    assert np.abs(rsa.condensed(rsa.rdm(x, "cosine")) - pdist(x, "cosine")).max() < TOL


def test_rdm_accepts_torch(rng: np.random.Generator) -> None:
    x = rng.standard_normal((6, 10))
    np.testing.assert_allclose(rsa.rdm(torch.from_numpy(x)), rsa.rdm(x))


def test_square_condensed_roundtrip(rng: np.random.Generator) -> None:
    v = rng.random((3, 10))
    m = rsa.square(v)
    assert m.shape == (3, 5, 5)
    np.testing.assert_array_equal(rsa.condensed(m), v)


# ---------------------------------------------------------------- crossnobis


def _crossnobis_ref(
    x: np.ndarray, runs: np.ndarray, conds: np.ndarray, noise: Any
) -> np.ndarray:
    ds = Dataset(x, obs_descriptors={"conds": conds, "runs": runs})
    with warnings.catch_warnings():
        # rsatoolbox casts NaN into an int descriptor array while building the RDM
        warnings.filterwarnings(
            "ignore", "invalid value encountered in cast", RuntimeWarning
        )
        res = calc_rdm(
            ds,
            method="crossnobis",
            descriptor="conds",
            cv_descriptor="runs",
            noise=noise,
        )
    return _vec(res)[0]


@pytest.mark.parametrize("noise_method", [None, "diag", "shrinkage_diag", "full"])
def test_crossnobis_matches_rsatoolbox(
    rng: np.random.Generator, noise_method: str | None
) -> None:
    n_runs, n_cond, n_ch = 4, 7, 15
    runs = np.repeat(np.arange(n_runs), n_cond)
    conds = np.tile(np.arange(n_cond), n_runs)
    x = rng.standard_normal((n_runs * n_cond, n_ch))
    noise = None
    if noise_method is not None:
        noise = prec_from_residuals(
            rng.standard_normal((40, n_ch)), method=noise_method
        )
    ref = _crossnobis_ref(x, runs, conds, noise)
    ours = rsa.crossnobis_rdm(x, runs, noise, conditions=conds)
    assert np.abs(rsa.condensed(ours) - ref).max() < TOL
    # 3-D input (n_runs, n_cond, n_ch) gives the same
    three_d = rsa.crossnobis_rdm(x.reshape(n_runs, n_cond, n_ch), noise=noise)
    assert np.abs(three_d - ours).max() < TOL


def test_crossnobis_unbalanced_and_shuffled(rng: np.random.Generator) -> None:
    n_runs, n_cond, n_ch = 3, 5, 12
    runs = np.r_[np.repeat(np.arange(n_runs), n_cond), [0, 2, 2]]
    conds = np.r_[np.tile(np.arange(n_cond), n_runs), [4, 1, 3]]
    x = rng.standard_normal((runs.size, n_ch))
    perm = rng.permutation(runs.size)
    runs, conds, x = runs[perm], conds[perm], x[perm]
    noise = prec_from_residuals(rng.standard_normal((30, n_ch)))
    ref = _crossnobis_ref(x, runs, conds, noise)
    ours = rsa.crossnobis_rdm(x, runs, noise, conditions=conds)
    assert np.abs(rsa.condensed(ours) - ref).max() < TOL


def test_crossnobis_diagonal_noise_vector(rng: np.random.Generator) -> None:
    x = rng.standard_normal((3, 4, 8))
    p = rng.random(8) + 0.5
    np.testing.assert_allclose(
        rsa.crossnobis_rdm(x, noise=p), rsa.crossnobis_rdm(x, noise=np.diag(p))
    )


@pytest.mark.parametrize("method", ["diag", "shrinkage_diag", "shrinkage_eye", "full"])
@pytest.mark.parametrize("n_res", [12, 60])
def test_noise_precision_matches_rsatoolbox(
    rng: np.random.Generator, method: str, n_res: int
) -> None:
    if method == "full" and n_res < 30:
        pytest.skip("sample covariance is singular with fewer residuals than channels")
    res = rng.standard_normal((n_res, 30)) * rng.random(30)
    ref = prec_from_residuals(res.copy(), method=method)
    ours = rsa.noise_precision(res, method)
    assert np.abs(ours - ref).max() / np.abs(ref).max() < TOL


def test_noise_precision_dof(rng: np.random.Generator) -> None:
    res = rng.standard_normal((20, 10))
    ref = prec_from_residuals(res.copy(), dof=15, method="shrinkage_diag")
    ours = rsa.noise_precision(res, "shrinkage_diag", dof=15)
    assert np.abs(ours - ref).max() / np.abs(ref).max() < TOL


# ---------------------------------------------------------------- comparisons


@pytest.mark.parametrize("method", list(COMPARE_NAMES))
def test_compare_matches_rsatoolbox_random(
    rng: np.random.Generator, method: str
) -> None:
    a = rng.random((3, 45))
    b = rng.random((4, 45))
    b[0] = np.round(b[0], 1)  # ties
    ref = compare(RDMs(a), RDMs(b), COMPARE_NAMES[method])
    ours = rsa.compare_rdms(a, b, method)
    assert ours.shape == (3, 4)
    assert np.abs(ours - ref).max() < TOL
    # square stacks give the same, and a single pair gives a float
    assert (
        np.abs(rsa.compare_rdms(rsa.square(a), rsa.square(b), method) - ref).max() < TOL
    )
    single = rsa.compare_rdms(rsa.square(a[0]), b[1], method)
    assert isinstance(single, float)
    assert abs(single - ref[0, 1]) < TOL


@pytest.mark.parametrize("method", list(COMPARE_NAMES))
def test_compare_matches_rsatoolbox_92_images(
    brain_and_models: tuple[np.ndarray, np.ndarray], method: str
) -> None:
    brain, models = brain_and_models
    if method in ("kendall_tau_a", "kendall_tau_b"):
        models = models[:3]
    ref = compare(
        RDMs(rsa.condensed(brain)), RDMs(rsa.condensed(models)), COMPARE_NAMES[method]
    )
    ours = rsa.compare_rdms(brain, models, method)
    assert np.abs(ours - ref).max() < TOL


@pytest.mark.filterwarnings("ignore:Noise ceiling for tau based on averaged ranks")
@pytest.mark.parametrize("method", list(rsa.NOISE_CEILING_METHODS))
def test_noise_ceiling_matches_rsatoolbox(
    brain_and_models: tuple[np.ndarray, np.ndarray], method: str
) -> None:
    brain, _ = brain_and_models
    ref = boot_noise_ceiling(RDMs(rsa.condensed(brain)), method=COMPARE_NAMES[method])
    ours = rsa.noise_ceiling(brain, method)
    assert np.abs(np.array(ours) - np.array(ref, dtype=float)).max() < TOL
    assert ours[0] <= ours[1]


# ---------------------------------------------------------------- properties


@settings(max_examples=30, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(2, 8), st.integers(2, 6)),
        elements=st.floats(-100, 100, allow_nan=False, width=64),
    ),
    st.sampled_from(["euclidean", "cosine", "correlation"]),
)
def test_rdm_symmetric_zero_diagonal(x: np.ndarray, method: str) -> None:
    centred = x - x.mean(axis=1, keepdims=True)
    ref = centred if method == "correlation" else x
    if np.any(np.linalg.norm(ref, axis=1) < 1e-6) and method != "euclidean":
        return
    d = rsa.rdm(x, method)
    np.testing.assert_array_equal(d, d.T)
    np.testing.assert_array_equal(np.diag(d), 0.0)


@settings(max_examples=30, deadline=None)
@given(
    arrays(np.float64, 15, elements=st.floats(0, 10, allow_nan=False, width=64)),
    arrays(np.float64, 15, elements=st.floats(0, 10, allow_nan=False, width=64)),
    st.sampled_from(["exp", "cube", "affine"]),
)
def test_spearman_invariant_to_monotone_transform(
    a: np.ndarray, b: np.ndarray, transform: str
) -> None:
    funcs: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "exp": np.exp,
        "cube": lambda v: v**3,
        "affine": lambda v: 3 * v + 1,
    }
    # strictly monotone in exact arithmetic; skip inputs that rounding merges
    assume(np.array_equal(rankdata(funcs[transform](a)), rankdata(a)))
    before = rsa.compare_rdms(a, b, "spearman")
    after = rsa.compare_rdms(funcs[transform](a), b, "spearman")
    assert abs(before - after) < 1e-12


# ---------------------------------------------------------------- errors


def test_error_condition_counts_differ() -> None:
    with pytest.raises(ShapeError, match=r"rdm_a with 4 and rdm_b with 5"):
        rsa.compare_rdms(np.zeros((4, 4)), np.zeros(10), "spearman")


def test_error_non_square_and_asymmetric() -> None:
    with pytest.raises(ShapeError, match="square"):
        rsa.condensed(np.zeros((3, 4)))
    bad = np.zeros((3, 3))
    bad[0, 1] = 1.0
    with pytest.raises(ValidationError, match=r"symmetric.*index \(0, 1\)"):
        rsa.compare_rdms(bad, np.zeros((3, 3)))
    with pytest.raises(ShapeError, match=r"n\*\(n-1\)/2.*got 4"):
        rsa.square(np.zeros(4))


def test_error_nan_in_patterns() -> None:
    x = np.ones((4, 5))
    x[2, 3] = np.nan
    x[3, 0] = np.nan
    with pytest.raises(NonFiniteError, match=r"'patterns'.*2 NaN.*\(2, 3\)"):
        rsa.rdm(x, "euclidean")


def test_error_too_few_runs(rng: np.random.Generator) -> None:
    x = rng.standard_normal((4, 3))
    with pytest.raises(ValidationError, match=r"at least 2 distinct runs; got 1"):
        rsa.crossnobis_rdm(x, np.zeros(4), conditions=np.arange(4))


def test_error_condition_missing_from_run(rng: np.random.Generator) -> None:
    x = rng.standard_normal((5, 3))
    with pytest.raises(ValidationError, match="every condition in every run"):
        rsa.crossnobis_rdm(x, [0, 0, 0, 1, 1], conditions=[0, 1, 2, 0, 1])


def test_error_unknown_methods(rng: np.random.Generator) -> None:
    x = rng.standard_normal((4, 3))
    with pytest.raises(ValidationError, match=r"'method' must be one of.*'manhattan'"):
        rsa.rdm(x, "manhattan")
    with pytest.raises(ValidationError, match=r"'method'.*'kendall'"):
        rsa.compare_rdms(np.zeros(6), np.zeros(6), "kendall")
    with pytest.raises(ValidationError, match=r"'method'.*'whitened_cosine'"):
        rsa.noise_ceiling(np.zeros((3, 6)), "whitened_cosine")
    with pytest.raises(ValidationError, match=r"'method'.*'ledoit'"):
        rsa.noise_precision(x, "ledoit")


def test_error_noise_shape_and_subjects(rng: np.random.Generator) -> None:
    x = rng.standard_normal((2, 3, 4))
    with pytest.raises(ShapeError, match=r"'noise' must be .*\(4, 4\).*got shape"):
        rsa.crossnobis_rdm(x, noise=np.eye(3))
    with pytest.raises(ValidationError, match="at least 2 subjects; got 1"):
        rsa.noise_ceiling(np.zeros((1, 6)))
    with pytest.raises(ValidationError, match="zero variance in 1 channel"):
        rsa.noise_precision(np.c_[rng.standard_normal((5, 2)), np.ones(5)], "diag")
