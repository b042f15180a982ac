"""`livescope explain`: the paper's figure 5 triptych for one image, through the live frame step.

The image leaves the process masked outside the endoscope image (`--mask-osd`, on by default):
the processor's on-screen text never reaches the output."""

from __future__ import annotations

import numpy as np

from livescope import RESEARCH_NOTICE


def explain_image(rgb: np.ndarray, cascade, task: str | None = None, mask_osd: bool = True, cam_mode: str = "all"):
    """Returns (triptych RGB, StillAnalysis, caption) for one RGB image of any size."""
    from livescope.cam.heatmap import triptych
    from livescope.data.endoscope_area import blank_outside
    from livescope.live.decision import describe, shows_finding
    from livescope.live.frame_step import analyse_still

    a = analyse_still(cascade, rgb, task)
    positive = {t: cascade.positive(t) for t in cascade.tasks}
    decision = describe(a.state, cascade.labels, positive, cascade.thresholds)
    shown = rgb
    if mask_osd:
        shown = blank_outside(rgb, a.area) if a.area is not None else np.zeros_like(rgb)
    if a.area is not None:  # the picture as the network sees it: the endoscope image, cropped
        shown = a.area.crop(shown)
    clip = a.area.crop_mask() if a.area is not None and mask_osd else None
    explains = a.cam_task if a.cam_task else None
    if cam_mode == "findings" and task is None and not shows_finding(decision):
        explains = None
    cam = a.cam if (a.cam is not None and explains and cam_mode != "off") else np.zeros((7, 7), np.float32)
    what = {"gate": "retroflex view", "A": "normal vs hemorrhoid", "B": "LDRf grade"}.get(explains, "no heatmap")
    caption = f"{decision.text}  |  {decision.detail}"
    title = f"Grad-CAM: {what}" + (f" ('{a.cam_label}')" if explains else "")
    return triptych(shown, cam, caption[:150], RESEARCH_NOTICE, title=title, clip=clip), a, caption
