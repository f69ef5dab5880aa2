"""MATLAB ``.mat`` files: v5 (scipy.io) and v7.3 (HDF5).

Where identity hides: the header text (``MATLAB 5.0 MAT-file, Platform: GLNXA64,
Created on: Thu Feb  2 13:48:16 2017``: the writing machine's platform and the write
date; a v7.3 file has the same text in its 512-byte HDF5 user block), the text in
char arrays, cells and struct fields, the values of fields named for a person or a
date, HDF5 object time stamps (v7.3), MATLAB objects whose bytes cannot be read
(function handles, ``string``/``datetime``/``table`` objects: opaque subsystem data),
and, in a v7.3 file, the bytes of deleted objects that HDF5 leaves behind.

What is written: a new file. v5: every variable read with ``scipy.io.loadmat``
(values as MATLAB sees them: ``mat_dtype=True``) and written with ``savemat``
(compressed), then the header text replaced by a fixed one with no platform and no
date (:data:`HEADER_V5`). v7.3: a fresh HDF5 file built object by object (groups,
datasets with their data type, shape, chunks and filters, attributes, references
re-pointed), so no deleted bytes and no time stamps come along, with the user block
rewritten (:data:`HEADER_V73`). Variable and field names are kept, numeric arrays
are written with the same values and class (bit for bit), and text goes through the
rule below and then the free-text scrubber.

**The rule for names.** A variable's or field's name is split into words (``_``,
``-`` and camelCase: ``PatientBirthDate`` -> patient, birth, date); a cell's elements
take the name of their cell. Then the value (text or numbers) is

* **emptied** when the name says *birth* (``dob``, ``birthdate``, ``dateOfBirth``:
  a date of birth is never written);
* **emptied** when it names *a person or a contact* (``experimenter``, ``operator``,
  ``physician``, ``institution``, ``hospital``, ``address``, ``email``, ``phone``,
  ``mrn``, ``ssn``, ``serial``, ``patientName``, ``patient_id``, or ``name``/``id``
  inside a ``patient``, ``subject`` or ``person`` struct); its text is also removed
  from all the run's free text;
* **the pseudonym** when it is *the subject's id* (``subject``, ``subject_id``,
  ``participant_id``; numbers there are emptied);
* **capped** when it is an *age* (``age``, ``ageYears``): 89 and over becomes 89
  (numbers) or ``89+`` (text);
* **shifted** with the subject when it names *a date* (``date``, ``datetime``,
  ``datenum``, ``datevec``, ``timestamp``, ``recordingDate``): ISO, ``yyyymmdd`` or
  ``datestr`` text, datenums (days since year 0) and datevec rows; other numbers
  there are kept and flagged in the report;
* otherwise text is scrubbed as free text and numbers are kept.

A bare ``name`` or ``label`` (channels, conditions, models) is not a person's name:
its text is scrubbed as free text like any other. Function handles and opaque
objects are removed (their bytes cannot be checked), and so are v7.3's
``#subsystem#`` group and external links.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from neurodl._atomic import atomic_path
from neurodl.errors import FormatError
from neurodl.privacy.deid._core import (
    AGE_CAP,
    FileContext,
    FileFinding,
    Handler,
    Inspection,
    bids_age,
    is_pseudonym,
)

__all__ = ["HEADER_V5", "HEADER_V73", "MatHandler", "name_rule"]

#: The v5 header text neurodl writes (116 bytes, space-padded): no platform, no date.
HEADER_V5 = (
    b"MATLAB 5.0 MAT-file, written by neurodl deid (de-identified, no date)".ljust(116)
)
#: The v7.3 user block's text (116 bytes, space-padded).
HEADER_V73 = (
    b"MATLAB 7.3 MAT-file, written by neurodl deid (de-identified, no date) "
    b"HDF5 schema 1.00 ."
).ljust(116)

_BIRTH = {"dob", "birth", "birthday", "birthdate", "dateofbirth", "birthdt"}
_PERSON = {
    "surname",
    "firstname",
    "lastname",
    "fullname",
    "forename",
    "givenname",
    "familyname",
    "maidenname",
    "initials",
    "patientname",
    "patientid",
    "experimenter",
    "operator",
    "operators",
    "investigator",
    "technician",
    "physician",
    "doctor",
    "clinician",
    "examiner",
    "rater",
    "nurse",
    "institution",
    "hospital",
    "clinic",
    "address",
    "street",
    "email",
    "mail",
    "phone",
    "telephone",
    "mobile",
    "fax",
    "mrn",
    "ssn",
    "serial",
    "serialnumber",
    "insurance",
    "zipcode",
    "postcode",
}
_WHO = {"patient", "person", "subject", "subj", "participant", "first", "last"}
_WHO |= {"given", "family", "full", "middle", "maiden", "sur"}
_SUBJECT = {"subject", "subjectid", "subj", "subjid", "participant", "participantid"}
_SUBJECT |= {"subjectlabel", "participantlabel", "subjectcode", "subid"}
_DATE = {"date", "datetime", "datenum", "datevec", "datestr", "timestamp"}
_DATENUM = (693962.0, 767011.0)  # datenum of 1900-01-01 and 2100-01-01
_DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%d-%b-%Y %H:%M:%S",
    "%d-%b-%Y",
    "%Y%m%d",
)
_DROP = object()  # a value that cannot be checked: removed


def _words(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", spaced)
    return [w.lower() for w in re.split(r"[^A-Za-z0-9]+", spaced) if w]


def name_rule(names: tuple[str, ...]) -> str | None:
    """Return the rule for a value named by ``names`` (its path, innermost last).

    Returns ``"birth"``, ``"person"``, ``"subject"``, ``"age"``, ``"date"``,
    ``"sex"`` or None (free text). See the module's table.

    >>> [name_rule(n) for n in [("dob",), ("info", "experimenter"),
    ...  ("patient", "name"), ("chan", "name"), ("subject_id",), ("recordingDate",)]]
    ['birth', 'person', 'person', None, 'subject', 'date']
    """
    if not names:
        return None
    last = names[-1]
    words = _words(last)
    squashed = "".join(words)
    context = {w for n in names[:-1] for w in _words(n)}
    bag = {squashed, *words} | {w[:-1] for w in (squashed, *words) if w.endswith("s")}
    if _BIRTH & bag:
        return "birth"
    if {squashed, squashed.removesuffix("s")} & _SUBJECT or (
        words in (["id"], ["label"], ["code"]) and context & {"subject", "participant"}
    ):
        return "subject"
    if _PERSON & bag:
        return "person"
    if ("name" in words or "id" in words) and (_WHO & (set(words) | context)):
        return "person"
    if "age" in words:
        return "age"
    if _DATE & set(words):
        return "date"
    if words and words[-1] in ("sex", "gender"):
        return "sex"
    return None


def _parse_date(text: str) -> tuple[dt.datetime, str] | None:
    s = text.strip()
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(s, fmt), fmt
        except ValueError:
            continue
    return None


def _date_kind(arr: np.ndarray[Any, Any]) -> str | None:
    """``"datenum"``, ``"datevec"`` or None for the numbers under a date name."""
    if arr.dtype.kind not in "iuf" or arr.size == 0:
        return None
    a = np.asarray(arr, dtype=float)
    if not np.isfinite(a).all():
        return None
    if ((a >= _DATENUM[0]) & (a < _DATENUM[1])).all():
        return "datenum"
    rows = a.reshape(-1, a.shape[-1]) if a.ndim >= 1 else a.reshape(1, -1)
    if rows.shape[1] in (3, 6):
        y, m, d = rows[:, 0], rows[:, 1], rows[:, 2]
        ok = (y >= 1900) & (y < 2100) & (m >= 1) & (m <= 12) & (d >= 1) & (d <= 31)
        if ok.all() and (rows[:, :3] == np.round(rows[:, :3])).all():
            return "datevec"
    return None


def _datevec_rows(arr: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    return np.asarray(arr, dtype=float).reshape(-1, arr.shape[-1])


class _Rules:
    """Apply the name rule and the scrubber to leaves (``ctx`` None: only read)."""

    def __init__(self, ctx: FileContext | None) -> None:
        self.ctx = ctx
        self.found = Inspection()

    def change(self, where: str, action: str, new: object = None) -> None:
        """Record a changed field (write mode only)."""
        if self.ctx is not None:
            self.ctx.change(where, action, new)

    def _flag(self, where: str, kind: str, text: str) -> None:
        if self.ctx is not None:
            self.ctx.report.findings.append(FileFinding(where, kind, text, "flagged"))

    def drop(self, where: str, what: str) -> None:
        """Record that ``where`` (an object that cannot be checked) was removed."""
        self.change(where, f"removed ({what})")

    def text(self, names: tuple[str, ...], where: str, value: str) -> str:
        """Return the text to write for ``value`` (a char row or string)."""
        rule = name_rule(names)
        clean = value.strip()
        if rule in ("birth", "person"):
            if not clean:
                return value
            kind = (
                "name"
                if rule == "person" and "name" in names[-1].lower()
                else "identifier"
            )
            self.found.known.append((clean, kind))
            why = "a date of birth is never written" if rule == "birth" else rule
            self.change(where, f"emptied ({why})", "")
            return ""
        if rule == "subject" and clean:
            if self.found.subject is None:
                self.found.subject = clean
            pseudo = self.ctx.pseudonym if self.ctx is not None else ""
            if is_pseudonym(clean) or not pseudo:
                return value
            self.change(where, "pseudonymised", pseudo)
            return pseudo
        if rule == "age" and re.fullmatch(r"\d+(\.\d*)?", clean):
            self.found.age = float(clean)
            new = bids_age(float(clean))
            if float(clean) >= AGE_CAP and new != clean:
                self.change(where, "capped", new)
                return new
            return value
        if rule == "date" and (parsed := _parse_date(clean)) is not None:
            when, fmt = parsed
            self.found.dates.append(when)
            if self.ctx is None or self.ctx.daysback == 0:
                return value
            new = self.ctx.shift(when).strftime(fmt)
            self.change(where, "shifted", new)
            return new
        if rule == "sex" and clean[:1].upper() in ("F", "M"):
            self.found.sex = self.found.sex or clean[:1].upper()
            return value
        if self.ctx is None:
            return value
        return self.ctx.scrub(where, value)

    def number(
        self, names: tuple[str, ...], where: str, arr: np.ndarray[Any, Any]
    ) -> np.ndarray[Any, Any] | None:
        """Return the numbers to write, or None for an empty array of the class."""
        rule = name_rule(names)
        if arr.size == 0 or rule is None or rule == "sex":
            return arr
        if rule in ("birth", "person", "subject"):
            why = "a date of birth is never written" if rule == "birth" else rule
            self.change(where, f"emptied ({why})", "[]")
            return None
        if rule == "age":
            if arr.size == 1 and arr.dtype.kind in "iuf":
                years = float(arr.ravel()[0])
                if np.isfinite(years) and years >= 0:
                    self.found.age = years
                if years > AGE_CAP:
                    self.change(where, "capped", AGE_CAP)
                    return np.full_like(arr, AGE_CAP)
            return arr
        kind = _date_kind(arr)
        if kind is None:
            self._flag(
                where, "number under a date name", "kept (not a datenum/datevec)"
            )
            return arr
        days = self.ctx.daysback if self.ctx is not None else 0
        if kind == "datenum":
            for v in np.asarray(arr, dtype=float).ravel():
                self.found.dates.append(dt.datetime.fromordinal(int(v) - 366))
            if not days:
                return arr
            self.change(where, "shifted (datenum)", f"-{days} days")
            return (arr - days).astype(arr.dtype)
        rows = _datevec_rows(arr)
        new = rows.copy()
        for i, r in enumerate(rows):
            when = dt.datetime(int(r[0]), int(r[1]), int(r[2]))
            self.found.dates.append(when)
            moved = when - dt.timedelta(days=days)
            new[i, :3] = (moved.year, moved.month, moved.day)
        if not days:
            return arr
        self.change(where, "shifted (datevec)", f"-{days} days")
        return new.reshape(arr.shape).astype(arr.dtype)


# ----------------------------------------------------------------------------- v5


def _bad(path: Path, what: str) -> FormatError:
    return FormatError(
        f"{str(path)!r} is not a readable MAT file: {what}.", path=path, fmt="MAT"
    )


def _load_v5(path: Path) -> dict[str, Any]:
    """Read every variable with MATLAB's class (``mat_dtype``) and exact values.

    ``loadmat(mat_dtype=True)`` gives each array its MATLAB class (a double stored
    as uint8 comes back double) but drops the imaginary part of complex arrays
    (scipy 1.17), so complex arrays are taken from a second read without it.
    """
    import scipy.io as sio

    kw = dict(chars_as_strings=True, squeeze_me=False, struct_as_record=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
            typed = sio.loadmat(path, mat_dtype=True, **kw)
        stored = sio.loadmat(path, mat_dtype=False, **kw)
        return {k: _complex_back(v, stored[k]) for k, v in typed.items()}
    except Exception as exc:  # scipy raises ValueError, TypeError, OSError...
        raise _bad(path, f"{type(exc).__name__}: {exc}") from exc


def _complex_back(typed: Any, stored: Any) -> Any:
    """Put back the complex arrays ``mat_dtype=True`` made real."""
    if not isinstance(typed, np.ndarray) or not isinstance(stored, np.ndarray):
        return typed
    if typed.dtype.names:
        for idx in np.ndindex(typed.shape):
            for name in typed.dtype.names:
                typed[name][idx] = _complex_back(typed[name][idx], stored[name][idx])
        return typed
    if typed.dtype == object:
        for idx in np.ndindex(typed.shape):
            typed[idx] = _complex_back(typed[idx], stored[idx])
        return typed
    if stored.dtype.kind == "c" and typed.dtype.kind != "c":
        single = typed.dtype == np.float32
        return stored.astype(np.complex64 if single else np.complex128)
    return typed


def _walk_v5(value: Any, names: tuple[str, ...], where: str, rules: _Rules) -> Any:
    from scipy.io.matlab import MatlabFunction, MatlabOpaque

    if isinstance(value, (MatlabFunction, MatlabOpaque)):
        rules.drop(where, "MATLAB function handle or opaque object: cannot be checked")
        return _DROP
    if not isinstance(value, np.ndarray):
        return value  # sparse matrices and other numbers
    if value.dtype.names:  # struct arrays (and MATLAB objects)
        out = value.copy()
        for idx in np.ndindex(value.shape):
            at = where if value.size == 1 else f"{where}({_index(idx)})"
            for name in value.dtype.names:
                new = _walk_v5(value[name][idx], (*names, name), f"{at}.{name}", rules)
                out[name][idx] = np.empty((0, 0)) if new is _DROP else new
        return out
    if value.dtype == object:  # cell arrays
        out = value.copy()
        for idx in np.ndindex(value.shape):
            new = _walk_v5(value[idx], names, f"{where}{{{_index(idx)}}}", rules)
            out[idx] = np.empty((0, 0)) if new is _DROP else new
        return out
    if value.dtype.kind == "U":
        if value.size == 0:
            return value
        rows = [rules.text(names, where, str(s)) for s in value.ravel()]
        if rows == [str(s) for s in value.ravel()]:
            return value
        if not any(rows):
            return np.array([], dtype="U1")
        return np.array(rows, dtype=str).reshape(value.shape)
    new = rules.number(names, where, value)
    return np.empty((0, 0), dtype=value.dtype) if new is None else new


def _index(idx: tuple[int, ...]) -> str:
    return ",".join(str(i + 1) for i in idx)


def _v5(path: Path, rules: _Rules) -> bytes | None:
    """Walk a v5 file; return the new file's bytes (None in inspect mode)."""
    import scipy.io as sio

    data = _load_v5(path)
    with open(path, "rb") as f:
        head = f.read(116)
    if head != HEADER_V5:
        rules.change("header text", "replaced", HEADER_V5.decode().strip())
    out: dict[str, Any] = {}
    for name, value in data.items():
        if name == "__globals__" and len(value):
            rules.change("global variable flags", "removed")
        if name.startswith("__"):
            if name == "__function_workspace__":
                rules.drop(name, "MATLAB subsystem data: cannot be checked")
            continue
        new = _walk_v5(value, (name,), name, rules)
        if new is not _DROP:
            out[name] = new
    if rules.ctx is None:
        return None
    buf = io.BytesIO()
    try:
        sio.savemat(buf, out, do_compression=True, long_field_names=True, oned_as="row")
    except Exception as exc:  # a value scipy cannot write back
        raise _bad(
            path, f"it cannot be written back: {type(exc).__name__}: {exc}"
        ) from exc
    raw = bytearray(buf.getvalue())
    raw[:116] = HEADER_V5
    return bytes(raw)


# --------------------------------------------------------------------------- v7.3


def _h5_logical(fin: Any) -> dict[str, tuple[tuple[str, ...], str]]:
    """Names for objects reached through references (cells, struct arrays)."""
    import h5py

    parent: dict[str, tuple[str, int]] = {}

    def visit(name: str, obj: Any) -> None:
        if (
            isinstance(obj, h5py.Dataset)
            and h5py.check_ref_dtype(obj.dtype) is h5py.Reference
        ):
            refs = obj[()]
            for i, r in enumerate(np.asarray(refs).ravel()):
                if r:
                    try:
                        target = fin[r].name
                    except (KeyError, ValueError):
                        continue
                    parent.setdefault(target, ("/" + name, i))

    fin.visititems(visit)
    memo: dict[str, tuple[tuple[str, ...], str]] = {}

    def resolve(path: str, depth: int = 0) -> tuple[tuple[str, ...], str]:
        if path in memo:
            return memo[path]
        if path in parent and depth < 64:
            names, where = resolve(parent[path][0], depth + 1)
            result = (names, f"{where}{{{parent[path][1] + 1}}}")
        else:
            parts = tuple(p for p in path.split("/") if p)
            result = (parts, ".".join(parts))
        memo[path] = result
        return result

    return {p: resolve(p) for p in parent}


def _attr_text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray) and value.dtype.kind == "S" and value.size == 1:
        return bytes(value.ravel()[0]).decode("utf-8", "replace")
    return str(value)


def _v73(path: Path, rules: _Rules, tmp: Path | None) -> None:
    """Walk a v7.3 file; write the fresh copy to ``tmp`` unless inspecting."""
    import h5py

    with open(path, "rb") as f:
        head = f.read(116)
    if head != HEADER_V73:
        rules.change(
            "header text (HDF5 user block)", "replaced", HEADER_V73.decode().strip()
        )
    try:
        fin = h5py.File(path, "r")
    except OSError as exc:
        raise _bad(path, f"its HDF5 part cannot be opened: {exc}") from exc
    try:
        with fin:
            logical = _h5_logical(fin)
            if tmp is None:
                _walk_h5(fin, None, logical, rules)
                return
            with h5py.File(tmp, "w", userblock_size=512) as fout:
                _walk_h5(fin, fout, logical, rules)
    except (OSError, RuntimeError, KeyError, ValueError, TypeError) as exc:
        # h5py's errors on damaged B-trees, heaps and dataspaces
        raise _bad(path, f"{type(exc).__name__}: {exc}") from exc
    with open(tmp, "r+b") as f:
        f.write(HEADER_V73 + b"\0" * 8 + b"\0\2IM" + b"\0" * (512 - 128))


def _names_of(
    path: str, logical: dict[str, tuple[tuple[str, ...], str]]
) -> tuple[tuple[str, ...], str]:
    if path in logical:
        return logical[path]
    parts = tuple(p for p in path.split("/") if p)
    return parts, ".".join(parts)


def _walk_h5(fin: Any, fout: Any, logical: dict[str, Any], rules: _Rules) -> None:
    import h5py

    seen: dict[Any, str] = {}
    refs: list[tuple[str, Any]] = []
    times = False

    def copy_attrs(src: Any, dst: Any, where: str) -> None:
        for key in src.attrs:
            aid = src.attrs.get_id(key)
            value = src.attrs[key]
            if h5py.check_ref_dtype(aid.dtype) is not None:
                rules.drop(f"{where} @{key}", "a reference attribute")
                continue
            kind = h5py.check_string_dtype(aid.dtype)
            if kind is not None and key != "MATLAB_class":
                value = _scrub_strings(value, f"{where} @{key}", rules)
                if dst is not None:
                    vlen = kind.length is None  # fixed length: sized to the new text
                    dst.attrs.create(key, value, dtype=aid.dtype if vlen else None)
                continue
            if dst is not None:
                dst.attrs.create(key, value, dtype=aid.dtype)

    def walk(group: Any, out: Any) -> None:
        nonlocal times
        for key in group:
            path = f"{group.name.rstrip('/')}/{key}"
            link = group.get(key, getlink=True)
            if isinstance(link, h5py.ExternalLink):
                rules.drop(path, "an external link to another file")
                continue
            if isinstance(link, h5py.SoftLink):
                if out is not None:
                    out[key] = h5py.SoftLink(link.path)
                continue
            obj = group[key]
            info = h5py.h5o.get_info(obj.id)
            times = times or bool(info.ctime or info.mtime or info.atime or info.btime)
            if obj.id in seen:  # a second hard link to an object already copied
                if out is not None:
                    out[key] = out.file[seen[obj.id]]
                continue
            seen[obj.id] = path
            names, where = _names_of(path, logical)
            if key == "#subsystem#" or "MATLAB_object_decode" in obj.attrs:
                rules.drop(
                    where or path, "MATLAB object or subsystem data: cannot be checked"
                )
                continue
            if isinstance(obj, h5py.Group):
                sub = out.create_group(key) if out is not None else None
                copy_attrs(obj, sub, where)
                walk(obj, sub)
                continue
            ds_new = _dataset(obj, names, where, rules)
            if out is None:
                copy_attrs(obj, None, where)
                continue
            if ds_new is None:  # reference dataset: filled once all objects exist
                dset = out.create_dataset(key, shape=obj.shape, dtype=h5py.ref_dtype)
                refs.append((dset.name, obj[()]))
            else:
                data, _, same = ds_new
                kw: dict[str, Any] = {"track_times": False}
                if same and obj.chunks is not None:
                    kw.update(
                        chunks=obj.chunks,
                        maxshape=obj.maxshape,
                        compression=obj.compression,
                        compression_opts=obj.compression_opts,
                        shuffle=obj.shuffle,
                        fletcher32=obj.fletcher32,
                    )
                info = h5py.check_string_dtype(obj.dtype)
                vlen = info is not None and info.length is None
                dtype = obj.dtype if same or vlen else None  # fixed: sized anew
                dset = out.create_dataset(key, data=data, dtype=dtype, **kw)
            copy_attrs(obj, dset, where)
            for k, v in (ds_new[1] if ds_new else {}).items():
                dset.attrs[k] = v

    copy_attrs(fin, fout, "(file)")
    walk(fin, fout)
    if times:
        rules.change("HDF5 object time stamps", "removed")
    if fout is None:
        return
    for dst_path, src_refs in refs:
        arr = np.asarray(src_refs)
        new = np.empty(arr.shape, dtype=h5py.ref_dtype)
        for idx in np.ndindex(arr.shape):
            r = arr[idx]
            target = None
            if r:
                try:
                    target = fin[r].name
                except (KeyError, ValueError):
                    target = None
            new[idx] = (
                fout[target].ref if target and target in fout else h5py.Reference()
            )
        fout[dst_path][...] = new


def _scrub_strings(value: Any, where: str, rules: _Rules) -> Any:
    if isinstance(value, (bytes, str)):
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        new = rules.text((), where, text)
        return new.encode() if isinstance(value, bytes) else new
    arr = np.asarray(value)
    if arr.dtype == object or arr.dtype.kind in "SU":
        items = [_scrub_strings(v, where, rules) for v in arr.ravel()]
        if arr.dtype.kind == "S":
            width = max([len(i) for i in items] + [1])
            return np.array(items, dtype=f"S{width}").reshape(arr.shape)
        out = np.empty(arr.shape, dtype=object)
        for i, (idx, _) in enumerate(np.ndenumerate(arr)):
            out[idx] = items[i]
        return out
    return value


def _dataset(
    obj: Any, names: tuple[str, ...], where: str, rules: _Rules
) -> tuple[Any, dict[str, Any], bool] | None:
    """Return (data, extra attributes, unchanged?), or None for references."""
    import h5py

    if h5py.check_ref_dtype(obj.dtype) is not None:
        if h5py.check_ref_dtype(obj.dtype) is not h5py.Reference:
            raise FormatError(
                f"{obj.file.filename!r}: {obj.name} holds region references, which "
                "neurodl does not rewrite.",
                path=obj.file.filename,
                fmt="MAT",
            )
        return None
    if obj.shape is None:
        return h5py.Empty(obj.dtype), {}, True
    data = obj[()]
    cls = _attr_text(obj.attrs.get("MATLAB_class", b""))
    empty = bool(np.asarray(obj.attrs.get("MATLAB_empty", 0)).any())
    if empty:
        return data, {}, True
    if cls == "char" and obj.dtype.kind in "ui":
        arr = np.asarray(data)
        rows_in = arr.reshape(arr.shape[0], -1).T if arr.ndim else arr.reshape(1, 1)
        texts = ["".join(map(chr, r)) for r in rows_in]
        new = [rules.text(names, where, t) for t in texts]
        if new == texts:
            return data, {}, True
        if not any(new):
            return np.zeros(2, dtype=np.uint64), {"MATLAB_empty": np.uint8(1)}, False
        width = max(len(t) for t in new)
        codes = np.array(
            [[ord(c) for c in t.ljust(width)] for t in new], dtype=obj.dtype
        )
        return codes.T.copy(), {}, False
    if h5py.check_string_dtype(obj.dtype) is not None or obj.dtype.kind == "S":
        new_s = _scrub_strings(data, where, rules)
        same = np.array_equal(np.asarray(new_s), np.asarray(data))
        return (data if same else new_s), {}, same
    if obj.dtype.kind in "biuf" and cls:
        matlab = np.asarray(data).T  # MATLAB's axis order
        got = rules.number(names, where, matlab)
        if got is None:
            return np.zeros(2, dtype=np.uint64), {"MATLAB_empty": np.uint8(1)}, False
        if got is matlab:
            return data, {}, True
        return np.ascontiguousarray(got.T), {}, False
    return data, {}, True


# ------------------------------------------------------------------------ handler


def _version(path: Path) -> int:
    with open(path, "rb") as f:
        head = f.read(128)
    if len(head) < 128:
        raise _bad(path, "it is shorter than a MAT header")
    if head[124:128] == b"\0\2IM" or head[124:128] == b"\2\0MI":
        return 73
    if head[124:128] in (b"\0\1IM", b"\1\0MI"):
        return 5
    raise _bad(path, "it is neither a v5 nor a v7.3 MAT file (v4 is not supported)")


class MatHandler(Handler):
    """MATLAB ``.mat`` files, v5 (and v6/v7) and v7.3 (HDF5)."""

    fmt = "MAT"
    suffixes = (".mat",)

    def inspect(self, path: Path) -> Inspection:
        """Read dates, ages, the subject id and the identifiers the names point to."""
        rules = _Rules(None)
        if _version(path) == 73:
            _v73(path, rules, None)
        else:
            _v5(path, rules)
        return rules.found

    def write(self, src: Path, dst: Path, ctx: FileContext) -> None:
        """Rewrite the file: fixed header, rules and scrubber on text, same numbers."""
        rules = _Rules(ctx)
        if _version(src) == 73:
            with atomic_path(dst) as tmp:
                _v73(src, rules, Path(tmp))
            return
        data = _v5(src, rules)
        assert data is not None
        with atomic_path(dst) as tmp:
            Path(tmp).write_bytes(data)
