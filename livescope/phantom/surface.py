"""A wet mucosal surface under the endoscope's own light: the look every phantom scene shares.

Scenes differ by geometry only (a height field, and the scope shaft in retroflexed views);
the texture, vessels, lighting, gloss and speckles come from here for every class, so a
model cannot tell a class by how "real" its surface looks.

Colour images are planar (3, H, W) float32 in [0, 1] (see scenes.py for why).
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from livescope.phantom.noise import fractal_noise, ridges, smooth_noise


def rgb(*v: float) -> np.ndarray:
    """A colour shaped (3, 1, 1), to broadcast over planar images."""
    return np.array(v, np.float32).reshape(3, 1, 1)


def blend(img: np.ndarray, colour, alpha: np.ndarray) -> np.ndarray:
    """img + (colour - img) * alpha, in place (planar img (3, H, W); colour (3, 1, 1) or planar; alpha HxW)."""
    img += (colour - img) * alpha.astype(np.float32, copy=False)[None]
    return img


@lru_cache(maxsize=16)
def grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates, shared between calls (read-only)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    yy.flags.writeable = xx.flags.writeable = False
    return yy, xx


def mucosa_colour(rng: np.random.Generator) -> np.ndarray:
    """Rectal and colonic mucosa: salmon pink to orange, one draw per scene (any class)."""
    warm = float(rng.uniform(0, 1))
    base = (1 - warm) * np.array([0.92, 0.46, 0.40]) + warm * np.array([0.95, 0.56, 0.32])
    return rgb(*(base * (1 + rng.normal(0, 0.06, 3))).tolist())


def mucosa_albedo(rng: np.random.Generator, size: int, base: np.ndarray, vessels: float,
                  inflamed: float = 0.0) -> np.ndarray:
    """Surface colour with texture, hue wander and a submucosal vessel network; `inflamed`
    (0-1) reddens the surface and hides the vessels, as in colitis."""
    tex = fractal_noise(rng, size, size, size / 5, octaves=4)
    img = base * (0.86 + 0.28 * tex)[None]
    hue = smooth_noise(rng, size, size, size / 3)[None]
    img = img * (1 + 0.14 * (hue - 0.5) * rgb(0.3, -1.0, -0.6))
    fine = ridges(rng, size, size, size / 8, width=0.02)
    coarse = ridges(rng, size, size, size / 4, width=0.018)
    fade = smooth_noise(rng, size, size, size / 3)
    v = np.clip(0.5 * fine + 0.8 * coarse, 0, 1) * vessels * fade * (1 - inflamed)
    blend(img, rgb(0.50, 0.08, 0.12), v)
    if inflamed > 0:
        blotch = smooth_noise(rng, size, size, size / 12)
        blend(img, rgb(0.78, 0.16, 0.16), inflamed * (0.35 + 0.5 * blotch))
    return img.astype(np.float32)


def fine_relief(rng: np.random.Generator, size: int, amount: float) -> np.ndarray:
    """Small-scale relief of the surface (in pixels of height): it breaks up the highlights."""
    return (amount * size * 0.006) * fractal_noise(rng, size, size, size / 20, octaves=2)


def shade(height: np.ndarray, albedo: np.ndarray, light_yx: tuple[float, float], falloff: float,
          gloss: float, shininess: float, exposure: float = 1.25, ambient: float = 0.25):
    """Lambert plus a broad glossy lobe, lit from the scope tip (the light sits beside the
    camera, so the view and light directions nearly coincide), with near-field falloff.

    height: HxW, in pixels towards the camera. Returns (image, n.l, light falloff)."""
    size = height.shape[0]
    gy, gx = np.gradient(height.astype(np.float32, copy=False))
    norm = 1.0 / np.sqrt(gx * gx + gy * gy + 1.0)
    yy, xx = grid(size)
    lz = size * 0.8
    ly, lx = light_yx
    vx, vy, vz = lx - xx, ly - yy, lz + height
    dist = np.sqrt(vx * vx + vy * vy + vz * vz)
    ndl = np.clip((-gx * vx - gy * vy + vz) * norm / dist, 0, 1)
    fall = 1.0 / (1.0 + (np.maximum(dist - lz * 0.7, 0) / (size * falloff)) ** 2)
    # Creases and hollows get less light than the ridges around them (ambient occlusion).
    hollow = cv2.GaussianBlur(height, (0, 0), size * 0.04) - height
    occlusion = np.clip(1.0 - hollow / (size * 0.03), 0.45, 1.0)
    diffuse = (exposure * (ambient + (1 - ambient) * ndl) * fall * occlusion)[None]
    spec = (gloss * ndl ** shininess * fall)[None]
    return (albedo * diffuse + spec).astype(np.float32), ndl, fall


def speckles(rng: np.random.Generator, size: int, weight: np.ndarray, count: int) -> np.ndarray:
    """Tiny specular reflections of a wet surface (mucus film), clustered, more where
    `weight` is high (surfaces facing the light). Returns an HxW layer in [0, 1]."""
    layer = np.zeros((size, size), np.float32)
    cluster = smooth_noise(rng, size, size, size / 6) ** 2
    cand = rng.integers(0, size, (count * 4, 2))
    keep = rng.random(count * 4) < np.clip(weight * (0.15 + 1.7 * cluster), 0, 1)[cand[:, 0], cand[:, 1]]
    pts = cand[keep][:count]
    shape = rng.uniform(0, 1, (len(pts), 4))
    for (y, x), (s, e, a, v) in zip(pts, shape, strict=True):
        ax = max(1, int(round(size * (0.001 + 0.004 * s ** 2))))
        ay = max(1, int(round(ax * (0.3 + 0.7 * e))))
        cv2.ellipse(layer, (int(x), int(y)), (ax, ay), float(180 * a), 0, 360, 0.3 + 0.7 * float(v), -1, cv2.LINE_AA)
    return cv2.GaussianBlur(layer, (0, 0), 0.6)


def wet_surface(rng: np.random.Generator, height: np.ndarray, albedo: np.ndarray, light_yx, falloff: float,
                darken: np.ndarray | None = None, speckle_count: tuple[int, int] = (15, 160)) -> np.ndarray:
    """Shade a surface and add its speckles: the common finish of every scene. `darken` (HxW,
    0-1) multiplies the light where the geometry recedes (a lumen, the far wall)."""
    size = height.shape[0]
    img, ndl, fall = shade(height, albedo, light_yx, falloff, gloss=float(rng.uniform(0.3, 0.8)),
                           shininess=float(rng.uniform(25, 90)), exposure=float(rng.uniform(1.45, 1.9)), ambient=0.3)
    light = fall if darken is None else fall * darken
    if darken is not None:
        img *= darken[None]
    sp = speckles(rng, size, np.clip(0.15 + 0.85 * ndl ** 6, 0, 1) * np.clip(light * 1.5, 0, 1),
                  int(rng.integers(*speckle_count)))
    return blend(img, rgb(1.0, 1.0, 1.0), sp * np.clip(light * 1.5, 0, 1))
