"""Model-brain comparison: RSA, CKA, encoding models, network activations.

Pure functions on arrays or tensors: representational dissimilarity matrices and
their comparison with noise ceilings (:mod:`neurodl.compare.rsa`, agreeing with
rsatoolbox), centered kernel alignment (:mod:`neurodl.compare.cka`), ridge encoding
models with per-target regularisation (:mod:`neurodl.compare.encoding`, agreeing
with himalaya) and the activations of any torch module by layer name
(:mod:`neurodl.compare.activations`).
"""

from neurodl.compare.activations import layer_activations as layer_activations
from neurodl.compare.activations import list_layers as list_layers
from neurodl.compare.cka import cka as cka
from neurodl.compare.encoding import RidgeEncoder as RidgeEncoder
from neurodl.compare.encoding import ceiling_normalized as ceiling_normalized
from neurodl.compare.encoding import corr_per_target as corr_per_target
from neurodl.compare.encoding import explainable_variance as explainable_variance
from neurodl.compare.encoding import r2_per_target as r2_per_target
from neurodl.compare.rsa import compare_rdms as compare_rdms
from neurodl.compare.rsa import condensed as condensed
from neurodl.compare.rsa import crossnobis_rdm as crossnobis_rdm
from neurodl.compare.rsa import noise_ceiling as noise_ceiling
from neurodl.compare.rsa import noise_precision as noise_precision
from neurodl.compare.rsa import rdm as rdm
from neurodl.compare.rsa import square as square

__all__ = [
    "RidgeEncoder",
    "ceiling_normalized",
    "cka",
    "compare_rdms",
    "condensed",
    "corr_per_target",
    "crossnobis_rdm",
    "explainable_variance",
    "layer_activations",
    "list_layers",
    "noise_ceiling",
    "noise_precision",
    "r2_per_target",
    "rdm",
    "square",
]
