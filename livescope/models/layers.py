"""Keras 3 layers for the two paper backbones that keras.applications lacks (ViT, ConvMixer).

All registered as serializable so bundles load with `safe_mode=True` (no Lambda, no pickle).
"""

from __future__ import annotations

import keras
from keras import layers


@keras.saving.register_keras_serializable(package="livescope")
class PatchEmbedding(layers.Layer):
    """Non-overlapping patches projected to `dim`, plus a learned position embedding."""

    def __init__(self, patch_size: int, dim: int, **kwargs):
        super().__init__(**kwargs)
        self.patch_size = patch_size
        self.dim = dim
        self.proj = layers.Conv2D(dim, patch_size, strides=patch_size, padding="valid", name="proj")

    def build(self, input_shape):
        self.proj.build(input_shape)
        gh = input_shape[1] // self.patch_size
        gw = input_shape[2] // self.patch_size
        self.grid = (gh, gw)
        self.pos = self.add_weight(name="pos_embedding", shape=(1, gh * gw, self.dim),
                                   initializer=keras.initializers.RandomNormal(stddev=0.02))

    def call(self, x):
        x = self.proj(x)
        b = keras.ops.shape(x)[0]
        x = keras.ops.reshape(x, (b, self.grid[0] * self.grid[1], self.dim))
        return x + self.pos

    def compute_output_shape(self, input_shape):
        gh = input_shape[1] // self.patch_size
        gw = input_shape[2] // self.patch_size
        return (input_shape[0], gh * gw, self.dim)

    def get_config(self):
        return {**super().get_config(), "patch_size": self.patch_size, "dim": self.dim}


@keras.saving.register_keras_serializable(package="livescope")
class TransformerBlock(layers.Layer):
    """Pre-norm transformer encoder block (as in ViT)."""

    def __init__(self, dim: int, heads: int, mlp_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.dim, self.heads, self.mlp_dim = dim, heads, mlp_dim
        self.norm1 = layers.LayerNormalization(epsilon=1e-6, name="norm1")
        self.attn = layers.MultiHeadAttention(heads, dim // heads, name="attn")
        self.norm2 = layers.LayerNormalization(epsilon=1e-6, name="norm2")
        self.fc1 = layers.Dense(mlp_dim, activation="gelu", name="fc1")
        self.fc2 = layers.Dense(dim, name="fc2")

    def build(self, input_shape):
        self.norm1.build(input_shape)
        self.attn.build(input_shape, input_shape)
        self.norm2.build(input_shape)
        self.fc1.build(input_shape)
        self.fc2.build((*input_shape[:-1], self.mlp_dim))

    def call(self, x):
        y = self.norm1(x)
        x = x + self.attn(y, y)
        return x + self.fc2(self.fc1(self.norm2(x)))

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "heads": self.heads, "mlp_dim": self.mlp_dim}


@keras.saving.register_keras_serializable(package="livescope")
class TokensToGrid(layers.Layer):
    """(B, N, D) patch tokens back to their (B, gh, gw, D) grid, for pooling and Grad-CAM."""

    def __init__(self, grid: tuple[int, int], **kwargs):
        super().__init__(**kwargs)
        self.grid = tuple(grid)

    def call(self, x):
        return keras.ops.reshape(x, (keras.ops.shape(x)[0], self.grid[0], self.grid[1], x.shape[-1]))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.grid[0], self.grid[1], input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "grid": list(self.grid)}


def vit(x, patch_size: int = 16, dim: int = 384, depth: int = 12, heads: int = 6, mlp_dim: int = 1536):
    """ViT-S/16 body. Returns the final, normalised patch-token grid: the head pools it (the
    GAP-classifier ViT variant), so head-only Grad-CAM is exact on the same tokens."""
    emb = PatchEmbedding(patch_size, dim, name="patch_embedding")
    t = emb(x)
    for i in range(depth):
        t = TransformerBlock(dim, heads, mlp_dim, name=f"block_{i}")(t)
    t = layers.LayerNormalization(epsilon=1e-6, name="encoder_norm")(t)
    grid = (x.shape[1] // patch_size, x.shape[2] // patch_size)
    return TokensToGrid(grid, name="token_grid")(t)


def convmixer(x, dim: int = 768, depth: int = 32, patch_size: int = 7, kernel_size: int = 7):
    """ConvMixer-768/32 (Trockman & Kolter), as in the keras.io example."""
    x = layers.Conv2D(dim, patch_size, strides=patch_size, name="stem")(x)
    x = layers.Activation("gelu", name="stem_gelu")(x)
    x = layers.BatchNormalization(name="stem_bn")(x)
    for i in range(depth):
        r = x
        x = layers.DepthwiseConv2D(kernel_size, padding="same", name=f"mix{i}_dw")(x)
        x = layers.Activation("gelu", name=f"mix{i}_dw_gelu")(x)
        x = layers.BatchNormalization(name=f"mix{i}_dw_bn")(x)
        x = layers.Add(name=f"mix{i}_res")([x, r])
        x = layers.Conv2D(dim, 1, name=f"mix{i}_pw")(x)
        x = layers.Activation("gelu", name=f"mix{i}_pw_gelu")(x)
        x = layers.BatchNormalization(name=f"mix{i}_pw_bn")(x)
    return x


def tiny_cnn(x, width: int = 16):
    """A few convolutions: a backbone for tests and quick checks, not for results."""
    for i, mult in enumerate((1, 2, 2, 4)):
        x = layers.Conv2D(width * mult, 3, strides=2, padding="same", name=f"tiny_conv{i}")(x)
        x = layers.BatchNormalization(name=f"tiny_bn{i}")(x)
        x = layers.Activation("relu", name=f"tiny_relu{i}")(x)
    return x
