"""Episodes: each stretch of gate-in, with its decided grade, its probabilities and a key frame
(cropped to the endoscope image, blanked outside its outline) with the heatmap that explains it."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from livescope.live.smoothing import SmoothedState


@dataclass
class Episode:
    number: int
    start_frame: int
    start_s: float
    end_frame: int = -1
    end_s: float = -1.0
    a_sum: np.ndarray | None = None
    b_sum: np.ndarray | None = None
    a_weight: float = 0.0
    b_weight: float = 0.0
    frames: int = 0
    first_stable_s: float | None = None  # when a stable grade was first shown
    key_score: float = -1.0
    key_frame: np.ndarray | None = None  # the endoscope image, cropped, at most key_width wide
    key_clip: np.ndarray | None = None  # uint8 mask of its outline (same size)
    key_cam: np.ndarray | None = None
    key_cam_task: str | None = None
    key_index: int = -1
    key_s: float = 0.0
    decision: dict = field(default_factory=dict)


class EpisodeTracker:
    """Weights each analysed frame's raw probabilities by how sure the gate is (and, for the
    grade, how likely a hemorrhoid is), so blurred or borderline frames count less."""

    def __init__(self, labels: dict[str, list[str]], positive: dict[str, str], key_width: int = 640,
                 mask: bool = True):
        self.labels = labels
        self.positive = positive
        self.key_width = key_width
        self.mask = mask  # key frames blank the area's cut corners (the on-screen text)
        self.episodes: list[Episode] = []
        self.current: Episode | None = None

    def update(self, index: int, pts: float, state: SmoothedState, probs: dict[str, np.ndarray] | None,
               image: np.ndarray | None = None, cam: np.ndarray | None = None, area=None,
               cam_task: str | None = None) -> Episode | None:
        """Feed one frame; returns an episode when it has just closed."""
        closed = None
        if state.gate_in and self.current is None:
            self.current = Episode(len(self.episodes) + 1, index, pts)
        if self.current is not None and not state.gate_in:
            closed = self._close(index - 1, pts)
        ep = self.current
        if ep is None:
            return closed
        ep.frames += 1
        if state.grade not in (None, "uncertain", "hemorrhoid") and ep.first_stable_s is None:
            ep.first_stable_s = pts
        if probs:
            w = state.p_gate
            if "A" in probs:
                ep.a_sum = probs["A"] * w if ep.a_sum is None else ep.a_sum + probs["A"] * w
                ep.a_weight += w
                if "B" in probs:
                    wb = w * float(probs["A"][self.labels["A"].index(self.positive["A"])])
                    ep.b_sum = probs["B"] * wb if ep.b_sum is None else ep.b_sum + probs["B"] * wb
                    ep.b_weight += wb
                score = w * float(probs["A"].max())
                if image is not None and area is not None and score > ep.key_score:
                    self._key_frame(ep, score, index, pts, image, cam, area, cam_task)
        return closed

    def _key_frame(self, ep: Episode, score: float, index: int, pts: float, image: np.ndarray, cam, area,
                   cam_task) -> None:
        crop = area.crop(image)
        clip = area.crop_mask()
        h, w = crop.shape[:2]
        s = min(1.0, self.key_width / max(w, 1))
        size = (max(1, int(w * s)), max(1, int(h * s)))
        if s < 1:
            crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
            clip = cv2.resize(clip, size, interpolation=cv2.INTER_NEAREST)
        ep.key_frame = np.where(clip[..., None] > 0, crop, 0).astype(np.uint8) if self.mask else crop.copy()
        ep.key_clip = clip
        ep.key_cam = None if cam is None else cam.copy()
        ep.key_cam_task = cam_task
        ep.key_score, ep.key_index, ep.key_s = score, index, pts

    def _close(self, end_index: int, pts: float) -> Episode:
        ep = self.current
        ep.end_frame, ep.end_s = end_index, pts
        ep.decision = self.decide(ep)
        self.episodes.append(ep)
        self.current = None
        return ep

    def finish(self, last_index: int, pts: float) -> None:
        if self.current is not None:
            self._close(last_index, pts)

    def decide(self, ep: Episode) -> dict:
        if ep.a_sum is None or ep.a_weight <= 0:
            return {"grade": "undetermined", "confidence": None}
        la = self.labels["A"]
        pa = ep.a_sum / ep.a_weight
        a = la[int(pa.argmax())]
        out = {"A": a, "p_A": {lab: round(float(v), 4) for lab, v in zip(la, pa, strict=True)}}
        if a == self.positive["A"] and ep.b_sum is not None and ep.b_weight > 0:
            lb = self.labels["B"]
            pb = ep.b_sum / ep.b_weight
            out.update({"grade": lb[int(pb.argmax())], "confidence": round(float(pb.max()), 4),
                        "p_B": {lab: round(float(v), 4) for lab, v in zip(lb, pb, strict=True)}})
        else:
            out.update({"grade": a, "confidence": round(float(pa.max()), 4)})
        return out

    @staticmethod
    def summary(ep: Episode) -> dict:
        return {"episode": ep.number, "start_frame": ep.start_frame, "end_frame": ep.end_frame,
                "start_s": round(ep.start_s, 3), "end_s": round(ep.end_s, 3),
                "duration_s": round(ep.end_s - ep.start_s, 3), "analysed_frames": ep.frames,
                "first_stable_grade_s": None if ep.first_stable_s is None else round(ep.first_stable_s, 3),
                "key_frame_index": ep.key_index, "key_frame_s": round(ep.key_s, 3),
                "key_frame_heatmap_task": ep.key_cam_task, **ep.decision}
