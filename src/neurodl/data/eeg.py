"""EEG recordings into labelled epochs, through MNE.

:func:`load_eeg` reads EDF, BDF, GDF, FIF or BrainVision files (``mne.io.read_raw``),
checks them, concatenates the runs, re-references, band-pass filters and cuts epochs
around the events, returning arrays ready for a decoder together with the run of
each trial (for grouped cross-validation). The defaults are those of MNE's CSP
motor-imagery example (eegmmidb subject 1, runs 6, 10, 14: imagined both fists vs
both feet, 7-30 Hz, 1-2 s after the cue), so ``load_eeg()`` gives exactly the data
that example classifies. Classes of eegmmidb runs are named from each run's task
(:data:`EEGMMIDB_RUNS`), never from a fixed table.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neurodl._validate import check_positive
from neurodl.data.rawfile import check_edf_size as check_edf_size
from neurodl.data.rawfile import read_raw as read_raw
from neurodl.data.registry import DATASETS, dataset_file
from neurodl.errors import DataFileError, NonFiniteError, ValidationError
from neurodl.privacy.plaintext import ENCRYPTED_SUFFIX, plain_name

__all__ = [
    "EEGMMIDB_RUNS",
    "EEG_EXTENSIONS",
    "EEGEpochs",
    "check_edf_size",
    "eegmmidb_events",
    "eegmmidb_file_events",
    "load_eeg",
    "read_raw",
]

EEG_EXTENSIONS = (".edf", ".bdf", ".gdf", ".fif", ".fif.gz", ".vhdr")
"""File types :func:`load_eeg` reads (BrainVision through its ``.vhdr`` header)."""

_FISTS = {"T1": "left_fist", "T2": "right_fist"}
_FISTS_FEET = {"T1": "both_fists", "T2": "both_feet"}
EEGMMIDB_RUNS: dict[int, tuple[str, dict[str, str]]] = {
    **{r: ("executed left fist vs right fist", _FISTS) for r in (3, 7, 11)},
    **{r: ("imagined left fist vs right fist", _FISTS) for r in (4, 8, 12)},
    **{r: ("executed both fists vs both feet", _FISTS_FEET) for r in (5, 9, 13)},
    **{r: ("imagined both fists vs both feet", _FISTS_FEET) for r in (6, 10, 14)},
}
"""eegmmidb task runs: what each one holds and the class each annotation means.

From PhysioNet's description of the dataset (and MNE's ``eegbci`` docs): in runs
3, 4, 7, 8, 11, 12 T1 cues the left fist and T2 the right fist; in runs 5, 6, 9, 10,
13, 14 T1 cues both fists and T2 both feet; 3/7/11 and 5/9/13 are executed
movements, 4/8/12 and 6/10/14 imagined ones. T0 is rest everywhere. Runs 1 and 2
are eyes-open and eyes-closed baselines with no cues.
"""

EEGMMIDB_REST = "rest"
"""Class name of T0 (rest) when it is asked for."""

_PHYSIONET_NAME = re.compile(r"S(\d{3})R(\d{2})\.edf", re.IGNORECASE)


def eegmmidb_events(runs: Sequence[int], *, rest: bool = False) -> dict[str, str]:
    """Annotation -> class name for eegmmidb ``runs``, named from the run's task.

    Runs of one contrast may be mixed (executed with imagined); runs of the two
    contrasts may not, since T1 and T2 mean different movements in each. Rest
    (T0) is a class only with ``rest=True``.

    >>> eegmmidb_events([4, 8, 12])
    {'T1': 'left_fist', 'T2': 'right_fist'}
    >>> eegmmidb_events([6], rest=True)
    {'T1': 'both_fists', 'T2': 'both_feet', 'T0': 'rest'}

    Raises
    ------
    ValidationError
        A run outside 3-14 (1 and 2 are baselines without cues), or runs of both
        contrasts.
    """
    runs = [int(r) for r in runs]
    unknown = [r for r in runs if r not in EEGMMIDB_RUNS]
    if unknown:
        raise ValidationError(
            f"'runs' must be eegmmidb task runs 3-14; got {unknown} (runs 1 and 2 "
            "are eyes-open/eyes-closed baselines with no cues, and there are 14 "
            "runs)."
        )
    kinds = {id(EEGMMIDB_RUNS[r][1]) for r in runs}
    if len(kinds) > 1:
        lr = [r for r in runs if EEGMMIDB_RUNS[r][1] is _FISTS]
        ff = [r for r in runs if EEGMMIDB_RUNS[r][1] is _FISTS_FEET]
        raise ValidationError(
            f"'runs' mixes the two eegmmidb tasks, whose T1/T2 cue different "
            f"movements: runs {lr} hold left_fist vs right_fist (runs 3, 4, 7, 8, "
            f"11, 12) and runs {ff} hold both_fists vs both_feet (runs 5, 6, 9, 10, "
            "13, 14); decode one task at a time."
        )
    events = dict(EEGMMIDB_RUNS[runs[0]][1]) if runs else {}
    if rest:
        events["T0"] = EEGMMIDB_REST
    return events


@dataclass(frozen=True)
class EEGEpochs:
    """Labelled EEG epochs.

    Attributes
    ----------
    X : ndarray, shape (n_trials, n_channels, n_times)
        Signals in volts (float64).
    y : ndarray of int, shape (n_trials,)
        Class index of each trial, into ``classes``.
    classes : tuple of str
        Class names, sorted; ``classes[y[i]]`` is trial ``i``'s class.
    groups : ndarray of int, shape (n_trials,)
        Run of each trial (for splits grouped by run).
    sfreq : float
        Sampling rate in Hz (after resampling, if any).
    ch_names : tuple of str
        Channel names, in the order of ``X``'s second axis.
    tmin, tmax : float
        Epoch window in seconds relative to the cue.
    rank : int
        Rank of the signals: one less than the channels when every EEG channel
        is kept under the average reference (a projection removes one
        dimension), else the number of channels. Known from the preprocessing,
        so a decoder can take it instead of estimating it from the data.
    info : dict
        What was done: files, band, reference, counts per class.
    """

    X: np.ndarray
    y: np.ndarray
    classes: tuple[str, ...]
    groups: np.ndarray
    sfreq: float
    ch_names: tuple[str, ...]
    tmin: float
    tmax: float
    rank: int
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def n_trials(self) -> int:
        """Number of trials."""
        return int(self.X.shape[0])

    def chance_level(self) -> float:
        """Accuracy of always guessing the most frequent class."""
        counts = np.bincount(self.y, minlength=len(self.classes))
        return float(counts.max() / counts.sum())


def _resolve_files(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    subject: int,
    runs: Sequence[int],
) -> list[Path]:
    if isinstance(source, str) and source in DATASETS:
        info = DATASETS[source]
        if info.kind != "eeg":
            raise ValidationError(
                f"'data' must name an EEG dataset; {source!r} holds {info.kind}."
            )
        bundled_subject = int(info.extra["subject"])
        if subject != bundled_subject:
            raise ValidationError(
                f"'subject' must be {bundled_subject} for the bundled {source!r} "
                f"dataset (only that subject is bundled); got {subject}. Pass a "
                "folder with your own S###R##.edf files instead."
            )
        bundled = [int(r) for r in info.extra["runs"].split()]
        missing = [r for r in runs if r not in bundled]
        if missing:
            raise ValidationError(
                f"'runs' must be among the bundled runs {bundled} of {source!r}; "
                f"got {list(runs)} ({missing} not bundled). Pass a folder with "
                "your own files instead."
            )
        return [dataset_file(source, f"S{subject:03d}R{r:02d}.edf") for r in runs]
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if path.is_dir():
            # the subject's files in the folder itself, or in its S### subfolder
            # (PhysioNet's own layout, and MNE's eegbci download)
            # (each as it is, or encrypted as NAME.enc)
            names = [f"S{subject:03d}R{r:02d}.edf" for r in runs]
            for folder in (path, path / f"S{subject:03d}"):
                files = [_plain_or_encrypted(folder / n) for n in names]
                if all(f.is_file() for f in files):
                    return files
            absent = [n for n in names if not _plain_or_encrypted(path / n).is_file()]
            raise DataFileError(
                f"'data' folder {str(path)!r} lacks the files of subject "
                f"{subject}, runs {list(runs)}: {absent} (looked in the folder and "
                f"in its S{subject:03d} subfolder)."
            )
        paths = [path]
    else:
        paths = [Path(p) for p in source]
    if not paths:
        raise ValidationError("'data' must name at least one file; got none.")
    for p in paths:
        if not p.is_file():
            raise DataFileError(
                f"'data' must be a bundled dataset, a folder or EEG files; EEG file "
                f"{str(p)!r} does not exist."
            )
        if not plain_name(p).lower().endswith(EEG_EXTENSIONS):
            raise ValidationError(
                f"EEG file {str(p)!r} must end in one of "
                f"{', '.join(EEG_EXTENSIONS)} (encrypted: the same followed by "
                f".enc); got {p.suffix!r}."
            )
    return paths


def _plain_or_encrypted(path: Path) -> Path:
    """``path`` if it exists, else ``path.enc`` if that does, else ``path``."""
    enc = path.with_name(path.name + ENCRYPTED_SUFFIX)
    return enc if not path.is_file() and enc.is_file() else path


def load_eeg(
    data: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] = "eegmmidb",
    *,
    subject: int = 1,
    runs: Sequence[int] = (6, 10, 14),
    events: Mapping[str, str] | None = None,
    rest: bool = False,
    picks: Sequence[str] | None = None,
    l_freq: float | None = 7.0,
    h_freq: float | None = 30.0,
    tmin: float = 1.0,
    tmax: float = 2.0,
    resample: float | None = None,
    reference: str | None = "average",
    filter_method: str = "fir",
    min_trials_per_class: int = 5,
    key: bytes | None = None,
    passphrase: str | None = None,
) -> EEGEpochs:
    """Read EEG runs and cut labelled epochs, as MNE's motor-imagery example does.

    Parameters
    ----------
    data : str or path or sequence of paths
        A bundled dataset name (``"eegmmidb"``), a folder of PhysioNet-named files
        (``S001R06.edf``), one file or a list of files (one per run).
    subject, runs : int, sequence of int
        Which PhysioNet files to take from a dataset or folder.
    events : mapping, optional
        Annotation description -> class name. Default for eegmmidb runs (the
        bundled dataset, or files named ``S###R##.edf``): named from the runs'
        task by :func:`eegmmidb_events` (``left_fist``/``right_fist`` for runs 3,
        4, 7, 8, 11, 12; ``both_fists``/``both_feet`` for 5, 6, 9, 10, 13, 14);
        other recordings must give it. Other annotations are ignored.
    rest : bool
        Also make rest (T0) a class, ``"rest"``, in eegmmidb runs.
    picks : sequence of str, optional
        Channel names to keep (default: every EEG channel).
    l_freq, h_freq : float or None
        Band-pass edges in Hz, applied to the continuous runs, not across their
        boundaries. None leaves that edge open.
    tmin, tmax : float
        Epoch window in seconds after the cue (inclusive).
    resample : float, optional
        New sampling rate in Hz for the epochs.
    reference : {"average", None}
        Average reference (as a projection, applied to the epochs) or none.
    filter_method : {"fir", "iir"}
        ``"fir"``: MNE's default zero-phase FIR (``firwin``), as MNE's example;
        ``"iir"``: MNE's default IIR, a 4th-order Butterworth run forward and
        backward (zero phase), as MOABB's motor-imagery paradigms filter.
    min_trials_per_class : int
        Fewest trials a class may have; fewer is an error (a decoder cannot be
        cross-validated on it).
    key, passphrase : bytes or str, optional
        For files written by ``neurodl encrypt`` (``S001R06.edf.enc``; a folder
        may hold ``S###R##.edf.enc`` files): the key file's 32 bytes
        (:func:`neurodl.privacy.read_key_file`) or the passphrase. They are
        decrypted in memory, never to disk (see :func:`read_raw`).

    Raises
    ------
    DataFileError
        A file is missing.
    FormatError
        A file is malformed: truncated, a broken header, not the format its name
        says (see :func:`read_raw`).
    DecryptionError
        A file is encrypted and no key, or a wrong one, was given.
    ValidationError
        Unknown channel names, runs with different sampling rates, an event that
        never occurs, a class with too few trials, a bad parameter.
    NonFiniteError
        The signal holds NaN or infinite samples (named by channel and time).
    """
    import mne

    if events is not None:
        events = dict(events)
        if rest:
            events.setdefault("T0", EEGMMIDB_REST)
    if tmax <= tmin:
        raise ValidationError(
            f"'tmax' must be > 'tmin'; got tmin={tmin!r}, tmax={tmax!r}."
        )
    if resample is not None:
        check_positive("resample", resample)
    if filter_method not in ("fir", "iir"):
        raise ValidationError(
            f"'filter_method' must be 'fir' or 'iir'; got {filter_method!r}."
        )
    if reference not in ("average", None):
        raise ValidationError(
            f"'reference' must be 'average' or None; got {reference!r}."
        )
    if l_freq is not None and h_freq is not None and not 0 < l_freq < h_freq:
        raise ValidationError(
            f"'l_freq' must be > 0 and < 'h_freq'; got l_freq={l_freq!r}, "
            f"h_freq={h_freq!r}."
        )
    files = _resolve_files(data, subject, runs)
    if events is None:
        events = eegmmidb_file_events(files, rest=rest)
    if len(set(events.values())) < 2:
        raise ValidationError(
            f"'events' must map annotations to at least two classes; got {events}."
        )
    raws = [read_raw(f, key=key, passphrase=passphrase) for f in files]
    rates = {float(r.info["sfreq"]) for r in raws}
    if len(rates) > 1:
        detail = ", ".join(
            f"{f.name}: {r.info['sfreq']:g} Hz"
            for f, r in zip(files, raws, strict=True)
        )
        raise ValidationError(
            f"runs must share one sampling rate to be concatenated; got {detail}. "
            "Resample them to a common rate first."
        )
    sfreq = rates.pop()
    nyquist = sfreq / 2
    if h_freq is not None and h_freq >= nyquist:
        raise ValidationError(
            f"'h_freq' must be below the Nyquist frequency {nyquist:g} Hz of "
            f"the {sfreq:g} Hz recording; got {h_freq!r}."
        )
    is_physionet = (isinstance(data, str) and data == "eegmmidb") or any(
        plain_name(f).upper().startswith("S") and plain_name(f).lower().endswith(".edf")
        for f in files
    )
    for f, raw in zip(files, raws, strict=True):
        if is_physionet:
            mne.datasets.eegbci.standardize(raw)
        _check_finite(raw, str(f))
    run_of_raw = [_run_number(f, i) for i, f in enumerate(files)]

    names = list(raws[0].ch_names)
    for f, raw in zip(files[1:], raws[1:], strict=True):
        if list(raw.ch_names) != names:
            raise ValidationError(
                f"runs must have the same channels; {f.name} differs from "
                f"{files[0].name}: {sorted(set(raw.ch_names) ^ set(names))[:10]}."
            )
    if picks is not None:
        picks = list(picks)
        unknown = [p for p in picks if p not in names]
        if unknown:
            raise ValidationError(
                f"'picks' names channels the recording does not have: {unknown}; "
                f"it has {len(names)}: {', '.join(names[:16])}"
                f"{' ...' if len(names) > 16 else ''}."
            )
        if len(set(picks)) != len(picks):
            raise ValidationError(f"'picks' repeats channel names; got {picks}.")

    classes = tuple(sorted(set(events.values())))
    found = set().union(*(r.annotations.description for r in raws))
    absent = [k for k in events if k not in found]
    if absent:
        raise ValidationError(
            f"'events' names annotations that never occur: {absent}; the "
            f"recording has {sorted(found)}."
        )
    filt = {
        "l_freq": l_freq,
        "h_freq": h_freq,
        "method": filter_method,
        "fir_design": "firwin",
        "skip_by_annotation": "edge",
        "verbose": "error",
    }
    cut = (
        _epochs_by_run(raws, events, classes, picks, tmin, tmax, filt, run_of_raw)
        if reference is None and resample is None
        else None
    )
    if cut is None:
        cut = _epochs_concatenated(
            raws,
            events,
            classes,
            picks,
            tmin,
            tmax,
            filt,
            run_of_raw,
            reference,
            resample,
        )
    X, y, groups, ch_names, (t_first, t_last), n_picked, n_eeg, ep_sfreq = cut
    counts = np.bincount(y, minlength=len(classes))
    few = {classes[i]: int(c) for i, c in enumerate(counts) if c < min_trials_per_class}
    if few:
        raise ValidationError(
            f"every class needs at least {min_trials_per_class} trials "
            f"('min_trials_per_class'); got {few} in the epochs "
            f"{tmin:g}-{tmax:g} s (trials too close to a run's edge are dropped)."
        )
    rank = n_picked - 1 if reference and n_picked == n_eeg else n_picked
    return EEGEpochs(
        X=X,
        y=y,
        classes=classes,
        groups=groups,
        sfreq=float(ep_sfreq),
        ch_names=tuple(ch_names),
        tmin=float(t_first),
        tmax=float(t_last),
        rank=rank,
        info={
            "files": [plain_name(f) for f in files],
            "band_hz": [l_freq, h_freq],
            "filter": filter_method,
            "reference": reference,
            "trials_per_class": {
                c: int(n) for c, n in zip(classes, counts, strict=True)
            },
            "events": events,
            "tasks": {
                plain_name(f): EEGMMIDB_RUNS[int(m.group(2))][0]
                for f in files
                if (m := _PHYSIONET_NAME.fullmatch(plain_name(f)))
                and int(m.group(2)) in EEGMMIDB_RUNS
            },
        },
    )


def _epochs_concatenated(
    raws: list[Any],
    events: Mapping[str, str],
    classes: tuple[str, ...],
    picks: Sequence[str] | None,
    tmin: float,
    tmax: float,
    filt: dict[str, Any],
    run_of_raw: list[int],
    reference: str | None,
    resample: float | None,
) -> tuple[Any, ...]:
    """Cut epochs MNE's way: the runs concatenated, ``mne.Epochs``.

    The run boundaries are marked so the filter stops at them; the average
    reference is a projection applied to the epochs.
    """
    import mne

    starts = np.cumsum([0] + [r.n_times for r in raws[:-1]])  # before concatenating
    raw = mne.concatenate_raws(raws, verbose="error")  # (extends raws[0] in place)
    raw.annotations.rename(dict(events), verbose="error")
    if reference == "average":
        raw.set_eeg_reference(projection=True, verbose="error")
    if filt["l_freq"] is not None or filt["h_freq"] is not None:
        raw.filter(**filt)
    pick_idx = _pick_idx(raw, picks)
    epochs = mne.Epochs(
        raw,
        event_id=list(classes),
        tmin=tmin,
        tmax=tmax,
        proj=True,
        picks=pick_idx,
        baseline=None,
        preload=True,
        verbose="error",
    )
    if resample is not None:
        epochs.resample(resample, verbose="error")
    code_to_class = {code: name for name, code in epochs.event_id.items()}
    y = np.array(
        [classes.index(code_to_class[c]) for c in epochs.events[:, 2]], dtype=np.int64
    )
    run_index = (
        np.searchsorted(starts + raw.first_samp, epochs.events[:, 0], side="right") - 1
    )
    groups = np.asarray(run_of_raw, dtype=np.int64)[run_index]
    X = epochs.get_data(copy=True).astype(np.float64, copy=False)
    n_eeg = len(mne.pick_types(raw.info, eeg=True, exclude=[]))
    times = (float(epochs.tmin), float(epochs.tmax))
    sfreq = epochs.info["sfreq"]
    return X, y, groups, epochs.ch_names, times, len(pick_idx), n_eeg, sfreq


def _epochs_by_run(
    raws: list[Any],
    events: Mapping[str, str],
    classes: tuple[str, ...],
    picks: Sequence[str] | None,
    tmin: float,
    tmax: float,
    filt: dict[str, Any],
    run_of_raw: list[int],
) -> tuple[Any, ...] | None:
    """Cut the same epochs as :func:`_epochs_concatenated`, run by run.

    With no projection and no resampling, ``mne.Epochs`` on the concatenated runs
    only slices each run's filtered samples: the filter already runs run by run
    (it stops at the boundaries), an event's sample is MNE's
    ``events_from_annotations`` on its run, and an epoch that would cross a
    boundary or an edge is dropped (MNE drops it for the boundary annotation).
    Returns None (take the MNE way) when a run has ``bad``/``edge`` annotations
    or two events on one sample, whose handling is MNE's to decide.
    """
    import mne

    sfreq = raws[0].info["sfreq"]
    i0, i1 = round(tmin * sfreq), round(tmax * sfreq)
    code = {name: k + 1 for k, name in enumerate(classes)}
    run_events = []
    for raw in raws:  # decide before changing anything
        desc = {str(d) for d in raw.annotations.description}
        if any(d.lower().startswith(("bad", "edge")) for d in desc):
            return None
        present = {d: code[c] for d, c in events.items() if d in desc}
        ev = _annotation_events(raw, present)
        if np.unique(ev[:, 0]).size != len(ev):
            return None
        run_events.append(ev)
    pick_idx = _pick_idx(raws[0], picks)
    X_parts, y_parts, g_parts = [], [], []
    for raw, ev, run in zip(raws, run_events, run_of_raw, strict=True):
        data = raw._data[pick_idx]
        if filt["l_freq"] is not None or filt["h_freq"] is not None:
            # Raw.filter's call, on the rows kept (each row is filtered alone)
            mne.filter.filter_data(
                data,
                sfreq,
                filt["l_freq"],
                filt["h_freq"],
                method=filt["method"],
                copy=False,
                fir_design=filt["fir_design"],
                pad="reflect_limited",
                verbose="error",
            )
        samples = ev[:, 0] - raw.first_samp
        keep = (samples + i0 >= 0) & (samples + i1 < raw.n_times)
        window = samples[keep, None] + np.arange(i0, i1 + 1)
        X_parts.append(data[:, window].transpose(1, 0, 2))
        y_parts.append(ev[keep, 2] - 1)
        g_parts.append(np.full(int(keep.sum()), run, dtype=np.int64))
    n_eeg = len(mne.pick_types(raws[0].info, eeg=True, exclude=[]))
    n_ch, n_t = len(pick_idx), i1 - i0 + 1
    X = np.concatenate(X_parts) if X_parts else np.empty((0, n_ch, n_t))
    y = np.concatenate(y_parts).astype(np.int64) if y_parts else np.empty(0, np.int64)
    groups = np.concatenate(g_parts) if g_parts else np.empty(0, np.int64)
    names = [raws[0].ch_names[i] for i in pick_idx]
    times = (i0 / sfreq, i1 / sfreq)
    return X, y, groups, names, times, len(pick_idx), n_eeg, sfreq


def _annotation_events(raw: Any, event_id: dict[str, int]) -> np.ndarray:
    """``mne.events_from_annotations(raw, event_id)``'s events.

    When the run starts at sample 0 and its annotations share its clock (an EDF
    file), MNE's sample is ``round(onset * sfreq)``; computed here directly,
    that spares MNE's ``raw.times`` (a Numba compilation on first use).
    """
    import mne

    if not event_id:
        return np.empty((0, 3), dtype=int)
    ann = raw.annotations
    if raw.first_samp != 0 or ann.orig_time != raw.info["meas_date"]:
        ev, _ = mne.events_from_annotations(raw, event_id=event_id, verbose="error")
        return np.asarray(ev)
    sel = np.array([d in event_id for d in ann.description], dtype=bool)
    onsets = np.atleast_1d(np.asarray(ann.onset)[sel]) + 0.0
    samples = np.round(onsets * raw.info["sfreq"]).astype(int)
    codes = [event_id[d] for d in np.asarray(ann.description)[sel]]
    return np.c_[samples, np.zeros(len(samples)), codes].astype(int)


def _pick_idx(raw: Any, picks: Sequence[str] | None) -> Any:
    import mne

    if picks is None:
        return mne.pick_types(raw.info, eeg=True, exclude="bads")
    return mne.pick_channels(raw.ch_names, list(picks), ordered=True)


def eegmmidb_file_events(
    files: Sequence[str | os.PathLike[str]], *, rest: bool = False, name: str = "events"
) -> dict[str, str]:
    """Annotation -> class name of eegmmidb files, from the run in each file name.

    ``S001R04.edf`` is run 4 (see :func:`eegmmidb_events`). A file not named
    that way has no known classes: the error asks for ``name`` (the parameter
    that gives them) instead of guessing.

    >>> eegmmidb_file_events(["S002R06.edf", "data/S002R10.edf"])
    {'T1': 'both_fists', 'T2': 'both_feet'}
    """
    names = [plain_name(f) for f in files]
    matches = [_PHYSIONET_NAME.fullmatch(n) for n in names]
    if not all(matches):
        other = [n for n, m in zip(names, matches, strict=True) if not m]
        raise ValidationError(
            f"{name!r} must be given (annotation -> class name, e.g. "
            "{'T1': 'left_hand', 'T2': 'right_hand'}) for recordings that are not "
            f"eegmmidb runs named S###R##.edf; got {other}. Class names are only "
            "known for eegmmidb, where each run's task names them."
        )
    return eegmmidb_events([int(m.group(2)) for m in matches if m], rest=rest)


def _run_number(path: Path, index: int) -> int:
    stem = plain_name(path).split(".")[0].upper()
    if "R" in stem:
        tail = stem.rsplit("R", 1)[1]
        if tail.isdigit():
            return int(tail)
    return index + 1


def _check_finite(raw: Any, source: str) -> None:
    data = raw._data if raw.preload else raw.get_data()  # preloaded: no copy
    if np.isfinite(data.sum()):  # a NaN or infinity makes the sum non-finite
        return
    bad = ~np.isfinite(data)
    if bad.any():
        ch, t = np.nonzero(bad)
        first_ch = raw.ch_names[int(ch[0])]
        t0 = float(t.min()) / raw.info["sfreq"]
        t1 = float(t.max()) / raw.info["sfreq"]
        names = sorted({raw.ch_names[int(c)] for c in ch})
        raise NonFiniteError(
            f"EEG recording {source} holds {int(bad.sum())} NaN or "
            f"infinite samples in {len(names)} channel(s) (first {first_ch!r}) "
            f"between {t0:.3f} s and {t1:.3f} s; mark or repair that segment first."
        )
