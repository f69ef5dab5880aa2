"""The tour's copy of NEST's scale-0.1 microcircuit rates equals the reference file."""

import json
from pathlib import Path

import pytest

from neurodl.tasks.scale_tour import NEST_RATES_0P1_HZ


def test_nest_rates_are_the_reference_files():
    ref = json.loads(
        (
            Path(__file__).parents[1] / "reference" / "microcircuit_nest_0p1.json"
        ).read_text()
    )
    assert list(NEST_RATES_0P1_HZ) == pytest.approx(ref["rate_mean_hz"], abs=5e-5)
