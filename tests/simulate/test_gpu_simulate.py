"""The tensor path on a CUDA device (marker ``gpu``; skipped without one)."""

import numpy as np
import pytest
import torch

from neurodl.simulate import coba, cuba

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def _sorted(mon):
    steps, idx = mon.steps, mon.indices
    order = np.lexsort((idx, steps))
    return steps[order], idx[order]


@pytest.mark.parametrize("build", [cuba, coba], ids=["cuba", "coba"])
def test_cuda_float64_gives_the_cpu_spikes(build):
    # Same coefficients (computed once in Python), same operation order, IEEE
    # float64 adds and multiplies: the spikes must be the compiled CPU path's.
    out = []
    for device, backend in (("cpu", "numba"), ("cuda", "torch")):
        net, mon = build(1000, seed=7, device=device, backend=backend)
        # "events": the event-driven sums, in the compiled path's order
        net.run(200.0, progress=False, propagation="events")
        out.append(_sorted(mon))
    assert out[0][0].size > 100
    np.testing.assert_array_equal(out[0][0], out[1][0])
    np.testing.assert_array_equal(out[0][1], out[1][1])


@pytest.mark.parametrize("propagation", ["events", "spmv"])
def test_cuda_gradients_equal_cpu_gradients(propagation):
    # "spmv": the sparse matrix product without host synchronisation
    grads = []
    for device in ("cpu", "cuda"):
        net, mon = cuba(500, seed=1, device=device, backend="torch")
        net.build()
        for proj in net.projections:
            proj.weight.requires_grad_(True)
        net.run(30.0, grad=True, propagation=propagation)
        loss = sum(part.spikes.sum() for part in mon.parts)
        loss.backward()
        grads.append([p.weight.grad.cpu() for p in net.projections])
    for a, b in zip(*grads, strict=True):
        scale = b.abs().max().clamp(min=1.0)
        assert (a - b).abs().max() <= 1e-9 * scale


def test_cuda_batch_of_trials_float32():
    net, mon = cuba(
        4000, seed=0, device="cuda", dtype=torch.float32, backend="torch", batch=4
    )
    net.run(300.0, progress=False)
    trials = mon.trials
    assert set(np.unique(trials)) == {0, 1, 2, 3}
    rates = np.bincount(trials, minlength=4) / 4000 / 0.3
    assert np.all((rates > 3.0) & (rates < 9.0)), rates
