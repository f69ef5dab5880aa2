"""Simulated devices driven by decoded commands, and their trajectory logs.

:class:`Cursor2D` is a point in a bounded 2-D workspace moved by velocity commands:
``position += gain * velocity * dt``, clipped to the workspace. :class:`TrajectoryLog`
records one row per command and writes it to CSV or NPZ atomically (a temporary file
in the same folder, then ``os.replace``), both periodically and at the end, so a
killed run leaves the rows up to its last flush in a complete, readable file.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neurodl.errors import FormatError, ValidationError

__all__ = [
    "TRAJECTORY_COLUMNS",
    "Cursor2D",
    "TrajectoryLog",
    "read_trajectory",
    "trajectory_format",
]

TRAJECTORY_COLUMNS = (
    "time",
    "x",
    "y",
    "vx",
    "vy",
    "label",
    "latency_ms",
    "stream_time",
)
"""Columns of a trajectory file.

``time`` is the local LSL clock (``pylsl.local_clock()``, seconds) when the command
was sent; ``x, y`` the cursor position after the command; ``vx, vy`` the velocity
command; ``label`` the decoder's output (a class name, or ``"velocity"`` for a
regressor); ``latency_ms`` the end-to-end latency of that window; ``stream_time`` the
timestamp of the newest sample of the window, mapped to the local clock.
"""


@dataclass
class Cursor2D:
    """A cursor in a bounded 2-D workspace, moved by velocity commands.

    Parameters
    ----------
    bounds : tuple of float
        ``(xmin, xmax, ymin, ymax)`` of the workspace; the cursor never leaves it.
    gain : float
        Workspace units per second for a unit velocity command.
    start : tuple of float
        Initial position (inside ``bounds``).

    Attributes
    ----------
    position : numpy.ndarray
        Current ``(x, y)``.
    velocity : numpy.ndarray
        Last velocity command (zero while held).
    """

    bounds: tuple[float, float, float, float] = (-1.0, 1.0, -1.0, 1.0)
    gain: float = 0.5
    start: tuple[float, float] = (0.0, 0.0)
    position: np.ndarray = field(init=False, repr=False)
    velocity: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        xmin, xmax, ymin, ymax = (float(b) for b in self.bounds)
        if not all(map(math.isfinite, (xmin, xmax, ymin, ymax))) or not (
            xmin < xmax and ymin < ymax
        ):
            raise ValidationError(
                "'bounds' must be finite (xmin, xmax, ymin, ymax) with xmin < xmax "
                f"and ymin < ymax; got {self.bounds!r}."
            )
        if not (math.isfinite(self.gain) and self.gain > 0):
            raise ValidationError(
                f"'gain' must be a finite number > 0; got {self.gain!r}."
            )
        x, y = (float(s) for s in self.start)
        if not (xmin <= x <= xmax and ymin <= y <= ymax):
            raise ValidationError(
                f"'start' {self.start!r} lies outside the workspace {self.bounds!r}."
            )
        self.bounds = (xmin, xmax, ymin, ymax)
        self.position = np.array([x, y])
        self.velocity = np.zeros(2)

    def step(self, velocity: Sequence[float] | np.ndarray, dt: float) -> np.ndarray:
        """Apply ``velocity`` for ``dt`` seconds; return the new position.

        Parameters
        ----------
        velocity : array-like of 2 floats
            The command ``(vx, vy)``; non-finite values are treated as zero.
        dt : float
            Seconds the command lasts (>= 0; a negative ``dt`` moves nothing).

        Returns
        -------
        numpy.ndarray
            A copy of the position after the move, clipped to the workspace.
        """
        v = np.asarray(velocity, dtype=float).reshape(2)
        v = np.where(np.isfinite(v), v, 0.0)
        self.velocity = v
        xmin, xmax, ymin, ymax = self.bounds
        p = self.position + self.gain * v * max(float(dt), 0.0)
        self.position = np.array(
            [min(max(p[0], xmin), xmax), min(max(p[1], ymin), ymax)]
        )
        return self.position.copy()

    def hold(self) -> None:
        """Keep the cursor still: zero velocity, position unchanged."""
        self.velocity = np.zeros(2)

    def reset(self) -> None:
        """Move the cursor back to ``start`` and stop it."""
        self.position = np.array([float(s) for s in self.start])
        self.velocity = np.zeros(2)


def trajectory_format(path: str | os.PathLike[str], name: str = "path") -> str:
    """Return the trajectory file format of ``path`` (``"csv"`` or ``"npz"``).

    Raises
    ------
    ValidationError
        If the suffix is neither, naming the parameter ``name``.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in (".csv", ".npz"):
        raise ValidationError(
            f"{name!r} (a trajectory file) must end in .csv or .npz; got {str(path)!r}."
        )
    return suffix[1:]


class TrajectoryLog:
    """Rows of a cursor trajectory, written atomically to CSV or NPZ.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; the suffix chooses the format (``.csv`` or ``.npz``).
    flush_every : float
        Seconds between periodic flushes by :meth:`maybe_flush` (0: every call).

    Notes
    -----
    Every flush rewrites the whole file through a temporary file and
    ``os.replace``: the file on disk is always complete (never half-written).
    """

    def __init__(self, path: str | os.PathLike[str], flush_every: float = 1.0):
        self.path = Path(path)
        self.format = trajectory_format(self.path)
        if not (math.isfinite(flush_every) and flush_every >= 0):
            raise ValidationError(
                f"'flush_every' must be a finite number >= 0; got {flush_every!r}."
            )
        self.flush_every = float(flush_every)
        self._rows: list[tuple[float, float, float, float, float, float, float]] = []
        self._labels: list[str] = []
        self._lines: list[str] = []
        self._last_flush = time.monotonic()
        self._flushed_rows = -1
        self._synced = False

    def __len__(self) -> int:
        return len(self._rows)

    def append(
        self,
        t: float,
        position: Sequence[float] | np.ndarray,
        velocity: Sequence[float] | np.ndarray,
        label: str,
        latency_ms: float,
        stream_time: float,
    ) -> None:
        """Add one row (see :data:`TRAJECTORY_COLUMNS`)."""
        row = (
            float(t),
            float(position[0]),
            float(position[1]),
            float(velocity[0]),
            float(velocity[1]),
            float(latency_ms),
            float(stream_time),
        )
        self._rows.append(row)
        label = str(label)
        self._labels.append(label)
        if self.format == "csv":
            safe = label.replace(",", ";").replace("\n", " ")
            self._lines.append(
                f"{row[0]:.6f},{row[1]:.6g},{row[2]:.6g},{row[3]:.6g},{row[4]:.6g},"
                f"{safe},{row[5]:.4f},{row[6]:.6f}\n"
            )

    def maybe_flush(self) -> bool:
        """Flush (without fsync) if ``flush_every`` seconds passed since the last.

        Returns
        -------
        bool
            Whether it wrote the file.
        """
        if time.monotonic() - self._last_flush >= self.flush_every:
            self.flush(sync=False)
            return True
        return False

    def flush(self, sync: bool = True) -> Path:
        """Write every row so far to :attr:`path` atomically; return the path.

        Parameters
        ----------
        sync : bool
            Also ``fsync`` the file before moving it into place (survives a power
            cut; without it the file survives a killed process, and the write
            costs no disk round trip in the decoding loop).
        """
        self._last_flush = time.monotonic()
        unchanged = self._flushed_rows == len(self._rows) and self.path.exists()
        if unchanged and (self._synced or not sync):
            return self.path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent
        )
        try:
            with os.fdopen(fd, "wb") as f:
                if self.format == "csv":
                    f.write((",".join(TRAJECTORY_COLUMNS) + "\n").encode())
                    f.write("".join(self._lines).encode())
                else:
                    arr = np.asarray(self._rows, dtype=float).reshape(-1, 7)
                    np.savez(
                        f,
                        time=arr[:, 0],
                        x=arr[:, 1],
                        y=arr[:, 2],
                        vx=arr[:, 3],
                        vy=arr[:, 4],
                        label=np.asarray(self._labels, dtype=str),
                        latency_ms=arr[:, 5],
                        stream_time=arr[:, 6],
                    )
                f.flush()
                if sync:
                    os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._flushed_rows = len(self._rows)
        self._synced = sync
        return self.path


def read_trajectory(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read a trajectory file written by :class:`TrajectoryLog`.

    Returns
    -------
    dict of str to numpy.ndarray
        One array per column of :data:`TRAJECTORY_COLUMNS` (``label`` as strings).

    Raises
    ------
    ValidationError
        If the file is missing or not a trajectory file (no such columns).
    FormatError
        If the file is malformed: a broken archive, text that is not UTF-8, a row
        with the wrong number of fields or a value that is not a number.
    """
    path = Path(path)
    if not path.is_file():
        raise ValidationError(f"trajectory file {str(path)!r} does not exist.")

    def broken(what: str, fmt: str) -> FormatError:
        return FormatError(
            f"{str(path)!r} is not a readable trajectory file: {what}.",
            path=path,
            fmt=fmt,
        )

    if path.suffix.lower() == ".npz":
        try:
            with path.open("rb") as fh, np.load(fh, allow_pickle=False) as z:
                missing = [c for c in TRAJECTORY_COLUMNS if c not in z.files]
                if missing:
                    raise ValidationError(
                        f"{str(path)!r} is not a trajectory file (no {missing})."
                    )
                return {c: z[c] for c in TRAJECTORY_COLUMNS}
        except ValidationError:
            raise
        except Exception as exc:  # zipfile and numpy raise many types
            raise broken(f"{type(exc).__name__}: {exc}", "npz") from exc
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise broken(f"not UTF-8 text ({exc})", "CSV") from exc
    if not lines or lines[0].split(",") != list(TRAJECTORY_COLUMNS):
        raise ValidationError(
            f"{str(path)!r} is not a trajectory file (header must be "
            f"{','.join(TRAJECTORY_COLUMNS)})."
        )
    cells = [line.split(",") for line in lines[1:]]
    short = [k for k, row in enumerate(cells, 2) if len(row) != len(TRAJECTORY_COLUMNS)]
    if short:
        raise broken(
            f"line {short[0]} has {len(cells[short[0] - 2])} fields, the header "
            f"{len(TRAJECTORY_COLUMNS)}",
            "CSV",
        )
    out: dict[str, np.ndarray] = {}
    for j, c in enumerate(TRAJECTORY_COLUMNS):
        col = [row[j] for row in cells]
        try:
            out[c] = np.asarray(col, dtype=str if c == "label" else float)
        except ValueError as exc:
            raise broken(
                f"column {c!r} holds a value that is not a number ({exc})", "CSV"
            ) from exc
    return out
