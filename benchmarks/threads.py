"""Why neurodl trains small models on one thread: step time at 1 and 2 threads.

For each network (XOR 2-3-1 at batch 4, digits 64-64-10 at batch 64, and a large
784-1024-1024-10 at batch 512) the script times neurodl's training step
(``neurodl.learning.trainer.train_step``, explicit engine, SGD) with
``torch.set_num_threads(1)`` and ``(2)``, twice: with the other core idle, and with
the other core kept busy by a spinning process (as on a shared machine, or when a
second job runs). Medians of several blocks; the table gives microseconds per step
and the 2-thread/1-thread ratio (above 1: the second thread makes it slower).

Run from the repository root (needs at least 2 cores)::

    PYTHONPATH=src python benchmarks/threads.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import time

import torch

from neurodl.learning import make_optimizer
from neurodl.learning.trainer import train_step
from neurodl.networks import FeedForward, get_loss
from neurodl.networks.losses import prepare_target

CASES = [
    ("xor 2-3-1", (2, 3, 1), "bce", 4),
    ("digits 64-64-10", (64, 64, 10), "cross_entropy", 64),
    ("large 784-1024-1024-10", (784, 1024, 1024, 10), "cross_entropy", 512),
]


def _spin(stop: mp.synchronize.Event) -> None:
    x = 0
    while not stop.is_set():
        for _ in range(10_000):
            x += 1


def _step_fn(sizes: tuple[int, ...], loss: str, batch: int):
    gen = torch.Generator().manual_seed(0)
    net = FeedForward(sizes, "relu", "identity", seed=0)
    fn = get_loss(loss)
    x = torch.randn(batch, sizes[0], generator=gen)
    labels = torch.randint(0, max(sizes[-1], 2), (batch,), generator=gen)
    if loss == "bce":
        labels = labels.float()
    y = prepare_target(fn, labels, batch, sizes[-1], torch.float32)
    w = net.weights()
    opt = make_optimizer("sgd", w, 1e-3)
    total = torch.zeros((), dtype=torch.float64)
    return lambda: train_step(net, w, x, y, fn, opt, total)


def _time(step, threads: int, repeats: int) -> float:
    torch.set_num_threads(threads)
    for _ in range(5):
        step()
    n, t = 1, 0.0
    while t < 0.2:  # calibrate: a block of about 0.2 s
        n *= 2
        t0 = time.perf_counter()
        for _ in range(n):
            step()
        t = time.perf_counter() - t0
    blocks = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            step()
        blocks.append((time.perf_counter() - t0) / n)
    return statistics.median(blocks) * 1e6


def main() -> None:
    """Run the measurement and print a markdown table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    rows = []
    for load in ("idle", "busy"):
        stop = mp.Event()
        spinner = mp.Process(target=_spin, args=(stop,)) if load == "busy" else None
        if spinner:
            spinner.start()
            time.sleep(0.5)
        try:
            for name, sizes, loss, batch in CASES:
                step = _step_fn(sizes, loss, batch)
                one = _time(step, 1, args.repeats)
                two = _time(step, 2, args.repeats)
                rows.append((name, batch, load, one, two))
        finally:
            if spinner:
                stop.set()
                spinner.join()
    print(f"torch {torch.__version__}, {mp.cpu_count()} cores")
    print(
        "| network | batch | other core | 1 thread (us/step) | 2 threads (us/step) "
        "| 2 / 1 |"
    )
    print("|---|---:|---|---:|---:|---:|")
    for name, batch, load, one, two in rows:
        print(
            f"| {name} | {batch} | {load} | {one:,.1f} | {two:,.1f} | {two / one:.2f} |"
        )


if __name__ == "__main__":
    main()
