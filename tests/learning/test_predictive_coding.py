"""Predictive coding against back-propagation (float64).

References: Whittington & Bogacz 2017 (Neural Comput. 29:1229): the inference-
learning update converges to back-propagation's gradient as the output error is
weakly weighted; Millidge, Tschantz & Buckley 2020 (arXiv:2006.04182) and Song et
al. 2020 (NeurIPS, Z-IL): with fixed predictions the update equals BP exactly.
"""

import itertools

import pytest
import torch

from neurodl.data import load_digits
from neurodl.errors import ShapeError, ValidationError
from neurodl.learning.predictive_coding import (
    PCConfig,
    fit_pc,
    pc_gradients,
    pc_infer,
)
from neurodl.networks import FeedForward

F64 = torch.float64


@pytest.fixture(scope="module")
def digits():
    d = load_digits(dtype=F64)
    return d.x_train[:64], d.y_train[:64]


def _cosines(g, bp):
    return {
        k: float(
            torch.nn.functional.cosine_similarity(
                g[k].flatten(), bp[k].flatten(), dim=0
            )
        )
        for k in bp
    }


@pytest.mark.parametrize(
    ("activation", "loss", "n_steps", "gamma", "precision"),
    [
        # sigmoid layers: the transient already points along the gradient
        ("sigmoid", "cross_entropy", 5, 0.1, 0.1),
        ("sigmoid", "cross_entropy", 10, 0.1, 0.1),
        ("sigmoid", "cross_entropy", 20, 0.1, 0.1),
        ("sigmoid", "mse", 5, 0.1, 0.1),
        # tanh and relu layers: once inference has settled
        ("tanh", "cross_entropy", 100, 0.2, 0.01),
        ("relu", "cross_entropy", 100, 0.2, 0.01),
        ("tanh", "mse", 100, 0.2, 0.01),
    ],
)
def test_pc_update_points_along_the_bp_gradient(
    digits, activation, loss, n_steps, gamma, precision
):
    # LEARNING.md §5 #11: 64-128-128-10, >= 5 inference steps, cos >= 0.99 per layer
    x, y = digits
    net = FeedForward((64, 128, 128, 10), activation, "identity", seed=0, dtype=F64)
    target = (
        y if loss == "cross_entropy" else torch.nn.functional.one_hot(y, 10).to(F64)
    )
    bp = net.backprop(x, target, loss=loss)
    cfg = PCConfig(n_steps=n_steps, gamma=gamma, loss=loss, precision=precision)
    g = pc_gradients(net, x, y, cfg)
    cos = _cosines(g, bp)
    assert min(cos.values()) >= 0.99, cos


def test_a_full_clamp_is_further_from_bp_than_a_weak_one(digits):
    # the approximation needs a weakly weighted output error (W&B 2017)
    x, y = digits
    net = FeedForward((64, 128, 128, 10), "tanh", "identity", seed=0, dtype=F64)
    bp = net.backprop(x, y, loss="cross_entropy")
    worst = {}
    for precision in (1.0, 0.01):
        cfg = PCConfig(n_steps=100, gamma=0.2, precision=precision)
        worst[precision] = min(_cosines(pc_gradients(net, x, y, cfg), bp).values())
    assert worst[1.0] < 0.98 < 0.999 < worst[0.01]


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_fixed_prediction_equals_bp_exactly(digits, loss, activation):
    # gamma = 1, L - 1 = 2 steps: e_l = -lambda N delta_l in every layer
    x, y = digits
    net = FeedForward((64, 128, 128, 10), activation, "identity", seed=1, dtype=F64)
    target = (
        y if loss == "cross_entropy" else torch.nn.functional.one_hot(y, 10).to(F64)
    )
    bp = net.backprop(x, target, loss=loss)
    for n_steps, exact in ((1, False), (2, True), (5, True)):
        cfg = PCConfig(
            n_steps=n_steps, gamma=1.0, loss=loss, precision=1.0, fixed_prediction=True
        )
        g = pc_gradients(net, x, y, cfg)
        err = max(float((g[k] - bp[k]).abs().max()) for k in bp)
        if exact:
            assert err <= 1e-12
        else:  # one step reaches only the last hidden layer
            assert err > 1e-3


def test_no_inference_step_leaves_only_the_output_layer_learning(digits):
    x, y = digits
    net = FeedForward((64, 16, 10), "tanh", "identity", seed=0, dtype=F64)
    bp = net.backprop(x, y, loss="cross_entropy")
    g = pc_gradients(net, x, y, PCConfig(n_steps=0, precision=0.3))
    assert float(g["layers.0.W"].abs().max()) == 0.0
    torch.testing.assert_close(
        g["layers.1.W"], bp["layers.1.W"], rtol=1e-12, atol=1e-14
    )


def test_inference_lowers_the_energy(digits):
    x, y = digits
    net = FeedForward((64, 32, 32, 10), "tanh", "identity", seed=0, dtype=F64)
    energies = [
        pc_infer(net, x, y, PCConfig(n_steps=t, gamma=0.1, precision=1.0)).energy
        for t in (0, 1, 5, 20)
    ]
    assert all(a > b for a, b in itertools.pairwise(energies))


def test_fit_pc_learns_and_is_reproducible():
    d = load_digits(dtype=F64)
    runs = []
    for _ in range(2):
        net = FeedForward((64, 32, 10), "tanh", "identity", seed=3, dtype=F64)
        h = fit_pc(
            net,
            d.x_train,
            d.y_train,
            PCConfig(n_steps=8),
            epochs=3,
            lr=3e-3,
            seed=4,
            validation=(d.x_test, d.y_test),
        )
        runs.append((h, [p.detach().clone() for p in net.parameters()]))
    (h1, p1), (h2, p2) = runs
    assert h1.loss == h2.loss and h1.val_accuracy == h2.val_accuracy
    assert all(torch.equal(a, b) for a, b in zip(p1, p2, strict=True))
    assert h1.loss[-1] < h1.loss[0]
    assert h1.val_accuracy[-1] >= 0.85  # digits, 3 epochs


def test_bad_input_names_the_parameter():
    with pytest.raises(
        ValidationError,
        match=r"predictive coding: 'gamma' must lie in \(0, 1\].*; got 1.5",
    ):
        PCConfig(gamma=1.5)
    with pytest.raises(
        ValidationError, match="'loss' must be one of 'mse', 'cross_entropy'; got 'bce'"
    ):
        PCConfig(loss="bce")
    with pytest.raises(ValidationError, match="'n_steps' must be >= 0; got -1"):
        PCConfig(n_steps=-1)
    net = FeedForward((4, 5, 3), "tanh", "identity", seed=0, dtype=F64)
    x = torch.zeros(6, 4, dtype=F64)
    with pytest.raises(
        ValidationError,
        match=r"'y' class labels must lie in \[0, 2\].*got labels from 0 to 7",
    ):
        fit_pc(net, x, torch.tensor([0, 1, 2, 7, 0, 1]))
    with pytest.raises(ShapeError, match="predictive coding: 'x' has shape"):
        fit_pc(net, torch.zeros(6, 5), torch.zeros(6, dtype=torch.int64))
    with pytest.raises(ValidationError, match="'epochs' must be >= 1; got 0"):
        fit_pc(net, x, torch.zeros(6, dtype=torch.int64), epochs=0)
    soft = FeedForward((4, 5, 3), "tanh", "softmax", seed=0, dtype=F64)
    with pytest.raises(
        ValidationError, match="needs output_activation 'identity'; got 'softmax'"
    ):
        pc_gradients(soft, x, torch.zeros(6, dtype=torch.int64))
