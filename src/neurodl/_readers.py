"""Readers that run inside the sandbox's child process (:mod:`neurodl._sandbox`).

They take a path, or an ``int`` file descriptor (an in-memory decrypted file handed
over with :class:`neurodl._sandbox.PassFd`), read with scipy, h5py or pynwb, and
return plain data only: dicts, lists, strings, numbers and NumPy arrays of
numbers or strings. Any exception they raise becomes a
:class:`~neurodl.errors.FormatError` in the caller. Kept apart from
:mod:`neurodl.data.formats` (which calls them) so that the fork server imports
only this, NumPy and the readers, not torch.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = ["read_mat_arrays", "read_nwb_content"]

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"

Source = str | int
"""A path, or a file descriptor of the child's own."""


def _path(source: Source) -> str:
    return f"/proc/self/fd/{source}" if isinstance(source, int) else source


def _is_hdf5(source: Source) -> bool:
    """Whether the file has an HDF5 superblock (at byte 0, 512, 1024, 2048, ...)."""
    with open(_path(source), "rb") as f:
        size = f.seek(0, 2)
        offset = 0
        while offset + 8 <= size:
            f.seek(offset)
            if f.read(8) == _HDF5_SIGNATURE:
                return True
            offset = 512 if offset == 0 else offset * 2
    return False


@contextlib.contextmanager
def _h5_file(source: Source) -> Iterator[Any]:
    """Open an HDF5 file read-only; an in-memory file through a Python file object.

    The HDF5 library resolves a file's real path, which an in-memory file
    (``/proc/self/fd/N``) does not have.
    """
    import h5py

    if isinstance(source, int):
        with open(_path(source), "rb") as fh, h5py.File(fh, "r") as f:
            yield f
    else:
        with h5py.File(source, "r") as f:
            yield f


def _mat_kind(a: Any) -> str | None:
    """Return None for a plain array, else what MATLAB would call it."""
    if not isinstance(a, np.ndarray):
        return "object"
    if a.dtype.names is not None:
        return "struct"
    if a.dtype.hasobject:
        return "cell"
    if a.dtype.kind not in "biufcUS":
        return "object"
    return None


def read_mat_arrays(source: Source, names: list[str] | None) -> dict[str, Any]:
    """Return every plain variable of a .mat file (or those ``names``).

    ``{"arrays": {name: array}, "other": {name: kind}, "version": "mat" or
    "mat-v7.3"}``; structs and cells are listed in ``other``, not read.
    """
    import h5py

    arrays: dict[str, np.ndarray] = {}
    other: dict[str, str] = {}
    if _is_hdf5(source):
        with _h5_file(source) as f:
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

    with open(_path(source), "rb") as fh:
        mat = scipy.io.loadmat(fh, variable_names=names)
    for k, v in mat.items():
        if k.startswith("__"):
            continue
        kind = _mat_kind(v)
        if kind is None:
            arrays[k] = np.asarray(v)
        else:
            other[k] = kind
    return {"arrays": arrays, "other": other, "version": "mat"}


def read_nwb_content(source: Source, wanted: list[str]) -> dict[str, Any]:
    """Return the units' spike times and the TimeSeries named in ``wanted``.

    ``{"ids": [...], "times": [array per unit], "counts": {name: n}, "series":
    {name: {"timestamps": array, "data": array}}}`` (a name that no TimeSeries, or
    more than one, carries is left out of ``series``; ``counts`` says which).
    """
    from pynwb import NWBHDF5IO, TimeSeries

    with warnings.catch_warnings():
        # a file written by another pynwb version carries its own schema; the
        # reader warns that it uses the cached one, which is fine here
        warnings.simplefilter("ignore", UserWarning)
        with _h5_file(source) as h5, NWBHDF5IO(file=h5, mode="r") as io:
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
