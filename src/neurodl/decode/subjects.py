"""Many subjects' EEG under one protocol: tasks, protocols, loading and checksums.

A *task* names the runs of each subject and the classes they hold; a *protocol*
fixes how every subject's recording becomes epochs (band, filter, window,
reference, units) and how a score is computed. Two protocols are built in:

- ``"mne"`` (neurodl's default): MNE's CSP motor-imagery example, 7-30 Hz FIR,
  average reference, epochs 1-2 s after the cue, accuracy, within-subject folds
  ``ShuffleSplit(10, test_size=0.2, random_state=42)``. Subject S001's both fists
  vs both feet scores 0.9333 with CSP+LDA, as in MNE's example.
- ``"moabb"``: MOABB's ``LeftRightImagery`` / ``MotorImagery`` paradigms for
  PhysioNet eegmmidb (``PhysionetMI``): 8-32 Hz IIR (4th-order Butterworth,
  forward-backward) on each run, no re-reference, epochs 0-3 s after the cue
  (481 samples at 160 Hz), microvolts (x 1e6), ROC-AUC, within-subject folds
  ``StratifiedKFold(5, shuffle=True, random_state=seed)`` with the fold scores
  averaged (MOABB's ``WithinSessionEvaluation``).

Tasks of eegmmidb (PhysioNet's description of the runs, see
:data:`neurodl.data.eeg.EEGMMIDB_RUNS`):

- ``"left-right"``: imagined left fist (T1) vs right fist (T2), runs 4, 8, 12;
- ``"hands-feet"``: imagined both fists (T1) vs both feet (T2), runs 6, 10, 14.

MOABB's only two-class table for this dataset is left vs right hand; its "right
hand vs feet" contrast takes its classes from different runs, so it is not the
``hands-feet`` task here (both classes of which come from the same runs).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neurodl.data.eeg import EEGMMIDB_RUNS, EEGEpochs, eegmmidb_events
from neurodl.data.registry import sha256
from neurodl.errors import DataFileError, NeurodlError, ValidationError

__all__ = [
    "PROTOCOLS",
    "TASKS",
    "Protocol",
    "SubjectData",
    "Task",
    "load_subject",
    "parse_subjects",
    "subject_folders",
]


@dataclass(frozen=True)
class Task:
    """Runs of each subject and the classes their cues name."""

    name: str
    runs: tuple[int, ...]
    description: str

    @property
    def events(self) -> dict[str, str]:
        """Annotation -> class name, from the runs' task."""
        return eegmmidb_events(self.runs)


_TASK_RUNS = {
    "left-right": ((4, 8, 12), (3, 4, 7, 8, 11, 12)),
    "hands-feet": ((6, 10, 14), (5, 6, 9, 10, 13, 14)),
}
TASKS: dict[str, Task] = {
    "left-right": Task(
        "left-right", (4, 8, 12), "imagined left fist vs right fist (runs 4, 8, 12)"
    ),
    "hands-feet": Task(
        "hands-feet",
        (6, 10, 14),
        "imagined both fists vs both feet (runs 6, 10, 14)",
    ),
}
"""The eegmmidb two-class motor-imagery tasks."""


def make_task(
    name: str,
    runs: Sequence[int] | None = None,
    *,
    option: str = "task",
    runs_option: str = "runs",
) -> Task:
    """Return task ``name``, optionally on other runs of the same kind.

    ``runs`` may swap in the executed runs (3, 7, 11 or 5, 9, 13) or a subset;
    a run of the other contrast, a baseline or an unknown run is an error naming
    ``runs_option``.
    """
    if name not in TASKS:
        raise ValidationError(
            f"{option!r} must be one of {', '.join(map(repr, TASKS))}; got {name!r}."
        )
    if runs is None:
        return TASKS[name]
    runs_t = tuple(int(r) for r in runs)
    allowed = _TASK_RUNS[name][1]
    wrong = [r for r in runs_t if r not in allowed]
    if wrong or not runs_t:
        kinds = {
            r: EEGMMIDB_RUNS[r][0] if r in EEGMMIDB_RUNS else "not a task run"
            for r in wrong
        }
        raise ValidationError(
            f"{runs_option!r} must be runs of the {name!r} task ({list(allowed)}); "
            f"got {list(runs_t)}"
            + (
                f": {', '.join(f'run {r} is {k}' for r, k in kinds.items())}"
                if wrong
                else ""
            )
            + "."
        )
    if len(set(runs_t)) != len(runs_t):
        raise ValidationError(f"{runs_option!r} repeats a run; got {list(runs_t)}.")
    what = " + ".join(sorted({EEGMMIDB_RUNS[r][0] for r in runs_t}))
    return Task(name, runs_t, f"{what} (runs {', '.join(map(str, runs_t))})")


@dataclass(frozen=True)
class Protocol:
    """How recordings become epochs, and how decoders are scored on them."""

    name: str
    l_freq: float
    h_freq: float
    filter_method: str
    tmin: float
    tmax: float
    reference: str | None
    scale: float
    metric: str
    within_cv: str
    unit: str
    source: str

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the fields."""
        return asdict(self)


PROTOCOLS: dict[str, Protocol] = {
    "mne": Protocol(
        name="mne",
        l_freq=7.0,
        h_freq=30.0,
        filter_method="fir",
        tmin=1.0,
        tmax=2.0,
        reference="average",
        scale=1.0,
        metric="accuracy",
        within_cv="ShuffleSplit(n_splits=10, test_size=0.2, random_state=42)",
        unit="V",
        source="MNE example 'Motor imagery decoding from EEG data using the "
        "Common Spatial Pattern (CSP)'",
    ),
    "moabb": Protocol(
        name="moabb",
        l_freq=8.0,
        h_freq=32.0,
        filter_method="iir",
        tmin=0.0,
        tmax=3.0,
        reference=None,
        scale=1e6,
        metric="roc_auc",
        within_cv="StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)",
        unit="uV",
        source="MOABB 1.7.2 LeftRightImagery/MotorImagery on PhysionetMI, "
        "WithinSessionEvaluation",
    ),
}
"""Built-in protocols by name."""


@dataclass
class SubjectData:
    """One subject's epochs for one task under one protocol, with their provenance."""

    subject: int
    X: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    classes: tuple[str, ...]
    ch_names: tuple[str, ...]
    sfreq: float
    rank: int
    checksum: str
    files: dict[str, str] = field(default_factory=dict)

    @property
    def n_trials(self) -> int:
        """Number of trials."""
        return int(self.X.shape[0])

    def trials_per_class(self) -> dict[str, int]:
        """Trials of each class, by class name."""
        counts = np.bincount(self.y, minlength=len(self.classes))
        return {c: int(n) for c, n in zip(self.classes, counts, strict=True)}


_RANGE = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$")


def parse_subjects(text: str | Sequence[Any], *, option: str = "subjects") -> list[int]:
    """Parse ``"1-8"``, ``"1,3,5"``, ``"1-3,7"`` or ints into sorted subjects."""
    items: list[Any]
    if isinstance(text, str):
        items = [p for chunk in text.split(",") for p in chunk.split()]
    else:
        items = list(text)
    out: list[int] = []
    for item in items:
        if isinstance(item, str) and (m := _RANGE.match(item)):
            lo, hi = int(m.group(1)), int(m.group(2))
            if hi < lo:
                raise ValidationError(
                    f"{option!r} range must run upwards; got {item!r}."
                )
            out.extend(range(lo, hi + 1))
            continue
        try:
            value = int(str(item).strip()) if isinstance(item, str) else item
        except ValueError:
            value = None
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise ValidationError(
                f"{option!r} must be subject numbers such as '1-8' or '1,3,5'; "
                f"got {text!r}."
            )
        out.append(int(value))
    bad = [s for s in out if s < 1]
    if bad or not out:
        raise ValidationError(
            f"{option!r} must be subject numbers >= 1 (S001 is 1); got {text!r}."
        )
    dup = sorted({s for s in out if out.count(s) > 1})
    if dup:
        raise ValidationError(f"{option!r} repeats subjects {dup}; got {text!r}.")
    return sorted(out)


def subject_folders(data: str | os.PathLike[str], *, option: str = "data") -> list[int]:
    """Subjects a folder holds (its ``S###`` subfolders), sorted."""
    root = Path(data)
    if not root.is_dir():
        raise DataFileError(
            f"{option!r} must be a folder of S### subject folders (PhysioNet's "
            f"layout); {str(root)!r} is not a folder."
        )
    found = sorted(
        int(p.name[1:])
        for p in root.iterdir()
        if p.is_dir() and re.fullmatch(r"S\d{3}", p.name)
    )
    return found


def _run_file(root: Path, subject: int, run: int) -> Path:
    """Return the subject's run file, from its ``S###`` subfolder or the folder."""
    name = f"S{subject:03d}R{run:02d}.edf"
    for folder in (root / f"S{subject:03d}", root):
        if (folder / name).is_file():
            return folder / name
    raise DataFileError(
        f"'data' folder {str(root)!r} lacks subject {subject}'s run {run} "
        f"({name}, looked in S{subject:03d}/ and the folder itself)."
    )


def file_checksums(
    data: str | os.PathLike[str], subject: int, runs: Sequence[int]
) -> dict[str, str]:
    """SHA-256 of the subject's run files (``S###R##.edf``), by file name."""
    paths = [_run_file(Path(data), subject, r) for r in runs]
    return {p.name: sha256(p) for p in paths}


def file_header(
    data: str | os.PathLike[str], subject: int, runs: Sequence[int]
) -> tuple[float, int]:
    """Return the sampling rate and EEG channels of the first run (its header)."""
    import mne

    path = _run_file(Path(data), subject, runs[0])
    raw = mne.io.read_raw_edf(path, preload=False, verbose="error")
    return float(raw.info["sfreq"]), len(mne.pick_types(raw.info, eeg=True))


def data_checksum(
    files: dict[str, str], task: Task, protocol: Protocol, min_trials: int
) -> str:
    """One hex digest of the files' SHA-256s, the task's runs and the protocol."""
    text = repr((sorted(files.items()), task.runs, protocol.to_dict(), int(min_trials)))
    return hashlib.sha256(text.encode()).hexdigest()


Loader = Callable[[int], EEGEpochs]
"""A user's loader: subject number -> :class:`~neurodl.data.eeg.EEGEpochs`."""


def load_subject(
    data: str | os.PathLike[str] | Loader,
    subject: int,
    task: Task,
    protocol: Protocol,
    *,
    min_trials_per_class: int = 5,
    files: dict[str, str] | None = None,
) -> SubjectData:
    """Load one subject's epochs for ``task`` under ``protocol``.

    ``data`` is a folder of ``S###`` subject folders (eegmmidb's layout) or a
    callable returning :class:`~neurodl.data.eeg.EEGEpochs` for a subject number
    (any MNE-readable dataset); a callable's epochs are used as they come
    (``protocol``'s scale still applies) and their checksum is that of the arrays.

    ``files`` (a folder's run files -> SHA-256, :func:`file_checksums`) spares
    hashing them again when the caller has already. Errors name the subject.
    """
    from neurodl.data.eeg import load_eeg

    try:
        if callable(data):
            ep = data(subject)
            if not isinstance(ep, EEGEpochs):
                raise ValidationError(
                    f"'data' loader must return EEGEpochs for subject {subject}; "
                    f"got {type(ep).__name__}."
                )
            files = {}
        else:
            if files is None:
                files = file_checksums(data, subject, task.runs)
            ep = load_eeg(
                data,
                subject=subject,
                runs=task.runs,
                events=task.events,
                l_freq=protocol.l_freq,
                h_freq=protocol.h_freq,
                filter_method=protocol.filter_method,
                tmin=protocol.tmin,
                tmax=protocol.tmax,
                reference=protocol.reference,
                min_trials_per_class=min_trials_per_class,
            )
    except NeurodlError as exc:
        msg = str(exc.args[0]) if exc.args else str(exc)
        raise type(exc)(f"subject {subject} (S{subject:03d}): {msg}") from None
    X = ep.X * protocol.scale if protocol.scale != 1.0 else ep.X
    if files:
        checksum = data_checksum(files, task, protocol, min_trials_per_class)
    else:
        h = hashlib.sha256()
        for arr in (X, ep.y, ep.groups):
            h.update(np.ascontiguousarray(arr).tobytes())
        h.update(repr((ep.classes, ep.ch_names, ep.sfreq)).encode())
        checksum = h.hexdigest()
    return SubjectData(
        subject=int(subject),
        X=np.ascontiguousarray(X, dtype=np.float64),
        y=ep.y,
        groups=ep.groups,
        classes=ep.classes,
        ch_names=ep.ch_names,
        sfreq=ep.sfreq,
        rank=ep.rank,
        checksum=checksum,
        files=files,
    )
