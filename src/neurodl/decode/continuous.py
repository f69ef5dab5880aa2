"""Continuous decoders: spike counts to kinematics (hand velocity, position, ...).

Three decoders in the style of Glaser et al. (2020) "Machine learning for neural
decoding", eNeuro 7(4), each a scikit-learn regressor:

* :class:`WienerFilter` - linear (optionally ridge) regression on the flattened
  history window of spike counts;
* :class:`KalmanDecoder` - the Kalman filter of Wu et al. (2003): the kinematics are
  the hidden state, the current bin's counts the observation;
* :class:`RecurrentDecoder` - a GRU or LSTM over the history window with a linear
  readout of its last state, trained with Adam on the mean squared error (defined
  in :mod:`neurodl.decode.recurrent`, importable from here).

and the data helpers :func:`history_windows` (the spikes around each bin, as
Glaser's ``get_spikes_with_history``) and :func:`split_time_ordered` (a
train/validation/test split that keeps time order).

Examples
--------
>>> import numpy as np
>>> counts = np.arange(10.0).reshape(5, 2)
>>> windows, valid = history_windows(counts, bins_before=1, bins_after=1)
>>> windows.shape, valid.tolist()
((5, 3, 2), [False, True, True, True, False])
>>> windows[2]
array([[2., 3.],
       [4., 5.],
       [6., 7.]])
"""

from __future__ import annotations

import itertools
import math
import warnings
from typing import Any

import numpy as np
import scipy.linalg
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from neurodl._validate import check_int, check_option
from neurodl.errors import ShapeError, ValidationError

__all__ = [
    "KalmanDecoder",
    "RecurrentDecoder",
    "WienerFilter",
    "history_windows",
    "split_time_ordered",
]


# ---------------------------------------------------------------------- data helpers


def history_windows(
    counts: ArrayLike,
    bins_before: int = 6,
    bins_current: int = 1,
    bins_after: int = 6,
    *,
    fill: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Return the window of spike counts around every time bin, and which are whole.

    Row ``t`` of the result holds bins ``t - bins_before`` ... ``t + bins_after`` of
    ``counts`` (without bin ``t`` itself when ``bins_current=0``), in time order.
    Windows that reach past either end of the recording are padded with ``fill``;
    the returned mask marks the rows whose window lies wholly inside the recording
    (all but the first ``bins_before`` and the last ``bins_after``). With
    ``fill=np.nan`` and dropping the rows where the mask is False this is
    ``get_spikes_with_history`` of Glaser et al.'s Neural_Decoding package.

    Parameters
    ----------
    counts : array-like, shape (n_bins, n_units)
        Spike counts, time axis first.
    bins_before, bins_after : int
        Bins before and after the current one (>= 0).
    bins_current : int
        1 to include the current bin, 0 to leave it out.
    fill : float
        Value of the padding (0 or NaN, say).

    Returns
    -------
    windows : numpy.ndarray, shape (n_bins, n_history, n_units)
        ``n_history = bins_before + bins_current + bins_after``.
    valid : numpy.ndarray of bool, shape (n_bins,)
        True where the window holds no padding.
    """
    check_int("bins_before", bins_before, minimum=0)
    check_int("bins_after", bins_after, minimum=0)
    check_option("bins_current", bins_current, (0, 1))
    x = np.asarray(counts, dtype=np.float64)
    if x.ndim != 2:
        raise ShapeError(
            f"'counts' must be 2-D with axes (n_bins, n_units); got shape {x.shape}."
        )
    n_hist = bins_before + bins_current + bins_after
    if n_hist == 0:
        raise ValidationError(
            "'bins_before + bins_current + bins_after' must be >= 1; got 0."
        )
    n, u = x.shape
    span = bins_before + 1 + bins_after
    padded = np.full((n + span - 1, u), fill, dtype=np.float64)
    padded[bins_before : bins_before + n] = x
    win = np.lib.stride_tricks.sliding_window_view(padded, span, axis=0)  # n, u, span
    win = np.moveaxis(win, 2, 1)  # n, span, u
    if not bins_current:
        win = np.delete(win, bins_before, axis=1)
    windows = np.ascontiguousarray(win)
    valid = np.zeros(n, dtype=bool)
    valid[bins_before : max(bins_before, n - bins_after)] = True
    return windows, valid


def split_time_ordered(
    n: int,
    fractions: tuple[float, ...] = (0.7, 0.15, 0.15),
    *,
    trim_start: int = 0,
    trim_end: int = 0,
) -> tuple[np.ndarray, ...]:
    """Split ``range(n)`` into consecutive parts in time order: train, val, test.

    Part ``k`` covers ``round(n * sum(fractions[:k]))`` up to
    ``round(n * sum(fractions[:k + 1]))``. ``trim_start``/``trim_end`` drop that many
    indices at the start/end of every part, so that history windows (with
    ``bins_before=trim_start`` and ``bins_after=trim_end``) neither cross from one
    part into another nor reach past the recording, as Glaser et al. do.

    Parameters
    ----------
    n : int
        Number of time bins.
    fractions : tuple of float
        Fraction of the bins in each part, each > 0, summing to 1.
    trim_start, trim_end : int
        Indices dropped at the start and end of every part (>= 0).

    Returns
    -------
    tuple of numpy.ndarray
        One sorted int64 index array per fraction.

    Examples
    --------
    >>> [p.tolist() for p in split_time_ordered(10, (0.6, 0.2, 0.2))]
    [[0, 1, 2, 3, 4, 5], [6, 7], [8, 9]]
    """
    check_int("n", n, minimum=1)
    check_int("trim_start", trim_start, minimum=0)
    check_int("trim_end", trim_end, minimum=0)
    fr = list(fractions) if not isinstance(fractions, str) else []
    if (
        not fr
        or any(
            isinstance(f, bool) or not isinstance(f, int | float) or not f > 0
            for f in fr
        )
        or abs(sum(fr) - 1.0) > 1e-9
    ):
        raise ValidationError(
            f"'fractions' must be numbers > 0 that sum to 1; got {fractions!r}."
        )
    edges = [0, *(round(n * c) for c in np.cumsum(fr)[:-1]), n]
    parts = []
    for a, b in itertools.pairwise(edges):
        parts.append(np.arange(a + trim_start, max(a + trim_start, b - trim_end)))
    return tuple(parts)


def _as_sequence(
    X: Any, n_history: int | None, name: str = "X"
) -> tuple[Any, int | None]:
    """Flatten a 3-D (n, n_history, n_units) input; return it and its n_history."""
    if getattr(X, "ndim", None) == 3:
        arr = np.asarray(X)
        if n_history is not None and arr.shape[1] != n_history:
            raise ShapeError(
                f"{name!r} has shape {arr.shape} but 'n_history' is {n_history}: "
                "axis 1 must be the history (n_samples, n_history, n_units)."
            )
        return arr.reshape(arr.shape[0], -1), int(arr.shape[1])
    return X, n_history


def _multioutput_tags(tags: Any) -> Any:
    tags.target_tags.multi_output = True
    tags.target_tags.single_output = True
    return tags


# --------------------------------------------------------------------------- Wiener


class WienerFilter(RegressorMixin, BaseEstimator):
    """Wiener filter: linear regression on the flattened history window.

    As ``WienerFilterDecoder`` of Glaser et al. (ordinary least squares with an
    intercept), with optional ridge (L2) regularization.

    Parameters
    ----------
    alpha : float
        Ridge penalty on the weights (not the intercept); 0 gives least squares
        (the minimum-norm solution when the features are collinear).
    fit_intercept : bool
        Whether to fit an intercept.

    Attributes
    ----------
    coef_ : numpy.ndarray, shape (n_outputs, n_features) or (n_features,)
        Weights on the flattened input (1-D when ``y`` was 1-D).
    intercept_ : numpy.ndarray or float
        Intercept per output.
    n_features_in_ : int
        Number of (flattened) input features.

    Notes
    -----
    ``X`` may be 3-D, ``(n_samples, n_history, n_units)`` as from
    :func:`history_windows`; it is flattened in C order.
    """

    def __init__(self, alpha: float = 0.0, fit_intercept: bool = True) -> None:
        self.alpha = alpha
        self.fit_intercept = fit_intercept

    def __sklearn_tags__(self) -> Any:
        return _multioutput_tags(super().__sklearn_tags__())

    def fit(self, X: ArrayLike, y: ArrayLike) -> WienerFilter:
        """Fit the weights by (ridge) least squares.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features) or (n_samples, n_history, n_units)
            Inputs.
        y : array-like, shape (n_samples,) or (n_samples, n_outputs)
            Targets.

        Returns
        -------
        WienerFilter
            The fitted estimator.
        """
        _fit_wiener([self], X, y)
        return self

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predict the targets.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features) or (n_samples, n_history, n_units)
            Inputs.

        Returns
        -------
        numpy.ndarray, shape (n_samples,) or (n_samples, n_outputs)
        """
        check_is_fitted(self)
        X, _ = _as_sequence(X, None)
        X = validate_data(self, X, reset=False)
        return np.asarray(X, dtype=np.float64) @ self.coef_.T + self.intercept_


def _fit_wiener(models: list[WienerFilter], X: ArrayLike, y: ArrayLike) -> None:
    """Fit several :class:`WienerFilter` (ridge penalties) on one ``X``, ``y``.

    Each ends as its own ``fit(X, y)`` would; the centring, ``X'X`` and ``X'y``
    (most of the cost) are computed once. They must share ``fit_intercept``.
    """
    for m in models:
        if (
            isinstance(m.alpha, bool)
            or not isinstance(m.alpha, int | float)
            or not m.alpha >= 0
            or not math.isfinite(m.alpha)
        ):
            raise ValidationError(
                f"'alpha' must be a finite number >= 0; got {m.alpha!r}."
            )
    fit_intercept = models[0].fit_intercept
    if any(m.fit_intercept != fit_intercept for m in models):
        raise ValidationError(
            "the filters must share 'fit_intercept'; got "
            f"{[m.fit_intercept for m in models]}."
        )
    X, _ = _as_sequence(X, None)
    X, y = validate_data(models[0], X, y, multi_output=True, y_numeric=True)
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    y2 = y.reshape(len(y), -1)
    if fit_intercept:
        xm, ym = X.mean(axis=0), y2.mean(axis=0)
    else:
        xm, ym = np.zeros(X.shape[1]), np.zeros(y2.shape[1])
    Xc, yc = X - xm, y2 - ym
    # normal equations (fast: a few seconds for 10^4 x 2x10^3), falling back to
    # the minimum-norm least-squares solution when they are ill-conditioned
    xx, xy = Xc.T @ Xc, Xc.T @ yc
    for m in models:
        gram = xx.copy()
        gram[np.diag_indices_from(gram)] += m.alpha
        with warnings.catch_warnings():
            warnings.simplefilter("error", scipy.linalg.LinAlgWarning)
            try:
                w = scipy.linalg.solve(gram, xy, assume_a="pos")
            except (np.linalg.LinAlgError, scipy.linalg.LinAlgWarning):
                w = None
        if w is None:
            if m.alpha == 0:
                w = np.linalg.lstsq(Xc, yc, rcond=None)[0]
            else:
                w = np.linalg.lstsq(gram, xy, rcond=None)[0]
        coef, intercept = w.T, ym - xm @ w
        for attr in ("n_features_in_", "feature_names_in_"):
            if hasattr(models[0], attr):
                setattr(m, attr, getattr(models[0], attr))
        m.coef_ = coef[0] if y.ndim == 1 else coef
        m.intercept_ = float(intercept[0]) if y.ndim == 1 else intercept


# --------------------------------------------------------------------------- Kalman


class KalmanDecoder(RegressorMixin, BaseEstimator):
    """Kalman filter decoder (Wu et al. 2003), as Glaser et al.'s KalmanFilterDecoder.

    The kinematics ``x_t`` (the targets) are the hidden state and the spike counts
    ``z_t`` of the current bin the observation::

        x_t = A x_{t-1} + w_t,   w_t ~ N(0, W)
        z_t = H x_t + q_t,       q_t ~ N(0, Q)

    ``A``, ``W``, ``H`` and ``Q`` are fit by least squares on the training data
    (centred on their means); prediction runs the filter through the sequence of
    observations, starting from the mean state with the states' covariance.

    Parameters
    ----------
    C : float
        Scales the transition noise: ``W`` is divided by ``C`` (> 0). Larger ``C``
        trusts the dynamics more and the neurons less (Glaser's ``C``).
    lag : int
        Which bin of spikes observes the state at bin ``t``: ``z_{t + lag}``.
        Negative values use earlier spikes (neurons lead movement). Bins without an
        observation (at the ends) are predicted from the dynamics alone.

    Attributes
    ----------
    A_, W_, H_, Q_ : numpy.ndarray
        Transition (n_states, n_states), its noise covariance, observation matrix
        (n_units, n_states) and its noise covariance (n_units, n_units).
    state_mean_, obs_mean_ : numpy.ndarray
        Means of the training states and observations.
    state_cov_ : numpy.ndarray
        Covariance of the training states (the filter's initial uncertainty).

    Notes
    -----
    Prediction is sequential: the rows of ``X`` passed to ``fit`` and ``predict``
    must be consecutive time bins in time order, and a prediction depends on all
    earlier rows of the same call. Unlike most regressors, predicting rows one by
    one or shuffled gives different results. The input is the current bin's counts,
    shape (n_samples, n_units), not a history window.
    """

    def __init__(self, C: float = 1.0, lag: int = 0) -> None:
        self.C = C
        self.lag = lag

    def __sklearn_tags__(self) -> Any:
        return _multioutput_tags(super().__sklearn_tags__())

    def fit(self, X: ArrayLike, y: ArrayLike) -> KalmanDecoder:
        """Fit ``A``, ``W``, ``H`` and ``Q`` by least squares.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_units)
            Spike counts of consecutive bins, in time order.
        y : array-like, shape (n_samples,) or (n_samples, n_states)
            Kinematics of the same bins.

        Returns
        -------
        KalmanDecoder
            The fitted estimator.
        """
        if (
            isinstance(self.C, bool)
            or not isinstance(self.C, int | float)
            or not self.C > 0
            or not math.isfinite(self.C)
        ):
            raise ValidationError(f"'C' must be a finite number > 0; got {self.C!r}.")
        check_int("lag", self.lag)
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True)
        Z = np.asarray(X, dtype=np.float64)
        Y = np.asarray(y, dtype=np.float64)
        self._y_1d = Y.ndim == 1
        Y = Y.reshape(len(Y), -1)
        n = len(Y)
        lo, hi = max(0, -self.lag), min(n, n - self.lag)
        if hi - lo < 2:
            raise ValidationError(
                f"'X' must hold at least 2 time bins with an observation at lag "
                f"{self.lag}; got {n} sample(s), {max(hi - lo, 0)} of them usable."
            )
        states = Y[lo:hi]
        obs = Z[lo + self.lag : hi + self.lag]
        self.state_mean_ = states.mean(axis=0)
        self.obs_mean_ = obs.mean(axis=0)
        S = states - self.state_mean_
        Oc = obs - self.obs_mean_
        s1, s2 = S[:-1], S[1:]
        A = np.linalg.lstsq(s1, s2, rcond=None)[0].T
        r = s2 - s1 @ A.T
        W = r.T @ r / (len(S) - 1) / self.C
        H = np.linalg.lstsq(S, Oc, rcond=None)[0].T
        e = Oc - S @ H.T
        Q = e.T @ e / len(S)
        self.A_, self.W_, self.H_, self.Q_ = A, W, H, Q
        self.state_cov_ = S.T @ S / len(S)
        return self

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Run the filter through the observations and return the state estimates.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_units)
            Spike counts of consecutive bins, in time order.

        Returns
        -------
        numpy.ndarray, shape (n_samples,) or (n_samples, n_states)
            Filtered kinematics; row ``t`` uses the observations up to bin
            ``t + lag``.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        Z = np.asarray(X, dtype=np.float64) - self.obs_mean_
        A, W, H = self.A_, self.W_, self.H_
        n, s = len(Z), A.shape[0]
        # information form of the gain: K = Pm H'(H Pm H' + Q)^-1
        #                                 = Pm (I + M Pm)^-1 G,  G = H' Q^+, M = G H
        # so that each step inverts only an n_states x n_states matrix
        G = H.T @ np.linalg.pinv(self.Q_, hermitian=True)
        M = G @ H
        Gz = Z @ G.T  # (n, s): G z for every bin
        eye = np.eye(s)
        out = np.empty((n, s))
        x = np.zeros(s)
        P = self.state_cov_.copy()
        for t in range(n):
            if t > 0:
                x = A @ x
                P = A @ P @ A.T + W
            j = t + self.lag
            if 0 <= j < n:
                S = eye + M @ P
                x = x + P @ np.linalg.solve(S, Gz[j] - M @ x)
                P = P - P @ np.linalg.solve(S, M @ P)
                P = 0.5 * (P + P.T)
            out[t] = x
        out += self.state_mean_
        return out[:, 0] if self._y_1d else out


# the recurrent decoder lives in its own module; it imports this module's helpers,
# so it is imported last
from neurodl.decode.recurrent import RecurrentDecoder  # noqa: E402
