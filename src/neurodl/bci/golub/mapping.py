"""The FA + Kalman mapping of Golub et al. (2018): its parts, gain and drive."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.linalg
from numpy.typing import ArrayLike, NDArray

from neurodl._validate import check_option, check_positive
from neurodl.errors import NonFiniteError, ShapeError, ValidationError

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
