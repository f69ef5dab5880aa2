"""The de-identification run: find files, group by subject, shift, rewrite, report."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from neurodl._atomic import atomic_path
from neurodl.errors import FormatError, NeurodlError, ValidationError
from neurodl.privacy.deid._core import (
    SHIFT_WINDOW,
    Change,
    DeidReport,
    FileContext,
    FileFinding,
    FileReport,
    Handler,
    Inspection,
    Refused,
    bids_age,
    choose_daysback,
    is_pseudonym,
    new_pseudonym,
)
from neurodl.privacy.deid._registry import handlers
from neurodl.privacy.scan import TextScrubber, scan_text

__all__ = ["deidentify", "read_mapping"]

PathLike = str | os.PathLike[str]
MAPPING_FORMAT = 1
_BIDS_SUB = re.compile(r"(?:^|[/_])sub-([A-Za-z0-9]+)")


@dataclass
class _Item:
    src: Path
    rel: Path  # where the output will mirror it, relative to 'out'
    inner: Path  # relative to the input folder it was found in
    handler: Handler | None
    companions: list[Path] = field(default_factory=list)
    subject: str | None = None
    found: Inspection | None = None
    report: FileReport | None = None


def _inside(child: Path, parent: Path) -> bool:
    child, parent = child.resolve(), parent.resolve()
    return child == parent or parent in child.parents


def _collect(paths: Sequence[Path]) -> list[tuple[Path, Path, Path]]:
    """(file, path relative to the output, to its input folder) under ``paths``."""
    out: list[tuple[Path, Path, Path]] = []
    single_dir = len(paths) == 1 and paths[0].is_dir()
    for p in paths:
        if p.is_dir():
            base = p if single_dir else p.parent
            for f in sorted(p.rglob("*")):
                rel = f.relative_to(p)
                if f.is_file() and not any(s.startswith(".") for s in rel.parts):
                    out.append((f, f.relative_to(base), rel))
        else:
            out.append((p, Path(p.name), Path(p.name)))
    return out


def _encrypted(data: bytes) -> bool:
    from neurodl.privacy.crypto import MAGIC

    return data.startswith(MAGIC)


def read_mapping(
    path: PathLike, *, key: bytes | None = None, passphrase: str | None = None
) -> dict[str, dict[str, object]]:
    """Read a subject mapping written by :func:`deidentify` (decrypting it if needed).

    Returns ``{original id: {"pseudonym": str, "daysback": int}}``.
    """
    from neurodl.privacy.crypto import decrypt_bytes

    path = Path(path)
    data = path.read_bytes()
    if _encrypted(data):
        if key is None and passphrase is None:
            raise ValidationError(
                f"the mapping {str(path)!r} is encrypted; give its key ('key' or "
                "'passphrase')."
            )
        data = decrypt_bytes(data, key=key, passphrase=passphrase)
    try:
        doc = json.loads(data)
        subjects = doc["subjects"]
        assert doc.get("neurodl_deid_mapping") == MAPPING_FORMAT
        for entry in subjects.values():
            str(entry["pseudonym"])
            int(entry["daysback"])
    except (ValueError, KeyError, TypeError, AssertionError, AttributeError) as exc:
        raise FormatError(
            f"{str(path)!r} is not a neurodl subject mapping: {exc!r}",
            path=path,
            fmt="deid mapping",
        ) from exc
    return dict(subjects)


def _write_mapping(
    path: Path,
    subjects: dict[str, dict[str, object]],
    key: bytes | None,
    pw: str | None,
) -> None:
    from neurodl.privacy.crypto import encrypt_bytes

    doc = {
        "neurodl_deid_mapping": MAPPING_FORMAT,
        "note": "Keep this file apart from the de-identified data (GDPR Art. 4(5)): "
        "it re-identifies every subject. 'daysback': days every date was moved back.",
        "subjects": subjects,
    }
    data = (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode()
    if key is not None or pw is not None:
        data = encrypt_bytes(data, key=key, passphrase=pw)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(data)


def _subject_of(
    item: _Item, pattern: re.Pattern[str] | None, from_dir: bool, bids: bool
) -> str | None:
    rel = item.rel.as_posix()
    if pattern is not None and (m := pattern.search(rel)):
        return m.group(1) if m.groups() else m.group()
    if m := _BIDS_SUB.search(rel):
        return m.group(1)
    if bids or (item.found is not None and not item.found.per_subject):
        return None  # a dataset-level file
    if from_dir and len(item.inner.parts) > 1:
        return item.inner.parts[0]  # one folder per subject
    folder = item.src.parent.name
    if len(folder) >= 2 and item.src.name.startswith(folder):
        return folder  # a subject's folder given on its own: S001/S001R03.edf
    if item.found is not None and item.found.subject:
        return item.found.subject
    name = item.rel.name
    for h in (item.handler,):
        if h is not None:
            for s in h.suffixes:
                if name.lower().endswith(s):
                    return name[: -len(s)]
    return item.rel.stem


def _renamer(
    subjects: dict[str, str], known: Sequence[str] = ()
) -> Callable[[Path], Path]:
    """Rename a relative path: subject ids to pseudonyms, known identifiers out."""
    rules = []
    for orig, pseudo in subjects.items():
        if orig == pseudo:
            continue
        bids_rx = re.compile(rf"(?<=sub-){re.escape(orig)}(?![A-Za-z0-9])")
        rules.append((bids_rx, pseudo))
        esc = re.escape(orig)
        if len(orig) >= 3 and not orig.isdigit():
            rules.append((re.compile(rf"(?<![A-Za-z0-9]){esc}(?!\d)"), pseudo))
        else:  # a short id only as a whole name or a name's first word: P1_run1
            rules.append((re.compile(rf"^{esc}(?![A-Za-z0-9])"), pseudo))

    for term in known:  # a name in a file name: 'jane_doe_2024.edf'
        if not is_pseudonym(term):
            esc = re.escape(term).replace(r"\ ", "[ _.-]")
            rx = re.compile(rf"(?<![A-Za-z0-9]){esc}(?![A-Za-z0-9])", re.IGNORECASE)
            rules.append((rx, "redacted"))

    def rename(rel: Path) -> Path:
        parts = []
        for part in rel.parts:
            for rx, new in rules:
                part = rx.sub(new, part)
            parts.append(part)
        return Path(*parts) if parts else rel

    return rename


def _merge_tsv(path: Path, rows: list[dict[str, str]], key: str) -> None:
    """Add ``rows`` to the TSV at ``path`` (made if missing), one row per ``key``."""
    table: list[dict[str, str]] = []
    columns: list[str] = []
    if path.exists():
        reader = csv.DictReader(io.StringIO(path.read_text()), delimiter="\t")
        columns = list(reader.fieldnames or [])
        table = list(reader)
    have = {r.get(key) for r in table}
    for row in rows:
        for c in row:
            if c not in columns:
                columns.append(c)
        if row[key] not in have:
            table.append(row)
            have.add(row[key])
    buf = io.StringIO()
    writer = csv.DictWriter(
        buf, columns, delimiter="\t", lineterminator="\n", restval="n/a"
    )
    writer.writeheader()
    writer.writerows(table)
    with atomic_path(path) as tmp:
        Path(tmp).write_text(buf.getvalue())


def _check_paths(
    paths: Sequence[Path], out: Path, mapping: Path | None, report: Path | None
) -> None:
    if not paths:
        raise ValidationError("'paths' must name at least one file or folder.")
    for p in paths:
        if not p.exists():
            raise ValidationError(f"'paths': {str(p)!r} does not exist.")
        if _inside(out, p) if p.is_dir() else False:
            raise ValidationError(
                f"'out' ({str(out)!r}) must not be inside the input {str(p)!r}."
            )
        if _inside(p, out):
            raise ValidationError(
                f"the input {str(p)!r} must not be inside 'out' ({str(out)!r})."
            )
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValidationError(
            f"'out' must be a new or empty folder; {str(out)!r} exists and is not "
            "empty (de-identified output is never mixed with other files)."
        )
    for name, q in (("mapping", mapping), ("report", report)):
        if q is None:
            continue
        if q.is_dir():
            raise ValidationError(
                f"'{name}' must be a file path; {str(q)!r} is a folder."
            )
        if _inside(q, out):
            raise ValidationError(
                f"'{name}' ({str(q)!r}) must not be inside 'out' ({str(out)!r}): it "
                "re-identifies the data and is kept apart from it."
            )
        if any(p.is_dir() and _inside(q, p) for p in paths):
            raise ValidationError(
                f"'{name}' ({str(q)!r}) must not be inside an input folder."
            )


def deidentify(
    paths: PathLike | Sequence[PathLike],
    out: PathLike,
    *,
    mapping: PathLike | None = None,
    report: PathLike | None = None,
    key: bytes | None = None,
    passphrase: str | None = None,
    subject_pattern: str | None = None,
    allow: Sequence[str | re.Pattern[str]] = (),
    redact: bool = True,
    allow_face: bool = False,
    randbelow: Callable[[int], int] | None = None,
) -> DeidReport:
    """De-identify recordings: one file, a folder, several, or a BIDS dataset.

    Every supported file (EDF/EDF+/BDF, FIF, BrainVision, NWB, NIfTI, .mat and BIDS
    sidecars: see :data:`neurodl.privacy.deid.FORMATS`) is rewritten into ``out``
    under a renamed path (subject ids replaced by pseudonyms); other files are not
    copied and are listed in the report as skipped. Signals, images and event
    timings are never changed.

    Parameters
    ----------
    paths : path or sequence of paths
        Files or folders. One folder's contents go straight into ``out``; with
        several paths, each keeps its own name under ``out``.
    out : path
        A new (or empty) folder for the de-identified copy.
    mapping : path, optional
        The subject mapping (original id -> pseudonym and date shift), kept by the
        user apart from the data (it may not be inside ``out``). If it exists, it is
        read and extended, so later batches of a subject get the same pseudonym and
        shift. Encrypted when ``key`` or ``passphrase`` is given. None: not kept
        (the pseudonyms can then never be traced back).
    report : path, optional
        Where to write the JSON report (and the readable table beside it, ``.txt``).
        It holds original file names and flagged text, so it too stays apart from
        ``out``.
    key, passphrase : optional
        Encrypt the mapping (see :mod:`neurodl.privacy.crypto`).
    subject_pattern : str, optional
        A regular expression searched in each file's relative path whose first
        group is the subject id. By default: the BIDS ``sub-<label>`` entity; else,
        for a folder input, the folder a file sits in; else the id in the file's
        header; else the file name.
    allow : sequence of str or regex
        Extra event codes the free-text scrubber must keep.
    redact : bool
        Replace what still looks identifying in free text by ``[kind]`` (default),
        or only list it in the report.
    allow_face : bool
        Export anatomical MRI that was not defaced (refused by default).
    randbelow : callable, optional
        The random source for date shifts (default :func:`secrets.randbelow`).

    Returns
    -------
    DeidReport
        Every file's changed fields and free-text findings.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    ins = [Path(p) for p in paths]
    out_dir = Path(out)
    map_path = None if mapping is None else Path(mapping)
    rep_path = None if report is None else Path(report)
    _check_paths(ins, out_dir, map_path, rep_path)
    pattern = None
    if subject_pattern is not None:
        try:
            pattern = re.compile(subject_pattern)
        except re.error as exc:
            raise ValidationError(
                f"'subject_pattern' must be a regular expression; got "
                f"{subject_pattern!r} ({exc})."
            ) from exc
    from_dir = any(p.is_dir() for p in ins)
    bids = any(p.is_dir() and (p / "dataset_description.json").is_file() for p in ins)

    # group files by handler; a handler's companions are written with their file
    items: list[_Item] = []
    claimed: set[Path] = set()
    files = _collect(ins)
    known_handlers = handlers()
    for src, rel, inner in files:
        if src in claimed:
            continue
        handler = next((h for h in known_handlers if h.claims(src)), None)
        item = _Item(src, rel, inner, handler)
        if handler is not None:
            item.companions = [c for c in handler.companions(src) if c != src]
            claimed.update(item.companions)
        items.append(item)
    items = [i for i in items if i.src not in claimed or i.handler is not None]

    # first pass: identity fields, dates, subjects
    result = DeidReport()
    for item in items:
        fmt = item.handler.fmt if item.handler else "unknown"
        item.report = FileReport(str(item.src), None, fmt, None)
        if item.handler is None:
            item.report.status = "skipped"
            item.report.reason = "not a supported format; not copied"
            continue
        try:
            item.found = item.handler.inspect(item.src)
        except (FormatError, ValidationError) as exc:
            item.report.status, item.report.reason = "failed", str(exc)
            item.handler = None
            continue
        item.subject = _subject_of(item, pattern, from_dir, bids)

    dates: dict[str, list[dt.date | dt.datetime]] = {}
    ages: dict[str, float] = {}
    sexes: dict[str, str] = {}
    scrubber = TextScrubber(allow=allow, redact=redact)
    for item in items:
        if item.found is None:
            continue
        if item.subject is not None:
            dates.setdefault(item.subject, []).extend(item.found.dates)
            if item.found.age is not None:
                ages.setdefault(item.subject, item.found.age)
            if item.found.sex:
                sexes.setdefault(item.subject, item.found.sex)
        for label, when in item.found.subject_dates.items():
            dates.setdefault(label, []).extend(when)
        for value, kind in item.found.known:
            scrubber.add_known(value, kind)

    # the mapping: reuse what the user keeps, add new subjects
    table: dict[str, dict[str, object]] = {}
    if map_path is not None and map_path.exists():
        try:
            table = read_mapping(map_path, key=key, passphrase=passphrase)
        except FormatError as exc:
            raise ValidationError(
                f"'mapping' names an existing file that is not a neurodl subject "
                f"mapping: {exc}"
            ) from exc
    taken = {str(v["pseudonym"]) for v in table.values()}
    in_files = {i.subject for i in items if i.subject is not None}
    subject_ids = sorted(in_files | set(dates))
    for subject in subject_ids:
        days = dates.get(subject, [])
        if subject in table:
            shift = int(table[subject]["daysback"])  # type: ignore[call-overload]
            moved = [d - dt.timedelta(days=shift) for d in days]
            lo, hi = SHIFT_WINDOW
            if any(
                not lo <= (m.date() if isinstance(m, dt.datetime) else m) <= hi
                for m in moved
            ):
                raise ValidationError(
                    f"the mapping's shift for subject {subject!r} moves some of its "
                    f"dates out of {lo}..{hi}; give a new 'mapping' for these files."
                )
            continue
        pseudo = subject if is_pseudonym(subject) else new_pseudonym(taken)
        taken.add(pseudo)
        table[subject] = {
            "pseudonym": pseudo,
            "daysback": choose_daysback(days, randbelow=randbelow),
        }
    for subject in subject_ids:
        if not is_pseudonym(subject) and len(subject) >= 3 and not subject.isdigit():
            scrubber.add_known(subject, "identifier")
    if map_path is not None:
        _write_mapping(map_path, table, key, passphrase)
    pseudonyms = {s: str(table[s]["pseudonym"]) for s in subject_ids}
    rename = _renamer(pseudonyms, scrubber.terms)
    result.subjects = len(subject_ids)

    # second pass: write
    used: set[Path] = set()
    out_dir.mkdir(parents=True, exist_ok=True)
    acq_rows: list[tuple[str | None, Path, dt.datetime]] = []
    for item in items:
        assert item.report is not None
        result.files.append(item.report)
        if item.handler is None:
            continue
        owner = item.subject
        pseudo = pseudonyms.get(owner, "") if owner else ""
        shift = int(table[owner]["daysback"]) if owner else 0  # type: ignore[call-overload]
        new_rel = _unique(rename(item.rel), used)
        dst = out_dir / new_rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        item.report.output = str(new_rel)
        item.report.subject = pseudo or None
        ctx = FileContext(
            subject=owner or "",
            pseudonym=pseudo,
            daysback=shift,
            scrubber=scrubber,
            report=item.report,
            rename=_relocate(out_dir, rename, item.src, item.rel),
            allow_face=allow_face,
            extra={"subjects": table, "bids": bids, "out": out_dir},
        )
        for kind, start, end in scan_text(new_rel.as_posix()):
            text = new_rel.as_posix()[start:end]
            item.report.findings.append(FileFinding("file name", kind, text, "flagged"))
        if new_rel != item.rel:
            item.report.changes.append(
                Change("file name", "subject id replaced", new_rel.as_posix())
            )
        try:
            item.handler.write(item.src, dst, ctx)
        except Refused as exc:
            item.report.status, item.report.reason = "refused", str(exc)
            item.report.output = None
            _remove(dst, [ctx.rename(c) for c in item.companions])
            continue
        except (NeurodlError, OSError) as exc:
            item.report.status, item.report.reason = "failed", str(exc)
            item.report.output = None
            _remove(dst, [ctx.rename(c) for c in item.companions])
            continue
        content = [c for c in item.report.changes if c.field != "file name"]
        if not item.report.changes:
            item.report.status = "unchanged"
        if (not content and not item.companions) or not dst.exists():
            shutil.copyfile(item.src, dst)  # nothing inside changed: the same bytes
        for where, started in ctx.acq_times:
            acq_rows.append((pseudo or None, where, started))

    _drop_sidecars_of_refused(items, out_dir)
    _write_tables(out_dir, acq_rows, pseudonyms, ages, sexes, bids)
    if rep_path is not None:
        result.write(rep_path)
    return result


def _drop_sidecars_of_refused(items: list[_Item], out: Path) -> None:
    """Remove the JSON sidecar written for an image that was refused."""
    by_source = {i.src: i for i in items}
    for item in items:
        if item.report is None or item.report.status != "refused":
            continue
        name = item.src.name
        stem = name[: -len(".nii.gz")] if name.endswith(".nii.gz") else item.src.stem
        side = by_source.get(item.src.with_name(stem + ".json"))
        if side is None or side.report is None or side.report.output is None:
            continue
        (out / side.report.output).unlink(missing_ok=True)
        side.report.output = None
        side.report.status = "refused"
        side.report.reason = f"the sidecar of a refused image ({item.src.name})"


def _unique(rel: Path, used: set[Path]) -> Path:
    """``rel``, or ``rel`` with ``-2``, ``-3``... before its suffix if taken."""
    new, k = rel, 1
    while new in used:
        k += 1
        stem = rel.name.split(".", 1)
        tail = "." + stem[1] if len(stem) > 1 else ""
        new = rel.with_name(f"{stem[0]}-{k}{tail}")
    used.add(new)
    return new


def _relocate(
    out: Path, rename: Callable[[Path], Path], src: Path, rel: Path
) -> Callable[[Path], Path]:
    """Map a file beside ``src`` to its path in ``out`` (renamed like ``src``)."""

    def where(p: Path) -> Path:
        return out / rename(rel.parent / p.relative_to(src.parent))

    return where


def _remove(dst: Path, others: list[Path]) -> None:
    for p in [dst, *others]:
        if p.exists():
            p.unlink()


def _write_tables(
    out: Path,
    acq: list[tuple[str | None, Path, dt.datetime]],
    pseudonyms: dict[str, str],
    ages: dict[str, float],
    sexes: dict[str, str],
    bids: bool,
) -> None:
    """Shifted acquisition times to ``scans.tsv``; capped ages to participants.tsv."""
    if bids:
        by_subject: dict[str, list[dict[str, str]]] = {}
        for pseudo, where, when in acq:
            if pseudo is None:
                continue
            sub_dir = out / f"sub-{pseudo}"
            rel = where.relative_to(sub_dir) if _inside(where, sub_dir) else where
            by_subject.setdefault(pseudo, []).append(
                {"filename": rel.as_posix(), "acq_time": when.isoformat()}
            )
        for pseudo, rows in by_subject.items():
            where = out / f"sub-{pseudo}" / f"sub-{pseudo}_scans.tsv"
            _merge_tsv(where, rows, "filename")
    elif acq:
        rows = [
            {
                "filename": where.relative_to(out).as_posix(),
                "participant_id": f"sub-{pseudo}" if pseudo else "n/a",
                "acq_time": when.isoformat(),
            }
            for pseudo, where, when in acq
        ]
        _merge_tsv(out / "scans.tsv", rows, "filename")
    if not bids and (ages or sexes):
        rows = [
            {
                "participant_id": f"sub-{pseudonyms[s]}",
                "age": bids_age(ages[s]) if s in ages else "n/a",
                "sex": sexes.get(s, "n/a"),
            }
            for s in sorted(pseudonyms)
            if s in ages or s in sexes
        ]
        _merge_tsv(out / "participants.tsv", rows, "participant_id")
