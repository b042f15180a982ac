"""`livescope synth video`: an H.264 withdrawal with retroflexion episodes and per-frame truth.

Each segment's scene is rendered once, larger than the view, and the camera moves over it
(rotation, zoom, shift) frame by frame, so 1080p30 generates faster than real time.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from livescope.phantom.processor import (
    ProcessorStyle,
    apply_style,
    area_mask,
    clock_box,
    draw_osd,
    pip_box,
)
from livescope.phantom.scenes import GRADES, render_forward, render_other, render_retroflex

UNINFORMATIVE = ("blur", "water", "dark", "bubbles", "blood")


@dataclass
class Segment:
    kind: str  # forward | rectum | uninformative | uturn_in | retroflex | uturn_out
    start: int  # first frame
    end: int  # one past the last frame
    grade: str = ""  # for retroflex: normal | Rf0 | Rf1 | Rf2
    detail: str = ""


def plan_withdrawal(rng: np.random.Generator, seconds: float, fps: float, grades: list[str]) -> list[Segment]:
    """Forward colon and rectum views, uninformative stretches, and one U-turn episode per grade."""
    total = int(round(seconds * fps))
    e = len(grades)
    uturn_in, uturn_out = int(1.0 * fps), int(0.8 * fps)
    episode_len = int(np.clip(0.4 * seconds / max(e, 1), 3.0, 12.0) * fps)
    needed = e * (uturn_in + uturn_out + episode_len)
    if needed > total - int(2 * fps):
        raise ValueError(f"{seconds:.0f} s is too short for {e} retroflexion episodes; give more --seconds")
    gaps = np.full(e + 1, (total - needed) // (e + 1))
    gaps[-1] += (total - needed) - gaps.sum()
    segments: list[Segment] = []
    t = 0

    def fill_gap(length: int, last_before_uturn: bool) -> None:
        nonlocal t
        end = t + length
        while t < end:
            remaining = end - t
            if last_before_uturn and remaining <= int(3 * fps):
                segments.append(Segment("rectum", t, end))
                t = end
                break
            if rng.random() < 0.25 and remaining > int(2 * fps):
                n = int(rng.uniform(0.4, 1.0) * fps)
                segments.append(Segment("uninformative", t, t + n, detail=str(rng.choice(UNINFORMATIVE))))
                t += n
                continue
            n = min(remaining, int(rng.uniform(2.0, 4.0) * fps))
            if remaining - n < int(0.5 * fps):
                n = remaining
            segments.append(Segment("forward", t, t + n))
            t += n

    for i, grade in enumerate(grades):
        fill_gap(int(gaps[i]), last_before_uturn=True)
        segments.append(Segment("uturn_in", t, t + uturn_in))
        t += uturn_in
        segments.append(Segment("retroflex", t, t + episode_len, grade=grade))
        t += episode_len
        segments.append(Segment("uturn_out", t, t + uturn_out))
        t += uturn_out
    fill_gap(int(gaps[-1]), last_before_uturn=False)
    assert t == total, (t, total)
    return segments


def frame_truth(segments: list[Segment]) -> dict[str, list[str]]:
    gate, a, b = [], [], []
    for s in segments:
        n = s.end - s.start
        if s.kind == "retroflex":
            gate += ["retroflex"] * n
            a += ["normal" if s.grade == "normal" else "hemorrhoid"] * n
            b += ["" if s.grade == "normal" else s.grade] * n
        else:
            gate += ["other"] * n
            a += [""] * n
            b += [""] * n
    return {"gate": gate, "A": a, "B": b}


class _Camera:
    """A smooth random walk of rotation, zoom and shift (per segment)."""

    def __init__(self, rng: np.random.Generator, n: int, fps: float, amount: float, drift_zoom: float = 0.0):
        t = np.arange(n) / fps
        self.angle = np.zeros(n)
        self.zoom = np.ones(n) + drift_zoom * t / max(t[-1] if n > 1 else 1, 1e-6)
        self.dx = np.zeros(n)
        self.dy = np.zeros(n)
        for arr, amp, scale in [(self.angle, 12.0, 1.0), (self.dx, 0.05, 1.0), (self.dy, 0.05, 1.0), (self.zoom, 0.06, 1.0)]:
            for _ in range(3):
                f = rng.uniform(0.05, 0.5)
                arr += amount * amp * scale * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) / 2


class ProcedureRenderer:
    """Renders the frames of a planned withdrawal onto a processor canvas (uint8 RGB)."""

    def __init__(self, rng: np.random.Generator, width: int, height: int, fps: float):
        self.rng = rng
        self.fps = fps
        self.style = ProcessorStyle.random(rng, (height, width))
        x, y, aw, ah = self.style.area
        self.view = int(min(ah, 512))  # render resolution of the image area
        self.big = int(self.view * 1.5)
        self.area_mask = area_mask(self.style)[y:y + ah, x:x + aw]
        self.base = np.zeros((height, width, 3), np.uint8)
        draw_osd(self.base, self.style, 0)
        self._clock_second = 0
        self._picture_mask()
        self._noise = [rng.normal(0, 2.5, (self.view, self.view, 3)).astype(np.int16) for _ in range(4)]

    def _scene(self, kind: str, grade: str = "", detail: str = "") -> np.ndarray:
        rng, big = self.rng, self.big
        if kind == "retroflex":
            sc = render_retroflex(rng, big, grade)
        elif kind == "rectum":
            sc = render_forward(rng, big, rectum=True)
        elif kind == "uninformative":
            sc = render_other(rng, big, detail, forward_only=True)
        else:
            sc = render_forward(rng, big)
        return (apply_style(sc.rgb, self.style) * 255 + 0.5).astype(np.uint8)

    def _warp(self, img: np.ndarray, angle: float, zoom: float, dx: float, dy: float) -> np.ndarray:
        big, view = self.big, self.view
        m = cv2.getRotationMatrix2D((big / 2, big / 2), angle, zoom * view / big * 1.45)
        m[0, 2] += (view - big) / 2 + dx * view
        m[1, 2] += (view - big) / 2 + dy * view
        return cv2.warpAffine(img, m, (view, view), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)

    def _picture_mask(self) -> None:
        """Where the endoscope's picture shows: inside the area, not under the text or the inset."""
        x, y, aw, ah = self.style.area
        drawn = self.base[y:y + ah, x:x + aw].any(axis=2)
        box = pip_box(self.style)
        if box is not None:
            bx, by, bw, bh = box
            drawn[by - y:by - y + bh, bx - x:bx - x + bw] = True
        self.picture = np.where(drawn, 0, self.area_mask).astype(np.uint8)

    def _finish(self, view_img: np.ndarray, index: int) -> np.ndarray:
        x, y, aw, ah = self.style.area
        noisy = np.clip(view_img.astype(np.int16) + self._noise[index % 4], 0, 255).astype(np.uint8)
        content = cv2.resize(noisy, (aw, ah), interpolation=cv2.INTER_LINEAR)
        second = int(index / self.fps)
        if second != self._clock_second:
            bx, by, bw, bh = clock_box(self.style)
            self.base[by:by + bh, bx:bx + bw] = 0
            draw_osd(self.base, self.style, second)
            self._clock_second = second
            self._picture_mask()
        frame = self.base.copy()
        cv2.copyTo(content, self.picture, frame[y:y + ah, x:x + aw])
        return frame

    def frame_of(self, kind: str, grade: str = "", angle: float = 0.0, zoom: float = 1.0, index: int = 0) -> np.ndarray:
        """One processor frame of a fresh scene as a procedure video shows it (the camera at rest
        at `angle` and `zoom`): to compare what video frames and stills show of one class."""
        return self._finish(self._warp(self._scene(kind, grade), angle, zoom, 0.0, 0.0), index)

    def frames(self, segments: list[Segment]):
        """Yield (index, frame) for the whole plan."""
        scenes: dict[int, np.ndarray] = {}

        def scene_for(i: int) -> np.ndarray:
            if i not in scenes:
                s = segments[i]
                if s.kind in ("uturn_in", "uturn_out"):
                    raise AssertionError
                scenes[i] = self._scene(s.kind, s.grade, s.detail)
                for old in [k for k in scenes if k < i - 1]:
                    del scenes[old]
            return scenes[i]

        for si, seg in enumerate(segments):
            n = seg.end - seg.start
            if seg.kind in ("uturn_in", "uturn_out"):
                before = scene_for(si - 1)
                after = scene_for(si + 1)
                for k in range(n):
                    p = (k + 0.5) / n
                    src = before if p < 0.5 else after
                    ang = (p - 0.5) * 160
                    zoom = 1.0 + 1.6 * np.sin(np.pi * p)
                    img = self._warp(src, ang, zoom, 0.1 * np.sin(6 * p), 0.1 * np.cos(5 * p))
                    f = 1 + int(10 * np.sin(np.pi * p))  # motion blur while the tip bends
                    if f > 1:
                        small = cv2.resize(img, (max(4, self.view // f), max(4, self.view // (f * 2))))
                        img = cv2.resize(small, (self.view, self.view))
                    red = np.array([150, 25, 30], np.float32) * (0.6 + 0.4 * (1 - p))
                    a = float(np.sin(np.pi * p) ** 2 * 0.8)  # red-out: the tip against the wall
                    img = (img.astype(np.float32) * (1 - a) + red * a).astype(np.uint8)
                    yield seg.start + k, self._finish(img, seg.start + k)
                continue
            scene = scene_for(si)
            amount = {"retroflex": 0.8, "uninformative": 2.5}.get(seg.kind, 1.0)
            drift = -0.25 if seg.kind == "forward" else 0.0  # withdrawing: the view recedes
            cam = _Camera(self.rng, n, self.fps, amount, drift)
            for k in range(n):
                img = self._warp(scene, cam.angle[k], cam.zoom[k], cam.dx[k], cam.dy[k])
                if seg.kind == "uninformative" and seg.detail in ("blur", "water"):
                    img = cv2.blur(img, (9, 9))
                yield seg.start + k, self._finish(img, seg.start + k)


def parse_size(text: str) -> tuple[int, int]:
    from livescope.errors import LivescopeError

    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise LivescopeError(f"size {text!r} is not WxH", "write it like 1920x1080") from None
    if w < 64 or h < 64 or w % 2 or h % 2:
        raise LivescopeError(f"size {text!r} is not usable", "use even numbers of at least 64, like 1280x720")
    return w, h


def synth_video(out: str | Path, seconds: float = 60.0, fps: float = 30.0, size: str = "1920x1080",
                seed: int = 0, episodes: str = "auto", crf: int = 23, progress: bool = True,
                low_delay: bool = False) -> dict:
    """Write OUT.mp4 (H.264) and OUT.json (truth) and return the truth plus timing. `low_delay`
    encodes as a live stream would (x264 `zerolatency`: no B-frames, so no frame waits in the
    decoder for a later one; slices that decode in parallel)."""
    import av
    from tqdm import tqdm

    from livescope.errors import LivescopeError

    width, height = parse_size(size)
    rng = np.random.default_rng([seed, 7])
    if episodes == "auto":
        count = max(1, min(4, int(seconds // 25)))
        grades = [str(g) for g in rng.choice(GRADES, count)]
    else:
        grades = [g.strip() for g in episodes.split(",") if g.strip()]
        bad = [g for g in grades if g not in GRADES]
        if bad:
            raise LivescopeError(f"unknown episode grade(s) {bad}", f"use {', '.join(GRADES)}")
    try:
        segments = plan_withdrawal(rng, seconds, fps, grades)
    except ValueError as exc:
        raise LivescopeError(str(exc)) from None
    truth = frame_truth(segments)
    total = segments[-1].end
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    renderer = ProcedureRenderer(rng, width, height, fps)
    rate = Fraction(fps).limit_denominator(1001)
    t0 = time.perf_counter()
    # Render on a second thread (NumPy and OpenCV release the GIL) while x264 encodes here.
    frames: queue.Queue = queue.Queue(maxsize=8)

    def produce() -> None:
        try:
            for index, frame in renderer.frames(segments):
                frames.put((index, cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420)))
        finally:
            frames.put(None)

    producer = threading.Thread(target=produce, name="phantom-render", daemon=True)
    producer.start()
    with av.open(str(out), "w", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": str(crf), "preset": "superfast", **({"tune": "zerolatency"} if low_delay else {})}
        stream.codec_context.time_base = 1 / rate
        with tqdm(total=total, desc="phantom video", unit="frame", disable=not progress, mininterval=1.0) as bar:
            while (item := frames.get()) is not None:
                index, yuv = item
                vf = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
                vf.pts = index
                container.mux(stream.encode(vf))
                bar.update(1)
        container.mux(stream.encode(None))
    producer.join()
    elapsed = time.perf_counter() - t0
    episodes_out = []
    for s in segments:
        if s.kind == "retroflex":
            episodes_out.append({
                "start_frame": s.start, "end_frame": s.end - 1,
                "start_s": round(s.start / fps, 3), "end_s": round((s.end - 1) / fps, 3),
                "grade": s.grade, "A": "normal" if s.grade == "normal" else "hemorrhoid",
                "B": "" if s.grade == "normal" else s.grade,
            })
    doc = {
        "generator": "livescope synth video (synthetic phantom, not patient data)",
        "seed": seed, "fps": fps, "width": width, "height": height, "frames": total,
        "image_area": list(renderer.style.area), "episodes": episodes_out,
        "segments": [asdict(s) for s in segments], "truth": truth,
    }
    out.with_suffix(".json").write_text(json.dumps(doc))
    return {**doc, "seconds_to_generate": elapsed, "realtime_factor": (total / fps) / max(elapsed, 1e-9)}
