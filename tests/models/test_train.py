import json
import shutil

import numpy as np
import pytest

from livescope.errors import LivescopeError
from livescope.models.bundle import load_bundle
from livescope.models.evaluate import evaluate_bundle, predict_task
from livescope.models.train import TrainConfig, train


def test_tiny_backbone_trains_and_evaluates(tiny_bundles, phantom_set, tmp_path):
    model, card = load_bundle(tiny_bundles["A"])
    assert card["tasks"]["A"]["labels"] == ["normal", "hemorrhoid"]
    assert card["input_size"] == 64 and card["backbone"]["name"] == "tiny_cnn"
    assert card["data"]["synthetic"] is True and "synthetic" in card["synthetic_data_notice"]
    assert (tiny_bundles["A"] / "split.json").exists()
    m = evaluate_bundle(tiny_bundles["A"], phantom_set, tmp_path, resamples=50, progress=False)
    for key in ("accuracy", "precision", "recall", "f1", "confusion_matrix", "roc_auc", "ci95", "reading_time_s",
                "latency_ms_batch1"):
        assert key in m
    assert m["images"] == 60
    assert (tmp_path / "confusion_matrix.png").stat().st_size > 1000
    assert (tmp_path / "roc.png").stat().st_size > 1000
    assert json.loads((tmp_path / "metrics.json").read_text())["task"] == "A"


def test_bundle_round_trip_safe_mode(tiny_bundles, phantom_set):
    from livescope.data.dataset import load_images, load_labelled

    model, card = load_bundle(tiny_bundles["cascade"])
    assert set(card["tasks"]) == {"gate", "A", "B"}
    ds = load_labelled(phantom_set, "B")
    imgs, _, _ = load_images(ds.paths[:8], 64, False, progress=False)
    single, _ = load_bundle(tiny_bundles["B"])
    np.testing.assert_allclose(predict_task(model, "B", imgs), predict_task(single, "B", imgs), atol=1e-6)


def test_cached_features_equal_training_through_backbone(phantom_set, tmp_path):
    """Same seed, same data order: the head trained on cached features predicts what the
    model trained through the frozen backbone predicts."""
    from livescope.data.dataset import load_images, load_labelled

    common = dict(task="A", data=str(phantom_set), backbone="tiny_cnn", weights="none", size=48,
                  epochs=2, aug_draws=2, progress=False, seed=3)
    a, _ = train(TrainConfig(out=str(tmp_path / "cached"), cache=True, **common))
    b, _ = train(TrainConfig(out=str(tmp_path / "through"), cache=False, **common))
    ds = load_labelled(phantom_set, "A")
    imgs, _, _ = load_images(ds.paths[:16], 48, False, progress=False)
    pa = predict_task(load_bundle(a)[0], "A", imgs)
    pb = predict_task(load_bundle(b)[0], "A", imgs)
    np.testing.assert_allclose(pa, pb, atol=2e-4)


def _copy_class(src, dst, n=6):
    dst.mkdir(parents=True)
    for p in sorted(src.iterdir())[:n]:
        shutil.copy(p, dst / p.name)


def test_bad_data_folders(phantom_set, tmp_path):
    cfg = dict(task="A", backbone="tiny_cnn", weights="none", size=32, epochs=1, progress=False)
    # empty class folder
    d = tmp_path / "empty"
    _copy_class(phantom_set / "taskA" / "normal", d / "normal")
    (d / "hemorrhoid").mkdir()
    with pytest.raises(LivescopeError, match="has no images"):
        train(TrainConfig(data=str(d), out=str(tmp_path / "o1"), **cfg))
    # one class only
    d = tmp_path / "one"
    _copy_class(phantom_set / "taskA" / "normal", d / "normal")
    with pytest.raises(LivescopeError, match="only one class"):
        train(TrainConfig(data=str(d), out=str(tmp_path / "o2"), **cfg))
    # labels that do not belong to the task
    d = tmp_path / "mismatch"
    _copy_class(phantom_set / "taskA" / "normal", d / "normal")
    _copy_class(phantom_set / "taskB" / "Rf1", d / "Rf1")
    with pytest.raises(LivescopeError, match="do not belong to task A"):
        train(TrainConfig(data=str(d), out=str(tmp_path / "o3"), **cfg))
    # missing folder
    with pytest.raises(LivescopeError, match="does not exist"):
        train(TrainConfig(data=str(tmp_path / "nope"), out=str(tmp_path / "o4"), **cfg))


def test_corrupt_grey_and_rgba_images_are_handled(phantom_set, tmp_path, capsys):
    import cv2

    d = tmp_path / "mixed"
    _copy_class(phantom_set / "taskA" / "normal", d / "normal")
    _copy_class(phantom_set / "taskA" / "hemorrhoid", d / "hemorrhoid")
    (d / "normal" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (d / "normal" / "zero.png").write_bytes(b"")
    grey = cv2.imread(str(next((d / "hemorrhoid").iterdir())), cv2.IMREAD_GRAYSCALE)
    cv2.imwrite(str(d / "hemorrhoid" / "grey.png"), grey)
    rgba = cv2.cvtColor(cv2.imread(str(next((d / "normal").glob("*.jpg")))), cv2.COLOR_BGR2BGRA)
    cv2.imwrite(str(d / "normal" / "rgba.png"), rgba)
    out, card = train(TrainConfig(task="A", data=str(d), backbone="tiny_cnn", weights="none", size=32, epochs=1,
                                  progress=False, out=str(tmp_path / "o")))
    err = capsys.readouterr().err
    assert "broken.jpg is not a readable image" in err and "zero.png is empty" in err
    assert "grey converted to RGB" in err and "alpha channel dropped" in err
    assert card["data"]["train"] + card["data"]["val"] == 14


def test_bundle_problems_are_clear(tiny_bundles, tmp_path):
    import shutil as sh

    b = tmp_path / "nocard"
    sh.copytree(tiny_bundles["A"], b)
    (b / "card.json").unlink()
    with pytest.raises(LivescopeError, match="no card.json"):
        load_bundle(b)
    b2 = tmp_path / "labels"
    sh.copytree(tiny_bundles["A"], b2)
    card = json.loads((b2 / "card.json").read_text())
    card["tasks"]["A"]["labels"] = ["normal", "hemorrhoid", "extra"]
    (b2 / "card.json").write_text(json.dumps(card))
    with pytest.raises(LivescopeError, match="2 outputs"):
        load_bundle(b2)
    b3 = tmp_path / "size"
    sh.copytree(tiny_bundles["A"], b3)
    card = json.loads((b3 / "card.json").read_text())
    card["input_size"] = 331
    (b3 / "card.json").write_text(json.dumps(card))
    with pytest.raises(LivescopeError, match="input size 331"):
        load_bundle(b3)


def test_cascade_assembly_refuses_different_backbones(tiny_bundles, phantom_set, tmp_path):
    from livescope.models.commands import assemble_cascade

    other, _ = train(TrainConfig(task="B", data=str(phantom_set), backbone="tiny_cnn", weights="none", size=64,
                                 epochs=1, progress=False, seed=99, out=str(tmp_path / "b99")))
    with pytest.raises(LivescopeError, match="do not share one backbone"):
        assemble_cascade(str(tiny_bundles["gate"]), str(tiny_bundles["A"]), str(other), str(tmp_path / "c"))
