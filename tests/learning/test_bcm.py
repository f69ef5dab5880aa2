"""BCM with a sliding threshold against its derived fixed point (LEARNING.md 3.3)."""

import math

import numpy as np
import pytest
import torch

from neurodl.errors import ShapeError, ValidationError
from neurodl.learning.bcm import bcm_step, fit_bcm

F64 = torch.float64


def _rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=F64)


def test_bcm_orthonormal_inputs_become_selective():
    """Bienenstock, Cooper & Munro (1982), J. Neurosci. 2:32, with theta = E[y^2]
    (Intrator & Cooper 1992): for K orthonormal inputs shown with probability 1/K
    the stable fixed point is a response of K to one input and 0 to the others,
    with theta = K (LEARNING.md section 3.3 / 5 #7: max within 5 % of K, rest
    < 0.05). Inputs: a random orthonormal basis of R^4 (not only the unit vectors)."""
    k = 4
    q, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((k, k)))
    x = torch.from_numpy(q.T.copy())  # rows orthonormal
    for seed in range(5):
        fit = fit_bcm(x, n_steps=1_000_000, lr=0.005, lr_final=2e-5, seed=seed)
        r = fit.responses[:, 0].sort(descending=True).values
        assert abs(float(r[0]) - k) <= 0.05 * k, r  # 100 seeds: 3.954-4.077
        assert float(r[1:].max()) < 0.05, r


def test_bcm_theta_averages_to_k():
    """theta is a running average of y^2; at the selective fixed point its mean is
    E[y^2] = K^2 / K = K (LEARNING.md section 3.3). Averaged over the last quarter
    of a run (1000 records 100 steps apart; theta alone jumps between ~2 and ~7)."""
    x = torch.eye(4, dtype=F64)
    fit = fit_bcm(x, n_steps=400_000, lr=0.005, lr_final=1e-4, seed=0, record_every=100)
    theta = fit.theta_trajectory[-1000:, 0]
    ey2 = (fit.trajectory[-1000:, 0].clamp(min=0) ** 2).mean(1)  # E[y^2] over x_i
    # 10 seeds: mean theta 3.88-4.05, theta / E[y^2] 0.982-1.018
    assert float(theta.mean()) == pytest.approx(4.0, rel=0.05)
    assert float(theta.mean()) == pytest.approx(float(ey2.mean()), rel=0.05)


def test_bcm_step_equation():
    """dw = lr x y (y - theta), theta += rate (y^2 - theta), y = max(0, w x)."""
    w, x = _rand(2, 3), _rand(3, seed=1)
    theta = torch.tensor([0.3, 0.1], dtype=F64)
    nw, nt = bcm_step(w, theta, x, 0.1, 0.2)
    y = torch.clamp(w @ x, min=0)
    torch.testing.assert_close(nw, w + 0.1 * (y * (y - theta))[:, None] * x)
    torch.testing.assert_close(nt, theta + 0.2 * (y * y - theta))
    nw1, nt1 = bcm_step(w[0], theta[0], x, 0.1, 0.2)
    torch.testing.assert_close(nw1, nw[0])
    torch.testing.assert_close(nt1, nt[0])
    # a negative drive is rectified: no change of w, theta decays
    nw2, nt2 = bcm_step(-w[0].abs(), theta[0], x.abs(), 0.1, 0.2)
    torch.testing.assert_close(nw2, -w[0].abs())
    torch.testing.assert_close(nt2, 0.8 * theta[0])


def test_bcm_compiled_loop_equals_step_function():
    x = _rand(6, 4, seed=3)
    kw = dict(n_steps=600, lr=0.01, lr_final=0.001, n_neurons=2, seed=5)
    a = fit_bcm(x, engine="numba", **kw)
    b = fit_bcm(x, engine="torch", **kw)
    torch.testing.assert_close(a.weights, b.weights, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(a.theta, b.theta, rtol=1e-12, atol=1e-12)


def test_errors_name_the_parameter():
    w, x = _rand(3), _rand(3)
    theta = torch.tensor(0.0, dtype=F64)
    for bad in (0, -0.1, math.nan, "0.1"):
        with pytest.raises(ValidationError, match="'lr'"):
            bcm_step(w, theta, x, bad, 0.1)
    with pytest.raises(ShapeError, match="'theta'"):
        bcm_step(_rand(2, 3), torch.zeros(3, dtype=F64), x, 0.1, 0.1)
    with pytest.raises(ShapeError, match="'x'"):
        bcm_step(w, theta, _rand(4), 0.1, 0.1)
    with pytest.raises(ValidationError, match="'theta_rate'"):
        bcm_step(w, theta, x, 0.1, 1.5)
    data = _rand(10, 3)
    with pytest.raises(ValidationError, match="'lr_final'"):
        fit_bcm(data, lr_final=0.0)
    with pytest.raises(ValidationError, match="'theta_rate'"):
        fit_bcm(data, theta_rate=0.0)
    with pytest.raises(ValidationError, match="'n_steps'"):
        fit_bcm(data, n_steps=0)
    with pytest.raises(ShapeError, match="'x' must be 2-D"):
        fit_bcm(data[0])
    with pytest.raises(ShapeError, match="'w_init'"):
        fit_bcm(data, w_init=_rand(2, 3))
