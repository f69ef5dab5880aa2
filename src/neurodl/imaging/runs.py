"""fMRI runs from files: 4-D NIfTI runs, a mask, and volume labels for decoding.

What :func:`load_runs` reads (the forms ``neurodl imaging decode`` accepts):

* **Image files** (``data``): one or more 4-D NIfTI images, each a run, or one
  4-D image holding all runs back to back; all on the grid and affine of the 3-D
  ``mask`` (non-zero voxels are kept).
* **A per-volume label table** (``labels``): a text file with one row per volume
  (rows of all files, in order), ``label`` or ``label run`` separated by spaces
  or tabs, like PyMVPA's ``attributes_literal.txt``. A first row naming the
  columns (a label column called labels, label, targets, trial_type or
  condition; a run column called chunks, chunk, runs or run), like nilearn's
  Haxby ``labels.txt`` ("labels chunks"), is read as a header. One table for
  all files, or one per file. Runs come from the run column when there is one,
  otherwise one run per file.
* **BIDS events** (``events``): one ``events.tsv`` per run file (tab-separated,
  columns ``onset``, ``duration``, ``trial_type``; rows whose trial_type is
  ``n/a`` are skipped). One run per file.
* **A BIDS folder** (``data`` is a folder): the raw layout
  ``sub-*/[ses-*/]func/*_bold.nii[.gz]`` (or, given a subject's folder,
  ``[ses-*/]func/*_bold.nii[.gz]``, or the bold files in the folder itself),
  each with its ``*_events.tsv`` next to it (same name, ``_bold.nii.gz``
  replaced by ``_events.tsv``; the inheritance of events files from higher
  folders is not supported). One subject and one BIDS task at a time; the mask
  is given separately. Preprocessed derivatives (fMRIPrep) hold no events: give
  their files with ``events`` instead.

Labelling volumes from events: as in BIDS, onsets count from the start of the
acquisition of the run's first volume, so volume ``i`` starts at ``t = i * TR``
(nilearn's frame times with ``slice_time_ref=0``). A volume takes the
trial_type of the event whose interval ``[onset, onset + duration)`` holds its
``t`` (to within 1 microsecond); no haemodynamic delay is added, the same
labelling as Haxby's per-volume table (volumes labelled by the block they were
acquired in). Volumes no event covers are labelled ``"rest"``, which
``task="all"`` leaves out, as decoding of the Haxby data usually does. Two
events of different trial_type over one volume are an error, and so is an event
that ends after the run (``onset + duration`` > volumes x TR). The TR is read
from each run's NIfTI header (pixdim[4], in its time unit) unless ``tr`` is
given.
"""

from __future__ import annotations

import csv
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neurodl.errors import DataFileError, FormatError, ShapeError, ValidationError
from neurodl.imaging.mvpa import REST

__all__ = [
    "Event",
    "RunData",
    "events_to_labels",
    "find_bids_runs",
    "load_runs",
    "read_events",
    "read_label_table",
    "repetition_time",
]

LABEL_COLUMNS = ("labels", "label", "targets", "trial_type", "condition")
"""Header names of the label column of a label table."""

RUN_COLUMNS = ("chunks", "chunk", "runs", "run")
"""Header names of the run column of a label table."""

_TOL_S = 1e-6

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class Event:
    """One row of an events.tsv file (``line`` is its line number, 1-based)."""

    onset: float
    duration: float
    trial_type: str
    line: int


@dataclass
class RunData:
    """Volumes, labels and runs read by :func:`load_runs`."""

    X: np.ndarray
    """In-mask signal, float64 (n_volumes, n_voxels), runs back to back."""
    labels: np.ndarray
    """Label of each volume (str)."""
    runs: np.ndarray
    """Run of each volume (int)."""
    files: list[str]
    """The image files, in the order read."""
    run_names: dict[int, str] = field(default_factory=dict)
    """Run -> ``"3 (file)"``, for messages."""
    tr: list[float | None] = field(default_factory=list)
    """TR of each file in seconds (None where the header gives none and no
    events needed it)."""
    label_files: list[str] = field(default_factory=list)
    """The label tables or events files used."""
    labels_from: str = "labels"
    """``"labels"`` (a per-volume table) or ``"events"`` (events.tsv files)."""
    runs_from: str = "data"
    """``"data"`` (one run per file) or ``"labels"`` (the table's run column)."""


def _p(name: str, names: Mapping[str, str] | None) -> str:
    return (names or {}).get(name, name)


def read_events(path: PathLike, *, name: str = "events") -> list[Event]:
    """Read a BIDS ``events.tsv`` file: onset, duration and trial_type of each row.

    Parameters
    ----------
    path : str or path-like
        Tab-separated with a header row naming at least ``onset``, ``duration``
        and ``trial_type``; other columns are ignored, and so are rows whose
        trial_type is ``n/a`` or empty.
    name : str
        How error messages refer to the file's parameter.

    Returns
    -------
    list of Event
        In file order.

    Raises
    ------
    DataFileError
        Missing file.
    FormatError
        (A DataFileError too.) Not UTF-8 tab-separated text, missing columns, a
        row of the wrong length, a non-numeric, negative or non-finite onset or
        duration.
    """
    p = Path(path)
    if not p.is_file():
        raise DataFileError(
            f"{name!r} must be an events.tsv file; {str(p)!r} does not exist."
        )
    try:
        with p.open(newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f, delimiter="\t"))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise FormatError(
            f"{name!r} file {str(p)!r} is not a tab-separated text file: {exc}",
            path=p,
            fmt="events.tsv",
        ) from exc
    rows = [r for r in rows if any(c.strip() for c in r)]
    header = [c.strip() for c in rows[0]] if rows else []
    need = ("onset", "duration", "trial_type")
    if not all(c in header for c in need):
        raise FormatError(
            f"{name!r} file {str(p)!r} must be tab-separated with a header naming "
            f"the columns onset, duration and trial_type; its header is "
            f"{header!r}.",
            path=p,
            fmt="events.tsv",
        )
    i_on, i_du, i_tt = (header.index(c) for c in need)
    out = []
    for k, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise FormatError(
                f"{name!r} file {str(p)!r}: line {k} has {len(row)} fields, the "
                f"header {len(header)}.",
                path=p,
                fmt="events.tsv",
            )
        tt = row[i_tt].strip()
        if tt in ("", "n/a"):
            continue
        vals = []
        for col, i in (("onset", i_on), ("duration", i_du)):
            try:
                v = float(row[i])
            except ValueError:
                v = math.nan
            if not math.isfinite(v) or v < 0:
                raise FormatError(
                    f"{name!r} file {str(p)!r}: the {col} on line {k} must be a "
                    f"number of seconds >= 0; got {row[i]!r}.",
                    path=p,
                    fmt="events.tsv",
                )
            vals.append(v)
        out.append(Event(vals[0], vals[1], tt, k))
    return out


def events_to_labels(
    events: Sequence[Event],
    n_volumes: int,
    tr: float,
    *,
    source: str = "events",
    name: str = "events",
) -> np.ndarray:
    """Label each volume of a run with the trial_type of the event covering it.

    Volume ``i`` starts at ``t = i * tr``; it takes the trial_type of the event
    with ``onset <= t < onset + duration`` (to within 1 microsecond), and
    ``"rest"`` where no event covers it.

    Parameters
    ----------
    events : sequence of Event
        From :func:`read_events`.
    n_volumes : int
        Volumes in the run.
    tr : float
        Repetition time, s.
    source : str
        The events file, for messages.
    name : str
        How error messages refer to the events' parameter.

    Returns
    -------
    numpy.ndarray of str
        One label per volume.

    Raises
    ------
    ValidationError
        An event ends after the run, or two events of different trial_type cover
        one volume.
    """
    length = n_volumes * tr
    t = np.arange(n_volumes) * tr
    labels = np.full(n_volumes, REST, dtype=object)
    owner: list[Event | None] = [None] * n_volumes
    for ev in events:
        end = ev.onset + ev.duration
        if end > length + _TOL_S:
            raise ValidationError(
                f"{name!r} events must end within their run; in {source} the event "
                f"on line {ev.line} ({ev.trial_type!r}) has onset + duration = "
                f"{ev.onset:g} + {ev.duration:g} = {end:g} s, past the end of the "
                f"run at {length:g} s ({n_volumes} volumes x TR {tr:g} s)."
            )
        for i in np.flatnonzero((t >= ev.onset - _TOL_S) & (t < end - _TOL_S)):
            prev = owner[i]
            if prev is not None and prev.trial_type != ev.trial_type:
                raise ValidationError(
                    f"{name!r} events of different trial_type must not cover the "
                    f"same volume; in {source} lines {prev.line} "
                    f"({prev.trial_type!r}) and {ev.line} ({ev.trial_type!r}) both "
                    f"cover volume {i} (t = {t[i]:g} s)."
                )
            owner[i] = ev
            labels[i] = ev.trial_type
    return labels.astype(str)


def read_label_table(
    path: PathLike, *, name: str = "labels"
) -> tuple[np.ndarray, np.ndarray | None]:
    """Read a per-volume label table: ``label`` or ``label run`` per row.

    Fields are separated by tabs if the first row holds one, otherwise by
    spaces. Blank lines and lines starting with ``#`` are skipped. A first row
    naming a label column (:data:`LABEL_COLUMNS`) is a header, and then the
    columns are found by name (the run column among :data:`RUN_COLUMNS`, if
    any); without a header, column 1 is the label and column 2 (if present) the
    run.

    Parameters
    ----------
    path : str or path-like
        The table, e.g. PyMVPA's ``attributes_literal.txt``.
    name : str
        How error messages refer to the table's parameter.

    Returns
    -------
    labels : numpy.ndarray of str
        One per row.
    runs : numpy.ndarray of int or None
        The run column, None if the table has none.

    Raises
    ------
    DataFileError
        Missing file.
    FormatError
        (A DataFileError too.) Not UTF-8 text, no rows, rows of different
        lengths, a run that is not an integer.
    """
    p = Path(path)
    if not p.is_file():
        raise DataFileError(
            f"{name!r} must be a label table file; {str(p)!r} does not exist."
        )
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FormatError(
            f"{name!r} file {str(p)!r} is not UTF-8 text: {exc}",
            path=p,
            fmt="label table",
        ) from exc
    lines = [
        (k, line)
        for k, line in enumerate(text.splitlines(), 1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines:
        raise FormatError(
            f"{name!r} file {str(p)!r} holds no rows.", path=p, fmt="label table"
        )
    tab = "\t" in lines[0][1]

    def split(line: str) -> list[str]:
        return [c.strip() for c in line.split("\t")] if tab else line.split()

    first = [c.lower() for c in split(lines[0][1])]
    if any(c in LABEL_COLUMNS for c in first):
        i_lab = next(first.index(c) for c in LABEL_COLUMNS if c in first)
        i_run = next((first.index(c) for c in RUN_COLUMNS if c in first), None)
        n_fields = len(first)
        lines = lines[1:]
    else:
        n_fields = len(first)
        if n_fields > 2:
            raise FormatError(
                f"{name!r} file {str(p)!r}: rows must be 'label' or 'label run' "
                f"unless a header names the columns ({', '.join(LABEL_COLUMNS)}; "
                f"{', '.join(RUN_COLUMNS)}); line {lines[0][0]} has {n_fields} "
                "fields.",
                path=p,
                fmt="label table",
            )
        i_lab, i_run = 0, (1 if n_fields == 2 else None)
    labels, runs = [], []
    for k, line in lines:
        row = split(line)
        if len(row) != n_fields:
            raise FormatError(
                f"{name!r} file {str(p)!r}: every row must have {n_fields} fields; "
                f"line {k} has {len(row)} ({line.strip()!r}).",
                path=p,
                fmt="label table",
            )
        labels.append(row[i_lab])
        if i_run is not None:
            try:
                runs.append(int(row[i_run]))
            except ValueError:
                raise FormatError(
                    f"{name!r} file {str(p)!r}: the run column must hold integers; "
                    f"line {k} has {row[i_run]!r}.",
                    path=p,
                    fmt="label table",
                ) from None
    return np.array(labels, dtype=str), (
        np.array(runs, dtype=np.int64) if i_run is not None else None
    )


def repetition_time(img: Any) -> float | None:
    """Return the TR in seconds from a 4-D image's header (pixdim[4]), None if unset.

    The header's time unit (``sec``, ``msec``, ``usec``; ``unknown`` is read as
    seconds) is converted to seconds.
    """
    try:
        zooms = img.header.get_zooms()
        unit = img.header.get_xyzt_units()[1]
    except Exception:  # headers that are not NIfTI-like
        return None
    if len(zooms) < 4:
        return None
    tr = float(zooms[3]) * {"msec": 1e-3, "usec": 1e-6}.get(unit, 1.0)
    return tr if math.isfinite(tr) and tr > 0 else None


def _entities(path: Path) -> dict[str, str]:
    pairs = re.finditer(r"(?:^|_)([a-zA-Z0-9]+)-([a-zA-Z0-9]+)", path.name)
    return {m.group(1): m.group(2) for m in pairs}


def _natural(path: Path) -> list[Any]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(path))]


def find_bids_runs(
    folder: PathLike, *, name: str = "data"
) -> tuple[list[Path], list[Path]]:
    """Find the bold runs of a raw BIDS folder and their events files.

    Parameters
    ----------
    folder : str or path-like
        A BIDS dataset (``sub-*/[ses-*/]func/*_bold.nii[.gz]``), one subject's
        folder (``[ses-*/]func/...``) or a func folder.
    name : str
        How error messages refer to the folder's parameter.

    Returns
    -------
    bolds, events : list of pathlib.Path
        The bold files in natural order (run-2 before run-10) and the
        ``*_events.tsv`` next to each.

    Raises
    ------
    DataFileError
        No bold file, or a run without its events file.
    ValidationError
        Runs of more than one subject or BIDS task.
    """
    root = Path(folder)
    patterns = [
        f"{pre}*_bold.{ext}"
        for pre in ("sub-*/func/", "sub-*/ses-*/func/", "func/", "ses-*/func/", "")
        for ext in ("nii.gz", "nii")
    ]
    bolds = sorted({p for pat in patterns for p in root.glob(pat)}, key=_natural)
    if not bolds:
        raise DataFileError(
            f"{name!r} folder {str(root)!r} holds no BIDS runs: looked for "
            "sub-*/[ses-*/]func/*_bold.nii[.gz], [ses-*/]func/*_bold.nii[.gz] "
            "and *_bold.nii[.gz] in it."
        )
    for key, what in (("sub", "subjects"), ("task", "BIDS tasks")):
        found = sorted({_entities(b).get(key, "") for b in bolds})
        if len(found) > 1:
            raise ValidationError(
                f"{name!r} folder {str(root)!r} must hold the runs of one subject "
                f"and one task; it holds runs of several {what} "
                f"({', '.join(f'{key}-{v}' if v else '(none)' for v in found)}); "
                "pass one subject's folder, or the run files with their events."
            )
    events = []
    for b in bolds:
        stem = re.sub(r"_bold\.nii(\.gz)?$", "", b.name)
        ev = b.with_name(f"{stem}_events.tsv")
        if not ev.is_file():
            raise DataFileError(
                f"{name!r} folder {str(root)!r}: run {str(b)!r} has no events file; "
                f"expected {str(ev)!r} next to it (events inherited from higher "
                "folders are not supported)."
            )
        events.append(ev)
    return bolds, events


def _as_paths(value: Any, name: str) -> list[Path]:
    if value is None:
        return []
    items = [value] if isinstance(value, str | os.PathLike) else list(value)
    for v in items:
        if not isinstance(v, str | os.PathLike):
            raise ValidationError(
                f"{name!r} must be a path or a list of paths; got {type(v).__name__}."
            )
    return [Path(v) for v in items]


def load_runs(
    data: PathLike | Sequence[PathLike],
    mask: PathLike | None,
    *,
    labels: PathLike | Sequence[PathLike] | None = None,
    events: PathLike | Sequence[PathLike] | None = None,
    tr: float | None = None,
    names: Mapping[str, str] | None = None,
) -> RunData:
    """Read fMRI runs, mask them and label their volumes (see the module docstring).

    Parameters
    ----------
    data : path or sequence of paths
        4-D NIfTI files (one per run, or one holding all runs), or one BIDS
        folder.
    mask : path
        3-D mask image on the runs' grid and affine (required).
    labels : path or sequence of paths, optional
        A per-volume label table for all files, or one per file.
    events : path or sequence of paths, optional
        One BIDS events.tsv per file. Give exactly one of ``labels`` and
        ``events`` with files; neither with a BIDS folder.
    tr : float, optional
        Repetition time in seconds, instead of the headers'.
    names : mapping, optional
        Parameter -> how messages name it; the command line passes
        ``{"data": "--data", "mask": "--mask", ...}``.

    Returns
    -------
    RunData
        Signal, labels, runs and where they came from.
    """
    from neurodl.imaging.nifti import _check_fit, _check_mask, apply_mask, load_img

    n_data, n_mask, n_lab, n_ev, n_tr = (
        _p(k, names) for k in ("data", "mask", "labels", "events", "tr")
    )
    paths = _as_paths(data, n_data)
    label_paths = _as_paths(labels, n_lab)
    event_paths = _as_paths(events, n_ev)
    if not paths:
        raise ValidationError(f"{n_data!r} must name at least one file; got none.")
    for p in paths:
        if not p.exists():
            raise DataFileError(
                f"{n_data!r} must be 4-D NIfTI files or a BIDS folder; {str(p)!r} "
                "does not exist."
            )
    if tr is not None and not (
        isinstance(tr, int | float) and math.isfinite(tr) and tr > 0
    ):
        raise ValidationError(f"{n_tr!r} must be a positive number of s; got {tr!r}.")
    if any(p.is_dir() for p in paths):
        if len(paths) > 1:
            raise ValidationError(
                f"{n_data!r} must be one BIDS folder or image files, not both or "
                f"several folders; got {', '.join(map(str, paths))}."
            )
        if label_paths or event_paths:
            raise ValidationError(
                f"{n_lab!r} and {n_ev!r} must not be given with a BIDS folder as "
                f"{n_data!r}: its labels come from the *_events.tsv next to each "
                "run."
            )
        paths, event_paths = find_bids_runs(paths[0], name=n_data)
    elif bool(label_paths) == bool(event_paths):
        raise ValidationError(
            f"image files as {n_data!r} need their volume labels from exactly one "
            f"of {n_lab!r} (a per-volume table) and {n_ev!r} (one events.tsv per "
            f"run); got {'both' if label_paths else 'neither'}."
        )
    if mask is None:
        raise ValidationError(
            f"{n_mask!r} is required with files or a folder as {n_data!r}: give a "
            "3-D mask image on the runs' grid."
        )
    mask_img = load_img(mask, name=n_mask)
    _check_mask(mask_img, n_mask)

    imgs, blocks, trs = [], [], []
    for p in paths:
        img = load_img(p, name=n_data)
        if len(img.shape) != 4:
            raise ShapeError(
                f"{n_data!r} files must be 4-D images (x, y, z, volumes); "
                f"{str(p)!r} has shape {tuple(img.shape)}."
            )
        _check_fit(img, mask_img, n_data, n_mask)
        imgs.append(img)
        trs.append(float(tr) if tr is not None else repetition_time(img))
    n_vols = [int(img.shape[3]) for img in imgs]

    run_ids: np.ndarray
    if event_paths:
        if len(event_paths) != len(paths):
            raise ValidationError(
                f"{n_ev!r} must give one events.tsv per {n_data!r} file, in the "
                f"same order; got {len(event_paths)} for {len(paths)} files."
            )
        parts = []
        for p, ev_path, n, t in zip(paths, event_paths, n_vols, trs, strict=True):
            if t is None:
                raise DataFileError(
                    f"{n_data!r} file {str(p)!r} gives no repetition time in its "
                    f"header (pixdim[4] unset or 0), needed to place {n_ev!r} in time; "
                    f"give it with {n_tr!r}."
                )
            evs = read_events(ev_path, name=n_ev)
            parts.append(
                events_to_labels(evs, n, t, source=repr(str(ev_path)), name=n_ev)
            )
        vol_labels = np.concatenate(parts)
        run_ids = np.repeat(np.arange(len(paths)), n_vols)
        runs_from = "data"
    else:
        if len(label_paths) not in (1, len(paths)):
            raise ValidationError(
                f"{n_lab!r} must be one table for all {n_data!r} files or one per "
                f"file; got {len(label_paths)} for {len(paths)} files."
            )
        tables = [read_label_table(lp, name=n_lab) for lp in label_paths]
        want = [sum(n_vols)] if len(tables) == 1 else n_vols
        for lp, (lab, _), n in zip(label_paths, tables, want, strict=True):
            if len(lab) != n:
                of = (
                    f"{len(paths)} file(s) of {n_data!r}"
                    if len(tables) == 1
                    else f"its {n_data!r} file"
                )
                raise ShapeError(
                    f"{n_lab!r} must have one row per volume; {str(lp)!r} has "
                    f"{len(lab)} rows, the {of} {n} volumes."
                )
        with_runs = [r is not None for _, r in tables]
        if any(with_runs) and not all(with_runs):
            raise DataFileError(
                f"{n_lab!r} tables must all have a run column or none; got "
                f"{sum(with_runs)} of {len(tables)} with one."
            )
        vol_labels = np.concatenate([lab for lab, _ in tables])
        if all(with_runs):
            run_ids = np.concatenate([r for _, r in tables if r is not None])
            runs_from = "labels"
        elif len(paths) == 1:
            raise ValidationError(
                f"{n_lab!r} must have a run column ('label run' per volume) when "
                f"{n_data!r} is one file: leave-one-run-out needs the runs; "
                f"{str(label_paths[0])!r} has labels only (or give one file per run)."
            )
        else:
            run_ids = np.repeat(np.arange(len(paths)), n_vols)
            runs_from = "data"

    file_of = np.repeat(np.arange(len(paths)), n_vols)
    run_names = {}
    for r in np.unique(run_ids):
        files = sorted({str(paths[i]) for i in np.unique(file_of[run_ids == r])})
        run_names[int(r)] = f"{int(r)} ({', '.join(files)})"
    for img in imgs:
        blocks.append(apply_mask(img, mask_img, img_name=n_data, mask_name=n_mask))
    return RunData(
        X=np.concatenate(blocks, axis=0),
        labels=vol_labels,
        runs=run_ids,
        files=[str(p) for p in paths],
        run_names=run_names,
        tr=trs,
        label_files=[str(p) for p in (event_paths or label_paths)],
        labels_from="events" if event_paths else "labels",
        runs_from=runs_from,
    )
