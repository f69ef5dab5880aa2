"""neurodl.compare and the searchlight on CUDA (run with ``pytest -m gpu``)."""

import numpy as np
import pytest
import torch

from neurodl.compare import RidgeEncoder

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]


def test_ridge_encoder_cuda_equals_cpu():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 50))
    Y = X @ rng.normal(size=(50, 200)) + rng.normal(scale=3.0, size=(300, 200))
    cpu = RidgeEncoder(device="cpu").fit(X, Y)
    gpu = RidgeEncoder(device="cuda").fit(X, Y)
    np.testing.assert_allclose(gpu.predict(X), cpu.predict(X), rtol=1e-8, atol=1e-8)
    np.testing.assert_array_equal(
        np.asarray(gpu.best_alphas_), np.asarray(cpu.best_alphas_)
    )


def test_searchlight_cuda_equals_cpu():
    pytest.importorskip("nibabel")
    from neurodl.imaging.searchlight import searchlight

    rng = np.random.default_rng(1)
    shape = (8, 6, 1)
    mask = np.ones(shape, dtype=bool)
    y = np.repeat([0, 1], 30)
    runs = np.tile(np.arange(6), 10)
    data = rng.normal(size=(*shape, 60))
    data[2:5, 2:4, 0, y == 1] += 0.8
    kw = dict(radius_mm=2.5, affine=np.eye(4))
    cpu = searchlight(data, mask, y, runs, device="cpu", **kw)
    gpu = searchlight(data, mask, y, runs, device="cuda", **kw)
    np.testing.assert_allclose(np.asarray(gpu), np.asarray(cpu), atol=1e-10)
