"""FIF raw recordings (MNE, MEGIN/Elekta; ``.fif``, ``.fif.gz``): measurement info.

Identity in a FIF file sits in its measurement info: the measurement date and the
file and measurement ids (seconds plus the acquisition machine's id), the subject
block (id, hospital id, names, birthday, sex, hand, weight, height), the
experimenter, description, project name and id, UTC offset, the processing history
(MaxFilter's block ids, dates, operator and program), the helium and device blocks
(file GUID, serial number, site), the digitised head shape, and the annotation texts.

What is written. The file is rebuilt by MNE from what it reads (``raw.save``), so
tags MNE does not read (private or vendor tags, comments) are not carried over:

* ``raw.anonymize(daysback=<subject's shift>, keep_his=False)``, the method, so the
  annotations move with the measurement date (mne #7575): dates and ids shifted by
  the subject's shift and their machine ids zeroed; names, experimenter and project
  name set to ``mne_anonymize``; project id 0; sex and hand removed; weight and
  height 0; device serial and site and the helium file GUID replaced; UTC offset
  removed.
* Then, what MNE keeps: the **birthday is removed** (MNE moves it by the shift, so
  the exact age survives; the age goes to ``participants.tsv`` instead, capped at
  89+); the hospital id becomes the subject's pseudonym; the description is the
  input's, scrubbed (MNE's "Anonymized using a time shift to preserve age" is no
  longer true); ids and dates that MNE does not shift (MaxFilter calibration records,
  HPI measurement blocks, a processing record's parent ids) get a zero machine id and
  no date: they date the site's calibration files, not the subject; program names
  (``creator``) keep only the program and its version (MaxFilter writes the host it
  ran on after them, mne-testing-data #3); the acquisition parameter texts
  (``acq_pars``, ``acq_stim``, parsed by MNE and MaxFilter) lose the run's known
  identifiers, and what else looks identifying in them is listed, not redacted.
* **Head-shape points** (digitised points of kind "extra") are removed: hundreds of
  points on the scalp, forehead and nose trace the face, a biometric like the face in
  an anatomical MRI. Fiducials, HPI coil and EEG electrode positions are kept (source
  analysis needs them); to keep a head shape, share it separately under agreement.
* Annotation descriptions go through the free-text scrubber (event codes kept);
  onsets, durations and channels are unchanged.
* Samples are written in the input's own format (``raw.orig_format``: short, int,
  single or double), so the data read back are bitwise equal.
* MNE stamps the file and block ids it writes with the writing machine's network
  (MAC) address: those are zeroed after writing. A ``.fif.gz`` output is compressed
  with no file name and no time in its gzip header.

A date before 1901-12-13 cannot be stored (FIF counts seconds since 1970 in an
int32); shifted dates land in 1902-1925, so the shift the run chooses always fits.
Split recordings (``raw.fif`` continued in ``raw-1.fif``) are not handled: they are
reported as failed, not copied.
"""

from __future__ import annotations

import datetime as dt
import gzip
import re
import shutil
import struct
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from neurodl._atomic import atomic_path
from neurodl.errors import FormatError
from neurodl.privacy.deid._core import FileContext, Handler, Inspection, age_in_years
from neurodl.privacy.deid._labels import scrub_label

__all__ = ["FifHandler"]

_DATE_NONE = (0, 2**31 - 1)  # FIF's "no date" (MNE's DATE_NONE)
_PLACEHOLDER = "mne_anonymize"
_MNE_DESCRIPTION = "Anonymized using a time shift to preserve age at acquisition"
_POINT_EXTRA = 4  # FIFFV_POINT_EXTRA: head-shape points
_ID_STRUCT = 31  # FIFFT_ID_STRUCT: version, machid[2], secs, usecs
_ID_KINDS = frozenset([100, 103, 109, 110, 116])  # file, block, parent x2, ref ids
_SEX = {1: "M", 2: "F"}


def _read(path: Path) -> Any:
    import mne

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = mne.io.read_raw_fif(
                path, preload=False, allow_maxshield=True, verbose="error"
            )
    except Exception as exc:  # MNE raises ValueError, OSError, KeyError... on bad bytes
        raise FormatError(
            f"{str(path)!r} is not a readable FIF raw file: "
            f"{type(exc).__name__}: {exc}",
            path=path,
            fmt="FIF",
        ) from exc
    if len(raw.filenames) > 1:
        raise FormatError(
            f"{str(path)!r} is a split FIF recording ({len(raw.filenames)} parts); "
            "split recordings are not de-identified yet: join them with MNE "
            "(read_raw_fif, then save with a larger split_size) first.",
            path=path,
            fmt="FIF",
        )
    return raw


def _stamp(value: Any) -> str:
    """Format an id dict or a (secs, usecs) date as text, for the report."""
    if isinstance(value, dict):
        machid = np.asarray(value.get("machid", [0, 0])).tolist()
        return f"machid {machid}, {_stamp((value.get('secs'), value.get('usecs')))}"
    secs, usecs = (int(v) for v in value)
    if (secs, usecs) == _DATE_NONE:
        return "no date"
    when = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(
        seconds=secs, microseconds=usecs
    )
    return when.isoformat()


def _program(creator: str) -> str:
    """Keep the program name and version at the start of a ``creator`` text.

    MaxFilter and acquisition programs write the host they ran on after it
    ("... on host meg-7"); only "MaxFilter 2.2.10" or "mne-python v1.8.0" is kept.

    >>> _program("MaxFilter 2.2.10 on host meg-jsmith-7")
    'MaxFilter 2.2.10'
    """
    m = re.match(r"\s*([A-Za-z][\w.+-]*)(?:\s+(v?\d[\w.+-]*))?", creator)
    return " ".join(g for g in m.groups() if g) if m else ""


def _ids(info: Any) -> Iterator[tuple[str, dict[str, Any], str]]:
    """(report name, holder, key) of ids, dates and program names MNE leaves as is."""
    for i, meas in enumerate(info.get("hpi_meas") or []):
        for key in ("block_id", "parent_id", "creator"):
            if meas.get(key) is not None:
                yield f"hpi_meas[{i}].{key}", meas, key
    records = list(info.get("proc_history") or [])
    for i, rec in enumerate(records):
        for key in ("parent_file_id", "parent_block_id", "creator"):
            if rec.get(key) is not None:
                yield f"proc_history[{i}].{key}", rec, key
        ctc = (rec.get("max_info") or {}).get("sss_ctc") or {}
        for key in ("block_id", "parent_block_id", "date", "creator"):
            if ctc.get(key) is not None:
                yield f"proc_history[{i}].max_info.sss_ctc.{key}", ctc, key


def _identity(raw: Any) -> dict[str, str]:
    """Collect the identity fields of a raw's info as text (compared before/after)."""
    info = raw.info
    out: dict[str, str] = {}
    meas = info["meas_date"]
    out["meas_date"] = "None" if meas is None else meas.isoformat()
    for key in ("file_id", "meas_id"):
        if info.get(key) is not None:
            out[key] = _stamp(info[key])
    for key, value in (info.get("subject_info") or {}).items():
        out[f"subject_info.{key}"] = str(value)
    for key in ("experimenter", "description", "proj_name", "proj_id", "utc_offset"):
        if info.get(key) is not None:
            out[key] = str(info[key])
    for block in ("device_info", "helium_info"):
        for key, value in (info.get(block) or {}).items():
            text = value.isoformat() if isinstance(value, dt.date) else str(value)
            out[f"{block}.{key}"] = text
    for i, rec in enumerate(info.get("proc_history") or []):
        for key in ("block_id", "date", "experimenter"):
            if rec.get(key) is not None:
                value = rec[key]
                text = _stamp(value) if key != "experimenter" else str(value)
                out[f"proc_history[{i}].{key}"] = text
    for name, holder, key in _ids(info):
        value = holder[key]
        out[name] = value if isinstance(value, str) else _stamp(value)
    heads = sum(1 for d in info.get("dig") or [] if d["kind"] == _POINT_EXTRA)
    out["dig"] = f"{heads} head-shape points"
    return out


def _zero_machine_ids(path: Path) -> None:
    """Zero the machine id of every FIFF id tag in the file at ``path`` (in place).

    MNE writes the ids of the file and of its blocks with this machine's MAC address.
    A FIF file is a sequence of tags: kind, type, size, next (4 big-endian int32
    each), then ``size`` bytes of data.
    """
    size = path.stat().st_size
    with open(path, "r+b") as fid:
        pos = 0
        while pos + 16 <= size:
            fid.seek(pos)
            kind, kind_type, length, nxt = struct.unpack(">iiii", fid.read(16))
            if length < 0 or pos + 16 + length > size:
                raise FormatError(
                    f"the FIF file written for {path.name!r} has a malformed tag at "
                    f"byte {pos}",
                    path=path,
                    fmt="FIF",
                )
            if kind in _ID_KINDS and kind_type == _ID_STRUCT and length == 20:
                fid.seek(pos + 20)  # after the header and the version
                fid.write(struct.pack(">ii", 0, 0))
            if nxt == -1:  # FIFFV_NEXT_NONE: the last tag
                break
            pos = pos + 16 + length if nxt == 0 else nxt


class FifHandler(Handler):
    """FIF raw recordings (``.fif``, ``.fif.gz``) read by MNE."""

    fmt = "FIF"
    suffixes = (".fif", ".fif.gz")

    def inspect(self, path: Path) -> Inspection:
        """Read the measurement date, the subject block and the people named."""
        raw = _read(path)
        info = raw.info
        found = Inspection()
        meas = info["meas_date"]
        if meas is not None:
            found.dates.append(meas)
            helium = (info.get("helium_info") or {}).get("meas_date")
            if helium is not None:
                found.dates.append(helium)
        subject = info.get("subject_info") or {}
        names = [
            str(subject[k])
            for k in ("first_name", "middle_name", "last_name")
            if subject.get(k) and subject[k] != _PLACEHOLDER
        ]
        if names:
            found.known.append((" ".join(names), "name"))
        his = str(subject.get("his_id") or "").strip()
        if his and his not in ("0", _PLACEHOLDER):
            found.subject = his
            found.known.append((his, "identifier"))
        if subject.get("sex") in _SEX:
            found.sex = _SEX[subject["sex"]]
        birthday = subject.get("birthday")
        if birthday is not None and meas is not None:
            found.age = age_in_years(birthday, meas.date())
        if info.get("experimenter") and info["experimenter"] != _PLACEHOLDER:
            found.known.append((str(info["experimenter"]), "name"))
        if info.get("proj_name") and info["proj_name"] != _PLACEHOLDER:
            found.known.append((str(info["proj_name"]), "identifier"))
        for key in ("serial", "site"):
            value = (info.get("device_info") or {}).get(key)
            if value and value != _PLACEHOLDER:
                found.known.append((str(value), "identifier"))
        for rec in info.get("proc_history") or []:
            if rec.get("experimenter") and rec["experimenter"] != _PLACEHOLDER:
                found.known.append((str(rec["experimenter"]), "name"))
        return found

    def write(self, src: Path, dst: Path, ctx: FileContext) -> None:
        """Anonymize the info, remove what MNE keeps, scrub annotations, save."""
        raw = _read(src)
        info = raw.info
        fmt = raw.orig_format
        before = _identity(raw)
        description = info.get("description")
        start = info["meas_date"]
        daysback = None if start is None else ctx.daysback
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                raw.anonymize(daysback=daysback, keep_his=False, verbose="error")
        except (RuntimeError, ValueError, OverflowError) as exc:
            raise FormatError(
                f"{str(src)!r}: MNE could not shift its dates by {ctx.daysback} days: "
                f"{exc}",
                path=src,
                fmt="FIF",
            ) from exc
        with info._unlock():
            subject = info.get("subject_info")
            if subject is None:
                subject = info["subject_info"] = {}
            subject.pop("birthday", None)  # a date of birth is never written
            subject["his_id"] = ctx.pseudonym or "0"
            if description is None or description == _MNE_DESCRIPTION:
                info["description"] = None
            else:
                info["description"] = ctx.scrub("description", str(description))
            for name, holder, key in _ids(info):
                value = holder[key]
                if isinstance(value, str):  # a program: keep its name and version
                    holder[key] = scrub_label(ctx, name, _program(value))
                elif isinstance(value, dict):
                    value["machid"] = np.zeros(2, np.int32)
                    value["secs"], value["usecs"] = _DATE_NONE
                else:  # a (secs, usecs) date
                    holder[key] = _DATE_NONE
            info["dig"] = [
                d for d in info.get("dig") or [] if d["kind"] != _POINT_EXTRA
            ]
            for key in ("acq_pars", "acq_stim"):  # parsed by MNE and MaxFilter
                if info.get(key):
                    info[key] = scrub_label(ctx, key, info[key], redact=False)
        after = _identity(raw)
        for key, new in after.items():
            if key == "description":
                continue  # recorded by the scrubber
            if before.get(key) != new:
                action = "shifted" if "date" in key and daysback else "replaced"
                ctx.change(key, action, new)
        for key in before:
            if key not in after and key != "description":
                ctx.change(key, "removed")
        if "description" in before and "description" not in after:
            ctx.change("description", "removed")
        annotations = raw.annotations
        texts = [
            ctx.scrub(f"annotation {k} (onset {onset:g} s)", str(text))
            for k, (onset, text) in enumerate(
                zip(annotations.onset, annotations.description, strict=True)
            )
        ]
        if texts != [str(t) for t in annotations.description]:
            annotations.description = texts
        extras = annotations.extras
        for k, extra in enumerate(extras):
            for key, value in list((extra or {}).items()):
                if isinstance(value, str):
                    extra[key] = ctx.scrub(f"annotation {k} {key}", value)
        if start is not None:
            shifted = raw.info["meas_date"]
            ctx.acq_times.append((dst, shifted.replace(tzinfo=None)))
        self._save(raw, fmt, dst)

    @staticmethod
    def _save(raw: Any, fmt: str, dst: Path) -> None:
        """Save ``raw`` in ``fmt`` to ``dst``, machine ids zeroed, gzip if ``.gz``."""
        with tempfile.TemporaryDirectory(prefix=".neurodl-fif-", dir=dst.parent) as tmp:
            plain = Path(tmp) / "deid_raw.fif"  # a neutral name: nothing leaks into it
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                raw.save(plain, fmt=fmt, overwrite=True, verbose="error")
            parts = sorted(Path(tmp).iterdir())
            if parts != [plain]:
                raise FormatError(
                    f"the de-identified copy of {dst.name!r} needs {len(parts)} split "
                    "files (over 2 GB); split recordings are not written yet.",
                    path=dst,
                    fmt="FIF",
                )
            _zero_machine_ids(plain)
            with atomic_path(dst) as out:
                if dst.name.lower().endswith(".gz"):
                    with (
                        open(plain, "rb") as fin,
                        open(out, "wb") as raw_out,
                        gzip.GzipFile(
                            filename="", mode="wb", fileobj=raw_out, mtime=0
                        ) as fout,
                    ):
                        shutil.copyfileobj(fin, fout, 1 << 20)
                else:
                    shutil.move(plain, out)
