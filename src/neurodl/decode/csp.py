"""Common spatial patterns (CSP) of neurodl's own: MNE's algorithm, not its bookkeeping.

:class:`CSP` computes what ``mne.decoding.CSP(n_components, reg, log=True,
norm_trace, rank, component_order)`` computes with its default covariance
estimate (``cov_est="concat"``) and restriction (``restr_type="restricting"``),
as MNE 1.13 does it:

1. The rank ``r`` of the data: stated (``rank``), or estimated in every fit from
   the singular values of all training trials side by side (MNE's ``rank=None``:
   those above ``n * max(s) * eps`` count).
2. One covariance per class from its trials concatenated in time, uncentred and
   divided by ``n_samples - 1`` (MNE's ``"empirical"``), with the data first
   projected on the ``r`` leading eigenvectors of that class's matrix when
   ``r`` is below the number of channels (MNE's rank reduction). ``reg`` shrinks
   it in that ``r``-dimensional space (a float, or ``"oas"`` / ``"ledoit_wolf"``,
   as MNE's ``_ShrunkCovariance`` does).
3. The class covariances restricted to the ``r`` leading eigenvectors of their
   mean; two classes: the generalized eigenvectors of ``(S, S + R)``
   (``scipy.linalg.eigh``, normalised by ``wᵀ(S + R)w = 1``); more classes:
   Pham's approximate joint diagonalisation (Pham 2001, MNE's sweeps and
   stopping rule), each filter normalised by the mean covariance.
4. Filters ordered by ``component_order``: ``"mutual_info"`` (two classes: by
   ``|λ - 0.5|``, largest first; more: by the mutual-information approximation of
   Grosse-Wentrup & Buss 2008) or ``"alternate"``. Patterns are the
   pseudo-inverse of the filter matrix.

What it leaves out is MNE's per-fit ``Info``, ``RawArray`` and rank bookkeeping
(and the rank-estimation SVD when the rank is stated); the class covariances come
from one batched product of the trials. Its ``filters_``, ``patterns_`` and
log-power features equal MNE's to ~1e-10 relative, up to each filter's sign, on
the bundled runs and other eegmmidb subjects, with more than two classes at full
rank too (``tests/decode/test_csp.py`` runs MNE's CSP beside it). Two cases
differ from MNE on purpose:

* more than two classes below full rank: MNE restricts to an arbitrary basis of
  the subspace (the eigenvectors of a projector, whose eigenvalue 1 is ``r``-fold:
  the last bits of the covariances decide which basis LAPACK returns) and its 15
  sweeps of Pham's algorithm do not wash that out, so its filters change by O(1)
  when the trials are merely reordered. neurodl starts from the mean
  covariance's own eigenvectors, and its filters do not (to ~1e-5);
* ``reg="oas"`` or ``"ledoit_wolf"`` below full rank: MNE estimates the
  shrinkage on the rank-reduced data with its first column repeated
  ``n_channels - r + 1`` times (channel picks mapped into the reduced space
  through ``np.searchsorted``), neurodl on the reduced data as they are. At full
  rank the two agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import scipy.linalg
from sklearn.base import BaseEstimator, TransformerMixin

from neurodl.decode.eeg import validate_epochs, validate_fit_epochs
from neurodl.errors import ValidationError

__all__ = ["CSP"]

_REG_NAMES = ("empirical", "oas", "ledoit_wolf")
_ORDERS = ("mutual_info", "alternate")


class CSP(TransformerMixin, BaseEstimator):
    """Common spatial patterns: log-variance of the best ``n_components`` filters.

    Parameters
    ----------
    n_components : int
        Filters used by :meth:`transform` (the first of ``filters_``).
    reg : None, float, "empirical", "oas" or "ledoit_wolf"
        Covariance estimate: None or ``"empirical"`` (sample covariance), a float
        in [0, 1] (that much shrinkage to the mean eigenvalue) or a shrinkage
        chosen by OAS or Ledoit-Wolf (scikit-learn's), as MNE's ``reg``.
    log : bool
        True: features are the log of each component's mean power (MNE's
        ``log=True``); False: the power z-scored by its training mean and
        standard deviation (MNE's ``log=False``).
    norm_trace : bool
        Divide each class covariance by its trace (MNE's ``norm_trace``).
    rank : None, "full", "info", int or dict
        Rank of the data. None estimates it in every fit (as MNE does); ``"full"``
        and ``"info"`` mean the number of channels (MNE without an ``Info``); an
        int or a dict such as ``{"eeg": 63}`` (summed) states it, which skips the
        estimate and gives the same filters when it is right.
    component_order : "mutual_info" or "alternate"
        Order of the filters (``"alternate"`` needs two classes).

    Attributes
    ----------
    filters_ : ndarray, shape (rank, n_channels)
        All spatial filters, in ``component_order``.
    patterns_ : ndarray, shape (rank, n_channels)
        Their patterns (rows of the pseudo-inverse of ``filters_.T``).
    evals_ : ndarray, shape (rank,) or None
        Generalized eigenvalues (two classes), in the filters' order.
    rank_ : int
        The rank used.
    classes_ : ndarray
        Class labels, in the order of their covariances.
    mean_, std_ : ndarray, shape (n_components,)
        Mean and standard deviation of the training power of each component.
    """

    def __init__(
        self,
        n_components: int = 4,
        *,
        reg: Any = None,
        log: bool = True,
        norm_trace: bool = False,
        rank: Any = None,
        component_order: str = "mutual_info",
    ) -> None:
        self.n_components = n_components
        self.reg = reg
        self.log = log
        self.norm_trace = norm_trace
        self.rank = rank
        self.component_order = component_order

    # ----------------------------------------------------------------- fitting
    def fit(self, X: Any, y: Any) -> CSP:
        """Estimate the filters from trials ``X`` (trials, channels, times)."""
        self._fit(X, y)
        return self

    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> np.ndarray:
        """Fit, then return the features of ``X`` (without computing them twice)."""
        return self._features(self._fit(X, y))

    def _fit(self, X: Any, y: Any) -> np.ndarray:
        """Fit; return the training power, shape (n_trials, n_components)."""
        self._check_params()
        arr, y_idx = validate_fit_epochs(self, X, y, "for CSP")
        return self._fit_epochs(arr, y_idx)

    def _fit_epochs(self, arr: np.ndarray, y_idx: np.ndarray) -> np.ndarray:
        """Fit on validated float64 trials and class indices (two or more classes).

        Returns the training power, shape (n_trials, n_components).
        """
        self._check_params()
        n_classes = int(y_idx.max()) + 1
        if n_classes > 2 and self.component_order == "alternate":
            raise ValidationError(
                f"'component_order'='alternate' needs two classes; 'y' holds "
                f"{n_classes}. Use 'mutual_info'."
            )
        filters, patterns, evals, rank = csp_filters(
            arr,
            y_idx,
            n_classes,
            reg=self.reg,
            norm_trace=self.norm_trace,
            rank=self.rank,
            component_order=self.component_order,
        )
        self.filters_, self.patterns_, self.evals_, self.rank_ = (
            filters,
            patterns,
            evals,
            rank,
        )
        power = self._power(arr)
        self.mean_ = power.mean(axis=0)
        self.std_ = power.std(axis=0)
        return power

    def _check_params(self) -> None:
        n = self.n_components
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ValidationError(f"'n_components' must be an integer >= 1; got {n!r}.")
        _check_reg(self.reg)
        for name in ("log", "norm_trace"):
            if not isinstance(getattr(self, name), bool | np.bool_):
                raise ValidationError(
                    f"{name!r} must be True or False; got {getattr(self, name)!r}."
                )
        if self.component_order not in _ORDERS:
            raise ValidationError(
                f"'component_order' must be one of {', '.join(map(repr, _ORDERS))}; "
                f"got {self.component_order!r}."
            )
        _stated_rank(self.rank, None)

    # --------------------------------------------------------------- transform
    def _power(self, arr: np.ndarray) -> np.ndarray:
        """Mean power of each of the first ``n_components`` CSP components."""
        w = self.filters_[: self.n_components]
        sources = np.matmul(w, arr)  # (trials, components, times)
        return np.asarray(np.einsum("nkt,nkt->nk", sources, sources)) / arr.shape[2]

    def _features(self, power: np.ndarray) -> np.ndarray:
        if self.log:
            # floored at the smallest normal float: a silent component gives a
            # large negative feature instead of -inf
            return np.log(np.maximum(power, np.finfo(np.float64).tiny))
        return np.asarray((power - self.mean_) / self.std_)

    def _validate_transform(self, X: Any) -> np.ndarray:
        return validate_epochs(self, X)

    def transform(self, X: Any) -> np.ndarray:
        """Log power (or z-scored power) of each component, (n_trials, n_components)."""
        return self._features(self._power(self._validate_transform(X)))

    def sources(self, X: Any) -> np.ndarray:
        """Return the trials in CSP space, shape (n_trials, n_components, n_times)."""
        arr = self._validate_transform(X)
        return np.asarray(np.matmul(self.filters_[: self.n_components], arr))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.target_tags.required = True
        return tags


# ------------------------------------------------------------------ the algorithm
def _check_reg(reg: Any) -> None:
    if reg is None or (isinstance(reg, str) and reg in _REG_NAMES):
        return
    if isinstance(reg, bool) or not isinstance(reg, int | float | np.number):
        raise ValidationError(
            f"'reg' must be None, a float in [0, 1] or one of "
            f"{', '.join(map(repr, _REG_NAMES))}; got {reg!r}."
        )
    if not 0.0 <= float(reg) <= 1.0:
        raise ValidationError(f"'reg' as a shrinkage must be in [0, 1]; got {reg!r}.")


def _stated_rank(rank: Any, n_channels: int | None) -> int | None:
    """Return the rank that ``rank`` states (None: estimate it), checked."""
    if rank is None:
        return None
    if isinstance(rank, str):
        if rank not in ("full", "info"):
            raise ValidationError(
                f"'rank' must be None, 'full', 'info', an integer or a dict of "
                f"integers; got {rank!r}."
            )
        return n_channels
    values = list(rank.values()) if isinstance(rank, Mapping) else [rank]
    if not values or any(
        isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1
        for v in values
    ):
        raise ValidationError(
            f"'rank' must be None, 'full', 'info', an integer >= 1 or a dict of "
            f"them (such as {{'eeg': 63}}); got {rank!r}."
        )
    total = int(sum(values))
    if n_channels is not None and total > n_channels:
        raise ValidationError(
            f"'rank' = {total} exceeds the number of channels ({n_channels})."
        )
    return total


def estimate_rank(data: np.ndarray) -> int:
    """Numerical rank of ``data`` (channels, samples) as MNE estimates it.

    Singular values above ``len(s) * max(s) * eps`` count (MNE's ``tol="auto"``).
    """
    # the transpose of C-ordered (channels, samples) is Fortran-ordered, which
    # LAPACK takes without a copy, through QR rather than LQ: twice as fast
    s = scipy.linalg.svdvals(data.T)
    tol = s.size * s.max() * np.finfo(np.float64).eps
    return int(np.sum(s > tol))


def _class_covariance(
    data: np.ndarray | None,
    rank: int,
    reg: Any,
    *,
    gram: np.ndarray | None = None,
    n_samples: int = 0,
) -> np.ndarray:
    """MNE's concatenated ``"empirical"`` (or shrunk) covariance of ``data`` (c, s).

    Uncentred, divided by ``n_samples - 1``. Below full rank the data are first
    projected on the ``rank`` leading eigenvectors of ``data dataᵀ``, and any
    shrinkage happens in that subspace. ``gram`` (``data dataᵀ``) and
    ``n_samples`` may stand in for ``data`` unless ``reg`` is OAS or Ledoit-Wolf.
    """
    if gram is None:
        assert data is not None
        gram, n_samples = data @ data.T, data.shape[1]
    n_ch = gram.shape[0]
    scale = 1.0 / max(n_samples - 1, 1)
    if rank >= n_ch and (reg is None or reg == "empirical"):
        return np.asarray(gram * scale)
    if rank >= n_ch:
        basis, cov_r = None, gram
    else:
        vals, vecs = scipy.linalg.eigh(gram, driver="evd")
        basis = vecs[:, n_ch - rank :]  # (c, r), orthonormal columns
        cov_r = np.diag(vals[n_ch - rank :])  # the gram in that basis
    if reg is not None and reg != "empirical":
        if isinstance(reg, str):
            from sklearn.covariance import ledoit_wolf, oas

            assert data is not None
            projected = data.T if basis is None else data.T @ basis
            estimator = oas if reg == "oas" else ledoit_wolf
            shrinkage = float(estimator(projected, assume_centered=True)[1])
        else:
            shrinkage = float(reg)
        dim = cov_r.shape[0]
        mu = np.trace(cov_r) / dim
        cov_r = (1.0 - shrinkage) * cov_r
        cov_r.flat[:: dim + 1] += shrinkage * mu
    cov = cov_r if basis is None else basis @ cov_r @ basis.T
    return np.asarray(cov * scale)


def _class_covariances(
    arr: np.ndarray, y_idx: np.ndarray, n_classes: int, rank: int | None, reg: Any
) -> tuple[np.ndarray, int]:
    """Covariance of each class (MNE's "concat": its trials side by side).

    Returns them, shape (n_classes, c, c), and the rank (estimated from all
    trials when ``rank`` is None).
    """
    n_trials, n_ch, n_times = arr.shape
    blocks: list[np.ndarray | None] = [None] * n_classes
    if rank is None or (isinstance(reg, str) and reg != "empirical"):
        # channels x (trials * times), the trials grouped by class
        order = np.argsort(y_idx, kind="stable")
        data = arr[order].transpose(1, 0, 2).reshape(n_ch, -1)
        if rank is None:
            rank = estimate_rank(data)
        bounds = np.cumsum(np.bincount(y_idx, minlength=n_classes)) * n_times
        blocks = list(np.split(data, bounds[:-1], axis=1))
    rank = max(rank, 1)
    # each class's data dataᵀ as the sum of its trials' own
    per_trial = np.matmul(arr, arr.transpose(0, 2, 1)).reshape(n_trials, -1)
    onehot = (y_idx == np.arange(n_classes)[:, None]).astype(np.float64)
    grams = (onehot @ per_trial).reshape(n_classes, n_ch, n_ch)
    counts = onehot.sum(axis=1).astype(int) * n_times
    covs = np.stack(
        [
            _class_covariance(block, rank, reg, gram=gram, n_samples=int(n))
            for block, gram, n in zip(blocks, grams, counts, strict=True)
        ]
    )
    return covs, rank
    # no need for the data side by side: sum the trials' own Gram matrices
    per_trial = np.matmul(arr, arr.transpose(0, 2, 1)).reshape(n_trials, -1)
    onehot = (y_idx == np.arange(n_classes)[:, None]).astype(np.float64)
    grams = (onehot @ per_trial).reshape(n_classes, n_ch, n_ch)
    counts = onehot.sum(axis=1) * n_times
    covs = np.stack(
        [
            _class_covariance(None, rank, reg, gram=g, n_samples=int(n))
            for g, n in zip(grams, counts, strict=True)
        ]
    )
    return covs, rank


def _restriction(c_ref: np.ndarray, rank: int) -> np.ndarray | None:
    """Return the ``rank`` leading eigenvectors of ``c_ref`` (c, r); None at full rank.

    Two classes: any orthonormal basis of that subspace gives the same filters.
    More classes: the joint diagonalisation starts from this basis (see the
    module's notes on MNE's).
    """
    n_ch = c_ref.shape[0]
    if rank >= n_ch:
        return None
    _, vecs = scipy.linalg.eigh(c_ref, driver="evd")
    return np.asarray(vecs[:, n_ch - rank :])


def _ajd_pham(covs: np.ndarray, eps: float = 1e-6, max_iter: int = 15) -> np.ndarray:
    """Pham's (2001) approximate joint diagonaliser ``B`` of ``covs`` (k, n, n).

    The same pairwise (Jacobi-like) sweeps, stopping rule and arithmetic as MNE's
    ``_ajd_pham`` (adapted there from pyRiemann); ``B covs Bᵀ`` are near diagonal.
    """
    A = np.array(covs, dtype=np.float64)
    k, n, _ = A.shape
    B = np.eye(n)
    epsilon = n * (n - 1) * eps
    for _ in range(max_iter):
        decr = 0.0
        for i in range(1, n):
            for j in range(i):
                c1 = A[:, i, i]
                c2 = A[:, j, j]
                off = A[:, j, i]
                g12 = float(np.mean(off / c1))
                g21 = float(np.mean(off / c2))
                omega21 = float(np.mean(c1 / c2))
                omega12 = float(np.mean(c2 / c1))
                omega = np.sqrt(omega12 * omega21)
                tmp = np.sqrt(omega21 / omega12)
                tmp1 = (tmp * g12 + g21) / (omega + 1)
                tmp2 = (tmp * g12 - g21) / max(omega - 1, 1e-9)
                h12 = tmp1 + tmp2
                h21 = (tmp1 - tmp2) / tmp
                decr += k * (g12 * h12 + g21 * h21) / 2.0
                # MNE's complex square root: its real part, 0 for a negative radicand
                t = 1.0 + np.sqrt(max(1.0 - h12 * h21, 0.0))
                tau = np.array([[1.0, -h12 / t], [-h21 / t, 1.0]])
                pair = [i, j]
                A[:, :, pair] = A[:, :, pair] @ tau.T
                A[:, pair, :] = tau @ A[:, pair, :]
                B[pair, :] = tau @ B[pair, :]
        if decr < epsilon:
            break
    return B


def _singular(rank: int, n_channels: int) -> ValidationError:
    return ValidationError(
        f"CSP: the class covariances are singular at rank {rank} of {n_channels} "
        "channels (average-referenced or otherwise rank-deficient data?); state the "
        "data's 'rank' (None estimates it) or regularise with 'reg'."
    )


def _mutual_info(covs: np.ndarray, evecs: np.ndarray) -> np.ndarray:
    """MNE's mutual-information score of each filter (column of ``evecs``)."""
    quad = np.einsum("ci,kcd,di->ki", evecs, covs, evecs)  # (classes, filters)
    prob = 1.0 / covs.shape[0]  # "concat" weighs every class alike
    aa = (prob * np.log(np.sqrt(quad))).sum(axis=0)
    bb = (prob * (quad**2 - 1)).sum(axis=0)
    return np.asarray(-(aa + (3.0 / 16) * bb**2))


def csp_filters(
    arr: np.ndarray,
    y_idx: np.ndarray,
    n_classes: int,
    *,
    reg: Any = None,
    norm_trace: bool = False,
    rank: Any = None,
    component_order: str = "mutual_info",
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, int]:
    """CSP filters, patterns, eigenvalues and rank of validated trials.

    ``arr`` is float64 (trials, channels, times), ``y_idx`` class indices
    ``0 .. n_classes - 1``. Returns ``filters`` and ``patterns`` (rank, channels),
    the eigenvalues (two classes; else None) and the rank used.
    """
    n_ch = arr.shape[1]
    covs, r = _class_covariances(arr, y_idx, n_classes, _stated_rank(rank, n_ch), reg)
    if norm_trace:
        covs /= np.trace(covs, axis1=1, axis2=2)[:, None, None]
    c_ref = covs.mean(axis=0)
    basis = _restriction(c_ref, r)
    restricted = covs if basis is None else basis.T @ covs @ basis
    evals: np.ndarray | None
    if n_classes == 2:
        s_r, total = restricted[0], restricted[0] + restricted[1]
        try:
            evals, w = scipy.linalg.eigh(s_r, total)
        except np.linalg.LinAlgError as err:
            raise _singular(r, n_ch) from err
        if component_order == "mutual_info":
            order = np.argsort(np.abs(evals - 0.5))[::-1]
        else:  # alternate: largest, smallest, second largest, ...
            i = np.argsort(evals)
            order = np.empty_like(i)
            order[1::2] = i[: len(i) // 2]
            order[0::2] = i[len(i) // 2 :][::-1]
        evals, w = evals[order], w[:, order]
        # wᵀ (S + R) w = I, so the inverse of w is wᵀ (S + R)
        inverse = w.T @ total
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            w = _ajd_pham(restricted).T
            mean_cov = restricted.mean(axis=0)
            w = w / np.sqrt(np.einsum("ci,cd,di->i", w, mean_cov, w))
            evecs = w if basis is None else basis @ w
            info = _mutual_info(covs, evecs)
        if not (np.isfinite(w).all() and np.isfinite(info).all()):
            raise _singular(r, n_ch)
        evals = None
        w = w[:, np.argsort(info)[::-1]]
        try:
            inverse = np.linalg.inv(w)
        except np.linalg.LinAlgError as err:
            raise _singular(r, n_ch) from err
    filters = w.T if basis is None else (basis @ w).T
    # pinv(basis @ w) = w⁻¹ basisᵀ: basis has orthonormal columns
    patterns = inverse if basis is None else inverse @ basis.T
    return (
        np.ascontiguousarray(filters),
        np.ascontiguousarray(patterns),
        evals,
        int(r),
    )
