"""Toy and teaching datasets, as tensors ready for a network."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from neurodl._validate import check_int

__all__ = ["Split", "load_digits", "xor"]


def xor(dtype: torch.dtype = torch.float64) -> tuple[Tensor, Tensor]:
    """Return the XOR inputs, shape (4, 2), and targets 0, 1, 1, 0, shape (4, 1).

    Inputs are the rows (0, 0), (0, 1), (1, 0), (1, 1).
    """
    x = torch.tensor([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=dtype)
    y = torch.tensor([[0], [1], [1], [0]], dtype=dtype)
    return x, y


class Split(NamedTuple):
    """A stratified train/validation/test split; ``x_*`` float, ``y_*`` int64 labels."""

    x_train: Tensor
    y_train: Tensor
    x_val: Tensor
    y_val: Tensor
    x_test: Tensor
    y_test: Tensor


def load_digits(
    *,
    test_size: float = 0.25,
    val_size: float = 0.15,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
) -> Split:
    """Load scikit-learn's bundled 8x8 handwritten digits, stratified into three sets.

    1797 images of 64 pixels (0-16, scaled here to [0, 1]) and labels 0-9, from the
    UCI "Optical Recognition of Handwritten Digits" test set (Alpaydin & Kaynak
    1998, doi:10.24432/C50P49), shipped with scikit-learn: no download.

    Parameters
    ----------
    test_size : float
        Fraction held out for the test set, stratified by class.
    val_size : float
        Fraction of the remaining samples held out for validation (early stopping).
    seed : int
        Seed of the split.
    dtype : torch.dtype
        Type of the inputs.
    """
    from sklearn.datasets import load_digits as _sk_load_digits
    from sklearn.model_selection import train_test_split

    check_int("seed", seed, minimum=0)
    bunch = _sk_load_digits()
    x = np.asarray(bunch.data, dtype=np.float64) / 16.0
    y = np.asarray(bunch.target, dtype=np.int64)
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=test_size, stratify=y, random_state=seed
    )
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=val_size, stratify=y_rest, random_state=seed
    )

    def tx(a: np.ndarray) -> Tensor:
        return torch.as_tensor(a, dtype=dtype)

    def ty(a: np.ndarray) -> Tensor:
        return torch.as_tensor(a, dtype=torch.int64)

    return Split(tx(x_train), ty(y_train), tx(x_val), ty(y_val), tx(x_test), ty(y_test))
