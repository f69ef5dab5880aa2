"""Explicit back-propagation against autograd and against finite differences."""

import hypothesis.strategies as st
import pytest
import torch
from hypothesis import given

from neurodl.errors import NonFiniteError, ShapeError, ValidationError
from neurodl.networks import FeedForward, get_loss
from neurodl.neurons import ACTIVATIONS

# (loss, output activation) pairs: every loss with each output activation it allows,
# plus mse through a few non-linear outputs, softmax included.
LOSS_OUTPUTS = [
    ("mse", "identity"),
    ("mse", "sigmoid"),
    ("mse", "tanh"),
    ("mse", "softmax"),
    ("bce", "sigmoid"),
    ("bce", "identity"),
    ("cross_entropy", "softmax"),
    ("cross_entropy", "identity"),
]


def _targets(loss, n, k, gen):
    if loss == "cross_entropy":
        return torch.randint(0, k, (n,), generator=gen)
    if loss == "bce":
        return torch.rand(n, k, generator=gen, dtype=torch.float64)
    return torch.randn(n, k, generator=gen, dtype=torch.float64)


def _autograd_grads(net, x, y, loss):
    net.zero_grad()
    net.loss(x, y, loss).backward()
    return {name: p.grad.clone() for name, p in net.named_parameters()}


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize(("loss", "output"), LOSS_OUTPUTS)
@given(
    sizes=st.lists(st.integers(1, 6), min_size=2, max_size=5),
    n=st.integers(1, 9),
    seed=st.integers(0, 2**31 - 1),
    scale=st.floats(0.1, 4.0),
)
def test_explicit_equals_autograd(activation, loss, output, sizes, n, seed, scale):
    gen = torch.Generator().manual_seed(seed)
    net = FeedForward(sizes, activation, output, seed=seed, dtype=torch.float64)
    x = scale * torch.randn(n, sizes[0], generator=gen, dtype=torch.float64)
    y = _targets(loss, n, sizes[-1], gen)
    explicit = net.backprop(x, y, loss)
    auto = _autograd_grads(net, x, y, loss)
    assert list(explicit) == [name for name, _ in net.named_parameters()]
    for name, g in explicit.items():
        assert g.shape == auto[name].shape
        assert (g - auto[name]).abs().max().item() <= 1e-10, name


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "softplus", "gelu", "elu"])
@pytest.mark.parametrize(
    ("loss", "output"),
    [("mse", "sigmoid"), ("bce", "sigmoid"), ("cross_entropy", "softmax")],
)
def test_explicit_equals_central_finite_differences(activation, loss, output):
    # smooth activations only: finite differences are meaningless across relu's kink.
    # Central differences have error O(h^2) ~ 1e-10 plus rounding ~ eps/h ~ 1e-10.
    gen = torch.Generator().manual_seed(3)
    net = FeedForward((4, 5, 3), activation, output, seed=3, dtype=torch.float64)
    x = torch.randn(6, 4, generator=gen, dtype=torch.float64)
    y = _targets(loss, 6, 3, gen)
    grads = net.backprop(x, y, loss)
    h = 1e-5
    with torch.no_grad():
        for name, p in net.named_parameters():
            flat = p.view(-1)
            for i in range(flat.numel()):
                old = flat[i].item()
                flat[i] = old + h
                up = net.loss(x, y, loss).item()
                flat[i] = old - h
                down = net.loss(x, y, loss).item()
                flat[i] = old
                numeric = (up - down) / (2 * h)
                assert grads[name].view(-1)[i].item() == pytest.approx(
                    numeric, rel=1e-6, abs=1e-9
                ), (name, i)


def test_gradcheck_of_the_loss():
    net = FeedForward((3, 4, 2), "tanh", "softmax", seed=0, dtype=torch.float64)
    x = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 1, 1, 0, 1])
    assert torch.autograd.gradcheck(lambda x: net.loss(x, y, "cross_entropy"), (x,))


def test_write_grad_lets_torch_optim_step():
    net = FeedForward((2, 3, 1), "tanh", "sigmoid", seed=0, dtype=torch.float64)
    x = torch.tensor([[0.0, 1.0], [1.0, 1.0]], dtype=torch.float64)
    y = torch.tensor([1.0, 0.0], dtype=torch.float64)
    before = {k: v.detach().clone() for k, v in net.named_parameters()}
    grads = net.backprop(x, y, "bce", write_grad=True)
    torch.optim.SGD(net.parameters(), lr=0.5).step()
    for name, p in net.named_parameters():
        torch.testing.assert_close(p.detach(), before[name] - 0.5 * grads[name])


def test_forward_trace_holds_every_layer():
    net = FeedForward((3, 4, 5, 2), "relu", "sigmoid", seed=0, dtype=torch.float64)
    x = torch.randn(7, 3, dtype=torch.float64)
    t = net.forward_trace(x)
    assert [z.shape[1] for z in t.z] == [4, 5, 2]
    torch.testing.assert_close(
        t.a[0], torch.relu(x @ net.layers[0].W + net.layers[0].b)
    )
    torch.testing.assert_close(t.a[-1], torch.sigmoid(t.z[-1]))
    torch.testing.assert_close(t.a[-1], net(x))


def test_weights_are_inputs_by_outputs():
    net = FeedForward((2, 3, 1))
    assert net.layers[0].W.shape == (2, 3)
    assert net.layers[0].b.shape == (3,)
    assert net.layers[1].W.shape == (3, 1)


def test_same_seed_same_network_in_every_dtype():
    a = FeedForward((4, 8, 2), seed=11, dtype=torch.float64)
    b = FeedForward((4, 8, 2), seed=11, dtype=torch.float32)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(pa.float(), pb)


def test_shape_mismatch_names_both_shapes():
    net = FeedForward((3, 4, 2))
    with pytest.raises(ShapeError) as err:
        net(torch.zeros(5, 4))
    assert "(5, 4)" in str(err.value) and "(n_samples, 3)" in str(err.value)
    with pytest.raises(ShapeError) as err:
        net.backprop(torch.zeros(5, 3), torch.zeros(5, 3), "mse")
    assert "(5, 3)" in str(err.value) and "(5, 2)" in str(err.value)


def test_nan_input_is_refused():
    net = FeedForward((2, 3, 1))
    x = torch.tensor([[0.0, float("nan")], [1.0, 1.0]])
    with pytest.raises(NonFiniteError, match=r"'x' must be finite; got 1 NaN"):
        net(x)
    with pytest.raises(NonFiniteError, match="'y'"):
        net.backprop(torch.zeros(2, 2), torch.tensor([0.0, float("inf")]), "mse")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(sizes=(2,)), "at least two layers"),
        (dict(sizes=(2, 0, 1)), r"'sizes\[1\]' must be >= 1"),
        (dict(sizes="2-3-1"), "sequence of layer widths"),
        (dict(sizes=(2, 3, 1), activation="softmax"), "'activation' must be one of"),
        (dict(sizes=(2, 3, 1), output_activation="max"), "'output_activation'"),
        (dict(sizes=(2, 3, 1), init="orthogonal"), "'init' must be one of"),
    ],
)
def test_bad_network_arguments(kwargs, match):
    with pytest.raises(ValidationError, match=match):
        FeedForward(**kwargs)


def test_logit_loss_needs_a_matching_output():
    net = FeedForward((2, 3, 1), "relu", "tanh")
    with pytest.raises(
        ValidationError, match=r"'bce'.*'sigmoid' or 'identity'; got 'tanh'"
    ):
        net.backprop(torch.zeros(1, 2), torch.zeros(1, 1), "bce")


def test_class_labels_out_of_range():
    net = FeedForward((2, 3, 4), output_activation="softmax")
    with pytest.raises(ValidationError, match=r"\[0, 3\].*from 0 to 4"):
        net.backprop(torch.zeros(2, 2), torch.tensor([0, 4]), "cross_entropy")


@pytest.mark.parametrize("sizes", [(2, 3, 1), (40, 50, 8, 3), (64, 10, 2)])
def test_descend_equals_gradients_then_a_step(sizes):
    # the fused in-place update (W -= lr a^T delta, layer by layer) must equal
    # computing every gradient first and then stepping
    from neurodl.networks.losses import prepare_target

    gen = torch.Generator().manual_seed(0)
    a = FeedForward(sizes, "tanh", "softmax", seed=1, dtype=torch.float64)
    b = FeedForward(sizes, "tanh", "softmax", seed=1, dtype=torch.float64)
    x = torch.randn(16, sizes[0], generator=gen, dtype=torch.float64)
    labels = torch.randint(0, sizes[-1], (16,), generator=gen)
    loss = get_loss("cross_entropy")
    y = prepare_target(loss, labels, 16, sizes[-1], torch.float64)
    summed = a.descend(x, y, loss, 0.3, a.weights())
    value, grads = b.loss_and_grads(x, y, loss, reduction="sum")
    with torch.no_grad():
        for p, g in zip(b.parameters(), grads, strict=True):
            p -= 0.3 * g
    assert summed.item() == pytest.approx(value.item(), rel=1e-15)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(pa, pb, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize(
    ("sizes", "loss", "output"),
    [
        ((2, 3, 1), "bce", "identity"),
        # 40 -> 8 narrows: dW is written through its transpose (the wide product)
        ((40, 8, 3), "cross_entropy", "softmax"),
        ((5, 4, 3), "mse", "tanh"),
    ],
)
def test_write_grad_fills_the_same_grad_tensors_in_place(sizes, loss, output):
    # The README's path, backprop(write_grad=True) then a torch.optim step, must not
    # allocate gradients per call: it writes into the .grad tensors already there,
    # which are also what it returns, and still equals autograd.
    gen = torch.Generator().manual_seed(7)
    net = FeedForward(sizes, "relu", output, seed=7, dtype=torch.float64)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    buffers, pointers = None, None
    for _ in range(3):
        x = torch.randn(6, sizes[0], generator=gen, dtype=torch.float64)
        y = _targets(loss, 6, sizes[-1], gen)
        auto = torch.autograd.grad(net.loss(x, y, loss), list(net.parameters()))
        grads = net.backprop(x, y, loss, write_grad=True)
        params = dict(net.named_parameters())
        for (name, g), ref in zip(grads.items(), auto, strict=True):
            assert g is params[name].grad, name
            assert g.is_contiguous() and not g.requires_grad, name
            assert (g - ref).abs().max().item() <= 1e-10, name
        if buffers is None:
            buffers = list(grads.values())
            pointers = [g.data_ptr() for g in buffers]
        assert all(a is b for a, b in zip(grads.values(), buffers, strict=True))
        assert [g.data_ptr() for g in grads.values()] == pointers
        opt.step()


def test_write_grad_replaces_a_grad_it_cannot_reuse():
    net = FeedForward((3, 4, 2), "tanh", "identity", seed=0, dtype=torch.float64)
    x = torch.randn(5, 3, dtype=torch.float64)
    y = torch.randn(5, 2, dtype=torch.float64)
    first = net.backprop(x, y, "mse", write_grad=True)
    net.zero_grad()  # set_to_none: every .grad is None
    W = net.layers[0].W
    W.grad = torch.zeros(4, 3, dtype=torch.float64).T  # right shape, not contiguous
    again = net.backprop(x, y, "mse", write_grad=True)
    for name, p in net.named_parameters():
        assert p.grad is again[name] and p.grad.is_contiguous()
        torch.testing.assert_close(again[name], first[name], rtol=0, atol=0)
