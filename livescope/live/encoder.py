"""The video encoder in its own process, fed through a shared-memory ring of frames.

x264 is the largest holder of the GIL and of a core in the live path; in its own process it
cannot stall the display. The caller copies each frame into a free slot of the ring (about
0.5 ms at 1080p) and sends the slot number; the encoder process converts, encodes and muxes
(fragmented MP4, a keyframe a second, so a killed run keeps all but the last second), then
frees the slot. With no free slot a live caller drops the frame and counts it; a replay waits.

The encoder process imports only PyAV, OpenCV and NumPy (no TensorFlow). When its parent
dies (SIGKILL), it encodes what is already in the ring and closes the file.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import sys
import time
from fractions import Fraction
from multiprocessing import shared_memory
from pathlib import Path

import numpy as np

SLOTS = 6


def _encode_loop(path: str, fps: float, size: tuple[int, int], crf: int, preset: str, shm_name: str, slots: int,
                 work, free, status, parent: int) -> None:
    import av
    import cv2

    cv2.setNumThreads(1)
    w, h = size
    shm = shared_memory.SharedMemory(name=shm_name)
    ring = np.ndarray((slots, h, w, 3), np.uint8, buffer=shm.buf)
    failed = None
    n = 0
    encode_ms: list[float] = []
    try:
        container = av.open(path, "w", format="mp4", options={
            "movflags": "frag_keyframe+empty_moov+default_base_moof", "flush_packets": "1"})
        rate = Fraction(fps).limit_denominator(1001)
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.codec_context.time_base = 1 / rate
        stream.options = {"crf": str(crf), "preset": preset, "tune": "zerolatency", "g": str(max(1, round(fps))),
                          "bf": "0"}
    except (OSError, av.error.FFmpegError) as exc:
        status.put(("failed", f"recording stopped: {exc}"))
        failed = str(exc)
    while True:
        try:
            item = work.get(timeout=0.5)
        except queue.Empty:
            if os.getppid() != parent:  # the live process was killed: keep what was recorded
                item = None
            else:
                continue
        if item is None:
            break
        if not failed:
            try:
                t0 = time.perf_counter()
                vf = av.VideoFrame.from_ndarray(cv2.cvtColor(ring[item], cv2.COLOR_RGB2YUV_I420), format="yuv420p")
                vf.pts = n
                container.mux(stream.encode(vf))
                encode_ms.append((time.perf_counter() - t0) * 1000)
                n += 1
            except (OSError, av.error.FFmpegError) as exc:
                failed = f"recording stopped: {exc}"
                status.put(("failed", failed))
        free.put(item)
    if not failed:
        try:
            container.mux(stream.encode(None))
            container.close()
        except (OSError, av.error.FFmpegError) as exc:
            status.put(("failed", f"recording stopped: {exc}"))
    status.put(("done", {"frames": n, "encode_ms": encode_ms}))
    del ring
    shm.close()


class EncoderProcess:
    """`with EncoderProcess(path, fps, (w, h), block=...) as enc: enc.put(rgb)`."""

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int], crf: int = 23, preset: str = "ultrafast",
                 block: bool = True, slots: int = SLOTS):
        self.path = Path(path)
        self.fps = fps
        self.size = (size[0] - size[0] % 2, size[1] - size[1] % 2)
        self.crf, self.preset, self.block, self.slots = crf, preset, block, slots
        self.dropped = 0
        self.accepted = 0
        self.failed: str | None = None
        self.encode_ms: list[float] = []
        self.frames_encoded = 0
        self.proc = None

    def __enter__(self) -> EncoderProcess:
        ctx = mp.get_context("spawn")  # never fork a process that runs TensorFlow's threads
        w, h = self.size
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.shm = shared_memory.SharedMemory(create=True, size=self.slots * h * w * 3)
        self.ring = np.ndarray((self.slots, h, w, 3), np.uint8, buffer=self.shm.buf)
        self.work, self.free, self.status = ctx.Queue(), ctx.Queue(), ctx.Queue()
        for i in range(self.slots):
            self.free.put(i)
        self.proc = ctx.Process(target=_encode_loop, name="livescope-encoder", daemon=True,
                                args=(str(self.path), self.fps, self.size, self.crf, self.preset, self.shm.name,
                                      self.slots, self.work, self.free, self.status, os.getpid()))
        self.proc.start()
        return self

    def _await(self, wanted: str, timeout: float) -> bool:
        """Read status messages until `wanted` arrives, the process is gone or time is up."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                kind, value = self.status.get(timeout=0.2)
            except queue.Empty:
                if not self.proc.is_alive():
                    return False
                continue
            self._status(kind, value)
            if kind == wanted:
                return True
        return False

    def _poll(self) -> None:
        while True:
            try:
                kind, value = self.status.get_nowait()
            except queue.Empty:
                return
            self._status(kind, value)

    def _status(self, kind, value) -> None:
        if kind == "failed" and not self.failed:
            self.failed = value
            print(f"warning: {value} - the live overlay goes on", file=sys.stderr)
        elif kind == "done":
            self.frames_encoded = value["frames"]
            self.encode_ms = value["encode_ms"]

    def put(self, rgb: np.ndarray) -> bool:
        """Queue a frame; False when it was not taken (recording failed, or live and the ring is full)."""
        self._poll()
        if self.failed:
            return False
        slot = self._free_slot()
        if slot is None:
            return False
        if (rgb.shape[1], rgb.shape[0]) != self.size:  # the source changed resolution mid-stream
            import cv2

            rgb = cv2.resize(rgb, self.size, interpolation=cv2.INTER_AREA)
        np.copyto(self.ring[slot], rgb)
        self.work.put(slot)
        self.accepted += 1
        return True

    def _free_slot(self) -> int | None:
        """A free ring slot; None when live and the ring is full (a drop), or when the encoder
        process is gone (a replay would otherwise wait for it forever)."""
        if not self.block:
            try:
                return self.free.get_nowait()
            except queue.Empty:
                self.dropped += 1
                return None
        while True:
            try:
                return self.free.get(timeout=0.5)
            except queue.Empty:
                if not self.proc.is_alive():
                    self._status("failed", f"the recording process stopped (exit code {self.proc.exitcode}); "
                                           f"{self.path} holds the frames before it")
                    return None

    def close(self) -> None:
        if self.proc is None:
            return
        self.work.put(None)
        self._await("done", 60)
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
        self.proc = None
        del self.ring
        for q in (self.work, self.free, self.status):
            q.close()
        self.shm.close()
        self.shm.unlink()

    def __exit__(self, *exc) -> None:
        self.close()
