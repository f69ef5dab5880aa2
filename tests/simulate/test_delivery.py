"""Event buckets in front of the delay ring: the same sums, the same spikes.

A large ring is written through per-slot buckets that are replayed into it
(:mod:`neurodl.simulate._delivery`). The replay performs the same additions in
the same order as writing every event directly, so the run must be bit-identical
to the direct one. The tests force the buckets on a small network and make them
tiny (a replay every few events), on the plain and the distributed compiled
paths, and compare spikes, state and the ring itself after every call (events in
flight at the end of a run are in the ring, so a run can be continued).
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
    monkeypatch.setattr(delivery, "RING_DIRECT_BYTES", 1 << 62)


def _tiny_buckets(monkeypatch: pytest.MonkeyPatch) -> None:
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
