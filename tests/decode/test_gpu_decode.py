"""The torch decoders on a CUDA device (run with ``pytest -m gpu``)."""

import numpy as np
import pytest
import torch

from neurodl.data import load_eeg
from neurodl.decode import ShallowConvNetClassifier, cross_validate
from neurodl.tasks.decoding import decode_spikes

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]


def test_convnet_on_cuda_reaches_the_target():
    pytest.importorskip("mne")
    ep = load_eeg(tmin=0.0, tmax=4.0)
    res = cross_validate(
        ShallowConvNetClassifier(device="cuda", random_state=0), ep.X, ep.y
    )
    assert res.mean() >= 0.85, res.scores
    model = ShallowConvNetClassifier(device="cuda", random_state=0).fit(ep.X, ep.y)
    proba = model.predict_proba(ep.X)
    assert proba.dtype == np.float64 or proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)


def test_gru_on_cuda_decodes_m1():
    # the CPU recipe (tasks.decoding.decode_spikes) on CUDA: 0.805 on an H100
    res = decode_spikes("spikes_m1", decoder="gru", device="cuda")
    assert res.summary["test"]["r2"] >= 0.78
