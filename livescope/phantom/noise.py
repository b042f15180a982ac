"""Smooth random fields made by upsampling small random grids (fast, deterministic per RNG)."""

from __future__ import annotations

import cv2
import numpy as np


def smooth_noise(rng: np.random.Generator, h: int, w: int, cell: float) -> np.ndarray:
    """Noise in [0, 1] with features about `cell` pixels across."""
    gh = max(2, int(h / cell) + 2)
    gw = max(2, int(w / cell) + 2)
    grid = rng.random((gh, gw), dtype=np.float32)
    # Cubic to a quarter of the size, then linear: looks the same for features of 8+ pixels
    # and is several times faster than one large cubic upsampling.
    mh, mw = max(gh * 4, h // 4), max(gw * 4, w // 4)
    if mh < h and mw < w:
        grid = cv2.resize(grid, (mw, mh), interpolation=cv2.INTER_CUBIC)
        out = cv2.resize(grid, (w, h), interpolation=cv2.INTER_LINEAR)
    else:
        out = cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(out, 0, 1, out=out)


def fractal_noise(rng: np.random.Generator, h: int, w: int, cell: float, octaves: int = 3) -> np.ndarray:
    out = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    for _ in range(octaves):
        out += amp * smooth_noise(rng, h, w, cell)
        total += amp
        amp *= 0.5
        cell = max(2.0, cell / 2)
    return out / total


def ridges(rng: np.random.Generator, h: int, w: int, cell: float, width: float = 0.06) -> np.ndarray:
    """Thin branching lines (where a smooth field crosses 0.5): a vessel-like network in [0, 1]."""
    n = fractal_noise(rng, h, w, cell, octaves=2)
    d = np.abs(n - 0.5)
    return np.clip(1.0 - d / width, 0, 1) ** 2
