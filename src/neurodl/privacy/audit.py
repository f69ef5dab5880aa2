"""Membership inference at the subject level: telling who trained a model.

Two attacks, both scoring whole subjects (the unit a person cares about):

- **Loss threshold** (Yeom et al. 2018): a subject's score is minus its mean loss
  over its windows; members were fitted, so their loss is lower. Free.
- **Online LiRA** (Carlini et al. 2022, "Membership inference attacks from first
  principles"): shadow models of the same recipe are trained on random halves of
  all subjects, so every subject is "in" some shadows and "out" of others. A
  subject's statistic is its mean logit-scaled confidence
  ``phi = log(p / (1 - p))`` of the true label over its windows; Gaussians are fitted
  to its in- and out-statistics, and the score is the log-likelihood ratio of the
  target model's statistic. With few shadows the variances are pooled over
  subjects (``fix_variance=True``, Carlini et al.'s advice below 64 shadows); the
  means are always per subject.

Reported: the attack's ROC AUC over member vs non-member subjects and its true
positive rate at a 5 % false-positive rate. For an (epsilon, delta)-DP model no
test can beat ``TPR <= e^epsilon * FPR + delta`` (Kairouz et al. 2015); the audit
states that bound beside the measurement. With 100 non-members an FPR of 5 % is 5
subjects, so lower FPRs cannot be resolved.

The estimator is any scikit-learn classifier with ``predict_proba`` and
``classes_``; shadows are ``sklearn.base.clone``s fitted with ``groups=`` when
their ``fit`` takes it, and a different ``random_state`` each.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from neurodl._validate import check_int
from neurodl.errors import ShapeError, ValidationError

__all__ = [
    "ATTACKS",
    "AttackResult",
    "MembershipAudit",
    "attack_metrics",
    "audit_membership",
    "lira_scores",
    "loss_scores",
    "per_window_loss",
    "subject_means",
]

ATTACKS = ("loss", "lira")
FPR = 0.05
"""The false-positive rate at which the true-positive rate is reported."""
_P_CLIP = 1e-12


@dataclass(frozen=True)
class AttackResult:
    """One attack's outcome: AUC and TPR at :data:`FPR` over subjects."""

    attack: str
    auc: float
    tpr_at_fpr: float
    fpr: float
    n_members: int
    n_nonmembers: int
    n_shadows: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as JSON-friendly values."""
        return asdict(self)


@dataclass
class MembershipAudit:
    """Every attack's result on one model, with the DP bound when it has one.

    ``dp_bound_tpr`` is ``min(1, e^epsilon * fpr + delta)`` from the model's
    privacy report (None for a model trained without DP); for a sample-level
    model, epsilon and delta are first scaled to a subject of ``k`` windows by
    group privacy (``extra["bound_note"]`` says so).
    """

    attacks: dict[str, AttackResult]
    n_members: int
    n_nonmembers: int
    privacy: dict[str, Any] | None = None
    dp_bound_tpr: float | None = None
    member_accuracy: float = math.nan
    nonmember_accuracy: float = math.nan
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the audit as JSON-friendly values."""
        out = asdict(self)
        out["attacks"] = {k: v.to_dict() for k, v in self.attacks.items()}
        return out


# --------------------------------------------------------------- statistics
def attack_metrics(
    member_scores: Any, nonmember_scores: Any, fpr: float = FPR
) -> tuple[float, float]:
    """Return ``(auc, tpr_at_fpr)`` for scores where larger means "member".

    ``tpr_at_fpr`` is the largest true-positive rate over thresholds whose
    false-positive rate is at most ``fpr`` (the ROC curve read at ``fpr``).
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    m = np.asarray(member_scores, dtype=np.float64).ravel()
    n = np.asarray(nonmember_scores, dtype=np.float64).ravel()
    if m.size == 0 or n.size == 0:
        raise ValidationError(
            f"an attack needs members and non-members; got {m.size} and {n.size}."
        )
    labels = np.r_[np.ones(m.size), np.zeros(n.size)]
    scores = np.r_[m, n]
    if not np.isfinite(scores).all():
        scores = np.nan_to_num(scores, nan=-np.inf)
        scores = np.clip(scores, -1e300, 1e300)
    auc = float(roc_auc_score(labels, scores))
    f, t, _ = roc_curve(labels, scores)
    ok = f <= fpr + 1e-12
    return auc, float(t[ok].max()) if ok.any() else 0.0


def subject_means(values: Any, groups: Any) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(subjects, means)``: each subject's mean of a per-window value."""
    v = np.asarray(values, dtype=np.float64)
    g = np.asarray(groups)
    if g.dtype == object:
        g = g.astype(str)
    subjects, idx = np.unique(g, return_inverse=True)
    sums = np.bincount(idx.ravel(), weights=v, minlength=subjects.size)
    counts = np.bincount(idx.ravel(), minlength=subjects.size)
    return subjects, sums / counts


def _true_proba(estimator: Any, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    proba = np.asarray(estimator.predict_proba(X), dtype=np.float64)
    classes = np.asarray(estimator.classes_)
    col = np.searchsorted(classes, y)
    col = np.clip(col, 0, classes.size - 1)
    known = classes[col] == y
    p = np.where(known, proba[np.arange(len(y)), col], 0.0)
    return np.clip(p, _P_CLIP, 1 - _P_CLIP)


def per_window_loss(estimator: Any, X: Any, y: Any) -> np.ndarray:
    """Return the cross-entropy ``-log p(y | x)`` of each window (row)."""
    return -np.log(_true_proba(estimator, np.asarray(X), np.asarray(y)))


def _logit_confidence(estimator: Any, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Carlini et al.'s ``phi(p) = log p - log(1 - p)`` of the true label."""
    p = _true_proba(estimator, X, y)
    return np.log(p) - np.log1p(-p)


def loss_scores(
    estimator: Any, X: Any, y: Any, groups: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(subjects, scores)``: minus each subject's mean loss."""
    subjects, loss = subject_means(per_window_loss(estimator, X, y), groups)
    return subjects, -loss


def _fit_shadow(estimator: Any, X: Any, y: Any, groups: Any, seed: int) -> Any:
    from sklearn.base import clone

    shadow = clone(estimator)
    if "random_state" in shadow.get_params():
        shadow.set_params(random_state=seed)
    if "groups" in inspect.signature(shadow.fit).parameters:
        return shadow.fit(X, y, groups=groups)
    return shadow.fit(X, y)


def lira_scores(
    estimator: Any,
    X: Any,
    y: Any,
    groups: Any,
    *,
    n_shadows: int = 8,
    fix_variance: bool = True,
    random_state: int = 0,
    fit_shadow: Callable[[Any, Any, Any, Any, int], Any] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(subjects, scores)`` of the online LiRA against ``estimator``.

    Each shadow is trained on a random half of the subjects in ``X`` (half of
    them in each shadow, balanced: every subject is in about half the shadows).
    ``fit_shadow(estimator, X, y, groups, seed)`` trains one (default: clone,
    ``random_state=seed``, ``fit(X, y, groups=groups)``).
    """
    check_int("n_shadows", n_shadows, minimum=2)
    X = np.asarray(X)
    y = np.asarray(y)
    g = np.asarray(groups)
    if g.dtype == object:
        g = g.astype(str)
    subjects, idx = np.unique(g, return_inverse=True)
    idx = idx.ravel()
    n_subj = subjects.size
    rng = np.random.default_rng(random_state)
    # balanced membership: each column (subject) is in exactly half the shadows
    # when n_shadows is even (Carlini et al.'s keep matrix)
    order = rng.random((n_shadows, n_subj)).argsort(axis=0)
    keep = order < n_shadows // 2
    fit = fit_shadow or _fit_shadow
    stats = np.empty((n_shadows, n_subj))
    for k in range(n_shadows):
        rows = keep[k][idx]
        shadow = fit(estimator, X[rows], y[rows], g[rows], random_state + 1 + k)
        stats[k] = subject_means(_logit_confidence(shadow, X, y), g)[1]
    target = subject_means(_logit_confidence(estimator, X, y), g)[1]
    mu_in = np.array([stats[keep[:, s], s].mean() for s in range(n_subj)])
    mu_out = np.array([stats[~keep[:, s], s].mean() for s in range(n_subj)])
    if fix_variance:
        sd_in = np.full(n_subj, np.std(stats[keep] - mu_in[np.nonzero(keep)[1]]))
        sd_out = np.full(n_subj, np.std(stats[~keep] - mu_out[np.nonzero(~keep)[1]]))
    else:
        sd_in = np.array([stats[keep[:, s], s].std() for s in range(n_subj)])
        sd_out = np.array([stats[~keep[:, s], s].std() for s in range(n_subj)])
    sd_in = np.maximum(sd_in, 1e-6)
    sd_out = np.maximum(sd_out, 1e-6)

    def logpdf(x: np.ndarray, mu: np.ndarray, sd: np.ndarray) -> np.ndarray:
        return -0.5 * ((x - mu) / sd) ** 2 - np.log(sd)

    return subjects, logpdf(target, mu_in, sd_in) - logpdf(target, mu_out, sd_out)


def audit_membership(
    estimator: Any,
    X: Any,
    y: Any,
    groups: Any,
    members: Any,
    *,
    attacks: tuple[str, ...] = ATTACKS,
    n_shadows: int = 8,
    fix_variance: bool = True,
    fpr: float = FPR,
    random_state: int = 0,
    privacy: dict[str, Any] | None = None,
) -> MembershipAudit:
    """Attack a fitted classifier: find which subjects of ``X`` trained it.

    Parameters
    ----------
    estimator : fitted classifier
        With ``predict_proba`` and ``classes_``.
    X, y, groups : array-like
        Windows of member and non-member subjects, their labels and subjects.
    members : array-like
        The subjects that trained ``estimator``; every other subject in
        ``groups`` is a non-member.
    attacks : tuple of {"loss", "lira"}
    n_shadows : int
        LiRA shadow models (>= 2).
    privacy : dict, optional
        The model's privacy report (``PrivacyReport.to_dict()``), for the bound.
        Default: the estimator's ``privacy_`` if it has one.
    """
    X = np.asarray(X)
    y = np.asarray(y)
    g = np.asarray(groups)
    if g.dtype == object:
        g = g.astype(str)
    if not (X.shape[0] == y.shape[0] == g.shape[0]):
        raise ShapeError(
            f"'X', 'y' and 'groups' must have one row per window; got {X.shape[0]}, "
            f"{y.shape[0]} and {g.shape[0]} rows."
        )
    for a in attacks:
        if a not in ATTACKS:
            raise ValidationError(
                f"'attacks' must name {', '.join(map(repr, ATTACKS))}; got {a!r}."
            )
    subjects = np.unique(g)
    mem = np.asarray(members).astype(subjects.dtype)
    missing = np.setdiff1d(mem, subjects)
    if missing.size:
        raise ValidationError(
            f"'members' names subjects not in the data: {missing[:10].tolist()}."
        )
    is_member = np.isin(subjects, mem)
    n_m, n_n = int(is_member.sum()), int((~is_member).sum())
    if n_m == 0 or n_n == 0:
        raise ValidationError(
            f"'members' must leave both members and non-members; got {n_m} members "
            f"and {n_n} non-members among {subjects.size} subjects."
        )
    results: dict[str, AttackResult] = {}
    if "loss" in attacks:
        _, scores = loss_scores(estimator, X, y, g)
        auc, tpr = attack_metrics(scores[is_member], scores[~is_member], fpr)
        results["loss"] = AttackResult("loss", auc, tpr, fpr, n_m, n_n)
    if "lira" in attacks:
        _, scores = lira_scores(
            estimator,
            X,
            y,
            g,
            n_shadows=n_shadows,
            fix_variance=fix_variance,
            random_state=random_state,
        )
        auc, tpr = attack_metrics(scores[is_member], scores[~is_member], fpr)
        results["lira"] = AttackResult("lira", auc, tpr, fpr, n_m, n_n, n_shadows)
    if privacy is None:
        report = getattr(estimator, "privacy_", None)
        privacy = report.to_dict() if report is not None else None
    bound = None
    extra: dict[str, Any] = {}
    if privacy is not None:
        eps, delta = float(privacy["epsilon"]), float(privacy["delta"])
        if privacy.get("privacy_unit") == "sample":
            # the attack is on subjects: a subject of k windows is (k eps,
            # k e^((k-1) eps) delta)-DP by group privacy (Dwork & Roth 2014, 2.2)
            k = int(np.unique(g[np.isin(g, mem)], return_counts=True)[1].max())
            delta = min(1.0, k * math.exp(min((k - 1) * eps, 700.0)) * delta)
            eps = k * eps
            extra["bound_note"] = (
                f"sample-level model: the subject-level bound uses group privacy "
                f"over k = {k} windows (epsilon {eps:.3g})"
            )
        bound = min(1.0, math.exp(min(eps, 700.0)) * fpr + delta)
    right = np.asarray(estimator.predict(X)) == y
    row_member = np.isin(g, mem)
    return MembershipAudit(
        attacks=results,
        n_members=n_m,
        n_nonmembers=n_n,
        privacy=privacy,
        dp_bound_tpr=bound,
        member_accuracy=float(right[row_member].mean()),
        nonmember_accuracy=float(right[~row_member].mean()),
        extra=extra,
    )
