"""Classical EEG decoders, each one scikit-learn estimator around the field's libraries.

- :class:`CSPLDA`: common spatial patterns (log band power of the CSP components,
  neurodl's :class:`~neurodl.decode.csp.CSP`, equal to MNE's) and linear
  discriminant analysis, MNE's motor-imagery example.
- :class:`FilterBankCSP`: CSP in each band of a filter bank (Ang et al. 2008),
  mutual-information feature selection, LDA.
- :class:`TangentSpaceClassifier`: pyRiemann's shrunk covariance matrices, mapped to
  the tangent space at their Riemannian mean, and a logistic regression
  (Barachant et al. 2012).
- :class:`MDMClassifier`: pyRiemann's minimum distance to the Riemannian class means.

Input is ``X`` of shape (n_trials, n_channels, n_times). A 2-D ``X`` is read as one
time sample per trial (MNE's convention, ``np.atleast_3d``). Every fitted step
lives inside the estimator, so cross-validation (:mod:`neurodl.decode.evaluate`)
refits all of it within each fold.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from neurodl.errors import NonFiniteError, ShapeError, ValidationError

__all__ = [
    "CSPLDA",
    "EEG_PIPELINES",
    "FilterBankCSP",
    "MDMClassifier",
    "TangentSpaceClassifier",
    "check_epochs",
    "make_pipeline",
]


def check_epochs(X: Any, *, name: str = "X") -> np.ndarray:
    """Return ``X`` as float64 (n_trials, n_channels, n_times), or raise a clear error.

    2-D input (n_trials, n_channels) becomes one time sample per trial.
    """
    arr = np.asarray(X)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise ValidationError(
            f"{name!r} must be a numeric array (trials, channels, times); got "
            f"dtype {arr.dtype}."
        )
    if arr.ndim == 2:
        arr = arr[:, :, np.newaxis]
    if arr.ndim != 3:
        raise ShapeError(
            f"{name!r} must be 3-D (trials, channels, times) or 2-D (trials, "
            f"channels); got shape {arr.shape}."
        )
    arr = arr.astype(np.float64, copy=False)
    # the sum is finite when every value is (or overflows: then look closer)
    if not np.isfinite(arr.sum()) and not np.isfinite(arr).all():
        n_bad = int((~np.isfinite(arr)).sum())
        trials = np.unique(np.nonzero(~np.isfinite(arr))[0])
        raise NonFiniteError(
            f"{name!r} must be finite; got {n_bad} NaN or infinite value(s) in "
            f"trial(s) {trials[:10].tolist()}{' ...' if trials.size > 10 else ''}."
        )
    return arr


def validate_fit_epochs(
    est: BaseEstimator, X: Any, y: Any, purpose: str
) -> tuple[np.ndarray, np.ndarray]:
    """Validate training epochs and labels for ``est``; set its ``classes_``.

    Returns the epochs as float64 ``(n_trials, n_channels, n_times)`` and each
    trial's class index. ``purpose`` ends the message for fewer than two classes
    (``"to train a classifier"``).
    """
    X, y = validate_data(
        est,
        X,
        y,
        ensure_min_samples=2,
        allow_nd=True,
        ensure_all_finite=False,
        dtype=np.float64,
    )
    check_classification_targets(y)
    arr = check_epochs(X)
    est.classes_, y_idx = np.unique(y, return_inverse=True)
    if est.classes_.size < 2:
        raise ValidationError(
            f"'y' must hold at least two classes {purpose}; got only "
            f"{est.classes_.tolist()}."
        )
    return arr, y_idx


def validate_epochs(est: BaseEstimator, X: Any) -> np.ndarray:
    """Validate epochs for a fitted ``est`` (same channels and times as in fit)."""
    check_is_fitted(est)
    X = validate_data(
        est, X, reset=False, allow_nd=True, ensure_all_finite=False, dtype=np.float64
    )
    return check_epochs(X)


class _EpochsClassifier(ClassifierMixin, BaseEstimator):
    """Shared input handling: validate (trials, channels, times), remember classes."""

    def _validate_fit(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        arr, y_idx = validate_fit_epochs(self, X, y, "to train a classifier")
        self.n_times_ = arr.shape[2]
        return arr, y_idx

    def _validate_predict(self, X: Any) -> np.ndarray:
        return validate_epochs(self, X)

    def predict(self, X: Any) -> np.ndarray:
        """Predict the class of each trial."""
        proba = self.predict_proba(X)
        return np.asarray(self.classes_[np.argmax(proba, axis=1)])

    def predict_proba(self, X: Any) -> np.ndarray:  # pragma: no cover - abstract
        """Class probabilities, shape (n_trials, n_classes)."""
        raise NotImplementedError

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        if tags.classifier_tags is not None:
            # Second-order features (band power, covariance) are blind to a class
            # difference in the mean of one-sample "trials", which is all that
            # sklearn's blobs test data holds: its accuracy check does not apply.
            tags.classifier_tags.poor_score = True
        return tags


def _mne_csp(n_components: int, reg: Any, rank: Any) -> Any:
    from mne.decoding import CSP

    return CSP(
        n_components=n_components,
        reg=reg,
        log=None,
        norm_trace=False,
        rank=rank,
        transform_into="csp_space",
    )


def _log_power(csp: Any, arr: np.ndarray) -> np.ndarray:
    """Log of the mean power of each CSP component, as MNE's ``log=True`` computes.

    The power is floored at the smallest normal float, so a silent component gives
    a large negative feature instead of ``-inf``.
    """
    sources = np.asarray(_quiet(csp.transform, arr))
    power = (sources**2).mean(axis=2)
    return np.log(np.maximum(power, np.finfo(np.float64).tiny))


def _csp_components(n_components: int, n_channels: int) -> int:
    if n_components > n_channels:
        return n_channels
    return n_components


class CSPLDA(_EpochsClassifier):
    """CSP (log-variance of ``n_components`` spatial filters) and LDA.

    The CSP is neurodl's :class:`neurodl.decode.csp.CSP`, which computes MNE's
    ``CSP(n_components, reg, log=True, norm_trace=False, rank)`` (filters,
    patterns and features equal to ~1e-10) without MNE's per-fit bookkeeping.

    Parameters
    ----------
    n_components : int
        CSP components kept (at most the number of channels).
    reg : None, float, "empirical", "oas" or "ledoit_wolf"
        Covariance regularisation, as MNE's CSP's ``reg``.
    rank : None, "full", int or dict
        Rank of the data. None estimates it in every fit (as MNE's example does);
        ``{"eeg": n_channels - 1}`` states it for average-referenced data and
        skips that estimate (same filters, faster).
    """

    def __init__(
        self, n_components: int = 4, reg: Any = None, rank: Any = None
    ) -> None:
        self.n_components = n_components
        self.reg = reg
        self.rank = rank

    def fit(self, X: Any, y: Any) -> CSPLDA:
        """Fit CSP on the trials of ``X`` and LDA on their CSP features."""
        from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

        from neurodl.decode.csp import CSP

        arr, y_idx = self._validate_fit(X, y)
        _check_components(self.n_components)
        csp = CSP(
            _csp_components(self.n_components, arr.shape[1]),
            reg=self.reg,
            rank=self.rank,
        )
        feats = csp._features(csp._fit_epochs(arr, y_idx))
        csp.classes_ = self.classes_
        csp.n_features_in_ = arr.shape[1]
        self.csp_ = csp
        self.lda_ = LinearDiscriminantAnalysis().fit(feats, y_idx)
        return self

    def features(self, X: Any) -> np.ndarray:
        """CSP log-power features, shape (n_trials, n_components)."""
        arr = self._validate_predict(X)
        return self.csp_._features(self.csp_._power(arr))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities from LDA."""
        feats = self.features(X)
        return np.asarray(self.lda_.predict_proba(feats))

    def decision_function(self, X: Any) -> np.ndarray:
        """LDA's decision function."""
        feats = self.features(X)
        return np.asarray(self.lda_.decision_function(feats))


def _check_components(n: Any) -> None:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValidationError(f"'n_components' must be an integer >= 1; got {n!r}.")


def _quiet(fn: Any, *args: Any) -> Any:
    import mne

    with mne.utils.use_log_level("error"):
        return fn(*args)


DEFAULT_BANDS: tuple[tuple[float, float], ...] = tuple(
    (float(lo), float(lo + 8)) for lo in range(4, 33, 4)
)
"""Eight overlapping 8 Hz wide bands from 4 to 40 Hz (4-12, 8-16, ..., 32-40).

Ang et al.'s (2008) nine 4 Hz bands score 0.38-0.63 on the bundled 45 trials
(36 per training fold are too few for CSP in such narrow bands); these score
0.78-0.81.
"""


class FilterBankCSP(_EpochsClassifier):
    """Filter-bank CSP (Ang et al. 2008): CSP per band, best features, LDA.

    Each band is a zero-phase Butterworth band-pass (order 4, second-order
    sections) applied to every trial on its own, so it has nothing to fit. The
    classifier is LDA with Ledoit-Wolf shrinkage (many features, few trials).

    Parameters
    ----------
    sfreq : float
        Sampling rate of ``X`` in Hz.
    bands : sequence of (low, high)
        Pass bands in Hz; bands at or above the Nyquist frequency are an error.
    n_components : int
        CSP components per band.
    k_best : int
        Features kept by mutual information with the class (all if larger).
    random_state : int
        Seed of the mutual-information estimate.
    """

    def __init__(
        self,
        sfreq: float = 160.0,
        bands: Sequence[tuple[float, float]] = DEFAULT_BANDS,
        n_components: int = 2,
        k_best: int = 8,
        random_state: int = 0,
    ) -> None:
        self.sfreq = sfreq
        self.bands = bands
        self.n_components = n_components
        self.k_best = k_best
        self.random_state = random_state

    def _filtered(self, arr: np.ndarray) -> list[np.ndarray]:
        from scipy.signal import butter, sosfiltfilt

        out = []
        for lo, hi in self.bands:
            sos = butter(4, (lo, hi), btype="bandpass", fs=self.sfreq, output="sos")
            padlen = min(3 * (2 * len(sos) + 1), arr.shape[2] - 1)
            out.append(
                sosfiltfilt(sos, arr, axis=2, padlen=max(padlen, 0))
                if arr.shape[2] > 1
                else arr.copy()
            )
        return out

    def _check_params(self) -> None:
        if isinstance(self.sfreq, bool) or not isinstance(self.sfreq, int | float):
            raise ValidationError(f"'sfreq' must be a number > 0; got {self.sfreq!r}.")
        if self.sfreq <= 0:
            raise ValidationError(f"'sfreq' must be > 0; got {self.sfreq!r}.")
        bands = list(self.bands)
        if not bands:
            raise ValidationError("'bands' must hold at least one (low, high) band.")
        for lo, hi in bands:
            if not 0 < lo < hi < self.sfreq / 2:
                raise ValidationError(
                    f"'bands' must satisfy 0 < low < high < sfreq/2 = "
                    f"{self.sfreq / 2:g} Hz; got ({lo}, {hi})."
                )
        _check_components(self.n_components)
        if isinstance(self.k_best, bool) or not isinstance(self.k_best, int):
            raise ValidationError(
                f"'k_best' must be an integer >= 1; got {self.k_best!r}."
            )
        if self.k_best < 1:
            raise ValidationError(
                f"'k_best' must be an integer >= 1; got {self.k_best!r}."
            )

    def fit(self, X: Any, y: Any) -> FilterBankCSP:
        """Fit one CSP per band, select features by mutual information, fit LDA."""
        from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
        from sklearn.feature_selection import SelectKBest, mutual_info_classif

        self._check_params()
        arr, y_idx = self._validate_fit(X, y)
        n_comp = _csp_components(self.n_components, arr.shape[1])
        self.csps_ = []
        feats = []
        for band in self._filtered(arr):
            csp = _mne_csp(n_comp, "oas", None)
            _quiet(csp.fit, band, y_idx)
            feats.append(_log_power(csp, band))
            self.csps_.append(csp)
        F = np.concatenate(feats, axis=1)
        k = min(self.k_best, F.shape[1])
        score = partial(mutual_info_classif, random_state=self.random_state)
        self.select_ = SelectKBest(score, k=k).fit(F, y_idx)
        self.lda_ = LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto").fit(
            self.select_.transform(F), y_idx
        )
        return self

    def features(self, X: Any) -> np.ndarray:
        """Return the selected filter-bank CSP features, shape (n_trials, k_best)."""
        arr = self._validate_predict(X)
        F = np.concatenate(
            [
                _log_power(csp, band)
                for csp, band in zip(self.csps_, self._filtered(arr), strict=True)
            ],
            axis=1,
        )
        return np.asarray(self.select_.transform(F))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities from LDA."""
        feats = self.features(X)
        return np.asarray(self.lda_.predict_proba(feats))


def _covariances(arr: np.ndarray, estimator: str) -> np.ndarray:
    """Covariance matrix of each trial with pyRiemann's ``estimator``.

    ``"oas"`` is :func:`neurodl.decode.riemann.oas_covariances` (the same
    matrices, all trials at once). A trial of one time sample (2-D input) has no
    mean to remove: its covariance is the outer product ``x xᵀ`` plus 1e-3 of its
    mean diagonal (and 1e-12) on the diagonal, so it stays positive definite.
    """
    try:  # pyRiemann >= 0.12
        from pyriemann.geometry.covariance import covariances
    except ImportError:  # pragma: no cover - older pyRiemann
        from pyriemann.utils.covariance import covariances

    if arr.shape[2] >= 2 and estimator == "oas":
        from neurodl.decode.riemann import oas_covariances

        return oas_covariances(arr)
    if arr.shape[2] >= 2:
        return np.asarray(covariances(arr, estimator=estimator))
    x = arr[:, :, 0]
    outer = x[:, :, None] * x[:, None, :]
    ridge = 1e-3 * (x**2).mean(axis=1) + 1e-12
    return outer + ridge[:, None, None] * np.eye(arr.shape[1])


class TangentSpaceClassifier(_EpochsClassifier):
    """Riemannian tangent-space features and logistic regression (pyRiemann).

    Parameters
    ----------
    estimator : str
        Covariance estimator of :class:`pyriemann.estimation.Covariances`; a
        shrinkage one (``"oas"``, ``"lwf"``) keeps rank-deficient data
        (average-referenced EEG) positive definite.
    metric : str
        Metric of the tangent-space reference point.
    C : float
        Inverse regularisation strength of the logistic regression.
    """

    def __init__(self, estimator: str = "oas", metric: str = "riemann", C: float = 1.0):
        self.estimator = estimator
        self.metric = metric
        self.C = C

    def fit(self, X: Any, y: Any) -> TangentSpaceClassifier:
        """Fit the reference point on the training covariances, then the classifier.

        The affine-invariant (``"riemann"``) reference is
        :class:`neurodl.decode.riemann.TangentSpace`'s (pyRiemann's numbers, a
        third of the eigendecompositions); other metrics are pyRiemann's.
        """
        from pyriemann.tangentspace import TangentSpace
        from sklearn.linear_model import LogisticRegression

        from neurodl.decode import riemann

        arr, y_idx = self._validate_fit(X, y)
        covs = _covariances(arr, self.estimator)
        ts = (
            riemann.TangentSpace()
            if self.metric == "riemann"
            else TangentSpace(metric=self.metric)
        )
        feats = ts.fit_transform(covs)
        self.ts_ = ts
        self.lr_ = LogisticRegression(C=self.C, max_iter=1000).fit(feats, y_idx)
        return self

    def features(self, X: Any) -> np.ndarray:
        """Tangent-space vectors, shape (n_trials, n_channels (n_channels + 1) / 2)."""
        arr = self._validate_predict(X)
        return np.asarray(self.ts_.transform(_covariances(arr, self.estimator)))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities from the logistic regression."""
        feats = self.features(X)
        return np.asarray(self.lr_.predict_proba(feats))

    def decision_function(self, X: Any) -> np.ndarray:
        """Return the logistic regression's decision function."""
        feats = self.features(X)
        return np.asarray(self.lr_.decision_function(feats))


class MDMClassifier(_EpochsClassifier):
    """Minimum distance to the Riemannian mean of each class (pyRiemann's MDM).

    Parameters
    ----------
    estimator : str
        Covariance estimator (shrinkage keeps average-referenced data definite).
    metric : str
        Riemannian metric for the means and the distances.
    """

    def __init__(self, estimator: str = "oas", metric: str = "riemann"):
        self.estimator = estimator
        self.metric = metric

    def fit(self, X: Any, y: Any) -> MDMClassifier:
        """Estimate each class's Riemannian mean covariance."""
        from pyriemann.classification import MDM

        arr, y_idx = self._validate_fit(X, y)
        covs = _covariances(arr, self.estimator)
        self.mdm_ = MDM(metric=self.metric).fit(covs, y_idx)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Softmax of minus the squared distances to the class means."""
        arr = self._validate_predict(X)
        return np.asarray(self.mdm_.predict_proba(_covariances(arr, self.estimator)))


EEG_PIPELINES = ("csp-lda", "fbcsp", "riemann", "mdm", "convnet", "eegnet")
"""Names :func:`make_pipeline` knows."""


def make_pipeline(
    name: str, *, sfreq: float = 160.0, rank: int | None = None, random_state: int = 0
) -> Any:
    """Return a fresh, unfitted EEG decoder by name.

    ``"csp-lda"`` (MNE's example), ``"fbcsp"``, ``"riemann"`` (tangent space +
    logistic regression), ``"mdm"``, ``"convnet"`` (neurodl's shallow ConvNet) or
    ``"eegnet"``. ``rank`` (see :attr:`neurodl.data.EEGEpochs.rank`) spares CSP its
    rank estimate in every fit.
    """
    if name == "csp-lda":
        return CSPLDA(rank=None if rank is None else {"eeg": int(rank)})
    if name == "fbcsp":
        return FilterBankCSP(sfreq=sfreq, random_state=random_state)
    if name == "riemann":
        return TangentSpaceClassifier()
    if name == "mdm":
        return MDMClassifier()
    if name in ("convnet", "eegnet"):
        from neurodl.decode import convnet

        cls = (
            convnet.ShallowConvNetClassifier
            if name == "convnet"
            else convnet.EEGNetClassifier
        )
        return cls(random_state=random_state)
    raise ValidationError(
        f"'pipeline' must be one of {', '.join(map(repr, EEG_PIPELINES))}; "
        f"got {name!r}."
    )
