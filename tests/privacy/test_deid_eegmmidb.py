"""The real eegmmidb recordings S001-S008 de-identified as one dataset.

PhysioNet's EDF+ headers carry the real recording date (S001: ``12.08.09
16.15.00``). After ``deidentify``: no header holds a real date, every run of a
subject moved by the same number of days (intervals between runs kept to the
second), the samples are bitwise equal, annotation onsets, durations and T0/T1/T2
labels are unchanged, and S001's runs 6/10/14 still give MNE's CSP + LDA example
accuracy, 0.933333.
"""

import datetime as dt
from pathlib import Path

import edfio
import numpy as np
import pytest

from neurodl.data import load_eeg
from neurodl.decode import CSPLDA, cross_validate
from neurodl.privacy.deid import SHIFT_WINDOW, deidentify, read_mapping

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "eegmmidb"
pytestmark = pytest.mark.skipif(
    not SHARED.is_dir(), reason="../shared/data/eegmmidb is not beside the clone"
)


@pytest.fixture(scope="module")
def deid(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("eegmmidb")
    report = deidentify(SHARED, tmp / "out", mapping=tmp / "map.json")
    return tmp / "out", read_mapping(tmp / "map.json"), report


def _pairs(out, mapping):
    for subject, entry in sorted(mapping.items()):
        pseudo = entry["pseudonym"]
        for src in sorted((SHARED / subject).glob("*.edf")):
            yield subject, src, out / pseudo / src.name.replace(subject, pseudo)


def test_headers_carry_no_real_date(deid):
    out, mapping, report = deid
    assert sorted(mapping) == [f"S00{i}" for i in range(1, 9)]
    files = sorted(out.rglob("*.edf"))
    assert len(files) == len(list(SHARED.rglob("*.edf")))
    for f in files:
        head = f.read_bytes()[:256]
        assert head[168:184] == b"01.01.8500.00.00", f.name
        assert b"AUG" not in head and b"2009" not in head and b"BCI2000" not in head
        assert b"S00" not in head
    failed = [f for f in report.files if f.status in ("failed", "refused")]
    assert failed == []


def test_one_shift_per_subject(deid):
    out, mapping, _ = deid
    rows = [r.split("\t") for r in (out / "scans.tsv").read_text().splitlines()[1:]]
    acq = {r[0]: dt.datetime.fromisoformat(r[2]) for r in rows}
    for subject, src, dst in _pairs(out, mapping):
        orig = edfio.read_edf(src).startdatetime.replace(microsecond=0)
        shift = dt.timedelta(days=mapping[subject]["daysback"])
        assert acq[dst.relative_to(out).as_posix()] == orig - shift
        assert SHIFT_WINDOW[0] <= (orig - shift).date() <= SHIFT_WINDOW[1]
    shifts = {e["daysback"] for e in mapping.values()}
    assert len(shifts) > 1  # drawn per subject, not one for the dataset


def test_signals_and_annotations_unchanged(deid):
    out, mapping, _ = deid
    for _, src, dst in _pairs(out, mapping):
        a, b = edfio.read_edf(src), edfio.read_edf(dst)
        assert [s.label for s in a.signals] == [s.label for s in b.signals]
        for x, y in zip(a.signals, b.signals, strict=True):
            assert np.array_equal(x.digital, y.digital), (dst.name, x.label)
            assert x.sampling_frequency == y.sampling_frequency
        ann = [(n.onset, n.duration, n.text) for n in a.annotations]
        assert ann == [(n.onset, n.duration, n.text) for n in b.annotations]
        assert {n.text for n in b.annotations} <= {"T0", "T1", "T2"}


def test_decoding_is_unchanged(deid):
    out, mapping, _ = deid
    pseudo = mapping["S001"]["pseudonym"]
    files = [out / pseudo / f"{pseudo}R{run:02d}.edf" for run in (6, 10, 14)]
    epochs = load_eeg(files, events={"T1": "both_fists", "T2": "both_feet"})
    result = cross_validate(CSPLDA(), epochs.X, epochs.y)
    assert result.mean() == pytest.approx(0.933333, abs=5e-7)  # MNE's example
