"""Helpers that write real video files with PyAV (several codecs and containers)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

FORMATS = {
    "h264_mp4": ("libx264", "mp4", "yuv420p", ".mp4"),
    "mjpeg_avi": ("mjpeg", "avi", "yuvj420p", ".avi"),
    "hevc_mp4": ("libx265", "mp4", "yuv420p", ".mp4"),
    "vp9_webm": ("libvpx-vp9", "webm", "yuv420p", ".webm"),
    "h264_ts": ("libx264", "mpegts", "yuv420p", ".ts"),
    "mpeg2_ts": ("mpeg2video", "mpegts", "yuv420p", ".ts"),
}


def make_frames(n: int = 20, w: int = 160, h: int = 120) -> list[np.ndarray]:
    out = []
    for i in range(n):
        f = np.zeros((h, w, 3), np.uint8)
        f[:, :, 0] = (np.arange(w) * 255 // w)[None]
        f[:, :, 1] = (i * 10) % 255
        f[h // 4:h // 2, (i * 5) % w:(i * 5) % w + 20, 2] = 255
        out.append(f)
    return out


def write_video(path: Path, kind: str, frames: list[np.ndarray], fps: int = 15, options=None,
                codec_options: dict | None = None) -> Path:
    codec, fmt, pix, _ = FORMATS[kind]
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w", format=fmt, options=options or {}) as c:
        s = c.add_stream(codec, rate=Fraction(fps))
        s.width, s.height, s.pix_fmt = w, h, pix
        if codec == "libx265":
            s.options = {"x265-params": "log-level=none"}
        if codec_options:
            s.options = codec_options
        for i, f in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(f, format="rgb24")
            vf.pts = i
            c.mux(s.encode(vf))
        c.mux(s.encode(None))
    return path
