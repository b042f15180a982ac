"""`livescope explain` masks the processor's on-screen text by default (pixel check on a still
whose text sits on the octagon's cut corners, inside the area's bounding box)."""

import subprocess
import sys

import cv2
import numpy as np


def _still_with_text(path):
    img = np.zeros((480, 640, 3), np.uint8)
    c = 120
    octagon = np.array([[100 + c, 20], [600 - c, 20], [600, 20 + c], [600, 460 - c], [600 - c, 460], [100 + c, 460],
                        [100, 460 - c], [100, 20 + c]], np.int32)
    cv2.fillPoly(img, [octagon], (90, 90, 190))  # BGR: a reddish view
    for i, line in enumerate(("DOE^JANE", "ID:1234")):  # on the black of the cut corner only
        cv2.putText(img, line, (104, 34 + 14 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (235, 235, 235), 1, cv2.LINE_AA)
    cv2.imwrite(str(path), img)


def _original_panel(path):
    pic = cv2.imread(str(path))
    panel = (pic.shape[1] - 4 * 8) // 3
    return pic[44:44 + panel, 8:8 + panel]


def test_explain_masks_the_on_screen_text_by_default(tiny_bundles, tmp_path):
    still = tmp_path / "still.png"
    _still_with_text(still)
    outs = {}
    for name, extra in (("masked", []), ("unmasked", ["--no-mask-osd"])):
        out = tmp_path / f"{name}.png"
        r = subprocess.run([sys.executable, "-m", "livescope.cli", "explain", str(still), "--model",
                            str(tiny_bundles["cascade"]), "--out", str(out), *extra], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        outs[name] = _original_panel(out)
    # The panel shows the endoscope image cropped: its top-left corner is where the text was.
    corner = (slice(0, 40), slice(0, 60))
    assert outs["unmasked"][corner].max() > 150  # the text, when asked for
    assert outs["masked"][corner].max() < 40  # gone by default
    assert outs["masked"][200:260, 200:260].mean() > 60  # and the picture is still there
