"""The XOR claims of the README, measured."""

import pytest
import torch

from neurodl.networks import FeedForward
from neurodl.tasks import XorConfig, attempt_seed, solve_xor, sweep_xor


def test_default_solves_xor_from_at_least_99_percent_of_200_seeds():
    summary = sweep_xor(range(200))
    assert summary["fraction"] >= 0.99, summary["failed_seeds"]


def test_without_restarts_the_article_network_fails_about_half_the_time():
    # the problem the restart rule fixes: a single run of the 2-3-1 ReLU network
    # from the standard (nn.Linear) initialisation; 49% of 500 seeds in the issue,
    # 55% of 200 in our own runs
    summary = sweep_xor(range(200), XorConfig(restarts=0))
    assert 0.35 <= summary["fraction"] <= 0.7


def test_first_attempt_fraction_is_the_fraction_without_restarts():
    # the tour reports the single-run figure from the restart sweep's first attempts
    seeds = range(30)
    with_restarts = sweep_xor(seeds)
    single = sweep_xor(seeds, XorConfig(restarts=0))
    assert 0 < single["fraction"] < 1  # both outcomes occur in these seeds
    assert with_restarts["first_attempt_fraction"] == single["fraction"]


def test_tanh_solves_xor_without_restarts_almost_always():
    summary = sweep_xor(range(200), XorConfig(activation="tanh", restarts=0))
    assert summary["fraction"] >= 0.95


def test_a_solved_run_meets_the_tolerance():
    r = solve_xor(0)
    assert r.converged
    assert max(abs(o - t) for o, t in zip(r.outputs, r.targets, strict=True)) < 0.1
    assert r.targets == [0.0, 1.0, 1.0, 0.0]


def test_attempt_zero_is_the_users_seed():
    r = solve_xor(7, XorConfig(restarts=0))
    net = FeedForward(
        (2, 3, 1), "relu", "sigmoid", init="pytorch", seed=7, dtype=torch.float64
    )
    assert r.attempts == 1
    assert attempt_seed(7, 0) == 7
    assert len({attempt_seed(7, k) for k in range(10)}) == 10
    assert net.config()["sizes"] == [2, 3, 1]


def test_engines_give_the_same_result():
    a = solve_xor(3, XorConfig(engine="explicit"))
    b = solve_xor(3, XorConfig(engine="autograd"))
    assert a.attempts == b.attempts and a.epochs == b.epochs
    assert a.outputs == pytest.approx(b.outputs, abs=1e-9)
