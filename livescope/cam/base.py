"""Class activation maps: ReLU(sum_k alpha_k A_k); each method overrides how alpha is found."""

from __future__ import annotations

import numpy as np

from livescope.tfenv import tf


class BaseCam:
    """Subclasses override `channel_weights`; the map itself is computed here."""

    def channel_weights(self, *args, **kwargs):  # -> (B, C) tensor
        raise NotImplementedError

    @staticmethod
    def combine(fmap, alpha):
        """ReLU of the alpha-weighted sum of feature-map channels: (B,h,w,C),(B,C) -> (B,h,w)."""
        t = tf()
        return t.nn.relu(t.einsum("bhwc,bc->bhw", fmap, alpha))

    @staticmethod
    def normalise(cam: np.ndarray) -> np.ndarray:
        """Scale each map to [0, 1] for display (a flat map stays 0)."""
        cam = np.asarray(cam, np.float32)
        peak = cam.reshape(cam.shape[0], -1).max(1).reshape(-1, 1, 1) if cam.ndim == 3 else cam.max()
        return np.where(peak > 1e-12, cam / np.maximum(peak, 1e-12), 0.0).astype(np.float32)
