"""fMRI: NIfTI in and out, masking, first-level GLM (nilearn), MVPA, searchlight."""

from neurodl.imaging.glm import (
    NOISE_MODELS,
    ar1_bias_corrected,
    contrast_z,
    first_level,
)
from neurodl.imaging.mvpa import (
    TASKS,
    decode_volumes,
    default_estimator,
    standardize_runs,
)
from neurodl.imaging.nifti import apply_mask, load_haxby, load_img, save_img, unmask
from neurodl.imaging.searchlight import searchlight, sphere_neighbors

__all__ = [
    "NOISE_MODELS",
    "TASKS",
    "apply_mask",
    "ar1_bias_corrected",
    "contrast_z",
    "decode_volumes",
    "default_estimator",
    "first_level",
    "load_haxby",
    "load_img",
    "save_img",
    "searchlight",
    "sphere_neighbors",
    "standardize_runs",
    "unmask",
]
