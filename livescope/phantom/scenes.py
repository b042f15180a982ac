"""Scene renderers: what the endoscope sees inside its image area (RGB float32 in [0, 1]).

Every scene is a height field (its geometry) shaded as one wet mucosal surface
(`surface.py`): the retroflexed view is the anal verge with cushions and folds converging on
the scope's own shaft; the forward views are the colon's lumen with its folds, or the wall
close up, sometimes with a polyp or colitis. Only geometry tells the classes apart, never how
real the surface looks.

Each renderer returns the picture and the masks of what it drew, so tests and scoring can
check that a class shows its intended cue (red colour signs only in Rf1/Rf2, and so on).

Inside the renderers colour images are planar (3, H, W): NumPy broadcasts a 2-D mask over
contiguous planes several times faster than over a trailing axis of length 3. Scenes come
out (H, W, 3).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from livescope.phantom.noise import fractal_noise, smooth_noise
from livescope.phantom.surface import (
    blend,
    fine_relief,
    grid,
    mucosa_albedo,
    mucosa_colour,
    rgb,
    wet_surface,
)

GRADES = ("normal", "Rf0", "Rf1", "Rf2")
OTHER_KINDS = ("forward", "rectum", "out_of_body", "blur", "water", "dark", "bubbles", "blood")


@dataclass
class Scene:
    rgb: np.ndarray  # HxWx3 float32 in [0, 1]
    masks: dict[str, np.ndarray] = field(default_factory=dict)  # HxW bool
    params: dict = field(default_factory=dict)


def _planar(hwc: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(hwc.transpose(2, 0, 1))


def _interleaved(chw: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.clip(chw, 0, 1).transpose(1, 2, 0)).astype(np.float32, copy=False)


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
    return blend(img, rgb(0.95, 0.93, 0.85), np.clip(layer, 0, 1))


# --- the retroflexed view ------------------------------------------------------------------

@dataclass
class _Verge:
    """Polar coordinates about the anal verge, where the shaft enters the canal."""
    cy: float
    cx: float
    r: np.ndarray
    phi: np.ndarray
    dy: np.ndarray
    dx: np.ndarray


def _verge(rng: np.random.Generator, size: int) -> _Verge:
    yy, xx = grid(size)
    # NumPy 2 promotes float32 arrays to float64 next to NumPy float64 scalars: keep scalars Python floats.
    cy, cx = float(size * rng.uniform(0.25, 0.75)), float(size * rng.uniform(0.25, 0.75))
    dy, dx = yy - cy, xx - cx
    return _Verge(cy, cx, np.sqrt(dy * dy + dx * dx) + 1e-3, np.arctan2(dy, dx), dy, dx)


def _anal_lobes(rng: np.random.Generator, v: _Verge, size: int, hemorrhoid: bool, shaft_angle: float):
    """Cushions and folds converging on the verge: a height field in [0, ~1.3] and each lobe's
    (angle, peak radius). Hemorrhoids are larger, higher cushions; a normal canal has low folds.
    One lobe always faces away from the shaft, so the shaft never hides every cushion."""
    k = int(rng.integers(3, 6))
    offset = shaft_angle + np.pi + float(rng.normal(0, 0.3))
    wobble = 0.5 * (smooth_noise(rng, size, size, size / 4) - 0.5)
    lobes = np.zeros((size, size), np.float32)
    centres = []
    for i in range(k):
        a = offset + i * 2 * np.pi / k + float(rng.normal(0, 0.3))
        width = float(rng.uniform(0.5, 0.9))
        dphi = np.angle(np.exp(1j * (v.phi - a + wobble))).astype(np.float32)
        amp = float(rng.uniform(0.7, 1.3)) * (1.0 if hemorrhoid else 0.55)
        peak = float(size * rng.uniform(0.15, 0.33) * (1.2 if hemorrhoid else 0.9))
        rr = v.r / peak
        profile = np.where(rr < 1, np.sin(np.clip(rr, 0, 1) * (np.pi / 2)), np.exp(-((rr - 1) / 0.9) ** 2))
        lobes += amp * np.exp(-(dphi / width) ** 2) * profile
        centres.append((a, peak))
    return cv2.GaussianBlur(lobes, (0, 0), size * 0.01), centres


def _anchors(rng: np.random.Generator, where: np.ndarray, count: int) -> list[tuple[float, float]]:
    """`count` random (x, y) points inside a mask (its peak if it is nearly empty)."""
    idx = np.flatnonzero(where)
    if len(idx) == 0:
        return []
    pick = rng.choice(idx, min(count, len(idx)), replace=False)
    return [(float(i % where.shape[1]), float(i // where.shape[1])) for i in pick]


def _risk_signs(rng: np.random.Generator, albedo: np.ndarray, grade: str, cushion: np.ndarray, visible: np.ndarray,
                size: int) -> tuple[np.ndarray, np.ndarray]:
    """Red colour signs (Rf1, and half of Rf2) and a bleeding sign (Rf2), painted on the visible
    cushions (anchored where the cushion is high and the shaft does not cover it)."""
    red_sign = np.zeros((size, size), np.float32)
    bleed = np.zeros((size, size), np.float32)
    yy, xx = grid(size)
    central = (yy - size / 2) ** 2 + (xx - size / 2) ** 2 < (0.32 * size) ** 2  # kept when the view moves closer
    where = (cushion > 0.6) & visible & central
    if not where.any():
        where = (cushion > 0.6) & visible
    if not where.any():
        where = (cushion >= cushion[visible].max() * 0.8) & visible if visible.any() else cushion > 0
    reach = size * 0.15
    if grade in ("Rf1", "Rf2") and (grade == "Rf1" or rng.random() < 0.5):
        for cx, cy in _anchors(rng, where, int(rng.integers(2, 5))):
            for _ in range(int(rng.integers(2, 5))):  # red wale signs: dilated venules along the cushion
                pts = [np.array([cx, cy]) + rng.normal(0, reach * 0.3, 2)]
                direction = rng.normal(0, 1, 2)
                for _k in range(5):
                    direction = direction + rng.normal(0, 0.35, 2)
                    direction /= np.linalg.norm(direction) + 1e-9
                    pts.append(pts[-1] + direction * reach * 0.15)
                cv2.polylines(red_sign, [np.array(pts, np.int32)], False, 1.0,
                              max(2, int(size * rng.uniform(0.012, 0.024))), cv2.LINE_AA)
            for _ in range(int(rng.integers(2, 6))):  # cherry-red spots
                p = np.array([cx, cy]) + rng.normal(0, reach * 0.35, 2)
                cv2.circle(red_sign, (int(p[0]), int(p[1])), max(2, int(size * rng.uniform(0.012, 0.028))), 1.0, -1,
                           cv2.LINE_AA)
        red_sign *= np.clip(cushion * 2, 0, 1)
        blend(albedo, rgb(0.88, 0.05, 0.09), red_sign * 0.95)
    if grade == "Rf2":
        (cx, cy), = _anchors(rng, where, 1) or [(size / 2, size / 2)]
        for kind in rng.choice(["erosion", "thrombus", "oozing", "fresh_blood"], int(rng.integers(1, 3)), replace=False):
            layer = np.zeros((size, size), np.float32)
            p = (int(cx + rng.normal(0, reach * 0.2)), int(cy + rng.normal(0, reach * 0.2)))
            if kind == "erosion":
                axes = (max(3, int(reach * rng.uniform(0.3, 0.55))), max(3, int(reach * rng.uniform(0.2, 0.4))))
                cv2.ellipse(layer, p, axes, float(rng.uniform(0, 180)), 0, 360, 1.0, -1)
                layer *= 0.6 + 0.4 * smooth_noise(rng, size, size, size / 40)
                rim = np.clip(cv2.GaussianBlur(layer, (0, 0), size * 0.006) - layer * 0.8, 0, 1)
                blend(albedo, rgb(0.93, 0.87, 0.64), layer)
                blend(albedo, rgb(0.8, 0.05, 0.08), rim)
            elif kind == "thrombus":
                axes = (max(3, int(reach * rng.uniform(0.3, 0.5))), max(3, int(reach * rng.uniform(0.2, 0.4))))
                cv2.ellipse(layer, p, axes, float(rng.uniform(0, 180)), 0, 360, 1.0, -1)
                layer = cv2.GaussianBlur(layer, (0, 0), size * 0.004)
                blend(albedo, rgb(0.24, 0.04, 0.13), 0.9 * layer)
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
                    cv2.circle(layer, tuple(int(c) for c in pts[-1]), thick * 2, 1.0, -1, cv2.LINE_AA)
                blend(albedo, rgb(0.64, 0.02, 0.04), 0.95 * layer)
            bleed = np.maximum(bleed, layer)
    return red_sign, bleed


@dataclass
class _Shaft:
    alpha: np.ndarray  # HxW coverage
    u: np.ndarray  # position across the tube, -1..1


def _shaft_geometry(rng: np.random.Generator, v: _Verge, size: int, angle: float) -> _Shaft:
    """The endoscope's own insertion tube: it leaves the verge towards the camera, so it widens
    to the image border, with a slight bend; its end is hidden in the folds of the verge."""
    sy, sx = float(np.sin(angle)), float(np.cos(angle))
    along = v.dy * sy + v.dx * sx
    across = -v.dy * sx + v.dx * sy
    across = across - float(rng.normal(0, 0.6)) * (along / size) ** 2 * size
    start = float(size * rng.uniform(-0.02, 0.06))
    # Thin and short when the verge is far from the camera, broad when the scope is close:
    # log-uniform widths, widening 1.5-4x towards the border.
    w0 = float(size * np.exp(rng.uniform(np.log(0.035), np.log(0.14))))
    w1 = min(float(size * 0.45), w0 * float(rng.uniform(1.5, 4.0)))
    u = across / np.maximum(w0 + (w1 - w0) * np.clip(along / size, 0, 1.5), 1)
    edge = start + size * 0.05 * (smooth_noise(rng, size, size, size / 10) - 0.5)
    alpha = ((along > edge) & (np.abs(u) < 1)).astype(np.float32)
    return _Shaft(cv2.GaussianBlur(alpha, (0, 0), max(0.7, size * 0.003)), u)


def _shaft_colour(rng: np.random.Generator, shaft: _Shaft, v: _Verge, size: int, wall: np.ndarray) -> np.ndarray:
    """Black, glossy plastic: specular stripes along its length and the wall's colour reflected
    at grazing angles (planar rgb, shaded inside the tube's bounding box only)."""
    out = np.zeros((3, size, size), np.float32)
    bx, by, bw, bh = cv2.boundingRect((shaft.alpha > 0.002).astype(np.uint8))
    if not (bw and bh):
        return out
    win = (slice(by, by + bh), slice(bx, bx + bw))
    uu = np.clip(shaft.u[win], -0.999, 0.999)
    u0 = float(rng.uniform(-0.8, 0.8))
    stripes = np.exp(-((uu - u0) / float(rng.uniform(0.03, 0.1))) ** 2) * float(rng.uniform(0.4, 1.0))
    if rng.random() < 0.7:
        stripes += np.exp(-((uu - float(rng.uniform(-0.9, 0.9))) / 0.06) ** 2) * float(rng.uniform(0.2, 0.7))
    stripes *= np.clip(0.3 + smooth_noise(rng, bh, bw, size / 5), 0, 1)
    rim = (1 - np.sqrt(1 - uu * uu)) ** 2 * float(rng.uniform(0.1, 0.4))
    light = 0.5 + 0.5 / (1.0 + (v.r[win] / (size * 0.8)) ** 2)
    colour = rgb(0.025, 0.025, 0.03) + rim[None] * wall * 1.2 + stripes[None] * rgb(0.95, 0.95, 0.95)
    out[:, win[0], win[1]] = colour * light[None]
    return out


def render_retroflex(rng: np.random.Generator, size: int, grade: str) -> Scene:
    """The retroflexed (U-turn) view of the anorectum: the scope shaft entering the anal verge,
    with cushions (hemorrhoids) or low folds (normal) converging on it."""
    if grade not in GRADES:
        raise ValueError(f"grade must be one of {GRADES}")
    v = _verge(rng, size)
    hemorrhoid = grade != "normal"
    if rng.random() < 0.6:  # mostly the shortest way out of the view, towards the camera
        edges = [(v.cx, np.pi), (size - v.cx, 0.0), (v.cy, -np.pi / 2), (size - v.cy, np.pi / 2)]
        shaft_angle = float(min(edges)[1] + rng.normal(0, 0.5))
    else:
        shaft_angle = float(rng.uniform(0, 2 * np.pi))
    shaft = _shaft_geometry(rng, v, size, shaft_angle)
    visible = shaft.alpha < 0.05  # what the shaft hides is not visible: masks describe the picture
    lobes, _centres = _anal_lobes(rng, v, size, hemorrhoid, shaft_angle)
    height = size * (0.3 * lobes - 0.25 * (v.r / size) ** 2) + fine_relief(rng, size, 1.0)
    wall = mucosa_colour(rng)
    albedo = mucosa_albedo(rng, size, wall, float(rng.uniform(0.3, 0.9)))
    # The squamous anoderm below the dentate line is paler; papillae dot the line.
    dentate_r = float(size * rng.uniform(0.06, 0.14))
    band = np.exp(-((v.r - dentate_r) / (dentate_r * 0.35)) ** 2) * (0.5 + 0.5 * smooth_noise(rng, size, size, size / 14))
    inside = np.clip(1.2 - v.r / dentate_r, 0, 1)
    blend(albedo, rgb(0.93, 0.76, 0.70), np.clip(0.5 * inside + 0.45 * band, 0, 1) * float(rng.uniform(0.5, 1.0)))
    cushion = np.zeros((size, size), np.float32)
    if hemorrhoid:
        cushion = np.clip((lobes - 0.35) * 2.0, 0, 1)
        tone = float(rng.uniform(0, 1))
        # Bluish-purple to mauve: congested cushions, clearly apart from the red colour signs on them.
        colour = (1 - tone) * rgb(0.56, 0.28, 0.50) + tone * rgb(0.72, 0.42, 0.50)
        blend(albedo, colour, cushion * float(rng.uniform(0.45, 0.8)))
    red_sign, bleed = _risk_signs(rng, albedo, grade, cushion, visible, size)
    light = (v.cy + rng.normal(0, size * 0.2), v.cx + rng.normal(0, size * 0.2))
    img = wet_surface(rng, height, albedo, light, float(rng.uniform(0.4, 0.8)))
    img = _mucus_and_bubbles(rng, img, int(rng.integers(0, 3)), int(rng.integers(0, 4)))
    img *= (1 - 0.6 * cv2.GaussianBlur(shaft.alpha, (0, 0), size * 0.025))[None]  # the tube's contact shadow
    blend(img, _shaft_colour(rng, shaft, v, size, wall), shaft.alpha)
    lit = img[0] > 0.25  # a sign deep in shadow shows no colour: the masks say what can be seen
    masks = {"shaft": shaft.alpha > 0.5, "cushion": (cushion > 0.3) & visible,
             "red_sign": (red_sign > 0.3) & visible & lit, "bleeding_sign": (bleed > 0.3) & visible,
             "dentate_line": (band > 0.4) & visible}
    params = {"grade": grade, "dentate_radius": round(dentate_r / size, 3), "shaft_angle": round(shaft_angle, 3)}
    return Scene(_interleaved(img), masks, params)


# --- forward views --------------------------------------------------------------------------

def _colon_tube(rng: np.random.Generator, size: int, rectum: bool):
    """Looking down the lumen: folds as rings in log-radius (few, wide valves in the rectum),
    the far lumen dark. Returns (height, darkening, light position, falloff, lumen mask)."""
    yy, xx = grid(size)
    # The lumen may sit at, or just beyond, the edge of the view (an oblique look down the colon).
    ly, lx = float(size * rng.uniform(-0.1, 1.1)), float(size * rng.uniform(-0.1, 1.1))
    dy, dx = yy - ly, xx - lx
    r = np.sqrt(dy * dy + dx * dx) + 1
    phi = np.arctan2(dy, dx)
    lr = np.log(r / size) + 0.35 * (smooth_noise(rng, size, size, size / 3) - 0.5)
    spacing = float(rng.uniform(0.6, 0.9) if rectum else rng.uniform(0.3, 0.55))
    folds = (0.5 + 0.5 * np.sin(2 * np.pi * lr / spacing)) ** 3 * (0.5 + 0.5 * np.cos(phi * 3 + rng.uniform(0, 6)) ** 2)
    depth = np.clip(r / float(size * rng.uniform(0.25, 0.6)), 0.04, 1)
    height = size * 0.08 * folds * depth
    darken = (depth ** float(rng.uniform(0.8, 1.8))).astype(np.float32)
    return height, darken, (ly, lx), float(rng.uniform(0.3, 0.6)), depth < 0.25


def _instrument(rng: np.random.Generator, size: int):
    """A catheter, snare or forceps out of the working channel: a narrow tube from the edge of
    the view (not the scope itself; forward views have these during polypectomy).
    Returns (alpha, planar rgb)."""
    yy, xx = grid(size)
    # The working channel exits at the lower right of most scopes' views.
    ey, ex = float(size * rng.uniform(0.75, 1.05)), float(size * rng.uniform(0.6, 1.05))
    angle = float(np.arctan2(size * 0.5 - ey, size * 0.5 - ex) + rng.normal(0, 0.4))
    sy, sx = np.sin(angle), np.cos(angle)
    along = (yy - ey) * sy + (xx - ex) * sx
    across = -(yy - ey) * sx + (xx - ex) * sy
    length = float(size * rng.uniform(0.3, 0.75))
    half = float(size * rng.uniform(0.02, 0.05)) * (1 + 0.3 * np.clip(1 - along / length, 0, 1))
    alpha = ((along > 0) & (along < length) & (np.abs(across) < half)).astype(np.float32)
    alpha = cv2.GaussianBlur(alpha, (0, 0), max(0.7, size * 0.003))
    u = np.clip(across / half, -1, 1)
    body = rgb(*rng.choice([[0.05, 0.05, 0.06], [0.1, 0.2, 0.45], [0.8, 0.8, 0.82]]).tolist())
    stripe = np.exp(-((u - float(rng.uniform(-0.5, 0.5))) / 0.15) ** 2) * float(rng.uniform(0.3, 0.8))
    marks = (np.sin(along / (size * 0.02)) > 0.9).astype(np.float32) * (rng.random() < 0.4)
    colour = body * (0.6 + 0.4 * np.sqrt(1 - u * u))[None] + (stripe + 0.6 * marks)[None] * rgb(0.9, 0.9, 0.9)
    return alpha, colour.astype(np.float32)


def render_forward(rng: np.random.Generator, size: int, rectum: bool = False) -> Scene:
    """A forward view of the colon (or rectum): down the lumen, or the wall close up; sometimes a
    polyp, sometimes inflamed (colitis-like redness, granularity, erosions)."""
    yy, xx = grid(size)
    masks: dict[str, np.ndarray] = {}
    if rng.random() < 0.55 or rectum:
        height, darken, light, falloff, lumen = _colon_tube(rng, size, rectum)
        masks["lumen"] = lumen
    else:  # the wall close up: no lumen in view, a fold or two across it
        height = size * 0.2 * fractal_noise(rng, size, size, size / 2, octaves=2)
        for _ in range(int(rng.integers(0, 3))):
            a = float(rng.uniform(0, np.pi))
            d = (yy - size * rng.uniform(0.1, 0.9)) * np.cos(a) - (xx - size * rng.uniform(0.1, 0.9)) * np.sin(a)
            d = d + size * 0.15 * (smooth_noise(rng, size, size, size / 2) - 0.5)
            height = height + size * float(rng.uniform(0.05, 0.12)) * np.exp(-(d / (size * rng.uniform(0.03, 0.08))) ** 2)
        darken = None
        light = (float(size * rng.uniform(0.2, 0.8)), float(size * rng.uniform(0.2, 0.8)))
        falloff = float(rng.uniform(0.5, 1.0))
    inflamed = float(rng.uniform(0.3, 1.0)) if rng.random() < 0.3 else 0.0
    albedo = mucosa_albedo(rng, size, mucosa_colour(rng), float(rng.uniform(0.3, 0.9)), inflamed)
    if inflamed:
        height = height + fine_relief(rng, size, 2.5 * inflamed)  # granular mucosa
        spots = np.zeros((size, size), np.float32)
        for _ in range(int(rng.integers(0, 12))):
            y, x = rng.integers(0, size, 2)
            cv2.circle(spots, (int(x), int(y)), max(1, int(size * rng.uniform(0.005, 0.02))), 1.0, -1, cv2.LINE_AA)
        blend(albedo, rgb(0.92, 0.88, 0.7) if rng.random() < 0.6 else rgb(0.6, 0.03, 0.05), spots)
    if rng.random() < 0.45:
        py, px = (rng.uniform(0.15, 0.85, 2) * size).tolist()
        pr = float(size * rng.uniform(0.06, 0.2))
        blob = np.exp(-((((yy - py) ** 2 + (xx - px) ** 2) / pr ** 2) ** 1.5))
        height = height + size * 0.2 * blob
        blend(albedo, rgb(0.92, 0.64, 0.56), float(rng.uniform(0.2, 0.6)) * blob)
        masks["polyp"] = blob > 0.5
    height = height + fine_relief(rng, size, 1.0)
    img = wet_surface(rng, height, albedo, light, falloff, darken)
    img = _mucus_and_bubbles(rng, img, int(rng.integers(0, 3)), int(rng.integers(0, 5)))
    tool = not rectum and rng.random() < 0.15
    if tool:
        alpha, colour = _instrument(rng, size)
        blend(img, colour, alpha)
        masks["instrument"] = alpha > 0.5
    return Scene(_interleaved(img), masks, {"kind": "rectum" if rectum else "forward", "inflamed": round(inflamed, 2),
                                            "instrument": tool})


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

    Uninformative frames are built on forward views: a blurred or bubbly retroflexed view
    still shows the shaft and is still retroflexed, and labelling it "other" taught the gate
    noise. Only a dark frame, which hides the anatomy, may hide a retroflexed view
    (`forward_only` keeps even that forward, as procedure videos need)."""
    if kind is None:
        kind = str(rng.choice(OTHER_KINDS, p=[0.55, 0.12, 0.05, 0.06, 0.06, 0.05, 0.06, 0.05]))
    if kind == "forward":
        return render_forward(rng, size)
    if kind == "rectum":
        return render_forward(rng, size, rectum=True)
    if kind == "out_of_body":
        return render_out_of_body(rng, size)
    retro_under = kind == "dark" and not forward_only and rng.random() < 0.4
    under = render_retroflex(rng, size, str(rng.choice(GRADES))) if retro_under else render_forward(rng, size)
    img = under.rgb
    if kind == "blur":
        k = int(size * rng.uniform(0.08, 0.2)) | 1
        kernel = np.zeros((k, k), np.float32)
        cv2.line(kernel, (0, k // 2), (k - 1, k // 2), 1.0, 1)
        rot = cv2.getRotationMatrix2D((k / 2, k / 2), float(rng.uniform(0, 180)), 1.0)
        kernel = cv2.warpAffine(kernel, rot, (k, k))
        img = cv2.filter2D(img, -1, kernel / max(kernel.sum(), 1e-6))
    elif kind == "water":
        streak = cv2.GaussianBlur(fractal_noise(rng, size, size, size / 5), (0, 0), size * 0.01)
        img = _interleaved(blend(_planar(img), rgb(0.85, 0.92, 0.95), np.clip((streak - 0.3) * 2.2, 0, 1)))
        img = cv2.GaussianBlur(img, (0, 0), size * 0.01)
    elif kind == "dark":
        img = img * rng.uniform(0.03, 0.12)
    elif kind == "bubbles":
        img = _interleaved(_mucus_and_bubbles(rng, _planar(img), 2, int(rng.integers(40, 90))))
    elif kind == "blood":
        a = np.clip(0.7 + 0.3 * smooth_noise(rng, size, size, size / 4), 0, 1)
        img = _interleaved(blend(_planar(img), rgb(0.45, 0.02, 0.04), a))
    return Scene(np.clip(img, 0, 1).astype(np.float32), {}, {"kind": kind})
