"""Decoding jobs end to end: load a recording, cross-validate a decoder, report.

Shared by ``neurodl decode`` and the tour.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neurodl._validate import check_int, check_n_jobs, check_option

__all__ = [
    "EEG_WINDOWS",
    "SPIKE_DECODERS",
    "SpikeDecoding",
    "decode_eeg",
    "decode_spikes",
]

EEG_WINDOWS: dict[str, tuple[float, float, float | None, float | None]] = {
    "csp-lda": (1.0, 2.0, 7.0, 30.0),
    "riemann": (1.0, 2.0, 7.0, 30.0),
    "mdm": (1.0, 2.0, 7.0, 30.0),
    "fbcsp": (1.0, 2.0, None, None),
    "convnet": (0.0, 4.0, 7.0, 30.0),
    "eegnet": (0.0, 4.0, 7.0, 30.0),
}
"""Default epoch window (tmin, tmax, s after the cue) and band (Hz) per pipeline.

The first three follow MNE's motor-imagery example; the filter bank filters the
broadband signal itself; the ConvNets' defaults were chosen (by cross-validation
inside the training folds) for 0-4 s after the cue, where they train on random
crops.
"""


def decode_eeg(
    data: str | os.PathLike[str] = "eegmmidb",
    *,
    subject: int = 1,
    runs: Sequence[int] = (6, 10, 14),
    pipeline: str = "csp-lda",
    cv: str = "shuffle",
    n_splits: int = 10,
    test_size: float = 0.2,
    random_state: int = 42,
    n_jobs: int | None = None,
    tmin: float | None = None,
    tmax: float | None = None,
    l_freq: float | None = None,
    h_freq: float | None = None,
    picks: Sequence[str] | None = None,
    events: Mapping[str, str] | None = None,
    rest: bool = False,
    permutations: int = 0,
) -> dict[str, Any]:
    """Load EEG epochs, cross-validate one pipeline, return a JSON-ready summary.

    Window and band default to the pipeline's (:data:`EEG_WINDOWS`); ``cv`` is one
    of :func:`neurodl.decode.make_cv`'s names (``"shuffle"``: MNE's example
    protocol, ShuffleSplit(10, 0.2, random_state=42)). Class names come from
    the eegmmidb runs' task, or from ``events`` (see
    :func:`neurodl.data.eeg.load_eeg`); ``rest`` adds rest (T0) as a class.
    """
    from neurodl.data.eeg import load_eeg
    from neurodl.decode.eeg import EEG_PIPELINES, make_pipeline
    from neurodl.decode.evaluate import cross_validate, permutation_test

    check_option("pipeline", pipeline, EEG_PIPELINES)
    check_int("random_state", random_state, minimum=0)
    check_int("permutations", permutations, minimum=0)
    check_n_jobs(n_jobs)
    d_tmin, d_tmax, d_lo, d_hi = EEG_WINDOWS[pipeline]
    t0 = time.perf_counter()
    epochs = load_eeg(
        data,
        subject=subject,
        runs=runs,
        picks=picks,
        events=events,
        rest=rest,
        tmin=d_tmin if tmin is None else tmin,
        tmax=d_tmax if tmax is None else tmax,
        l_freq=d_lo if l_freq is None else l_freq,
        h_freq=d_hi if h_freq is None else h_freq,
    )
    load_seconds = time.perf_counter() - t0
    est = make_pipeline(
        pipeline, sfreq=epochs.sfreq, rank=epochs.rank, random_state=random_state
    )
    res = cross_validate(
        est,
        epochs.X,
        epochs.y,
        cv=cv,
        groups=epochs.groups,
        n_jobs=n_jobs,
        n_splits=n_splits,
        test_size=test_size,
        random_state=random_state,
    )
    out: dict[str, Any] = {
        "pipeline": pipeline,
        "data": str(data),
        "subject": subject,
        "runs": list(runs),
        "n_trials": epochs.n_trials,
        "n_channels": len(epochs.ch_names),
        "sfreq": epochs.sfreq,
        "window_s": [epochs.tmin, epochs.tmax],
        "band_hz": epochs.info["band_hz"],
        "classes": list(epochs.classes),
        "events": epochs.info["events"],
        "tasks": sorted(set(epochs.info["tasks"].values())),
        "trials_per_class": epochs.info["trials_per_class"],
        "load_seconds": round(load_seconds, 3),
        **res.to_dict(),
    }
    if permutations:
        out["permutation_test"] = permutation_test(
            make_pipeline(
                pipeline,
                sfreq=epochs.sfreq,
                rank=epochs.rank,
                random_state=random_state,
            ),
            epochs.X,
            epochs.y,
            cv=cv if cv != "runs" else "shuffle",
            n_permutations=permutations,
            n_jobs=n_jobs,
            random_state=random_state,
        )
    return out


SPIKE_DECODERS = ("wiener", "kalman", "gru", "lstm")
"""Decoders :func:`decode_spikes` knows."""


@dataclass
class SpikeDecoding:
    """One decoder's result on continuous data: scores and the test predictions."""

    summary: dict[str, Any]
    y_test: np.ndarray
    y_pred: np.ndarray
    bin_s: float
    target_names: tuple[str, ...] = field(default=())


def decode_spikes(
    data: str | os.PathLike[str] = "spikes_m1",
    *,
    decoder: str = "wiener",
    spikes_key: str | None = None,
    target_key: str | None = None,
    position_key: str | None = None,
    target_dims: Sequence[int] | None = None,
    bin_s: float | None = None,
    rebin_s: float | None = None,
    bins_before: int = 6,
    bins_after: int = 6,
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
    random_state: int = 0,
    epochs: int = 12,
    device: str = "cpu",
) -> SpikeDecoding:
    """Decode a behavioural variable from binned spikes, Glaser et al.'s protocol.

    The recording is split in time order into train / validation / test parts
    (``fractions``), each trimmed by the history length at its edges so no window
    reaches into a neighbouring part. Inputs are z-scored and outputs centred with
    the training part's statistics only. The validation part chooses
    hyperparameters (the Wiener filter's ridge penalty; the Kalman filter's lag and
    noise scale ``C``) or stops the recurrent decoder's training early; the test
    part is scored once, by R² averaged over the output columns.

    Decoders: ``"wiener"`` (linear regression on the history window of
    ``bins_before`` + current + ``bins_after`` bins), ``"kalman"`` (Wu et al.
    2003; the state is position, velocity and acceleration when a
    ``position_key`` is known, else the target and its derivative; it sees the
    current bin), ``"gru"`` / ``"lstm"`` (a recurrent network over the history
    window; ``device`` is its torch device).

    ``bin_s`` is the bin width in seconds of a file with no time vector (a file
    with one takes its steps; an NWB file's spike times are binned at it), as in
    :func:`neurodl.data.load_spikes`.
    """
    from neurodl.data.registry import DATASETS
    from neurodl.data.spikes import load_spikes
    from neurodl.decode.continuous import (
        KalmanDecoder,
        RecurrentDecoder,
        WienerFilter,
        _fit_wiener,
        history_windows,
        split_time_ordered,
    )
    from neurodl.decode.evaluate import regression_scores

    check_option("decoder", decoder, SPIKE_DECODERS)
    check_int("random_state", random_state, minimum=0)
    check_int("epochs", epochs, minimum=1)
    check_int("bins_before", bins_before, minimum=0)
    check_int("bins_after", bins_after, minimum=0)
    extra = DATASETS[data].extra if isinstance(data, str) and data in DATASETS else {}
    if target_dims is None and "target_dims" in extra and target_key is None:
        target_dims = [int(d) for d in extra["target_dims"].split()]
    if position_key is None and target_key is None:
        position_key = extra.get("position_key")
    t0 = time.perf_counter()
    spikes = load_spikes(
        data,
        spikes_key=spikes_key,
        target_key=target_key,
        bin_s=bin_s,
        rebin_s=rebin_s,
        target_dims=target_dims,
    )
    parts = split_time_ordered(
        spikes.n_bins, fractions, trim_start=bins_before, trim_end=bins_after
    )
    tr, va, te = parts
    y = spikes.target - spikes.target[tr].mean(axis=0)
    chosen: dict[str, Any] = {}
    if decoder == "kalman":
        X = _zscore(spikes.counts, tr)
        if position_key is not None:
            pos_data = load_spikes(
                data,
                spikes_key=spikes_key,
                target_key=position_key,
                names={"target_key": "position_key"},
                bin_s=bin_s,
                rebin_s=rebin_s,
                target_dims=target_dims,
            )
            pos = pos_data.target
            acc = np.gradient(spikes.target, spikes.bin_s, axis=0)
            kin = np.hstack([pos, spikes.target, acc])
            out = slice(pos.shape[1], pos.shape[1] + spikes.target.shape[1])
            chosen["state"] = "position, velocity, acceleration"
        else:
            der = np.gradient(spikes.target, spikes.bin_s, axis=0)
            kin = np.hstack([spikes.target, der])
            out = slice(0, spikes.target.shape[1])
            chosen["state"] = "target and its derivative"
        kin = kin - kin[tr].mean(axis=0)
        best: tuple[float, Any, dict[str, Any]] | None = None
        for lag in (-2, -1, 0):
            for c in (1.0, 2.0):
                m = KalmanDecoder(C=c, lag=lag).fit(X[tr], kin[tr])
                r2 = _selection_r2(kin[va, out], m.predict(X[va])[:, out])
                if best is None or r2 > best[0]:
                    best = (r2, m, {"lag": lag, "C": c})
        assert best is not None
        model = best[1]
        chosen.update(best[2])

        def predict(rows: np.ndarray) -> np.ndarray:
            return np.asarray(model.predict(X[rows]))[:, out]

        y = kin[:, out]
    else:
        windows, _ = history_windows(spikes.counts, bins_before, 1, bins_after)
        W = _zscore(windows, tr)
        if decoder == "wiener":
            flat = W.reshape(len(W), -1)
            best_w: tuple[float, Any, float] | None = None
            # one Gram matrix for all the penalties: each filter as its own fit
            fits = [
                WienerFilter(alpha=a) for a in (0.0, 10.0, 100.0, 1000.0, 3000.0, 1e4)
            ]
            _fit_wiener(fits, flat[tr], y[tr])
            for m in fits:
                r2 = _selection_r2(y[va], m.predict(flat[va]))
                if best_w is None or r2 > best_w[0]:
                    best_w = (r2, m, m.alpha)
            assert best_w is not None
            wiener = best_w[1]
            chosen["alpha"] = best_w[2]

            def predict(rows: np.ndarray) -> np.ndarray:
                return np.asarray(wiener.predict(flat[rows]))

        else:
            fit_rows = np.concatenate([tr, va])
            rnn = RecurrentDecoder(
                cell=decoder,
                hidden=256,
                dropout=0.3,
                epochs=epochs,
                patience=3,
                validation_fraction=len(va) / len(fit_rows),
                random_state=random_state,
                device=device,
            ).fit(W[fit_rows], y[fit_rows])
            chosen["epochs_run"] = int(rnn.n_epochs_)

            def predict(rows: np.ndarray) -> np.ndarray:
                return np.asarray(rnn.predict(W[rows]))

    y_val_pred, y_test_pred = predict(va), predict(te)
    seconds = time.perf_counter() - t0
    val = regression_scores(y[va], y_val_pred)
    test = regression_scores(y[te], y_test_pred)
    summary = {
        "decoder": decoder,
        "data": str(data),
        "n_bins": spikes.n_bins,
        "n_units": spikes.n_units,
        "bin_s": spikes.bin_s,
        "targets": list(spikes.target_names),
        "history_bins": [bins_before, 1, bins_after],
        "split": list(fractions),
        "n_train_val_test": [len(tr), len(va), len(te)],
        "chosen_on_validation": chosen,
        "validation": {k: _round(v) for k, v in val.items() if k != "warnings"},
        "test": {k: _round(v) for k, v in test.items() if k != "warnings"},
        "seconds": round(seconds, 3),
    }
    warnings = {
        f"{part}.{key}": why
        for part, scores in (("validation", val), ("test", test))
        for key, why in scores.get("warnings", {}).items()
    }
    if warnings:
        summary["warnings"] = warnings
    return SpikeDecoding(
        summary=summary,
        y_test=y[te],
        y_pred=y_test_pred,
        bin_s=spikes.bin_s,
        target_names=tuple(spikes.target_names),
    )


def _selection_r2(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Return the validation R² that chooses hyperparameters.

    It is the mean over the outputs whose R² is defined (a constant output has
    none), -inf if none is.
    """
    from neurodl.decode.evaluate import regression_scores

    per = np.asarray(regression_scores(y_true, y_pred)["r2_per_output"])
    return float(np.nanmean(per)) if np.isfinite(per).any() else -np.inf


def _zscore(a: np.ndarray, rows: np.ndarray) -> np.ndarray:
    mean = a[rows].mean(axis=0)
    std = a[rows].std(axis=0)
    return np.asarray((a - mean) / np.where(std > 0, std, 1.0))


def _round(v: Any) -> Any:
    if isinstance(v, list):
        return [round(float(x), 6) for x in v]
    return round(float(v), 6)
