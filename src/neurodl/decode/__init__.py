"""Decoders: brain recordings to intentions, each a scikit-learn estimator.

EEG classifiers (:mod:`neurodl.decode.eeg`), leak-free evaluation
(:mod:`neurodl.decode.evaluate`).
"""

from neurodl.decode.eeg import CSPLDA as CSPLDA
from neurodl.decode.eeg import EEG_PIPELINES as EEG_PIPELINES
from neurodl.decode.eeg import FilterBankCSP as FilterBankCSP
from neurodl.decode.eeg import MDMClassifier as MDMClassifier
from neurodl.decode.eeg import TangentSpaceClassifier as TangentSpaceClassifier
from neurodl.decode.eeg import make_pipeline as make_pipeline
from neurodl.decode.evaluate import CVResult as CVResult
from neurodl.decode.evaluate import chance_level as chance_level
from neurodl.decode.evaluate import classification_scores as classification_scores
from neurodl.decode.evaluate import cross_validate as cross_validate
from neurodl.decode.evaluate import make_cv as make_cv
from neurodl.decode.evaluate import permutation_test as permutation_test
from neurodl.decode.evaluate import regression_scores as regression_scores

__all__ = [
    "CSPLDA",
    "EEG_PIPELINES",
    "CVResult",
    "FilterBankCSP",
    "MDMClassifier",
    "TangentSpaceClassifier",
    "chance_level",
    "classification_scores",
    "cross_validate",
    "make_cv",
    "make_pipeline",
    "permutation_test",
    "regression_scores",
]
