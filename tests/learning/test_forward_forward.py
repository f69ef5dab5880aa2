"""Forward-forward (Hinton 2022, arXiv:2212.13345) on hand-computed cases (float64)."""

import math

import pytest
import torch

from neurodl.data import load_digits
from neurodl.errors import ValidationError
from neurodl.learning.forward_forward import (
    FFConfig,
    embed_label,
    ff_goodness,
    ff_gradients,
    ff_loss,
    ff_predict,
    fit_ff,
)
from neurodl.networks import FeedForward

F64 = torch.float64


def _sp(v):
    return math.log1p(math.exp(v))


def _hand_net():
    # 3 -> 2 -> 2, every layer relu
    net = FeedForward((3, 2, 2), "relu", "relu", seed=0, dtype=F64)
    with torch.no_grad():
        net.dense[0].W.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
        net.dense[0].b.zero_()
        net.dense[1].W.copy_(torch.tensor([[1.0, -1.0], [2.0, 0.5]]))
        net.dense[1].b.copy_(torch.tensor([0.0, -1.0]))
    return net


# positive input [1, 1, 1] (mean square 1, so the normalised input is itself):
#   z1 = [2, 2], h1 = [2, 2], g1 = 8; n1 = h1 / 2 = [1, 1]; z2 = [3, -1.5], g2 = 9
# negative input [-1, 1, 1]:
#   z1 = [0, 2], g1 = 4; n1 = [0, 2] / sqrt(2) = [0, sqrt 2]
#   z2 = [2 sqrt 2, sqrt 2 / 2 - 1] = [2.83, -0.29], g2 = 8
X_POS = torch.tensor([[1.0, 1.0, 1.0]], dtype=F64)
X_NEG = torch.tensor([[-1.0, 1.0, 1.0]], dtype=F64)
SUM = FFConfig(n_classes=2, goodness="sum")


def test_goodness_equals_the_hand_computed_values():
    net = _hand_net()
    torch.testing.assert_close(
        ff_goodness(net, X_POS, SUM),
        torch.tensor([[8.0, 9.0]], dtype=F64),
        rtol=1e-7,
        atol=0,
    )
    torch.testing.assert_close(
        ff_goodness(net, X_NEG, SUM),
        torch.tensor([[4.0, 8.0]], dtype=F64),
        rtol=1e-7,
        atol=0,
    )
    mean = FFConfig(n_classes=2, goodness="mean")
    torch.testing.assert_close(
        ff_goodness(net, X_POS, mean),
        torch.tensor([[4.0, 4.5]], dtype=F64),
        rtol=1e-7,
        atol=0,
    )


def test_loss_equals_the_hand_computed_value():
    # theta = width = 2: softplus(2 - g+) + softplus(g- - 2) per layer
    g_pos = ff_goodness(_hand_net(), X_POS, SUM)
    g_neg = ff_goodness(_hand_net(), X_NEG, SUM)
    layer1 = float(ff_loss(g_pos[:, 0], g_neg[:, 0], SUM.theta(2)))
    layer2 = float(ff_loss(g_pos[:, 1], g_neg[:, 1], SUM.theta(2)))
    assert layer1 == pytest.approx(_sp(-6.0) + _sp(2.0), rel=1e-7)
    assert layer2 == pytest.approx(_sp(-7.0) + _sp(6.0), rel=1e-7)


@pytest.mark.parametrize("goodness", ["sum", "mean"])
def test_local_gradients_equal_autograd_of_each_layers_own_loss(goodness):
    cfg = FFConfig(n_classes=3, goodness=goodness)
    net = FeedForward((8, 6, 5), "relu", "relu", seed=4, dtype=F64)
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(9, 8, generator=gen, dtype=F64)
    y = torch.randint(0, 3, (9,), generator=gen)
    x_pos = embed_label(x, y, cfg)
    x_neg = embed_label(x, (y + 1) % 3, cfg)
    got = ff_gradients(net, x_pos, x_neg, cfg)
    h_pos, h_neg = x_pos, x_neg
    for i, layer in enumerate(net.dense):
        W, b = layer.W, layer.b
        outs = []
        for h in (h_pos, h_neg):
            n = h.detach() / torch.sqrt((h.detach() ** 2).mean(1, keepdim=True) + 1e-8)
            outs.append(torch.relu(n @ W + b))
        g = [(o**2).sum(1) / (o.shape[1] if goodness == "mean" else 1) for o in outs]
        loss = ff_loss(g[0], g[1], cfg.theta(W.shape[1]))
        dW, db = torch.autograd.grad(loss, [W, b])
        torch.testing.assert_close(got[f"layers.{i}.W"], dW, rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(got[f"layers.{i}.b"], db, rtol=1e-12, atol=1e-14)
        h_pos, h_neg = outs


def test_label_embedding_and_prediction():
    cfg = FFConfig(n_classes=2, goodness="sum")
    x = torch.tensor([[9.0, 9.0, 1.0]], dtype=F64)
    torch.testing.assert_close(
        embed_label(x, torch.tensor([1]), cfg),
        torch.tensor([[0.0, 1.0, 1.0]], dtype=F64),
    )
    app = FFConfig(n_classes=2, embed="append", label_value=2.0)
    torch.testing.assert_close(
        embed_label(x, torch.tensor([0]), app),
        torch.tensor([[9.0, 9.0, 1.0, 2.0, 0.0]], dtype=F64),
    )
    # label 0 embeds to [1, 0, 1]: g = (z1 = [2, 1] -> 5), label 1 to [0, 1, 1] -> 8;
    # the summed goodness over both layers picks label 1
    net = _hand_net()
    g0 = ff_goodness(net, embed_label(x, torch.tensor([0]), cfg), cfg).sum()
    g1 = ff_goodness(net, embed_label(x, torch.tensor([1]), cfg), cfg).sum()
    assert float(g1) > float(g0)
    assert ff_predict(net, x, cfg).tolist() == [1]


def test_fit_ff_learns_and_is_reproducible():
    d = load_digits(dtype=F64)
    runs = []
    for _ in range(2):
        net = FeedForward((64, 64, 64), "relu", "relu", seed=1, dtype=F64)
        h = fit_ff(
            net,
            d.x_train,
            d.y_train,
            epochs=4,
            lr=1e-2,
            seed=2,
            validation=(d.x_test, d.y_test),
        )
        runs.append((h, [p.detach().clone() for p in net.parameters()]))
    (h1, p1), (h2, p2) = runs
    assert h1.loss == h2.loss and h1.val_accuracy == h2.val_accuracy
    assert all(torch.equal(a, b) for a, b in zip(p1, p2, strict=True))
    assert h1.loss[-1] < h1.loss[0]
    assert h1.val_accuracy[-1] >= 0.6  # the label overwrites 10 of 64 pixels


def test_bad_input_names_the_parameter():
    with pytest.raises(
        ValidationError,
        match="forward-forward: 'goodness' must be one of 'sum', 'mean'; got 'max'",
    ):
        FFConfig(goodness="max")
    with pytest.raises(ValidationError, match="'n_classes' must be >= 2; got 1"):
        FFConfig(n_classes=1)
    x = torch.zeros(4, 8)
    y = torch.zeros(4, dtype=torch.int64)
    tanh = FeedForward((8, 5), "tanh", "tanh", seed=0)
    with pytest.raises(
        ValidationError, match=r"every layer must be 'relu'.*got \['tanh'\]"
    ):
        fit_ff(tanh, x, y, FFConfig(n_classes=3))
    net = FeedForward((8, 5), "relu", "relu", seed=0)
    with pytest.raises(
        ValidationError, match=r"needs more than 10; got 8\. Hint: use embed='append'"
    ):
        fit_ff(net, x, y)
    with pytest.raises(
        ValidationError,
        match="width must be 11 for inputs of 8 features with embed 'append'; got 8",
    ):
        fit_ff(net, x, y, FFConfig(n_classes=3, embed="append"))
