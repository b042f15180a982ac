"""Sinks: where each shown frame goes. Every sink has the same small protocol,
`write(frame, scene, analysis)` and `close()`, so a new output is one class in one file. A sink
that uses the composed picture says `needs_scene = True`; the others get `scene=None` (and the
overlay is not drawn when nothing needs it).

- `DisplaySink` hands the frame to whatever presents it (a window, or the benchmark's
  presentation buffer); the pipeline times the display latency when it returns.
- `RecordingSink` records the annotated video (or, `raw=True`, the input masked outside the
  endoscope area) through an encoder process; a full disk stops the recording with a warning,
  never the live overlay.
- `JsonlSink` writes one JSON line per frame, flushed line by line, so a crash keeps every
  complete line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from livescope.data.endoscope_area import blank_outside
from livescope.live.encoder import EncoderProcess


class Sink(Protocol):
    def write(self, frame, scene: np.ndarray, analysis) -> None: ...

    def close(self) -> None: ...


class RecordingSink:
    """An H.264 fragmented-MP4 recording made in its own process (see encoder.py)."""

    recording = True  # the window's r key pauses every recording sink
    needs_scene = True  # the pipeline composes the overlay only when some sink shows or records it

    def __init__(self, path: str | Path, fps: float, live: bool, raw: bool = False, mask_osd: bool = True):
        self.path, self.fps, self.live = Path(path), fps, live
        self.raw, self.mask_osd = raw, mask_osd
        self.enabled = True
        self.encoder: EncoderProcess | None = None

    def start(self, shape) -> None:
        """Start the encoder process for frames of this shape, without waiting for it: its ring
        holds about a second of frames while it boots, so the display never waits on it."""
        if self.encoder is None:
            frame_bytes = shape[0] * shape[1] * 3
            slots = int(np.clip(160 * 2**20 // frame_bytes, 6, 32))  # 25 slots at 1080p, 0.8 s at 30 fps
            self.encoder = EncoderProcess(self.path, self.fps, (shape[1], shape[0]), block=not self.live,
                                          slots=slots).__enter__()

    def write(self, frame, scene: np.ndarray, analysis) -> None:
        if not self.enabled:
            return
        if self.encoder is None:
            self.start(scene.shape)
        if self.raw:
            area = analysis.area if analysis is not None else None
            image = blank_outside(frame.image, area) if self.mask_osd else frame.image
        else:
            image = scene
        self.encoder.put(image)

    @property
    def failed(self) -> str | None:
        return None if self.encoder is None else self.encoder.failed

    def stats(self) -> dict:
        if self.encoder is None:
            return {}
        return {"encode_ms": self.encoder.encode_ms, "recording_dropped": self.encoder.dropped,
                "frames_recorded": self.encoder.frames_encoded, "failed": self.encoder.failed}

    def close(self) -> None:
        if self.encoder is not None:
            self.encoder.close()


def _round(values, digits: int = 4):
    return None if values is None else [round(float(v), digits) for v in values]


class JsonlSink:
    """frames.jsonl: per frame its result, the shown state and how late it was shown."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(self.path, "w", buffering=1)
        self.failed: str | None = None
        self.no_signal = False

    def record(self, frame, analysis) -> dict:
        state = analysis.state if analysis is not None else None
        analysed_now = analysis is not None and analysis.index == frame.index
        shown = frame.shown
        return {"i": frame.index, "t": round(frame.pts, 4), "analysed": analysed_now,
                "result_of": analysis.index if analysis else None,
                "raw": {k: _round(p) for k, p in analysis.probs.items()} if analysed_now else None,
                "state": state.state if state else "out",
                "p_gate": round(state.p_gate, 4) if state else None,
                "p_A": _round(state.p_a) if state is not None else None,
                "p_B": _round(state.p_b) if state is not None else None,
                "a": state.a_label if state else None, "grade": state.grade if state else None,
                "confidence": None if state is None or state.confidence is None else round(state.confidence, 4),
                "latency_ms": None if shown is None else round((shown - frame.arrival) * 1000, 2),
                "ai_age_ms": None if analysis is None or shown is None else round((shown - analysis.arrival) * 1000, 2),
                "ai_ms": round(analysis.ai_ms, 2) if analysis else None, "no_signal": frame.index < 0}

    def write(self, frame, scene: np.ndarray, analysis) -> None:
        if self.failed:
            return
        try:
            self.file.write(json.dumps(self.record(frame, analysis), separators=(",", ":")) + "\n")
        except OSError as exc:
            self.failed = f"frames.jsonl stopped: {exc}"
            print(f"warning: {self.failed}", file=sys.stderr)

    def close(self) -> None:
        try:
            self.file.close()
        except OSError:
            pass


class DisplaySink:
    """What presents the frame. This one copies it into a presentation buffer, as a window's
    blit does: the benchmark's display (no screen here) and the base of `WindowSink`."""

    def __init__(self):
        self.buffer: np.ndarray | None = None
        self.shown = 0

    def write(self, frame, scene: np.ndarray, analysis) -> None:
        if self.buffer is None or self.buffer.shape != scene.shape:
            self.buffer = np.empty_like(scene)
        np.copyto(self.buffer, scene)
        self.shown += 1

    def close(self) -> None:
        self.buffer = None


class WindowSink(DisplaySink):
    """An OpenCV window. Keys: q quit, c heatmap on/off, r record on/off, s snapshot."""

    def __init__(self, title: str = "livescope", fullscreen: bool = False, on_key=None):
        super().__init__()
        self.title = title
        self.on_key = on_key
        cv2.namedWindow(title, cv2.WINDOW_NORMAL)
        if fullscreen:
            cv2.setWindowProperty(title, cv2.WND_PROP_FULLSCREEN, cv2.WINDOW_FULLSCREEN)

    def write(self, frame, scene: np.ndarray, analysis) -> None:
        cv2.imshow(self.title, cv2.cvtColor(scene, cv2.COLOR_RGB2BGR))
        key = cv2.waitKey(1) & 0xFF
        self.shown += 1
        if self.on_key is not None and 32 <= key < 127:
            self.on_key(chr(key), scene)

    def close(self) -> None:
        try:
            cv2.destroyWindow(self.title)
        except cv2.error:
            pass


def window_available() -> bool:
    import os
    import platform

    if platform.system() == "Linux" and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        return False
    return True
