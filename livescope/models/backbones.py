"""Backbones by name: image (uint8) in, feature map out, with the scaling inside the graph.

Preprocessing is the paper's: scale to [0, 1], then the backbone's own normalisation (all of
the Keras Applications here expect [-1, 1] when their built-in preprocessing is off).

Where a backbone's weights come from (`weights`):
- `imagenet`: Keras's own download into its cache (`~/.keras/models/`, needs the internet once);
- `PATH`: a Keras weights file for the same backbone without its top (`.weights.h5`, any input
  size), e.g. the ImageNet files in `../shared/weights/`: the documented way offline;
- `none`: random weights (tests, speed measurements, training from scratch);
- `--backbone tfhub:HANDLE`: a TF-Hub / Kaggle Models module or a local SavedModel folder
  (`livescope.models.hub`), frozen.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
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
    imagenet_file: str | None = None  # the file name Keras's downloader caches (no top)
    kwargs: dict = field(default_factory=dict)


BACKBONES = {
    "xception": BackboneSpec("xception", True, 331, "Xception", "Xception (Chollet 2017)",
                             "xception_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "resnet50v2": BackboneSpec("resnet50v2", True, 331, "ResNet50V2", "ResNet50 v2",
                               "resnet50v2_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "efficientnetv2s": BackboneSpec("efficientnetv2s", True, 331, "EfficientNetV2S", "EfficientNetV2-S",
                                    "efficientnetv2-s_notop.h5", {"include_preprocessing": False}),
    "vit_s16": BackboneSpec("vit_s16", True, 331, None, "ViT-S/16, Keras 3"),
    "convmixer_768_32": BackboneSpec("convmixer_768_32", True, 331, None, "ConvMixer-768/32, Keras 3"),
    "mobilenetv2": BackboneSpec("mobilenetv2", False, 224, "MobileNetV2", "MobileNetV2 (alpha 1.0)",
                                "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5", {"alpha": 1.0}),
    "mobilenetv3small": BackboneSpec("mobilenetv3small", False, 224, "MobileNetV3Small", "MobileNetV3-Small",
                                     "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5",
                                     {"include_preprocessing": False}),
    "mobilenetv3large": BackboneSpec("mobilenetv3large", False, 224, "MobileNetV3Large", "MobileNetV3-Large",
                                     "weights_mobilenet_v3_large_224_1.0_float_no_top_v2.h5",
                                     {"include_preprocessing": False}),
    "efficientnetv2b0": BackboneSpec("efficientnetv2b0", False, 224, "EfficientNetV2B0", "EfficientNetV2-B0",
                                     "efficientnetv2-b0_notop.h5", {"include_preprocessing": False}),
    "tiny_cnn": BackboneSpec("tiny_cnn", False, 64, None, "tiny CNN for tests"),
}
PAPER_BACKBONES = [k for k, v in BACKBONES.items() if v.paper]
# Where this project's machines keep ImageNet weight files (read-only; never copied into the repo).
SHARED_WEIGHTS = Path(__file__).resolve().parents[3] / "shared" / "weights"
SHARED_WEIGHT_FILES = {"xception": "xception_imagenet_notop.weights.h5",
                       "mobilenetv2": "mobilenetv2_1.00_imagenet_notop.weights.h5"}


def is_hub(name: str) -> bool:
    from livescope.models.hub import PREFIX

    return name.startswith(PREFIX)


def check_backbone(name: str) -> None:
    if name not in BACKBONES and not is_hub(name):
        raise LivescopeError(f"unknown backbone {name!r}",
                             f"choose one of {', '.join(BACKBONES)}, or tfhub:HANDLE for a TF-Hub module")


def default_size(name: str) -> int:
    return 224 if is_hub(name) else BACKBONES[name].default_size


def keras_cache_dir() -> Path:
    base = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(base) / "models"


def weight_sources(name: str) -> list[tuple[str, bool]]:
    """Where `name`'s ImageNet weights could come from now, as (description, available) pairs."""
    spec = BACKBONES[name]
    out = []
    if spec.imagenet_file:
        cached = (keras_cache_dir() / spec.imagenet_file).exists()
        out.append((f"Keras cache {keras_cache_dir() / spec.imagenet_file}" + ("" if cached else " (downloads on "
                    "first --weights imagenet)"), cached))
    shared = SHARED_WEIGHTS / SHARED_WEIGHT_FILES[name] if name in SHARED_WEIGHT_FILES else None
    if shared is not None:
        out.append((f"file {shared} (--weights PATH)", shared.exists()))
    if name in ("vit_s16", "convmixer_768_32"):
        from livescope.models.hub import KNOWN_HANDLES, hub_available, hub_cache_path

        ok, why = hub_available()
        handle = KNOWN_HANDLES[name][0]
        cached = ok and hub_cache_path(handle).exists()
        state = (f"cached in {hub_cache_path(handle)}" if cached else
                 "hub extra installed, downloads on first use" if ok else f"hub extra not usable: {why}")
        out.append((f"TF-Hub {handle} (--backbone tfhub:{handle}; {state})", cached))
    return out


def _keras_app(spec: BackboneSpec, size: int, weights: str | None):
    k = keras()
    ctor = getattr(k.applications, spec.keras_app)
    return ctor(include_top=False, weights=weights, input_shape=(size, size, 3), **spec.kwargs)


def _imagenet_error(spec: BackboneSpec, exc: Exception) -> LivescopeError:
    fname = spec.imagenet_file or f"{spec.name} ImageNet weights"
    return LivescopeError(
        f"could not download ImageNet weights for {spec.name} ({type(exc).__name__})",
        f"put {fname} into {keras_cache_dir()} (Keras's cache), or give --weights PATH to a weights file "
        "(a Keras .weights.h5 of the same backbone without its top), or --weights none")


def _load_weights_file(core, name: str, path: Path) -> None:
    if not path.exists():
        raise LivescopeError(f"weights file {path} does not exist", "give --weights imagenet, none or an existing file")
    try:
        core.load_weights(str(path))
    except Exception as exc:  # noqa: BLE001 - a file for another network fails in many ways
        detail = str(exc).splitlines()[0][:160]
        raise LivescopeError(f"weights file {path} does not fit backbone {name} ({type(exc).__name__}: {detail})",
                             "give a weights file saved from the same backbone without its top "
                             "(`.weights.h5`), e.g. from ../shared/weights/") from None


def build_backbone(name: str, size: int, weights: str = "none", hub_input_range: str = "-1,1"):
    """A backbone model: uint8 (B, size, size, 3) in, feature map (B, h, w, C) out (or a pooled
    (B, D) vector for a TF-Hub module that gives only that). See the module docstring for
    `weights`."""
    k = keras()
    check_backbone(name)
    inp = k.Input((size, size, 3), dtype="uint8", name="image")
    x = k.layers.Rescaling(1.0 / 255, name="scale01")(inp)
    if is_hub(name):
        from livescope.models.hub import PREFIX, build_hub_core

        if weights not in ("imagenet", "none", "hub"):
            raise LivescopeError("a TF-Hub backbone brings its own weights", "leave --weights out for tfhub: backbones")
        core, _shape = build_hub_core(name[len(PREFIX):], size, hub_input_range)
        if hub_input_range == "-1,1":
            x = k.layers.Rescaling(2.0, offset=-1.0, name="normalise")(x)
        return k.Model(inp, core(x), name="backbone")
    spec = BACKBONES[name]
    x = k.layers.Rescaling(2.0, offset=-1.0, name="normalise")(x)
    if spec.keras_app:
        try:
            core = _keras_app(spec, size, "imagenet" if weights == "imagenet" else None)
        except Exception as exc:  # noqa: BLE001 - any download failure (URLError, HTTP, hash) is one message
            if weights == "imagenet":
                raise _imagenet_error(spec, exc) from None
            raise
    else:
        if weights == "imagenet":
            from livescope.models.hub import KNOWN_HANDLES

            hint = (f"use --backbone tfhub:{KNOWN_HANDLES[name][0]} (the hub extra), " if name in KNOWN_HANDLES else "")
            raise LivescopeError(f"Keras has no ImageNet weights for {name}",
                                 hint + "or --weights PATH with a weights file for this backbone, or --weights none")
        from livescope.models import layers as L

        core_in = k.Input((size, size, 3), name="core_input")
        body = {"vit_s16": L.vit, "convmixer_768_32": L.convmixer, "tiny_cnn": L.tiny_cnn}[name](core_in)
        core = k.Model(core_in, body, name=name)
    if weights not in ("imagenet", "none"):
        _load_weights_file(core, name, Path(weights))
    return k.Model(inp, core(x), name="backbone")


def backbone_core(backbone) -> object:
    """The inner network (keras.applications model or our own) inside a backbone wrapper."""
    return [layer for layer in backbone.layers if hasattr(layer, "layers")][-1]


def spatial(backbone) -> bool:
    """Whether the backbone gives a feature map (Grad-CAM needs one) rather than a pooled vector."""
    return len(backbone.output_shape) == 4


def parse_weights(text: str, backbones: list[str]) -> dict[str, str | None]:
    """`--weights` for several backbones: 'imagenet', 'none', one PATH for all, or
    'name=PATH,name=PATH' (a backbone not named gets None: no weights given)."""
    text = text.strip()
    if "=" not in text:
        return {b: text for b in backbones}
    out: dict[str, str | None] = {b: None for b in backbones}
    for part in text.split(","):
        name, _, value = part.partition("=")
        name = name.strip()
        if name not in out:
            raise LivescopeError(f"--weights names {name!r}, which is not among the backbones {', '.join(backbones)}",
                                 "write --weights name=PATH for backbones you study")
        out[name] = value.strip()
    return out
