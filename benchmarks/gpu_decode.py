"""The torch decoders on a GPU: ShallowConvNet cross-validation and the M1 GRU.

    python benchmarks/gpu_decode.py --epochs-npz benchmarks/results/eeg_0_4.npz \
        --json gpu_decode.json

The EEG epochs come from ``--epochs-npz`` (``X``, ``y``: written here by
``--write-npz`` with :func:`neurodl.data.load_eeg`, for a device machine without
MNE) or from ``load_eeg`` directly. Times are wall seconds of the whole 10-fold
cross-validation and of the GRU fit, on the device given by ``--device``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs-npz", type=Path, default=None)
    ap.add_argument("--write-npz", type=Path, default=None)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    if args.write_npz is not None:
        from neurodl.data import load_eeg

        ep = load_eeg(tmin=0.0, tmax=4.0)
        args.write_npz.parent.mkdir(parents=True, exist_ok=True)
        np.savez(args.write_npz, X=ep.X.astype(np.float32), y=ep.y)
        print(f"wrote {args.write_npz}")
        return
    from neurodl.decode import ShallowConvNetClassifier, cross_validate

    out: dict = {
        "device": args.device,
        "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    }
    if args.epochs_npz is not None:
        d = np.load(args.epochs_npz)
        X, y = d["X"].astype(np.float64), d["y"]
    else:
        from neurodl.data import load_eeg

        ep = load_eeg(tmin=0.0, tmax=4.0)
        X, y = ep.X, ep.y
    for seed in (0, 1):
        t0 = time.perf_counter()
        res = cross_validate(
            ShallowConvNetClassifier(device=args.device, random_state=seed), X, y
        )
        out[f"convnet_seed{seed}"] = {
            "accuracy": res.mean(),
            "folds": res.scores["accuracy"],
            "cv_s": time.perf_counter() - t0,
        }
        print("convnet", seed, out[f"convnet_seed{seed}"], flush=True)
    from neurodl.tasks.decoding import decode_spikes

    t0 = time.perf_counter()
    gru = decode_spikes("spikes_m1", decoder="gru", device=args.device)
    out["gru"] = {
        "test_r2": gru.summary["test"]["r2"],
        "fit_s": time.perf_counter() - t0,
        "epochs_run": gru.summary["chosen_on_validation"]["epochs_run"],
    }
    print("gru", out["gru"], flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
