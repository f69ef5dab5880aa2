import pytest
import torch

from neurodl.errors import ValidationError
from neurodl.neurons import ACTIVATIONS, OUTPUT_ACTIVATIONS, get_activation

NAMES = sorted(ACTIVATIONS)


def test_all_activations_of_the_issue_exist():
    assert set(ACTIVATIONS) == {
        "sigmoid",
        "tanh",
        "relu",
        "leaky_relu",
        "elu",
        "softplus",
        "gelu",
        "identity",
    }
    assert set(OUTPUT_ACTIVATIONS) == set(ACTIVATIONS) | {"softmax"}


@pytest.mark.parametrize("name", NAMES)
def test_value_matches_pytorch(name):
    # reference: PyTorch's own implementation of the same function
    ref = {
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "relu": torch.relu,
        "leaky_relu": torch.nn.functional.leaky_relu,
        "elu": torch.nn.functional.elu,
        "softplus": lambda z: torch.nn.functional.softplus(z, threshold=1e9),
        "gelu": torch.nn.functional.gelu,
        "identity": lambda z: z,
    }[name]
    z = torch.linspace(-30, 30, 2001, dtype=torch.float64)
    torch.testing.assert_close(get_activation(name)(z), ref(z), rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize("name", NAMES)
def test_derivative_matches_autograd(name):
    # avoid z = 0 exactly, where relu-like functions have a kink
    z = torch.linspace(-12.05, 12.05, 2000, dtype=torch.float64).requires_grad_()
    f = get_activation(name)
    a = f(z)
    (auto,) = torch.autograd.grad(a.sum(), z)
    explicit = f.derivative(z.detach(), a.detach())
    assert (explicit - auto).abs().max() <= 1e-14


@pytest.mark.parametrize("name", [*NAMES, "softmax"])
def test_backward_matches_autograd_for_any_upstream_gradient(name):
    gen = torch.Generator().manual_seed(1)
    z = torch.randn(7, 5, generator=gen, dtype=torch.float64).requires_grad_()
    g = torch.randn(7, 5, generator=gen, dtype=torch.float64)
    f = get_activation(name, output=True)
    a = f(z)
    (auto,) = torch.autograd.grad(a, z, g)
    assert (f.backward(z.detach(), a.detach(), g) - auto).abs().max() <= 1e-14


def test_softplus_does_not_overflow():
    z = torch.tensor([-800.0, 800.0], dtype=torch.float64)
    out = get_activation("softplus")(z)
    assert torch.isfinite(out).all()
    assert out[1] == 800.0


def test_unknown_activation_lists_the_allowed_names():
    with pytest.raises(ValidationError) as err:
        get_activation("relu6")
    msg = str(err.value)
    assert "'activation'" in msg and "'relu6'" in msg
    for name in NAMES:
        assert repr(name) in msg


def test_softmax_is_output_only():
    with pytest.raises(ValidationError, match="softmax"):
        get_activation("softmax")
    assert get_activation("softmax", output=True).name == "softmax"


@pytest.mark.parametrize("name", NAMES)
def test_fused_backward_is_the_documented_rule(name):
    # the fused kernels (PyTorch's own backward ops) must compute grad * f'(z) with
    # f' as written in `derivative`
    f = get_activation(name)
    gen = torch.Generator().manual_seed(2)
    z = 5 * torch.randn(50, 4, generator=gen, dtype=torch.float64)
    g = torch.randn(50, 4, generator=gen, dtype=torch.float64)
    a = f(z)
    torch.testing.assert_close(
        f.backward(z, a, g), g * f.derivative(z, a), rtol=1e-14, atol=1e-15
    )
