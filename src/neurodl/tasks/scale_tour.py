"""The tour's brain-scale chapter: the cortical microcircuit and Brunel's phase diagram.

* Potjans & Diesmann's (2014) microcircuit at scale 0.1 (7,717 neurons, ~3 million
  synapses, Poisson background), 500 ms discarded and 1 s recorded, its
  per-population rates beside NEST 3.10's mean over 4 seeds of the same model
  (:data:`NEST_RATES_0P1_HZ`, from ``tests/reference/microcircuit_nest_0p1.json``,
  which a test holds this copy to).
* Brunel's (2000) sparse network on a coarse 4 x 4 grid of inhibition ``g`` and
  drive ``nu = nu_ext / nu_thr`` through :func:`neurodl.jobs.run_jobs` (two local
  Dask workers), each point's regime classified by
  :func:`neurodl.models.brunel.classify`. The network is N_E = 2000 with the
  paper's in-degrees (C_E = 1000, C_I = 250), 500 ms per point: smaller than the
  paper's 10,000, so the borders are coarse, but the four regimes appear where
  Brunel's Fig. 2 puts them.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["BRUNEL_GRID", "NEST_RATES_0P1_HZ", "brunel_summary", "microcircuit_summary"]

NEST_RATES_0P1_HZ = (0.4819, 2.1352, 4.0076, 5.0300, 6.7233, 7.8113, 0.8497, 7.0319)
"""NEST 3.10's mean rate per population (L23E ... L6I) of the scale-0.1 model.

Poisson drive, 4 seeds x 5 s after 500 ms (``tests/reference/
microcircuit_nest_0p1.json``, made by ``benchmarks/peer_runners/
nest_microcircuit.py``), rounded to 4 decimals."""

BRUNEL_GRID = {"g": [3.0, 4.5, 6.0, 7.5], "nu": [1.0, 2.0, 3.0, 4.0]}
"""The tour's coarse (g, nu) grid."""

_BRUNEL_COMMON = {"n_exc": 2000, "c_exc": 1000, "duration": 500.0, "transient": 100.0}


def microcircuit_summary(out: Path) -> dict[str, Any]:
    """Run the scale-0.1 microcircuit, draw it into ``out``; return the figures."""
    from neurodl.models import potjans_diesmann as pd
    from neurodl.viz import save_microcircuit

    res = pd.run(1000.0, 0.1, presim=500.0, drive="poisson", seed=55)
    fig = save_microcircuit(
        res,
        out / "microcircuit.png",
        reference_hz=NEST_RATES_0P1_HZ,
        reference_label="NEST 3.10",
    )
    rel = [
        r / ref - 1.0 for r, ref in zip(res.rates_hz, NEST_RATES_0P1_HZ, strict=True)
    ]
    return {
        "figure": fig.name,
        "populations": list(pd.POPULATIONS),
        "n_neurons": sum(res.n),
        "n_synapses": res.n_synapses,
        "rates_hz": [round(r, 3) for r in res.rates_hz],
        "nest_rates_hz": list(NEST_RATES_0P1_HZ),
        "max_relative_difference": round(max(abs(x) for x in rel), 4),
        "setup_s": round(res.setup_s, 2),
        "run_s": round(res.run_s, 2),
        "real_time_factor": round(res.rtf, 2),
    }


def brunel_summary(out: Path) -> dict[str, Any]:
    """Sweep the coarse Brunel grid on two local workers; draw the phase diagram."""
    from neurodl.jobs import grid, run_jobs
    from neurodl.models.brunel import sweep_job
    from neurodl.viz import save_phase_diagram

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        doc = run_jobs(
            sweep_job,
            grid(**BRUNEL_GRID),
            common=_BRUNEL_COMMON,
            out=tmp,
            n_jobs=2,
        )
    seconds = time.perf_counter() - t0
    fig = save_phase_diagram(
        doc, BRUNEL_GRID["g"], BRUNEL_GRID["nu"], out / "brunel_phase.png"
    )
    points = [
        {
            "g": p["params"]["g"],
            "nu": p["params"]["nu"],
            "regime": p["result"]["regime"],
            "rate_hz": round(p["result"]["rate_hz"], 2),
        }
        for p in doc["points"]
    ]
    return {
        "figure": fig.name,
        "points": points,
        "network": dict(_BRUNEL_COMMON),
        "seconds": round(seconds, 2),
    }
