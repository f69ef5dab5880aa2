r"""The cortical microcircuit of Potjans & Diesmann (2014), at any scale.

Potjans T. C. & Diesmann M. (2014), "The cell-type specific cortical microcircuit:
relating structure and activity in a full-scale spiking network model", Cerebral
Cortex 24:785-806, doi:10.1093/cercor/bhs358. The parameter values are those of the
paper as NEST's former example ``pynest/examples/Potjans_2014`` sets them (the
"optimized" initial conditions, the 2022 full-scale reference rates used by the
scaling compensation); they are published facts, repeated here as tables. No code
of NEST's example or of the ``microcircuit`` package is used.

Model
-----
* 8 populations (L2/3, L4, L5, L6; excitatory E and inhibitory I) of ``iaf_psc_exp``
  neurons: C_m 250 pF, tau_m 10 ms, E_L = V_reset = -65 mV, V_th -50 mV,
  t_ref 2 ms, one exponential synaptic current with tau_syn 0.5 ms. neurodl's
  current synapses carry ``R I`` in mV, so a current of ``I`` pA is
  ``I * tau_m / C_m = 0.04 I`` mV (:data:`MV_PER_PA`).
* ``fixed_total_number`` connectivity: ``Q = ln(1 - C) / ln(1 - 1/(N_pre N_post))``
  synapses per projection (sources and targets drawn with replacement:
  multapses and autapses), 298,880,968 in all at full scale.
* Weights: mean PSP 0.15 mV (87.81 pA), inhibitory g = -4, L4E -> L23E doubled;
  normal with relative sd 0.1, redrawn until the sign is right. Delays: normal,
  1.5 ms (E) / 0.75 ms (I), sd half the mean, redrawn below the minimum.
* Background: Poisson, K_ext inputs per neuron at 8 Hz each with the excitatory
  weight (neurodl draws a binomial count per step, Brian2's ``PoissonInput``), or
  the DC of the same mean, ``8 Hz * K_ext * w_ext * tau_syn``.
* Scaling (NEST's ``N_scaling``/``K_scaling``): N by ``scale``, synapse counts and
  K_ext by ``scale * k_scale``, weights by ``1/sqrt(k_scale)``, plus the DC
  ``0.001 tau_syn (1 - sqrt(k_scale)) (sum_x w K nu_x + w_ext K_ext 8 Hz)`` that
  restores the full-scale mean input (with the full-scale NEST rates
  :data:`FULL_MEAN_RATES_HZ`).

One difference from NEST's model: the Poisson background is a binomial count of
K_ext inputs at 8 Hz per step (NEST: a Poisson train per target from one
``poisson_generator`` per population); the variances differ by the factor
``1 - rate * dt`` = 0.9992. Delays are redrawn below 0.05 ms and rounded half up to
the 0.1 ms grid, as NEST does, so the shortest is one step.

Example
-------
>>> from neurodl.models import potjans_diesmann as pd
>>> int(pd.N_FULL.sum()), int(pd.synapse_counts().sum())
(77169, 298880968)
>>> round(pd.weight_e_pa(), 2)
87.81
"""

from __future__ import annotations

import gc
import math
import resource
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neurodl._validate import check_int, check_option
from neurodl.errors import ValidationError

__all__ = [
    "POPULATIONS",
    "Microcircuit",
    "MicrocircuitResult",
    "Tables",
    "build",
    "population_stats",
    "run",
    "synapse_counts",
    "tables",
    "weight_e_pa",
]

# ------------------------------------------------------------------ parameter tables
POPULATIONS = ("L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I")
#: neurons per population at full scale
N_FULL = np.array([20683, 5834, 21915, 5479, 4850, 1065, 14395, 2948])
#: external (Poisson background) in-degree per population
K_EXT = np.array([1600, 1500, 2100, 1900, 2000, 1900, 2900, 2100], dtype=float)
#: "optimized" initial membrane potential, mean and sd (mV)
V0_MEAN_MV = np.array([-68.28, -63.16, -63.33, -63.45, -63.11, -61.66, -66.72, -61.43])
V0_SD_MV = np.array([5.36, 4.57, 4.74, 4.94, 4.94, 4.55, 5.46, 4.48])
#: connection probability C[target, source] (rows and columns in POPULATIONS order)
CONN_PROB = np.array(
    [  # L23E    L23I    L4E     L4I     L5E     L5I     L6E     L6I     <- source
        [0.1009, 0.1689, 0.0437, 0.0818, 0.0323, 0.0, 0.0076, 0.0],  # L23E
        [0.1346, 0.1371, 0.0316, 0.0515, 0.0755, 0.0, 0.0042, 0.0],  # L23I
        [0.0077, 0.0059, 0.0497, 0.135, 0.0067, 0.0003, 0.0453, 0.0],  # L4E
        [0.0691, 0.0029, 0.0794, 0.1597, 0.0033, 0.0, 0.1057, 0.0],  # L4I
        [0.1004, 0.0622, 0.0505, 0.0057, 0.0831, 0.3726, 0.0204, 0.0],  # L5E
        [0.0548, 0.0269, 0.0257, 0.0022, 0.06, 0.3158, 0.0086, 0.0],  # L5I
        [0.0156, 0.0066, 0.0211, 0.0166, 0.0572, 0.0197, 0.0396, 0.2252],  # L6E
        [0.0364, 0.001, 0.0034, 0.0005, 0.0277, 0.008, 0.0658, 0.1443],  # L6I
    ]
)
#: full-scale NEST rates (Hz; 4 threads, 2022) used by the scaling compensation
FULL_MEAN_RATES_HZ = np.array([0.903, 2.965, 4.414, 5.876, 7.569, 8.633, 1.105, 7.829])
#: thalamic population: size, rate (Hz) and window (ms), C[target, thalamus]
N_THAL, THAL_RATE_HZ, THAL_START_MS, THAL_DURATION_MS = 902, 120.0, 700.0, 10.0
CONN_PROB_THAL = np.array([0.0, 0.0, 0.0983, 0.0619, 0.0, 0.0, 0.0512, 0.0196])

C_M_PF, TAU_M_MS, TAU_SYN_MS = 250.0, 10.0, 0.5
E_L_MV, V_TH_MV, V_RESET_MV, T_REF_MS = -65.0, -50.0, -65.0, 2.0
PSP_E_MV, G, BG_RATE_HZ, W_REL_SD = 0.15, -4.0, 8.0, 0.1
DELAY_E_MS, DELAY_I_MS, DELAY_REL_SD, DELAY_MIN_MS = 1.5, 0.75, 0.5, 0.05
DELAY_EXT_MS = 1.5
MV_PER_PA = TAU_M_MS / C_M_PF  # R*I in mV per pA
DT_MS = 0.1
CC_SEED, CC_BIN_MS = 20140, 2.0  # sample of correlation neurons (as the NEST runner)
DRIVES = ("poisson", "dc")


def weight_e_pa() -> float:
    """Return the excitatory PSC amplitude (pA) of a 0.15 mV PSP peak.

    The PSP-peak formula of an exponential current onto ``iaf_psc_exp``
    (Hanuschkin et al. 2010): 585.39 pA per mV, so 87.81 pA.
    """
    sub = 1.0 / (TAU_SYN_MS - TAU_M_MS)
    pre = TAU_M_MS * TAU_SYN_MS / C_M_PF * sub
    frac = (TAU_M_MS / TAU_SYN_MS) ** sub
    return PSP_E_MV / (pre * (frac**TAU_M_MS - frac**TAU_SYN_MS))


def _q_full() -> np.ndarray:
    n = N_FULL.astype(float)
    with np.errstate(divide="ignore"):
        return np.log(1.0 - CONN_PROB) / np.log(1.0 - 1.0 / np.outer(n, n))


def synapse_counts(scale: float = 1.0, k_scale: float | None = None) -> np.ndarray:
    """Return the synapse count Q[target, source] (int64) of the scaled model.

    ``Q = ln(1 - C) / ln(1 - 1/(N_pre N_post))`` at full scale, times
    ``scale * k_scale``, rounded.
    """
    k = scale if k_scale is None else k_scale
    return np.round(_q_full() * scale * k).astype(np.int64)


@dataclass(frozen=True)
class Tables:
    """The numbers of one scaled model (all arrays in :data:`POPULATIONS` order).

    Attributes
    ----------
    scale, k_scale : float
        Neuron and in-degree scaling.
    n : ndarray of int, shape (8,)
        Neurons per population.
    q : ndarray of int64, shape (8, 8)
        Synapses per projection, ``q[target, source]``.
    w_pa : ndarray, shape (8, 8)
        Mean weight (pA) of each projection, already divided by ``sqrt(k_scale)``.
    k_ext : ndarray, shape (8,)
        Poisson inputs per neuron.
    w_ext_pa : float
        Weight of a Poisson input (pA).
    dc_pa : ndarray, shape (8,)
        Constant current per population (pA): the scaling compensation, plus the
        background itself with ``drive="dc"``.
    """

    scale: float
    k_scale: float
    drive: str
    n: np.ndarray
    q: np.ndarray
    w_pa: np.ndarray
    k_ext: np.ndarray
    w_ext_pa: float
    dc_pa: np.ndarray

    @property
    def n_synapses(self) -> int:
        """Total number of recurrent synapses."""
        return int(self.q.sum())


def _check_scale(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"{name!r} must be a number in (0, 1]; got {value!r}.")
    if not (math.isfinite(value) and 0.0 < value <= 1.0):
        raise ValidationError(f"{name!r} must lie in (0, 1]; got {value!r}.")
    return float(value)


def tables(
    scale: float = 1.0, k_scale: float | None = None, drive: str = "poisson"
) -> Tables:
    """Return the :class:`Tables` of the model at ``scale`` (neurons) and ``k_scale``.

    ``k_scale`` defaults to ``scale`` (NEST's example scales both). Weights in pA.
    """
    scale = _check_scale("scale", scale)
    k = scale if k_scale is None else _check_scale("k_scale", k_scale)
    check_option("drive", drive, DRIVES)
    w_e = weight_e_pa()
    w = np.tile([w_e, G * w_e], (8, 4))
    w[0, 2] = 2.0 * w_e  # L4E -> L23E doubled
    q_full = _q_full()
    k_full = q_full / N_FULL[:, None]
    rec_full = (w * k_full * FULL_MEAN_RATES_HZ[None, :]).sum(axis=1)
    ext_full = w_e * K_EXT * BG_RATE_HZ
    dc = 0.001 * TAU_SYN_MS * (1.0 - math.sqrt(k)) * (rec_full + ext_full)
    k_ext = K_EXT * k
    w_ext = w_e / math.sqrt(k)
    if drive == "dc":
        dc = dc + 0.001 * TAU_SYN_MS * BG_RATE_HZ * k_ext * w_ext
    n = np.maximum(np.round(N_FULL * scale).astype(np.int64), 1)
    return Tables(
        scale,
        k,
        drive,
        n,
        synapse_counts(scale, k),
        w / math.sqrt(k),
        k_ext,
        float(w_ext),
        dc,
    )


# ----------------------------------------------------------------------- building
@dataclass
class Microcircuit:
    """A built microcircuit: the network, its populations and monitors.

    Attributes
    ----------
    net : neurodl.simulate.Network
    populations : list of Population
        In :data:`POPULATIONS` order.
    monitors : list of SpikeMonitor
        One per population (empty with ``record=False``).
    tables : Tables
    construction_s : float
        Wall time of :func:`build` (populations, projections, inputs), s.
    """

    net: Any
    populations: list[Any]
    monitors: list[Any]
    tables: Tables
    construction_s: float = 0.0
    thalamus: Any = None


def _thalamic_spikes(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Draw the thalamic spikes: each neuron fires in each step with p = rate * dt."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, N_THAL]))
    n_steps = round(THAL_DURATION_MS / DT_MS)
    fired = rng.random((n_steps, N_THAL)) < THAL_RATE_HZ * DT_MS / 1000.0
    step, idx = np.nonzero(fired)
    return THAL_START_MS + step * DT_MS, idx


def build(
    scale: float = 1.0,
    k_scale: float | None = None,
    *,
    drive: str = "poisson",
    thalamic: bool = False,
    seed: int = 55,
    backend: str = "auto",
    dtype: Any = None,
    device: str = "cpu",
    record: bool = True,
) -> Microcircuit:
    """Build the microcircuit as a :class:`neurodl.simulate.Network` (dt 0.1 ms).

    Parameters
    ----------
    scale : float
        Fraction of the neurons, in (0, 1].
    k_scale : float, optional
        Fraction of the in-degrees, in (0, 1] (default ``scale``).
    drive : {"poisson", "dc"}
        Background input.
    thalamic : bool
        Add the thalamic pulse (902 neurons at 120 Hz from 700 ms for 10 ms).
    seed : int
        Seed of connectivity, initial state and Poisson input.
    backend, dtype, device
        As :class:`neurodl.simulate.Network` (dtype default ``torch.float64``).
    record : bool
        Add a spike monitor to every population.
    """
    t0 = time.perf_counter()
    tab = tables(scale, k_scale, drive)
    check_int("seed", seed, minimum=0)
    import torch

    from neurodl.neurons import LIFParams
    from neurodl.simulate import (
        CurrentSynapse,
        FixedTotalNumber,
        Network,
        Normal,
    )

    net = Network(
        dt=DT_MS,
        seed=seed,
        dtype=torch.float64 if dtype is None else dtype,
        device=device,
        backend=backend,
    )
    params = LIFParams(
        tau_mem=TAU_M_MS,
        v_rest=E_L_MV,
        v_th=V_TH_MV,
        v_reset=V_RESET_MV,
        t_ref=T_REF_MS,
    )
    pops, syns = [], []
    for p, name in enumerate(POPULATIONS):
        pops.append(
            net.population(
                int(tab.n[p]),
                params,
                i_ext=float(tab.dc_pa[p] * MV_PER_PA),
                v0=("normal", float(V0_MEAN_MV[p]), float(V0_SD_MV[p])),
                name=name,
            )
        )
        # weighs its outgoing synapses' work when the network is distributed
        pops[-1].expected_rate_hz = float(FULL_MEAN_RATES_HZ[p])
        syns.append(CurrentSynapse(tau=TAU_SYN_MS))
    for t in range(8):
        for s in range(8):
            if tab.q[t, s] <= 0:
                continue
            exc = s % 2 == 0
            w_mv = float(tab.w_pa[t, s] * MV_PER_PA)
            d = DELAY_E_MS if exc else DELAY_I_MS
            net.connect(
                pops[s],
                pops[t],
                FixedTotalNumber(
                    int(tab.q[t, s]), allow_autapses=True, allow_multapses=True
                ),
                syns[t],
                weight=Normal(  # redrawn until the sign is right (NEST)
                    w_mv,
                    abs(w_mv) * W_REL_SD,
                    low=0.0 if exc else -math.inf,
                    high=math.inf if exc else 0.0,
                ),
                delay=Normal(d, d * DELAY_REL_SD, low=DELAY_MIN_MS),
                name=f"{POPULATIONS[s]}->{POPULATIONS[t]}",
            )
    if drive == "poisson":
        for p in range(8):
            k_ext = max(round(float(tab.k_ext[p])), 1)
            net.poisson_input(
                pops[p],
                n=k_ext,
                rate=BG_RATE_HZ * float(tab.k_ext[p]) / k_ext,
                weight=tab.w_ext_pa * MV_PER_PA,
                synapse=syns[p],
            )
    thal = None
    if thalamic:
        times, idx = _thalamic_spikes(seed)
        thal = net.spike_source(N_THAL, times, idx, name="thalamus")
        w_mv = weight_e_pa() / math.sqrt(tab.k_scale) * MV_PER_PA
        for t in range(8):
            if CONN_PROB_THAL[t] <= 0:
                continue
            q_full = math.log(1.0 - CONN_PROB_THAL[t]) / math.log(
                1.0 - 1.0 / (N_THAL * N_FULL[t])
            )
            q = round(q_full * tab.scale * tab.k_scale)
            if q > 0:
                net.connect(
                    thal,
                    pops[t],
                    FixedTotalNumber(q),
                    syns[t],
                    weight=Normal(w_mv, w_mv * W_REL_SD, low=0.0),
                    delay=Normal(
                        DELAY_E_MS, DELAY_E_MS * DELAY_REL_SD, low=DELAY_MIN_MS
                    ),
                    name=f"thalamus->{POPULATIONS[t]}",
                )
    mons = [net.spike_monitor(p) for p in pops] if record else []
    return Microcircuit(net, pops, mons, tab, time.perf_counter() - t0, thal)


# ---------------------------------------------------------------------- statistics
def cc_sample(n: int, size: int) -> np.ndarray:
    """Return the sorted indices of the ``size`` neurons whose correlations count.

    Drawn by ``numpy.random.default_rng(20140)``, as the NEST reference runner does,
    so both simulators measure the same neurons.
    """
    rng = np.random.default_rng(CC_SEED)
    return np.sort(rng.choice(n, size=min(size, n), replace=False))


def population_stats(
    times_ms: np.ndarray,
    indices: np.ndarray,
    n: int,
    t0_ms: float,
    t1_ms: float,
    cc_n: int = 100,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return per-neuron spike counts, ISI CVs and sampled pairwise correlations.

    Only spikes in ``[t0_ms, t1_ms)`` count. CVs are of neurons with > 2 spikes;
    correlations are Pearson coefficients of spike counts in 2 ms bins over the
    :func:`cc_sample` neurons that spiked (upper triangle).
    """
    times_ms = np.asarray(times_ms, dtype=np.float64)
    indices = np.asarray(indices, dtype=np.int64)
    keep = (times_ms >= t0_ms) & (times_ms < t1_ms)
    times_ms, indices = times_ms[keep], indices[keep]
    counts = np.bincount(indices, minlength=n)
    order = np.lexsort((times_ms, indices))
    t, i = times_ms[order], indices[order]
    same = i[1:] == i[:-1]
    isi, owner = np.diff(t)[same], i[1:][same]
    cnt = np.bincount(owner, minlength=n).astype(float)
    s1 = np.bincount(owner, isi, minlength=n)
    s2 = np.bincount(owner, isi * isi, minlength=n)
    ok = counts > 2
    mean = s1[ok] / cnt[ok]
    cv = np.sqrt(np.maximum(s2[ok] / cnt[ok] - mean * mean, 0.0)) / mean
    sample = cc_sample(n, cc_n)
    nb = max(round((t1_ms - t0_ms) / CC_BIN_MS), 1)
    pos = np.full(n, -1)
    pos[sample] = np.arange(sample.size)
    sel = pos[indices] >= 0
    b = np.clip(((times_ms[sel] - t0_ms) / CC_BIN_MS).astype(np.int64), 0, nb - 1)
    mat = np.zeros((sample.size, nb))
    np.add.at(mat, (pos[indices[sel]], b), 1.0)
    good = mat.std(axis=1) > 0
    if good.sum() > 1:
        c = np.corrcoef(mat[good])
        cc = c[np.triu_indices(c.shape[0], 1)]
    else:
        cc = np.zeros(0)
    return counts, cv, cc


# ---------------------------------------------------------------------------- run
@dataclass
class MicrocircuitResult:
    """Statistics and timing of one microcircuit run.

    Rates in Hz over the recorded window (after the discarded presimulation); CV and
    correlation as :func:`population_stats`. ``setup_s`` covers construction and
    the network build (connectivity, kernels); ``run_s`` is the recorded window's
    wall time and ``rtf`` = ``run_s`` / simulated seconds; ``peak_rss_mb`` is the
    process's peak resident memory (``ru_maxrss``).
    """

    scale: float
    k_scale: float
    drive: str
    seed: int
    duration_ms: float
    presim_ms: float
    n: list[int]
    n_synapses: int
    setup_s: float
    presim_s: float
    run_s: float
    peak_rss_mb: float
    backend: str
    rates_hz: list[float] = field(default_factory=list)
    cv_mean: list[float] = field(default_factory=list)
    cc_mean: list[float] = field(default_factory=list)
    counts: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    cv: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    cc: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    spikes: dict[str, tuple[np.ndarray, np.ndarray]] = field(
        default_factory=dict, repr=False
    )

    @property
    def rtf(self) -> float:
        """Real-time factor: wall seconds per simulated second."""
        return self.run_s / (self.duration_ms / 1000.0)

    def summary(self) -> dict[str, Any]:
        """Return a JSON-ready dict (undefined statistics are NaN)."""
        pops = {
            name: {
                "n": self.n[p],
                "rate_hz": self.rates_hz[p] if self.rates_hz else math.nan,
                "cv_isi": self.cv_mean[p] if self.cv_mean else math.nan,
                "correlation": self.cc_mean[p] if self.cc_mean else math.nan,
            }
            for p, name in enumerate(POPULATIONS)
        }
        return {
            "model": "potjans_diesmann_2014",
            "scale": self.scale,
            "k_scale": self.k_scale,
            "drive": self.drive,
            "seed": self.seed,
            "duration_ms": self.duration_ms,
            "presim_ms": self.presim_ms,
            "backend": self.backend,
            "n_neurons": int(sum(self.n)),
            "n_synapses": self.n_synapses,
            "populations": pops,
            "setup_s": self.setup_s,
            "presim_s": self.presim_s,
            "run_s": self.run_s,
            "real_time_factor": self.rtf,
            "peak_memory_mb": self.peak_rss_mb,
        }


def _mean(x: np.ndarray) -> float:
    return float(np.mean(x)) if x.size else math.nan


def run(
    duration: float = 1000.0,
    scale: float = 1.0,
    *,
    k_scale: float | None = None,
    drive: str = "poisson",
    thalamic: bool = False,
    seed: int = 55,
    presim: float = 500.0,
    backend: str = "auto",
    dtype: Any = None,
    device: str = "cpu",
    record: bool = True,
    cc_sample_size: int = 100,
    progress: bool | str = False,
    distributed: bool = False,
) -> MicrocircuitResult:
    """Build the microcircuit, simulate ``presim`` + ``duration`` ms, measure it.

    Parameters
    ----------
    duration : float
        Recorded window in ms, a positive multiple of dt (0.1 ms).
    presim : float
        Simulated first and discarded (ms, a multiple of dt, may be 0).
    record : bool
        ``False``: no monitors (benchmarks); only timing and memory are returned.
    distributed : bool
        Split the network over the processes of the default process group
        (:meth:`neurodl.simulate.Network.distribute`); every process returns
        the same statistics (the spikes are those of a single process).
    """
    for name, value, strict in (
        ("duration", duration, True),
        ("presim", presim, False),
    ):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValidationError(f"{name!r} must be a number of ms; got {value!r}.")
        steps = value / DT_MS
        if (
            not math.isfinite(value)
            or (value <= 0 if strict else value < 0)
            or abs(steps - round(steps)) > 1e-9 * max(1.0, steps)
        ):
            raise ValidationError(
                f"{name!r} must be a {'positive' if strict else 'non-negative'} "
                f"multiple of dt ({DT_MS} ms); got {value!r}."
            )
    check_int("cc_sample_size", cc_sample_size, minimum=2)
    # a finished network is cyclic garbage (its projections and monitors point
    # back at it), freed only at a full collection: collect earlier runs' now,
    # before this one builds (about 4 GB each at full scale)
    gc.collect()
    mc = build(
        scale,
        k_scale,
        drive=drive,
        thalamic=thalamic,
        seed=seed,
        backend=backend,
        dtype=dtype,
        device=device,
        record=record,
    )
    net = mc.net
    if distributed:
        net.distribute()
    t0 = time.perf_counter()
    net.build()
    setup_s = mc.construction_s + (time.perf_counter() - t0)
    t0 = time.perf_counter()
    if presim > 0:
        net.run(float(presim), progress=progress)
    presim_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    net.run(float(duration), progress=progress)
    run_s = time.perf_counter() - t0
    tab = mc.tables
    res = MicrocircuitResult(
        tab.scale,
        tab.k_scale,
        tab.drive,
        seed,
        float(duration),
        float(presim),
        [int(x) for x in tab.n],
        tab.n_synapses,
        setup_s,
        presim_s,
        run_s,
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        backend,
    )
    t_end = float(presim) + float(duration)
    for p, name in enumerate(POPULATIONS if record else ()):
        mon = mc.monitors[p]
        times, idx = mon.times, mon.indices
        counts, cv, cc = population_stats(
            times, idx, int(tab.n[p]), float(presim), t_end, cc_sample_size
        )
        res.rates_hz.append(float(counts.mean() / (duration / 1000.0)))
        res.cv_mean.append(_mean(cv))
        res.cc_mean.append(_mean(cc))
        res.counts[name], res.cv[name], res.cc[name] = counts, cv, cc
        res.spikes[name] = (times, idx)
    # the run is over: drop the kept weight copy (2.4 GB at full scale), which
    # would otherwise live as long as the network (a loop over seeds keeps
    # earlier networks until they are collected)
    net._w_cache = None
    return res
