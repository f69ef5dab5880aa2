"""De-identification of NIfTI images: header bytes, extensions, data, faces.

The planted file carries identifiers in every place a NIfTI file has room for text:
the five header text fields (NIfTI-1) or their NIfTI-2 counterparts and unused
bytes, three header extensions (comment, DICOM, AFNI), stray bytes between the
extensions and ``vox_offset``, bytes after the data, and the gzip header's file name
and time. After :func:`deidentify`, a scan of every output file's bytes
(gzip-decompressed) finds none of them; the data bytes, the affine, the scaling, the
units and the intent codes are unchanged.
"""

import gzip
import json
import struct
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from neurodl.privacy.deface import deface
from neurodl.privacy.deid import deidentify
from neurodl.privacy.deid.nifti import (
    ANATOMICAL_FOV_MM,
    anatomical_reason,
    looks_anatomical,
    read_nifti,
)
from tests.privacy.deid_checks import assert_second_run_changes_nothing
from tests.privacy.heads import head

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "nibabel_testdata"
# the shared copy, else nibabel's own (the same file, shipped in its wheel)
EXAMPLE4D = next(
    (
        p
        for p in (
            SHARED / "example4d.nii.gz",
            Path(nib.__file__).parent / "tests" / "data" / "example4d.nii.gz",
        )
        if p.is_file()
    ),
    None,
)
PLANTED = [
    "Jane Doe",  # descrip
    "1931-05-17",  # descrip (date of birth)
    "2021-03-04",  # descrip (acquisition date)
    "SN17010768",  # aux_file (device serial)
    "StElsewhere",  # db_name / unused_str (institution)
    "JohnSmith",  # intent_name (experimenter)
    "MRN447192",  # data_type (record number)
    "Patient Jane Quincy",  # comment extension (free text)
    "DOE^JANE",  # DICOM extension (PatientName)
    "jsmith@scanner7",  # AFNI extension (history)
    "STRAY-BYTES-7",  # between the extensions and vox_offset
    "TRAILER-SECRET",  # after the data
    "jane_doe_t1.nii",  # gzip header file name
]


def _plant(path, *, version=1, gz=True):
    """Write a 4-D image carrying every planted identifier; return (data, affine)."""
    rng = np.random.default_rng(3)
    data = rng.integers(-2000, 2000, (6, 5, 4, 3)).astype(np.int16)
    affine = np.array([[-2.0, 0, 0, 10], [0, 2.5, 0, -20], [0, 0, 3, 5], [0, 0, 0, 1]])
    klass = nib.Nifti1Image if version == 1 else nib.Nifti2Image
    img = klass(data, affine)
    hdr = img.header
    hdr.set_slope_inter(0.5, 7.0)
    hdr.set_xyzt_units("mm", "sec")
    hdr.set_intent("t test", (12.0,))
    hdr["descrip"] = b"Jane Doe b. 1931-05-17 scanned 2021-03-04"
    hdr["aux_file"] = b"SN17010768"
    hdr["intent_name"] = b"JohnSmith"
    if version == 1:
        hdr["db_name"] = b"StElsewhere"
        hdr["data_type"] = b"MRN447192"
        hdr["glmax"] = 4471923
    else:
        hdr["unused_str"] = b"StElsewhere"
    ext = nib.nifti1.Nifti1Extension
    hdr.extensions.append(ext(6, b"Patient Jane Quincy, seen 2021-03-04"))
    hdr.extensions.append(ext(2, b"\x10\x00\x10\x00PN\x08\x00DOE^JANE"))
    hdr.extensions.append(ext(4, b"<AFNI_attributes>jsmith@scanner7</AFNI_attributes>"))
    plain = path.with_name("plain.nii")
    nib.save(img, plain)
    raw = bytearray(plain.read_bytes())
    plain.unlink()
    where, fmt = (108, "<f") if version == 1 else (168, "<q")  # vox_offset
    offset = int(struct.unpack_from(fmt, raw, where)[0])
    stray = b"STRAY-BYTES-7".ljust(16, b"\0")  # not an extension, before the data
    raw[offset:offset] = stray
    struct.pack_into(fmt, raw, where, offset + len(stray))
    raw += b"TRAILER-SECRET"
    if gz:
        with (
            open(path, "wb") as f,
            gzip.GzipFile("jane_doe_t1.nii", "wb", fileobj=f, mtime=1614868387) as z,
        ):
            z.write(bytes(raw))
    else:
        path.write_bytes(bytes(raw))
    return data, affine


def _bytes(path):
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        return raw + gzip.decompress(raw)  # the gzip header too
    return raw


def _scan(root):
    hits = []
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        data = _bytes(f).lower()
        hits += [(f.name, s) for s in PLANTED if s.lower().encode() in data]
    return hits


@pytest.mark.parametrize(
    ("version", "gz"),
    [(1, True), (2, False), (2, True)],
    ids=["nifti1.gz", "nifti2", "nifti2.gz"],
)
def test_planted_identifiers_leave_no_byte(tmp_path, version, gz):
    src = tmp_path / "in" / ("rec.nii.gz" if gz else "rec.nii")
    src.parent.mkdir()
    data, affine = _plant(src, version=version, gz=gz)
    assert len(_scan(tmp_path / "in")) >= 10 + (1 if version == 1 else 0)  # all there
    report = deidentify(tmp_path / "in", tmp_path / "out")
    (rep,) = report.files
    assert rep.status == "written", rep.reason
    assert _scan(tmp_path / "out") == []
    out = nib.load(tmp_path / "out" / rep.output)
    assert type(out.header) is (nib.Nifti1Header if version == 1 else nib.Nifti2Header)
    assert out.get_data_dtype() == np.int16
    assert np.array_equal(out.dataobj.get_unscaled(), data)  # the stored values
    assert (out.dataobj.slope, out.dataobj.inter) == (0.5, 7.0)
    assert np.allclose(out.affine, affine)
    assert out.header.get_xyzt_units() == ("mm", "sec")
    assert out.header.get_intent() == ("t test", (12.0,), "")
    assert list(out.header.extensions) == []
    layout = read_nifti(tmp_path / "out" / rep.output)
    assert layout.vox_offset == (352 if version == 1 else 544)
    assert layout.tail == layout.gap == 0 and not layout.gzip_identity
    changed = {c.field.split(" (")[0] for c in rep.changes}
    assert {"header descrip", "header aux_file", "header intent_name"} <= changed
    assert {"extension 0", "extension 1", "extension 2"} <= changed
    assert "bytes between header and data" in changed
    assert all("Jane" not in (c.new or "") for c in rep.changes)


@pytest.mark.skipif(EXAMPLE4D is None, reason="example4d.nii.gz is not available")
def test_example4d_loses_extensions_and_descrip(tmp_path):
    """The real file: 2 comment extensions and a descrip go; data and affine stay."""
    before = nib.load(EXAMPLE4D)
    assert len(before.header.extensions) == 2
    assert bytes(before.header["descrip"]).strip(b"\0")
    report = deidentify(EXAMPLE4D, tmp_path / "out")
    (rep,) = report.files
    after = nib.load(tmp_path / "out" / rep.output)
    assert list(after.header.extensions) == []
    assert bytes(after.header["descrip"]).strip(b"\0") == b""
    assert np.array_equal(after.dataobj.get_unscaled(), before.dataobj.get_unscaled())
    assert after.get_data_dtype() == before.get_data_dtype()
    assert np.array_equal(after.affine, before.affine)
    raw = gzip.decompress((tmp_path / "out" / rep.output).read_bytes())
    for text in (b"extcomment1", b"extlongcomment2", b"FSL3.3", b"v2.25"):
        assert text not in raw
    with gzip.open(EXAMPLE4D) as f:
        original = f.read()
    assert raw[352:] == original[read_nifti(EXAMPLE4D).vox_offset :]  # the data bytes


def test_second_run_changes_nothing(tmp_path):
    (tmp_path / "in").mkdir()
    _plant(tmp_path / "in" / "rec.nii.gz")
    deidentify(tmp_path / "in", tmp_path / "once")
    assert_second_run_changes_nothing(tmp_path / "once", tmp_path / "twice")


def _bids_t1(root, shape=(48, 48, 48), zooms=(4.0, 4.0, 4.0)):
    img, _, face, affine = head(shape, zooms)
    (root / "sub-01" / "anat").mkdir(parents=True)
    (root / "dataset_description.json").write_text(
        json.dumps({"Name": "t", "BIDSVersion": "1.9.0"})
    )
    path = root / "sub-01" / "anat" / "sub-01_T1w.nii.gz"
    nib.save(nib.Nifti1Image(img, affine), path)
    (root / "sub-01" / "anat" / "sub-01_T1w.json").write_text(
        json.dumps({"RepetitionTime": 2.3})
    )
    return path, face


def test_undefaced_t1w_is_refused(tmp_path):
    _bids_t1(tmp_path / "bids")
    report = deidentify(tmp_path / "bids", tmp_path / "out")
    (rep,) = [f for f in report.files if f.format == "NIfTI"]
    assert rep.status == "refused" and "T1w" in rep.reason and "deface" in rep.reason
    assert list((tmp_path / "out").rglob("*.nii.gz")) == []
    allowed = deidentify(tmp_path / "bids", tmp_path / "out2", allow_face=True)
    (rep,) = [f for f in allowed.files if f.format == "NIfTI"]
    assert rep.status == "written"
    assert [x.action for x in rep.findings if x.kind == "face"] == [
        "kept with the face (allow_face)"
    ]


def test_defaced_t1w_is_accepted(tmp_path):
    src, face = _bids_t1(tmp_path / "raw")
    dataset = tmp_path / "defaced"
    anat = dataset / "sub-01" / "anat"
    anat.mkdir(parents=True)
    (dataset / "dataset_description.json").write_text(
        (tmp_path / "raw" / "dataset_description.json").read_text()
    )
    deface(src, anat / src.name)
    report = deidentify(dataset, tmp_path / "out")
    (rep,) = [f for f in report.files if f.format == "NIfTI"]
    assert rep.status == "written", rep.reason
    assert [c.field for c in rep.changes] == ["file name"]  # a clean header stays
    out = tmp_path / "out" / rep.output
    assert (np.asanyarray(nib.load(out).dataobj)[face] == 0).mean() >= 0.99
    assert json.loads(out.with_name(out.name.replace(".nii.gz", ".json")).read_text())[
        "DeIdentificationMethod"
    ]
    again = deidentify(
        tmp_path / "out", tmp_path / "out2"
    )  # still accepted, nothing new
    assert again.changes == 0 and all(f.status == "unchanged" for f in again.files)


def test_anatomical_heuristic_outside_bids(tmp_path):
    def header(shape, zooms):
        h = nib.Nifti1Header()
        h.set_data_shape(shape)
        h.set_zooms(zooms)
        return h

    assert looks_anatomical(header((160, 240, 256), (1.0, 1.0, 1.0))) is not None
    assert (
        looks_anatomical(header((128, 128, 8), (1.0, 1.0, 1.0))) is not None
    )  # 2 axes
    assert looks_anatomical(header((100, 100, 100), (1.0, 1.0, 1.0))) is None  # 100 mm
    assert looks_anatomical(header((96, 96, 96), (2.0, 2.0, 2.0))) is None  # coarse
    assert looks_anatomical(header((160, 240, 256, 10), (1.0, 1.0, 1.0, 2.0))) is None
    assert (
        looks_anatomical(header((160, 240, 256, 1), (1.0, 1.0, 1.0, 2.0))) is not None
    )
    assert ANATOMICAL_FOV_MM == 120.0
    h = header((160, 240, 256), (1.0, 1.0, 1.0))
    bold = tmp_path / "sub-01" / "func" / "sub-01_task-rest_bold.nii"
    assert anatomical_reason(bold, h) is None  # a BIDS suffix decides
    assert "FLAIR" in anatomical_reason(tmp_path / "sub-01_FLAIR.nii.gz", h)
    mask = tmp_path / "sub-01" / "anat" / "sub-01_desc-brain_mask.nii.gz"
    assert anatomical_reason(mask, h) is None
    small = np.zeros((130, 130, 4), np.uint8)
    (tmp_path / "in").mkdir()
    nib.save(nib.Nifti1Image(small, np.eye(4)), tmp_path / "in" / "scan.nii")
    (rep,) = deidentify(tmp_path / "in", tmp_path / "out").files
    assert rep.status == "refused" and "single volume" in rep.reason


def test_malformed_file_fails_cleanly(tmp_path):
    (tmp_path / "in").mkdir()
    _plant(tmp_path / "in" / "rec.nii", gz=False)
    raw = (tmp_path / "in" / "rec.nii").read_bytes()
    (tmp_path / "in" / "rec.nii").write_bytes(raw[:-200])  # truncated data
    (rep,) = deidentify(tmp_path / "in", tmp_path / "out").files
    assert rep.status == "failed" and "truncated" in rep.reason
    assert not list((tmp_path / "out").rglob("*.nii"))
