"""Thread defaults for small models.

PyTorch runs every CPU kernel on all cores. For the small networks neurodl trains
(XOR, digits, spiking populations of a few hundred neurons) a kernel lasts a few
microseconds, and waking and synchronising a second thread costs more than it saves;
on a shared machine where the other core is busy the OpenMP barrier can make each
kernel many times slower (see benchmarks/RESULTS.md). neurodl therefore trains a
model on **one thread when its work per step is small** and leaves PyTorch's default
for large models:

* ``threads="auto"`` (the default): 1 thread when ``n_parameters * batch_size`` is
  below :data:`SMALL_WORK` (about 4 million multiply-adds per layer pass), otherwise
  PyTorch's own setting;
* an int: exactly that many threads;
* the environment variable ``NEURODL_NUM_THREADS`` overrides ``"auto"``.

The setting applies only while neurodl trains or simulates and is restored after.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from neurodl.errors import ValidationError

__all__ = ["SMALL_WORK", "resolve_threads", "use_threads"]

SMALL_WORK = 4_000_000
"""Below this many parameter-sample products per step, ``"auto"`` uses one thread."""


def resolve_threads(threads: int | str, work: int) -> int | None:
    """Return the thread count to use, or None to keep PyTorch's current setting.

    Parameters
    ----------
    threads : int or "auto"
    work : int
        Parameter-sample products per step (``n_parameters * batch_size``).
    """
    if threads == "auto":
        env = os.environ.get("NEURODL_NUM_THREADS")
        if env:
            if not env.isdigit() or int(env) < 1:
                raise ValidationError(
                    f"environment variable NEURODL_NUM_THREADS must be a positive "
                    f"integer; got {env!r}."
                )
            return int(env)
        return 1 if work < SMALL_WORK else None
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValidationError(
            f"'threads' must be 'auto' or an integer >= 1; got {threads!r}."
        )
    return threads


@contextmanager
def use_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` intra-op threads (None: leave as is), then restore."""
    if n is None:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)
