"""CUBA and COBA (Brette et al. 2007, doi:10.1007/s10827-007-0038-6).

Both are Vogels & Abbott (2005) random networks of 80% excitatory and 20%
inhibitory LIF neurons, ``p = 80 / N`` (0.02 at N = 4000, about 80 synapses per
neuron), dt 0.1 ms, ``v_th = -50 mV``, ``v_reset = -60 mV``, ``t_ref = 5 ms``,
``tau_mem = 20 ms``, synaptic time constants 5 ms (exc.) and 10 ms (inh.).

* CUBA, as Brian2's ``examples/CUBA.py``: current synapses, ``E_L = -49 mV``,
  weights 1.62 mV and -9 mV, ``v0`` uniform in ``[v_reset, v_th)``, exact
  integration.
* COBA, Brette et al.'s benchmark 1 as Brian's ``examples/COBA.py`` (which early
  Brian2 carried over): ``tau_mem dv/dt = (E_L - v) + ge (E_e - v) + gi (E_i - v)``
  with conductances relative to the leak, ``E_L = -60 mV``, ``E_e = 0 mV``,
  ``E_i = -80 mV``, weights 0.6 and 6.7, no external input: the activity is
  sustained from the initial state ``v0 ~ N(-65, 5) mV``, ``ge0 ~ N(4, 1.5)``,
  ``gi0 ~ N(20, 12)``; forward Euler.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from neurodl._validate import check_int, check_option, check_positive
from neurodl.neurons.lif import LIFParams
from neurodl.simulate.analysis import CV_ISI_UNDEFINED, cv_isi, firing_rate
from neurodl.simulate.connectivity import FixedProbability
from neurodl.simulate.network import (
    ConductanceSynapse,
    CurrentSynapse,
    Network,
    SpikeMonitor,
)

__all__ = ["MODELS", "NetworkRun", "coba", "compile_kernels", "cuba", "run_reference"]

MODELS = ("cuba", "coba")
SYNAPSES_PER_NEURON = 80


def _sizes(n: int) -> tuple[int, int]:
    check_int("n", n, minimum=5)
    n_exc = round(0.8 * n)
    return n_exc, n - n_exc


def cuba(
    n: int = 4000, *, seed: int = 0, dt: float = 0.1, **network: Any
) -> tuple[Network, SpikeMonitor]:
    """Build the CUBA network of ``n`` neurons; return it with a monitor of all spikes.

    ``network`` keywords go to :class:`Network` (``backend``, ``dtype``, ``device``,
    ``batch``). The monitor covers excitatory neurons ``0..0.8n-1`` followed by the
    inhibitory ones (as one group in Brian2's example).
    """
    n_exc, n_inh = _sizes(n)
    net = Network(dt=dt, seed=seed, **network)
    params = LIFParams(tau_mem=20.0, v_rest=-49.0, v_th=-50.0, v_reset=-60.0, t_ref=5.0)
    v0 = ("uniform", -60.0, -50.0)
    exc = net.population(n_exc, params, v0=v0, name="exc")
    inh = net.population(n_inh, params, v0=v0, name="inh")
    e_syn, i_syn = CurrentSynapse(tau=5.0), CurrentSynapse(tau=10.0)
    rule = FixedProbability(min(1.0, SYNAPSES_PER_NEURON / n))
    for post in (exc, inh):
        net.connect(exc, post, rule, e_syn, weight=1.62)
    for post in (exc, inh):
        net.connect(inh, post, rule, i_syn, weight=-9.0)
    return net, _all_spikes(net, exc, inh)


def coba(
    n: int = 4000, *, seed: int = 0, dt: float = 0.1, **network: Any
) -> tuple[Network, SpikeMonitor]:
    """Build the COBA network of ``n`` neurons (see the module docstring)."""
    n_exc, n_inh = _sizes(n)
    net = Network(dt=dt, seed=seed, **network)
    params = LIFParams(tau_mem=20.0, v_rest=-60.0, v_th=-50.0, v_reset=-60.0, t_ref=5.0)
    v0 = ("normal", -65.0, 5.0)
    exc = net.population(n_exc, params, v0=v0, method="euler", name="exc")
    inh = net.population(n_inh, params, v0=v0, method="euler", name="inh")
    e_syn = ConductanceSynapse(tau=5.0, e_rev=0.0)
    i_syn = ConductanceSynapse(tau=10.0, e_rev=-80.0)
    rule = FixedProbability(min(1.0, SYNAPSES_PER_NEURON / n))
    for post in (exc, inh):
        net.connect(exc, post, rule, e_syn, weight=0.6)
    for post in (exc, inh):
        net.connect(inh, post, rule, i_syn, weight=6.7)
    for pop in (exc, inh):
        pop.init_synapse(e_syn, ("normal", 4.0, 1.5))
        pop.init_synapse(i_syn, ("normal", 20.0, 12.0))
    return net, _all_spikes(net, exc, inh)


class _Joined(SpikeMonitor):
    """Spikes of consecutive populations seen as one group."""

    def __init__(self, parts: list[SpikeMonitor], n: int, net: Network) -> None:
        self.parts = parts
        self.n_total = n
        self.net = net

    @property
    def steps(self) -> np.ndarray:
        return np.concatenate([p.steps for p in self.parts])

    @property
    def times(self) -> np.ndarray:
        return self.steps * self.net.dt

    @property
    def indices(self) -> np.ndarray:
        out, off = [], 0
        for p in self.parts:
            out.append(p.indices + off)
            off += p.group.n
        return np.concatenate(out)

    @property
    def trials(self) -> np.ndarray:
        return np.concatenate([p.trials for p in self.parts])

    @property
    def count(self) -> np.ndarray:
        return np.bincount(self.indices, minlength=self.n_total)

    def clear(self) -> None:
        for p in self.parts:
            p.clear()


def _all_spikes(net: Network, *pops: Any) -> SpikeMonitor:
    parts = [net.spike_monitor(p) for p in pops]
    return _Joined(parts, sum(p.n for p in pops), net)


@dataclass
class NetworkRun:
    """Summary of one reference-network run (see :func:`run_reference`)."""

    model: str
    n: int
    seed: int
    duration_ms: float
    backend: str
    n_synapses: int
    n_spikes: int
    rate_hz: float
    cv_isi: float
    setup_seconds: float
    run_seconds: float
    times_ms: np.ndarray = field(repr=False)
    indices: np.ndarray = field(repr=False)

    @property
    def warnings(self) -> dict[str, str]:
        """Statistics undefined for this run, and why (empty when all are defined)."""
        if math.isnan(self.cv_isi):
            return {"cv_isi": CV_ISI_UNDEFINED.format(min_spikes=3, intervals=2)}
        return {}

    def summary(self) -> dict[str, Any]:
        """JSON-ready dict (no spike arrays); ``warnings`` says what is undefined."""
        out = {
            "model": self.model,
            "n": self.n,
            "seed": self.seed,
            "duration_ms": self.duration_ms,
            "backend": self.backend,
            "n_synapses": self.n_synapses,
            "n_spikes": self.n_spikes,
            "rate_hz": self.rate_hz,
            "cv_isi": self.cv_isi,
            "setup_seconds": self.setup_seconds,
            "run_seconds": self.run_seconds,
        }
        if self.warnings:
            out["warnings"] = self.warnings
        return out


def run_reference(
    model: str = "cuba",
    n: int = 4000,
    duration: float = 1000.0,
    *,
    seed: int = 0,
    backend: str = "auto",
    dtype: torch.dtype = torch.float64,
    device: str = "cpu",
    progress: bool | str = "auto",
    distributed: bool = False,
) -> NetworkRun:
    """Build and run CUBA or COBA; report rate, ISI CV and timings.

    ``setup_seconds`` covers building the network (connectivity, initial state) and,
    on the compiled path, loading or compiling the kernel; ``run_seconds`` is the
    simulation loop alone. ``distributed``: split the network over the processes
    of the default ``torch.distributed`` group (:meth:`Network.distribute`); every
    process returns the same result.
    """
    check_option("model", model, MODELS)
    check_positive("duration", duration)
    t0 = time.perf_counter()
    build = cuba if model == "cuba" else coba
    net, mon = build(n, seed=seed, backend=backend, dtype=dtype, device=device)
    if distributed:
        net.distribute()
    net.build()
    resolved = backend
    if backend == "auto":
        resolved = "numba" if torch.device(device).type == "cpu" else "torch"
    if resolved == "numba":
        # compile (or load from the cache) before the clock for the run starts
        compile_kernels((dtype,), grad=False)
    setup = time.perf_counter() - t0
    t1 = time.perf_counter()
    net.run(duration, backend=resolved, progress=progress)
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()
    run_s = time.perf_counter() - t1
    times, idx = mon.times, mon.indices
    return NetworkRun(
        model=model,
        n=n,
        seed=seed,
        duration_ms=float(duration),
        backend=resolved,
        n_synapses=net.n_synapses if net._dist is None else net._dist.n_synapses,
        n_spikes=int(times.size),
        rate_hz=firing_rate(int(times.size), n, duration),
        cv_isi=cv_isi(times, idx, n),
        setup_seconds=setup,
        run_seconds=run_s,
        times_ms=times,
        indices=idx,
    )


def compile_kernels(
    dtypes: tuple[torch.dtype, ...] = (torch.float64,), *, grad: bool = True
) -> float:
    """Compile (or load from numba's cache) the compiled path's kernels; return s.

    The kernels do not depend on the network, so they compile once per machine and
    are cached beside the package (``__pycache__``, or ``NUMBA_CACHE_DIR``). The
    Makefile calls this after installing, so the first simulation does not wait.
    ``grad=False``: only the no-grad kernel. Already loaded kernels cost a
    one-step run of a 100-neuron network.
    """
    t0 = time.perf_counter()
    for dtype in dtypes:
        net, _ = cuba(100, seed=0, dtype=dtype)
        net.run(net.dt, backend="numba", progress=False)
        if not grad:
            continue
        # the compiled gradient path: forward tape and adjoint kernels
        grad_net, grad_mon = cuba(100, seed=0, dtype=dtype)
        grad_net.build()
        grad_net.projections[0].weight.requires_grad_(True)
        grad_net.run(1.0, backend="numba", grad=True)
        spikes = grad_mon.parts[0].spikes  # type: ignore[attr-defined]
        assert spikes is not None
        spikes.sum().backward()
    return time.perf_counter() - t0
