"""Spike counts with behaviour: load binned recordings for decoding.

:func:`load_spikes` reads spike counts and a behavioural target (hand velocity,
position, ...) from MATLAB ``.mat`` files (including v7.3/HDF5 files), NumPy
``.npz`` archives and NWB files, or from a bundled dataset by name, and returns a
:class:`SpikeData` whose arrays have the **time axis first**.

Files disagree on orientation (``spikes`` may be stored units x bins or bins x
units). The time axis is found by matching lengths between the spike array and the
target array; when that is ambiguous the loader refuses rather than guesses.

Examples
--------
>>> from neurodl.data.spikes import load_spikes
>>> data = load_spikes("spikes_m1", target_dims=(0, 1))
>>> data.counts.shape, data.target.shape, data.bin_s
((15536, 171), (15536, 2), 0.05)
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neurodl.data.formats import read_mat, read_nwb
from neurodl.data.registry import DATASETS, dataset_file
from neurodl.errors import (
    DataFileError,
    FormatError,
    NonFiniteError,
    ShapeError,
    ValidationError,
)
from neurodl.privacy.plaintext import plain_name, plaintext_path

__all__ = ["SUFFIXES", "SpikeData", "load_spikes"]

SUFFIXES = (".mat", ".npz", ".nwb")
"""File suffixes :func:`load_spikes` reads."""

_DEFAULT_SPIKES_KEY = "spikes"
_DEFAULT_TARGET_KEY = "handVel"
_TIME_RESOLUTION_DIGITS = 9  # bin widths read from a time vector: rounded to 1 ns


@dataclass(frozen=True, eq=False)
class SpikeData:
    """Binned spike counts and the behaviour to decode, time axis first.

    Attributes
    ----------
    counts : numpy.ndarray
        Spike counts, float64, shape ``(n_bins, n_units)``.
    target : numpy.ndarray
        Behavioural target, float64, shape ``(n_bins, n_dims)``.
    bin_s : float
        Bin width in seconds.
    time : numpy.ndarray or None
        Time of each bin in seconds, shape ``(n_bins,)``: the file's time vector
        (averaged over each group after re-binning), the bin centres for NWB, or
        None when the file has no time vector.
    unit_names : tuple of str
        One name per unit (column of ``counts``).
    target_names : tuple of str
        One name per target column, such as ``"handVel[0]"``.
    source : str
        The file read.
    file_format : str
        ``"mat"``, ``"mat-v7.3"``, ``"npz"`` or ``"nwb"``.
    dataset : str or None
        Name of the bundled dataset, when loaded by name.
    """

    counts: np.ndarray
    target: np.ndarray
    bin_s: float
    time: np.ndarray | None = None
    unit_names: tuple[str, ...] = field(default=())
    target_names: tuple[str, ...] = field(default=())
    source: str = ""
    file_format: str = ""
    dataset: str | None = None

    @property
    def n_bins(self) -> int:
        """Number of time bins."""
        return int(self.counts.shape[0])

    @property
    def n_units(self) -> int:
        """Number of units (neurons or channels)."""
        return int(self.counts.shape[1])

    @property
    def n_dims(self) -> int:
        """Number of target columns."""
        return int(self.target.shape[1])

    @property
    def duration_s(self) -> float:
        """Recording length covered by the bins, in seconds."""
        return self.n_bins * self.bin_s

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly summary (sizes, rates, names; no arrays).

        Returns
        -------
        dict
            Keys ``source``, ``file_format``, ``dataset``, ``n_bins``, ``n_units``,
            ``n_dims``, ``bin_s``, ``duration_s``, ``total_spikes``,
            ``mean_rate_hz`` (mean over units), ``target_names``, ``target_mean``
            and ``target_std`` (per column).
        """
        duration = self.duration_s
        total = float(self.counts.sum())
        rate = total / self.n_units / duration if self.n_units and duration else 0.0
        return {
            "source": self.source,
            "file_format": self.file_format,
            "dataset": self.dataset,
            "n_bins": self.n_bins,
            "n_units": self.n_units,
            "n_dims": self.n_dims,
            "bin_s": self.bin_s,
            "duration_s": duration,
            "total_spikes": total,
            "mean_rate_hz": rate,
            "target_names": list(self.target_names),
            "target_mean": [float(v) for v in self.target.mean(axis=0)]
            if self.n_bins
            else [],
            "target_std": [float(v) for v in self.target.std(axis=0)]
            if self.n_bins
            else [],
        }


# --------------------------------------------------------------------------- helpers


def _resolve(
    path: str | os.PathLike[str],
    spikes_key: str | None,
    target_key: str | Sequence[str] | None,
    bin_s: float | None,
) -> tuple[Path, str | None, str, str | Sequence[str], float | None]:
    """Turn a dataset name or path into a path and the keys/bin width to use."""
    dataset: str | None = None
    if isinstance(path, str) and path in DATASETS and not Path(path).exists():
        info = DATASETS[path]
        if info.kind != "spikes":
            spike_sets = [n for n, d in DATASETS.items() if d.kind == "spikes"]
            raise ValidationError(
                f"'path' names bundled dataset {path!r} of kind {info.kind!r}, but "
                f"load_spikes reads datasets of kind 'spikes' "
                f"({', '.join(map(repr, spike_sets))}) or a file path; got {path!r}."
            )
        dataset = path
        filename = next(f for f in info.files if Path(f).suffix in SUFFIXES)
        resolved = dataset_file(path, filename)
        spikes_key = (
            spikes_key if spikes_key is not None else info.extra.get("spikes_key")
        )
        target_key = (
            target_key if target_key is not None else info.extra.get("target_key")
        )
        if bin_s is None and "bin_s" in info.extra:
            bin_s = float(info.extra["bin_s"])
    else:
        resolved = Path(path)
    return (
        resolved,
        dataset,
        spikes_key if spikes_key is not None else _DEFAULT_SPIKES_KEY,
        target_key if target_key is not None else _DEFAULT_TARGET_KEY,
        bin_s,
    )


def _read_arrays(
    path: Path,
    keys: Mapping[str, str],
    optional: str | None = None,
    secret: Mapping[str, Any] | None = None,
) -> tuple[dict[str, np.ndarray], str]:
    """Read the named arrays from a .mat (v5 or v7.3) or .npz file.

    ``keys`` maps each array's name to the parameter that gave it (for messages).
    Key ``optional`` (one of ``keys``) is read only when the file has it. A .mat
    file is read in a sandboxed process (:func:`neurodl.data.formats.read_mat`);
    ``secret`` holds ``key``/``passphrase`` for an encrypted file.
    """
    secret = dict(secret or {})
    if plain_name(path).lower().endswith(".npz"):
        with plaintext_path(path, **secret) as plain:
            return _read_npz(plain, path, keys, optional), "npz"
    mat = read_mat(path, names=list(keys), **secret)
    available = sorted(set(mat.arrays) | set(mat.other))
    found = _check_keys(path, keys, available, optional)
    for k in found:
        if k in mat.other:
            raise ValidationError(
                f"key {k!r} in {path} must be a numeric array; got a MATLAB "
                f"{mat.other[k]}."
            )
    return {k: mat.arrays[k] for k in found}, mat.version


def _read_npz(
    plain: Path, path: Path, keys: Mapping[str, str], optional: str | None
) -> dict[str, np.ndarray]:
    """Read an .npz archive (no pickle); a broken archive is a FormatError."""
    try:
        # open the file here: np.load leaks its handle when the archive is bad
        with plain.open("rb") as fh, np.load(fh, allow_pickle=False) as f:
            available = sorted(f.files)
            found = _check_keys(path, keys, available, optional)
            return {k: np.asarray(f[k]) for k in found}
    except ValidationError:
        raise
    except Exception as err:  # zipfile and numpy raise many types; name the file
        raise FormatError(
            f"cannot read {path} as a .npz file ({type(err).__name__}: {err}); "
            "the file may be truncated, damaged or in another format.",
            path=path,
            fmt="npz",
        ) from err


def _check_keys(
    path: Path, keys: Mapping[str, str], available: list[str], optional: str | None
) -> list[str]:
    """Return the keys to read; raise naming the parameter and the file's keys."""
    for k, param in keys.items():
        if k not in available and k != optional:
            raise ValidationError(
                f"{param!r} must name an array in {path}; got {k!r}, but the file "
                f"has {', '.join(map(repr, available)) or 'no arrays'}."
            )
    return [k for k in keys if k in available]


def _numeric(name: str, a: np.ndarray, path: Path) -> np.ndarray:
    if a.dtype == object or not (
        np.issubdtype(a.dtype, np.number) or np.issubdtype(a.dtype, np.bool_)
    ):
        raise ValidationError(
            f"{name} in {path} must be a numeric array; got dtype {a.dtype}."
        )
    if np.iscomplexobj(a):
        raise ValidationError(f"{name} in {path} must be real; got dtype {a.dtype}.")
    return a.astype(np.float64)


def _time_axes(
    spikes_shape: tuple[int, ...], target_shape: tuple[int, ...], names: str
) -> tuple[int, int]:
    """Return (spike time axis, target time axis) matched by length, or raise."""
    pairs = [
        (i, j)
        for i, ns in enumerate(spikes_shape)
        for j, nt in enumerate(target_shape)
        if ns == nt
    ]
    if len(pairs) == 1:
        return pairs[0]
    why = (
        "no axis of one has the length of an axis of the other"
        if not pairs
        else "more than one pair of axes has equal lengths "
        f"({', '.join(f'spikes axis {i} / target axis {j}' for i, j in pairs)})"
    )
    raise ShapeError(
        f"cannot tell the time axis: {names} have shapes {tuple(spikes_shape)} and "
        f"{tuple(target_shape)}, and {why}; the time axis must be the one axis of "
        "equal length in both. Transpose the arrays in the file or pass arrays "
        "whose time length is unambiguous."
    )


def _segments(rows: np.ndarray, limit: int = 5) -> str:
    """Describe sorted unique row indices as ranges: 'bins 3-7, 12 and 2 more'."""
    rows = np.unique(rows)
    if rows.size == 0:
        return "none"
    breaks = np.flatnonzero(np.diff(rows) > 1)
    starts = np.r_[rows[0], rows[breaks + 1]]
    ends = np.r_[rows[breaks], rows[-1]]
    parts = [
        f"{a}" if a == b else f"{a}-{b}" for a, b in zip(starts, ends, strict=True)
    ]
    more = f" and {len(parts) - limit} more segment(s)" if len(parts) > limit else ""
    return "bins " + ", ".join(parts[:limit]) + more


def _check_finite(name: str, a: np.ndarray, path: Path) -> None:
    bad = ~np.isfinite(a)
    if bad.any():
        n_nan = int(np.isnan(a).sum())
        n_inf = int(bad.sum()) - n_nan
        rows = np.flatnonzero(bad.any(axis=1))
        cols = np.flatnonzero(bad.any(axis=0))
        raise NonFiniteError(
            f"{name} in {path} must be finite; got {n_nan} NaN and {n_inf} infinite "
            f"value(s) in {rows.size} of {a.shape[0]} time bin(s) ({_segments(rows)}) "
            f"and {cols.size} of {a.shape[1]} column(s) (first column {cols[0]}). "
            "Remove or interpolate these segments before decoding."
        )


def _bin_from_time(time: np.ndarray, path: Path, key: str) -> float:
    if time.size < 2:
        raise ValidationError(
            f"time vector {key!r} in {path} must have at least 2 entries to give the "
            f"bin width; got {time.size}."
        )
    d = np.diff(time)
    if not np.all(np.isfinite(time)) or np.any(d <= 0):
        bad = np.flatnonzero(~(d > 0))
        where = f"first at bin {int(bad[0])}" if bad.size else "non-finite entries"
        raise ValidationError(
            f"time vector {key!r} in {path} must be finite and strictly increasing; "
            f"got {bad.size} non-increasing step(s) ({where})."
        )
    med = float(np.median(d))
    gaps = np.flatnonzero(np.abs(d - med) > 0.5 * med)
    if gaps.size:
        raise ValidationError(
            f"time vector {key!r} in {path} must be evenly spaced (bins of "
            f"{med:g} s); got {gaps.size} step(s) differing from it by more than "
            f"50% ({_segments(gaps)}): the recording has gaps, which would join "
            "unrelated bins in history windows. Split the recording at the gaps."
        )
    return round(med, _TIME_RESOLUTION_DIGITS)


def _rebin(
    counts: np.ndarray,
    target: np.ndarray,
    time: np.ndarray | None,
    bin_s: float,
    rebin_s: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, float]:
    if (
        isinstance(rebin_s, bool)
        or not isinstance(rebin_s, int | float)
        or not math.isfinite(rebin_s)
        or rebin_s <= 0
    ):
        raise ValidationError(f"'rebin_s' must be a number > 0; got {rebin_s!r}.")
    ratio = rebin_s / bin_s
    k = round(ratio)
    if k < 1 or abs(ratio - k) > 1e-6 * max(1.0, ratio):
        raise ValidationError(
            f"'rebin_s' must be an integer multiple of the bin width {bin_s:g} s; "
            f"got {rebin_s!r} ({ratio:.4g} bins)."
        )
    n = counts.shape[0] // k
    if n == 0:
        raise ValidationError(
            f"'rebin_s' must be at most the recording length "
            f"({counts.shape[0]} bins of {bin_s:g} s); got {rebin_s!r}."
        )
    # whole groups only: a trailing partial group is dropped
    c = counts[: n * k].reshape(n, k, -1).sum(axis=1)
    t = target[: n * k].reshape(n, k, -1).mean(axis=1)
    tt = None if time is None else time[: n * k].reshape(n, k).mean(axis=1)
    return c, t, tt, k * bin_s


def _check_bin(name: str, value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValidationError(
            f"{name!r} must be a number > 0 (seconds); got {value!r}."
        )
    return float(value)


# ------------------------------------------------------------------------ NWB reader


def _read_nwb(
    path: Path,
    target_keys: list[str],
    bin_s: float | None,
    secret: Mapping[str, Any] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[str, ...], tuple[str, ...]]:
    if bin_s is None:
        raise ValidationError(
            f"'bin_s' must be given for NWB files (spike times are binned at bin_s "
            f"seconds); got None for {path}."
        )
    nwb = read_nwb(path, series=target_keys, **dict(secret or {}))
    if not nwb.unit_ids:
        raise ValidationError(
            f"{path} must have a units table with spike times (nwbfile.units); "
            "got none."
        )
    spike_times = list(nwb.spike_times)
    ids = list(nwb.unit_ids)
    targets = []
    for key in target_keys:
        if key not in nwb.series:
            have = sorted(nwb.series_counts)
            n = nwb.series_counts.get(key, 0)
            what = "no" if not n else f"{n}"
            raise ValidationError(
                f"'target_key' must name exactly one TimeSeries in {path}; "
                f"got {key!r}, which matches {what} TimeSeries. The file has "
                f"TimeSeries {', '.join(map(repr, have)) or '(none)'}."
            )
        stamps, data = nwb.series[key]
        data = data.reshape(
            data.shape[0] if data.ndim else 1, int(np.prod(data.shape[1:]))
        )
        targets.append((key, stamps, data))

    for key, stamps, data in targets:
        if stamps.size != data.shape[0] or stamps.size < 2:
            raise ShapeError(
                f"TimeSeries {key!r} in {path} must have one timestamp per sample and "
                f"at least 2 samples; got {stamps.size} timestamps for data of shape "
                f"{data.shape}."
            )
        if not np.all(np.diff(stamps) > 0):
            raise ValidationError(
                f"timestamps of TimeSeries {key!r} in {path} must be strictly "
                "increasing; got a non-increasing step."
            )
        _check_finite(f"TimeSeries {key!r}", data, path)
    t0 = max(float(s[0]) for _, s, _ in targets)
    t1 = min(float(s[-1]) for _, s, _ in targets)
    n_bins = math.floor((t1 - t0) / bin_s + 1e-9)
    if n_bins < 1:
        raise ValidationError(
            f"'bin_s' must be at most the span of the target's timestamps in {path} "
            f"({t1 - t0:g} s); got {bin_s!r}."
        )
    centres = t0 + (np.arange(n_bins) + 0.5) * bin_s
    counts = np.zeros((n_bins, len(spike_times)))
    for u, st in enumerate(spike_times):
        # bin b holds spikes with t0 + b*bin_s <= t < t0 + (b+1)*bin_s; a spike on an
        # edge (to within 1e-9 bins) counts in the later bin
        idx = np.floor((st - t0) / bin_s + 1e-9).astype(np.int64)
        idx = idx[(idx >= 0) & (idx < n_bins)]
        counts[:, u] = np.bincount(idx, minlength=n_bins)
    cols = []
    names: list[str] = []
    for key, stamps, data in targets:
        for c in range(data.shape[1]):
            cols.append(np.interp(centres, stamps, data[:, c]))
            names.append(f"{key}[{c}]")
    target = np.stack(cols, axis=1)
    return counts, target, centres, tuple(ids), tuple(names)


# ---------------------------------------------------------------------------- public


def load_spikes(
    path: str | os.PathLike[str],
    *,
    spikes_key: str | None = None,
    target_key: str | Sequence[str] | None = None,
    time_key: str | None = "time",
    bin_s: float | None = None,
    rebin_s: float | None = None,
    target_dims: Sequence[int] | None = None,
    names: Mapping[str, str] | None = None,
    key: bytes | None = None,
    passphrase: str | None = None,
) -> SpikeData:
    """Load binned spike counts and a behavioural target, time axis first.

    Parameters
    ----------
    path : str or path-like
        A ``.mat`` (MATLAB v5 or v7.3), ``.npz`` or ``.nwb`` file, or the name of a
        bundled dataset of kind ``"spikes"`` (such as ``"spikes_m1"``, see
        :data:`neurodl.data.registry.DATASETS`).
    spikes_key : str or None
        Name of the spike-count array (``.mat``/``.npz``). None: the dataset's
        default when loading by name, else ``"spikes"``. NWB files always use the
        units table (``nwbfile.units``).
    target_key : str, sequence of str, or None
        Name(s) of the target array(s); several are joined column-wise (for
        example ``("handPos", "handVel")``). For NWB, the name of a TimeSeries
        anywhere in acquisition or processing. None: the dataset's default when
        loading by name, else ``"handVel"``.
    time_key : str or None
        Name of the optional time vector (``.mat``/``.npz``); when present, the
        bin width is its median step (rounded to 1 ns). None: ignore any.
    bin_s : float or None
        Bin width in seconds when the file has no time vector; required for NWB,
        where spike times are binned at this width. If the file has a time vector
        too, the two must agree to within 1%.
    rebin_s : float or None
        Re-bin to this width: an integer multiple ``k`` of the bin width. Counts are
        summed and the target averaged over each group of ``k`` bins; a trailing
        partial group is dropped.
    target_dims : sequence of int or None
        Target columns to keep (after joining several targets), for example
        ``(0, 1)`` for x and y of the M1 hand velocity, whose third row (z) is
        constant zero. None: keep all.
    names : mapping of str to str, optional
        How to name ``spikes_key`` and ``target_key`` in error messages, for a
        caller that passes its own parameter on as one of them (``{"target_key":
        "position_key"}``).
    key, passphrase : bytes or str, optional
        For a file written by ``neurodl encrypt`` (``x.mat.enc``, ``x.nwb.enc``:
        the name without ``.enc`` gives the format): the key file's 32 bytes
        (:func:`neurodl.privacy.read_key_file`) or the passphrase. It is decrypted
        in memory, never to disk (:mod:`neurodl.privacy.plaintext`).

    Returns
    -------
    SpikeData
        ``counts`` (n_bins, n_units) and ``target`` (n_bins, n_dims), float64.

    Raises
    ------
    neurodl.errors.DataFileError
        If the file does not exist; the message names the file.
    neurodl.errors.FormatError
        If the file cannot be read (truncated, damaged, wrong format, or its
        reader ran past the time or memory limit of
        :func:`neurodl.data.formats.read_mat` / :func:`~neurodl.data.formats.
        read_nwb`); the message names the file and the format.
    neurodl.errors.DecryptionError
        If the file is encrypted and no key, or a wrong one, was given.
    neurodl.errors.ShapeError
        If the time axis cannot be told by matching lengths, or arrays disagree
        on the number of bins.
    neurodl.errors.NonFiniteError
        If the counts or target hold NaN or infinite values (the message gives how
        many and in which bins).
    neurodl.errors.ValidationError
        For any other broken rule: a missing key (the message lists the file's
        keys), negative counts, a missing or inconsistent bin width, a ``rebin_s``
        that is not a multiple of the bin width.

    Notes
    -----
    The time axis of a ``.mat``/``.npz`` file is the one axis whose length the
    spike array and every target array share; if both axes of the spike array
    have that length, or none does, the loader raises instead of guessing.
    """
    if not isinstance(path, str | os.PathLike):
        raise ValidationError(
            f"'path' must be a file path or a dataset name; got {type(path).__name__}."
        )
    file, dataset, s_key, t_key, bin_s = _resolve(path, spikes_key, target_key, bin_s)
    t_keys = [t_key] if isinstance(t_key, str) else list(t_key)
    if not t_keys or not all(isinstance(k, str) for k in t_keys):
        raise ValidationError(
            f"'target_key' must be a name or a non-empty sequence of names; got "
            f"{target_key!r}."
        )
    if not isinstance(s_key, str):
        raise ValidationError(f"'spikes_key' must be a string; got {spikes_key!r}.")
    if bin_s is not None:
        bin_s = _check_bin("bin_s", bin_s)
    suffix = Path(plain_name(file)).suffix.lower()
    if suffix not in SUFFIXES:
        raise ValidationError(
            f"'path' must end in one of {', '.join(SUFFIXES)} or name a bundled "
            f"dataset of kind 'spikes'; got {str(path)!r}."
        )
    if not file.is_file():
        raise DataFileError(
            f"'path' must be an existing file; got {str(file)!r} (no such file)."
        )

    secret: dict[str, Any] = {"key": key, "passphrase": passphrase}
    time: np.ndarray | None
    if suffix == ".nwb":
        counts, target, time, unit_names, target_names = _read_nwb(
            file, t_keys, bin_s, secret
        )
        assert bin_s is not None  # checked by _read_nwb
        fmt = "nwb"
        _check_finite("spike counts from the units table", counts, file)
    else:
        said = {"spikes_key": "spikes_key", "target_key": "target_key"} | dict(
            names or {}
        )
        keys = {k: said["target_key"] for k in t_keys}
        keys = {s_key: said["spikes_key"], **keys}
        if time_key is not None:
            keys.setdefault(time_key, "time_key")
        # the time vector is optional: read only if the file has it
        arrays, fmt = _read_arrays(file, keys, optional=time_key, secret=secret)
        spikes = _numeric(f"spikes {s_key!r}", arrays[s_key], file)
        if spikes.ndim != 2:
            raise ShapeError(
                f"spikes {s_key!r} in {file} must be 2-D (units x bins or bins x "
                f"units); got shape {spikes.shape}."
            )
        spike_axis: int | None = None
        parts = []
        target_names_list: list[str] = []
        for k in t_keys:
            tgt = _numeric(f"target {k!r}", arrays[k], file)
            if tgt.ndim == 1:
                tgt = tgt[:, None]
            if tgt.ndim != 2:
                raise ShapeError(
                    f"target {k!r} in {file} must be 1-D or 2-D; got shape {tgt.shape}."
                )
            i, j = _time_axes(
                spikes.shape, tgt.shape, f"spikes {s_key!r} and target {k!r}"
            )
            if spike_axis is not None and i != spike_axis:
                raise ShapeError(
                    f"targets {t_keys!r} in {file} disagree on the time axis of spikes "
                    f"{s_key!r} (shape {spikes.shape}): axis {spike_axis} vs {i}."
                )
            spike_axis = i
            tgt = tgt if j == 0 else tgt.T
            parts.append(tgt)
            target_names_list += [f"{k}[{c}]" for c in range(tgt.shape[1])]
        assert spike_axis is not None
        counts = spikes if spike_axis == 0 else spikes.T
        target = np.concatenate(parts, axis=1)
        target_names = tuple(target_names_list)
        unit_names = tuple(f"unit{u}" for u in range(counts.shape[1]))
        _check_finite(f"spikes {s_key!r}", counts, file)
        time = None
        if time_key is not None and time_key in arrays:
            time = _numeric(f"time {time_key!r}", arrays[time_key], file).ravel()
            if time.size != counts.shape[0]:
                raise ShapeError(
                    f"time vector {time_key!r} in {file} must have one entry per bin "
                    f"({counts.shape[0]}); got shape {arrays[time_key].shape}."
                )
            from_time = _bin_from_time(time, file, time_key)
            if bin_s is not None and abs(bin_s - from_time) > 0.01 * from_time:
                raise ValidationError(
                    f"'bin_s' must agree with the time vector {time_key!r} of {file} "
                    f"(steps of {from_time:g} s); got {bin_s!r}. Leave 'bin_s' unset "
                    "to take the time vector's."
                )
            bin_s = from_time
        if bin_s is None:
            raise ValidationError(
                f"'bin_s' must be given when {file} has no time vector "
                f"({time_key!r}); got None."
            )

    if counts.size and counts.min() < 0:
        neg = counts < 0
        rows = np.flatnonzero(neg.any(axis=1))
        raise ValidationError(
            f"spike counts in {file} must be >= 0; got {int(neg.sum())} negative "
            f"value(s) (min {counts.min():g}) in {_segments(rows)}."
        )
    _check_finite("target", target, file)

    if target_dims is not None:
        dims = list(target_dims) if not isinstance(target_dims, int) else [target_dims]
        bad = [
            d
            for d in dims
            if isinstance(d, bool)
            or not isinstance(d, int | np.integer)
            or not 0 <= d < target.shape[1]
        ]
        if bad or not dims:
            raise ValidationError(
                f"'target_dims' must be a non-empty sequence of column indices in "
                f"0..{target.shape[1] - 1} (target columns {list(target_names)}); "
                f"got {target_dims!r}."
            )
        target = target[:, dims]
        target_names = tuple(target_names[d] for d in dims)

    if rebin_s is not None:
        counts, target, time, bin_s = _rebin(counts, target, time, bin_s, rebin_s)

    return SpikeData(
        counts=np.ascontiguousarray(counts, dtype=np.float64),
        target=np.ascontiguousarray(target, dtype=np.float64),
        bin_s=float(bin_s),
        time=time,
        unit_names=unit_names,
        target_names=target_names,
        source=str(file),
        file_format=fmt,
        dataset=dataset,
    )
