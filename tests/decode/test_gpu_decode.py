"""The torch decoders on a CUDA device (run with ``pytest -m gpu``)."""

import numpy as np
import pytest
import torch

from neurodl.data import load_eeg, load_spikes
from neurodl.decode import (
    RecurrentDecoder,
    ShallowConvNetClassifier,
    cross_validate,
    history_windows,
    regression_scores,
    split_time_ordered,
)

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
    data = load_spikes("spikes_m1", target_dims=(0, 1))
    w, _ = history_windows(data.counts, 6, 1, 6)
    tr, va, te = split_time_ordered(data.n_bins, trim_start=6, trim_end=6)
    mean, std = w[tr].mean(0), w[tr].std(0)
    z = (w - mean) / np.where(std > 0, std, 1.0)
    y = data.target - data.target[tr].mean(0)
    rows = np.concatenate([tr, va])
    m = RecurrentDecoder(
        hidden=256,
        dropout=0.3,
        epochs=12,
        patience=3,
        random_state=0,
        device="cuda",
        validation_fraction=len(va) / len(rows),
    ).fit(z[rows], y[rows])
    assert regression_scores(y[te], m.predict(z[te]))["r2"] >= 0.78
