"""Delivery on the compiled paths: buckets and pull give the same sums, the same spikes.

A large ring is written through per-slot buckets that are replayed into it
(:mod:`neurodl.simulate._delivery`). The replay performs the same additions in
the same order as writing every event directly, so the run must be bit-identical
to the direct one. The tests force the buckets on a small network and make them
tiny (a replay every few events), on the plain and the distributed compiled
paths, and compare spikes, state and the ring itself after every call (events in
flight at the end of a run are in the ring, so a run can be continued).

Pulled delivery (the default without plasticity) is held to the pushed one the
same way: the same spikes, state and ring after every call, also with calls cut
into chunks shorter than the longest delay, through explicit multapses, two
projections onto the same synaptic variable and delayed spike sources.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import neurodl.simulate._delivery as delivery
from tests.simulate.test_distributed import _microcircuit, world_of_one  # noqa: F401


def _run(distributed: bool = False) -> tuple[list[np.ndarray], ...]:
    net, mons, duration = _microcircuit("numba")
    if distributed:
        net.distribute()
    rings, states = [], []
    for _ in range(3):  # three calls: the ring must carry events across them
        net.run(round(duration / 3, 1), progress=False)
        rings.append(net._ring.copy())
        states.append(np.concatenate([net.v.numpy().ravel(), net.g.numpy().ravel()]))
    spikes = [np.stack([m.steps, m.indices]) for m in mons]
    return spikes, rings, states


def _direct(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery, "PULL", False)
    monkeypatch.setattr(delivery, "RING_DIRECT_BYTES", 1 << 62)


def _tiny_buckets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery, "PULL", False)
    monkeypatch.setattr(delivery, "RING_DIRECT_BYTES", 0)
    monkeypatch.setattr(delivery, "BUCKET_EVENTS", 3)


def _assert_same(a: tuple, b: tuple) -> None:
    for xs, ys in zip(a, b, strict=True):
        for x, y in zip(xs, ys, strict=True):
            np.testing.assert_array_equal(x, y)


def test_buckets_are_used_when_forced_and_not_for_a_small_ring(monkeypatch):
    ring = np.zeros((16, 1000))
    assert delivery.buckets(ring)[0].size == 0  # 128 kB: direct writes
    _tiny_buckets(monkeypatch)
    bk, bk_n = delivery.buckets(ring)
    assert bk.size == 16 * 2 * 3 and bk_n.shape == (16,)
    assert delivery.buckets(np.zeros((1, 1000)))[0].size == 0  # no delays
    assert delivery.buckets(np.zeros((4, 2**24), np.float32))[0].size == 0


def test_buckets_give_the_direct_sums_bit_for_bit(monkeypatch):
    _direct(monkeypatch)
    direct = _run()
    assert sum(s.shape[1] for s in direct[0]) > 50  # spikes and events in flight
    assert direct[1][-1].any()
    _tiny_buckets(monkeypatch)
    _assert_same(_run(), direct)
    monkeypatch.setattr(delivery, "BUCKET_EVENTS", 1 << 16)  # no replay when full
    _assert_same(_run(), direct)


def test_buckets_on_the_distributed_path(monkeypatch, world_of_one):  # noqa: F811
    _direct(monkeypatch)
    direct = _run()
    _tiny_buckets(monkeypatch)
    _assert_same(_run(distributed=True), direct)


def test_a_run_after_buckets_can_continue_on_the_tensor_path(monkeypatch):
    """The ring holds the events in flight: the tensor path refuses, by name."""
    from neurodl.errors import ValidationError

    _tiny_buckets(monkeypatch)
    net, _, _ = _microcircuit("numba")
    net.run(5.0, progress=False)
    assert net._ring.any()
    with pytest.raises(ValidationError, match="in flight"):
        net.run(1.0, backend="torch", progress=False)
    assert torch.isfinite(net.v).all()


# ------------------------------------------------------------------------- pull
def _explicit_arrays() -> tuple[np.ndarray, ...]:
    """Synapses a -> b listed by hand, the first 300 listed twice (multapses)."""
    rng = np.random.default_rng(5)
    i = rng.integers(0, 60, 900)
    j = rng.integers(0, 40, 900)
    i, j = np.concatenate([i, i[:300]]), np.concatenate([j, j[:300]])
    d = np.round(rng.uniform(0.1, 3.0, i.size), 1)
    d[900:] = d[:300]
    return i, j, d, rng.normal(0.7, 0.9, i.size)


def _crossing(backend: str = "numba", zero_delay: bool = True):
    """Delays of every length crossing call boundaries, in every kind of row.

    Explicit multapses (the same pair and delay, different weights), two
    projections from one population onto the same synaptic variable, a spike
    source with delays, and Normal delays up to 4 ms; rates high enough that
    many additions meet in one (slot, target) cell. ``zero_delay``: a
    projection with delay 0 (else 0.1 ms: then a pulled step also pulls the
    next step's row, ``pull_two``).
    """
    from neurodl.neurons import LIFParams
    from neurodl.simulate import CurrentSynapse, Explicit, FixedProbability, Normal
    from neurodl.simulate.network import Network

    net = Network(dt=0.1, seed=4, backend=backend)
    p = LIFParams(tau_mem=10.0, v_rest=-65.0, v_th=-50.0, v_reset=-65.0, t_ref=1.0)
    a = net.population(60, p, i_ext=16.0, v0=("uniform", -65.0, -50.0), name="a")
    b = net.population(40, p, i_ext=15.5, v0=("uniform", -65.0, -50.0), name="b")
    rng = np.random.default_rng(3)
    flat = rng.choice(300 * 20, 500, replace=False)
    src = net.spike_source(20, times=(flat // 20) * 0.1, indices=flat % 20)
    syn = CurrentSynapse(tau=2.0)
    i, j, d, w = _explicit_arrays()
    net.connect(a, b, Explicit(i, j, weight=w, delay=d), syn)
    net.connect(a, b, FixedProbability(0.3), syn, weight=Normal(0.3, 0.4),
                delay=Normal(1.5, 1.0, low=0.1, high=4.0))  # fmt: skip
    net.connect(b, a, FixedProbability(0.4), syn, weight=Normal(-0.9, 0.5),
                delay=Normal(0.8, 0.5, low=0.1))  # fmt: skip
    net.connect(src, a, FixedProbability(0.5), syn, weight=Normal(2.0, 0.6),
                delay=Normal(2.0, 1.0, low=0.1, high=4.0))  # fmt: skip
    net.connect(a, a, FixedProbability(0.2), syn, weight=0.2,
                delay=0.0 if zero_delay else 0.1)  # fmt: skip
    return net, [net.spike_monitor(a), net.spike_monitor(b)], 30.0


def _delayed():
    return _crossing(zero_delay=False)


def _run_net(make, distributed: bool = False) -> tuple[list[np.ndarray], ...]:
    net, mons, duration = make()
    if distributed:
        net.distribute()
    rings, states = [], []
    for _ in range(3):
        net.run(round(duration / 3, 1), progress=False)
        rings.append(net._ring.copy())
        states.append(np.concatenate([net.v.numpy().ravel(), net.g.numpy().ravel()]))
    spikes = [np.stack([m.steps, m.indices]) for m in mons]
    return spikes, rings, states


def _pushed(monkeypatch: pytest.MonkeyPatch, make) -> tuple[list[np.ndarray], ...]:
    with monkeypatch.context() as m:
        m.setattr(delivery, "PULL", False)
        m.setattr(delivery, "RING_DIRECT_BYTES", 1 << 62)
        return _run_net(make)


def test_rows_are_grouped_by_delay_and_each_projection_finds_its_slots():
    net, _, _ = _crossing()
    net.build()
    gptr, big_l = net._gptr, net._ring.shape[0]
    assert big_l > 30  # 4 ms delays
    assert gptr.size == net.n_all * big_l + 1
    np.testing.assert_array_equal(gptr[::big_l], net._indptr)
    for x in range(gptr.size - 1):  # group (row, d): every slot has delay d
        assert (net._dly[gptr[x] : gptr[x + 1]] == x % big_l).all()
    seen = np.zeros(net.n_synapses, bool)
    offset = {(p.index, s): off for p, s, off in net.channels}
    for proj in net.projections:
        d = proj.delay_steps
        starts = np.r_[0, np.cumsum(proj._row_count)]
        for r in range(proj._row_count.size):  # its own order: by delay per row
            assert (np.diff(d[starts[r] : starts[r + 1]]) >= 0).all()
        slots = proj._slots()
        assert not seen[slots].any()
        seen[slots] = True
        np.testing.assert_array_equal(net._dly[slots], d)
        np.testing.assert_array_equal(
            net._tgt[slots], proj.post_index + offset[(proj.post.index, proj.synapse)]
        )
        rows = np.searchsorted(net._indptr, slots, side="right") - 1
        np.testing.assert_array_equal(rows - proj.pre.start, proj.pre_index)
    assert seen.all()
    # within a group projections keep their order: a row's slots of one delay
    # list the first projection's synapses first
    first, second = net.projections[0]._slots(), net.projections[1]._slots()
    key1 = net._indptr.searchsorted(first, "right") * big_l + net._dly[first]
    key2 = net._indptr.searchsorted(second, "right") * big_l + net._dly[second]
    shared = np.intersect1d(key1, key2)
    assert shared.size > 10
    for key in shared[:50]:
        assert first[key1 == key].max() < second[key2 == key].min()
    # explicit synapses: sorted by (i, delay, j), the user's order kept within
    explicit = net.projections[0]
    i, j, dl, w = _explicit_arrays()
    steps = np.rint(dl / 0.1).astype(np.int64)
    order = np.lexsort((np.arange(i.size), j, steps, i))
    np.testing.assert_array_equal(explicit.pre_index, i[order])
    np.testing.assert_array_equal(explicit.delay_steps, steps[order])
    np.testing.assert_array_equal(explicit.post_index, j[order])
    np.testing.assert_array_equal(explicit.weight.numpy(), w[order])


def test_the_kernel_weights_are_kept_while_the_projections_are_unchanged():
    from neurodl.simulate._tables import csr_weights, kernel_weights

    net, _, _ = _crossing()
    net.run(1.0, progress=False)
    kept = kernel_weights(net, np.float64)
    assert kernel_weights(net, np.float64) is kept  # unchanged: reused
    np.testing.assert_array_equal(kept, csr_weights(net, np.float64))
    proj = net.projections[1]
    proj.weight.numpy()[3] += 0.25  # in place, behind torch's back
    w = kernel_weights(net, np.float64)
    np.testing.assert_array_equal(w, csr_weights(net, np.float64))
    assert w[proj._slots()[3]] == proj.weight[3].item()
    with torch.no_grad():
        proj.weight.data = proj.weight * 2.0  # a new tensor
    np.testing.assert_array_equal(
        kernel_weights(net, np.float64), csr_weights(net, np.float64)
    )
    proj.weight = proj.weight.clone()  # the same values, another tensor
    np.testing.assert_array_equal(
        kernel_weights(net, np.float64), csr_weights(net, np.float64)
    )
    assert kernel_weights(net, np.float32).dtype == np.float32
    # a run sees the changed weights: the same spikes as a fresh network given them
    net2, mons2, _ = _crossing()
    net2.build()
    for p2, p1 in zip(net2.projections, net.projections, strict=True):
        p2.weight = p1.weight.clone()
    net3, mons3, _ = _crossing()
    net3.build()
    for p3, p1 in zip(net3.projections, net.projections, strict=True):
        p3.weight = p1.weight.clone()
    net2.run(5.0, progress=False)
    kernel_weights(net2, np.float64)  # kept
    net2.projections[2].weight.numpy()[:] *= 0.5
    net3.run(5.0, progress=False)
    net3.projections[2].weight.numpy()[:] *= 0.5
    net3._w_cache = None  # placed afresh
    net2.run(10.0, progress=False)
    net3.run(10.0, progress=False)
    for m2, m3 in zip(mons2, mons3, strict=True):
        np.testing.assert_array_equal(m2.steps, m3.steps)
        np.testing.assert_array_equal(m2.indices, m3.indices)


def test_pull_gives_the_pushed_sums_bit_for_bit(monkeypatch):
    for make in (_crossing, _delayed, lambda: _microcircuit("numba")):
        pushed = _pushed(monkeypatch, make)
        assert pushed[1][-1].any()  # events in flight at the end of each call
        _assert_same(_run_net(make), pushed)


def test_pull_across_short_calls_and_a_full_spike_record(monkeypatch):
    """Chunks shorter than the longest delay: most events go through the tail."""
    import neurodl.simulate._numba_engine as engine
    import neurodl.simulate._runner as runner

    for make in (_crossing, _delayed):
        pushed = _pushed(monkeypatch, make)
        with monkeypatch.context() as m:
            for chunk in (7, 1):
                m.setattr(runner, "_CHUNK", chunk)
                _assert_same(_run_net(make), pushed)
        # a record of one step's spikes: calls return early, mid-chunk
        calls = []
        real = engine.run_chunk

        def spy(*args, real=real, calls=calls, **kwargs):  # type: ignore[no-untyped-def]
            did = real(*args, **kwargs)
            calls.append(did < args[1])
            return did

        with monkeypatch.context() as m:
            m.setattr(engine, "run_chunk", spy)
            m.setattr(runner, "_RECORD_PER_NEURON", 1)
            m.setattr(runner, "_RECORD_MIN", 0)
            _assert_same(_run_net(make), pushed)
        assert sum(calls) >= 3  # it returned early


def test_pull_on_the_distributed_path(monkeypatch, world_of_one):  # noqa: F811
    for make in (_crossing, _delayed, lambda: _microcircuit("numba")):
        pushed = _pushed(monkeypatch, make)
        _assert_same(_run_net(make, distributed=True), pushed)


def test_pulled_events_in_flight_continue_on_a_pushed_run(monkeypatch):
    """The ring after a pulled call holds what pushing would: either may go on."""
    net, mons, _ = _crossing()
    net.run(10.0, progress=False)
    monkeypatch.setattr(delivery, "PULL", False)
    net.run(20.0, progress=False)
    mixed = [np.stack([m.steps, m.indices]) for m in mons]
    pushed = _pushed(monkeypatch, _crossing)
    for x, y in zip(mixed, pushed[0], strict=True):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(net._ring, pushed[1][-1])


def test_a_longer_global_ring_gives_the_same_spikes():
    """A process whose delays are shorter than the longest of all widens its
    group table to the global ring (empty groups): nothing else changes."""
    from neurodl.simulate._tables import widen_groups

    ref, ref_mons, _ = _crossing()
    ref.run(30.0, progress=False)
    net, mons, _ = _crossing()
    net.build()
    big_l = net._ring.shape[0]
    old = net._gptr.copy()
    widen_groups(net, big_l + 5)
    grid = net._gptr[:-1].reshape(net.n_all, big_l + 5)
    np.testing.assert_array_equal(grid[:, :big_l].ravel(), old[:-1])
    np.testing.assert_array_equal(
        grid[:, big_l:], np.repeat(net._indptr[1:, None], 5, 1)
    )
    net._ring = np.zeros((big_l + 5, net.n_g))
    net.max_delay = big_l + 4
    net.run(30.0, progress=False)
    for m, r in zip(mons, ref_mons, strict=True):
        np.testing.assert_array_equal(m.steps, r.steps)
        np.testing.assert_array_equal(m.indices, r.indices)
    with pytest.raises(ValueError, match="narrow"):
        widen_groups(net, big_l)
