"""The model card: the one source of truth for a bundle's labels, input size, preprocessing and
thresholds. Reading a card needs no TensorFlow: the smoother, `score --resmooth`, the demo's
texts and the archive read cards through this module."""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

from livescope import RESEARCH_NOTICE, __version__
from livescope.errors import LivescopeError

MODEL_FILE = "model.keras"
CARD_FILE = "card.json"

# Chosen on a phantom tuning video (seed 4000, not the one the default card reports on) by
# re-running the smoothing on its recorded raw probabilities; see the default card.
DEFAULT_THRESHOLDS = {
    "gate_enter": 0.6,  # smoothed gate probability to enter an episode
    "gate_exit": 0.4,  # ... and to leave it (hysteresis)
    "gate_min_dwell_s": 0.5,  # a gate state must last this long before it changes
    "confidence": 0.5,  # below this the overlay says "uncertain"
    "hemorrhoid": 0.5,  # task A decision threshold on P(hemorrhoid)
    "smoothing_tau_s": 0.25,  # time constant of the causal probability filter
    "grade_stable_s": 0.6,  # a new grade must hold this long before it is shown
    "grade_margin": 0.1,  # another label must beat the one on screen by this much to replace it
}


def card_thresholds(card: dict) -> dict:
    """The card's thresholds; a key an older card lacks takes the default every new card gets."""
    return {**DEFAULT_THRESHOLDS, **card.get("thresholds", {})}


def task_positive(card: dict, task: str) -> str:
    """The label a task's decision is about (the card's `positive`, else its last label)."""
    info = card["tasks"][task]
    return info.get("positive") or info["labels"][-1]


def task_labels(card: dict) -> dict[str, list[str]]:
    return {task: list(info["labels"]) for task, info in card["tasks"].items()}


def crops_to_area(card: dict) -> bool:
    """Whether the network sees only the endoscope area (cards before this key: yes)."""
    return bool(card.get("preprocessing", {}).get("crop_to_endoscope_area", True))


def masks_outside_area(card: dict) -> bool:
    """Whether the network sees the area's corners blanked (the on-screen text inside the
    bounding box). Cards written before this key: no."""
    return bool(card.get("preprocessing", {}).get("mask_outside_area", False))


def model_name(card: dict) -> str:
    return card.get("name") or f"{card.get('backbone', {}).get('name', '?')}@{card.get('input_size', '?')}"


def ensemble_members(card: dict) -> int:
    """How many models the bundle averages (1: a single model)."""
    return int(card.get("backbone", {}).get("members") or 1)


def backbone_summary(card: dict) -> str:
    """The backbone as a person reads it, e.g. "mobilenetv2 x4 (ensemble: mean of probabilities)"."""
    bb = card.get("backbone", {})
    n = ensemble_members(card)
    return f"{bb.get('name')}" + (f" x{n} (ensemble: {bb.get('combine') or 'mean of probabilities'})" if n > 1 else "")


def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


def default_bundle_path() -> Path:
    return repo_root() / "models" / "default"


def resolve_bundle(path: str | Path | None) -> Path:
    if path is None:
        p = default_bundle_path()
        if not p.exists():
            raise LivescopeError(f"the default model is missing at {p}",
                                 "reinstall from a full clone, or give --model BUNDLE")
        return p
    return Path(path)


def utc_now() -> str:
    """The time a card or one of its figures was made, as the card writes it."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def make_card(**fields) -> dict:
    card = {
        "format": "livescope-bundle/1",
        "livescope_version": __version__,
        "date": utc_now(),
        "notice": RESEARCH_NOTICE,
        "thresholds": dict(DEFAULT_THRESHOLDS),
    }
    card.update(fields)
    return card


def json_default(o):
    """json.dumps helper for NumPy scalars and arrays (cards, reports, run files)."""
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(type(o))


def write_card(card: dict, bundle: str | Path) -> Path:
    path = Path(bundle) / CARD_FILE
    path.write_text(json.dumps(card, indent=2, default=json_default) + "\n")
    return path


def read_card(bundle: str | Path) -> dict:
    bundle = Path(bundle)
    if not bundle.exists():
        raise LivescopeError(f"model bundle {bundle} does not exist", "give a folder made by `livescope train`")
    card_path = bundle / CARD_FILE
    if not card_path.exists():
        raise LivescopeError(f"model bundle {bundle} has no {CARD_FILE}",
                             "a bundle needs its card; retrain or copy the whole bundle folder")
    try:
        card = json.loads(card_path.read_text())
    except json.JSONDecodeError as exc:
        raise LivescopeError(f"{card_path} is not valid JSON ({exc.msg} at line {exc.lineno})", "restore the card") from None
    for key in ("tasks", "input_size"):
        if key not in card:
            raise LivescopeError(f"{card_path} lacks '{key}'", "retrain the bundle with this livescope version")
    return card
