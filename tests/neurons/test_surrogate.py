"""Surrogate spike functions: exact step forward, the documented derivative backward."""

import math

import pytest
import torch

from neurodl.errors import ValidationError
from neurodl.neurons import (
    DEFAULT_SURROGATE,
    SURROGATES,
    Surrogate,
    get_surrogate,
    heaviside,
)


def smooth(name, slope):
    """A smooth function whose derivative is the surrogate ``name``."""
    k = slope
    return {
        # d/dx x / (1 + k|x|) = 1 / (1 + k|x|)^2
        "fast_sigmoid": lambda x: x / (1.0 + k * x.abs()),
        # d/dx atan(pi/2 k x) / pi = (k/2) / (1 + (pi/2 k x)^2)
        "arctan": lambda x: torch.atan(math.pi / 2 * k * x) / math.pi,
        # d/dx sigmoid(k x) = k s (1 - s)
        "sigmoid": lambda x: torch.sigmoid(k * x),
        # d/dx (k c - k^2 c|c|/2), c = clamp(x, +-1/k): k max(0, 1 - k|x|)
        "triangle": lambda x: (
            k * x.clamp(-1 / k, 1 / k)
            - 0.5 * k * k * x.clamp(-1 / k, 1 / k) * x.clamp(-1 / k, 1 / k).abs()
        ),
    }[name]


X = torch.linspace(-3.0, 3.0, 601, dtype=torch.float64)


@pytest.mark.parametrize("name", SURROGATES)
@pytest.mark.parametrize("slope", [0.5, 1.0, 4.0])
def test_derivative_is_the_autograd_derivative_of_a_smooth_step(name, slope):
    x = X.clone().requires_grad_()
    (grad,) = torch.autograd.grad(smooth(name, slope)(x).sum(), x)
    s = Surrogate(name, slope)
    # exact formulas, float64 rounding only; the triangle's kinks at |x| = 1/k
    # are excluded (autograd takes one side there)
    keep = (X.abs() - 1 / slope).abs() > 1e-9
    torch.testing.assert_close(s.derivative(X)[keep], grad[keep], rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", SURROGATES)
def test_backward_applies_the_derivative_and_forward_is_exact(name):
    s = get_surrogate(name)
    x = X.clone().requires_grad_()
    z = s(x)
    assert torch.equal(z, heaviside(X))
    assert s(torch.zeros(1)).item() == 1.0  # H(0) = 1: v == v_th spikes
    w = torch.randn(
        X.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0)
    )
    (z * w).sum().backward()
    torch.testing.assert_close(x.grad, w * s.derivative(X), rtol=1e-15, atol=0)


def test_values_of_snntorch_formulas():
    # snntorch.surrogate.fast_sigmoid(slope=25): grad / (slope |x| + 1)^2;
    # snntorch.surrogate.atan(alpha=2): alpha / 2 / (1 + (pi/2 alpha x)^2)
    x = torch.tensor([-0.1, 0.0, 0.04, 0.5], dtype=torch.float64)
    fast = Surrogate("fast_sigmoid", 25.0).derivative(x)
    assert fast.tolist() == pytest.approx(
        [1 / 3.5**2, 1.0, 1 / 2.0**2, 1 / 13.5**2], rel=1e-15
    )
    atan = Surrogate("arctan", 2.0).derivative(x)
    want = [1.0 / (1.0 + (math.pi * v) ** 2) for v in x.tolist()]
    assert atan.tolist() == pytest.approx(want, rel=1e-15)


def test_no_graph_without_grad():
    x = torch.tensor([0.3, -0.2])
    assert not get_surrogate()(x).requires_grad
    with torch.no_grad():
        y = x.clone().requires_grad_()
        assert not get_surrogate()(y).requires_grad


def test_default_surrogate_of_the_models_is_per_mv():
    # slope 1/mV: the pseudo-derivative is 1 at threshold and 1/4 one mV away
    assert (DEFAULT_SURROGATE.name, DEFAULT_SURROGATE.slope) == ("fast_sigmoid", 1.0)
    d = DEFAULT_SURROGATE.derivative(torch.tensor([0.0, 1.0, -10.0]))
    assert d.tolist() == pytest.approx([1.0, 0.25, 1 / 121])


@pytest.mark.parametrize("name", SURROGATES)
def test_models_use_the_given_surrogate(name):
    from neurodl.neurons import LIFParams, lif_initial_state, lif_step

    p, s = LIFParams(), Surrogate(name, 0.7)
    i = torch.tensor([25.0], dtype=torch.float64, requires_grad=True)
    state = lif_initial_state(i, p)._replace(
        v=torch.tensor([-50.2], dtype=torch.float64)
    )
    z, _ = lif_step(i, state, p, 0.1, surrogate=s)
    (g,) = torch.autograd.grad(z.sum(), i)
    v_up = p.v_rest + 25.0 + (-50.2 - p.v_rest - 25.0) * math.exp(-0.01)
    # dz/di = s'(v' - v_th) * dv'/di, dv'/di = 1 - e^(-dt/tau)
    want = s.derivative(torch.tensor(v_up - p.v_th, dtype=torch.float64)).item() * (
        1 - math.exp(-0.01)
    )
    assert g.item() == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: Surrogate("relu"), "'surrogate' must be one of 'fast_sigmoid'"),
        (lambda: Surrogate("arctan", 0.0), "'slope' must be > 0; got 0.0"),
        (lambda: get_surrogate("step"), "'surrogate' must be one of"),
    ],
)
def test_bad_surrogates(call, message):
    with pytest.raises(ValidationError) as info:
        call()
    assert message in str(info.value)
