"""A real loopback network stream for tests: PyAV serves a video over udp://127.0.0.1 (MPEG-TS)."""

from __future__ import annotations

import socket
import threading
import time
from fractions import Fraction

import av


def free_udp_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class UdpServer:
    """Re-encodes a file to H.264 in MPEG-TS and sends it to 127.0.0.1:port at its own pace."""

    def __init__(self, video, port: int, seconds: float, fps: float = 15.0):
        self.video, self.port, self.seconds, self.fps = str(video), port, seconds, fps
        self.sent = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.stop = threading.Event()

    def start(self) -> UdpServer:
        self.thread.start()
        return self

    def _run(self) -> None:
        url = f"udp://127.0.0.1:{self.port}?pkt_size=1316"
        frames = []
        with av.open(self.video) as src:
            for f in src.decode(video=0):
                frames.append(f.to_ndarray(format="rgb24"))
        h, w = frames[0].shape[:2]
        with av.open(url, "w", format="mpegts") as out:
            s = out.add_stream("libx264", rate=Fraction(self.fps).limit_denominator(1001))
            s.width, s.height, s.pix_fmt = w, h, "yuv420p"
            s.options = {"preset": "ultrafast", "tune": "zerolatency", "g": str(int(self.fps))}
            t0 = time.monotonic()
            i = 0
            while not self.stop.is_set() and time.monotonic() - t0 < self.seconds:
                vf = av.VideoFrame.from_ndarray(frames[i % len(frames)], format="rgb24")
                vf.pts = i
                out.mux(s.encode(vf))
                self.sent += 1
                i += 1
                delay = t0 + i / self.fps - time.monotonic()
                if delay > 0:
                    time.sleep(delay)

    def join(self) -> None:
        self.thread.join(timeout=self.seconds + 10)
