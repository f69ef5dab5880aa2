"""De-identification of FIF raw recordings: planted identifiers, bytes, samples, 1902.

The fixture plants identifiers in every identity field MNE reads (subject block,
experimenter, project, device, helium GUID, processing history, HPI block) and in
annotation text; each test de-identifies it with :func:`deidentify` and scans the
raw bytes of every output file (gzip-decompressed for ``.fif.gz``).
"""

import datetime as dt
import gzip
import struct
import uuid

import mne
import numpy as np
import pytest

from neurodl.privacy.deid import SHIFT_WINDOW, deidentify, read_mapping
from neurodl.privacy.deid.fif import _program
from tests.privacy.deid_checks import assert_second_run_changes_nothing

MEAS = dt.datetime(2024, 3, 9, 14, 33, 7, 250000, tzinfo=dt.UTC)
PLANTED = [
    "Jane",
    "Doe",
    "Quincy",
    "MRN4471923",
    "John Smith",
    "EpilepsyStudyX",
    "SN17010768",
    "St Elsewhere",
    "GUID-DEADBEEF",
    "jsmith",
    "meg-host-7",
    "jane.doe@example.org",
    "+41 44 123 45 67",
    "2024-03-09",
]
MACHID = (12345, 678)


def _fif(path, *, fmt="single", meas=MEAS, his="MRN4471923"):
    """A small raw FIF file carrying the planted identifiers; returns its data."""
    info = mne.create_info(["Fz", "Cz", "Pz", "STI"], 250.0, ["eeg"] * 3 + ["stim"])
    rng = np.random.default_rng(0)
    data = rng.normal(0, 2e-5, (4, 1000))
    data[3] = rng.integers(0, 4, 1000)
    raw = mne.io.RawArray(data, info, verbose="error")
    raw.set_meas_date(meas)
    pos = {"Fz": [0, 0.06, 0.08], "Cz": [0, 0, 0.1], "Pz": [0, -0.06, 0.08]}
    montage = mne.channels.make_dig_montage(
        ch_pos=pos,
        nasion=[0, 0.1, 0],
        lpa=[-0.08, 0, 0],
        rpa=[0.08, 0, 0],
        hsp=rng.normal(0, 0.05, (20, 3)),  # head-shape points: the face's surface
        coord_frame="head",
    )
    raw.set_montage(montage)
    stamp = int(meas.timestamp())
    block = dict(version=65540, machid=np.array(MACHID, ">i4"), secs=stamp, usecs=0)
    with raw.info._unlock():
        raw.info["subject_info"] = dict(
            id=4471923,
            his_id=his,
            last_name="Doe",
            first_name="Jane",
            middle_name="Quincy",
            birthday=dt.date(1931, 5, 17),
            sex=2,
            hand=1,
            weight=61.0,
            height=1.6,
        )
        raw.info["experimenter"] = "John Smith"
        raw.info["description"] = "Jane Doe at rest, St Elsewhere, 2024-03-09"
        raw.info["proj_name"] = "EpilepsyStudyX"
        raw.info["proj_id"] = 17
        raw.info["utc_offset"] = "-05:00"
        raw.info["acq_pars"] = "ERFversion 1\nERFsamplingFrequency 250\nERFuser jsmith"
        raw.info["device_info"] = dict(
            type="EEG", model="actiCHamp", serial="SN17010768", site="St Elsewhere"
        )
        raw.info["helium_info"] = dict(
            he_level_raw=1.0, helium_level=80.0, orig_file_guid="GUID-DEADBEEF"
        )
        raw.info["helium_info"]["meas_date"] = meas
        raw.info["proc_history"] = [
            dict(
                block_id=dict(block),
                date=np.array([stamp, 0], ">i4"),
                experimenter="jsmith",
                creator="MaxFilter 2.2 on host meg-host-7",
                max_info=dict(sss_info={}, max_st={}, sss_ctc={}, sss_cal={}),
            )
        ]
        raw.info["hpi_meas"] = [
            dict(
                block_id=dict(block),
                creator="Acquisition 5.1 on meg-host-7",
                sfreq=1000.0,
                nchan=4,
                nave=1,
                ncoil=0,
                first_samp=0,
                last_samp=10,
                hpi_coils=[],
            )
        ]
    raw.set_annotations(
        mne.Annotations(
            [0.5, 1.5, 2.25],
            [0.25, 0.0, 1.0],
            ["T1", "Patient Jane Doe coughed", "mail jane.doe@example.org"],
            orig_time=meas,
        )
    )
    raw.save(path, fmt=fmt, overwrite=True, verbose="error")
    return mne.io.read_raw_fif(path, verbose="error").get_data()


def _bytes(path):
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.endswith(".gz") else data


def _scan(root):
    """Every planted string found in any file's bytes, as (file, string)."""
    hits = []
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        data = _bytes(f).lower()
        hits += [(f.name, s) for s in PLANTED if s.lower().encode() in data]
    return hits


def _read(path):
    return mne.io.read_raw_fif(path, verbose="error")


@pytest.mark.parametrize(
    ("fmt", "ext"),
    [("single", ".fif"), ("short", ".fif.gz"), ("double", ".fif")],
)
def test_planted_identifiers_leave_no_byte(tmp_path, fmt, ext):
    src = tmp_path / "in"
    src.mkdir()
    name = f"MRN4471923_raw{ext}"
    before = _fif(src / name, fmt=fmt)
    assert len(_scan(src)) >= 10  # the fixture really carries them
    # MNE keeps no identity beside the info it reads (mne #11966): only the path
    extras = repr(
        [
            {k: v for k, v in e.items() if k != "filename"}
            for e in _read(src / name)._raw_extras
        ]
    )
    assert [p for p in PLANTED if p in extras] == []
    report = deidentify(src, tmp_path / "out", mapping=tmp_path / "map.json")
    out_dir = tmp_path / "out"
    assert _scan(out_dir) == []
    (f,) = report.files
    assert f.status == "written" and f.output == f"{f.subject}_raw{ext}"
    out = out_dir / f.output
    data = _bytes(out)
    # dates and machine ids are binary: none of the input's survives
    stamp = struct.pack(">i", int(MEAS.timestamp()))
    birthday = struct.pack(">i", dt.date(1931, 5, 17).toordinal() + 1721425)
    machid = struct.pack(">ii", *MACHID)
    assert stamp not in data and birthday not in data and machid not in data
    here = mne._fiff.write.get_machid().astype(">i4").tobytes()
    assert here not in data  # the writing machine's MAC address is not stamped
    # the samples, bitwise, in the input's own format
    got = _read(out)
    assert got.orig_format == fmt
    np.testing.assert_array_equal(got.get_data(), before)
    # annotations: same onsets and durations, codes kept, text scrubbed
    ref = _read(src / name)
    np.testing.assert_array_equal(got.annotations.onset, ref.annotations.onset)
    np.testing.assert_array_equal(got.annotations.duration, ref.annotations.duration)
    assert list(got.annotations.description) == [
        "T1",
        "Patient [removed] [removed] coughed",
        "mail [e-mail]",  # an address that holds a known name goes whole
    ]
    # dates: one shift, into the window, kept to the microsecond
    (entry,) = read_mapping(tmp_path / "map.json").values()
    shift = dt.timedelta(days=entry["daysback"])
    assert got.info["meas_date"] == MEAS - shift
    assert SHIFT_WINDOW[0] <= got.info["meas_date"].date() <= SHIFT_WINDOW[1]
    assert got.annotations.orig_time == got.info["meas_date"]
    assert got.info["helium_info"]["meas_date"] == MEAS - shift
    rows = (out_dir / "scans.tsv").read_text().splitlines()
    assert rows[1].split("\t") == [
        f.output,
        f"sub-{f.subject}",
        (MEAS - shift).replace(tzinfo=None).isoformat(),
    ]
    # the subject: no birthday (so no age), the pseudonym, no names
    subject = got.info["subject_info"]
    assert "birthday" not in subject and "hand" not in subject
    assert subject["his_id"] == f.subject
    assert subject["first_name"] == "mne_anonymize"
    part = (out_dir / "participants.tsv").read_text().splitlines()
    assert part[1].split("\t") == [f"sub-{f.subject}", "89+", "F"]  # aged 92
    # ids: no machine, no date where MNE does not shift
    for key in ("file_id", "meas_id"):
        assert got.info[key]["machid"].tolist() == [0, 0]
    hpi = got.info["hpi_meas"][0]
    assert hpi["block_id"]["machid"].tolist() == [0, 0]
    assert (hpi["block_id"]["secs"], hpi["block_id"]["usecs"]) == (0, 2**31 - 1)
    assert hpi["creator"] == "Acquisition 5.1"
    proc = got.info["proc_history"][0]
    assert proc["creator"] == "MaxFilter 2.2"
    assert proc["experimenter"] == "mne_anonymize"
    moved = int(MEAS.timestamp()) - entry["daysback"] * 86400
    assert tuple(proc["date"]) == (moved, 0)
    # head shape removed; fiducials and electrodes kept
    kinds = [int(d["kind"]) for d in got.info["dig"]]
    assert kinds.count(4) == 0
    assert kinds.count(1) == 3 and kinds.count(3) == 3
    assert got.info["description"] == "[removed] [removed] at rest, [removed], [date]"
    # acquisition parameters (parsed by MNE and MaxFilter): only known ids removed
    assert got.info["acq_pars"] == (
        "ERFversion 1\nERFsamplingFrequency 250\nERFuser [removed]"
    )
    assert all("Jane" not in (c.new or "") for c in f.changes)  # never the old value
    if ext == ".fif.gz":  # gzip header: no file name, no time
        head = out.read_bytes()[:10]
        assert head[3] & 0x08 == 0 and head[4:8] == b"\0\0\0\0"


def test_intervals_kept_and_second_run_changes_nothing(tmp_path):
    src = tmp_path / "in"
    starts = {
        "P1": [
            dt.datetime(2019, 1, 2, 8, 0, 0, tzinfo=dt.UTC),
            dt.datetime(2024, 7, 3, 17, 45, 30, tzinfo=dt.UTC),
        ],
        "P2": [dt.datetime(2010, 6, 1, 12, 0, 0, tzinfo=dt.UTC)],
    }
    for subject, times in starts.items():
        (src / subject).mkdir(parents=True)
        for k, t in enumerate(times):
            _fif(src / subject / f"{subject}_run{k}_raw.fif", meas=t, his=subject)
    deidentify(src, tmp_path / "once", mapping=tmp_path / "m1.json")
    mapping = read_mapping(tmp_path / "m1.json")
    rows = [
        r.split("\t")
        for r in (tmp_path / "once" / "scans.tsv").read_text().splitlines()[1:]
    ]
    for subject, times in starts.items():
        pseudo = mapping[subject]["pseudonym"]
        got = sorted(
            dt.datetime.fromisoformat(r[2]) for r in rows if r[1] == f"sub-{pseudo}"
        )
        shift = dt.timedelta(days=mapping[subject]["daysback"])
        assert got == [(t - shift).replace(tzinfo=None) for t in times]
        files = sorted((tmp_path / "once" / pseudo).glob("*.fif"))
        meas = sorted(_read(p).info["meas_date"] for p in files)
        assert meas == [t - shift for t in times]  # intervals to the microsecond
    assert_second_run_changes_nothing(
        tmp_path / "once", tmp_path / "twice", mapping=tmp_path / "m2.json"
    )


def test_shift_to_the_window_edge_never_raises(tmp_path):
    # the largest shift the core may draw puts the recording on 1902-01-01, the
    # window's first day: FIF (int32 seconds since 1970) still holds it
    src = tmp_path / "in"
    src.mkdir()
    meas = dt.datetime(2024, 3, 9, 0, 0, 0, tzinfo=dt.UTC)
    _fif(src / "P1_raw.fif", meas=meas)
    report = deidentify(src, tmp_path / "out", randbelow=lambda n: n - 1)
    (f,) = report.files
    assert f.status == "written"
    got = _read(tmp_path / "out" / f.output)
    assert got.info["meas_date"] == dt.datetime(1902, 1, 1, tzinfo=dt.UTC)
    # ... while 3 weeks further back is out of FIF's range: the window matters
    raw = _read(src / "P1_raw.fif")
    days = (meas.date() - SHIFT_WINDOW[0]).days + 21
    with pytest.raises(RuntimeError, match="daysback"):
        raw.anonymize(daysback=days, verbose="error")


def test_a_file_that_is_not_a_raw_fif_fails_and_is_not_copied(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "broken_raw.fif").write_bytes(b"Jane Doe" + uuid.uuid4().bytes)
    report = deidentify(src, tmp_path / "out")
    (f,) = report.files
    assert f.status == "failed" and "FIF" in (f.reason or "")
    assert not list((tmp_path / "out").rglob("*.fif"))


def test_program_name_keeps_no_host():
    assert _program("MaxFilter 2.2.10 on host meg-7 (built Dec 11 2012)") == (
        "MaxFilter 2.2.10"
    )
    assert _program("mne-python v1.8.0") == "mne-python v1.8.0"
    assert _program("  ") == ""
