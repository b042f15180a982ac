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
from livescope.data.images import crop_area, downscale
from livescope.models.bundle import card_thresholds, load_bundle, resolve_bundle, task_positive
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
        self.thresholds = card_thresholds(self.card)
        self.crop = bool(self.card.get("preprocessing", {}).get("crop_to_endoscope_area", True))
        self.name = self.card.get("name") or f"{self.card.get('backbone', {}).get('name', '?')}@{self.size}"
        self.backbone = self.model.get_layer("backbone")
        self.heads = {task: self.model.get_layer(f"head_{task}") for task in self.tasks}
        spec = t.TensorSpec([None, self.size, self.size, 3], t.uint8)
        gate_min = float(self.thresholds["gate_exit"])
        a_min = 0.5 * float(self.thresholds["hemorrhoid"])
        pos = {task: self.labels[task].index(self.positive(task)) for task in self.tasks if task != "B"}

        def fused(x, cam_task, with_cam):
            """One call per batch: backbone once, every head, and Grad-CAM from the heads.

            The cascade's choice is made here too: a frame goes on to task A when the gate
            lets it in (borderline frames too, so the smoother has values at the edges of an
            episode) and to task B when A says hemorrhoid. The heatmap explains the deepest
            task each frame reached (or `cam_task` when >= 0)."""
            fmap = self.backbone(x, training=False)
            pooled = t.reduce_mean(fmap, axis=[1, 2])
            n = t.shape(x)[0]
            with t.GradientTape() as tape:
                tape.watch(pooled)
                logits = [self.heads[task](pooled, training=False) for task in self.tasks]
                probs = [t.nn.softmax(lg) for lg in logits]
                level = t.zeros([n], t.int32)
                if "gate" in self.tasks and len(self.tasks) > 1:
                    i = self.tasks.index("gate")
                    go = probs[i][:, pos["gate"]] >= gate_min
                    level = t.where(go, i + 1, level)
                    if "A" in self.tasks and "B" in self.tasks:
                        j = self.tasks.index("A")
                        go_b = go & (probs[j][:, pos["A"]] >= a_min)
                        level = t.where(go_b, self.tasks.index("B"), level)
                elif "A" in self.tasks and "B" in self.tasks:
                    j = self.tasks.index("A")
                    level = t.where(probs[j][:, pos["A"]] >= a_min, self.tasks.index("B"), j)
                explained = t.where(cam_task >= 0, t.fill([n], cam_task), level)
                # Each frame's pooled vector only feeds its own outputs, so one backward pass of
                # the sum of the chosen logits gives every frame its own gradient.
                score = t.zeros([n])
                for k, lg in enumerate(logits):
                    chosen = t.gather(lg, t.argmax(lg, axis=1, output_type=t.int32), axis=1, batch_dims=1)
                    score += t.where(explained == k, chosen, t.zeros_like(chosen))
            if with_cam:
                grads = tape.gradient(score, pooled)
                positions = t.cast(t.shape(fmap)[1] * t.shape(fmap)[2], grads.dtype)
                cam = GradCam.combine(fmap, grads / positions)
            else:
                cam = t.zeros(t.shape(fmap)[:3])
            return probs, level, explained, cam

        self._fused = t.function(fused, input_signature=[spec, t.TensorSpec([], t.int32), t.TensorSpec([], t.bool)],
                                 jit_compile=jit)

        def features(x):
            fmap = self.backbone(x, training=False)
            return fmap, t.reduce_mean(fmap, axis=[1, 2])

        self._features = t.function(features, input_signature=[spec])
        self.last_timing: dict[str, float] = {}

    def warm_up(self, batch_sizes=(1,)) -> None:
        for b in batch_sizes:
            self.analyse(np.zeros((b, self.size, self.size, 3), np.uint8), cam=True)

    def model_input(self, image: np.ndarray, box: tuple[int, int, int, int] | None) -> np.ndarray:
        """What the network sees of a frame: the endoscope area (when the card asks for the crop
        and an area is known), at the card's input size (uint8 RGB)."""
        return downscale(crop_area(image, box) if self.crop and box is not None else image, self.size)

    def positive(self, task: str) -> str:
        return task_positive(self.card, task)

    def analyse(self, images: np.ndarray, cam: bool = True, cam_task: str | None = None) -> list[CascadeResult]:
        """images: (B, size, size, 3) uint8 RGB -> one CascadeResult per image (one model call)."""
        t = tf()
        t0 = time.perf_counter()
        forced = self.tasks.index(cam_task) if cam_task in self.tasks else -1
        probs, level, explained, maps = self._fused(t.constant(images), t.constant(forced, t.int32),
                                                    t.constant(bool(cam)))
        probs = [p.numpy() for p in probs]
        level, explained = level.numpy(), explained.numpy()
        maps = GradCam.normalise(maps.numpy()) if cam else None
        t1 = time.perf_counter()
        results = []
        for i in range(images.shape[0]):
            r = CascadeResult()
            for k, task in enumerate(self.tasks):
                if k <= level[i] or len(self.tasks) == 1:  # a head's answer counts only where the cascade reached it
                    r.probs[task] = probs[k][i]
                    r.labels[task] = self.labels[task][int(probs[k][i].argmax())]
            if cam:
                task = self.tasks[int(explained[i])]
                r.cam = maps[i]
                r.cam_task = task
                r.cam_label = self.labels[task][int(probs[int(explained[i])][i].argmax())]
            results.append(r)
        self.last_timing = {"model_ms": (t1 - t0) * 1000, "post_ms": (time.perf_counter() - t1) * 1000}
        return results
