"""Real colonoscopy frames (HyperKvasir, read from ../shared): the endoscope-area finder, `evaluate`
on a real folder through a class map, and the shipped default model on frames it did not train
on. Skips when the shared folder is missing."""

import csv
import json
import subprocess
import sys

import numpy as np

from livescope.data.endoscope_area import find_image_area
from livescope.data.images import read_image


def test_endoscope_area_on_real_frames(real_data):
    rows = list(csv.DictReader(open(real_data / "labels.csv")))[:40]
    for r in rows:
        img = read_image(real_data / r["path"])
        x, y, w, h = find_image_area(img).box
        H, W = img.shape[:2]
        assert 0 <= x and 0 <= y and x + w <= W and y + h <= H
        assert w * h >= 0.3 * W * H  # the image area is most of the frame
        inside = img[y:y + h, x:x + w].mean()
        assert inside > img.mean() * 0.9  # and it is where the light is


def test_default_model_keeps_real_forward_views_out(real_data):
    """The shipped model on the real forward views its recipe held out: a guard against a model
    that lets real forward views in (the phantom-only stage lets in about 5-12 %)."""
    from livescope.data.model_input import model_input
    from livescope.models.cascade import Cascade
    from livescope.recipes.default import real_split

    cascade = Cascade(None)
    held_out = real_split(real_data, 0)["forward_test"]  # not used in the default model's training
    x = np.stack([model_input(read_image(real_data / p), cascade.size, cascade.crop, cascade.mask) for p in held_out])
    p_in = np.array([r.probs["gate"][1] for i in range(0, len(x), 64) for r in cascade.analyse(x[i:i + 64], cam=False)])
    assert len(held_out) > 250 and (p_in >= cascade.thresholds["gate_enter"]).mean() <= 0.03, p_in.round(2)


def _evaluate(bundle, real_data, task, out):
    r = subprocess.run([sys.executable, "-m", "livescope.cli", "evaluate", str(bundle), "--data", str(real_data),
                        "--map", "hyperkvasir-lower-gi", "--task", task, "--out", str(out), "--bootstrap", "20"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return json.loads((out / "metrics.json").read_text()), r.stdout


def test_evaluate_scores_a_real_folder_through_a_class_map(real_data, tiny_bundles, tmp_path):
    """`livescope evaluate` on the real folder: the map makes hemorrhoids "retroflex" and forward
    views "other" for the gate, with its single-image corrections (shaft in view: "retroflex";
    unclear: left out), and only the hemorrhoids (all "hemorrhoid") for task A."""
    from livescope.data.class_map import load_map

    cmap = load_map("hyperkvasir-lower-gi")
    to_retro = {p for p, e in cmap.images.items() if e.get("gate") == "retroflex"}
    left_out = {p for p, e in cmap.images.items() if "gate" in e and e["gate"] is None}
    m, stdout = _evaluate(tiny_bundles["cascade"], real_data, "gate", tmp_path / "gate")
    assert m["class_map_corrections"] == len(to_retro) + len(left_out) and "corrects 18 single images" in stdout
    rows = list(csv.DictReader(open(real_data / "labels.csv")))
    n_retro = sum(1 for x in rows if x["class"] == "hemorrhoids")
    assert m["counts"] == {"other": len(rows) - n_retro - len(to_retro) - len(left_out),
                           "retroflex": n_retro + len(to_retro)}
    preds = {p["path"]: p["label"] for p in csv.DictReader(open(tmp_path / "gate" / "predictions.csv"))}
    assert len(preds) == len(rows) - len(left_out) and not left_out & preds.keys()
    assert all(lab == "retroflex" for p, lab in preds.items() if p.startswith("hemorrhoids/") or p in to_retro)
    assert all(lab == "other" for p, lab in preds.items() if not p.startswith("hemorrhoids/") and p not in to_retro)
    ma, stdout = _evaluate(tiny_bundles["cascade"], real_data, "A", tmp_path / "A")
    assert ma["counts"] == {"normal": 0, "hemorrhoid": n_retro} and ma["images"] == n_retro
    assert f"{n_retro} hemorrhoid" in stdout
