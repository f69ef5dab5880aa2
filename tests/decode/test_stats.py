"""Across-subject statistics against their closed forms and scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from neurodl.decode.stats import (
    chance_threshold,
    compare,
    holm,
    paired_effect,
    sign_flip_test,
)
from neurodl.errors import ValidationError


@pytest.mark.parametrize(
    ("n", "k05", "k01"), [(9, 8, 9), (45, 29, 31), (90, 54, 57), (360, 197, 203)]
)
def test_chance_threshold_is_the_binomial_tail(n, k05, k01):
    # the binomial thresholds of Combrisson & Jerbi (2015) for 2 classes
    assert round(chance_threshold(n) * n) == k05
    assert round(chance_threshold(n, alpha=0.01) * n) == k01
    k = round(chance_threshold(n) * n)
    assert stats.binom.sf(k - 1, n, 0.5) <= 0.05 < stats.binom.sf(k - 2, n, 0.5)
    # four classes: a lower bar
    assert chance_threshold(n, 4) < chance_threshold(n, 2)


def test_chance_threshold_rejects_bad_input():
    with pytest.raises(ValidationError, match="'n_trials'"):
        chance_threshold(0)
    with pytest.raises(ValidationError, match="'n_classes'"):
        chance_threshold(10, 1)
    with pytest.raises(ValidationError, match="'alpha'"):
        chance_threshold(10, alpha=1.5)
    for bad in ("0.05", None, True, float("nan")):
        with pytest.raises(ValidationError, match=r"'alpha' must be .*in \(0, 1\)"):
            chance_threshold(10, alpha=bad)
    assert chance_threshold(10, alpha=np.float32(0.05)) == chance_threshold(10)


def test_paired_effect_rejects_a_confidence_that_is_not_a_probability():
    for bad in ("95%", 95, float("nan"), [0.95]):
        with pytest.raises(ValidationError, match="'confidence'"):
            paired_effect([0.7, 0.8, 0.9], [0.6, 0.7, 0.7], confidence=bad)


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
@pytest.mark.parametrize("n", [5, 8, 13])
def test_sign_flip_test_is_scipys_exact_permutation_test(alternative, n):
    rng = np.random.default_rng(n)
    a = rng.normal(0.7, 0.1, n)
    b = a - rng.normal(0.03, 0.05, n)
    ref = stats.permutation_test(
        (a, b),
        lambda x, y: np.mean(x - y),
        permutation_type="samples",
        n_resamples=np.inf,
        alternative=alternative,
    ).pvalue
    assert sign_flip_test(a, b, alternative=alternative) == pytest.approx(
        ref, abs=1e-12
    )


def test_sign_flip_test_smallest_p_and_random_flips():
    a = np.arange(8) + 1.0
    # every subject better: only the observed flip is as extreme, two-sided x2
    assert sign_flip_test(a, np.zeros(8)) == 2 / 256
    assert sign_flip_test(a, np.zeros(8), alternative="greater") == 1 / 256
    big = np.linspace(0.1, 1.0, 30)
    p = sign_flip_test(big, np.zeros(30), seed=3)
    assert p == sign_flip_test(big, np.zeros(30), seed=3)  # seeded
    assert 0 < p < 1e-3


def test_holm_matches_the_step_down_procedure():
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 -> 0.02, 0.03, 0.06, 0.04,
    # made non-decreasing -> 0.02, 0.03, 0.06, 0.06, back in the given order
    np.testing.assert_allclose(
        holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02]
    )
    np.testing.assert_allclose(holm([0.5, 0.9]), [1.0, 1.0])  # capped
    with pytest.raises(ValidationError, match="'pvalues'"):
        holm([0.1, 1.2])


def test_paired_effect_is_the_paired_t_interval_and_d_z():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.7, 0.1, 8), rng.normal(0.65, 0.1, 8)
    got = paired_effect(a, b)
    ci = stats.ttest_rel(a, b).confidence_interval(0.95)
    assert got["ci_low"] == pytest.approx(ci.low)
    assert got["ci_high"] == pytest.approx(ci.high)
    d = a - b
    assert got["d_z"] == pytest.approx(d.mean() / d.std(ddof=1))
    with pytest.raises(ValidationError, match="same length"):
        paired_effect(a, b[:5])
    with pytest.raises(ValidationError, match="finite"):
        paired_effect(np.r_[a[:7], np.nan], b)


def test_compare_every_pair_holm_adjusted():
    rng = np.random.default_rng(1)
    base = rng.normal(0.7, 0.1, 8)
    scores = {"csp": base, "ts": base + rng.normal(0.04, 0.02, 8), "net": base + 0.001}
    rows = compare(scores)
    assert [(r["a"], r["b"]) for r in rows] == [
        ("csp", "ts"),
        ("csp", "net"),
        ("ts", "net"),
    ]
    assert all(r["test"] == "sign-flip" and r["n_subjects"] == 8 for r in rows)
    np.testing.assert_allclose(
        [r["p_holm"] for r in rows], holm([r["p"] for r in rows])
    )
    many = {k: np.r_[v, v + 0.01, v - 0.02] for k, v in scores.items()}  # 24 subjects
    rows = compare(many)
    assert rows[0]["test"] == "wilcoxon"
    assert rows[0]["p"] == pytest.approx(stats.wilcoxon(many["csp"], many["ts"]).pvalue)
    with pytest.raises(ValidationError, match="'scores'"):
        compare({"csp": base})
    with pytest.raises(ValidationError, match="'alternative'"):
        compare(scores, alternative="bigger")
