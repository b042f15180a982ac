import numpy as np
import pytest

from livescope.live.overlay import OverlayRenderer, Status
from livescope.live.smoothing import SmoothedState


@pytest.mark.parametrize("h,w", [(480, 640), (1080, 1920)])
def test_overlay_changes_pixels_where_expected(h, w):
    rng = np.random.default_rng(0)
    frame = np.zeros((h, w, 3), np.uint8)
    box = (w // 3, h // 10, h * 8 // 10, h * 8 // 10)
    x, y, bw, bh = box
    frame[y:y + bh, x:x + bw] = rng.integers(60, 200, (bh, bw, 3), dtype=np.uint8)
    cam = np.zeros((7, 7), np.float32)
    cam[2:4, 2:4] = 1.0
    state = SmoothedState(1.0, True, 0.9, np.array([0.2, 0.8]), np.array([0.1, 0.8, 0.1]), "hemorrhoid", "Rf1", 0.8)
    r = OverlayRenderer(["normal", "hemorrhoid"])
    out = r.render(frame.copy(), state, cam, box, Status(30, 15, 20, 0, "m"), cam_on=True)
    diff = np.abs(out.astype(int) - frame.astype(int)).sum(2) > 0
    # The decision panel (top left) and the status line (bottom) are drawn.
    assert diff[: h // 4, : w // 4].mean() > 0.01
    assert diff[-h // 20:, : w // 4].any()
    # The heatmap is inside the endoscope area, where the map is hot, and not where it is cold.
    hot = diff[y + int(bh * 2.2 / 7):y + int(bh * 3.8 / 7), x + int(bw * 2.2 / 7):x + int(bw * 3.8 / 7)]
    cold = diff[y + int(bh * 5.5 / 7):y + bh - 2, x + int(bw * 5.5 / 7):x + bw - 2]
    assert hot.mean() > 0.9 and cold.mean() < 0.05
    # Heatmap off: the area stays as it was.
    out2 = r.render(frame.copy(), state, cam, box, Status(), cam_on=False)
    assert (out2[y + bh // 3:y + bh // 2, x + bw // 3:x + bw // 2] == frame[y + bh // 3:y + bh // 2, x + bw // 3:x + bw // 2]).all()
    # Gate out: no heatmap even when a map exists.
    out3 = r.render(frame.copy(), SmoothedState(1.0, False, 0.1, None, None, None, None, None), cam, box, Status())
    assert (out3[y + bh // 3:y + bh // 2, x + bw // 3:x + bw // 2] == frame[y + bh // 3:y + bh // 2, x + bw // 3:x + bw // 2]).all()


def test_grade_colours_differ():
    frame = np.zeros((480, 640, 3), np.uint8)
    r = OverlayRenderer(["normal", "hemorrhoid"])
    outs = {}
    for g in ("normal", "Rf0", "Rf1", "Rf2", "uncertain"):
        st = SmoothedState(1.0, True, 0.9, np.array([0.2, 0.8]), np.array([0.1, 0.8, 0.1]), "hemorrhoid", g, 0.8)
        outs[g] = r.render(frame.copy(), st, None, None, Status())
    colours = {g: tuple(np.median(o[o.sum(2) > 200].reshape(-1, 3), 0)) for g, o in outs.items()}
    assert len(set(colours.values())) >= 4
