"""BrainVision recordings: the ``.vhdr`` header, ``.vmrk`` markers and ``.eeg`` data.

The three files travel together (the header is the handler's file; the marker and
data files it names are its companions, renamed like it). Identity sits in the
marker file's ``New Segment`` date (``YYYYMMDDhhmmssuuuuuu``), the marker
descriptions, the header's ``[Comment]`` block that BrainVision Recorder fills with
the amplifier setup (serial numbers such as ``Module 1 (5010) SN: ...``), the time
impedances were measured (``Impedance [kOhm] at hh:mm:ss :``, in some files with
``recording started at ...``), and the file names in ``DataFile=`` and
``MarkerFile=``.

What is written:

* ``.vmrk``: every ``New Segment`` date moved back by the subject's shift (time of
  day kept); marker descriptions through the free-text scrubber (event codes such as
  ``S  1`` kept); marker types scrubbed as labels; positions, sizes and channels
  unchanged; ``DataFile=`` names the renamed data file.
* ``.vhdr``: ``DataFile=`` and ``MarkerFile=`` name the renamed companions. In
  ``[Comment]``, lines that carry a serial number or "recording started" are
  dropped; the impedance table's heading keeps the unit and gets the (shifted)
  recording start's time of day in place of the measurement time, as mne-bids does,
  so MNE still reads the impedance values, which are kept. The recorder's tables
  (titles, rules, ``#`` headings, numbered rows: MNE reads the filter settings from
  them) are scrubbed as labels (the run's known identifiers and dates, e-mail
  addresses, phone, record and serial numbers redacted, word pairs left alone); in
  ``key: value`` lines the value, and any other line, goes through the free-text
  scrubber. Outside ``[Comment]``, lines (channels, coordinates, ``;`` notes) are
  scrubbed as labels.
* ``.eeg``: copied byte for byte.

Files are decoded with their declared ``Codepage`` (UTF-8 by default, ``ANSI`` =
cp1252, Latin-1 when that fails) and written back in the same encoding with the same
line endings; a file with nothing to change is copied unchanged.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from neurodl._atomic import atomic_path
from neurodl.errors import FormatError
from neurodl.privacy.deid._core import FileContext, Handler, Inspection
from neurodl.privacy.deid._labels import scrub_label

__all__ = ["BrainVisionHandler"]

_FMT = "BrainVision"
_SECTION = re.compile(r"^\s*\[([^\]]+)\]\s*$")
_KEY = re.compile(r"^(\s*(DataFile|MarkerFile)\s*=\s*)(.*?)(\s*)$", re.IGNORECASE)
_MARKER = re.compile(r"^(Mk\d+)=(.*)$")
_SEGMENT_DATE = re.compile(r"\d{20}")
_IMPEDANCE = re.compile(r"^\s*Impedance\s*\[([^\]]*)\]", re.IGNORECASE)
_DROP = re.compile(r"(?i)\b(S/N|SN|serial)\b|recording started")
_SERIAL = re.compile(
    r"(?i)\b(?:S/N|SN|serial(?:\s+(?:no\.?|number))?)\s*[:#=]?\s*(\S+)"
)
_DATE_FORMAT = "%Y%m%d%H%M%S%f"
# [Comment] lines that are the recorder's table layout: blank, rules (=== / ---),
# spaced titles ("A m p l i f i e r  S e t u p"), "Channels", "#" headings, numbered
# rows, single words ("Disabled")
_STRUCTURE = re.compile(
    r"\s*|[=\-_ ]+|(\S ){2,}.*|Channels|#.*|\s*\d+\s.*|\s*[A-Za-z]+\s*"
)
_KEY_VALUE = re.compile(r"([^:]{1,80}):(.*)")


@dataclass
class _Text:
    """A decoded text file: its lines (with endings) and how to encode it back."""

    raw: bytes
    lines: list[str]
    encoding: str

    @classmethod
    def read(cls, path: Path, what: str) -> _Text:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise FormatError(
                f"cannot read the BrainVision {what} {str(path)!r}: {exc}",
                path=path,
                fmt=_FMT,
            ) from exc
        head = raw[:4096].decode("ascii", "ignore")
        m = re.search(r"(?im)^\s*Codepage\s*=\s*(\S+)", head)
        encoding = (m.group(1) if m else "utf-8").lower()
        encoding = {"ansi": "cp1252", "utf8": "utf-8"}.get(encoding, encoding)
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            encoding, text = "latin-1", raw.decode("latin-1")
        return cls(raw, text.splitlines(keepends=True), encoding)

    def encode(self, lines: list[str]) -> bytes:
        return "".join(lines).encode(self.encoding, errors="replace")


def _split(line: str) -> tuple[str, str]:
    """Split a line into its text and its ending."""
    body = line.rstrip("\r\n")
    return body, line[len(body) :]


def _sections(lines: list[str]) -> list[str | None]:
    """Name the section each line is in (None before the first)."""
    out: list[str | None] = []
    section: str | None = None
    for line in lines:
        m = _SECTION.match(line)
        if m:
            section = m.group(1).strip().lower()
        out.append(section)
    return out


def _named(text: _Text, key: str) -> str | None:
    for line, section in zip(text.lines, _sections(text.lines), strict=True):
        m = _KEY.match(line.rstrip("\r\n"))
        if m and section == "common infos" and m.group(2).lower() == key.lower():
            return m.group(3)
    return None


def _check_header(text: _Text, path: Path) -> None:
    first = text.lines[0] if text.lines else ""
    if "brain" not in first.lower() or "header" not in first.lower():
        raise FormatError(
            f"{str(path)!r} is not a BrainVision header: its first line is "
            f"{first.strip()[:60]!r}.",
            path=path,
            fmt=_FMT,
        )


def _companion(vhdr: Path, name: str | None, key: str) -> Path | None:
    if not name:
        return None
    where = (vhdr.parent / name.strip().replace("\\", "/")).resolve()
    if where.parent != vhdr.parent.resolve():
        raise FormatError(
            f"{str(vhdr)!r}: {key}={name!r} is outside the header's folder; "
            "BrainVision files are de-identified as a triplet in one folder.",
            path=vhdr,
            fmt=_FMT,
        )
    return vhdr.parent / where.name


def _date(parts: list[str]) -> dt.datetime | None:
    """Parse a New Segment marker's date (None: none, zero or invalid)."""
    if len(parts) < 6 or not _SEGMENT_DATE.fullmatch(parts[5].strip()):
        return None
    try:
        return dt.datetime.strptime(parts[5].strip(), _DATE_FORMAT)
    except ValueError:  # all zeros ("no date") or not a calendar date
        return None


def _segment_dates(vmrk: _Text) -> list[dt.datetime]:
    """Return the date of every dated New Segment marker, in file order."""
    out = []
    for line in vmrk.lines:
        m = _MARKER.match(line.rstrip("\r\n"))
        if m:
            parts = m.group(2).split(",")
            when = _date(parts) if parts[0].strip().lower() == "new segment" else None
            if when is not None:
                out.append(when)
    return out


class BrainVisionHandler(Handler):
    """BrainVision ``.vhdr`` headers with their ``.vmrk`` and ``.eeg`` files."""

    fmt = _FMT
    suffixes = (".vhdr",)

    def _files(self, path: Path) -> tuple[_Text, Path, Path | None]:
        text = _Text.read(path, "header")
        _check_header(text, path)
        data = _companion(path, _named(text, "DataFile"), "DataFile")
        if data is None or not data.is_file():
            raise FormatError(
                f"{str(path)!r}: its data file ({_named(text, 'DataFile')!r}) is "
                "missing.",
                path=path,
                fmt=_FMT,
            )
        marker = _companion(path, _named(text, "MarkerFile"), "MarkerFile")
        if marker is not None and not marker.is_file():
            marker = None
        return text, data, marker

    def companions(self, path: Path) -> list[Path]:
        """Return the data and marker files the header names (those that exist)."""
        try:
            _, data, marker = self._files(path)
        except FormatError:
            return []
        return [p for p in (data, marker) if p is not None]

    def inspect(self, path: Path) -> Inspection:
        """Read the New Segment dates and the serial numbers in the comments."""
        text, _, marker = self._files(path)
        found = Inspection()
        if marker is not None:
            found.dates += _segment_dates(_Text.read(marker, "marker"))
        for line, section in zip(text.lines, _sections(text.lines), strict=True):
            if section == "comment":
                for m in _SERIAL.finditer(line):
                    value = m.group(1).strip("()[],;")
                    if len(value) >= 3:
                        found.known.append((value, "identifier"))
        return found

    def write(self, src: Path, dst: Path, ctx: FileContext) -> None:
        """Shift the marker dates, clean the header, scrub markers, copy the data."""
        text, data, marker = self._files(src)
        start: dt.datetime | None = None
        if marker is not None:
            dated = _segment_dates(_Text.read(marker, "marker"))
            if dated:
                start = ctx.shift(dated[0])
                ctx.acq_times.append((dst, start))
        names = {"datafile": ctx.rename(data).name}
        if marker is not None:
            names["markerfile"] = ctx.rename(marker).name
        else:
            named = _named(text, "MarkerFile")
            if named:
                names["markerfile"] = ctx.rename(src.parent / named.strip()).name
        header = self._header(text, names, start, ctx)
        _write(dst, text, header)
        if marker is not None:
            vmrk = _Text.read(marker, "marker")
            _write(ctx.rename(marker), vmrk, self._markers(vmrk, names, ctx))
        with atomic_path(ctx.rename(data)) as tmp:
            shutil.copyfile(data, tmp)  # the samples, byte for byte

    @staticmethod
    def _header(
        text: _Text, names: dict[str, str], start: dt.datetime | None, ctx: FileContext
    ) -> list[str]:
        out: list[str] = []
        sections = _sections(text.lines)
        for n, (line, section) in enumerate(zip(text.lines, sections, strict=True), 1):
            body, end = _split(line)
            where = f"vhdr line {n}"
            key = _KEY.match(body)
            if key and section == "common infos":
                new = names.get(key.group(2).lower(), key.group(3))
                if new != key.group(3):
                    ctx.change(f"vhdr {key.group(2)}", "renamed", new)
                out.append(key.group(1) + new + key.group(4) + end)
                continue
            if section == "comment" and not _SECTION.match(body):
                imp = _IMPEDANCE.match(body)
                if imp:
                    when = "" if start is None else f" at {start:%H:%M:%S}"
                    new = f"Impedance [{imp.group(1)}]{when} :"
                    if new != body:
                        ctx.change(f"{where} (impedance heading)", "time replaced", new)
                    out.append(new + end)
                    continue
                if _DROP.search(body):
                    ctx.change(f"{where} ([Comment])", "removed")
                    continue
                out.append(_comment(ctx, where, body) + end)
                continue
            out.append(scrub_label(ctx, where, body) + end)
        return out

    @staticmethod
    def _markers(vmrk: _Text, names: dict[str, str], ctx: FileContext) -> list[str]:
        out: list[str] = []
        sections = _sections(vmrk.lines)
        for n, (line, section) in enumerate(zip(vmrk.lines, sections, strict=True), 1):
            body, end = _split(line)
            key = _KEY.match(body)
            if key and section == "common infos" and key.group(2).lower() == "datafile":
                new = names["datafile"]
                if new != key.group(3):
                    ctx.change("vmrk DataFile", "renamed", new)
                out.append(key.group(1) + new + key.group(4) + end)
                continue
            m = _MARKER.match(body)
            if not m or section != "marker infos":
                out.append(scrub_label(ctx, f"vmrk line {n}", body) + end)
                continue
            mk, parts = m.group(1), m.group(2).split(",")
            kind = parts[0].replace(r"\1", ",")
            where = f"marker {mk} ({kind})"
            new_kind = scrub_label(ctx, f"{where} type", kind)
            parts[0] = new_kind.replace(",", r"\1")
            if len(parts) > 1:
                desc = parts[1].replace(r"\1", ",")
                parts[1] = ctx.scrub(f"{where} description", desc).replace(",", r"\1")
            when = _date(parts) if kind.strip().lower() == "new segment" else None
            if when is not None and ctx.daysback:
                parts[5] = ctx.shift(when).strftime(_DATE_FORMAT)
                ctx.change(f"{where} date", "shifted", parts[5])
            out.append(f"{mk}=" + ",".join(parts) + end)
        return out


def _comment(ctx: FileContext, where: str, body: str) -> str:
    """Scrub one ``[Comment]`` line: tables as labels, anything else as free text.

    The recorder's tables (titles, rules, ``#`` headings, numbered rows) are scrubbed
    as labels, so MNE still parses the filter settings from them. In ``key: value``
    lines the key is a label and the value free text; other lines are free text.
    """
    if _STRUCTURE.fullmatch(body):
        return scrub_label(ctx, where, body)
    m = _KEY_VALUE.fullmatch(body)
    if m:
        key = scrub_label(ctx, f"{where} key", m.group(1))
        value = m.group(2)
        if value.strip():
            value = ctx.scrub(where, value)
        return f"{key}:{value}"
    return ctx.scrub(where, body)


def _write(dst: Path, text: _Text, lines: list[str]) -> None:
    data = text.raw if lines == text.lines else text.encode(lines)
    with atomic_path(dst) as tmp:
        tmp.write_bytes(data)
