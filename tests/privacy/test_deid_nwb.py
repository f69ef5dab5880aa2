"""De-identification of NWB files: planted identifiers, HDF5 strings, bytes, data.

The fixture plants identifiers in the NWB file fields, in the subject, in device
attributes and in free-text descriptions, comments, notes and table cells. After
:func:`deidentify`, neither a raw byte scan of the output file nor a walk over every
HDF5 string dataset and attribute finds any of them; data arrays are bitwise equal.
"""

import datetime as dt
import warnings

import h5py
import numpy as np
from dateutil.tz import tzoffset
from pynwb import NWBHDF5IO, NWBFile, TimeSeries
from pynwb.ecephys import ElectricalSeries
from pynwb.file import Subject

from neurodl.privacy.deid import SHIFT_WINDOW, deidentify, read_mapping
from neurodl.privacy.deid.nwb import _age_years
from tests.privacy.deid_checks import assert_second_run_changes_nothing

TZ = tzoffset(None, -5 * 3600)
START = dt.datetime(2024, 3, 9, 14, 33, 7, tzinfo=TZ)
PLANTED = [
    "Jane Doe",
    "Smith, John",
    "St Elsewhere Hospital",
    "Doe Lab",
    "20240309-JD",
    "JD4471923",
    "4471923",
    "1931-05-17",
    "2024-03-09",
    "2024-03-10",
    "17010768",
    "99887766",
    "jdoe@example.org",
    "Dr. House",
    "/home/jdoe",
    "doe.2024",
]


def _nwb(
    path,
    *,
    start=START,
    subject_id="JD4471923",
    species="Homo sapiens",
    dob=dt.datetime(1931, 5, 17, tzinfo=TZ),
    age=None,
    weight="61 kg",
):
    """Write a small NWB file carrying the planted identifiers."""
    nwb = NWBFile(
        session_description="Resting session with Jane Doe",
        identifier="MRN-4471923-session",
        session_start_time=start,
        file_create_date=[start + dt.timedelta(days=1)],
        experimenter=["Smith, John"],
        institution="St Elsewhere Hospital",
        lab="Doe Lab",
        notes="Patient is Jane Doe, born 1931-05-17, MRN 4471923",
        session_id="20240309-JD",
        related_publications=["doi:10.1000/doe.2024"],
        protocol="IRB-117",
        surgery="Grid implanted by Dr. House",
        stimulus_notes="Jane Doe watched a film",
        data_collection="sent by jdoe@example.org",
        keywords=["epilepsy", "Jane Doe"],
        source_script="run('Jane Doe')",
        source_script_file_name="/home/jdoe/run.py",
        experiment_description="Doe Lab ECoG study",
    )
    nwb.subject = Subject(
        subject_id=subject_id,
        date_of_birth=dob,
        age=age,
        sex="F",
        species=species,
        description="Jane Doe, 92 years old",
        weight=weight,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pynwb: 'manufacturer' is deprecated
        device = nwb.create_device(
            name="amp",
            description="Amplifier SN: 17010768",
            manufacturer="Acme Serial 99887766",
            serial_number="17010768",
        )
    group = nwb.create_electrode_group(
        name="grid", description="placed by Dr. House", location="CA1", device=device
    )
    for _ in range(4):
        nwb.add_electrode(group=group, location="Left Hippocampus")
    region = nwb.create_electrode_table_region([0, 1, 2, 3], "grid of Jane Doe")
    rng = np.random.default_rng(0)
    nwb.add_acquisition(
        ElectricalSeries(
            name="ecog",
            data=rng.standard_normal((500, 4)).astype(np.float32),
            electrodes=region,
            rate=1000.0,
            description="Jane Doe ECoG",
            comments="recorded by Smith in room 12",
        )
    )
    nwb.add_acquisition(
        TimeSeries(
            name="counts",
            data=rng.integers(-300, 300, 200).astype(np.int16),
            unit="n/a",
            timestamps=np.arange(200) / 100.0,
        )
    )
    nwb.add_trial_column("note", "what happened")
    nwb.add_trial(start_time=0.0, stop_time=0.25, note="Jane Doe sneezed")
    nwb.add_trial(start_time=0.25, stop_time=0.5, note="left_fist")
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path


def _strings(path):
    """Every string dataset value and string attribute in an HDF5 file (all groups)."""
    out = []

    def take(value):
        if isinstance(value, bytes | str):
            out.append(value.decode() if isinstance(value, bytes) else value)
        elif isinstance(value, np.ndarray) and value.dtype.kind in "OSU":
            for v in value.ravel():
                take(v)

    def visit(_, obj):
        for v in obj.attrs.values():
            take(v)
        if isinstance(obj, h5py.Dataset) and h5py.check_string_dtype(obj.dtype):
            take(obj.asstr()[()])

    with h5py.File(path, "r") as f:
        visit("/", f)
        f.visititems(visit)
    return out


def _scan(root):
    """Planted strings in any output file's bytes or in any HDF5 string."""
    hits = []
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        data = f.read_bytes().lower()
        hits += [(f.name, s) for s in PLANTED if s.lower().encode() in data]
        if f.suffix == ".nwb":
            text = "\n".join(_strings(f)).lower()
            hits += [(f.name, "h5:" + s) for s in PLANTED if s.lower() in text]
    return hits


def _arrays(path):
    """Every numeric dataset, by path."""
    out = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and obj.dtype.kind in "iuf":
            out[name] = obj[()]

    with h5py.File(path, "r") as f:
        f.visititems(visit)
    return out


def _object_ids(path):
    ids = []
    with h5py.File(path, "r") as f:
        f.visititems(lambda _, o: ids.append(o.attrs.get("object_id")))
        ids.append(f.attrs["object_id"])
    return {i for i in ids if i is not None}


def _read(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        io = NWBHDF5IO(str(path), "r")
        return io, io.read()


def test_planted_identifiers_leave_no_byte_and_no_string(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    _nwb(src / "JD4471923.nwb")
    assert len(_scan(src)) >= 20  # bytes and strings: the fixture carries them
    report = deidentify(src, tmp_path / "out", mapping=tmp_path / "map.json")
    out_dir = tmp_path / "out"
    assert _scan(out_dir) == []
    (f,) = report.files
    assert f.status == "written" and f.output == f"{f.subject}.nwb"
    out = out_dir / f.output
    # data arrays: every numeric dataset bitwise equal, dtype kept
    a, b = _arrays(src / "JD4471923.nwb"), _arrays(out)
    assert sorted(a) == sorted(b)
    for key in a:
        assert a[key].dtype == b[key].dtype, key
        assert a[key].tobytes() == b[key].tobytes(), key
    # object ids: all new (they linked every object to the source), all distinct
    old, new = _object_ids(src / "JD4471923.nwb"), _object_ids(out)
    assert len(new) == len(old) and not old & new
    (entry,) = read_mapping(tmp_path / "map.json").values()
    shift = dt.timedelta(days=entry["daysback"])
    io, nwb = _read(out)
    with io:
        assert nwb.session_start_time == START - shift
        assert nwb.timestamps_reference_time == START - shift
        assert nwb.file_create_date == [START + dt.timedelta(days=1) - shift]
        assert SHIFT_WINDOW[0] <= nwb.session_start_time.date() <= SHIFT_WINDOW[1]
        assert SHIFT_WINDOW[0] <= nwb.file_create_date[0].date() <= SHIFT_WINDOW[1]
        assert nwb.identifier.startswith(f"{f.subject}-")
        for field in ("experimenter", "institution", "lab", "session_id"):
            assert getattr(nwb, field) is None, field
        assert nwb.related_publications is None and nwb.source_script is None
        subject = nwb.subject
        assert subject.subject_id == f.subject
        assert subject.age == "P89Y" and subject.date_of_birth is None
        assert subject.weight is None  # a person's weight is removed
        assert (subject.sex, subject.species) == ("F", "Homo sapiens")
        assert subject.description == "[name], [age over 89]"
        assert nwb.devices["amp"].serial_number is None
        assert nwb.devices["amp"].description == "Amplifier SN: [removed]"  # known
        assert list(nwb.electrodes["location"][:]) == ["Left Hippocampus"] * 4
        assert list(nwb.trials["note"][:]) == ["[name] sneezed", "left_fist"]
        assert nwb.trials["start_time"][:].tolist() == [0.0, 0.25]
        assert nwb.acquisition["ecog"].comments == "recorded by [removed] in room 12"
    rows = (out_dir / "scans.tsv").read_text().splitlines()
    assert rows[1].split("\t") == [
        f.output,
        f"sub-{f.subject}",
        (START - shift).replace(tzinfo=None).isoformat(),
    ]
    part = (out_dir / "participants.tsv").read_text().splitlines()
    assert part[1].split("\t") == [f"sub-{f.subject}", "89+", "F"]
    assert all("Jane" not in (c.new or "") for c in f.changes)  # never the old value


def test_intervals_kept_and_second_run_changes_nothing(tmp_path):
    src = tmp_path / "in"
    starts = {
        "P1": [
            dt.datetime(2019, 1, 2, 8, 0, 0, tzinfo=TZ),
            dt.datetime(2024, 7, 3, 17, 45, 30, tzinfo=TZ),
        ],
        "P2": [dt.datetime(2010, 6, 1, 12, 0, 0, tzinfo=TZ)],
    }
    for subject, times in starts.items():
        (src / subject).mkdir(parents=True)
        for k, t in enumerate(times):
            _nwb(src / subject / f"{subject}_s{k}.nwb", start=t, subject_id=subject)
    deidentify(src, tmp_path / "once", mapping=tmp_path / "m1.json")
    mapping = read_mapping(tmp_path / "m1.json")
    for subject, times in starts.items():
        pseudo = mapping[subject]["pseudonym"]
        shift = dt.timedelta(days=mapping[subject]["daysback"])
        got = []
        for p in sorted((tmp_path / "once" / pseudo).glob("*.nwb")):
            io, nwb = _read(p)
            with io:
                got.append(nwb.session_start_time)
        assert sorted(got) == [t - shift for t in times]  # one shift, to the second
        assert all(SHIFT_WINDOW[0] <= g.date() <= SHIFT_WINDOW[1] for g in got)
    assert_second_run_changes_nothing(
        tmp_path / "once", tmp_path / "twice", mapping=tmp_path / "m2.json"
    )


def test_ages_weights_and_species(tmp_path):
    src = tmp_path / "in"
    (src / "mouse").mkdir(parents=True)
    (src / "person").mkdir(parents=True)
    _nwb(
        src / "mouse" / "m.nwb",
        subject_id="M7",
        species="Mus musculus",
        dob=None,
        age="P90D",
        weight="25 g",
    )
    _nwb(src / "person" / "p.nwb", subject_id="H9", dob=None, age="P95Y")
    report = deidentify(src, tmp_path / "out", mapping=tmp_path / "map.json")
    assert [f.status for f in report.files if f.format == "NWB"] == ["written"] * 2
    mapping = read_mapping(tmp_path / "map.json")
    io, nwb = _read(tmp_path / "out" / mapping["mouse"]["pseudonym"] / "m.nwb")
    with io:
        assert (nwb.subject.age, nwb.subject.weight) == ("P90D", "25 g")  # kept
    io, nwb = _read(tmp_path / "out" / mapping["person"]["pseudonym"] / "p.nwb")
    with io:
        assert (nwb.subject.age, nwb.subject.weight) == ("P89Y", None)
    assert _age_years("P92Y") == 92 and _age_years("P90Y/P95Y") == 90
    assert _age_years("P6M") == 0.5 and _age_years("93 years") == 93
    assert _age_years("unknown") is None


def test_external_links_and_non_nwb_files_fail(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    _nwb(src / "linked.nwb", subject_id="A1")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["data"] = np.arange(200, dtype=np.int16)
    with h5py.File(src / "linked.nwb", "a") as f:  # the samples live elsewhere
        del f["acquisition/counts/data"]
        f["acquisition/counts/data"] = h5py.ExternalLink(
            str(tmp_path / "other.h5"), "/data"
        )
    with h5py.File(src / "plain.nwb", "w") as f:
        f["x"] = np.arange(3)
        f.attrs["note"] = "Jane Doe"
    report = deidentify(src, tmp_path / "out")
    reasons = {
        f.source.rsplit("/", 1)[-1]: (f.status, f.reason or "")
        for f in report.files
        if f.format == "NWB"
    }
    assert reasons["linked.nwb"][0] == "failed"
    assert "links to other files" in reasons["linked.nwb"][1]
    assert reasons["plain.nwb"][0] == "failed"
    assert "not an NWB file" in reasons["plain.nwb"][1]
    assert not list((tmp_path / "out").rglob("*.nwb"))
