"""Online decoding of a live LSL stream into cursor commands.

The pieces:

* :mod:`neurodl.bci.decoder` trains the :class:`~neurodl.bci.decoder.OnlineDecoder`
  (causal band-pass, CSP log power, LDA) and filters chunks causally.
* :class:`OnlineRunner` (or :func:`run_online`) resolves the stream, keeps a ring
  buffer, decodes a sliding window every ``step`` samples, maps the output to a
  velocity, moves a :class:`~neurodl.bci.device.Cursor2D`, sends the command to an
  LSL ``Control`` outlet and logs the trajectory; it reports latency, dropped
  samples, stalls and reconnects in an :class:`OnlineSummary`.

Class label -> velocity command (:data:`DEFAULT_COMMANDS`, workspace units per
second before the cursor's gain): ``both_fists`` -> up ``(0, +1)``, ``both_feet`` ->
down ``(0, -1)``, ``left_fist`` (or ``left``) -> ``(-1, 0)``, ``right_fist`` (or
``right``) -> ``(+1, 0)``, ``rest`` -> still.
A regressor whose ``predict`` returns shape ``(1, 2)`` gives the velocity directly.

Latency is end to end: from the LSL timestamp of the newest sample in the window,
mapped to the local clock with ``inlet.time_correction()``, to the moment the command
was pushed to the control outlet (``pylsl.local_clock()`` after the push). It splits
into ``receive`` (sample time -> pulled from the inlet: outlet lateness, transport,
polling) and ``decode`` (pulled -> sent: filtering, buffering, ``predict``, cursor,
push).

Dropped samples: with the nominal rate (times the replay speed, if the stream says),
a jump of the timestamps by more than 1.5 sample periods means ``round(jump /
period) - 1`` samples were lost.

Stalls: when no sample arrives for ``stall_timeout`` seconds the runner reports
``stalled``, holds the cursor still and looks for the stream every 0.25 s (a direct
resolve by name or type, and a continuous resolver). A stream with a new uid (a
restarted outlet with the same name and source id, or a brand-new one) gets a fresh
inlet (``reconnected``); data arriving again on the old inlet (a paused outlet, or
liblsl's own recovery of ``recover=True`` inlets) ends the stall as ``resumed``.
Either way the filter, ring buffer and gap counter start over, so the break does not
count as dropped samples.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from neurodl.bci.decoder import CausalFilter, _pick_channels, fit_online_decoder
from neurodl.bci.device import Cursor2D, TrajectoryLog
from neurodl.bci.online_summary import OnlineSummary, summary_stats
from neurodl.bci.stream import (
    DEFAULT_STREAM,
    VOLT_SCALE,
    GapCounter,
    StreamNotFoundError,
    load_recording,
    pull_available,
    quiet_lsl,
    resolve_stream,
    stream_metadata,
)
from neurodl.errors import ValidationError

__all__ = [
    "DEFAULT_COMMANDS",
    "OnlineRunner",
    "OnlineSummary",
    "loopback_demo",
    "run_online",
]

DEFAULT_COMMANDS: dict[str, tuple[float, float]] = {
    "both_fists": (0.0, 1.0),
    "both_feet": (0.0, -1.0),
    "left_fist": (-1.0, 0.0),
    "right_fist": (1.0, 0.0),
    "left": (-1.0, 0.0),
    "right": (1.0, 0.0),
    "rest": (0.0, 0.0),
}
"""Velocity command ``(vx, vy)`` of each class label: both fists up, both feet
down, left fist left, right fist right (the eegmmidb classes), rest still."""


class _Ring:
    """The newest ``capacity`` samples, readable as one contiguous window."""

    def __init__(self, capacity: int, n_channels: int):
        self.capacity = capacity
        self.buf = np.zeros((2 * capacity, n_channels))
        self.pos = 0
        self.count = 0

    def extend(self, y: np.ndarray) -> None:
        m = len(y)
        if m >= self.capacity:
            y = y[-self.capacity :]
            m = self.capacity
        idx = (self.pos + np.arange(m)) % self.capacity
        self.buf[idx] = y
        self.buf[idx + self.capacity] = y
        self.pos = (self.pos + m) % self.capacity
        self.count = min(self.count + m, self.capacity)

    def latest(self, n: int) -> np.ndarray:
        end = self.pos + self.capacity
        return self.buf[end - n : end]


class _Offset:
    """An inlet's clock offset (``time_correction``), estimated without blocking.

    liblsl needs about 0.6 s for a first estimate; ``time_correction(timeout=0)``
    starts it in the background and raises until it is ready. :meth:`get` polls
    (at most every 50 ms) and refreshes a known value every 2 s.
    """

    def __init__(self, inlet: Any):
        self.inlet = inlet
        self.value: float | None = None
        self._polled = -math.inf
        self.poll(0.0)

    def poll(self, timeout: float) -> float | None:
        import pylsl

        with contextlib.suppress(pylsl.util.TimeoutError, pylsl.util.LostError):
            self.value = float(self.inlet.time_correction(timeout=timeout))
        return self.value

    def get(self, now: float) -> float | None:
        wait = 0.05 if self.value is None else 2.0
        if now - self._polled >= wait:
            self._polled = now
            self.poll(0.0)
        return self.value


class OnlineRunner:
    """Decode a live LSL stream into cursor commands (see the module notes).

    Parameters
    ----------
    decoder : object
        Anything with ``predict(X)`` for windows ``X`` of shape
        ``(1, n_channels, n_window_samples)``; a classifier returning one label, or
        a regressor returning a velocity of shape ``(1, 2)``. If it has
        ``sfreq``, ``ch_names``, ``unit``, ``sos``, ``window_samples``,
        ``classes_`` or ``marker_classes`` (as :class:`OnlineDecoder` does), they
        set the defaults of the parameters of the same meaning.
    name : str, optional
        Stream name to resolve (default ``"neurodl-eeg"`` unless ``stream_type``
        is given).
    stream_type : str, optional
        Stream content type; with ``name``, both must match.
    sfreq : float, optional
        Rate the decoder expects; a stream at another rate is an error.
    ch_names : sequence of str, optional
        Channels the decoder expects, in order (default: all of the stream's).
    sos : numpy.ndarray, optional
        Causal filter applied to the stream before buffering.
    window : int, optional
        Window length, samples (default ``decoder.window_samples``).
    step : int
        Decode every ``step`` new samples.
    commands : mapping, optional
        Label -> ``(vx, vy)`` (default :data:`DEFAULT_COMMANDS`).
    output : {"auto", "class", "velocity"}
        How to read ``predict``: ``auto`` treats an output of shape ``(1, 2)`` as
        a velocity and anything else as a class label.
    cursor : Cursor2D, optional
        The simulated device (default ``Cursor2D()``: workspace [-1, 1]^2, gain
        0.5).
    trajectory : str or os.PathLike, optional
        CSV or NPZ file for the trajectory (none if omitted).
    control_name : str or None
        Name of the LSL control outlet (default ``stream name + "-control"``);
        ``""`` opens none.
    resolve_timeout : float
        Seconds to find the stream at the start.
    stall_timeout : float
        Seconds without a sample after which the stream counts as stalled.
    poll : float
        Longest wait of one blocking pull, seconds.
    flush_every : float
        Seconds between trajectory flushes.
    score_span : tuple of float
        Windows whose newest sample lies this many seconds after a cue are scored
        against the cue (markers from the replayed marker stream).
    log : callable, optional
        Called with one-line status messages (e.g. ``"stalled"``).
    """

    def __init__(
        self,
        decoder: Any,
        *,
        name: str | None = None,
        stream_type: str | None = None,
        sfreq: float | None = None,
        ch_names: Sequence[str] | None = None,
        sos: np.ndarray | None = None,
        window: int | None = None,
        step: int = 16,
        commands: Mapping[Any, Sequence[float]] | None = None,
        output: str = "auto",
        cursor: Cursor2D | None = None,
        trajectory: str | os.PathLike[str] | None = None,
        control_name: str | None = None,
        resolve_timeout: float = 5.0,
        stall_timeout: float = 2.0,
        poll: float = 0.05,
        flush_every: float = 1.0,
        score_span: tuple[float, float] = (1.0, 4.0),
        log: Callable[[str], None] | None = None,
    ):
        if not callable(getattr(decoder, "predict", None)):
            raise ValidationError("'decoder' must have a predict(X) method.")
        if output not in ("auto", "class", "velocity"):
            raise ValidationError(
                f"'output' must be one of 'auto', 'class', 'velocity'; got {output!r}."
            )
        self.decoder = decoder
        self.name = name if name or stream_type else DEFAULT_STREAM
        self.stream_type = stream_type
        self.sfreq = sfreq if sfreq is not None else getattr(decoder, "sfreq", None)
        names = ch_names if ch_names is not None else getattr(decoder, "ch_names", None)
        self.ch_names = None if names is None else [str(c) for c in names]
        self.unit = getattr(decoder, "unit", None)
        self.sos = sos if sos is not None else getattr(decoder, "sos", None)
        w = window if window is not None else getattr(decoder, "window_samples", None)
        if w is None:
            raise ValidationError(
                "give 'window' (samples): the decoder has no window_samples."
            )
        for key, val in (("window", w), ("step", step)):
            if (
                isinstance(val, bool)
                or not isinstance(val, int | np.integer)
                or val < 1
            ):
                raise ValidationError(f"{key!r} must be an integer >= 1; got {val!r}.")
        self.window = int(w)
        self.step = int(step)
        for key, val in (
            ("resolve_timeout", resolve_timeout),
            ("stall_timeout", stall_timeout),
            ("poll", poll),
        ):
            if not (math.isfinite(val) and val > 0):
                raise ValidationError(f"{key!r} must be a number > 0; got {val!r}.")
        self.commands = {
            k: np.asarray(v, dtype=float).reshape(2)
            for k, v in (DEFAULT_COMMANDS if commands is None else commands).items()
        }
        self.output = output
        if output != "velocity":
            classes = getattr(decoder, "classes_", None)
            if classes is not None:
                missing = [
                    c for c in np.asarray(classes).tolist() if c not in self.commands
                ]
                if missing:
                    raise ValidationError(
                        f"no velocity command for class(es) {missing}; the command "
                        f"map has {sorted(map(str, self.commands))}."
                    )
        self.cursor = cursor if cursor is not None else Cursor2D()
        self.trajectory_path = None if trajectory is None else Path(trajectory)
        self.log_rows = (
            None
            if trajectory is None
            else TrajectoryLog(trajectory, flush_every=flush_every)
        )
        self.control_name = control_name
        self.resolve_timeout = float(resolve_timeout)
        self.stall_timeout = float(stall_timeout)
        self.poll = float(poll)
        self.score_span = (float(score_span[0]), float(score_span[1]))
        self.marker_classes = dict(getattr(decoder, "marker_classes", {}) or {})
        self._log = log or (lambda _msg: None)
        self.latencies_ms: list[float] = []
        """End-to-end latency of each timed window of the last :meth:`run`, ms."""

    # -- connecting ---------------------------------------------------------------

    def _check_stream(self, meta: Mapping[str, Any]) -> tuple[np.ndarray, float]:
        """Validate a stream against the decoder; return channel picks and scale."""
        where = f"LSL stream {meta['name']!r}"
        if self.sfreq is not None and not math.isclose(
            meta["sfreq"], float(self.sfreq), rel_tol=1e-6
        ):
            raise ValidationError(
                f"{where} runs at {meta['sfreq']:g} Hz but the decoder was trained "
                f"at {float(self.sfreq):g} Hz; stream at {float(self.sfreq):g} Hz "
                "or train on data at the stream's rate."
            )
        if meta["sfreq"] <= 0:
            raise ValidationError(
                f"{where} has an irregular rate (0); online decoding needs a "
                "regularly sampled stream."
            )
        if self.ch_names is None:
            picks = np.arange(meta["n_channels"])
        elif meta["ch_names"] is None:
            if meta["n_channels"] != len(self.ch_names):
                raise ValidationError(
                    f"{where} has no channel labels and {meta['n_channels']} "
                    f"channels; the decoder needs {len(self.ch_names)}."
                )
            picks = np.arange(meta["n_channels"])
        else:
            picks = _pick_channels(self.ch_names, meta["ch_names"], where)
        scale = 1.0
        units = meta["units"]
        if self.unit and units:
            src = VOLT_SCALE.get(str(units[0]).strip().lower())
            dst = VOLT_SCALE.get(str(self.unit).strip().lower())
            if src is not None and dst is not None:
                scale = src / dst
        return picks, scale

    def _open(
        self, info: Any, timeout: float
    ) -> tuple[Any, dict[str, Any], np.ndarray, float, _Offset]:
        import pylsl

        inlet = pylsl.StreamInlet(
            info, max_buflen=60, recover=True, processing_flags=0, as_numpy=True
        )
        try:
            full = inlet.info(timeout=timeout)
            meta = stream_metadata(full)
            picks, scale = self._check_stream(meta)
            inlet.open_stream(timeout=timeout)
            offset = _Offset(inlet)
        except BaseException:
            inlet.close_stream()
            del inlet
            raise
        return inlet, meta, picks, scale, offset

    # -- the loop ---------------------------------------------------------------

    def run(
        self, duration: float | None = None, stop: threading.Event | None = None
    ) -> OnlineSummary:
        """Decode until ``duration`` seconds pass, ``stop`` is set, or Ctrl-C.

        Returns
        -------
        OnlineSummary
            Also when interrupted; the trajectory file is written either way.

        Raises
        ------
        StreamNotFoundError
            If no stream is found within ``resolve_timeout`` at the start.
        ValidationError
            If the stream's rate or channels do not fit the decoder (at the start
            or after a reconnect).
        """
        import pylsl

        quiet_lsl()
        if duration is not None and not (math.isfinite(duration) and duration > 0):
            raise ValidationError(f"'duration' must be a number > 0; got {duration!r}.")
        clock = pylsl.local_clock
        filt = CausalFilter(self.sos)  # before connecting: may import scipy
        info = resolve_stream(self.name, self.stream_type, self.resolve_timeout)
        try:
            inlet, meta, picks, scale, offset = self._open(info, self.resolve_timeout)
        except (pylsl.util.TimeoutError, pylsl.util.LostError) as exc:
            raise StreamNotFoundError(
                f"LSL stream {info.name()!r} was found but did not answer within "
                f"{self.resolve_timeout:g} s ({exc}); is its outlet still running?"
            ) from exc
        uid = meta["uid"]
        period = 1.0 / (meta["sfreq"] * meta["speed"])
        prop, value = ("name", self.name) if self.name else ("type", self.stream_type)
        resolver = pylsl.ContinuousResolver(
            prop=prop, value=value, forget_after=max(2.0, self.stall_timeout)
        )
        markers = self._open_markers(meta)
        control = self._open_control(meta)
        summary = OnlineSummary(
            stream=meta["name"],
            sfreq=meta["sfreq"],
            channels=len(picks),
            window_samples=self.window,
            step_samples=self.step,
            trajectory=None
            if self.trajectory_path is None
            else str(self.trajectory_path),
            control_stream=None if control is None else control.get_info().name(),
        )
        ring = _Ring(self.window, len(picks))
        gaps = GapCounter(period)
        latency: list[float] = []
        self.latencies_ms = latency  # every timed window, for histograms
        receive: list[float] = []
        decode: list[float] = []
        cue: tuple[float, str] | None = None
        scored = correct = 0
        new = 0
        prev_t: float | None = None
        start = clock()
        end_at = math.inf if duration is None else start + duration
        last_data = start
        last_resolve = 0.0
        failed: set[str] = set()  # streams that vanished before they opened
        stalled = False
        max_samples = max(1024, 4 * self.window)

        def event(kind: str, detail: str = "") -> None:
            summary.events.append(
                {"t": round(clock() - start, 3), "event": kind, "detail": detail}
            )
            self._log(f"{kind}: {detail}" if detail else kind)

        def restart_pipeline() -> None:
            nonlocal new, prev_t, ring
            filt.reset()
            ring = _Ring(self.window, len(picks))
            gaps.reset()
            new = 0
            prev_t = None

        try:
            while True:
                now = clock()
                if now >= end_at:
                    summary.stopped_by = "duration"
                    break
                if stop is not None and stop.is_set():
                    summary.stopped_by = "stop"
                    break
                try:
                    chunk, ts = pull_available(
                        inlet, min(self.poll, max(end_at - now, 0.0)), max_samples
                    )
                except pylsl.util.LostError:
                    chunk, ts = None, np.empty(0)
                t_pull = clock()
                if markers is not None:
                    with contextlib.suppress(pylsl.util.LostError):
                        mk, mts = pull_available(markers[0], 0.0, 64)
                        if mk is not None:
                            label = mk[-1][0]
                            label = (
                                label.decode()
                                if isinstance(label, bytes)
                                else str(label)
                            )
                            moff = markers[1].get(t_pull)
                            if moff is None:  # not estimated yet: the data's
                                moff = offset.value or 0.0
                            cue = (float(mts[-1]) + moff, label)
                if chunk is None or len(ts) == 0:
                    if not stalled and t_pull - last_data > self.stall_timeout:
                        stalled = True
                        summary.stalls += 1
                        self.cursor.hold()
                        event(
                            "stalled",
                            f"no sample for {self.stall_timeout:g} s; cursor held, "
                            "looking for the stream",
                        )
                    if stalled and t_pull - last_resolve >= 0.25:
                        last_resolve = t_pull
                        # a direct query finds a new outlet at once (only live
                        # outlets answer); the continuous resolver also sees a
                        # new one next to a paused old one
                        seen = pylsl.resolve_byprop(prop, value, 1, 0.1)
                        fresh = [
                            s
                            for s in [*seen, *resolver.results()]
                            if s.uid() != uid
                            and s.uid() not in failed
                            and (
                                self.stream_type is None or s.type() == self.stream_type
                            )
                        ]
                        if fresh:
                            newest = max(fresh, key=lambda s: s.created_at())
                            try:
                                opened = self._open(newest, 1.0)
                            except (pylsl.util.TimeoutError, pylsl.util.LostError):
                                failed.add(newest.uid())  # a stale listing
                                continue
                            inlet.close_stream()
                            inlet, meta, picks, scale, offset = opened
                            uid = meta["uid"]
                            gaps.period = 1.0 / (meta["sfreq"] * meta["speed"])
                            restart_pipeline()
                            if markers is not None:
                                markers[0].close_stream()
                            markers = self._open_markers(meta)
                            summary.reconnects += 1
                            last_data = clock()
                            stalled = False
                            event("reconnected", f"new outlet of {meta['name']!r}")
                    continue
                if stalled:
                    stalled = False
                    summary.resumes += 1
                    restart_pipeline()
                    event("resumed", "samples arrive again")
                last_data = t_pull
                summary.samples += len(ts)
                gaps.update(ts)
                x = chunk[:, picks].astype(float)
                if scale != 1.0:
                    x *= scale
                ring.extend(filt.process(x))
                new += len(ts)
                if ring.count < self.window:
                    new = min(new, self.step)  # decode as soon as the ring is full
                    continue
                if new < self.step:
                    continue
                summary.skipped_windows += new // self.step - 1
                new = 0
                window = ring.latest(self.window).T[None]
                label, velocity = self._interpret(self.decoder.predict(window))
                remote = float(ts[-1])
                dt = self.step * period if prev_t is None else remote - prev_t
                prev_t = remote
                pos = self.cursor.step(velocity, min(max(dt, 0.0), 1.0))
                if control is not None:
                    control.push_sample([velocity[0], velocity[1], pos[0], pos[1]])
                t_send = clock()
                # the clock offset needs ~0.6 s for a first estimate; windows
                # decoded before it are not timed
                tc = offset.get(t_pull)
                t_newest = remote + (0.0 if tc is None else tc)
                lat = math.nan
                if tc is not None:
                    lat = (t_send - t_newest) * 1e3
                    latency.append(lat)
                    receive.append((t_pull - t_newest) * 1e3)
                    decode.append((t_send - t_pull) * 1e3)
                summary.windows += 1
                summary.commands[label] = summary.commands.get(label, 0) + 1
                if cue is not None and cue[1] in self.marker_classes:
                    since = t_newest - cue[0]
                    if self.score_span[0] <= since < self.score_span[1]:
                        scored += 1
                        correct += int(label == self.marker_classes[cue[1]])
                if self.log_rows is not None:
                    self.log_rows.append(t_send, pos, velocity, label, lat, t_newest)
                    self.log_rows.maybe_flush()
        except KeyboardInterrupt:
            summary.stopped_by = "interrupt"
        finally:
            if self.log_rows is not None:
                self.log_rows.flush()
            summary.duration_s = round(clock() - start, 3)
            summary.dropped_samples = gaps.dropped
            summary.gaps = gaps.gaps
            summary.latency_ms = summary_stats(latency)
            summary.receive_ms = summary_stats(receive)
            summary.decode_ms = summary_stats(decode)
            summary.final_position = [float(p) for p in self.cursor.position]
            if self.marker_classes:
                summary.score = {
                    "windows": scored,
                    "correct": correct,
                    "accuracy": None if not scored else round(correct / scored, 4),
                }
            inlet.close_stream()
            del inlet, control, markers, resolver
        return summary

    def _interpret(self, out: Any) -> tuple[str, np.ndarray]:
        """Turn one ``predict`` output into ``(label, velocity)``."""
        arr = np.asarray(out)
        as_velocity = self.output == "velocity" or (
            self.output == "auto"
            and arr.ndim == 2
            and arr.shape == (1, 2)
            and arr.dtype.kind in "fiu"
        )
        if as_velocity:
            v = arr.astype(float).reshape(-1)
            if v.size != 2:
                raise ValidationError(
                    f"a velocity decoder must return shape (1, 2); got {arr.shape}."
                )
            return "velocity", v
        key = arr.reshape(-1)[0].item() if arr.size else None
        if key not in self.commands:
            raise ValidationError(
                f"the decoder returned class {key!r}, which has no velocity command; "
                f"the command map has {sorted(map(str, self.commands))}."
            )
        return str(key), self.commands[key]

    def _open_markers(self, meta: Mapping[str, Any]) -> tuple[Any, _Offset] | None:
        """Open the marker inlet named in the stream's metadata, if any."""
        if not self.marker_classes or not meta.get("markers"):
            return None
        import pylsl

        found = pylsl.resolve_byprop("name", meta["markers"], 1, 1.0)
        if not found:
            self._log(f"no marker stream {meta['markers']!r}; the run is not scored")
            return None
        inlet = pylsl.StreamInlet(
            max(found, key=lambda s: s.created_at()), recover=True
        )
        try:
            inlet.open_stream(timeout=1.0)
        except (pylsl.util.TimeoutError, pylsl.util.LostError):
            return None
        return inlet, _Offset(inlet)

    def _open_control(self, meta: Mapping[str, Any]) -> Any:
        """Open the control outlet (4 float channels: vx, vy, x, y)."""
        if self.control_name == "":
            return None
        import pylsl

        name = self.control_name or f"{meta['name']}-control"
        info = pylsl.StreamInfo(
            name,
            "Control",
            4,
            pylsl.IRREGULAR_RATE,
            "float32",
            f"neurodl-control:{name}",
        )
        info.set_channel_labels(["vx", "vy", "x", "y"])
        info.set_channel_units(["workspace/s", "workspace/s", "workspace", "workspace"])
        info.desc().append_child_value("manufacturer", "neurodl bci run")
        return pylsl.StreamOutlet(info)


def run_online(
    decoder: Any,
    *,
    duration: float | None = None,
    stop: threading.Event | None = None,
    **options: Any,
) -> OnlineSummary:
    """Build an :class:`OnlineRunner` with ``options`` and run it.

    Parameters
    ----------
    decoder : object
        See :class:`OnlineRunner`.
    duration : float, optional
        Seconds to run (default: until ``stop`` or Ctrl-C).
    stop : threading.Event, optional
        Set it to end the run from another thread.
    **options
        Keyword arguments of :class:`OnlineRunner`.

    Returns
    -------
    OnlineSummary
    """
    return OnlineRunner(decoder, **options).run(duration=duration, stop=stop)


def loopback_demo(
    seconds: float = 8.0,
    *,
    run: int = 6,
    train_runs: Iterable[int] = (10, 14),
    chunk: int = 4,
    step: int = 16,
    trajectory: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Replay a bundled EEG run over LSL on this machine and decode it live.

    An outlet thread streams run ``run`` (64 channels at 160 Hz, real time, chunks
    of ``chunk`` samples) under a unique name; the runner decodes it for
    ``seconds`` with a CSP + LDA decoder fitted on ``train_runs`` (by default runs
    the replayed one is not part of, so the cue score is honest).

    Returns
    -------
    dict
        ``p50_ms``, ``p95_ms``, ``max_ms`` (end-to-end latency), ``receive_p95_ms``,
        ``decode_p95_ms``, ``dropped_samples``, ``windows``, ``stalls``,
        ``n_channels``, ``sfreq``, ``seconds``, ``run``, ``train_runs``, ``score``
        (cued windows correct) and ``latencies_ms`` (one value per timed window).
        JSON-ready (no NaN).
    """
    import uuid

    runs = [int(r) for r in train_runs]
    decoder = fit_online_decoder(runs=runs)
    rec = load_recording(run=run)
    name = f"neurodl-loopback-{uuid.uuid4().hex[:12]}"
    ready, stop = threading.Event(), threading.Event()
    from neurodl.bci.stream import replay

    thread = threading.Thread(
        target=replay,
        args=(rec, name),
        kwargs={"chunk": chunk, "stop": stop, "ready": ready},
        daemon=True,
    )
    thread.start()
    try:
        if not ready.wait(10.0):
            raise RuntimeError("the replay outlet did not start within 10 s.")
        runner = OnlineRunner(decoder, name=name, step=step, trajectory=trajectory)
        s = runner.run(duration=seconds)
    finally:
        stop.set()
        thread.join(10.0)

    def num(d: Mapping[str, float | None], key: str) -> float:
        v = d.get(key)
        return float("nan") if v is None else float(v)

    out = {
        "p50_ms": num(s.latency_ms, "p50"),
        "p95_ms": num(s.latency_ms, "p95"),
        "max_ms": num(s.latency_ms, "max"),
        "receive_p95_ms": num(s.receive_ms, "p95"),
        "decode_p95_ms": num(s.decode_ms, "p95"),
        "dropped_samples": s.dropped_samples,
        "windows": s.windows,
        "stalls": s.stalls,
        "n_channels": s.channels,
        "sfreq": s.sfreq,
        "seconds": float(seconds),
        "run": run,
        "train_runs": runs,
        "score": s.score,
        "latencies_ms": [round(v, 4) for v in runner.latencies_ms],
    }
    if any(isinstance(v, float) and not math.isfinite(v) for v in out.values()):
        raise RuntimeError(f"the live loop timed no window in {seconds:g} s: {out}")
    return out
