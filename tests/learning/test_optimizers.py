"""neurodl's update rules against torch.optim, step for step."""

import pytest
import torch

from neurodl.errors import ValidationError
from neurodl.learning import make_optimizer

TORCH = {
    "sgd": lambda p, lr: torch.optim.SGD(p, lr=lr),
    "momentum": lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9),
    "adam": lambda p, lr: torch.optim.Adam(p, lr=lr),
}


@pytest.mark.parametrize("name", sorted(TORCH))
def test_same_arithmetic_as_torch_optim(name):
    gen = torch.Generator().manual_seed(0)
    ours = [
        torch.randn(3, 4, generator=gen, dtype=torch.float64),
        torch.randn(4, generator=gen, dtype=torch.float64),
    ]
    theirs = [p.clone().requires_grad_() for p in ours]
    opt_ours = make_optimizer(name, ours, 0.01)
    opt_theirs = TORCH[name](theirs, 0.01)
    for _ in range(100):
        grads = [torch.randn_like(p) for p in ours]
        opt_ours.step(grads)
        for p, g in zip(theirs, grads, strict=True):
            p.grad = g.clone()
        opt_theirs.step()
    for a, b in zip(ours, theirs, strict=True):
        # identical kernels in the same order: equal to the last bit
        torch.testing.assert_close(a, b.detach(), rtol=0, atol=0)


@pytest.mark.parametrize("name", ["momentum", "adam"])
def test_state_round_trip(name):
    p = [torch.ones(3, dtype=torch.float64)]
    opt = make_optimizer(name, p, 0.1)
    opt.step([torch.full((3,), 2.0, dtype=torch.float64)])
    q = [p[0].clone()]
    other = make_optimizer(name, q, 0.1)
    other.load_state(opt.state_tensors(), opt.state_scalars())
    g = [torch.full((3,), -1.0, dtype=torch.float64)]
    opt.step(g)
    other.step(g)
    torch.testing.assert_close(p[0], q[0], rtol=0, atol=0)


def test_bad_optimizer_arguments():
    with pytest.raises(ValidationError, match="'optimizer' must be one of"):
        make_optimizer("rmsprop", [torch.zeros(1)], 0.1)
    with pytest.raises(ValidationError, match="'lr' must be > 0; got -1"):
        make_optimizer("sgd", [torch.zeros(1)], -1)
    with pytest.raises(
        ValidationError, match=r"'momentum' must lie in \[0, 1\); got 1.5"
    ):
        make_optimizer("momentum", [torch.zeros(1)], 0.1, momentum=1.5)
