"""Model bundles: one folder with `model.keras` and `card.json` (the single source of truth
for labels, input size, preprocessing and thresholds)."""

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


def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


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


def make_card(**fields) -> dict:
    card = {
        "format": "livescope-bundle/1",
        "livescope_version": __version__,
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "notice": RESEARCH_NOTICE,
        "thresholds": dict(DEFAULT_THRESHOLDS),
    }
    card.update(fields)
    return card


def save_bundle(model, card: dict, out: str | Path) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / MODEL_FILE)
    (out / CARD_FILE).write_text(json.dumps(card, indent=2, default=_json_default) + "\n")
    return out


def _json_default(o):
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o))


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


def load_bundle(bundle: str | Path):
    """Load (model, card) with Keras safe_mode=True, and check the card against the model."""
    from livescope.tfenv import keras

    bundle = Path(bundle)
    card = read_card(bundle)
    model_path = bundle / MODEL_FILE
    if not model_path.exists():
        raise LivescopeError(f"model bundle {bundle} has no {MODEL_FILE}", "copy the whole bundle folder")
    import livescope.models.layers  # noqa: F401 - registers our serializable layers

    try:
        model = keras().saving.load_model(model_path, compile=False, safe_mode=True)
    except Exception as exc:  # noqa: BLE001
        raise LivescopeError(f"cannot load {model_path} ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})",
                             "the file may be damaged or not a livescope bundle") from None
    size = model.input_shape[1]
    if size != card["input_size"]:
        raise LivescopeError(f"{bundle}: card says input size {card['input_size']} but the model takes {size}",
                             "fix input_size in card.json or retrain")
    outputs = model.output if isinstance(model.output, dict) else {}
    for task, info in card["tasks"].items():
        if task not in outputs:
            raise LivescopeError(f"{bundle}: card lists task {task} but the model has no such head",
                                 "retrain or fix the card's tasks")
        n = outputs[task].shape[-1]
        if n != len(info["labels"]):
            raise LivescopeError(f"{bundle}: task {task} has {len(info['labels'])} labels in the card "
                                 f"but the head has {n} outputs", "fix the labels in card.json or retrain")
    return model, card
