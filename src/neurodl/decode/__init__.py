"""Decoders: brain recordings to intentions, each a scikit-learn estimator.

EEG classifiers (:mod:`neurodl.decode.eeg`) and their common spatial patterns
(:mod:`neurodl.decode.csp`), EEG ConvNets
(:mod:`neurodl.decode.convnet`), continuous decoders of kinematics
(:mod:`neurodl.decode.continuous`), leak-free evaluation
(:mod:`neurodl.decode.evaluate`) and across many subjects
(:mod:`neurodl.decode.benchmark`: MNE's and MOABB's protocols, transfer to a new
user in :mod:`neurodl.decode.transfer`, statistics in :mod:`neurodl.decode.stats`),
and a classifier trained with subject-level differential privacy
(:mod:`neurodl.decode.private`).
"""

from neurodl.decode.benchmark import evaluate_subjects as evaluate_subjects
from neurodl.decode.continuous import KalmanDecoder as KalmanDecoder
from neurodl.decode.continuous import RecurrentDecoder as RecurrentDecoder
from neurodl.decode.continuous import WienerFilter as WienerFilter
from neurodl.decode.continuous import history_windows as history_windows
from neurodl.decode.continuous import split_time_ordered as split_time_ordered
from neurodl.decode.convnet import ConvNetClassifier as ConvNetClassifier
from neurodl.decode.convnet import EEGNetClassifier as EEGNetClassifier
from neurodl.decode.convnet import ShallowConvNetClassifier as ShallowConvNetClassifier
from neurodl.decode.csp import CSP as CSP
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
from neurodl.decode.private import DPClassifier as DPClassifier
from neurodl.decode.private import LogVariance as LogVariance
from neurodl.decode.private import (
    standardize_per_subject as standardize_per_subject,
)

__all__ = [
    "CSP",
    "CSPLDA",
    "EEG_PIPELINES",
    "CVResult",
    "ConvNetClassifier",
    "DPClassifier",
    "EEGNetClassifier",
    "FilterBankCSP",
    "KalmanDecoder",
    "LogVariance",
    "MDMClassifier",
    "RecurrentDecoder",
    "ShallowConvNetClassifier",
    "TangentSpaceClassifier",
    "WienerFilter",
    "chance_level",
    "classification_scores",
    "cross_validate",
    "evaluate_subjects",
    "history_windows",
    "make_cv",
    "make_pipeline",
    "permutation_test",
    "regression_scores",
    "split_time_ordered",
    "standardize_per_subject",
]
