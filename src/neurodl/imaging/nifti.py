"""NIfTI input and output, masking and the bundled Haxby slice.

Images are read and written with nibabel; masking goes through nilearn's
:mod:`nilearn.masking`, after checks that turn nilearn's generic errors into
messages naming both shapes or affines.
"""

from __future__ import annotations

import gzip
import io
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from neurodl.errors import (
    DataFileError,
    FormatError,
    NeurodlError,
    NonFiniteError,
    ShapeError,
    ValidationError,
)

__all__ = ["apply_mask", "load_haxby", "load_img", "save_img", "unmask"]

ImgLike = Any
"""A nibabel spatial image or a path to one."""

HAXBY_TASKS = ("8way", "faces-houses")


def load_img(
    path: str | os.PathLike[str],
    *,
    name: str = "path",
    key: bytes | None = None,
    passphrase: str | None = None,
) -> nib.spatialimages.SpatialImage:
    """Read a NIfTI (or other nibabel-readable) image.

    A NIfTI header is checked against the data it declares before anything is
    allocated: an uncompressed ``.nii`` must be long enough; a ``.nii.gz`` is
    decompressed into memory (only as far as the header says), so a truncated or
    corrupted archive fails here and not later, when the data is first used.

    Parameters
    ----------
    path : str or path-like
        The file, e.g. ``bold.nii.gz``; or one written by ``neurodl encrypt``,
        named as the original plus ``.enc`` (``bold.nii.gz.enc``; single-file
        NIfTI only).
    name : str
        How error messages refer to the file (the command line passes its option,
        e.g. ``"--mask"``).
    key, passphrase : bytes or str, optional
        For an encrypted file: the key file's 32 bytes
        (:func:`neurodl.privacy.read_key_file`) or the passphrase. It is decrypted
        in memory, never to disk.

    Returns
    -------
    nibabel.spatialimages.SpatialImage
        The image. The data of an uncompressed plain file is read lazily (memory
        map); that of a compressed or encrypted one is held in memory.

    Raises
    ------
    DataFileError
        The file is missing.
    FormatError
        The file is malformed: an unreadable header, fewer data bytes than the
        header declares, a damaged archive; the message names the file, the
        format and what is wrong.
    DecryptionError
        The file is encrypted and no key, or a wrong one, was given.
    """
    from neurodl.privacy.plaintext import is_encrypted, plain_name, read_plaintext

    p = Path(path)
    if not p.is_file():
        raise DataFileError(
            f"{name!r} must be an image file; {str(p)!r} does not exist."
        )
    fname = plain_name(p).lower()
    encrypted = is_encrypted(p)
    if not fname.endswith((".nii", ".nii.gz")):
        if encrypted:
            raise ValidationError(
                f"{name!r}: encrypted images must be single-file NIfTI (.nii or "
                f".nii.gz, then .enc); got {str(p)!r}."
            )
        try:
            return nib.load(p)  # type: ignore[return-value]
        except Exception as exc:  # nibabel raises several types for bad files
            raise FormatError(
                f"{name!r}: cannot read image {str(p)!r}: {type(exc).__name__}: {exc}",
                path=p,
                fmt="image",
            ) from exc
    fmt = "NIfTI"
    try:
        if not encrypted and not fname.endswith(".gz"):
            with p.open("rb") as f:
                _nifti_layout(f.read(_NIFTI2_SIZE), p.stat().st_size, p, name)
            img = nib.load(p)
        else:
            raw = (
                read_plaintext(p, key=key, passphrase=passphrase) if encrypted else None
            )
            data = _gunzip_nifti(raw, p, name) if fname.endswith(".gz") else raw
            assert data is not None
            klass, _ = _nifti_layout(data[:_NIFTI2_SIZE], len(data), p, name)
            img = klass.from_bytes(data)
            if not encrypted:
                img.set_filename(str(p))
    except NeurodlError:
        raise
    except Exception as exc:  # nibabel raises several types for bad files
        raise FormatError(
            f"{name!r}: cannot read image {str(p)!r} as {fmt}: "
            f"{type(exc).__name__}: {exc}",
            path=p,
            fmt=fmt,
        ) from exc
    return img  # type: ignore[return-value]


_NIFTI1_SIZE, _NIFTI2_SIZE = 348, 540


def _nifti_layout(head: bytes, size: int | None, p: Path, name: str) -> tuple[Any, int]:
    """Parse a NIfTI-1/2 header: return the image class and the bytes it declares.

    With ``size`` (the bytes there are), raise if the data cannot all be there.
    """

    def broken(what: str) -> FormatError:
        return FormatError(
            f"{name!r}: {str(p)!r} is not a readable NIfTI file: {what}.",
            path=p,
            fmt="NIfTI",
        )

    if len(head) < 4:
        raise broken(f"only {len(head)} bytes")
    sizes = {int.from_bytes(head[:4], "little"), int.from_bytes(head[:4], "big")}
    header_class: Any
    klass: Any
    if _NIFTI2_SIZE in sizes:
        header_class, klass, need = nib.Nifti2Header, nib.Nifti2Image, _NIFTI2_SIZE
    elif _NIFTI1_SIZE in sizes:
        header_class, klass, need = nib.Nifti1Header, nib.Nifti1Image, _NIFTI1_SIZE
    else:
        raise broken(f"the header size field is {head[:4]!r}, not 348 or 540")
    if len(head) < need:
        raise broken(f"{len(head)} bytes, shorter than its {need}-byte header")
    hdr = header_class.from_fileobj(io.BytesIO(head[:need]), check=True)
    shape = hdr.get_data_shape()
    if not shape or any(n < 1 for n in shape):
        raise broken(f"its header declares the shape {shape} (no voxels)")
    dtype = hdr.get_data_dtype()
    offset = int(hdr.get_data_offset())
    expected = offset + math.prod(shape) * dtype.itemsize
    if size is not None and size < expected:
        raise FormatError(
            f"{name!r}: {str(p)!r} is truncated: its NIfTI header declares "
            f"{shape} voxels of {dtype} from byte {offset} ({expected} bytes), but "
            f"it holds {size}.",
            path=p,
            fmt="NIfTI",
        )
    return klass, expected


def _gunzip_nifti(raw: bytes | None, p: Path, name: str) -> bytes:
    """Decompress a ``.nii.gz`` (``raw``: its bytes, or None to read ``p``).

    Only as many bytes as the header declares are decompressed, so an archive
    that inflates without end costs no more than the image it claims to be.
    """
    src: Any = io.BytesIO(raw) if raw is not None else p.open("rb")
    try:
        with gzip.GzipFile(fileobj=src, mode="rb") as gz:
            out = bytearray(gz.read(_NIFTI2_SIZE))
            _, declared = _nifti_layout(bytes(out), None, p, name)
            while len(out) < declared:
                block = gz.read(min(1 << 24, declared - len(out)))
                if not block:
                    break
                out += block
    finally:
        src.close()
    return bytes(out)


def save_img(img: nib.spatialimages.SpatialImage, path: str | os.PathLike[str]) -> Path:
    """Write ``img`` to ``path`` atomically (temporary file, then ``os.replace``).

    Parameters
    ----------
    img : nibabel image
        The image to write.
    path : str or path-like
        Destination; the extension (``.nii`` or ``.nii.gz``) picks the format.

    Returns
    -------
    pathlib.Path
        The written path.
    """
    if not isinstance(img, nib.spatialimages.SpatialImage):
        raise ValidationError(
            f"'img' must be a nibabel image; got {type(img).__name__}."
        )
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(p.suffixes[-2:]) if p.name.endswith(".nii.gz") else p.suffix
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=suffix, dir=p.parent)
    os.close(fd)
    try:
        nib.save(img, tmp)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p


def _as_img(img: ImgLike, name: str) -> nib.spatialimages.SpatialImage:
    if isinstance(img, nib.spatialimages.SpatialImage):
        return img
    if isinstance(img, str | os.PathLike):
        return load_img(img, name=name)
    raise ValidationError(
        f"{name!r} must be a nibabel image or a path; got {type(img).__name__}."
    )


def _who(name: str, img: nib.spatialimages.SpatialImage) -> str:
    """``'name'``, followed by the image's file in brackets when it has one."""
    fn = img.get_filename()
    return f"{name!r} ({fn})" if fn else repr(name)


def _check_mask(mask: nib.spatialimages.SpatialImage, name: str = "mask") -> np.ndarray:
    m = np.asarray(mask.dataobj)
    if m.ndim == 4 and m.shape[3] == 1:
        m = m[..., 0]
    who = _who(name, mask)
    if m.ndim != 3:
        raise ShapeError(f"{who} must be a 3-D image; got shape {m.shape}.")
    if not np.isfinite(m).all():
        raise NonFiniteError(f"{who} holds NaN or infinite values.")
    mb = m != 0
    if not mb.any():
        raise ValidationError(f"{who} selects no voxel (all zeros).")
    return mb


def _check_fit(
    img: nib.spatialimages.SpatialImage,
    mask: nib.spatialimages.SpatialImage,
    img_name: str = "img",
    mask_name: str = "mask",
) -> None:
    who_img, who_mask = _who(img_name, img), _who(mask_name, mask)
    if tuple(img.shape[:3]) != tuple(mask.shape[:3]):
        raise ShapeError(
            f"{mask_name!r} and {img_name!r} must have the same 3-D grid; "
            f"{who_img} has shape {tuple(img.shape)}, {who_mask} has shape "
            f"{tuple(mask.shape)}."
        )
    if not np.allclose(img.affine, mask.affine, atol=1e-4):
        raise ShapeError(
            f"{mask_name!r} and {img_name!r} must have the same affine; {who_img} "
            f"has affine {np.round(img.affine, 4).tolist()}, {who_mask} has "
            f"{np.round(mask.affine, 4).tolist()}."
        )


def apply_mask(
    img: ImgLike, mask: ImgLike, *, img_name: str = "img", mask_name: str = "mask"
) -> np.ndarray:
    """Extract the in-mask voxels of a 4-D image as a (volumes, voxels) array.

    Parameters
    ----------
    img : nibabel image or path
        A 4-D image (x, y, z, volumes).
    mask : nibabel image or path
        A 3-D image on the same grid and affine; non-zero voxels are kept.
    img_name, mask_name : str
        How error messages refer to the two (the command line passes its options,
        ``"--data"`` and ``"--mask"``); messages also name the files.

    Returns
    -------
    numpy.ndarray
        Float64 array of shape (n_volumes, n_voxels), voxels in nilearn's order
        (C order of the mask).

    Raises
    ------
    ShapeError
        The image is not 4-D, or its grid or affine differs from the mask's.
    NonFiniteError
        An in-mask voxel holds NaN or infinity (the message counts them and names
        the first).
    """
    from nilearn.masking import apply_mask as nl_apply_mask

    im = _as_img(img, img_name)
    mk = _as_img(mask, mask_name)
    if len(im.shape) != 4:
        raise ShapeError(
            f"{_who(img_name, im)} must be a 4-D image (x, y, z, volumes); got a "
            f"{len(im.shape)}-D image of shape {tuple(im.shape)}."
        )
    mb = _check_mask(mk, mask_name)
    _check_fit(im, mk, img_name, mask_name)
    data = np.asarray(im.get_fdata(dtype=np.float64))
    bad = ~np.isfinite(data[mb])
    if bad.any():
        vox = np.argwhere(mb)[bad.any(axis=1)]
        raise NonFiniteError(
            f"{_who(img_name, im)} holds NaN or infinite values in {len(vox)} of "
            f"{int(mb.sum())} "
            f"in-mask voxels ({int(bad.sum())} values); first at voxel "
            f"{tuple(int(v) for v in vox[0])}."
        )
    mask_img = nib.Nifti1Image(mb.astype(np.int8), mk.affine)
    out = nl_apply_mask(im, mask_img, dtype=np.float64)
    return np.asarray(out, dtype=np.float64)


def unmask(data: Any, mask: ImgLike) -> nib.Nifti1Image:
    """Put a (volumes, voxels) or (voxels,) array back into the mask's grid.

    Parameters
    ----------
    data : array-like
        Shape (n_voxels,) for a 3-D image or (n_volumes, n_voxels) for a 4-D one.
    mask : nibabel image or path
        The mask used by :func:`apply_mask`.

    Returns
    -------
    nibabel.Nifti1Image
        Zero outside the mask.
    """
    from nilearn.masking import unmask as nl_unmask

    mk = _as_img(mask, "mask")
    mb = _check_mask(mk)
    arr = np.asarray(data, dtype=np.float64)
    n_vox = int(mb.sum())
    if arr.ndim not in (1, 2) or arr.shape[-1] != n_vox:
        raise ShapeError(
            f"'data' must have shape (n_voxels,) or (n_volumes, n_voxels) with "
            f"n_voxels = {n_vox} (the mask's); got {arr.shape}."
        )
    mask_img = nib.Nifti1Image(mb.astype(np.int8), mk.affine)
    return nl_unmask(arr, mask_img)


def load_haxby(
    task: str | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Load the bundled Haxby et al. (2001) slice: voxels, labels and runs.

    Parameters
    ----------
    task : {None, "8way", "faces-houses"}
        None keeps all 1452 volumes (rest included); ``"8way"`` drops the rest
        volumes (8 categories); ``"faces-houses"`` keeps face and house volumes.
        For decoding, load the full series (None) and let
        :func:`~neurodl.imaging.decode_volumes` select the task: it detrends and
        z-scores each run over the volumes it is given, and a pre-selected subset
        detrends across the category blocks (faces before houses), which removes
        the signal (faces vs houses falls from 0.986 to 0.61).

    Returns
    -------
    X : numpy.ndarray
        Float64 (n_volumes, 530) in-mask signal, not standardised.
    labels : numpy.ndarray of str
        Category of each volume.
    runs : numpy.ndarray of int
        Run (chunk) 0-11 of each volume.
    """
    from neurodl.data.registry import dataset_file

    if task is not None and task not in HAXBY_TASKS:
        raise ValidationError(
            f"'task' must be None, '8way' or 'faces-houses'; got {task!r}."
        )
    X = apply_mask(
        dataset_file("haxby_slice", "bold.nii.gz"),
        dataset_file("haxby_slice", "mask.nii.gz"),
    )
    rows = [
        line.split()
        for line in dataset_file("haxby_slice", "attributes_literal.txt")
        .read_text()
        .splitlines()
        if line.strip()
    ]
    if len(rows) != len(X) or any(len(r) != 2 for r in rows):
        raise DataFileError(
            f"attributes_literal.txt must hold one 'label chunk' line per volume "
            f"({len(X)}); got {len(rows)} lines."
        )
    labels = np.array([r[0] for r in rows])
    runs = np.array([int(r[1]) for r in rows])
    if task == "8way":
        keep = labels != "rest"
    elif task == "faces-houses":
        keep = np.isin(labels, ["face", "house"])
    else:
        keep = np.ones(len(labels), dtype=bool)
    return X[keep], labels[keep], runs[keep]
