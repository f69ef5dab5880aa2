"""The compiled BPTT path (``backend="numba"``, ``grad=True``) against the tensor path.

Both paths compute the same float64 forward pass; the gradients sum the same terms
in different orders, so they agree to 1e-9 of the largest gradient.
"""

import numpy as np
import pytest
import torch

from neurodl.errors import ValidationError
from neurodl.neurons.lif import LIFParams
from neurodl.neurons.surrogate import SURROGATES
from neurodl.simulate import (
    ConductanceSynapse,
    CurrentSynapse,
    Explicit,
    FixedProbability,
    Network,
    cuba,
)


def _net(seed, delay, backend, surrogate="fast_sigmoid", dtype=torch.float64, d=False):
    """Poisson and explicit sources, two Euler populations with current and
    conductance synapses, an exact population with a 2 ms refractory period and
    two current synapses, recurrent synapses with ``delay``; with ``d``, an Euler
    population with current synapses only, feeding ``a``."""
    net = Network(dt=0.5, seed=seed, backend=backend, surrogate=surrogate, dtype=dtype)
    src = net.spike_source(20, rate=60.0)
    rng = np.random.default_rng(seed)
    grid = rng.permutation(80 * 5)[:30]  # distinct (step, neuron) pairs
    ext = net.spike_source(5, times=grid // 5 * 0.5, indices=grid % 5)
    p = LIFParams(tau_mem=10.0, v_rest=-65.0, v_th=-50.0, v_reset=-65.0, t_ref=1.0)
    pc = LIFParams(tau_mem=12.0, v_rest=-60.0, v_th=-52.0, v_reset=-62.0, t_ref=2.0)
    a = net.population(30, p, v0=("uniform", -65.0, -52.0), name="a")
    b = net.population(8, p, method="euler", name="b")
    c = net.population(12, pc, i_ext=3.0, v0=("uniform", -62.0, -53.0), name="c")
    cur_a, cur_c = CurrentSynapse(6.0), CurrentSynapse(4.0)  # two synapse types each
    projs = [
        net.connect(src, a, FixedProbability(0.3), cur_a, weight=9.0),
        net.connect(
            a,
            a,
            FixedProbability(0.2),
            cur_a,
            weight=lambda r, n: r.normal(1.0, 1.0, n),
            delay=delay,
        ),
        net.connect(
            a, b, FixedProbability(0.5), ConductanceSynapse(5.0, 0.0), weight=0.3
        ),
        net.connect(ext, b, FixedProbability(0.6), CurrentSynapse(3.0), weight=6.0),
        net.connect(
            b, a, FixedProbability(0.5), ConductanceSynapse(10.0, -80.0), weight=0.2
        ),
        net.connect(
            a,
            c,
            FixedProbability(0.4),
            cur_c,
            weight=lambda r, n: r.normal(2.0, 1.0, n),
            delay=2 * delay,
        ),
        net.connect(ext, c, FixedProbability(0.5), CurrentSynapse(6.0), weight=4.0),
        net.connect(c, c, FixedProbability(0.3), cur_c, weight=-1.5),
    ]
    mons = {
        "a": net.spike_monitor(a),
        "b": net.spike_monitor(b),
        "c": net.spike_monitor(c),
        "ext": net.spike_monitor(ext),
        "vb": net.state_monitor(b, "v"),
        "vc": net.state_monitor(c, "v", [0, 3, 5]),
        "gc": net.state_monitor(c, cur_c, every=2),
    }
    if d:
        pd = LIFParams(tau_mem=8.0, v_rest=-60.0, v_th=-50.0, v_reset=-61.0, t_ref=1.5)
        pop_d = net.population(10, pd, method="euler", i_ext=2.0, name="d")
        projs += [
            net.connect(c, pop_d, FixedProbability(0.5), CurrentSynapse(4.0),
                        weight=6.0, delay=delay),
            net.connect(src, pop_d, FixedProbability(0.3), CurrentSynapse(2.0),
                        weight=5.0),
            net.connect(pop_d, a, FixedProbability(0.3), CurrentSynapse(3.0),
                        weight=2.0),
        ]  # fmt: skip
        mons["d"] = net.spike_monitor(pop_d)
    return net, projs, mons


def _learnables(net):
    a, b, c = net.populations
    return (
        a.learn("tau_mem", "v_th", "i_ext")
        + b.learn("tau_mem", "v_rest", "v_reset")
        + c.learn("tau_mem", "v_th", "v_rest", "v_reset", "i_ext")
    )


def _made_by(t):
    """Names of the autograd nodes that lead to ``t`` (first inputs, 3 deep)."""
    names, fn = [], t.grad_fn
    while fn is not None and len(names) < 3:
        names.append(fn.name())
        fn = fn.next_functions[0][0] if fn.next_functions else None
    return " ".join(names)


def _loss(m, kind="both"):
    n_t = m["c"].spikes.shape[0]
    ramp = torch.linspace(0.5, 1.5, n_t, dtype=m["c"].spikes.dtype)[:, None, None]
    spikes = (
        m["a"].spikes.sum()
        + ((m["b"].spikes.sum(0) - 2.0) ** 2).sum()
        + (m["c"].spikes * ramp).sum()  # a gradient that varies in time
    )
    volts = 0.01 * m["vb"].tensor.sum() + 0.02 * m["vc"].tensor.sum()
    volts = volts + 0.001 * (m["gc"].tensor ** 2).sum()
    return {"both": spikes + volts, "spikes": spikes, "volts": volts}[kind]


def _run(
    backend,
    seed,
    delay,
    surrogate,
    detach_reset=True,
    kind="both",
    durations=(40.0,),
    learnables=_learnables,
    dtype=torch.float64,
    d=False,
):
    net, projs, m = _net(seed, delay, backend, surrogate, dtype, d)
    net.build()
    for proj in projs:
        proj.weight.requires_grad_(True)
    learn = learnables(net)
    for t in durations:
        net.run(t, grad=True, detach_reset=detach_reset)
    _loss(m, kind).backward()
    grads = [p.weight.grad for p in projs] + [t.grad for t in learn]
    grads = [torch.zeros(()) if g is None else g.clone() for g in grads]
    spikes = {
        k: m[k].spikes.detach().clone() for k in ("a", "b", "c", "d", "ext") if k in m
    }
    return spikes, grads, m


def _assert_same(got, ref):
    (s1, g1, _), (s0, g0, _) = got, ref
    for k in s0:
        assert torch.equal(s1[k], s0[k]), k
    for x, y in zip(g1, g0, strict=True):
        scale = y.abs().max().clamp(min=1.0)
        assert (x - y).abs().max() <= 1e-9 * scale, ((x - y).abs().max(), scale)


CASES = [(s, 1.5, True) for s in SURROGATES] + [
    ("fast_sigmoid", 0.0, True),
    ("triangle", 0.0, False),
    ("arctan", 1.5, False),
]


@pytest.mark.parametrize(("surrogate", "delay", "detach_reset"), CASES)
def test_compiled_gradients_equal_the_tensor_path(surrogate, delay, detach_reset):
    ref = _run("torch", 0, delay, surrogate, detach_reset)
    got = _run("numba", 0, delay, surrogate, detach_reset)
    assert "CompiledSimulation" in _made_by(got[2]["a"].spikes)
    assert ref[0]["a"].sum() > 10 and ref[0]["b"].sum() > 5 and ref[0]["c"].sum() > 10
    _assert_same(got, ref)
    # the monitors hold what the tensor path's hold
    for k in ("vb", "vc", "gc"):
        torch.testing.assert_close(got[2][k].tensor, ref[2][k].tensor, rtol=0, atol=0)
        np.testing.assert_array_equal(got[2][k].times, ref[2][k].times)
    for k in ("a", "c", "ext"):
        np.testing.assert_array_equal(got[2][k].steps, ref[2][k].steps)
        np.testing.assert_array_equal(got[2][k].indices, ref[2][k].indices)


@pytest.mark.parametrize("kind", ["spikes", "volts"])
def test_loss_on_spikes_only_or_voltages_only(kind):
    _assert_same(
        _run("numba", 1, 1.5, "sigmoid", kind=kind),
        _run("torch", 1, 1.5, "sigmoid", kind=kind),
    )


@pytest.mark.parametrize("durations", [(20.0, 20.0), (0.5, 1.0, 38.5)])
def test_gradients_flow_across_runs_with_spikes_in_flight(durations):
    # each run starts from the last one's (differentiable) state and the inputs it
    # left in flight (delays up to 3 ms, longer than the short runs)
    ref = _run("torch", 2, 1.5, "fast_sigmoid", durations=durations)
    got = _run("numba", 2, 1.5, "fast_sigmoid", durations=durations)
    _assert_same(got, ref)
    # and a tensor-path run continued by the compiled path
    net, projs, m = _net(2, 1.5, "torch", "fast_sigmoid")
    net.build()
    for proj in projs:
        proj.weight.requires_grad_(True)
    learn = _learnables(net)
    net.run(20.0, grad=True)
    assert net._pending  # inputs in flight
    net.run(20.0, grad=True, backend="numba")
    _loss(m).backward()
    mixed = [p.weight.grad for p in projs] + [t.grad for t in learn]
    _assert_same((ref[0], mixed, None), ref)


def _learnables_event_tape(net):
    """Learnable parameters that leave ``c`` and ``d`` on the event tape."""
    a, b, c, d = net.populations
    return (
        a.learn("v_th", "i_ext")
        + b.learn("tau_mem", "v_reset")
        + c.learn("v_th", "v_rest", "v_reset", "i_ext")
        + d.learn("v_th", "v_rest", "v_reset")
    )


@pytest.mark.parametrize(
    ("detach_reset", "dtype", "durations", "room"),
    [
        (True, torch.float64, (40.0,), 8),
        (False, torch.float64, (15.0, 25.0), 10**6),  # event record regrown
        (True, torch.float32, (0.5, 39.5), 8),
    ],
)
def test_event_tape_gives_the_dense_tapes_results(
    monkeypatch, detach_reset, dtype, durations, room
):
    # "triangle": u_k kept only near the threshold in the exact population c and
    # the Euler population d with current synapses (delays, refractory periods);
    # the Euler populations a and b with conductance synapses keep a dense tape
    from neurodl.simulate import _numba_grad

    net = _net(0, 1.5, "numba", "triangle", d=True)[0]
    net.build()
    _learnables_event_tape(net)
    plan = _numba_grad._make_plan(net, 10, False, True)
    assert plan.pop_t1.tolist() == [0, 30, -1, -1]
    assert (plan.n1, plan.n_event) == (38, 22)
    monkeypatch.setattr(_numba_grad, "_EVENT_ROOM", room)
    kw = dict(durations=durations, learnables=_learnables_event_tape, d=True)
    runs = []
    for event_tape in (True, False):
        monkeypatch.setattr(_numba_grad, "_EVENT_TAPE", event_tape)
        runs.append(_run("numba", 0, 1.5, "triangle", detach_reset, dtype=dtype, **kw))
    (s1, g1, m1), (s0, g0, _) = runs
    assert s0["a"].sum() > 10 and s0["b"].sum() > 5 and s0["c"].sum() > 10
    assert s0["d"].sum() > 10
    assert "CompiledSimulation" in _made_by(m1["a"].spikes)
    for k in s0:
        assert torch.equal(s1[k], s0[k]), k
    assert any(g.abs().sum() > 0 for g in g0)
    for x, y in zip(g1, g0, strict=True):
        assert torch.equal(x, y)
    if dtype == torch.float64:  # and both are the tensor path's
        _assert_same(runs[0], _run("torch", 0, 1.5, "triangle", detach_reset, **kw))


def test_a_plain_compiled_run_continued_with_gradients():
    # inputs in flight from a no-grad compiled run (net._ring) are picked up
    spikes = []
    for split in (False, True):
        net, projs, m = _net(1, 1.5, "numba")
        net.build()
        projs[1].weight.requires_grad_(True)
        if split:
            net.run(26.0)  # population a spiked in the last steps: inputs in flight
            assert net._ring.any()
            net.run(14.0, grad=True)
            m["c"].spikes.sum().backward()
            assert torch.isfinite(projs[1].weight.grad).all()
        else:
            net.run(40.0)
        spikes.append((m["c"].steps, m["c"].indices, m["a"].steps))
    for x, y in zip(*spikes, strict=True):
        np.testing.assert_array_equal(x, y)


def test_cuba_1000_gradients_equal_the_tensor_path():
    grads, spikes = [], []
    for backend in ("torch", "numba"):
        net, mon = cuba(1000, seed=3, backend=backend)
        net.build()
        for proj in net.projections:
            proj.weight.requires_grad_(True)
        net.run(50.0, grad=True)
        sum(part.spikes.sum() for part in mon.parts).backward()
        grads.append(torch.cat([p.weight.grad for p in net.projections]))
        spikes.append((mon.steps, mon.indices))
    net, mon = cuba(1000, seed=3)
    net.run(50.0, backend="numba")  # the plain compiled run
    assert spikes[0][0].size > 100
    for s in spikes[1:]:
        np.testing.assert_array_equal(s[0], spikes[0][0])
        np.testing.assert_array_equal(s[1], spikes[0][1])
    np.testing.assert_array_equal(mon.steps, spikes[0][0])
    scale = grads[0].abs().max()
    assert torch.isfinite(scale) and scale > 0
    assert (grads[1] - grads[0]).abs().max() <= 1e-9 * scale


def _target_pattern_net(backend, dtype=torch.float64):
    rng = np.random.default_rng(0)
    n_in, n_out = 40, 4
    steps = rng.random((200, n_in)) < 0.03  # 30 Hz at dt 0.5 ms
    t_idx, i_idx = np.nonzero(steps)
    net = Network(dt=0.5, seed=0, backend=backend, dtype=dtype)
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
    return net, proj, mon


def test_bptt_learns_a_target_firing_pattern_on_the_compiled_path():
    net, proj, mon = _target_pattern_net("auto")  # auto: compiled on the CPU
    target = torch.tensor([1.0, 3.0, 5.0, 7.0], dtype=torch.float64)
    opt = torch.optim.Adam([proj.weight], lr=0.3)

    def counts():
        net.reset()
        net.run(100.0, grad=True)
        return mon.spikes.sum(dim=(0, 1))

    c = counts()
    assert "CompiledSimulation" in _made_by(mon.spikes)
    before = c.detach()
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


def test_float32_network():
    grads = []
    for backend in ("torch", "numba"):
        net, proj, mon = _target_pattern_net(backend, torch.float32)
        net.run(100.0, grad=True)
        assert mon.spikes.dtype == torch.float32
        ((mon.spikes.sum(dim=(0, 1)) - 4.0) ** 2).sum().backward()
        grads.append(proj.weight.grad)
    assert grads[1].dtype == torch.float32
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-4, atol=1e-4)


def test_dispatch_and_clear_errors():
    def small(**kw):
        net = Network(dt=0.5, **kw)
        src = net.spike_source(3, times=[1.0, 2.0], indices=[0, 2])
        pop = net.population(2)
        proj = net.connect(src, pop, FixedProbability(1.0), weight=80.0)
        return net, proj, net.spike_monitor(pop)

    # auto with grad on the CPU: compiled; dense propagation: tensor path
    for propagation, name in (("sparse", "Compiled"), ("dense", "Stack")):
        net, proj, mon = small()
        net.build()
        proj.weight.requires_grad_(True)
        net.run(5.0, grad=True, propagation=propagation)
        assert name in _made_by(mon.spikes), _made_by(mon.spikes)
    # nothing requires grad: runs, keeps no graph
    net, _, mon = small()
    net.run(5.0, grad=True, backend="numba")
    assert mon.spikes.sum() == 2 and not mon.spikes.requires_grad
    with pytest.raises(ValidationError, match=r"batch 2 .*needs backend 'torch'"):
        small(batch=2)[0].run(1.0, backend="numba", grad=True)
    with pytest.raises(ValidationError, match="propagation 'dense' needs backend"):
        small()[0].run(1.0, backend="numba", grad=True, propagation="dense")
