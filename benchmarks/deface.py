"""Defacing: face removed, brain kept and CPU time of neurodl deface (issue 12: < 1 s).

    OMP_NUM_THREADS=1 python benchmarks/deface.py [--repeats 5] [--json out.json]

On the synthetic head of ``tests/privacy/heads.py`` (a brain, a skull gap and a face
in front of and below the brain) at 96^3 (2 mm) and 96x128x64 (2 x 1.5 x 3 mm), with
the brain mask given and made by neurodl: the fraction of face voxels zeroed, of
brain voxels kept, and the median CPU time of one ``deface`` call (reading the
gzipped image, making the mask, cutting, writing the image and its sidecar).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.privacy.heads import head

from neurodl.privacy.deface import deface

SHAPES = [((96, 96, 96), (2.0, 2.0, 2.0)), ((96, 128, 64), (2.0, 1.5, 3.0))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for shape, zooms in SHAPES:
            img, brain, face, affine = head(shape, zooms)
            src, mask = Path(d) / "head.nii.gz", Path(d) / "brain.nii.gz"
            nib.save(nib.Nifti1Image(img, affine), src)
            nib.save(nib.Nifti1Image(brain.astype(np.uint8), affine), mask)
            for given in (True, False):
                times = []
                for i in range(args.repeats):
                    out = Path(d) / f"out{shape[1]}_{i}{given}.nii.gz"
                    t0 = time.process_time()
                    deface(src, out, mask=mask if given else None)
                    times.append(time.process_time() - t0)
                data = np.asanyarray(nib.load(out).dataobj)
                row = {
                    "shape": "x".join(map(str, shape)),
                    "mask": "given" if given else "made",
                    "face_zeroed": float((data[face] == 0).mean()),
                    "brain_kept": float((data[brain] == img[brain]).mean()),
                    "cpu_s_median": statistics.median(times),
                }
                rows.append(row)
                print(
                    f"{row['shape']:>9} {row['mask']:>5}: face zeroed "
                    f"{row['face_zeroed']:.4f}, brain kept {row['brain_kept']:.4f}, "
                    f"{row['cpu_s_median']:.3f} CPU-s (median of {args.repeats})"
                )
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
