"""Heatmap colouring and blending, kept apart from the CAM maths."""

from __future__ import annotations

import cv2
import numpy as np


def colourise(cam01: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A [0, 1] map -> RGB uint8 jet heatmap of size (w, h)."""
    up = cv2.resize(cam01.astype(np.float32), size, interpolation=cv2.INTER_LINEAR)
    heat = cv2.applyColorMap(np.clip(up * 255, 0, 255).astype(np.uint8), cv2.COLORMAP_JET)
    return cv2.cvtColor(heat, cv2.COLOR_BGR2RGB)


def blend(rgb: np.ndarray, cam01: np.ndarray, alpha: float = 0.45, floor: float = 0.2) -> np.ndarray:
    """Overlay the heatmap on the image where the map is above `floor` (weaker areas stay clear)."""
    h, w = rgb.shape[:2]
    heat = colourise(cam01, (w, h))
    weight = cv2.resize(cam01.astype(np.float32), (w, h))
    a = (np.clip((weight - floor) / max(1e-6, 1 - floor), 0, 1) * alpha)[..., None]
    return (rgb.astype(np.float32) * (1 - a) + heat.astype(np.float32) * a).astype(np.uint8)


def triptych(rgb: np.ndarray, cam01: np.ndarray, caption: str, notice: str) -> np.ndarray:
    """The paper's figure 5 layout: original, heatmap, overlay, with the decision as caption."""
    h, w = rgb.shape[:2]
    panel = max(256, min(512, max(h, w)))
    img = cv2.resize(rgb, (panel, panel))
    heat = colourise(cam01, (panel, panel))
    over = blend(img, cam01, alpha=0.5, floor=0.0)
    gap = 8
    top = 44
    canvas = np.full((panel + top + 28, panel * 3 + gap * 4, 3), 255, np.uint8)
    for i, (tile, title) in enumerate([(img, "original"), (heat, "Grad-CAM heatmap"), (over, "overlay")]):
        x = gap + i * (panel + gap)
        canvas[top:top + panel, x:x + panel] = tile
        cv2.putText(canvas, title, (x, top - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(canvas, caption, (gap, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 2, cv2.LINE_AA)
    cv2.putText(canvas, notice, (gap, panel + top + 20), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (120, 0, 0), 1, cv2.LINE_AA)
    return canvas
