"""One network simulated across processes (``torch.distributed``), same spikes.

Each process owns a contiguous block of LIF neurons of about equal expected work
(:func:`balanced_partition`: the neurons' steps and Poisson draws, and the
synaptic events onto them from each source population's ``expected_rate_hz``,
a hint a model sets where it knows its rates), and only the synapses onto them
(the restricted build,
``Network._build((lo, hi))``, which draws exactly those targets' synapses in the
order of a full build). Spike sources and the initial state are drawn in full on
every process, from the network's seed, so they do not depend on ``P``.

Usage, inside processes started by ``torchrun`` (or :func:`launch`)::

    import torch.distributed as dist
    from neurodl.simulate.distributed import init
    init("gloo", timeout_s=300)               # "nccl" between GPUs: that line only
    net = build_my_network()                  # the same calls on every process
                                              # (NCCL: device="cuda:<rank>")
    mon = net.spike_monitor(pop)
    net.distribute()                          # before the first run / build
    net.run(1000.0)                           # every process: the global spikes
    if dist.get_rank() == 0:
        print(mon.times, mon.indices)

or, from one process, :func:`launch` starts ``procs`` local processes with a gloo
group on 127.0.0.1 and returns rank 0's result (the CLI's ``--procs N``)::

    launch("mypackage.mymodule:simulate", procs=2, kwargs={"n": 4000})

Exchange window. A spike in step ``k`` with delay ``d`` steps reaches its
target's synaptic variable at the end of step ``k + d`` (the integration of step
``k + d + 1`` sees it). With ``d_min`` the smallest delay of the network (in
steps, over all processes), no spike of steps ``k0 .. k0 + d_min`` can change an
integration of those steps: the earliest lands at the end of step ``k0 + d_min``.
So a window of ``W = d_min + 1`` steps runs without communication, provided the
window's spikes are propagated in its last step before that step's ring slot is
added to the synaptic variables: every process integrates its neurons through the
window (all ring slots but the last consumed as usual), then one ``all_gather``
collects every process's spikes of the window, and every process propagates
all of them, in global (step, neuron id) order (sources after the LIF neurons
of the same step, as in one process) onto its own synapses, and finishes the last
step. ``d_min = 0`` (zero delays, Brian2's CUBA) means one exchange per step; the
microcircuit's 0.1 ms minimum gives 2 steps per exchange; Brunel's 1.5 ms, 16.
Pulling (no plasticity; :mod:`neurodl.simulate._delivery`), a process adds the
arrivals from the spikes before the window at the window's last step and at the
next window's first (one stream per spike: ``pull_two``) while the others finish
their window, and only the window's own spikes after the exchange: a process that
is behind by less than that work keeps none waiting.

Why the spikes are the same for any ``P``: connectivity, weights, delays are
keyed by target block, Poisson-input counts by (input, neuron, step), sources and
the initial state are drawn in full everywhere; and each target adds its inputs
in the single-process order (per ring slot: by spike step, then presynaptic id,
then the row's synapse order), so every floating-point sum is the same. Both
engine paths (compiled numba, torch tensors) keep their own single-process
results (the tests compare ``P = 1, 2, 3`` with the plain run byte for byte).

Transport (``Network.distribute(exchange=...)``). ``"gloo"``: the group's
``all_gather`` of fixed-size int64 tensors (``[count, codes...]``; a window with
more spikes than the buffer holds is resent with a larger one, NEST's scheme);
with an NCCL group the buffers live on the GPU. ``"shm"``: processes on one
x86-64 machine publish their spikes in ``/dev/shm`` instead
(:mod:`neurodl.simulate._shm_exchange`; a gloo ``all_gather`` costs ~0.3 ms here,
more than a window of the 10 %-scale microcircuit computes). ``"auto"``
(default): shm where every process is on this machine, else the group's
collective. The compiled path runs whole windows in one kernel with the shm
exchange inside (spin on an atomic flag, then yield the CPU); the tensor path
and gloo exchange window by window from Python. No pickle-based collective is
used. Every process's spike monitors
get the global record (the exchanged spikes are all spikes), in the
single-process order.

Failures: collectives time out after ``init(timeout_s=)`` (the shm wait after
``NEURODL_DIST_TIMEOUT`` s, default 300), and :func:`launch` stops the other
processes as soon as one fails, so nothing waits forever.

Not supported on a distributed run (a clear error): state monitors, plasticity,
``grad=True``, ``batch > 1``.
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from neurodl._validate import check_int, check_positive
from neurodl.errors import NeurodlError, ValidationError

if TYPE_CHECKING:
    from neurodl.simulate.network import Network

__all__ = [
    "Distributed",
    "check_procs",
    "init",
    "launch",
    "partition",
    "run_command",
]

DEFAULT_TIMEOUT_S = 300.0
_NO_SYNAPSE_WINDOW = 1000  # steps per exchange when nothing needs exchanging


def partition(n: int, procs: int) -> list[tuple[int, int]]:
    """Return the contiguous neuron block ``[lo, hi)`` of each of ``procs`` ranks.

    >>> partition(10, 3)
    [(0, 3), (3, 6), (6, 10)]
    """
    check_int("procs", procs, minimum=1)
    if procs > n:
        raise ValidationError(
            f"'procs': a partition needs at most one process per neuron; got "
            f"{procs} processes for {n} neurons."
        )
    return [(r * n // procs, (r + 1) * n // procs) for r in range(procs)]


@dataclass
class Distributed:
    """The process group of a distributed network and this process's block."""

    group: Any
    rank: int
    world: int
    device: torch.device  # where the exchange buffers live (cuda for NCCL)
    lo: int = 0
    hi: int = 0
    d_min: int = 0
    max_delay: int = 0
    n_synapses: int = 0  # over all processes
    cap: int = 256  # exchange buffer capacity (codes per process)
    largest: int = 0  # neurons of the largest block (set by the build)
    exchange_seconds: float = 0.0
    windows: int = 0
    transport: str = "auto"  # "auto", "gloo" (the group's collective) or "shm"
    timeout_s: float = DEFAULT_TIMEOUT_S
    shm: Any = None  # _shm_exchange.ShmExchange during a run
    extra: dict[str, Any] = field(default_factory=dict)

    # ----------------------------------------------------------- collectives
    def _all_reduce(self, x: int, op: str) -> int:
        if self.world == 1:
            return x
        import torch.distributed as dist

        t = torch.tensor([x], dtype=torch.int64, device=self.device)
        dist.all_reduce(t, op=getattr(dist.ReduceOp, op), group=self.group)
        return int(t.item())

    def exchange(self, codes: np.ndarray) -> np.ndarray:
        """All-gather every process's int64 ``codes``; return them, rank by rank."""
        if self.world == 1:
            return codes
        import torch.distributed as dist

        t0 = time.perf_counter()
        if self.shm is not None:
            out: np.ndarray = self.shm.exchange(codes)
            self.exchange_seconds += time.perf_counter() - t0
            self.windows += 1
            return out
        n = codes.size
        while True:
            cap = self.cap
            buf = torch.zeros(cap + 1, dtype=torch.int64)
            buf[0] = n
            m = min(n, cap)
            buf[1 : 1 + m] = torch.from_numpy(codes[:m])
            buf = buf.to(self.device)
            outs = [torch.empty_like(buf) for _ in range(self.world)]
            dist.all_gather(outs, buf, group=self.group)
            parts = [o.cpu().numpy() for o in outs]
            largest = max(int(p[0]) for p in parts)
            if largest <= cap:
                break
            self.cap = max(2 * cap, largest)  # every process grows it alike
        self.exchange_seconds += time.perf_counter() - t0
        self.windows += 1
        return np.concatenate([p[1 : 1 + int(p[0])] for p in parts])


def _group_info(group: Any) -> tuple[int, int, torch.device]:
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        raise ValidationError(
            "'distribute': no torch.distributed process group; start the "
            "processes with torchrun (or neurodl.simulate.distributed.launch) and "
            "call torch.distributed.init_process_group first."
        )
    rank = dist.get_rank(group)
    world = dist.get_world_size(group)
    backend = dist.get_backend(group)
    device = torch.device("cpu")
    if backend == "nccl":  # untested here (no two GPUs): buffers on this GPU
        device = torch.device("cuda", torch.cuda.current_device())
    return rank, world, device


TRANSPORTS = ("auto", "gloo", "shm")


def attach(
    net: Network, group: Any = None, procs: int | None = None, exchange: str = "auto"
) -> Distributed:
    """Partition ``net`` over ``group`` (see :meth:`Network.distribute`)."""
    from neurodl._validate import check_option

    check_option("exchange", exchange, TRANSPORTS)
    if net.built:
        raise ValidationError(
            "'distribute' must be called before the network is built (before "
            "its first run or build())."
        )
    rank, world, device = _group_info(group)
    if procs is not None and check_int("procs", procs, minimum=1) != world:
        raise ValidationError(
            f"'procs' ({procs}) does not match the world size of the process "
            f"group ({world})."
        )
    n = sum(p.n for p in net.populations)
    lo, hi = partition(n, world)[rank] if n else (0, 0)
    if any(p.plasticity is not None for p in net.projections):
        _unsupported("plasticity", "a projection has plasticity")
    if net.state_monitors:
        _unsupported("state_monitor", "the network has state monitors")
    if net.batch != 1:
        _unsupported("batch", f"batch {net.batch}")
    timeout_s = float(os.environ.get("NEURODL_DIST_TIMEOUT", DEFAULT_TIMEOUT_S))
    out = Distributed(group, rank, world, device, lo, hi)
    out.transport, out.timeout_s = exchange, timeout_s
    return out


def _unsupported(option: str, what: str) -> None:
    raise ValidationError(
        f"'{option}' is not supported on a distributed run ({what}); run it on "
        "one process."
    )


# The work of a block, in ns per simulated second (full-scale microcircuit on the
# 2-core development machine, 1 process, dt 0.1 ms, float64): a neuron's step
# with its ring row landing (DC drive: 1.0 + 0.3 s per s for 77,169 neurons), a
# Poisson input's draw per neuron and step (Poisson minus DC drive: 2.4 s per s),
# a delivered synaptic event (4.2 s per s for 9.7e8 events); a population
# without ``expected_rate_hz`` is taken to fire at DEFAULT_RATE_HZ.
STEP_NS, POISSON_NS, EVENT_NS = 1.7, 3.1, 4.4
DEFAULT_RATE_HZ = 3.0


def _in_degree(proj: Any) -> np.ndarray:
    """Return the expected number of synapses of ``proj`` onto each target."""
    from neurodl.simulate.connectivity import (
        Explicit,
        FixedInDegree,
        FixedProbability,
        FixedTotalNumber,
    )

    rule, pre, post = proj.rule, proj.pre, proj.post
    out = np.zeros(post.n)
    if isinstance(rule, FixedTotalNumber):
        out += rule.n / post.n
    elif isinstance(rule, FixedInDegree):
        out += rule.k
    elif isinstance(rule, FixedProbability):
        out += rule.p * pre.n
    elif isinstance(rule, Explicit):
        j = np.asarray(rule.array("j"), np.int64)
        out += np.bincount(j[(j >= 0) & (j < post.n)], minlength=post.n)
    return out


def _starts(net: Network) -> tuple[dict[int, int], int]:
    """Each population's first index (as the build will set it), and the total."""
    start, n = {}, 0
    for pop in net.populations:
        start[pop.index] = n
        n += pop.n
    return start, n


def expected_in_degree(net: Network) -> np.ndarray:
    """Return the expected number of synapses onto each LIF neuron (rules only)."""
    start, n = _starts(net)
    out = np.zeros(n)
    for proj in net.projections:
        out[start[proj.post.index] : start[proj.post.index] + proj.post.n] += (
            _in_degree(proj)
        )
    return out


def expected_cost(net: Network) -> np.ndarray:
    """Return each LIF neuron's expected work, ns per simulated second.

    Its steps (:data:`STEP_NS`), its Poisson inputs' draws (:data:`POISSON_NS`)
    and the synaptic events onto it (:data:`EVENT_NS`): each projection's
    expected in-degree times its source's ``expected_rate_hz`` (default
    :data:`DEFAULT_RATE_HZ`).
    """
    start, n = _starts(net)
    steps = 1000.0 / net.dt
    per_step = np.full(n, STEP_NS)
    for inp in net.poisson_inputs:
        per_step[start[inp.pop.index] : start[inp.pop.index] + inp.pop.n] += POISSON_NS
    out = per_step * steps
    for proj in net.projections:
        rate = getattr(proj.pre, "expected_rate_hz", None)
        if rate is None:
            rate = DEFAULT_RATE_HZ
        elif (
            isinstance(rate, bool)
            or not isinstance(rate, int | float)
            or not (math.isfinite(rate) and rate >= 0)
        ):
            raise ValidationError(
                f"'expected_rate_hz' of population {proj.pre.name!r} must be a "
                f"finite rate >= 0 (Hz) or None; got {rate!r}."
            )
        out[start[proj.post.index] : start[proj.post.index] + proj.post.n] += (
            EVENT_NS * rate * _in_degree(proj)
        )
    return out


def balanced_partition(net: Network, procs: int) -> list[tuple[int, int]]:
    """Contiguous blocks of about equal work (:func:`expected_cost`).

    Blocks split the cumulative expected work evenly (each at least one
    neuron). Only speed depends on it: the spikes are the same for any partition.
    """
    n = sum(p.n for p in net.populations)
    partition(n, procs)  # the same checks
    cost = expected_cost(net)
    cum = np.concatenate(([0.0], np.cumsum(cost)))
    cuts = [0]
    for r in range(1, procs):
        c = int(np.searchsorted(cum, cum[-1] * r / procs))
        cuts.append(min(max(c, cuts[-1] + 1), n - (procs - r)))
    cuts.append(n)
    return [(cuts[r], cuts[r + 1]) for r in range(procs)]


def build(net: Network, dist_: Distributed) -> None:
    """Build the owned block and agree on delays and synapse counts."""
    if dist_.world > 1:
        blocks = balanced_partition(net, dist_.world)
        dist_.lo, dist_.hi = blocks[dist_.rank]
        dist_.largest = max(hi - lo for lo, hi in blocks)
    net._build((dist_.lo, dist_.hi))
    local_min = int(net._dly.min()) if net._dly.size else 2**62
    dist_.d_min = dist_._all_reduce(local_min, "MIN")
    dist_.max_delay = dist_._all_reduce(net.max_delay, "MAX")
    dist_.n_synapses = dist_._all_reduce(net.n_synapses, "SUM")
    if dist_.max_delay != net.max_delay:  # the global ring length, as one process
        from neurodl.simulate._tables import widen_groups

        net.max_delay = dist_.max_delay
        net._ring = np.zeros((dist_.max_delay + 1, net.n_g), net._ring.dtype)
        widen_groups(net, dist_.max_delay + 1)


def window_steps(dist_: Distributed) -> int:
    """Return the steps per exchange: ``d_min + 1`` (no synapses: a fixed chunk)."""
    if dist_.d_min >= 2**62:
        return _NO_SYNAPSE_WINDOW
    return dist_.d_min + 1


def run(
    net: Network,
    n_steps: int,
    backend: str,
    show: bool,
    grad: bool,
    propagation: str,
) -> None:
    """Advance a distributed ``net`` by ``n_steps`` (called by Network.run)."""
    dist_ = net._dist
    assert dist_ is not None
    if grad:
        _unsupported("grad", "grad=True")
    if net.state_monitors:
        _unsupported("state_monitor", "the network has state monitors")
    from neurodl.simulate import _dist_runner, _shm_exchange

    if dist_.world > 1 and dist_.transport != "gloo" and dist_.device.type == "cpu":
        ok = _shm_exchange.usable(dist_.group, dist_.world)
        if not ok and dist_.transport == "shm":
            raise ValidationError(
                "'exchange': 'shm' needs every process on this x86-64 Linux "
                "machine (with /dev/shm); use 'gloo' or 'auto'."
            )
        if ok:
            block = max(dist_.largest, dist_.hi - dist_.lo)  # the largest block
            dist_.shm = _shm_exchange.ShmExchange(
                dist_.group,
                dist_.rank,
                dist_.world,
                window_steps(dist_) * block + 1,
                dist_.timeout_s,
            )
    try:
        if backend == "numba":
            _dist_runner.run_numba_windows(net, dist_, n_steps, show)
        else:
            _dist_runner.run_torch_windows(net, dist_, n_steps, show, propagation)
    finally:
        if dist_.shm is not None:
            shm, dist_.shm = dist_.shm, None
            shm.close()


# ----------------------------------------------------------------- launching
def init(backend: str = "gloo", timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
    """Initialise the default process group from torchrun's environment.

    ``backend``: ``"gloo"`` (CPUs) or ``"nccl"`` (one GPU per process). A
    collective that waits longer than ``timeout_s`` fails, so a process that dies
    does not leave the others waiting forever.
    """
    import torch.distributed as dist

    check_positive("timeout_s", timeout_s)
    if dist.is_initialized():
        return
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend, timeout=timedelta(seconds=timeout_s))


def check_procs(
    procs: int, n_neurons: int, *, option: str = "--procs", device: str = "cpu"
) -> int:
    """Validate a ``--procs`` value for a network of ``n_neurons``; return it.

    For commands: one clear error naming ``option`` for a count below 1, more
    processes than neurons, or a device other than the CPU (``launch`` starts
    gloo processes).
    """
    check_int(option, procs, minimum=1)
    if procs > n_neurons:
        raise ValidationError(
            f"'{option}': a partition needs at most one process per neuron; got "
            f"{procs} processes for {n_neurons} neurons."
        )
    if procs > 1 and torch.device(device).type != "cpu":
        raise ValidationError(
            f"'{option}' starts local CPU processes (gloo); got device {device!r} "
            f"(between GPUs: torchrun with init('nccl'))."
        )
    return procs


def _resolve(target: str) -> Any:
    """Return the function named by ``"module:function"`` or ``"file.py:function"``."""
    import importlib

    module, name = target.rsplit(":", 1)
    if module.endswith(".py"):  # a script, by its path
        import importlib.util

        spec = importlib.util.spec_from_file_location("_neurodl_target", module)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    else:
        mod = importlib.import_module(module)
    return getattr(mod, name)


def run_command(
    target: str,
    procs: int,
    kwargs: dict[str, Any],
    n_neurons: int,
    *,
    device: str = "cpu",
    local: dict[str, Any] | None = None,
    option: str = "--procs",
) -> Any:
    """Run ``target`` here or on ``procs`` processes (a command's ``--procs``).

    Validates ``procs`` first (:func:`check_procs`: nothing runs or is written
    on a bad value). ``procs == 1``: ``target(**kwargs, **local,
    distributed=False)`` in this process; else :func:`launch` runs
    ``target(**kwargs, distributed=True)`` on ``procs`` processes and rank 0's
    result is returned. ``target`` builds its network, calls
    ``net.distribute()`` when ``distributed`` (before the first run), and
    returns a JSON-serialisable result (rank 0 writes any file).
    """
    check_procs(procs, n_neurons, option=option, device=device)
    if procs == 1:
        return _resolve(target)(**kwargs, **(local or {}), distributed=False)
    return launch(target, procs, {**kwargs, "distributed": True})


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def launch(
    target: str,
    procs: int,
    kwargs: dict[str, Any] | None = None,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    threads: int = 1,
) -> Any:
    """Run ``target(**kwargs)`` in ``procs`` local processes; return rank 0's result.

    Parameters
    ----------
    target : str
        ``"package.module:function"``, importable in a fresh interpreter (or
        ``"path/to/script.py:function"``); it runs
        with the default process group initialised (gloo on 127.0.0.1) and
        returns a JSON-serialisable value (rank 0's is returned; JSON, never
        pickle, carries ``kwargs`` and the result).
    procs : int
        Number of processes (>= 1).
    timeout_s : float
        Limit of each collective and of the whole launch, in s: a process that
        fails makes the launcher stop the others, and a hang ends with an error.
    threads : int
        Threads per process (``OMP_NUM_THREADS``, torch's intra-op threads).

    A :class:`~neurodl.errors.NeurodlError` raised in a process is raised here
    with its message (so the CLI prints one clear line).
    """
    check_int("procs", procs, minimum=1)
    check_positive("timeout_s", timeout_s)
    if ":" not in target:
        raise ValidationError(f"'target' must be 'module:function'; got {target!r}.")
    kwargs = {} if kwargs is None else kwargs
    payload = json.dumps(kwargs)
    port = _free_port()
    src_root = str(Path(__file__).resolve().parents[2])
    with tempfile.TemporaryDirectory(prefix="neurodl-dist-") as tmp:
        env = dict(os.environ)
        env.update(
            MASTER_ADDR="127.0.0.1",
            MASTER_PORT=str(port),
            WORLD_SIZE=str(procs),
            GLOO_SOCKET_IFNAME="lo",
            OMP_NUM_THREADS=str(threads),
            NEURODL_DIST_TIMEOUT=str(timeout_s),
            PYTHONPATH=os.pathsep.join(
                [src_root, *filter(None, [env.get("PYTHONPATH")])]
            ),
        )
        children = []
        for r in range(procs):
            env_r = dict(env, RANK=str(r), LOCAL_RANK=str(r))
            err = open(Path(tmp) / f"stderr{r}.txt", "wb")  # noqa: SIM115
            cmd = [
                sys.executable,
                "-c",
                "from neurodl.simulate.distributed import _worker; _worker()",
                target,
                payload,
                str(Path(tmp) / f"out{r}.json"),
                str(threads),
            ]
            children.append(
                (
                    subprocess.Popen(
                        cmd, env=env_r, stdin=subprocess.DEVNULL, stderr=err
                    ),
                    err,
                )
            )
        failed = _wait(children, timeout_s)
        for _, err in children:
            err.close()
        if failed is not None:
            _raise_failure(tmp, failed, procs)
        with open(Path(tmp) / "out0.json", encoding="utf-8") as f:
            return json.load(f)["result"]


def _wait(children: list[tuple[subprocess.Popen[bytes], Any]], timeout_s: float) -> Any:
    """Wait for every child; on a failure or the deadline, stop the others."""
    deadline = time.monotonic() + timeout_s
    failed: Any = None
    while True:
        codes = [p.poll() for p, _ in children]
        bad = [r for r, c in enumerate(codes) if c not in (None, 0)]
        if bad:
            failed = bad[0]
            break
        if all(c == 0 for c in codes):
            return None
        if time.monotonic() > deadline:
            failed = "timeout"
            break
        time.sleep(0.02)
    for p, _ in children:  # only the processes this call started
        if p.poll() is None:
            p.terminate()
    for p, _ in children:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return failed


def _raise_failure(tmp: str, failed: Any, procs: int) -> None:
    if failed == "timeout":
        raise ValidationError(
            f"'procs': the {procs} processes did not finish within the timeout."
        )
    err_file = Path(tmp) / f"out{failed}.json.error"
    if err_file.exists():
        info = json.loads(err_file.read_text(encoding="utf-8"))
        raise ValidationError(info["message"])
    tail = (Path(tmp) / f"stderr{failed}.txt").read_text(errors="replace")[-2000:]
    raise RuntimeError(f"process {failed} of {procs} failed:\n{tail}")


def _worker() -> None:
    """Entry point of a process started by :func:`launch` (argv: see there)."""
    import torch.distributed as dist

    target, payload, out, threads = sys.argv[1:5]
    torch.set_num_threads(int(threads))
    rank = int(os.environ["RANK"])
    try:
        init("gloo", float(os.environ.get("NEURODL_DIST_TIMEOUT", DEFAULT_TIMEOUT_S)))
        result = _resolve(target)(**json.loads(payload))
    except NeurodlError as e:
        with open(out + ".error", "w", encoding="utf-8") as f:
            json.dump({"type": type(e).__name__, "message": str(e)}, f)
        sys.exit(3)
    if rank == 0:
        with open(out + ".tmp", "w", encoding="utf-8") as f:
            json.dump({"result": result}, f)
        os.replace(out + ".tmp", out)
    dist.destroy_process_group()
