"""Training steps per second: neurodl's explicit back-propagation vs. PyTorch autograd.

What is measured
----------------
For three networks (XOR 2-3-1, digits 64-64-10, a large 784-1024-1024-10 MLP; ReLU
hidden layers, logit outputs, float32, plain SGD) the script times full training
steps of two engines that start from the same weights:

* **explicit**: ``neurodl.learning.trainer.train_step``, the function ``fit`` calls
  for every minibatch with ``engine="explicit"``::

      value, grads = net.loss_and_grads(x, y, loss, weights=w)  # forward + deltas
      opt.step(grads)                                  # neurodl GradientDescent
      total.add_(value, alpha=batch)                   # the epoch's loss

  The loss accumulation is *included*, because the trainer does it every step.
* **autograd**: the loop a PyTorch user would write for the same network, an
  ``nn.Sequential`` of ``nn.Linear`` / ``nn.ReLU`` with the weights copied in
  (``nn.Linear.weight = W.T``) and ``torch.optim.SGD`` with its defaults::

      opt.zero_grad()
      loss = F.<loss>(model(x), y)
      loss.backward()
      opt.step()
      total.add_(loss.detach(), alpha=batch)

  (the same loss accumulation, for fairness). Cross-entropy targets are class
  indices here, as a PyTorch user passes them; the explicit engine gets the one-hot
  rows that ``prepare_target`` makes from the same labels.

Before timing, one step of each engine from the same weights must give the same
updated weights (``allclose``, rtol 1e-4); otherwise the script stops, since the
comparison would not be like for like.

How
---
Everything runs on one thread (``OMP_NUM_THREADS=1`` is set before torch is imported,
and ``torch.set_num_threads(1)``). After a warm-up, the number of steps per block is
calibrated so that one block lasts about ``--block-seconds``. Each repeat then times
one block of each engine, interleaved (the order alternates between repeats) so that
machine noise hits both, and restores the initial weights first so every repeat does
the same work. The table gives the median steps/s of each engine over the repeats and
the ratio of the medians, explicit / autograd, against the targets of the issue:
explicit >= 3x autograd on XOR, >= 1.5x on digits, >= 0.9x (within 10 %) on the large
network.

Run
---
From the repository root::

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/backprop.py
    PYTHONPATH=src python benchmarks/backprop.py --quick            # a fast check
    PYTHONPATH=src python benchmarks/backprop.py --repeats 11 --json out.json

The exit status is 0 whether targets are met or missed (see the PASS / MISS column),
and non-zero if the two engines disagree.
"""

from __future__ import annotations

import os

# One thread, set before torch is imported so the OpenMP runtime starts with it.
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = "1"

import argparse
import contextlib
import dataclasses
import gc
import hashlib
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

import neurodl
from neurodl.learning import make_optimizer
from neurodl.learning.trainer import train_step
from neurodl.networks import FeedForward, get_loss
from neurodl.networks.losses import prepare_target

DTYPE = torch.float32
RTOL = 1e-4
ATOL = 1e-6


@dataclasses.dataclass(frozen=True)
class Case:
    """One benchmark configuration.

    Attributes
    ----------
    name : str
        Label in the table.
    sizes : tuple of int
        Layer widths, input to output.
    loss : {"bce", "cross_entropy"}
        Loss, computed from the logits (output activation ``identity``).
    batch : int
        Samples per step.
    lr : float
        SGD learning rate.
    target : float
        Required ratio explicit / autograd (steps/s).
    """

    name: str
    sizes: tuple[int, ...]
    loss: str
    batch: int
    lr: float
    target: float


CASES = (
    Case("xor", (2, 3, 1), "bce", 4, 0.1, 3.0),
    Case("digits", (64, 64, 10), "cross_entropy", 64, 0.1, 1.5),
    Case("large", (784, 1024, 1024, 10), "cross_entropy", 512, 0.01, 0.9),
)

Step = Callable[[], None]


@dataclasses.dataclass(frozen=True)
class Result:
    """Measurements of one :class:`Case`.

    Attributes
    ----------
    case : Case
    data : str
        Where the inputs came from.
    steps_per_block : dict of str to int
        Steps in one timed block, per engine (``"explicit"``, ``"autograd"``).
    steps_per_s : dict of str to list of float
        Steps/s of every repeat, per engine.
    median_steps_per_s : dict of str to float
        Median over the repeats, per engine.
    ratio : float
        ``median explicit / median autograd``.
    paired_ratio_min, paired_ratio_max : float
        Range of the explicit / autograd ratio within single repeats.
    passed : bool
        ``ratio >= case.target``.
    """

    case: Case
    data: str
    steps_per_block: dict[str, int]
    steps_per_s: dict[str, list[float]]
    median_steps_per_s: dict[str, float]
    ratio: float
    paired_ratio_min: float
    paired_ratio_max: float
    passed: bool


# ------------------------------------------------------------------------ data
def make_data(case: Case) -> tuple[Tensor, Tensor, str]:
    """Return inputs, labels and a description of the data for ``case``.

    Returns
    -------
    x : Tensor, shape (batch, sizes[0]), float32
    y : Tensor
        ``bce``: float targets, shape (batch,); ``cross_entropy``: int64 class
        labels, shape (batch,).
    source : str
    """
    if case.name == "xor":
        x = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], dtype=DTYPE)
        return x, torch.tensor([0.0, 1.0, 1.0, 0.0], dtype=DTYPE), "the 4 XOR patterns"
    gen = torch.Generator().manual_seed(0)
    n_in, n_out = case.sizes[0], case.sizes[-1]
    if case.name == "digits":
        try:
            from sklearn.datasets import load_digits

            digits = load_digits()
            x = torch.as_tensor(digits.data[: case.batch] / 16.0, dtype=DTYPE)
            y = torch.as_tensor(digits.target[: case.batch], dtype=torch.int64)
            return x, y, f"sklearn load_digits, first {case.batch} images / 16"
        except ImportError:
            pass
    x = torch.randn(case.batch, n_in, generator=gen, dtype=DTYPE)
    y = torch.randint(0, n_out, (case.batch,), generator=gen)
    return x, y, "random N(0, 1) inputs, random labels"


# --------------------------------------------------------------------- engines
class Explicit:
    """neurodl's explicit engine, stepped exactly as the trainer steps it.

    Parameters
    ----------
    case : Case
    x : Tensor, shape (batch, n_in)
    y : Tensor, shape (batch,)
        Labels as returned by :func:`make_data`.
    """

    def __init__(
        self, case: Case, x: Tensor, y: Tensor, optimizer: str = "sgd"
    ) -> None:
        self.net = FeedForward(case.sizes, "relu", "identity", seed=0, dtype=DTYPE)
        self.fn = get_loss(case.loss)
        self.x = x
        self.y = prepare_target(self.fn, y, x.shape[0], case.sizes[-1], DTYPE)
        self.params = self.net.weights()  # what fit() trains: detached views
        self.opt = make_optimizer(optimizer, self.params, _lr(case, optimizer))
        self.total = torch.zeros((), dtype=torch.float64)
        self.initial = [p.detach().clone() for p in self.params]

    def step(self) -> None:
        """One training step: the trainer's own ``train_step``, as ``fit`` calls it."""
        train_step(self.net, self.params, self.x, self.y, self.fn, self.opt, self.total)

    def reset(self) -> None:
        """Put the initial weights back."""
        with torch.no_grad():
            for p, p0 in zip(self.params, self.initial, strict=True):
                p.copy_(p0)

    def weights(self) -> list[Tensor]:
        """Return ``[W_1, b_1, W_2, ...]``, ``W`` of shape (n_in, n_out)."""
        return [p.detach().clone() for p in self.params]


class Autograd:
    """The plain PyTorch loop: ``nn.Sequential``, ``F.<loss>``, ``backward``, ``SGD``.

    Parameters
    ----------
    case : Case
    x : Tensor, shape (batch, n_in)
    y : Tensor, shape (batch,)
        Labels as returned by :func:`make_data`.
    weights : list of Tensor
        ``[W_1, b_1, W_2, ...]`` of the explicit network, copied in.
    """

    def __init__(
        self,
        case: Case,
        x: Tensor,
        y: Tensor,
        weights: list[Tensor],
        optimizer: str = "sgd",
    ) -> None:
        mods: list[nn.Module] = []
        n_layers = len(case.sizes) - 1
        for i in range(n_layers):
            mods.append(nn.Linear(case.sizes[i], case.sizes[i + 1], dtype=DTYPE))
            if i < n_layers - 1:
                mods.append(nn.ReLU())
        self.model = nn.Sequential(*mods)
        self.linears = [m for m in mods if isinstance(m, nn.Linear)]
        self.initial = [w.clone() for w in weights]
        self.reset()
        self.x = x
        if case.loss == "bce":
            self.y = y.to(DTYPE).reshape(-1, 1)
            self.loss_fn: Callable[[Tensor, Tensor], Tensor] = (
                F.binary_cross_entropy_with_logits
            )
        else:
            self.y = y
            self.loss_fn = F.cross_entropy
        lr = _lr(case, optimizer)
        self.opt: torch.optim.Optimizer = (
            torch.optim.SGD(self.model.parameters(), lr=lr)
            if optimizer == "sgd"
            else torch.optim.Adam(self.model.parameters(), lr=lr)
        )
        self.total = torch.zeros((), dtype=torch.float64)

    def step(self) -> None:
        """One training step as a PyTorch user writes it."""
        self.opt.zero_grad()
        loss = self.loss_fn(self.model(self.x), self.y)
        loss.backward()
        self.opt.step()
        self.total.add_(loss.detach(), alpha=self.x.shape[0])

    def reset(self) -> None:
        """Put the initial weights back (``weight = W.T``)."""
        with torch.no_grad():
            for i, lin in enumerate(self.linears):
                lin.weight.copy_(self.initial[2 * i].T)
                lin.bias.copy_(self.initial[2 * i + 1])

    def weights(self) -> list[Tensor]:
        """Return ``[W_1, b_1, W_2, ...]`` in the explicit layout, ``W = weight.T``."""
        out: list[Tensor] = []
        for lin in self.linears:
            out += [lin.weight.detach().T.clone(), lin.bias.detach().clone()]
        return out


# --------------------------------------------------------------------- method
def check_same_step(case: Case, explicit: Explicit, autograd: Autograd) -> None:
    """Stop the script unless one step of each engine gives the same weights.

    Both engines are put back to their initial weights afterwards.

    Raises
    ------
    SystemExit
        If any updated parameter differs beyond ``rtol=1e-4, atol=1e-6`` (Adam:
        ``atol=1e-4``, a tenth of its step: Adam scales every step to about
        ``lr``, so float32 rounding in a near-zero gradient moves a weight by up
        to that much).
    """
    atol = ATOL if isinstance(autograd.opt, torch.optim.SGD) else 1e-4
    for a, b in zip(explicit.weights(), autograd.weights(), strict=True):
        if not torch.equal(a, b):
            raise SystemExit(f"{case.name}: the engines start from different weights.")
    explicit.step()
    autograd.step()
    names = [name for name, _ in explicit.net.named_parameters()]
    for name, a, b in zip(names, explicit.weights(), autograd.weights(), strict=True):
        if not torch.allclose(a, b, rtol=RTOL, atol=atol):
            err = float((a - b).abs().max())
            raise SystemExit(
                f"{case.name}: after one step {name} differs between the explicit "
                f"and the autograd engine (max abs difference {err:.3g}, "
                f"rtol={RTOL}, atol={atol}); the timing would not compare like "
                "with like. Aborting."
            )
    if not torch.allclose(explicit.total, autograd.total, rtol=RTOL, atol=ATOL):
        raise SystemExit(
            f"{case.name}: the loss values differ: explicit "
            f"{float(explicit.total):.8g}, autograd {float(autograd.total):.8g}. "
            "Aborting."
        )
    explicit.reset()
    autograd.reset()


def time_block(step: Step, n_steps: int) -> float:
    """Return the seconds that ``n_steps`` calls of ``step`` take, GC switched off."""
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        for _ in range(n_steps):
            step()
        return time.perf_counter() - t0
    finally:
        gc.enable()


def calibrate(step: Step, block_seconds: float) -> int:
    """Return a step count (>= 3) whose block lasts about ``block_seconds``."""
    n = 1
    while True:
        elapsed = time_block(step, n)
        if elapsed >= block_seconds / 4 or n >= 1 << 22:
            return max(3, round(n * block_seconds / elapsed))
        n *= 2


def _lr(case: Case, optimizer: str) -> float:
    """Return the case's SGD learning rate, or Adam's usual 1e-3."""
    return case.lr if optimizer == "sgd" else 1e-3


def run_case(
    case: Case, repeats: int, block_seconds: float, optimizer: str = "sgd"
) -> Result:
    """Benchmark both engines on ``case``; return the measurements."""
    x, y, source = make_data(case)
    explicit = Explicit(case, x, y, optimizer)
    autograd = Autograd(case, x, y, explicit.weights(), optimizer)
    check_same_step(case, explicit, autograd)

    engines: dict[str, Explicit | Autograd] = {
        "explicit": explicit,
        "autograd": autograd,
    }
    n_steps: dict[str, int] = {}
    for name, eng in engines.items():
        # warm-up: allocator, dispatcher caches, branch predictors
        time_block(eng.step, 20)
        n_steps[name] = calibrate(eng.step, block_seconds)
        eng.reset()
    rates: dict[str, list[float]] = {"explicit": [], "autograd": []}
    order = list(engines)
    for r in range(repeats):
        for name in order if r % 2 == 0 else order[::-1]:
            eng = engines[name]
            eng.reset()
            rates[name].append(n_steps[name] / time_block(eng.step, n_steps[name]))
    med = {name: statistics.median(v) for name, v in rates.items()}
    ratio = med["explicit"] / med["autograd"]
    paired = [e / a for e, a in zip(rates["explicit"], rates["autograd"], strict=True)]
    return Result(
        case=case,
        data=source,
        steps_per_block=n_steps,
        steps_per_s=rates,
        median_steps_per_s=med,
        ratio=ratio,
        paired_ratio_min=min(paired),
        paired_ratio_max=max(paired),
        passed=ratio >= case.target,
    )


# ---------------------------------------------------------------------- report
def cpu_model() -> str:
    """Return the CPU model name from ``/proc/cpuinfo`` (or ``platform``)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def source_digest() -> str:
    """Return the first 12 hex digits of a SHA-256 over the neurodl sources imported.

    Identifies the code measured when the working tree has no commit to name.
    """
    root = Path(neurodl.__file__).resolve().parent
    h = hashlib.sha256()
    for f in sorted(root.rglob("*.py")):
        h.update(f.relative_to(root).as_posix().encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def machine() -> dict[str, object]:
    """Return what the numbers depend on: CPU, cores, threads, versions."""
    return {
        "neurodl_source_sha256": source_digest(),
        "cpu": cpu_model(),
        "nproc": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _rate(steps_per_s: float) -> str:
    """Format a rate with 3-4 significant digits."""
    return f"{steps_per_s:,.0f}" if steps_per_s >= 100 else f"{steps_per_s:.1f}"


def format_table(results: list[Result]) -> str:
    """Return the results as a Markdown table."""
    rows = [
        "| network | batch | explicit steps/s | autograd steps/s | explicit/autograd "
        "| paired min-max | target | result |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for res in results:
        c, med = res.case, res.median_steps_per_s
        sizes = "-".join(map(str, c.sizes))
        rows.append(
            f"| {c.name} {sizes} | {c.batch} | {_rate(med['explicit'])} "
            f"| {_rate(med['autograd'])} | {res.ratio:.3f}x "
            f"| {res.paired_ratio_min:.3f}-{res.paired_ratio_max:.3f} "
            f"| >= {c.target:g}x | {'PASS' if res.passed else 'MISS'} |"
        )
    return "\n".join(rows)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    p = argparse.ArgumentParser(
        description="Training steps/s of neurodl's explicit backprop vs. PyTorch "
        "autograd (one thread)."
    )
    p.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timed repeats (default 7; 3 with --quick)",
    )
    p.add_argument(
        "--block-seconds",
        type=float,
        default=None,
        help="target duration of one timed block (default 0.5 s; 0.1 s with --quick)",
    )
    p.add_argument(
        "--json",
        type=Path,
        default=None,
        metavar="PATH",
        help="also write the results as JSON",
    )
    p.add_argument(
        "--quick", action="store_true", help="fewer, shorter repeats: a smoke run"
    )
    p.add_argument(
        "--optimizer",
        choices=["sgd", "adam"],
        default="sgd",
        help="update rule on both sides: neurodl's vs torch.optim's (default sgd; "
        "the targets are set for sgd)",
    )
    p.add_argument(
        "--only",
        choices=[c.name for c in CASES],
        action="append",
        help="run only this network",
    )
    args = p.parse_args(argv)
    if args.repeats is None:
        args.repeats = 3 if args.quick else 7
    if args.block_seconds is None:
        args.block_seconds = 0.1 if args.quick else 0.5
    if args.repeats < 1 or args.block_seconds <= 0:
        p.error("--repeats must be >= 1 and --block-seconds > 0")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table, optionally write JSON; return 0."""
    args = parse_args(argv)
    torch.set_num_threads(1)
    # raises if already set; inter-op threads only matter for parallel ops
    with contextlib.suppress(RuntimeError):
        torch.set_num_interop_threads(1)
    info = machine()
    print(
        f"neurodl backprop benchmark: {info['cpu']}, nproc {info['nproc']}, "
        f"torch {info['torch']}, {info['torch_threads']} thread(s), float32, "
        f"{args.optimizer}; "
        f"neurodl sources sha256 {info['neurodl_source_sha256']}"
    )
    print(
        f"{args.repeats} repeats, blocks of ~{args.block_seconds:g} s, engines "
        "interleaved; median steps/s. The explicit step is the trainer's own "
        "train_step, loss accumulation included; the autograd loop accumulates "
        "its loss the same way."
    )
    cases = [c for c in CASES if not args.only or c.name in args.only]
    results: list[Result] = []
    for case in cases:
        res = run_case(case, args.repeats, args.block_seconds, args.optimizer)
        results.append(res)
        print(
            f"  {case.name}: {res.data}; steps/block {res.steps_per_block}; "
            f"same weights after one step: yes",
            flush=True,
        )
    print()
    print(format_table(results))
    if args.json is not None:
        payload = {
            "benchmark": "backprop",
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": info,
            "repeats": args.repeats,
            "optimizer": args.optimizer,
            "block_seconds": args.block_seconds,
            "results": [dataclasses.asdict(r) for r in results],
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
