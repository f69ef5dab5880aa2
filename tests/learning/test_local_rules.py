"""The pc/ep/ff dispatcher behind ``neurodl learn --rule pc|ep|ff``."""

import numpy as np
import pytest
import torch

from neurodl.errors import ShapeError, ValidationError
from neurodl.learning.local_rules import LOCAL_RULES, train_local_rule


def _data():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(80, 24, generator=gen)
    y = (x[:, 12] + x[:, 13] > 1.0).long() + (x[:, 14] > 0.8).long()
    return x[:60], y[:60], x[60:], y[60:]


@pytest.mark.parametrize("rule", LOCAL_RULES)
def test_each_rule_returns_curves_and_is_reproducible(rule):
    data = _data()
    a = train_local_rule(rule, *data, hidden=(16,), epochs=2, seed=3)
    b = train_local_rule(rule, *data, hidden=(16,), epochs=2, seed=3)
    assert a["train_loss"] == b["train_loss"]
    assert a["test_accuracy_curve"] == b["test_accuracy_curve"]
    assert len(a["train_loss"]) == len(a["train_accuracy"]) == 2
    assert a["test_accuracy"] == a["test_accuracy_curve"][-1]
    assert 0.0 <= a["test_accuracy"] <= 1.0
    assert a["sizes"][0] == 24 + (3 if rule == "ff" else 0)  # ff appends the label


def test_images_are_flattened_and_uint8_scaled():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(30, 11, 11), dtype=np.uint8)
    y = rng.integers(0, 10, size=30)
    out = train_local_rule("ff", x, y, x, y, hidden=(8,), epochs=1, n_classes=10)
    assert out["sizes"] == [121, 8] and out["config"]["embed"] == "replace"


def test_bad_input_names_the_parameter():
    data = _data()
    with pytest.raises(
        ValidationError, match="'rule' must be one of 'pc', 'ep', 'ff'; got 'bp'"
    ):
        train_local_rule("bp", *data)
    with pytest.raises(ValidationError, match=r"'hidden\[1\]' must be >= 1; got 0"):
        train_local_rule("pc", *data, hidden=(4, 0))
    with pytest.raises(ValidationError, match="'lr' must be > 0; got -1"):
        train_local_rule("ep", *data, lr=-1.0)
    with pytest.raises(ShapeError, match="'x_train' must have a sample axis"):
        train_local_rule("pc", torch.zeros(5), *data[1:])
