from pathlib import Path

import numpy as np
import pytest

from livescope.errors import LivescopeError
from livescope.models.backbones import BACKBONES, backbone_core, build_backbone

SMALL = {"vit_s16": 64, "convmixer_768_32": 56}


@pytest.mark.parametrize("name", ["xception", "resnet50v2", "efficientnetv2s", "vit_s16", "convmixer_768_32",
                                  "mobilenetv2", "mobilenetv3small", "mobilenetv3large", "efficientnetv2b0", "tiny_cnn"])
def test_backbone_builds_and_gives_a_feature_map(name):
    size = SMALL.get(name, 75 if name == "xception" else 64)
    b = build_backbone(name, size, "none")
    x = np.random.default_rng(0).integers(0, 255, (2, size, size, 3)).astype(np.uint8)
    fmap = np.asarray(b(x))
    assert fmap.ndim == 4 and fmap.shape[0] == 2 and fmap.shape[1] >= 1 and np.isfinite(fmap).all()


def test_weights_file_round_trip(tmp_path):
    a = build_backbone("tiny_cnn", 32, "none")
    path = tmp_path / "tiny.weights.h5"
    backbone_core(a).save_weights(path)
    b = build_backbone("tiny_cnn", 32, str(path))
    x = np.random.default_rng(1).integers(0, 255, (1, 32, 32, 3)).astype(np.uint8)
    np.testing.assert_allclose(np.asarray(a(x)), np.asarray(b(x)), atol=1e-6)


def test_bad_weights_are_clear(tmp_path):
    with pytest.raises(LivescopeError, match="does not exist"):
        build_backbone("tiny_cnn", 32, str(tmp_path / "missing.weights.h5"))
    with pytest.raises(LivescopeError, match="no ImageNet weights for vit_s16"):
        build_backbone("vit_s16", 64, "imagenet")
    with pytest.raises(LivescopeError, match="unknown backbone"):
        build_backbone("alexnet", 64, "none")


def test_imagenet_download_failure_names_the_file(monkeypatch):
    """With no network, Keras's download fails; the message names the file and where to put it."""
    import keras

    def offline(*a, **k):
        raise OSError("URL fetch failure: network unreachable")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    import keras.src.utils.file_utils as fu

    monkeypatch.setattr(fu, "get_file", offline)
    with pytest.raises(LivescopeError) as exc:
        build_backbone("mobilenetv3small", 64, "imagenet")
    text = exc.value.one_line()
    assert "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5" in text and ".keras" in text


def test_registry_has_the_paper_backbones():
    assert [k for k, v in BACKBONES.items() if v.paper] == [
        "xception", "resnet50v2", "efficientnetv2s", "vit_s16", "convmixer_768_32"]


SHARED_WEIGHTS = Path(__file__).resolve().parents[3] / "shared" / "weights"


def _shared(name: str) -> Path:
    path = SHARED_WEIGHTS / name
    if not path.exists():
        pytest.skip(f"{path} not found (the read-only shared folder is missing)")
    return path


def test_imagenet_xception_weights_file_loads_into_its_backbone():
    """The paper's own backbone from the shared ImageNet file: every weight taken, and ImageNet
    features, not random ones (a dog-like texture and flat grey give clearly different maps)."""
    path = _shared("xception_imagenet_notop.weights.h5")
    b = build_backbone("xception", 96, str(path))
    core = backbone_core(b)
    assert core.count_params() == 20_861_480
    random = backbone_core(build_backbone("xception", 96, "none"))
    first = next(w for w in core.weights if "kernel" in w.path)
    other = next(w for w in random.weights if w.path == first.path)
    assert not np.allclose(np.asarray(first), np.asarray(other))
    import h5py

    with h5py.File(path) as f:  # the loaded kernel is the file's
        stored = []
        f.visititems(lambda n, o: stored.append(np.asarray(o)) if getattr(o, "shape", None) == tuple(first.shape) else None)
    assert any(np.allclose(np.asarray(first), s) for s in stored)


def test_a_wrong_weights_file_is_one_clear_line():
    path = _shared("mobilenetv2_1.00_imagenet_notop.weights.h5")
    with pytest.raises(LivescopeError) as exc:
        build_backbone("xception", 96, str(path))
    line = exc.value.one_line()
    assert "does not fit backbone xception" in line and "\n" not in line and "same backbone" in line


def test_mobilenetv2_is_in_the_registry_and_takes_its_file():
    path = _shared("mobilenetv2_1.00_imagenet_notop.weights.h5")
    assert BACKBONES["mobilenetv2"].keras_app == "MobileNetV2"
    b = build_backbone("mobilenetv2", 96, str(path))
    assert b.output_shape[-1] == 1280
