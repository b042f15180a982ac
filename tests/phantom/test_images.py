import csv

import numpy as np
import pytest

from livescope.phantom.dataset import class_counts, contact_sheet, parse_balance, render_example
from livescope.phantom.scenes import GRADES, render_retroflex


def test_same_seed_same_bytes_different_seed_different():
    a = render_example(np.random.default_rng([1, 2, 3]), "Rf1", 96).image
    b = render_example(np.random.default_rng([1, 2, 3]), "Rf1", 96).image
    c = render_example(np.random.default_rng([1, 2, 4]), "Rf1", 96).image
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != c.tobytes()


@pytest.mark.parametrize("grade", GRADES)
def test_each_grade_shows_its_cue(grade):
    """Red colour signs only in Rf1/Rf2 (always in Rf1), bleeding signs only in Rf2 (always)."""
    for seed in range(6):
        sc = render_retroflex(np.random.default_rng([seed, 9]), 160, grade)
        red, bleed = sc.masks["red_sign"].sum(), sc.masks["bleeding_sign"].sum()
        if grade in ("normal", "Rf0"):
            assert red == 0 and bleed == 0
        if grade == "Rf1":
            assert red > 0 and bleed == 0
        if grade == "Rf2":
            assert bleed > 0
        if grade != "normal":
            assert sc.masks["cushion"].sum() > 0
        assert sc.masks["shaft"].sum() > 0  # the endoscope shaft is in every retroflexed view
        # The red-sign pixels really are red where the mask says so.
        if red:
            px = sc.rgb[sc.masks["red_sign"]]
            assert (px[:, 0] > px[:, 1] + 0.15).mean() > 0.8


def test_paper_balance_counts():
    counts = class_counts(1144, ("normal", "hemorrhoid"), parse_balance("paper"))
    assert counts == {"normal": 808, "hemorrhoid": 336}
    b = class_counts(336, ("Rf0", "Rf1", "Rf2"), parse_balance("paper"))
    assert b == {"Rf0": 121, "Rf1": 173, "Rf2": 42}


def test_synth_tree_and_labels(phantom_set):
    for tree, labels in {"gate": ("retroflex", "other"), "taskA": ("normal", "hemorrhoid"),
                         "taskB": ("Rf0", "Rf1", "Rf2")}.items():
        for lab in labels:
            assert any((phantom_set / tree / lab).iterdir())
    with open(phantom_set / "labels.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 60 + 60 + 30
    for r in rows:
        assert (phantom_set / r["file"]).exists()
        if r["tree"] == "taskB":
            assert r["task_a"] == "hemorrhoid" and r["task_b"] == r["label"]
            if r["label"] in ("Rf0",):
                assert int(r["red_sign_px"]) == 0 and int(r["bleeding_sign_px"]) == 0
        if r["gate"] == "other":
            assert r["task_a"] == "" and r["task_b"] == ""


def test_no_shortcut_in_frame_style(phantom_set):
    """Processor brand and image-area shape are drawn independently of the class."""
    import json

    with open(phantom_set / "labels.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["tree"] == "taskA"]
    brands = {lab: {json.loads(r["params"])["brand"] for r in rows if r["label"] == lab} for lab in ("normal", "hemorrhoid")}
    assert brands["normal"] == brands["hemorrhoid"] == {"olympus-like", "fujifilm-like"}


def test_contact_sheet(tmp_path):
    import cv2

    p = contact_sheet(tmp_path / "sheet.png", per_class=2, size=64)
    img = cv2.imread(str(p))
    assert img is not None and img.shape[0] > 5 * 64 and img.shape[1] > 2 * 64
