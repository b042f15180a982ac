"""The overlay drawn on every frame: small stateless annotators, each `annotate(scene, ...) -> scene`,
and the OverlayRenderer that runs them. Sizes scale with the frame, legible from 480p to 4K."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from livescope import RESEARCH_NOTICE
from livescope.live.smoothing import UNCERTAIN, SmoothedState

# Colour per shown decision (RGB): normal green, Rf0 yellow, Rf1 orange, Rf2 red.
GRADE_COLOURS = {
    "normal": (60, 200, 90), "Rf0": (240, 210, 40), "Rf1": (255, 140, 20), "Rf2": (230, 30, 40),
    "hemorrhoid": (200, 120, 220), UNCERTAIN: (200, 200, 200),
}
FONT = cv2.FONT_HERSHEY_SIMPLEX


def _scale(scene: np.ndarray) -> float:
    return max(0.45, scene.shape[0] / 900.0)


def _text(scene, text, org, scale, colour, thickness=None, outline=True):
    th = thickness or max(1, int(round(2 * scale)))
    if outline:
        cv2.putText(scene, text, org, FONT, scale, (0, 0, 0), th + max(2, int(2 * scale)), cv2.LINE_AA)
    cv2.putText(scene, text, org, FONT, scale, colour, th, cv2.LINE_AA)


def _shade(scene, x0, y0, x1, y1, strength: float = 0.55):
    h, w = scene.shape[:2]
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 > x0 and y1 > y0:
        roi = scene[y0:y1, x0:x1]
        scene[y0:y1, x0:x1] = (roi * (1 - strength)).astype(np.uint8)


class HeatmapAnnotator:
    """Blends a Grad-CAM map into the endoscope area only (never over the border or text)."""

    def __init__(self, alpha: float = 0.5, floor: float = 0.15):
        self.alpha, self.floor = alpha, floor
        self._key = None
        self._cache = None

    def annotate(self, scene: np.ndarray, cam: np.ndarray | None, box) -> np.ndarray:
        if cam is None or box is None:
            return scene
        x, y, w, h = box
        if w < 4 or h < 4:
            return scene
        key = (id(cam), w, h)
        if key != self._key:  # colourise once per result, not once per frame
            up = cv2.resize(cam.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
            heat = cv2.cvtColor(cv2.applyColorMap((np.clip(up, 0, 1) * 255).astype(np.uint8), cv2.COLORMAP_JET),
                                cv2.COLOR_BGR2RGB)
            wt = np.clip((up - self.floor) / (1 - self.floor), 0, 1).astype(np.float32) * self.alpha
            self._cache = (heat, wt, (1.0 - wt).astype(np.float32))
            self._key = key
        heat, wt, wi = self._cache
        roi = scene[y:y + h, x:x + w]
        scene[y:y + h, x:x + w] = cv2.blendLinear(roi, heat, wi, wt)
        return scene


class DecisionPanelAnnotator:
    """Gate state, task A with a probability bar, the colour-coded Rf grade, or 'uncertain'."""

    def annotate(self, scene: np.ndarray, state: SmoothedState | None, a_labels: list[str] | None,
                 positive_a: str = "hemorrhoid", no_signal: bool = False) -> np.ndarray:
        s = _scale(scene)
        pad = int(12 * s)
        lh = int(38 * s)
        x0, y0 = pad, pad
        width = int(420 * s)
        _shade(scene, x0 - pad // 2, y0 - pad // 2, x0 + width, y0 + lh * 4 + pad)
        y = y0 + int(lh * 0.8)
        if no_signal:
            _text(scene, "NO SIGNAL - waiting for video", (x0, y), 0.9 * s, (255, 70, 70))
            return scene
        if state is None or not state.gate_in:
            p = 0.0 if state is None else state.p_gate
            _text(scene, "searching: no retroflex view", (x0, y), 0.75 * s, (210, 210, 210))
            _text(scene, f"gate {p:.2f}", (x0, y + lh), 0.6 * s, (170, 170, 170))
            return scene
        _text(scene, "RETROFLEX VIEW", (x0, y), 0.8 * s, (120, 230, 120))
        y += lh
        if state.p_a is not None and a_labels:
            p_pos = float(state.p_a[a_labels.index(positive_a)])
            bar_w = int(260 * s)
            bx, by, bh = x0, y - int(22 * s), int(22 * s)
            cv2.rectangle(scene, (bx, by), (bx + bar_w, by + bh), (90, 90, 90), -1)
            cv2.rectangle(scene, (bx, by), (bx + int(bar_w * p_pos), by + bh), (200, 120, 220), -1)
            _text(scene, f"hemorrhoid {p_pos * 100:3.0f}%", (bx + bar_w + int(8 * s), y - int(3 * s)), 0.6 * s, (240, 240, 240))
        y += lh
        grade = state.grade
        if grade is None:
            _text(scene, "deciding...", (x0, y + int(6 * s)), 0.9 * s, (220, 220, 220))
        else:
            label = {"normal": "NORMAL", "hemorrhoid": "HEMORRHOID (grade uncertain)", UNCERTAIN: "UNCERTAIN"}.get(
                grade, f"HEMORRHOID {grade}")
            colour = GRADE_COLOURS.get(grade, (255, 255, 255))
            conf = "" if state.confidence is None or grade == UNCERTAIN else f"  {state.confidence * 100:.0f}%"
            _text(scene, label + conf, (x0, y + int(6 * s)), 1.0 * s, colour, max(2, int(3 * s)))
        return scene


@dataclass
class Status:
    video_fps: float = 0.0
    ai_hz: float = 0.0
    ai_latency_ms: float = 0.0
    dropped: int = 0
    model: str = ""
    recording: bool = False
    cam_on: bool = True


class StatusAnnotator:
    """A small status line: video fps, AI rate and latency, dropped frames, model, recording."""

    def annotate(self, scene: np.ndarray, status: Status) -> np.ndarray:
        s = _scale(scene)
        h = scene.shape[0]
        text = (f"video {status.video_fps:4.1f} fps | AI {status.ai_hz:4.1f} Hz {status.ai_latency_ms:4.0f} ms | "
                f"dropped {status.dropped} | {status.model}" + (" | REC" if status.recording else "")
                + ("" if status.cam_on else " | heatmap off"))
        y = h - int(14 * s)
        _shade(scene, 0, y - int(22 * s), int(len(text) * 11 * s) + int(20 * s), h)
        _text(scene, text, (int(10 * s), y), 0.5 * s, (230, 230, 230), max(1, int(s)), outline=False)
        return scene


class NoticeAnnotator:
    def annotate(self, scene: np.ndarray) -> np.ndarray:
        s = _scale(scene)
        w = scene.shape[1]
        (tw, _), _ = cv2.getTextSize(RESEARCH_NOTICE, FONT, 0.5 * s, max(1, int(s)))
        _text(scene, RESEARCH_NOTICE, (w - tw - int(12 * s), int(26 * s)), 0.5 * s, (255, 200, 90), max(1, int(s)))
        return scene


class OverlayRenderer:
    """Draws the whole overlay on a frame (in place) from the newest state and result."""

    def __init__(self, a_labels: list[str] | None, positive_a: str = "hemorrhoid"):
        self.heatmap = HeatmapAnnotator()
        self.panel = DecisionPanelAnnotator()
        self.status = StatusAnnotator()
        self.notice = NoticeAnnotator()
        self.a_labels = a_labels
        self.positive_a = positive_a

    def render(self, scene: np.ndarray, state: SmoothedState | None, cam: np.ndarray | None, box,
               status: Status, cam_on: bool = True, no_signal: bool = False) -> np.ndarray:
        if cam_on and state is not None and state.gate_in and not no_signal:
            scene = self.heatmap.annotate(scene, cam, box)
        scene = self.panel.annotate(scene, state, self.a_labels, self.positive_a, no_signal)
        scene = self.status.annotate(scene, status)
        return self.notice.annotate(scene)
