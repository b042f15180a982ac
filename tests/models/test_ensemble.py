"""An ensemble bundle is one livescope bundle: the mean of its members' probabilities, its
heatmap the full-tape Grad-CAM of that mean, saved and loaded like any bundle."""

import json
import subprocess
import sys

import numpy as np
import pytest

from livescope.models.cascade import Cascade


def _images(n: int, size: int) -> np.ndarray:
    return np.random.default_rng(11).integers(0, 255, (n, size, size, 3)).astype(np.uint8)


def test_ensemble_gives_the_mean_of_its_members_probabilities(tiny_ensemble):
    ens = Cascade(tiny_ensemble["ensemble"], engine="keras")
    members = [Cascade(b, engine="keras") for b in tiny_ensemble["members"]]
    x = _images(5, ens.size)
    # Every head on every image (the cascade shows A and B only where the gate lets a frame in).
    got = ens.model.predict(x, verbose=0)
    each = [m.model.predict(x, verbose=0) for m in members]
    for task in ("gate", "A", "B"):
        np.testing.assert_allclose(got[task], np.mean([e[task] for e in each], axis=0), atol=1e-5)
        assert not np.allclose(each[0][task], each[1][task], atol=1e-3)  # the members do differ
    # The backbone is both members' side by side: twice the channels, both maps in the heatmap.
    assert ens.model.output["features"].shape[-1] == 2 * members[0].model.output["features"].shape[-1]
    card = json.loads((tiny_ensemble["ensemble"] / "card.json").read_text())
    assert len(card["ensemble"]["members"]) == 2 and card["ensemble"]["combine"].startswith("mean")
    assert card["backbone"]["members"] == 2  # what the report and the card's readers show
    assert card["tasks"] == members[0].card["tasks"] and "metrics" not in card


@pytest.mark.parametrize("task", ["gate", "A", "B"])
def test_ensemble_heatmap_is_the_full_tape_grad_cam(tiny_ensemble, task):
    from livescope.cam.gradcam import GradCam, full_tape_gradients
    from livescope.tfenv import tf

    t = tf()
    ens = Cascade(tiny_ensemble["ensemble"], engine="keras")
    x = _images(3, ens.size)
    live = ens.analyse(x, cam=True, cam_task=task)
    chosen = t.constant([ens.labels[task].index(r.cam_label) for r in live], t.int32)
    fmap, grads = full_tape_gradients(ens.model, task, t.constant(x), chosen)
    reference = GradCam.normalise(GradCam(np)(fmap.numpy(), grads.numpy()))
    for r, ref in zip(live, reference, strict=True):
        np.testing.assert_allclose(r.cam, ref, atol=1e-5)


def test_ensemble_of_one_bundle_is_a_one_line_error(tiny_bundles, tmp_path):
    r = subprocess.run([sys.executable, "-m", "livescope.cli", "train", "--ensemble", str(tiny_bundles["cascade"]),
                        "--out", str(tmp_path / "e")], capture_output=True, text=True)
    assert r.returncode != 0 and "two or more bundles" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "e").exists()


def test_ensemble_of_bundles_with_other_labels_is_refused(tiny_bundles, tmp_path):
    r = subprocess.run([sys.executable, "-m", "livescope.cli", "train", "--ensemble", str(tiny_bundles["cascade"]),
                        str(tiny_bundles["gate"]), "--out", str(tmp_path / "e")], capture_output=True, text=True)
    assert r.returncode != 0 and "differs" in r.stderr and "Traceback" not in r.stderr
