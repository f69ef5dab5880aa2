"""EEG decoding benchmark: neurodl against MNE (CSP+LDA) and braindecode (ConvNet).

    python benchmarks/decode.py                 # everything, 3 repeats
    python benchmarks/decode.py --quick         # 1 repeat, 3 folds for braindecode
    python benchmarks/decode.py --skip-peer     # no braindecode (no venv needed)
    python benchmarks/decode.py --csp-only      # CSP+LDA only (a minute)

Data: PhysioNet eegmmidb subject S001, runs 6, 10, 14 (imagined hands vs feet, 64
channels, 160 Hz, 45 trials), bundled with neurodl and read by
:func:`neurodl.data.eeg.load_eeg` exactly as MNE's CSP example does (7-30 Hz FIR
band-pass, average reference projection). Folds: ``ShuffleSplit(10,
test_size=0.2, random_state=42)``, 36 training / 9 test trials, as in MNE's
example; everyone gets the same folds.

Two comparisons, each contender on one thread (``OMP_NUM_THREADS=1``,
``torch.set_num_threads(1)``):

* **CSP+LDA**: wall time of the whole 10-fold ``cross_val_score`` of MNE's example
  pipeline (``CSP(n_components=4, reg=None, log=True, norm_trace=False)`` + LDA)
  against neurodl's ``make_pipeline("csp-lda")`` (neurodl's own CSP, see
  ``neurodl.decode.csp``, and the same sklearn LDA; told the rank the average
  reference leaves, as ``neurodl decode eeg`` does) and ``CSPLDA()`` (the rank
  estimated in every fit, as MNE's example does), on epochs 1-2 s after the
  cue: the median of ``--csp-repeats`` runs (15), the two taking turns in each
  repeat after one warm-up run each. Both must give 0.9333, and the fold scores
  must be identical (recorded as ``same_folds_as_mne``).
* **ConvNet**: braindecode's ``ShallowFBCSPNet`` with its standard (trialwise,
  ``EEGClassifier``) recipe for ``--epochs`` epochs, run by
  ``peer_runners/braindecode_shallow.py`` in the git-ignored
  ``benchmarks/.venv-decode`` (made on first use by :func:`ensure_env`), against
  neurodl's ``ShallowConvNetClassifier`` with its defaults, both on epochs 0-4 s
  after the cue (641 samples; ``--window`` to change), the window neurodl's
  presets are tuned for (by inner cross-validation, see
  ``neurodl.decode.convnet``). Reported: time per epoch (one pass over the 36
  training trials) and per optimiser step, fit time per fold, and the mean test
  accuracy over the folds, as medians over ``--repeats`` runs for neurodl (seeds
  0, 1, ...) and ``--peer-repeats`` (default 1: a 10-fold run of braindecode takes
  about 15 minutes) for braindecode, whose per-epoch and per-step times are the
  medians over all its epochs and steps (600 of each per run).
  neurodl's per-epoch and per-step times are its whole ``fit`` divided by its
  epochs and steps (set-up included, so they are upper bounds); braindecode's are
  timed epoch by epoch and batch by batch by a skorch callback (its set-up, about
  1 s per fit, is left out; it is in "fit s/fold").

The braindecode environment: ``python -m venv``, then ``torch==2.13.0`` first (the
CPU wheel; a bare torch requirement would pull a multi-GB CUDA build), then
``braindecode`` under a constraint file pinning torch. braindecode requires
``torchaudio``, whose PyPI wheel does not work beside the CPU torch 2.13, and
ShallowFBCSPNet never uses it: a stub ``torchaudio`` package (with its
``dist-info``, so pip counts the requirement as met) is written into the venv's
site-packages before braindecode is installed.

Results are printed as Markdown and written as JSON to
``benchmarks/records/decode.json`` (``decode_csp.json`` with ``--csp-only``;
``--json`` to change).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import hashlib
import json
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from peers import thread_env  # noqa: E402

RUNNER = HERE / "peer_runners" / "braindecode_shallow.py"
RECORDS = HERE / "records"
ENV_DIR = HERE / ".venv-decode"
TORCH_PIN = "torch==2.13.0"
PEER_REQS = ["braindecode==1.8.1"]
N_SPLITS = 10


# ------------------------------------------------------------------ environment
def _site_packages(py: Path) -> Path:
    out = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return Path(out)


_STUB_INIT = '''"""Stub written by neurodl's benchmarks/decode.py.

The torchaudio wheel does not load beside the CPU torch 2.13. braindecode imports
``torchaudio.functional`` and ``torchaudio.transforms`` names at import time (and
subclasses ``transforms.Spectrogram``), but ShallowFBCSPNet never uses them: every
name here is a class that raises when used.
"""

from . import functional, transforms

__version__ = "{version}"
'''

_STUB_MODULE = '''"""Stub: every attribute is a class that raises when instantiated."""

import torch


class _Missing(torch.nn.Module):
    def __init__(self, *args, **kwargs):
        raise NotImplementedError(
            f"torchaudio is a stub here (neurodl benchmarks/decode.py): "
            f"{{type(self).__name__}} is not available"
        )


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    return type(name, (_Missing,), {{}})
'''


def write_torchaudio_stub(site: Path, version: str = "2.13.0") -> None:
    """Write a stub ``torchaudio`` package and its dist-info into ``site``."""
    pkg = site / "torchaudio"
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text(_STUB_INIT.format(version=version))
    for sub in ("functional", "transforms"):
        (pkg / f"{sub}.py").write_text(_STUB_MODULE.format())
    info = site / f"torchaudio-{version}.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: torchaudio\nVersion: {version}\n"
        "Summary: stub (neurodl benchmarks/decode.py)\n"
    )
    (info / "INSTALLER").write_text("neurodl-stub\n")
    (info / "RECORD").write_text("")


def ensure_env(verbose: bool = True) -> Path:
    """Create ``benchmarks/.venv-decode`` with braindecode if missing; return python.

    Idempotent: a stamp file holds a hash of the requirements.
    """
    py = ENV_DIR / "bin" / "python"
    stamp = ENV_DIR / ".neurodl-decode-stamp"
    key = "\n".join([TORCH_PIN, *PEER_REQS, _STUB_INIT, _STUB_MODULE])
    digest = hashlib.sha256(key.encode()).hexdigest()

    def say(msg: str) -> None:
        if verbose:
            print(f"[decode-env] {msg}", file=sys.stderr, flush=True)

    if stamp.is_file() and py.exists() and stamp.read_text().split("\n")[0] == digest:
        say(f"environment {ENV_DIR} is up to date")
        return py
    if not py.exists():
        say(f"creating virtual environment {ENV_DIR}")
        subprocess.run([sys.executable, "-m", "venv", str(ENV_DIR)], check=True)
    pip = [str(py), "-m", "pip", "install", "--disable-pip-version-check"]
    say(f"installing {TORCH_PIN} (CPU wheel) first")
    subprocess.run([*pip, TORCH_PIN], check=True, stdout=sys.stderr)
    write_torchaudio_stub(_site_packages(py))
    with tempfile.TemporaryDirectory() as tmp:
        cons = Path(tmp) / "constraints.txt"
        cons.write_text(TORCH_PIN + "\n")
        say("installing " + " ".join(PEER_REQS) + f" with -c ({TORCH_PIN})")
        subprocess.run(
            [*pip, "-c", str(cons), *PEER_REQS], check=True, stdout=sys.stderr
        )
    freeze = subprocess.run(
        [str(py), "-m", "pip", "freeze"], capture_output=True, text=True, check=True
    ).stdout
    stamp.write_text(digest + "\n" + freeze)
    say(f"environment {ENV_DIR} ready")
    return py


# ------------------------------------------------------------------------- data
def load(tmin: float, tmax: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Epochs of eegmmidb S001 runs 6, 10, 14 (MNE's CSP example preprocessing)."""
    from neurodl.data.eeg import load_eeg

    ep = load_eeg("eegmmidb", subject=1, runs=(6, 10, 14), tmin=tmin, tmax=tmax)
    return ep.X, ep.y, ep.rank


def folds(n_trials: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import ShuffleSplit

    cv = ShuffleSplit(N_SPLITS, test_size=0.2, random_state=42)
    return list(cv.split(np.zeros(n_trials)))


# ---------------------------------------------------------------------- CSP+LDA
def bench_csp(repeats: int) -> dict[str, Any]:
    """10-fold CV wall time and fold scores: MNE's example pipeline vs neurodl's.

    The contenders take turns within each repeat (interleaved, so that a noisy
    machine slows both alike); the medians over the repeats are reported, and
    the fold scores must be identical.
    """
    import mne
    from mne.decoding import CSP
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.model_selection import ShuffleSplit, cross_val_score
    from sklearn.pipeline import Pipeline

    from neurodl.decode.eeg import CSPLDA, make_pipeline

    mne.set_log_level("error")
    X, y, rank = load(1.0, 2.0)
    cv = ShuffleSplit(N_SPLITS, test_size=0.2, random_state=42)

    def mne_pipe() -> Any:
        return Pipeline(
            [
                ("CSP", CSP(n_components=4, reg=None, log=True, norm_trace=False)),
                ("LDA", LinearDiscriminantAnalysis()),
            ]
        )

    contenders = {
        "MNE example (CSP+LDA)": mne_pipe,
        "neurodl csp-lda": lambda: make_pipeline("csp-lda", sfreq=160.0, rank=rank),
        # the rank estimated in every fit, as MNE's example does
        "neurodl CSPLDA(rank=None)": lambda: CSPLDA(),
    }
    folds_by: dict[str, list[float]] = {}
    for name, make in contenders.items():  # warm-up: imports, caches
        folds_by[name] = [float(s) for s in cross_val_score(make(), X, y, cv=cv)]
    times: dict[str, list[float]] = {name: [] for name in contenders}
    accs: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, make in contenders.items():
            t0 = time.perf_counter()
            scores = cross_val_score(make(), X, y, cv=cv, n_jobs=None)
            times[name].append(time.perf_counter() - t0)
            accs[name].append(float(np.mean(scores)))
            if [float(s) for s in scores] != folds_by[name]:
                raise RuntimeError(f"{name}: fold scores changed between runs")
    ref = folds_by["MNE example (CSP+LDA)"]
    out: dict[str, Any] = {}
    for name in contenders:
        out[name] = {
            "cv_s": times[name],
            "accuracy": accs[name],
            "fold_scores": folds_by[name],
            "same_folds_as_mne": folds_by[name] == ref,
            "cv_s_median": statistics.median(times[name]),
        }
        print(
            f"[csp] {name}: {statistics.median(times[name]):.3f} s, "
            f"acc {accs[name][0]:.4f}, folds identical to MNE's: "
            f"{folds_by[name] == ref}",
            file=sys.stderr,
        )
    return out


# ---------------------------------------------------------------------- ConvNet
def run_neurodl(
    X: np.ndarray, y: np.ndarray, splits: list[tuple[np.ndarray, np.ndarray]], seed: int
) -> dict[str, Any]:
    """Neurodl's ShallowConvNetClassifier (defaults) on the folds, one thread."""
    import torch

    from neurodl.decode.convnet import ShallowConvNetClassifier

    torch.set_num_threads(1)
    rows = []
    for k, (train, test) in enumerate(splits):
        clf = ShallowConvNetClassifier(random_state=seed, threads=1)
        t0 = time.perf_counter()
        clf.fit(X[train], y[train])
        fit_s = time.perf_counter() - t0
        acc = float(clf.score(X[test], y[test]))
        epochs = clf.params_["epochs"]
        steps = -(-len(train) // clf.params_["batch_size"])
        rows.append(
            {
                "fold": k,
                "fit_s": fit_s,
                "epoch_s": [fit_s / epochs] * epochs,
                "steps_per_epoch": steps,
                "accuracy": acc,
                "n_parameters": int(sum(p.numel() for p in clf.module_.parameters())),
            }
        )
    return {
        "contender": "neurodl ShallowConvNetClassifier",
        "recipe": f"cropped ({clf.params_['crop_length']} of {X.shape[2]} samples), "
        "defaults: " + json.dumps(clf.params_),
        "epochs": epochs,
        "seed": seed,
        "threads": torch.get_num_threads(),
        "folds": rows,
    }


def run_braindecode(
    py: Path,
    X: np.ndarray,
    y: np.ndarray,
    splits: list[tuple[np.ndarray, np.ndarray]],
    seed: int,
    epochs: int,
    timeout_s: float = 7200.0,
) -> dict[str, Any]:
    """Braindecode's ShallowFBCSPNet in the decode venv (a fresh process)."""
    with tempfile.TemporaryDirectory(prefix="neurodl-decode-") as tmp:
        data = Path(tmp) / "data.npz"
        arrays = {f"train_{k}": tr for k, (tr, _) in enumerate(splits)}
        arrays |= {f"test_{k}": te for k, (_, te) in enumerate(splits)}
        np.savez(data, X=X, y=y, n_folds=len(splits), **arrays)
        out = Path(tmp) / "result.json"
        cmd = [str(py), str(RUNNER), str(data), str(out), "--epochs", str(epochs)]
        cmd += ["--seed", str(seed), "--threads", "1"]
        proc = subprocess.run(
            cmd, env=thread_env(1), capture_output=True, text=True, timeout=timeout_s
        )
        if proc.returncode != 0 or not out.is_file():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-15:]
            return {"contender": "braindecode", "error": "\n".join(tail)}
        return json.loads(out.read_text())


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over runs of per-epoch / per-step / per-fold time and CV accuracy."""
    ok = [r for r in runs if not r.get("error")]
    if not ok:
        return {"error": runs[0].get("error") if runs else "not run"}
    epoch_s = [
        statistics.median([e for f in r["folds"] for e in f["epoch_s"]]) for r in ok
    ]
    steps = ok[0]["folds"][0]["steps_per_epoch"]
    if all(f.get("step_s") for r in ok for f in r["folds"]):  # timed step by step
        step_s = statistics.median(
            [
                statistics.median([t for f in r["folds"] for t in f["step_s"]])
                for r in ok
            ]
        )
    else:  # whole fit / steps: set-up included
        step_s = statistics.median(epoch_s) / steps
    return {
        "contender": ok[0]["contender"],
        "runs": len(ok),
        "epochs": ok[0]["epochs"],
        "steps_per_epoch": steps,
        "n_parameters": ok[0]["folds"][0]["n_parameters"],
        "epoch_s": statistics.median(epoch_s),
        "step_s": step_s,
        "fit_s": statistics.median(
            [statistics.median([f["fit_s"] for f in r["folds"]]) for r in ok]
        ),
        "cv_fit_s": statistics.median(
            [sum(f["fit_s"] for f in r["folds"]) for r in ok]
        ),
        "accuracy": statistics.median(
            [float(np.mean([f["accuracy"] for f in r["folds"]])) for r in ok]
        ),
        "accuracy_runs": [
            float(np.mean([f["accuracy"] for f in r["folds"]])) for r in ok
        ],
        "n_folds": len(ok[0]["folds"]),
    }


def report(
    csp: dict[str, Any] | None,
    conv: list[dict[str, Any]],
    window: tuple[float, float] = (0.0, 4.0),
) -> str:
    lines: list[str] = []
    if csp:
        ref = csp["MNE example (CSP+LDA)"]["cv_s_median"]
        n_rep = len(csp["MNE example (CSP+LDA)"]["cv_s"])
        lines += [
            f"### CSP+LDA, 10-fold CV (eegmmidb S001, 1-2 s), median of {n_rep}",
            "",
            "| contender | CV wall s | accuracy | fold scores = MNE's | "
            "speed-up vs MNE |",
            "|---|---:|---:|---|---:|",
        ]
        for name, r in csp.items():
            same = "yes" if r.get("same_folds_as_mne", True) else "**no**"
            lines.append(
                f"| {name} | {r['cv_s_median']:.3f} | {r['accuracy'][0]:.4f} | "
                f"{same} | {ref / r['cv_s_median']:.2f}x |"
            )
        lines.append("")
    if conv:
        base = next(
            (c for c in conv if c.get("contender", "").startswith("brain")), None
        )
        lines += [
            f"### ConvNet training (eegmmidb S001, {window[0]:g}-{window[1]:g} s, "
            "36 training trials)",
            "",
            "| contender | params | epochs | steps/epoch | s/epoch | s/step | "
            "fit s/fold | CV fit s | accuracy | epoch speed-up |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for c in conv:
            if c.get("error"):
                lines.append(
                    f"| {c.get('contender', '?')} | failed: {c['error'][:200]} |"
                )
                continue
            ratio = "-"
            if base and not base.get("error"):
                ratio = f"{base['epoch_s'] / c['epoch_s']:.1f}x"
            lines.append(
                f"| {c['contender']} | {c['n_parameters']} | {c['epochs']} | "
                f"{c['steps_per_epoch']} | {c['epoch_s']:.4f} | {c['step_s']:.4f} | "
                f"{c['fit_s']:.2f} | {c['cv_fit_s']:.1f} | {c['accuracy']:.3f} "
                f"({c['n_folds']} folds) | {ratio} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--peer-repeats",
        type=int,
        default=1,
        help="braindecode runs of all folds (about 15 min each at 641 samples)",
    )
    ap.add_argument("--epochs", type=int, default=60, help="braindecode's epochs")
    ap.add_argument(
        "--peer-folds", type=int, default=N_SPLITS, help="braindecode folds"
    )
    ap.add_argument("--skip-peer", action="store_true", help="no braindecode")
    ap.add_argument("--skip-csp", action="store_true")
    ap.add_argument(
        "--csp-repeats",
        type=int,
        default=15,
        help="interleaved CSP+LDA repeats (median reported)",
    )
    ap.add_argument(
        "--csp-only",
        action="store_true",
        help="only CSP+LDA (JSON to records/decode_csp.json unless --json)",
    )
    ap.add_argument(
        "--window",
        type=float,
        nargs=2,
        default=[0.0, 4.0],
        metavar=("TMIN", "TMAX"),
        help="ConvNet epochs, s after the cue",
    )
    ap.add_argument("--quick", action="store_true", help="1 repeat, 3 peer folds")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    if args.json is None:
        args.json = RECORDS / ("decode_csp.json" if args.csp_only else "decode.json")
    if args.quick:
        args.repeats, args.peer_folds, args.csp_repeats = 1, 3, 3
    peer_repeats = 1 if args.quick else args.peer_repeats

    import torch

    torch.set_num_threads(1)
    csp = None if args.skip_csp else bench_csp(args.csp_repeats)
    if args.csp_only:
        md = report(csp, [])
        print("\n" + md)
        _write_record(args, {"csp": csp, "report": md})
        return 0
    X, y, _ = load(*args.window)
    splits = folds(len(y))
    runs_nd = []
    for seed in range(args.repeats):
        runs_nd.append(run_neurodl(X, y, splits, seed))
        acc = np.mean([f["accuracy"] for f in runs_nd[-1]["folds"]])
        print(
            f"[convnet] neurodl seed {seed}: acc {acc:.3f}", file=sys.stderr, flush=True
        )
    conv = [summarize(runs_nd)]
    runs_bd: list[dict[str, Any]] = []
    if not args.skip_peer:
        py = ensure_env()
        for seed in range(peer_repeats):
            runs_bd.append(
                run_braindecode(py, X, y, splits[: args.peer_folds], seed, args.epochs)
            )
            print(
                f"[convnet] braindecode seed {seed} done", file=sys.stderr, flush=True
            )
        conv.append(summarize(runs_bd))
    md = report(csp, conv, tuple(args.window))
    print("\n" + md)
    _write_record(
        args,
        {
            "csp": csp,
            "convnet": conv,
            "runs": {"neurodl": runs_nd, "braindecode": runs_bd},
            "report": md,
        },
    )
    return 0


def _write_record(args: argparse.Namespace, body: dict[str, Any]) -> None:
    import mne
    import scipy
    import sklearn

    args.json.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "args": vars(args) | {"json": str(args.json)},
        "python": sys.version.split()[0],
        "platform": sysconfig.get_platform(),
        "cpu_count": os.cpu_count(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "versions": {
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "sklearn": sklearn.__version__,
            "mne": mne.__version__,
        },
        "time_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
    } | body
    args.json.write_text(json.dumps(record, indent=1, default=str))
    print(f"\nwritten: {args.json}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
