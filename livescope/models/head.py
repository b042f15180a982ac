"""The paper's classification head and the assembled multi-head model."""

from __future__ import annotations

from livescope.tfenv import keras

# The paper: Dense 1024, 512, 256, 64 (ReLU), then the output layer. The paper's text says the
# task B output is "ReLU"; a 3-class output needs softmax, so we treat that as a misprint.
PAPER_HEAD_UNITS = (1024, 512, 256, 64)


def build_head(task: str, in_dim: int, n_classes: int, units=PAPER_HEAD_UNITS):
    """Pooled feature vector -> class logits (softmax is applied outside, so Grad-CAM can
    differentiate the logit of a class)."""
    k = keras()
    inp = k.Input((in_dim,), name=f"{task}_pooled")
    x = inp
    for i, u in enumerate(units):
        x = k.layers.Dense(u, activation="relu", name=f"{task}_dense{i}")(x)
    logits = k.layers.Dense(n_classes, name=f"{task}_logits")(x)
    return k.Model(inp, logits, name=f"head_{task}")


def pool(t, features):
    """Global average pooling of a feature map; a pooled vector (some TF-Hub modules) as it is."""
    return t.reduce_mean(features, axis=[1, 2]) if len(features.shape) == 4 else features


def assemble(backbone, heads: dict) -> object:
    """image -> backbone -> feature map -> global average pool -> heads.

    Outputs a dict: 'features' (the feature map, for Grad-CAM; absent when the backbone gives
    only a pooled vector) and one softmax per task."""
    k = keras()
    size = backbone.input_shape[1]
    inp = k.Input((size, size, 3), dtype="uint8", name="image")
    fmap = backbone(inp)
    outputs = {}
    if len(fmap.shape) == 4:
        pooled = k.layers.GlobalAveragePooling2D(name="pool")(fmap)
        outputs["features"] = fmap
    else:
        pooled = fmap
    for task, head in heads.items():
        outputs[task] = k.layers.Activation("softmax", name=f"{task}_probs")(head(pooled))
    return k.Model(inp, outputs, name="livescope_model")


def feature_dim(backbone) -> int:
    return int(backbone.output_shape[-1])
