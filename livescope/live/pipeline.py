"""The live assistant's pipeline: capture, inference and render/sink stages joined by bounded queues.

- Replay (a file as fast as possible, or an image folder): a reader thread decodes ahead,
  the main thread analyses frames in order (in small batches) and draws each frame with its
  own result, a writer thread encodes. Reproducible: every run gives the same frames.jsonl.
- Live (capture device, network stream, or a file with --realtime): the reader thread hands
  every frame to the display queue and the newest one to the inference thread, which drops
  what it cannot keep up with. The display never waits for the model: each frame is drawn
  with the newest result, and the age of that result is measured.
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

from livescope.data.images import find_endoscope_area, mask_outside
from livescope.live.episodes import EpisodeTracker
from livescope.live.overlay import OverlayRenderer, Status
from livescope.live.sinks import JsonlSink, VideoSink, WindowSink
from livescope.live.smoothing import SmoothedState, TemporalSmoother
from livescope.live.sources import FileSource, Frame, Source, SourceLost

# "model" is one compiled call: backbone, the three heads and Grad-CAM (`livescope bench` splits it).
STAGES = ("decode", "crop_resize", "model", "smoothing", "render", "encode")


class EndoscopeArea:
    """The image area inside the processor's border: found once, refreshed every few seconds
    or at once when the frame size changes."""

    def __init__(self, refresh_s: float = 2.0):
        self.refresh_s = refresh_s
        self.box = None
        self.shape = None
        self.t = -1e9

    def update(self, image: np.ndarray, t: float):
        """The area's box, or None while none has been found (too dark, no border)."""
        if self.box is None or image.shape != self.shape or t - self.t >= self.refresh_s:
            box = find_endoscope_area(image, fallback_full=False)
            if box is not None or image.shape != self.shape:
                self.box = box  # a dark frame keeps the last area found
            self.shape = image.shape
            self.t = t
        return self.box


@dataclass
class Analysis:
    index: int
    arrival: float
    pts: float
    probs: dict
    state: SmoothedState
    cam: np.ndarray | None
    box: tuple
    ai_ms: float


@dataclass
class RunOptions:
    out: Path | None = None
    window: bool = False
    fullscreen: bool = False
    cam: bool = True
    analyze_every: int = 1
    record: bool = True
    record_raw: bool = False
    mask_osd: bool = True
    max_seconds: float | None = None
    reconnect_s: float = 30.0
    ai_hz: float = 15.0  # live: cap the model's rate, leaving CPU for the display (0: as fast as it can)
    batch: int = 8
    progress: bool = True
    # Replay-only: analyse synchronously in order; live: latest-frame-wins inference thread.
    live: bool | None = None


@dataclass
class RunStats:
    timings: dict = field(default_factory=lambda: {s: [] for s in STAGES})
    display_latency_ms: list = field(default_factory=list)
    ai_age_ms: list = field(default_factory=list)
    frame_gaps_ms: list = field(default_factory=list)
    frames_in: int = 0
    frames_shown: int = 0
    frames_analysed: int = 0
    dropped_input: int = 0
    dropped_display: int = 0
    no_signal_frames: int = 0
    reconnects: int = 0
    decode_errors: int = 0
    wall_s: float = 0.0
    first_frame: float | None = None
    last_frame: float | None = None
    recording_error: str | None = None


class Pipeline:
    def __init__(self, cascade, source: Source, options: RunOptions, source_factory=None,
                 stop: threading.Event | None = None, on_progress=None):
        self.cascade = cascade
        self.source = source
        self.source_factory = source_factory  # re-opens a live source after it was lost
        self.opt = options
        self.labels = cascade.labels
        self.positive = {task: cascade.positive(task) for task in cascade.tasks}
        self.smoother = TemporalSmoother(self.labels, cascade.thresholds, self.positive)
        self.episodes = EpisodeTracker(self.labels, self.positive)
        self.renderer = OverlayRenderer(self.labels.get("A"), self.positive.get("A", "hemorrhoid"))
        self.area = EndoscopeArea()
        self.stats = RunStats()
        self.stop = stop or threading.Event()  # set it (q key, SIGINT, the demo's Stop) to finish cleanly
        self.on_progress = on_progress  # called as on_progress(frames_done, total_or_None)
        self.cam_on = options.cam
        self.recording = options.record or options.record_raw  # the r key pauses both recordings
        self.timeline: list[tuple[float, float, float | None, int]] = []  # pts, p_gate, p_hem, state
        self._lock = threading.Lock()
        self._latest: Analysis | None = None
        self._ai_times: deque = deque(maxlen=60)
        self._shown_times: deque = deque(maxlen=60)
        self.no_signal = False
        self.live = options.live if options.live is not None else source.live
        self.fps = source.fps or 30.0

    # --- analysis --------------------------------------------------------------------------
    def _prepare(self, frame: Frame):
        t0 = time.perf_counter()
        box = self.area.update(frame.image, frame.pts)
        inp = self.cascade.model_input(frame.image, box)
        self.stats.timings["crop_resize"].append((time.perf_counter() - t0) * 1000)
        return inp, box

    def _analyse(self, frames: list[Frame]) -> list[Analysis]:
        prepared = [self._prepare(f) for f in frames]
        batch = np.stack([p[0] for p in prepared])
        t0 = time.perf_counter()
        results = self.cascade.analyse(batch, cam=self.opt.cam)
        ai_ms = (time.perf_counter() - t0) * 1000
        n = len(frames)
        self.stats.timings["model"].append(self.cascade.last_timing["model_ms"] / n)
        out = []
        for f, (_inp, box), r in zip(frames, prepared, results, strict=True):
            t1 = time.perf_counter()
            with self._lock:
                state = self.smoother.update(f.pts, r.probs)
                closed = self.episodes.update(f.index, f.pts, state, r.probs,
                                              self._maybe_mask(f.image, box), r.cam, box)
            self.stats.timings["smoothing"].append((time.perf_counter() - t1) * 1000)
            if closed is not None and self.opt.progress:
                d = closed.decision
                print(f"episode {closed.number}: {closed.start_s:.1f}-{closed.end_s:.1f} s, grade {d.get('grade')} "
                      f"({d.get('confidence')})", file=sys.stderr)
            out.append(Analysis(f.index, f.arrival, f.pts, r.probs, state, r.cam, box, ai_ms / n))
            self.stats.frames_analysed += 1
            self._ai_times.append(time.monotonic())
        return out

    def _maybe_mask(self, image, box):
        return mask_outside(image, box) if self.opt.mask_osd else image

    # --- output ----------------------------------------------------------------------------
    def _status(self) -> Status:
        def rate(times: deque) -> float:
            if len(times) < 2 or times[-1] == times[0]:
                return 0.0
            return (len(times) - 1) / (times[-1] - times[0])

        latest = self._latest
        return Status(video_fps=rate(self._shown_times), ai_hz=rate(self._ai_times),
                      ai_latency_ms=latest.ai_ms if latest else 0.0,
                      dropped=self.stats.dropped_display + self.stats.dropped_input,
                      model=self.cascade.name, recording=self.recording and self.video is not None
                      and not self.video.failed, cam_on=self.cam_on)

    def _emit(self, frame: Frame, analysis: Analysis | None, analysed_now: bool) -> None:
        t0 = time.perf_counter()
        box = analysis.box if analysis is not None else self.area.box
        state = analysis.state if analysis is not None else None
        drawing = self.video is not None or self.window is not None
        # With --mask-osd the on-screen text (patient name, ID) never reaches a recording.
        if self.opt.mask_osd:
            scene = mask_outside(frame.image, box)
        else:
            scene = frame.image.copy() if drawing else frame.image
        if self.raw is not None and self.recording:
            self.raw.write(scene.copy() if drawing else scene)  # the overlay draws into scene next
        if drawing:
            scene = self.renderer.render(scene, state, analysis.cam if analysis else None, box, self._status(),
                                         cam_on=self.cam_on, no_signal=self.no_signal)
        self.stats.timings["render"].append((time.perf_counter() - t0) * 1000)
        if self.video is not None and self.recording:
            self.video.write(scene)
        now = time.monotonic()
        latency = (now - frame.arrival) * 1000
        age = (now - analysis.arrival) * 1000 if analysis is not None else None
        self.stats.display_latency_ms.append(latency)
        if age is not None:
            self.stats.ai_age_ms.append(age)
        if self._shown_times:
            self.stats.frame_gaps_ms.append((now - self._shown_times[-1]) * 1000)
        self._shown_times.append(now)
        self.stats.frames_shown += 1
        if self.window is not None:
            key = self.window.show(scene)
            self._key(key, scene)
        if self.jsonl is not None:
            rec = {"i": frame.index, "t": round(frame.pts, 4), "analysed": analysed_now,
                   "result_of": analysis.index if analysis else None,
                   "raw": {k: [round(float(v), 4) for v in p] for k, p in analysis.probs.items()} if analysed_now else None,
                   "state": state.state if state else "out",
                   "p_gate": round(state.p_gate, 4) if state else None,
                   "p_A": [round(float(v), 4) for v in state.p_a] if state is not None and state.p_a is not None else None,
                   "p_B": [round(float(v), 4) for v in state.p_b] if state is not None and state.p_b is not None else None,
                   "a": state.a_label if state else None, "grade": state.grade if state else None,
                   "confidence": None if state is None or state.confidence is None else round(state.confidence, 4),
                   "latency_ms": round(latency, 2), "ai_age_ms": None if age is None else round(age, 2),
                   "ai_ms": round(analysis.ai_ms, 2) if analysis else None, "no_signal": self.no_signal}
            self.jsonl.write(rec)
        if state is not None:
            p_hem = None
            if state.p_a is not None and "A" in self.labels:
                p_hem = float(state.p_a[self.labels["A"].index(self.positive["A"])])
            self.timeline.append((frame.pts, state.p_gate, p_hem, int(state.gate_in)))

    def _key(self, key: str | None, scene) -> None:
        if key is None:
            return
        if key == "q":
            self.stop.set()
        elif key == "c":
            self.cam_on = not self.cam_on
        elif key == "r":
            self.recording = not self.recording
        elif key == "s" and self.opt.out is not None:
            import cv2

            snap = self.opt.out / "snapshots" / f"snapshot_{int(time.time() * 1000)}.png"
            snap.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(snap), cv2.cvtColor(scene, cv2.COLOR_RGB2BGR))

    # --- threads ---------------------------------------------------------------------------
    def _reader(self, out: queue.Queue, latest: dict, cond: threading.Condition) -> None:
        """Capture stage. Live: every frame to the display queue (oldest dropped if the display
        falls behind) and the newest to the inference slot. Replay: every frame, blocking."""
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
                            try:
                                out.put_nowait(frame)
                            except queue.Full:
                                try:
                                    out.get_nowait()
                                    self.stats.dropped_display += 1
                                except queue.Empty:
                                    pass
                                out.put_nowait(frame)
                            with cond:
                                if latest.get("frame") is not None:
                                    self.stats.dropped_input += 1
                                latest["frame"] = frame
                                cond.notify()
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
            out.put(None)
            with cond:
                latest["done"] = True
                cond.notify()

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
            analysis = self._analyse([frame])[0]
            with self._lock:
                self._latest = analysis
            if self.opt.ai_hz > 0:
                self.stop.wait(max(0.0, 1.0 / self.opt.ai_hz - (time.monotonic() - t_start)))

    # --- main ------------------------------------------------------------------------------
    def run(self) -> RunStats:
        opt = self.opt
        self.video = self.raw = self.jsonl = self.window = None
        if opt.window:
            self.window = WindowSink(fullscreen=opt.fullscreen)
        q: queue.Queue = queue.Queue(maxsize=4 if self.live else 32)
        latest: dict = {}
        cond = threading.Condition()
        first = None
        old_handlers = self._install_signals()
        # Trace the graphs before the first frame, so it is not held back by compilation.
        self.cascade.warm_up((1,) if self.live else (1, opt.batch))
        t_start = time.monotonic()
        reader = threading.Thread(target=self._reader, args=(q, latest, cond), name="capture", daemon=True)
        reader.start()
        infer = None
        progress = None
        try:
            first = q.get()
            if first is None:
                from livescope.errors import LivescopeError

                raise LivescopeError(f"no frame could be read from {self.source.name}",
                                     "the file may be damaged, empty or not a video")
            self.stats.first_frame = time.monotonic()
            h, w = first.image.shape[:2]
            if opt.out is not None:
                opt.out.mkdir(parents=True, exist_ok=True)
                self.jsonl = JsonlSink(opt.out / "frames.jsonl")
                if opt.record:
                    self.video = VideoSink(opt.out / "annotated.mp4", self.fps, (w, h), block=not self.live,
                                           threads=0).__enter__()
                if opt.record_raw:
                    self.raw = VideoSink(opt.out / "raw.mp4", self.fps, (w, h), block=not self.live,
                                         threads=0).__enter__()
            if opt.progress and not self.live and isinstance(self.source, FileSource):
                from tqdm import tqdm

                progress = tqdm(total=self.source.total, desc="analysing", unit="frame", mininterval=1.0,
                                file=sys.stderr)
            if self.live:
                infer = threading.Thread(target=self._inference, args=(latest, cond), name="inference", daemon=True)
                infer.start()
                self._run_live(q, first)
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
            last = self.timeline[-1][0] if self.timeline else 0.0
            self.episodes.finish(self.stats.frames_shown - 1, last)
            for sink in (self.video, self.raw):
                if sink is not None:
                    sink.close()
                    self.stats.timings["encode"] = list(sink.encode_ms) if sink is self.video else self.stats.timings["encode"]
                    if sink.failed:
                        self.stats.recording_error = sink.failed
            if self.jsonl is not None:
                self.jsonl.close()
            if self.window is not None:
                self.window.close()
            self.stats.wall_s = time.monotonic() - t_start
            self.stats.last_frame = time.monotonic()
        return self.stats

    def _deadline_passed(self, t0: float) -> bool:
        return self.opt.max_seconds is not None and time.monotonic() - t0 >= self.opt.max_seconds

    def _run_replay(self, q: queue.Queue, first: Frame, progress) -> None:
        every = max(1, self.opt.analyze_every)
        pending = [first]
        t0 = time.monotonic()
        done = False
        while pending and not self.stop.is_set():
            while len(pending) < self.opt.batch and not done:
                item = q.get()
                if item is None:
                    done = True
                    break
                pending.append(item)
            chosen = [f for f in pending if f.index % every == 0]
            analyses = {a.index: a for a in (self._analyse(chosen) if chosen else [])}
            for f in pending:
                a = analyses.get(f.index)
                if a is not None:
                    self._latest = a
                self._emit(f, self._latest, a is not None)
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

    def _run_live(self, q: queue.Queue, first: Frame) -> None:
        t0 = time.monotonic()
        frame = first
        last_shape = first.image.shape
        period = 1.0 / self.fps
        last_real = time.monotonic()
        signal_timeout = max(0.5, 5 * period)  # no frame for this long: the display says "no signal"
        while not self.stop.is_set():
            if frame is not None:
                if frame.index >= 0:
                    last_real = time.monotonic()
                    self.no_signal = False
                    last_shape = frame.image.shape
                with self._lock:
                    latest = self._latest
                self._emit(frame, latest, latest is not None and latest.index == frame.index)
            if self._deadline_passed(t0):
                break
            try:
                frame = q.get(timeout=period)
            except queue.Empty:
                if time.monotonic() - last_real > signal_timeout:
                    # Keep the display (and the recording) alive with a "no signal" frame.
                    self.no_signal = True
                    self.stats.no_signal_frames += 1
                    frame = Frame(-1, time.monotonic(), time.monotonic() - t0, np.zeros(last_shape, np.uint8))
                else:
                    frame = None
                continue
            if frame is None:
                break

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
