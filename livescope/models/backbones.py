"""Backbones by name: image (uint8) in, feature map out, with the scaling inside the graph.

Preprocessing is the paper's: scale to [0, 1], then the backbone's own normalisation (all
of these expect [-1, 1] when their built-in preprocessing is off).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from livescope.errors import LivescopeError
from livescope.tfenv import keras


@dataclass(frozen=True)
class BackboneSpec:
    name: str
    paper: bool
    default_size: int
    keras_app: str | None  # keras.applications constructor, or None for our own layers
    description: str


BACKBONES = {
    "xception": BackboneSpec("xception", True, 331, "Xception", "Xception (Chollet 2017)"),
    "resnet50v2": BackboneSpec("resnet50v2", True, 331, "ResNet50V2", "ResNet50 v2"),
    "efficientnetv2s": BackboneSpec("efficientnetv2s", True, 331, "EfficientNetV2S", "EfficientNetV2-S"),
    "vit_s16": BackboneSpec("vit_s16", True, 331, None, "ViT-S/16, Keras 3"),
    "convmixer_768_32": BackboneSpec("convmixer_768_32", True, 331, None, "ConvMixer-768/32, Keras 3"),
    "mobilenetv3small": BackboneSpec("mobilenetv3small", False, 224, "MobileNetV3Small", "MobileNetV3-Small"),
    "mobilenetv3large": BackboneSpec("mobilenetv3large", False, 224, "MobileNetV3Large", "MobileNetV3-Large"),
    "efficientnetv2b0": BackboneSpec("efficientnetv2b0", False, 224, "EfficientNetV2B0", "EfficientNetV2-B0"),
    "tiny_cnn": BackboneSpec("tiny_cnn", False, 64, None, "tiny CNN for tests"),
}
PAPER_BACKBONES = [k for k, v in BACKBONES.items() if v.paper]


def _keras_app(spec: BackboneSpec, size: int, weights: str | None):
    k = keras()
    ctor = getattr(k.applications, spec.keras_app)
    kwargs = {"include_top": False, "weights": weights, "input_shape": (size, size, 3)}
    if spec.name.startswith(("efficientnetv2", "mobilenetv3")):
        kwargs["include_preprocessing"] = False
    return ctor(**kwargs)


def _imagenet_error(spec: BackboneSpec, exc: Exception) -> LivescopeError:
    from livescope.doctor import IMAGENET_WEIGHT_FILES, keras_cache_dir

    fname = IMAGENET_WEIGHT_FILES.get(spec.name, f"{spec.name} ImageNet weights")
    return LivescopeError(
        f"could not download ImageNet weights for {spec.name} ({type(exc).__name__})",
        f"put {fname} into {keras_cache_dir()} (Keras's cache), or use --weights none or --weights PATH")


def build_backbone(name: str, size: int, weights: str = "none") -> keras().Model:
    """`weights`: 'imagenet' (Keras download and cache), 'none', or a path to a weights file
    saved from the same backbone (`.weights.h5`)."""
    k = keras()
    if name not in BACKBONES:
        raise LivescopeError(f"unknown backbone {name!r}", f"choose one of {', '.join(BACKBONES)}")
    spec = BACKBONES[name]
    path = None
    if weights not in ("imagenet", "none"):
        path = Path(weights)
        if not path.exists():
            raise LivescopeError(f"weights file {path} does not exist", "give --weights imagenet, none or an existing file")
    inp = k.Input((size, size, 3), dtype="uint8", name="image")
    x = k.layers.Rescaling(1.0 / 255, name="scale01")(inp)
    x = k.layers.Rescaling(2.0, offset=-1.0, name="normalise")(x)
    if spec.keras_app:
        try:
            core = _keras_app(spec, size, "imagenet" if weights == "imagenet" else None)
        except LivescopeError:
            raise
        except Exception as exc:  # noqa: BLE001 - any download failure (URLError, HTTP, hash) is one message
            if weights == "imagenet":
                raise _imagenet_error(spec, exc) from None
            raise
    else:
        if weights == "imagenet":
            raise LivescopeError(
                f"Keras has no ImageNet weights for {name}",
                "use --weights PATH with a weights file for this backbone, or --weights none")
        from livescope.models import layers as L

        core_in = k.Input((size, size, 3), name="core_input")
        body = {"vit_s16": L.vit, "convmixer_768_32": L.convmixer, "tiny_cnn": L.tiny_cnn}[name](core_in)
        core = k.Model(core_in, body, name=name)
    if path is not None:
        try:
            core.load_weights(str(path))
        except Exception as exc:  # noqa: BLE001
            raise LivescopeError(f"weights file {path} does not fit backbone {name} ({type(exc).__name__}: {exc})",
                                 "give weights saved from the same backbone and input size") from None
    fmap = core(x)
    return k.Model(inp, fmap, name="backbone")


def backbone_core(backbone) -> object:
    """The inner network (keras.applications model or our own) inside a backbone wrapper."""
    return [layer for layer in backbone.layers if hasattr(layer, "layers")][-1]
