"""One EEG recording file into MNE, hardened: checks before MNE, one error after.

:func:`read_raw` reads EDF, BDF, GDF, FIF and BrainVision files with MNE (preloaded)
and turns whatever a malformed file makes MNE raise into one
:class:`~neurodl.errors.FormatError` naming the file and the format. Before MNE
sees a file, the structure that MNE trusts is checked against the file itself, so
that a crafted file cannot make it loop or allocate what is not there:

- EDF/BDF (:func:`check_edf_size`): the header's size, signal count, samples per
  record and number of records must fit the file (MNE reads a truncated EDF
  without complaint);
- FIF (:func:`check_fif_tags`): the chain of tags must not loop back (MNE walks it
  for ever) and every tag must lie inside the file;
- BrainVision (:func:`check_brainvision_header`): ``NumberOfChannels`` must match
  the channel list (MNE sizes arrays from it first).

Files written by ``neurodl encrypt`` are read in memory with ``key=`` or
``passphrase=`` (:mod:`neurodl.privacy.plaintext`).
"""

from __future__ import annotations

import os
import re
import struct
from pathlib import Path
from typing import Any

from neurodl.errors import DataFileError, FormatError, NeurodlError
from neurodl.privacy.plaintext import plain_name, plaintext_path

__all__ = [
    "check_brainvision_header",
    "check_edf_size",
    "check_fif_tags",
    "read_raw",
]


def check_edf_size(path: str | os.PathLike[str], *, name: str | None = None) -> None:
    """Raise :class:`FormatError` if an EDF/BDF header is broken or the file is short.

    MNE reads a truncated EDF without complaint (the missing records read as
    zeros or garbage), so the size is checked here first: the header gives the
    number of data records and the samples per record of each signal, and the
    header itself must be ``256 * (1 + n_signals)`` bytes, all present. ``name``
    is how messages call the file (default: ``path``).
    """
    path = Path(path)
    shown = repr(name if name is not None else str(path))
    fmt = "BDF" if (name or path.name).lower().endswith(".bdf") else "EDF"
    width = 3 if fmt == "BDF" else 2
    size = path.stat().st_size

    def broken(what: str) -> FormatError:
        return FormatError(
            f"{shown} is not a readable {fmt} file: {what}.", path=name or path, fmt=fmt
        )

    def number(raw: bytes, field: str) -> int:
        try:
            return int(raw.decode("ascii").strip())
        except ValueError:
            raise broken(
                f"the header field {field!r} is {raw!r}, not an integer"
            ) from None

    with path.open("rb") as f:
        head = f.read(256)
        if len(head) < 256:
            raise FormatError(
                f"{shown} is truncated: {size} bytes, shorter than the "
                f"256-byte {fmt} header.",
                path=name or path,
                fmt=fmt,
            )
        header_bytes = number(head[184:192], "header bytes")
        n_records = number(head[236:244], "number of data records")
        n_signals = number(head[252:256], "number of signals")
        if n_signals < 1:
            raise broken(f"it declares {n_signals} signals")
        if header_bytes != 256 * (1 + n_signals):
            raise broken(
                f"its header size field says {header_bytes} bytes, but {n_signals} "
                f"signals need {256 * (1 + n_signals)}"
            )
        rest = f.read(256 * n_signals)
        if len(rest) < 256 * n_signals:
            raise FormatError(
                f"{shown} is truncated inside its header ({size} bytes; the header "
                f"of {n_signals} signal(s) needs {header_bytes}).",
                path=name or path,
                fmt=fmt,
            )
    offset = 216 * n_signals  # samples-per-record field of each signal
    per_record = 0
    for i in range(n_signals):
        n = number(
            rest[offset + 8 * i : offset + 8 * (i + 1)], f"samples of signal {i + 1}"
        )
        if n < 1:
            raise broken(f"signal {i + 1} declares {n} samples per record")
        per_record += n
    if n_records < 0:  # -1: unknown while recording; nothing to check
        if n_records != -1:
            raise broken(f"it declares {n_records} data records")
        return
    expected = header_bytes + n_records * per_record * width
    if size < expected:
        have = (size - header_bytes) / (per_record * width)
        raise FormatError(
            f"{shown} is truncated: {size} bytes, but its header declares "
            f"{n_records} data records ({expected} bytes); only {have:.1f} records "
            "are present.",
            path=name or path,
            fmt=fmt,
        )


def check_fif_tags(path: str | os.PathLike[str], *, name: str | None = None) -> None:
    """Raise :class:`FormatError` if a FIF file's tags loop or overrun the file.

    Every FIF tag (16-byte header: kind, type, size, next) points to the next one:
    the following bytes (``next = 0``), a position (``next > 0``) or nowhere
    (``-1``). MNE walks this chain when a file's tag directory is missing, and a
    tag pointing back to one already seen (a negative size, a backward ``next``)
    makes it loop for ever, holding a growing list; and it reads each tag's
    declared size in one piece (up to 2 GiB) before finding the file shorter. So
    the chain is walked here first, as MNE walks it, and every tag it reaches, and
    every tag the file's directory lists, must lie inside the file. Costs one
    16-byte read per tag. ``name`` is how messages call the file.
    """
    import gzip

    path = Path(path)
    shown = name if name is not None else str(path)
    opener = gzip.open if (name or path.name).lower().endswith(".gz") else open

    def broken(what: str) -> FormatError:
        return FormatError(
            f"{shown!r} is not a readable FIF file: {what}.", path=shown, fmt="FIF"
        )

    def header(f: Any, pos: int, total: int) -> tuple[int, int, int, int]:
        f.seek(pos)
        kind, type_, size, nxt = struct.unpack(">iIii", f.read(16))
        if size < 0 or pos + 16 + size > total:
            raise broken(
                f"the tag at byte {pos} declares {size} bytes of data, but the file "
                f"ends at byte {total}"
            )
        return kind, type_, size, nxt

    try:
        with opener(path, "rb") as f:
            total = f.seek(0, 2)
            seen: set[int] = set()
            pos: int | None = 0
            dirpos = -1
            while pos is not None and pos + 16 <= total:
                if pos in seen or pos < 0:
                    raise broken(
                        f"its chain of tags leads back to byte {pos} after "
                        f"{len(seen)} tags (a tag's size or next pointer is "
                        "corrupt), so a reader would loop for ever"
                    )
                seen.add(pos)
                kind, _, size, nxt = header(f, pos, total)
                if len(seen) == 2 and kind == 101 and size == 4:  # FIFF_DIR_POINTER
                    dirpos = struct.unpack(">i", f.read(4))[0]
                pos = pos + 16 + size if nxt == 0 else (nxt if nxt > 0 else None)
            if 0 < dirpos <= total - 16:
                _, _, size, _ = header(f, dirpos, total)
                entries = f.read(size)
                for i in range(0, len(entries) - 15, 16):
                    at = struct.unpack(">i", entries[i + 12 : i + 16])[0]
                    if 0 <= at <= total - 16:
                        header(f, at, total)
    except FormatError:
        raise
    except Exception as exc:  # gzip, OSError, a short read
        raise FormatError(
            f"cannot read {shown!r} as FIF: {type(exc).__name__}: {exc}",
            path=shown,
            fmt="FIF",
        ) from exc


_FORMATS = {
    ".edf": "EDF",
    ".bdf": "BDF",
    ".gdf": "GDF",
    ".fif": "FIF",
    ".vhdr": "BrainVision",
}


def _eeg_format(name: str) -> str:
    low = name.lower().removesuffix(".gz")
    return next((f for ext, f in _FORMATS.items() if low.endswith(ext)), "EEG")


def check_brainvision_header(
    path: str | os.PathLike[str], *, name: str | None = None
) -> None:
    """Raise :class:`FormatError` if a BrainVision header's channel count is broken.

    MNE sizes its per-channel arrays from ``NumberOfChannels`` before it reads
    the channel list, so a header declaring 10^8 channels costs gigabytes before
    it fails. Here the count must be a whole number >= 1 and no more than the
    ``ChN=`` entries of ``[Channel Infos]`` (one per channel, as the format wants).
    """
    path = Path(path)
    shown = name if name is not None else str(path)
    with path.open("rb") as f:
        text = f.read(1 << 22).decode("latin-1")
    section = ""
    declared: str | None = None
    entries = 0
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip().lower()
        elif "=" in line:
            k, v = (x.strip() for x in line.split("=", 1))
            if section == "common infos" and k == "NumberOfChannels":
                declared = v
            elif section == "channel infos" and re.fullmatch(r"Ch\d+", k):
                entries += 1
    try:
        n = int(declared) if declared is not None else None
    except ValueError:
        n = -1
    if n is not None and not 1 <= n <= entries:
        raise FormatError(
            f"{shown!r} is not a readable BrainVision header: NumberOfChannels is "
            f"{declared!r}, but [Channel Infos] lists {entries} channel(s).",
            path=shown,
            fmt="BrainVision",
        )


def _brainvision_siblings(vhdr: Path) -> list[str]:
    """Return the data and marker files a BrainVision header names (``DataFile=``)."""
    with vhdr.open("rb") as f:
        text = f.read(1 << 20).decode("latin-1")
    return [
        line.split("=", 1)[1].strip()
        for line in text.splitlines()
        if line.split("=", 1)[0].strip() in ("DataFile", "MarkerFile") and "=" in line
    ]


def read_raw(
    path: str | os.PathLike[str],
    *,
    key: bytes | None = None,
    passphrase: str | None = None,
) -> Any:
    """Read one EEG recording (EDF, BDF, GDF, FIF, BrainVision) into memory with MNE.

    Parameters
    ----------
    path : str or path-like
        The file (a BrainVision recording by its ``.vhdr``); or one written by
        ``neurodl encrypt``, named as the original plus ``.enc``
        (``S001R04.edf.enc``; a BrainVision header's ``.eeg`` and ``.vmrk`` are
        taken encrypted or plain from beside it).
    key, passphrase : bytes or str, optional
        For an encrypted file: the key file's 32 bytes, or the passphrase. It is
        decrypted in memory, never to disk (:mod:`neurodl.privacy.plaintext`).

    Returns
    -------
    mne.io.Raw
        Preloaded. An EDF/BDF header is checked against the file size first.

    Raises
    ------
    DataFileError
        The file does not exist.
    FormatError
        The file is malformed (a broken header, truncated, not the format its
        name says); the message names the file and the format, and the reader's
        exception is chained.
    DecryptionError
        The file is encrypted and no key, or a wrong one, was given.
    """
    import mne

    p = Path(path)
    if not p.is_file():
        raise DataFileError(f"EEG file {str(p)!r} does not exist.")
    name = plain_name(p)
    fmt = _eeg_format(name)
    if p.stat().st_size == 0:
        raise FormatError(
            f"{str(p)!r} is empty (0 bytes); it is not a {fmt} file.", path=p, fmt=fmt
        )
    siblings = _brainvision_siblings if fmt == "BrainVision" else None
    with plaintext_path(p, key=key, passphrase=passphrase, siblings=siblings) as plain:
        if fmt in ("EDF", "BDF"):
            check_edf_size(plain, name=str(p))
        elif fmt == "FIF":
            check_fif_tags(plain, name=str(p))
        elif fmt == "BrainVision":
            check_brainvision_header(plain, name=str(p))
        try:
            return mne.io.read_raw(plain, preload=True, verbose="error")
        except NeurodlError:
            raise
        except Exception as exc:  # MNE's readers raise many types on bad bytes
            raise FormatError(
                f"cannot read {str(p)!r} as {fmt}: {type(exc).__name__}: {exc}",
                path=p,
                fmt=fmt,
            ) from exc
