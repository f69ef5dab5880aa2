"""What every format's de-identifier shares: the policy, the context, the report.

A format handler (:class:`Handler`) reads a file's identity fields in a first pass
(:meth:`Handler.inspect`: dates, identifiers, a subject id, an age) and rewrites the
file in a second (:meth:`Handler.write`), through a :class:`FileContext` that knows the
subject's pseudonym and date shift, scrubs free text, and records every change in the
file's :class:`FileReport`.

Policy (one for all formats, see ``PRIVACY.md``'s notes in the README):

* **Dates** move back by one whole number of days per subject (``daysback``), drawn
  from a CSPRNG so that every date of the subject lands in 1902-01-01..1925-12-31:
  BIDS marks shifted dates by a year ≤ 1925, FIF cannot hold dates before 1902.
  Intervals between a subject's recordings are kept to the second. A subject whose
  dates are all in that window already (the output of an earlier run) is not moved
  again, so running twice changes nothing more.
* **Ages** are whole years; 89 and over becomes ``"89+"`` (BIDS) or ``"P89Y"``
  (ISO 8601, NWB), which also meets HIPAA's "90 or older". A date of birth is never
  written.
* **Subject ids** become random pseudonyms (``anon`` + 6 characters); the mapping is
  kept by the user, apart from the output.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from neurodl._atomic import atomic_path
from neurodl.errors import ValidationError
from neurodl.privacy.scan import TextScrubber

__all__ = [
    "AGE_CAP",
    "SHIFT_WINDOW",
    "Change",
    "DeidReport",
    "FileContext",
    "FileFinding",
    "FileReport",
    "Handler",
    "Inspection",
    "Refused",
    "age_in_years",
    "bids_age",
    "choose_daysback",
    "is_pseudonym",
    "iso_age",
    "new_pseudonym",
]

#: Where shifted dates land: BIDS wants year <= 1925, FIF cannot go before ~1902.
SHIFT_WINDOW = (dt.date(1902, 1, 1), dt.date(1925, 12, 31))
#: Ages of this many years and more are written as one group.
AGE_CAP = 89
_PSEUDONYM_CHARS = "abcdefghjkmnpqrstuvwxyz23456789"
_PSEUDONYM = re.compile(r"anon[a-hj-km-np-z2-9]{6}")


def new_pseudonym(taken: Iterable[str] = ()) -> str:
    """Draw a fresh random pseudonym such as ``anonk3m9qz`` (letters and digits).

    >>> is_pseudonym(new_pseudonym())
    True
    """
    taken = set(taken)
    while True:
        name = "anon" + "".join(secrets.choice(_PSEUDONYM_CHARS) for _ in range(6))
        if name not in taken:
            return name


def is_pseudonym(subject: str) -> bool:
    """Tell whether ``subject`` is a pseudonym neurodl made (kept as it is)."""
    return _PSEUDONYM.fullmatch(subject) is not None


def age_in_years(birth: dt.date, on: dt.date) -> int:
    """Completed years between ``birth`` and ``on``.

    >>> age_in_years(dt.date(1931, 5, 17), dt.date(2024, 5, 16))
    92
    """
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def bids_age(years: float) -> str:
    """Age for ``participants.tsv``: whole years, ``"89+"`` from 89 on.

    >>> bids_age(92), bids_age(35.7)
    ('89+', '35')
    """
    if years < 0:
        raise ValidationError(f"an age must be >= 0 years; got {years!r}.")
    return f"{AGE_CAP}+" if years >= AGE_CAP else str(int(years))


def iso_age(years: float) -> str:
    """Age as an ISO 8601 duration (NWB ``Subject.age``), capped at ``P89Y``.

    >>> iso_age(92), iso_age(35.7)
    ('P89Y', 'P35Y')
    """
    if years < 0:
        raise ValidationError(f"an age must be >= 0 years; got {years!r}.")
    return f"P{min(int(years), AGE_CAP)}Y"


def choose_daysback(
    dates: Iterable[dt.date | dt.datetime], *, randbelow: Callable[[int], int] | None
) -> int:
    """Days to move a subject's dates back so that all of them land in the window.

    ``dates`` are every date found in the subject's files. If all are inside
    :data:`SHIFT_WINDOW` already, the subject was shifted before: 0. With no dates,
    the shift moves 2020 into the window. ``randbelow`` is :func:`secrets.randbelow`
    unless a test passes a seeded one.

    Raises
    ------
    ValidationError
        If the subject's dates span more than the window (about 24 years).
    """
    draw = randbelow or secrets.randbelow
    days = sorted(d.date() if isinstance(d, dt.datetime) else d for d in dates)
    lo_win, hi_win = SHIFT_WINDOW
    if days and lo_win <= days[0] and days[-1] <= hi_win:
        return 0
    first, last = (days[0], days[-1]) if days else (dt.date(2020, 1, 1),) * 2
    low = max((last - hi_win).days, 1)  # smallest shift that brings the last in
    high = (first - lo_win).days  # largest shift that keeps the first date in
    if low > high:
        raise ValidationError(
            f"a subject's dates span {first} to {last}, more than the "
            f"{lo_win}..{hi_win} window that shifted dates must land in; split the "
            "subject's recordings or give them separate subject ids."
        )
    return low + draw(high - low + 1)


@dataclass(frozen=True)
class Change:
    """One field changed in one file: what it is now (never what it was)."""

    field: str
    action: str
    new: str | None = None


@dataclass(frozen=True)
class FileFinding:
    """Something in a file's free text that the scanner caught."""

    field: str
    kind: str
    text: str
    action: str


@dataclass
class FileReport:
    """What de-identification did to one file."""

    source: str
    output: str | None
    format: str
    subject: str | None
    status: str = "written"
    reason: str | None = None
    changes: list[Change] = field(default_factory=list)
    findings: list[FileFinding] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as a JSON-ready dict."""
        return asdict(self)


@dataclass
class DeidReport:
    """Every file's report, and the run's summary."""

    files: list[FileReport] = field(default_factory=list)
    subjects: int = 0

    @property
    def changes(self) -> int:
        """Number of fields changed over all files."""
        return sum(len(f.changes) for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as a JSON-ready dict, with a summary."""
        by_status: dict[str, int] = {}
        for f in self.files:
            by_status[f.status] = by_status.get(f.status, 0) + 1
        return {
            "neurodl_deid_report": 1,
            "summary": {
                "files": len(self.files),
                "subjects": self.subjects,
                "fields_changed": self.changes,
                "findings": sum(len(f.findings) for f in self.files),
                "by_status": by_status,
            },
            "files": [f.to_dict() for f in self.files],
        }

    def to_table(self) -> str:
        """Format the report as a readable plain-text table, one block per file."""
        lines = [
            f"neurodl deid: {len(self.files)} files, {self.subjects} subjects, "
            f"{self.changes} fields changed",
            "",
        ]
        for f in self.files:
            head = f"{f.source} -> {f.output or '(not written)'}"
            head += f"  [{f.format}, {f.status}"
            head += f": {f.reason}]" if f.reason else "]"
            lines.append(head)
            width = max((len(c.field) for c in f.changes), default=0)
            width = max([width, *(len(x.field) for x in f.findings)])
            for c in f.changes:
                new = "" if c.new is None else f" -> {c.new!r}"
                lines.append(f"  {c.field:<{width}}  {c.action}{new}")
            for x in f.findings:
                lines.append(f"  {x.field:<{width}}  {x.action} {x.kind}: {x.text!r}")
            if not f.changes and not f.findings:
                lines.append("  (nothing changed)")
            lines.append("")
        return "\n".join(lines)

    def write(self, path: str | Path) -> tuple[Path, Path]:
        """Write the JSON report to ``path`` and the table beside it (``.txt``)."""
        path = Path(path)
        table = path.with_suffix(".txt")
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            Path(tmp).write_text(json.dumps(self.to_dict(), indent=1) + "\n")
        with atomic_path(table) as tmp:
            Path(tmp).write_text(self.to_table())
        return path, table


@dataclass
class Inspection:
    """What the first pass read from a file's identity fields.

    ``dates``: every date or datetime the file holds (recording start, file
    creation...), real ones only (not a format's "anonymised" placeholder).
    ``known``: identifiers to remove from all free text, as (value, kind) with kind
    ``"name"`` for people. ``subject``: the subject id the file names, if any.
    ``age``: the subject's age in years at recording, if the file tells.
    """

    dates: list[dt.date | dt.datetime] = field(default_factory=list)
    known: list[tuple[str, str]] = field(default_factory=list)
    subject: str | None = None
    age: float | None = None
    sex: str | None = None
    #: False for a dataset-level file (participants.tsv, dataset_description.json)
    per_subject: bool = True
    #: dates of other subjects, by subject id (a dataset-level table's rows)
    subject_dates: dict[str, list[dt.date | dt.datetime]] = field(default_factory=dict)


class Refused(ValidationError):
    """A handler will not export a file as it is (an anatomical image with a face)."""


@dataclass
class FileContext:
    """One file's view of the run: its subject's pseudonym and shift, the scrubber."""

    subject: str
    pseudonym: str
    daysback: int
    scrubber: TextScrubber
    report: FileReport
    rename: Callable[[Path], Path]
    allow_face: bool = False
    #: (output path, shifted start) of recordings, for the scans table
    acq_times: list[tuple[Path, dt.datetime]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def shift(self, when: dt.datetime) -> dt.datetime:
        """Move a date or datetime back by the subject's shift."""
        return when - dt.timedelta(days=self.daysback)

    def shift_date(self, when: dt.date) -> dt.date:
        """Move a date back by the subject's shift."""
        return when - dt.timedelta(days=self.daysback)

    def change(self, name: str, action: str, new: object = None) -> None:
        """Record that field ``name`` changed (``action``: blanked, shifted...)."""
        value = None if new is None else str(new)
        self.report.changes.append(Change(name, action, value))

    def scrub(self, name: str, text: str) -> str:
        """Scrub the free text of field ``name``; record findings and any change."""
        result = self.scrubber.scrub(text)
        for f in result.findings:
            self.report.findings.append(FileFinding(name, f.kind, f.text, f.action))
        if result.text != text:
            self.change(name, "scrubbed", result.text)
        return result.text


class Handler(ABC):
    """De-identifies one file format; subclasses register in ``_formats.HANDLERS``."""

    #: the format's name in reports ("EDF", "NIfTI"...)
    fmt: ClassVar[str]
    #: lower-case file name endings it reads (".edf", ".nii.gz"...)
    suffixes: ClassVar[tuple[str, ...]]

    def claims(self, path: Path) -> bool:
        """Tell whether this handler reads ``path``."""
        name = path.name.lower()
        return any(name.endswith(s) for s in self.suffixes)

    def companions(self, path: Path) -> list[Path]:
        """Other files that belong to ``path`` and are written with it."""
        return []

    @abstractmethod
    def inspect(self, path: Path) -> Inspection:
        """First pass: read the identity fields (never modifies the file)."""

    @abstractmethod
    def write(self, src: Path, dst: Path, ctx: FileContext) -> None:
        """Second pass: write the de-identified copy of ``src`` to ``dst``.

        Write atomically (``neurodl._atomic.atomic_path``), record every changed
        field with ``ctx.change`` and scrub free text with ``ctx.scrub``. Never change
        a signal, an image's data or an event's timing.
        """
