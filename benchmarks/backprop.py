"""Training steps per second: neurodl's explicit back-propagation vs. PyTorch autograd.

What is measured
----------------
For three networks (XOR 2-3-1, digits 64-64-10, a large 784-1024-1024-10 MLP; ReLU
hidden layers, logit outputs, float32, plain SGD) the script times training steps
of five contenders that start from the same weights, and compares three pairs:

1. **train_step** (``explicit``) against the plain loop with the same loss
   accumulation (``autograd``). ``explicit`` is
   ``neurodl.learning.trainer.train_step``, the function ``fit`` calls for every
   minibatch with ``engine="explicit"`` (plain SGD: ``FeedForward.descend``,
   forward, loss, deltas and in-place updates), loss accumulation included;
   ``autograd`` is what a PyTorch user writes, an ``nn.Sequential`` of
   ``nn.Linear`` / ``nn.ReLU`` with the weights copied in
   (``nn.Linear.weight = W.T``) and ``torch.optim.SGD`` with its defaults::

       opt.zero_grad()
       loss = F.<loss>(model(x), y)
       loss.backward()
       opt.step()
       total.add_(loss.detach(), alpha=batch)   # the same accumulation, for fairness

2. **backprop + torch.optim** (``public``), the README's path, against the plain
   loop without the accumulation line (``plain``)::

       net.backprop(x, y, loss, write_grad=True)    # FeedForward, explicit rules
       opt.step()                                   # torch.optim.SGD, defaults

   ``backprop`` checks its inputs on every call, as a user gets it.
3. **fit** (``fit``), ``neurodl.learning.fit`` timed whole (``epochs=n``, one batch
   per epoch, ``progress=False``: set-up, per-epoch history and divergence checks
   included) against ``n`` steps of ``plain``.

Cross-entropy targets are class indices, as a PyTorch user passes them; ``explicit``
gets the one-hot rows that ``prepare_target`` makes from the same labels, while
``public`` and ``fit`` get the labels and convert them themselves.

Before timing, one step (one epoch) of each contender from the same weights must
give the same updated weights as ``autograd`` (``allclose``, rtol 1e-4); otherwise
the script stops, since the comparison would not be like for like.

How
---
Everything runs on one thread (``OMP_NUM_THREADS=1`` is set before torch is imported,
and ``torch.set_num_threads(1)``). After a warm-up, the number of steps per block is
calibrated so that one block lasts about ``--block-seconds``. Each repeat then times
one block of each contender, interleaved (the order alternates between repeats and
keeps the two sides of every pair next to each other) so that machine noise hits all
of them, and restores the initial weights first so every repeat does the same work.
The table gives, per pair, the median steps/s of each side over the repeats, the
ratio of the medians (the figure held against the target) and the median, lowest
and highest ratio within single repeats, against the issue's targets:
train_step >= 3x on XOR, >= 1.5x on digits, >= 0.9x (within 10 %) on the large
network; backprop + torch.optim >= 1.5x on XOR, >= 1.2x on digits; fit >= 3x on
XOR, >= 1.5x on digits.

Run
---
From the repository root::

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/backprop.py
    PYTHONPATH=src python benchmarks/backprop.py --quick            # a fast check
    PYTHONPATH=src python benchmarks/backprop.py --repeats 11 --json out.json
    PYTHONPATH=src python benchmarks/backprop.py --clock cpu  # shared machine

The exit status is 0 whether targets are met or missed (see the PASS / MISS column),
and non-zero if the contenders disagree.
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
from neurodl.learning import TrainConfig, fit, make_optimizer
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
        Required ratio train_step / autograd (steps/s).
    target_public, target_fit : float or None
        Required ratios backprop + torch.optim / plain and fit / plain (None:
        measured for information).
    """

    name: str
    sizes: tuple[int, ...]
    loss: str
    batch: int
    lr: float
    target: float
    target_public: float | None = None
    target_fit: float | None = None


CASES = (
    Case("xor", (2, 3, 1), "bce", 4, 0.1, 3.0, 1.5, 3.0),
    Case("digits", (64, 64, 10), "cross_entropy", 64, 0.1, 1.5, 1.2, 1.5),
    Case("large", (784, 1024, 1024, 10), "cross_entropy", 512, 0.01, 0.9),
)

Run = Callable[[int], None]

PAIRS = (
    ("train_step", "explicit", "autograd", "target"),
    ("backprop + torch.optim", "public", "plain", "target_public"),
    ("fit", "fit", "plain", "target_fit"),
)
"""Rows of the table: (label, neurodl contender, PyTorch loop, Case target field)."""


@dataclasses.dataclass(frozen=True)
class Comparison:
    """One row: a neurodl contender against a plain PyTorch loop.

    Attributes
    ----------
    label : str
    contender, baseline : str
        Engine names (keys of :attr:`Result.steps_per_s`).
    ratio : float
        ``median contender / median baseline`` (steps/s).
    paired_ratio_min, paired_ratio_median, paired_ratio_max : float
        The ratio within single repeats (the two blocks run next to each other):
        lowest, median, highest. The median is steadier than ``ratio`` when the
        machine's load drifts during the run.
    target : float or None
    passed : bool or None
        ``ratio >= target``; None without a target.
    """

    label: str
    contender: str
    baseline: str
    ratio: float
    paired_ratio_min: float
    paired_ratio_median: float
    paired_ratio_max: float
    target: float | None
    passed: bool | None


@dataclasses.dataclass(frozen=True)
class Result:
    """Measurements of one :class:`Case`.

    Attributes
    ----------
    case : Case
    data : str
        Where the inputs came from.
    steps_per_block : dict of str to int
        Steps (``fit``: epochs) in one timed block, per engine.
    steps_per_s : dict of str to list of float
        Steps/s of every repeat, per engine.
    median_steps_per_s : dict of str to float
        Median over the repeats, per engine.
    comparisons : list of Comparison
        One per row of :data:`PAIRS`.
    """

    case: Case
    data: str
    steps_per_block: dict[str, int]
    steps_per_s: dict[str, list[float]]
    median_steps_per_s: dict[str, float]
    comparisons: list[Comparison]


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

    def run(self, n: int) -> None:
        """Take ``n`` steps."""
        for _ in range(n):
            self.step()

    def reset(self) -> None:
        """Put the initial weights back."""
        with torch.no_grad():
            for p, p0 in zip(self.params, self.initial, strict=True):
                p.copy_(p0)

    def weights(self) -> list[Tensor]:
        """Return ``[W_1, b_1, W_2, ...]``, ``W`` of shape (n_in, n_out)."""
        return [p.detach().clone() for p in self.params]


class Public(Explicit):
    """The README's path: ``net.backprop(..., write_grad=True)``, a torch.optim step.

    The network gets the labels as given (``backprop`` checks and converts them on
    every call) and a ``torch.optim`` optimizer with its defaults.
    """

    def __init__(
        self, case: Case, x: Tensor, y: Tensor, optimizer: str = "sgd"
    ) -> None:
        super().__init__(case, x, y, optimizer)
        self.labels = y
        self.loss = case.loss
        params = list(self.net.parameters())
        lr = _lr(case, optimizer)
        self.torch_opt: torch.optim.Optimizer = (
            torch.optim.SGD(params, lr=lr)
            if optimizer == "sgd"
            else torch.optim.Adam(params, lr=lr)
        )

    def step(self) -> None:
        """One training step as the README shows it."""
        self.net.backprop(self.x, self.labels, self.loss, write_grad=True)
        self.torch_opt.step()


class Fit(Explicit):
    """``neurodl.learning.fit``, timed whole: ``run(n)`` trains for ``n`` epochs."""

    def __init__(
        self, case: Case, x: Tensor, y: Tensor, optimizer: str = "sgd"
    ) -> None:
        super().__init__(case, x, y, optimizer)
        self.labels = y
        self.config = TrainConfig(
            loss=case.loss, optimizer=optimizer, lr=_lr(case, optimizer), epochs=1
        )

    def run(self, n: int) -> None:
        """Train for ``n`` epochs of one batch (the whole input)."""
        cfg = dataclasses.replace(self.config, epochs=n)
        fit(self.net, self.x, self.labels, cfg, progress=False)

    def step(self) -> None:
        """One epoch."""
        self.run(1)


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
    accumulate : bool
        Add each step's loss to a running total (the train_step comparison; the
        trainer does the same), or not (the plain loop the README path and
        ``fit`` are compared with).
    """

    def __init__(
        self,
        case: Case,
        x: Tensor,
        y: Tensor,
        weights: list[Tensor],
        optimizer: str = "sgd",
        *,
        accumulate: bool = True,
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
        self.accumulate = accumulate
        self.total = torch.zeros((), dtype=torch.float64)
        self.reset()

    def step(self) -> None:
        """One training step as a PyTorch user writes it."""
        self.opt.zero_grad()
        loss = self.loss_fn(self.model(self.x), self.y)
        loss.backward()
        self.opt.step()
        if self.accumulate:
            self.total.add_(loss.detach(), alpha=self.x.shape[0])

    def run(self, n: int) -> None:
        """Take ``n`` steps."""
        for _ in range(n):
            self.step()

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


Engine = Explicit | Autograd


# --------------------------------------------------------------------- method
def check_same_step(case: Case, engines: dict[str, Engine]) -> None:
    """Stop the script unless one step of each engine gives ``autograd``'s weights.

    Every engine is put back to its initial weights afterwards.

    Raises
    ------
    SystemExit
        If any updated parameter differs beyond ``rtol=1e-4, atol=1e-6`` (Adam:
        ``atol=1e-4``, a tenth of its step: Adam scales every step to about
        ``lr``, so float32 rounding in a near-zero gradient moves a weight by up
        to that much).
    """
    ref = engines["autograd"]
    assert isinstance(ref, Autograd)
    atol = ATOL if isinstance(ref.opt, torch.optim.SGD) else 1e-4
    start = ref.weights()
    for name, eng in engines.items():
        for a, b in zip(eng.weights(), start, strict=True):
            if not torch.equal(a, b):
                raise SystemExit(f"{case.name}: {name} starts from other weights.")
    for eng in engines.values():
        eng.step()
    names = [f"layers.{i // 2}.{'Wb'[i % 2]}" for i in range(len(start))]
    after = ref.weights()
    for eng_name, eng in engines.items():
        for name, a, b in zip(names, eng.weights(), after, strict=True):
            if not torch.allclose(a, b, rtol=RTOL, atol=atol):
                err = float((a - b).abs().max())
                raise SystemExit(
                    f"{case.name}: after one step {name} differs between "
                    f"{eng_name} and autograd (max abs difference {err:.3g}, "
                    f"rtol={RTOL}, atol={atol}); the timing would not compare "
                    "like with like. Aborting."
                )
    explicit = engines["explicit"]
    assert isinstance(explicit, Explicit)
    if not torch.allclose(explicit.total, ref.total, rtol=RTOL, atol=ATOL):
        raise SystemExit(
            f"{case.name}: the loss values differ: explicit "
            f"{float(explicit.total):.8g}, autograd {float(ref.total):.8g}. "
            "Aborting."
        )
    for eng in engines.values():
        eng.reset()


CLOCKS: dict[str, Callable[[], float]] = {
    "wall": time.perf_counter,
    "cpu": time.thread_time,
}
"""``--clock``: wall time, or the CPU time of this thread (which leaves out the
time the thread waits while other processes run on a busy machine)."""
_clock = CLOCKS["wall"]


def time_block(run: Run, n_steps: int) -> float:
    """Return the seconds that ``run(n_steps)`` takes, GC switched off."""
    gc.collect()
    gc.disable()
    try:
        t0 = _clock()
        run(n_steps)
        return _clock() - t0
    finally:
        gc.enable()


def calibrate(run: Run, block_seconds: float) -> int:
    """Return a step count (>= 3) whose block lasts about ``block_seconds``."""
    n = 1
    while True:
        elapsed = time_block(run, n)
        if elapsed >= block_seconds / 4 or n >= 1 << 22:
            return max(3, round(n * block_seconds / elapsed))
        n *= 2


def _lr(case: Case, optimizer: str) -> float:
    """Return the case's SGD learning rate, or Adam's usual 1e-3."""
    return case.lr if optimizer == "sgd" else 1e-3


def run_case(
    case: Case, repeats: int, block_seconds: float, optimizer: str = "sgd"
) -> Result:
    """Benchmark every engine on ``case``; return the measurements."""
    x, y, source = make_data(case)
    explicit = Explicit(case, x, y, optimizer)
    w0 = explicit.weights()
    engines: dict[str, Engine] = {
        "explicit": explicit,
        "autograd": Autograd(case, x, y, w0, optimizer),
        "public": Public(case, x, y, optimizer),
        "plain": Autograd(case, x, y, w0, optimizer, accumulate=False),
        "fit": Fit(case, x, y, optimizer),
    }
    check_same_step(case, engines)

    n_steps: dict[str, int] = {}
    for name, eng in engines.items():
        # warm-up: allocator, dispatcher caches, branch predictors
        time_block(eng.run, 20)
        n_steps[name] = calibrate(eng.run, block_seconds)
        eng.reset()
    rates: dict[str, list[float]] = {name: [] for name in engines}
    order = list(engines)
    for r in range(repeats):
        for name in order if r % 2 == 0 else order[::-1]:
            eng = engines[name]
            eng.reset()
            rates[name].append(n_steps[name] / time_block(eng.run, n_steps[name]))
    med = {name: statistics.median(v) for name, v in rates.items()}
    comparisons = []
    for label, mine, theirs, field in PAIRS:
        target = getattr(case, field)
        ratio = med[mine] / med[theirs]
        paired = [a / b for a, b in zip(rates[mine], rates[theirs], strict=True)]
        comparisons.append(
            Comparison(
                label=label,
                contender=mine,
                baseline=theirs,
                ratio=ratio,
                paired_ratio_min=min(paired),
                paired_ratio_median=statistics.median(paired),
                paired_ratio_max=max(paired),
                target=target,
                passed=None if target is None else ratio >= target,
            )
        )
    return Result(
        case=case,
        data=source,
        steps_per_block=n_steps,
        steps_per_s=rates,
        median_steps_per_s=med,
        comparisons=comparisons,
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
    """Return the results as a Markdown table, one row per case and pair."""
    rows = [
        "| network | batch | neurodl | neurodl steps/s | PyTorch loop steps/s "
        "| neurodl/PyTorch | paired median (min-max) | target | result |",
        "|---|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for res in results:
        c, med = res.case, res.median_steps_per_s
        sizes = "-".join(map(str, c.sizes))
        for cmp in res.comparisons:
            target = "-" if cmp.target is None else f">= {cmp.target:g}x"
            verdict = {None: "-", True: "PASS", False: "MISS"}[cmp.passed]
            rows.append(
                f"| {c.name} {sizes} | {c.batch} | {cmp.label} "
                f"| {_rate(med[cmp.contender])} | {_rate(med[cmp.baseline])} "
                f"| {cmp.ratio:.3f}x "
                f"| {cmp.paired_ratio_median:.3f}x "
                f"({cmp.paired_ratio_min:.2f}-{cmp.paired_ratio_max:.2f}) "
                f"| {target} | {verdict} |"
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
        "--clock",
        choices=sorted(CLOCKS),
        default="wall",
        help="what a block's duration is measured in: wall time (default) or this "
        "thread's CPU time, steadier on a shared machine",
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
    global _clock
    _clock = CLOCKS[args.clock]
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
        f"{args.repeats} repeats, blocks of ~{args.block_seconds:g} s "
        f"({args.clock} clock), engines "
        "interleaved; median steps/s. train_step: the trainer's own step, loss "
        "accumulation included, against the PyTorch loop accumulating its loss "
        "the same way; backprop + torch.optim (the README's path) and fit (timed "
        "whole, one batch per epoch) against the PyTorch loop without it."
    )
    cases = [c for c in CASES if not args.only or c.name in args.only]
    results: list[Result] = []
    for case in cases:
        res = run_case(case, args.repeats, args.block_seconds, args.optimizer)
        results.append(res)
        print(
            f"  {case.name}: {res.data}; steps/block {res.steps_per_block}; "
            "same weights after one step: yes",
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
            "clock": args.clock,
            "results": [dataclasses.asdict(r) for r in results],
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
