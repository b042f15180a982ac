"""Grad-CAM, and the two places its gradients come from.

The head starts with global average pooling, g_k = mean_ij A_k(i, j), so
dy/dA_k(i, j) = (dy/dg_k) / (h*w) at every position: `head_gradients` turns the gradient of the
small dense head into dy/dA, and the map needs no gradient through the backbone.
`full_tape_gradients` is the standard way (the keras.io example: a tape through the whole
model), kept as the reference the head-only map must equal.
"""

from __future__ import annotations

import numpy as np

from livescope.cam.base import BaseCam


class GradCam(BaseCam):
    """Channel weight = the mean over positions of dy/dA (Selvaraju et al. 2017)."""

    def get_cam_weights(self, activations, grads):
        return self.xp.mean(grads, axis=(1, 2))


def head_gradients(xp, pooled_grads, activations):
    """dy/dA from dy/dg, for a head that begins with global average pooling."""
    if xp is np:
        shape = activations.shape
        return np.broadcast_to(pooled_grads[:, None, None, :] / (shape[1] * shape[2]), shape)
    import tensorflow as tf  # inside a compiled graph: the batch size is only known at run time

    shape = tf.shape(activations)
    positions = tf.cast(shape[1] * shape[2], pooled_grads.dtype)
    return tf.broadcast_to((pooled_grads / positions)[:, None, None, :], shape)


def full_tape_gradients(model, task: str, images, class_index):
    """(activations, dy/dA) with a tape through the whole model, as the keras.io Grad-CAM does."""
    from livescope.tfenv import tf

    t = tf()
    backbone = model.get_layer("backbone")
    head = model.get_layer(f"head_{task}")
    with t.GradientTape() as tape:
        fmap = backbone(images, training=False)
        tape.watch(fmap)
        logits = head(t.reduce_mean(fmap, axis=[1, 2]), training=False)
        score = t.gather(logits, class_index, axis=1, batch_dims=1)
    return fmap, tape.gradient(score, fmap)
