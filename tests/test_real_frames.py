"""Real colonoscopy frames (HyperKvasir, read from ../shared): the endoscope-area finder and the
shipped default model on frames it did not train on. Skips when the shared folder is missing."""

import csv

import numpy as np

from livescope.data.images import find_endoscope_area, read_image


def test_endoscope_area_on_real_frames(real_data):
    rows = list(csv.DictReader(open(real_data / "labels.csv")))[:40]
    for r in rows:
        img = read_image(real_data / r["path"])
        x, y, w, h = find_endoscope_area(img)
        H, W = img.shape[:2]
        assert 0 <= x and 0 <= y and x + w <= W and y + h <= H
        assert w * h >= 0.3 * W * H  # the image area is most of the frame
        inside = img[y:y + h, x:x + w].mean()
        assert inside > img.mean() * 0.9  # and it is where the light is


def test_default_model_keeps_real_forward_views_out(real_data):
    from livescope.data.images import prepare
    from livescope.models.cascade import Cascade
    from livescope.models.default_recipe import real_split

    cascade = Cascade(None)
    held_out = real_split(real_data, 0)["forward_test"][:40]  # not used in the default model's training
    x = np.stack([prepare(read_image(real_data / p), cascade.size, crop=True) for p in held_out])
    res = cascade.analyse(x, cam=False)
    p_in = np.array([r.probs["gate"][1] for r in res])
    assert (p_in >= cascade.thresholds["gate_enter"]).sum() <= 2, p_in.round(2)
