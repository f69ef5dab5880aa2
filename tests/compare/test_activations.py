import numpy as np
import pytest
import torch
from torch import Tensor, nn

from neurodl.compare.activations import layer_activations, list_layers
from neurodl.errors import ShapeError, ValidationError
from neurodl.networks import FeedForward
from neurodl.networks.spiking import SpikingFeedForward


class _TupleLayer(nn.Module):
    """Returns (output, state), like a stateful/spiking layer."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 3)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        y = self.lin(x)
        return torch.relu(y), y


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.block = _TupleLayer()
        self.conv = nn.Conv1d(1, 2, 2)
        self.drop = nn.Dropout(0.5)

    def forward(self, x: Tensor) -> Tensor:
        h, _ = self.block(x)
        return self.drop(self.conv(h[:, None, :]))


class _Broken(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 3)

    def forward(self, x: Tensor) -> Tensor:
        self.lin(x)
        raise RuntimeError("boom")


def test_feedforward_layers_match_trace() -> None:
    net = FeedForward((4, 6, 5, 2), activation="tanh", seed=0, dtype=torch.float64)
    assert list_layers(net) == ["layers", "layers.0", "layers.1", "layers.2"]
    x = np.random.default_rng(0).normal(size=(11, 4))
    acts = layer_activations(net, x, ["layers.0", "layers.2"])
    trace = net.forward_trace(torch.from_numpy(x))
    assert list(acts) == ["layers.0", "layers.2"]
    np.testing.assert_allclose(
        acts["layers.0"], trace.a[0].detach().numpy(), atol=1e-12
    )
    np.testing.assert_allclose(
        acts["layers.2"], trace.a[2].detach().numpy(), atol=1e-12
    )


def test_plain_model_tuple_output_flatten_and_batches() -> None:
    torch.manual_seed(0)
    net = _Net()
    net.train()
    x = torch.randn(9, 4)
    acts = layer_activations(net, x, ["block", "conv", "drop"])
    with torch.no_grad():
        h = torch.relu(net.block.lin(x))
        conv = net.conv(h[:, None, :])
    np.testing.assert_allclose(acts["block"], h.numpy(), atol=1e-6)  # first of tuple
    assert acts["conv"].shape == (9, 4)  # (2 channels x 2 positions) flattened
    np.testing.assert_allclose(acts["drop"], conv.reshape(9, -1).numpy(), atol=1e-6)
    assert net.training  # mode restored; eval mode used (dropout off)
    batched = layer_activations(net, x, "conv", batch_size=4, flatten=False)
    assert batched["conv"].shape == (9, 2, 2)
    np.testing.assert_allclose(batched["conv"].reshape(9, -1), acts["conv"], atol=1e-6)
    assert not net.block._forward_hooks and not net.conv._forward_hooks


def test_no_grad() -> None:
    net = nn.Sequential(nn.Linear(3, 2))
    x = torch.randn(5, 3, requires_grad=True)
    acts = layer_activations(net, x, ["0"])
    assert isinstance(acts["0"], np.ndarray)
    assert net[0].weight.grad is None


def test_spiking_network_batch_dim() -> None:
    net = SpikingFeedForward((5, 4, 3), seed=0)
    x = (torch.rand(7, 6, 5, generator=torch.Generator().manual_seed(0)) < 0.3).float()
    acts = layer_activations(net, x, ["layers.0"], batch_dim=1, batch_size=4)
    assert acts["layers.0"].shape == (6, 7 * 4)
    with torch.no_grad():
        spikes = net.layers[0](x)  # (time, batch, features)
    np.testing.assert_array_equal(
        acts["layers.0"], spikes.permute(1, 0, 2).reshape(6, -1).numpy()
    )


def test_unknown_layer_lists_available() -> None:
    net = FeedForward((2, 3, 1), seed=0)
    with pytest.raises(ValidationError, match=r"'nope'.*'layers\.0', 'layers\.1'"):
        layer_activations(net, torch.zeros(2, 2), ["layers.0", "nope"])
    with pytest.raises(ValidationError, match="layers"):
        layer_activations(net, torch.zeros(2, 2), [])


def test_hooks_removed_on_error() -> None:
    net = _Broken()
    with pytest.raises(RuntimeError, match="boom"):
        layer_activations(net, torch.zeros(2, 4), ["lin"])
    assert not net.lin._forward_hooks
    assert net.training


def test_layer_not_called_and_bad_batch_dim() -> None:
    nested = layer_activations(_Net(), torch.zeros(2, 4), ["block.lin", "conv"])
    assert nested["block.lin"].shape == (2, 3)
    unused = nn.ModuleDict({"a": nn.Linear(2, 2), "b": nn.Linear(2, 2)})

    class _UsesA(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.m = unused

        def forward(self, x: Tensor) -> Tensor:
            return self.m["a"](x)

    with pytest.raises(ValidationError, match=r"'m\.b' was not called"):
        layer_activations(_UsesA(), torch.zeros(3, 2), ["m.b"])
    with pytest.raises(ShapeError, match="batch_dim"):
        layer_activations(_UsesA(), torch.zeros(3, 2), ["m.a"], batch_dim=2)
    with pytest.raises(ShapeError, match="at least one input"):
        layer_activations(_UsesA(), torch.zeros(0, 2), ["m.a"])
    with pytest.raises(ValidationError, match="batch_size"):
        layer_activations(_UsesA(), torch.zeros(3, 2), ["m.a"], batch_size=0)
    with pytest.raises(ValidationError, match="Module"):
        list_layers("not a model")  # type: ignore[arg-type]
