"""Per-subject DP-SGD: exact clipping, the noise the formula says, the accountant's
epsilon, the delta rule, the sample-level warning, BatchNorm, and the model file.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from neurodl._io import read_header
from neurodl.decode.private import DPClassifier, LogVariance, standardize_per_subject
from neurodl.errors import ValidationError
from neurodl.learning.private import fit_private
from neurodl.networks import FeedForward
from neurodl.networks.io import load_with_meta, save
from neurodl.privacy.dp import (
    DPConfig,
    PrivacyReport,
    SampleLevelPrivacyWarning,
    check_delta,
    clip_units,
    dp_fit,
    dp_fit_module,
    epsilon_spent,
    noise_multiplier_for,
    private_gradient,
    unit_gradients,
)
from tests.privacy.subjects import subject_task

D = torch.float64


def _toy(seed=0, n_units=6):
    """A 3-4-2 tanh network and units with 1 to 6 rows each."""
    g = torch.Generator().manual_seed(seed)
    params = [
        torch.randn(3, 4, generator=g, dtype=D),
        torch.randn(4, generator=g, dtype=D),
        torch.randn(4, 2, generator=g, dtype=D),
        torch.randn(2, generator=g, dtype=D),
    ]
    counts = np.arange(1, n_units + 1)
    index = torch.as_tensor(np.repeat(np.arange(n_units), counts))
    n = int(counts.sum())
    x = 3 * torch.randn(n, 3, generator=g, dtype=D)
    y = torch.randint(0, 2, (n,), generator=g)
    return params, x, y, index


def _loss(p, x, y):
    h = torch.tanh(x @ p[0] + p[1])
    return F.cross_entropy(h @ p[2] + p[3], y)


def _hand_unit_grads(params, x, y, index):
    """Each unit's gradient of its mean loss, by plain autograd, one unit at a time."""
    out = []
    for u in range(int(index.max()) + 1):
        p = [t.clone().requires_grad_(True) for t in params]
        rows = index == u
        out.append(torch.autograd.grad(_loss(p, x[rows], y[rows]), p))
    return out


def test_unit_gradients_are_each_units_mean_loss_gradient():
    params, x, y, index = _toy()
    grads, mean = unit_gradients(_loss, params, x, y, index, 6, chunk_size=4)
    hand = _hand_unit_grads(params, x, y, index)
    for u, gu in enumerate(hand):
        for k, g in enumerate(gu):
            torch.testing.assert_close(grads[k][u], g, rtol=1e-10, atol=1e-12)
    per_row = F.cross_entropy(
        torch.tanh(x @ params[0] + params[1]) @ params[2] + params[3],
        y,
        reduction="none",
    )
    assert float(mean) == pytest.approx(float(per_row.mean()), rel=1e-12)


def test_clipped_sum_without_noise_matches_hand_computation():
    params, x, y, index = _toy()
    grads, _ = unit_gradients(_loss, params, x, y, index, 6)
    C = 0.5
    hand = _hand_unit_grads(params, x, y, index)
    norms = [math.sqrt(sum(float((g**2).sum()) for g in gu)) for gu in hand]
    assert min(norms) < C < max(norms)  # both branches of the clip are exercised
    expected_batch = 0.3 * 10
    want = [
        sum(gu[k] * min(1.0, C / n) for gu, n in zip(hand, norms, strict=True))
        / expected_batch
        for k in range(4)
    ]
    got = private_gradient(grads, C, 0.0, expected_batch)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    clipped, measured = clip_units(grads, C)
    torch.testing.assert_close(measured, torch.tensor(norms, dtype=D))
    after = torch.sqrt(sum(c.reshape(6, -1).pow(2).sum(1) for c in clipped))
    assert after.max() <= C * (1 + 1e-12)


def test_noise_has_the_formulas_std():
    # zero gradients: the step is the noise alone, std sigma * C / (q N)
    sigma, C, expected_batch = 1.7, 0.8, 12.5
    grads = [torch.zeros(5, 300, 200, dtype=D)]
    gen = torch.Generator().manual_seed(1)
    (noise,) = private_gradient(grads, C, sigma, expected_batch, gen)
    want = sigma * C / expected_batch
    # 60,000 draws: the sample std is within 1 % of the true one (SE 0.29 %)
    assert float(noise.std()) == pytest.approx(want, rel=0.01)
    assert abs(float(noise.mean())) < 4 * want / math.sqrt(noise.numel())
    # and added on top of the clipped sum
    params, x, y, index = _toy()
    grads, _ = unit_gradients(_loss, params, x, y, index, 6)
    clean = private_gradient(grads, C, 0.0, expected_batch)
    noisy = private_gradient(grads, C, sigma, expected_batch, gen)
    resid = torch.cat([(a - b).ravel() for a, b in zip(noisy, clean, strict=True)])
    assert resid.abs().max() < 6 * want and resid.std() > 0.5 * want


def test_one_dp_fit_step_is_the_hand_computed_step():
    # plain SGD, lr 1: the update is exactly minus the private gradient of the
    # units that the seeded Poisson draw picked
    params, x, y, index = _toy()
    start = [p.clone() for p in params]
    q, C, seed = 0.5, 0.5, 3
    cfg = DPConfig(
        dp_epsilon=None,
        noise_multiplier=0.0,
        sample_rate=q,
        steps=1,
        lr=1.0,
        optimizer="sgd",
        max_grad_norm=C,
        seed=seed,
        dp_delta=1e-3,
    )
    res = dp_fit(_loss, params, x, y, index.numpy(), cfg)
    chosen = torch.rand(6, generator=torch.Generator().manual_seed(seed), dtype=D) < q
    assert 0 < int(chosen.sum()) < 6
    hand = _hand_unit_grads(start, x, y, index)
    norms = [math.sqrt(sum(float((g**2).sum()) for g in gu)) for gu in hand]
    for k in range(4):
        step = sum(
            hand[u][k] * min(1.0, C / norms[u]) for u in range(6) if chosen[u]
        ) / (q * 6)
        torch.testing.assert_close(params[k], start[k] - step, rtol=1e-10, atol=1e-12)
    assert res.privacy is not None and math.isinf(res.privacy.epsilon)


@pytest.mark.parametrize(("target", "accountant"), [(8.0, "prv"), (1.0, "rdp")])
def test_reported_epsilon_is_the_accountants_and_within_target(target, accountant):
    from opacus.accountants import create_accountant

    X, y, g = subject_task(n_subjects=40, n_windows=5, n_features=4)
    net = FeedForward((4, 2), output_activation="identity", seed=0)
    cfg = DPConfig(dp_epsilon=target, sample_rate=0.2, steps=50, accountant=accountant)
    rep = fit_private(net, torch.as_tensor(X), torch.as_tensor(y), g, cfg).privacy
    assert rep is not None and rep.accountant == accountant
    acc = create_accountant(mechanism=accountant)
    for _ in range(50):
        acc.step(noise_multiplier=rep.noise_multiplier, sample_rate=0.2)
    assert rep.epsilon == pytest.approx(acc.get_epsilon(delta=rep.delta), rel=1e-9)
    assert rep.epsilon <= target
    assert rep.epsilon >= target - 0.05  # the solve is tight (tolerance 0.01)
    assert rep.delta == 1e-5 and rep.n_units == 40 and rep.steps == 50
    assert rep.noise_multiplier == noise_multiplier_for(
        target, 1e-5, 0.2, 50, accountant
    )


def test_sigma_matches_the_notes_table():
    # PRIVACY.md 3.2 (RDP, 300 steps, q 0.1, delta 1e-5): sigma 2.77 at eps 3, 1.36 at 8
    assert noise_multiplier_for(3.0, 1e-5, 0.1, 300, "rdp") == pytest.approx(
        2.77, abs=0.02
    )
    assert noise_multiplier_for(8.0, 1e-5, 0.1, 300, "rdp") == pytest.approx(
        1.36, abs=0.02
    )
    assert epsilon_spent(0.0, 0.1, 10, 1e-5) == math.inf


@pytest.mark.parametrize("delta", [0.05, 1 / 20, 0.5])
def test_delta_at_or_above_one_over_n_is_rejected(delta):
    X, y, g = subject_task(n_subjects=20, n_windows=3, n_features=4)
    with pytest.raises(
        ValidationError,
        match=r"'dp_delta' must be < 1/\(number of privacy units\) = 1/20",
    ) as info:
        DPClassifier(dp_delta=delta, steps=2).fit(X, y, groups=g)
    assert repr(delta) in str(info.value)
    assert check_delta(0.049, 20) == 0.049


def test_sample_unit_warns_about_group_privacy():
    X, y, g = subject_task(n_subjects=20, n_windows=10, n_features=4)
    assert issubclass(SampleLevelPrivacyWarning, UserWarning)
    with pytest.warns(SampleLevelPrivacyWarning, match="group privacy") as rec:
        clf = DPClassifier(
            privacy_unit="sample", steps=3, sample_rate=0.05, accountant="rdp"
        ).fit(X, y, groups=g)
    assert "about 10 windows per subject" in str(rec[0].message)
    assert clf.privacy_.privacy_unit == "sample" and clf.privacy_.n_units == 200


def test_subject_unit_needs_groups():
    X, y, _ = subject_task(n_subjects=10, n_windows=3, n_features=4)
    with pytest.raises(ValidationError, match="'groups' must give the subject"):
        DPClassifier(steps=2).fit(X, y)


def test_batchnorm_is_rejected_with_the_fix_named():
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 2))
    X, y, g = subject_task(n_subjects=10, n_windows=3, n_features=4)
    with pytest.raises(ValidationError, match=r"BatchNorm.*GroupNorm"):
        dp_fit_module(model, F.cross_entropy, torch.as_tensor(X), torch.as_tensor(y), g)


def test_torch_module_trains_and_learns():
    X, y, g = subject_task(n_subjects=60, n_windows=20, n_features=8, own=0.3)
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(8, 16), nn.GroupNorm(4, 16), nn.ReLU(), nn.Linear(16, 2)
    )
    cfg = DPConfig(
        dp_epsilon=8.0, sample_rate=0.25, steps=150, lr=0.02, accountant="rdp"
    )
    res = dp_fit_module(
        model, F.cross_entropy, torch.as_tensor(X), torch.as_tensor(y), g, cfg
    )
    with torch.no_grad():
        acc = float((model(torch.as_tensor(X)).argmax(1).numpy() == y).mean())
    assert acc > 0.75  # shared direction learnt (chance 0.5)
    assert res.privacy.epsilon <= 8.0


def test_privacy_metadata_is_read_back_from_the_model_file(tmp_path):
    X, y, g = subject_task(n_subjects=30, n_windows=10, n_features=6)
    clf = DPClassifier(dp_epsilon=2.0, steps=30, sample_rate=0.3, hidden=(5,)).fit(
        X, y, groups=g
    )
    path = clf.save(tmp_path / "m.safetensors")
    shapes, meta = read_header(path)
    p = meta["privacy"]
    for key in (
        "epsilon",
        "delta",
        "privacy_unit",
        "accountant",
        "noise_multiplier",
        "sample_rate",
        "steps",
        "max_grad_norm",
        "n_units",
    ):
        assert key in p, key
    assert p["privacy_unit"] == "subject" and p["n_units"] == 30 and p["steps"] == 30
    assert p["accountant"] == "prv" and p["epsilon"] == clf.privacy_.epsilon <= 2.0
    assert PrivacyReport.from_dict(p) == clf.privacy_
    assert sum(math.prod(s) for s in shapes.values()) == 6 * 5 + 5 + 5 * 2 + 2
    # no subject label anywhere in the file
    assert "subjects" not in meta and "groups" not in meta
    back = DPClassifier.load(path)
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))
    assert back.privacy_ == clf.privacy_ and back.get_params() == clf.get_params()
    _, meta2 = load_with_meta(path)
    assert meta2["privacy"] == p


def test_feedforward_save_without_privacy_has_none(tmp_path):
    net = FeedForward((3, 2), seed=0)
    _, meta = read_header(save(net, tmp_path / "n.safetensors"))
    assert "privacy" not in meta


def test_nonprivate_baseline_has_no_report_and_fits():
    X, y, g = subject_task(n_subjects=30, n_windows=20, n_features=6, own=0.0)
    clf = DPClassifier(dp_epsilon=None, steps=200, sample_rate=0.3).fit(X, y, groups=g)
    assert clf.privacy_ is None and clf.score(X, y) > 0.9


def test_eeg_helpers():
    rng = np.random.default_rng(0)
    epochs = rng.standard_normal((6, 3, 50)) * np.array([1.0, 2.0, 4.0])[:, None]
    f = LogVariance().fit_transform(epochs)
    np.testing.assert_allclose(f, np.log(epochs.var(axis=-1) + 1e-30))
    Z = standardize_per_subject(f, np.array([0, 0, 0, 1, 1, 1]))
    np.testing.assert_allclose(Z[:3].mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(Z[3:].std(0), 1, rtol=1e-12)


@pytest.mark.parametrize(("eps", "steps"), [(8.0, 50), (1.0, 50), (3.0, 10)])
def test_full_batch_prv_epsilon_is_the_exact_gaussian_one(eps, steps):
    # q = 1: T steps at sigma compose to one Gaussian mechanism, mu = sqrt(T)/sigma,
    # whose exact delta(eps) is Phi(-eps/mu + mu/2) - e^eps Phi(-eps/mu - mu/2)
    # (Balle & Wang 2018, Thm 8). PRV's epsilon satisfies it, and 0.1 less does not.
    from scipy.stats import norm

    def exact_delta(e, mu):
        return norm.cdf(-e / mu + mu / 2) - math.exp(e) * norm.cdf(-e / mu - mu / 2)

    sigma = noise_multiplier_for(eps, 1e-5, 1.0, steps, "prv")
    spent = epsilon_spent(sigma, 1.0, steps, 1e-5, "prv")
    mu = math.sqrt(steps) / sigma
    assert spent <= eps
    assert exact_delta(spent, mu) <= 1e-5 < exact_delta(spent - 0.1, mu)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_training_matches_cpu():
    # sampling and noise are drawn on the CPU, so the two runs see the same draws
    X, y, g = subject_task(n_subjects=30, n_windows=6, n_features=5)
    cfg = DPConfig(dp_epsilon=4.0, sample_rate=0.3, steps=20, accountant="rdp")
    nets = []
    for device in ("cpu", "cuda"):
        net = FeedForward((5, 7, 2), seed=0, dtype=D, device=device)
        rep = fit_private(net, torch.as_tensor(X, dtype=D), torch.as_tensor(y), g, cfg)
        nets.append((net, rep.privacy))
    (cpu, p_cpu), (gpu, p_gpu) = nets
    assert p_cpu == p_gpu
    for a, b in zip(cpu.parameters(), gpu.parameters(), strict=True):
        assert b.device.type == "cuda"
        torch.testing.assert_close(a, b.cpu(), rtol=1e-9, atol=1e-10)
