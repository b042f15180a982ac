"""Augmentation as the paper (flips, rotation, zoom, brightness, contrast), colour kept mild
because the Rf grade is a colour cue."""

from __future__ import annotations

import cv2
import numpy as np


def augment(rng: np.random.Generator, img: np.ndarray, rotation: float = 30.0, zoom: float = 0.1,
            brightness: float = 0.1, contrast: float = 0.1) -> np.ndarray:
    """One random draw for one uint8 RGB image (same size out)."""
    h, w = img.shape[:2]
    if rng.random() < 0.5:
        img = img[:, ::-1]
    if rng.random() < 0.5:
        img = img[::-1]
    angle = float(rng.uniform(-rotation, rotation))
    scale = float(rng.uniform(1 - zoom, 1 + zoom))
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    out = cv2.warpAffine(np.ascontiguousarray(img), m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    f = out.astype(np.float32)
    mean = f.mean()
    f = (f - mean) * float(rng.uniform(1 - contrast, 1 + contrast)) + mean
    f = f + 255.0 * float(rng.uniform(-brightness, brightness))
    return np.clip(f, 0, 255).astype(np.uint8)


def augment_batch(images: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([augment(rng, im) for im in images])
