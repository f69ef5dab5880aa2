"""What an online run did: the report of :mod:`neurodl.bci.online`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

__all__ = ["OnlineSummary"]


def summary_stats(values: Sequence[float]) -> dict[str, float | None]:
    """Median, 95th percentile, maximum, mean (ms, 3 decimals) and count."""
    if not values:
        return {"p50": None, "p95": None, "max": None, "mean": None, "n": 0}
    a = np.asarray(values, dtype=float)
    return {
        "p50": round(float(np.percentile(a, 50)), 3),
        "p95": round(float(np.percentile(a, 95)), 3),
        "max": round(float(a.max()), 3),
        "mean": round(float(a.mean()), 3),
        "n": len(values),
    }


@dataclass
class OnlineSummary:
    """What an online run did.

    Attributes
    ----------
    stream : str
        Name of the stream decoded.
    sfreq : float
        Its nominal rate, Hz.
    channels : int
        Channels used by the decoder.
    window_samples, step_samples : int
        Window length and decoding step, samples.
    duration_s : float
        Seconds from connecting to the end.
    samples : int
        Samples received.
    windows : int
        Windows decoded (= commands sent = trajectory rows).
    skipped_windows : int
        Due windows not decoded because a later one was already available (the
        runner decodes only the newest window to stay real-time).
    dropped_samples : int
        Samples missing from the stream (timestamp jumps > 1.5 periods).
    gaps : int
        Number of such jumps.
    stalls : int
        Times no sample arrived for ``stall_timeout`` seconds.
    reconnects : int
        Times the runner opened a new inlet on a restarted or new stream.
    resumes : int
        Stalls that ended with data on the same inlet (a paused stream, or one
        liblsl recovered itself).
    latency_ms, receive_ms, decode_ms : dict
        ``p50``, ``p95``, ``max``, ``mean`` and ``n`` of the end-to-end latency and
        of its two parts (see the module notes), ms. ``n`` counts the windows
        decoded once the clock offset was known (liblsl needs ~0.6 s after
        connecting); earlier ones (only with windows shorter than that) have a
        NaN latency in the trajectory.
    commands : dict of str to int
        Windows per decoded label.
    score : dict or None
        Windows scored against the marker stream and the fraction correct.
    trajectory : str or None
        Path of the trajectory file.
    control_stream : str or None
        Name of the LSL control outlet.
    final_position : list of float
        Cursor ``(x, y)`` at the end.
    stopped_by : str
        ``"duration"``, ``"stop"`` or ``"interrupt"``.
    events : list of dict
        ``{"t": seconds since start, "event": ..., "detail": ...}``: stalls,
        resumes, reconnects.
    """

    stream: str
    sfreq: float
    channels: int
    window_samples: int
    step_samples: int
    duration_s: float = 0.0
    samples: int = 0
    windows: int = 0
    skipped_windows: int = 0
    dropped_samples: int = 0
    gaps: int = 0
    stalls: int = 0
    reconnects: int = 0
    resumes: int = 0
    latency_ms: dict[str, float | None] = field(default_factory=dict)
    receive_ms: dict[str, float | None] = field(default_factory=dict)
    decode_ms: dict[str, float | None] = field(default_factory=dict)
    commands: dict[str, int] = field(default_factory=dict)
    score: dict[str, float | int | None] | None = None
    trajectory: str | None = None
    control_stream: str | None = None
    final_position: list[float] = field(default_factory=lambda: [0.0, 0.0])
    stopped_by: str = "duration"
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def warnings(self) -> dict[str, str]:
        """Statistics undefined for this run (``None`` in :meth:`to_dict`), and why."""
        if self.windows:
            return {}
        why = (
            "no window was decoded (the stream ended or stalled before "
            f"{self.window_samples} samples arrived): latency undefined"
        )
        return {key: why for key in ("latency_ms", "receive_ms", "decode_ms")}

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a JSON-ready dict; ``warnings`` says what is None."""
        out = asdict(self)
        if self.warnings:
            out["warnings"] = self.warnings
        return out

    def lines(self) -> list[str]:
        """Human-readable summary lines."""
        lat, rec, dec = self.latency_ms, self.receive_ms, self.decode_ms

        def ms(d: Mapping[str, float | None], key: str) -> str:
            v = d.get(key)
            return "-" if v is None else f"{v:.2f}"

        out = [
            f"stream      {self.stream} ({self.channels} ch at {self.sfreq:g} Hz), "
            f"{self.duration_s:.1f} s, ended by {self.stopped_by}",
            f"windows     {self.windows} of {self.window_samples} samples every "
            f"{self.step_samples} (skipped {self.skipped_windows})",
            f"latency     p50 {ms(lat, 'p50')} ms, p95 {ms(lat, 'p95')} ms, "
            f"max {ms(lat, 'max')} ms (receive p95 {ms(rec, 'p95')}, decode p95 "
            f"{ms(dec, 'p95')})",
            f"samples     {self.samples} received, {self.dropped_samples} dropped "
            f"in {self.gaps} gap(s)",
            f"stalls      {self.stalls} (reconnects {self.reconnects}, resumes "
            f"{self.resumes})",
            "commands    "
            + (", ".join(f"{k} {v}" for k, v in self.commands.items()) or "-"),
        ]
        if self.score and self.score.get("windows"):
            out.append(
                f"score       {self.score['correct']}/{self.score['windows']} cued "
                f"windows correct ({self.score['accuracy']:.0%})"
            )
        if self.trajectory:
            out.append(f"trajectory  {self.trajectory}")
        out += [f"warning: {why}" for why in sorted(set(self.warnings.values()))]
        return out
