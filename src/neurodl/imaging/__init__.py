"""fMRI: NIfTI in and out, runs from files and BIDS, masking, GLM, MVPA, searchlight."""

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
    select_task,
    standardize_runs,
)
from neurodl.imaging.nifti import apply_mask, load_haxby, load_img, save_img, unmask
from neurodl.imaging.runs import load_runs
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
    "load_runs",
    "save_img",
    "searchlight",
    "select_task",
    "sphere_neighbors",
    "standardize_runs",
    "unmask",
]
