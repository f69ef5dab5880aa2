"""Cost of hardened reading: the sandboxed child and in-memory decryption (issue 12).

    OMP_NUM_THREADS=1 python benchmarks/sandbox.py [--repeats 30]

Median wall-clock milliseconds, in a process that has imported torch, MNE, h5py and
pynwb (as a neurodl session has), of:

- ``run_limited`` with a reader that returns five numbers (the request to the
  reader server, its fork, the limits, the answer); the first read of a session
  also starts the server (reported apart);
- the bundled M1 recording (``spikes_m1``, MATLAB v5, 15536 x 171) read by scipy
  in the calling process and through :func:`neurodl.data.formats.read_mat`;
- a small NWB file (3 units, one TimeSeries) read by pynwb in the calling process
  and through :func:`neurodl.data.formats.read_nwb`;
- ``load_img`` on the bundled Haxby BOLD run (.nii.gz) plain and encrypted (key
  file: decryption into memory, no Argon2id).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def _median_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm (imports, page cache)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    import h5py  # noqa: F401
    import mne  # noqa: F401
    import numpy as np
    import scipy.io
    import torch  # noqa: F401

    from neurodl._readers import read_nwb_content
    from neurodl._sandbox import run_limited
    from neurodl.data.formats import read_mat, read_nwb
    from neurodl.data.registry import DATASETS, dataset_file
    from neurodl.imaging.nifti import load_img
    from neurodl.privacy import encrypt_bytes

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.privacy import seeds
    from tests.sandbox_readers import arange

    t0 = time.perf_counter()
    run_limited(arange, 5)  # starts the reader server
    first = 1e3 * (time.perf_counter() - t0)
    folder = Path(tempfile.mkdtemp())
    try:
        name = next(f for f in DATASETS["spikes_m1"].files if f.endswith(".mat"))
        m1 = dataset_file("spikes_m1", name)
        nwb = seeds.nwb(folder)
        bold = dataset_file("haxby_slice", "bold.nii.gz")
        key = bytes(range(32))
        enc = folder / "bold.nii.gz.enc"
        enc.write_bytes(encrypt_bytes(bold.read_bytes(), key=key))
        r = args.repeats
        res = {
            "first read of a session (starts the server)": first,
            "run_limited, a reader returning 5 numbers": _median_ms(
                lambda: run_limited(arange, 5), r
            ),
            "M1 .mat, scipy in process": _median_ms(lambda: scipy.io.loadmat(m1), r),
            "M1 .mat, read_mat (sandboxed)": _median_ms(lambda: read_mat(m1), r),
            "small NWB, pynwb in process": _median_ms(
                lambda: read_nwb_content(str(nwb), ["vel"]), r
            ),
            "small NWB, read_nwb (sandboxed)": _median_ms(
                lambda: read_nwb(nwb, series=["vel"]), r
            ),
            "Haxby bold.nii.gz, load_img + data": _median_ms(
                lambda: np.asanyarray(load_img(bold).dataobj), r
            ),
            "same, encrypted (key file)": _median_ms(
                lambda: np.asanyarray(load_img(enc, key=key).dataobj), r
            ),
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    for k, v in res.items():
        print(f"{k:40s} {v:9.1f} ms")
    if args.json:
        args.json.write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
