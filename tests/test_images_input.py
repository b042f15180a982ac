"""Odd still images: 16-bit, tiny, huge (8K), grey and RGBA, through the real readers and `explain`."""

import subprocess
import sys

import cv2
import numpy as np
import pytest

from livescope.data.images import ImageReadError, read_image
from livescope.data.model_input import model_input


def test_16bit_grey_rgba(tmp_path):
    img16 = (np.random.default_rng(0).random((64, 80, 3)) * 65535).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "a.png"), img16)
    notes = []
    out = read_image(tmp_path / "a.png", notes)
    assert out.dtype == np.uint8 and out.shape == (64, 80, 3) and "16-bit converted to 8-bit" in notes
    cv2.imwrite(str(tmp_path / "g.png"), np.full((40, 40), 128, np.uint8))
    assert read_image(tmp_path / "g.png").shape == (40, 40, 3)
    cv2.imwrite(str(tmp_path / "r.png"), np.full((40, 40, 4), 200, np.uint8))
    assert read_image(tmp_path / "r.png").shape == (40, 40, 3)
    cv2.imwrite(str(tmp_path / "t.tiff"), img16[..., 0])
    assert read_image(tmp_path / "t.tiff").shape == (64, 80, 3)


def test_tiny_image_is_a_clear_error(tmp_path):
    cv2.imwrite(str(tmp_path / "tiny.png"), np.zeros((20, 31, 3), np.uint8))
    with pytest.raises(ImageReadError, match="too small"):
        read_image(tmp_path / "tiny.png")


def test_huge_8k_image(tmp_path):
    big = np.zeros((4320, 7680, 3), np.uint8)
    big[500:3800, 2000:5600] = 150  # an endoscope area in a black border
    cv2.imwrite(str(tmp_path / "big.jpg"), big)
    out = model_input(read_image(tmp_path / "big.jpg"), 160, crop=True, mask=True)
    assert out.shape == (160, 160, 3) and out.mean() > 140  # cropped to the bright area


@pytest.mark.parametrize("content,name,match", [
    (None, "missing.png", "does not exist"),
    (b"", "empty.png", "empty"),
    (b"%PDF-1.4 not an image", "doc.pdf.png", "not a readable image"),
])
def test_explain_bad_images_give_one_line(tiny_bundles, tmp_path, content, name, match):
    p = tmp_path / name
    if content is not None:
        p.write_bytes(content)
    r = subprocess.run([sys.executable, "-m", "livescope.cli", "explain", str(p), "--model",
                        str(tiny_bundles["cascade"]), "--out", str(tmp_path / "o.png")], capture_output=True, text=True)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and match in lines[0] and "Traceback" not in r.stderr
