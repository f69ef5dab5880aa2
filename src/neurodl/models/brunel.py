"""Brunel's (2000) sparse network of excitatory and inhibitory LIF neurons.

Brunel N (2000), "Dynamics of sparsely connected networks of excitatory and
inhibitory spiking neurons", J Comput Neurosci 8:183-208,
doi:10.1023/A:1008925309027. Parameters as in ``shared/notes/SCALE.md`` section 3.1:

* N_E = 10,000 excitatory and N_I = N_E / 4 inhibitory delta-current LIF neurons
  (tau 20 ms, theta 20 mV, V_r 10 mV, tau_rp 2 ms, E_L 0 mV; a spike arriving
  during the refractory period is lost);
* fixed in-degree, eps = 0.1: C_E = 1000 excitatory and C_I = 250 inhibitory
  distinct partners per neuron, PSP jumps J = 0.1 mV and -g J, one delay
  D = 1.5 ms;
* C_ext = C_E external Poisson inputs of weight J per neuron at
  nu_ext = eta nu_thr, nu_thr = theta / (J C_E tau) (10 Hz at full size);
* dt = 0.1 ms; initial V uniform in [0, theta) mV.

``n_exc`` makes smaller networks with the same in-degrees, J and eta (so the same
input statistics per neuron, and a connection probability C_E / N_E above 0.1);
``c_exc`` changes the in-degree (and nu_thr with it).

:func:`run_point` runs one point of the phase diagram and classifies its regime
(:func:`classify`) from the statistics of :func:`regime_stats`: synchronous
regular (SR), synchronous irregular fast or slow (SI-fast, SI-slow),
asynchronous irregular (AI), or quiescent (Q).

The classifier's thresholds (:data:`THRESHOLDS`) were calibrated once on the four
points of Brunel's Fig. 8 (:data:`FIG8`) run in NEST 3.10 at full size
(``tests/reference/brunel_nest.json``) and checked on a reduced network with the
same in-degrees (``brunel_nest_small.json``, two seeds); both made by
``benchmarks/brunel_sweep.py reference``. Brunel's AI point C is not the
textbook "chi = 1": at N = 12,500 its population activity fluctuates strongly
around 100 Hz (chi ~ 80 in 0.5 ms bins) with a broad spectrum, so the classifier
separates the regimes by how *sharp* the spectral peak is (``peak_power``) and by
the slow modulation of the population rate (``modulation``), not by chi alone.

One known difference from NEST: neurodl's delays follow Brian2's rule (a spike in
step k is seen by the integration of step k + d + 1), so a delta-synapse PSP
lands one step (0.1 ms) later than in NEST's ``iaf_psc_delta`` with the same
D. The delay-locked points show it: at the SR point A neurons fire every 3.2
instead of 3.0 ms (312 vs 333 Hz), and B's rhythm is 172 instead of 180 Hz;
with D = 1.4 ms neurodl gives NEST's 333.5 Hz and 180 Hz. The regimes are the
same.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from neurodl._validate import check_option
from neurodl.errors import ValidationError

__all__ = [
    "FIG8",
    "REGIMES",
    "THRESHOLDS",
    "build",
    "check_point",
    "classify",
    "regime_stats",
    "run_point",
    "sizes",
    "sweep_job",
]

THETA_MV = 20.0
TAU_MS = 20.0
V_RESET_MV = 10.0
T_REF_MS = 2.0
J_MV = 0.1
DELAY_MS = 1.5
DT_MS = 0.1

REGIMES = ("SR", "SI-fast", "SI-slow", "AI", "Q")
"""Regime labels: synchronous regular, synchronous irregular fast/slow,
asynchronous irregular, quiescent."""

FIG8: dict[str, dict[str, Any]] = {
    "A": {"g": 3.0, "nu": 2.0, "regime": "SR"},
    "B": {"g": 6.0, "nu": 4.0, "regime": "SI-fast"},
    "C": {"g": 5.0, "nu": 2.0, "regime": "AI"},
    "D": {"g": 4.5, "nu": 0.9, "regime": "SI-slow"},
}
"""The four panels of Brunel's Fig. 8: inhibition ratio g, eta = nu_ext / nu_thr."""

THRESHOLDS = {
    "rate_quiescent_hz": 0.1,
    "cv_regular": 0.3,
    "chi_sync": 10.0,
    "peak_sync": 0.25,
    "modulation_slow": 0.6,
    "f_fast_hz": 60.0,
}
"""Classifier thresholds (see :func:`classify`), calibrated on :data:`FIG8`."""

BIN_MS = 0.5
"""Bin of the population activity for the synchrony index and the spectrum, ms."""
SLOW_BIN_MS = 10.0
"""Bin of the population activity for its slow modulation, ms."""


def regime_stats(
    times_ms: np.ndarray,
    indices: np.ndarray,
    n: int,
    t_start_ms: float,
    t_stop_ms: float,
    *,
    bin_ms: float = BIN_MS,
    slow_bin_ms: float = SLOW_BIN_MS,
    nperseg: int = 512,
) -> dict[str, float]:
    """Return the statistics the regime classifier uses, in ``[t_start, t_stop)``.

    Parameters
    ----------
    times_ms, indices : array_like, shape (n_spikes,)
        Spike times (ms) and neuron indices (0 .. n-1) of all ``n`` neurons.
    n : int
        Number of neurons.
    t_start_ms, t_stop_ms : float
        Analysis window (drop the initial transient).
    bin_ms : float
        Bin of the population spike count for ``synchrony`` and the spectrum.
    slow_bin_ms : float
        Bin for ``modulation`` (slow oscillations).
    nperseg : int
        Welch segment length in bins (512 bins of 0.5 ms: 3.9 Hz resolution).

    Returns
    -------
    dict
        ``rate_hz``: mean over neurons. ``cv_isi``: mean ISI CV over the neurons
        with >= 3 spikes (NaN if none). ``synchrony``: variance of the
        population spike count per ``bin_ms`` over its mean (1 for independent
        Poisson neurons). ``modulation``: the relative modulation of the
        population rate in ``slow_bin_ms`` bins beyond Poisson noise,
        ``sqrt(max(var - mean, 0)) / mean`` of the count (0 for a constant
        rate; about N-independent). ``f_peak_hz``: frequency of the largest
        peak of the population count's power spectrum above 2 Hz.
        ``peak_power``: the fraction of the spectrum's power (above 2 Hz) within
        10 Hz of that peak (a sharp oscillation: large; a broad spectrum: small).
    """
    t = np.asarray(times_ms, dtype=np.float64)
    idx = np.asarray(indices, dtype=np.int64)
    keep = (t >= t_start_ms) & (t < t_stop_ms)
    t, idx = t[keep], idx[keep]
    span_ms = t_stop_ms - t_start_ms
    counts = np.bincount(idx, minlength=n)
    rate = float(counts.sum() / n / (span_ms / 1000.0))
    order = np.lexsort((t, idx))
    ts, ids = t[order], idx[order]
    isi = np.diff(ts)
    same = ids[1:] == ids[:-1]
    isi, owner = isi[same], ids[1:][same]
    k = np.bincount(owner, minlength=n).astype(np.float64)
    s1 = np.bincount(owner, weights=isi, minlength=n)
    s2 = np.bincount(owner, weights=isi * isi, minlength=n)
    ok = k >= 2  # >= 3 spikes
    if ok.any():
        mean = s1[ok] / k[ok]
        var = np.maximum(s2[ok] / k[ok] - mean * mean, 0.0)
        cv = float(np.mean(np.sqrt(var) / mean))
    else:
        cv = math.nan
    nan = math.nan
    out = {
        "rate_hz": rate,
        "cv_isi": cv,
        "synchrony": nan,
        "modulation": nan,
        "f_peak_hz": nan,
        "peak_power": nan,
    }
    if t.size == 0:
        return out

    def binned(width: float) -> np.ndarray:
        n_bins = max(1, int(span_ms // width))
        pos = ((t - t_start_ms) // width).astype(np.int64)
        return np.bincount(pos[pos < n_bins], minlength=n_bins).astype(np.float64)

    pop = binned(bin_ms)
    mean_count = pop.mean()
    out["synchrony"] = float(pop.var() / mean_count)
    slow = binned(slow_bin_ms)
    out["modulation"] = float(
        math.sqrt(max(slow.var() - slow.mean(), 0.0)) / slow.mean()
    )
    from scipy.signal import welch

    f, psd = welch(pop - mean_count, fs=1000.0 / bin_ms, nperseg=min(nperseg, pop.size))
    band = f > 2.0
    total = psd[band].sum()
    if total > 0:
        i = int(np.argmax(np.where(band, psd, -np.inf)))
        near = band & (np.abs(f - f[i]) <= 10.0)
        out["f_peak_hz"] = float(f[i])
        out["peak_power"] = float(psd[near].sum() / total)
    return out


def classify(
    stats: dict[str, float], thresholds: dict[str, float] | None = None
) -> str:
    """Return the regime of a network from :func:`regime_stats`' statistics.

    Rules, in order (thresholds from :data:`THRESHOLDS`):

    1. ``rate_hz < rate_quiescent_hz``: ``"Q"`` (quiescent);
    2. ``cv_isi < cv_regular`` and ``synchrony >= chi_sync``: ``"SR"``
       (regular neurons firing together);
    3. ``modulation >= modulation_slow``: ``"SI-slow"`` (the population rate
       swings by a large fraction of its mean over tens of ms; membrane-time-
       constant-controlled);
    4. ``peak_power >= peak_sync`` and ``f_peak_hz >= f_fast_hz``: ``"SI-fast"``
       (a sharp delay-controlled oscillation);
    5. otherwise ``"AI"``.

    >>> classify({"rate_hz": 38.0, "cv_isi": 0.4, "synchrony": 81.0,
    ...           "modulation": 0.14, "f_peak_hz": 105.0, "peak_power": 0.12})
    'AI'
    """
    th = dict(THRESHOLDS if thresholds is None else thresholds)
    rate, cv, f_peak = stats["rate_hz"], stats["cv_isi"], stats["f_peak_hz"]
    peak, mod = stats["peak_power"], stats["modulation"]
    if not rate >= th["rate_quiescent_hz"]:
        return "Q"
    sharp = peak >= th["peak_sync"]  # False for NaN
    together = stats["synchrony"] >= th["chi_sync"]
    if together and not cv >= th["cv_regular"]:  # NaN CV: no neuron fired 3 times
        return "SR"
    if mod >= th["modulation_slow"]:
        return "SI-slow"
    if sharp and f_peak >= th["f_fast_hz"]:
        return "SI-fast"
    return "AI"


def check_point(
    g: float, nu: float, n_exc: int, c_exc: int, duration: float, transient: float
) -> None:
    """Check one point's parameters (ms, counts); raise ValidationError naming one."""
    for name, value in (("g", g), ("nu", nu)):
        if not (
            isinstance(value, (int, float)) and math.isfinite(value) and value >= 0
        ):
            raise ValidationError(
                f"{name!r} must be a finite number >= 0; got {value!r}."
            )
    if isinstance(n_exc, bool) or not isinstance(n_exc, int) or n_exc < 4:
        raise ValidationError(f"'n_exc' must be an integer >= 4; got {n_exc!r}.")
    if isinstance(c_exc, bool) or not isinstance(c_exc, int) or not 4 <= c_exc <= n_exc:
        raise ValidationError(
            f"'c_exc' must be an integer in [4, n_exc = {n_exc}]; got {c_exc!r}."
        )
    if not (math.isfinite(duration) and duration > 0):
        raise ValidationError(f"'duration' must be > 0 ms; got {duration!r}.")
    if not (math.isfinite(transient) and 0 <= transient < duration - 10 * BIN_MS):
        raise ValidationError(
            f"'transient' must be >= 0 ms and leave at least {10 * BIN_MS:g} ms of "
            f"'duration' ({duration:g} ms); got {transient!r}."
        )


def sizes(n_exc: int = 10000, c_exc: int = 1000) -> dict[str, Any]:
    """Return N_E, N_I, C_E, C_I and nu_thr (Hz) of a network.

    N_I = N_E / 4 and C_I = C_E / 4; nu_thr = theta / (J C_E tau) (10 Hz with
    C_E = 1000). A smaller ``n_exc`` with the paper's C_E = 1000 keeps every
    neuron's input statistics (so the mean-field rates) and raises the
    connection probability C_E / N_E above 0.1.

    >>> sizes()
    {'n_exc': 10000, 'n_inh': 2500, 'c_exc': 1000, 'c_inh': 250, 'nu_thr_hz': 10.0}
    """
    c_i = max(1, c_exc // 4)
    nu_thr = THETA_MV / (J_MV * c_exc * TAU_MS) * 1000.0
    return {
        "n_exc": n_exc,
        "n_inh": n_exc // 4,
        "c_exc": c_exc,
        "c_inh": c_i,
        "nu_thr_hz": nu_thr,
    }


def build(
    g: float,
    nu: float,
    *,
    seed: int = 0,
    n_exc: int = 10000,
    c_exc: int = 1000,
    backend: str = "auto",
) -> tuple[Any, Any, Any]:
    """Build the network at inhibition ratio ``g`` and drive ``nu`` = eta.

    Returns ``(net, exc, inh)``: the :class:`neurodl.simulate.Network` and the two
    populations (spike monitors on both as ``exc.monitor`` / ``inh.monitor``).
    """
    from neurodl.neurons import LIFParams
    from neurodl.simulate import DeltaSynapse, FixedInDegree, Network

    s = sizes(n_exc, c_exc)
    params = LIFParams(
        tau_mem=TAU_MS, v_rest=0.0, v_th=THETA_MV, v_reset=V_RESET_MV, t_ref=T_REF_MS
    )
    net = Network(dt=DT_MS, seed=seed, backend=backend)
    v0 = ("uniform", 0.0, THETA_MV)
    exc = net.population(s["n_exc"], params, v0=v0, name="E")
    inh = net.population(s["n_inh"], params, v0=v0, name="I")
    for post in (exc, inh):
        net.connect(
            exc,
            post,
            FixedInDegree(s["c_exc"]),
            DeltaSynapse(),
            weight=J_MV,
            delay=DELAY_MS,
        )
        net.connect(
            inh,
            post,
            FixedInDegree(s["c_inh"]),
            DeltaSynapse(),
            weight=-g * J_MV,
            delay=DELAY_MS,
        )
        net.poisson_input(
            post,
            n=s["c_exc"],
            rate=nu * s["nu_thr_hz"],
            weight=J_MV,
            synapse=DeltaSynapse(),
        )
    return net, exc, inh


def run_point(
    g: float,
    nu: float,
    seed: int = 0,
    duration: float = 1200.0,
    *,
    transient: float = 200.0,
    n_exc: int = 10000,
    c_exc: int = 1000,
    backend: str = "auto",
    thresholds: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Simulate one point (``g``, ``nu`` = nu_ext / nu_thr) and classify its regime.

    Parameters
    ----------
    g : float
        Relative strength of inhibition (J_I = -g J).
    nu : float
        External drive eta = nu_ext / nu_thr.
    seed : int
        Seed of connectivity, initial state and Poisson input.
    duration : float
        Simulated time in ms.
    transient : float
        Initial ms left out of the statistics.
    n_exc : int
        Excitatory neurons (10,000 in the paper); N_I = n_exc / 4.
    c_exc : int
        Excitatory in-degree C_E (1000 in the paper); C_I = C_E / 4.
    backend : str
        Engine path (``"auto"``, ``"numba"``, ``"torch"``).

    Returns
    -------
    dict
        The statistics of :func:`regime_stats`, ``regime``, the parameters,
        spike count and run time (s).
    """
    check_point(g, nu, n_exc, c_exc, duration, transient)
    check_option("backend", backend, ("auto", "numba", "torch"))
    t0 = time.perf_counter()
    net, exc, inh = build(g, nu, seed=seed, n_exc=n_exc, c_exc=c_exc, backend=backend)
    mon_e = net.spike_monitor(exc)
    mon_i = net.spike_monitor(inh)
    net.run(duration, progress=False)
    t1 = time.perf_counter()
    n = exc.n + inh.n
    times = np.concatenate([mon_e.times, mon_i.times])
    idx = np.concatenate([mon_e.indices, mon_i.indices + exc.n])
    stats = regime_stats(times, idx, n, transient, duration)
    out: dict[str, Any] = {
        "g": float(g),
        "nu": float(nu),
        "seed": int(seed),
        "duration_ms": float(duration),
        "transient_ms": float(transient),
        **sizes(n_exc, c_exc),
        **stats,
        "regime": classify(stats, thresholds),
        "n_spikes": int(times.size),
        "run_s": t1 - t0,
    }
    why = _undefined(stats)
    if why:
        out["warnings"] = why
    return out


def _undefined(stats: dict[str, float]) -> dict[str, str]:
    """Say why each undefined (NaN) statistic is undefined (JSON ``warnings``)."""
    why: dict[str, str] = {}
    if math.isnan(stats["cv_isi"]):
        why["cv_isi"] = "no neuron fired 3 or more spikes in the analysis window"
    spectral = ("synchrony", "modulation", "f_peak_hz", "peak_power")
    for key in spectral:
        if math.isnan(stats[key]):
            why[key] = (
                "no spikes in the analysis window"
                if stats["rate_hz"] == 0
                else "the population activity has no fluctuation to analyse"
            )
    return why


def sweep_job(params: dict[str, Any], seed: int) -> dict[str, Any]:
    """Run one sweep point: :func:`run_point` (``params``: g, nu and its options).

    The job of ``neurodl sweep brunel`` (:func:`neurodl.jobs.run_jobs`); the run
    time is left out so that a point's stored result depends only on its
    parameters and seed.
    """
    p = dict(params)
    res = run_point(
        p.pop("g"),
        p.pop("nu"),
        seed,
        p.pop("duration", 1200.0),
        transient=p.pop("transient", 200.0),
        n_exc=int(p.pop("n_exc", 10000)),
        c_exc=int(p.pop("c_exc", 1000)),
        backend=p.pop("backend", "auto"),
    )
    if p:
        raise ValidationError(f"unknown Brunel sweep parameters: {sorted(p)}.")
    res.pop("run_s")
    return res
