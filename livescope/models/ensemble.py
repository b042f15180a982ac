"""An ensemble of livescope models as one model: the same bundle format, so the live cascade,
every engine, Grad-CAM, `evaluate`, the demo and the archive run it unchanged.

`ensemble_model([m1, ..., mN])` puts the members' backbones side by side (one "backbone" whose
feature map is their maps concatenated along channels) and gives each task one head that slices
the pooled vector back into the members' parts, runs each member's own head and returns
log(mean of the members' softmax). The cascade's softmax of that is exactly the mean of the
members' probabilities: the combination measured to carry beyond the phantom (averaging logits
instead gave more false positives on real forward views; README, "Real frames").

Grad-CAM needs nothing new: the concatenated map's channel weights come from the gradient of the
explained class's log mean probability, so each member adds its own map, weighted by how much it
supports that class.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from livescope.errors import LivescopeError

COMBINE = "mean of the members' probabilities"  # what a card says of how an ensemble combines


@keras.saving.register_keras_serializable(package="livescope")
class FeatureSlice(keras.layers.Layer):
    """Columns [start, stop) of a (B, D) vector: one member's part of the pooled features."""

    def __init__(self, start: int, stop: int, **kwargs):
        super().__init__(**kwargs)
        self.start, self.stop = int(start), int(stop)

    def call(self, x):
        return x[:, self.start:self.stop]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.stop - self.start)

    def get_config(self):
        return {**super().get_config(), "start": self.start, "stop": self.stop}


@keras.saving.register_keras_serializable(package="livescope")
class MeanProbabilityLogits(keras.layers.Layer):
    """The members' logits -> log of the mean of their softmax (a softmax of it gives the mean)."""

    def call(self, logits):
        stacked = keras.ops.stack([keras.ops.log_softmax(z, axis=-1) for z in logits], axis=0)
        return keras.ops.logsumexp(stacked, axis=0) - float(np.log(len(logits)))

    def compute_output_shape(self, input_shape):
        return input_shape[0]


def is_ensemble_head(head) -> bool:
    return any(isinstance(layer, MeanProbabilityLogits) for layer in head.layers)


def member_heads(head) -> list[tuple[int, int, object]]:
    """(start, stop, member head) for each member of an ensemble head, in order."""
    slices = [layer for layer in head.layers if isinstance(layer, FeatureSlice)]
    heads = [layer for layer in head.layers if isinstance(layer, keras.Model)]
    if len(slices) != len(heads):
        raise LivescopeError(f"head {head.name} is not a livescope ensemble head", "rebuild it with `livescope train --ensemble`")
    return [(s.start, s.stop, h) for s, h in zip(slices, heads, strict=True)]


def ensemble_model(models: list) -> keras.Model:
    """One livescope model from N (same input size and tasks; each with a spatial feature map)."""
    if len(models) < 2:
        raise LivescopeError("an ensemble needs at least two models", "give two or more bundles")
    size = models[0].input_shape[1]
    tasks = [t for t in models[0].output if t != "features"]
    for m in models:
        if m.input_shape[1] != size or sorted(t for t in m.output if t != "features") != sorted(tasks):
            raise LivescopeError("the ensemble's members differ in input size or tasks", "train them with one recipe")
        if "features" not in m.output:
            raise LivescopeError("a member's backbone gives a pooled vector, not a feature map",
                                 "ensembles need backbones with a spatial feature map (for Grad-CAM)")
    backbones = []
    for i, m in enumerate(models):
        bb = m.get_layer("backbone")
        bb.name = f"backbone_member{i}"  # names must be unique inside the new model
        backbones.append(bb)
    image = keras.Input((size, size, 3), dtype="uint8", name="image")
    maps = [bb(image) for bb in backbones]
    backbone = keras.Model(image, keras.layers.Concatenate(axis=-1, name="members")(maps), name="backbone")
    dims = [int(bb.output_shape[-1]) for bb in backbones]
    edges = np.cumsum([0, *dims])
    heads = {}
    for task in tasks:
        pooled = keras.Input((int(edges[-1]),), name=f"{task}_pooled")
        logits = []
        for i, m in enumerate(models):
            head = m.get_layer(f"head_{task}")
            head.name = f"head_{task}_member{i}"
            part = FeatureSlice(int(edges[i]), int(edges[i + 1]), name=f"{task}_member{i}_features")(pooled)
            logits.append(head(part))
        out = MeanProbabilityLogits(name=f"{task}_mean_probability")(logits)
        heads[task] = keras.Model(pooled, out, name=f"head_{task}")
    from livescope.models.head import assemble

    return assemble(backbone, heads)


def ensemble_bundles(bundles: list[str | Path], out: str | Path) -> Path:
    """`livescope train --ensemble B1 B2 ... --out DIR`: one bundle whose card is the first member's
    (labels, input size, thresholds, preprocessing: they must agree), with the members listed."""
    from livescope.card import read_card
    from livescope.models.bundle import load_bundle, save_bundle

    loaded = [load_bundle(b) for b in bundles]
    first = loaded[0][1]
    for b, (_, card) in zip(bundles, loaded, strict=True):
        for key in ("tasks", "input_size", "preprocessing"):
            if card.get(key) != first.get(key):
                raise LivescopeError(f"{b}: its card's {key} differs from {bundles[0]}'s",
                                     "ensemble only bundles made by one recipe (same labels, size and preprocessing)")
    card = read_card(Path(bundles[0]))
    card["backbone"] = {**card.get("backbone", {}), "members": len(bundles), "combine": COMBINE}
    card["backbone"].pop("member_seeds", None)  # the recipe's own; these members are listed below
    card["ensemble"] = {"combine": COMBINE, "members": [
        {"bundle": str(b), "name": c.get("name"), "command": c.get("command"), "date": c.get("date")}
        for b, (_, c) in zip(bundles, loaded, strict=True)]}
    card.pop("metrics", None)  # the members' figures are not the ensemble's
    return save_bundle(ensemble_model([m for m, _ in loaded]), card, out)
