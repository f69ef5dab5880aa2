"""De-identification of BrainVision triplets (.vhdr, .vmrk, .eeg): bytes and readers.

The fixture is a BrainVision Recorder-style header (amplifier table with a serial
number, impedance table with its time and "recording started at", a free-text note)
and a marker file with a dated New Segment and free-text comments. Every output file's
raw bytes are scanned, and MNE must read the output with the same samples.
"""

import datetime as dt
import warnings

import mne
import numpy as np
import pytest

from neurodl.privacy.deid import SHIFT_WINDOW, deidentify, read_mapping
from tests.privacy.deid_checks import assert_second_run_changes_nothing

VHDR = """Brain Vision Data Exchange Header File Version 1.0
; Data created by the Vision Recorder

[Common Infos]
Codepage={codepage}
DataFile={stem}.eeg
MarkerFile={stem}.vmrk
DataFormat=BINARY
; Data orientation: MULTIPLEXED=ch1,pt1, ch2,pt1 ...
DataOrientation=MULTIPLEXED
NumberOfChannels=3
; Sampling interval in microseconds
SamplingInterval=2000

[Binary Infos]
BinaryFormat=INT_16

[Channel Infos]
; Each entry: Ch<Channel number>=<Name>,<Reference channel name>,
; <Resolution in "Unit">,<Unit>, Future extensions..
Ch1=Fp1,,0.1,µV
Ch2=Cz,,0.1,µV
Ch3=Oz,,0.1,µV

[Comment]

A m p l i f i e r  S e t u p
============================
Number of channels: 3
Sampling Rate [Hz]: 500
Sampling Interval [µS]: 2000
Amplifier: actiCHamp Module 1 (5010) SN: 17010768

Channels
--------
#  Name  Phys. Chn.  Resolution / Unit  Low Cutoff [s]  High Cutoff [Hz]  Notch [Hz]
1  Fp1   1           0.1 µV             10              250               Off
2  Cz    2           0.1 µV             10              250               Off
3  Oz    3           0.1 µV             10              250               Off

S o f t w a r e  F i l t e r s
==============================
Disabled

Patient: Jane Doe, MRN 4471923, operator Dr. Alice Walker, St Elsewhere Hospital
Data Electrodes Selected Impedance Measurement Range: 0 - 5 kOhm
Ground Electrode Selected Impedance Measurement Range: 0 - 10 kOhm
Reference Electrode Selected Impedance Measurement Range: 0 - 10 kOhm
Impedance [kOhm] at 16:12:27 (recording started at 16:15:00) :
Fp1:          4
Cz:           3
Oz:           7
Gnd:          2
"""
VMRK = """Brain Vision Data Exchange Marker File, Version 1.0

[Common Infos]
Codepage={codepage}
DataFile={stem}.eeg

[Marker Infos]
; Each entry: Mk<Marker number>=<Type>,<Description>,<Position in data points>,
; <Size in data points>, <Channel number (0 = marker is related to all channels)>
; Fields are delimited by commas, some fields might be omitted (empty).
; Commas in type or description text are coded as "\\1".
Mk1=New Segment,,1,1,0,{date}
Mk2=Stimulus,S  1,101,1,0
Mk3=Comment,Jane Doe moved\\1 call +41 44 123 45 67,201,1,0
Mk4=Response,R  2,301,1,0
Mk5=Comment,e-mail jdoe@example.org on 09.03.2024,401,50,0
"""
PLANTED = [
    "Jane Doe",
    "4471923",
    "Alice Walker",
    "St Elsewhere",
    "17010768",
    "16:12:27",
    "16:15:00",
    "recording started",
    "2024030914",
    "+41 44 123 45 67",
    "jdoe@example.org",
    "09.03.2024",
    "MRN",
]


def _bv(folder, stem, *, start="20240309143307123456", crlf=False, codepage="UTF-8"):
    """Write a triplet; return the samples as int16, shape (n_times, 3)."""
    folder.mkdir(parents=True, exist_ok=True)
    nl = "\r\n" if crlf else "\n"
    encoding = "cp1252" if codepage == "ANSI" else "utf-8"
    fields = dict(stem=stem, date=start, codepage=codepage)
    for ext, text in ((".vhdr", VHDR), (".vmrk", VMRK)):
        data = text.format(**fields).replace("\n", nl).encode(encoding)
        (folder / f"{stem}{ext}").write_bytes(data)
    samples = np.random.default_rng(0).integers(-3000, 3000, (1000, 3)).astype("<i2")
    samples.tofile(folder / f"{stem}.eeg")
    return samples


def _scan(root):
    hits = []
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        data = f.read_bytes().lower()
        hits += [(f.name, s) for s in PLANTED if s.lower().encode() in data]
    return hits


def _read(vhdr):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # MNE reads the output without a warning
        return mne.io.read_raw_brainvision(vhdr, verbose="error")


@pytest.mark.parametrize(
    ("crlf", "codepage"), [(False, "UTF-8"), (True, "ANSI")], ids=["utf8", "ansi-crlf"]
)
def test_planted_identifiers_leave_no_byte(tmp_path, crlf, codepage):
    src = tmp_path / "in"
    samples = _bv(src, "MRN4471923", crlf=crlf, codepage=codepage)
    assert len(_scan(src)) >= 10  # the fixture really carries them
    report = deidentify(src, tmp_path / "out", mapping=tmp_path / "map.json")
    out = tmp_path / "out"
    assert _scan(out) == []
    (f,) = report.files
    assert f.status == "written"
    pseudo = f.subject
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{pseudo}.vhdr", f"{pseudo}.vmrk", f"{pseudo}.eeg", "scans.tsv"]
    )
    # the samples: the .eeg is the same bytes, and MNE reads the same data
    assert (out / f"{pseudo}.eeg").read_bytes() == samples.tobytes()
    a, b = _read(src / "MRN4471923.vhdr"), _read(out / f"{pseudo}.vhdr")
    np.testing.assert_array_equal(a.get_data(), b.get_data())
    assert b.info["highpass"] == a.info["highpass"]  # filters still parsed
    assert b.info["lowpass"] == a.info["lowpass"] == 250.0
    # markers: same onsets and durations, codes kept, text scrubbed
    np.testing.assert_array_equal(a.annotations.onset, b.annotations.onset)
    np.testing.assert_array_equal(a.annotations.duration, b.annotations.duration)
    assert list(b.annotations.description) == [
        "Stimulus/S  1",
        "Comment/[name] moved, call [phone number]",
        "Response/R  2",
        "Comment/e-mail [e-mail] on [date]",
    ]
    # the date: shifted into the window, time of day kept, one shift
    (entry,) = read_mapping(tmp_path / "map.json").values()
    shift = dt.timedelta(days=entry["daysback"])
    start = dt.datetime(2024, 3, 9, 14, 33, 7, 123456)
    assert b.info["meas_date"] == (start - shift).replace(tzinfo=dt.UTC)
    assert SHIFT_WINDOW[0] <= (start - shift).date() <= SHIFT_WINDOW[1]
    rows = (out / "scans.tsv").read_text().splitlines()
    assert rows[1].split("\t") == [
        f"{pseudo}.vhdr",
        f"sub-{pseudo}",
        (start - shift).isoformat(),
    ]
    # impedances: values kept, measured "at" the shifted start
    assert {k: v["imp"] for k, v in b.impedances.items()} == {
        "Fp1": 4.0,
        "Cz": 3.0,
        "Oz": 7.0,
        "Gnd": 2.0,
    }
    when = b.info["meas_date"].replace(microsecond=0)
    assert b.impedances["Fp1"]["imp_meas_time"] == when
    encoding = "cp1252" if codepage == "ANSI" else "utf-8"
    header = (out / f"{pseudo}.vhdr").read_bytes()
    assert (b"\r\n" in header) == crlf and "µV".encode(encoding) in header
    text = header.decode(encoding)
    assert f"DataFile={pseudo}.eeg" in text and f"MarkerFile={pseudo}.vmrk" in text
    assert "Amplifier" not in text  # the serial number's line is dropped
    assert "Sampling Rate [Hz]: 500" in text  # machine lines kept as they were
    assert all("Jane" not in (c.new or "") for c in f.changes)


def test_intervals_kept_and_second_run_changes_nothing(tmp_path):
    src = tmp_path / "in"
    _bv(src / "P1", "P1_rest", start="20190102080000000000")
    _bv(src / "P1", "P1_task", start="20240703174530500000")
    _bv(src / "P2", "P2_rest", start="20100601120000000000")
    deidentify(src, tmp_path / "once", mapping=tmp_path / "m1.json")
    mapping = read_mapping(tmp_path / "m1.json")
    rows = [
        r.split("\t")
        for r in (tmp_path / "once" / "scans.tsv").read_text().splitlines()[1:]
    ]
    starts = {
        "P1": [dt.datetime(2019, 1, 2, 8), dt.datetime(2024, 7, 3, 17, 45, 30, 500000)],
        "P2": [dt.datetime(2010, 6, 1, 12)],
    }
    for subject, times in starts.items():
        pseudo = mapping[subject]["pseudonym"]
        got = sorted(
            dt.datetime.fromisoformat(r[2]) for r in rows if r[1] == f"sub-{pseudo}"
        )
        shift = dt.timedelta(days=mapping[subject]["daysback"])
        assert got == [t - shift for t in times]  # one shift per subject
        assert all(SHIFT_WINDOW[0] <= g.date() <= SHIFT_WINDOW[1] for g in got)
    assert_second_run_changes_nothing(
        tmp_path / "once", tmp_path / "twice", mapping=tmp_path / "m2.json"
    )


def test_missing_data_file_fails_and_writes_nothing(tmp_path):
    src = tmp_path / "in"
    _bv(src, "P1")
    (src / "P1.eeg").unlink()
    report = deidentify(src, tmp_path / "out")
    headers = [f for f in report.files if f.source.endswith(".vhdr")]
    assert [f.status for f in headers] == ["failed"]
    assert "data file" in (headers[0].reason or "")
    assert not list((tmp_path / "out").rglob("*.vhdr"))
    assert not list((tmp_path / "out").rglob("*.vmrk"))  # not copied on its own
