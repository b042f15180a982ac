"""`livescope evaluate`: metrics with intervals, reading time and figures for one bundle."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from livescope.card import crops_to_area, masks_outside_area
from livescope.data.dataset import load_images, load_labelled
from livescope.errors import LivescopeError
from livescope.models.bundle import load_bundle
from livescope.models.head import pool
from livescope.models.metrics import plot_confusion, plot_roc, with_bootstrap
from livescope.tfenv import tf


def task_predictor(model, task: str):
    t = tf()
    head = model.get_layer(f"head_{task}")
    backbone = model.get_layer("backbone")

    @t.function(reduce_retracing=True)
    def f(x):
        return t.nn.softmax(head(pool(t, backbone(x, training=False)), training=False))

    return f


def predict_task(model, task: str, images: np.ndarray, batch: int = 32) -> np.ndarray:
    t = tf()
    f = task_predictor(model, task)
    return np.concatenate([f(t.constant(images[i:i + batch])).numpy() for i in range(0, len(images), batch)])


def write_predictions(path: Path, paths: list[Path], y: np.ndarray, probs: np.ndarray, labels: list[str],
                      root: Path) -> None:
    import csv

    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "label", "predicted", *[f"p_{lab}" for lab in labels]])
        for p, yi, pr in zip(paths, y, probs, strict=True):
            rel = p.relative_to(root) if p.is_relative_to(root) else p
            w.writerow([str(rel), labels[int(yi)], labels[int(pr.argmax())], *[f"{v:.4f}" for v in pr]])


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
                    split: str = "all", resamples: int = 1000, batch: int = 32, progress: bool = True,
                    class_map: str | None = None) -> dict:
    """Score one head of a bundle on labelled images (a folder per class, a CSV, or any folder
    with a class map); writes metrics.json, predictions.csv (every image's probabilities) and
    the figures. A folder of one class is scored too (accuracy is then its recall)."""
    t = tf()
    model, card = load_bundle(bundle)
    task = pick_task(card, task)
    labels = card["tasks"][task]["labels"]
    mapping = None
    if class_map is not None:
        from livescope.data.class_map import load_map

        mapping = load_map(class_map)
    ds = load_labelled(data, task, mapping, min_classes=1)
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
    crop, mask = crops_to_area(card), masks_outside_area(card)
    predictor = task_predictor(model, task)
    predictor(t.zeros((1, size, size, 3), t.uint8))  # trace once, outside the timing
    predictor(t.zeros((min(batch, len(paths)), size, size, 3), t.uint8))
    # Reading time as the paper's figure 4: the whole set, from files to decisions.
    t0 = time.perf_counter()
    images, kept, _ = load_images(paths, size, crop, progress, mask=mask)
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
        "task": task, "bundle": str(bundle), "data": str(data), "split": split, "class_map": class_map,
        "class_map_corrections": mapping.corrected(task) if mapping is not None else 0,
        "counts": {lab: int((y == i).sum()) for i, lab in enumerate(labels)},
        "reading_time_s": reading, "images": int(len(images)),
        "latency_ms_batch1": {"p50": float(np.percentile(lat, 50)), "p95": float(np.percentile(lat, 95)),
                              "max": float(np.max(lat))},
        "backbone": card.get("backbone", {}).get("name"), "input_size": size,
    })
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(m, indent=2))
    write_predictions(out / "predictions.csv", [paths[i] for i in kept], y, probs, labels, Path(data))
    title = f"{m['backbone']} task {task} (n={len(y)})"
    plot_confusion(m, out / "confusion_matrix.png", title)
    plot_roc(y, probs, labels, out / "roc.png", title)
    return m
