import pytest

from neurodl.tasks import sweep_xor


@pytest.mark.slow
def test_default_solves_xor_from_at_least_99_percent_of_seeds_0_to_999():
    # the full claim; the default suite checks seeds 0-199
    summary = sweep_xor(range(1000))
    assert summary["fraction"] >= 0.99, summary["failed_seeds"]
