"""Defacing anatomical MRI: ``neurodl deface`` (quickshear with a brain mask).

An anatomical image (T1w, T2w, FLAIR, PD...) renders the face, and a rendered face
is a "full-face photograph or comparable image" (HIPAA Safe Harbor). :func:`deface`
removes it with **quickshear** (Schimke & Hale 2011): the brain mask's sagittal
profile (its projection along left-right), the lower convex hull of that profile's
outline, and a plane through the hull's first (most anterior) edge moved
``buffer_mm`` below it; every voxel in front of and below the plane is set to zero.
The brain mask itself is never cut, so the brain is kept whole when the mask covers
it.

quickshear's own ``quickshear()`` is not called as it is: it spans the plane over the
wrong axis's length (``shape[2]``, the inferior-superior axis, for the
anterior-posterior columns: BrainLesion/preprocessing PR #180), so on grids with
fewer slices than columns part of the face in front of the brain is left; it pairs
columns with the wrong heights if the plane starts below the image; its
``convex_hull`` calls ``np.cross`` on 2-vectors (deprecated in NumPy 2.0); and it
re-saves through nibabel, which may rescale the data. :func:`shear_keep` uses
quickshear's ``edge_mask``, the same lower hull and the same plane (the hull's
first edge moved down by the buffer) over every column, clipped to the image; the
output keeps the input's data type, scaling, header and extensions, with only the
cut voxels changed (to the stored value that reads as 0).

**The brain mask.** Give one (``mask``: any image on the same grid whose non-zero
voxels are the brain, e.g. from FSL BET, SynthStrip or HD-BET). Without one,
:func:`brain_mask` makes one, for T1-weighted contrast (dark skull and CSF between
a bright brain and a bright scalp):

1. an intensity threshold (Otsu's, or ``threshold`` times the 99th percentile of the
   non-zero voxels) gives the head's bright tissue;
2. an erosion by ``erode_mm`` (4 mm, by Euclidean distance, so anisotropic voxels are
   handled) cuts the thin bridges between brain and scalp;
3. of the pieces left, the one with the most voxels within 30 mm of the head's centre
   is the brain (the scalp is a shell around the centre, the face lies in front);
4. a dilation by the same distance, kept within step 1's tissue, gives back the
   brain's edge; a closing and a hole fill make it solid (ventricles).

Its limits: it is not a skull-stripper. On T2-weighted images (bright CSF), with
strong intensity bias, with a thin or missing skull gap, or when the eyes or neck
stay joined to the brain after the erosion, the mask grows into the face and the
plane moves down: less of the face is removed (never more of the brain). Check the
result, and give a real brain mask for data you share.

**The record.** The output's JSON sidecar (the input's, if any, plus two keys) says
``DeIdentificationMethod`` (BIDS: the method and the mask used) and
``DeIdentificationMethodCodeSequence`` (DICOM code 113102, "Clean Recognizable Visual
Features Option"), which ``neurodl deid`` reads to accept the image.

Defacing lowers, but does not remove, the risk of recognising a person: face
recognition still matched 28-38% of volunteers after common defacers (Schwarz et al.
2021, NeuroImage 231:117845), and the brain's own shape can identify.

References
----------
Schimke N, Hale J (2011). Quickshear defacing for neuroimages. HealthSec'11.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from neurodl._atomic import atomic_path
from neurodl.errors import FormatError, ValidationError
from neurodl.privacy.deid.nifti import NiftiFile, read_nifti, sidecar_of, write_nifti

__all__ = ["DEFACE_CODE", "DefaceResult", "brain_mask", "deface", "shear_keep"]

#: DICOM "De-identification Method" code for removing the face (CID 7050).
DEFACE_CODE = {
    "CodeValue": "113102",
    "CodingSchemeDesignator": "DCM",
    "CodeMeaning": "Clean Recognizable Visual Features Option",
}
_CENTRE_MM = 30.0


@dataclass(frozen=True)
class DefaceResult:
    """What :func:`deface` wrote and removed.

    ``removed`` counts the voxels cut away that were not already 0; ``cut`` all the
    voxels in front of and below the plane; ``mask`` says where the brain mask came
    from ("given" or the method); ``method`` is the sidecar's
    ``DeIdentificationMethod``.
    """

    image: Path
    sidecar: Path
    mask: str
    method: str
    cut: int
    removed: int

    def to_dict(self) -> dict[str, Any]:
        """Return the result as a JSON-ready dict."""
        return {
            "image": str(self.image),
            "sidecar": str(self.sidecar),
            "mask": self.mask,
            "method": self.method,
            "cut_voxels": self.cut,
            "removed_voxels": self.removed,
        }


def _otsu(values: np.ndarray[Any, Any]) -> float:
    """Otsu's threshold of ``values`` (256-bin histogram)."""
    hist, edges = np.histogram(values, bins=256)
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centres)
    mean0 = m0 / np.maximum(w0, 1)
    mean1 = (m0[-1] - m0) / np.maximum(w1, 1)
    between = w0 * w1 * (mean0 - mean1) ** 2
    return float(centres[int(np.argmax(between))])


def _check_positive(name: str, value: float) -> float:
    if not np.isfinite(value) or value <= 0:
        raise ValidationError(f"{name!r} must be a number > 0; got {value!r}.")
    return float(value)


def brain_mask(
    data: np.ndarray[Any, Any],
    zooms: tuple[float, ...] | list[float],
    *,
    threshold: float | None = None,
    erode_mm: float = 4.0,
) -> np.ndarray[Any, Any]:
    """Make a brain mask for defacing from a T1-weighted head image.

    Threshold, erode, keep the central piece, dilate back, close and fill (see the
    module's text for the method and its limits).

    Parameters
    ----------
    data : ndarray, shape (nx, ny, nz)
        The image's intensities.
    zooms : sequence of 3 floats
        Voxel sizes (mm).
    threshold : float in (0, 1), optional
        Tissue threshold as a fraction of the 99th percentile of the non-zero
        voxels; default: Otsu's threshold.
    erode_mm : float
        Erosion (and dilation) distance (mm) that cuts brain from scalp.

    Returns
    -------
    ndarray of bool, shape (nx, ny, nz)
    """
    from scipy import ndimage as ndi

    if threshold is not None and not 0 < threshold < 1:
        raise ValidationError(
            f"'threshold' must be a fraction in (0, 1) of the 99th intensity "
            f"percentile; got {threshold!r}."
        )
    _check_positive("erode_mm", erode_mm)
    data = np.asarray(data, dtype=np.float32)
    sampling = [float(z) for z in zooms[:3]]
    values = data[np.isfinite(data) & (data > 0)]
    if values.size == 0:
        raise ValidationError("the image has no voxel above 0: no head to mask.")
    cut = _otsu(values) if threshold is None else threshold * np.percentile(values, 99)
    tissue = data > cut
    core = ndi.distance_transform_edt(tissue, sampling=sampling) > erode_mm
    labels, n = ndi.label(core)
    if n == 0:
        raise ValidationError(
            f"nothing is left of the head after a {erode_mm} mm erosion; lower "
            "'erode_mm' or 'threshold', or give a brain mask ('mask')."
        )
    centre = np.array(ndi.center_of_mass(tissue))
    grids = np.ogrid[tuple(slice(0, s) for s in data.shape)]
    near = sum(
        ((g - c) * z) ** 2 for g, c, z in zip(grids, centre, sampling, strict=True)
    )
    counts = np.bincount(labels[near <= _CENTRE_MM**2], minlength=n + 1)
    counts[0] = 0
    pick = int(np.argmax(counts)) if counts.any() else 0
    if pick == 0:  # nothing near the centre: the largest piece
        pick = int(np.argmax(np.bincount(labels.ravel())[1:])) + 1
    piece = labels == pick
    back = ndi.distance_transform_edt(~piece, sampling=sampling) <= erode_mm
    brain = ndi.binary_closing(back & tissue, iterations=2)
    return np.asarray(ndi.binary_fill_holes(brain), dtype=bool)


def shear_keep(
    mask: np.ndarray[Any, Any], affine: np.ndarray[Any, Any], *, buffer_mm: float = 10.0
) -> np.ndarray[Any, Any]:
    """Return the voxels quickshear keeps: False in front of and below the plane.

    Parameters
    ----------
    mask : ndarray, shape (nx, ny, nz)
        The brain (non-zero), on the image's grid.
    affine : ndarray, shape (4, 4)
        The image's voxel-to-world (RAS+, mm) affine; any axis order or direction.
    buffer_mm : float
        Distance (mm, along the inferior-superior axis) between the brain mask's
        outline and the plane.

    Returns
    -------
    ndarray of bool, shape (nx, ny, nz)
    """
    import nibabel as nib
    import quickshear  # type: ignore[import-untyped]

    _check_positive("buffer_mm", buffer_mm)
    mask = np.asarray(mask) != 0
    if mask.ndim != 3 or not mask.any():
        raise ValidationError(
            f"the brain mask must be a 3-D image with non-zero voxels; got shape "
            f"{mask.shape} with {int(mask.sum())} non-zero voxels."
        )
    ornt = nib.io_orientation(affine)
    rps = nib.orientations.axcodes2ornt("RPS")
    to_rps = nib.orientations.ornt_transform(ornt, rps)
    from_rps = nib.orientations.ornt_transform(rps, ornt)
    m = nib.orientations.apply_orientation(mask, to_rps)
    sizes = np.sqrt((np.asarray(affine, dtype=float)[:3, :3] ** 2).sum(axis=0))
    s_size = float(sizes[int(np.nonzero(ornt[:, 0] == 2)[0][0])])
    buff = buffer_mm / s_size  # voxels along S
    low = _lower_hull(quickshear.edge_mask(m))
    if low.shape[1] < 2 or low[0, 1] == low[0, 0]:
        raise ValidationError(
            "the brain mask's sagittal outline is too small to place a plane (one "
            "point or one slice); give a brain mask that covers the brain."
        )
    slope = (low[1, 1] - low[1, 0]) / (low[0, 1] - low[0, 0])
    yint = low[1, 0] - low[0, 0] * slope - buff
    heights = np.arange(m.shape[1]) * slope + yint  # one per P column (fixed axis)
    cut = np.clip(heights, 0, m.shape[2]).astype(int)  # clipped to the S axis
    keep_ps = np.arange(m.shape[2])[None, :] >= cut[:, None]  # (P, S)
    keep = np.broadcast_to(keep_ps[None, :, :], m.shape)
    return np.asarray(nib.orientations.apply_orientation(keep, from_rps), dtype=bool)


def _lower_hull(outline: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Return the lower convex hull of a 2-D array's non-zero points, shape (2, n).

    quickshear's ``convex_hull`` (Andrew's monotone chain), with the 2-D cross
    product written out: ``np.cross`` on 2-vectors is deprecated since NumPy 2.0.
    """
    lower: list[tuple[int, int]] = []
    for p in zip(*np.nonzero(outline), strict=True):  # sorted by x, then y
        px, py = int(p[0]), int(p[1])
        while len(lower) >= 2:
            (ox, oy), (ax, ay) = lower[-2], lower[-1]
            if (ax - ox) * (py - oy) - (ay - oy) * (px - ox) > 0:
                break
            lower.pop()
        lower.append((px, py))
    return np.array(lower, dtype=np.int64).T.reshape(2, -1)


def _zero_value(img: NiftiFile) -> Any:
    """Return the stored value that reads as 0 with the header's scaling."""
    slope, inter = (float(img.header[k]) for k in ("scl_slope", "scl_inter"))
    if not np.isfinite(slope) or slope == 0 or not np.isfinite(inter) or inter == 0:
        return 0
    raw = -inter / slope
    if img.dtype.kind in "iu":
        info = np.iinfo(img.dtype)
        return int(np.clip(np.rint(raw), info.min, info.max))
    return raw


def _scaled(img: NiftiFile, raw: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    slope, inter = (float(img.header[k]) for k in ("scl_slope", "scl_inter"))
    data = raw.astype(np.float32)
    if np.isfinite(slope) and slope != 0:
        data = data * slope + (inter if np.isfinite(inter) else 0.0)
    return data


def _read_image(name: str, path: Path) -> NiftiFile:
    if not path.is_file():
        raise ValidationError(
            f"{name!r}: {str(path)!r} does not exist or is not a file."
        )
    try:
        img = read_nifti(path)
    except FormatError as exc:
        raise FormatError(f"{name!r}: {exc}", path=path, fmt="NIfTI") from exc
    shape = img.shape
    if len(shape) < 3 or int(np.prod(shape[3:], dtype=np.int64)) != 1:
        raise ValidationError(
            f"{name!r} must be one 3-D volume; got {str(path)!r} of shape {shape}."
        )
    return img


def _check_out(image: Path, out: Path, mask: Path | None) -> Path:
    if not out.name.lower().endswith((".nii", ".nii.gz")):
        raise ValidationError(
            f"'out' must name a NIfTI file (.nii or .nii.gz); got {str(out)!r}."
        )
    for name, other in (("image", image), ("mask", mask)):
        if other is not None and out.resolve() == other.resolve():
            raise ValidationError(
                f"'out' must not be the input {name} ({str(other)!r}): neurodl deface "
                "never overwrites its input."
            )
    side = sidecar_of(out)
    for p in (out, side):
        if p.exists():
            raise ValidationError(
                f"'out': {str(p)!r} exists; neurodl deface never overwrites a file "
                "(remove it or choose another path)."
            )
    if not out.parent.is_dir():
        raise ValidationError(f"'out': the folder {str(out.parent)!r} does not exist.")
    return side


def deface(
    image: str | Path,
    out: str | Path,
    *,
    mask: str | Path | None = None,
    buffer_mm: float = 10.0,
    threshold: float | None = None,
    erode_mm: float = 4.0,
) -> DefaceResult:
    """Remove the face from an anatomical NIfTI image with quickshear.

    Parameters
    ----------
    image : path
        A single-volume NIfTI image (``.nii`` or ``.nii.gz``), any orientation.
    out : path
        The defaced image to write (``.nii`` or ``.nii.gz``); its JSON sidecar is
        written beside it (same name, ``.json``). Neither may exist, and ``out`` may
        not be the input.
    mask : path, optional
        A brain mask on the image's grid (same shape and affine). Default: made by
        :func:`brain_mask` (T1-weighted contrast; see its limits).
    buffer_mm : float
        Distance (mm) between the brain mask and the shearing plane (quickshear's
        10 voxels at 1 mm).
    threshold, erode_mm : optional
        Settings of the mask maker (see :func:`brain_mask`); unused with ``mask``.

    Returns
    -------
    DefaceResult
    """
    import quickshear

    from neurodl import __version__

    _check_positive("buffer_mm", buffer_mm)
    if threshold is not None and not 0 < threshold < 1:
        raise ValidationError(
            f"'threshold' must be a fraction in (0, 1) of the 99th intensity "
            f"percentile; got {threshold!r}."
        )
    _check_positive("erode_mm", erode_mm)
    image, out = Path(image), Path(out)
    mask_path = None if mask is None else Path(mask)
    img = _read_image("image", image)
    side_out = _check_out(image, out, mask_path)
    affine = img.header.get_best_affine()
    raw = img.raw_array().reshape(img.shape[:3], order="F")
    if mask_path is not None:
        m = _read_image("mask", mask_path)
        m_aff = m.header.get_best_affine()
        if m.shape[:3] != img.shape[:3] or not np.allclose(m_aff, affine, atol=1e-3):
            raise ValidationError(
                f"'mask' must be on the image's grid: shape {img.shape[:3]} and the "
                f"same affine; got shape {m.shape[:3]}"
                + ("" if m.shape[:3] != img.shape[:3] else " with another affine")
                + "."
            )
        brain = m.raw_array().reshape(m.shape[:3], order="F") != 0
        how = "given"
    else:
        zooms = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
        brain = brain_mask(
            _scaled(img, raw), tuple(zooms), threshold=threshold, erode_mm=erode_mm
        )
        rule = "Otsu" if threshold is None else f"{threshold:g} x 99th percentile"
        how = (
            f"made by neurodl ({rule} threshold, {erode_mm:g} mm erosion, central "
            "piece, dilation, closing)"
        )
    keep = shear_keep(brain, affine, buffer_mm=buffer_mm)
    zero = _zero_value(img)
    gone = ~keep
    removed = int(np.count_nonzero(raw[gone] != zero))
    raw[gone] = zero
    method = (
        f"quickshear {quickshear.__version__} (Schimke & Hale 2011) via neurodl "
        f"deface {__version__}, buffer {buffer_mm:g} mm, brain mask {how}"
    )
    sidecar = _sidecar(image, method)
    write_nifti(
        out,
        img.header,
        np.asfortranarray(raw).tobytes(order="F"),
        extensions=img.extension_bytes,
    )
    with atomic_path(side_out) as tmp:
        Path(tmp).write_text(json.dumps(sidecar, indent=4) + "\n")
    return DefaceResult(out, side_out, how, method, int(gone.sum()), removed)


def _sidecar(image: Path, method: str) -> dict[str, Any]:
    """Return the input's sidecar (if any) with the de-identification keys added."""
    side = sidecar_of(image)
    doc: dict[str, Any] = {}
    if side.is_file():
        try:
            doc = json.loads(side.read_text(encoding="utf-8-sig"))
        except (OSError, ValueError) as exc:
            raise FormatError(
                f"the image's sidecar {str(side)!r} is not valid JSON: {exc}",
                path=side,
                fmt="JSON",
            ) from exc
        if not isinstance(doc, dict):
            raise FormatError(
                f"the image's sidecar {str(side)!r} is not a JSON object.",
                path=side,
                fmt="JSON",
            )
    before = doc.get("DeIdentificationMethod")
    if isinstance(before, str) and before.strip() and method not in before:
        method = f"{before.strip()}; {method}"
    doc["DeIdentificationMethod"] = method
    codes = doc.get("DeIdentificationMethodCodeSequence")
    codes = list(codes) if isinstance(codes, list) else []
    if not any(isinstance(c, dict) and c.get("CodeValue") == "113102" for c in codes):
        codes.append(dict(DEFACE_CODE))
    doc["DeIdentificationMethodCodeSequence"] = codes
    return doc
