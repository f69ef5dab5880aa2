"""De-identification of MATLAB files, v5 (scipy.io) and v7.3 (HDF5).

Each planted file carries identifiers in the header text, in fields named for a
person, a birth date or a date, in free text (char arrays, cells, an HDF5 attribute
and a plain HDF5 string) and, for v7.3, in the bytes of a deleted dataset. After
:func:`deidentify` none of them is found: not in the raw bytes (UTF-8 and UTF-16),
not in the decompressed v5 elements, not in any HDF5 string or attribute. Numeric
arrays come back bit for bit, with their MATLAB class.
"""

import struct
import zlib

import h5py
import numpy as np
import pytest
import scipy.io as sio
import scipy.sparse as sp

from neurodl.data.registry import dataset_file
from neurodl.privacy.deid import deidentify
from neurodl.privacy.deid.mat import HEADER_V5, HEADER_V73, name_rule
from tests.privacy.deid_checks import assert_second_run_changes_nothing

PLANTED = [
    "Jane",  # patient.name
    "Doe",
    "MRN4471923",  # patient.mrn
    "1931-05-17",  # patient.dob
    "2021-03-04",  # recording_date and in free text
    "St Elsewhere",  # institution
    "John Smith",  # experimenter
    "SN17010768",  # device.serial
    "Quincy Adams",  # free text in a cell
    "jane.doe@example.org",  # free text
    "+41 44 123 45 67",  # free text
    "Created on",  # header text
    "Mar  4 14:33",  # header date
]
HEADER_IN = (
    b"MATLAB 5.0 MAT-file, Platform: GLNXA64, Created on: Thu Mar  4 14:33:07 2021"
)
LOAD = dict(
    mat_dtype=True, chars_as_strings=True, squeeze_me=False, struct_as_record=True
)
# scipy's mat_dtype=True drops imaginary parts: the synthetic files (written by scipy,
# so stored in their class) are compared as stored
RAW = {**LOAD, "mat_dtype": False}


def _numbers():
    rng = np.random.default_rng(7)
    return {
        "data": rng.integers(-300, 300, (3, 40)).astype(np.int16),
        "x": rng.normal(size=(5, 7)),
        "mask": rng.random((2, 9)) > 0.5,
        "z": (rng.normal(size=(2, 2)) + 1j * rng.normal(size=(2, 2))).astype(
            np.complex64
        ),
        "u": rng.integers(0, 255, (4, 4)).astype(np.uint8),
    }


def _v5(path):
    patient = np.zeros(
        (1, 1), dtype=[(k, "O") for k in ("name", "mrn", "dob", "age", "sex")]
    )
    patient[0, 0] = ("Jane Doe", "MRN4471923", "1931-05-17", np.array([[92.0]]), "F")
    cell = np.empty((1, 3), dtype=object)
    cell[0, :] = ["T1", "Patient Quincy Adams says hello", np.arange(3.0)]
    mdict = {
        "patient": patient,
        "experimenter": "John Smith",
        "institution": "St Elsewhere",
        "notes": "Jane Doe on 2021-03-04: jane.doe@example.org, +41 44 123 45 67",
        "device": {"serial": "SN17010768", "model": "actiCHamp"},
        "events": cell,
        "recording_date": "2021-03-04 14:33:07",
        "session": {"datenum": np.array([[738219.6]]), "gains": np.array([[1.0, 2.0]])},
        "sparse": sp.csc_matrix(np.eye(4)),
        **_numbers(),
    }
    sio.savemat(path, mdict, do_compression=True)
    raw = bytearray(path.read_bytes())
    raw[:116] = HEADER_IN.ljust(116)
    path.write_bytes(bytes(raw))


def _put(f, parent, name, value, counter):
    """Store ``value`` the way MATLAB -v7.3 does (char, struct, cell, numeric)."""
    if isinstance(value, str):
        ds = parent.create_dataset(
            name, data=np.array([[ord(c)] for c in value], np.uint16)
        )
        ds.attrs["MATLAB_class"] = np.bytes_("char")
        ds.attrs["MATLAB_int_decode"] = np.int32(2)
    elif isinstance(value, dict):
        g = parent.create_group(name)
        g.attrs["MATLAB_class"] = np.bytes_("struct")
        names = np.empty(len(value), dtype=object)
        for i, k in enumerate(value):
            names[i] = np.array(list(k), dtype="S1")
        g.attrs.create("MATLAB_fields", names, dtype=h5py.vlen_dtype(np.dtype("S1")))
        for k, v in value.items():
            _put(f, g, k, v, counter)
    elif isinstance(value, list):
        refs = []
        for v in value:
            counter.append(1)
            key = f"c{len(counter)}"
            _put(f, f["#refs#"], key, v, counter)
            refs.append(f["#refs#"][key].ref)
        ds = parent.create_dataset(
            name, data=np.array(refs, dtype=h5py.ref_dtype)[:, None]
        )
        ds.attrs["MATLAB_class"] = np.bytes_("cell")
    else:
        a = np.asarray(value)
        ds = parent.create_dataset(name, data=a.T)
        cls = {"f": "double", "b": "logical"}.get(a.dtype.kind, str(a.dtype))
        ds.attrs["MATLAB_class"] = np.bytes_(cls)


def _v73(path):
    variables = {
        "patient": {
            "name": "Jane Doe",
            "mrn": "MRN4471923",
            "dob": "1931-05-17",
            "age": np.array([[92.0]]),
        },
        "experimenter": "John Smith",
        "notes": "Jane Doe on 2021-03-04: jane.doe@example.org, +41 44 123 45 67",
        "device": {"serial": "SN17010768"},
        "events": ["T1", "Patient Quincy Adams says hello", "T2"],
        "recording_date": "2021-03-04 14:33:07",
        **{k: v for k, v in _numbers().items() if k != "z"},
    }
    with h5py.File(path, "w", userblock_size=512) as f:
        f.create_group("#refs#")
        counter: list[int] = []
        for k, v in variables.items():
            _put(f, f, k, v, counter)
        f.attrs["site"] = np.bytes_("Institution: St Elsewhere")
        f.create_dataset(
            "comment", data="seen by John Smith", dtype=h5py.string_dtype()
        )
        f.create_dataset(
            "gone",
            data=np.frombuffer(("Ellie Sattler " * 200).encode("utf-16-le"), np.uint16),
        )
        f.create_dataset("after", data=np.arange(4000.0))
    with h5py.File(path, "a") as f:
        del f["gone"]  # h5py leaves the deleted bytes in the file
    with open(path, "r+b") as fh:
        header = HEADER_IN.replace(b"5.0", b"7.3") + b" HDF5 schema 1.00 ."
        fh.write(header.ljust(116) + b"\0" * 8 + b"\0\2IM")


def _v5_elements(raw):
    """The v5 file's bytes with every compressed element decompressed."""
    out, pos = [raw], 128
    while pos + 8 <= len(raw):
        kind, size = struct.unpack_from("<II", raw, pos)
        if kind >> 16:  # a small data element packed in the tag
            pos += 8
            continue
        if kind == 15:  # miCOMPRESSED
            out.append(zlib.decompress(raw[pos + 8 : pos + 8 + size]))
        pos += 8 + size + (0 if kind == 15 else -size % 8)
    return b"".join(out)


def _h5_texts(path):
    """Every string in an HDF5 file: char datasets, string datasets, attributes."""
    texts = []

    def text(v):
        if isinstance(v, bytes):
            return v.decode("utf-8", "replace")
        if isinstance(v, np.ndarray):
            return " ".join(text(x) for x in v.ravel())
        return str(v)

    def visit(_, obj):
        texts.extend(text(v) for v in obj.attrs.values())
        if isinstance(obj, h5py.Dataset) and obj.shape is not None:
            v = obj[()]
            if obj.attrs.get("MATLAB_class") == b"char" and not obj.attrs.get(
                "MATLAB_empty"
            ):
                texts.append("".join(map(chr, np.asarray(v).T.ravel())))
            elif h5py.check_string_dtype(obj.dtype) is not None:
                texts.append(text(v))

    with h5py.File(path, "r") as f:
        texts += [text(v) for v in f.attrs.values()]
        f.visititems(visit)
    return texts


def _hits(path, planted):
    raw = path.read_bytes()
    blobs = [raw]
    if raw[124:128] == b"\0\1IM":
        blobs.append(_v5_elements(raw))
    data = b"".join(blobs).lower()
    hits = {
        s
        for s in planted
        for enc in ("utf-8", "utf-16-le")
        if s.lower().encode(enc) in data
    }
    if raw[124:128] == b"\0\2IM":
        texts = " ".join(_h5_texts(path)).lower()
        hits |= {s for s in planted if s.lower() in texts}
    return hits


def _same_numbers(a, b):
    """Deep comparison: numbers bit for bit with dtype; returns the text pairs."""
    texts = []
    if isinstance(a, np.ndarray) and a.dtype.names:
        assert a.dtype.names == b.dtype.names and a.shape == b.shape
        for idx in np.ndindex(a.shape):
            for n in a.dtype.names:
                texts += _same_numbers(a[n][idx], b[n][idx])
    elif isinstance(a, np.ndarray) and a.dtype == object:
        assert a.shape == b.shape
        for idx in np.ndindex(a.shape):
            texts += _same_numbers(a[idx], b[idx])
    elif isinstance(a, np.ndarray) and a.dtype.kind == "U":
        texts.append((a, b))
    elif sp.issparse(a):
        assert (a != b).nnz == 0 and a.dtype == b.dtype
    else:
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    return texts


def test_planted_identifiers_leave_no_byte_v5(tmp_path):
    (tmp_path / "in" / "S01").mkdir(parents=True)
    src = tmp_path / "in" / "S01" / "rec.mat"
    _v5(src)
    assert _hits(src, PLANTED) == set(PLANTED)  # every one is there to find
    report = deidentify(tmp_path / "in", tmp_path / "out")
    rep = next(f for f in report.files if f.format == "MAT")
    out = tmp_path / "out" / rep.output
    assert rep.status == "written", rep.reason
    assert _hits(out, PLANTED) == set()
    assert out.read_bytes()[:116] == HEADER_V5
    before, after = sio.loadmat(src, **RAW), sio.loadmat(out, **RAW)
    names = [k for k in before if not k.startswith("__")]
    assert names == [k for k in after if not k.startswith("__")]  # names, order kept
    for k in names:
        if k not in ("session", "patient"):  # checked below: a date and an age
            _same_numbers(before[k], after[k])
    classes = [(name, cls) for name, _, cls in sio.whosmat(src)]
    assert [(name, cls) for name, _, cls in sio.whosmat(out)] == classes
    assert after["patient"]["age"][0, 0][0, 0] == 89.0  # capped
    assert after["patient"]["sex"][0, 0][0] == "F"
    assert after["events"][0, 0][0] == "T1"  # event code kept
    # datenum 738219.6 (2021-03-04 14:24) moved by the subject's shift, time of day kept
    moved = after["session"]["datenum"][0, 0][0, 0]
    assert 694692 <= moved < 703458 and moved % 1 == pytest.approx(0.6)  # 1902-1925
    shifted = str(after["recording_date"][0])
    assert shifted.endswith("14:33:07") and "1902" <= shifted[:4] <= "1925"
    changed = {c.field for c in rep.changes}
    assert {"header text", "patient.name", "patient.dob", "experimenter"} <= changed
    assert {"device.serial", "events{1,2}", "notes", "session.datenum"} <= changed


def test_planted_identifiers_leave_no_byte_v73(tmp_path):
    (tmp_path / "in" / "S01").mkdir(parents=True)
    src = tmp_path / "in" / "S01" / "rec.mat"
    _v73(src)
    planted = [*PLANTED, "Ellie Sattler"]
    assert _hits(src, planted) == set(planted)  # the deleted dataset's bytes too
    report = deidentify(tmp_path / "in", tmp_path / "out")
    rep = next(f for f in report.files if f.format == "MAT")
    out = tmp_path / "out" / rep.output
    assert rep.status == "written", rep.reason
    assert _hits(out, planted) == set()
    assert out.read_bytes()[:128] == HEADER_V73 + b"\0" * 8 + b"\0\2IM"
    with h5py.File(src, "r") as a, h5py.File(out, "r") as b:
        assert b.userblock_size == 512
        for k in ("data", "x", "mask", "u", "after"):
            assert a[k].dtype == b[k].dtype and a[k][()].tobytes() == b[k][()].tobytes()
            assert dict(a[k].attrs) == dict(b[k].attrs)
        assert b["patient/age"][()][0, 0] == 89.0
        assert b["patient/name"].attrs["MATLAB_empty"] == 1
        assert b["patient"].attrs["MATLAB_fields"].tolist()[0].tolist() == [
            b"n",
            b"a",
            b"m",
            b"e",
        ]
        first = b[b["events"][0, 0]]
        assert "".join(map(chr, first[()].ravel())) == "T1"  # references re-pointed
        assert "gone" not in b


@pytest.mark.parametrize("make", [_v5, _v73], ids=["v5", "v7.3"])
def test_second_run_changes_nothing(tmp_path, make):
    (tmp_path / "in" / "S01").mkdir(parents=True)
    make(tmp_path / "in" / "S01" / "rec.mat")
    deidentify(tmp_path / "in", tmp_path / "once")
    assert_second_run_changes_nothing(tmp_path / "once", tmp_path / "twice")


def test_real_matlab_file_keeps_its_numbers(tmp_path):
    """bci_golub/exampleData.mat (MATLAB, 2018): date shifted, header dated no more."""
    src = dataset_file("bci_golub", "exampleData.mat")
    report = deidentify(src, tmp_path / "out")
    (rep,) = [f for f in report.files if f.format == "MAT"]
    out = tmp_path / "out" / rep.output
    assert (
        b"Created on" in src.read_bytes()[:116] and out.read_bytes()[:116] == HEADER_V5
    )
    before, after = sio.loadmat(src, **LOAD), sio.loadmat(out, **LOAD)
    texts = []
    for k in (k for k in before if not k.startswith("__")):
        texts += _same_numbers(before[k], after[k])
    changed = [(a.tolist(), b.tolist()) for a, b in texts if not np.array_equal(a, b)]
    assert changed == [(["20120305"], [changed[0][1][0]])]  # expParams.expDate only
    assert "1902" <= changed[0][1][0][:4] <= "1925"
    assert [c.field for c in rep.changes][-2:] == ["header text", "expParams.expDate"]


def test_opaque_objects_are_removed(tmp_path):
    (tmp_path / "in").mkdir()
    src = tmp_path / "in" / "rec.mat"
    _v73(src)
    with h5py.File(src, "a") as f:
        obj = f.create_dataset(
            "when", data=np.array([[3707764736, 2, 1, 1, 1, 1]], np.uint32)
        )
        obj.attrs["MATLAB_class"] = np.bytes_("datetime")
        obj.attrs["MATLAB_object_decode"] = np.int32(3)
        f.create_group("#subsystem#").create_dataset("MCOS", data=np.arange(3))
    (rep,) = deidentify(tmp_path / "in", tmp_path / "out").files
    assert rep.status == "written", rep.reason
    with h5py.File(tmp_path / "out" / rep.output, "r") as f:
        assert "when" not in f and "#subsystem#" not in f
    removed = {c.field for c in rep.changes if c.action.startswith("removed")}
    assert {"when", "#subsystem#"} <= removed


def test_name_rule():
    assert name_rule(("PatientBirthDate",)) == "birth"
    assert name_rule(("dateOfBirth",)) == "birth"
    assert name_rule(("DeviceSerialNumber",)) == "person"
    assert name_rule(("experimenters",)) == "person"
    assert name_rule(("subject", "name")) == "person"
    assert name_rule(("subject_name",)) == "person"
    assert name_rule(("SubjectID",)) == "subject"
    assert name_rule(("subject", "age")) == "age"
    assert name_rule(("chanlocs", "labels")) is None
    assert name_rule(("Models", "name")) is None
    assert name_rule(("average",)) is None and name_rule(("image",)) is None
    assert name_rule(("expDate",)) == "date" and name_rule(("time",)) is None
