"""Grad-CAM from the head alone, and the standard full-tape Grad-CAM it must equal.

The head starts with global average pooling, g_k = mean_ij A_k(i, j), so
dy/dA_k(i, j) = (dy/dg_k) / (h*w) at every position. The Grad-CAM weight alpha_k, the mean of
dy/dA_k over positions, is therefore dy/dg_k / (h*w): only the small dense head needs a
gradient, and the feature map comes from the same forward pass that classified the frame.
"""

from __future__ import annotations

from livescope.cam.base import BaseCam
from livescope.tfenv import tf


class GradCam(BaseCam):
    """Head-only Grad-CAM for one task head of a bundle model."""

    def __init__(self, head):
        self.head = head

    def channel_weights(self, pooled, class_index, positions):
        t = tf()
        with t.GradientTape() as tape:
            tape.watch(pooled)
            logits = self.head(pooled, training=False)
            score = t.gather(logits, class_index, axis=1, batch_dims=1)
        grads = tape.gradient(score, pooled)
        return grads / t.cast(positions, grads.dtype)

    def __call__(self, fmap, class_index):
        """fmap (B,h,w,C) from the forward pass, class_index (B,) int -> (B,h,w) raw maps."""
        t = tf()
        pooled = t.reduce_mean(fmap, axis=[1, 2])
        positions = t.shape(fmap)[1] * t.shape(fmap)[2]
        return self.combine(fmap, self.channel_weights(pooled, class_index, positions))


class FullTapeGradCam(BaseCam):
    """Standard Grad-CAM (as the keras.io example): the gradient of the class logit with
    respect to the last feature map, taped through the whole model from the input image."""

    def __init__(self, model, task: str):
        self.backbone = model.get_layer("backbone")
        self.head = model.get_layer(f"head_{task}")

    def channel_weights(self, images, class_index):
        t = tf()
        with t.GradientTape() as tape:
            fmap = self.backbone(images, training=False)
            tape.watch(fmap)
            logits = self.head(t.reduce_mean(fmap, axis=[1, 2]), training=False)
            score = t.gather(logits, class_index, axis=1, batch_dims=1)
        grads = tape.gradient(score, fmap)
        return fmap, t.reduce_mean(grads, axis=[1, 2])

    def __call__(self, images, class_index):
        fmap, alpha = self.channel_weights(images, class_index)
        return self.combine(fmap, alpha)
