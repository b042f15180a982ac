"""Video sources: files (PyAV), capture devices (OpenCV), network streams (PyAV), image folders.

Every frame carries its index and a monotonic arrival time. Files give every frame (paced at
their own fps with `realtime`); live sources are read on a thread and the consumer takes
what it can, with drops counted by the pipeline.
"""

from __future__ import annotations

import os
import platform
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from livescope.data.images import IMAGE_SUFFIXES, ImageReadError, read_image
from livescope.errors import LivescopeError

DECODE_THREADS = int(os.environ.get("LIVESCOPE_DECODE_THREADS", "0"))  # 0: FFmpeg decides


@dataclass
class Frame:
    index: int  # -1 for a "no signal" frame the display makes itself
    arrival: float  # time.monotonic() when the frame was read from the source, before decoding
    pts: float  # seconds from the start of the source
    image: np.ndarray  # HxWx3 uint8 RGB
    shown: float | None = None  # time.monotonic() when the display showed it (set by the pipeline)


class SourceLost(Exception):
    """A live source stopped delivering (cable pulled, server gone)."""


class Source:
    live: bool = False
    fps: float = 30.0
    name: str = ""

    def frames(self) -> Iterator[Frame]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    stats: dict

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class PacketClock:
    """When each packet was read, so that a frame carries the read time of its own packet: a
    decoder that reorders (B-frames) or threads over frames gives a frame out several packets
    after its own was read, and that wait is part of what the viewer sees."""

    KEEP = 64  # packets whose frame never came (decode errors) are forgotten beyond this

    def __init__(self) -> None:
        self._times: dict[int, float] = {}

    def read(self, pts: int | None, at: float) -> None:
        if pts is None:
            return
        self._times[pts] = at
        if len(self._times) > self.KEEP:
            del self._times[min(self._times)]

    def arrival(self, pts: int | None, fallback: float) -> float:
        return self._times.pop(pts, fallback) if pts is not None else fallback


class FileSource(Source):
    """A recorded procedure, any container and codec FFmpeg reads (threaded decode).

    Corrupted packets are skipped and counted; a truncated file ends where its data ends, and
    `ended_early()` says at what time when the file promised more."""

    def __init__(self, path: str | Path, realtime: bool = False):
        import av

        self.path = Path(path)
        self.name = str(path)
        self.realtime = realtime
        self.live = realtime
        self.stats = {"decode_errors": 0, "frames": 0}
        self.decode_ms: list[float] = []  # decode and conversion only, without pacing
        if not self.path.exists():
            raise LivescopeError(f"video {self.path} does not exist", "check the path")
        if self.path.is_dir():
            raise LivescopeError(f"{self.path} is a folder", "give a video file, or the folder as an image source")
        if self.path.stat().st_size == 0:
            raise LivescopeError(f"video {self.path} is empty (0 bytes)", "the recording is missing; use another file")
        try:
            self.container = av.open(str(self.path))
        except av.error.FFmpegError as exc:
            raise LivescopeError(f"{self.path} is not a readable video ({_av_reason(exc)})",
                                 "give a video file FFmpeg can read (MP4, AVI, MKV, WebM, TS)") from None
        if not self.container.streams.video:
            self.container.close()
            raise LivescopeError(f"{self.path} has no video stream (audio only?)", "give a file with video")
        self.stream = self.container.streams.video[0]
        # Frame threading holds (threads - 1) frames back inside the decoder: throughput for a
        # replay, pure latency for a live feed, which decodes on slices instead.
        self.stream.thread_type = "SLICE" if realtime else "AUTO"
        if DECODE_THREADS:  # batch workers decode on one thread each, not all of them on every core
            self.stream.codec_context.thread_count = DECODE_THREADS
        rate = self.stream.average_rate or self.stream.guessed_rate or 30
        self.fps = float(rate) if float(rate) > 0 else 30.0
        self.width = self.stream.codec_context.width
        self.height = self.stream.codec_context.height
        self.total = self.stream.frames or None
        duration = self.stream.duration * self.stream.time_base if self.stream.duration and self.stream.time_base else None
        if duration is None and self.container.duration:
            duration = self.container.duration / 1_000_000  # av.time_base
        self.duration_s = float(duration) if duration else None
        self.last_pts: float | None = None
        self.finished = False  # True once the data ran out (as opposed to the caller stopping)

    def frames(self) -> Iterator[Frame]:
        import av

        t_start = time.monotonic()
        index = n_read = 0
        tb = self.stream.time_base
        packets = self.container.demux(self.stream)
        # Live: each frame carries its own packet's read time (see PacketClock); a replay keeps
        # frames in display order with the read that released them.
        read_times = PacketClock() if self.realtime else None
        while True:
            if self.realtime:  # pace as a live feed: the next packet is read at its own time
                delay = t_start + n_read / self.fps - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            read_at = time.monotonic()
            try:
                packet = next(packets)
            except StopIteration:
                break
            except av.error.FFmpegError:
                self.stats["decode_errors"] += 1
                break  # the container itself is cut: keep what was decoded
            if packet.size:
                n_read += 1
            if read_times is not None:
                read_times.read(packet.pts, read_at)
            t_dec = time.perf_counter()
            try:
                decoded = packet.decode()
            except av.error.FFmpegError:
                self.stats["decode_errors"] += 1
                continue
            for vf in decoded:
                pts = float(vf.pts * tb) if vf.pts is not None and tb else index / self.fps
                img = vf.to_ndarray(format="rgb24")
                self.decode_ms.append((time.perf_counter() - t_dec) * 1000)
                self.last_pts = pts
                arrival = read_times.arrival(vf.pts, read_at) if read_times is not None else read_at
                yield Frame(index, arrival, pts, img)
                index += 1
                self.stats["frames"] = index
        self.finished = True

    def ended_early(self) -> str | None:
        """A warning when the data ran out well before the file's own length (a cut recording)."""
        if not self.finished or self.duration_s is None:
            return None
        seen = (self.last_pts or 0.0) + 1.0 / self.fps
        if seen < self.duration_s - max(1.0, 2.0 / self.fps):
            return (f"{self.path.name} ended early, at {seen:.1f} s of its {self.duration_s:.1f} s "
                    f"({self.stats['frames']} frames): the file may be truncated")
        return None

    def close(self) -> None:
        try:
            self.container.close()
        except Exception:  # noqa: BLE001 - closing a broken container must not mask the real error
            pass


def _av_reason(exc: Exception) -> str:
    text = str(exc)
    m = re.search(r"\] (.*?)(?::|$)", text)
    return (m.group(1) if m else text)[:120]


class StreamSource(Source):
    """A network stream (rtsp://, udp://, http://, ...) read by PyAV on a thread.

    Raises SourceLost when no frame arrives for `timeout_s` seconds."""

    live = True

    def __init__(self, url: str, timeout_s: float = 5.0):
        self.url = url
        self.name = url
        self.timeout_s = timeout_s
        self.stats = {"decode_errors": 0, "frames": 0}
        self.fps = 30.0
        self.container = None

    def open(self):
        import av

        options = {"fflags": "nobuffer", "flags": "low_delay", "analyzeduration": "1000000",
                   "probesize": "500000"}
        if self.url.startswith("udp://"):
            options["timeout"] = str(int(self.timeout_s * 1e6))  # microseconds
            options["overrun_nonfatal"] = "1"
            options["fifo_size"] = "1000000"
        elif self.url.startswith("rtsp://"):
            options["rtsp_transport"] = "tcp"
            options["timeout"] = str(int(self.timeout_s * 1e6))
        else:
            options["rw_timeout"] = str(int(self.timeout_s * 1e6))
        try:
            self.container = av.open(self.url, options=options, timeout=self.timeout_s)
        except (av.error.FFmpegError, OSError) as exc:
            raise SourceLost(f"cannot open {self.url}: {_av_reason(exc)}") from None
        if not self.container.streams.video:
            raise SourceLost(f"{self.url} carries no video")
        stream = self.container.streams.video[0]
        stream.thread_type = "SLICE"  # frame threading would hold frames back (see FileSource)
        rate = stream.average_rate or stream.guessed_rate
        if rate and float(rate) > 0:
            self.fps = float(rate)
        return stream

    def frames(self) -> Iterator[Frame]:
        import av

        stream = self.open()
        index = self.stats["frames"]
        t0 = time.monotonic()
        read_times = PacketClock()
        try:
            for packet in self.container.demux(stream):
                read_at = time.monotonic()
                read_times.read(packet.pts, read_at)
                try:
                    for vf in packet.decode():
                        img = vf.to_ndarray(format="rgb24")
                        yield Frame(index, read_times.arrival(vf.pts, read_at), time.monotonic() - t0, img)
                        index += 1
                        self.stats["frames"] = index
                except av.error.FFmpegError:
                    self.stats["decode_errors"] += 1
        except (av.error.FFmpegError, OSError) as exc:
            raise SourceLost(f"{self.url}: {_av_reason(exc)}") from None
        finally:
            self.close()
        raise SourceLost(f"{self.url}: the stream ended")

    def close(self) -> None:
        if self.container is not None:
            try:
                self.container.close()
            except Exception:  # noqa: BLE001
                pass
            self.container = None


class DeviceSource(Source):
    """A capture card or UVC camera through OpenCV (V4L2, AVFoundation, DirectShow/MSMF).

    The reader runs on a thread and keeps only the newest frame (a driver may buffer)."""

    live = True

    def __init__(self, device: str, size: tuple[int, int] | None = None, fps: float | None = None,
                 pixel_format: str | None = None):
        import cv2

        self.name = str(device)
        self.stats = {"decode_errors": 0, "frames": 0}
        system = platform.system()
        target: int | str = int(device) if str(device).isdigit() else device
        if system == "Linux":
            if isinstance(target, int):
                target = f"/dev/video{target}"
            if not Path(target).exists():
                raise LivescopeError(f"capture device {target} does not exist",
                                     "check the cable and `livescope doctor` for devices that open")
            backend = cv2.CAP_V4L2
        elif system == "Darwin":
            backend = cv2.CAP_AVFOUNDATION
        else:
            backend = cv2.CAP_DSHOW
        self.cap = cv2.VideoCapture(target, backend)
        if not self.cap.isOpened():
            raise LivescopeError(f"capture device {device} cannot be opened (busy or no permission)",
                                 "close other programs using it, check permissions, or try another index")
        if pixel_format:
            self.cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*{"mjpeg": "MJPG", "yuyv422": "YUYV"}.get(
                pixel_format.lower(), pixel_format.upper()[:4].ljust(4))))
        if size:
            self.cap.set(cv2.CAP_PROP_FRAME_WIDTH, size[0])
            self.cap.set(cv2.CAP_PROP_FRAME_HEIGHT, size[1])
        if fps:
            self.cap.set(cv2.CAP_PROP_FPS, fps)
        self.cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # not every backend honours it; the thread below does
        self.fps = float(self.cap.get(cv2.CAP_PROP_FPS) or 30.0) or 30.0
        self._lock = threading.Condition()
        self._latest: Frame | None = None
        self._stop = False
        self._thread = threading.Thread(target=self._read, name="device-reader", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        import cv2

        index = 0
        t0 = time.monotonic()
        while not self._stop:
            # grab() returns when the driver hands over a frame; retrieve() decodes it (MJPEG).
            ok = self.cap.grab()
            read_at = time.monotonic()
            if ok:
                ok, bgr = self.cap.retrieve()
            if not ok:
                with self._lock:
                    self._latest = None
                    self._stop = True
                    self._lock.notify_all()
                return
            frame = Frame(index, read_at, read_at - t0, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            with self._lock:
                if self._latest is not None:
                    self.stats["dropped"] = self.stats.get("dropped", 0) + 1
                self._latest = frame
                self._lock.notify_all()
            index += 1
            self.stats["frames"] = index

    def frames(self) -> Iterator[Frame]:
        while True:
            with self._lock:
                while self._latest is None and not self._stop:
                    if not self._lock.wait(timeout=2.0):
                        raise SourceLost(f"device {self.name}: no frame for 2 s")
                if self._latest is None:
                    raise SourceLost(f"device {self.name} stopped delivering")
                frame, self._latest = self._latest, None
            yield frame

    def close(self) -> None:
        self._stop = True
        self.cap.release()


class FolderSource(Source):
    """A folder of still images, in name order, each one frame."""

    def __init__(self, folder: str | Path, fps: float = 2.0):
        self.folder = Path(folder)
        self.name = str(folder)
        self.fps = fps
        self.files = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        self.stats = {"decode_errors": 0, "frames": 0, "skipped": []}
        if not self.files:
            raise LivescopeError(f"folder {self.folder} has no images", "put JPEG/PNG/BMP/TIFF files in it")

    def frames(self) -> Iterator[Frame]:
        index = 0
        for p in self.files:
            try:
                img = read_image(p)
            except ImageReadError as exc:
                self.stats["decode_errors"] += 1
                self.stats["skipped"].append(str(exc))
                continue
            yield Frame(index, time.monotonic(), index / self.fps, img)
            index += 1
            self.stats["frames"] = index


def open_source(spec: str, realtime: bool = False, device_size: str | None = None,
                device_fps: float | None = None, device_format: str | None = None) -> Source:
    """A SOURCE argument -> the right Source."""
    if re.match(r"^[a-z][a-z0-9+.-]*://", spec) and not spec.startswith("file://"):
        return StreamSource(spec)
    if spec.isdigit() or spec.startswith("/dev/video") or spec.lower().startswith(("video=", "avfoundation:")):
        size = None
        if device_size:
            w, h = device_size.lower().split("x")
            size = (int(w), int(h))
        return DeviceSource(spec, size, device_fps, device_format)
    path = Path(spec.removeprefix("file://"))
    if path.is_dir():
        return FolderSource(path)
    if not path.exists():
        raise LivescopeError(f"source {spec} does not exist",
                             "give a video file, an image folder, a device index like 0, or a stream URL")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        raise LivescopeError(f"{spec} is a still image", "use `livescope explain IMAGE`, or give its folder")
    return FileSource(path, realtime=realtime)
