"""One network across processes: the same spikes, byte for byte, for 1, 2, 3 processes.

The networks are small versions of the issue's three (CUBA with zero delays, a
Brunel-like network with delta synapses, a 1.5 ms delay, Poisson input and fixed
in-degree, a microcircuit-like network with FixedTotalNumber, Normal weights and
delays and Poisson input) and a mixed ALIF/Izhikevich/AdEx one, each on both
engine paths. The reference is the plain single-process run in this process;
the distributed runs are started by ``launch`` (gloo on 127.0.0.1).
"""

from __future__ import annotations

import hashlib
import itertools
import time

import numpy as np
import pytest
import torch

from neurodl.errors import ValidationError
from neurodl.neurons import AdExParams, ALIFParams, IzhikevichParams, LIFParams
from neurodl.simulate import (
    ConductanceSynapse,
    CurrentSynapse,
    DeltaSynapse,
    FixedInDegree,
    FixedProbability,
    FixedTotalNumber,
    Network,
    Normal,
    cuba,
)
from neurodl.simulate.distributed import launch, partition

TARGET = "tests.simulate.test_distributed"


def _cuba(backend):
    net, mon = cuba(600, seed=3, backend=backend)
    return net, [mon], 40.0


def _brunel(backend):
    """Brunel (2000) model A, reduced: N_E 400, N_I 100, C_E 40, g 5, eta 2."""
    net = Network(dt=0.1, seed=11, backend=backend)
    p = LIFParams(tau_mem=20.0, v_rest=0.0, v_th=20.0, v_reset=10.0, t_ref=2.0)
    exc = net.population(400, p, v0=("uniform", 0.0, 20.0))
    inh = net.population(100, p, v0=("uniform", 0.0, 20.0))
    syn = DeltaSynapse()
    j, g, c_e = 0.2, 5.0, 40
    nu_thr = 20.0 / (j * c_e * 20.0) * 1e3  # Hz
    for post in (exc, inh):
        net.connect(exc, post, FixedInDegree(c_e), syn, weight=j, delay=1.5)
        net.connect(inh, post, FixedInDegree(10), syn, weight=-g * j, delay=1.5)
        net.poisson_input(post, n=c_e, rate=2.0 * nu_thr, weight=j, synapse=syn)
    return net, [net.spike_monitor(exc), net.spike_monitor(inh)], 120.0


def _microcircuit(backend):
    """Four PD14-like populations: FixedTotalNumber, Normal weights and delays."""
    net = Network(dt=0.1, seed=55, backend=backend)
    p = LIFParams(tau_mem=10.0, v_rest=-65.0, v_th=-50.0, v_reset=-65.0, t_ref=2.0)
    sizes = [("e1", 300, 1600), ("i1", 80, 1500), ("e2", 300, 2100), ("i2", 80, 1900)]
    syn = CurrentSynapse(tau=0.5)
    pops = []
    for name, n, k_ext in sizes:
        pop = net.population(n, p, v0=("normal", -63.0, 5.0), name=name)
        net.poisson_input(pop, n=k_ext, rate=8.0, weight=2.6, synapse=syn)
        pops.append(pop)
    rng = np.random.default_rng(0)
    for post in pops:
        for pre in pops:
            exc = pre.name.startswith("e")
            mean = 0.5 if exc else -2.0
            net.connect(
                pre,
                post,
                FixedTotalNumber(int(rng.integers(500, 4000))),
                syn,
                weight=Normal(
                    mean, abs(mean) / 10, **({"low": 0.0} if exc else {"high": 0.0})
                ),
                delay=Normal(1.5, 0.75, low=0.05)
                if exc
                else Normal(0.75, 0.375, low=0.05),
            )
    return net, [net.spike_monitor(x) for x in pops], 40.0


def _mixed(backend):
    """ALIF, Izhikevich and AdEx beside LIF; current and conductance synapses."""
    net = Network(dt=0.1, seed=7, backend=backend)
    rng = np.random.default_rng(1)
    flat = rng.choice(1000 * 30, 400, replace=False)
    src = net.spike_source(30, times=(flat // 30) * 0.1, indices=flat % 30)
    lif = LIFParams(tau_mem=20.0, v_rest=-65.0, v_th=-50.0, v_reset=-65.0)
    alif = ALIFParams(tau_mem=20.0, v_rest=-65.0, v_th=-50.0, v_reset=-65.0,
                      tau_adapt=50.0, delta_th=2.0)  # fmt: skip
    specs = [
        (lif, "auto", 12.0, 3.0, 0.05),
        (alif, "euler", 12.0, 3.0, 0.05),
        (IzhikevichParams(), "euler", 3.0, 4.0, 0.02),
        (AdExParams(t_ref=2.0), "euler", 400.0, 300.0, 3.0),
    ]
    pops = []
    for params, method, i_ext, wc, wg in specs:
        pop = net.population(20, params, method=method, i_ext=i_ext,
                             v0=("uniform", -66.0, -55.0))  # fmt: skip
        net.connect(src, pop, FixedProbability(0.2), CurrentSynapse(5.0),
                    weight=wc, delay=0.5)  # fmt: skip
        net.connect(src, pop, FixedProbability(0.1), ConductanceSynapse(3.0),
                    weight=wg, delay=0.3)  # fmt: skip
        pops.append(pop)
    for a, b in zip(pops, pops[1:] + pops[:1], strict=True):
        w = 150.0 if isinstance(b.params, AdExParams) else 1.5
        weight = lambda r, n, w=w: r.uniform(-w, w, n)  # noqa: E731
        net.connect(a, b, FixedProbability(0.1), CurrentSynapse(5.0), weight=weight,
                    delay=1.2)  # fmt: skip
    return net, [net.spike_monitor(p) for p in pops], 80.0


def _busy(backend):
    """Every neuron fires almost every step: the spike record must grow."""
    net = Network(dt=0.1, seed=2, backend=backend)
    p = LIFParams(tau_mem=10.0, v_rest=-65.0, v_th=-50.0, v_reset=-65.0, t_ref=0.0)
    pop = net.population(300, p, i_ext=3200.0, v0=("uniform", -65.0, -50.0))
    net.connect(pop, pop, FixedProbability(0.05), weight=-0.05, delay=0.1)
    return net, [net.spike_monitor(pop)], 60.0


NETWORKS = {"cuba": _cuba, "brunel": _brunel, "microcircuit": _microcircuit,
            "mixed": _mixed, "busy": _busy}  # fmt: skip


def _digest(mons) -> dict:
    """Sorted (step, id) of every monitor, as bytes: a hash and a count."""
    arrs = []
    for m in mons:
        key = np.lexsort((m.indices, m.steps))
        arrs.append(np.stack([m.steps[key], m.indices[key]]).astype(np.int64))
    raw = b"".join(a.tobytes() for a in arrs)
    return {"sha": hashlib.sha256(raw).hexdigest(), "n": [a.shape[1] for a in arrs]}


def all_spikes(distributed: bool = True, exchange: str = "auto") -> dict:
    """Run every network on both paths; return their digests (a launch target)."""
    out = {}
    for name, make in NETWORKS.items():
        for backend in ("numba", "torch"):
            net, mons, duration = make(backend)
            if distributed:
                net.distribute(exchange=exchange)
            net.run(duration / 2, progress=False)
            net.run(duration / 2, progress=False)  # two runs: the state carries
            out[f"{name}/{backend}"] = _digest(mons)
    return out


@pytest.fixture(scope="module")
def plain():
    return all_spikes(distributed=False)


@pytest.mark.parametrize(("procs", "exchange"), [(1, "auto"), (2, "gloo"), (3, "shm")])
def test_spikes_are_byte_identical_for_any_number_of_processes(plain, procs, exchange):
    """Both transports: the group's all_gather (2) and shared memory (3)."""
    got = launch(f"{TARGET}:all_spikes", procs, {"exchange": exchange}, timeout_s=120)
    for key, ref in plain.items():
        assert min(ref["n"]) > 5, (key, ref["n"])  # every population fires
        assert got[key] == ref, (key, procs)
    # and the two engine paths agree with each other
    for name in NETWORKS:
        assert plain[f"{name}/numba"] == plain[f"{name}/torch"], name


def test_partition_blocks():
    assert partition(10, 3) == [(0, 3), (3, 6), (6, 10)]
    assert partition(3, 3) == [(0, 1), (1, 2), (2, 3)]


def test_blocks_balance_neurons_and_expected_synapses():
    """A process's share: its neurons and the synapses onto them, from the rules."""
    from neurodl.simulate import Explicit
    from neurodl.simulate.distributed import (
        DEFAULT_RATE_HZ,
        EVENT_NS,
        POISSON_NS,
        STEP_NS,
        balanced_partition,
        expected_cost,
        expected_in_degree,
    )

    net = Network(dt=0.1, seed=2)
    p = LIFParams()
    a = net.population(300, p)
    b = net.population(100, p)
    c = net.population(50, p)
    net.connect(a, b, FixedTotalNumber(20000))
    net.connect(a, c, FixedInDegree(120))
    net.connect(b, a, FixedProbability(0.05))
    net.connect(c, c, Explicit(i=[0, 1, 2, 2], j=[5, 5, 5, 7]))
    expect = expected_in_degree(net)
    np.testing.assert_allclose(expect[300:400], 200.0)
    explicit = np.zeros(50)
    explicit[5], explicit[7] = 3.0, 1.0
    np.testing.assert_allclose(expect[400:450], 120.0 + explicit)
    np.testing.assert_allclose(expect[:300], 5.0)
    net.build()
    got = np.zeros(net.n_lif)
    for proj in net.projections:
        np.add.at(got, proj.post.start + proj.post_index, 1.0)
    # the expectation holds on average for each population (exactly for FTN, FID)
    for lo, hi in ((0, 300), (300, 400), (400, 450)):
        mean = expect[lo:hi].mean()
        assert abs(got[lo:hi].mean() - mean) < 0.2 * mean
    blocks = balanced_partition(net, 3)
    assert blocks[0][0] == 0 and blocks[-1][1] == 450
    assert all(x[1] == y[0] for x, y in itertools.pairwise(blocks))
    cost = expected_cost(net)
    # steps (dt 0.1 ms: 10,000 per s) and events at the default rate
    np.testing.assert_allclose(
        cost, STEP_NS * 1e4 + EVENT_NS * DEFAULT_RATE_HZ * expect
    )
    shares = [cost[lo:hi].sum() for lo, hi in blocks]
    assert max(shares) - min(shares) <= 2 * cost.max()  # even, to a neuron
    assert blocks != partition(450, 3)  # not by count: b and c weigh more
    assert balanced_partition(net, 450) == partition(450, 450)
    with pytest.raises(ValidationError, match=r"'procs'"):
        balanced_partition(net, 451)
    # a known rate weighs the source's synapses; a Poisson input, its targets
    a.expected_rate_hz = 10 * DEFAULT_RATE_HZ
    hot = expected_cost(net)
    np.testing.assert_allclose(hot[:300], cost[:300])  # a's inputs come from b
    np.testing.assert_allclose(
        hot[300:400] - cost[300:400], EVENT_NS * 9 * DEFAULT_RATE_HZ * 200.0
    )
    assert balanced_partition(net, 3)[0][1] > blocks[0][1]  # a's block grows
    net2 = Network(dt=0.1, seed=2)
    x = net2.population(10, p)
    net2.population(10, p)
    net2.poisson_input(x, 100, 5.0, 0.1)
    np.testing.assert_allclose(
        expected_cost(net2), STEP_NS * 1e4 + POISSON_NS * 1e4 * (np.arange(20) < 10)
    )
    for bad in (-1.0, float("nan"), "fast"):
        a.expected_rate_hz = bad
        with pytest.raises(ValidationError, match=r"'expected_rate_hz' of population"):
            balanced_partition(net, 3)


def test_more_processes_than_neurons_is_an_error():
    with pytest.raises(ValidationError, match=r"'procs'.*3 processes for 2 neurons"):
        partition(2, 3)


def tiny(procs: int | None = None) -> int:
    """A 2-neuron network (a launch target)."""
    net = Network(dt=0.1, seed=0)
    net.population(2, LIFParams())
    net.distribute(procs=procs)
    net.run(1.0, progress=False)
    return 0


def test_more_processes_than_neurons_across_processes():
    t0 = time.perf_counter()
    with pytest.raises(ValidationError, match=r"'procs'.*3 processes for 2 neurons"):
        launch(f"{TARGET}:tiny", 3, timeout_s=60)
    assert time.perf_counter() - t0 < 60


def fail_on_rank_one() -> int:
    """Rank 1 dies; rank 0 waits in a collective (a launch target)."""
    import torch.distributed as dist

    if dist.get_rank() == 1:
        raise RuntimeError("rank 1 fails on purpose")
    dist.barrier()
    return 0


def test_a_failing_process_does_not_leave_the_others_hanging():
    t0 = time.perf_counter()
    with pytest.raises(RuntimeError, match="process 1 of 2 failed"):
        launch(f"{TARGET}:fail_on_rank_one", 2, timeout_s=60)
    assert time.perf_counter() - t0 < 30


@pytest.fixture
def world_of_one(tmp_path):
    import torch.distributed as dist

    dist.init_process_group(
        "gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1
    )
    try:
        yield
    finally:
        dist.destroy_process_group()


def _lif_net():
    net = Network(dt=0.1, seed=0)
    lif = LIFParams(tau_mem=10.0, v_rest=-65.0, v_th=-50.0, v_reset=-65.0)
    pop = net.population(10, lif, i_ext=20.0, v0=("uniform", -65.0, -50.0))
    net.connect(pop, pop, FixedProbability(0.5), weight=0.5, delay=1.0)
    return net, pop


def test_world_size_must_match(world_of_one):
    net, _ = _lif_net()
    with pytest.raises(ValidationError, match="'procs' \\(2\\) does not match"):
        net.distribute(procs=2)


@pytest.mark.parametrize(
    ("case", "option"),
    [("state", "state_monitor"), ("grad", "grad"), ("batch", "batch")],
)
def test_unsupported_options_are_named(world_of_one, case, option):
    net = Network(dt=0.1, seed=0, batch=2 if case == "batch" else 1)
    pop = net.population(10, LIFParams(), i_ext=20.0)
    if case == "state":
        net.state_monitor(pop)
    if case == "grad":
        net.distribute()
        with pytest.raises(ValidationError, match=f"'{option}' is not supported"):
            net.run(1.0, backend="torch", grad=True)
        return
    with pytest.raises(ValidationError, match=f"'{option}' is not supported"):
        net.distribute()


def test_distribute_needs_a_process_group():
    net, _ = _lif_net()
    with pytest.raises(ValidationError, match=r"'distribute': no torch\.distributed"):
        net.distribute()


def test_distribute_after_build_is_an_error(world_of_one):
    net, _ = _lif_net()
    net.build()
    with pytest.raises(ValidationError, match="before the network is built"):
        net.distribute()


def test_one_process_group_gives_the_plain_spikes(world_of_one):
    a, pa = _lif_net()
    b, pb = _lif_net()
    ma, mb = a.spike_monitor(pa), b.spike_monitor(pb)
    b.distribute()
    for net in (a, b):
        net.run(20.0, progress=False)
    assert ma.steps.size > 10
    np.testing.assert_array_equal(ma.steps, mb.steps)
    np.testing.assert_array_equal(ma.indices, mb.indices)
    assert torch.equal(a.v, b.v)


def stream_monitors(distributed: bool = True) -> dict:
    """Rate and stats monitors of the Brunel-like network (a launch target)."""
    out = {}
    for backend in ("numba", "torch"):
        net, mons, duration = _brunel(backend)
        rate = net.rate_monitor(mons[0].group, bin=1.0)
        stats = net.stats_monitor(mons[1].group, start=20.0, cc_sample=20)
        if distributed:
            net.distribute()
        net.run(duration / 2, progress=False)
        net.run(duration / 2, progress=False)
        out[backend] = {
            "rate": rate.counts.tolist(),
            "counts": stats.counts.tolist(),
            "cv": np.nan_to_num(stats.cv, nan=-1.0).tolist(),
            "cc": np.nan_to_num(stats.correlations, nan=-2.0).tolist(),
        }
    return out


def test_rate_and_stats_monitors_see_every_process_spikes():
    ref = stream_monitors(distributed=False)
    assert sum(ref["numba"]["rate"]) > 100 and sum(ref["numba"]["counts"]) > 100
    got = launch(f"{TARGET}:stream_monitors", 2, {}, timeout_s=120)
    assert got == ref
