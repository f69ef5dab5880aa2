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

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neurodl._readers import read_mat_arrays, read_nwb_content
from neurodl._sandbox import PassFd, run_limited
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


def _source(plain: Path) -> str | PassFd:
    """Return the reader's input: a path, or an in-memory file's descriptor."""
    if plain.is_symlink():
        target = os.readlink(plain)
        if target.startswith("/proc/self/fd/"):  # decrypted in memory
            return PassFd(int(target.rsplit("/", 1)[1]))
    return str(plain)


def _check_file(path: Path, fmt: str) -> None:
    if not path.is_file():
        raise DataFileError(f"{fmt} file {str(path)!r} does not exist.")
    if path.stat().st_size == 0:
        raise FormatError(
            f"{str(path)!r} is empty (0 bytes); it is not a {fmt} file.",
            path=path,
            fmt=fmt,
        )


# ----------------------------------------------------------------- MATLAB
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
    from neurodl.privacy.plaintext import plaintext_path

    p = Path(path)
    _check_file(p, "MATLAB")
    wanted = None if names is None else [str(n) for n in names]
    with plaintext_path(p, key=key, passphrase=passphrase) as plain:
        out = run_limited(
            read_mat_arrays,
            _source(plain),
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
    from neurodl.privacy.plaintext import plaintext_path

    p = Path(path)
    _check_file(p, "NWB")
    with plaintext_path(p, key=key, passphrase=passphrase) as plain:
        out = run_limited(
            read_nwb_content,
            _source(plain),
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
