"""Class maps: score a model on a folder whose classes are not the task's labels.

A map is a small JSON file naming, for each folder (wildcards allowed), its label for each
task; a folder a task does not name is left out of that task. Shipped maps live in
`livescope/data/maps/` and can be given by name (`--map hyperkvasir-lower-gi`):

    {"classes": {"hemorrhoids": {"gate": "retroflex", "A": "hemorrhoid"},
                 "polyps": {"gate": "other"}, "ulcerative-colitis-*": {"gate": "other"}},
     "images": {"polyps/0d61.jpg": {"gate": "retroflex", "why": "the endoscope's shaft is in view"},
                "polyps/b080.jpg": {"gate": null, "why": "cannot tell"}}}

`images` (optional) corrects single images, by their path under the data folder: a dataset's
folders name a finding, not the view, and a few of its images disagree with their folder. An
image's entry replaces its folder's labels for the tasks it names (null: left out of that task).
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from livescope.errors import LivescopeError

MAPS = Path(__file__).resolve().parent / "maps"
TASKS = ("gate", "A", "B")


@dataclass(frozen=True)
class ClassMap:
    classes: dict
    images: dict = field(default_factory=dict)
    source: str = ""

    def folder_label(self, folder: str, task: str) -> str | None:
        """The label a folder has for a task (the first matching pattern), or None."""
        for pattern, labels in self.classes.items():
            if fnmatch.fnmatch(folder, pattern):
                return labels.get(task)
        return None

    def label(self, path: str, task: str) -> str | None:
        """The label of one image, by its path under the data folder ("folder/name.jpg")."""
        rel = PurePosixPath(path).as_posix()
        entry = self.images.get(rel)
        if entry is not None and task in entry:
            return entry[task]
        return self.folder_label(PurePosixPath(rel).parts[0], task)

    def corrected(self, task: str) -> int:
        """How many single images the map corrects for a task."""
        return sum(1 for e in self.images.values() if task in e)


def load_map(spec: str) -> ClassMap:
    path = Path(spec)
    if not path.exists() and (MAPS / f"{spec}.json").exists():
        path = MAPS / f"{spec}.json"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in MAPS.glob("*.json")))
        raise LivescopeError(f"class map {spec} does not exist", f"give a JSON file, or one of the shipped maps: {known}")
    try:
        doc = json.loads(path.read_text())
        classes, images = doc["classes"], doc.get("images", {})
        assert isinstance(classes, dict) and all(isinstance(v, dict) for v in classes.values())
        assert isinstance(images, dict) and all(isinstance(v, dict) for v in images.values())
    except (json.JSONDecodeError, KeyError, AssertionError):
        raise LivescopeError(f"{path} is not a class map", 'write {"classes": {"FOLDER": {"TASK": "LABEL"}}}') from None
    return ClassMap(classes, {k: {t: v for t, v in e.items() if t in TASKS} for k, e in images.items()}, str(path))
