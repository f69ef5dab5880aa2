"""braindecode runner for the decoding benchmark: ShallowFBCSPNet, standard recipe.

Run with the decode venv's Python (see ``benchmarks/decode.py``)::

    python braindecode_shallow.py DATA.npz OUT.json [--epochs 60] [--seed 0]
        [--folds 10] [--threads 1]

``DATA.npz`` holds ``X`` (trials, channels, times; volts), ``y`` and the folds as
``train_<k>`` / ``test_<k>`` index arrays (the same folds neurodl gets). For each
fold a fresh ``ShallowFBCSPNet(n_chans, n_outputs, n_times,
final_conv_length="auto")`` (braindecode's defaults: 40 temporal filters of 25
samples, 40 spatial filters, mean pooling 75/15, dropout 0.5) is trained with
braindecode's ``EEGClassifier`` (skorch) as in braindecode's trialwise decoding
tutorial: signals in microvolts, AdamW, lr = 0.0625 * 0.01, weight decay 0,
batch size 64, cosine annealing over the epochs, cross-entropy, no internal
validation split (``train_split=None``). The whole trials are the input (trialwise
decoding). One change: ``iterator_train__drop_last=False``. braindecode's default
(``True``) with 36 training trials and batch size 64 drops the only batch, so the
network would never take a step (braindecode warns, once per fit); with it off each
epoch is one full-batch step of the 36 trials.

Per fold the JSON has the fit wall time, the wall time of every epoch and of every
training batch (a skorch callback), the optimiser steps per epoch and the test
accuracy.
"""

import time

T_PROCESS = time.time()

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("out")
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--folds", type=int, default=None)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    t_import = time.perf_counter()
    import torch

    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    import braindecode
    import mne
    import skorch
    from braindecode import EEGClassifier
    from braindecode.models import ShallowFBCSPNet
    from skorch.callbacks import Callback, LRScheduler

    class Clock(Callback):
        """Wall time of every epoch and of every training batch (optimiser step)."""

        def initialize(self) -> "Clock":
            self.epochs: list[float] = []
            self.steps: list[float] = []
            return self

        def on_epoch_begin(self, net, **kwargs) -> None:
            self._e = time.perf_counter()

        def on_epoch_end(self, net, **kwargs) -> None:
            self.epochs.append(time.perf_counter() - self._e)

        def on_batch_begin(self, net, training=False, **kwargs) -> None:
            self._b = time.perf_counter()

        def on_batch_end(self, net, training=False, **kwargs) -> None:
            if training:
                self.steps.append(time.perf_counter() - self._b)

    mne.set_log_level("error")
    import_s = time.perf_counter() - t_import

    data = np.load(args.data)
    X = (data["X"] * 1e6).astype(np.float32)  # volts -> microvolts, as the tutorial
    y = data["y"].astype(np.int64)
    n_folds = int(data["n_folds"])
    if args.folds is not None:
        n_folds = min(n_folds, args.folds)
    n_classes = int(y.max()) + 1
    batch_size = 64
    folds = []
    for k in range(n_folds):
        train, test = data[f"train_{k}"], data[f"test_{k}"]
        torch.manual_seed(args.seed + k)
        np.random.seed(args.seed + k)  # noqa: NPY002 (skorch shuffles with it)
        model = ShallowFBCSPNet(
            n_chans=X.shape[1],
            n_outputs=n_classes,
            n_times=X.shape[2],
            final_conv_length="auto",
        )
        clf = EEGClassifier(
            model,
            criterion=torch.nn.CrossEntropyLoss,
            optimizer=torch.optim.AdamW,
            train_split=None,
            optimizer__lr=0.0625 * 0.01,
            optimizer__weight_decay=0.0,
            batch_size=batch_size,
            # braindecode's default drop_last=True drops the only (36-trial) batch
            # of a 64-trial batch size: no step would ever be taken
            iterator_train__drop_last=False,
            callbacks=[
                ("clock", Clock()),
                (
                    "lr_scheduler",
                    LRScheduler("CosineAnnealingLR", T_max=max(1, args.epochs - 1)),
                ),
            ],
            device="cpu",
            classes=list(range(n_classes)),
            max_epochs=args.epochs,
            verbose=0,
        )
        t0 = time.perf_counter()
        clf.fit(X[train], y[train])
        fit_s = time.perf_counter() - t0
        acc = float((clf.predict(X[test]) == y[test]).mean())
        clock = dict(clf.callbacks_)["clock"]
        steps = math.ceil(len(train) / batch_size)
        folds.append(
            {
                "fold": k,
                "fit_s": fit_s,
                "epoch_s": clock.epochs,
                "step_s": clock.steps,
                "steps_per_epoch": steps,
                "accuracy": acc,
                "n_parameters": int(sum(p.numel() for p in model.parameters())),
            }
        )
        print(f"fold {k}: acc {acc:.3f} fit {fit_s:.1f} s", file=sys.stderr, flush=True)
    res = {
        "contender": "braindecode ShallowFBCSPNet",
        "recipe": "trialwise, EEGClassifier, AdamW lr 6.25e-4, wd 0, batch 64 "
        "(drop_last off), cosine annealing",
        "epochs": args.epochs,
        "seed": args.seed,
        "threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "import_s": import_s,
        "process_s": time.time() - T_PROCESS,
        "versions": {
            "braindecode": braindecode.__version__,
            "torch": torch.__version__,
            "skorch": skorch.__version__,
            "mne": mne.__version__,
        },
        "folds": folds,
    }
    with open(args.out, "w") as f:
        json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
