"""SpikingFeedForward: the fused BPTT equals plain autograd; it learns; it validates."""

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from neurodl.errors import NonFiniteError, ShapeError, ValidationError
from neurodl.networks import SpikingFeedForward, lif_sequence
from neurodl.neurons.surrogate import SURROGATES

F64 = torch.float64


def _run(net, x, engine):
    """Forward + backward of a fixed random projection of the output."""
    net.zero_grad()
    x = x.detach().clone().requires_grad_()
    y = net(x, engine=engine)
    w = torch.linspace(-1.0, 1.0, y.numel(), dtype=F64).view_as(y)
    (y * w).sum().backward()
    return y.detach(), [p.grad.clone() for p in net.parameters()], x.grad


def _assert_same(net, x):
    """Fused and reference engines agree: outputs and every gradient."""
    y, grads, gx = _run(net, x, "fused")
    y_ref, grads_ref, gx_ref = _run(net, x, "reference")
    if net.output == "spikes":
        assert torch.equal(y, y_ref)  # spikes identical, not just close
    else:
        # the potential: same arithmetic, fused multiply-adds round differently
        torch.testing.assert_close(y, y_ref, rtol=0, atol=1e-12)
    for g, g_ref in zip([*grads, gx], [*grads_ref, gx_ref], strict=True):
        # 1e-10 relative to the gradient's scale: float64 rounding in different
        # summation orders (one matmul for all steps vs. one per step)
        scale = max(1.0, float(g_ref.abs().max()))
        assert float((g - g_ref).abs().max()) <= 1e-10 * scale


@given(
    seed=st.integers(0, 2**31 - 1),
    n_in=st.integers(1, 6),
    n_hidden=st.integers(1, 8),
    n_out=st.integers(1, 4),
    n_steps=st.integers(1, 12),
    batch=st.integers(1, 3),
    surrogate=st.sampled_from(SURROGATES),
    reset=st.sampled_from(["subtract", "zero"]),
    detach_reset=st.booleans(),
    tau_syn=st.sampled_from([None, 3.0]),
    output=st.sampled_from(["spikes", "membrane"]),
    learn_beta=st.booleans(),
    projection=st.sampled_from(["dense", "events"]),
)
def test_fused_gradients_equal_autograd_reference(
    seed,
    n_in,
    n_hidden,
    n_out,
    n_steps,
    batch,
    surrogate,
    reset,
    detach_reset,
    tau_syn,
    output,
    learn_beta,
    projection,
):
    net = SpikingFeedForward(
        (n_in, n_hidden, n_out),
        tau_mem=8.0,
        tau_syn=tau_syn,
        reset=reset,
        detach_reset=detach_reset,
        surrogate=surrogate,
        output=output,
        learn_beta=learn_beta,
        projection=projection,
        seed=seed,
        dtype=F64,
    )
    with torch.no_grad():  # strong enough weights that neurons fire
        for layer in net.lif:
            layer.W.mul_(4.0)
    gen = torch.Generator().manual_seed(seed)
    x = (torch.rand(n_steps, batch, n_in, generator=gen) < 0.4).to(F64)
    x *= torch.rand(x.shape, generator=gen, dtype=F64) * 2  # not only 0/1
    _assert_same(net, x)


def test_shd_like_shape_auto_events_equal_reference():
    # 120 -> 64 neurons with sparse input: "auto" takes the event-driven product
    net = SpikingFeedForward((120, 64, 5), tau_mem=20.0, seed=1, dtype=F64)
    with torch.no_grad():
        net.lif[0].W.mul_(6.0)
        net.lif[1].W.mul_(4.0)
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(30, 4, 120, generator=gen) < 0.03).to(F64)
    assert net(x).sum() > 0  # the comparison is not between two silent networks
    _assert_same(net, x)


def test_projections_give_the_same_network():
    gen = torch.Generator().manual_seed(2)
    x = (torch.rand(25, 3, 80, generator=gen) < 0.05).to(F64)
    outs = []
    for projection in ("dense", "events", "auto"):
        net = SpikingFeedForward((80, 70, 3), projection=projection, seed=3, dtype=F64)
        with torch.no_grad():
            net.lif[0].W.mul_(8.0)
        z = net(x)
        z.sum().backward()
        outs.append((z, net.lif[0].W.grad))
    for z, g in outs[1:]:
        assert torch.equal(z, outs[0][0])
        torch.testing.assert_close(g, outs[0][1], rtol=1e-12, atol=1e-12)


# beta = 0.5, threshold 1, dyadic currents: every value below is exact in binary
CURRENT = [1.5, 0.25, 0.75, 0.75, 0.5, 0.96875]


@pytest.mark.parametrize(
    ("reset", "expected"),
    [
        # v[t] = beta v[t-1] + I[t] - z[t-1]:  v = 1.5, 0, 0.75, 1.125, 0.0625, 1.0
        # (the last exactly at threshold: H(0) = 1 here; snnTorch's H(0) = 0)
        ("subtract", [1, 0, 0, 1, 0, 1]),
        # v[t] = beta (1 - z[t-1]) v[t-1] + I[t]:
        # v = 1.5, 0.25, 0.875, 1.1875, 0.5, 1.21875
        ("zero", [1, 0, 0, 1, 0, 1]),
    ],
)
def test_hand_computed_spikes(reset, expected):
    current = torch.tensor(CURRENT, dtype=F64).view(6, 1, 1)
    for engine in ("fused", "reference"):
        z = lif_sequence(current, 0.5, reset=reset, engine=engine)
        assert z.flatten().tolist() == expected


def test_hand_computed_readout():
    # no threshold, no reset: v[t] = beta v[t-1] + I[t]
    current = torch.tensor(CURRENT, dtype=F64).view(6, 1, 1)
    v = lif_sequence(current, 0.5, spiking=False)
    assert v.flatten().tolist() == [1.5, 1.0, 1.25, 1.375, 1.1875, 1.5625]


def test_synaptic_filter_and_reset_timing():
    # i[t] = 0.5 i[t-1] + I[t]: a single pulse of 1.5 gives i = 1.5, 0.75, ...
    # v[0] = 1.5 spikes; the reset applies at t = 1: v[1] = 0.75 + 0.75 - 1 = 0.5
    current = torch.zeros(3, 1, 1, dtype=F64)
    current[0] = 1.5
    z = lif_sequence(current, 0.5, alpha=0.5)
    assert z.flatten().tolist() == [1.0, 0.0, 0.0]
    v = lif_sequence(current, 0.5, alpha=0.5, spiking=False)
    assert v.flatten().tolist() == [1.5, 1.5, 1.125]


def test_learns_a_target_spike_count_pattern():
    # 4 input patterns (20 inputs, 40 steps, 10 % spikes); the 3 output neurons
    # must fire exactly the target number of times for each pattern
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(40, 4, 20, generator=gen) < 0.1).to(F64)
    target = torch.tensor([[6, 0, 3], [0, 5, 2], [2, 2, 0], [4, 1, 6]], dtype=F64)
    net = SpikingFeedForward((20, 32, 3), tau_mem=10.0, seed=0, dtype=F64)
    with torch.no_grad():
        for layer in net.lif:
            layer.W.mul_(3.0)
    before = net(x).sum(0).detach()
    assert int((before != target).sum()) >= 6  # mostly wrong before training
    opt = torch.optim.Adam(net.parameters(), lr=0.005)
    for _ in range(400):
        opt.zero_grad()
        counts = net(x).sum(0)
        if torch.equal(counts, target):
            break
        ((counts - target) ** 2).mean().backward()
        opt.step()
    # tolerance: every one of the 12 counts exact
    assert torch.equal(net(x).sum(0), target)


def test_learnable_beta_is_per_neuron_and_trained():
    net = SpikingFeedForward((5, 7, 2), learn_beta=True, tau_mem=5.0, seed=0)
    names = [name for name, _ in net.named_parameters()]
    assert names == [
        "layers.0.W",
        "layers.0.b",
        "layers.0.beta",
        "layers.1.W",
        "layers.1.b",
        "layers.1.beta",
    ]
    assert net.lif[0].beta.shape == (7,)
    assert float(net.lif[0].beta.detach()[0]) == pytest.approx(math.exp(-1 / 5.0))
    with torch.no_grad():
        net.lif[0].W.mul_(5.0)
    x = (torch.rand(20, 2, 5, generator=torch.Generator().manual_seed(0)) < 0.5).float()
    net(x).sum().backward()
    assert net.lif[0].beta.grad is not None
    assert float(net.lif[0].beta.grad.abs().sum()) > 0


def test_defaults_and_input_conversion():
    net = SpikingFeedForward((3, 4, 2), seed=0)
    assert net.dtype == torch.float32
    assert net.beta == pytest.approx(math.exp(-1 / 20.0))
    x = torch.zeros(5, 2, 3, dtype=torch.bool)
    z = net(x)
    assert z.shape == (5, 2, 2) and z.dtype == torch.float32
    # same seed, same network, in every dtype
    a = SpikingFeedForward((3, 4, 2), seed=7).lif[0].W
    b = SpikingFeedForward((3, 4, 2), seed=7, dtype=F64).lif[0].W
    assert torch.equal(a, b.float())


@pytest.mark.parametrize(
    ("shape", "match"),
    [
        ((5, 3), r"3-D with axes \(time, batch, features\); got shape \(5, 3\)"),
        ((5, 2, 4), r"\(5, 2, 4\).*\(time, batch, 3\).*4 != 3 features"),
        ((0, 2, 3), r"at least one time step; got shape \(0, 2, 3\)"),
    ],
)
def test_bad_input_shapes(shape, match):
    net = SpikingFeedForward((3, 4, 2), seed=0)
    with pytest.raises(ShapeError, match=match):
        net(torch.zeros(shape))


def test_non_finite_input():
    net = SpikingFeedForward((3, 4, 2), seed=0)
    x = torch.zeros(5, 2, 3)
    x[1, 0, 2] = float("nan")
    with pytest.raises(NonFiniteError, match=r"'x' must be finite.*\(1, 0, 2\)"):
        net(x)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"tau_mem": 0.0}, r"'tau_mem' must be > 0; got 0.0"),
        ({"tau_mem": -5.0}, r"'tau_mem' must be > 0; got -5.0"),
        ({"tau_syn": 0.0}, r"'tau_syn' must be > 0; got 0.0"),
        ({"dt": float("nan")}, r"'dt' must be a finite number > 0"),
        ({"threshold": 0}, r"'threshold' must be > 0; got 0"),
        ({"reset": "hard"}, r"'reset' must be one of 'subtract', 'zero'; got 'hard'"),
        ({"output": "rate"}, r"'output' must be one of 'spikes', 'membrane'"),
        ({"projection": "sparse"}, r"'projection' must be one of 'auto'"),
        ({"surrogate": "relu"}, r"'surrogate' must be one of 'fast_sigmoid'"),
        ({"slope": -1.0}, r"'slope' must be > 0; got -1.0"),
        ({"detach_reset": 1}, r"'detach_reset' must be True or False; got 1"),
        ({"sizes": (3,)}, r"'sizes' needs at least two layers"),
    ],
)
def test_bad_parameters(kwargs, match):
    kwargs = {"sizes": (3, 4, 2), **kwargs}
    with pytest.raises(ValidationError, match=match):
        SpikingFeedForward(**kwargs)


def test_lif_sequence_checks():
    with pytest.raises(ShapeError, match=r"'current' must be a 3-D tensor"):
        lif_sequence(torch.zeros(4, 3), 0.9)
    with pytest.raises(ShapeError, match=r"at least one time step"):
        lif_sequence(torch.zeros(0, 1, 3), 0.9)
    with pytest.raises(ValidationError, match=r"'beta' must be in \[0, 1\]; got 1.5"):
        lif_sequence(torch.zeros(4, 1, 3), 1.5)
    with pytest.raises(ValidationError, match=r"'engine' must be one of"):
        lif_sequence(torch.zeros(4, 1, 3), 0.9, engine="fast")


def test_auto_takes_events_only_for_wide_layers_with_sparse_input(monkeypatch):
    from neurodl.networks import spiking

    calls = []
    apply = spiking._EventProjection.apply

    def spy(*args):
        calls.append(args[1].shape)
        return apply(*args)

    monkeypatch.setattr(spiking._EventProjection, "apply", spy)
    net = SpikingFeedForward((80, 70, 3), seed=0)
    sparse = torch.rand(10, 2, 80, generator=torch.Generator().manual_seed(0)) < 0.05
    net(sparse.float())
    assert calls == [(80, 70)]  # layer 2 has 3 < 64 neurons: dense
    calls.clear()
    net(torch.ones(10, 2, 80))  # 100 % nonzero: BLAS
    assert calls == []
