"""A synthetic head for defacing tests: scalp, skull, CSF, brain and a face.

World coordinates are RAS+ millimetres with the origin at the head's centre. The
head is an ellipsoid (radii 74 x 96 x 96 mm: left-right, posterior-anterior,
inferior-superior) of scalp (T1 intensity 55) around a 6 mm skull (8) and CSF (20).
The brain (100) is a cerebrum with a blunt frontal pole at y = 80 mm and a flat
orbital floor near z = -12 mm, two temporal lobes, a cerebellum and a brain stem.
The face (70) is soft tissue outside the skull in front of and below the brain: a
block (centre y = 62, z = -52 mm) with a nose (y up to 110 mm). **Face voxels** are
that tissue in front of the frontal pole (y > 75 mm) and more than 8 mm below the
orbital floor (z < -20 mm): nose, lips, chin and the front of the cheeks, the
surface a face-recognition rendering uses. Voxels outside the head hold
half-normal noise (|N(0, 2)|), the rest Gaussian noise (sd 3).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def _ell(x, y, z, centre, radii):
    return (
        sum(
            ((v - c) / r) ** 2 for v, c, r in zip((x, y, z), centre, radii, strict=True)
        )
        <= 1
    )


def head(
    shape: tuple[int, int, int], zooms: tuple[float, float, float], seed: int = 0
) -> tuple[
    NDArray[np.int16], NDArray[np.bool_], NDArray[np.bool_], NDArray[np.float64]
]:
    """Return (image int16, brain mask, face mask, affine) on a RAS grid.

    The grid is ``shape`` voxels of ``zooms`` mm, centred on the head.
    """
    rng = np.random.default_rng(seed)
    axes = [(np.arange(n) - (n - 1) / 2) * d for n, d in zip(shape, zooms, strict=True)]
    x, y, z = np.meshgrid(*axes, indexing="ij")
    outer = _ell(x, y, z, (0, 0, 0), (74, 96, 96))
    skull_out = _ell(x, y, z, (0, 0, 0), (68, 90, 90))
    skull_in = _ell(x, y, z, (0, 0, 0), (62, 84, 84))
    up = np.where(z > 10, 60.0, 22.0)  # tall above, flat orbital floor below
    cerebrum = (x / 58) ** 2 + (y / 80) ** 4 + ((z - 10) / up) ** 2 <= 1
    temporal = _ell(np.abs(x), y, z, (38, 10, -25), (18, 32, 18))
    cerebellum = _ell(x, y, z, (0, -50, -38), (42, 26, 20))
    stem = _ell(x, y, z, (0, -18, -50), (11, 11, 28))
    brain = (cerebrum | temporal | cerebellum | stem) & skull_in
    block = _ell(x, y, z, (0, 62, -52), (52, 36, 44)) | _ell(
        x, y, z, (0, 98, -40), (9, 12, 18)
    )
    block &= ~skull_out  # soft tissue outside the skull
    inside = outer | block
    face = block & (y > 75) & (z < -20)
    img = np.full(shape, 55.0)
    img[skull_out & ~skull_in] = 8
    img[skull_in & ~brain] = 20
    img[brain] = 100
    img[block] = 70
    img += rng.normal(0, 3, shape)
    img[~inside] = np.abs(rng.normal(0, 2, int((~inside).sum())))
    affine = np.diag([*zooms, 1.0])
    affine[:3, 3] = -(np.array(shape) - 1) / 2 * np.array(zooms)
    return np.clip(img, 0, None).round().astype(np.int16), brain, face, affine
