import pytest
import torch
import torch.nn.functional as F

from neurodl.errors import ValidationError
from neurodl.networks import LOSSES, get_loss
from neurodl.networks.losses import prepare_target
from neurodl.neurons import get_activation

GEN = torch.Generator().manual_seed(0)
Z = 10 * torch.randn(8, 3, generator=GEN, dtype=torch.float64)


def test_mse_matches_pytorch():
    a = torch.sigmoid(Z)
    y = torch.rand(8, 3, generator=GEN, dtype=torch.float64)
    got = get_loss("mse").value(Z, a, y)
    torch.testing.assert_close(got, F.mse_loss(a, y), rtol=1e-15, atol=0)


def test_bce_matches_pytorch_including_huge_logits():
    z = torch.cat([Z, torch.tensor([[800.0, -800.0, 0.0]], dtype=torch.float64)])
    y = torch.rand(9, 3, generator=GEN, dtype=torch.float64)
    got = get_loss("bce").value(z, torch.sigmoid(z), y)
    ref = F.binary_cross_entropy_with_logits(z, y)
    assert torch.isfinite(got)
    torch.testing.assert_close(got, ref, rtol=1e-14, atol=0)


def test_cross_entropy_matches_pytorch():
    labels = torch.randint(0, 3, (8,), generator=GEN)
    fn = get_loss("cross_entropy")
    y = prepare_target(fn, labels, 8, 3, torch.float64)
    got = fn.value(Z, torch.softmax(Z, 1), y)
    torch.testing.assert_close(got, F.cross_entropy(Z, labels), rtol=1e-14, atol=0)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_output_delta_matches_autograd(name):
    out = {"mse": "tanh", "bce": "sigmoid", "cross_entropy": "softmax"}[name]
    fn, act = get_loss(name), get_activation(out, output=True)
    z = Z.clone().requires_grad_()
    y = torch.softmax(torch.randn(8, 3, generator=GEN, dtype=torch.float64), 1)
    value = fn.value(z, act(z), y)
    (auto,) = torch.autograd.grad(value, z)
    explicit = fn.delta(Z, act(Z), y, act)
    assert (explicit - auto).abs().max() <= 1e-15


def test_unknown_loss_lists_the_allowed_names():
    with pytest.raises(
        ValidationError,
        match="'loss' must be one of 'mse', 'bce', 'cross_entropy'; got 'hinge'",
    ):
        get_loss("hinge")
