import numpy as np
import pytest
from sklearn import metrics as skm

from livescope.models.metrics import point_metrics, with_bootstrap


def test_binary_metrics_hand_checked():
    # 10 images: 4 hemorrhoid (label 1), 6 normal. Predictions: TP=3, FN=1, FP=1, TN=5.
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    p1 = np.array([0.9, 0.8, 0.7, 0.3, 0.6, 0.2, 0.1, 0.1, 0.2, 0.4])
    probs = np.stack([1 - p1, p1], 1)
    m = point_metrics(y, probs, ["normal", "hemorrhoid"], "hemorrhoid")
    assert m["accuracy"] == pytest.approx(0.8)
    assert m["precision"] == pytest.approx(0.75)  # 3 / (3 + 1)
    assert m["recall"] == pytest.approx(0.75)  # 3 / (3 + 1)
    assert m["f1"] == pytest.approx(0.75)
    assert m["confusion_matrix"] == [[5, 1], [1, 3]]
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p1))


def test_multiclass_matches_sklearn_macro():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 50)
    probs = rng.dirichlet([1, 1, 1], 50)
    m = point_metrics(y, probs, ["Rf0", "Rf1", "Rf2"], None)
    pred = probs.argmax(1)
    assert m["f1"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert m["precision"] == pytest.approx(skm.precision_score(y, pred, average="macro", zero_division=0))
    assert set(m["per_class"]) == {"Rf0", "Rf1", "Rf2"}
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, probs, multi_class="ovr"))


def test_bootstrap_interval_contains_point():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 80)
    p1 = np.clip(y * 0.6 + rng.random(80) * 0.5, 0, 1)
    m = with_bootstrap(y, np.stack([1 - p1, p1], 1), ["normal", "hemorrhoid"], "hemorrhoid", resamples=200)
    for key in ("accuracy", "f1", "roc_auc"):
        lo, hi = m["ci95"][key]
        assert lo <= m[key] <= hi and hi - lo < 0.5
