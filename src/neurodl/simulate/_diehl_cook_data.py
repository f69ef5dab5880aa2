"""Input checks and per-image seeds of the Diehl & Cook network (private)."""

from __future__ import annotations

from typing import Any

import numpy as np

from neurodl.errors import ShapeError, ValidationError

N_INPUT = 784
N_CLASSES = 10


def _seeds(seed: int, stream: int, index: np.ndarray) -> np.ndarray:
    """One 32-bit seed per image: a splitmix64 hash of (seed, stream, image index)."""
    with np.errstate(over="ignore"):
        x = (
            np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)
            + np.uint64(stream) * np.uint64(0xBF58476D1CE4E5B9)
            + index.astype(np.uint64) * np.uint64(0x94D049BB133111EB)
        )
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return (x >> np.uint64(32)).astype(np.int64)


def _as_images(name: str, images: Any) -> np.ndarray:
    """Images as a C-contiguous (n, 784) uint8 array; clear errors otherwise."""
    x = np.asarray(images)
    if x.ndim == 3 and x.shape[1:] == (28, 28):
        x = x.reshape(x.shape[0], N_INPUT)
    if x.ndim != 2 or x.shape[1] != N_INPUT:
        raise ShapeError(
            f"{name!r} must have shape (n, 28, 28) or (n, 784); got {x.shape}."
        )
    if x.shape[0] == 0:
        raise ValidationError(f"{name!r} holds no images; got shape {x.shape}.")
    if x.dtype != np.uint8:
        if not np.issubdtype(x.dtype, np.number) or np.issubdtype(
            x.dtype, np.complexfloating
        ):
            raise ValidationError(
                f"{name!r} must hold pixel intensities 0-255; got dtype {x.dtype}."
            )
        if not np.all(np.isfinite(x)) or x.min() < 0 or x.max() > 255:
            raise ValidationError(
                f"{name!r} must hold pixel intensities in [0, 255]; got values in "
                f"[{x.min()}, {x.max()}]."
            )
        if np.any(x != np.round(x)):
            raise ValidationError(
                f"{name!r} must hold whole pixel intensities 0-255 (uint8 MNIST); "
                "got fractional values."
            )
        x = x.astype(np.uint8)
    return np.ascontiguousarray(x)


def _as_labels(labels: Any, n: int) -> np.ndarray:
    y = np.asarray(labels)
    if y.ndim != 1 or y.shape[0] != n:
        raise ShapeError(f"'labels' must have shape ({n},); got {y.shape}.")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValidationError(f"'labels' must be integers 0-9; got dtype {y.dtype}.")
    if y.min() < 0 or y.max() >= N_CLASSES:
        raise ValidationError(
            f"'labels' must be in 0..{N_CLASSES - 1}; got values in "
            f"[{y.min()}, {y.max()}]."
        )
    return y.astype(np.int64)
