"""Streamed monitors against direct computations on the recorded spike train."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neurodl.errors import ValidationError
from neurodl.neurons import LIFParams
from neurodl.simulate import DeltaSynapse, FixedInDegree, Network

P = LIFParams(tau_mem=20.0, v_rest=0.0, v_th=20.0, v_reset=10.0, t_ref=2.0)


def _net(backend: str, **kw):
    net = Network(dt=0.1, seed=21, backend=backend, **kw)
    pop = net.population(300, P, i_ext=15.0, v0=("uniform", 0.0, 20.0))
    net.connect(pop, pop, FixedInDegree(30), DeltaSynapse(), weight=0.3, delay=1.5)
    net.poisson_input(pop, 100, 100.0, 0.4, DeltaSynapse())
    return net, pop


def _run(backend: str):
    net, pop = _net(backend)
    full = net.spike_monitor(pop)
    sub = net.spike_monitor(pop, indices=[250, 3, 7, 3])
    rate = net.rate_monitor(pop, bin=1.5)
    stats = net.stats_monitor(pop, start=50.0, cc_sample=40, cc_bin=2.0)
    for piece in (100.3, 120.0, 79.7):  # bins straddle the runs' ends
        net.run(piece, progress=False)
    return net, full, sub, rate, stats


def test_statistics_equal_a_direct_computation():
    net, full, sub, rate, stats = _run("numba")
    steps, idx = full.steps, full.indices
    n = 300
    assert steps.size > 3000
    # subset monitor: the full train, filtered
    keep = np.isin(idx, [3, 7, 250])
    np.testing.assert_array_equal(sub.steps, steps[keep])
    np.testing.assert_array_equal(sub.indices, idx[keep])
    # population counts per 1.5-ms bin (15 steps); the last bin is partial
    n_bins = -(-net.step // 15)
    np.testing.assert_array_equal(
        rate.counts, np.bincount(steps // 15, minlength=n_bins)
    )
    np.testing.assert_allclose(rate.times, np.arange(n_bins) * 1.5)
    np.testing.assert_allclose(rate.rate[:-1], rate.counts[:-1] / (n * 1.5e-3))
    # from 50 ms on: counts, rates, CVs
    late = steps >= 500
    s, i = steps[late], idx[late]
    counts = np.bincount(i, minlength=n)
    np.testing.assert_array_equal(stats.counts, counts)
    np.testing.assert_allclose(stats.rates, counts / 0.25)  # 250 ms
    cv = np.full(n, np.nan)
    for j in range(n):
        t = s[i == j]
        if t.size > 2:
            isi = np.diff(t).astype(float)
            cv[j] = isi.std() / isi.mean()
    assert np.sum(np.isfinite(cv)) > 250
    np.testing.assert_allclose(stats.cv, cv, rtol=1e-9, equal_nan=True)
    # correlations of 2-ms bin counts over the sample, whole bins from 50 ms
    sample = stats.cc_index
    assert sample.size == 40 and np.all(np.diff(sample) > 0)
    n_cc = (net.step - 500) // 20
    binned = np.zeros((sample.size, n_cc))
    for r, j in enumerate(sample):
        t = s[(i == j) & (s < 500 + 20 * n_cc)]
        np.add.at(binned[r], (t - 500) // 20, 1.0)
    assert stats.n_bins == n_cc
    np.testing.assert_allclose(stats.cc_matrix(), np.corrcoef(binned), atol=1e-10)
    upper = np.corrcoef(binned)[np.triu_indices(40, k=1)]
    np.testing.assert_allclose(stats.correlations, upper, atol=1e-10)
    assert np.abs(stats.correlations).max() > 0.01


def test_both_paths_give_the_same_statistics():
    a = _run("numba")
    b = _run("torch")
    np.testing.assert_array_equal(a[1].steps, b[1].steps)
    np.testing.assert_array_equal(a[2].indices, b[2].indices)
    np.testing.assert_array_equal(a[3].counts, b[3].counts)
    np.testing.assert_array_equal(a[4].counts, b[4].counts)
    np.testing.assert_array_equal(a[4].cv, b[4].cv)
    np.testing.assert_array_equal(a[4].cc_matrix(), b[4].cc_matrix())


def test_silent_neurons_and_reset():
    net = Network(dt=0.1, seed=1)
    pop = net.population(5, P)  # no drive: silent
    stats = net.stats_monitor(pop, cc_sample=10, cc_bin=1.0)
    rate = net.rate_monitor(pop)
    net.run(10.0, progress=False)
    assert stats.cc_index.size == 5  # the sample is capped at the group
    assert np.all(np.isnan(stats.cc_matrix())) and stats.correlations.size == 0
    assert np.all(np.isnan(stats.cv)) and np.all(stats.rates == 0)
    assert rate.counts.size == 10 and rate.counts.sum() == 0
    net.reset()
    assert stats.n_bins == 0 and rate.counts.size == 0


def test_monitors_reject_bad_values():
    net = Network(dt=0.1)
    pop = net.population(4, P)
    other = Network(dt=0.1).population(2, P)
    for call, match in (
        (lambda: net.rate_monitor(pop, bin=0.25), "'bin' must be a multiple of dt"),
        (lambda: net.rate_monitor(pop, bin=0.0), "'bin' must be"),
        (lambda: net.stats_monitor(pop, cc_sample=1), "'cc_sample' must be"),
        (lambda: net.stats_monitor(pop, start=-1.0), "'start' must be"),
        (lambda: net.stats_monitor(pop, cc_bin=0.05), "'cc_bin' must be a multiple"),
        (lambda: net.rate_monitor(other), "'group' must be a Population"),
        (
            lambda: net.spike_monitor(pop, indices=[4]),
            r"'indices' must lie in \[0, 4\)",
        ),
        (lambda: net.spike_monitor(pop, indices=[0.5]), "'indices' must be a 1-D"),
    ):
        with pytest.raises(ValidationError, match=match):
            call()
    batched = Network(dt=0.1, batch=2)
    p2 = batched.population(3, P)
    with pytest.raises(ValidationError, match="stats_monitor records batch 1"):
        batched.stats_monitor(p2)


def test_grad_run_with_a_stats_monitor_takes_the_tensor_path():
    net, pop = _net("auto")
    stats = net.stats_monitor(pop, cc_sample=10)
    net.run(20.0, grad=True, progress=False)
    assert stats.counts.sum() > 0
    assert torch.is_tensor(net.v)
