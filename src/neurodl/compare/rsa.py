"""Representational similarity analysis (RSA) as pure functions on arrays.

Every function accepts NumPy arrays or torch tensors, computes in float64 NumPy
and returns NumPy arrays (or Python floats). Definitions follow rsatoolbox
(``rsatoolbox.rdm.calc_rdm``, ``rsatoolbox.rdm.compare``,
``rsatoolbox.data.noise.prec_from_residuals`` and
``rsatoolbox.inference.boot_noise_ceiling``) so results agree with it to
rounding error, but all condition pairs are computed at once with matrix
products.

RDMs are passed either as square ``(n_cond, n_cond)`` matrices or as condensed
upper-triangle vectors of length ``n_cond * (n_cond - 1) / 2`` (row-major, the
order of :func:`scipy.spatial.distance.squareform`); stacks add a leading
axis.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> patterns = rng.standard_normal((4, 20))
>>> d = rdm(patterns, "correlation")
>>> d.shape
(4, 4)
>>> bool(np.allclose(square(condensed(d)), d))
True
>>> round(compare_rdms(d, d, "spearman"), 6)
1.0
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.stats
import torch

from neurodl.errors import NonFiniteError, ShapeError, ValidationError

__all__ = [
    "COMPARE_METHODS",
    "NOISE_CEILING_METHODS",
    "NOISE_METHODS",
    "RDM_METHODS",
    "compare_rdms",
    "condensed",
    "crossnobis_rdm",
    "noise_ceiling",
    "noise_precision",
    "rdm",
    "square",
]

RDM_METHODS = ("euclidean", "correlation", "cosine")
COMPARE_METHODS = (
    "spearman",
    "pearson",
    "cosine",
    "kendall_tau_a",
    "kendall_tau_b",
    "rho_a",
    "whitened_cosine",
    "whitened_pearson",
)
NOISE_CEILING_METHODS = COMPARE_METHODS[:6]
NOISE_METHODS = ("diag", "shrinkage_diag", "shrinkage_eye", "full")

_NDArray = np.ndarray[Any, np.dtype[np.float64]]


# --------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------


def _check_method(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        opts = ", ".join(map(repr, allowed))
        raise ValidationError(f"{name!r} must be one of {opts}; got {value!r}.")
    return value


def _as_float(name: str, x: Any) -> _NDArray:
    """Return ``x`` as a float64 NumPy array (tensors are detached and copied)."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().to(torch.float64).numpy()
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            f"{name!r} must be a numeric array or tensor; got {type(x).__name__} "
            f"({exc})."
        ) from None
    return arr


def _check_finite(name: str, x: _NDArray) -> _NDArray:
    bad = ~np.isfinite(x)
    if bad.any():
        n_nan = int(np.isnan(x).sum())
        n_inf = int(bad.sum()) - n_nan
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise NonFiniteError(
            f"{name!r} must be finite; got {n_nan} NaN and {n_inf} infinite "
            f"value(s) in an array of shape {x.shape} (first at index {first})."
        )
    return x


def _patterns(name: str, x: Any) -> _NDArray:
    arr = _as_float(name, x)
    if arr.ndim != 2:
        raise ShapeError(
            f"{name!r} must be 2-D (n_conditions, n_channels); got shape {arr.shape}."
        )
    if arr.shape[0] < 2 or arr.shape[1] < 1:
        raise ShapeError(
            f"{name!r} needs at least 2 rows (conditions) and 1 column "
            f"(channel); got shape {arr.shape}."
        )
    return _check_finite(name, arr)


def _labels(name: str, x: Any, n: int) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ShapeError(
            f"{name!r} must be 1-D with one label per row of 'patterns' "
            f"({n}); got shape {arr.shape}."
        )
    return arr


def _n_from_pairs(name: str, n_pairs: int) -> int:
    n = round(float(np.sqrt(1 + 8 * n_pairs) + 1) / 2)
    if n * (n - 1) // 2 != n_pairs or n < 2:
        raise ShapeError(
            f"{name!r}: a condensed RDM needs n*(n-1)/2 entries for some n >= 2; "
            f"got {n_pairs}."
        )
    return n


def _check_square(name: str, m: _NDArray) -> None:
    if m.shape[-1] != m.shape[-2]:
        raise ShapeError(
            f"{name!r} must be square (n_cond, n_cond); got shape {m.shape}."
        )
    scale = max(1.0, float(np.abs(m).max())) if m.size else 1.0
    asym = np.abs(m - np.swapaxes(m, -1, -2))
    if m.size and float(asym.max()) > 1e-8 * scale:
        idx = tuple(int(i) for i in np.unravel_index(int(asym.argmax()), m.shape))
        raise ValidationError(
            f"{name!r} must be symmetric; largest asymmetry "
            f"{float(asym.max()):.3g} at index {idx}."
        )


def _vectors(name: str, x: Any) -> tuple[_NDArray, bool]:
    """Return RDMs as a stack of condensed vectors and whether one was given.

    1-D: one condensed RDM; 2-D with equal sides: one square RDM; other 2-D: a
    stack of condensed RDMs; 3-D: a stack of square RDMs.
    """
    arr = _check_finite(name, _as_float(name, x))
    if arr.ndim == 1:
        _n_from_pairs(name, arr.shape[0])
        return arr[None, :], True
    if arr.ndim == 2 and arr.shape[0] == arr.shape[1]:
        return condensed(arr)[None, :], True
    if arr.ndim == 2:
        _n_from_pairs(name, arr.shape[1])
        return arr, False
    if arr.ndim == 3:
        return condensed(arr), False
    raise ShapeError(
        f"{name!r} must be an RDM (n_cond, n_cond) or (n_pairs,), or a stack "
        f"(n_rdms, n_cond, n_cond) or (n_rdms, n_pairs); got shape {arr.shape}."
    )


# --------------------------------------------------------------------------
# square <-> condensed
# --------------------------------------------------------------------------


def condensed(m: Any) -> _NDArray:
    """Upper triangle (above the diagonal, row-major) of square RDM(s).

    Parameters
    ----------
    m : array_like or torch.Tensor
        Symmetric ``(n, n)`` matrix or stack ``(k, n, n)``.

    Returns
    -------
    numpy.ndarray
        ``(n*(n-1)/2,)`` or ``(k, n*(n-1)/2)``.

    Raises
    ------
    ShapeError
        If ``m`` is not square.
    ValidationError
        If ``m`` is not symmetric.
    """
    arr = _as_float("rdm", m)
    if arr.ndim not in (2, 3):
        raise ShapeError(
            f"'rdm' must be (n_cond, n_cond) or (n_rdms, n_cond, n_cond); got "
            f"shape {arr.shape}."
        )
    _check_square("rdm", arr)
    iu = np.triu_indices(arr.shape[-1], k=1)
    return np.ascontiguousarray(arr[..., iu[0], iu[1]])


def square(v: Any) -> _NDArray:
    """Square symmetric RDM(s) with zero diagonal from condensed vector(s).

    Parameters
    ----------
    v : array_like or torch.Tensor
        ``(n_pairs,)`` or ``(k, n_pairs)`` with ``n_pairs = n*(n-1)/2``.

    Returns
    -------
    numpy.ndarray
        ``(n, n)`` or ``(k, n, n)``.

    Raises
    ------
    ShapeError
        If the length is not a triangular number.
    """
    arr = _as_float("rdm", v)
    if arr.ndim not in (1, 2):
        raise ShapeError(
            f"'rdm' must be condensed (n_pairs,) or (n_rdms, n_pairs); got shape "
            f"{arr.shape}."
        )
    n = _n_from_pairs("rdm", arr.shape[-1])
    out = np.zeros((*arr.shape[:-1], n, n))
    iu = np.triu_indices(n, k=1)
    out[..., iu[0], iu[1]] = arr
    out[..., iu[1], iu[0]] = arr
    return out


def _symmetrise_upper(full: _NDArray) -> _NDArray:
    """Mirror the strict upper triangle (rsatoolbox keeps only it), zero diag."""
    n = full.shape[-1]
    iu = np.triu_indices(n, k=1)
    out = np.zeros_like(full)
    out[iu] = full[iu]
    out[iu[1], iu[0]] = full[iu]
    return out


# --------------------------------------------------------------------------
# RDMs
# --------------------------------------------------------------------------


def _average_by(patterns: _NDArray, labels: np.ndarray) -> tuple[_NDArray, np.ndarray]:
    values, inverse = np.unique(labels, return_inverse=True)
    sums = np.zeros((values.shape[0], patterns.shape[1]))
    np.add.at(sums, inverse, patterns)
    counts = np.bincount(inverse, minlength=values.shape[0]).astype(np.float64)
    return sums / counts[:, None], values


def rdm(
    patterns: Any,
    method: str = "correlation",
    *,
    descriptor: Any = None,
) -> _NDArray:
    """Representational dissimilarity matrix from activity patterns.

    Parameters
    ----------
    patterns : array_like or torch.Tensor
        ``(n_obs, n_channels)`` activity patterns.
    method : {"correlation", "euclidean", "cosine"}
        ``"correlation"``: 1 - Pearson r between patterns. ``"euclidean"``:
        squared Euclidean distance divided by ``n_channels`` (rsatoolbox's
        definition). ``"cosine"``: 1 - cosine similarity (no mean removal).
    descriptor : array_like, optional
        ``(n_obs,)`` condition label per row. Rows with the same label are
        averaged; the RDM's rows follow the sorted unique labels (as
        ``np.unique``). Default: each row is a condition.

    Returns
    -------
    numpy.ndarray
        ``(n_cond, n_cond)`` symmetric RDM with zero diagonal.

    Raises
    ------
    ValidationError
        Unknown ``method``; fewer than 2 conditions; non-finite patterns
        (:class:`~neurodl.errors.NonFiniteError`); bad shapes
        (:class:`~neurodl.errors.ShapeError`).
    """
    _check_method("method", method, RDM_METHODS)
    x = _patterns("patterns", patterns)
    if descriptor is not None:
        labels = _labels("descriptor", descriptor, x.shape[0])
        x, values = _average_by(x, labels)
        if values.shape[0] < 2:
            raise ValidationError(
                f"'descriptor' must name at least 2 conditions; got "
                f"{values.shape[0]} ({values.tolist()!r})."
            )
    if method == "euclidean":
        sq = np.sum(x**2, axis=1, keepdims=True)
        full = (sq + sq.T - 2 * (x @ x.T)) / x.shape[1]
    else:
        if method == "correlation":
            x = x - x.mean(axis=1, keepdims=True)
        norms = np.sqrt(np.einsum("ij,ij->i", x, x))
        if np.any(norms == 0):
            rows = np.flatnonzero(norms == 0).tolist()
            what = "constant" if method == "correlation" else "all-zero"
            raise ValidationError(
                f"'patterns': method {method!r} is undefined for {what} patterns; "
                f"condition row(s) {rows} are {what}."
            )
        x = x / norms[:, None]
        full = 1 - x @ x.T
    return _symmetrise_upper(full)


def _group_sums(
    x: _NDArray, run_idx: np.ndarray, cond_idx: np.ndarray, n_runs: int, n_cond: int
) -> tuple[_NDArray, _NDArray]:
    flat = run_idx * n_cond + cond_idx
    counts = np.bincount(flat, minlength=n_runs * n_cond).astype(np.float64)
    order = np.argsort(flat, kind="stable")
    starts = np.concatenate(([0], np.cumsum(counts[:-1]).astype(np.intp)))
    sums = np.add.reduceat(x[order], starts, axis=0) if np.all(counts > 0) else None
    if sums is None:
        missing = np.argwhere(counts.reshape(n_runs, n_cond) == 0)[0]
        raise ValidationError(
            "crossnobis needs every condition in every run; run index "
            f"{int(missing[0])} has no observation of condition index "
            f"{int(missing[1])}."
        )
    return sums.reshape(n_runs, n_cond, -1), counts.reshape(n_runs, n_cond)


def _check_runs_conds(n_runs: int, n_cond: int) -> None:
    if n_runs < 2:
        raise ValidationError(
            f"crossnobis needs 'runs' with at least 2 distinct runs; got {n_runs}."
        )
    if n_cond < 2:
        raise ValidationError(f"crossnobis needs at least 2 conditions; got {n_cond}.")


def crossnobis_rdm(
    patterns: Any,
    runs: Any = None,
    noise: Any = None,
    *,
    conditions: Any = None,
) -> _NDArray:
    """Cross-validated Mahalanobis (crossnobis) RDM, leave-one-run-out.

    Matches ``rsatoolbox.rdm.calc_rdm(dataset, method="crossnobis",
    descriptor="conds", cv_descriptor="runs", noise=noise)``: for each run
    ``f`` the mean pattern of the other runs (``A``) and of run ``f`` (``B``)
    give the kernel ``K = A P B^T``; the fold's RDM is
    ``diag(K)_i + diag(K)_j - K_ij - K_ji`` divided by ``n_channels``; the
    result is the mean over folds. All folds and pairs are computed at once.

    Parameters
    ----------
    patterns : array_like or torch.Tensor
        ``(n_obs, n_channels)`` patterns, or ``(n_runs, n_cond, n_channels)``
        (then ``runs`` and ``conditions`` must be omitted).
    runs : array_like, optional
        ``(n_obs,)`` run (fold) label per row; at least 2 distinct runs.
    noise : array_like or torch.Tensor, optional
        Noise precision ``P``: ``(n_channels, n_channels)`` matrix, or
        ``(n_channels,)`` diagonal. Default: identity.
    conditions : array_like, optional
        ``(n_obs,)`` condition label per row; the RDM's rows follow the sorted
        unique labels. Default: the k-th row of each run is condition k (each
        run must then have the same number of rows).

    Returns
    -------
    numpy.ndarray
        ``(n_cond, n_cond)`` symmetric crossnobis RDM with zero diagonal
        (entries can be negative).

    Raises
    ------
    ValidationError
        Fewer than 2 runs, a condition missing from a run, bad shapes
        (:class:`~neurodl.errors.ShapeError`) or non-finite values.
    """
    arr = _check_finite("patterns", _as_float("patterns", patterns))
    if arr.ndim == 3:
        if runs is not None or conditions is not None:
            raise ValidationError(
                "'runs' and 'conditions' must be omitted when 'patterns' is 3-D "
                f"(n_runs, n_cond, n_channels); got shape {arr.shape}."
            )
        n_runs, n_cond, n_ch = arr.shape
        sums = arr
        counts = np.ones((n_runs, n_cond))
    elif arr.ndim == 2:
        if runs is None:
            raise ValidationError(
                "'runs' (one run label per row) is required when 'patterns' is "
                f"2-D; got None for patterns of shape {arr.shape}."
            )
        run_lab = _labels("runs", runs, arr.shape[0])
        run_vals, run_idx = np.unique(run_lab, return_inverse=True)
        n_runs = run_vals.shape[0]
        n_ch = arr.shape[1]
        if conditions is None:
            per_run = np.bincount(run_idx, minlength=n_runs)
            if np.any(per_run != per_run[0]):
                raise ValidationError(
                    "without 'conditions' every run must have the same number of "
                    f"rows; got counts {per_run.tolist()} for runs "
                    f"{run_vals.tolist()}."
                )
            cond_idx = np.empty_like(run_idx)
            for r in range(n_runs):
                sel = run_idx == r
                cond_idx[sel] = np.arange(int(sel.sum()))
            n_cond = int(per_run[0])
        else:
            cond_lab = _labels("conditions", conditions, arr.shape[0])
            cond_vals, cond_idx = np.unique(cond_lab, return_inverse=True)
            n_cond = cond_vals.shape[0]
        _check_runs_conds(n_runs, n_cond)
        sums, counts = _group_sums(arr, run_idx, cond_idx, n_runs, n_cond)
    else:
        raise ShapeError(
            "'patterns' must be (n_obs, n_channels) or (n_runs, n_cond, "
            f"n_channels); got shape {arr.shape}."
        )
    _check_runs_conds(n_runs, n_cond)

    # S P for every (run, condition) sum
    if noise is None:
        sp = sums
    else:
        p = _check_finite("noise", _as_float("noise", noise))
        if p.shape == (n_ch,):
            sp = sums * p
        elif p.shape == (n_ch, n_ch):
            diag = np.diagonal(p)
            if np.count_nonzero(p) == np.count_nonzero(diag):
                sp = sums * diag
            else:
                sp = (sums.reshape(n_runs * n_cond, n_ch) @ p).reshape(sums.shape)
        else:
            raise ShapeError(
                f"'noise' must be (n_channels, n_channels) = ({n_ch}, {n_ch}) or "
                f"(n_channels,) = ({n_ch},); got shape {p.shape}."
            )
    # gram[r, f] = S_r P S_f^T  -> (n_runs, n_runs, n_cond, n_cond)
    gram = (
        sp.reshape(n_runs * n_cond, n_ch) @ sums.reshape(n_runs * n_cond, n_ch).T
    ).reshape(n_runs, n_cond, n_runs, n_cond)
    gram = gram.transpose(0, 2, 1, 3)
    idx = np.arange(n_runs)
    cross = gram.sum(axis=0) - gram[idx, idx]  # (f, C, C): (T - S_f) P S_f^T
    n_total = counts.sum(axis=0)
    kern = cross / (n_total[None, :] - counts)[:, :, None] / counts[:, None, :]
    d = np.diagonal(kern, axis1=1, axis2=2)
    folds = d[:, None, :] + d[:, :, None] - kern - kern.transpose(0, 2, 1)
    out = folds.sum(axis=0) / n_runs / n_ch
    return _symmetrise_upper(out)


# --------------------------------------------------------------------------
# noise precision
# --------------------------------------------------------------------------


def _woodbury_inverse(diag: _NDArray, u: _NDArray) -> _NDArray:
    """Inverse of ``diag(diag) + u.T @ u`` for ``u`` of shape (k, n), k < n."""
    w = u / diag
    inner = np.eye(u.shape[0]) + w @ u.T
    out = -(w.T @ np.linalg.solve(inner, w))
    out[np.diag_indices_from(out)] += 1.0 / diag
    return out


def noise_precision(
    residuals: Any, method: str = "shrinkage_diag", *, dof: int | None = None
) -> _NDArray:
    """Noise precision matrix (inverse covariance over channels) from residuals.

    Matches ``rsatoolbox.data.noise.prec_from_residuals``. Shrinkage
    intensities are computed from ``n_res x n_res`` Gram matrices and, when
    there are fewer residuals than channels, the inverse uses the Woodbury
    identity instead of inverting an ``n_channels``-square matrix.

    Parameters
    ----------
    residuals : array_like or torch.Tensor
        ``(n_res, n_channels)`` residuals (column means are removed).
    method : {"shrinkage_diag", "shrinkage_eye", "diag", "full"}
        ``"diag"``: univariate (variance) normaliser. ``"full"``: inverse of
        the sample covariance. ``"shrinkage_diag"``: Schäfer & Strimmer (2005)
        shrinkage towards the diagonal. ``"shrinkage_eye"``: Ledoit & Wolf
        (2004) shrinkage towards a multiple of the identity.
    dof : int, optional
        Degrees of freedom; default ``n_res - 1``.

    Returns
    -------
    numpy.ndarray
        ``(n_channels, n_channels)`` precision matrix.

    Raises
    ------
    ValidationError
        Unknown ``method``, ``dof < 1``, a channel with zero variance, or bad
        shapes / non-finite values.
    """
    _check_method("method", method, NOISE_METHODS)
    x = _patterns("residuals", residuals)
    n, n_ch = x.shape
    x = x - x.mean(axis=0, keepdims=True)
    if dof is None:
        dof = n - 1
    if isinstance(dof, bool) or not isinstance(dof, int | np.integer) or dof < 1:
        raise ValidationError(f"'dof' must be an integer >= 1; got {dof!r}.")
    dof = int(dof)
    ssq = np.einsum("ij,ij->j", x, x)
    if method in ("diag", "shrinkage_diag") and np.any(ssq == 0):
        bad = np.flatnonzero(ssq == 0)
        raise ValidationError(
            f"'residuals' has zero variance in {bad.size} channel(s) (first "
            f"indices {bad[:5].tolist()}); method {method!r} needs every channel "
            "to vary."
        )
    var = ssq / dof
    if method == "diag":
        return np.diag(1.0 / var)
    if method == "full":
        return np.linalg.inv((x.T @ x) / dof)
    if method == "shrinkage_diag":
        z = x / np.sqrt(var)
        z2 = z**2
        row = z2.sum(axis=1)
        col = z2.sum(axis=0)
        gram = z @ z.T
        off_s_mean_sq = (np.sum(gram**2) - np.sum(col**2)) / (n - 1) ** 2
        off_s2_mean = (np.sum(row**2) - np.sum(z2**2)) / (n - 1)
        off_var_hat = n / dof**2 * (off_s2_mean - off_s_mean_sq)
        lamb = float(np.clip(off_var_hat / off_s_mean_sq, 0.0, 1.0))
        if lamb == 1.0:
            return np.diag(1.0 / var)
        if lamb > 0 and n < n_ch:
            return _woodbury_inverse(lamb * var, np.sqrt((1 - lamb) / dof) * x)
        cov = (1 - lamb) * (x.T @ x) / dof
        cov[np.diag_indices_from(cov)] = var
        return np.linalg.inv(cov)
    # shrinkage_eye (Ledoit & Wolf)
    gram = x @ x.T
    sq_norms = np.diagonal(gram)
    sum_s_sq = np.sum(gram**2) / n**2
    b2 = (np.sum(sq_norms**2) / n - sum_s_sq) / n
    m = np.sum(sq_norms) / n / n_ch
    d2 = sum_s_sq - m**2 * n_ch
    b2 = min(d2, b2)
    scale = n / dof
    eye_part = b2 / d2 * m * scale
    if eye_part > 0 and n < n_ch:
        u = np.sqrt((d2 - b2) / d2 * scale / n) * x
        return _woodbury_inverse(np.full(n_ch, eye_part), u)
    cov = (d2 - b2) / d2 * scale * (x.T @ x) / n
    cov[np.diag_indices_from(cov)] += eye_part
    return np.linalg.inv(cov)


# --------------------------------------------------------------------------
# comparing RDMs
# --------------------------------------------------------------------------


def _cosine(a: _NDArray, b: _NDArray) -> _NDArray:
    na = np.sqrt(np.einsum("ij,ij->i", a, a))
    nb = np.sqrt(np.einsum("ij,ij->i", b, b))
    out = a @ b.T
    with np.errstate(divide="ignore", invalid="ignore"):
        out = out / na[:, None] / nb[None, :]
    out[(na == 0)[:, None] | (nb == 0)[None, :]] = 0.0
    return out


def _ranks(v: _NDArray) -> _NDArray:
    return np.asarray(scipy.stats.rankdata(v, axis=1), dtype=np.float64)


def _centre(v: _NDArray) -> _NDArray:
    return v - v.mean(axis=1, keepdims=True)


def _double_centred(v: _NDArray) -> _NDArray:
    """Flattened double-centred ``-D/2`` (second moments) of condensed RDMs."""
    g = -0.5 * square(v)
    g = (
        g
        - g.mean(axis=1, keepdims=True)
        - g.mean(axis=2, keepdims=True)
        + g.mean(axis=(1, 2), keepdims=True)
    )
    return g.reshape(g.shape[0], -1)


def _ties(v: _NDArray) -> int:
    _, cnt = np.unique(v, return_counts=True)
    return int((cnt * (cnt - 1) // 2).sum())


def _kendall(a: _NDArray, b: _NDArray, variant: str) -> float:
    size = a.shape[0]
    tot = size * (size - 1) // 2
    xtie, ytie = _ties(a), _ties(b)
    if xtie == tot or ytie == tot:
        return 0.0 if variant == "a" else float("nan")
    tau_b = float(scipy.stats.kendalltau(a, b).statistic)
    if variant == "b":
        return tau_b
    con_minus_dis = tau_b * np.sqrt(float(tot - xtie) * float(tot - ytie))
    return float(min(1.0, max(-1.0, con_minus_dis / tot)))


def _compare_vectors(a: _NDArray, b: _NDArray, method: str) -> _NDArray:
    if method == "cosine":
        return _cosine(a, b)
    if method == "pearson":
        return _cosine(_centre(a), _centre(b))
    if method == "spearman":
        return _cosine(_centre(_ranks(a)), _centre(_ranks(b)))
    if method == "rho_a":
        n = a.shape[1]
        return _centre(_ranks(a)) @ _centre(_ranks(b)).T / (n**3 - n) * 12
    if method == "whitened_cosine":
        return _cosine(_double_centred(a), _double_centred(b))
    if method == "whitened_pearson":
        return _cosine(_double_centred(_centre(a)), _double_centred(_centre(b)))
    variant = "a" if method == "kendall_tau_a" else "b"
    out = np.empty((a.shape[0], b.shape[0]))
    for i in range(a.shape[0]):
        for j in range(b.shape[0]):
            out[i, j] = _kendall(a[i], b[j], variant)
    return out


def compare_rdms(rdm_a: Any, rdm_b: Any, method: str = "spearman") -> Any:
    """Similarity between RDMs (rsatoolbox's ``rdm.compare``).

    Parameters
    ----------
    rdm_a, rdm_b : array_like or torch.Tensor
        An RDM, square ``(n_cond, n_cond)`` or condensed ``(n_pairs,)``, or a
        stack ``(n_rdms, n_cond, n_cond)`` / ``(n_rdms, n_pairs)``. A 2-D
        input with equal sides is read as one square RDM.
    method : str
        ``"spearman"`` (rsatoolbox ``"spearman"``), ``"pearson"`` (``"corr"``),
        ``"cosine"``, ``"kendall_tau_a"`` (``"tau-a"``), ``"kendall_tau_b"``
        (``"kendall"``), ``"rho_a"`` (``"rho-a"``), ``"whitened_cosine"``
        (``"cosine_cov"`` without ``sigma_k``) or ``"whitened_pearson"``
        (``"corr_cov"``).

    Returns
    -------
    float or numpy.ndarray
        A float when both inputs are single RDMs, else ``(n_a, n_b)``.

    Raises
    ------
    ValidationError
        Unknown ``method``; RDMs with different condition counts
        (:class:`~neurodl.errors.ShapeError`); non-square, asymmetric or
        non-finite RDMs.
    """
    _check_method("method", method, COMPARE_METHODS)
    a, single_a = _vectors("rdm_a", rdm_a)
    b, single_b = _vectors("rdm_b", rdm_b)
    if a.shape[1] != b.shape[1]:
        na = _n_from_pairs("rdm_a", a.shape[1])
        nb = _n_from_pairs("rdm_b", b.shape[1])
        raise ShapeError(
            "'rdm_a' and 'rdm_b' must have the same number of conditions; got "
            f"rdm_a with {na} and rdm_b with {nb}."
        )
    out = _compare_vectors(a, b, method)
    if single_a and single_b:
        return float(out[0, 0])
    return out


# --------------------------------------------------------------------------
# noise ceiling
# --------------------------------------------------------------------------


def _pool(v: _NDArray, method: str) -> _NDArray:
    """Pool RDMs like rsatoolbox's ``pool_rdm`` (best fit under ``method``)."""
    if method == "cosine":
        v = v / np.sqrt(np.mean(v**2, axis=1, keepdims=True))
        return v.mean(axis=0, keepdims=True)
    if method == "pearson":
        v = _centre(v)
        v = v / np.std(v, axis=1, keepdims=True)
        m = v.mean(axis=0, keepdims=True)
        return m - m.min() + 0.01
    return _ranks(v).mean(axis=0, keepdims=True)


def noise_ceiling(subject_rdms: Any, method: str = "spearman") -> tuple[float, float]:
    """Leave-one-subject-out noise ceiling (rsatoolbox ``boot_noise_ceiling``).

    Lower bound: mean over subjects of the similarity between a subject's RDM
    and the pooled RDM of the other subjects. Upper bound: the same against
    the pooled RDM of all subjects. Pooling is rsatoolbox's ``pool_rdm``
    (mean of rank-transformed RDMs for rank methods, of normalised RDMs for
    the others).

    Parameters
    ----------
    subject_rdms : array_like or torch.Tensor
        ``(n_subjects, n_cond, n_cond)`` or ``(n_subjects, n_pairs)``; at
        least 2 subjects.
    method : str
        A comparison method of :func:`compare_rdms` except the whitened ones
        (``"spearman"``, ``"pearson"``, ``"cosine"``, ``"kendall_tau_a"``,
        ``"kendall_tau_b"``, ``"rho_a"``).

    Returns
    -------
    tuple of float
        ``(lower, upper)``.

    Raises
    ------
    ValidationError
        Unknown ``method``, fewer than 2 subjects, or malformed RDMs.
    """
    _check_method("method", method, NOISE_CEILING_METHODS)
    arr = _as_float("subject_rdms", subject_rdms)
    if arr.ndim not in (2, 3):
        raise ShapeError(
            "'subject_rdms' must be (n_subjects, n_cond, n_cond) or (n_subjects, "
            f"n_pairs); got shape {arr.shape}."
        )
    if arr.ndim == 3:
        v = condensed(_check_finite("subject_rdms", arr))
    else:
        v = _check_finite("subject_rdms", arr)
        _n_from_pairs("subject_rdms", v.shape[1])
    n_sub = v.shape[0]
    if n_sub < 2:
        raise ValidationError(f"'subject_rdms' needs at least 2 subjects; got {n_sub}.")
    pooled_all = _pool(v, method)
    lower = np.empty(n_sub)
    upper = np.empty(n_sub)
    for i in range(n_sub):
        others = np.delete(v, i, axis=0)
        lower[i] = _compare_vectors(_pool(others, method), v[i : i + 1], method)[0, 0]
        upper[i] = _compare_vectors(pooled_all, v[i : i + 1], method)[0, 0]
    return float(lower.mean()), float(upper.mean())
