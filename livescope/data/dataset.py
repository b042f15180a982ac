"""Labelled image sets: folder per class, CSV, or a `livescope synth images` tree; splits."""

from __future__ import annotations

import csv
import hashlib
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from livescope.data.class_map import ClassMap
from livescope.data.images import IMAGE_SUFFIXES, ImageReadError, read_image
from livescope.data.model_input import model_input
from livescope.errors import LivescopeError

# Canonical label order per task; a bundle's card repeats it and is the source of truth afterwards.
TASK_LABELS = {
    "gate": ["other", "retroflex"],
    "A": ["normal", "hemorrhoid"],
    "B": ["Rf0", "Rf1", "Rf2"],
}
SYNTH_TREE = {"gate": "gate", "A": "taskA", "B": "taskB"}
DEFAULT_VAL_FRACTION = {"gate": 0.2, "A": 0.2, "B": 0.3}  # the paper: about 80/20 for A, 70/30 for B


@dataclass
class LabelledSet:
    paths: list[Path]
    labels: np.ndarray  # int index into label_names
    label_names: list[str]
    patients: list[str] | None = None
    given_split: list[str] | None = None
    source: str = ""
    notes: list[str] = field(default_factory=list)

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for p, y in zip(self.paths, self.labels, strict=True):
            h.update(f"{p.name}:{int(y)}\n".encode())
        return h.hexdigest()[:16]

    def counts(self) -> dict[str, int]:
        return {name: int((self.labels == i).sum()) for i, name in enumerate(self.label_names)}


def _order_labels(found: list[str], task: str | None) -> list[str]:
    if task in TASK_LABELS:
        expected = TASK_LABELS[task]
        extra = sorted(set(found) - set(expected))
        if extra:
            raise LivescopeError(
                f"labels {extra} do not belong to task {task}",
                f"task {task} expects the classes {expected}")
        return [lab for lab in expected if lab in found]
    return sorted(found)


def load_labelled(data: str | Path, task: str | None, class_map: ClassMap | None = None,
                  min_classes: int = 2) -> LabelledSet:
    """Find the labelled images for a task in DATA (see module docstring). `class_map` (see
    class_map.py) gives each folder its label per task; `min_classes=1` lets an evaluation
    score a folder of one class (every real retroflexed image, say)."""
    data = Path(data)
    if not data.exists():
        raise LivescopeError(f"data {data} does not exist", "give a folder per class or a CSV of path,label")
    if data.is_file():
        if data.suffix.lower() != ".csv":
            raise LivescopeError(f"{data} is neither a folder nor a .csv", "give a folder per class or a CSV of path,label")
        return _from_csv(data, task, min_classes)
    if task in SYNTH_TREE and (data / SYNTH_TREE[task]).is_dir() and class_map is None:
        data = data / SYNTH_TREE[task]
    return _from_folders(data, task, class_map, min_classes)


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def _from_folders(root: Path, task: str | None, class_map: ClassMap | None, min_classes: int) -> LabelledSet:
    folders = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise LivescopeError(f"{root} has no class folders", "put images in one folder per class, e.g. normal/ and hemorrhoid/")
    found: list[tuple[Path, str]] = []  # (image, its label); a map may correct single images
    for folder in folders:
        files = _images_in(root / folder)
        if class_map is None:
            found += [(f, folder) for f in files]
        else:
            found += [(f, lab) for f in files if (lab := class_map.label(f.relative_to(root).as_posix(), task))]
        if not files and (class_map is None or class_map.folder_label(folder, task) is not None):
            raise LivescopeError(f"class folder {root / folder} has no images", "add JPEG/PNG/BMP/TIFF files or remove the folder")
    if not found:
        raise LivescopeError(f"the class map names no folder of {root} for task {task}",
                             "check the map's folder names and its task keys (gate, A, B)")
    names = _order_labels(sorted({lab for _, lab in found}), task)
    paths = [f for f, _ in found]
    labels = [names.index(lab) for _, lab in found]
    if len(names) < min_classes:
        raise LivescopeError(f"{root} has only one class ({names[0]})", "a classifier needs at least two class folders")
    order = sorted(range(len(paths)), key=lambda i: (labels[i], str(paths[i])))  # grouped by label, then by path
    return LabelledSet([paths[i] for i in order], np.array([labels[i] for i in order]), names, source=str(root))


def _from_csv(path: Path, task: str | None, min_classes: int = 2) -> LabelledSet:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or "path" not in rows[0] or "label" not in rows[0]:
        raise LivescopeError(f"{path} needs the columns path and label", "write a header line: path,label[,patient][,split]")
    found = sorted({r["label"] for r in rows})
    names = _order_labels(found, task)
    if len(names) < min_classes:
        raise LivescopeError(f"{path} has only one label ({found})", "a classifier needs at least two classes")
    base = path.parent
    paths = [(base / r["path"]) if not Path(r["path"]).is_absolute() else Path(r["path"]) for r in rows]
    labels = np.array([names.index(r["label"]) for r in rows])
    patients = [r["patient"] for r in rows] if "patient" in rows[0] else None
    split = [r["split"] for r in rows] if "split" in rows[0] else None
    return LabelledSet(paths, labels, names, patients, split, source=str(path))


def split_indices(ds: LabelledSet, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified train/validation split; grouped by patient when known; or the given split column."""
    n = len(ds.labels)
    idx = np.arange(n)
    if ds.given_split is not None:
        tags = np.array([s.strip().lower() for s in ds.given_split])
        val = np.isin(tags, ["val", "validation", "test", "valid"])
        if not val.any() or val.all():
            raise LivescopeError("the split column has no train or no validation rows", "use the values train and val")
        return idx[~val], idx[val]
    if ds.patients is not None:
        from sklearn.model_selection import StratifiedGroupKFold

        k = max(2, int(round(1 / val_fraction)))
        sgkf = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
        train, val = next(sgkf.split(idx, ds.labels, groups=np.array(ds.patients)))
        return np.sort(train), np.sort(val)
    from sklearn.model_selection import train_test_split

    counts = np.bincount(ds.labels)
    strat = ds.labels if counts.min() >= 2 else None
    train, val = train_test_split(idx, test_size=val_fraction, random_state=seed, stratify=strat)
    return np.sort(train), np.sort(val)


def load_images(paths: list[Path], size: int, crop: bool, progress: bool = True,
                mask: bool = False) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read and resize; unreadable files are listed and skipped, never a crash halfway.

    Returns (images uint8 [N,size,size,3], kept index array, warnings)."""
    from tqdm import tqdm

    out, kept, warnings = [], [], []
    converted: dict[str, int] = {}
    for i, p in enumerate(tqdm(paths, desc="reading images", unit="img", disable=not progress, mininterval=1.0)):
        notes: list[str] = []
        try:
            rgb = read_image(p, notes)
        except ImageReadError as exc:
            warnings.append(f"skipped: {exc}")
            continue
        for n in notes:
            converted[n] = converted.get(n, 0) + 1
        out.append(model_input(rgb, size, crop, mask))
        kept.append(i)
    for note, count in converted.items():
        warnings.append(f"{count} image(s): {note}")
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    if not out:
        raise LivescopeError("no readable images were found", "check that the files are JPEG/PNG/BMP/TIFF images")
    return np.stack(out), np.array(kept), warnings
