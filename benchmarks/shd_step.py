"""SHD-shaped BPTT training step: neurodl's fused LIF network vs. snnTorch and others.

What is measured
----------------
One training step of a 700 -> 256 LIF -> 20 LIF network (the shape of the Spiking
Heidelberg Digits task) on a batch of 64 samples of 100 time steps: forward pass,
cross-entropy on the output spike counts, backward pass through time, one Adam step
(lr 1e-3). Input: random Bernoulli spikes, p = 0.02 per input and step, fixed seed.
Float32, one thread. Contenders, all starting from the same weights:

* **neurodl**: ``neurodl.networks.SpikingFeedForward`` (one matmul per layer for
  all time steps, the LIF recurrence and its adjoint in one autograd Function).
* **neurodl-dense**: the same with ``projection="dense"``: one BLAS product for
  ``x W`` and one for ``x^T dL/dI`` instead of the event-driven kernels (shows
  what the events save).
* **plain**: the loop a PyTorch user writes: ``nn.Linear`` per time step, the LIF
  update by hand, a small autograd Function for the fast-sigmoid surrogate.
* **snnTorch**: ``nn.Linear`` + ``snn.Leaky(beta, spike_grad=fast_sigmoid(25))``
  per time step, as in its tutorials.
* **SpikingJelly**: ``layer.Linear`` + ``neuron.LIFNode(step_mode="m")`` (its CPU
  multi-step implementation, surrogate ``ATan``), ``decay_input=False``,
  ``v_reset=None`` (soft reset) and ``tau = 1 / (1 - beta)``: the same leak, but
  SpikingJelly applies the reset in the same step, so its spikes differ.
* **Norse**: ``nn.Linear`` + ``LIFBoxCell`` (SuperSpike surrogate, slope 25,
  reset by subtraction) per time step; Euler dynamics with the same leak.

neurodl, plain and snnTorch compute the same equations
(``v[t] = beta v[t-1] + I[t] - z[t-1]``, ``z[t] = H(v[t] - 1)``, reset detached
from the gradient, fast-sigmoid surrogate of slope 25). Before timing, the script
runs them in float64 on the same weights and input and stops unless the spikes are
identical and the losses and gradients agree (to 1e-9; to 1e-6 with snnTorch,
whose spikes are float32 even in float64); it also prints how far the
float32 runs drift apart (rounding in differently ordered sums).

How
---
The peers are installed into a virtual environment that the script makes on its
first run, ``benchmarks/.venv-snn`` (git-ignored): torch pinned by the project's
``constraints.txt`` (the CPU wheel; a bare ``torch`` requirement would pull a CUDA
build), then snnTorch, SpikingJelly and Norse with ``--no-deps`` (they declare
torchvision, torchaudio and more that they do not need for this) plus what they
import: numpy, loguru (SpikingJelly), nir, nirtorch and h5py (Norse), and numba,
which neurodl uses. The script
then runs itself in that environment, with neurodl imported from ``src/``, so every
contender uses the same torch build. ``OMP_NUM_THREADS=1`` and
``torch.set_num_threads(1)``. After a warm-up, each repeat times a block of steps of
every contender, interleaved (the order rotates between repeats), each block
starting from the initial weights and a fresh Adam. The table gives the median
milliseconds per step and the ratios to neurodl; the issue's target is neurodl at
most 0.5x snnTorch's time.

Run
---
From the repository root (any Python >= 3.11; the first run installs the peers)::

    python benchmarks/shd_step.py
    python benchmarks/shd_step.py --quick
    python benchmarks/shd_step.py --repeats 11 --json out.json
    python benchmarks/shd_step.py --no-venv   # this interpreter; peers optional

The exit status is 0 whether the target is met or missed, and non-zero if the
equivalence check fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# One thread, set before torch is imported so the OpenMP runtime starts with it.
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = "1"

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / "benchmarks" / ".venv-snn"
PEERS = ("snntorch==1.0.0", "spikingjelly==2.0.0", "norse==1.1.0")
# what the peers import at run time (their declared dependencies are much wider),
# and numba for neurodl's event-driven input projection
PEER_NEEDS = ("numpy", "numba", "loguru", "h5py")
PEER_NEEDS_NO_DEPS = ("nir==1.0.8", "nirtorch==2.6")


def _venv_python() -> Path:
    return VENV / "bin" / "python"


def _in_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


def ensure_venv(rebuild: bool = False) -> Path:
    """Create ``benchmarks/.venv-snn`` with torch (CPU) and the peers; return python.

    Skipped when the marker file says the same packages are installed already.
    """
    marker = VENV / ".installed"
    wanted = "\n".join(
        ["torch (constraints.txt)", *PEER_NEEDS, *PEER_NEEDS_NO_DEPS, *PEERS]
    )
    if not rebuild and marker.exists() and marker.read_text() == wanted:
        return _venv_python()
    print(f"setting up {VENV.relative_to(ROOT)} (once) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
    pip = [str(_venv_python()), "-m", "pip", "install", "--disable-pip-version-check"]
    pip += ["-q", "-c", str(ROOT / "constraints.txt")]
    subprocess.run([*pip, "torch", *PEER_NEEDS], check=True)
    subprocess.run([*pip, "--no-deps", *PEER_NEEDS_NO_DEPS, *PEERS], check=True)
    marker.write_text(wanted)
    return _venv_python()


if __name__ == "__main__" and not _in_venv() and "--no-venv" not in sys.argv:
    python = ensure_venv(rebuild="--rebuild-venv" in sys.argv)
    argv = [a for a in sys.argv[1:] if a != "--rebuild-venv"]
    sys.exit(subprocess.run([str(python), __file__, *argv]).returncode)

sys.path.insert(0, str(ROOT / "src"))

import argparse  # noqa: E402
import contextlib  # noqa: E402
import gc  # noqa: E402
import importlib.metadata  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from typing import Any  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import Tensor, nn  # noqa: E402

from neurodl.networks import SpikingFeedForward  # noqa: E402

SIZES = (700, 256, 20)
BATCH = 64
STEPS = 100
P_SPIKE = 0.02
TAU_MEM = 20.0  # ms, dt = 1 ms: beta = exp(-1/20) = 0.951
BETA = math.exp(-1.0 / TAU_MEM)
SLOPE = 25.0
LR = 1e-3
# weights U(-g/sqrt(n_in), g/sqrt(n_in)): nn.Linear's g = 1 leaves this sparse
# input almost silent; these gains give ~10 % hidden and a few output spikes
GAINS = (6.0, 4.0)
# float64 agreement with neurodl: loss, and gradients relative to their largest
# entry. snnTorch's spikes are float32 even in a float64 run (``(x > 0).float()``),
# so the gradient reaching them is rounded to float32 (relative 6e-8).
TOL64 = {"neurodl-dense": 1e-9, "plain": 1e-9, "snntorch": 1e-6}


# ------------------------------------------------------------------------ data
def make_data(dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor]:
    """Return input spikes, shape (time, batch, 700), and labels, shape (batch,)."""
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(STEPS, BATCH, SIZES[0], generator=gen) < P_SPIKE).to(dtype)
    y = torch.randint(0, SIZES[-1], (BATCH,), generator=gen)
    return x, y


def initial_weights() -> list[tuple[Tensor, Tensor]]:
    """Return ``[(W, b), ...]`` in float64, ``W`` of shape (n_in, n_out)."""
    net = SpikingFeedForward(SIZES, tau_mem=TAU_MEM, seed=0, dtype=torch.float64)
    out = []
    for layer, gain in zip(net.lif, GAINS, strict=True):
        out.append((layer.W.detach() * gain, layer.b.detach().clone()))
    return out


def count_loss(counts: Tensor, y: Tensor) -> Tensor:
    """Cross-entropy of the output spike counts, shape (batch, 20), as logits."""
    return F.cross_entropy(counts, y)


# ------------------------------------------------------------------ contenders
class Contender:
    """A model plus its training step; subclasses build ``self.model`` and ``run``.

    Parameters
    ----------
    weights : list of (Tensor, Tensor)
        Initial ``(W, b)`` per layer, ``W`` of shape (n_in, n_out).
    dtype : torch.dtype
    """

    name = ""

    def __init__(self, weights: list[tuple[Tensor, Tensor]], dtype: torch.dtype):
        self.dtype = dtype
        self.weights = weights
        self.model = self.build()
        self.reset()

    def build(self) -> nn.Module:
        """Return the model (parameters are set by :meth:`reset`)."""
        raise NotImplementedError

    def linears(self) -> list[Any]:
        """Return the modules holding ``(weight, bias)`` in ``nn.Linear`` layout."""
        raise NotImplementedError

    def reset(self) -> None:
        """Put the initial weights back and start a fresh Adam."""
        with torch.no_grad():
            for lin, (w, b) in zip(self.linears(), self.weights, strict=True):
                lin.weight.copy_(w.T)
                lin.bias.copy_(b)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=LR)

    def run(self, x: Tensor) -> Tensor:
        """Return the output spikes, shape (time, batch, 20)."""
        raise NotImplementedError

    def step(self, x: Tensor, y: Tensor) -> Tensor:
        """One training step; return the loss (detached)."""
        self.opt.zero_grad(set_to_none=True)
        loss = count_loss(self.run(x).sum(0), y)
        loss.backward()
        self.opt.step()
        return loss.detach()

    def grads(self) -> list[Tensor]:
        """Return ``[dW_1, db_1, ...]`` in the neurodl layout (``dW`` = grad.T)."""
        out = []
        for lin in self.linears():
            out += [lin.weight.grad.T, lin.bias.grad]
        return out


class _Linear:
    """View of a neurodl layer as ``weight`` (n_out, n_in) and ``bias``."""

    def __init__(self, layer: Any) -> None:
        self.weight = layer.W.T  # a view: copying into it writes W
        self.bias = layer.b


class Neurodl(Contender):
    """neurodl's ``SpikingFeedForward`` (fused BPTT)."""

    name = "neurodl"

    def build(self) -> nn.Module:
        """Return the model."""
        return SpikingFeedForward(
            SIZES, tau_mem=TAU_MEM, slope=SLOPE, seed=0, dtype=self.dtype
        )

    def linears(self) -> list[Any]:
        """Return the layers in ``nn.Linear`` layout."""
        return [_Linear(layer) for layer in self.model.lif]

    def run(self, x: Tensor) -> Tensor:
        """Return the output spikes, shape (time, batch, 20)."""
        return self.model(x)

    def grads(self) -> list[Tensor]:
        """Return ``[dW_1, db_1, ...]``, ``dW`` of shape (n_in, n_out)."""
        return [g for layer in self.model.lif for g in (layer.W.grad, layer.b.grad)]


class NeurodlDense(Neurodl):
    """The same network with ``projection="dense"``: no event-driven products."""

    name = "neurodl-dense"

    def build(self) -> nn.Module:
        """Return the model."""
        return SpikingFeedForward(
            SIZES,
            tau_mem=TAU_MEM,
            slope=SLOPE,
            projection="dense",
            seed=0,
            dtype=self.dtype,
        )


class _FastSigmoid(torch.autograd.Function):
    """Heaviside forward, ``1 / (1 + k|x|)^2`` backward: what a user writes."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        ctx.save_for_backward(x)
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        return grad / (SLOPE * x.abs() + 1.0) ** 2


class Plain(Contender):
    """``nn.Linear`` per step and the LIF update written by hand."""

    name = "plain"

    def build(self) -> nn.Module:
        """Return the model."""
        return nn.Sequential(
            nn.Linear(SIZES[0], SIZES[1], dtype=self.dtype),
            nn.Linear(SIZES[1], SIZES[2], dtype=self.dtype),
        )

    def linears(self) -> list[Any]:
        """Return the layers in ``nn.Linear`` layout."""
        return list(self.model)

    def run(self, x: Tensor) -> Tensor:
        """Return the output spikes, shape (time, batch, 20)."""
        fc1, fc2 = self.model
        v1 = x.new_zeros(BATCH, SIZES[1])
        v2 = x.new_zeros(BATCH, SIZES[2])
        z1, z2 = torch.zeros_like(v1), torch.zeros_like(v2)
        out = []
        for t in range(x.shape[0]):
            v1 = BETA * v1 + fc1(x[t]) - z1.detach()
            z1 = _FastSigmoid.apply(v1 - 1.0)
            v2 = BETA * v2 + fc2(z1) - z2.detach()
            z2 = _FastSigmoid.apply(v2 - 1.0)
            out.append(z2)
        return torch.stack(out)


class SnnTorch(Contender):
    """snnTorch: ``nn.Linear`` + ``snn.Leaky`` per step, as in its tutorials."""

    name = "snntorch"

    def build(self) -> nn.Module:
        """Return the model."""
        import snntorch as snn
        from snntorch import surrogate

        beta = torch.tensor(BETA, dtype=self.dtype)
        grad = surrogate.fast_sigmoid(slope=SLOPE)
        return nn.ModuleDict(
            {
                "fc1": nn.Linear(SIZES[0], SIZES[1], dtype=self.dtype),
                "lif1": snn.Leaky(beta=beta, spike_grad=grad),
                "fc2": nn.Linear(SIZES[1], SIZES[2], dtype=self.dtype),
                "lif2": snn.Leaky(beta=beta, spike_grad=grad),
            }
        )

    def linears(self) -> list[Any]:
        """Return the layers in ``nn.Linear`` layout."""
        return [self.model["fc1"], self.model["fc2"]]

    def run(self, x: Tensor) -> Tensor:
        """Return the output spikes, shape (time, batch, 20)."""
        m = self.model
        mem1, mem2 = m["lif1"].reset_mem(), m["lif2"].reset_mem()
        out = []
        for t in range(x.shape[0]):
            spk1, mem1 = m["lif1"](m["fc1"](x[t]), mem1)
            # snnTorch's spikes are float32 whatever the input; a no-op in float32
            spk2, mem2 = m["lif2"](m["fc2"](spk1.to(self.dtype)), mem2)
            out.append(spk2.to(self.dtype))
        return torch.stack(out)


class SpikingJelly(Contender):
    """SpikingJelly: ``layer.Linear`` + ``neuron.LIFNode``, multi-step mode."""

    name = "spikingjelly"

    def build(self) -> nn.Module:
        """Return the model."""
        from spikingjelly.activation_based import layer, neuron, surrogate

        def lif() -> nn.Module:
            return neuron.LIFNode(
                tau=1.0 / (1.0 - BETA),
                decay_input=False,
                v_reset=None,
                surrogate_function=surrogate.ATan(),
                detach_reset=True,
                step_mode="m",
            )

        return nn.Sequential(
            layer.Linear(SIZES[0], SIZES[1], step_mode="m"),
            lif(),
            layer.Linear(SIZES[1], SIZES[2], step_mode="m"),
            lif(),
        )

    def linears(self) -> list[Any]:
        """Return the layers in ``nn.Linear`` layout."""
        return [self.model[0], self.model[2]]

    def run(self, x: Tensor) -> Tensor:
        """Return the output spikes, shape (time, batch, 20)."""
        from spikingjelly.activation_based import functional

        functional.reset_net(self.model)
        out: Tensor = self.model(x)
        return out


class Norse(Contender):
    """Norse: ``nn.Linear`` + ``LIFBoxCell`` per step (SuperSpike surrogate)."""

    name = "norse"

    def build(self) -> nn.Module:
        """Return the model."""
        from norse.torch import LIFBoxCell
        from norse.torch.functional.lif_box import LIFBoxParameters
        from norse.torch.functional.reset import reset_subtract

        dt = 1e-3
        p = LIFBoxParameters(
            tau_mem_inv=torch.as_tensor((1.0 - BETA) / dt),
            method="super",
            alpha=torch.as_tensor(SLOPE),
            reset_method=reset_subtract,
        )
        return nn.ModuleDict(
            {
                "fc1": nn.Linear(SIZES[0], SIZES[1], dtype=self.dtype),
                "lif1": LIFBoxCell(p, dt=dt),
                "fc2": nn.Linear(SIZES[1], SIZES[2], dtype=self.dtype),
                "lif2": LIFBoxCell(p, dt=dt),
            }
        )

    def linears(self) -> list[Any]:
        """Return the layers in ``nn.Linear`` layout."""
        return [self.model["fc1"], self.model["fc2"]]

    def run(self, x: Tensor) -> Tensor:
        """Return the output spikes, shape (time, batch, 20)."""
        m = self.model
        s1 = s2 = None
        out = []
        for t in range(x.shape[0]):
            z1, s1 = m["lif1"](m["fc1"](x[t]), s1)
            z2, s2 = m["lif2"](m["fc2"](z1), s2)
            out.append(z2)
        return torch.stack(out)


CONTENDERS: tuple[type[Contender], ...] = (
    Neurodl,
    NeurodlDense,
    Plain,
    SnnTorch,
    SpikingJelly,
    Norse,
)
SAME_EQUATIONS = ("neurodl-dense", "plain", "snntorch")  # checked against neurodl


def available(names: list[str] | None) -> list[type[Contender]]:
    """Return the contender classes that can be built here.

    A peer that is not installed is left out, with a message.
    """
    out = []
    weights = initial_weights()
    for cls in CONTENDERS:
        if names and cls.name not in names:
            continue
        try:
            cls([(w.float(), b.float()) for w, b in weights], torch.float32)
        except ImportError as exc:
            print(f"  {cls.name}: not available ({exc}); left out")
            continue
        out.append(cls)
    return out


# ---------------------------------------------------------------- equivalence
def check_equivalence(classes: list[type[Contender]]) -> dict[str, dict[str, float]]:
    """Compare every same-equation contender with neurodl; return the differences.

    Float64: spikes must be identical, loss and gradients equal to ``TOL64``
    (relative; else ``SystemExit``). Float32: the differences are only reported.
    """
    report: dict[str, dict[str, float]] = {}
    for dtype in (torch.float64, torch.float32):
        x, y = make_data(dtype)
        weights = [(w.to(dtype), b.to(dtype)) for w, b in initial_weights()]
        runs = {}
        for cls in classes:
            if cls.name != "neurodl" and cls.name not in SAME_EQUATIONS:
                continue
            c = cls(weights, dtype)
            c.opt.zero_grad(set_to_none=True)
            z = c.run(x)
            loss = count_loss(z.sum(0), y)
            loss.backward()
            runs[cls.name] = (z.detach(), loss.detach(), c.grads())
        z0, l0, g0 = runs["neurodl"]
        tag = str(dtype).removeprefix("torch.")
        for name, (z, loss, g) in runs.items():
            if name == "neurodl":
                continue
            d = {
                "spike_mismatches": float((z != z0).sum()),
                "loss_abs_diff": float((loss - l0).abs()),
                "grad_max_rel_diff": max(
                    float((a - b).abs().max() / b.abs().max())
                    for a, b in zip(g, g0, strict=True)
                ),
            }
            report[f"{name}/{tag}"] = d
            print(
                f"  neurodl vs {name} ({tag}): {d['spike_mismatches']:.0f} of "
                f"{z.numel()} output spikes differ, |loss diff| "
                f"{d['loss_abs_diff']:.2g}, max |grad diff| / max |grad| "
                f"{d['grad_max_rel_diff']:.2g}  (loss {float(l0):.6f}, "
                f"{float(z0.sum()):.0f} output spikes)"
            )
            tol = TOL64[name]
            bad = (
                d["spike_mismatches"] > 0
                or d["loss_abs_diff"] > tol * max(1.0, float(l0))
                or d["grad_max_rel_diff"] > tol
            )
            if dtype == torch.float64 and bad:
                raise SystemExit(
                    f"neurodl and {name} disagree in float64 (tolerance {tol}); "
                    "the timing would not compare like with like. Aborting."
                )
    return report


# ---------------------------------------------------------------------- timing
def time_block(step: Callable[[], Tensor], n_steps: int) -> float:
    """Return the seconds per step of ``n_steps`` calls, GC switched off."""
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        for _ in range(n_steps):
            step()
        return (time.perf_counter() - t0) / n_steps
    finally:
        gc.enable()


def benchmark(
    classes: list[type[Contender]], repeats: int, steps_per_block: int, warmup: int
) -> dict[str, list[float]]:
    """Return the ms per step of every repeat, per contender."""
    x, y = make_data()
    weights = [(w.float(), b.float()) for w, b in initial_weights()]
    runs = [cls(weights, torch.float32) for cls in classes]
    hidden_rate = None
    for c in runs:
        time_block(lambda c=c: c.step(x, y), warmup)
        if isinstance(c, Neurodl) and hidden_rate is None:
            with torch.no_grad():
                hidden_rate = float(c.model.lif[0](x).mean())
    print(f"  hidden firing: {hidden_rate:.3f} spikes per neuron and step (neurodl)")
    ms: dict[str, list[float]] = {c.name: [] for c in runs}
    for r in range(repeats):
        shift = r % len(runs)
        for c in runs[shift:] + runs[:shift]:
            c.reset()
            ms[c.name].append(
                1e3 * time_block(lambda c=c: c.step(x, y), steps_per_block)
            )
    return ms


# ---------------------------------------------------------------------- report
def machine() -> dict[str, object]:
    """Return what the numbers depend on: CPU, threads, versions."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = {}
    for pkg in ("torch", "snntorch", "spikingjelly", "norse"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[pkg] = importlib.metadata.version(pkg)
    return {
        "cpu": cpu,
        "nproc": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "versions": versions,
    }


def format_table(ms: dict[str, list[float]]) -> str:
    """Return the medians as a Markdown table, with ratios to neurodl."""
    med = {k: statistics.median(v) for k, v in ms.items()}
    ref = med.get("neurodl")
    rows = [
        "| contender | ms / step (median) | min-max | neurodl / contender |",
        "|---|---:|---:|---:|",
    ]
    for name, m in med.items():
        ratio = f"{ref / m:.2f}x" if ref is not None else "-"
        rows.append(
            f"| {name} | {m:.1f} | {min(ms[name]):.1f}-{max(ms[name]):.1f} | {ratio} |"
        )
    return "\n".join(rows)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    p = argparse.ArgumentParser(
        description="SHD-shaped BPTT training step: neurodl vs. snnTorch, "
        "SpikingJelly, Norse and a plain PyTorch loop (one thread)."
    )
    p.add_argument("--repeats", type=int, default=None, help="default 7 (--quick 3)")
    p.add_argument(
        "--steps", type=int, default=None, help="steps per timed block (default 5)"
    )
    p.add_argument("--json", type=Path, default=None, metavar="PATH")
    p.add_argument("--quick", action="store_true", help="a short smoke run")
    p.add_argument(
        "--only",
        action="append",
        choices=[c.name for c in CONTENDERS],
        help="run only these (neurodl is always included)",
    )
    p.add_argument(
        "--no-venv",
        action="store_true",
        help="run in this interpreter (peers that are not installed are left out)",
    )
    p.add_argument(
        "--rebuild-venv", action="store_true", help="make benchmarks/.venv-snn anew"
    )
    args = p.parse_args(argv)
    if args.repeats is None:
        args.repeats = 3 if args.quick else 7
    if args.steps is None:
        args.steps = 2 if args.quick else 5
    if args.repeats < 1 or args.steps < 1:
        p.error("--repeats and --steps must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Check equivalence, time every contender, print the table; return 0."""
    args = parse_args(argv)
    torch.set_num_threads(1)
    with contextlib.suppress(RuntimeError):
        torch.set_num_interop_threads(1)
    info = machine()
    print(
        f"SHD-shaped training step {'-'.join(map(str, SIZES))}, batch {BATCH}, "
        f"T={STEPS}, input p={P_SPIKE}, float32, Adam; {info['cpu']}, "
        f"{info['torch_threads']} thread(s), {info['versions']}"
    )
    names = None if not args.only else ["neurodl", *args.only]
    classes = available(names)
    print("equivalence (same weights, same input, one forward + backward):")
    equivalence = check_equivalence(classes)
    print(f"timing: {args.repeats} repeats of {args.steps} steps, interleaved")
    ms = benchmark(classes, args.repeats, args.steps, warmup=2 if args.quick else 3)
    print()
    print(format_table(ms))
    med = {k: statistics.median(v) for k, v in ms.items()}
    target = None
    paired: list[float] = []
    if "snntorch" in med:
        ratio = med["neurodl"] / med["snntorch"]
        target = ratio <= 0.5
        # within one repeat the blocks run back to back: less exposed to drift
        paired = [a / b for a, b in zip(ms["neurodl"], ms["snntorch"], strict=True)]
        print(
            f"\nneurodl / snnTorch time: {ratio:.3f} (target <= 0.5): "
            f"{'PASS' if target else 'MISS'}; per repeat "
            f"{min(paired):.3f}-{max(paired):.3f}, median "
            f"{statistics.median(paired):.3f}"
        )
    if args.json is not None:
        payload = {
            "benchmark": "shd_step",
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": info,
            "config": {
                "sizes": SIZES,
                "batch": BATCH,
                "steps": STEPS,
                "p_spike": P_SPIKE,
                "beta": BETA,
                "gains": GAINS,
                "lr": LR,
            },
            "repeats": args.repeats,
            "steps_per_block": args.steps,
            "ms_per_step": ms,
            "median_ms_per_step": med,
            "equivalence": equivalence,
            "paired_ratio_snntorch": paired,
            "target_met": target,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
