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


def _stage_words(name: str, stage: dict) -> str:
    members = stage.get("members", [])
    reused = sum("reused_from" in m for m in members) if members else int("reused_from" in stage)
    notes = ([f"the {len(members)} members' times summed"] if members else []) + (
        [f"{reused} of {len(members)} taken from earlier identical runs, not trained in this one"] if reused and members
        else ["taken from an earlier identical run, not trained in this one"] if reused else [])
    return f"{name} {stage['epochs']} epochs in {stage['seconds']:.0f} s" + (f" ({'; '.join(notes)})" if notes else "")


def model_card_markdown(card: dict) -> str:
    """The README.md of a bundle made by the default recipe, from its card (the card holds every figure)."""
    m = card.get("metrics", {})
    real = card["data"].get("real")
    lines = [
        "# livescope default model (research use only, not a medical device)", "",
        card["intended_use"], "",
        f"- Backbone: {card['backbone']['name']} at {card['input_size']}x{card['input_size']}, "
        f"{card['backbone']['weights']}"
        + (f"; an ensemble of {card['backbone']['members']} (seeds {card['backbone']['member_seeds']}), "
           f"{card['backbone']['combine']}" if ensemble_members(card) > 1 else "")
        + f". Why: {card['backbone']['why']}.",
        f"- Heads: gate {card['tasks']['gate']['labels']}, A {card['tasks']['A']['labels']}, "
        f"B {card['tasks']['B']['labels']}; hidden units {card['backbone']['head_units']}.",
        f"- Retrain: `{card['command']}` on {card['training']['machine']}; stages "
        + ", ".join(_stage_words(k, v) for k, v in card["training"]["stages"].items()) + ".",
        f"- Data: phantom ({card['data']['phantom_train']['command']})"
        + (f"; HyperKvasir split 0 ({real['licence']}): {real['forward_train']} forward views for training, "
           f"{real['forward_test']} held out; the {real['retroflex_train']} hemorrhoid views in training"
           + (f", and {real['retroflex_gate_only_train']} of the other retroflexed views (the class map's corrections: "
              f"the shaft in view in a polyp or colitis image), {real['retroflex_gate_only_test']} held out"
              if "retroflex_gate_only_train" in real else "") + "." if real else
           "; no real image."), "",
        "## Real frames", "",
        f"- Phantom only (no real image in training): {m.get('sim_to_real', {}).get('summary', 'n/a')}.",
    ]
    for e in m.get("sim_to_real", {}).get("retroflex", []):
        lines.append(f"  - {e['image']}: P(retroflex) {e['p_retroflex']:.2f}, P(hemorrhoid) "
                     f"{e['p_hemorrhoid'] if e['p_hemorrhoid'] is None else round(e['p_hemorrhoid'], 2)}")
    for e in m.get("sim_to_real", {}).get("members", []):
        lines.append(f"  - member seed {e['seed']} alone: {e['summary']}")
    loo = m.get("leave_one_out")
    if loo:
        lines.append(f"- Leave-one-out ({loo['schedule']}): {loo['gated_in']} of {loo['of']} gated in when left out.")
        for e in loo["images"]:
            lines.append(f"  - {e['left_out']}: P(retroflex) {e['p_retroflex']:.2f}, A {e['A']}, held-out forward "
                         f"FPR {100 * e['forward_heldout_fpr']:.1f}%"
                         + (f"; members {e['members_p_retroflex']}" if "members_p_retroflex" in e else ""))
    held = m.get("real_retroflex_gate_only_heldout")
    fwd = m.get("real_forward_heldout")
    if held and fwd:
        lines.append(f"- Shipped model, held out: {held['gated_in']} of {held['n']} retroflexed views (shaft in view, "
                     f"from the polyp and colitis folders) gated in; {100 * fwd['false_positive_rate_at_enter_threshold']:.2f}% "
                     f"false positives on {fwd['n']} forward views.")
    lines += ["", m.get("honesty", "")]
    videos = m.get("phantom_videos")
    one = m.get("phantom_video")
    if videos or one:
        lines += ["", "## Phantom videos", ""]
    if one:
        lines.append(f"- Check video {one['video']['seed']} ({one['video']['seconds']} s, episodes {one['video']['episodes']}): "
                     f"recall {one['episode_recall']:.2f}, precision {one['episode_precision']:.2f}, grade accuracy "
                     f"{one['episode_grade_accuracy']:.2f}, {one['flicker_changes_per_min']:.2f} spurious changes a minute.")
    if videos:
        wrong = "; ".join(f"{w['true_grade']} called {w['pred_grade']} (video {w['video_seed']})" for w in videos["misgraded"])
        lines.append(f"- {len(videos['videos'])} check videos (seeds {videos['videos'][0]}-{videos['videos'][-1]}, "
                     f"`{videos['command']}`): {videos['episodes_found']} of {videos['episodes_true']} episodes found, "
                     f"{videos['episodes_graded_right']} graded right" + (f" ({wrong})" if wrong else "")
                     + f"; spurious changes {videos['flicker_changes_per_min']['mean']:.2f} a minute on average.")
    lines += ["", "## Measured", "", "All figures: `card.json`, `metrics`.", ""]
    return "\n".join(lines)
