"""Hebb, Oja, Sanger (GHA) and Oja's subspace rule against their closed forms.

Data for the principal-axis claims (LEARNING.md section 3): 20,000 samples of
N(0, Q diag(5, 3, 2, 1, 0.5, 0.3, 0.2, 0.1) Q^T), Q random orthogonal, centred;
the reference axes are numpy.linalg.eigh's eigenvectors of x^T x / n.
"""

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from neurodl.errors import (
    NonFiniteError,
    ShapeError,
    TrainingDivergedError,
    ValidationError,
)
from neurodl.learning.hebbian import (
    fit_hebbian,
    hebb_step,
    oja_step,
    oja_trajectory,
    sanger_step,
    subspace_step,
)

F64 = torch.float64


@pytest.fixture(scope="module")
def gaussian():
    rng = np.random.default_rng(0)
    d = 8
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    var = np.array([5, 3, 2, 1, 0.5, 0.3, 0.2, 0.1])
    x = (rng.standard_normal((20_000, d)) * np.sqrt(var)) @ q.T
    x -= x.mean(0)
    _, evecs = np.linalg.eigh(x.T @ x / len(x))
    return torch.from_numpy(x), evecs[:, ::-1].T.copy()  # axes as rows, descending


def _cos(w, axis):
    return abs(float(w @ axis)) / float(np.linalg.norm(w))


# ------------------------------------------------------------ closed-form targets
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_oja_finds_first_principal_axis(gaussian, seed):
    """Oja (1982), J. Math. Biol. 15:267: the stable fixed points of
    dw = lr y (x - y w) are w = +-e_1 with |w| = 1 (e_1: leading eigenvector of
    E[x x^T]). LEARNING.md section 3.1 / 5 #5: |cos| >= 0.99, |(|w| - 1)| <= 0.02."""
    x, axes = gaussian
    w = fit_hebbian(x, "oja", n_epochs=20, lr=0.01, seed=seed).weights[0].numpy()
    assert _cos(w, axes[0]) >= 0.99  # measured 0.9948-0.9999 over 20 seeds
    assert abs(np.linalg.norm(w) - 1) <= 0.02  # measured <= 0.0011


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sanger_finds_ordered_axes(gaussian, seed):
    """Sanger (1989), Neural Networks 2:459: GHA row i converges to +-e_i, in
    order of decreasing eigenvalue, with unit norm. LEARNING.md section 3.2 / 5 #6."""
    x, axes = gaussian
    w = fit_hebbian(x, "sanger", 3, n_epochs=20, lr=0.01, seed=seed).weights.numpy()
    for i in range(3):
        assert _cos(w[i], axes[i]) >= 0.99  # measured >= 0.9934 over 20 seeds
        assert abs(np.linalg.norm(w[i]) - 1) <= 0.02  # measured <= 0.0068


def test_subspace_rule_spans_top_k(gaussian):
    """Oja (1989), Int. J. Neural Syst. 1:61: the subspace rule's rows converge
    to an orthonormal basis of span(e_1..e_k): W^T W -> U_k U_k^T, W W^T -> I
    (LEARNING.md section 3.2), but to no particular rotation of it."""
    x, axes = gaussian
    w = fit_hebbian(x, "subspace", 3, n_epochs=20, seed=0).weights.numpy()
    u = axes[:3].T
    # benchmarks/hebbian.py, 20 seeds: projector error <= 0.063 (0.037 here)
    assert np.linalg.norm(w.T @ w - u @ u.T, 2) < 0.1
    assert np.linalg.norm(w @ w.T - np.eye(3), 2) < 0.02


# --------------------------------------------------------------- step equations
def _rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=F64)


def test_steps_equal_their_equations():
    """Each step equals its paper's equation written out in numpy (float64)."""
    w, x, lr = _rand(3, 5).numpy(), _rand(5, seed=1).numpy(), 0.07
    y = w @ x
    hebb = w + lr * np.outer(y, x)  # Hebb: dW = lr y x^T
    oja = w + lr * (np.outer(y, x) - np.diag(y * y) @ w)  # Oja 1982, per row
    gha = w + lr * (np.outer(y, x) - np.tril(np.outer(y, y)) @ w)  # Sanger 1989
    sub = w + lr * (np.outer(y, x) - np.outer(y, y) @ w)  # Oja 1989
    wt, xt = torch.from_numpy(w), torch.from_numpy(x)
    for got, want in [
        (hebb_step(wt, xt, lr), hebb),
        (oja_step(wt, xt, lr), oja),
        (sanger_step(wt, xt, lr), gha),
        (subspace_step(wt, xt, lr), sub),
    ]:
        np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=1e-14)
    # one neuron: Oja == Sanger == subspace with k = 1; 1-D weights allowed
    w1 = wt[0]
    np.testing.assert_allclose(oja_step(w1, xt, lr).numpy(), oja[0], atol=1e-14)
    np.testing.assert_allclose(
        sanger_step(w1[None], xt, lr)[0].numpy(), oja[0], atol=1e-14
    )


@pytest.mark.parametrize("rule", ["hebb", "oja", "sanger", "subspace"])
def test_compiled_loop_equals_step_functions(rule):
    """engine='numba' applies exactly the torch step functions (float64)."""
    x = _rand(40, 5, seed=2)
    lr = 0.05 if rule != "hebb" else 0.005
    a = fit_hebbian(x, rule, 3, n_epochs=3, lr=lr, seed=4, engine="numba")
    b = fit_hebbian(x, rule, 3, n_epochs=3, lr=lr, seed=4, engine="torch")
    torch.testing.assert_close(a.weights, b.weights, rtol=1e-12, atol=1e-12)
    # the torch loop is literally the step function, sample after sample
    w = fit_hebbian(x, rule, 3, n_epochs=1, lr=lr, seed=4, record_every=1)
    gen = torch.Generator().manual_seed(4)
    w0 = torch.randn(3, 5, generator=gen, dtype=F64) / 5**0.5
    order = torch.randperm(40, generator=gen)
    step = {"hebb": hebb_step, "oja": oja_step}.get(rule)
    step = step or {"sanger": sanger_step, "subspace": subspace_step}[rule]
    for t in range(40):
        w0 = step(w0, x[order[t]], lr)
        torch.testing.assert_close(w.trajectory[t + 1], w0, rtol=1e-12, atol=1e-12)


def test_schedules():
    """'inverse' is lr / (1 + epoch); a callable gives the same arithmetic."""
    x = _rand(50, 4)
    a = fit_hebbian(x, "oja", n_epochs=4, lr=0.02, schedule="inverse")
    b = fit_hebbian(x, "oja", n_epochs=4, lr=0.02, schedule=lambda e: 0.02 / (1 + e))
    torch.testing.assert_close(a.weights, b.weights, rtol=0, atol=0)
    c = fit_hebbian(x, "oja", n_epochs=4, lr=0.02, schedule="constant")
    assert not torch.equal(a.weights, c.weights)


def test_seed_and_dtype():
    x = _rand(30, 3)
    a = fit_hebbian(x, "sanger", 2, seed=1)
    assert torch.equal(a.weights, fit_hebbian(x, "sanger", 2, seed=1).weights)
    assert not torch.equal(a.weights, fit_hebbian(x, "sanger", 2, seed=2).weights)
    f32 = fit_hebbian(x.float(), "sanger", 2, seed=1, engine="torch", n_epochs=5)
    a = fit_hebbian(x, "sanger", 2, seed=1, n_epochs=5)
    assert f32.weights.dtype == torch.float32
    torch.testing.assert_close(f32.weights.double(), a.weights, rtol=0, atol=1e-4)


# -------------------------------------------------------------- plain Hebb grows
@given(
    w=st.lists(st.floats(-3, 3), min_size=4, max_size=4),
    x=st.lists(st.floats(-3, 3), min_size=4, max_size=4),
    lr=st.floats(1e-4, 1.0),
)
def test_hebb_norm_never_shrinks(w, x, lr):
    """|w + lr y x|^2 = |w|^2 + (2 lr + lr^2 |x|^2) y^2 >= |w|^2 (no decay term)."""
    wt, xt = torch.tensor(w, dtype=F64), torch.tensor(x, dtype=F64)
    new = hebb_step(wt, xt, lr)
    y = float(wt @ xt)
    want = float(wt @ wt) + (2 * lr + lr**2 * float(xt @ xt)) * y * y
    assert float(new @ new) == pytest.approx(want, rel=1e-12, abs=1e-12)
    assert float(new.norm()) >= float(wt.norm()) * (1 - 1e-15)


def test_hebb_diverges(gaussian):
    """Plain Hebb: E[w] follows (I + lr C)^t w_0, |w| grows like (1 + lr l_1)^t and
    overflows; the fit says so instead of returning NaN weights."""
    x, _ = gaussian
    fit = fit_hebbian(x[:200], "hebb", lr=1e-3, n_epochs=1, schedule="constant")
    w = fit.weights[0].numpy()
    assert np.linalg.norm(w) > 1.2  # grew from |w_0| ~ 1, measured 1.65
    with pytest.raises(TrainingDivergedError, match="'oja'") as err:
        fit_hebbian(x, "hebb", lr=0.01, n_epochs=3)
    assert err.value.epoch == 1


def test_hebb_growth_rate_on_expected_dynamics():
    """On the averaged rule w <- (I + lr C) w the growth per step tends to exactly
    1 + lr lambda_1 (power iteration): the divergence rate of plain Hebb."""
    x = torch.tensor([[2.0, 0.0], [-2.0, 0.0], [0.0, 1.0], [0.0, -1.0]], dtype=F64)
    c = x.T @ x / 4  # diag(2, 0.5)
    w = torch.tensor([0.3, 0.9], dtype=F64)
    lr = 0.05
    for _ in range(400):
        prev = w.norm()
        w = w + lr * c @ w  # mean of hebb_step over the four samples
    assert float(w.norm() / prev) == pytest.approx(1 + lr * 2.0, rel=1e-12)
    mean_step = torch.stack([hebb_step(w, xi, lr) for xi in x]).mean(0)
    torch.testing.assert_close(mean_step, w + lr * c @ w, rtol=1e-14, atol=0)


# ----------------------------------------------------------------- figure data
def test_oja_trajectory_data():
    t = oja_trajectory(n_samples=500, n_epochs=3, record_every=25, seed=0)
    assert t.weights.shape == (t.steps.shape[0], 2)
    assert t.steps[0] == 0 and t.steps[-1] == 1500
    assert float(t.cosine[-1]) > 0.99 and abs(float(t.norm[-1]) - 1) < 0.02
    # axes[0] is the leading eigenvector of x^T x / n
    c = t.x.T @ t.x / 500
    torch.testing.assert_close(c @ t.axes[0], t.eigenvalues[0] * t.axes[0])
    assert float(t.eigenvalues[0]) > float(t.eigenvalues[1])


# ---------------------------------------------------------------------- errors
def test_errors_name_the_parameter():
    w, x = _rand(3), _rand(3)
    for bad in (0, -0.1, math.nan, math.inf, "0.1", True):
        with pytest.raises(ValidationError, match="'lr'"):
            oja_step(w, x, bad)
    with pytest.raises(ShapeError, match=r"'x'.*shape \(3,\)"):
        oja_step(w, _rand(4), 0.1)
    with pytest.raises(ShapeError, match="'w' must be 2-D"):
        sanger_step(w, x, 0.1)
    with pytest.raises(ShapeError, match="'w'"):
        hebb_step(_rand(2, 2, 3), x, 0.1)
    with pytest.raises(ValidationError, match="dtype"):
        oja_step(w, x.float(), 0.1)
    with pytest.raises(NonFiniteError, match="'x'"):
        oja_step(w, torch.tensor([1.0, math.nan, 0.0], dtype=F64), 0.1)
    data = _rand(10, 3)
    with pytest.raises(ValidationError, match="'rule' must be one of 'hebb'"):
        fit_hebbian(data, "ojaa")
    with pytest.raises(ShapeError, match="'x' must be 2-D"):
        fit_hebbian(_rand(10), "oja")
    with pytest.raises(ValidationError, match="'n_components' must be <= "):
        fit_hebbian(data, "sanger", 4)
    with pytest.raises(ValidationError, match="'schedule' must be one of"):
        fit_hebbian(data, schedule="cosine")
    with pytest.raises(ValidationError, match="'schedule' must return"):
        fit_hebbian(data, schedule=lambda e: -1.0)
    with pytest.raises(ShapeError, match="'w_init' must have shape \\(2, 3\\)"):
        fit_hebbian(data, "sanger", 2, w_init=_rand(3, 3))
    with pytest.raises(ValidationError, match="'engine'"):
        fit_hebbian(data, engine="cuda")
    with pytest.raises(ValidationError, match="'n_epochs'"):
        fit_hebbian(data, n_epochs=0)
