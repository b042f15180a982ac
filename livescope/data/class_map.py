"""Class maps: score a model on a folder whose classes are not the task's labels.

A map is a small JSON file naming, for each folder (wildcards allowed), its label for each
task; a folder a task does not name is left out of that task. Shipped maps live in
`livescope/data/maps/` and can be given by name (`--map hyperkvasir-lower-gi`):

    {"classes": {"hemorrhoids": {"gate": "retroflex", "A": "hemorrhoid"},
                 "polyps": {"gate": "other"}, "ulcerative-colitis-*": {"gate": "other"}}}
"""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path

from livescope.errors import LivescopeError

MAPS = Path(__file__).resolve().parent / "maps"


def load_map(spec: str) -> dict:
    path = Path(spec)
    if not path.exists() and (MAPS / f"{spec}.json").exists():
        path = MAPS / f"{spec}.json"
    if not path.exists():
        known = ", ".join(p.stem for p in MAPS.glob("*.json"))
        raise LivescopeError(f"class map {spec} does not exist", f"give a JSON file, or one of the shipped maps: {known}")
    try:
        doc = json.loads(path.read_text())
        classes = doc["classes"]
        assert isinstance(classes, dict) and all(isinstance(v, dict) for v in classes.values())
    except (json.JSONDecodeError, KeyError, AssertionError):
        raise LivescopeError(f"{path} is not a class map", 'write {"classes": {"FOLDER": {"TASK": "LABEL"}}}') from None
    return classes


def task_label(classes: dict, folder: str, task: str) -> str | None:
    """The label a folder has for a task under the map (the first matching pattern), or None."""
    for pattern, labels in classes.items():
        if fnmatch.fnmatch(folder, pattern):
            return labels.get(task)
    return None
