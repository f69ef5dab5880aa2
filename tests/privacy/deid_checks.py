"""Checks the de-identification tests share."""

from pathlib import Path

from neurodl.privacy.deid import DeidReport, deidentify


def assert_second_run_changes_nothing(once: Path, twice: Path, **kwargs) -> DeidReport:
    """De-identify the output ``once`` into ``twice``: no change, finding or new byte.

    ``kwargs`` go to :func:`deidentify` (a ``mapping`` apart from both folders).
    """
    again = deidentify(once, twice, **kwargs)
    assert again.changes == 0, again.to_table()
    assert all(f.findings == [] for f in again.files)
    first = sorted(p.relative_to(once) for p in once.rglob("*"))
    assert first == sorted(p.relative_to(twice) for p in twice.rglob("*"))
    for rel in first:
        if (once / rel).is_file():
            assert (once / rel).read_bytes() == (twice / rel).read_bytes(), rel
    return again
