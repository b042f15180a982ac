"""`livescope explain`: the paper's figure 5 triptych for one image, through the live Grad-CAM."""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from livescope import RESEARCH_NOTICE


def explain_image(rgb: np.ndarray, cascade, task: str | None = None):
    """Returns (triptych RGB, result, caption) for one RGB image of any size."""
    from livescope.cam.overlay import triptych
    from livescope.data.images import prepare

    inp = prepare(rgb, cascade.size, crop=cascade.crop)
    r = cascade.analyse(inp[None], cam=True, cam_task=task)[0]
    parts = []
    for t in cascade.tasks:
        if t in r.probs:
            lab = r.labels[t]
            parts.append(f"{t}: {lab} {float(r.probs[t].max()):.2f}")
    caption = " | ".join(parts) + (f"  (heatmap: {r.cam_task} '{r.cam_label}')" if r.cam_task else "")
    cam = r.cam if r.cam is not None else np.zeros((7, 7), np.float32)
    return triptych(inp, cam, caption, RESEARCH_NOTICE), r, caption


def run_explain(args: argparse.Namespace) -> int:
    from livescope.data.images import read_image_or_exit
    from livescope.models.cascade import Cascade

    rgb = read_image_or_exit(args.image)
    cascade = Cascade(args.model)
    if args.task is not None and args.task not in cascade.tasks:
        from livescope.errors import LivescopeError

        raise LivescopeError(f"the model has no head for task {args.task}", f"its heads are {', '.join(cascade.tasks)}")
    img, r, caption = explain_image(rgb, cascade, args.task)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), cv2.cvtColor(img, cv2.COLOR_RGB2BGR)):
        from livescope.errors import LivescopeError

        raise LivescopeError(f"cannot write {out}", "give an output path ending in .png in a writable folder")
    print(f"{caption}\nwrote {out}")
    return 0
