"""Song, Miller & Abbott (2000) as Brian2's examples/synapses/STDP.py, against Brian2.

Reference: tests/reference/song2000_brian2.json, made by
``python benchmarks/song2000.py reference`` (Brian2 2.9.0, numpy target): the
example's network with its Poisson inputs replaced by given spike times (2 s,
1000 inputs at 15 Hz) and given initial weights.
"""

import functools
import json
from pathlib import Path

import numpy as np

from neurodl.neurons.lif import LIFParams
from neurodl.simulate import STDP, CurrentSynapse, Explicit, Network

REF = json.loads(
    (Path(__file__).parents[1] / "reference" / "song2000_brian2.json").read_text()
)
GMAX, DRIVE = 0.01, 60.0  # Brian2's ge (Ee - vr): weights in mV = 60 w


@functools.cache
def _inputs():
    spec = REF["inputs"]
    rng = np.random.default_rng(spec["seed"])
    w0 = rng.uniform(0.0, GMAX, 1000)
    mask = rng.random((spec["n_steps"], 1000)) < 15.0 * 0.1 * 1e-3
    steps, idx = np.nonzero(mask)
    # the regenerated inputs are the ones Brian2 got
    assert steps.size == spec["n_spikes"]
    assert int((steps * 1000 + idx).sum()) == spec["checksum"]
    return steps, idx, w0


def _song(learn, backend, n_steps):
    steps, idx, w0 = _inputs()
    keep = steps < n_steps
    net = Network(dt=0.1, backend=backend)
    src = net.spike_source(1000, times=steps[keep] * 0.1, indices=idx[keep])
    p = LIFParams(tau_mem=10.0, v_rest=-74.0, v_th=-54.0, v_reset=-60.0, t_ref=0.0)
    post = net.population(1, p, method="exact", v0=0.0)  # Brian2's v starts at 0
    g = GMAX * DRIVE
    rule = STDP(
        a_plus=0.01 * g if learn else 0.0,
        a_minus=0.0105 * g if learn else 0.0,
        tau_plus=20.0,
        tau_minus=20.0,
        w_min=0.0,
        w_max=g,
    )
    one_post = Explicit(np.arange(1000), np.zeros(1000, np.int64))
    proj = net.connect(
        src, post, one_post, CurrentSynapse(5.0), weight=w0 * DRIVE, plasticity=rule
    )
    mon = net.spike_monitor(post)
    net.run(n_steps * 0.1, progress=False)
    return mon.steps, proj.weight.numpy() / DRIVE


def test_post_spikes_equal_brian2_before_any_weight_moves():
    # learning rates 0 (the weights never move): all 145 postsynaptic spike steps
    # over 2 s equal Brian2's.
    want = np.array(REF["frozen"]["post_spike_steps"])
    steps, w = _song(False, "numba", REF["inputs"]["n_steps"])
    assert want.size > 100
    np.testing.assert_array_equal(steps, want)
    np.testing.assert_array_equal(w * DRIVE, _inputs()[2] * DRIVE)


def test_stdp_follows_brian2_spike_for_spike():
    # With the example's learning rates: the same postsynaptic spikes as Brian2
    # over 2 s and the same final weights to rounding (Brian2 keeps dApre-scaled
    # traces, neurodl unit traces times a+: <= 1e-15 of g_max apart).
    ref = REF["learning"]
    steps, w = _song(True, "numba", REF["inputs"]["n_steps"])
    np.testing.assert_array_equal(steps, np.array(ref["post_spike_steps"]))
    w_ref = np.array(ref["w"])
    assert np.abs(w - _inputs()[2]).max() > 0.1 * GMAX  # the weights did move
    np.testing.assert_allclose(w, w_ref, rtol=0, atol=1e-13 * GMAX)


def test_tensor_path_gives_the_same_first_spikes():
    # the tensor path (equal to the compiled one in float64, test_plasticity.py)
    # on the first 40 ms of the learning run: its first three spikes
    want = np.array(REF["learning"]["post_spike_steps"])
    steps, _ = _song(True, "torch", 400)
    assert want[want < 400].size == 3
    np.testing.assert_array_equal(steps, want[want < 400])
