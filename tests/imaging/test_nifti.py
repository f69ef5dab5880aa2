"""NIfTI input/output and masking."""

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from neurodl.errors import DataFileError, NonFiniteError, ShapeError
from neurodl.imaging import apply_mask, load_haxby, load_img, save_img, unmask

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
EXAMPLE4D = SHARED / "nibabel_testdata" / "example4d.nii.gz"
NITIME = SHARED / "nitime_fmri" / "fmri1.nii.gz"


def _img(shape=(4, 5, 3, 6), affine=None, seed=0):
    data = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return nib.Nifti1Image(data, np.eye(4) if affine is None else affine)


def _mask(shape=(4, 5, 3), affine=None):
    m = np.zeros(shape, np.int8)
    m[1:3, 1:4, :2] = 1
    return nib.Nifti1Image(m, np.eye(4) if affine is None else affine)


@pytest.mark.parametrize("path", [EXAMPLE4D, NITIME], ids=lambda p: p.name)
def test_round_trip_real_epi(path, tmp_path):
    if not path.is_file():
        pytest.skip(f"{path} not present")
    img = load_img(path)
    out = save_img(img, tmp_path / "copy.nii.gz")
    back = load_img(out)
    np.testing.assert_array_equal(np.asarray(back.dataobj), np.asarray(img.dataobj))
    np.testing.assert_allclose(back.affine, img.affine)
    assert back.shape == img.shape
    assert [p.name for p in tmp_path.iterdir()] == ["copy.nii.gz"]


def test_round_trip_mask_unmask(tmp_path):
    img, mask = _img(), _mask()
    X = apply_mask(img, mask)
    assert X.shape == (6, 12) and X.dtype == np.float64
    back = unmask(X, mask)
    m = mask.get_fdata() > 0
    np.testing.assert_allclose(back.get_fdata()[m], img.get_fdata()[m])
    assert (back.get_fdata()[~m] == 0).all()
    p = save_img(back, tmp_path / "b.nii")
    np.testing.assert_allclose(apply_mask(p, mask), X, rtol=1e-6)
    assert unmask(X[0], mask).shape == (4, 5, 3)


def test_affine_mismatch_names_both():
    aff = np.diag([2.0, 2.0, 2.0, 1.0])
    with pytest.raises(ShapeError, match="affine") as err:
        apply_mask(_img(), _mask(affine=aff))
    assert "2.0" in str(err.value) and "1.0" in str(err.value)


def test_shape_mismatch_names_both():
    with pytest.raises(ShapeError, match=r"\(4, 5, 3, 6\).*\(4, 5, 2\)"):
        apply_mask(_img(), _mask(shape=(4, 5, 2)))


def test_3d_image_rejected():
    with pytest.raises(ShapeError, match="4-D"):
        apply_mask(_img(shape=(4, 5, 3)), _mask())


def test_nan_voxels_counted_and_located():
    data = np.random.default_rng(0).standard_normal((4, 5, 3, 6))
    data[1, 2, 0, 3] = np.nan
    data[2, 3, 1, :] = np.nan
    with pytest.raises(NonFiniteError, match=r"2 of 12 .*\(1, 2, 0\)"):
        apply_mask(nib.Nifti1Image(data, np.eye(4)), _mask())
    data[1, 2, 0, 3] = 0.0
    data[2, 3, 1, :] = 0.0
    data[0, 0, 0, :] = np.nan  # outside the mask: fine
    assert np.isfinite(apply_mask(nib.Nifti1Image(data, np.eye(4)), _mask())).all()


def test_unmask_wrong_length():
    with pytest.raises(ShapeError, match="12"):
        unmask(np.zeros((3, 11)), _mask())


def test_missing_file(tmp_path):
    with pytest.raises(DataFileError, match="does not exist"):
        load_img(tmp_path / "nope.nii.gz")
    bad = tmp_path / "bad.nii.gz"
    bad.write_bytes(b"not a nifti")
    with pytest.raises(DataFileError, match="cannot read"):
        load_img(bad)


def test_load_haxby():
    X, labels, runs = load_haxby()
    assert X.shape == (1452, 530) and X.dtype == np.float64
    assert labels.shape == runs.shape == (1452,)
    assert set(np.unique(runs)) == set(range(12))
    X8, l8, _ = load_haxby("8way")
    assert "rest" not in l8 and len(np.unique(l8)) == 8 and len(X8) == 864
    _, lfh, _ = load_haxby("faces-houses")
    assert set(lfh) == {"face", "house"}
