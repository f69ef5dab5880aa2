import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import ortho_group

from neurodl.compare.cka import cka, gram_linear, gram_rbf, hsic
from neurodl.errors import NonFiniteError, ShapeError, ValidationError


def _centering(n: int) -> np.ndarray:
    return np.eye(n) - np.ones((n, n)) / n


def _cka_gram_direct(k: np.ndarray, l: np.ndarray) -> float:  # noqa: E741
    """Biased CKA straight from the definition: tr(KHLH) normalised."""
    h = _centering(k.shape[0])

    def hs(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.trace(a @ h @ b @ h))

    return hs(k, l) / np.sqrt(hs(k, k) * hs(l, l))


def _hsic_unbiased(k: np.ndarray, l: np.ndarray) -> float:  # noqa: E741
    """Song et al. (2012) unbiased HSIC estimator, eq. (5)."""
    n = k.shape[0]
    kt = k - np.diag(np.diag(k))
    lt = l - np.diag(np.diag(l))
    one = np.ones(n)
    term = (
        np.trace(kt @ lt)
        + (one @ kt @ one) * (one @ lt @ one) / ((n - 1) * (n - 2))
        - 2.0 / (n - 2) * (one @ kt @ lt @ one)
    )
    return float(term / (n * (n - 3)))


def _cka_unbiased_direct(k: np.ndarray, l: np.ndarray) -> float:  # noqa: E741
    return _hsic_unbiased(k, l) / np.sqrt(_hsic_unbiased(k, k) * _hsic_unbiased(l, l))


def _rbf_direct(x: np.ndarray, sigma: float) -> np.ndarray:
    d2 = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    return np.exp(-d2 / (2 * sigma**2 * np.median(d2)))


@pytest.fixture
def xy() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 6))
    y = np.tanh(x @ rng.normal(size=(6, 9))) + 0.5 * rng.normal(size=(40, 9))
    return x, y


@pytest.mark.parametrize("p", [6, 60])  # feature-space path (p < n) and Gram path
def test_linear_matches_gram_definition(p: int) -> None:
    rng = np.random.default_rng(p)
    x = rng.normal(size=(40, p))
    y = x[:, :3] @ rng.normal(size=(3, 7)) + rng.normal(size=(40, 7))
    expected = _cka_gram_direct(x @ x.T, y @ y.T)
    assert cka(x, y) == pytest.approx(expected, abs=1e-12)
    assert cka(y, x) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("p", [6, 60])
def test_linear_debiased_matches_unbiased_hsic(p: int) -> None:
    rng = np.random.default_rng(p + 1)
    x = rng.normal(size=(40, p))
    y = x[:, :3] @ rng.normal(size=(3, 7)) + rng.normal(size=(40, 7))
    expected = _cka_unbiased_direct(x @ x.T, y @ y.T)
    assert cka(x, y, debiased=True) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("debiased", [False, True])
@pytest.mark.parametrize("sigma", [None, 0.5, 2.0])
def test_rbf_matches_gram_definition(
    xy: tuple[np.ndarray, np.ndarray], debiased: bool, sigma: float | None
) -> None:
    x, y = xy
    s = 0.8 if sigma is None else sigma
    k, l = _rbf_direct(x, s), _rbf_direct(y, s)  # noqa: E741
    direct = _cka_unbiased_direct if debiased else _cka_gram_direct
    got = cka(x, y, "rbf", debiased=debiased, sigma=sigma)
    assert got == pytest.approx(direct(k, l), abs=1e-12)
    np.testing.assert_allclose(gram_rbf(x, s).numpy(), k, atol=1e-12)


def test_hsic_helpers(xy: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = xy
    n = x.shape[0]
    k, l = x @ x.T, y @ y.T  # noqa: E741
    h = _centering(n)
    assert hsic(k, l) == pytest.approx(np.trace(k @ h @ l @ h), rel=1e-12)
    assert hsic(k, l, debiased=True) == pytest.approx(
        n * (n - 3) * _hsic_unbiased(k, l), rel=1e-10
    )
    np.testing.assert_allclose(gram_linear(x).numpy(), k, atol=1e-12)


def test_float32_accumulates_in_float64() -> None:
    rng = np.random.default_rng(1)
    n = 10_000
    x = (rng.normal(size=(n, 20)) + 3.0).astype(np.float32)
    y = (x[:, :5] @ rng.normal(size=(5, 10)) + rng.normal(size=(n, 10))).astype(
        np.float32
    )
    ref = cka(x.astype(np.float64), y.astype(np.float64))
    assert abs(cka(x, y) - ref) < 1e-6
    assert abs(cka(torch.from_numpy(x), torch.from_numpy(y)) - ref) < 1e-6
    ref_d = cka(x.astype(np.float64), y.astype(np.float64), debiased=True)
    assert abs(cka(x, y, debiased=True) - ref_d) < 1e-6


def test_torch_and_numpy_agree(xy: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = xy
    for kernel in ("linear", "rbf"):
        a = cka(x, y, kernel)
        b = cka(torch.from_numpy(x).float(), torch.from_numpy(y), kernel)
        assert a == pytest.approx(b, abs=1e-6)


def test_unrelated_debiased_near_zero() -> None:
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(200, 500)), rng.normal(size=(200, 500))
    assert cka(x, y) > 0.5  # the biased estimator is pulled up for p >> n
    assert abs(cka(x, y, debiased=True)) < 0.02


_dims = st.integers(min_value=1, max_value=6)


@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(min_value=8, max_value=30),
    p=_dims,
    q=_dims,
    scale=st.floats(min_value=1e-3, max_value=1e3),
    debiased=st.booleans(),
)
def test_property_invariances(
    seed: int, n: int, p: int, q: int, scale: float, debiased: bool
) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p))
    y = x @ rng.normal(size=(p, q)) + rng.normal(size=(n, q))
    base = cka(x, y, debiased=debiased)
    rot = ortho_group.rvs(p, random_state=seed) if p > 1 else np.array([[-1.0]])
    assert cka(x @ rot, y, debiased=debiased) == pytest.approx(base, abs=1e-9)
    assert cka(scale * x, y, debiased=debiased) == pytest.approx(base, abs=1e-9)
    assert cka(x, x, debiased=debiased) == pytest.approx(1.0, abs=1e-12)
    if not debiased:
        assert -1e-12 <= base <= 1 + 1e-12


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(min_value=5, max_value=25))
def test_property_rbf_self_similarity(seed: int, n: int) -> None:
    x = np.random.default_rng(seed).normal(size=(n, 3))
    assert cka(x, x, "rbf") == pytest.approx(1.0, abs=1e-12)


def test_errors(xy: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = xy
    with pytest.raises(ShapeError, match=r"\(40, 6\) and \(39, 9\)"):
        cka(x, y[:39])
    with pytest.raises(ShapeError, match="2-D"):
        cka(x[:, 0], y)
    bad = x.copy()
    bad[3, 2] = np.nan
    with pytest.raises(NonFiniteError, match="'x'"):
        cka(bad, y)
    with pytest.raises(ValidationError, match="kernel"):
        cka(x, y, "poly")
    with pytest.raises(ValidationError, match="sigma"):
        cka(x, y, "rbf", sigma=-1.0)
    with pytest.raises(ValidationError, match="sigma"):
        cka(x, y, sigma=0.5)
    with pytest.raises(ValidationError, match="vary"):
        cka(np.ones((10, 3)), y[:10])
    with pytest.raises(ShapeError, match="at least 4"):
        cka(x[:3], y[:3], debiased=True)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(xy: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = xy
    xc = torch.from_numpy(x).float().cuda()
    yc = torch.from_numpy(y).float().cuda()
    for kernel in ("linear", "rbf"):
        for debiased in (False, True):
            ref = cka(
                x.astype(np.float32), y.astype(np.float32), kernel, debiased=debiased
            )
            assert cka(xc, yc, kernel, debiased=debiased) == pytest.approx(
                ref, abs=1e-10
            )
