"""BIDS sidecars: JSON files and TSV tables (participants, scans, sessions, events).

JSON: keys that identify a person, a place or a machine (:data:`DROP_KEYS`, from the
DICOM fields dcm2niix copies into sidecars) are removed; date and time keys
(:data:`DATE_KEYS`) are shifted with the subject; every other string value is
scrubbed as free text, except ``DeIdentificationMethod*`` (what was done to the
data, e.g. by ``neurodl deface``) and the dataset's own attribution in
``dataset_description.json`` (Name, Authors, Acknowledgements, Funding,
ReferencesAndLinks, HowToAcknowledge, License, DatasetDOI), which names the dataset's
makers, not its subjects.

TSV: ``participant_id`` values become pseudonyms; ``age`` is capped (``89+``);
columns that hold a birth date, a name or contact details are removed; ``acq_time``
and other date columns are shifted with the row's subject; ``filename`` columns follow
the renamed files; other text cells (``trial_type``, ``value``, descriptions) are
scrubbed, and event codes pass. Onsets, durations and samples are numbers and are
never touched.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from pathlib import Path
from typing import Any

from neurodl._atomic import atomic_path
from neurodl.errors import FormatError
from neurodl.privacy.deid._core import FileContext, Handler, Inspection, bids_age

__all__ = ["DATE_KEYS", "DROP_KEYS", "JsonHandler", "TsvHandler"]

#: sidecar keys removed outright (lower-cased comparison)
DROP_KEYS = frozenset(
    k.lower()
    for k in [
        "InstitutionName",
        "InstitutionAddress",
        "InstitutionalDepartmentName",
        "DeviceSerialNumber",
        "StationName",
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "PatientBirthTime",
        "PatientWeight",
        "PatientSize",
        "PatientAddress",
        "PatientTelephoneNumbers",
        "OtherPatientIDs",
        "OtherPatientNames",
        "OperatorsName",
        "PerformingPhysicianName",
        "ReferringPhysicianName",
        "NameOfPhysiciansReadingStudy",
        "RequestingPhysician",
        "AccessionNumber",
        "StudyID",
        "StudyInstanceUID",
        "SeriesInstanceUID",
        "SOPInstanceUID",
        "FrameOfReferenceUID",
        "MediaStorageSOPInstanceUID",
        "IssuerOfPatientID",
        "MedicalRecordLocator",
        "RequestAttributesSequence",
        "PatientComments",
        "AdditionalPatientHistory",
        "Experimenter",
        "ExperimenterName",
        "Investigator",
    ]
)
#: sidecar keys that hold a date or a date and time: shifted with the subject
DATE_KEYS = frozenset(
    k.lower()
    for k in [
        "AcquisitionDateTime",
        "AcquisitionDate",
        "StudyDate",
        "SeriesDate",
        "ContentDate",
        "InstanceCreationDate",
        "DateOfLastCalibration",
        "DateOfSecondaryCapture",
        "RecordingDate",
        "MeasurementDate",
        "acq_time",
        "session_date",
    ]
)
_ATTRIBUTION = frozenset(
    [
        "Name",
        "Authors",
        "Acknowledgements",
        "Funding",
        "ReferencesAndLinks",
        "HowToAcknowledge",
        "License",
        "DatasetDOI",
        "BIDSVersion",
        "DatasetType",
        "EthicsApprovals",
        "GeneratedBy",
        "SourceDatasets",
    ]
)
_DROP_COLUMNS = re.compile(
    r"(?i)^(name|first_?name|last_?name|surname|full_?name|patient_?name|dob|"
    r"birth.*|date_?of_?birth|birthday|e-?mail|phone.*|telephone|address|"
    r"street|zip|postcode|postal_?code|city|mrn|ssn|record_?number|"
    r"hospital_?id|patient_?id|initials|contact.*)$"
)
_DATE_COLUMN = re.compile(r"(?i)(^|_)(date|time|datetime)$|^acq_time$")
_NUMBER = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$")
_SUB = re.compile(r"sub-([A-Za-z0-9]+)")


def _parse_when(text: str) -> dt.datetime | dt.date | None:
    text = text.strip()
    if not text or text.lower() == "n/a":
        return None
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return dt.date.fromisoformat(text)
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _shift_text(text: str, days: int) -> str:
    when = _parse_when(text)
    if when is None or days == 0:
        return text
    moved = when - dt.timedelta(days=days)
    if isinstance(when, dt.datetime):
        out = moved.isoformat()
        if "T" not in text and " " in text:
            out = out.replace("T", " ")
        return out
    return moved.isoformat()


def _read_text(path: Path, fmt: str) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise FormatError(
            f"{str(path)!r} is not a readable {fmt} file: {exc}", path=path, fmt=fmt
        ) from exc


def _subject_of(path: Path) -> str | None:
    m = _SUB.search(path.name) or _SUB.search(path.as_posix())
    return m.group(1) if m else None


class JsonHandler(Handler):
    """BIDS JSON sidecars (and any other ``.json`` file)."""

    fmt = "JSON"
    suffixes = (".json",)

    def _load(self, path: Path) -> Any:
        try:
            return json.loads(_read_text(path, self.fmt))
        except json.JSONDecodeError as exc:
            raise FormatError(
                f"{str(path)!r} is not valid JSON: {exc}", path=path, fmt=self.fmt
            ) from exc

    def inspect(self, path: Path) -> Inspection:
        """Read dates, identifying values and the subject of a JSON file."""
        doc = self._load(path)
        found = Inspection(per_subject=_subject_of(path) is not None)
        found.subject = _subject_of(path)

        def walk(node: Any) -> None:
            if isinstance(node, dict):
                for k, v in node.items():
                    low = str(k).lower()
                    if low in DROP_KEYS and isinstance(v, str) and v.strip():
                        kind = "name" if "name" in low else "identifier"
                        if not low.endswith("uid"):
                            found.known.append((v, kind))
                    elif low in DATE_KEYS and isinstance(v, str):
                        when = _parse_when(v)
                        if when is not None:
                            found.dates.append(when)
                    walk(v)
            elif isinstance(node, list):
                for v in node:
                    walk(v)

        walk(doc)
        return found

    def write(self, src: Path, dst: Path, ctx: FileContext) -> None:
        """Drop identifying keys, shift dates, scrub the other strings."""
        doc = self._load(src)
        dataset_level = src.name == "dataset_description.json"

        def walk(node: Any, where: str) -> Any:
            if isinstance(node, dict):
                new: dict[str, Any] = {}
                for k, v in node.items():
                    key = f"{where}.{k}" if where else str(k)
                    low = str(k).lower()
                    if low in DROP_KEYS:
                        ctx.change(key, "removed")
                        continue
                    if dataset_level and not where and k in _ATTRIBUTION:
                        new[k] = v
                        continue
                    if str(k).startswith("DeIdentificationMethod"):
                        new[k] = v  # what was done to the data, e.g. by deface
                        continue
                    if low in DATE_KEYS and isinstance(v, str):
                        moved = _shift_text(v, ctx.daysback)
                        if moved != v:
                            ctx.change(key, "shifted", moved)
                        new[k] = moved
                        continue
                    numeric = isinstance(v, (int, float))
                    if low in ("patientage", "age") and numeric and v >= 89:
                        ctx.change(key, "capped", "89+")
                        new[k] = "89+"
                        continue
                    new[k] = walk(v, key)
                return new
            if isinstance(node, list):
                return [walk(v, f"{where}[{i}]") for i, v in enumerate(node)]
            if isinstance(node, str):
                return ctx.scrub(where, node)
            return node

        out = walk(doc, "")
        if out != doc:
            with atomic_path(dst) as tmp:
                Path(tmp).write_text(json.dumps(out, indent=4) + "\n")


class TsvHandler(Handler):
    """BIDS TSV tables: participants, scans, sessions, events, channels..."""

    fmt = "TSV"
    suffixes = (".tsv",)

    def _load(self, path: Path) -> tuple[list[str], list[list[str]]]:
        text = _read_text(path, self.fmt)
        rows = list(csv.reader(io.StringIO(text), delimiter="\t"))
        if not rows:
            return [], []
        header, body = rows[0], rows[1:]
        for i, row in enumerate(body, start=2):
            if len(row) != len(header):
                raise FormatError(
                    f"{str(path)!r} line {i} has {len(row)} cells; its header has "
                    f"{len(header)}.",
                    path=path,
                    fmt=self.fmt,
                )
        return header, body

    def inspect(self, path: Path) -> Inspection:
        """Read the subjects, dates and identifying cells of a table."""
        header, body = self._load(path)
        found = Inspection(per_subject=_subject_of(path) is not None)
        found.subject = _subject_of(path)
        ids = header.index("participant_id") if "participant_id" in header else None
        if ids is not None:  # every subject listed gets a pseudonym
            for row in body:
                if m := _SUB.fullmatch(row[ids].strip()):
                    found.subject_dates.setdefault(m.group(1), [])
        for j, col in enumerate(header):
            if _DROP_COLUMNS.match(col):
                named = "name" in col.lower() or col == "initials"
                kind = "name" if named else "identifier"
                for row in body:
                    cell = row[j].strip()
                    if cell and cell != "n/a" and _parse_when(cell) is None:
                        found.known.append((cell, kind))
            elif _DATE_COLUMN.search(col):
                for row in body:
                    when = _parse_when(row[j])
                    if when is None:
                        continue
                    if ids is not None and (m := _SUB.fullmatch(row[ids].strip())):
                        found.subject_dates.setdefault(m.group(1), []).append(when)
                    elif found.per_subject:
                        found.dates.append(when)
        return found

    def write(self, src: Path, dst: Path, ctx: FileContext) -> None:
        """Pseudonymise ids, cap ages, shift dates, drop and scrub cells."""
        header, body = self._load(src)
        subjects: dict[str, dict[str, object]] = ctx.extra.get("subjects", {})
        by_label = {k: v for k, v in subjects.items()}
        keep = [j for j, c in enumerate(header) if not _DROP_COLUMNS.match(c)]
        for j, col in enumerate(header):
            if j not in keep:
                ctx.change(f"column {col}", "removed")
        pid = header.index("participant_id") if "participant_id" in header else None
        new_body: list[list[str]] = []
        for i, row in enumerate(body, start=1):
            label = None
            if pid is not None:
                m = _SUB.fullmatch(row[pid].strip())
                label = m.group(1) if m else row[pid].strip()
            entry = by_label.get(label) if label else None
            days = int(entry["daysback"]) if entry else ctx.daysback  # type: ignore[call-overload]
            new_row = []
            for j in keep:
                col, cell = header[j], row[j]
                where = f"row {i} {col}"
                if j == pid and entry is not None:
                    value = f"sub-{entry['pseudonym']}"
                    if value != cell:
                        ctx.change(where, "pseudonymised", value)
                elif col == "age" and _NUMBER.match(cell):
                    value = bids_age(float(cell))
                    if value != cell.strip():
                        action = "capped" if value == "89+" else "whole years"
                        ctx.change(where, action, value)
                elif _DATE_COLUMN.search(col) and _parse_when(cell) is not None:
                    value = _shift_text(cell, days)
                    if value != cell:
                        ctx.change(where, "shifted", value)
                elif col == "filename":
                    value = (
                        ctx.rename(src.parent / cell)
                        .relative_to(ctx.rename(src).parent)
                        .as_posix()
                    )
                    if value != cell:
                        ctx.change(where, "subject id replaced", value)
                elif _NUMBER.match(cell) or cell in ("", "n/a"):
                    value = cell
                else:
                    value = ctx.scrub(where, cell)
                new_row.append(value)
            new_body.append(new_row)
        new_header = [header[j] for j in keep]
        if new_header != header or new_body != body:
            buf = io.StringIO()
            writer = csv.writer(buf, delimiter="\t", lineterminator="\n")
            writer.writerow(new_header)
            writer.writerows(new_body)
            with atomic_path(dst) as tmp:
                Path(tmp).write_text(buf.getvalue())
