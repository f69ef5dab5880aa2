"""The closed-loop BCI decoder of Golub et al. (2018), rebuilt and checked on its data.

The bundled file ``bci_golub/exampleData.mat`` (BSD-3, from ``mattgolub/bci_learning``)
holds one experiment of "Learning by neural reassociation" (Golub et al., Nat Neurosci
2018; monkey J, 2012-03-05): the *intuitive* and *perturbed* BCI mappings and, for the
``beforeLearning`` block (last 50 trials under the intuitive mapping) and the
``afterLearning`` block (50 trials under the perturbed mapping), the 45 ms time steps
grouped into 8 movement-specific *clouds* (time steps whose cursor-to-target
direction was closest to one of the 8 target angles).

The mapping (what this module found to reproduce the file)
-----------------------------------------------------------
With ``u_t`` the q = 86 spike counts of 45 ms bin t (counts, not rates)::

    x_t = Sigma_u (u_t - mu_u)                    z-scored counts, Sigma_u = diag(1/std)
    beta = L' (L L' + Psi)^-1                      factor analysis posterior mean
    y_t = eta Sigma_z beta x_t                     z-scored (Sigma_z), permuted (eta)
                                                   factors: the Kalman observation
    K   = steady-state gain of  v_t = A v_{t-1} + b + w,  y_t = C v_t + d + r
          (w ~ N(0, Q), r ~ N(0, R); discrete algebraic Riccati equation)
    v_t = M1 v_{t-1} + M2 u_t + m0                 the online decoder, with
    M1 = (I - K C) A,  M2 = K eta Sigma_z beta Sigma_u,
    m0 = (I - K C) b - K d - M2 mu_u

Checked against the file:

* The stored ``M1``, ``M2``, ``m0`` equal those built from the exact Riccati gain of the
  stored ``A, C, Q, R`` to 2.2e-16, 1.2e-14 and 1.4e-13. The stored ``K`` itself differs
  from that gain by up to 4.4e-9 (1.1e-10 relative; its first row is scaled by
  ~1 + 1.25e-10) - it is not the gain ``M1``/``M2``/``m0`` were built from (with it,
  ``M2`` would be off by 1.7e-9). Where that ``K`` came from is not recoverable from the
  file.
* ``factorActivity`` (the paper's orthonormalised factors ``D V' beta x_t`` with
  ``L = U D V'``) is reproduced to 3.1e-15.
* ``vraw_intuitive`` / ``vraw_perturbed`` are *not* online recordings: they are the
  single-step velocity ``K (y_t - d)`` that the paper's analysis code
  (``computeControlPlaneActivity.m``) computed offline from ``factorActivity`` with the
  stored ``K``. :meth:`FAKalmanMapping.drive` with ``via="factors"`` reproduces them to
  2.3e-13 mm/s (stored velocities up to 249 / 292 mm/s in the two blocks: 9e-16 /
  6e-16 relative, a few units in the last place). The online drive
  ``M2 u_t + m0`` differs from them by up to 3.1e-8 mm/s, and that difference equals
  ``(K_file - K_exact)(y_t - d)`` to 4e-13: the stored ``K``'s deviation explains it
  entirely.
* The online, recursively filtered velocity ``v_t`` is not stored, but the cursor it
  moved is: ``cursorToTargetDirection`` is ``(T - p_t) / |T - p_t|`` with the cursor
  at the centre (``p = 0``) for the first 3 bins of a trial (a freeze; these columns
  are bit-for-bit identical) and ``p_t = p_{t-1} + v_{t-1} dt`` afterwards: the
  velocity decoded from bin t moves the cursor in the next bin (a one-bin causal lag;
  ``vraw`` column t uses spike column t, no offset). Two quantities are not in the
  file: the velocity state at the end of the freeze (14-560 mm/s: neither zero nor
  what a filter reset to zero before the freeze and run through it would hold) and
  the target position. Fitting them (:func:`fit_trial_starts`), the 85 trial starts
  (of 100) that have at least 5 contiguous moving bins in one cloud are replayed by
  :meth:`FAKalmanMapping.decode` with the stored ``M1, M2, m0`` to 6.6e-15
  (unit-vector components; 862 rows, frozen ones included),
  against 6.8e-12 through the stored ``K``: the online decoder ran the spike-space
  ``M2, m0`` in double precision. The first bin after each replayed run is off by at
  least 0.027 (it belongs to another trial). The fitted targets agree across trials
  to 8e-12 mm and are single-precision numbers (to 1.4e-12): ``+-151.6399994`` =
  float32(151.64) on the x axis, ``+-151.6400147`` on the y axis and float32
  neighbours of 107.21 on the diagonals.
* ``dt`` = 0.045 s (45 ms bins).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import scipy.io
import scipy.linalg
from numpy.typing import ArrayLike, NDArray

from neurodl._validate import check_int, check_option, check_positive
from neurodl.data.registry import dataset_file
from neurodl.errors import FormatError, NonFiniteError, ShapeError, ValidationError

__all__ = [
    "BLOCKS",
    "BLOCK_MAPPING",
    "MAPPINGS",
    "FAKalmanMapping",
    "GolubCloud",
    "GolubSession",
    "TrialStartFit",
    "fit_trial_starts",
    "load_golub_session",
    "mapping_differences",
    "reproduce_session",
    "steady_state_kalman_gain",
]

Array = NDArray[np.float64]

BLOCKS = ("beforeLearning", "afterLearning")
"""The two blocks of the session, as named in the file."""

MAPPINGS = ("intuitive", "perturbed")
"""The two BCI mappings of the session."""

BLOCK_MAPPING = {"beforeLearning": "intuitive", "afterLearning": "perturbed"}
"""The mapping that drove the cursor online in each block."""


def _frozen(a: ArrayLike, name: str, shape: tuple[int | None, ...]) -> Array:
    """Return ``a`` as a read-only float64 copy after checking shape and finiteness."""
    arr = np.array(a, dtype=np.float64)
    if arr.ndim != len(shape) or any(
        s is not None and s != n for s, n in zip(shape, arr.shape, strict=True)
    ):
        want = "(" + ", ".join("n" if s is None else str(s) for s in shape) + ")"
        raise ShapeError(f"{name!r} must have shape {want}; got shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise NonFiniteError(f"{name!r} must be finite; it holds NaN or infinity.")
    arr.setflags(write=False)
    return arr


def steady_state_kalman_gain(
    A: ArrayLike, C: ArrayLike, Q: ArrayLike, R: ArrayLike
) -> tuple[Array, Array]:
    """Return the steady-state Kalman gain and predicted-state covariance.

    For ``x_t = A x_{t-1} + w``, ``y_t = C x_t + r`` with ``w ~ N(0, Q)`` and
    ``r ~ N(0, R)``, the predicted covariance ``P`` solves the discrete algebraic
    Riccati equation ``P = A (P - P C' (C P C' + R)^-1 C P) A' + Q`` and the gain is
    ``K = P C' (C P C' + R)^-1`` (the limit of the filter's gain from any start).

    Parameters
    ----------
    A : array_like, shape (n, n)
        State transition.
    C : array_like, shape (m, n)
        Observation matrix.
    Q : array_like, shape (n, n)
        State noise covariance (symmetric, positive semi-definite).
    R : array_like, shape (m, m)
        Observation noise covariance (symmetric, positive definite).

    Returns
    -------
    K : ndarray, shape (n, m)
        Steady-state gain.
    P : ndarray, shape (n, n)
        Steady-state predicted (prior) state covariance.

    Raises
    ------
    ShapeError
        If the shapes do not fit together.
    ValidationError
        If the Riccati equation has no stabilising solution.
    """
    a = np.asarray(A, dtype=np.float64)
    c = np.asarray(C, dtype=np.float64)
    q = np.asarray(Q, dtype=np.float64)
    r = np.asarray(R, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ShapeError(f"'A' must be square (n, n); got shape {a.shape}.")
    n = a.shape[0]
    if c.ndim != 2 or c.shape[1] != n:
        raise ShapeError(f"'C' must have shape (m, {n}); got shape {c.shape}.")
    m = c.shape[0]
    if q.shape != (n, n):
        raise ShapeError(f"'Q' must have shape ({n}, {n}); got shape {q.shape}.")
    if r.shape != (m, m):
        raise ShapeError(f"'R' must have shape ({m}, {m}); got shape {r.shape}.")
    try:
        p = scipy.linalg.solve_discrete_are(a.T, c.T, q, r)
    except (ValueError, np.linalg.LinAlgError) as exc:
        raise ValidationError(
            f"the Riccati equation of this Kalman filter has no stabilising "
            f"solution: {exc}"
        ) from exc
    s = c @ p @ c.T + r
    k = np.linalg.solve(s.T, c @ p.T).T  # P C' S^-1 with S symmetric
    return k, p


@dataclass(frozen=True, eq=False)
class FAKalmanMapping:
    """A factor-analysis + steady-state velocity Kalman filter BCI mapping.

    Shapes: ``q`` neural units, ``k`` factors, 2 velocity components (mm/s). All
    arrays are read-only float64. The file's names are given in brackets.

    Attributes
    ----------
    name : str
        ``"intuitive"`` or ``"perturbed"`` (or any label).
    spike_mean : ndarray, shape (q,)
        Mean spike count per bin [``mu_u``].
    spike_scale : ndarray, shape (q,)
        1 / standard deviation of each unit's counts: ``x = spike_scale * (u -
        spike_mean)`` are the z-scored counts [diagonal of ``Sigma_u``].
    loadings : ndarray, shape (q, k)
        Factor-analysis loadings of the z-scored counts [``L``].
    uniquenesses : ndarray, shape (q,)
        Factor-analysis private variances [``Ph``].
    beta : ndarray, shape (k, q)
        Posterior-mean map ``L' (L L' + Psi)^-1`` [``beta``].
    factor_mean : ndarray, shape (k,)
        Mean of the factors on the calibration data (about 1e-16 here) [``mu``];
        not used by the decoder.
    factor_scale : ndarray, shape (k,)
        1 / standard deviation of each factor [diagonal of ``Sigma_z``].
    permutation : ndarray, shape (k, k)
        Factor permutation (identity for the intuitive mapping, the shuffle for a
        within-manifold perturbation) [``eta``].
    orth_scale : ndarray, shape (k,)
        Singular values of the loadings, ``L = U diag(orth_scale) V'`` [``D``].
    orth_rotation : ndarray, shape (k, k)
        Right singular vectors ``V`` of the loadings [``V``].
    A, b, Q : ndarray, shapes (2, 2), (2,), (2, 2)
        Velocity dynamics ``v_t = A v_{t-1} + b + w``, ``w ~ N(0, Q)``.
    C, d, R : ndarray, shapes (k, 2), (k,), (k, k)
        Observation model ``y_t = C v_t + d + r``, ``r ~ N(0, R)``, where ``y_t`` is
        :meth:`observations`.
    gain : ndarray, shape (2, k)
        Kalman gain [``K``]. Loaded from the file it is the *stored* gain, which is
        1.1e-10 (relative) off the steady-state gain that ``M1, M2, m0`` were built
        from; :meth:`from_parameters` stores the exact steady-state gain.
    M1 : ndarray, shape (2, 2)
        Velocity carry-over ``(I - K C) A``.
    M2 : ndarray, shape (2, q)
        Spike-count to velocity weights ``K eta Sigma_z beta Sigma_u``.
    m0 : ndarray, shape (2,)
        Velocity offset ``(I - K C) b - K d - M2 mu_u``.
    dt : float
        Time step in seconds (0.045 in the bundled session).
    """

    name: str
    spike_mean: Array
    spike_scale: Array
    loadings: Array
    uniquenesses: Array
    beta: Array
    factor_mean: Array
    factor_scale: Array
    permutation: Array
    orth_scale: Array
    orth_rotation: Array
    A: Array
    b: Array
    Q: Array
    C: Array
    d: Array
    R: Array
    gain: Array
    M1: Array
    M2: Array
    m0: Array
    dt: float

    def __post_init__(self) -> None:
        q, k = np.shape(self.loadings)
        shapes: dict[str, tuple[int, ...]] = {
            "spike_mean": (q,),
            "spike_scale": (q,),
            "loadings": (q, k),
            "uniquenesses": (q,),
            "beta": (k, q),
            "factor_mean": (k,),
            "factor_scale": (k,),
            "permutation": (k, k),
            "orth_scale": (k,),
            "orth_rotation": (k, k),
            "A": (2, 2),
            "b": (2,),
            "Q": (2, 2),
            "C": (k, 2),
            "d": (k,),
            "R": (k, k),
            "gain": (2, k),
            "M1": (2, 2),
            "M2": (2, q),
            "m0": (2,),
        }
        for key, shape in shapes.items():
            object.__setattr__(self, key, _frozen(getattr(self, key), key, shape))
        object.__setattr__(self, "dt", float(check_positive("dt", float(self.dt))))

    @property
    def n_units(self) -> int:
        """Number of neural units ``q``."""
        return int(self.loadings.shape[0])

    @property
    def n_factors(self) -> int:
        """Number of factors ``k``."""
        return int(self.loadings.shape[1])

    @classmethod
    def from_parameters(
        cls,
        *,
        loadings: ArrayLike,
        uniquenesses: ArrayLike,
        spike_mean: ArrayLike,
        spike_scale: ArrayLike,
        factor_scale: ArrayLike,
        A: ArrayLike,
        Q: ArrayLike,
        C: ArrayLike,
        d: ArrayLike,
        R: ArrayLike,
        dt: float,
        b: ArrayLike | None = None,
        permutation: ArrayLike | None = None,
        factor_mean: ArrayLike | None = None,
        orth_rotation: ArrayLike | None = None,
        name: str = "mapping",
    ) -> FAKalmanMapping:
        """Build a mapping from its raw FA and Kalman parameters.

        Computes ``beta``, the SVD of the loadings, the steady-state gain
        (:func:`steady_state_kalman_gain`) and ``M1, M2, m0`` as in the module
        docstring.

        Parameters
        ----------
        loadings : array_like, shape (q, k)
            FA loadings ``L`` of the z-scored counts.
        uniquenesses : array_like, shape (q,)
            FA private variances ``Psi`` (diagonal).
        spike_mean, spike_scale : array_like, shape (q,)
            Count means and 1 / standard deviations (z-scoring).
        factor_scale : array_like, shape (k,)
            1 / standard deviation of each factor.
        A, Q : array_like, shape (2, 2)
            Velocity dynamics and its noise covariance.
        C : array_like, shape (k, 2)
            Observation matrix.
        d : array_like, shape (k,)
            Observation offset.
        R : array_like, shape (k, k)
            Observation noise covariance.
        dt : float
            Time step (s).
        b : array_like, shape (2,), optional
            Velocity dynamics offset; zeros by default.
        permutation : array_like, shape (k, k), optional
            Factor permutation; identity by default.
        factor_mean : array_like, shape (k,), optional
            Recorded factor mean (kept, not used); zeros by default.
        orth_rotation : array_like, shape (k, k), optional
            Right singular vectors of the loadings, to fix the SVD's column signs
            (which only orient :meth:`factors`); computed by default.
        name : str
            Label.

        Returns
        -------
        FAKalmanMapping
        """
        L = np.asarray(loadings, dtype=np.float64)
        if L.ndim != 2:
            raise ShapeError(f"'loadings' must be 2-D (q, k); got shape {L.shape}.")
        q, k = L.shape
        psi = _frozen(uniquenesses, "uniquenesses", (q,))
        beta = np.asarray(np.linalg.solve(L @ L.T + np.diag(psi), L).T, np.float64)
        _, s, vt = np.linalg.svd(L, full_matrices=False)
        v = vt.T if orth_rotation is None else np.asarray(orth_rotation, float)
        perm = np.eye(k) if permutation is None else np.asarray(permutation, float)
        b_ = np.zeros(2) if b is None else np.asarray(b, float)
        a_ = np.asarray(A, float)
        c_ = np.asarray(C, float)
        gain, _ = steady_state_kalman_gain(a_, c_, Q, R)
        fs = _frozen(factor_scale, "factor_scale", (k,))
        ss = _frozen(spike_scale, "spike_scale", (q,))
        mu_u = _frozen(spike_mean, "spike_mean", (q,))
        d_ = _frozen(d, "d", (k,))
        ikc = np.eye(2) - gain @ c_
        m2 = gain @ perm @ (fs[:, None] * beta) * ss[None, :]
        return cls(
            name=name,
            spike_mean=mu_u,
            spike_scale=ss,
            loadings=L,
            uniquenesses=psi,
            beta=beta,
            factor_mean=_frozen(
                np.zeros(k) if factor_mean is None else factor_mean, "factor_mean", (k,)
            ),
            factor_scale=fs,
            permutation=perm,
            orth_scale=s,
            orth_rotation=v,
            A=a_,
            b=b_,
            Q=_frozen(Q, "Q", (2, 2)),
            C=c_,
            d=d_,
            R=_frozen(R, "R", (k, k)),
            gain=gain,
            M1=ikc @ a_,
            M2=m2,
            m0=ikc @ b_ - gain @ d_ - m2 @ mu_u,
            dt=dt,
        )

    def rebuild(self) -> FAKalmanMapping:
        """Return the mapping rebuilt from this one's raw parameters.

        ``beta``, ``gain``, ``M1``, ``M2``, ``m0`` and ``orth_scale`` are recomputed
        (:meth:`from_parameters`) from ``loadings, uniquenesses, spike_mean,
        spike_scale, factor_scale, permutation, A, b, Q, C, d, R``; compare with
        :func:`mapping_differences`.
        """
        return FAKalmanMapping.from_parameters(
            loadings=self.loadings,
            uniquenesses=self.uniquenesses,
            spike_mean=self.spike_mean,
            spike_scale=self.spike_scale,
            factor_scale=self.factor_scale,
            A=self.A,
            Q=self.Q,
            C=self.C,
            d=self.d,
            R=self.R,
            dt=self.dt,
            b=self.b,
            permutation=self.permutation,
            factor_mean=self.factor_mean,
            orth_rotation=self.orth_rotation,
            name=self.name,
        )

    def _spikes(self, spikes: ArrayLike) -> Array:
        u = np.asarray(spikes, dtype=np.float64)
        if u.ndim != 2 or u.shape[1] != self.n_units:
            raise ShapeError(
                f"'spikes' must have shape (n_steps, {self.n_units}) (one row of "
                f"spike counts per time step); got shape {u.shape}."
            )
        if not np.all(np.isfinite(u)):
            raise NonFiniteError("'spikes' must be finite; it holds NaN or infinity.")
        return u

    def zscored(self, spikes: ArrayLike) -> Array:
        """Return z-scored counts ``Sigma_u (u_t - mu_u)``, shape (n_steps, q)."""
        return (self._spikes(spikes) - self.spike_mean) * self.spike_scale

    def latents(self, spikes: ArrayLike) -> Array:
        """Return the FA posterior means ``beta x_t``, shape (n_steps, k)."""
        return self.zscored(spikes) @ self.beta.T

    def factors(self, spikes: ArrayLike) -> Array:
        """Return the orthonormalised factors ``D V' beta x_t``, shape (n_steps, k).

        These are the paper's population activity patterns (``factorActivity`` in the
        file, its eq. 15), with ``L = U D V'``.
        """
        return (
            self.latents(spikes) @ (self.orth_scale[:, None] * self.orth_rotation.T).T
        )

    def observations(self, spikes: ArrayLike) -> Array:
        """Return the Kalman filter's observations ``eta Sigma_z beta x_t``.

        Shape (n_steps, k): the z-scored factors, permuted by the mapping.
        """
        z = self.latents(spikes) * self.factor_scale
        return z @ self.permutation.T

    def drive(
        self, spikes: ArrayLike, *, via: Literal["spikes", "factors"] = "spikes"
    ) -> Array:
        """Return the single-step velocity of each bin, shape (n_steps, 2), in mm/s.

        The term of the decoder that bin t adds, ``v_t - M1 v_{t-1}``.

        Parameters
        ----------
        spikes : array_like, shape (n_steps, q)
            Spike counts per bin.
        via : {"spikes", "factors"}
            ``"spikes"``: ``M2 u_t + m0``, what the online decoder computed.
            ``"factors"``: ``gain (y_t - d) + (I - gain C) b``, the route of the
            paper's analysis code; with the file's stored gain this is how the file's
            ``vraw_*`` were computed (they differ from ``"spikes"`` by up to 3e-8
            mm/s because the stored gain is 1.1e-10 off).

        Returns
        -------
        ndarray, shape (n_steps, 2)
        """
        check_option("via", via, ("spikes", "factors"))
        if via == "spikes":
            return self._spikes(spikes) @ self.M2.T + self.m0
        y = self.observations(spikes)
        offset = (np.eye(2) - self.gain @ self.C) @ self.b
        return (y - self.d) @ self.gain.T + offset

    def decode(self, spikes: ArrayLike, v0: ArrayLike | None = None) -> Array:
        """Run the online decoder ``v_t = M1 v_{t-1} + M2 u_t + m0``.

        Parameters
        ----------
        spikes : array_like, shape (n_steps, q)
            Spike counts of consecutive bins.
        v0 : array_like, shape (2,), optional
            Velocity state before the first bin (``v_{-1}``); zeros by default. In
            the bundled session the state is *not* reset at a trial start and is not
            stored; :func:`fit_trial_starts` estimates it from the cursor's path.

        Returns
        -------
        ndarray, shape (n_steps, 2)
            Decoded velocities ``v_t`` (mm/s). The cursor moves by ``v_t dt`` in the
            following bin.
        """
        g = self.drive(spikes, via="spikes")
        v = np.zeros(2) if v0 is None else _frozen(v0, "v0", (2,)).copy()
        out = np.empty_like(g)
        m1 = self.M1
        for t in range(g.shape[0]):
            v = m1 @ v + g[t]
            out[t] = v
        return out


def mapping_differences(a: FAKalmanMapping, b: FAKalmanMapping) -> dict[str, float]:
    """Return the largest absolute difference of each array of two mappings.

    Parameters
    ----------
    a, b : FAKalmanMapping
        Mappings of the same shapes.

    Returns
    -------
    dict of str to float
        ``{"beta": ..., "gain": ..., "M1": ..., "M2": ..., "m0": ..., ...}``, one
        entry per array field (and ``"dt"``).
    """
    if (a.n_units, a.n_factors) != (b.n_units, b.n_factors):
        raise ShapeError(
            f"mappings differ in size: (q, k) = {(a.n_units, a.n_factors)} and "
            f"{(b.n_units, b.n_factors)}."
        )
    out: dict[str, float] = {}
    for f in a.__dataclass_fields__:
        x, y = getattr(a, f), getattr(b, f)
        if isinstance(x, np.ndarray):
            out[f] = float(np.max(np.abs(x - y)))
    out["dt"] = abs(a.dt - b.dt)
    return out


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


@dataclass(frozen=True)
class TrialStartFit:
    """The cursor path of one trial start, replayed through the decoder.

    Attributes
    ----------
    block : str
        Block name.
    cloud : int
        Cloud holding the trial start (the cloud of the trial's target).
    start : int
        Row of the first frozen time step in the cloud.
    n_frozen : int
        Time steps with the cursor held at the centre (identical directions).
    n_steps : int
        Consecutive rows, from ``start``, reproduced within the tolerance (frozen
        ones included); 0 when fewer than ``n_frozen + min_moving`` fit.
    v_init : tuple of float
        Fitted velocity state at the last frozen step (mm/s): not stored in the file.
    target : tuple of float
        Fitted target position relative to the start position (mm).
    max_error : float
        Largest difference between replayed and recorded direction components over
        the ``n_steps`` rows (nan when ``n_steps`` is 0).
    next_error : float
        The same at the first row after them (nan at the next trial start or the end
        of the cloud): large when the row belongs to another trial.
    """

    block: str
    cloud: int
    start: int
    n_frozen: int
    n_steps: int
    v_init: tuple[float, float]
    target: tuple[float, float]
    max_error: float
    next_error: float


def _trial_starts(directions: Array) -> list[tuple[int, int]]:
    """Return (row, run length) of each run of >= 2 bit-identical directions."""
    same = np.all(directions[1:] == directions[:-1], axis=1)
    out = []
    i = 0
    while i < len(same):
        if same[i]:
            j = i
            while j < len(same) and same[j]:
                j += 1
            out.append((i, j - i + 1))
            i = j
        else:
            i += 1
    return out


def _replay(m1: Array, drive: Array, n_frozen: int, dt: float) -> tuple[Array, Array]:
    """Return ``a`` (n, 2) and ``B`` (n, 2, 2): cursor ``p_k = a_k + B_k v_init``."""
    n = drive.shape[0]
    a = np.zeros((n, 2))
    bm = np.zeros((n, 2, 2))
    phi = np.eye(2)  # v_{k-1} = phi v_init + h
    h = np.zeros(2)
    for k in range(n_frozen, n):
        a[k] = a[k - 1] + dt * h
        bm[k] = bm[k - 1] + dt * phi
        h = m1 @ h + drive[k]
        phi = m1 @ phi
    return a, bm


def _directions(x: Array, a: Array, bm: Array) -> Array:
    rel = x[2:] - (a + bm @ x[:2])
    return rel / np.linalg.norm(rel, axis=1, keepdims=True)


def fit_trial_starts(
    session: GolubSession,
    block: str,
    *,
    mapping: FAKalmanMapping | None = None,
    via: Literal["spikes", "factors"] = "spikes",
    tol: float = 1e-9,
    min_moving: int = 5,
) -> tuple[TrialStartFit, ...]:
    """Replay each trial start's cursor path through the decoder and fit it.

    A trial starts with the cursor frozen at the centre (``p = 0``; the recorded
    directions are bit-identical). Afterwards ``p_k = p_{k-1} + v_{k-1} dt`` with
    ``v_k = M1 v_{k-1} + drive_k`` and the recorded direction is
    ``(T - p_k) / |T - p_k|``. The velocity state ``v_init`` at the last frozen step
    and the target ``T`` are not in the file; the constraint is linear in both, so
    they are fitted by least squares on the first rows, and the run is extended
    row by row while every replayed direction stays within ``tol``.

    Parameters
    ----------
    session : GolubSession
        A loaded session.
    block : {"beforeLearning", "afterLearning"}
        Block to replay.
    mapping : FAKalmanMapping, optional
        Mapping to replay with; defaults to the block's online mapping.
    via : {"spikes", "factors"}
        Which drive to use (:meth:`FAKalmanMapping.drive`).
    tol : float
        Largest direction-component error accepted for a row.
    min_moving : int
        Rows after the freeze needed to count a trial start as checked (5 leaves
        the fit of 4 unknowns over-determined by 2 equations).

    Returns
    -------
    tuple of TrialStartFit
        One per trial start found (50 per block in the bundled session).
    """
    check_option("block", block, BLOCKS)
    check_option("via", via, ("spikes", "factors"))
    check_positive("tol", tol)
    check_int("min_moving", min_moving, minimum=3)
    m = session.mapping(BLOCK_MAPPING[block]) if mapping is None else mapping
    out: list[TrialStartFit] = []
    for cloud in session.clouds(block):
        e = cloud.cursor_to_target
        drive = m.drive(cloud.spikes, via=via)
        starts = _trial_starts(e)
        for j, (s, nf) in enumerate(starts):
            stop = starts[j + 1][0] if j + 1 < len(starts) else cloud.n_steps
            a, bm = _replay(m.M1, drive[s:stop], nf, m.dt)
            ed = e[s:stop]
            nrm = np.stack([-ed[:, 1], ed[:, 0]], axis=1)  # normals: n . (T - p) = 0
            rows = np.concatenate([-np.einsum("ki,kij->kj", nrm, bm), nrm], axis=1)
            rhs = np.einsum("ki,ki->k", nrm, a)
            best: tuple[int, Array, float] | None = None
            for n in range(nf + min_moving, stop - s + 1):
                x = np.linalg.lstsq(rows[:n], rhs[:n], rcond=None)[0]
                err = float(np.max(np.abs(_directions(x, a[:n], bm[:n]) - ed[:n])))
                if err > tol:
                    break
                best = (n, x, err)
            if best is None:
                nan2 = (math.nan, math.nan)
                out.append(
                    TrialStartFit(
                        block=block,
                        cloud=cloud.index,
                        start=s,
                        n_frozen=nf,
                        n_steps=0,
                        v_init=nan2,
                        target=nan2,
                        max_error=math.nan,
                        next_error=math.nan,
                    )
                )
                continue
            n, x, err = best
            nxt = math.nan
            if s + n < stop:
                pred = _directions(x, a[n : n + 1], bm[n : n + 1])
                nxt = float(np.max(np.abs(pred - ed[n : n + 1])))
            out.append(
                TrialStartFit(
                    block=block,
                    cloud=cloud.index,
                    start=s,
                    n_frozen=nf,
                    n_steps=n,
                    v_init=(float(x[0]), float(x[1])),
                    target=(float(x[2]), float(x[3])),
                    max_error=err,
                    next_error=nxt,
                )
            )
    return tuple(out)


def reproduce_session(
    session: GolubSession,
    block: str = "beforeLearning",
    *,
    mapping: str | None = None,
) -> dict[str, Any]:
    """Decode every time step of a block and compare with the file.

    Parameters
    ----------
    session : GolubSession
        A loaded session.
    block : {"beforeLearning", "afterLearning"}
        Block to reproduce.
    mapping : {"intuitive", "perturbed"}, optional
        Mapping to decode with; defaults to the one that drove the cursor in
        ``block`` (intuitive before, perturbed after learning).

    Returns
    -------
    dict
        ``block``, ``mapping``, ``n_clouds``, ``n_steps``;
        ``per_cloud_max_abs_diff`` (list) and ``max_abs_diff``: the single-step
        velocities ``drive(via="factors")`` against the stored ``vraw_*`` (mm/s);
        ``velocity_scale`` (largest stored speed component, mm/s) and
        ``relative_error`` (``max_abs_diff / velocity_scale``);
        ``online_max_abs_diff``: the online drive ``M2 u_t + m0`` against ``vraw_*``;
        ``gain_explained_max_abs_diff``: that difference minus
        ``(K_file - K_exact)(y_t - d)``;
        ``factors_max_abs_diff``: :meth:`FAKalmanMapping.factors` against
        ``factorActivity``; and for the block's online mapping only,
        ``n_trials`` (trial starts found), ``n_trials_checked``,
        ``n_cursor_steps_checked`` and ``cursor_max_error`` from
        :func:`fit_trial_starts` (recorded online cursor directions, unit vectors).
    """
    check_option("block", block, BLOCKS)
    name = BLOCK_MAPPING[block] if mapping is None else mapping
    m = session.mapping(name)
    exact_gain = m.rebuild().gain
    per_cloud: list[float] = []
    online = explained = fac = scale = 0.0
    n_steps = 0
    for cloud in session.clouds(block):
        rec = cloud.recorded_velocity(name)
        mine = m.drive(cloud.spikes, via="factors")
        per_cloud.append(float(np.max(np.abs(mine - rec))))
        live = m.drive(cloud.spikes, via="spikes")
        online = max(online, float(np.max(np.abs(live - rec))))
        dev = (m.observations(cloud.spikes) - m.d) @ (m.gain - exact_gain).T
        explained = max(explained, float(np.max(np.abs(rec - live - dev))))
        fac = max(fac, float(np.max(np.abs(m.factors(cloud.spikes) - cloud.factors))))
        scale = max(scale, float(np.max(np.abs(rec))))
        n_steps += cloud.n_steps
    worst = max(per_cloud)
    out: dict[str, Any] = {
        "block": block,
        "mapping": name,
        "n_clouds": len(per_cloud),
        "n_steps": n_steps,
        "per_cloud_max_abs_diff": per_cloud,
        "max_abs_diff": worst,
        "velocity_scale": scale,
        "relative_error": worst / scale if scale > 0 else math.nan,
        "online_max_abs_diff": online,
        "gain_explained_max_abs_diff": explained,
        "factors_max_abs_diff": fac,
    }
    if name == BLOCK_MAPPING[block]:
        fits = fit_trial_starts(session, block, mapping=m)
        ok = [f for f in fits if f.n_steps > 0]
        out["n_trials"] = len(fits)
        out["n_trials_checked"] = len(ok)
        out["n_cursor_steps_checked"] = sum(f.n_steps for f in ok)
        out["cursor_max_error"] = max((f.max_error for f in ok), default=math.nan)
    return out
