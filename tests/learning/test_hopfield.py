"""Classic and modern Hopfield networks against their closed forms and theorems."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from neurodl.errors import ShapeError, ValidationError
from neurodl.learning.hopfield import (
    capacity_curve,
    flip_bits,
    hopfield_energy,
    hopfield_overlap,
    hopfield_recall,
    hopfield_sync_step,
    hopfield_update,
    hopfield_weights,
    modern_hopfield_energy,
    modern_hopfield_retrieve,
    modern_hopfield_step,
)

F64 = torch.float64


def _patterns(p, n, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, 2, (p, n), generator=gen).to(F64) * 2 - 1


# ----------------------------------------------------------------- classic net
def test_weights_are_hebbian_outer_products():
    """Hopfield (1982): J = (1/N) sum_mu xi^mu xi^mu^T with J_ii = 0."""
    xi = _patterns(7, 30)
    want = np.einsum("pi,pj->ij", xi.numpy(), xi.numpy()) / 30
    np.fill_diagonal(want, 0.0)
    np.testing.assert_allclose(hopfield_weights(xi).numpy(), want, rtol=0, atol=1e-15)


def test_capacity_n400():
    """Amit, Gutfreund & Sompolinsky (1985), PRL 55:1530: retrieval survives up to
    alpha = P/N ~ 0.138. LEARNING.md section 3.4 / 5 #8 (N = 400, 3 trials x 10
    cues started at the stored pattern): mean overlap >= 0.98 at alpha = 0.10
    and <= 0.85 at 0.20 (measured there 0.996 and 0.59)."""
    c = capacity_curve(400, (0.10, 0.20), n_trials=3, n_cues=10, seed=0)
    assert c.n_patterns.tolist() == [40, 80]
    assert float(c.overlap[0]) >= 0.98  # measured 0.9975
    assert float(c.overlap[1]) <= 0.85  # measured 0.635


def test_low_load_recall_from_corrupted_cues():
    """Far below capacity (P = 3, N = 200) 20 flipped bits are corrected."""
    xi = _patterns(3, 200, seed=1)
    res = hopfield_recall(hopfield_weights(xi), flip_bits(xi, 20, seed=2))
    torch.testing.assert_close(res.states, xi, rtol=0, atol=0)
    assert bool(res.converged.all())
    torch.testing.assert_close(
        hopfield_overlap(res.states, xi), torch.ones(3, dtype=F64)
    )


@given(
    p=st.integers(1, 6),
    n=st.integers(4, 40),
    seed=st.integers(0, 2**16),
)
def test_energy_never_increases_under_async_updates(p, n, seed):
    """dE = -(s_i' - s_i) h_i <= 0 for symmetric J with zero diagonal (Hopfield
    1982): the energy never rises, update after update, from any start."""
    gen = torch.Generator().manual_seed(seed)
    xi = torch.randint(0, 2, (p, n), generator=gen).to(F64) * 2 - 1
    j = hopfield_weights(xi)
    s = torch.randint(0, 2, (3, n), generator=gen).to(F64) * 2 - 1
    e = hopfield_energy(j, s)
    for i in torch.randint(0, n, (2 * n, 3), generator=gen):
        s = hopfield_update(j, s, i)
        e_new = hopfield_energy(j, s)
        assert bool((e_new <= e + 1e-12).all())
        e = e_new
    end = hopfield_recall(j, s, seed=seed)
    assert bool((hopfield_energy(j, end.states) <= e + 1e-12).all())
    assert bool(end.converged.all())
    # a converged state is a fixed point: no field opposes its neuron's state
    assert bool((end.states * (end.states @ j) >= -1e-12).all())


def test_update_is_the_sign_rule():
    j = hopfield_weights(_patterns(4, 12, seed=3))
    s = _patterns(1, 12, seed=4)[0]
    for i in range(12):
        h = float(j[i] @ s)
        new = hopfield_update(j, s, i)
        want = s.clone()
        want[i] = 1.0 if h > 1e-12 else -1.0 if h < -1e-12 else s[i]
        torch.testing.assert_close(new, want, rtol=0, atol=0)


def test_ties_keep_the_state():
    """An exact tie h_i = 0 keeps s_i, whatever the rounding of the sum."""
    j = torch.tensor([[0.0, 0.1, -0.1], [0.1, 0.0, 0.2], [-0.1, 0.2, 0.0]], dtype=F64)
    s = torch.tensor([-1.0, 1.0, 1.0], dtype=F64)  # h_0 = 0.1 - 0.1 = 0
    assert float(hopfield_update(j, s, 0)[0]) == -1.0
    assert float(hopfield_update(j, -s, 0)[0]) == 1.0


def test_engines_agree():
    """The compiled sweep and the torch updates run the same updates in order."""
    xi = _patterns(30, 120, seed=5)
    j = hopfield_weights(xi)
    cues = flip_bits(xi[:6], 30, seed=6)
    a = hopfield_recall(j, cues, seed=3, engine="numba")
    b = hopfield_recall(j, cues, seed=3, engine="torch")
    torch.testing.assert_close(a.states, b.states, rtol=0, atol=0)
    assert torch.equal(a.n_sweeps, b.n_sweeps)


def test_synchronous_two_cycle():
    """Synchronous updates can oscillate where asynchronous ones settle."""
    j = torch.tensor([[0.0, -1.0], [-1.0, 0.0]], dtype=F64)
    s = torch.tensor([1.0, 1.0], dtype=F64)
    torch.testing.assert_close(hopfield_sync_step(j, s), -s)
    sync = hopfield_recall(j, s, mode="sync", max_sweeps=10)
    assert not bool(sync.converged[0]) and int(sync.n_sweeps[0]) == 10
    asyn = hopfield_recall(j, s, mode="async")
    assert bool(asyn.converged[0])
    assert float(asyn.states[0] * asyn.states[1]) == -1.0  # a fixed point


def test_flip_bits_and_overlap():
    xi = _patterns(5, 64)
    cues = flip_bits(xi, 8, seed=1)
    assert ((cues != xi).sum(1) == 8).all()
    torch.testing.assert_close(
        hopfield_overlap(cues, xi), torch.full((5,), 1 - 2 * 8 / 64, dtype=F64)
    )
    assert float(hopfield_overlap(-xi[0], xi[0])) == -1.0


# ----------------------------------------------------------------- modern net
def test_modern_one_step_retrieval_2000_patterns():
    """Ramsauer et al. (2021), ICLR, arXiv:2008.02217: exponential capacity and
    one-step retrieval of well-separated patterns. LEARNING.md section 3.5 / 5 #9:
    d = 64, M = 2000 random +-1 patterns (classic capacity ~ 0.138 d ~ 9),
    beta = 1, 8 of 64 bits flipped: 100 % one-step retrieval. Every pattern cued."""
    x = _patterns(2000, 64, seed=0)
    cues = flip_bits(x, 8, seed=1)
    out = modern_hopfield_step(x, cues, beta=1.0)
    assert bool((torch.sign(out) == x).all())  # 2000 / 2000
    assert float((out - x).abs().max()) < 0.05  # measured 0.005
    # the classic network holds none of them at this load
    classic = hopfield_sync_step(hopfield_weights(x), cues)
    assert float((classic == x).all(1).double().mean()) < 0.01


def test_modern_step_is_attention():
    """xi_new = softmax(beta xi X^T) X: scaled dot-product attention with
    keys = values = the patterns and scale beta (peer: torch's SDPA)."""
    x, q = torch.randn(50, 16, dtype=F64), torch.randn(7, 16, dtype=F64)
    want = torch.nn.functional.scaled_dot_product_attention(
        q[None], x[None], x[None], scale=0.3
    )[0]
    torch.testing.assert_close(modern_hopfield_step(x, q, 0.3), want)
    torch.testing.assert_close(modern_hopfield_step(x, q[0], 0.3), want[0])
    torch.testing.assert_close(
        modern_hopfield_retrieve(x, q, 0.3, n_steps=2),
        modern_hopfield_step(x, modern_hopfield_step(x, q, 0.3), 0.3),
    )


def test_modern_energy_formula():
    """E = -lse(beta, X^T xi) + xi^T xi / 2 + log(M) / beta + max|x_i|^2 / 2."""
    x, s, beta = torch.randn(20, 5, dtype=F64), torch.randn(5, dtype=F64), 0.7
    z = beta * (x.numpy() @ s.numpy())
    lse = (z.max() + np.log(np.exp(z - z.max()).sum())) / beta
    want = -lse + s @ s / 2 + np.log(20) / beta + (x * x).sum(1).max() / 2
    assert float(modern_hopfield_energy(x, s, beta)) == pytest.approx(
        float(want), rel=1e-13
    )


@given(
    m=st.integers(1, 30),
    d=st.integers(1, 12),
    beta=st.floats(0.05, 8.0),
    seed=st.integers(0, 2**16),
)
def test_modern_energy_never_increases(m, d, beta, seed):
    """The update is a concave-convex procedure on E (Ramsauer et al. 2021,
    Theorem 1): E(xi_new) <= E(xi), and E >= 0."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(m, d, generator=gen, dtype=F64) * 2
    s = torch.randn(4, d, generator=gen, dtype=F64) * 3
    e = modern_hopfield_energy(x, s, beta)
    for _ in range(3):
        s = modern_hopfield_step(x, s, beta)
        e_new = modern_hopfield_energy(x, s, beta)
        assert bool((e_new <= e + 1e-10 * (1 + e.abs())).all())
        assert bool((e_new >= -1e-10).all())
        e = e_new


# ---------------------------------------------------------------------- errors
def test_errors_name_the_parameter():
    xi = _patterns(3, 10)
    with pytest.raises(ValidationError, match="'patterns' must hold only -1 and"):
        hopfield_weights(torch.tensor([[1.0, 0.0, -1.0]]))
    with pytest.raises(ShapeError, match="'patterns' must be 2-D"):
        hopfield_weights(xi[0])
    j = hopfield_weights(xi)
    with pytest.raises(ShapeError, match="'cues' must have shape \\(10,\\)"):
        hopfield_recall(j, xi[:, :5])
    with pytest.raises(ValidationError, match="'cues' must hold only -1 and"):
        hopfield_recall(j, xi * 0.5)
    with pytest.raises(ValidationError, match="'mode' must be one of 'async'"):
        hopfield_recall(j, xi, mode="parallel")
    with pytest.raises(ShapeError, match="'weights' must be a square"):
        hopfield_energy(j[:, :5], xi)
    with pytest.raises(ValidationError, match="'index'"):
        hopfield_update(j, xi[0], 10)
    with pytest.raises(ValidationError, match="'n_flips' must be <= "):
        flip_bits(xi, 11)
    with pytest.raises(ShapeError, match="'state' and 'patterns'"):
        hopfield_overlap(xi[0], xi)
    with pytest.raises(ValidationError, match="'loads\\[1\\]'"):
        capacity_curve(20, (0.1, -0.2))
    x = torch.randn(5, 4, dtype=F64)
    with pytest.raises(ValidationError, match="'beta'"):
        modern_hopfield_step(x, x[0], beta=0.0)
    with pytest.raises(ShapeError, match="'state' must have shape \\(4,\\)"):
        modern_hopfield_step(x, torch.zeros(3, dtype=F64))
    with pytest.raises(ValidationError, match="'n_steps'"):
        modern_hopfield_retrieve(x, x, n_steps=0)
