"""Class activation maps: ReLU(sum_k w_k A_k) over a feature map A.

As in pytorch-grad-cam's `BaseCAM`, a method overrides one thing, `get_cam_weights`: how the
channel weights w come from the activations and the gradients dy/dA. Where the gradients come
from (the head alone, or a tape through the whole model) is the caller's business.

The maths is written once against an array namespace `xp`: NumPy for the fast engines, and
`tensorflow.experimental.numpy` inside the cascade's compiled call, so the live heatmap and the
tested one are the same code.
"""

from __future__ import annotations

import numpy as np


class BaseCam:
    def __init__(self, xp=np):
        self.xp = xp

    def get_cam_weights(self, activations, grads):
        """(B, h, w, C) activations and dy/dA -> (B, C) channel weights."""
        raise NotImplementedError

    def __call__(self, activations, grads):
        """Raw maps (B, h, w), not normalised."""
        w = self.get_cam_weights(activations, grads)
        return self.xp.maximum(self.xp.einsum("bhwc,bc->bhw", activations, w), 0.0)

    @staticmethod
    def normalise(cam: np.ndarray) -> np.ndarray:
        """Scale each map to [0, 1] for display (a flat map stays 0)."""
        cam = np.asarray(cam, np.float32)
        peak = cam.reshape(cam.shape[0], -1).max(1).reshape(-1, 1, 1) if cam.ndim == 3 else cam.max()
        return np.where(peak > 1e-12, cam / np.maximum(peak, 1e-12), 0.0).astype(np.float32)
