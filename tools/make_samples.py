"""Regenerate samples/: the demo procedure video with its truth, and two stills per class.

    python tools/make_samples.py

Everything comes from the phantom generator (synthetic, not patient data); same code, same bytes.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from livescope.phantom.dataset import render_example
from livescope.phantom.video import synth_video

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
STILL_LABELS = ("normal", "Rf0", "Rf1", "Rf2", "other")


def main() -> None:
    info = synth_video(SAMPLES / "demo.mp4", seconds=30, fps=30, size="1280x720", seed=0,
                       episodes="Rf1,normal", crf=26)
    print(f"samples/demo.mp4: {info['frames']} frames, {info['realtime_factor']:.2f}x real time")
    for i, label in enumerate(STILL_LABELS):
        for k in (1, 2):
            ex = render_example(np.random.default_rng([77, i, k]), label, 331)
            cv2.imwrite(str(SAMPLES / f"still_{label}_{k}.jpg"), ex.image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 92])
    print(f"samples/still_*.jpg: {2 * len(STILL_LABELS)} stills")


if __name__ == "__main__":
    main()
