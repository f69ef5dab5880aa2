"""Reading feature tables with subject labels (``.npz``) and subject lists.

A feature file is a NumPy ``.npz`` (read with ``allow_pickle=False``) holding
``X`` (n_windows, n_features), ``y`` (n_windows,) and ``subjects`` (n_windows,):
integers or strings. A subject list is a text file with one subject per line
(blank lines and ``#`` comments ignored).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from neurodl.errors import DataFileError, FormatError, ValidationError

KEYS = ("X", "y", "subjects")


def read_features(
    path: Path, option: str = "PATH"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(X, y, subjects)`` from a feature ``.npz`` given as ``option``.

    Raises
    ------
    ValidationError
        The file is missing (naming ``option``).
    DataFileError
        The file lacks a key.
    FormatError
        The file is not a readable ``.npz`` (or holds object arrays).
    ValidationError
        Shapes that do not fit, or non-finite features.
    """
    path = Path(path)
    if not path.is_file():
        raise ValidationError(
            f"{option!r} must be a feature file (.npz with X, y, subjects); got "
            f"{str(path)!r}, which does not exist."
        )
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in KEYS if k not in f.files]
            if missing:
                raise DataFileError(
                    f"feature file {str(path)!r} must hold arrays {list(KEYS)}; "
                    f"missing {missing} (it holds {sorted(f.files)})."
                )
            X, y, subjects = (np.asarray(f[k]) for k in KEYS)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError) as exc:
        if isinstance(exc, DataFileError):
            raise
        raise FormatError(
            f"{str(path)!r} is not a readable .npz feature file: {exc}",
            path=path,
            fmt="npz",
        ) from exc
    if X.ndim != 2 or y.shape != (X.shape[0],) or subjects.shape != (X.shape[0],):
        raise ValidationError(
            f"feature file {str(path)!r}: 'X' must be (n, n_features) and 'y', "
            f"'subjects' (n,); got {X.shape}, {y.shape}, {subjects.shape}."
        )
    if not np.issubdtype(X.dtype, np.number) or not np.isfinite(X).all():
        raise ValidationError(
            f"feature file {str(path)!r}: 'X' must hold finite numbers."
        )
    return X.astype(np.float64), y, subjects


def read_subject_list(path: Path, subjects: np.ndarray, option: str) -> np.ndarray:
    """Return the subjects named in a text file, as values of ``subjects``' dtype.

    Raises
    ------
    ValidationError
        Naming ``option``: a missing or empty file, or a subject not in the data.
    """
    path = Path(path)
    if not path.is_file():
        raise ValidationError(
            f"{option!r} must name a subject-list file; got {str(path)!r}."
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(
            f"{option!r} must be a UTF-8 text file with one subject per line; "
            f"got {str(path)!r} ({exc})."
        ) from exc
    names = [ln.split("#", 1)[0].strip() for ln in text.splitlines()]
    names = [n for n in names if n]
    if not names:
        raise ValidationError(f"{option!r} names no subjects: {str(path)!r} is empty.")
    known = {str(s): s for s in np.unique(subjects)}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValidationError(
            f"{option!r} names subjects that are not in the data: {unknown[:5]} "
            f"(the data has {len(known)} subjects, e.g. {list(known)[:5]})."
        )
    return np.asarray([known[n] for n in dict.fromkeys(names)])
