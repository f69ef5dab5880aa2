"""Readers for tests/test_sandbox.py, importable by the sandbox's child.

The child imports a reader by name, so these live in a module of their own that
imports only what they need (not pytest).
"""

from __future__ import annotations

import os
import signal
import time

import numpy as np

from neurodl.errors import FormatError, ShapeError


def sleep(seconds: float) -> str:
    time.sleep(seconds)
    return "woke"


def allocate(n_bytes: int) -> int:
    a = np.ones(n_bytes, dtype=np.uint8)  # touched: really resident
    return int(a.sum())


def nested() -> dict:
    return {
        "counts": np.arange(12, dtype=np.int16).reshape(3, 4),
        "names": np.array(["a", "bc"]),
        "nested": [1, 2.5, None, True, "x", (np.float32(3.0), {"k": "v"})],
    }


def arange(n: int) -> np.ndarray:
    return np.arange(n, dtype=np.float64)


def crash() -> None:
    os.kill(os.getpid(), signal.SIGSEGV)


def shape_error() -> None:
    raise ShapeError("'x' must be 2-D; got shape (3,).")


def key_error() -> None:
    raise KeyError("no such dataset")


def format_error() -> None:
    raise FormatError("inner", path="p", fmt="MAT")


def objects() -> np.ndarray:
    return np.array([object()])


def read_fd(fd: int) -> bytes:
    with open(f"/proc/self/fd/{fd}", "rb") as f:
        return f.read().decode()
