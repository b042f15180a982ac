"""`--backbone tfhub:HANDLE` offline: small SavedModels this test builds and saves to a folder,
loaded through tensorflow_hub as a handle would be, trained, evaluated, saved into a bundle and
reloaded; a pooled-vector module cannot explain, and the live cascade refuses it in one line."""

import shutil
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("tensorflow_hub", reason="the hub extra (tensorflow-hub, tf-keras) is not installed")


def _save_module(folder, spatial: bool) -> str:
    from livescope.tfenv import tf

    t = tf()

    class Features(t.Module):
        def __init__(self):
            rng = np.random.default_rng(0)
            self.kernel = t.Variable(rng.normal(0, 0.3, (3, 3, 3, 8)).astype(np.float32))

        @t.function(input_signature=[t.TensorSpec([None, None, None, 3], t.float32)])
        def __call__(self, x):
            fmap = t.nn.relu(t.nn.conv2d(x, self.kernel, strides=4, padding="SAME"))
            return fmap if spatial else t.reduce_mean(fmap, axis=[1, 2])

    t.saved_model.save(Features(), str(folder))
    return str(folder)


@pytest.fixture(scope="module")
def modules(tmp_path_factory):
    root = tmp_path_factory.mktemp("hub")
    return {"vector": _save_module(root / "vector", False), "map": _save_module(root / "map", True)}


def _train(phantom_set, handle, out):
    from livescope.models.train import TrainConfig, train

    return train(TrainConfig(task="A", data=str(phantom_set), backbone=f"tfhub:{handle}", weights="imagenet",
                             out=str(out), size=32, epochs=2, aug_draws=1, progress=False))


def test_a_hub_module_trains_evaluates_saves_and_reloads_offline(modules, phantom_set, tmp_path):
    from livescope.data.dataset import load_images, load_labelled
    from livescope.models.bundle import load_bundle
    from livescope.models.evaluate import evaluate_bundle, predict_task

    bundle, card = _train(phantom_set, modules["vector"], tmp_path / "bundle")
    assert card["backbone"]["spatial_features"] is False and card["backbone"]["name"].startswith("tfhub:")
    assert (bundle / "hub_module" / "saved_model.pb").exists()  # the module travels inside the bundle
    m = evaluate_bundle(bundle, phantom_set, tmp_path / "eval", resamples=20, progress=False)
    assert m["images"] == 60 and 0 <= m["accuracy"] <= 1
    ds = load_labelled(phantom_set, "A")
    images, _, _ = load_images(ds.paths[:8], 32, False, progress=False)
    before = predict_task(load_bundle(bundle)[0], "A", images)
    moved = tmp_path / "elsewhere"
    shutil.copytree(bundle, moved)
    shutil.rmtree(modules["vector"])  # the handle it was trained from is gone: the bundle is enough
    np.testing.assert_allclose(predict_task(load_bundle(moved)[0], "A", images), before, atol=1e-6)


def test_a_pooled_vector_cannot_explain_and_the_cascade_refuses_it(modules, phantom_set, tmp_path):
    from livescope.errors import LivescopeError
    from livescope.models.cascade import Cascade

    bundle, _ = _train(phantom_set, _save_module(tmp_path / "v", False), tmp_path / "b")
    with pytest.raises(LivescopeError, match="pooled vector, not a spatial feature map"):
        Cascade(bundle)
    img = next((phantom_set / "taskA" / "hemorrhoid").iterdir())
    r = subprocess.run([sys.executable, "-m", "livescope.cli", "explain", str(img), "--model", str(bundle), "--out",
                        str(tmp_path / "x.png")], capture_output=True, text=True)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and "feature map for Grad-CAM" in lines[0]


def test_a_feature_map_module_runs_in_the_cascade_with_grad_cam(modules, phantom_set, tmp_path):
    from livescope.models.cascade import Cascade

    bundle, card = _train(phantom_set, modules["map"], tmp_path / "b")
    assert card["backbone"]["spatial_features"] is True
    c = Cascade(bundle, engine="keras")
    r = c.analyse(np.random.default_rng(0).integers(0, 255, (2, 32, 32, 3)).astype(np.uint8), cam=True)
    assert r[0].cam.shape == (8, 8) and r[0].cam_task == "A"


def test_a_missing_hub_folder_is_one_line(phantom_set, tmp_path):
    from livescope.errors import LivescopeError

    with pytest.raises(LivescopeError, match="cannot load the TF-Hub module"):
        _train(phantom_set, str(tmp_path / "nothing-here"), tmp_path / "b")
