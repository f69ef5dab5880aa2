"""NWB (Neurodata Without Borders, HDF5): session, subject, devices and all text.

NWB has no anonymizer, pynwb's fields are write-once, and deleting an HDF5 object
with h5py leaves its bytes in the file. So the input is copied, the copy edited with
h5py, and the result written into a fresh file with ``NWBHDF5IO.export()``: no byte
of a removed or replaced value survives, and pynwb reads the output.

What is written, field by field:

* ``session_start_time``, ``timestamps_reference_time`` (a duplicate) and every
  ``file_create_date``: moved back by the subject's shift (time of day and UTC
  offset kept). Creation dates within 10 years of the session count when the shift
  is chosen, so they land in 1902-1925 too; a file converted later lands later (a
  subject's dates may span at most the window's 24 years).
* ``identifier``: a fresh random one, ``<pseudonym>-<32 hex digits>`` (the source's
  identifier would link the output to it).
* **Removed**: ``session_id`` (often a date or a record number), ``experimenter``,
  ``institution``, ``lab`` (people and the site), ``related_publications`` (they
  name the authors and the site), ``source_script`` (code and paths name users),
  the subject's ``date_of_birth`` (never written), a human subject's ``weight``
  (DICOM's basic profile removes it too; an animal's is kept), and every device's
  ``serial_number``.
* Subject: ``subject_id`` becomes the pseudonym; ``age`` is an ISO 8601 duration,
  ``P89Y`` for 89 and over (computed from the birth date when the file has none;
  younger ages are kept as written); ``sex`` and ``species`` kept; ``description``
  scrubbed as free text, ``genotype`` and ``strain`` as labels.
* Free text, through the free-text scrubber: ``session_description``,
  ``experiment_description``, ``notes``, ``protocol``, ``surgery``,
  ``pharmacology``, ``virus``, ``stimulus`` (stimulus notes), ``data_collection``,
  ``slices``, ``keywords``, every ``description`` and ``comments`` attribute on
  every object, any attribute or dataset whose name says note, comment, remark or
  description, string columns of ``/intervals`` tables (trials, epochs) and string
  ``data`` (annotation series).
* Every other string (electrode locations, device ``manufacturer`` and
  ``model_*``, column values, filtering...) is scrubbed as a label: the run's known
  identifiers and dates, e-mail addresses, phone, record and serial numbers are
  redacted, capitalised word pairs ("Left Hippocampus") are not.
* ``object_id`` UUIDs are regenerated, derived from the new identifier and each
  object's path: the source's ids are random UUIDs that link every object to the
  identified source file (anyone holding both could match them), and deriving them
  from the new identifier keeps a second run from changing them again.
* Data arrays are copied by HDF5 (``H5Ocopy``), bitwise equal; links inside the file
  are kept. A file that links to other files (external links) is refused: those
  files would not travel with it.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import tempfile
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from neurodl._atomic import atomic_path
from neurodl.errors import FormatError
from neurodl.privacy.deid._core import (
    FileContext,
    Handler,
    Inspection,
    age_in_years,
    is_pseudonym,
    iso_age,
)
from neurodl.privacy.deid._labels import scrub_label

__all__ = ["NwbHandler"]

_FMT = "NWB"
_START = ("session_start_time", "timestamps_reference_time")
#: file creation dates this close to the session (days) must land in the window too
_NEAR = 3653
#: removed outright: people, the site, session ids, code, the date of birth
REMOVED = (
    "general/session_id",
    "general/experimenter",
    "general/institution",
    "general/lab",
    "general/related_publications",
    "general/source_script",
    "general/subject/date_of_birth",
)
#: attributes that are structure, not content (never scrubbed)
_STRUCTURAL = frozenset(
    ["namespace", "neurodata_type", "object_id", "nwb_version", "colnames", ".specloc"]
)
_FREE_TEXT = re.compile(
    r"(?i)description|comment|note|remark|surgery|pharmacology|virus|^stimulus$|"
    r"data_collection|slices|protocol|keywords"
)
_ID_NAMESPACE = uuid.UUID("6f1d2a0e-8c4b-5d7e-9a3f-0b1c2d3e4f50")
_ISO_AGE = re.compile(
    r"P(?:(\d+(?:\.\d+)?)Y)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)W)?"
    r"(?:(\d+(?:\.\d+)?)D)?(?:T[\d.HMS]*)?",
    re.IGNORECASE,
)
_YEARS = re.compile(r"(\d+(?:\.\d+)?)\s*(?:years?|yrs?|y)\b", re.IGNORECASE)


def _open(path: Path, mode: str = "r") -> Any:
    import h5py

    try:
        f = h5py.File(path, mode)
    except Exception as exc:  # h5py raises OSError, ValueError... on bad bytes
        raise FormatError(
            f"{str(path)!r} is not a readable HDF5 (NWB) file: "
            f"{type(exc).__name__}: {exc}",
            path=path,
            fmt=_FMT,
        ) from exc
    kind = f.attrs.get("neurodata_type")
    if isinstance(kind, bytes):
        kind = kind.decode("utf-8", "replace")
    if kind != "NWBFile":
        f.close()
        raise FormatError(
            f"{str(path)!r} is an HDF5 file but not an NWB file (its root "
            f"neurodata_type is {kind!r}).",
            path=path,
            fmt=_FMT,
        )
    return f


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _strings(ds: Any) -> list[str] | None:
    """Read a string dataset's values, flattened (None: not a string dataset)."""
    import h5py

    if h5py.check_string_dtype(ds.dtype) is None:
        return None
    values = ds.asstr(errors="replace")[()]
    if isinstance(values, str):
        return [values]
    return [str(v) for v in np.asarray(values, dtype=object).ravel()]


def _store(group: Any, name: str, values: list[str], shape: tuple[int, ...]) -> None:
    """Write ``values`` into the string dataset ``group[name]`` (same shape)."""
    import h5py

    ds = group[name]
    data: Any = values[0] if shape == () else np.array(values, dtype=object)
    if shape != ():
        data = data.reshape(shape)
    string = h5py.check_string_dtype(ds.dtype)
    if string is not None and string.length is None:  # variable length: in place
        ds[()] = data
        return
    attrs = {k: ds.attrs[k] for k in ds.attrs}
    maxshape = ds.maxshape
    del group[name]
    new = group.create_dataset(
        name, data=data, dtype=h5py.string_dtype(), maxshape=maxshape
    )
    for k, v in attrs.items():
        new.attrs[k] = v


def _parse_when(text: str) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        from dateutil.parser import isoparse  # type: ignore[import-untyped]

        when = isoparse(text.strip())
    return when


def _age_years(text: str) -> float | None:
    """Years in an age text: ISO 8601 (``P92Y``, a range's lower end) or "92 years"."""
    first = text.strip().split("/")[0]
    m = _ISO_AGE.fullmatch(first)
    if m and any(m.groups()):
        y, mo, w, d = (float(g) if g else 0.0 for g in m.groups())
        return y + mo / 12 + (7 * w + d) / 365.25
    m = _YEARS.search(text)
    return float(m.group(1)) if m else None


def _ours(identifier: str, pseudonym: str | None = None) -> bool:
    """Tell whether ``identifier`` is one this handler wrote (for ``pseudonym``)."""
    m = re.fullmatch(r"(.+)-[0-9a-f]{32}", identifier)
    if not m:
        return False
    return m.group(1) == pseudonym if pseudonym else is_pseudonym(m.group(1))


def _human(subject: Any) -> bool:
    if subject is None or "species" not in subject:
        return True  # unknown: treat as a person
    species = (_strings(subject["species"]) or [""])[0].lower()
    return any(s in species for s in ("homo sapiens", "human", "ncbitaxon_9606"))


class NwbHandler(Handler):
    """NWB files (``.nwb``, HDF5)."""

    fmt = _FMT
    suffixes = (".nwb",)

    def inspect(self, path: Path) -> Inspection:
        """Read the session dates, the subject and the people and site named."""
        found = Inspection()
        with _open(path) as f:
            start = None
            for name in _START:
                if name in f:
                    when = self._date(f, name, path)
                    start = start or when
                    found.dates.append(when)
            made_texts = (
                _strings(f["file_create_date"]) if "file_create_date" in f else []
            )
            for text in made_texts or []:
                try:
                    made = _parse_when(text)
                except (ValueError, OverflowError):
                    continue
                near = start is None or abs((made.date() - start.date()).days) <= _NEAR
                if near:  # a file converted decades later would not fit the window
                    found.dates.append(made)
            general = f.get("general")
            if general is None:
                return found
            for name, kind in (
                ("experimenter", "name"),
                ("institution", "identifier"),
                ("lab", "identifier"),
                ("session_id", "identifier"),
            ):
                if name in general:
                    for value in _strings(general[name]) or []:
                        found.known.append((value, kind))
            ident = (_strings(f["identifier"]) or [""])[0] if "identifier" in f else ""
            if ident and not _ours(ident):
                found.known.append((ident, "identifier"))
            for device in (general.get("devices") or {}).values():
                serial = device.attrs.get("serial_number")
                if serial is not None:
                    found.known.append((_text(serial), "identifier"))
            subject = general.get("subject")
            if subject is not None:
                if "subject_id" in subject:
                    found.subject = (_strings(subject["subject_id"]) or [""])[0] or None
                if "sex" in subject:
                    sex = (_strings(subject["sex"]) or [""])[0].strip().upper()
                    found.sex = sex if sex in ("F", "M") else None
                found.age = self._age(subject, start, path)[0]
        return found

    @staticmethod
    def _date(f: Any, name: str, path: Path) -> dt.datetime:
        text = (_strings(f[name]) or [""])[0]
        try:
            return _parse_when(text)
        except (ValueError, OverflowError) as exc:
            raise FormatError(
                f"{str(path)!r}: {name} {text!r} is not an ISO 8601 date and time.",
                path=path,
                fmt=_FMT,
            ) from exc

    @staticmethod
    def _age(
        subject: Any, start: dt.datetime | None, path: Path
    ) -> tuple[float | None, str | None]:
        """(years, the age text to write) of a subject group (None: no age known)."""
        if "age" in subject:
            text = (_strings(subject["age"]) or [""])[0]
            years = _age_years(text)
            if years is None:
                return None, None
            return years, iso_age(years) if years >= 89 else text
        if "date_of_birth" in subject and start is not None:
            birth = _parse_when((_strings(subject["date_of_birth"]) or [""])[0])
            years = age_in_years(birth.date(), start.date())
            if years >= 1:
                return years, iso_age(years)
            return years, f"P{(start.date() - birth.date()).days}D"
        return None, None

    def write(self, src: Path, dst: Path, ctx: FileContext) -> None:
        """Edit a copy with h5py, then export it into a fresh file at ``dst``."""
        before = len(ctx.report.changes)
        with tempfile.TemporaryDirectory(prefix=".neurodl-nwb-", dir=dst.parent) as tmp:
            work = Path(tmp) / "work.nwb"
            shutil.copyfile(src, work)
            with _open(work, "r+") as f:
                start = self._edit(f, ctx, src)
            if start is not None:
                ctx.acq_times.append((dst, start.replace(tzinfo=None)))
            with atomic_path(dst) as out:
                if len(ctx.report.changes) == before:
                    shutil.copyfile(src, out)  # a file this handler wrote: as it is
                else:
                    _export(work, out, src)

    def _edit(self, f: Any, ctx: FileContext, src: Path) -> dt.datetime | None:
        done: set[str] = set()
        began = self._date(f, _START[0], src) if _START[0] in f else None
        # identifier: fresh, unless it is one written for this pseudonym
        prefix = ctx.pseudonym or "deid"
        ident = (_strings(f["identifier"]) or [""])[0] if "identifier" in f else ""
        if not _ours(ident, prefix):
            ident = f"{prefix}-{uuid.uuid4().hex}"
            if "identifier" in f:
                _store(f, "identifier", [ident], ())
            else:
                f.create_dataset("identifier", data=ident)
            ctx.change("identifier", "replaced", ident)
        done.add("/identifier")
        # dates
        start = None
        for name in (*_START, "file_create_date"):
            if name not in f:
                continue
            done.add(f"/{name}")
            ds = f[name]
            values = _strings(ds) or []
            moved = []
            for text in values:
                when = _parse_when(text) if text.strip() else None
                new = text if when is None else ctx.shift(when).isoformat()
                if when is not None and name == _START[0]:
                    start = ctx.shift(when)
                moved.append(new if ctx.daysback else text)
            if moved != values:
                _store(f, name, moved, ds.shape)
                ctx.change(name, "shifted", ", ".join(moved))
        general = f.get("general")
        if general is not None:
            self._subject(general, began, ctx, src, done)
            for device in (general.get("devices") or {}).values():
                if "serial_number" in device.attrs:
                    del device.attrs["serial_number"]
                    ctx.change(f"{device.name[1:]} serial_number", "removed")
        for path in REMOVED:
            if path in f:
                del f[path]
                ctx.change(path, "removed")
        self._scrub_all(f, ctx, done)
        self._object_ids(f, ident, ctx)
        return start

    def _subject(
        self,
        general: Any,
        start: dt.datetime | None,
        ctx: FileContext,
        src: Path,
        done: set[str],
    ) -> None:
        subject = general.get("subject")
        if subject is None:
            return
        current = (
            (_strings(subject["subject_id"]) or [""])[0]
            if "subject_id" in subject
            else None
        )
        if ctx.pseudonym and current is not None and current != ctx.pseudonym:
            _store(subject, "subject_id", [ctx.pseudonym], ())
            ctx.change("general/subject/subject_id", "pseudonymised", ctx.pseudonym)
        done.add("/general/subject/subject_id")
        _, age = self._age(subject, start, src)
        if age is not None:
            if "age" not in subject:
                subject.create_dataset("age", data=age)
                subject["age"].attrs["reference"] = "birth"
                ctx.change("general/subject/age", "from date of birth", age)
            elif (_strings(subject["age"]) or [""])[0] != age:
                _store(subject, "age", [age], ())
                ctx.change("general/subject/age", "capped", age)
            done.add("/general/subject/age")
        if "weight" in subject and _human(subject):
            del subject["weight"]
            ctx.change("general/subject/weight", "removed")

    @staticmethod
    def _scrub_all(f: Any, ctx: FileContext, done: set[str]) -> None:
        """Scrub every string attribute and string dataset outside the spec cache."""
        import h5py

        objects: list[Any] = [f]
        f.visititems(lambda name, obj: objects.append(obj))
        for obj in objects:
            path = obj.name
            if path.startswith("/specifications") or path in done:
                continue
            where = path.lstrip("/") or "(root)"
            for key in list(obj.attrs):
                if key in _STRUCTURAL:
                    continue
                value = obj.attrs[key]
                texts = _attr_texts(value)
                if texts is None:
                    continue
                free = bool(_FREE_TEXT.search(key))
                new = [_scrubber(free)(ctx, f"{where} @{key}", t) for t in texts]
                if new != texts:
                    obj.attrs[key] = (
                        new[0]
                        if isinstance(value, str | bytes)
                        else np.array(new, dtype=h5py.string_dtype())
                    )
            if not isinstance(obj, h5py.Dataset):
                continue
            texts = _strings(obj)
            if texts is None:
                continue
            name = path.rsplit("/", 1)[-1]
            free = bool(_FREE_TEXT.search(name)) or name == "data"
            free = free or path.startswith("/intervals/")
            new = [
                _scrubber(free)(ctx, f"{where}[{i}]", t) for i, t in enumerate(texts)
            ]
            if new != texts:
                _store(obj.parent, name, new, obj.shape)

    @staticmethod
    def _object_ids(f: Any, ident: str, ctx: FileContext) -> None:
        """Derive every object's ``object_id`` from the new identifier and its path."""
        objects: list[Any] = [f]
        f.visititems(lambda name, obj: objects.append(obj))
        changed = 0
        for obj in objects:
            if "object_id" not in obj.attrs or obj.name.startswith("/specifications"):
                continue
            new = str(uuid.uuid5(_ID_NAMESPACE, f"{ident}:{obj.name}"))
            if _text(obj.attrs["object_id"]) != new:
                obj.attrs["object_id"] = new
                changed += 1
        if changed:
            ctx.change("object_id", "regenerated", f"{changed} objects")


def _attr_texts(value: Any) -> list[str] | None:
    if isinstance(value, str | bytes):
        return [_text(value)]
    if isinstance(value, np.ndarray) and value.dtype.kind in "OSU" and value.size:
        items = value.ravel().tolist()
        if all(isinstance(v, str | bytes) for v in items):
            return [_text(v) for v in items]
    return None


def _scrubber(free: bool) -> Callable[[FileContext, str, str], str]:
    if free:
        return lambda ctx, where, text: ctx.scrub(where, text)
    return scrub_label


def _export(work: Path, out: Path, src: Path) -> None:
    """Write ``work`` into the fresh file ``out`` through pynwb's export."""
    import h5py
    from pynwb import NWBHDF5IO

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with NWBHDF5IO(str(work), "r") as io:
                nwb = io.read()
                with NWBHDF5IO(str(out), "w") as target:
                    target.export(src_io=io, nwbfile=nwb)
    except Exception as exc:  # pynwb/hdmf raise many kinds on odd files
        raise FormatError(
            f"pynwb could not rewrite {str(src)!r}: {type(exc).__name__}: {exc}",
            path=src,
            fmt=_FMT,
        ) from exc
    external: list[str] = []
    with h5py.File(out, "r") as g:
        g.visititems_links(
            lambda name, link: (
                external.append(name) if isinstance(link, h5py.ExternalLink) else None
            )
        )
    if external:
        raise FormatError(
            f"{str(src)!r} links to other files ({', '.join(external[:3])}); NWB "
            "files with external links are not de-identified (the linked files "
            "would not travel with it).",
            path=src,
            fmt=_FMT,
        )
