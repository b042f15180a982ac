"""Sinks: the annotated recording (PyAV H.264, fragmented MP4), frames.jsonl, and the window.

The recording is written on its own thread; a fragment starts at every keyframe (one a
second), so a crash loses at most about the last second. A full disk stops the recording
with a warning; it never stops the live overlay.
"""

from __future__ import annotations

import json
import queue
import sys
import threading
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np


class VideoSink:
    """`with VideoSink(path, fps, (w, h)) as sink: sink.write(rgb)`."""

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int], crf: int = 23,
                 preset: str = "ultrafast", block: bool = True, queue_size: int = 16, threads: int = 0):
        self.path = Path(path)
        self.fps = fps
        self.size = (size[0] - size[0] % 2, size[1] - size[1] % 2)
        self.crf, self.preset = crf, preset
        self.block = block
        self.threads = threads  # 0: x264 decides; live runs use 1 so the encoder cannot starve the display
        self.queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self.frames_written = 0
        self.dropped = 0
        self.failed: str | None = None
        self.encode_ms: list[float] = []
        self._thread: threading.Thread | None = None

    def __enter__(self) -> VideoSink:
        import av

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.container = av.open(str(self.path), "w", format="mp4", options={
            "movflags": "frag_keyframe+empty_moov+default_base_moof", "flush_packets": "1"})
        rate = Fraction(self.fps).limit_denominator(1001)
        self.stream = self.container.add_stream("libx264", rate=rate)
        self.stream.width, self.stream.height = self.size
        self.stream.pix_fmt = "yuv420p"
        self.stream.codec_context.time_base = 1 / rate
        self.stream.options = {"crf": str(self.crf), "preset": self.preset, "tune": "zerolatency",
                               "g": str(max(1, round(self.fps))), "bf": "0"}
        if self.threads:
            self.stream.codec_context.thread_count = self.threads
        self._thread = threading.Thread(target=self._run, name="video-sink", daemon=True)
        self._thread.start()
        return self

    def write(self, rgb: np.ndarray) -> bool:
        """Queue a frame; False when it was not taken (recording failed or, live, the queue is full)."""
        if self.failed:
            return False
        if (rgb.shape[1], rgb.shape[0]) != self.size:  # the source changed resolution mid-stream
            rgb = cv2.resize(rgb, self.size, interpolation=cv2.INTER_AREA)
        try:
            self.queue.put(rgb, block=self.block, timeout=None if self.block else 0)
            return True
        except queue.Full:
            self.dropped += 1
            return False

    def _run(self) -> None:
        import time

        import av

        n = 0
        while True:
            item = self.queue.get()
            if item is None:
                break
            if self.failed:
                continue
            try:
                t0 = time.perf_counter()
                vf = av.VideoFrame.from_ndarray(cv2.cvtColor(item, cv2.COLOR_RGB2YUV_I420), format="yuv420p")
                vf.pts = n
                self.container.mux(self.stream.encode(vf))
                self.encode_ms.append((time.perf_counter() - t0) * 1000)
                n += 1
                self.frames_written = n
            except (OSError, av.error.FFmpegError) as exc:
                self.failed = f"recording stopped: {exc}"
                print(f"warning: {self.failed} - the live overlay goes on", file=sys.stderr)

    def close(self) -> None:
        import av

        if self._thread is not None:
            self.queue.put(None)
            self._thread.join()
            self._thread = None
        try:
            if not self.failed:
                self.container.mux(self.stream.encode(None))
        except (OSError, av.error.FFmpegError) as exc:
            self.failed = self.failed or f"recording stopped: {exc}"
        try:
            self.container.close()
        except (OSError, av.error.FFmpegError) as exc:
            self.failed = self.failed or f"recording stopped: {exc}"

    def __exit__(self, *exc) -> None:
        self.close()


class JsonlSink:
    """One JSON line per frame, flushed line by line so a crash keeps every complete line."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(self.path, "w", buffering=1)
        self.failed: str | None = None

    def write(self, record: dict) -> None:
        if self.failed:
            return
        try:
            self.file.write(json.dumps(record, separators=(",", ":")) + "\n")
        except OSError as exc:
            self.failed = f"frames.jsonl stopped: {exc}"
            print(f"warning: {self.failed}", file=sys.stderr)

    def close(self) -> None:
        try:
            self.file.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class WindowSink:
    """An OpenCV window. Keys: q quit, c heatmap on/off, r record on/off, s snapshot."""

    def __init__(self, title: str = "livescope", fullscreen: bool = False):
        self.title = title
        cv2.namedWindow(title, cv2.WINDOW_NORMAL)
        if fullscreen:
            cv2.setWindowProperty(title, cv2.WND_PROP_FULLSCREEN, cv2.WINDOW_FULLSCREEN)

    def show(self, rgb: np.ndarray) -> str | None:
        cv2.imshow(self.title, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        key = cv2.waitKey(1) & 0xFF
        return chr(key) if 32 <= key < 127 else None

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
