"""The live assistant's pipeline: a capture thread, the analysis, and the display, with sinks.

- Replay (a file as fast as possible, or an image folder): a reader thread decodes ahead, the
  main thread analyses frames in order (in small batches) and composes each frame with its own
  result; the recordings encode in their own processes. Reproducible: every run gives the same
  frames.jsonl.
- Live (capture device, network stream, or a file with --realtime): the display goes first.
  The reader keeps only the newest frame for the display (newest wins: a stall costs one
  frame, never a queue of them) and the newest for the inference thread; the inference thread
  builds the overlay's layers once per result; the display thread, at raised priority where
  the system allows, composites them onto each frame and shows it, then hands it to the other
  sinks. The display latency is timed from the moment a frame was read from the source to the
  moment the display sink showed it, and a frame the display never showed counts too: its
  latency runs until a newer frame took its place on screen.
"""

from __future__ import annotations

import queue
import signal
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from livescope.data.endoscope_area import blank_outside
from livescope.live.frame_step import FrameAnalysis, FrameStep
from livescope.live.overlay import OverlayLayers, OverlayRenderer, Status
from livescope.live.priority import raise_thread_priority
from livescope.live.sources import FileSource, Frame, Source, SourceLost

# "model" is one call: backbone, the three heads and Grad-CAM (`livescope bench` splits it).
STAGES = ("decode", "crop_resize", "model", "smoothing", "overlay", "render", "display", "encode")


@dataclass
class RunOptions:
    cam: bool = True
    cam_mode: str = "findings"  # findings | all | off: when the overlay shows the heatmap
    analyze_every: int = 1
    mask_osd: bool = True
    max_seconds: float | None = None
    reconnect_s: float = 30.0
    ai_hz: float = 0.0  # live: cap the model's rate (0: every frame it can; the display thread has priority)
    batch: int = 8
    progress: bool = True
    out: Path | None = None  # snapshots (s key) go here
    # Replay-only: analyse synchronously in order; live: latest-frame-wins inference thread.
    live: bool | None = None


@dataclass
class RunStats:
    timings: dict = field(default_factory=lambda: {s: [] for s in STAGES})
    display_latency_ms: list = field(default_factory=list)  # every frame read, superseded ones included
    ai_age_ms: list = field(default_factory=list)
    frame_gaps_ms: list = field(default_factory=list)
    frames_in: int = 0
    frames_shown: int = 0
    frames_analysed: int = 0
    dropped_input: int = 0  # frames the analysis never saw (a newer one was there)
    dropped_display: int = 0  # frames the display never showed (a newer one was there)
    no_signal_frames: int = 0
    reconnects: int = 0
    decode_errors: int = 0
    wall_s: float = 0.0
    first_frame: float | None = None
    recording_error: str | None = None
    recording_dropped: int = 0
    priority: str = "normal"
    ended_early: str | None = None


def _rate(times: deque, min_count: int, min_span: float) -> float | None:
    """Events a second over the window, once measured over enough events and time."""
    if len(times) < min_count or times[-1] - times[0] < min_span:
        return None
    return (len(times) - 1) / (times[-1] - times[0])


class Pipeline:
    def __init__(self, step: FrameStep, source: Source, options: RunOptions, sinks: list | None = None,
                 display=None, source_factory=None, stop: threading.Event | None = None, on_progress=None):
        self.step = step
        self.cascade = step.cascade
        self.source = source
        self.source_factory = source_factory  # re-opens a live source after it was lost
        self.opt = options
        self.sinks = list(sinks or [])
        self.display = display  # shows frames (a window, or the benchmark's presentation buffer)
        self.renderer = OverlayRenderer(step.labels, step.positive, self.cascade.thresholds, options.cam_mode)
        self.stats = RunStats()
        self.stop = stop or threading.Event()  # set it (q key, SIGINT, the demo's Stop) to finish cleanly
        self.on_progress = on_progress  # called as on_progress(frames_done, total_or_None)
        self.cam_on = options.cam and options.cam_mode != "off"
        self._composes = True
        self.live = options.live if options.live is not None else source.live
        self.fps = source.fps or 30.0
        self._result_lock = threading.Lock()  # guards only the newest result and its layers
        self._latest: tuple[FrameAnalysis, OverlayLayers] | None = None
        self._ai_times: deque = deque(maxlen=240)
        self._shown_times: deque = deque(maxlen=240)
        self.no_signal = False

    @property
    def episodes(self):
        return self.step.episodes

    @property
    def smoother(self):
        return self.step.smoother

    # --- analysis and overlay --------------------------------------------------------------
    def _analyse(self, frames: list[Frame]) -> list[tuple[FrameAnalysis, OverlayLayers]]:
        out = []
        for a in self.step.run(frames):
            if a.closed is not None and self.opt.progress:
                d = a.closed.decision
                print(f"episode {a.closed.number}: {a.closed.start_s:.1f}-{a.closed.end_s:.1f} s, grade "
                      f"{d.get('grade')} ({d.get('confidence')})", file=sys.stderr)
            t0 = time.perf_counter()
            shape = next(f.image.shape for f in frames if f.index == a.index)
            layers = self.renderer.layers(shape, a.state, a.cam, a.cam_task, a.area, cam_on=self.cam_on)
            self.stats.timings["overlay"].append((time.perf_counter() - t0) * 1000)
            out.append((a, layers))
            self.stats.frames_analysed += 1
            self._ai_times.append(time.monotonic())
        return out

    def _status(self, latest) -> Status:
        recording = any(getattr(s, "recording", False) and s.enabled and not s.failed for s in self.sinks)
        return Status(video_fps=_rate(self._shown_times, 30, 0.5), ai_hz=_rate(self._ai_times, 10, 0.5),
                      ai_latency_ms=latest[0].ai_ms if latest else 0.0,
                      dropped=self.stats.dropped_display + self.stats.dropped_input, model=self.cascade.name,
                      recording=recording, cam_on=self.cam_on, live=self.live)

    # --- output ----------------------------------------------------------------------------
    def _emit(self, frame: Frame, latest, superseded: list[float] = ()) -> None:
        """Compose one frame, show it, time it, and hand it to the sinks."""
        t0 = time.perf_counter()
        analysis = latest[0] if latest else None
        if not self._composes:  # nothing shows or records the picture (an archive run without video)
            self._record_shown(frame, analysis, superseded, None)
            return
        area = analysis.area if analysis is not None else self.step.area.area
        # With --mask-osd the on-screen text (patient name, ID) never reaches any output.
        scene = blank_outside(frame.image, area) if self.opt.mask_osd else frame.image.copy()
        if self.no_signal:
            layers = self.renderer.layers(scene.shape, None, None, None, None, no_signal=True)
        elif latest is not None and self.cam_on:
            layers = latest[1]
        else:
            state = analysis.state if analysis else None
            layers = self.renderer.layers(scene.shape, state, None, None, area, cam_on=False)
        scene = self.renderer.compose(scene, layers, self._status(latest))
        t1 = time.perf_counter()
        self.stats.timings["render"].append((t1 - t0) * 1000)
        if self.display is not None:
            self.display.write(frame, scene, analysis)
            self.stats.timings["display"].append((time.perf_counter() - t1) * 1000)
        self._record_shown(frame, analysis, superseded, scene)

    def _record_shown(self, frame: Frame, analysis, superseded, scene) -> None:
        now = time.monotonic()
        frame.shown = now
        st = self.stats
        st.display_latency_ms.append((now - frame.arrival) * 1000)
        st.display_latency_ms.extend((now - a) * 1000 for a in superseded)
        if analysis is not None:
            st.ai_age_ms.append((now - analysis.arrival) * 1000)
        if self._shown_times:
            st.frame_gaps_ms.append((now - self._shown_times[-1]) * 1000)
        self._shown_times.append(now)
        st.frames_shown += 1
        self.scene = scene
        for sink in self.sinks:
            sink.write(frame, scene, analysis)

    def on_key(self, key: str, scene=None) -> None:
        if key == "q":
            self.stop.set()
        elif key == "c":
            self.cam_on = not self.cam_on
        elif key == "r":
            for sink in self.sinks:
                if getattr(sink, "recording", False):
                    sink.enabled = not sink.enabled
        elif key == "s" and self.opt.out is not None and scene is not None:
            import cv2

            snap = self.opt.out / "snapshots" / f"snapshot_{int(time.time() * 1000)}.png"
            snap.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(snap), cv2.cvtColor(scene, cv2.COLOR_RGB2BGR))  # the shown scene: masked

    # --- capture ---------------------------------------------------------------------------
    def _offer_live(self, frame: Frame, slot: dict, cond: threading.Condition, latest: dict,
                    infer_cond: threading.Condition) -> None:
        """Live: newest wins, for the display and for the analysis alike."""
        with cond:
            old = slot.get("frame")
            if old is not None:
                self.stats.dropped_display += 1
                slot.setdefault("superseded", []).append(old.arrival)
            slot["frame"] = frame
            cond.notify()
        with infer_cond:
            if latest.get("frame") is not None:
                self.stats.dropped_input += 1
            latest["frame"] = frame
            infer_cond.notify()

    def _reader(self, out: queue.Queue | None, slot: dict, cond: threading.Condition, latest: dict,
                infer_cond: threading.Condition) -> None:
        """Capture stage. Live: `_offer_live`. Replay: every frame into a bounded queue, blocking."""
        backoff = 0.5
        lost_since = None
        source = self.source
        try:
            while not self.stop.is_set():
                try:
                    t_prev = time.perf_counter()
                    for frame in source.frames():
                        if not hasattr(source, "decode_ms"):  # files time their own decoding (without pacing)
                            self.stats.timings["decode"].append((time.perf_counter() - t_prev) * 1000)
                        if lost_since is not None:
                            lost_since, backoff = None, 0.5
                            self.no_signal = False
                        self.stats.frames_in += 1
                        if self.live:
                            self._offer_live(frame, slot, cond, latest, infer_cond)
                        else:
                            while not self.stop.is_set():
                                try:
                                    out.put(frame, timeout=0.2)
                                    break
                                except queue.Full:
                                    continue
                        if self.stop.is_set():
                            break
                        t_prev = time.perf_counter()
                    break  # the source ended normally
                except SourceLost as exc:
                    if self.source_factory is None or self.opt.reconnect_s <= 0:
                        print(f"warning: {exc}", file=sys.stderr)
                        break
                    now = time.monotonic()
                    lost_since = lost_since or now
                    self.no_signal = True
                    if now - lost_since > self.opt.reconnect_s:
                        print(f"warning: {exc}; gave up after {self.opt.reconnect_s:.0f} s", file=sys.stderr)
                        break
                    self.stop.wait(backoff)
                    backoff = min(backoff * 2, 4.0)
                    try:
                        source.close()
                        source = self.source_factory()
                        self.source = source
                        self.stats.reconnects += 1
                    except Exception as exc2:  # noqa: BLE001 - keep retrying until the deadline
                        print(f"warning: reconnecting: {exc2}", file=sys.stderr)
        finally:
            self.stats.decode_errors += source.stats.get("decode_errors", 0)
            self.stats.timings["decode"].extend(getattr(source, "decode_ms", []))
            if isinstance(source, FileSource):
                self.stats.ended_early = source.ended_early()
            if out is not None:
                out.put(None)
            with cond:
                slot["done"] = True
                cond.notify()
            with infer_cond:
                latest["done"] = True
                infer_cond.notify()

    # --- live analysis ---------------------------------------------------------------------
    def _inference(self, latest: dict, cond: threading.Condition) -> None:
        every = max(1, self.opt.analyze_every)
        while not self.stop.is_set():
            with cond:
                while latest.get("frame") is None and not latest.get("done") and not self.stop.is_set():
                    cond.wait(0.1)
                frame = latest.pop("frame", None)
                if frame is None:
                    if latest.get("done"):
                        return
                    continue
            if frame.index % every and every > 1:
                continue
            t_start = time.monotonic()
            result = self._analyse([frame])[0]
            with self._result_lock:
                self._latest = result
            if self.opt.ai_hz > 0:
                self.stop.wait(max(0.0, 1.0 / self.opt.ai_hz - (time.monotonic() - t_start)))
                with cond:  # a frame that waited out the pause is stale: take the next fresh one
                    if latest.get("frame") is not None:
                        latest["frame"] = None
                        self.stats.dropped_input += 1

    # --- main ------------------------------------------------------------------------------
    def run(self) -> RunStats:
        opt = self.opt
        q: queue.Queue | None = None if self.live else queue.Queue(maxsize=32)
        slot: dict = {}
        cond, infer_cond = threading.Condition(), threading.Condition()
        latest: dict = {}
        # The overlay is drawn only for a display or a sink that records pictures; a sink that does
        # not say `needs_scene` gets None for the scene (never the unmasked frame).
        self._composes = self.display is not None or any(getattr(s, "needs_scene", False) for s in self.sinks)
        old_handlers = self._install_signals()
        # Trace the graphs before the first frame, so it is not held back by compilation.
        self.cascade.warm_up((1,) if self.live else (1, opt.batch))
        t_start = time.monotonic()
        reader = threading.Thread(target=self._reader, args=(q, slot, cond, latest, infer_cond), name="capture",
                                  daemon=True)
        reader.start()
        infer = None
        progress = None
        try:
            first = self._first_frame(q, slot, cond)
            if first is None:
                from livescope.errors import LivescopeError

                raise LivescopeError(f"no frame could be read from {self.source.name}",
                                     "the file may be damaged, empty or not a video")
            self.stats.first_frame = time.monotonic()
            for sink in self.sinks:
                if hasattr(sink, "start"):
                    sink.start(first.image.shape)
            if opt.progress and not self.live and isinstance(self.source, FileSource):
                from tqdm import tqdm

                progress = tqdm(total=self.source.total, desc="analysing", unit="frame", mininterval=1.0,
                                file=sys.stderr)
            if self.live:
                infer = threading.Thread(target=self._inference, args=(latest, infer_cond), name="inference",
                                         daemon=True)
                infer.start()
                self.stats.priority = raise_thread_priority()
                self._run_live(slot, cond, first)
            else:
                self._run_replay(q, first, progress)
        finally:
            self.stop.set()
            reader.join(timeout=5)
            if infer is not None:
                infer.join(timeout=5)
            self._restore_signals(old_handlers)
            if progress is not None:
                progress.close()
            self.step.finish(self.stats.frames_shown - 1, self._last_pts)
            self._close_sinks()
            self.stats.wall_s = time.monotonic() - t_start
        return self.stats

    _last_pts = 0.0

    def _first_frame(self, q, slot, cond) -> Frame | None:
        if not self.live:
            return q.get()
        with cond:
            while slot.get("frame") is None and not slot.get("done"):
                cond.wait(0.1)
            return slot.get("frame")

    def _close_sinks(self) -> None:
        for sink in self.sinks:
            try:
                sink.close()
            finally:
                stats = sink.stats() if hasattr(sink, "stats") else {}
                if stats.get("failed"):
                    self.stats.recording_error = self.stats.recording_error or stats["failed"]
                if getattr(sink, "raw", None) is False:  # the annotated recording's encoder times the stage
                    self.stats.timings["encode"] = list(stats.get("encode_ms", []))
                self.stats.recording_dropped += stats.get("recording_dropped", 0)
        if self.display is not None:
            self.display.close()

    def _deadline_passed(self, t0: float) -> bool:
        return self.opt.max_seconds is not None and time.monotonic() - t0 >= self.opt.max_seconds

    def _run_replay(self, q: queue.Queue, first: Frame, progress) -> None:
        every = max(1, self.opt.analyze_every)
        pending = [first]
        t0 = time.monotonic()
        done = False
        latest = None
        while pending and not self.stop.is_set():
            while len(pending) < self.opt.batch and not done:
                item = q.get()
                if item is None:
                    done = True
                    break
                pending.append(item)
            chosen = [f for f in pending if f.index % every == 0]
            results = {a.index: (a, layers) for a, layers in (self._analyse(chosen) if chosen else [])}
            for f in pending:
                latest = results.get(f.index, latest)
                self._emit(f, latest)
                self._last_pts = f.pts
                if progress is not None:
                    progress.update(1)
                if self.on_progress is not None:
                    self.on_progress(self.stats.frames_shown, getattr(self.source, "total", None))
            pending = []
            if self._deadline_passed(t0):
                break
            if not done:
                item = q.get()
                if item is None:
                    done = True
                else:
                    pending = [item]

    def _run_live(self, slot: dict, cond: threading.Condition, first: Frame) -> None:
        t0 = time.monotonic()
        period = 1.0 / self.fps
        last_real = time.monotonic()
        last_shape = first.image.shape
        signal_timeout = max(0.5, 5 * period)  # no frame for this long: the display says "no signal"
        while not self.stop.is_set() and not self._deadline_passed(t0):
            with cond:
                if slot.get("frame") is None and not slot.get("done"):
                    cond.wait(period)
                frame = slot.pop("frame", None)
                superseded = slot.pop("superseded", [])
                if frame is None and slot.get("done"):
                    break
            if frame is None:
                if time.monotonic() - last_real > signal_timeout:
                    # Keep the display (and the recording) alive with a "no signal" frame.
                    self.no_signal = True
                    self.stats.no_signal_frames += 1
                    now = time.monotonic()
                    frame = Frame(-1, now, now - t0, np.zeros(last_shape, np.uint8))
                else:
                    continue
            else:
                last_real = time.monotonic()
                self.no_signal = False
                last_shape = frame.image.shape
            with self._result_lock:
                latest = self._latest
            self._emit(frame, latest, superseded)
            if frame.index >= 0:
                self._last_pts = frame.pts
        self._account_unshown(slot, cond)

    def _account_unshown(self, slot: dict, cond: threading.Condition) -> None:
        """Frames still waiting when the run stops were never shown: dropped, each with its
        latency until now (the figure counts every frame read)."""
        with cond:
            leftover, superseded = slot.pop("frame", None), slot.pop("superseded", [])
        now = time.monotonic()
        arrivals = list(superseded) + ([leftover.arrival] if leftover is not None else [])
        self.stats.display_latency_ms.extend((now - a) * 1000 for a in arrivals)
        self.stats.dropped_display += leftover is not None

    # --- signals ---------------------------------------------------------------------------
    def _install_signals(self):
        if threading.current_thread() is not threading.main_thread():
            return None
        handlers = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            handlers[sig] = signal.signal(sig, lambda *_: self.stop.set())
        return handlers

    def _restore_signals(self, handlers) -> None:
        if handlers:
            for sig, h in handlers.items():
                signal.signal(sig, h)
