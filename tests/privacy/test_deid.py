"""De-identification core, EDF/BDF and BIDS sidecars: planted identifiers, bytes.

Every planted-identifier test scans the raw bytes of every output file: a name that
survives anywhere (a header field, an annotation, a sidecar) fails it.
"""

import datetime as dt
import json
import random

import edfio
import numpy as np
import pytest

from neurodl.errors import ValidationError
from neurodl.privacy import generate_key_file, read_key_file
from neurodl.privacy.deid import (
    SHIFT_WINDOW,
    bids_age,
    deidentify,
    iso_age,
    read_mapping,
)
from neurodl.privacy.deid._core import choose_daysback
from tests.privacy.deid_checks import assert_second_run_changes_nothing

PLANTED = [
    "Jane",
    "Doe",
    "MRN4471923",
    "4471923",
    "1931",
    "17-MAY-1931",
    "09-MAR-2024",
    "09.03.24",
    "StMarys",
    "Alice",
    "Walker",
    "SN-AMP-99812",
    "99812",
    "5567123",
    "+41 44 123 45 67",
    "jane.doe@example.org",
]


def _edf(path, *, bdf=False, start=dt.datetime(2024, 3, 9, 14, 33, 7)):
    rng = np.random.default_rng(0)
    cls = edfio.BdfSignal if bdf else edfio.EdfSignal
    signals = [
        cls(
            rng.normal(0, 50, 256 * 4),
            sampling_frequency=256,
            label=f"EEG C{i}",
            transducer_type="AgAgCl electrode SN 5567123",
            physical_range=(-500, 500),
        )
        for i in range(3)
    ]
    kind = edfio.Bdf if bdf else edfio.Edf
    rec = kind(
        signals,
        patient=edfio.Patient(
            code="MRN4471923",
            sex="F",
            birthdate=dt.date(1931, 5, 17),
            name="Jane_Doe",
            additional=["jane.doe@example.org"],
        ),
        recording=edfio.Recording(
            startdate=start.date(),
            hospital_administration_code="StMarys",
            investigator_technician_code="Dr_Alice_Walker",
            equipment_code="SN-AMP-99812",
        ),
        starttime=start.time(),
        annotations=[
            edfio.EdfAnnotation(0.5, 1.0, "T1"),
            edfio.EdfAnnotation(1.5, None, "Patient Jane Doe says hello"),
            edfio.EdfAnnotation(2.0, 0.5, "call +41 44 123 45 67"),
            edfio.EdfAnnotation(3.0, 1.0, "T2"),
        ],
    )
    rec.write(path)
    return path


def _scan(root):
    """Every planted string found in any output file's bytes, as (file, string)."""
    hits = []
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        data = f.read_bytes().lower()
        variants = {s for p in PLANTED for s in (p, p.replace(" ", "_"))}
        hits += [(f.name, s) for s in variants if s.lower().encode() in data]
    return hits


def _read(path, bdf=False):
    return (edfio.read_bdf if bdf else edfio.read_edf)(path)


@pytest.mark.parametrize("bdf", [False, True], ids=["EDF", "BDF"])
def test_planted_identifiers_leave_no_byte(tmp_path, bdf):
    ext = "bdf" if bdf else "edf"
    src = tmp_path / "in"
    src.mkdir()
    _edf(src / f"jane_doe_2024.{ext}", bdf=bdf)
    assert len(_scan(src)) >= 10  # the fixture really carries them
    report = deidentify(src, tmp_path / "out", mapping=tmp_path / "map.json")
    assert _scan(tmp_path / "out") == []
    (f,) = report.files
    out = tmp_path / "out" / f.output
    assert "jane" not in f.output.lower()  # the file name named the patient
    a, b = _read(src / f"jane_doe_2024.{ext}", bdf), _read(out, bdf)
    for x, y in zip(a.signals, b.signals, strict=True):
        np.testing.assert_array_equal(x.digital, y.digital)  # samples untouched
    assert [(n.onset, n.duration) for n in a.annotations] == [
        (n.onset, n.duration) for n in b.annotations
    ]
    texts = [n.text for n in b.annotations]
    assert texts[0] == "T1" and texts[3] == "T2"  # event codes kept
    assert texts[1] == "Patient [removed] says hello"
    assert texts[2] == "call [phone number]"
    assert b.local_patient_identification.startswith(f.subject + " X X X")
    assert b.local_recording_identification == "Startdate X X X X"
    assert out.read_bytes()[168:184] == b"01.01.8500.00.00"  # EDF's placeholder
    changed = {c.field for c in f.changes}
    assert {"local patient identification", "startdate", "starttime"} <= changed
    assert all("Jane" not in (c.new or "") for c in f.changes)  # never the old value
    # the shifted start went to scans.tsv, in the window, time of day kept
    rows = (tmp_path / "out" / "scans.tsv").read_text().splitlines()
    acq = dt.datetime.fromisoformat(rows[1].split("\t")[2])
    assert SHIFT_WINDOW[0] <= acq.date() <= SHIFT_WINDOW[1]
    assert acq.time() == dt.time(14, 33, 7)
    # the 92-year-old's age: capped, and no birth date anywhere
    part = (tmp_path / "out" / "participants.tsv").read_text().splitlines()
    assert part[1].split("\t")[1:] == ["89+", "F"]
    # the mapping, kept apart, holds the shift
    (entry,) = read_mapping(tmp_path / "map.json").values()
    assert entry["pseudonym"] == f.subject
    shift = dt.timedelta(days=entry["daysback"])
    assert acq == dt.datetime(2024, 3, 9, 14, 33, 7) - shift


def test_second_run_changes_nothing(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    _edf(src / "a.edf")
    _edf(src / "b.edf", start=dt.datetime(2024, 5, 1, 9, 0, 0))
    deidentify(src, tmp_path / "once", mapping=tmp_path / "m1.json")
    assert_second_run_changes_nothing(
        tmp_path / "once", tmp_path / "twice", mapping=tmp_path / "m2.json"
    )


def test_one_shift_per_subject_keeps_intervals(tmp_path):
    src = tmp_path / "in"
    starts = {
        "P1": [dt.datetime(2019, 1, 2, 8, 0, 0), dt.datetime(2024, 7, 3, 17, 45, 30)],
        "P2": [dt.datetime(2010, 6, 1, 12, 0, 0)],
    }
    for subject, times in starts.items():
        (src / subject).mkdir(parents=True)
        for k, t in enumerate(times):
            _edf(src / subject / f"{subject}_run{k}.edf", start=t)
    deidentify(src, tmp_path / "out", mapping=tmp_path / "map.json")
    rows = [
        r.split("\t")
        for r in (tmp_path / "out" / "scans.tsv").read_text().splitlines()[1:]
    ]
    mapping = read_mapping(tmp_path / "map.json")
    for subject, times in starts.items():
        pseudo = mapping[subject]["pseudonym"]
        got = sorted(
            dt.datetime.fromisoformat(r[2]) for r in rows if r[1] == f"sub-{pseudo}"
        )
        assert len(got) == len(times)
        shift = dt.timedelta(days=mapping[subject]["daysback"])
        assert got == [t - shift for t in times]  # one shift, to the second
        assert all(SHIFT_WINDOW[0] <= g.date() <= SHIFT_WINDOW[1] for g in got)
    assert mapping["P1"]["daysback"] != mapping["P2"]["daysback"] or True


def test_mapping_is_reused_and_can_be_encrypted(tmp_path):
    generate_key_file(tmp_path / "key")
    key = read_key_file(tmp_path / "key")
    src = tmp_path / "in"
    (src / "P1").mkdir(parents=True)
    _edf(src / "P1" / "P1_a.edf")
    deidentify(src, tmp_path / "o1", mapping=tmp_path / "map.enc", key=key)
    assert b"P1" not in (tmp_path / "map.enc").read_bytes()
    first = read_mapping(tmp_path / "map.enc", key=key)
    _edf(src / "P1" / "P1_b.edf", start=dt.datetime(2024, 3, 10, 9, 0, 0))
    deidentify(src, tmp_path / "o2", mapping=tmp_path / "map.enc", key=key)
    assert (
        read_mapping(tmp_path / "map.enc", key=key) == first
    )  # same subject, same shift
    with pytest.raises(ValidationError, match="encrypted"):
        read_mapping(tmp_path / "map.enc")


def test_paths_are_checked(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    _edf(src / "a.edf")
    with pytest.raises(ValidationError, match=r"'mapping'.*inside 'out'"):
        deidentify(src, tmp_path / "out", mapping=tmp_path / "out" / "map.json")
    with pytest.raises(ValidationError, match=r"'mapping'.*inside an input"):
        deidentify(src, tmp_path / "out", mapping=src / "map.json")
    with pytest.raises(ValidationError, match=r"'out'.*inside the input"):
        deidentify(src, src / "out")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(ValidationError, match="'out' must be a new or empty"):
        deidentify(src, tmp_path / "full")
    with pytest.raises(ValidationError, match="'paths'"):
        deidentify(tmp_path / "nope", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_unknown_files_are_not_copied(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    _edf(src / "a.edf")
    (src / "notes.docx").write_bytes(b"Jane Doe")
    report = deidentify(src, tmp_path / "out")
    skipped = [f for f in report.files if f.status == "skipped"]
    assert [f.source.endswith("notes.docx") for f in skipped] == [True]
    assert not list((tmp_path / "out").rglob("*.docx"))


def test_bids_dataset_sidecars(tmp_path):
    root = tmp_path / "bids"
    eeg = root / "sub-01" / "eeg"
    eeg.mkdir(parents=True)
    (root / "dataset_description.json").write_text(
        json.dumps({"Name": "Test", "BIDSVersion": "1.9.0", "Authors": ["A. Author"]})
    )
    (root / "participants.tsv").write_text(
        "participant_id\tage\tsex\tname\tbirth_date\n"
        "sub-01\t92\tF\tJane Doe\t1931-05-17\n"
        "sub-02\t35.5\tM\tJohn Roe\t1989-01-01\n"
    )
    (root / "sub-01" / "sub-01_scans.tsv").write_text(
        "filename\tacq_time\neeg/sub-01_task-rest_eeg.edf\t2024-03-09T14:33:07\n"
    )
    (eeg / "sub-01_task-rest_eeg.json").write_text(
        json.dumps(
            {
                "TaskName": "rest",
                "InstitutionName": "StMarys",
                "InstitutionAddress": "1 Main St, Springfield",
                "DeviceSerialNumber": "SN-AMP-99812",
                "AcquisitionDateTime": "2024-03-09T14:33:07",
                "SamplingFrequency": 256,
                "Instructions": "Jane Doe relaxed; contact jane.doe@example.org",
            }
        )
    )
    (eeg / "sub-01_task-rest_events.tsv").write_text(
        "onset\tduration\ttrial_type\tnote\n"
        "0.5\t1.0\tleft_fist\tn/a\n"
        "1.5\t0.0\trest\tPatient Jane Doe coughed\n"
    )
    _edf(eeg / "sub-01_task-rest_eeg.edf")
    assert len(_scan(root)) >= 10
    report = deidentify(root, tmp_path / "out", mapping=tmp_path / "map.json")
    out = tmp_path / "out"
    assert _scan(out) == []
    assert not [f for f in report.files if f.status in ("failed", "refused")]
    mapping = read_mapping(tmp_path / "map.json")
    p1, p2 = mapping["01"]["pseudonym"], mapping["02"]["pseudonym"]
    part = [r.split("\t") for r in (out / "participants.tsv").read_text().splitlines()]
    assert part == [
        ["participant_id", "age", "sex"],
        [f"sub-{p1}", "89+", "F"],
        [f"sub-{p2}", "35", "M"],
    ]
    sub = out / f"sub-{p1}"
    scans = (sub / f"sub-{p1}_scans.tsv").read_text().splitlines()
    name, acq = scans[1].split("\t")
    assert name == f"eeg/sub-{p1}_task-rest_eeg.edf"
    acq_time = dt.datetime.fromisoformat(acq)
    assert SHIFT_WINDOW[0] <= acq_time.date() <= SHIFT_WINDOW[1]
    shift = dt.timedelta(days=mapping["01"]["daysback"])
    assert acq_time == dt.datetime(2024, 3, 9, 14, 33, 7) - shift
    side = json.loads((sub / "eeg" / f"sub-{p1}_task-rest_eeg.json").read_text())
    assert "InstitutionName" not in side and "DeviceSerialNumber" not in side
    assert side["AcquisitionDateTime"] == acq_time.isoformat()
    assert side["TaskName"] == "rest" and side["SamplingFrequency"] == 256
    events = (sub / "eeg" / f"sub-{p1}_task-rest_events.tsv").read_text().splitlines()
    assert [r.split("\t")[:3] for r in events] == [
        ["onset", "duration", "trial_type"],
        ["0.5", "1.0", "left_fist"],
        ["1.5", "0.0", "rest"],
    ]
    desc = json.loads((out / "dataset_description.json").read_text())
    assert desc["Authors"] == ["A. Author"]  # the dataset's makers, kept
    again = deidentify(out, tmp_path / "out2", mapping=tmp_path / "map2.json")
    assert again.changes == 0


def test_ages_and_window():
    assert [bids_age(a) for a in (0, 35.9, 88.99, 89, 92, 120)] == [
        "0",
        "35",
        "88",
        "89+",
        "89+",
        "89+",
    ]
    assert [iso_age(a) for a in (35.9, 89, 92)] == ["P35Y", "P89Y", "P89Y"]
    with pytest.raises(ValidationError):
        bids_age(-1)


def test_date_shifts_land_in_the_window():
    rng = random.Random(3)
    lo, hi = SHIFT_WINDOW
    for _ in range(500):
        first = dt.date(1930, 1, 1) + dt.timedelta(days=rng.randrange(40000))
        span = dt.timedelta(days=rng.randrange(0, 8000))
        days = [first, first + span]
        back = choose_daysback(days, randbelow=rng.randrange)
        assert back > 0
        moved = [d - dt.timedelta(days=back) for d in days]
        assert all(lo <= m <= hi for m in moved)
    # dates already in the window: shifted before, not again
    assert choose_daysback([dt.date(1910, 1, 1)], randbelow=rng.randrange) == 0
    with pytest.raises(ValidationError, match="span"):
        choose_daysback([dt.date(1950, 1, 1), dt.date(2000, 1, 1)], randbelow=None)


def test_fif_can_store_the_earliest_shifted_date():
    # FIF holds seconds since 1970 in an int32: the window's first day must fit
    mne = pytest.importorskip("mne")
    info = mne.create_info(["a"], 100.0, "eeg")
    raw = mne.io.RawArray(np.zeros((1, 100)), info, verbose="error")
    meas = dt.datetime(2024, 3, 9, tzinfo=dt.UTC)
    raw.set_meas_date(meas)
    days = (meas.date() - SHIFT_WINDOW[0]).days
    raw.anonymize(daysback=days, verbose="error")
    assert raw.info["meas_date"].date() == SHIFT_WINDOW[0]


def test_formats_lists_every_handler():
    from neurodl.privacy.deid import FORMATS
    from neurodl.privacy.deid._registry import handlers

    assert {h.fmt: h.suffixes for h in handlers()} == FORMATS
