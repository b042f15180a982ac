"""The video processor's frame: black surround, image-area shape, on-screen text, colour style.

Everything here is drawn from the same distribution for every class, so no class can be
told apart by the border, the text, the image-area shape or a colour cast.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

FIRST = ["JANE", "JOHN", "MARIA", "WEI", "ANNA", "LI", "OMAR", "SARA", "PAUL", "MEI"]
LAST = ["DOE", "ROE", "SMITH", "ZHANG", "MOLLER", "ROSSI", "TANAKA", "NOVAK", "SILVA"]


@dataclass
class ProcessorStyle:
    brand: str  # "olympus-like" or "fujifilm-like"
    canvas: tuple[int, int]  # (height, width)
    area: tuple[int, int, int, int]  # x, y, w, h of the image area
    shape: str  # octagon | rounded | circle
    gains: np.ndarray  # white balance, RGB
    gamma: float
    patient: str
    patient_id: str
    settings: str
    inset: bool
    text_scale: float
    layout: str  # "side": text left or right of the area; "corners": text over the octagon's cut corners
    pip: str  # "", "black" (a blanked picture-in-picture box) or "guide" (a scope-position inset)
    cut: float  # octagon corner cut, as a fraction of the area's shorter side
    date: str
    start_seconds: int

    @staticmethod
    def random(rng: np.random.Generator, canvas: tuple[int, int]) -> ProcessorStyle:
        h, w = canvas
        brand = str(rng.choice(["olympus-like", "fujifilm-like"]))
        # "corners": the area fills the frame's height and the text sits on the black of its cut
        # corners, inside its bounding box (as in many recorded frames, HyperKvasir's among them).
        layout = str(rng.choice(["side", "corners"]))
        side = int(min(h * (rng.uniform(0.82, 0.97) if layout == "side" else rng.uniform(0.95, 1.0)), w * 0.8))
        aw = int(side * rng.uniform(1.0, 1.18)) if brand == "fujifilm-like" else side
        aw = min(aw, int(w * 0.85))
        x = int(rng.uniform(0.5, 0.95) * (w - aw)) if layout == "side" else int(rng.uniform(0.0, 0.15) * (w - aw))
        y = int((h - side) / 2 + rng.normal(0, 0.02) * h)
        y = int(np.clip(y, 0, h - side))
        shape = str(rng.choice(["octagon", "rounded", "circle"], p=[0.45, 0.4, 0.15]))
        if layout == "corners":  # text on the cut corners needs corners to cut: real processors never draw on the picture
            shape = "octagon"
        # Processors differ in white balance; keep shifts mild and class-independent.
        if brand == "olympus-like":
            gains = np.array([1.04, 0.98, 0.95], np.float32)
        else:
            gains = np.array([0.98, 1.0, 1.05], np.float32)
        gains = gains * (1 + rng.normal(0, 0.035, 3)).astype(np.float32)
        return ProcessorStyle(
            brand=brand, canvas=(h, w), area=(x, y, aw, side), shape=shape, gains=gains,
            gamma=float(rng.uniform(0.85, 1.15)),
            patient=f"{rng.choice(LAST)}^{rng.choice(FIRST)}",
            patient_id=f"ID:{int(rng.integers(10**6, 10**7))}",
            settings=str(rng.choice(["Eh:A5 Ce:1", "Eh:B8 Ce:2", "E:A3 St:2", "FICE off", "NBI off"])),
            inset=bool(rng.random() < 0.25),
            text_scale=float(rng.uniform(0.8, 1.1)),
            layout=layout,
            pip=str(rng.choice(["", "black", "guide"], p=[0.5, 0.3, 0.2])),
            cut=float(rng.uniform(0.12, 0.3) if layout == "side" else rng.uniform(0.2, 0.3)),
            date=f"{int(rng.integers(2019, 2026))}/{int(rng.integers(1, 13)):02d}/{int(rng.integers(1, 29)):02d}",
            start_seconds=int(rng.integers(8 * 3600, 17 * 3600)),
        )


def area_mask(style: ProcessorStyle) -> np.ndarray:
    """HxW uint8 mask (255 inside the image area) on the full canvas."""
    h, w = style.canvas
    x, y, aw, ah = style.area
    mask = np.zeros((h, w), np.uint8)
    if style.shape == "octagon":
        c = int(min(aw, ah) * style.cut)
        pts = np.array([[x + c, y], [x + aw - c, y], [x + aw, y + c], [x + aw, y + ah - c],
                        [x + aw - c, y + ah], [x + c, y + ah], [x, y + ah - c], [x, y + c]], np.int32)
        cv2.fillPoly(mask, [pts], 255, cv2.LINE_AA)
    elif style.shape == "rounded":
        rad = int(min(aw, ah) * 0.12)
        cv2.rectangle(mask, (x + rad, y), (x + aw - rad, y + ah), 255, -1)
        cv2.rectangle(mask, (x, y + rad), (x + aw, y + ah - rad), 255, -1)
        for cx, cy in [(x + rad, y + rad), (x + aw - rad, y + rad), (x + rad, y + ah - rad), (x + aw - rad, y + ah - rad)]:
            cv2.circle(mask, (cx, cy), rad, 255, -1, cv2.LINE_AA)
    else:
        cv2.rectangle(mask, (x, y), (x + aw, y + ah), 255, -1)
        circle = np.zeros_like(mask)
        cv2.circle(circle, (x + aw // 2, y + ah // 2), int(max(aw, ah) * 0.56), 255, -1, cv2.LINE_AA)
        mask = np.minimum(mask, circle)
    return mask


def osd_lines(style: ProcessorStyle, seconds: float) -> list[str]:
    t = style.start_seconds + int(seconds)
    clock = f"{t // 3600 % 24:02d}:{t // 60 % 60:02d}:{t % 60:02d}"
    return [style.patient, style.patient_id, style.date, clock, style.settings,
            "CV-290" if style.brand == "olympus-like" else "EP-6000"]


def _text_blocks(style: ProcessorStyle) -> list[tuple[int, int, float, slice, bool]]:
    """Where the on-screen text goes: (x, y of the first line's baseline, font scale, which lines,
    from the bottom). Beside the area ("side"), or on the black of its cut corners ("corners"),
    sized so each block stays inside its corner triangle."""
    h, w = style.canvas
    x, y, aw, ah = style.area
    scale = style.text_scale * h / 900
    if style.layout == "side":
        left_room = x > w * 0.12
        return [((int(w * 0.015) if left_room else x + aw + int(w * 0.01)), int(h * 0.06), scale, slice(0, 6), False)]
    c = style.cut * min(aw, ah)
    pad = max(2, int(c * 0.04))
    halves = [slice(0, 6)] if style.pip else [slice(0, 3), slice(3, 6)]
    n = 6 if style.pip else 3
    widest = max(cv2.getTextSize(line, cv2.FONT_HERSHEY_SIMPLEX, 1.0, 2)[0][0] for line in osd_lines(style, 0))
    # A block fits its triangle when its width plus its height stays under the cut.
    scale = min(scale, 0.85 * c / (widest + n * 40 + 2 * pad))
    lh = int(40 * scale)
    blocks = [(x + pad, y + pad + lh, scale, halves[0], False)]
    if len(halves) == 2:
        blocks.append((x + pad, y + ah - pad - (n - 1) * lh - int(10 * scale), scale, halves[1], True))
    return blocks


def pip_box(style: ProcessorStyle) -> tuple[int, int, int, int] | None:
    """The picture-in-picture inset inside the area's bounding box (lower left), if any."""
    if not style.pip:
        return None
    x, y, aw, ah = style.area
    bw, bh = int(aw * 0.22), int(ah * 0.24)
    return x, y + ah - bh, bw, bh


def draw_osd(canvas: np.ndarray, style: ProcessorStyle, seconds: float) -> None:
    """Draw the on-screen text (and the inset) into the frame (in place, uint8 RGB)."""
    h, w = canvas.shape[:2]
    lines = osd_lines(style, seconds)
    for tx, ty, scale, which, _bottom in _text_blocks(style):
        for i, line in enumerate(lines[which]):
            cv2.putText(canvas, line, (tx, ty + int(i * 40 * scale)), cv2.FONT_HERSHEY_SIMPLEX,
                        scale, (235, 235, 235), max(1, int(2 * scale)), cv2.LINE_AA)
    tx, _ty, scale, _which, _bottom = _text_blocks(style)[0]
    if style.inset and style.layout == "side":
        ix, iy = tx, int(h * 0.62)
        cv2.rectangle(canvas, (ix, iy), (ix + int(w * 0.1), iy + int(h * 0.14)), (60, 200, 90), max(1, int(2 * scale)))
    box = pip_box(style)
    if box is not None:
        bx, by, bw, bh = box
        if style.pip == "black":
            canvas[by:by + bh, bx:bx + bw] = 0
        else:  # a scope-position guide: a teal box with a white outline drawing of the scope
            canvas[by:by + bh, bx:bx + bw] = (20, 150, 130)
            pts = np.array([[bx + bw * 0.5, by + bh * 0.9], [bx + bw * 0.45, by + bh * 0.5],
                            [bx + bw * 0.6, by + bh * 0.25], [bx + bw * 0.75, by + bh * 0.4]], np.int32)
            cv2.polylines(canvas, [pts], False, (230, 240, 240), max(1, int(2 * scale)), cv2.LINE_AA)


def clock_box(style: ProcessorStyle) -> tuple[int, int, int, int]:
    """The rectangle holding all the OSD text (redrawn each second in videos)."""
    h, w = style.canvas
    boxes = []
    for tx, ty, scale, which, _bottom in _text_blocks(style):
        n = len(range(6)[which])
        boxes.append((tx - 2, ty - int(35 * scale), tx + int(260 * scale * 1.6), ty + int(n * 40 * scale)))
    x0, y0 = max(0, min(b[0] for b in boxes)), max(0, min(b[1] for b in boxes))
    x1, y1 = min(w, max(b[2] for b in boxes)), min(h, max(b[3] for b in boxes))
    return x0, y0, x1 - x0, y1 - y0


def apply_style(rgb: np.ndarray, style: ProcessorStyle) -> np.ndarray:
    """White balance and tone curve of the processor (float RGB in, float RGB out)."""
    out = np.clip(rgb * style.gains, 0, 1)
    return out ** style.gamma


def compose(scene_rgb: np.ndarray, style: ProcessorStyle, seconds: float = 0.0,
            mask: np.ndarray | None = None) -> np.ndarray:
    """Place a scene (float RGB) into the processor frame; returns uint8 RGB on the full canvas."""
    h, w = style.canvas
    x, y, aw, ah = style.area
    # Work in uint8 from here on: the canvas is several times the scene's size.
    scene = (apply_style(scene_rgb, style) * 255 + 0.5).astype(np.uint8)
    content = cv2.resize(scene, (aw, ah), interpolation=cv2.INTER_LINEAR)
    canvas = np.zeros((h, w, 3), np.uint8)
    m = (area_mask(style) if mask is None else mask)[y:y + ah, x:x + aw]
    canvas[y:y + ah, x:x + aw] = cv2.multiply(content, cv2.merge([m, m, m]), scale=1 / 255)
    draw_osd(canvas, style, seconds)
    return canvas


def degrade(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """Camera and compression artefacts: exposure, blur, sensor noise, JPEG (uint8 RGB)."""
    out = cv2.convertScaleAbs(img, alpha=float(rng.uniform(0.8, 1.2)))  # exposure, saturating
    if rng.random() < 0.4:
        out = cv2.GaussianBlur(out, (0, 0), float(rng.uniform(0.4, 1.6)))
    # Sensor noise after the processor's demosaicing is mostly luminance noise: one plane.
    # OpenCV's generator is faster than NumPy's; seeding it from the image's own generator
    # keeps the same seed giving the same bytes.
    cv2.setRNGSeed(int(rng.integers(2**31)))
    noise = np.empty(out.shape[:2], np.int16)
    cv2.randn(noise, 0, float(rng.uniform(0.5, 4.0)))
    out = cv2.add(out, cv2.merge([noise, noise, noise]), dtype=cv2.CV_8U)
    q = int(rng.integers(60, 96))
    ok, enc = cv2.imencode(".jpg", out[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, q])
    return cv2.imdecode(enc, cv2.IMREAD_COLOR)[..., ::-1].copy()
