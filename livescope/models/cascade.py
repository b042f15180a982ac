"""The cascade at run time: one backbone pass per frame, then the gate head; task A only for
frames the gate lets in, task B only for hemorrhoids; Grad-CAM from the head alone.

Labels, input size, preprocessing and thresholds all come from the bundle's card. The engine
(`keras`, `litert`, `onnx`; see engines.py) only changes who computes the backbone: the
cascade's decisions and the Grad-CAM maths are the same code for all of them.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from livescope.cam.gradcam import GradCam, head_gradients
from livescope.card import (
    card_thresholds,
    crops_to_area,
    masks_outside_area,
    model_name,
    resolve_bundle,
    task_positive,
)
from livescope.data.endoscope_area import ImageArea
from livescope.data.model_input import model_input
from livescope.errors import LivescopeError
from livescope.models.bundle import load_bundle
from livescope.models.engines import backbone_runner, choose_engine, numpy_head, softmax
from livescope.tfenv import tf

TASK_ORDER = ("gate", "A", "B")


@dataclass
class CascadeResult:
    probs: dict[str, np.ndarray] = field(default_factory=dict)  # task -> class probabilities
    labels: dict[str, str] = field(default_factory=dict)  # task -> arg-max label
    cam: np.ndarray | None = None  # (h, w) in [0, 1], on the feature grid
    cam_task: str | None = None
    cam_label: str | None = None


def reached_levels(xp, probs: list, tasks: list[str], pos: dict[str, int], gate_min: float, a_min: float):
    """How deep each frame goes: a frame goes on to task A when the gate lets it in (borderline
    frames too, so the smoother has values at the edges of an episode) and to task B when A says
    hemorrhoid. Returns the index (into `tasks`) of the deepest head that counts, per frame."""
    n = probs[0].shape[0] if xp is np else xp.shape(probs[0])[0]
    level = xp.zeros([n], dtype=xp.int32)
    if "gate" in tasks and len(tasks) > 1:
        i = tasks.index("gate")
        go = probs[i][:, pos["gate"]] >= gate_min
        level = xp.where(go, i + 1, level)
        if "A" in tasks and "B" in tasks:
            j = tasks.index("A")
            level = xp.where(go & (probs[j][:, pos["A"]] >= a_min), tasks.index("B"), level)
    elif "A" in tasks and "B" in tasks:
        j = tasks.index("A")
        level = xp.where(probs[j][:, pos["A"]] >= a_min, tasks.index("B"), j)
    return level


class Cascade:
    """Load a bundle and analyse batches of model-sized uint8 RGB images."""

    def __init__(self, bundle: str | Path | None = None, engine: str = "keras", jit: bool = False):
        self.path = resolve_bundle(bundle)
        self.model, self.card = load_bundle(self.path)
        if "features" not in self.model.output:
            raise LivescopeError(f"{self.path}: its backbone gives a pooled vector, not a spatial feature map",
                                 "the live cascade needs a feature map for Grad-CAM; train with a backbone that gives one")
        self.size = int(self.card["input_size"])
        self.tasks = [task for task in TASK_ORDER if task in self.card["tasks"]]
        self.labels = {task: list(self.card["tasks"][task]["labels"]) for task in self.tasks}
        self.thresholds = card_thresholds(self.card)
        self.crop, self.mask = crops_to_area(self.card), masks_outside_area(self.card)
        self.name = model_name(self.card)
        self.backbone = self.model.get_layer("backbone")
        self.heads = {task: self.model.get_layer(f"head_{task}") for task in self.tasks}
        self._pos = {task: self.labels[task].index(self.positive(task)) for task in self.tasks if task != "B"}
        self._gate_min = float(self.thresholds["gate_exit"])
        self._a_min = 0.5 * float(self.thresholds["hemorrhoid"])
        self._lock = threading.Lock()  # one call at a time (the fast runtimes are not re-entrant)
        self.engine = choose_engine(engine)
        if self.engine == "keras":
            self._fused = self._compile_fused(jit)
        else:
            self._runner = backbone_runner(self.engine, self.path, self.backbone)
            self._numpy_heads = {task: numpy_head(head) for task, head in self.heads.items()}
        self.last_timing: dict[str, float] = {}

    def _compile_fused(self, jit: bool):
        t = tf()
        import tensorflow.experimental.numpy as tnp

        spec = t.TensorSpec([None, self.size, self.size, 3], t.uint8)
        gradcam = GradCam(tnp)

        def fused(x, cam_task, with_cam):
            """One call per batch: backbone once, every head, and Grad-CAM from the heads."""
            fmap = self.backbone(x, training=False)
            pooled = t.reduce_mean(fmap, axis=[1, 2])
            with t.GradientTape() as tape:
                tape.watch(pooled)
                logits = [self.heads[task](pooled, training=False) for task in self.tasks]
                probs = [t.nn.softmax(lg) for lg in logits]
                level = reached_levels(t, probs, self.tasks, self._pos, self._gate_min, self._a_min)
                explained = t.where(cam_task >= 0, t.fill(t.shape(level), cam_task), level)
                # Each frame's pooled vector only feeds its own outputs, so one backward pass of
                # the sum of the chosen logits gives every frame its own gradient.
                score = t.zeros(t.shape(level))
                for k, lg in enumerate(logits):
                    chosen = t.gather(lg, t.argmax(lg, axis=1, output_type=t.int32), axis=1, batch_dims=1)
                    score += t.where(explained == k, chosen, t.zeros_like(chosen))
            if with_cam:
                cam = gradcam(fmap, head_gradients(tnp, tape.gradient(score, pooled), fmap))
            else:
                cam = t.zeros(t.shape(fmap)[:3])
            return probs, level, explained, cam

        return t.function(fused, input_signature=[spec, t.TensorSpec([], t.int32), t.TensorSpec([], t.bool)],
                          jit_compile=jit)

    def warm_up(self, batch_sizes=(1,)) -> None:
        for b in batch_sizes:
            self.analyse(np.zeros((b, self.size, self.size, 3), np.uint8), cam=True)

    def model_input(self, image: np.ndarray, area: ImageArea | None) -> np.ndarray:
        """What the network sees of a frame (the card's preprocessing, on the area found)."""
        if self.crop and area is None:
            return model_input(image, self.size, crop=False)
        return model_input(image, self.size, self.crop, self.mask, area)

    def positive(self, task: str) -> str:
        return task_positive(self.card, task)

    def _run_keras(self, images: np.ndarray, forced: int, cam: bool):
        t = tf()
        probs, level, explained, maps = self._fused(t.constant(images), t.constant(forced, t.int32), t.constant(cam))
        return [p.numpy() for p in probs], level.numpy(), explained.numpy(), maps.numpy()

    def _run_numpy(self, images: np.ndarray, forced: int, cam: bool):
        fmap = np.asarray(self._runner(np.ascontiguousarray(images)), np.float32)
        pooled = fmap.mean(axis=(1, 2))
        forward = [self._numpy_heads[task].logits(pooled) for task in self.tasks]
        probs = [softmax(lg) for lg, _ in forward]
        level = reached_levels(np, probs, self.tasks, self._pos, self._gate_min, self._a_min)
        explained = np.full_like(level, forced) if forced >= 0 else level
        if not cam:
            return probs, level, explained, np.zeros(fmap.shape[:3], np.float32)
        grads = np.zeros_like(pooled)
        for k, task in enumerate(self.tasks):
            rows = np.flatnonzero(explained == k)
            if len(rows):
                logits, state = forward[k]
                grads[rows] = self._numpy_heads[task].logit_gradient(state, rows, logits[rows].argmax(axis=1))
        return probs, level, explained, GradCam(np)(fmap, head_gradients(np, grads, fmap))

    def analyse(self, images: np.ndarray, cam: bool = True, cam_task: str | None = None) -> list[CascadeResult]:
        """images: (B, size, size, 3) uint8 RGB -> one CascadeResult per image (one model call)."""
        t0 = time.perf_counter()
        forced = self.tasks.index(cam_task) if cam_task in self.tasks else -1
        with self._lock:
            run = self._run_keras if self.engine == "keras" else self._run_numpy
            probs, level, explained, maps = run(images, forced, bool(cam))
        maps = GradCam.normalise(maps) if cam else None
        results = []
        for i in range(images.shape[0]):
            r = CascadeResult()
            for k, task in enumerate(self.tasks):
                if k <= level[i] or len(self.tasks) == 1:  # a head's answer counts only where the cascade reached it
                    r.probs[task] = probs[k][i]
                    r.labels[task] = self.labels[task][int(probs[k][i].argmax())]
            if cam:
                k = int(explained[i])
                r.cam, r.cam_task = maps[i], self.tasks[k]
                r.cam_label = self.labels[self.tasks[k]][int(probs[k][i].argmax())]
            results.append(r)
        self.last_timing = {"model_ms": (time.perf_counter() - t0) * 1000}
        return results
