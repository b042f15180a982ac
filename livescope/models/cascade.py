"""The cascade at run time: one backbone pass per frame, then the gate head; task A only for
frames the gate lets in, task B only for hemorrhoids; Grad-CAM from the head alone.

Labels, input size and thresholds all come from the bundle's card.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from livescope.cam.gradcam import GradCam
from livescope.models.bundle import load_bundle, resolve_bundle
from livescope.tfenv import tf

TASK_ORDER = ("gate", "A", "B")


@dataclass
class CascadeResult:
    probs: dict[str, np.ndarray] = field(default_factory=dict)  # task -> class probabilities
    labels: dict[str, str] = field(default_factory=dict)  # task -> arg-max label
    cam: np.ndarray | None = None  # (h, w) in [0, 1], on the feature grid
    cam_task: str | None = None
    cam_label: str | None = None

    def p(self, task: str, label: str, labels: list[str]) -> float | None:
        if task not in self.probs:
            return None
        return float(self.probs[task][labels.index(label)])


class Cascade:
    """Load a bundle and analyse batches of model-sized uint8 RGB images."""

    def __init__(self, bundle: str | Path | None = None, jit: bool = False):
        t = tf()
        self.path = resolve_bundle(bundle)
        self.model, self.card = load_bundle(self.path)
        self.size = int(self.card["input_size"])
        self.tasks = [task for task in TASK_ORDER if task in self.card["tasks"]]
        self.labels = {task: list(self.card["tasks"][task]["labels"]) for task in self.tasks}
        self.thresholds = dict(self.card.get("thresholds", {}))
        self.crop = bool(self.card.get("preprocessing", {}).get("crop_to_endoscope_area", True))
        self.name = self.card.get("name") or f"{self.card.get('backbone', {}).get('name', '?')}@{self.size}"
        self.backbone = self.model.get_layer("backbone")
        self.heads = {task: self.model.get_layer(f"head_{task}") for task in self.tasks}
        self.cams = {task: GradCam(head) for task, head in self.heads.items()}
        spec = t.TensorSpec([None, self.size, self.size, 3], t.uint8)

        def features(x):
            fmap = self.backbone(x, training=False)
            return fmap, t.reduce_mean(fmap, axis=[1, 2])

        self._features = t.function(features, input_signature=[spec], jit_compile=jit)
        self._probs = {}
        self._cam = {}
        for task in self.tasks:
            head, cam = self.heads[task], self.cams[task]
            c = int(self.backbone.output_shape[-1])
            self._probs[task] = t.function(
                lambda pooled, head=head: t.nn.softmax(head(pooled, training=False)),
                input_signature=[t.TensorSpec([None, c], t.float32)])
            self._cam[task] = t.function(
                lambda fmap, idx, cam=cam: cam(fmap, idx),
                input_signature=[t.TensorSpec([None, None, None, c], t.float32), t.TensorSpec([None], t.int32)])
        self.last_timing: dict[str, float] = {}

    def warm_up(self, batch_sizes=(1,)) -> None:
        for b in batch_sizes:
            self.analyse(np.zeros((b, self.size, self.size, 3), np.uint8), cam=True)

    def positive(self, task: str) -> str:
        info = self.card["tasks"][task]
        return info.get("positive") or info["labels"][-1]

    def analyse(self, images: np.ndarray, cam: bool = True, cam_task: str | None = None) -> list[CascadeResult]:
        """images: (B, size, size, 3) uint8 RGB -> one CascadeResult per image."""
        t = tf()
        t0 = time.perf_counter()
        fmap, pooled = self._features(t.constant(images))
        t1 = time.perf_counter()
        n = images.shape[0]
        results = [CascadeResult() for _ in range(n)]
        active = np.arange(n)
        gate_min = float(self.thresholds.get("gate_exit", 0.4))
        a_min = 0.5 * float(self.thresholds.get("hemorrhoid", 0.5))
        deepest = [None] * n
        for task in self.tasks:
            if len(active) == 0:
                break
            probs = self._probs[task](t.gather(pooled, active)).numpy()
            labels = self.labels[task]
            keep = []
            for j, i in enumerate(active):
                results[i].probs[task] = probs[j]
                results[i].labels[task] = labels[int(probs[j].argmax())]
                deepest[i] = task
                # Run the next head only where this one says "go on"; borderline frames go on
                # too, so the smoother downstream has values at the edges of an episode.
                if task == "gate":
                    go = probs[j][labels.index(self.positive("gate"))] >= gate_min
                elif task == "A":
                    go = probs[j][labels.index(self.positive("A"))] >= a_min
                else:
                    go = False
                if go:
                    keep.append(i)
            active = np.array(keep, dtype=int)
        t2 = time.perf_counter()
        if cam:
            by_task: dict[str, list[int]] = {}
            for i in range(n):
                task = cam_task if cam_task in self.tasks else deepest[i]
                if task is not None and task in results[i].probs:
                    by_task.setdefault(task, []).append(i)
            for task, idx in by_task.items():
                cls = np.array([int(results[i].probs[task].argmax()) for i in idx], np.int32)
                maps = self._cam[task](t.gather(fmap, idx), t.constant(cls)).numpy()
                maps = GradCam.normalise(maps)
                for j, i in enumerate(idx):
                    results[i].cam = maps[j]
                    results[i].cam_task = task
                    results[i].cam_label = self.labels[task][cls[j]]
        t3 = time.perf_counter()
        self.last_timing = {"backbone_ms": (t1 - t0) * 1000, "heads_ms": (t2 - t1) * 1000, "cam_ms": (t3 - t2) * 1000}
        return results
