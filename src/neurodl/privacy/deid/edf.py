"""EDF, EDF+ and BDF (BioSemi): header fields and annotation text.

The identity sits in the 80-character *local patient identification* (EDF+: ``code
sex birthdate name extra``), the 80-character *local recording identification*
(``Startdate date admincode technician equipment extra``), the start date and time,
the annotation (TAL) texts, and the signals' transducer and prefilter texts.

What is written (through edfio, which rewrites the header from its fields, so no old
bytes survive): patient ``<pseudonym> X X X`` (no sex, no birthdate, no name),
recording ``Startdate X X X X``, start ``01.01.85 00.00.00`` (EDF holds only
1985-2084, so the shifted date goes to ``scans.tsv`` instead), annotation texts
through the free-text scrubber (event codes such as T0/T1/T2 kept; onsets and
durations unchanged), transducer and prefilter texts scrubbed. The signals' samples
are copied untouched.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import warnings
from pathlib import Path
from typing import Any

from neurodl._atomic import atomic_path
from neurodl.errors import FormatError
from neurodl.privacy.deid._core import FileContext, Handler, Inspection, age_in_years

__all__ = ["EdfHandler"]

_PLACEHOLDER = dt.date(1985, 1, 1)  # what anonymizers write: not a real date


def _read(path: Path, bdf: bool, lazy: bool = True) -> Any:
    import edfio

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if bdf:
                return edfio.read_bdf(path, header_encoding="latin-1")
            return edfio.read_edf(path, lazy_load_data=lazy, header_encoding="latin-1")
    except Exception as exc:  # edfio raises IndexError, ValueError... on bad bytes
        fmt = "BDF" if bdf else "EDF"
        raise FormatError(
            f"{str(path)!r} is not a readable {fmt} file: {type(exc).__name__}: {exc}",
            path=path,
            fmt=fmt,
        ) from exc


def _real_start(edf: Any) -> dt.datetime | None:
    """Return the recording's start, or None for an anonymised placeholder."""
    import edfio

    try:
        start = edf.startdate
    except edfio.AnonymizedDateError:
        return None
    except Exception:  # an unparsable date is no date
        return None
    if start == _PLACEHOLDER:
        return None
    try:
        t = edf.starttime
    except Exception:
        t = dt.time()
    return dt.datetime.combine(start, t.replace(microsecond=0))


def _fields(edf: Any, name: str) -> dict[str, Any]:
    """Return the EDF+ sub-fields of the patient or recording field ({}: plain EDF)."""
    with contextlib.suppress(Exception):
        part = getattr(edf, name)
        out: dict[str, Any] = {}
        for attr in (
            "code",
            "sex",
            "name",
            "hospital_administration_code",
            "investigator_technician_code",
            "equipment_code",
        ):
            with contextlib.suppress(Exception):
                out[attr] = getattr(part, attr)
        with contextlib.suppress(Exception):
            out["birthdate"] = part.birthdate
        with contextlib.suppress(Exception):
            out["additional"] = tuple(part.additional)
        return out
    return {}


class EdfHandler(Handler):
    """EDF and EDF+ files (``.edf``)."""

    fmt = "EDF"
    suffixes = (".edf",)
    bdf = False

    def inspect(self, path: Path) -> Inspection:
        """Read the start date, the patient and recording fields."""
        edf = _read(path, self.bdf)
        found = Inspection()
        start = _real_start(edf)
        if start is not None:
            found.dates.append(start)
        patient = _fields(edf, "patient")
        recording = _fields(edf, "recording")
        kinds = {
            "name": "name",
            "investigator_technician_code": "name",
            "code": "identifier",
            "hospital_administration_code": "identifier",
            "equipment_code": "identifier",
        }
        for part in (patient, recording):
            for key, kind in kinds.items():
                value = str(part.get(key, "X")).replace("_", " ")
                if value and value != "X":
                    found.known.append((value, kind))
            for extra in part.get("additional", ()):
                if extra != "X":
                    found.known.append((extra.replace("_", " "), "identifier"))
        if not patient:  # plain EDF: the patient field is free text
            raw = edf.local_patient_identification.strip()
            if raw and raw.replace("X", "").strip():
                found.known.append((raw, "name"))
        code = str(patient.get("code", "X"))
        if code != "X":
            found.subject = code
        if patient.get("sex") in ("F", "M"):
            found.sex = patient["sex"]
        birth = patient.get("birthdate")
        if birth is not None and start is not None:
            found.age = age_in_years(birth, start.date())
        return found

    def write(self, src: Path, dst: Path, ctx: FileContext) -> None:
        """Rewrite the header fields and annotation texts; samples untouched."""
        import edfio

        edf = _read(src, self.bdf, lazy=False)
        start = _real_start(edf)
        before = {
            "local patient identification": edf.local_patient_identification,
            "local recording identification": edf.local_recording_identification,
            "startdate": edf._startdate,
            "starttime": edf._starttime,
        }
        edf.anonymize()  # X X X X, Startdate X X X X, 01.01.85, 00.00.00
        if _fields(edf, "patient"):
            edf.patient = edfio.Patient(code=ctx.pseudonym)
        after = {
            "local patient identification": edf.local_patient_identification,
            "local recording identification": edf.local_recording_identification,
            "startdate": edf._startdate,
            "starttime": edf._starttime,
        }
        for key, new in after.items():
            if before[key] != new:
                action = "replaced" if "identification" in key else "set to placeholder"
                value = new.decode("ascii") if isinstance(new, bytes) else str(new)
                ctx.change(key, action, value.strip())
        if start is not None:
            ctx.acq_times.append((dst, ctx.shift(start)))
        for i, signal in enumerate(edf.signals):
            for attr in ("transducer_type", "prefiltering"):
                text = getattr(signal, attr)
                new = ctx.scrub(f"signal {i} ({signal.label}) {attr}", text)
                if new != text:
                    setattr(signal, attr, new[:80])
        annotations = list(edf.annotations)
        texts = [
            ctx.scrub(f"annotation {k} (onset {a.onset:g} s)", a.text)
            for k, a in enumerate(annotations)
        ]
        if any(t != a.text for t, a in zip(texts, annotations, strict=True)):
            edf.set_annotations(
                edfio.EdfAnnotation(a.onset, a.duration, t)
                for a, t in zip(annotations, texts, strict=True)
            )
        with atomic_path(dst) as tmp:
            edf.write(tmp)


class BdfHandler(EdfHandler):
    """BDF and BDF+ files (``.bdf``, BioSemi 24-bit): the same header layout."""

    fmt = "BDF"
    suffixes = (".bdf",)
    bdf = True
