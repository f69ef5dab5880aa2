"""Decoding jobs end to end: load a recording, cross-validate a decoder, report.

Shared by ``neurodl decode`` and the tour.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from neurodl._validate import check_option

__all__ = ["EEG_WINDOWS", "decode_eeg"]

EEG_WINDOWS: dict[str, tuple[float, float, float | None, float | None]] = {
    "csp-lda": (1.0, 2.0, 7.0, 30.0),
    "riemann": (1.0, 2.0, 7.0, 30.0),
    "mdm": (1.0, 2.0, 7.0, 30.0),
    "fbcsp": (1.0, 2.0, None, None),
}
"""Default epoch window (tmin, tmax, s after the cue) and band (Hz) per pipeline.

The first three follow MNE's motor-imagery example; the filter bank filters the
broadband signal itself. ConvNets take their window from
:data:`neurodl.decode.convnet.CONVNET_WINDOW` when it exists.
"""


def _window(pipeline: str) -> tuple[float, float, float | None, float | None]:
    if pipeline in EEG_WINDOWS:
        return EEG_WINDOWS[pipeline]
    from neurodl.decode import convnet

    window = getattr(convnet, "CONVNET_WINDOW", (1.0, 2.0, 7.0, 30.0))
    return (float(window[0]), float(window[1]), window[2], window[3])


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
    permutations: int = 0,
) -> dict[str, Any]:
    """Load EEG epochs, cross-validate one pipeline, return a JSON-ready summary.

    Window and band default to the pipeline's (:data:`EEG_WINDOWS`); ``cv`` is one
    of :func:`neurodl.decode.make_cv`'s names (``"shuffle"``: MNE's example
    protocol, ShuffleSplit(10, 0.2, random_state=42)).
    """
    from neurodl.data.eeg import load_eeg
    from neurodl.decode.eeg import EEG_PIPELINES, make_pipeline
    from neurodl.decode.evaluate import cross_validate, permutation_test

    check_option("pipeline", pipeline, EEG_PIPELINES)
    d_tmin, d_tmax, d_lo, d_hi = _window(pipeline)
    t0 = time.perf_counter()
    epochs = load_eeg(
        data,
        subject=subject,
        runs=runs,
        picks=picks,
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


def as_float_list(a: Any) -> list[float]:
    """Round an array to 6 digits as a list (for JSON)."""
    return [round(float(x), 6) for x in np.ravel(a)]
