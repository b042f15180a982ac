"""TF-Hub backbones (`--backbone tfhub:HANDLE`): a TF-Hub / Kaggle Models handle, or a local
SavedModel folder, loaded with `tensorflow_hub` (the `hub` extra) into a frozen Keras 3 layer.

`hub.KerasLayer` is a tf-keras layer and cannot sit in a Keras 3 model; `HubBackbone` is a
Keras 3 layer that calls the module `hub.load` returns. Its SavedModel is copied into the
bundle (`hub_module/`), so a saved bundle reloads offline and carries exactly what it was
trained with. The paper's two non-Keras backbones on TF-Hub (both ImageNet-1k, 224x224, give a
pooled feature vector):

- ViT-S/16 feature extractor: https://tfhub.dev/sayakpaul/vit_s16_fe/1
  (Kaggle Models: spsayakpaul/vision-transformer/tensorFlow2/vit-s16-fe), inputs in [-1, 1].
- ConvMixer-768/32 feature extractor: https://tfhub.dev/rishit-dagli/convmixer-768-32-fe/1
  (Kaggle Models: rishit-dagli/convmixer), inputs in [0, 1].

A module that gives only a pooled vector trains, evaluates and explains nothing spatial:
Grad-CAM needs a feature map, so the live cascade refuses such a bundle.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import keras

from livescope.errors import LivescopeError

PREFIX = "tfhub:"
BUNDLE_MODULE = "hub_module"
KNOWN_HANDLES = {
    "vit_s16": ("https://tfhub.dev/sayakpaul/vit_s16_fe/1", "-1,1"),
    "convmixer_768_32": ("https://tfhub.dev/rishit-dagli/convmixer-768-32-fe/1", "0,1"),
}

_bundle_dir: Path | None = None


@contextlib.contextmanager
def bundle_folder(path: str | Path):
    """While a bundle loads, a HubBackbone resolves its module relative to the bundle."""
    global _bundle_dir
    saved, _bundle_dir = _bundle_dir, Path(path)
    try:
        yield
    finally:
        _bundle_dir = saved


def hub_available() -> tuple[bool, str]:
    """(usable, why not) for the `hub` extra."""
    try:
        import tensorflow_hub  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - any import failure means the extra is unusable
        return False, f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
    return True, ""


def _load_module(handle: str):
    hub = _require_hub()
    try:
        return hub.load(handle)
    except Exception as exc:  # noqa: BLE001 - offline download, missing folder, not a SavedModel
        local = Path(handle).exists()
        raise LivescopeError(
            f"cannot load the TF-Hub module {handle} ({type(exc).__name__}: {str(exc).splitlines()[0][:160]})",
            "give a SavedModel folder, or a handle and a network connection (TFHUB_CACHE_DIR keeps downloads)"
            if not local else "the folder must hold a SavedModel (saved_model.pb and variables/)") from None



def _require_hub():
    """tensorflow_hub, or the one-line error that says how to install it."""
    ok, why = hub_available()
    if not ok:
        raise LivescopeError(f"TF-Hub backbones need the hub extra ({why})",
                             "install it with pip install -e \".[hub]\" (tensorflow-hub and tf-keras)")
    import tensorflow_hub

    return tensorflow_hub

def hub_cache_path(handle: str) -> Path:
    """Where tensorflow_hub keeps a downloaded handle (its cache names folders by SHA-1)."""
    import hashlib
    import os
    import tempfile

    base = os.environ.get("TFHUB_CACHE_DIR") or os.path.join(tempfile.gettempdir(), "tfhub_modules")
    return Path(base) / hashlib.sha1(handle.encode("utf8")).hexdigest()


def resolve_local(handle: str) -> Path:
    """The SavedModel folder behind a handle (a local folder, or TF-Hub's download cache)."""
    if Path(handle).is_dir():
        return Path(handle)
    return Path(_require_hub().resolve(handle))


@keras.saving.register_keras_serializable(package="livescope")
class HubBackbone(keras.layers.Layer):
    """A frozen TF-Hub module as a Keras 3 layer: float image in (already scaled), features out
    ((B, D) pooled vector, or (B, h, w, C) feature map when the module gives one)."""

    def __init__(self, handle: str, output_shape_hint=None, **kwargs):
        kwargs["trainable"] = False  # frozen, also when a saved config says otherwise
        super().__init__(**kwargs)
        self.handle = handle
        self.output_shape_hint = None if output_shape_hint is None else tuple(output_shape_hint)
        path = handle
        if _bundle_dir is not None and not Path(handle).is_absolute() and (_bundle_dir / handle).is_dir():
            path = str(_bundle_dir / handle)
        self._module = _load_module(path)

    def call(self, x):
        out = self._module(x)
        if isinstance(out, dict):  # some modules return a dict of named outputs
            out = out.get("feature_vector", out.get("default", next(iter(out.values()))))
        return out

    def compute_output_shape(self, input_shape):
        if self.output_shape_hint is not None:
            return (input_shape[0], *self.output_shape_hint)
        return super().compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "handle": self.handle,
                "output_shape_hint": None if self.output_shape_hint is None else list(self.output_shape_hint)}


def probe_output(handle: str, size: int) -> tuple[int, ...]:
    """The module's output shape per image for a size x size input."""
    import numpy as np

    module = _load_module(handle)
    out = module(np.zeros((1, size, size, 3), np.float32))
    if isinstance(out, dict):
        out = out.get("feature_vector", out.get("default", next(iter(out.values()))))
    return tuple(int(d) for d in out.shape[1:])


def build_hub_core(handle: str, size: int, input_range: str = "-1,1"):
    """(layer that maps a [0, 1] float image to the module's input range and calls it, feature shape)."""
    if input_range not in ("-1,1", "0,1"):
        raise LivescopeError(f"hub input range {input_range!r} is not known", "use -1,1 or 0,1")
    shape = probe_output(handle, size)
    if len(shape) not in (1, 3):
        raise LivescopeError(f"the TF-Hub module {handle} gives outputs of shape {shape}",
                             "use a feature-vector (B, D) or feature-map (B, h, w, C) module")
    return HubBackbone(handle, output_shape_hint=shape, name="hub_module"), shape


def copy_into_bundle(backbone, bundle: Path) -> None:
    """Store a TF-Hub backbone's SavedModel inside the bundle and point the layer at it, so the
    bundle reloads offline with the module it was trained with."""
    for layer in backbone._flatten_layers():
        if isinstance(layer, HubBackbone) and layer.handle != BUNDLE_MODULE:
            src = resolve_local(layer.handle)
            dst = bundle / BUNDLE_MODULE
            if dst.exists():
                shutil.rmtree(dst)
            shutil.copytree(src, dst)
            layer.handle = BUNDLE_MODULE
