"""`livescope evaluate`: metrics with intervals, reading time and figures for one bundle."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from livescope.data.dataset import load_images, load_labelled
from livescope.errors import LivescopeError
from livescope.models.bundle import load_bundle
from livescope.models.metrics import plot_confusion, plot_roc, with_bootstrap
from livescope.tfenv import tf


def task_predictor(model, task: str):
    t = tf()
    head = model.get_layer(f"head_{task}")
    backbone = model.get_layer("backbone")

    @t.function(reduce_retracing=True)
    def f(x):
        pooled = t.reduce_mean(backbone(x, training=False), axis=[1, 2])
        return t.nn.softmax(head(pooled, training=False))

    return f


def predict_task(model, task: str, images: np.ndarray, batch: int = 32) -> np.ndarray:
    t = tf()
    f = task_predictor(model, task)
    return np.concatenate([f(t.constant(images[i:i + batch])).numpy() for i in range(0, len(images), batch)])


def pick_task(card: dict, task: str | None) -> str:
    tasks = list(card["tasks"])
    if task is None:
        if len(tasks) == 1:
            return tasks[0]
        raise LivescopeError(f"the bundle has several heads ({', '.join(tasks)})", "say which with --task")
    if task not in tasks:
        raise LivescopeError(f"the bundle has no head for task {task}", f"its heads are {', '.join(tasks)}")
    return task


def evaluate_bundle(bundle: str | Path, data: str | Path, out: str | Path, task: str | None = None,
                    split: str = "all", resamples: int = 1000, batch: int = 32, progress: bool = True) -> dict:
    t = tf()
    model, card = load_bundle(bundle)
    task = pick_task(card, task)
    labels = card["tasks"][task]["labels"]
    ds = load_labelled(data, task)
    if ds.label_names != [lab for lab in labels if lab in ds.label_names]:
        raise LivescopeError(f"data labels {ds.label_names} do not match the bundle's {labels}", "use data of the same task")
    remap = np.array([labels.index(n) for n in ds.label_names])
    paths = ds.paths
    y_all = remap[ds.labels]
    if split == "val":
        split_file = Path(bundle) / "split.json"
        if not split_file.exists():
            raise LivescopeError(f"{bundle} has no split.json", "use --split all")
        val = set(json.loads(split_file.read_text())["val"])
        keep = [i for i, p in enumerate(paths) if str(p) in val]
        if not keep:
            raise LivescopeError("none of the bundle's validation images are in DATA", "use --split all or the training data folder")
        paths = [paths[i] for i in keep]
        y_all = y_all[keep]
    size = card["input_size"]
    crop = bool(card.get("preprocessing", {}).get("crop_to_endoscope_area", False))
    predictor = task_predictor(model, task)
    predictor(t.zeros((1, size, size, 3), t.uint8))  # trace once, outside the timing
    predictor(t.zeros((min(batch, len(paths)), size, size, 3), t.uint8))
    # Reading time as the paper's figure 4: the whole set, from files to decisions.
    t0 = time.perf_counter()
    images, kept, _ = load_images(paths, size, crop, progress)
    probs = np.concatenate([predictor(t.constant(images[i:i + batch])).numpy() for i in range(0, len(images), batch)])
    reading = time.perf_counter() - t0
    y = y_all[kept]
    lat = []
    for i in range(min(len(images), 64)):
        s = time.perf_counter()
        predictor(t.constant(images[i:i + 1])).numpy()
        lat.append((time.perf_counter() - s) * 1000)
    m = with_bootstrap(y, probs, labels, card["tasks"][task].get("positive"), resamples)
    m.update({
        "task": task, "bundle": str(bundle), "data": str(data), "split": split,
        "reading_time_s": reading, "images": int(len(images)),
        "latency_ms_batch1": {"p50": float(np.percentile(lat, 50)), "p95": float(np.percentile(lat, 95)),
                              "max": float(np.max(lat))},
        "backbone": card.get("backbone", {}).get("name"), "input_size": size,
    })
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(m, indent=2))
    title = f"{m['backbone']} task {task} (n={len(y)})"
    plot_confusion(m, out / "confusion_matrix.png", title)
    plot_roc(y, probs, labels, out / "roc.png", title)
    return m
