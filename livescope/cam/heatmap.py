"""Heatmap colouring and blending for every caller (live overlay, report, explain, demo), kept
apart from the CAM maths. One colour map and one floor for all of them.

The colour map is viridis: its hot end is yellow, which stays readable on red mucosa and on
red colour signs; jet's hot end is red and vanishes there (a test measures both)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

COLORMAP = cv2.COLORMAP_VIRIDIS
FLOOR = 0.15  # map values below this stay clear: weak evidence does not tint the picture
ALPHA = 0.5


def colourise(cam01: np.ndarray, size: tuple[int, int], colormap: int = COLORMAP) -> np.ndarray:
    """A [0, 1] map -> RGB uint8 heatmap of size (w, h)."""
    up = cv2.resize(cam01.astype(np.float32), size, interpolation=cv2.INTER_LINEAR)
    heat = cv2.applyColorMap(np.clip(up * 255, 0, 255).astype(np.uint8), colormap)
    return cv2.cvtColor(heat, cv2.COLOR_BGR2RGB)


@dataclass
class HeatLayer:
    """A heatmap ready to composite over a (w, h) region many times: built once per result."""

    heat: np.ndarray  # (h, w, 3) uint8 RGB
    weight: np.ndarray  # (h, w) float32, the heat's share
    rest: np.ndarray  # (h, w) float32, 1 - weight

    def apply(self, region: np.ndarray) -> np.ndarray:
        return cv2.blendLinear(region, self.heat, self.rest, self.weight)


def heat_layer(cam01: np.ndarray, w: int, h: int, alpha: float = ALPHA, floor: float = FLOOR,
               clip: np.ndarray | None = None, colormap: int = COLORMAP) -> HeatLayer:
    """Colour and weights for a region of (w, h); `clip` (uint8 or float mask of (h, w)) keeps the
    heat inside the endoscope image's own outline. Coloured at a quarter of the size, then
    scaled: the map is 5x5 to 10x10 cells, and this is 10x faster at 1080p."""
    sw, sh = max(2, w // 4), max(2, h // 4)
    small = cv2.resize(cam01.astype(np.float32), (sw, sh), interpolation=cv2.INTER_LINEAR)
    heat = cv2.resize(colourise(small, (sw, sh), colormap), (w, h), interpolation=cv2.INTER_LINEAR)
    weight = cv2.resize(np.clip((small - floor) / max(1e-6, 1 - floor), 0, 1) * alpha, (w, h),
                        interpolation=cv2.INTER_LINEAR).astype(np.float32)
    if clip is not None:
        weight *= (clip.astype(np.float32) / 255.0) if clip.dtype == np.uint8 else clip.astype(np.float32)
    return HeatLayer(heat, weight, (1.0 - weight).astype(np.float32))


def blend(rgb: np.ndarray, cam01: np.ndarray, alpha: float = ALPHA, floor: float = FLOOR,
          clip: np.ndarray | None = None, colormap: int = COLORMAP) -> np.ndarray:
    """The heatmap over a whole image (a copy)."""
    h, w = rgb.shape[:2]
    return heat_layer(cam01, w, h, alpha, floor, clip, colormap).apply(np.ascontiguousarray(rgb))


def legend_bar(width: int, height: int) -> np.ndarray:
    """A horizontal colour bar, low to high evidence (RGB uint8)."""
    ramp = np.tile(np.linspace(0, 1, width, dtype=np.float32), (height, 1))
    return colourise(ramp, (width, height))


def triptych(rgb: np.ndarray, cam01: np.ndarray, caption: str, notice: str, title: str = "Grad-CAM heatmap",
             clip: np.ndarray | None = None) -> np.ndarray:
    """The paper's figure 5 layout: original, heatmap, overlay, with the decision as caption."""
    h, w = rgb.shape[:2]
    panel = max(256, min(512, max(h, w)))
    img = cv2.resize(rgb, (panel, panel))
    clip_p = None if clip is None else cv2.resize(clip, (panel, panel), interpolation=cv2.INTER_NEAREST)
    heat = colourise(cam01, (panel, panel))
    if clip_p is not None:
        heat = np.where(clip_p[..., None] > 0, heat, 0).astype(np.uint8)
    over = blend(img, cam01, alpha=0.5, floor=0.0, clip=clip_p)
    gap, top = 8, 44
    canvas = np.full((panel + top + 28, panel * 3 + gap * 4, 3), 255, np.uint8)
    for i, (tile, name) in enumerate([(img, "original"), (heat, title), (over, "overlay")]):
        x = gap + i * (panel + gap)
        canvas[top:top + panel, x:x + panel] = tile
        _fitted_text(canvas, name, (x, top - 10), 0.55, 1, panel)
    _fitted_text(canvas, caption, (gap, 20), 0.6, 2, canvas.shape[1] - 2 * gap)
    _fitted_text(canvas, notice, (gap, panel + top + 20), 0.45, 1, canvas.shape[1] - 2 * gap, (120, 0, 0))
    return canvas


def _fitted_text(canvas, text: str, org, scale: float, thickness: int, width: int, colour=(0, 0, 0)) -> None:
    """Text shrunk to fit `width` pixels (a title is never clipped at the panel's edge)."""
    tw = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)[0][0]
    if tw > width:
        scale *= width / tw
    cv2.putText(canvas, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thickness, cv2.LINE_AA)
