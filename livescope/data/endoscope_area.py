"""The endoscope image area inside the processor's frame: find it, follow it, mask, crop.

A processor shows the endoscope's picture in an octagon, a rounded rectangle or a circle on
black, with the patient's name, ID and settings as text on the black (often inside the
octagon's cut corners, that is inside the area's bounding box). Everything that leaves the
process is blanked outside the area's own shape, never only outside its bounding box.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np


@dataclass(frozen=True)
class ImageArea:
    """Where the endoscope's picture is: its bounding box and its outline (a convex polygon)
    in frame coordinates."""

    box: tuple[int, int, int, int]  # x, y, w, h
    hull: np.ndarray = field(compare=False, repr=False)  # (N, 2) int32, frame coordinates
    _masks: dict = field(default_factory=dict, compare=False, repr=False)  # resized crop masks, by size

    @staticmethod
    def full(h: int, w: int) -> ImageArea:
        return ImageArea((0, 0, w, h), np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.int32))

    def mask(self, h: int, w: int) -> np.ndarray:
        """uint8 HxW, 255 inside the area's outline."""
        m = np.zeros((h, w), np.uint8)
        cv2.fillConvexPoly(m, self.hull, 255, cv2.LINE_8)
        return m

    def crop_mask(self) -> np.ndarray:
        """uint8 mask of the outline inside the bounding box (what `crop` returns)."""
        x, y, w, h = self.box
        m = np.zeros((h, w), np.uint8)
        cv2.fillConvexPoly(m, self.hull - np.array([x, y], np.int32), 255, cv2.LINE_8)
        return m

    def crop_mask_at(self, w: int, h: int) -> np.ndarray:
        """The crop's outline mask resized to (w, h), as float32 weights in [0, 1] (cached)."""
        key = (w, h)
        if key not in self._masks:
            m = cv2.resize(self.crop_mask(), (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
            self._masks[key] = m
        return self._masks[key]

    def crop(self, rgb: np.ndarray) -> np.ndarray:
        x, y, w, h = self.box
        return rgb[y:y + h, x:x + w]

    def blank_outside(self, rgb: np.ndarray) -> np.ndarray:
        """A copy with everything outside the outline black (the on-screen text carries
        patient data)."""
        out = np.zeros_like(rgb)
        x, y, w, h = self.box
        m = self.crop_mask()
        cv2.copyTo(rgb[y:y + h, x:x + w], m, out[y:y + h, x:x + w])
        return out

    def scaled(self, s: float) -> ImageArea:
        """The same area in a frame resized by `s`."""
        x, y, w, h = self.box
        return ImageArea((int(x * s), int(y * s), max(1, int(w * s)), max(1, int(h * s))),
                         np.round(self.hull * s).astype(np.int32))


def find_image_area(rgb: np.ndarray, threshold: int = 10) -> ImageArea | None:
    """The largest bright connected region (after an opening removes thin on-screen text),
    with its convex outline; None when nothing stands out (a dark or blank frame)."""
    h, w = rgb.shape[:2]
    scale = min(1.0, 256.0 / max(h, w))
    # Nearest-neighbour is enough to find a large bright region, and it is fast.
    small = cv2.resize(rgb, (max(1, int(w * scale)), max(1, int(h * scale))),
                       interpolation=cv2.INTER_NEAREST) if scale < 1 else rgb
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    # On-screen text is white or grey, the picture is coloured: unsaturated bright pixels are left
    # out, so that a dense block of text beside the picture does not join it (highlights inside
    # the picture only make holes, which the outline closes).
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
    text_like = ((hsv[..., 1] < 60) & (hsv[..., 2] > 110)).astype(np.uint8)
    k = max(3, int(min(grey.shape) * 0.03) | 1)
    # ... thin strokes only: a grey picture (a flat test card, a monochrome recording) is no text.
    strokes = text_like & ~cv2.morphologyEx(text_like, cv2.MORPH_OPEN, np.ones((k, k), np.uint8)).astype(bool)
    mask = ((grey > threshold) & ~strokes).astype(np.uint8)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k * 3, k * 3)))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask)
    if n <= 1:
        return None
    best = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    x, y, bw, bh, area = stats[best]
    if area < 0.1 * mask.size:
        return None
    contours, _ = cv2.findContours((labels == best).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    hull = cv2.convexHull(max(contours, key=cv2.contourArea)).reshape(-1, 2).astype(np.float64)
    # Back to frame coordinates; the small image's pixel centres cover [p, p+1) of 1/scale each.
    hull = np.clip(np.round((hull + 0.5) / scale), 0, [w - 1, h - 1]).astype(np.int32)
    x0, y0 = int(x / scale), int(y / scale)
    x1, y1 = min(w, int(np.ceil((x + bw) / scale))), min(h, int(np.ceil((y + bh) / scale)))
    return ImageArea((x0, y0, x1 - x0, y1 - y0), hull)


class EndoscopeArea:
    """Follows the image area over a video: found once, refreshed every few seconds or at once
    when the frame size changes; a dark frame keeps the last area found."""

    def __init__(self, refresh_s: float = 2.0):
        self.refresh_s = refresh_s
        self.area: ImageArea | None = None
        self.shape = None
        self.t = -1e9

    @property
    def box(self):
        return None if self.area is None else self.area.box

    def update(self, image: np.ndarray, t: float) -> ImageArea | None:
        """The area, or None while none has been found (too dark, no border)."""
        if self.area is None or image.shape != self.shape or t - self.t >= self.refresh_s:
            found = find_image_area(image)
            if found is not None or image.shape != self.shape:
                self.area = found
            self.shape = image.shape
            self.t = t
        return self.area


def blank_outside(rgb: np.ndarray, area: ImageArea | None) -> np.ndarray:
    """Everything outside the area black; with no known area, everything black rather than
    risk showing the on-screen text."""
    return np.zeros_like(rgb) if area is None else area.blank_outside(rgb)
