"""Reading the bundled Golub et al. (2018) session: mappings, blocks and clouds."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.io
from numpy.typing import NDArray

from neurodl._validate import check_option
from neurodl.bci.golub.mapping import (
    BLOCK_MAPPING,
    BLOCKS,
    MAPPINGS,
    Array,
    FAKalmanMapping,
)
from neurodl.data.registry import dataset_file
from neurodl.errors import FormatError, ValidationError


@dataclass(frozen=True, eq=False)
class GolubCloud:
    """One movement-specific cloud of a block: the time steps of one direction.

    Columns of the file's cells, transposed to rows. The time steps are those
    whose cursor-to-target direction was closest to ``angle``; they are several
    trials' runs of consecutive 45 ms bins, concatenated in trial order (a trial
    contributes to several clouds if its cursor turns). There is no per-column
    trial index in the file.

    Attributes
    ----------
    block : str
        ``"beforeLearning"`` or ``"afterLearning"``.
    index : int
        Cloud number, 0-7.
    angle : float
        Centre-to-target angle of the cloud (degrees).
    spikes : ndarray, shape (n_steps, q)
        Spike counts per 45 ms bin [``spikes``].
    factors : ndarray, shape (n_steps, k)
        Orthonormalised factors [``factorActivity``].
    cursor_to_target : ndarray, shape (n_steps, 2)
        Unit vector from the cursor to the target at each bin, recorded online
        [``cursorToTargetDirection``].
    velocity_intuitive, velocity_perturbed : ndarray, shape (n_steps, 2)
        Single-step velocity (mm/s) of each bin through each mapping, computed offline
        by the paper's code [``vraw_intuitive``, ``vraw_perturbed``].
    progress : ndarray, shape (n_steps,)
        Progress of the active mapping's velocity along the cursor-to-target
        direction, times dt (mm) [``cursorProgress``].
    """

    block: str
    index: int
    angle: float
    spikes: Array
    factors: Array
    cursor_to_target: Array
    velocity_intuitive: Array
    velocity_perturbed: Array
    progress: Array

    @property
    def n_steps(self) -> int:
        """Number of time steps in the cloud."""
        return int(self.spikes.shape[0])

    def recorded_velocity(self, mapping: str | None = None) -> Array:
        """Return the stored single-step velocities through ``mapping``.

        Parameters
        ----------
        mapping : {"intuitive", "perturbed"}, optional
            Defaults to the mapping that drove the cursor in this cloud's block.

        Returns
        -------
        ndarray, shape (n_steps, 2)
        """
        name = BLOCK_MAPPING[self.block] if mapping is None else mapping
        check_option("mapping", name, MAPPINGS)
        return (
            self.velocity_intuitive if name == "intuitive" else self.velocity_perturbed
        )


@dataclass(frozen=True, eq=False)
class GolubSession:
    """The bundled Golub et al. (2018) session: both mappings and both blocks.

    Attributes
    ----------
    intuitive, perturbed : FAKalmanMapping
        The two BCI mappings, with the file's stored values.
    blocks : dict of str to tuple of GolubCloud
        The 8 clouds of ``"beforeLearning"`` and of ``"afterLearning"``.
    trial_numbers : dict of str to ndarray of int
        Session trial numbers of each block's 50 trials [``windowIdx``].
    dt : float
        BCI time step in seconds (0.045).
    monkey, date : str
        Animal and experiment date (``"Jeffy"``, ``"20120305"``).
    rescaling : float
        The paper's lambda (eq. 9) [``lambda``].
    path : Path
        The file read.
    """

    intuitive: FAKalmanMapping
    perturbed: FAKalmanMapping
    blocks: dict[str, tuple[GolubCloud, ...]]
    trial_numbers: dict[str, NDArray[np.int64]]
    dt: float
    monkey: str
    date: str
    rescaling: float
    path: Path = field(default_factory=Path)

    def mapping(self, name: str) -> FAKalmanMapping:
        """Return the mapping ``"intuitive"`` or ``"perturbed"``."""
        check_option("mapping", name, MAPPINGS)
        return self.intuitive if name == "intuitive" else self.perturbed

    def clouds(self, block: str) -> tuple[GolubCloud, ...]:
        """Return the 8 clouds of ``"beforeLearning"`` or ``"afterLearning"``."""
        check_option("block", block, BLOCKS)
        return self.blocks[block]


class _Reader:
    """Field access into a loaded MAT struct with errors naming file and field."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def missing(self, where: str, detail: str = "is missing") -> ValidationError:
        return ValidationError(
            f"{self.path} is not a Golub session file: field {where!r} {detail}."
        )

    def get(self, obj: Any, name: str, where: str) -> Any:
        full = f"{where}.{name}" if where else name
        try:
            if isinstance(obj, dict):
                return obj[name]
            return getattr(obj, name)
        except (KeyError, AttributeError):
            raise self.missing(full) from None

    def array(self, obj: Any, name: str, where: str, ndim: int) -> Array:
        full = f"{where}.{name}" if where else name
        raw = self.get(obj, name, where)
        try:
            arr = np.array(raw, dtype=np.float64)
        except (TypeError, ValueError):
            raise self.missing(full, "is not numeric") from None
        if arr.ndim != ndim:
            raise self.missing(full, f"should be {ndim}-D but has shape {arr.shape}")
        return arr

    def cells(self, obj: Any, name: str, where: str, n: int) -> list[Array]:
        full = f"{where}.{name}" if where else name
        raw = self.get(obj, name, where)
        if not isinstance(raw, np.ndarray) or raw.dtype != object or raw.size != n:
            raise self.missing(full, f"should be a cell array of {n} matrices")
        out = []
        for i, c in enumerate(raw.ravel()):
            try:
                out.append(np.atleast_1d(np.array(c, dtype=np.float64)))
            except (TypeError, ValueError):
                raise self.missing(f"{full}{{{i + 1}}}", "is not numeric") from None
        return out


def _read_mapping(rd: _Reader, m: Any, where: str, dt: float) -> FAKalmanMapping:
    def arr(key: str, ndim: int) -> Array:
        return rd.array(m, key, where, ndim)

    def diag(key: str) -> Array:
        return np.diag(arr(key, 2)).copy()

    name = where.rsplit(".", 1)[-1].replace("Mapping", "")
    try:
        return FAKalmanMapping(
            name=name,
            spike_mean=arr("mu_u", 1),
            spike_scale=diag("Sigma_u"),
            loadings=arr("L", 2),
            uniquenesses=arr("Ph", 1),
            beta=arr("beta", 2),
            factor_mean=arr("mu", 1),
            factor_scale=diag("Sigma_z"),
            permutation=arr("eta", 2),
            orth_scale=diag("D"),
            orth_rotation=arr("V", 2),
            A=arr("A", 2),
            b=arr("b", 1),
            Q=arr("Q", 2),
            C=arr("C", 2),
            d=arr("d", 1),
            R=arr("R", 2),
            gain=arr("K", 2),
            M1=arr("M1", 2),
            M2=arr("M2", 2),
            m0=arr("m0", 1),
            dt=dt,
        )
    except ValidationError as exc:
        raise ValidationError(
            f"{rd.path} is not a Golub session file: {where} is inconsistent ({exc})"
        ) from exc


def load_golub_session(path: str | Path | None = None) -> GolubSession:
    """Load a Golub et al. (2018) session file (default: the bundled one).

    Parameters
    ----------
    path : str or Path, optional
        A ``.mat`` file laid out like ``mattgolub/bci_learning``'s
        ``exampleData.mat``. Defaults to the bundled copy (checksum verified).

    Returns
    -------
    GolubSession

    Raises
    ------
    ValidationError
        If the file is missing or lacks a field (the message names the file and
        the field).
    FormatError
        If the file is not a readable MATLAB v5/v7 file (a ValidationError too).
    """
    p = dataset_file("bci_golub", "exampleData.mat") if path is None else Path(path)
    if not p.is_file():
        raise ValidationError(f"no Golub session file at {p}: it does not exist.")
    try:
        raw = scipy.io.loadmat(str(p), squeeze_me=True, struct_as_record=False)
    except Exception as exc:  # scipy raises many types on bad bytes
        raise FormatError(
            f"{p} is not a Golub session file: it cannot be read as a MATLAB "
            f"(v5/v7) file ({type(exc).__name__}: {exc}).",
            path=p,
            fmt="MATLAB .mat",
        ) from exc
    rd = _Reader(p)
    exp = rd.get(raw, "expParams", "")
    mi = rd.get(exp, "intuitiveMapping", "expParams")
    mp = rd.get(exp, "perturbedMapping", "expParams")
    dt = float(rd.array(mi, "dt", "expParams.intuitiveMapping", 0))
    dt_p = float(rd.array(mp, "dt", "expParams.perturbedMapping", 0))
    if not dt > 0 or dt != dt_p:
        raise rd.missing("expParams.*.dt", f"must be one positive value; got {dt}")
    intuitive = _read_mapping(rd, mi, "expParams.intuitiveMapping", dt)
    perturbed = _read_mapping(rd, mp, "expParams.perturbedMapping", dt)
    q, k = intuitive.n_units, intuitive.n_factors
    if (perturbed.n_units, perturbed.n_factors) != (q, k):
        raise rd.missing("expParams.perturbedMapping.L", "differs in size")
    blocks: dict[str, tuple[GolubCloud, ...]] = {}
    trials: dict[str, NDArray[np.int64]] = {}
    for block in BLOCKS:
        where = f"{block}.clouds"
        clouds = rd.get(rd.get(raw, block, ""), "clouds", block)
        angles = rd.array(clouds, "angles", where, 1)
        n = angles.size
        cols = {
            key: rd.cells(clouds, key, where, n)
            for key in (
                "spikes",
                "factorActivity",
                "cursorToTargetDirection",
                "vraw_intuitive",
                "vraw_perturbed",
                "cursorProgress",
            )
        }
        out = []
        for i in range(n):
            spikes = cols["spikes"][i].T
            t = spikes.shape[0]
            want = {
                "spikes": (t, q),
                "factorActivity": (t, k),
                "cursorToTargetDirection": (t, 2),
                "vraw_intuitive": (t, 2),
                "vraw_perturbed": (t, 2),
            }
            for key, shape in want.items():
                if cols[key][i].T.shape != shape:
                    raise rd.missing(
                        f"{where}.{key}{{{i + 1}}}",
                        f"has shape {cols[key][i].shape[::-1]} (transposed), "
                        f"expected {shape}",
                    )
            out.append(
                GolubCloud(
                    block=block,
                    index=i,
                    angle=float(angles[i]),
                    spikes=spikes,
                    factors=cols["factorActivity"][i].T,
                    cursor_to_target=cols["cursorToTargetDirection"][i].T,
                    velocity_intuitive=cols["vraw_intuitive"][i].T,
                    velocity_perturbed=cols["vraw_perturbed"][i].T,
                    progress=cols["cursorProgress"][i].ravel(),
                )
            )
        blocks[block] = tuple(out)
        trials[block] = rd.array(clouds, "windowIdx", where, 1).astype(np.int64)
    return GolubSession(
        intuitive=intuitive,
        perturbed=perturbed,
        blocks=blocks,
        trial_numbers=trials,
        dt=dt,
        monkey=str(rd.get(exp, "monkName", "expParams")),
        date=str(rd.get(exp, "expDate", "expParams")),
        rescaling=float(rd.array(exp, "lambda", "expParams", 0)),
        path=p,
    )
