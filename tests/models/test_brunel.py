"""Brunel (2000): the regime statistics, the classifier against NEST, the network.

The classifier's thresholds (``neurodl.models.brunel.THRESHOLDS``) were calibrated
on the four points of Brunel's Fig. 8 run in NEST 3.10 at full size, seed 0
(``tests/reference/brunel_nest.json``); the reduced network of
``brunel_nest_small.json`` (N_E = 2000 with the paper's in-degrees, seeds 0 and 1)
checks that they hold at another size and on a seed they were not fitted to. Both
files were made by ``benchmarks/brunel_sweep.py reference`` (the command is in
each file and in ``tests/reference/README.md``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from neurodl.errors import ValidationError
from neurodl.models.brunel import (
    FIG8,
    check_point,
    classify,
    regime_stats,
    sizes,
)

REF = Path(__file__).resolve().parents[1] / "reference"


def _reference(name: str) -> dict:
    return json.loads((REF / name).read_text())


@pytest.mark.parametrize("name", ["brunel_nest.json", "brunel_nest_small.json"])
def test_nest_runs_of_the_fig8_points_classify_as_the_paper_names_them(name):
    ref = _reference(name)
    assert set(ref["points"]) == set(FIG8)
    for panel, point in ref["points"].items():
        assert (point["g"], point["nu"]) == (FIG8[panel]["g"], FIG8[panel]["nu"])
        for run in point["nest"]:
            assert classify(run) == FIG8[panel]["regime"], (panel, run)


def test_statistics_of_independent_poisson_neurons():
    # closed forms: rate as drawn, ISI CV 1, population variance = mean (chi 1),
    # no modulation, no spectral peak (flat spectrum: ~20 Hz of ~1000 Hz)
    rng = np.random.default_rng(0)
    n, rate, span = 400, 20.0, 20_000.0  # Hz, ms
    counts = rng.poisson(rate * span / 1000.0, size=n)
    idx = np.repeat(np.arange(n), counts)
    t = rng.uniform(0.0, span, size=idx.size)
    st = regime_stats(t, idx, n, 0.0, span)
    assert st["rate_hz"] == pytest.approx(rate, rel=0.01)
    assert st["cv_isi"] == pytest.approx(1.0, abs=0.03)
    assert st["synchrony"] == pytest.approx(1.0, abs=0.05)
    assert st["modulation"] < 0.05
    assert st["peak_power"] < 0.05
    assert classify(st) == "AI"


def test_statistics_of_a_synchronous_regular_population():
    # every neuron fires every 10 ms at the same time: CV 0, a 100 Hz rhythm that
    # holds all the power (with its harmonics within 10 Hz of the peak or not)
    n, span = 100, 2000.0
    times = np.arange(0.0, span, 10.0)
    t = np.tile(times, n)
    idx = np.repeat(np.arange(n), times.size)
    st = regime_stats(t, idx, n, 0.0, span)
    assert st["rate_hz"] == pytest.approx(100.0)
    assert st["cv_isi"] == 0.0
    assert st["synchrony"] == pytest.approx(n * (1 - 1 / 20), rel=1e-9)  # 1 bin in 20
    assert st["f_peak_hz"] % 100.0 == pytest.approx(0.0, abs=4.0)
    assert classify(st) == "SR"


def test_quiet_and_empty_networks():
    st = regime_stats(np.zeros(0), np.zeros(0, int), 10, 0.0, 100.0)
    assert st["rate_hz"] == 0.0 and np.isnan(st["cv_isi"])
    assert classify(st) == "Q"


def test_sizes_and_bad_parameters():
    assert sizes() == {
        "n_exc": 10000,
        "n_inh": 2500,
        "c_exc": 1000,
        "c_inh": 250,
        "nu_thr_hz": 10.0,
    }
    check_point(5.0, 2.0, 10000, 1000, 1200.0, 200.0)
    cases = [
        ((-1.0, 2.0, 10000, 1000, 1200.0, 200.0), "'g' must be a finite number >= 0"),
        ((5.0, float("nan"), 10000, 1000, 1200.0, 200.0), "'nu' must be a finite"),
        ((5.0, 2.0, 2, 1000, 1200.0, 200.0), "'n_exc' must be an integer >= 4"),
        ((5.0, 2.0, 500, 1000, 1200.0, 200.0), r"'c_exc' must be an integer in \[4"),
        ((5.0, 2.0, 10000, 1000, 0.0, 0.0), "'duration' must be > 0 ms"),
        ((5.0, 2.0, 10000, 1000, 100.0, 100.0), "'transient' must be >= 0 ms"),
    ]
    for args, match in cases:
        with pytest.raises(ValidationError, match=match):
            check_point(*args)
