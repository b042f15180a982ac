"""One frame step for everyone: find the endoscope area, run the cascade on what the network
sees of the frame, smooth, and follow the episodes. The pipeline (`livescope run`), the demo's
live tab and `explain` all call this; nothing else runs the model on a frame."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from livescope.data.endoscope_area import EndoscopeArea, ImageArea, find_image_area
from livescope.live.episodes import Episode, EpisodeTracker
from livescope.live.smoothing import SmoothedState, TemporalSmoother


@dataclass
class FrameAnalysis:
    index: int
    arrival: float
    pts: float
    probs: dict  # task -> raw class probabilities (tasks the cascade reached)
    state: SmoothedState
    cam: np.ndarray | None
    cam_task: str | None
    area: ImageArea | None
    ai_ms: float
    closed: Episode | None = None  # the episode that ended at this frame, if any


@dataclass
class StillAnalysis:
    """A still image: the raw result and the verdict the overlay would settle on."""

    probs: dict
    labels: dict  # task -> arg-max label of the heads reached
    state: SmoothedState
    cam: np.ndarray | None
    cam_task: str | None
    cam_label: str | None
    area: ImageArea | None
    model_input: np.ndarray


class FrameStep:
    """Stateful per video (smoothing, episodes, the area it follows): one per source or viewer."""

    def __init__(self, cascade, cam: bool = True, mask_osd: bool = True, key_frames: bool = True):
        self.cascade = cascade
        self.cam = cam
        self.labels = cascade.labels
        self.positive = {task: cascade.positive(task) for task in cascade.tasks}
        self.smoother = TemporalSmoother(self.labels, cascade.thresholds, self.positive)
        self.episodes = EpisodeTracker(self.labels, self.positive, mask=mask_osd)
        self.area = EndoscopeArea()
        self.key_frames = key_frames
        self.timings: dict[str, list[float]] = {"crop_resize": [], "model": [], "smoothing": []}

    def run(self, frames: list) -> list[FrameAnalysis]:
        """Analyse frames (`Frame`s, in order) with one model call; smoothing follows in order."""
        t0 = time.perf_counter()
        areas = [self.area.update(f.image, f.pts) for f in frames]
        batch = np.stack([self.cascade.model_input(f.image, a) for f, a in zip(frames, areas, strict=True)])
        self.timings["crop_resize"].append((time.perf_counter() - t0) * 1000 / len(frames))
        t1 = time.perf_counter()
        results = self.cascade.analyse(batch, cam=self.cam)
        ai_ms = (time.perf_counter() - t1) * 1000 / len(frames)
        self.timings["model"].append(ai_ms)
        out = []
        for f, area, r in zip(frames, areas, results, strict=True):
            t2 = time.perf_counter()
            state = self.smoother.update(f.pts, r.probs)
            closed = self.episodes.update(f.index, f.pts, state, r.probs, f.image if self.key_frames else None,
                                          r.cam, area, r.cam_task)
            self.timings["smoothing"].append((time.perf_counter() - t2) * 1000)
            out.append(FrameAnalysis(f.index, f.arrival, f.pts, r.probs, state, r.cam, r.cam_task, area, ai_ms, closed))
        return out

    def finish(self, last_index: int, pts: float) -> None:
        self.episodes.finish(last_index, pts)


def analyse_still(cascade, rgb: np.ndarray, cam_task: str | None = None) -> StillAnalysis:
    """A still image through the same crop and model, and the smoother's steady verdict."""
    area = find_image_area(rgb)
    inp = cascade.model_input(rgb, area)
    r = cascade.analyse(inp[None], cam=True, cam_task=cam_task)[0]
    positive = {task: cascade.positive(task) for task in cascade.tasks}
    state = TemporalSmoother.steady_state(cascade.labels, cascade.thresholds, positive, r.probs)
    return StillAnalysis(r.probs, r.labels, state, r.cam, r.cam_task, r.cam_label, area, inp)
