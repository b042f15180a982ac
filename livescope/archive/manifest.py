"""What a batch analyses: video files, folders searched for videos, or a CSV manifest
(`path[,procedure_id]`). A procedure's id is a hash of its path unless the manifest names it:
video file names often carry patient names, and ids become folder names in the output."""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

from livescope.errors import LivescopeError

VIDEO_SUFFIXES = {".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".ts", ".mts", ".m2ts", ".mpg", ".mpeg", ".wmv"}


@dataclass(frozen=True)
class Procedure:
    id: str
    source: str  # the file's path (kept in the database only, for finding the video again)


def path_id(path: Path) -> str:
    return "p" + hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:15]


def content_hash(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _from_manifest(path: Path) -> list[Procedure]:
    with open(path, newline="") as f:
        rows = [r for r in csv.reader(f) if r and r[0].strip()]
    if rows and rows[0][0].strip().lower() == "path":
        rows = rows[1:]
    out = []
    for r in rows:
        p = Path(r[0].strip())
        p = p if p.is_absolute() else (path.parent / p)
        pid = r[1].strip() if len(r) > 1 and r[1].strip() else path_id(p)
        if not pid.replace("-", "").replace("_", "").isalnum():
            raise LivescopeError(f"procedure id {pid!r} in {path} is not a plain name",
                                 "use letters, digits, - and _ (it becomes a folder name)")
        out.append(Procedure(pid, str(p)))
    return out


def collect(sources: list[str]) -> list[Procedure]:
    """Every procedure named by SOURCES, in a stable order, each once."""
    found: dict[str, Procedure] = {}
    for spec in sources:
        path = Path(spec)
        if not path.exists():
            raise LivescopeError(f"source {spec} does not exist", "give video files, folders of videos or a CSV manifest")
        if path.is_dir():
            items = [Procedure(path_id(p), str(p)) for p in sorted(path.rglob("*"))
                     if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file()]
        elif path.suffix.lower() == ".csv":
            items = _from_manifest(path)
        else:
            items = [Procedure(path_id(path), str(path))]
        for item in items:
            found.setdefault(item.id, item)
    if not found:
        raise LivescopeError(f"no video found in {', '.join(sources)}",
                             f"give files ending in {', '.join(sorted(VIDEO_SUFFIXES))}, or a CSV manifest")
    return list(found.values())
