"""Reading images of any common kind into RGB uint8, and scaling them down well.

The endoscope image area is found in `endoscope_area.py`; what a network sees of a frame is
`model_input.py`."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from livescope.errors import LivescopeError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"}
MIN_SIDE = 32  # smaller than this carries no usable detail for any of the models


class ImageReadError(ValueError):
    pass


def to_rgb_uint8(img: np.ndarray, notes: list[str] | None = None) -> np.ndarray:
    """Grey, RGBA/BGRA and 16-bit images become 3-channel uint8 (OpenCV's BGR order in, RGB out)."""
    if img is None or img.size == 0:
        raise ImageReadError("empty image")
    if img.dtype == np.uint16:
        img = (img / 257).astype(np.uint8)
        if notes is not None:
            notes.append("16-bit converted to 8-bit")
    elif img.dtype in (np.float32, np.float64):
        img = np.clip(img * (255 if img.max() <= 1.0 else 1), 0, 255).astype(np.uint8)
    elif img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    if img.ndim == 2:
        if notes is not None:
            notes.append("grey converted to RGB")
        return cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    if img.shape[2] == 4:
        if notes is not None:
            notes.append("alpha channel dropped")
        return cv2.cvtColor(img, cv2.COLOR_BGRA2RGB)
    if img.shape[2] == 1:
        return cv2.cvtColor(img[..., 0], cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def read_image(path: str | Path, notes: list[str] | None = None) -> np.ndarray:
    """Read an image file as RGB uint8; raises ImageReadError with the reason."""
    path = Path(path)
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as exc:
        raise ImageReadError(f"cannot read {path}: {exc.strerror}") from None
    if data.size == 0:
        raise ImageReadError(f"{path} is empty (0 bytes)")
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ImageReadError(f"{path} is not a readable image")
    if min(img.shape[:2]) < MIN_SIDE:
        raise ImageReadError(f"{path} is too small ({img.shape[1]}x{img.shape[0]} px; at least {MIN_SIDE} px a side)")
    return to_rgb_uint8(img, notes)


def read_image_or_exit(path: str | Path) -> np.ndarray:
    path = Path(path)
    if not path.exists():
        raise LivescopeError(f"image {path} does not exist", "check the path")
    if path.is_dir():
        raise LivescopeError(f"{path} is a folder, not an image", "give one image file")
    try:
        return read_image(path)
    except ImageReadError as exc:
        raise LivescopeError(str(exc), "give a JPEG, PNG, BMP or TIFF image") from None


def downscale(rgb: np.ndarray, size: int) -> np.ndarray:
    """size x size, anti-aliased. Gaussian pyramid halvings first: OpenCV's INTER_AREA is
    slow for large non-integer ratios (12 ms for a 1080p endoscope area), pyrDown is not."""
    while min(rgb.shape[:2]) >= 2 * size:
        rgb = cv2.pyrDown(rgb)
    interp = cv2.INTER_AREA if min(rgb.shape[:2]) > size else cv2.INTER_LINEAR
    return cv2.resize(rgb, (size, size), interpolation=interp)
