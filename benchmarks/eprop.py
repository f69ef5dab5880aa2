"""e-prop vs BPTT on a recurrent LIF network: time per gradient and memory.

What is measured
----------------
For a ``RecurrentLIF`` network (``n_in`` Poisson inputs at 5 % per step,
``n_rec`` neurons, 1 readout, float32, batch ``B``; LIF only and half ALIF) and
sequence lengths ``T``, one gradient of the same MSE loss by

* ``eprop``: :func:`neurodl.learning.eprop.eprop_gradients`, online (one
  :func:`eprop_step` per time step, no history kept), symmetric feedback;
* ``bptt``: :func:`neurodl.learning.eprop.bptt_gradients` with
  ``gradient="bptt"``: the same network's forward pass under autograd, then
  ``torch.autograd.grad``.

Time: median seconds per gradient over interleaved repeats (one thread) and the
ratio e-prop / BPTT from the same run. Memory: e-prop's state (every tensor of
:class:`EpropState`, fixed in ``T``) against the tensors autograd saves for BPTT's
backward pass (counted with ``torch.autograd.graph.saved_tensors_hooks``; it grows
with ``T``).

With ``--learning``: the sine pattern-generation task
(:func:`neurodl.learning.eprop_fit.sine_pattern_task`, 100 steps, 20 frozen
Poisson inputs, 30 LIF neurons, float64, Adam lr 0.01, 30 epochs, firing-rate
regulariser 10 at 0.01 spikes/step) for 3 seeds, trained by symmetric e-prop,
random e-prop and BPTT from the same initial network; the table gives the
normalised MSE ``mean (y - y*)^2 / mean y*^2`` before and after, and the time.

With ``--evidence``: the shortened evidence-accumulation task
(:func:`neurodl.learning.eprop_fit.evidence_task`: 3 cues, 100-step delay, 10
recall steps, 140 steps per trial, 40 inputs in 4 populations), 256 training
and 256 test trials, 50 neurons (25 ALIF with ``tau_adapt`` 500 and
``beta_adapt`` 0.5, or all LIF), 2 softmax readouts, cross-entropy on the recall
period, Adam lr 0.01, batches of 32, 8 epochs, rate regulariser 10; test accuracy
from the readout averaged over the recall period.

Run
---
From the repository root::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/eprop.py [--repeats 7]
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/eprop.py --learning
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/eprop.py --evidence
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch

from neurodl.learning.eprop import (
    RecurrentLIF,
    bptt_gradients,
    eprop_gradients,
    eprop_initial_state,
)
from neurodl.learning.eprop_fit import evidence_task, fit_eprop, sine_pattern_task


def _learning() -> None:
    print("| seed | method | nmse before | nmse after | s |")
    print("|---|---|---:|---:|---:|")
    for seed in (0, 1, 2):
        x, target = sine_pattern_task(
            n_steps=100, n_in=20, seed=seed, dtype=torch.float64
        )
        power = float((target**2).mean())
        for method, feedback in (
            ("eprop", "symmetric"),
            ("eprop", "random"),
            ("bptt", "symmetric"),
        ):
            net = RecurrentLIF(20, 30, 1, seed=seed, dtype=torch.float64)
            before = float(((net(x).y.detach() - target) ** 2).mean()) / power
            start = time.perf_counter()
            fit_eprop(
                net, x, target, epochs=30, lr=0.01, method=method,
                feedback=feedback, rate_reg=10.0, seed=seed,
            )  # fmt: skip
            took = time.perf_counter() - start
            after = float(((net(x).y.detach() - target) ** 2).mean()) / power
            name = method if method == "bptt" else f"e-prop {feedback}"
            print(f"| {seed} | {name} | {before:.3f} | {after:.3f} | {took:.1f} |")


def _state_bytes(net: RecurrentLIF, batch: int) -> int:
    total = 0
    for field in eprop_initial_state(net, batch):
        for t in field if isinstance(field, tuple) else (field,):
            total += t.numel() * t.element_size()
    return total


def _saved_bytes(net: RecurrentLIF, x: torch.Tensor) -> int:
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        # one entry per storage: tensors saved twice (or views) count once
        storage = t.untyped_storage()
        seen[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = net(x, gradient="bptt")
    del out
    return sum(seen.values())


def _evidence() -> None:
    train = evidence_task(256, seed=0, dtype=torch.float64)
    test = evidence_task(256, seed=1, dtype=torch.float64)
    print(
        "| neurons | method | first-epoch loss | last-epoch loss | test accuracy | s |"
    )
    print("|---|---|---:|---:|---:|---:|")
    for n_adaptive, method, feedback in (
        (25, "eprop", "symmetric"),
        (0, "eprop", "symmetric"),
        (25, "eprop", "random"),
        (25, "bptt", "symmetric"),
    ):
        net = RecurrentLIF(
            40, 50, 2, n_adaptive=n_adaptive, tau_adapt=500.0, beta_adapt=0.5,
            seed=0, dtype=torch.float64,
        )  # fmt: skip
        start = time.perf_counter()
        hist = fit_eprop(
            net, train.x, train.target, loss="cross_entropy", mask=train.mask,
            method=method, feedback=feedback, epochs=8, lr=0.01, batch_size=32,
            rate_reg=10.0, seed=0,
        )  # fmt: skip
        took = time.perf_counter() - start
        y = net(test.x).y.detach()[-10:].mean(0)
        acc = float((y.argmax(1) == test.label).double().mean())
        kind = "50 LIF" if n_adaptive == 0 else "25 ALIF + 25 LIF"
        name = method if method == "bptt" else f"e-prop {feedback}"
        print(
            f"| {kind} | {name} | {hist.loss[0]:.3f} | {hist.loss[-1]:.3f} | "
            f"{acc:.3f} | {took:.0f} |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--n-rec", type=int, default=100)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--learning", action="store_true")
    parser.add_argument("--evidence", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.evidence:
        print(f"load: {os.getloadavg()}")
        _evidence()
        print(f"load: {os.getloadavg()}")
        return
    if args.learning:
        print(f"load: {os.getloadavg()}")
        _learning()
        print(f"load: {os.getloadavg()}")
        return
    n_in, n_rec, batch = 20, args.n_rec, args.batch
    print(f"n_in={n_in} n_rec={n_rec} batch={batch} float32, one thread")
    print(f"load: {os.getloadavg()}")
    print(
        "| neurons | T | e-prop s | BPTT s | e-prop / BPTT | e-prop state MiB "
        "| BPTT saved MiB |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for n_adaptive in (0, n_rec // 2):
        for n_steps in (100, 400):
            net = RecurrentLIF(
                n_in, n_rec, 1, n_adaptive=n_adaptive, seed=0, dtype=torch.float32
            )
            gen = torch.Generator().manual_seed(0)
            x = (torch.rand(n_steps, batch, n_in, generator=gen) < 0.05).float()
            target = torch.randn(n_steps, batch, 1, generator=gen)
            eprop_gradients(net, x, target)  # warm-up
            bptt_gradients(net, x, target)
            times: dict[str, list[float]] = {"eprop": [], "bptt": []}
            ratios = []
            for r in range(args.repeats):
                order = ("eprop", "bptt") if r % 2 == 0 else ("bptt", "eprop")
                got = {}
                for name in order:
                    start = time.perf_counter()
                    if name == "eprop":
                        eprop_gradients(net, x, target)
                    else:
                        bptt_gradients(net, x, target)
                    got[name] = time.perf_counter() - start
                    times[name].append(got[name])
                ratios.append(got["eprop"] / got["bptt"])
            te = statistics.median(times["eprop"])
            tb = statistics.median(times["bptt"])
            kind = (
                "LIF"
                if n_adaptive == 0
                else f"{n_adaptive} ALIF + {n_rec - n_adaptive} LIF"
            )
            print(
                f"| {kind} | {n_steps} | {te:.3f} | {tb:.3f} | {te / tb:.2f} "
                f"(median of ratios {statistics.median(ratios):.2f}) | "
                f"{_state_bytes(net, batch) / 2**20:.2f} | "
                f"{_saved_bytes(net, x) / 2**20:.2f} |"
            )
    print(f"load: {os.getloadavg()}")


if __name__ == "__main__":
    main()
