import pytest

from neurodl.tasks import DigitsConfig, train_digits


def test_digits_reach_97_percent_on_the_held_out_test_set():
    r = train_digits(DigitsConfig())
    assert r.test_accuracy >= 0.97
    assert r.n_test == 450 and r.n_train + r.n_val == 1347
    assert sum(map(sum, r.confusion)) == r.n_test
    assert sum(r.confusion[k][k] for k in range(10)) / r.n_test == r.test_accuracy


def test_folded_standardization_equals_standardizing_the_input():
    import torch

    from neurodl.networks import FeedForward
    from neurodl.tasks.digits import fold_standardization

    gen = torch.Generator().manual_seed(0)
    net = FeedForward((5, 4, 3), "relu", "softmax", seed=0, dtype=torch.float64)
    x = torch.rand(8, 5, generator=gen, dtype=torch.float64)
    mean, scale = x.mean(0), x.std(0) + 0.1
    expected = net((x - mean) / scale)
    fold_standardization(net, mean, scale)
    torch.testing.assert_close(net(x), expected, rtol=1e-12, atol=1e-14)


@pytest.mark.slow
def test_digits_reach_97_percent_from_every_seed_0_to_9():
    # each seed is its own stratified split: 97.1% to 98.7% measured
    for seed in range(10):
        assert train_digits(DigitsConfig(seed=seed)).test_accuracy >= 0.97, seed
