"""Readers for untrusted MATLAB and NWB files: bounded, sandboxed, one error type.

:func:`read_mat` (MATLAB v4/v5/v7 through scipy, v7.3 through h5py) and
:func:`read_nwb` (through pynwb) run the third-party reader in a child process under
a time and a memory limit (:func:`neurodl._sandbox.run_limited`), because crafted
HDF5 files can hang, crash or exhaust the HDF5 library and scipy's MATLAB reader is
not hardened for untrusted input. They return plain NumPy arrays, and a malformed
file of any kind ends in one :class:`~neurodl.errors.FormatError` naming the file,
the format and what went wrong. Both read files written by ``neurodl encrypt`` in
memory when given ``key=`` or ``passphrase=`` (:mod:`neurodl.privacy.plaintext`).

They never raise for content that is merely not what a caller wants (a missing
variable, no units table): they report what the file holds, and the caller
decides.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neurodl._sandbox import run_limited
from neurodl.errors import DataFileError, FormatError

__all__ = ["MatContents", "NWBContents", "read_mat", "read_nwb"]


@dataclass(frozen=True)
class MatContents:
    """The variables of a MATLAB file.

    Attributes
    ----------
    arrays : dict of str to numpy.ndarray
        Numeric, logical and character variables, as stored (v7.3 files hold the
        transpose of what MATLAB shows, as h5py reads them).
    other : dict of str to str
        Variables that are not plain arrays (``"struct"``, ``"cell"``,
        ``"object"``), by name, with their kind.
    version : str
        ``"mat"`` (v4/v5/v7) or ``"mat-v7.3"`` (HDF5).
    """

    arrays: dict[str, np.ndarray]
    other: dict[str, str] = field(default_factory=dict)
    version: str = "mat"


@dataclass(frozen=True)
class NWBContents:
    """Spike times and TimeSeries read from an NWB file.

    Attributes
    ----------
    unit_ids : tuple of str
        One name per unit of ``nwbfile.units`` (its ``unit_name`` column, else its
        id); empty when the file has no units table.
    spike_times : tuple of numpy.ndarray
        Spike times in seconds of each unit, float64.
    series_counts : dict of str to int
        Every TimeSeries name in the file and how many TimeSeries carry it.
    series : dict of str to tuple
        ``name -> (timestamps (n,), data (n, ...))`` for each requested name that
        exactly one TimeSeries carries, float64.
    """

    unit_ids: tuple[str, ...]
    spike_times: tuple[np.ndarray, ...]
    series_counts: dict[str, int]
    series: dict[str, tuple[np.ndarray, np.ndarray]]


def _check_file(path: Path, fmt: str) -> None:
    if not path.is_file():
        raise DataFileError(f"{fmt} file {str(path)!r} does not exist.")
    if path.stat().st_size == 0:
        raise FormatError(
            f"{str(path)!r} is empty (0 bytes); it is not a {fmt} file.",
            path=path,
            fmt=fmt,
        )


# ------------------------------------------------------------------- HDF5
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _is_hdf5(path: str) -> bool:
    """Whether the file has an HDF5 superblock (at 0, 512, 1024, 2048, ...)."""
    with open(path, "rb") as f:
        size = f.seek(0, 2)
        offset = 0
        while offset + 8 <= size:
            f.seek(offset)
            if f.read(8) == _HDF5_SIGNATURE:
                return True
            offset = 512 if offset == 0 else offset * 2
    return False


@contextlib.contextmanager
def _h5_file(path: str) -> Iterator[Any]:
    """Open an HDF5 file read-only; an in-memory decrypted file through Python.

    The HDF5 library resolves a file's real path, which an in-memory file
    (``/proc/self/fd/N``, :mod:`neurodl.privacy.plaintext`) does not have, so such
    a file is handed to h5py as a Python file object.
    """
    import h5py

    if os.path.islink(path) and os.readlink(path).startswith("/proc/self/fd/"):
        with open(path, "rb") as fh, h5py.File(fh, "r") as f:
            yield f
    else:
        with h5py.File(path, "r") as f:
            yield f


# ----------------------------------------------------------------- MATLAB
def _mat_kind(a: Any) -> str | None:
    """None for a plain array, else what MATLAB would call it."""
    if not isinstance(a, np.ndarray):
        return "object"
    if a.dtype.names is not None:
        return "struct"
    if a.dtype.hasobject:
        return "cell"
    if a.dtype.kind not in "biufcUS":
        return "object"
    return None


def _read_mat_child(path: str, names: list[str] | None) -> dict[str, Any]:
    """In the sandbox: every plain variable of a .mat file (or those named)."""
    import h5py

    arrays: dict[str, np.ndarray] = {}
    other: dict[str, str] = {}
    if _is_hdf5(path):
        with _h5_file(path) as f:
            for k in f:
                if k.startswith("#") or (names is not None and k not in names):
                    continue
                obj = f[k]
                if not isinstance(obj, h5py.Dataset):
                    other[k] = "struct"
                    continue
                if obj.dtype.kind not in "biufc":  # references: cells
                    other[k] = "cell" if obj.dtype.kind == "O" else "object"
                    continue
                arrays[k] = np.asarray(obj[()])
        return {"arrays": arrays, "other": other, "version": "mat-v7.3"}
    import scipy.io

    mat = scipy.io.loadmat(path, variable_names=names)
    for k, v in mat.items():
        if k.startswith("__"):
            continue
        kind = _mat_kind(v)
        if kind is None:
            arrays[k] = np.asarray(v)
        else:
            other[k] = kind
    return {"arrays": arrays, "other": other, "version": "mat"}


def read_mat(
    path: str | os.PathLike[str],
    *,
    names: Sequence[str] | None = None,
    key: bytes | None = None,
    passphrase: str | None = None,
    timeout_s: float | None = None,
    memory_bytes: int | None = None,
) -> MatContents:
    """Read the variables of a MATLAB ``.mat`` file (v4, v5, v7 or v7.3/HDF5).

    Parameters
    ----------
    path : str or path-like
        The file (or one written by ``neurodl encrypt``, see ``key``).
    names : sequence of str, optional
        Read only these variables (the others are not decoded). Default: all.
    key, passphrase : bytes or str, optional
        For an encrypted file: the key file's 32 bytes, or the passphrase. It is
        decrypted in memory, never to disk.
    timeout_s, memory_bytes : float, int, optional
        Limits of the reading process (:func:`neurodl._sandbox.run_limited`;
        defaults 120 s and 4 GiB, or ``NEURODL_READ_TIMEOUT_S`` /
        ``NEURODL_READ_MEMORY_MB``).

    Returns
    -------
    MatContents

    Raises
    ------
    DataFileError
        The file does not exist.
    FormatError
        The file is not a readable MATLAB file (truncated, damaged, crafted), or
        its reader ran past a limit; the message says which.
    DecryptionError
        The file is encrypted and no key, or a wrong one, was given.
    """
    import h5py  # noqa: F401  (imported here, so each child inherits it)
    import scipy.io  # noqa: F401

    from neurodl.privacy.plaintext import plaintext_path

    p = Path(path)
    _check_file(p, "MATLAB")
    wanted = None if names is None else [str(n) for n in names]
    with plaintext_path(p, key=key, passphrase=passphrase) as plain:
        out = run_limited(
            _read_mat_child,
            str(plain),
            wanted,
            path=p,
            fmt="MATLAB .mat",
            timeout_s=timeout_s,
            memory_bytes=memory_bytes,
        )
    return MatContents(
        arrays=dict(out["arrays"]), other=dict(out["other"]), version=out["version"]
    )


# -------------------------------------------------------------------- NWB
def _read_nwb_child(path: str, wanted: list[str]) -> dict[str, Any]:
    """In the sandbox: units' spike times and the named TimeSeries."""
    import warnings

    from pynwb import NWBHDF5IO, TimeSeries

    with warnings.catch_warnings():
        # a file written by another pynwb version carries its own schema; the
        # reader warns that it uses the cached one, which is fine here
        warnings.simplefilter("ignore", UserWarning)
        with _h5_file(path) as h5, NWBHDF5IO(file=h5, mode="r") as io:
            nwb = io.read()
            units = nwb.units
            ids: list[str] = []
            times: list[np.ndarray] = []
            if units is not None and len(units) > 0:
                times = [
                    np.asarray(units.get_unit_spike_times(i), dtype=np.float64)
                    for i in range(len(units))
                ]
                ids = [str(i) for i in units.id[:]]
                if "unit_name" in units.colnames:
                    ids = [str(v) for v in units["unit_name"][:]]
            series = [o for o in nwb.objects.values() if isinstance(o, TimeSeries)]
            counts: dict[str, int] = {}
            for s in series:
                counts[s.name] = counts.get(s.name, 0) + 1
            found: dict[str, Any] = {}
            for name in wanted:
                match = [s for s in series if s.name == name]
                if len(match) == 1:
                    ts = match[0]
                    found[name] = {
                        "timestamps": np.asarray(ts.get_timestamps(), dtype=np.float64),
                        "data": np.asarray(ts.data[()], dtype=np.float64),
                    }
    return {"ids": ids, "times": times, "counts": counts, "series": found}


def read_nwb(
    path: str | os.PathLike[str],
    *,
    series: Sequence[str] = (),
    key: bytes | None = None,
    passphrase: str | None = None,
    timeout_s: float | None = None,
    memory_bytes: int | None = None,
) -> NWBContents:
    """Read the units' spike times and the named TimeSeries of an NWB file.

    Parameters
    ----------
    path : str or path-like
        The ``.nwb`` file (or one written by ``neurodl encrypt``, see ``key``).
    series : sequence of str
        Names of TimeSeries (anywhere in acquisition or processing) whose
        timestamps and data to read; only these are loaded.
    key, passphrase, timeout_s, memory_bytes
        As for :func:`read_mat`.

    Returns
    -------
    NWBContents

    Raises
    ------
    DataFileError
        The file does not exist.
    FormatError
        The file is not a readable NWB file, or its reader ran past a limit.
    DecryptionError
        The file is encrypted and no key, or a wrong one, was given.
    """
    import pynwb  # noqa: F401  (imported here, so each child inherits it)

    from neurodl.privacy.plaintext import plaintext_path

    p = Path(path)
    _check_file(p, "NWB")
    with plaintext_path(p, key=key, passphrase=passphrase) as plain:
        out = run_limited(
            _read_nwb_child,
            str(plain),
            [str(s) for s in series],
            path=p,
            fmt="NWB",
            timeout_s=timeout_s,
            memory_bytes=memory_bytes,
        )
    return NWBContents(
        unit_ids=tuple(out["ids"]),
        spike_times=tuple(out["times"]),
        series_counts=dict(out["counts"]),
        series={k: (v["timestamps"], v["data"]) for k, v in out["series"].items()},
    )
