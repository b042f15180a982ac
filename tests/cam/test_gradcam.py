"""Head-only Grad-CAM equals the standard full-tape Grad-CAM on every backbone."""

import numpy as np
import pytest

from livescope.cam.gradcam import FullTapeGradCam, GradCam
from livescope.models.backbones import build_backbone
from livescope.models.head import assemble, build_head, feature_dim
from livescope.tfenv import keras, tf

SIZES = {"xception": 75, "vit_s16": 64, "convmixer_768_32": 56}


@pytest.mark.parametrize("name", ["xception", "resnet50v2", "efficientnetv2s", "vit_s16", "convmixer_768_32",
                                  "mobilenetv3small", "mobilenetv3large", "efficientnetv2b0", "tiny_cnn"])
def test_head_cam_equals_full_tape_cam(name):
    t = tf()
    keras().utils.set_random_seed(0)
    size = SIZES.get(name, 64)
    backbone = build_backbone(name, size, "none")
    head = build_head("B", feature_dim(backbone), 3)
    model = assemble(backbone, {"B": head})
    x = t.constant(np.random.default_rng(2).integers(0, 255, (2, size, size, 3)).astype(np.uint8))
    cls = t.constant([0, 2], t.int32)
    fmap = backbone(x, training=False)
    fast = GradCam(head)(fmap, cls).numpy()
    slow = FullTapeGradCam(model, "B")(x, cls).numpy()
    assert fast.shape == slow.shape == tuple(fmap.shape[:3])
    scale = max(1e-12, np.abs(slow).max())
    # Within 1e-5 (relative to the map's peak, as untrained nets give tiny absolute values).
    np.testing.assert_allclose(fast / scale, slow / scale, atol=1e-5)
    assert np.abs(slow).max() > 0 or np.abs(fast).max() == 0


def test_cascade_cam_is_normalised_and_on_the_grid(tiny_cascade):
    x = np.random.default_rng(0).integers(0, 255, (3, tiny_cascade.size, tiny_cascade.size, 3)).astype(np.uint8)
    res = tiny_cascade.analyse(x, cam=True, cam_task="gate")
    for r in res:
        assert r.cam is not None and r.cam_task == "gate"
        assert r.cam.min() >= 0 and r.cam.max() <= 1.0 + 1e-6
        assert r.cam_label in tiny_cascade.labels["gate"]


def test_explain_triptych(tiny_bundles, phantom_set, tmp_path):
    import subprocess
    import sys

    import cv2

    img = next((phantom_set / "taskB" / "Rf1").iterdir())
    out = tmp_path / "ex.png"
    r = subprocess.run([sys.executable, "-m", "livescope.cli", "explain", str(img), "--model",
                        str(tiny_bundles["cascade"]), "--out", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "gate:" in r.stdout
    pic = cv2.imread(str(out))
    assert pic.shape[1] > pic.shape[0] * 2  # three panels side by side
