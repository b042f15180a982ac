"""What a network sees of a frame: the one function training, evaluation, `explain`, the live
cascade and the demo all call, with the preprocessing the bundle's card names."""

from __future__ import annotations

import cv2
import numpy as np

from livescope.data.endoscope_area import ImageArea, find_image_area
from livescope.data.images import downscale


def model_input(rgb: np.ndarray, size: int, crop: bool, mask: bool = False,
                area: ImageArea | None = None) -> np.ndarray:
    """size x size uint8 RGB. `crop`: only the endoscope area's bounding box (found here unless
    `area` is given; the whole frame when none is found); `mask`: and black outside the area's
    outline (the on-screen text in its cut corners)."""
    if crop:
        area = area if area is not None else find_image_area(rgb)
        if area is not None:
            small = downscale(area.crop(rgb), size)
            if mask:
                weight = area.crop_mask_at(size, size)
                small = cv2.multiply(small, cv2.merge([weight, weight, weight]), dtype=cv2.CV_8U)
            return small
    return downscale(rgb, size)
