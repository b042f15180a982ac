"""`livescope synth images`: folder-per-class trees with labels.csv, and the contact sheet."""

from __future__ import annotations

import csv
import json
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from livescope.phantom.processor import ProcessorStyle, compose, degrade
from livescope.phantom.scenes import GRADES, Scene, render_other, render_retroflex

# The paper's proportions: normal 808 : hemorrhoid 336; Rf0 121 : Rf1 173 : Rf2 42.
PAPER_BALANCE = {"normal": 808, "hemorrhoid": 336, "Rf0": 121, "Rf1": 173, "Rf2": 42, "retroflex": 1, "other": 1}
TREES = {"gate": ("retroflex", "other"), "taskA": ("normal", "hemorrhoid"), "taskB": ("Rf0", "Rf1", "Rf2")}
TREE_IDS = {"gate": 0, "taskA": 1, "taskB": 2, "sheet": 3, "test": 4}


@dataclass
class Example:
    image: np.ndarray  # uint8 RGB, size x size
    gate: str
    task_a: str
    task_b: str
    masks: dict
    params: dict


def _rotate(scene: Scene, angle: float, zoom: float = 1.0) -> Scene:
    """Roll the scope (rotation) and move it closer (zoom in about the centre)."""
    size = scene.rgb.shape[0]
    m = cv2.getRotationMatrix2D((size / 2, size / 2), angle, zoom)
    rgb = cv2.warpAffine(scene.rgb, m, (size, size), borderMode=cv2.BORDER_REFLECT)
    masks = {k: cv2.warpAffine(v.astype(np.uint8), m, (size, size), flags=cv2.INTER_NEAREST) > 0
             for k, v in scene.masks.items()}
    return Scene(rgb, masks, scene.params)


def render_example(rng: np.random.Generator, label: str, size: int = 331) -> Example:
    """One processor frame for a class label: a grade (normal/Rf0/Rf1/Rf2), 'hemorrhoid',
    'retroflex' (any grade) or 'other' (forward, out-of-body or uninformative)."""
    ch = int(rng.integers(440, 600))
    canvas = (ch, int(ch * rng.uniform(1.15, 1.5)))
    style = ProcessorStyle.random(rng, canvas)
    # Render at about the size the image area will have after the final resize (speed).
    # (The canvas is squeezed to a square, so the area is narrower than this in the output.)
    render_size = int(np.clip(style.area[3] * size / ch * 0.75, 96, 400))
    if label == "hemorrhoid":
        label = str(rng.choice(["Rf0", "Rf1", "Rf2"], p=np.array([121, 173, 42]) / 336))
    elif label == "retroflex":
        label = str(rng.choice(GRADES, p=[808 / 1144, 121 / 1144, 173 / 1144, 42 / 1144]))
    if label in GRADES:
        scene = render_retroflex(rng, render_size, label)
        gate, task_a, task_b = "retroflex", ("normal" if label == "normal" else "hemorrhoid"), (label if label != "normal" else "")
    elif label == "other":
        scene = render_other(rng, render_size)
        gate, task_a, task_b = "other", "", ""
    else:
        raise ValueError(f"unknown phantom label {label!r}")
    # Distance to the wall varies as the scope moves: up to 1.5x closer than the full scene
    # (procedure videos show the central two thirds of a scene, see phantom/video.py).
    zoom = float(rng.uniform(1.0, 1.5))
    angle = float(rng.uniform(-180, 180))
    rotated = _rotate(scene, angle, zoom)
    # A still labelled with a grade must show its grade's sign: moving closer must not crop it away.
    cue = {"Rf1": "red_sign", "Rf2": "bleeding_sign"}.get(label)
    if cue and not rotated.masks[cue].any():
        zoom = 1.0
        rotated = _rotate(scene, angle, zoom)
    scene = rotated
    frame = compose(scene.rgb, style, seconds=float(rng.uniform(0, 3600)))
    image = degrade(rng, cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA))
    x, y, aw, ah = style.area
    params = {**scene.params, "zoom": round(zoom, 3), "brand": style.brand, "shape": style.shape, "canvas": list(canvas),
              "area": [x, y, aw, ah], "gamma": round(style.gamma, 3),
              "gains": [round(float(g), 3) for g in style.gains]}
    return Example(image, gate, task_a, task_b, scene.masks, params)


def class_counts(total: int, labels: tuple[str, ...], balance: dict[str, float]) -> dict[str, int]:
    weights = np.array([balance[lab] for lab in labels], np.float64)
    raw = weights / weights.sum() * total
    counts = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - counts))[: total - counts.sum()]:
        counts[i] += 1
    return dict(zip(labels, counts.tolist(), strict=True))


def parse_balance(text: str) -> dict[str, float]:
    if text == "paper":
        return dict(PAPER_BALANCE)
    if text == "even":
        return {k: 1.0 for k in PAPER_BALANCE}
    out = dict(PAPER_BALANCE)
    for part in text.split(","):
        key, _, value = part.partition("=")
        if key.strip() not in out:
            from livescope.errors import LivescopeError

            raise LivescopeError(f"unknown class {key!r} in --balance", f"use names from {sorted(out)}")
        out[key.strip()] = float(value)
    return out


def _job(args: tuple) -> dict:
    out, tree, label, index, seed, size = args
    rng = np.random.default_rng([seed, TREE_IDS[tree], index])
    ex = render_example(rng, label, size)
    rel = f"{tree}/{label}/{tree}_{label}_{index:05d}.jpg"
    cv2.imwrite(str(Path(out) / rel), ex.image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
    return {"file": rel, "tree": tree, "label": label, "gate": ex.gate, "task_a": ex.task_a,
            "task_b": ex.task_b, "red_sign_px": int(ex.masks.get("red_sign", np.zeros(1)).sum()),
            "bleeding_sign_px": int(ex.masks.get("bleeding_sign", np.zeros(1)).sum()),
            "params": json.dumps(ex.params, sort_keys=True)}


def _single_threaded() -> None:
    cv2.setNumThreads(1)  # one process per core already; OpenCV's own threads would compete


def synth_images(out: str | Path, count: int, seed: int, size: int = 331, balance: str = "paper",
                 workers: int = 0, b_count: int | None = None, progress: bool = True) -> dict:
    """Write gate/, taskA/ and taskB/ trees plus labels.csv. Task B gets count*336/1144 images
    (the paper's hemorrhoid share) unless the balance is changed."""
    from tqdm import tqdm

    out = Path(out)
    weights = parse_balance(balance)
    jobs = []
    b_total = b_count or max(3, round(count * 336 / 1144))
    for tree, labels in TREES.items():
        total = b_total if tree == "taskB" else count
        counts = class_counts(total, labels, weights)
        index = 0
        for label in labels:
            (out / tree / label).mkdir(parents=True, exist_ok=True)
            for _ in range(counts[label]):
                jobs.append((str(out), tree, label, index, seed, size))
                index += 1
    workers = workers or os.cpu_count() or 1
    t0 = time.perf_counter()
    rows = []
    if workers > 1:
        # Spawned, not forked: a fork of a process that already runs threads (TensorFlow's, a
        # server's) can deadlock in the child.
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_single_threaded) as pool:
            for row in tqdm(pool.map(_job, jobs, chunksize=8), total=len(jobs), desc="phantom images", unit="img",
                            disable=not progress, mininterval=1.0):
                rows.append(row)
    else:
        rows = [_job(j) for j in tqdm(jobs, desc="phantom images", unit="img", disable=not progress, mininterval=1.0)]
    elapsed = time.perf_counter() - t0
    with open(out / "labels.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        writer.writeheader()
        writer.writerows(rows)
    (out / "README.txt").write_text(
        "Synthetic phantom images made by `livescope synth images` (not patient data).\n"
        f"seed={seed} count={count} size={size} balance={balance}\n")
    return {"images": len(rows), "seconds": elapsed, "images_per_s": len(rows) / max(elapsed, 1e-9)}


def contact_sheet(out: str | Path, seed: int = 0, per_class: int = 6, size: int = 200) -> Path:
    """A PNG grid: one row per class, so a person can look at the phantom."""
    rows = [("normal", "retroflex, normal"), ("Rf0", "hemorrhoid Rf0"), ("Rf1", "hemorrhoid Rf1|red colour signs"),
            ("Rf2", "hemorrhoid Rf2|erosion, thrombus|or blood"), ("other", "other|forward view,|out of body or|uninformative")]
    label_w = 240
    sheet = np.full((len(rows) * (size + 8) + 40, label_w + per_class * (size + 8), 3), 255, np.uint8)
    cv2.putText(sheet, "livescope phantom - synthetic frames, not patient data", (10, 28),
                cv2.FONT_HERSHEY_SIMPLEX, 0.8, (0, 0, 0), 2, cv2.LINE_AA)
    for r, (label, title) in enumerate(rows):
        y = 40 + r * (size + 8)
        lines = title.split("|")
        for i, line in enumerate(lines):
            cv2.putText(sheet, line, (10, y + size // 2 + (i - len(lines) // 2) * 24),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
        for c in range(per_class):
            rng = np.random.default_rng([seed, TREE_IDS["sheet"], r, c])
            ex = render_example(rng, label, size)
            sheet[y:y + size, label_w + c * (size + 8):label_w + c * (size + 8) + size] = ex.image
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), sheet[..., ::-1])
    return out


def compare_sheet(out: str | Path, real: str | Path, class_map: str | None = None, per_class: int = 6,
                  size: int = 200, seed: int = 0) -> Path:
    """Real images beside phantom images of the same gate class, as the network sees both (the
    endoscope image cropped, its corners blanked): where the phantom differs, a person sees it.
    `real` is a folder per class (retroflex/, other/) or any folder with a class map."""
    from livescope.data.class_map import load_map
    from livescope.data.dataset import load_labelled
    from livescope.data.images import read_image
    from livescope.data.model_input import model_input

    ds = load_labelled(real, "gate", load_map(class_map) if class_map else None, min_classes=1)
    rng = np.random.default_rng(seed)
    rows = []
    for label in ("retroflex", "other"):
        if label not in ds.label_names:
            continue
        idx = np.flatnonzero(ds.labels == ds.label_names.index(label))
        pick = rng.choice(idx, min(per_class, len(idx)), replace=False)
        real_tiles = [model_input(read_image(ds.paths[i]), size, crop=True, mask=True) for i in sorted(pick)]
        phantom_tiles = [model_input(render_example(np.random.default_rng([seed, TREE_IDS["sheet"], 9, k]), label,
                                                    max(size, 256)).image, size, crop=True, mask=True)
                         for k in range(per_class)]
        rows += [(f"{label}: real", real_tiles), (f"{label}: phantom", phantom_tiles)]
    label_w, gap, top = 200, 8, 60
    sheet = np.full((top + len(rows) * (size + gap), label_w + per_class * (size + gap), 3), 255, np.uint8)
    cv2.putText(sheet, "real (left label) vs livescope phantom, as the network sees them", (10, 26),
                cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 0), 2, cv2.LINE_AA)
    cv2.putText(sheet, f"real: {Path(real).name} (not made by livescope); phantom: synthetic", (10, 50),
                cv2.FONT_HERSHEY_SIMPLEX, 0.5, (60, 60, 60), 1, cv2.LINE_AA)
    for r, (title, tiles) in enumerate(rows):
        y = top + r * (size + gap)
        for i, line in enumerate(title.split(": ")):
            cv2.putText(sheet, line, (10, y + size // 2 + i * 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
        for c, tile in enumerate(tiles):
            x = label_w + c * (size + gap)
            sheet[y:y + size, x:x + size] = tile
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), sheet[..., ::-1])
    return out
