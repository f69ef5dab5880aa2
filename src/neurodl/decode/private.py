"""A differentially private classifier for EEG features, private per subject.

:class:`DPClassifier` is a scikit-learn classifier (logistic regression, or a small
MLP with ``hidden=(32,)``) trained with per-subject DP-SGD
(:mod:`neurodl.privacy.dp`): ``fit(X, y, groups=subjects)``. Its ``privacy_``
attribute holds the accountant's guarantee, and :meth:`DPClassifier.save` writes
it into the model file, with the recipe that trained it (for ``neurodl audit
membership``'s shadow models) and never a subject label.

Only what the estimator computes is private. Features must not be fitted on the
training subjects as a whole (CSP filters, a scaler fitted on every subject, a
tangent-space reference mean): those leak outside the guarantee. Per-trial
features (:class:`LogVariance`, band power) and per-subject standardisation
(:func:`standardize_per_subject`, a function of one subject's own data) keep it.

In a pipeline, route the subjects to the classifier::

    pipe = sklearn.pipeline.make_pipeline(LogVariance(), DPClassifier())
    pipe.fit(X, y, dpclassifier__groups=subjects)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from neurodl._validate import check_int
from neurodl.decode.eeg import check_epochs
from neurodl.errors import ModelFileError, ValidationError
from neurodl.learning.private import fit_private
from neurodl.networks.feedforward import FeedForward
from neurodl.privacy.dp import DPConfig, PrivacyReport

__all__ = ["DPClassifier", "LogVariance", "standardize_per_subject"]

ESTIMATOR = "neurodl.DPClassifier"
"""The ``"estimator"`` entry of a saved DPClassifier's metadata."""


class DPClassifier(ClassifierMixin, BaseEstimator):
    """Logistic regression or MLP trained with subject-level DP-SGD.

    Parameters
    ----------
    dp_epsilon : float or None
        Target epsilon per privacy unit; None trains without privacy (the same
        loop without clipping or noise: the baseline to compare with).
    dp_delta : float or None
        Target delta, < 1/(number of units); None: ``min(1e-5, 0.1 / n_units)``.
    privacy_unit : {"subject", "sample"}
        ``"subject"`` needs ``groups`` in :meth:`fit`. ``"sample"`` warns
        (:class:`~neurodl.privacy.dp.SampleLevelPrivacyWarning`).
    max_grad_norm : float
        Clipping norm of one unit's gradient.
    sample_rate : float
        Poisson rate at which a unit joins a step.
    steps : int
        Optimizer steps.
    hidden : tuple of int
        Hidden layer widths; ``()`` is logistic (softmax) regression.
    activation : str
        Hidden activation.
    lr : float
    optimizer : {"adam", "sgd"}
    accountant : {"prv", "rdp"}
    random_state : int
        Seed of the initialisation, the sampling and the noise.

    Attributes
    ----------
    classes_ : ndarray
    net_ : FeedForward
        The trained network (``n_features -> hidden -> n_classes`` logits).
    privacy_ : PrivacyReport or None
        The guarantee (accountant's epsilon after training), None without DP.
    loss_curve_ : list of float
        Each step's mean loss on its sample (not private; for diagnosis only).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((400, 5)); y = (X[:, 0] > 0).astype(int)
    >>> subjects = np.repeat(np.arange(40), 10)
    >>> clf = DPClassifier(dp_epsilon=8.0, sample_rate=0.25, steps=100,
    ...                    accountant="rdp").fit(X, y, groups=subjects)
    >>> clf.privacy_.epsilon <= 8.0, clf.privacy_.n_units
    (True, 40)
    >>> float(clf.score(X, y)) > 0.8
    True
    """

    def __init__(
        self,
        dp_epsilon: float | None = 8.0,
        dp_delta: float | None = None,
        privacy_unit: str = "subject",
        max_grad_norm: float = 1.0,
        sample_rate: float = 0.1,
        steps: int = 400,
        hidden: tuple[int, ...] = (),
        activation: str = "relu",
        lr: float = 0.01,
        optimizer: str = "adam",
        accountant: str = "prv",
        random_state: int = 0,
    ):
        self.dp_epsilon = dp_epsilon
        self.dp_delta = dp_delta
        self.privacy_unit = privacy_unit
        self.max_grad_norm = max_grad_norm
        self.sample_rate = sample_rate
        self.steps = steps
        self.hidden = hidden
        self.activation = activation
        self.lr = lr
        self.optimizer = optimizer
        self.accountant = accountant
        self.random_state = random_state

    def dp_config(self) -> DPConfig:
        """Return the training settings as a :class:`~neurodl.privacy.dp.DPConfig`."""
        return DPConfig(
            dp_epsilon=self.dp_epsilon,
            dp_delta=self.dp_delta,
            privacy_unit=self.privacy_unit,
            max_grad_norm=self.max_grad_norm,
            sample_rate=self.sample_rate,
            steps=self.steps,
            lr=self.lr,
            optimizer=self.optimizer,
            accountant=self.accountant,
            seed=self.random_state,
        )

    def _make_net(self, n_features: int, n_classes: int) -> FeedForward:
        hidden = [
            check_int(f"hidden[{i}]", h, minimum=1) for i, h in enumerate(self.hidden)
        ]
        return FeedForward(
            (n_features, *hidden, n_classes),
            self.activation,
            "identity",
            seed=self.random_state,
            dtype=torch.float32,
        )

    def fit(self, X: Any, y: Any, groups: Any = None) -> DPClassifier:
        """Train on windows ``X`` (n, n_features), labels ``y``, subjects ``groups``.

        Raises
        ------
        ValidationError
            No ``groups`` for ``privacy_unit="subject"``, ``dp_delta`` not below
            1/(number of units), fewer than two classes, a bad parameter.
        """
        cfg = self.dp_config()
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        if self.classes_.size < 2:
            raise ValidationError(
                f"'y' must hold at least two classes to train a classifier; got "
                f"{self.classes_.size}."
            )
        net = self._make_net(X.shape[1], int(self.classes_.size))
        result = fit_private(
            net,
            torch.as_tensor(X, dtype=torch.float32),
            torch.as_tensor(y_idx.reshape(-1), dtype=torch.int64),
            None if groups is None else np.asarray(groups),
            cfg,
        )
        self.net_ = net
        self.privacy_: PrivacyReport | None = result.privacy
        self.loss_curve_ = result.losses
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """Return the logits (n, n_classes); for two classes, their difference."""
        check_is_fitted(self, "net_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        with torch.no_grad():
            z = self.net_(torch.as_tensor(X, dtype=torch.float32)).double().numpy()
        return z[:, 1] - z[:, 0] if z.shape[1] == 2 else z

    def predict_proba(self, X: Any) -> np.ndarray:
        """Return class probabilities (softmax of the logits), shape (n, n_classes)."""
        check_is_fitted(self, "net_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        with torch.no_grad():
            z = self.net_(torch.as_tensor(X, dtype=torch.float32)).double()
        return torch.softmax(z, dim=1).numpy()

    def predict(self, X: Any) -> np.ndarray:
        """Return the most probable class of each row."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def recipe(self) -> dict[str, Any]:
        """Return the constructor arguments as JSON values (how to train it again)."""
        params = self.get_params()
        params["hidden"] = list(params["hidden"])
        return params

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the fitted classifier, its privacy report and recipe to ``path``.

        A ``neurodl.FeedForward`` safetensors file
        (:func:`neurodl.networks.io.save`): :func:`neurodl.networks.io.load`
        reads the network, :meth:`load` the classifier. No subject label is
        stored.
        """
        from neurodl.networks.io import save

        check_is_fitted(self, "net_")
        return save(
            self.net_,
            path,
            privacy=self.privacy_,
            extra={
                "estimator": ESTIMATOR,
                "classes": self.classes_.tolist(),
                "recipe": self.recipe(),
            },
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> DPClassifier:
        """Read a classifier written by :meth:`save`.

        Raises
        ------
        ModelFileError
            Missing, corrupted or foreign file, or a network saved without a
            classifier.
        """
        from neurodl.networks.io import load_with_meta

        net, meta = load_with_meta(path)
        if meta.get("estimator") != ESTIMATOR:
            raise ModelFileError(
                f"{str(path)!r} holds a network but not a DPClassifier (no recipe "
                "or classes in its metadata); write it with DPClassifier.save or "
                "neurodl train features."
            )
        try:
            recipe = dict(meta["recipe"])
            recipe["hidden"] = tuple(recipe["hidden"])
            clf = cls(**recipe)
            classes = np.asarray(meta["classes"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(
                f"{str(path)!r} has an unreadable DPClassifier recipe: {exc}"
            ) from exc
        sizes = list(net.sizes)
        if sizes[-1] != classes.size:
            raise ModelFileError(
                f"{str(path)!r}: the network has {sizes[-1]} outputs but the file "
                f"names {classes.size} classes."
            )
        clf.net_ = net
        clf.classes_ = classes
        clf.n_features_in_ = sizes[0]
        clf.privacy_ = (
            PrivacyReport.from_dict(meta["privacy"]) if meta.get("privacy") else None
        )
        clf.loss_curve_ = []
        return clf


class LogVariance(TransformerMixin, BaseEstimator):
    """Per-trial log-variance of each channel: ``log(var(x_c) + eps)``.

    A feature that needs no fitting (so it cannot leak one subject's data into
    another's features): band power of band-passed epochs, the classic
    motor-imagery feature without CSP's data-fitted filters. Input
    ``(n_trials, n_channels, n_times)``; output ``(n_trials, n_channels)``.
    """

    def __init__(self, eps: float = 1e-30):
        self.eps = eps

    def fit(self, X: Any, y: Any = None) -> LogVariance:
        """Record the number of channels; nothing is learnt."""
        self.n_channels_ = check_epochs(X).shape[1]
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Return ``log(var(X, axis=-1) + eps)``."""
        check_is_fitted(self, "n_channels_")
        arr = check_epochs(X)
        if arr.shape[1] != self.n_channels_:
            raise ValidationError(
                f"'X' has {arr.shape[1]} channels; this transformer was fitted on "
                f"{self.n_channels_}."
            )
        return np.log(arr.var(axis=-1) + self.eps)


def standardize_per_subject(X: Any, groups: Any) -> np.ndarray:
    """Z-score each subject's rows with that subject's own mean and std.

    Subject ``s``'s output depends only on subject ``s``'s data, so under
    subject-level DP this costs no privacy (a scaler fitted on all training
    subjects would); a held-out subject is scaled by its own statistics too
    (unsupervised, no labels). Columns with zero spread become 0.
    """
    arr = np.asarray(X, dtype=np.float64)
    g = np.asarray(groups)
    if arr.ndim != 2 or g.shape != (arr.shape[0],):
        raise ValidationError(
            f"'X' must be 2-D and 'groups' hold one label per row; got shapes "
            f"{arr.shape} and {g.shape}."
        )
    out = np.empty_like(arr)
    for s in np.unique(g):
        rows = g == s
        mean = arr[rows].mean(axis=0)
        std = arr[rows].std(axis=0)
        out[rows] = np.where(std > 0, (arr[rows] - mean) / np.where(std > 0, std, 1), 0)
    return out
