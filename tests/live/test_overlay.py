import cv2
import numpy as np
import pytest

from livescope.data.endoscope_area import ImageArea, find_image_area
from livescope.live.overlay import OverlayRenderer, Status, StatusAnnotator
from livescope.live.smoothing import SmoothedState

LABELS = {"gate": ["other", "retroflex"], "A": ["normal", "hemorrhoid"], "B": ["Rf0", "Rf1", "Rf2"]}
POS = {"gate": "retroflex", "A": "hemorrhoid", "B": "Rf2"}
RF1 = SmoothedState(1.0, True, 0.9, np.array([0.2, 0.8]), np.array([0.1, 0.8, 0.1]), "hemorrhoid", "Rf1", 0.8)


def _box_area(x, y, w, h) -> ImageArea:
    return ImageArea((x, y, w, h), np.array([[x, y], [x + w - 1, y], [x + w - 1, y + h - 1], [x, y + h - 1]], np.int32))


@pytest.mark.parametrize("h,w", [(480, 640), (1080, 1920)])
def test_overlay_changes_pixels_where_expected(h, w):
    rng = np.random.default_rng(0)
    frame = np.zeros((h, w, 3), np.uint8)
    area = _box_area(w // 3, h // 10, h * 8 // 10, h * 8 // 10)
    x, y, bw, bh = area.box
    frame[y:y + bh, x:x + bw] = rng.integers(60, 200, (bh, bw, 3), dtype=np.uint8)
    cam = np.zeros((7, 7), np.float32)
    cam[2:4, 2:4] = 1.0
    r = OverlayRenderer(LABELS, POS)
    out = r.render(frame.copy(), RF1, cam, area, Status(30, 15, 20, 0, "m"), cam_task="B")
    diff = np.abs(out.astype(int) - frame.astype(int)).sum(2) > 0
    # The decision panel (top left) and the status line (bottom) are drawn.
    assert diff[: h // 4, : w // 4].mean() > 0.01
    assert diff[-h // 20:, : w // 4].any()
    # The heatmap is inside the endoscope area, where the map is hot, and not where it is cold.
    hot = diff[y + int(bh * 2.2 / 7):y + int(bh * 3.8 / 7), x + int(bw * 2.2 / 7):x + int(bw * 3.8 / 7)]
    cold = diff[y + int(bh * 5.5 / 7):y + bh - 2, x + int(bw * 5.5 / 7):x + bw - 2]
    assert hot.mean() > 0.9 and cold.mean() < 0.05
    # Heatmap off: the area stays as it was.
    out2 = r.render(frame.copy(), RF1, cam, area, Status(), cam_task="B", cam_on=False)
    assert (out2[y + bh // 3:y + bh // 2, x + bw // 3:x + bw // 2] == frame[y + bh // 3:y + bh // 2, x + bw // 3:x + bw // 2]).all()
    # Gate out: no heatmap even when a map exists.
    out3 = r.render(frame.copy(), SmoothedState(1.0, False, 0.1, None, None, None, None, None), cam, area, Status())
    assert (out3[y + bh // 3:y + bh // 2, x + bw // 3:x + bw // 2] == frame[y + bh // 3:y + bh // 2, x + bw // 3:x + bw // 2]).all()


def test_heatmap_stays_inside_the_octagon_not_its_box():
    """A hot map over the whole view: the black cut corners of the octagon stay black."""
    frame = np.zeros((720, 1280, 3), np.uint8)
    c = 150
    octagon = np.array([[300 + c, 40], [980 - c, 40], [980, 40 + c], [980, 680 - c], [980 - c, 680], [300 + c, 680],
                        [300, 680 - c], [300, 40 + c]], np.int32)
    cv2.fillPoly(frame, [octagon], (170, 80, 70))
    area = find_image_area(frame)
    out = OverlayRenderer(LABELS, POS).render(frame.copy(), RF1, np.ones((5, 5), np.float32), area, Status(),
                                              cam_task="B")
    assert out[60, 320].max() == 0  # inside the box, outside the octagon: still black
    assert np.abs(out[360, 640].astype(int) - frame[360, 640]).sum() > 30  # the picture is tinted


def test_findings_mode_shows_no_heatmap_on_a_normal_view():
    frame = np.full((480, 640, 3), 120, np.uint8)
    area = _box_area(100, 40, 400, 400)
    normal = SmoothedState(1.0, True, 0.95, np.array([0.97, 0.03]), None, "normal", "normal", 0.97)
    cam = np.ones((5, 5), np.float32)
    findings = OverlayRenderer(LABELS, POS).render(frame.copy(), normal, cam, area, Status(), cam_task="A")
    everything = OverlayRenderer(LABELS, POS, cam_mode="all").render(frame.copy(), normal, cam, area, Status(),
                                                                      cam_task="A")
    centre = (slice(200, 300), slice(250, 400))
    assert (findings[centre] == frame[centre]).all()
    assert (everything[centre] != frame[centre]).any()


def test_heatmap_colours_stay_readable_on_red_signs():
    """The hot end of the colour map, blended at the overlay's strength, stands out from the
    phantom's red colour signs; jet's (red) would not."""
    from livescope.cam.heatmap import COLORMAP, blend
    from livescope.phantom.scenes import render_retroflex

    sc = render_retroflex(np.random.default_rng([2, 9]), 200, "Rf1")
    img = (sc.rgb * 255).astype(np.uint8)
    red = sc.masks["red_sign"]
    assert red.sum() > 50
    lab = cv2.cvtColor(img, cv2.COLOR_RGB2LAB).astype(float)
    cam = np.ones((5, 5), np.float32)

    def contrast(colormap):
        over = cv2.cvtColor(blend(img, cam, alpha=0.5, floor=0.0, colormap=colormap), cv2.COLOR_RGB2LAB).astype(float)
        return float(np.linalg.norm(over[red] - lab[red], axis=1).mean())

    assert contrast(COLORMAP) > 1.5 * contrast(cv2.COLORMAP_JET), (contrast(COLORMAP), contrast(cv2.COLORMAP_JET))


def test_panel_names_each_probability():
    from livescope.live.decision import describe

    d = describe(RF1, LABELS, POS)
    assert d.text == "HEMORRHOID Rf1 80%" and "P(hemorrhoid) 80%" in d.detail and "P(Rf1) 80%" in d.detail
    # Above the enter threshold but still waiting out the dwell: never "no retroflex view".
    entering = describe(SmoothedState(1.0, False, 0.99, None, None, None, None, None), LABELS, POS, {"gate_enter": 0.6})
    assert "no retroflex" not in entering.text and "99%" in entering.detail


def test_status_shows_rates_only_once_measured():
    text = StatusAnnotator().text(Status(video_fps=None, ai_hz=None, live=True))
    assert "display -- | AI --" in text.replace(" fps", "").replace(" Hz", "") or "AI --" in text
    assert "2070" not in text
    replay = StatusAnnotator().text(Status(video_fps=65.7, ai_hz=65.0, live=False))
    assert "processing (replay) 65.7 fps" in replay


def test_grade_colours_differ():
    frame = np.zeros((480, 640, 3), np.uint8)
    r = OverlayRenderer(LABELS, POS)
    outs = {}
    for g in ("normal", "Rf0", "Rf1", "Rf2", "uncertain"):
        st = SmoothedState(1.0, True, 0.9, np.array([0.2, 0.8]), np.array([0.1, 0.8, 0.1]), "hemorrhoid", g, 0.8)
        outs[g] = r.render(frame.copy(), st, None, None, Status())
    colours = {g: tuple(np.median(o[o.sum(2) > 200].reshape(-1, 3), 0)) for g, o in outs.items()}
    assert len(set(colours.values())) >= 4
