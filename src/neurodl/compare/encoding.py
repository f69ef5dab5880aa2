"""Encoding models: ridge regression from features to many brain targets.

:class:`RidgeEncoder` fits ``Y ~ X B`` (features ``X`` of shape
``(n_samples, n_features)``, targets ``Y`` of shape ``(n_samples, n_targets)``,
e.g. voxels or neurons) with one ridge penalty per target chosen by K-fold
cross-validation. It follows the conventions of himalaya's ``RidgeCV`` (solver
``"svd"``, ``local_alpha=True``, ``conservative=False``):

* folds: ``sklearn.model_selection.check_cv(cv)`` (``KFold`` without shuffling for
  an int);
* ``fit_intercept``: ``X`` and ``Y`` are centered with the *training* means of each
  fold (the validation targets too); without it they must already be centered;
* the validation score of each (alpha, target) is averaged over folds, a slope of
  ``1e-10 log(alpha)`` breaks ties towards the larger alpha, and the best alpha is
  the argmax per target; ``cv_scores_`` holds that mean score;
* the model is refit on all samples with each target's best alpha.

The computation differs from himalaya's only in arithmetic order: per fold one
thin SVD ``X_train = U S V^T`` and the projections ``U^T Y_train`` serve every
alpha and every target (``B_alpha = V diag(s / (s^2 + alpha)) U^T Y``), and the
refit uses one SVD of ``X`` with each target's own shrinkage, instead of one
solution matrix per alpha.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.model_selection import check_cv
from torch import Tensor

from neurodl._validate import check_finite, check_option
from neurodl.errors import ShapeError, ValidationError

__all__ = [
    "SCORINGS",
    "RidgeEncoder",
    "ceiling_normalized",
    "corr_per_target",
    "explainable_variance",
    "r2_per_target",
]

SCORINGS = ("r2", "l2")
"""Cross-validation scores of :class:`RidgeEncoder`: R^2, or the negative mean
squared error (himalaya's default ``l2_neg_loss``)."""

_DTYPES = {"float64": torch.float64, "float32": torch.float32}


def _to_tensor(
    name: str, a: Any, dtype: torch.dtype, device: torch.device | str | None
) -> Tensor:
    t = a.detach() if isinstance(a, Tensor) else torch.as_tensor(np.asarray(a))
    if t.is_complex() or t.dtype == torch.bool:
        raise ValidationError(f"{name!r} must hold real numbers; got dtype {t.dtype}.")
    t = t.to(dtype=dtype, device=device)
    return check_finite(name, t)


def _as_2d(name: str, t: Tensor, *, allow_1d: bool) -> tuple[Tensor, bool]:
    if t.ndim == 1 and allow_1d:
        return t[:, None], True
    if t.ndim != 2:
        axes = "(n_samples,) or (n_samples, n_targets)" if allow_1d else "2-D"
        raise ShapeError(
            f"{name!r} must have shape {axes}; got shape {tuple(t.shape)}."
        )
    return t, False


def _pair(
    y_true: Any, y_pred: Any, name_true: str = "y_true", name_pred: str = "y_pred"
) -> tuple[Tensor, Tensor, bool]:
    yt = _to_tensor(name_true, y_true, torch.float64, None)
    yp = _to_tensor(name_pred, y_pred, torch.float64, yt.device)
    if yt.shape != yp.shape:
        raise ShapeError(
            f"{name_true!r} and {name_pred!r} must have the same shape; got "
            f"{tuple(yt.shape)} and {tuple(yp.shape)}."
        )
    yt, ravel = _as_2d(name_true, yt, allow_1d=True)
    yp, _ = _as_2d(name_pred, yp, allow_1d=True)
    return yt, yp, ravel


def _out(t: Tensor, ravel: bool) -> np.ndarray:
    a = t.cpu().numpy()
    return a[0] if ravel else a


def r2_per_target(y_true: Any, y_pred: Any) -> np.ndarray:
    """Return the coefficient of determination of each target (column).

    ``R^2 = 1 - sum (y - y_hat)^2 / sum (y - mean(y))^2``; 0 for a constant
    target (himalaya's and scikit-learn's ``force_finite`` convention).

    Parameters
    ----------
    y_true, y_pred : array or Tensor, shape (n_samples, n_targets) or (n_samples,)
        Measured and predicted values; computed in float64.

    Returns
    -------
    ndarray, shape (n_targets,), or float-like 0-d for 1-D input
    """
    yt, yp, ravel = _pair(y_true, y_pred)
    err = ((yt - yp) ** 2).sum(0)
    var = ((yt - yt.mean(0)) ** 2).sum(0)
    r2 = 1.0 - err / torch.where(var == 0, torch.ones_like(var), var)
    r2 = torch.where(var == 0, torch.zeros_like(r2), r2)
    return _out(r2, ravel)


def corr_per_target(y_true: Any, y_pred: Any) -> np.ndarray:
    """Return the Pearson correlation of each target's prediction with its data.

    Parameters
    ----------
    y_true, y_pred : array or Tensor, shape (n_samples, n_targets) or (n_samples,)
        Measured and predicted values; computed in float64.

    Returns
    -------
    ndarray, shape (n_targets,)
        Correlations; 0 where either column is constant.
    """
    yt, yp, ravel = _pair(y_true, y_pred)
    a = yt - yt.mean(0)
    b = yp - yp.mean(0)
    den = torch.sqrt((a**2).sum(0) * (b**2).sum(0))
    r = (a * b).sum(0) / torch.where(den == 0, torch.ones_like(den), den)
    r = torch.where(den == 0, torch.zeros_like(r), r)
    return _out(r, ravel)


def ceiling_normalized(score: Any, ceiling: Any, *, min_ceiling: float = 0.0) -> Any:
    """Return ``score / ceiling``: a score as a fraction of the noise ceiling.

    Parameters
    ----------
    score : float or array, shape (n_targets,)
        Model score per target (e.g. R^2 from :func:`r2_per_target`).
    ceiling : float or array, shape (n_targets,)
        Noise ceiling per target, on the same scale as ``score`` (e.g. the
        explainable variance for R^2).
    min_ceiling : float
        Targets whose ceiling is ``<= min_ceiling`` are unreliable; they get NaN.

    Returns
    -------
    float or ndarray
        The normalised scores, NaN where the ceiling is too low.

    Raises
    ------
    ShapeError
        If ``score`` and ``ceiling`` do not broadcast.
    NonFiniteError
        If either holds NaN or infinity.
    """
    s = _to_tensor("score", score, torch.float64, "cpu").numpy()
    c = _to_tensor("ceiling", ceiling, torch.float64, "cpu").numpy()
    try:
        s_b, c_b = np.broadcast_arrays(s, c)
    except ValueError:
        raise ShapeError(
            f"'score' and 'ceiling' must have broadcastable shapes; got {s.shape} "
            f"and {c.shape}."
        ) from None
    ok = c_b > min_ceiling
    out = np.full(s_b.shape, np.nan)
    np.divide(s_b, c_b, out=out, where=ok)
    return float(out) if out.ndim == 0 else out


def explainable_variance(repeats: Any) -> np.ndarray:
    """Noise ceiling of R² for the trial-averaged response, from repeated trials.

    With ``repeats`` of shape (n_repeats, n_stimuli, n_targets) - the response of
    each target to each stimulus on each of ``N >= 2`` repetitions - the signal
    power is Sahani & Linden's (2003) unbiased estimate
    ``SP = (Var(sum_r y_r) - sum_r Var(y_r)) / (N (N - 1))`` (variances over
    stimuli), and the ceiling is the fraction of the trial-averaged response's
    variance that is signal, ``SP / Var(mean_r y_r)``: the largest R² a model can
    reach predicting the averaged response when its noise is independent across
    repetitions. It can be negative for targets with no reliable signal (use
    :func:`ceiling_normalized`'s ``min_ceiling`` to leave them out).

    Returns
    -------
    ndarray, shape (n_targets,)
        The ceiling of each target.
    """
    y = _to_tensor("repeats", repeats, torch.float64, "cpu").numpy()
    if y.ndim == 2:
        y = y[:, :, None]
    if y.ndim != 3:
        raise ShapeError(
            f"'repeats' must be (n_repeats, n_stimuli, n_targets); got shape {y.shape}."
        )
    n = y.shape[0]
    if n < 2:
        raise ValidationError(
            f"'repeats' needs at least 2 repetitions to separate signal from noise; "
            f"got {n}."
        )
    if y.shape[1] < 2:
        raise ValidationError(f"'repeats' needs at least 2 stimuli; got {y.shape[1]}.")
    var_sum = y.sum(axis=0).var(axis=0)
    sum_var = y.var(axis=1).sum(axis=0)
    signal = (var_sum - sum_var) / (n * (n - 1))
    var_mean = y.mean(axis=0).var(axis=0)
    out = np.full(signal.shape, np.nan)
    np.divide(signal, var_mean, out=out, where=var_mean > 0)
    return out


def _score_batch(
    y_test: Tensor, pred: Tensor, scoring: str, var: Tensor | None
) -> Tensor:
    """Score ``pred`` (..., n_test, n_targets) against ``y_test`` per target."""
    err = ((y_test - pred) ** 2).sum(-2)
    if scoring == "l2":
        return -err / y_test.shape[0]
    assert var is not None
    r2 = 1.0 - err / torch.where(var == 0, torch.ones_like(var), var)
    return torch.where(var == 0, torch.zeros_like(r2), r2)


class RidgeEncoder(RegressorMixin, BaseEstimator):
    """Ridge regression to many targets with a cross-validated alpha per target.

    Parameters
    ----------
    alphas : array-like of float
        Candidate penalties (> 0). Default ``np.logspace(-3, 7, 11)``.
    fit_intercept : bool
        Fit an intercept; False requires ``X`` and ``Y`` to be centered.
    cv : int or scikit-learn splitter
        Cross-validation folds; an int gives ``KFold(cv)`` without shuffling.
    scoring : {"r2", "l2"}
        Validation score maximised when choosing alpha: R^2 (default) or the
        negative mean squared error (himalaya's default).
    device : str, torch.device or None
        Where to compute (None: CPU, or the device of a tensor ``X``).
    dtype : {"float64", "float32"}
        Precision of the computation.
    n_targets_batch : int or None
        Targets per block in cross-validation, to bound memory; None: all.

    Attributes
    ----------
    coef_ : ndarray, shape (n_features, n_targets) or (n_features,)
        Weights refit on all samples.
    intercept_ : ndarray, shape (n_targets,), or float
        Intercepts (0 without ``fit_intercept``).
    best_alphas_ : ndarray, shape (n_targets,)
        Chosen penalty of each target.
    cv_scores_ : ndarray, shape (n_targets,)
        Validation score, averaged over folds, at the chosen alpha.
    n_features_in_ : int
        Number of features seen in :meth:`fit`.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 5))
    >>> Y = X @ rng.normal(size=(5, 3)) + 0.1 * rng.normal(size=(100, 3))
    >>> model = RidgeEncoder(fit_intercept=True).fit(X, Y)
    >>> bool((model.score(X, Y) > 0.9).all())
    True
    """

    def __init__(
        self,
        alphas: Any = None,
        *,
        fit_intercept: bool = True,
        cv: Any = 5,
        scoring: str = "r2",
        device: str | torch.device | None = None,
        dtype: str = "float64",
        n_targets_batch: int | None = None,
    ) -> None:
        self.alphas = alphas
        self.fit_intercept = fit_intercept
        self.cv = cv
        self.scoring = scoring
        self.device = device
        self.dtype = dtype

        self.n_targets_batch = n_targets_batch

    # ---------------------------------------------------------------- checks
    def _alphas(self, dtype: torch.dtype, device: torch.device) -> Tensor:
        raw = np.logspace(-3, 7, 11) if self.alphas is None else self.alphas
        a = np.atleast_1d(np.asarray(raw, dtype=np.float64))
        if a.ndim != 1 or a.size == 0:
            raise ValidationError(
                f"'alphas' must be a non-empty 1-D sequence of numbers > 0; got "
                f"shape {a.shape}."
            )
        if not np.all(np.isfinite(a)) or np.any(a <= 0):
            raise ValidationError(
                f"'alphas' must all be finite and > 0; got {a.tolist()!r}."
            )
        return torch.as_tensor(a, dtype=dtype, device=device)

    def _device(self, X: Any) -> torch.device:
        if self.device is not None:
            return torch.device(self.device)
        if isinstance(X, Tensor):
            return X.device
        return torch.device("cpu")

    def _dtype(self) -> torch.dtype:
        check_option("dtype", self.dtype, tuple(_DTYPES))
        return _DTYPES[self.dtype]

    # ------------------------------------------------------------------- fit
    def fit(self, X: Any, Y: Any) -> RidgeEncoder:
        """Choose each target's alpha by cross-validation and refit on all data.

        Parameters
        ----------
        X : array or Tensor, shape (n_samples, n_features)
            Features (e.g. network activations for each stimulus).
        Y : array or Tensor, shape (n_samples, n_targets) or (n_samples,)
            Targets (e.g. voxel or neuron responses).

        Returns
        -------
        RidgeEncoder
            ``self``, fitted.

        Raises
        ------
        ShapeError
            If ``X`` is not 2-D or ``X`` and ``Y`` have different numbers of rows.
        NonFiniteError
            If ``X`` or ``Y`` holds NaN or infinity.
        ValidationError
            For a bad parameter or a fold with no samples.
        """
        check_option("scoring", self.scoring, SCORINGS)
        if not isinstance(self.fit_intercept, bool):
            raise ValidationError(
                f"'fit_intercept' must be True or False; got {self.fit_intercept!r}."
            )
        dtype = self._dtype()
        device = self._device(X)
        Xt = _to_tensor("X", X, dtype, device)
        Yt = _to_tensor("Y", Y, dtype, device)
        Xt, _ = _as_2d("X", Xt, allow_1d=False)
        Yt, ravel = _as_2d("Y", Yt, allow_1d=True)
        if Xt.shape[0] != Yt.shape[0]:
            raise ShapeError(
                f"'X' and 'Y' must have the same number of rows (samples); got "
                f"shapes {tuple(Xt.shape)} and {tuple(Yt.shape)}."
            )
        alphas = self._alphas(dtype, device)
        n_samples, n_targets = Yt.shape
        batch = self.n_targets_batch or n_targets
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise ValidationError(
                f"'n_targets_batch' must be an int >= 1 or None; got "
                f"{self.n_targets_batch!r}."
            )
        cv = check_cv(self.cv)
        splits = list(cv.split(np.zeros((n_samples, 1))))
        for train, test in splits:
            if len(train) == 0 or len(test) == 0:
                raise ValidationError(
                    "'cv' must give non-empty training and validation folds; got a "
                    f"fold with {len(train)} training and {len(test)} validation "
                    "samples."
                )
        if self.fit_intercept:
            x_mean, y_mean = Xt.mean(0), Yt.mean(0)
            Xt = Xt - x_mean
            Yt = Yt - y_mean

        scores = torch.zeros(
            (len(alphas), n_targets), dtype=torch.float64, device=device
        )
        for train_np, test_np in splits:
            train = torch.as_tensor(train_np, device=device)
            test = torch.as_tensor(test_np, device=device)
            scores += self._fold_scores(Xt, Yt, train, test, alphas, batch)
        scores /= len(splits)
        # himalaya: a slope of 1e-10 log(alpha) breaks ties towards larger alphas
        scores += (torch.log(alphas.to(torch.float64)) * 1e-10)[:, None]
        best = torch.argmax(scores, dim=0)
        self.cv_scores_ = scores.gather(0, best[None])[0].cpu().numpy()
        best_alphas = alphas[best]
        self.best_alphas_ = best_alphas.cpu().numpy()

        # refit: one SVD of X, each target with its own shrinkage
        U, s, Vt = torch.linalg.svd(Xt, full_matrices=False)
        coef = torch.empty((Xt.shape[1], n_targets), dtype=dtype, device=device)
        for start in range(0, n_targets, batch):
            sl = slice(start, start + batch)
            uty = U.T @ Yt[:, sl]
            shrink = s[:, None] / (s[:, None] ** 2 + best_alphas[None, sl])
            coef[:, sl] = Vt.T @ (shrink * uty)
        if self.fit_intercept:
            intercept = y_mean - x_mean @ coef
        else:
            intercept = torch.zeros(n_targets, dtype=dtype, device=device)
        self._coef = coef
        self._intercept = intercept
        self.coef_ = coef.cpu().numpy()
        self.intercept_ = intercept.cpu().numpy()
        if ravel:
            self.coef_ = self.coef_[:, 0]
            self.intercept_ = self.intercept_[0]
        self._ravel = ravel
        self.n_features_in_ = Xt.shape[1]
        return self

    def _fold_scores(
        self,
        X: Tensor,
        Y: Tensor,
        train: Tensor,
        test: Tensor,
        alphas: Tensor,
        batch: int,
    ) -> Tensor:
        """Return the validation scores of every alpha and target on one fold."""
        x_train, x_test = X[train], X[test]
        if self.fit_intercept:
            m = x_train.mean(0)
            x_train = x_train - m
            x_test = x_test - m
        U, s, Vt = torch.linalg.svd(x_train, full_matrices=False)
        a = x_test @ Vt.T  # (n_test, rank)
        weights = s[None, :] / (alphas[:, None] + s[None, :] ** 2)  # (n_alphas, r)
        n_targets = Y.shape[1]
        out = torch.empty(
            (len(alphas), n_targets), dtype=torch.float64, device=X.device
        )
        for start in range(0, n_targets, batch):
            sl = slice(start, start + batch)
            y_train, y_test = Y[train, sl], Y[test, sl]
            if self.fit_intercept:
                mu = y_train.mean(0)
                y_train = y_train - mu
                y_test = y_test - mu
            uty = U.T @ y_train  # (rank, batch)
            var = None
            if self.scoring == "r2":
                var = ((y_test - y_test.mean(0)) ** 2).sum(0)
            for k in range(len(alphas)):
                pred = a @ (weights[k, :, None] * uty)
                out[k, sl] = _score_batch(y_test, pred, self.scoring, var).to(
                    torch.float64
                )
        return out

    # --------------------------------------------------------------- predict
    def _check_fitted(self) -> None:
        if not hasattr(self, "_coef"):
            raise ValidationError(
                "This RidgeEncoder is not fitted yet; call 'fit(X, Y)' first."
            )

    def _predict_tensor(self, X: Any) -> Tensor:
        self._check_fitted()
        Xt = _to_tensor("X", X, self._coef.dtype, self._coef.device)
        Xt, _ = _as_2d("X", Xt, allow_1d=False)
        if Xt.shape[1] != self.n_features_in_:
            raise ShapeError(
                f"'X' must have {self.n_features_in_} columns (features), as in "
                f"fit; got shape {tuple(Xt.shape)}."
            )
        return Xt @ self._coef + self._intercept

    def predict(self, X: Any) -> np.ndarray:
        """Return the predicted targets.

        Parameters
        ----------
        X : array or Tensor, shape (n_samples, n_features)

        Returns
        -------
        ndarray, shape (n_samples, n_targets), or (n_samples,) if ``fit`` got 1-D
        ``Y``
        """
        pred = self._predict_tensor(X).cpu().numpy()
        return pred[:, 0] if self._ravel else pred

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> Any:
        """Return the R^2 of each target on ``(X, y)``, as himalaya's ``score``.

        Parameters
        ----------
        X : array or Tensor, shape (n_samples, n_features)
        y : array or Tensor, shape (n_samples, n_targets) or (n_samples,)
        sample_weight : None
            Not supported; must be None.

        Returns
        -------
        ndarray, shape (n_targets,), or float for 1-D ``y``
            Per-target R^2 (take ``.mean()`` for a single number).
        """
        if sample_weight is not None:
            raise ValidationError(
                "'sample_weight' is not supported by RidgeEncoder.score; got "
                "an array, expected None."
            )
        pred = self._predict_tensor(X)
        yt = _to_tensor("y", y, torch.float64, pred.device)
        if yt.shape[0] != pred.shape[0]:
            raise ShapeError(
                f"'X' and 'y' must have the same number of rows (samples); got "
                f"{pred.shape[0]} and shape {tuple(yt.shape)}."
            )
        r2 = r2_per_target(yt.reshape(pred.shape[0], -1), pred)
        return float(r2[0]) if self._ravel else r2
