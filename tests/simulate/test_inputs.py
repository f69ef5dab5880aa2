"""Poisson inputs (Brian2's PoissonInput, keyed counts) and delta synapses."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from neurodl.errors import ValidationError
from neurodl.neurons import LIFParams
from neurodl.simulate import (
    ConductanceSynapse,
    CurrentSynapse,
    DeltaSynapse,
    Explicit,
    FixedInDegree,
    Network,
)
from neurodl.simulate._keyed import (
    _signed,
    binomial_cdf,
    input_key,
    poisson_add,
    poisson_counts,
    poisson_guide,
    step_key,
)

BRUNEL = LIFParams(tau_mem=20.0, v_rest=0.0, v_th=20.0, v_reset=10.0, t_ref=2.0)


def _kernel_counts(n: int, p: float, steps: range, key: int) -> np.ndarray:
    """Counts (steps, n) from the numba kernel (weight 1 onto zeros)."""
    cdf = binomial_cdf(n, p)
    out = np.zeros((len(steps), 700))
    pin_i = np.array([[0, 700, cdf.size]], np.int64)
    for r, k in enumerate(steps):
        poisson_add(
            k, out[r], pin_i, np.array([key], np.uint64), np.ones(1), cdf[None, :],
            poisson_guide(cdf[None, :]),
        )  # fmt: skip
    return out


def test_counts_are_binomial_and_equal_on_both_paths():
    n, p = 1000, 25.0 * 0.1e-3  # Brunel-like: 1000 inputs at 25 Hz, dt 0.1 ms
    key = input_key(7, 0)
    steps = range(300)
    numba = _kernel_counts(n, p, steps, key)
    cdf = torch.as_tensor(binomial_cdf(n, p))
    hk = torch.tensor([_signed(step_key(key, k)) for k in steps], dtype=torch.int64)
    tensor = poisson_counts(hk, 700, cdf).numpy()
    np.testing.assert_array_equal(numba, tensor)
    counts = tensor.reshape(-1).astype(np.int64)
    # chi-square against scipy's binomial pmf (tail pooled)
    top = 7
    observed = np.bincount(np.minimum(counts, top), minlength=top + 1)
    expected = stats.binom.pmf(np.arange(top + 1), n, p)
    expected[-1] = stats.binom.sf(top - 1, n, p)
    chi = stats.chisquare(observed, expected * counts.size)
    assert chi.pvalue > 1e-4
    assert abs(counts.mean() - n * p) < 5 * math.sqrt(n * p * (1 - p) / counts.size)
    assert abs(counts.var() / (n * p * (1 - p)) - 1) < 0.03
    # neighbouring neurons and steps are uncorrelated
    c = tensor - tensor.mean()
    r_neuron = (c[:, 1:] * c[:, :-1]).mean() / c.var()
    r_step = (c[1:] * c[:-1]).mean() / c.var()
    assert abs(r_neuron) < 0.02 and abs(r_step) < 0.02


def test_a_small_mean_and_a_large_one():
    for n, p in ((3, 0.01), (50_000, 0.2)):
        cdf = binomial_cdf(n, p)
        hk = torch.tensor([_signed(step_key(input_key(1, 2), k)) for k in range(40)])
        counts = poisson_counts(hk, 500, torch.as_tensor(cdf)).numpy().reshape(-1)
        sd = math.sqrt(n * p * (1 - p))
        assert abs(counts.mean() - n * p) < 5 * sd / math.sqrt(counts.size)
        assert abs(counts.std() / sd - 1) < 0.05
        # the empirical CDF against scipy's at every integer (discrete KS)
        ks = np.arange(int(counts.min()), int(counts.max()) + 1)
        ecdf = np.searchsorted(np.sort(counts), ks, side="right") / counts.size
        assert np.abs(ecdf - stats.binom.cdf(ks, n, p)).max() < 1.63 / math.sqrt(
            counts.size
        )  # the 1% critical value


@pytest.mark.parametrize(
    ("n", "p"), [(3, 0.01), (1, 0.5), (2000, 8e-4), (2000, 0.05), (40, 0.97)]
)
def test_the_guide_table_gives_the_counts_of_a_full_inversion(n: int, p: float):
    """The kernel's guide-table start gives #{c: cdf[c] <= u} of a scan from 0.

    Reference: the tensor path's ``searchsorted(side="right")`` over the whole
    CDF, for the same hashes; means from 0.01 to 100 (long scans past the guide).
    """
    cdf = binomial_cdf(n, p)
    key = input_key(11, 5)
    steps = range(60)
    numba = _kernel_counts(n, p, steps, key)
    hk = torch.tensor([_signed(step_key(key, k)) for k in steps], dtype=torch.int64)
    np.testing.assert_array_equal(
        numba, poisson_counts(hk, 700, torch.as_tensor(cdf)).numpy()
    )
    guide = poisson_guide(cdf[None, :])[0]
    edges = np.arange(guide.size) / guide.size
    assert np.array_equal(guide, np.searchsorted(cdf, edges, side="right"))
    assert guide.max() < cdf.size  # the last entry, 1.0, is never passed


def _brunel(backend: str, batch: int = 1, seed: int = 3) -> tuple[np.ndarray, ...]:
    net = Network(dt=0.1, seed=seed, backend=backend, batch=batch)
    exc = net.population(400, BRUNEL, v0=("uniform", 0.0, 20.0))
    inh = net.population(100, BRUNEL, v0=("uniform", 0.0, 20.0))
    # an Euler population: a conductance synapse beside the delta input
    cond = net.population(50, BRUNEL, v0=("uniform", 0.0, 20.0))
    for post in (exc, inh, cond):
        net.connect(exc, post, FixedInDegree(40), DeltaSynapse(), weight=0.2, delay=1.5)
        net.connect(
            inh, post, FixedInDegree(10), DeltaSynapse(), weight=-1.0, delay=1.5
        )
        net.poisson_input(post, 1000, 22.0, 0.1, DeltaSynapse())
    net.connect(
        exc,
        cond,
        FixedInDegree(5),
        ConductanceSynapse(5.0, 40.0),
        weight=0.05,
        delay=0.5,
    )
    net.poisson_input(inh, 200, 5.0, 0.3, CurrentSynapse(2.0))
    net.poisson_input(cond, 3, 200.0, 0.5, DeltaSynapse())  # a 4-entry CDF table
    mons = [net.spike_monitor(p) for p in (exc, inh, cond)]
    net.run(150.0, progress=False)
    assert cond.method == "euler" and exc.method == "exact"
    out = []
    for m in mons:
        keep = m.trials == 0
        out += [m.steps[keep], m.indices[keep]]
    return tuple(out)


def test_numba_and_torch_give_the_same_spikes():
    a = _brunel("numba")
    b = _brunel("torch")
    assert a[0].size > 200 and a[4].size > 10  # exc and the Euler population fire
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


def test_same_spikes_whatever_the_batch_and_threads():
    ref = _brunel("numba")
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        batched = _brunel("torch", batch=2)
    finally:
        torch.set_num_threads(threads)
    for x, y in zip(ref, batched, strict=True):
        np.testing.assert_array_equal(x, y)


def test_poisson_input_mean_drive():
    # tau_mem so long that v just sums its delta inputs: E v = steps n p w
    net = Network(dt=0.1, seed=9)
    params = LIFParams(tau_mem=1e12, v_rest=0.0, v_th=1e9, v_reset=0.0, t_ref=0.0)
    pop = net.population(2000, params)
    net.poisson_input(pop, 500, 10.0, 0.25, DeltaSynapse())
    net.run(100.0, progress=False)
    v = net.v[0].numpy()
    n, p, steps = 500, 10.0 * 0.1e-3, 1000
    # the input of the last step is still in flight (the next integration adds it)
    mean = (steps - 1) * n * p * 0.25
    var = (steps - 1) * n * p * (1 - p) * 0.25**2
    assert abs(v.mean() - mean) < 5 * math.sqrt(var / v.size)
    assert abs(v.var() / var - 1) < 5 * math.sqrt(2 / v.size)


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_delta_synapse_jumps_after_the_decay_and_not_while_refractory(backend):
    net = Network(dt=0.1, seed=0, backend=backend)
    src = net.spike_source(2, times=[1.0, 3.0, 3.05], indices=[0, 1, 0])
    pop = net.population(1, BRUNEL, v0=5.0)
    net.connect(
        src,
        pop,
        Explicit(i=[0, 1], j=[0, 0], weight=[2.0, 30.0], delay=[0.5, 0.0]),
        DeltaSynapse(),
    )
    mon = net.state_monitor(pop, "v")
    spikes = net.spike_monitor(pop)
    net.run(6.0, progress=False)
    v = mon.values[:, 0]
    a = math.exp(-0.1 / 20.0)
    # spike at step 10, delay 5 steps: in g at the end of step 15, so the
    # integration of step 16 adds 2 mV after its decay: v(t=1.7 ms)
    expected = 5.0 * a**17 + 2.0 * a**0
    assert v[17] == pytest.approx(expected, rel=1e-12)
    assert v[16] == pytest.approx(5.0 * a**16, rel=1e-12)
    # step 30: neuron 1's 30 mV (delay 0) makes it spike in step 31; neuron 0's
    # second spike (3.05 ms, step 30) lands in step 36, inside the refractory
    # period (steps 32-50), and is discarded: after it v decays from the reset
    np.testing.assert_array_equal(spikes.steps, [31])
    assert np.all(v[32:52] == 10.0)
    assert v[52] == pytest.approx(10.0 * a, rel=1e-12)


def test_poisson_input_rejects_bad_values():
    net = Network(dt=0.1)
    pop = net.population(3, BRUNEL)
    src = net.spike_source(2, rate=1.0)
    for kwargs, match in (
        ({"pop": src, "n": 5, "rate": 1.0, "weight": 1.0}, "'pop' must be a Pop"),
        ({"pop": pop, "n": 0, "rate": 1.0, "weight": 1.0}, "'n' must be"),
        ({"pop": pop, "n": 5, "rate": -1.0, "weight": 1.0}, "'rate' must be"),
        ({"pop": pop, "n": 5, "rate": 2e4, "weight": 1.0}, "'rate' times dt"),
        ({"pop": pop, "n": 5, "rate": 1.0, "weight": math.inf}, "'weight' must be"),
        (
            {"pop": pop, "n": 5, "rate": 1.0, "weight": 1.0, "synapse": "ampa"},
            "'synapse' must be",
        ),
    ):
        with pytest.raises(ValidationError, match=match):
            net.poisson_input(**kwargs)


def test_grad_runs_fall_back_to_the_tensor_path():
    net = Network(dt=0.1, seed=1)
    pop = net.population(20, BRUNEL)
    net.poisson_input(pop, 100, 50.0, 0.5, CurrentSynapse(2.0))
    with pytest.raises(ValidationError, match="Poisson inputs"):
        net.run(1.0, backend="numba", grad=True, progress=False)
    net.run(1.0, grad=True, progress=False)  # auto: the tensor path
