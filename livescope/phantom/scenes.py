"""Scene renderers: what the endoscope sees inside its image area (RGB float32 in [0, 1]).

Each renderer returns the picture and the masks of what it drew, so tests and scoring can
check that a class shows its intended cue (red colour signs only in Rf1/Rf2, and so on).

Inside the renderers colour images are planar (3, H, W): NumPy broadcasts a 2-D mask over
contiguous planes several times faster than over a trailing axis of length 3, and this is
what keeps `synth images` above 50 images a second on two cores. Scenes come out (H, W, 3).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import cv2
import numpy as np

from livescope.phantom.noise import fractal_noise, ridges, smooth_noise

GRADES = ("normal", "Rf0", "Rf1", "Rf2")
OTHER_KINDS = ("forward", "rectum", "out_of_body", "blur", "water", "dark", "bubbles", "blood")


@dataclass
class Scene:
    rgb: np.ndarray  # HxWx3 float32 in [0, 1]
    masks: dict[str, np.ndarray] = field(default_factory=dict)  # HxW bool
    params: dict = field(default_factory=dict)


def _rgb(*v: float) -> np.ndarray:
    """A colour shaped (3, 1, 1), to broadcast over planar images."""
    return np.array(v, np.float32).reshape(3, 1, 1)


def _planar(hwc: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(hwc.transpose(2, 0, 1))


def _interleaved(chw: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(chw.transpose(1, 2, 0))


def _blend(img: np.ndarray, colour, alpha: np.ndarray) -> np.ndarray:
    """img + (colour - img) * alpha, in place (planar img (3, H, W); colour (3, 1, 1) or planar; alpha HxW)."""
    img += (colour - img) * alpha.astype(np.float32, copy=False)[None]
    return img


@lru_cache(maxsize=16)
def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates, shared between calls (read-only)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    yy.flags.writeable = xx.flags.writeable = False
    return yy, xx


def _mucosa(rng: np.random.Generator, size: int, base: np.ndarray, vessel_amount: float) -> np.ndarray:
    tex = fractal_noise(rng, size, size, size / 4, octaves=4)
    img = base * (0.82 + 0.36 * tex)[None]
    # Hue wander: some areas more orange, some more crimson.
    hue = smooth_noise(rng, size, size, size / 3)[None]
    img = img * (1 + 0.12 * (hue - 0.5) * _rgb(0.4, -1.0, -0.6))
    fine = ridges(rng, size, size, size / 7, width=0.025)
    coarse = ridges(rng, size, size, size / 3.5, width=0.022)
    # Vessels fade in and out: submucosal vessels are only partly visible.
    fade = smooth_noise(rng, size, size, size / 3)
    vessels = np.clip(0.4 * fine + 0.7 * coarse, 0, 1) * vessel_amount * fade
    vessel_colour = _rgb(0.45, 0.08, 0.12)
    img = _blend(img, vessel_colour, vessels)
    return img.astype(np.float32)


def _lighting(rng: np.random.Generator, size: int, falloff: float, centre=None) -> np.ndarray:
    yy, xx = _grid(size)
    cy, cx = centre if centre is not None else (size * (0.5 + rng.normal(0, 0.05)), size * (0.5 + rng.normal(0, 0.05)))
    cy, cx, falloff = float(cy), float(cx), float(falloff)
    d2 = ((yy - cy) ** 2 + (xx - cx) ** 2) / (size * falloff) ** 2
    return (1.0 / (1.0 + d2)).astype(np.float32)


def _speculars(rng: np.random.Generator, img: np.ndarray, count: int, where: np.ndarray | None = None,
               max_r: float = 0.02) -> np.ndarray:
    size = img.shape[1]
    layer = np.zeros((size, size), np.float32)
    # Six candidate places per highlight; the first inside `where` is used (else the last).
    cand = rng.integers(0, size, (count, 6, 2))
    shape = rng.uniform(0, 1, (count, 3))
    for k in range(count):
        y, x = cand[k, -1]
        if where is not None:
            ok = np.flatnonzero(where[cand[k, :, 0], cand[k, :, 1]])
            if len(ok):
                y, x = cand[k, ok[0]]
        ax = max(1, int(size * (0.003 + (max_r - 0.003) * shape[k, 0])))
        ay = max(1, int(ax * (0.3 + 0.7 * shape[k, 1])))
        cv2.ellipse(layer, (int(x), int(y)), (ax, ay), float(180 * shape[k, 2]), 0, 360, 1.0, -1)
    layer = cv2.GaussianBlur(layer, (0, 0), max(0.6, size * 0.002))
    return img + (1.0 - img) * np.clip(layer, 0, 1)[None]


def _mucus_and_bubbles(rng: np.random.Generator, img: np.ndarray, mucus: int, bubbles: int) -> np.ndarray:
    size = img.shape[1]
    layer = np.zeros((size, size), np.float32)
    for _ in range(mucus):
        pts = np.cumsum(rng.normal(0, size * 0.03, (6, 2)), axis=0) + rng.uniform(0, size, 2)
        cv2.polylines(layer, [pts.astype(np.int32)], False, 0.5, max(1, int(size * 0.006)), cv2.LINE_AA)
    layer = cv2.GaussianBlur(layer, (0, 0), size * 0.004)
    for _ in range(bubbles):
        y, x = rng.uniform(0, size, 2)
        r = max(2, int(size * rng.uniform(0.006, 0.03)))
        cv2.circle(layer, (int(x), int(y)), r, 0.6, max(1, r // 5), cv2.LINE_AA)
        cv2.circle(layer, (int(x - r * 0.35), int(y - r * 0.35)), max(1, r // 4), 0.9, -1, cv2.LINE_AA)
    return _blend(img, _rgb(0.95, 0.93, 0.85), np.clip(layer, 0, 1))


def _shade_bumps(height: np.ndarray, light_dir: np.ndarray, strength: float) -> np.ndarray:
    gy, gx = np.gradient(height)
    return 1.0 + strength * (-(gx * light_dir[1]) - (gy * light_dir[0]))


def render_retroflex(rng: np.random.Generator, size: int, grade: str) -> Scene:
    """The retroflexed (U-turn) view of the anorectum: shaft, dentate line and cushions."""
    if grade not in GRADES:
        raise ValueError(f"grade must be one of {GRADES}")
    yy, xx = _grid(size)
    # NumPy 2 promotes float32 arrays to float64 next to NumPy float64 scalars: keep scalars Python floats.
    c = np.array([size * (0.5 + rng.normal(0, 0.06)), size * (0.5 + rng.normal(0, 0.06))], np.float32)
    cy0, cx0 = float(c[0]), float(c[1])
    base = _rgb(0.78, 0.36, 0.32) * (1 + rng.normal(0, 0.05, 3)).astype(np.float32).reshape(3, 1, 1)
    img = _mucosa(rng, size, base, vessel_amount=float(rng.uniform(0.35, 0.75)))
    dy, dx = yy - cy0, xx - cx0
    r = np.sqrt(dy ** 2 + dx ** 2)
    phi = np.arctan2(dy, dx)
    ring_r = float(size * rng.uniform(0.15, 0.24))
    # The shaft leaves the canal towards an edge; cushions sit where it does not hide them.
    shaft_angle = float(rng.uniform(0, 2 * np.pi) if rng.random() < 0.3 else np.pi / 2 + rng.normal(0, 0.5))
    wobble = 1 + 0.12 * (smooth_noise(rng, 1, 64, 6)[0][((phi + np.pi) / (2 * np.pi) * 63).astype(int)] - 0.5)
    rr = r / (ring_r * wobble)

    # Anal canal: puckered radial folds inside the ring, a bit darker and more purple.
    folds = 0.5 + 0.5 * np.cos(phi * int(rng.integers(7, 13)) + 2 * smooth_noise(rng, size, size, size / 6))
    inner = np.clip(1.2 - rr, 0, 1)
    img = img * (1 - 0.25 * inner * (1 - folds))[None] * (1 - 0.15 * inner[None] * _rgb(0, 0.3, -0.2))
    # Dentate line: a paler, slightly irregular band (with papillae) where the canal meets the rectum.
    band = np.exp(-((rr - 0.95) / float(rng.uniform(0.08, 0.14))) ** 2) * (0.55 + 0.45 * smooth_noise(rng, size, size, size / 14))
    pale = _rgb(0.93, 0.74, 0.70)
    img = _blend(img, pale, 0.55 * band)

    # Cushions (anal cushions; enlarged and bluish-purple when they are hemorrhoids).
    hemorrhoid = grade != "normal"
    n = int(rng.integers(1, 5)) if hemorrhoid else int(rng.integers(2, 4))
    slots = float(rng.uniform(0, 2 * np.pi)) + np.arange(8) * (2 * np.pi / 8)
    away = np.abs(np.angle(np.exp(1j * (slots - shaft_angle)))) > 0.75
    angles = np.sort(rng.choice(slots[away], min(n, int(away.sum())), replace=False))
    height = np.zeros((size, size), np.float32)
    cushion_mask = np.zeros((size, size), np.float32)
    centres = []
    for a in angles.tolist():
        dist = ring_r * float(rng.uniform(1.05, 1.45))
        cy, cx = cy0 + dist * np.sin(a), cx0 + dist * np.cos(a)
        radial = ring_r * float(rng.uniform(0.45, 0.85) if hemorrhoid else rng.uniform(0.3, 0.45))
        tangential = radial * float(rng.uniform(1.1, 1.8))
        # Work only in the cushion's bounding box: the Gaussian is ~0 beyond 2.2 sigma.
        ext = int(tangential * 1.9) + 2
        y0, y1 = max(0, int(cy) - ext), min(size, int(cy) + ext)
        x0, x1 = max(0, int(cx) - ext), min(size, int(cx) + ext)
        h = float(rng.uniform(0.6, 1.0) if hemorrhoid else rng.uniform(0.1, 0.2))
        if y1 > y0 and x1 > x0:
            ey, ex = yy[y0:y1, x0:x1] - cy, xx[y0:y1, x0:x1] - cx
            u = ex * np.cos(a) + ey * np.sin(a)
            v = -ex * np.sin(a) + ey * np.cos(a)
            blob = np.exp(-((u / radial) ** 2 + (v / tangential) ** 2) * 1.6)
            height[y0:y1, x0:x1] += h * blob
            np.maximum(cushion_mask[y0:y1, x0:x1], blob, out=cushion_mask[y0:y1, x0:x1])
        centres.append((cy, cx, radial, tangential, a))
    light_dir = rng.normal(0, 1, 2).astype(np.float32)
    light_dir /= np.linalg.norm(light_dir) + 1e-6
    shade = _shade_bumps(height * size * 0.08, light_dir, 0.45)
    if hemorrhoid:
        t = float(rng.uniform(0, 1))
        colour = (1 - t) * _rgb(0.52, 0.24, 0.44) + t * _rgb(0.72, 0.22, 0.28)
        w = np.clip(cushion_mask * 1.5, 0, 1) * float(rng.uniform(0.65, 0.9))
        img = _blend(img, colour, w)
    img = img * np.clip(shade, 0.55, 1.4)[None]

    masks: dict[str, np.ndarray] = {"cushion": cushion_mask > (0.35 if hemorrhoid else 2.0)}
    red_sign = np.zeros((size, size), np.float32)
    bleed = np.zeros((size, size), np.float32)
    if grade in ("Rf1", "Rf2") and (grade == "Rf1" or rng.random() < 0.5):
        # Red colour signs: red wale lines along the cushion and cherry-red spots.
        for cy, cx, radial, tangential, a in centres:
            for _ in range(int(rng.integers(3, 7))):
                start = np.array([cx, cy]) + rng.normal(0, radial * 0.4, 2)
                direction = np.array([-np.sin(a), np.cos(a)]) * rng.choice([-1, 1])
                pts = [start]
                for _k in range(5):
                    direction = direction + rng.normal(0, 0.35, 2)
                    direction /= np.linalg.norm(direction)
                    pts.append(pts[-1] + direction * tangential * 0.18)
                # Red wale signs: longitudinal dilated venules, clearly wider than the fine vessels.
                cv2.polylines(red_sign, [np.array(pts, np.int32)], False, 1.0,
                              max(2, int(size * rng.uniform(0.009, 0.018))), cv2.LINE_AA)
            for _ in range(int(rng.integers(3, 9))):
                p = np.array([cx, cy]) + rng.normal(0, radial * 0.5, 2)
                cv2.circle(red_sign, (int(p[0]), int(p[1])), max(2, int(size * rng.uniform(0.01, 0.022))), 1.0, -1, cv2.LINE_AA)
        red_sign *= cushion_mask > 0.25
        img = _blend(img, _rgb(0.86, 0.06, 0.10), red_sign * 0.9)
    if grade == "Rf2":
        kinds = rng.choice(["erosion", "thrombus", "oozing", "fresh_blood"], int(rng.integers(1, 3)), replace=False)
        cy, cx, radial, tangential, a = centres[int(rng.integers(len(centres)))]
        for kind in kinds:
            layer = np.zeros((size, size), np.float32)
            p = (int(cx + rng.normal(0, radial * 0.3)), int(cy + rng.normal(0, radial * 0.3)))
            if kind == "erosion":
                axes = (max(3, int(radial * rng.uniform(0.45, 0.8))), max(3, int(radial * rng.uniform(0.3, 0.6))))
                cv2.ellipse(layer, p, axes, float(rng.uniform(0, 180)), 0, 360, 1.0, -1)
                layer *= 0.6 + 0.4 * smooth_noise(rng, size, size, size / 40)
                rim = cv2.GaussianBlur(layer, (0, 0), size * 0.006) - layer * 0.8
                ero = _rgb(0.92, 0.86, 0.62)
                img = _blend(img, ero, layer)
                img = _blend(img, _rgb(0.8, 0.05, 0.08), np.clip(rim, 0, 1))
            elif kind == "thrombus":
                axes = (max(3, int(radial * rng.uniform(0.4, 0.7))), max(3, int(radial * rng.uniform(0.3, 0.55))))
                cv2.ellipse(layer, p, axes, float(rng.uniform(0, 180)), 0, 360, 1.0, -1)
                layer = cv2.GaussianBlur(layer, (0, 0), size * 0.004)
                img = _blend(img, _rgb(0.22, 0.04, 0.12), 0.9 * layer)
            else:
                # Blood flows downhill in the image: a trail with a bright, glossy head.
                pts = [np.array(p, np.float64)]
                direction = np.array([rng.normal(0, 0.4), 1.0])
                for _k in range(int(rng.integers(4, 9))):
                    direction = direction + rng.normal(0, 0.3, 2)
                    direction /= np.linalg.norm(direction)
                    pts.append(pts[-1] + direction * size * 0.035)
                thick = max(3, int(size * (0.03 if kind == "oozing" else 0.05)))
                cv2.polylines(layer, [np.array(pts, np.int32)], False, 1.0, thick, cv2.LINE_AA)
                if kind == "fresh_blood":
                    cv2.circle(layer, tuple(int(v) for v in pts[-1]), thick * 2, 1.0, -1, cv2.LINE_AA)
                img = _blend(img, _rgb(0.62, 0.02, 0.04), 0.95 * layer)
            bleed = np.maximum(bleed, layer)
    masks["red_sign"] = red_sign > 0.3
    masks["bleeding_sign"] = bleed > 0.3

    # Light from the scope tip, then the scope shaft itself, which the light hardly reaches.
    img = img * (0.35 + 0.85 * _lighting(rng, size, float(rng.uniform(0.45, 0.7)), centre=(c + rng.normal(0, size * 0.08, 2)).tolist()))[None]
    img = _speculars(rng, img, int(rng.integers(4, 14)), where=cushion_mask > 0.3 if hemorrhoid else None)
    img = _mucus_and_bubbles(rng, img, int(rng.integers(0, 4)), int(rng.integers(0, 6)))

    sy, sx = np.sin(shaft_angle), np.cos(shaft_angle)  # (y, x) towards the edge
    along = dy * sy + dx * sx
    across = -dy * sx + dx * sy
    w0, w1 = ring_r * float(rng.uniform(0.35, 0.5)), size * float(rng.uniform(0.2, 0.3))
    t = np.clip(along / (size * 0.75), 0, 1)
    half = w0 + (w1 - w0) * t
    shaft = ((along > -ring_r * 0.2) & (np.abs(across) < half)).astype(np.float32)
    shaft = cv2.GaussianBlur(shaft, (0, 0), max(0.7, size * 0.002))
    # Shade the shaft only inside its bounding box (it covers a fraction of the view).
    bx, by, bw, bh = cv2.boundingRect((shaft > 0.002).astype(np.uint8))
    win = (slice(by, by + bh), slice(bx, bx + bw))
    offset = float(rng.uniform(-0.5, 0.5))
    if bw and bh:
        stripe = np.exp(-((across[win] / np.maximum(half[win], 1) - offset) / 0.08) ** 2) * 0.35
        bands = (np.sin(along[win] / (size * 0.04)) > 0.97).astype(np.float32) * 0.12 * (t[win] > 0.2)
        shaft_rgb = _rgb(0.035, 0.035, 0.04) + (stripe + bands)[None] * _rgb(0.8, 0.82, 0.85)
        img[:, win[0], win[1]] = _blend(img[:, win[0], win[1]], shaft_rgb, shaft[win])
    masks["shaft"] = shaft > 0.5
    masks["dentate_line"] = band > 0.4
    # What the shaft hides is not visible: masks describe what the picture shows.
    for key in ("cushion", "red_sign", "bleeding_sign", "dentate_line"):
        masks[key] = masks[key] & (shaft < 0.05)
    params = {"grade": grade, "cushions": n, "ring_radius": float(ring_r / size), "shaft_angle": float(shaft_angle)}
    return Scene(_interleaved(np.clip(img, 0, 1).astype(np.float32)), masks, params)


def render_forward(rng: np.random.Generator, size: int, rectum: bool = False) -> Scene:
    """A forward view of the colon (or rectum): dark lumen, haustral folds, sometimes a polyp-like bump."""
    yy, xx = _grid(size)
    lc = [float(size * rng.uniform(0.3, 0.7)), float(size * rng.uniform(0.3, 0.7))]
    base = np.array([0.86, 0.50, 0.40] if not rectum else [0.80, 0.40, 0.36], np.float32)
    base = (base * (1 + rng.normal(0, 0.05, 3)).astype(np.float32)).reshape(3, 1, 1)
    img = _mucosa(rng, size, base, vessel_amount=float(rng.uniform(0.3, 0.8)))
    dy, dx = yy - lc[0], xx - lc[1]
    r = np.sqrt(dy ** 2 + dx ** 2) + 1
    phi = np.arctan2(dy, dx)
    warp = 0.25 * (smooth_noise(rng, size, size, size / 3) - 0.5)
    lr = np.log(r / size) + warp
    spacing = float(rng.uniform(0.28, 0.45) if not rectum else rng.uniform(0.6, 0.9))
    saw = (lr / spacing) % 1.0
    # Each fold: a lit ridge on the camera side and a shadow on the lumen side.
    fold = np.exp(-((saw - 0.85) / 0.08) ** 2) - 0.8 * np.exp(-((saw - 0.65) / 0.12) ** 2)
    fold *= 0.6 + 0.4 * np.cos(phi * 3 + float(rng.uniform(0, 6))) ** 2
    img = img * (1 + 0.35 * fold)[None]
    depth = np.clip(r / float(size * rng.uniform(0.45, 0.7)), 0, 1)
    img = img * (depth ** float(rng.uniform(1.2, 2.0)))[None]
    masks = {"lumen": depth < 0.25}
    if rng.random() < 0.35:
        py, px = (rng.uniform(0.15, 0.85, 2) * size).tolist()
        pr = float(size * rng.uniform(0.05, 0.12))
        blob = np.exp(-(((yy - py) ** 2 + (xx - px) ** 2) / pr ** 2))
        light_dir = np.array([lc[0] - py, lc[1] - px], np.float32)
        light_dir /= np.linalg.norm(light_dir) + 1e-6
        img = img * np.clip(_shade_bumps(blob * size * 0.08, -light_dir, 0.4), 0.5, 1.4)[None]
        img = _blend(img, _rgb(0.9, 0.6, 0.5), 0.3 * blob)
        masks["polyp"] = blob > 0.5
    img = img * (0.5 + 0.7 * _lighting(rng, size, float(rng.uniform(0.6, 1.0))))[None]
    img = _speculars(rng, img, int(rng.integers(3, 12)))
    img = _mucus_and_bubbles(rng, img, int(rng.integers(0, 3)), int(rng.integers(0, 5)))
    return Scene(_interleaved(np.clip(img, 0, 1).astype(np.float32)), masks, {"kind": "rectum" if rectum else "forward"})


def render_out_of_body(rng: np.random.Generator, size: int) -> Scene:
    """The scope outside the patient: room lights, drapes, gloves, a monitor."""
    g = smooth_noise(rng, size, size, size / 2)[..., None]
    c1 = rng.uniform(0.3, 0.9, 3).astype(np.float32)
    c2 = rng.uniform(0.1, 0.6, 3).astype(np.float32) * np.array([0.8, 0.9, 1.1], np.float32)
    img = c1 * g + c2 * (1 - g)
    for _ in range(int(rng.integers(2, 7))):
        p1 = rng.integers(0, size, 2)
        p2 = p1 + rng.integers(size // 10, size // 2, 2)
        cv2.rectangle(img, tuple(int(v) for v in p1), tuple(int(v) for v in p2),
                      tuple(float(v) for v in rng.uniform(0.1, 1.0, 3)), -1)
    img = cv2.GaussianBlur(img, (0, 0), size * rng.uniform(0.005, 0.03))
    return Scene(np.clip(img, 0, 1).astype(np.float32), {}, {"kind": "out_of_body"})


def render_other(rng: np.random.Generator, size: int, kind: str | None = None, forward_only: bool = False) -> Scene:
    """Any frame the gate must keep out: forward views, out-of-body and uninformative frames.
    `forward_only`: uninformative frames are made from a forward view (in a procedure video they
    happen between forward views; a retroflexed view under a few bubbles is still retroflexed)."""
    if kind is None:
        kind = str(rng.choice(OTHER_KINDS, p=[0.34, 0.14, 0.08, 0.1, 0.08, 0.08, 0.08, 0.1]))
    if kind == "forward":
        return render_forward(rng, size)
    if kind == "rectum":
        return render_forward(rng, size, rectum=True)
    if kind == "out_of_body":
        return render_out_of_body(rng, size)
    # Uninformative frames start from a real-looking scene (sometimes the retroflexed view
    # itself, so that blur alone never decides the gate).
    from_forward = forward_only or rng.random() < 0.6
    under = render_forward(rng, size) if from_forward else render_retroflex(rng, size, str(rng.choice(GRADES)))
    img = under.rgb
    if kind == "blur":
        k = int(size * rng.uniform(0.08, 0.2)) | 1
        kernel = np.zeros((k, k), np.float32)
        cv2.line(kernel, (0, k // 2), (k - 1, k // 2), 1.0, 1)
        rot = cv2.getRotationMatrix2D((k / 2, k / 2), float(rng.uniform(0, 180)), 1.0)
        kernel = cv2.warpAffine(kernel, rot, (k, k))
        img = cv2.filter2D(img, -1, kernel / max(kernel.sum(), 1e-6))
    elif kind == "water":
        streak = fractal_noise(rng, size, size, size / 5)
        streak = cv2.GaussianBlur(streak, (0, 0), size * 0.01)
        img = _interleaved(_blend(_planar(img), _rgb(0.85, 0.92, 0.95), np.clip((streak - 0.3) * 2.2, 0, 1)))
        img = cv2.GaussianBlur(img, (0, 0), size * 0.01)
    elif kind == "dark":
        img = img * rng.uniform(0.03, 0.12)
    elif kind == "bubbles":
        img = _interleaved(_mucus_and_bubbles(rng, _planar(img), 2, int(rng.integers(40, 90))))
    elif kind == "blood":
        a = np.clip(0.7 + 0.3 * smooth_noise(rng, size, size, size / 4), 0, 1)
        img = _interleaved(_blend(_planar(img), _rgb(0.45, 0.02, 0.04), a))
    return Scene(np.clip(img, 0, 1).astype(np.float32), {}, {"kind": kind})
