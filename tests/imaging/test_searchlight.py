"""neurodl.imaging.searchlight against nilearn's SearchLight on the Haxby slice."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from nilearn.decoding import SearchLight
from nilearn.image.resampling import coord_transform
from nilearn.maskers.nifti_spheres_masker import apply_mask_and_get_affinity
from sklearn.linear_model import RidgeClassifier
from sklearn.model_selection import LeaveOneGroupOut
from sklearn.naive_bayes import GaussianNB

from neurodl.data.registry import dataset_file
from neurodl.errors import ValidationError
from neurodl.imaging.searchlight import searchlight, sphere_neighbors

RADIUS = 5.6  # mm; voxels are 3.1 x 3.75 x 3.75 mm, so discs of up to 9 voxels


@pytest.fixture(scope="module")
def haxby() -> tuple[nib.Nifti1Image, nib.Nifti1Image, np.ndarray, np.ndarray]:
    """Faces vs houses, each voxel z-scored within each run, as float64.

    float64 on purpose: nilearn reads the int16 file as float32 and fits in
    float32, we fit in float64; from the same float64 image both fit in float64.
    """
    bold = nib.load(dataset_file("haxby_slice", "bold.nii.gz"))
    mask = nib.load(dataset_file("haxby_slice", "mask.nii.gz"))
    attrs = np.loadtxt(dataset_file("haxby_slice", "attributes_literal.txt"), dtype=str)
    keep = np.isin(attrs[:, 0], ["face", "house"])
    y, runs = attrs[keep, 0], attrs[keep, 1].astype(int)
    data = np.asarray(bold.get_fdata())[..., keep]
    for r in np.unique(runs):
        seg = data[..., runs == r]
        sd = seg.std(-1, keepdims=True)
        data[..., runs == r] = (seg - seg.mean(-1, keepdims=True)) / np.where(
            sd > 0, sd, 1.0
        )
    return nib.Nifti1Image(data, bold.affine), mask, y, runs


def _process_mask(mask: nib.Nifti1Image, every: int) -> nib.Nifti1Image:
    m = np.asarray(mask.dataobj) != 0
    flat = np.zeros(m.sum(), dtype=np.int8)
    flat[::every] = 1
    out = np.zeros(m.shape, dtype=np.int8)
    out[m] = flat
    return nib.Nifti1Image(out, mask.affine)


def test_spheres_equal_nilearn(haxby):
    img, mask, _, _ = haxby
    m = np.asarray(mask.dataobj) != 0
    seeds = np.asarray(coord_transform(*np.where(m), mask.affine)).T
    _, adjacency = apply_mask_and_get_affinity(seeds, img, RADIUS, True, mask_img=mask)
    ours = sphere_neighbors(m, mask.affine, RADIUS)
    assert len(ours) == adjacency.shape[0] == 530
    for theirs, mine in zip(adjacency.rows, ours, strict=True):
        assert list(theirs) == mine.tolist()
    assert max(len(s) for s in ours) == 9


# nilearn warns (UserWarning) whenever SearchLight gets an estimator *instance*
# rather than one of its names; passing the very same sklearn instance to both
# implementations is the point of the comparison, so that warning is expected.
@pytest.mark.filterwarnings(
    "ignore:Use a custom estimator at your own risk:UserWarning"
)
@pytest.mark.parametrize(
    "estimator", [RidgeClassifier(alpha=1.0), GaussianNB()], ids=["ridge", "gnb"]
)
def test_scores_equal_nilearn(haxby, estimator):
    img, mask, y, runs = haxby
    process = _process_mask(mask, every=6)  # 89 of the 530 voxels
    ours = searchlight(
        img,
        mask,
        y,
        runs,
        radius_mm=RADIUS,
        estimator=estimator,
        cv=LeaveOneGroupOut(),
        process_mask=process,
    )
    sl = SearchLight(
        mask,
        process_mask_img=process,
        radius=RADIUS,
        estimator=estimator,
        cv=LeaveOneGroupOut(),
        scoring="accuracy",
        n_jobs=1,
    ).fit(img, y, groups=runs)
    assert isinstance(ours, nib.Nifti1Image)
    assert np.allclose(ours.affine, img.affine)
    got = np.asarray(ours.get_fdata())
    sel = np.asarray(process.dataobj) != 0
    assert sel.sum() == 89
    np.testing.assert_allclose(got, sl.scores_, rtol=0, atol=1e-10)
    assert np.all(got[~sel] == 0)
    assert got[sel].max() > 0.9  # faces vs houses is decodable in ventral cortex


def test_array_input_and_names(haxby):
    img, mask, y, runs = haxby
    data = np.asarray(img.get_fdata())
    m = np.asarray(mask.dataobj) != 0
    proc = np.asarray(_process_mask(mask, every=25).dataobj) != 0
    from_img = searchlight(
        img, mask, y, runs, radius_mm=RADIUS, estimator="ridge", process_mask=proc
    )
    from_arr = searchlight(
        data,
        m,
        y,
        runs,
        radius_mm=RADIUS,
        affine=img.affine,
        estimator="ridge",
        process_mask=proc,
        batch_size=7,
    )
    assert isinstance(from_arr, np.ndarray)
    np.testing.assert_array_equal(from_arr, from_img.get_fdata())
    gnb = searchlight(
        data,
        m,
        y,
        runs,
        radius_mm=RADIUS,
        affine=img.affine,
        estimator="gnb",
        process_mask=proc,
    )
    assert gnb.shape == m.shape


def test_errors_name_the_values(haxby):
    img, mask, y, runs = haxby
    with pytest.raises(ValidationError, match=r"radius_mm.*-1"):
        searchlight(img, mask, y, runs, radius_mm=-1)
    with pytest.raises(ValidationError, match=r"radius_mm.*0"):
        searchlight(img, mask, y, runs, radius_mm=0.0)
    small = nib.Nifti1Image(np.ones((10, 20, 1), dtype=np.int8), mask.affine)
    with pytest.raises(ValidationError, match=r"\(10, 20, 1\).*\(40, 20, 1\)"):
        searchlight(img, small, y, runs, radius_mm=RADIUS)
    shifted = mask.affine.copy()
    shifted[0, 3] += 5.0
    moved = nib.Nifti1Image(np.asarray(mask.dataobj), shifted)
    with pytest.raises(ValidationError, match=r"(?s)affines differ.*65\.4"):
        searchlight(img, moved, y, runs, radius_mm=RADIUS)
    with pytest.raises(ValidationError, match=r"y must have shape \(216,\)"):
        searchlight(img, mask, y[:-1], runs, radius_mm=RADIUS)
    with pytest.raises(ValidationError, match="estimator must be one of"):
        searchlight(img, mask, y, runs, radius_mm=RADIUS, estimator="svm")
    with pytest.raises(ValidationError, match="groups must be given"):
        searchlight(img, mask, y, None, radius_mm=RADIUS)
