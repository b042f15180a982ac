"""Head-only Grad-CAM equals the standard full-tape Grad-CAM on every backbone, and the map the
live cascade draws is that same Grad-CAM."""

import numpy as np
import pytest

from livescope.cam.gradcam import GradCam, full_tape_gradients, head_gradients
from livescope.models.backbones import build_backbone
from livescope.models.head import assemble, build_head, feature_dim
from livescope.tfenv import keras, tf

SIZES = {"xception": 75, "vit_s16": 64, "convmixer_768_32": 56}


@pytest.mark.parametrize("name", ["xception", "resnet50v2", "efficientnetv2s", "vit_s16", "convmixer_768_32",
                                  "mobilenetv2", "mobilenetv3small", "mobilenetv3large", "efficientnetv2b0",
                                  "tiny_cnn"])
def test_head_gradients_equal_the_full_tape(name):
    t = tf()
    keras().utils.set_random_seed(0)
    size = SIZES.get(name, 64)
    backbone = build_backbone(name, size, "none")
    head = build_head("B", feature_dim(backbone), 3)
    model = assemble(backbone, {"B": head})
    x = t.constant(np.random.default_rng(2).integers(0, 255, (2, size, size, 3)).astype(np.uint8))
    cls = t.constant([0, 2], t.int32)
    fmap, full_grads = full_tape_gradients(model, "B", x, cls)
    pooled = t.reduce_mean(fmap, axis=[1, 2])
    with t.GradientTape() as tape:
        tape.watch(pooled)
        score = t.gather(head(pooled, training=False), cls, axis=1, batch_dims=1)
    fast = GradCam(np)(fmap.numpy(), head_gradients(np, tape.gradient(score, pooled).numpy(), fmap.numpy()))
    slow = GradCam(np)(fmap.numpy(), full_grads.numpy())
    assert fast.shape == slow.shape == tuple(fmap.shape[:3])
    scale = max(1e-12, np.abs(slow).max())
    # Within 1e-5 (relative to the map's peak, as untrained nets give tiny absolute values).
    np.testing.assert_allclose(fast / scale, slow / scale, atol=1e-5)
    assert np.abs(slow).max() > 0 or np.abs(fast).max() == 0


@pytest.mark.parametrize("task", ["gate", "A", "B"])
def test_the_live_heatmap_is_the_full_tape_grad_cam(tiny_cascade, task):
    """What the cascade's compiled call draws equals Grad-CAM with a tape through the whole model."""
    t = tf()
    x = np.random.default_rng(4).integers(0, 255, (3, tiny_cascade.size, tiny_cascade.size, 3)).astype(np.uint8)
    live = tiny_cascade.analyse(x, cam=True, cam_task=task)
    chosen = t.constant([tiny_cascade.labels[task].index(r.cam_label) for r in live], t.int32)
    fmap, grads = full_tape_gradients(tiny_cascade.model, task, t.constant(x), chosen)
    reference = GradCam.normalise(GradCam(np)(fmap.numpy(), grads.numpy()))
    for r, ref in zip(live, reference, strict=True):
        assert r.cam_task == task
        np.testing.assert_allclose(r.cam, ref, atol=1e-5)


def test_explain_triptych(tiny_bundles, phantom_set, tmp_path):
    import subprocess
    import sys

    import cv2

    img = next((phantom_set / "taskB" / "Rf1").iterdir())
    out = tmp_path / "ex.png"
    r = subprocess.run([sys.executable, "-m", "livescope.cli", "explain", str(img), "--model",
                        str(tiny_bundles["cascade"]), "--out", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "P(retroflex view)" in r.stdout
    pic = cv2.imread(str(out))
    assert pic.shape[1] > pic.shape[0] * 2  # three panels side by side
