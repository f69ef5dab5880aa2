r"""NIfTI-1 and NIfTI-2 images (``.nii``, ``.nii.gz``): header text, extensions, faces.

Where identity hides in a NIfTI file:

* the header's text fields: ``descrip`` (80 bytes; dcm2niix writes the acquisition
  time there), ``aux_file`` (24), ``intent_name`` (16), and in NIfTI-1 the ANALYZE
  leftovers ``db_name`` (18) and ``data_type`` (10). Bytes after a field's first NUL
  are part of the field too (``example4d.nii.gz``'s ``descrip`` holds
  ``b"FSL3.3\\x00 v2.25 NIfTI-1 Single file format"``);
* the unused ANALYZE fields (``extents``, ``session_error``, ``regular``, ``glmax``,
  ``glmin``) and NIfTI-2's ``unused_str``, where a careless writer leaves memory;
* the header extensions (DICOM ecode 2 with the patient's name, comments ecode 6,
  AFNI ecode 4 with the command history...), and any bytes between the header and
  ``vox_offset``;
* bytes after the image data;
* a gzip header's file name (often the original, named, file) and time stamp;
* **the image itself**: an anatomical image shows the face (see
  :mod:`neurodl.privacy.deface`).

What is written: the header with those text fields zeroed (all their bytes), the
unused fields cleared, no extensions (``vox_offset`` = 352, or 544 for NIfTI-2), then
the image's data bytes copied as they are (same data type, byte order and scaling;
``scl_slope``/``scl_inter``, the affines, units and intent codes are untouched), and
nothing after them; gzip output has no name and time 0. The file is assembled byte by
byte, not re-saved through nibabel, so no old header byte survives and no value is
rescaled.

**Faces.** An anatomical image is refused (:class:`~neurodl.privacy.deid.Refused`,
status ``"refused"`` in the report) unless it was defaced (its JSON sidecar, the
file's name with ``.json``, holds a non-empty ``DeIdentificationMethod``, which
``neurodl deface`` writes) or the run allows faces (``allow_face``). An image is
anatomical when

1. its name is a BIDS name (``sub-<label>_..._<suffix>.nii[.gz]``) whose suffix is
   one of :data:`ANATOMICAL_SUFFIXES` (T1w, T2w, FLAIR, PDw, T2starw, angio, MP2RAGE,
   the quantitative maps...), or it sits in a BIDS ``anat`` folder and is not a
   mask or segmentation; or
2. it has no BIDS suffix and looks like a head scan by :func:`looks_anatomical`: a
   single volume whose voxels are all at most :data:`ANATOMICAL_VOXEL_MM` (1.5 mm)
   on a side and whose field of view spans at least :data:`ANATOMICAL_FOV_MM`
   (120 mm) along two axes or more. Functional series (many volumes) and
   low-resolution maps (2 mm and coarser) pass; a 1 mm mask or statistical map
   without a BIDS name is refused too (give ``allow_face``, or a BIDS name).
"""

from __future__ import annotations

import gzip
import io
import json
import re
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neurodl._atomic import atomic_path
from neurodl.errors import FormatError
from neurodl.privacy.deid._core import (
    FileContext,
    FileFinding,
    Handler,
    Inspection,
    Refused,
)

__all__ = [
    "ANATOMICAL_FOV_MM",
    "ANATOMICAL_SUFFIXES",
    "ANATOMICAL_VOXEL_MM",
    "NiftiFile",
    "NiftiHandler",
    "anatomical_reason",
    "defaced_by",
    "looks_anatomical",
    "read_nifti",
    "sidecar_of",
    "write_nifti",
]

#: BIDS suffixes of anatomical images (``anat`` datatype): these show the face.
ANATOMICAL_SUFFIXES = frozenset(
    [
        "T1w",
        "T2w",
        "PDw",
        "T2starw",
        "FLAIR",
        "inplaneT1",
        "inplaneT2",
        "PDT2",
        "PD",
        "T2star",
        "FLASH",
        "angio",
        "UNIT1",
        "T1map",
        "T2map",
        "T2starmap",
        "R1map",
        "R2map",
        "R2starmap",
        "PDmap",
        "MTRmap",
        "MTsat",
        "T1rho",
        "MWFmap",
        "MTVmap",
        "Chimap",
        "S0map",
        "M0map",
        "MP2RAGE",
        "MPRAGE",
        "MEGRE",
        "MESE",
        "VFA",
        "IRT1",
        "MPM",
        "MTS",
        "MTR",
    ]
)
#: BIDS suffixes in ``anat`` folders that cannot show a face (masks, labels).
_NOT_FACES = frozenset(["mask", "dseg", "probseg", "defacemask", "label"])
#: Largest voxel edge (mm) of an image the heuristic takes for a head scan.
ANATOMICAL_VOXEL_MM = 1.5
#: Field of view (mm) along at least two axes of an image taken for a head scan.
ANATOMICAL_FOV_MM = 120.0

_BIDS_NAME = re.compile(r"^sub-[A-Za-z0-9]+_(?:.*_)?([A-Za-z0-9]+)\.nii(?:\.gz)?$")
_TEXT_FIELDS: dict[int, tuple[str, ...]] = {
    1: ("descrip", "aux_file", "intent_name", "db_name", "data_type")
}
_TEXT_FIELDS[2] = ("descrip", "aux_file", "intent_name", "unused_str")
_UNUSED = ("extents", "session_error", "glmax", "glmin")
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20
# what reading a damaged file raises (zlib.error: a corrupt gzip stream; KeyError:
# nibabel's unknown data type codes)
_READ_ERRORS = (OSError, EOFError, ValueError, KeyError, zlib.error)


@dataclass
class NiftiFile:
    """A single-file NIfTI image's parts, as read by :func:`read_nifti`.

    ``header`` is nibabel's header object (``Nifti1Header`` or ``Nifti2Header``, in
    the file's byte order); ``extensions`` the (ecode, size in bytes) of each header
    extension; ``gap`` the number of bytes between the header and ``vox_offset``
    other than valid extensions; ``nbytes`` the image data's size; ``tail`` the
    number of bytes after the data; ``gzip`` whether the file is gzip-compressed and
    ``gzip_identity`` whether its gzip header holds a file name, comment, extra field
    or time stamp; ``extension_bytes`` the valid extensions' raw bytes.
    """

    path: Path
    version: int
    header: Any
    vox_offset: int
    extensions: list[tuple[int, int]] = field(default_factory=list)
    extension_flag: int = 0
    gap: int = 0
    nbytes: int = 0
    tail: int = 0
    gzip: bool = False
    gzip_identity: bool = False
    extension_bytes: bytes = b""

    @property
    def shape(self) -> tuple[int, ...]:
        """The image's shape (voxels; a fourth axis for time or volumes)."""
        return tuple(int(n) for n in self.header.get_data_shape())

    @property
    def dtype(self) -> np.dtype[Any]:
        """The data type of the stored values, in the file's byte order."""
        return np.dtype(self.header.get_data_dtype())

    def data_chunks(self) -> Iterator[bytes]:
        """Yield the image's data bytes, exactly as stored, in pieces."""
        try:
            with _open(self.path) as f:
                _skip(f, self.vox_offset, self.path)
                left = self.nbytes
                while left:
                    piece = f.read(min(left, _CHUNK))
                    if not piece:
                        raise _bad(self.path, "the image data is truncated")
                    left -= len(piece)
                    yield piece
        except _READ_ERRORS as exc:
            raise _bad(self.path, f"{type(exc).__name__}: {exc}") from exc

    def raw_array(self) -> np.ndarray[Any, Any]:
        """Return the stored (unscaled) values in the file's data type."""
        data = b"".join(self.data_chunks())
        arr = np.frombuffer(data, dtype=self.dtype)
        return arr.reshape(self.shape, order="F").copy()


def _bad(path: Path, what: str) -> FormatError:
    return FormatError(
        f"{str(path)!r} is not a readable NIfTI file: {what}.", path=path, fmt="NIfTI"
    )


def _open(path: Path) -> io.BufferedIOBase:
    with open(path, "rb") as f:
        magic = f.read(2)
    if magic == _GZIP_MAGIC:
        return gzip.open(path, "rb")
    return open(path, "rb")


def _skip(f: io.BufferedIOBase, n: int, path: Path) -> None:
    while n:
        piece = f.read(min(n, _CHUNK))
        if not piece:
            raise _bad(path, "the file ends before the image data")
        n -= len(piece)


def _gzip_identity(path: Path) -> bool:
    """Tell whether the (first) gzip header holds a name, comment, extra or time."""
    with open(path, "rb") as f:
        head = f.read(10)
    if len(head) < 10:
        return False
    flags = head[3]
    (mtime,) = struct.unpack("<I", head[4:8])
    return bool(flags & (0x04 | 0x08 | 0x10)) or mtime != 0


def read_nifti(path: str | Path) -> NiftiFile:
    """Read a single-file NIfTI-1 or NIfTI-2 image's header and layout (not its data).

    Raises
    ------
    FormatError
        If the file is not a single-file NIfTI image or is truncated.
    """
    import nibabel as nib

    path = Path(path)
    compressed = False
    try:
        with open(path, "rb") as f:
            compressed = f.read(2) == _GZIP_MAGIC
        with _open(path) as f:
            first = f.read(4)
            if len(first) < 4:
                raise _bad(path, "it is shorter than a header")
            sizes = {struct.unpack("<i", first)[0], struct.unpack(">i", first)[0]}
            if 348 in sizes:
                version, klass = 1, nib.Nifti1Header
            elif 540 in sizes:
                version, klass = 2, nib.Nifti2Header
            else:
                raise _bad(path, "its sizeof_hdr is neither 348 nor 540")
            size = klass.template_dtype.itemsize
            block = first + f.read(size - 4)
            if len(block) < size:
                raise _bad(path, "the header is truncated")
            header = klass.from_fileobj(io.BytesIO(block + b"\0\0\0\0"), check=False)
            magic = bytes(header["magic"]).rstrip(b"\0")
            if magic not in (b"n+1", b"n+2"):
                raise _bad(
                    path,
                    f"its magic is {magic!r}, not a single-file NIfTI image ('n+1' or "
                    "'n+2'; .hdr/.img pairs are not supported)",
                )
            vox_offset = int(header["vox_offset"])
            if vox_offset < size:
                raise _bad(path, f"vox_offset {vox_offset} lies inside the header")
            between = f.read(vox_offset - size)
            if len(between) < vox_offset - size:
                raise _bad(path, "the file ends before vox_offset")
            shape = header.get_data_shape()
            dtype = np.dtype(header.get_data_dtype())
            nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            got = 0
            while got < nbytes:
                piece = f.read(min(nbytes - got, _CHUNK))
                if not piece:
                    raise _bad(
                        path, f"the image data is truncated ({got} of {nbytes} bytes)"
                    )
                got += len(piece)
            tail = 0
            while piece := f.read(_CHUNK):
                tail += len(piece)
    except FormatError:
        raise
    except (*_READ_ERRORS, nib.spatialimages.HeaderDataError) as exc:
        raise _bad(path, f"{type(exc).__name__}: {exc}") from exc
    found = NiftiFile(path, version, header, vox_offset, nbytes=nbytes, tail=tail)
    found.gzip = compressed
    found.gzip_identity = compressed and _gzip_identity(path)
    _parse_extensions(found, between, header.endianness)
    return found


def _parse_extensions(found: NiftiFile, between: bytes, endian: str) -> None:
    """Read the extension flag and the (ecode, esize) of each valid extension."""
    if len(between) < 4:
        found.gap = len(between)
        return
    found.extension_flag = between[0]
    rest = between[4:]
    pos = 0
    if found.extension_flag:
        fmt = endian + "ii"
        while pos + 8 <= len(rest):
            esize, ecode = struct.unpack(fmt, rest[pos : pos + 8])
            if esize < 8 or esize % 16 or pos + esize > len(rest):
                break
            found.extensions.append((ecode, esize))
            pos += esize
    found.extension_bytes = rest[:pos]
    stray_flag = found.extension_flag and not found.extensions
    found.gap = len(rest) - pos + (1 if any(between[1:4]) or stray_flag else 0)


def write_nifti(
    dst: str | Path,
    header: Any,
    chunks: Iterator[bytes] | bytes,
    *,
    extensions: bytes = b"",
) -> None:
    """Write a single-file NIfTI image: ``header``, ``extensions``, then the data.

    ``header`` is a nibabel NIfTI-1 or NIfTI-2 header (copied; ``vox_offset`` is set
    to follow the extensions); ``extensions`` the raw bytes of whole extensions (a
    multiple of 16); ``chunks`` the data bytes as stored. A name ending in ``.gz`` is
    gzip-compressed with no file name and time 0 in the gzip header. Written
    atomically.
    """
    dst = Path(dst)
    hdr = header.copy()
    size = hdr.template_dtype.itemsize
    hdr["vox_offset"] = size + 4 + len(extensions)
    flag = b"\1\0\0\0" if extensions else b"\0\0\0\0"
    pieces = [chunks] if isinstance(chunks, bytes) else chunks
    with atomic_path(dst) as tmp, open(tmp, "wb") as raw:
        out: io.BufferedIOBase = raw
        if dst.name.lower().endswith(".gz"):
            out = gzip.GzipFile(
                filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6
            )
        try:
            out.write(hdr.binaryblock)
            out.write(flag + extensions)
            for piece in pieces:
                out.write(piece)
        finally:
            if out is not raw:
                out.close()


def sidecar_of(path: Path) -> Path:
    """Return an image's JSON sidecar: its name with ``.json`` for ``.nii[.gz]``."""
    name = path.name
    for end in (".nii.gz", ".nii"):
        if name.lower().endswith(end):
            return path.with_name(name[: -len(end)] + ".json")
    return path.with_suffix(".json")


def defaced_by(path: Path) -> str | None:
    """Return the ``DeIdentificationMethod`` of an image's sidecar, if it has one."""
    side = sidecar_of(path)
    try:
        doc = json.loads(side.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return None
    method = doc.get("DeIdentificationMethod") if isinstance(doc, dict) else None
    if isinstance(method, str) and method.strip():
        return method.strip()
    return None


def looks_anatomical(header: Any) -> str | None:
    """Say why an image without a BIDS suffix looks like a head scan, or None.

    A single volume (3-D, or 4-D with one volume) with every voxel edge at most
    :data:`ANATOMICAL_VOXEL_MM` and a field of view of at least
    :data:`ANATOMICAL_FOV_MM` along two axes or more.
    """
    shape = tuple(int(n) for n in header.get_data_shape())
    if len(shape) < 3 or int(np.prod(shape[3:], dtype=np.int64)) != 1:
        return None
    scale = {"meter": 1000.0, "micron": 0.001}.get(header.get_xyzt_units()[0], 1.0)
    zooms = [float(z) * scale for z in header.get_zooms()[:3]]
    if min(zooms) <= 0 or max(zooms) > ANATOMICAL_VOXEL_MM:
        return None
    fov = [n * z for n, z in zip(shape[:3], zooms, strict=True)]
    if sum(f >= ANATOMICAL_FOV_MM for f in fov) < 2:
        return None
    vox = " x ".join(f"{z:.3g}" for z in zooms)
    span = " x ".join(f"{f:.0f}" for f in fov)
    return (
        f"a single volume of {vox} mm voxels spanning {span} mm (neurodl takes a "
        f"single volume with voxels <= {ANATOMICAL_VOXEL_MM} mm spanning >= "
        f"{ANATOMICAL_FOV_MM:.0f} mm on two axes for a head scan)"
    )


def anatomical_reason(path: Path, header: Any) -> str | None:
    """Say why an image counts as anatomical (it may show a face), or None."""
    m = _BIDS_NAME.match(path.name)
    if m:
        suffix = m.group(1)
        if suffix in ANATOMICAL_SUFFIXES:
            return f"an anatomical image (BIDS suffix {suffix!r})"
        if path.parent.name == "anat" and suffix not in _NOT_FACES:
            return f"an image in a BIDS 'anat' folder (suffix {suffix!r})"
        return None
    return looks_anatomical(header)


class NiftiHandler(Handler):
    """NIfTI-1 and NIfTI-2 single-file images (``.nii``, ``.nii.gz``)."""

    fmt = "NIfTI"
    suffixes = (".nii", ".nii.gz")

    def inspect(self, path: Path) -> Inspection:
        """Check the header (a NIfTI header holds no dates or subject fields)."""
        read_nifti(path)
        return Inspection()

    def write(self, src: Path, dst: Path, ctx: FileContext) -> None:
        """Blank the text fields, drop extensions, copy the data bytes as they are."""
        img = read_nifti(src)
        why = anatomical_reason(src, img.header)
        if why is not None:
            method = defaced_by(src)
            if method is None and not ctx.allow_face:
                raise Refused(
                    f"{src.name} is {why} and was not defaced, so it shows the face: "
                    "run 'neurodl deface' on it first (its JSON sidecar then records "
                    "DeIdentificationMethod), or allow faces (--allow-face, "
                    "allow_face=True) to export it as it is."
                )
            note = (
                f"defaced ({method})" if method else "kept with the face (allow_face)"
            )
            ctx.report.findings.append(FileFinding("image", "face", why, note))
        hdr = img.header.copy()
        for name in _TEXT_FIELDS[img.version]:
            if bytes(hdr[name]).strip(b"\0"):
                hdr[name] = b""
                ctx.change(f"header {name}", "blanked", "")
        if img.version == 1:
            for name in _UNUSED:
                if int(hdr[name]) != 0:
                    hdr[name] = 0
                    ctx.change(f"header {name}", "cleared (unused)", 0)
            if bytes(hdr["regular"]).rstrip(b"\0") not in (b"", b"r"):
                hdr["regular"] = b"r"
                ctx.change("header regular", "cleared (unused)", "r")
        for k, (code, size) in enumerate(img.extensions):
            ctx.change(f"extension {k} (ecode {code}, {size} bytes)", "removed")
        if img.gap:
            ctx.change("bytes between header and data", "removed")
        if img.tail:
            ctx.change(f"{img.tail} bytes after the image data", "removed")
        if img.gzip_identity:
            ctx.change("gzip header (file name, time)", "removed")
        write_nifti(dst, hdr, img.data_chunks())
