"""The overlay: small stateless annotators, each `annotate(scene, ...) -> scene`, and the
OverlayRenderer that runs them. Sizes scale with the frame, legible from 480p to 4K.

Live, the overlay is built once per AI result (`OverlayRenderer.layers`, on the inference
thread): the heatmap coloured and weighted for the endoscope area, the decision panel drawn
into a small sprite. The display thread only composites those layers and the status line onto
each frame (`compose`), which keeps the display path short.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from livescope import RESEARCH_NOTICE
from livescope.cam.heatmap import HeatLayer, heat_layer, legend_bar
from livescope.live.decision import Decision, describe, shows_finding
from livescope.live.smoothing import SmoothedState

# Colour per shown decision (RGB): normal green, Rf0 yellow, Rf1 orange, Rf2 red.
GRADE_COLOURS = {
    "normal": (60, 200, 90), "Rf0": (240, 210, 40), "Rf1": (255, 140, 20), "Rf2": (230, 30, 40),
    "hemorrhoid": (200, 120, 220), "uncertain": (200, 200, 200), "no_signal": (255, 70, 70),
    "out": (210, 210, 210), "entering": (170, 230, 170), "deciding": (220, 220, 220),
}
FONT = cv2.FONT_HERSHEY_SIMPLEX
CAM_MODES = ("findings", "all", "off")


def _scale(shape) -> float:
    return max(0.45, shape[0] / 900.0)


def _text(scene, text, org, scale, colour, thickness=None, outline=True, alpha=None):
    """Text with a dark outline; with `alpha` (HxW uint8), also mark it opaque there. The outline
    is the text's own mask grown by a few pixels: Hershey glyphs drawn thicker also advance
    further, so a thicker copy of the string would drift to the right of it."""
    th = thickness or max(1, int(round(2 * scale)))
    if not outline:
        cv2.putText(scene, text, org, FONT, scale, colour, th, cv2.LINE_AA)
        if alpha is not None:
            cv2.putText(alpha, text, org, FONT, scale, 255, th, cv2.LINE_AA)
        return
    (tw, tht), base = cv2.getTextSize(text, FONT, scale, th)
    grow = max(1, int(round(1.2 * scale)))
    h, w = scene.shape[:2]
    x0, y0 = max(0, org[0] - grow - 2), max(0, org[1] - tht - grow - 2)
    x1, y1 = min(w, org[0] + tw + grow + 2), min(h, org[1] + base + grow + 2)
    if x1 <= x0 or y1 <= y0:
        return
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.putText(mask, text, (org[0] - x0, org[1] - y0), FONT, scale, 255, th, cv2.LINE_AA)
    edge = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
    roi = scene[y0:y1, x0:x1]
    roi[edge > 0] = 0
    a = (mask.astype(np.float32) / 255.0)[..., None]
    roi[:] = (roi * (1 - a) + np.array(colour, np.float32) * a).astype(np.uint8)
    if alpha is not None:
        np.maximum(alpha[y0:y1, x0:x1], edge, out=alpha[y0:y1, x0:x1])


def _shade(scene, x0, y0, x1, y1, strength: float = 0.55):
    h, w = scene.shape[:2]
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 > x0 and y1 > y0:
        roi = scene[y0:y1, x0:x1]
        scene[y0:y1, x0:x1] = (roi * (1 - strength)).astype(np.uint8)


@dataclass
class Sprite:
    """A small picture composited at (x, y): rgb, and how much of it covers the scene."""
    x: int
    y: int
    rgb: np.ndarray
    alpha: np.ndarray  # float32 HxW

    def annotate(self, scene: np.ndarray) -> np.ndarray:
        h, w = self.rgb.shape[:2]
        H, W = scene.shape[:2]
        x1, y1 = min(W, self.x + w), min(H, self.y + h)
        if x1 <= self.x or y1 <= self.y:
            return scene
        roi = scene[self.y:y1, self.x:x1]
        a = self.alpha[: y1 - self.y, : x1 - self.x]
        scene[self.y:y1, self.x:x1] = cv2.blendLinear(roi, self.rgb[: y1 - self.y, : x1 - self.x], 1.0 - a, a)
        return scene


class HeatmapAnnotator:
    """Blends a prepared heatmap into the endoscope area, inside the area's own outline."""

    def annotate(self, scene: np.ndarray, layer: HeatLayer | None, box) -> np.ndarray:
        if layer is None or box is None:
            return scene
        x, y, w, h = box
        if scene.shape[0] < y + h or scene.shape[1] < x + w:
            return scene  # the frame size changed since the layer was made
        scene[y:y + h, x:x + w] = layer.apply(scene[y:y + h, x:x + w])
        return scene


class DecisionPanelAnnotator:
    """Gate state, P(hemorrhoid) with a bar, the colour-coded Rf grade with its probability, or
    'uncertain'; a legend under it says what the heatmap shows. Drawn into a sprite."""

    def sprite(self, shape, decision: Decision, p_hem: float | None, heat_label: str | None) -> Sprite:
        s = _scale(shape)
        pad, lh = int(12 * s), int(38 * s)
        width, rows = int(440 * s), 4 + (1 if heat_label else 0)
        h = lh * rows + pad
        rgb = np.zeros((h, width, 3), np.uint8)
        alpha = np.full((h, width), 140, np.uint8)  # a dark box (55 %) under the text
        x0, y = pad, int(lh * 0.8)
        colour = GRADE_COLOURS.get(decision.key, (255, 255, 255))
        if decision.key in ("out", "entering", "no_signal"):
            _text(rgb, decision.text, (x0, y), 0.75 * s, colour, alpha=alpha)
            _text(rgb, decision.detail, (x0, y + lh), 0.6 * s, (190, 190, 190), alpha=alpha)
            return Sprite(pad // 2, pad // 2, rgb, alpha.astype(np.float32) / 255)
        _text(rgb, "RETROFLEX VIEW", (x0, y), 0.8 * s, (120, 230, 120), alpha=alpha)
        y += lh
        if p_hem is not None:
            bar_w, bh = int(200 * s), int(22 * s)
            by = y - bh
            cv2.rectangle(rgb, (x0, by), (x0 + bar_w, by + bh), (90, 90, 90), -1)
            cv2.rectangle(rgb, (x0, by), (x0 + int(bar_w * p_hem), by + bh), (200, 120, 220), -1)
            alpha[by:by + bh + 1, x0:x0 + bar_w + 1] = 255
            _text(rgb, f"P(hemorrhoid) {p_hem * 100:.0f}%", (x0 + bar_w + int(8 * s), y - int(3 * s)), 0.6 * s,
                  (240, 240, 240), alpha=alpha)
        y += lh
        _text(rgb, decision.text, (x0, y + int(6 * s)), 1.0 * s, colour, max(2, int(3 * s)), alpha=alpha)
        if heat_label:
            y += lh
            bw, bh = int(90 * s), int(12 * s)
            rgb[y - bh:y, x0:x0 + bw] = legend_bar(bw, bh)
            alpha[y - bh:y, x0:x0 + bw] = 255
            _text(rgb, heat_label, (x0 + bw + int(8 * s), y), 0.5 * s, (230, 230, 230), alpha=alpha)
        return Sprite(pad // 2, pad // 2, rgb, alpha.astype(np.float32) / 255)


@dataclass
class Status:
    video_fps: float | None = None  # frames shown a second (None until measured)
    ai_hz: float | None = None  # AI results a second (None until measured)
    ai_latency_ms: float = 0.0
    dropped: int = 0
    model: str = ""
    recording: bool = False
    cam_on: bool = True
    live: bool = True  # replay shows processing speed, not a display rate


class StatusAnnotator:
    """A small status line: display or processing rate, AI rate and latency, dropped frames,
    model, recording. A rate shows only once it has been measured over enough frames."""

    def text(self, status: Status) -> str:
        def rate(v, unit):
            return "--" if v is None else f"{v:4.1f} {unit}"

        what = "display" if status.live else "processing (replay)"
        return (f"{what} {rate(status.video_fps, 'fps')} | AI {rate(status.ai_hz, 'Hz')} {status.ai_latency_ms:3.0f} ms"
                f" | dropped {status.dropped} | {status.model}" + (" | REC" if status.recording else "")
                + ("" if status.cam_on else " | heatmap off"))

    def annotate(self, scene: np.ndarray, status: Status) -> np.ndarray:
        s = _scale(scene.shape)
        h = scene.shape[0]
        text = self.text(status)
        y = h - int(14 * s)
        (tw, _), _ = cv2.getTextSize(text, FONT, 0.5 * s, max(1, int(s)))
        _shade(scene, 0, y - int(22 * s), tw + int(20 * s), h)
        _text(scene, text, (int(10 * s), y), 0.5 * s, (230, 230, 230), max(1, int(s)), outline=False)
        return scene


class NoticeAnnotator:
    def annotate(self, scene: np.ndarray) -> np.ndarray:
        s = _scale(scene.shape)
        w = scene.shape[1]
        (tw, _), _ = cv2.getTextSize(RESEARCH_NOTICE, FONT, 0.5 * s, max(1, int(s)))
        _text(scene, RESEARCH_NOTICE, (w - tw - int(12 * s), int(26 * s)), 0.5 * s, (255, 200, 90), max(1, int(s)))
        return scene


@dataclass
class OverlayLayers:
    """The parts of the overlay that change only with a new result."""
    box: tuple | None
    heat: HeatLayer | None
    panel: Sprite


class OverlayRenderer:
    """Builds the overlay's layers once per result and composites them onto every frame."""

    def __init__(self, labels: dict[str, list[str]], positive: dict[str, str], thresholds: dict | None = None,
                 cam_mode: str = "findings"):
        if cam_mode not in CAM_MODES:
            raise ValueError(f"cam mode must be one of {CAM_MODES}")
        self.labels, self.positive, self.thresholds = labels, positive, thresholds or {}
        self.cam_mode = cam_mode
        self.heatmap = HeatmapAnnotator()
        self.panel = DecisionPanelAnnotator()
        self.status = StatusAnnotator()
        self.notice = NoticeAnnotator()

    def heat_label(self, decision: Decision, cam_task: str | None) -> str | None:
        """What the heatmap explains, for the legend; None when it is not shown."""
        if self.cam_mode == "off" or cam_task is None:
            return None
        if self.cam_mode == "findings":
            if not shows_finding(decision) or cam_task == "gate":
                return None
            return f"heatmap: where the model sees {decision.key if decision.key != 'hemorrhoid' else 'the hemorrhoid'}"
        return {"gate": "heatmap: the retroflex view", "A": "heatmap: normal vs hemorrhoid",
                "B": "heatmap: the LDRf grade"}.get(cam_task, "heatmap")

    def layers(self, shape, state: SmoothedState | None, cam: np.ndarray | None, cam_task: str | None, area,
               cam_on: bool = True, no_signal: bool = False) -> OverlayLayers:
        decision = describe(state, self.labels, self.positive, self.thresholds, no_signal)
        p_hem = None
        if state is not None and state.gate_in and state.p_a is not None and "A" in self.labels:
            p_hem = float(state.p_a[self.labels["A"].index(self.positive["A"])])
        label = self.heat_label(decision, cam_task) if cam_on and cam is not None and area is not None else None
        heat = None
        if label is not None and state is not None and state.gate_in and not no_signal:
            x, y, w, h = area.box
            if w >= 4 and h >= 4:
                heat = heat_layer(cam, w, h, clip=area.crop_mask())
        return OverlayLayers(None if area is None else area.box, heat, self.panel.sprite(shape, decision, p_hem, label))

    def compose(self, scene: np.ndarray, layers: OverlayLayers, status: Status) -> np.ndarray:
        scene = self.heatmap.annotate(scene, layers.heat, layers.box)
        scene = layers.panel.annotate(scene)
        scene = self.status.annotate(scene, status)
        return self.notice.annotate(scene)

    def render(self, scene: np.ndarray, state: SmoothedState | None, cam: np.ndarray | None, area, status: Status,
               cam_task: str | None = "B", cam_on: bool = True, no_signal: bool = False) -> np.ndarray:
        """Layers and compositing in one go (stills, the demo's live tab)."""
        return self.compose(scene, self.layers(scene.shape, state, cam, cam_task, area, cam_on, no_signal), status)
