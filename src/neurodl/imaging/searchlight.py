"""Searchlight decoding with the classifier fitted for many spheres at once on torch.

For every voxel of a process mask, the voxels of the (analysis) mask within
``radius_mm`` of it, in world coordinates, form a sphere; the cross-validated
accuracy of a classifier trained on the sphere's voxels is the voxel's score.

The spheres are built exactly as :class:`nilearn.decoding.SearchLight` builds
them (``nilearn.maskers.nifti_spheres_masker.apply_mask_and_get_affinity``):

* the seeds are the world coordinates (``affine @ ijk``) of the process-mask
  voxels, in ``np.where`` order;
* a sphere holds every mask voxel whose world coordinates lie at a Euclidean
  distance ``<= radius_mm`` from the seed (scikit-learn's ``radius_neighbors``),
  plus the mask voxel nearest the seed (``round(inv(affine) @ seed)``), plus the
  mask voxel whose world coordinates, truncated to integers, equal the seed's
  truncated coordinates (a quirk of nilearn, kept so that the spheres match);
* the sphere's features are its voxels in increasing mask order (the order of
  ``np.where(mask)``).

The classifiers are computed in closed form, batched over ``batch_size``
spheres with padded, masked tensors, so that they equal scikit-learn's:

* ``"ridge"``: :class:`sklearn.linear_model.RidgeClassifier` (``alpha``,
  ``fit_intercept=True``; targets coded -1/+1, one column per class when there
  are more than two classes; the primal or dual Cholesky solution, whichever is
  smaller, as scikit-learn's ``"auto"`` solver does for dense data);
* ``"gnb"``: :class:`sklearn.naive_bayes.GaussianNB` (``var_smoothing``, priors
  from the class frequencies of the training fold).

An instance of either scikit-learn class may be passed instead of the name; its
parameters are then used, so the same object can be given to nilearn's
``SearchLight`` to compare the maps.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import nibabel as nib
import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray

from neurodl.errors import ShapeError, ValidationError

__all__ = ["searchlight", "sphere_neighbors"]

_ESTIMATORS = ("ridge", "gnb")


def _load_mask(
    mask: Any, name: str
) -> tuple[NDArray[np.bool_], NDArray[np.float64] | None]:
    """Return a 3-D boolean mask and its affine (``None`` for a bare array)."""
    if isinstance(mask, nib.spatialimages.SpatialImage):
        data = np.asanyarray(mask.dataobj)
        affine: NDArray[np.float64] | None = np.asarray(mask.affine, dtype=np.float64)
    else:
        data = np.asarray(mask)
        affine = None
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise ShapeError(f"{name} must be 3-D; got shape {data.shape}")
    if not np.all(np.isfinite(data)):
        raise ValidationError(f"{name} holds NaN or infinite values")
    return data != 0, affine


def _world(ijk: NDArray[Any], affine: NDArray[np.float64]) -> NDArray[np.float64]:
    """World coordinates of voxel indices ``ijk`` (n, 3), as nilearn computes them."""
    coords = np.c_[ijk, np.ones(len(ijk), dtype=ijk.dtype)].T
    return np.asarray(np.dot(affine, coords)[:3].T, dtype=np.float64)


def sphere_neighbors(
    mask: NDArray[np.bool_],
    affine: ArrayLike,
    radius_mm: float,
    process_mask: NDArray[np.bool_] | None = None,
) -> list[NDArray[np.intp]]:
    """Voxels of each searchlight sphere, as nilearn's ``SearchLight`` builds them.

    Parameters
    ----------
    mask : ndarray of bool, shape (x, y, z)
        Voxels that may belong to a sphere (the features).
    affine : array-like, shape (4, 4)
        Voxel-to-world transform of ``mask`` (millimetres).
    radius_mm : float
        Sphere radius in millimetres; must be > 0.
    process_mask : ndarray of bool, shape (x, y, z), optional
        Sphere centres; defaults to ``mask``.

    Returns
    -------
    list of ndarray of int
        One array per process-mask voxel (in ``np.where`` order): the sorted
        indices, into ``np.where(mask)`` order, of the sphere's voxels.

    Raises
    ------
    ValidationError
        If ``radius_mm <= 0`` or a sphere is empty.
    """
    from sklearn.neighbors import NearestNeighbors

    radius = float(radius_mm)
    if not math.isfinite(radius) or radius <= 0:
        raise ValidationError(
            f"radius_mm must be a finite number > 0; got {radius_mm!r}"
        )
    aff = np.asarray(affine, dtype=np.float64)
    if aff.shape != (4, 4):
        raise ShapeError(f"affine must have shape (4, 4); got {aff.shape}")
    mask = np.asarray(mask, dtype=bool)
    process = mask if process_mask is None else np.asarray(process_mask, dtype=bool)
    if process.shape != mask.shape:
        raise ShapeError(
            f"process_mask shape {process.shape} differs from mask shape {mask.shape}"
        )
    mask_ijk = np.asarray(np.where(mask)).T
    if len(mask_ijk) == 0:
        raise ValidationError("mask holds no voxel")
    seeds = _world(np.asarray(np.where(process)).T, aff)
    mask_world = _world(mask_ijk, aff)
    index_of = {tuple(v): i for i, v in enumerate(mask_ijk.tolist())}
    trunc_of: dict[tuple[int, ...], int] = {}
    for i, v in enumerate(mask_world.astype(int).tolist()):
        trunc_of.setdefault(tuple(v), i)
    inv = np.linalg.inv(aff)
    nn = NearestNeighbors(radius=radius).fit(mask_world)
    found = nn.radius_neighbors(seeds, return_distance=False) if len(seeds) else []
    spheres: list[NDArray[np.intp]] = []
    empty: list[int] = []
    for s, (seed, neigh) in enumerate(zip(seeds, found, strict=True)):
        extra = []
        nearest = np.round(np.dot(inv, np.r_[seed, 1.0])[:3]).astype(int)
        j = index_of.get(tuple(nearest.tolist()))
        if j is not None:
            extra.append(j)
        j = trunc_of.get(tuple(int(c) for c in seed))
        if j is not None:
            extra.append(j)
        idx = np.unique(np.r_[np.asarray(neigh, dtype=np.intp), extra]).astype(np.intp)
        if len(idx) == 0:
            empty.append(s)
        spheres.append(idx)
    if empty:
        raise ValidationError(
            f"{len(empty)} spheres of radius {radius} mm hold no mask voxel "
            f"(process voxels {empty[:10]}); enlarge radius_mm or shrink process_mask"
        )
    return spheres


def _estimator_params(estimator: Any, alpha: float) -> tuple[str, float]:
    """Return the estimator kind and its regularisation parameter."""
    if isinstance(estimator, str):
        if estimator not in _ESTIMATORS:
            raise ValidationError(
                f"estimator must be one of {_ESTIMATORS} or a RidgeClassifier / "
                f"GaussianNB instance; got {estimator!r}"
            )
        if estimator == "ridge":
            return "ridge", float(alpha)
        return "gnb", 1e-9
    from sklearn.linear_model import RidgeClassifier
    from sklearn.naive_bayes import GaussianNB

    if isinstance(estimator, RidgeClassifier):
        bad = {
            k: v
            for k, v in {
                "fit_intercept": (estimator.fit_intercept, True),
                "class_weight": (estimator.class_weight, None),
                "positive": (estimator.positive, False),
            }.items()
            if v[0] != v[1]
        }
        if bad or np.ndim(estimator.alpha) != 0:
            raise ValidationError(
                "only RidgeClassifier(alpha=<scalar>, fit_intercept=True, "
                f"class_weight=None, positive=False) is supported; got {estimator!r}"
            )
        return "ridge", float(estimator.alpha)
    if isinstance(estimator, GaussianNB):
        if estimator.priors is not None:
            raise ValidationError(
                f"only GaussianNB(priors=None) is supported; got {estimator!r}"
            )
        return "gnb", float(estimator.var_smoothing)
    raise ValidationError(
        f"estimator must be one of {_ESTIMATORS} or a RidgeClassifier / GaussianNB "
        f"instance; got {estimator!r}"
    )


def _folds(
    cv: Any, n: int, y: NDArray[Any], groups: NDArray[Any] | None
) -> list[tuple[NDArray[np.intp], NDArray[np.intp]]]:
    """Materialise the cross-validation folds (LeaveOneGroupOut by default)."""
    from sklearn.model_selection import LeaveOneGroupOut, check_cv

    if cv is None:
        if groups is None:
            raise ValidationError(
                "cv=None means LeaveOneGroupOut: groups must be given"
            )
        cv = LeaveOneGroupOut()
    if isinstance(cv, Iterable) and not isinstance(cv, str | bytes):
        splits = list(cv)
    else:
        splitter = check_cv(cv, y, classifier=True)
        splits = list(splitter.split(np.zeros((n, 1)), y, groups))
    out = []
    for train, test in splits:
        tr = np.asarray(train, dtype=np.intp)
        te = np.asarray(test, dtype=np.intp)
        if len(tr) == 0 or len(te) == 0:
            raise ValidationError("every fold needs training and test samples")
        if len(np.unique(y[tr])) < 2:
            raise ValidationError(
                f"a training fold holds a single class ({np.unique(y[tr])!r}); "
                "the classifier needs two or more"
            )
        out.append((tr, te))
    if not out:
        raise ValidationError("cv produced no fold")
    return out


def _ridge_predict(
    xtr: torch.Tensor,
    ytr: NDArray[Any],
    xte: torch.Tensor,
    alpha: float,
) -> tuple[torch.Tensor, NDArray[Any]]:
    """Ridge classifier for a batch: class indices predicted for ``xte``.

    ``xtr`` (B, ntr, P) and ``xte`` (B, nte, P) have zeros in padded features.
    """
    classes, codes = np.unique(ytr, return_inverse=True)
    k = len(classes)
    ncol = 1 if k == 2 else k
    y = -np.ones((len(ytr), ncol))
    if k == 2:
        y[codes == 1, 0] = 1.0
    else:
        y[np.arange(len(ytr)), codes] = 1.0
    yt = torch.as_tensor(y, dtype=xtr.dtype, device=xtr.device)
    y_mean = yt.mean(0)
    yc = (yt - y_mean).expand(xtr.shape[0], -1, -1)
    x_mean = xtr.mean(1, keepdim=True)
    xc = xtr - x_mean
    ntr, p = xtr.shape[1], xtr.shape[2]
    if p > ntr:
        gram = xc @ xc.transpose(1, 2)
        gram.diagonal(dim1=1, dim2=2).add_(alpha)
        chol = torch.linalg.cholesky(gram)
        w = xc.transpose(1, 2) @ torch.cholesky_solve(yc, chol)
    else:
        gram = xc.transpose(1, 2) @ xc
        gram.diagonal(dim1=1, dim2=2).add_(alpha)
        chol = torch.linalg.cholesky(gram)
        w = torch.cholesky_solve(xc.transpose(1, 2) @ yc, chol)
    dec = (xte - x_mean) @ w + y_mean
    pred = (dec[..., 0] > 0).long() if k == 2 else dec.argmax(-1)
    return pred, classes


def _gnb_predict(
    xtr: torch.Tensor,
    ytr: NDArray[Any],
    xte: torch.Tensor,
    valid: torch.Tensor,
    var_smoothing: float,
) -> tuple[torch.Tensor, NDArray[Any]]:
    """Gaussian naive Bayes for a batch: class indices predicted for ``xte``."""
    classes, codes = np.unique(ytr, return_inverse=True)
    eps = var_smoothing * xtr.var(1, unbiased=False).amax(-1)  # (B,)
    jll = []
    vmask = valid[:, None, :]
    for c in range(len(classes)):
        sel = torch.as_tensor(np.flatnonzero(codes == c), device=xtr.device)
        xc = xtr[:, sel, :]
        theta = xc.mean(1, keepdim=True)
        var = ((xc - theta) ** 2).mean(1, keepdim=True) + eps[:, None, None]
        var = torch.where(vmask, var, torch.ones_like(var))
        log_prior = math.log(len(sel) / len(ytr))
        norm = -0.5 * (torch.log(2.0 * math.pi * var) * vmask).sum(-1)
        dist = -0.5 * ((((xte - theta) ** 2) / var) * vmask).sum(-1)
        jll.append(log_prior + (norm + dist))
    return torch.stack(jll, -1).argmax(-1), classes


def searchlight(
    img_or_data: Any,
    mask: Any,
    y: ArrayLike,
    groups: ArrayLike | None = None,
    *,
    radius_mm: float,
    estimator: Any = "ridge",
    alpha: float = 1.0,
    cv: Any = None,
    process_mask: Any = None,
    affine: ArrayLike | None = None,
    device: str | torch.device = "cpu",
    batch_size: int = 256,
) -> Any:
    """Cross-validated searchlight accuracy map, spheres batched on torch.

    Parameters
    ----------
    img_or_data : nibabel image or ndarray, shape (x, y, z, n_samples)
        The 4-D data (one volume per sample). Computed in float64.
    mask : nibabel image or ndarray, shape (x, y, z)
        Voxels used as features (non-zero = in).
    y : array-like, shape (n_samples,)
        Class label of each volume.
    groups : array-like, shape (n_samples,), optional
        Group (e.g. run) of each volume, for group-wise cross-validation.
    radius_mm : float
        Sphere radius in millimetres (world coordinates); must be > 0.
    estimator : {"ridge", "gnb"} or RidgeClassifier or GaussianNB, default "ridge"
        The classifier (see the module docstring).
    alpha : float, default 1.0
        Ridge penalty of ``estimator="ridge"`` (ignored for an instance).
    cv : None, int, scikit-learn splitter or iterable of (train, test), optional
        Folds. ``None``: ``LeaveOneGroupOut`` (needs ``groups``); an int:
        stratified k-fold, as scikit-learn's ``check_cv``.
    process_mask : nibabel image or ndarray, shape (x, y, z), optional
        Sphere centres; defaults to ``mask``.
    affine : array-like, shape (4, 4), optional
        Voxel-to-world transform when neither the data nor the mask is an
        image (defaults to the image's affine, else the identity).
    device : str or torch.device, default "cpu"
        Where the batched fits run.
    batch_size : int, default 256
        Spheres fitted at once.

    Returns
    -------
    nibabel.Nifti1Image or ndarray, shape (x, y, z)
        Mean accuracy over the folds at each process-mask voxel, 0 elsewhere;
        an image (with the data's affine) when ``img_or_data`` is an image.

    Raises
    ------
    ValidationError
        Mask and data shapes or affines differ, ``radius_mm <= 0``, ``y`` or
        ``groups`` do not match the number of volumes, an unsupported estimator,
        or a fold with one training class.
    """
    is_img = isinstance(img_or_data, nib.spatialimages.SpatialImage)
    if is_img:
        data = np.asarray(img_or_data.get_fdata(dtype=np.float64))
        data_affine: NDArray[np.float64] | None = np.asarray(
            img_or_data.affine, dtype=np.float64
        )
    else:
        data = np.asarray(img_or_data, dtype=np.float64)
        data_affine = None
    if data.ndim != 4:
        raise ShapeError(
            f"img_or_data must be 4-D (x, y, z, samples); got shape {data.shape}"
        )
    mask_arr, mask_affine = _load_mask(mask, "mask")
    if mask_arr.shape != data.shape[:3]:
        raise ShapeError(
            f"mask shape {mask_arr.shape} differs from the image's spatial shape "
            f"{data.shape[:3]}"
        )
    affines = [a for a in (data_affine, mask_affine) if a is not None]
    if affine is not None:
        affines.append(np.asarray(affine, dtype=np.float64))
    process_arr = None
    if process_mask is not None:
        process_arr, proc_affine = _load_mask(process_mask, "process_mask")
        if process_arr.shape != mask_arr.shape:
            raise ShapeError(
                f"process_mask shape {process_arr.shape} differs from mask shape "
                f"{mask_arr.shape}"
            )
        if proc_affine is not None:
            affines.append(proc_affine)
    ref = affines[0] if affines else np.eye(4)
    for other in affines[1:]:
        if other.shape != (4, 4) or not np.allclose(other, ref, rtol=0, atol=1e-6):
            raise ValidationError(
                "affines differ (image / mask / process_mask / affine):\n"
                f"{ref}\nvs\n{other}"
            )
    if not np.all(np.isfinite(data[mask_arr])):
        raise ValidationError(
            "img_or_data holds NaN or infinite values inside the mask"
        )
    n = data.shape[3]
    y_arr = np.asarray(y)
    if y_arr.shape != (n,):
        raise ShapeError(
            f"y must have shape ({n},) (one label per volume); got {y_arr.shape}"
        )
    g_arr = None if groups is None else np.asarray(groups)
    if g_arr is not None and g_arr.shape != (n,):
        raise ShapeError(f"groups must have shape ({n},); got {g_arr.shape}")
    if int(batch_size) < 1:
        raise ValidationError(f"batch_size must be >= 1; got {batch_size!r}")
    kind, param = _estimator_params(estimator, alpha)
    if kind == "ridge" and not param > 0:
        raise ValidationError(f"ridge alpha must be > 0; got {param!r}")
    folds = _folds(cv, n, y_arr, g_arr)
    spheres = sphere_neighbors(mask_arr, ref, radius_mm, process_arr)

    dev = torch.device(device)
    x_all = torch.as_tensor(
        np.ascontiguousarray(data[mask_arr].T), device=dev
    )  # (n, V)
    scores = _score_spheres(x_all, spheres, y_arr, folds, kind, param, int(batch_size))

    out = np.zeros(mask_arr.shape)
    out[process_arr if process_arr is not None else mask_arr] = scores
    if is_img:
        return nib.Nifti1Image(out, ref)
    return out


def _score_spheres(
    x_all: torch.Tensor,
    spheres: Sequence[NDArray[np.intp]],
    y: NDArray[Any],
    folds: Sequence[tuple[NDArray[np.intp], NDArray[np.intp]]],
    kind: str,
    param: float,
    batch_size: int,
) -> NDArray[np.float64]:
    """Mean fold accuracy of every sphere, computed ``batch_size`` at a time."""
    dev = x_all.device
    sizes = np.array([len(s) for s in spheres])
    # batches of spheres with similar sizes pad less; results are put back in order
    order = np.argsort(sizes, kind="stable")
    fold_acc = np.zeros((len(spheres), len(folds)))
    fold_t = [
        (torch.as_tensor(tr, device=dev), torch.as_tensor(te, device=dev))
        for tr, te in folds
    ]
    for start in range(0, len(spheres), batch_size):
        members = order[start : start + batch_size]
        p = int(sizes[members].max())
        idx = np.zeros((len(members), p), dtype=np.int64)
        valid_np = np.zeros((len(members), p), dtype=bool)
        for r, m in enumerate(members):
            idx[r, : sizes[m]] = spheres[m]
            valid_np[r, : sizes[m]] = True
        valid = torch.as_tensor(valid_np, device=dev)
        xb = x_all[:, torch.as_tensor(idx, device=dev)].permute(1, 0, 2)  # (B, n, P)
        xb = xb * valid[:, None, :]
        for f, ((tr, te), (tr_t, te_t)) in enumerate(zip(folds, fold_t, strict=True)):
            xtr, xte = xb[:, tr_t, :], xb[:, te_t, :]
            if kind == "ridge":
                pred, classes = _ridge_predict(xtr, y[tr], xte, param)
            else:
                pred, classes = _gnb_predict(xtr, y[tr], xte, valid, param)
            labels = classes[pred.cpu().numpy()]  # (B, nte)
            fold_acc[members, f] = np.mean(labels == y[te][None, :], axis=1)
    return np.asarray(np.mean(fold_acc, axis=1), dtype=np.float64)
