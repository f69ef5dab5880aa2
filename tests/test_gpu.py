"""The same network, gradients and training on a CUDA device (marker ``gpu``)."""

import pytest
import torch

from neurodl.learning import TrainConfig, fit
from neurodl.networks import FeedForward
from neurodl.networks.io import load, save

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


@pytest.mark.parametrize(
    "loss,out", [("mse", "tanh"), ("bce", "sigmoid"), ("cross_entropy", "softmax")]
)
def test_explicit_equals_autograd_on_cuda(loss, out):
    net = FeedForward(
        (6, 9, 4), "gelu", out, seed=0, dtype=torch.float64, device="cuda"
    )
    x = torch.randn(11, 6, dtype=torch.float64, device="cuda")
    y = (
        torch.randint(0, 4, (11,), device="cuda")
        if loss == "cross_entropy"
        else torch.rand(11, 4, dtype=torch.float64, device="cuda")
    )
    grads = net.backprop(x, y, loss)
    net.zero_grad()
    net.loss(x, y, loss).backward()
    for name, p in net.named_parameters():
        assert grads[name].device.type == "cuda"
        assert (grads[name] - p.grad).abs().max().item() <= 1e-10


def test_cuda_matches_cpu_training(tmp_path):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, 5, generator=gen, dtype=torch.float64)
    y = (x[:, 0] > 0).long()
    cfg = TrainConfig(
        loss="cross_entropy",
        optimizer="adam",
        lr=0.01,
        epochs=5,
        batch_size=16,
        checkpoint_every=2,
    )
    cpu = FeedForward((5, 8, 2), "relu", "softmax", seed=0, dtype=torch.float64)
    gpu = FeedForward(
        (5, 8, 2), "relu", "softmax", seed=0, dtype=torch.float64, device="cuda"
    )
    h_cpu = fit(cpu, x, y, cfg)
    h_gpu = fit(gpu, x.cuda(), y.cuda(), cfg, checkpoint_dir=tmp_path)
    assert h_gpu.loss == pytest.approx(h_cpu.loss, rel=1e-9)
    back = load(save(gpu, tmp_path / "m.safetensors"), device="cuda")
    assert torch.equal(back(x.cuda()), gpu(x.cuda()))
    resumed = FeedForward(
        (5, 8, 2), "relu", "softmax", seed=9, dtype=torch.float64, device="cuda"
    )
    fit(
        resumed,
        x.cuda(),
        y.cuda(),
        TrainConfig(**{**cfg.__dict__, "epochs": 6}),
        checkpoint_dir=tmp_path,
        resume=True,
    )
