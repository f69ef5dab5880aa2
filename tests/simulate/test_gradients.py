"""Differentiable simulation: the event-driven autograd path against a dense one."""

import numpy as np
import pytest
import torch

from neurodl.neurons.lif import LIFParams
from neurodl.simulate import (
    ConductanceSynapse,
    CurrentSynapse,
    Explicit,
    FixedProbability,
    Network,
)
from neurodl.simulate._torch_engine import SparsePropagate


def _small_network(seed, delay):
    net = Network(dt=0.5, seed=seed, backend="torch")
    src = net.spike_source(20, rate=60.0)
    p = LIFParams(tau_mem=10.0, v_rest=-65.0, v_th=-50.0, v_reset=-65.0, t_ref=1.0)
    a = net.population(30, p, v0=("uniform", -65.0, -52.0), name="a")
    b = net.population(8, p, method="euler", name="b")
    projs = [
        net.connect(src, a, FixedProbability(0.3), CurrentSynapse(5.0), weight=7.0),
        net.connect(
            a,
            a,
            FixedProbability(0.2),
            CurrentSynapse(8.0),
            weight=lambda rng, n: rng.normal(1.0, 1.0, n),
            delay=delay,
        ),
        net.connect(
            a, b, FixedProbability(0.5), ConductanceSynapse(5.0, 0.0), weight=0.3
        ),
        net.connect(
            b, a, FixedProbability(0.5), ConductanceSynapse(10.0, -80.0), weight=0.2
        ),
    ]
    mons = (net.spike_monitor(a), net.spike_monitor(b), net.state_monitor(b, "v"))
    return net, projs, mons


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("delay", [0.0, 1.5])
def test_sparse_event_driven_gradients_equal_dense_autograd(seed, delay):
    # Reference: the same simulation with z @ W_dense and PyTorch's own autograd,
    # float64. Both sum the same terms in different orders: 1e-9 relative.
    results = []
    for propagation in ("sparse", "dense"):
        net, projs, (ma, mb, vb) = _small_network(seed, delay)
        net.build()
        for proj in projs:
            proj.weight.requires_grad_(True)
        learn = net.populations[0].learn("tau_mem", "v_th", "i_ext")
        learn += net.populations[1].learn("v_rest")
        net.run(60.0, grad=True, propagation=propagation)
        loss = (
            ma.spikes.sum()
            + ((mb.spikes.sum(0) - 2.0) ** 2).sum()
            + 0.01 * vb.tensor.sum()
        )
        loss.backward()
        grads = [p.weight.grad for p in projs] + [t.grad for t in learn]
        results.append((ma.spikes.detach(), [g.clone() for g in grads]))
    (sa, ga), (sd, gd) = results
    assert sa.sum() > 10
    torch.testing.assert_close(sa, sd, rtol=0, atol=0)
    for g_sparse, g_dense in zip(ga, gd, strict=True):
        scale = g_dense.abs().max().clamp(min=1.0)
        assert (g_sparse - g_dense).abs().max() <= 1e-9 * scale


def test_sparse_propagate_gradcheck():
    # torch.autograd.gradcheck: the custom backward against finite differences of
    # its forward in the inputs where it is differentiable (weights, spike values).
    gen = torch.Generator().manual_seed(0)
    n_pre, n_out, batch = 6, 5, 3
    dense = (torch.rand(n_pre, n_out, generator=gen) < 0.5).double()
    pre, tgt = torch.nonzero(dense, as_tuple=True)
    indptr = torch.searchsorted(pre, torch.arange(n_pre + 1))
    w = torch.randn(pre.numel(), dtype=torch.float64, generator=gen, requires_grad=True)
    z = (torch.rand(batch, n_pre, generator=gen) < 0.5).double()
    z = z * torch.rand(batch, n_pre, generator=gen, dtype=torch.float64) + z
    z.requires_grad_(True)
    csr = torch.sparse_csr_tensor(
        indptr, tgt, w.detach(), size=(n_pre, n_out), check_invariants=True
    )

    def f(z_, w_):
        c = torch.sparse_csr_tensor(
            indptr, tgt, w_.detach(), size=(n_pre, n_out), check_invariants=True
        )
        return SparsePropagate.apply(z_, w_, indptr, tgt, c, n_out)

    assert csr.shape == (n_pre, n_out)
    # the event set of z is held fixed by perturbing only nonzero entries
    assert torch.autograd.gradcheck(
        lambda w_: f(z.detach(), w_), (w,), eps=1e-6, atol=1e-8
    )
    z_nz = z.detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda z_: SparsePropagate.apply(z_, w.detach(), indptr, tgt, csr, n_out),
        (z_nz,),
        eps=1e-6,
        atol=1e-8,
    )


def test_bptt_learns_a_target_firing_pattern():
    # 40 fixed input spike trains drive 4 LIF neurons; train the input weights by
    # BPTT (surrogate gradients through the whole 100 ms simulation) so that the
    # neurons fire 1, 3, 5 and 7 spikes.
    rng = np.random.default_rng(0)
    n_in, n_out = 40, 4
    steps = rng.random((200, n_in)) < 0.03  # 30 Hz at dt 0.5 ms
    t_idx, i_idx = np.nonzero(steps)
    net = Network(dt=0.5, seed=0, backend="torch")
    src = net.spike_source(n_in, times=t_idx * 0.5, indices=i_idx)
    p = LIFParams(tau_mem=10.0, v_rest=-65.0, v_th=-50.0, v_reset=-65.0, t_ref=2.0)
    out = net.population(n_out, p)
    pre, post = np.meshgrid(np.arange(n_in), np.arange(n_out), indexing="ij")
    proj = net.connect(
        src,
        out,
        Explicit(i=pre.ravel(), j=post.ravel()),
        CurrentSynapse(5.0),
        weight=lambda r, n: r.uniform(0.0, 2.0, n),
    )
    mon = net.spike_monitor(out)
    net.build()
    proj.weight.requires_grad_(True)
    target = torch.tensor([1.0, 3.0, 5.0, 7.0], dtype=torch.float64)
    opt = torch.optim.Adam([proj.weight], lr=0.3)

    def counts():
        net.reset()
        net.run(100.0, grad=True)
        return mon.spikes.sum(dim=(0, 1))

    with torch.no_grad():
        before = counts().detach()
    assert (before - target).abs().max() >= 2  # not solved by chance
    for _ in range(80):
        c = counts()
        loss = ((c - target) ** 2).sum()
        if loss.item() == 0:
            break
        opt.zero_grad()
        loss.backward()
        opt.step()
    final = counts().detach()
    assert torch.equal(final, target), (before, final)


def test_spmv_propagation_equals_event_driven():
    # "spmv" multiplies by the whole CSR matrix (no host synchronisation, for
    # GPUs); on the CPU its row sums run in presynaptic order, the events' order.
    out = []
    for propagation in ("events", "spmv"):
        net, projs, (ma, mb, _vb) = _small_network(0, 1.5)
        net.build()
        for proj in projs:
            proj.weight.requires_grad_(True)
        net.run(60.0, grad=True, backend="torch", propagation=propagation)
        loss = ma.spikes.sum() + ((mb.spikes.sum(0) - 2.0) ** 2).sum()
        loss.backward()
        out.append((ma.spikes.detach(), [p.weight.grad.clone() for p in projs]))
    torch.testing.assert_close(out[0][0], out[1][0], rtol=0, atol=0)
    for a, b in zip(out[0][1], out[1][1], strict=True):
        assert (a - b).abs().max() <= 1e-9 * b.abs().max().clamp(min=1.0)


def test_learnable_tau_equal_to_the_synaptic_tau_has_a_finite_gradient():
    # coef = tau_s / (tau_s - tau_m) (e^{-dt/tau_s} - e^{-dt/tau_m}) is 0/0 at
    # tau_m = tau_s: both paths use its limit and the limit of its derivative, and
    # agree with each other (the compiled path derives it analytically).
    grads = []
    for backend in ("torch", "numba"):
        net = Network(dt=0.5, seed=0)
        src = net.spike_source(10, rate=80.0)
        p = LIFParams(tau_mem=5.0, v_rest=-65.0, v_th=-50.0, v_reset=-65.0, t_ref=1.0)
        pop = net.population(5, p)
        net.connect(src, pop, FixedProbability(1.0), CurrentSynapse(5.0), weight=4.0)
        mon = net.spike_monitor(pop)
        vm = net.state_monitor(pop, "v")
        (tau,) = pop.learn("tau_mem")
        net.run(50.0, grad=True, backend=backend)
        (vm.tensor.sum() + mon.spikes.sum()).backward()
        grads.append(tau.grad.clone())
    assert torch.isfinite(grads[0])
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-9, atol=1e-9)
