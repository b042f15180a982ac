"""One frame at a time through the same cascade, smoothing and overlay as `livescope run`:
for callers that receive frames themselves (the Gradio demo's live tab). One instance per
viewer, so two people never share smoothing state."""

from __future__ import annotations

import time

import numpy as np

from livescope.data.images import mask_outside
from livescope.live.episodes import EpisodeTracker
from livescope.live.overlay import OverlayRenderer, Status
from livescope.live.pipeline import EndoscopeArea
from livescope.live.smoothing import TemporalSmoother


class FrameAnalyzer:
    def __init__(self, cascade, mask_osd: bool = True):
        self.cascade = cascade
        self.mask_osd = mask_osd
        positive = {t: cascade.positive(t) for t in cascade.tasks}
        self.smoother = TemporalSmoother(cascade.labels, cascade.thresholds, positive)
        self.episodes = EpisodeTracker(cascade.labels, positive)
        self.renderer = OverlayRenderer(cascade.labels.get("A"), positive.get("A", "hemorrhoid"))
        self.area = EndoscopeArea()
        self.t0 = time.monotonic()
        self.frames = 0
        self.last_ms = 0.0

    def process(self, rgb: np.ndarray, t: float | None = None) -> tuple[np.ndarray, dict]:
        t = time.monotonic() - self.t0 if t is None else t
        s0 = time.perf_counter()
        box = self.area.update(rgb, t)
        inp = self.cascade.model_input(rgb, box)
        r = self.cascade.analyse(inp[None], cam=True)[0]
        state = self.smoother.update(t, r.probs)
        self.episodes.update(self.frames, t, state, r.probs, None, r.cam, box)
        self.frames += 1
        self.last_ms = (time.perf_counter() - s0) * 1000
        scene = mask_outside(rgb, box) if self.mask_osd else rgb.copy()
        scene = self.renderer.render(scene, state, r.cam, box,
                                     Status(ai_latency_ms=self.last_ms, model=self.cascade.name), cam_on=True)
        info = {"state": state.state, "grade": state.grade, "a": state.a_label, "p_gate": round(state.p_gate, 4),
                "confidence": state.confidence, "frames": self.frames, "episodes": len(self.episodes.episodes)}
        return scene, info
