"""One unit of work of an evaluation across subjects: a pipeline on a subject's folds.

:func:`run_unit` computes one (task, pipeline, subject, seed) of
:func:`neurodl.decode.benchmark.evaluate_subjects`: the within-subject or run-wise
folds of one subject, or one leave-one-subject-out split (with the subjects'
alignment and the new user's calibration curve). It is a pure function of its
specification and arrays, so any process or worker may run it.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from neurodl._validate import check_option
from neurodl.decode.subjects import PROTOCOLS, Protocol
from neurodl.decode.transfer import align, alignment_filter
from neurodl.errors import ValidationError

__all__ = [
    "CALIBRATION_REPEATS",
    "PIPELINES",
    "SCHEMES",
    "STOCHASTIC",
    "UNIT_FIELDS",
    "build_pipeline",
    "make_splits",
    "package_versions",
    "pipeline_config",
    "run_unit",
]

SCHEMES = ("within", "runs", "loso")
"""Evaluation schemes."""

PIPELINES = ("csp-lda", "riemann", "mdm", "fbcsp", "convnet", "eegnet")
"""Pipelines :func:`build_pipeline` knows."""

STOCHASTIC = frozenset({"fbcsp", "convnet", "eegnet"})
"""Pipelines whose fit depends on a seed: run once per seed in ``seeds``."""

_COST = {"convnet": 20, "eegnet": 20, "fbcsp": 4, "riemann": 2, "mdm": 2}
"""Rough relative cost of a unit of each pipeline, for the order of dispatch."""

CALIBRATION_REPEATS = 5
"""Random draws of the new user's calibration trials per point of the curve."""


# -------------------------------------------------------------------- pipelines
def build_pipeline(
    name: str, protocol: Protocol, *, sfreq: float, rank: int | None, seed: int = 0
) -> Any:
    """Return a fresh, unfitted pipeline ``name`` for data made by ``protocol``.

    Under the ``"moabb"`` protocol, ``"csp-lda"`` and ``"riemann"`` are MOABB's
    own ``CSP.yml`` (OAS covariances, pyRiemann ``CSP(nfilter=6)``, LDA) and
    ``TSLR.yml`` (OAS covariances, ``TangentSpace("riemann")``,
    ``LogisticRegression(C=1)``) so the scores are MOABB's; the covariances and
    the tangent space are :mod:`neurodl.decode.riemann`'s, the same numbers as
    pyRiemann's with a third of the eigendecompositions. Otherwise the names
    are :func:`neurodl.decode.make_pipeline`'s (``rank``, the rank the protocol's
    reference leaves, spares CSP its estimate).
    """
    check_option("pipelines", name, PIPELINES)
    if protocol.name == "moabb" and name in ("csp-lda", "riemann"):
        from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline as sk_pipeline

        from neurodl.decode.riemann import Covariances, TangentSpace

        if name == "csp-lda":
            from pyriemann.spatialfilters import CSP

            return sk_pipeline(
                Covariances(estimator="oas"),
                CSP(nfilter=6),
                LinearDiscriminantAnalysis(solver="svd"),
            )
        return sk_pipeline(
            Covariances(estimator="oas"),
            TangentSpace(metric="riemann"),
            LogisticRegression(C=1.0),
        )
    from neurodl.decode.eeg import make_pipeline

    return make_pipeline(name, sfreq=sfreq, rank=rank, random_state=seed)


def pipeline_config(
    name: str, protocol: Protocol, *, sfreq: float, rank: int | None
) -> dict[str, Any]:
    """Return the pipeline's class and parameters (seed left out), with a hash."""
    est = build_pipeline(name, protocol, sfreq=sfreq, rank=rank)
    params = {
        k: repr(v)
        for k, v in sorted(est.get_params(deep=True).items())
        if not k.endswith("random_state") and not hasattr(v, "get_params")
    }
    steps = [type(s).__name__ for _, s in getattr(est, "steps", [("", est)])]
    text = json.dumps({"name": name, "steps": steps, "params": params}, sort_keys=True)
    return {
        "name": name,
        "steps": steps,
        "params": params,
        "stochastic": name in STOCHASTIC,
        "hash": hashlib.sha256(text.encode()).hexdigest()[:16],
    }


# ----------------------------------------------------------------------- splits
def make_splits(
    scheme: str, protocol: Protocol, y: np.ndarray, groups: np.ndarray, cv_seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Train/test indices of one subject for ``"within"`` or ``"runs"``."""
    from sklearn import model_selection as ms

    if scheme == "runs":
        if np.unique(groups).size < 2:
            raise ValidationError(
                f"scheme 'runs' needs at least two runs per subject; got runs "
                f"{np.unique(groups).tolist()}."
            )
        splitter: Any = ms.LeaveOneGroupOut()
    elif protocol.name == "moabb":
        splitter = ms.StratifiedKFold(5, shuffle=True, random_state=cv_seed)
    else:
        splitter = ms.ShuffleSplit(10, test_size=0.2, random_state=cv_seed)
    dummy = np.zeros((y.size, 1))
    grouped = groups if scheme == "runs" else None
    return [(tr, te) for tr, te in splitter.split(dummy, y, grouped)]


UNIT_FIELDS = ("accuracy", "roc_auc", "majority_share")
"""Scores every unit's result records (its mean over folds); a cached unit without
one of them was stored by an earlier version and is computed again."""

SCORING_PACKAGES = (
    "neurodl",
    "numpy",
    "scipy",
    "scikit-learn",
    "mne",
    "pyriemann",
    "torch",
)
"""Packages whose code computes a unit's scores; each unit records their versions."""


def package_versions() -> dict[str, str]:
    """Python's and :data:`SCORING_PACKAGES`' versions in this process."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0]}
    for pkg in SCORING_PACKAGES:
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:  # pragma: no cover - all are dependencies
            out[pkg] = "absent"
    return out


def _scores(est: Any, X: np.ndarray, y: np.ndarray) -> dict[str, float | None]:
    """Accuracy, ROC-AUC (two classes) and the majority share of the predictions.

    ROC-AUC is scikit-learn's ``"roc_auc"`` scorer's. A scikit-learn pipeline
    transforms the test trials once; its last step gives both the predictions and
    the scores (``decision_function``, else the probability of the second class,
    as the scorer takes them). The *majority share* is the fraction of the test
    trials given to the class predicted most often: close to the classes' own
    shares (about 0.5 for balanced classes) when the decoder's threshold sits
    among the trials, 1.0 when it sends one command whatever the trial.
    """
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import Pipeline

    if isinstance(est, Pipeline) and len(est.steps) > 1:
        X, est = est[:-1].transform(X), est[-1]
    pred = np.asarray(est.predict(X))
    out: dict[str, float | None] = {
        "accuracy": float(np.mean(pred == y)),
        "majority_share": float(np.unique(pred, return_counts=True)[1].max())
        / pred.size,
        "roc_auc": None,
    }
    if np.unique(y).size != 2:
        return out
    if hasattr(est, "decision_function"):
        score = np.asarray(est.decision_function(X))
    else:
        score = np.asarray(est.predict_proba(X))[:, 1]
    out["roc_auc"] = float(roc_auc_score(y, score))
    return out


# ------------------------------------------------------------------- one unit
def run_unit(
    spec: dict[str, Any], subjects: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """Compute one unit of work: ``spec`` on the subjects' arrays.

    ``subjects`` holds dicts with ``subject``, ``X``, ``y``, ``groups``: the one
    subject for ``"within"`` and ``"runs"``, every subject for ``"loso"``.
    Runs on one BLAS thread and one torch thread.
    """
    import torch
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    t0 = time.perf_counter()
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            if spec["scheme"] == "loso":
                out = _run_loso(spec, subjects)
            else:
                out = _run_folds(spec, subjects[0])
    finally:
        torch.set_num_threads(torch_threads)
    target = next(s for s in subjects if s["subject"] == spec["subject"])
    counts = np.bincount(target["y"], minlength=len(spec["classes"]))
    out["trials_per_class"] = {
        c: int(n) for c, n in zip(spec["classes"], counts, strict=True)
    }
    out["seconds"] = time.perf_counter() - t0
    # the process that computed it (a Dask worker may differ from the client)
    out["versions"] = package_versions()
    return out


def _fit(
    spec: dict[str, Any], X: np.ndarray, y: np.ndarray, *, headless: bool = False
) -> tuple[Any, float]:
    protocol = PROTOCOLS[spec["protocol"]]
    est = build_pipeline(
        spec["pipeline"],
        protocol,
        sfreq=spec["sfreq"],
        rank=spec["rank"],
        seed=spec["seed"],
    )
    if headless:  # the first step was applied to every trial already
        est = est[1:]
    t0 = time.perf_counter()
    est.fit(X, y)
    return est, time.perf_counter() - t0


def _trial_features(spec: dict[str, Any], X: np.ndarray) -> tuple[np.ndarray, bool]:
    """Apply a pipeline's per-trial first step (a covariance estimate) once.

    A pipeline that starts with pyRiemann's ``Covariances`` computes each trial's
    matrix from that trial alone (nothing is fitted), so the matrices of all the
    subject's trials are computed once and the folds fit the rest of the
    pipeline: the same numbers, one estimate per trial instead of one per fold.
    """
    est = build_pipeline(
        spec["pipeline"],
        PROTOCOLS[spec["protocol"]],
        sfreq=spec["sfreq"],
        rank=spec["rank"],
    )
    steps = getattr(est, "steps", None)
    if steps and type(steps[0][1]).__name__ == "Covariances":
        return np.asarray(steps[0][1].transform(X)), True
    return X, False


def _run_folds(spec: dict[str, Any], sub: dict[str, Any]) -> dict[str, Any]:
    y, groups = sub["y"], sub["groups"]
    X, headless = _trial_features(spec, sub["X"])
    protocol = PROTOCOLS[spec["protocol"]]
    folds = []
    for train, test in make_splits(
        spec["scheme"], protocol, y, groups, spec["cv_seed"]
    ):
        est, fit_s = _fit(spec, X[train], y[train], headless=headless)
        folds.append(
            {"test": test.tolist(), "fit_s": fit_s} | _scores(est, X[test], y[test])
        )
    return {
        "folds": folds,
        **{m: _mean_or_none([f[m] for f in folds]) for m in UNIT_FIELDS},
    }


def _mean_or_none(values: Sequence[float | None]) -> float | None:
    return None if any(v is None for v in values) else float(np.mean(values))  # type: ignore[arg-type]


def _run_loso(
    spec: dict[str, Any], subjects: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    from neurodl.decode.transfer import calibration_draws

    target = spec["subject"]
    aligned = {
        s["subject"]: (
            s["X"]
            if s.get("aligned") == spec["align"]  # aligned once, before dispatch
            else align(s["X"], alignment_filter(s["X"], spec["align"])),
            s["y"],
        )
        for s in subjects
    }
    Xt, yt = aligned[target]
    sources = [v for k, v in aligned.items() if k != target]
    y_src = np.concatenate([y for _, y in sources])
    fit: Callable[[dict[str, Any], np.ndarray, np.ndarray], tuple[Any, float]]
    t0 = time.perf_counter()
    if spec["align"] == "tangent":  # the subjects' centred tangent vectors
        X_src, Xt = _tangent_features(spec, [x for x, _ in sources], Xt)
        fit = _fit_tangent
    else:
        X_src = np.concatenate([x for x, _ in sources])
        fit = _fit
    features_s = time.perf_counter() - t0  # the tangent vectors' share of the fit
    est, fit_s = fit(spec, X_src, y_src)
    fit_s += features_s
    out: dict[str, Any] = {
        "folds": [
            {"test": list(range(yt.size)), "fit_s": fit_s} | _scores(est, Xt, yt)
        ],
        "n_train": int(y_src.size),
    }
    for m in UNIT_FIELDS:
        out[m] = out["folds"][0][m]
    sizes = spec.get("calibration") or []
    if sizes:
        draws = calibration_draws(
            yt, sizes, repeats=CALIBRATION_REPEATS, seed=spec["cv_seed"]
        )
        curve: dict[str, list[dict[str, Any]]] = {str(k): [] for k in sizes}
        for calib, test in draws:
            for k in sizes:
                idx = calib[k]
                if k == 0:
                    model = est
                else:
                    model, _ = fit(
                        spec,
                        np.concatenate([X_src, Xt[idx]]),
                        np.concatenate([y_src, yt[idx]]),
                    )
                curve[str(k)].append(
                    {"calibration": idx.tolist(), "test": test.tolist()}
                    | _scores(model, Xt[test], yt[test])
                )
        out["calibration"] = curve
    return out


# ------------------------------------------------- tangent-space centring
def _tangent_features(
    spec: dict[str, Any], sources: Sequence[np.ndarray], Xt: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return the ``"riemann"`` pipeline's tangent vectors, centred per subject.

    The covariances are the pipeline's own; the reference point is the Karcher
    mean of the training subjects' covariances, as the pipeline fits it; then
    each subject's mean vector, the new user's included (from its own unlabelled
    trials), is subtracted (:func:`neurodl.decode.transfer.centre_tangent`).
    Calibration trials of the new user keep the new user's centre.
    """
    from neurodl.decode.eeg import _covariances
    from neurodl.decode.riemann import TangentSpace
    from neurodl.decode.transfer import centre_tangent

    estimator, _ = _tangent_parts(spec)
    covs = [_covariances(np.asarray(x, dtype=float), estimator) for x in sources]
    ts = TangentSpace(metric="riemann").fit(np.concatenate(covs))
    F = np.concatenate([centre_tangent(ts.transform(c)) for c in covs])
    Ct = _covariances(np.asarray(Xt, dtype=float), estimator)
    return F, centre_tangent(ts.transform(Ct))


def _fit_tangent(
    spec: dict[str, Any], X: np.ndarray, y: np.ndarray
) -> tuple[Any, float]:
    """Fit the ``"riemann"`` pipeline's classifier on centred tangent vectors."""
    _, clf = _tangent_parts(spec)
    t0 = time.perf_counter()
    clf.fit(X, y)
    return clf, time.perf_counter() - t0


def _tangent_parts(spec: dict[str, Any]) -> tuple[str, Any]:
    """Return the ``"riemann"`` pipeline's covariance estimator and a new classifier.

    MOABB's ``TSLR`` is a scikit-learn pipeline (covariances, tangent space,
    logistic regression); neurodl's ``TangentSpaceClassifier`` holds the same
    three as parameters.
    """
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression

    from neurodl.decode.transfer import check_tangent_pipelines

    check_tangent_pipelines([spec["pipeline"]])  # _check_inputs says it first
    est = build_pipeline(
        spec["pipeline"],
        PROTOCOLS[spec["protocol"]],
        sfreq=spec["sfreq"],
        rank=spec["rank"],
    )
    if hasattr(est, "steps"):
        return est[0].estimator, clone(est[-1])
    return est.estimator, LogisticRegression(C=est.C, max_iter=1000)
