"""How a decision is said: one wording for the overlay, the demo, `explain` and the report.

Every probability is named ("P(hemorrhoid) 97%", "Rf1 97%"), never a bare "confidence"."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from livescope.live.smoothing import UNCERTAIN, SmoothedState

# LDRf risk factors (Chinese guideline for endoscopic treatment of internal hemorrhoids, 2021),
# as the paper uses them.
LDRF = {
    "Rf0": "no red colour sign, no erosion, thrombus or bleeding",
    "Rf1": "red colour signs (red wale signs, cherry-red spots)",
    "Rf2": "erosion, thrombus, active bleeding or fresh blood",
}


@dataclass(frozen=True)
class Decision:
    key: str  # "out", "entering", "deciding", "normal", "hemorrhoid", "Rf0".."Rf2", "uncertain", "no_signal"
    text: str  # the headline, e.g. "HEMORRHOID Rf1 97%"
    detail: str  # the named probabilities behind it


def _pct(p: float) -> str:
    return f"{100 * p:.0f}%"


def named_probs(probs: np.ndarray | None, labels: list[str]) -> str:
    if probs is None:
        return ""
    return ", ".join(f"P({lab}) {_pct(float(p))}" for lab, p in zip(labels, probs, strict=True))


def describe(state: SmoothedState | None, labels: dict[str, list[str]], positive: dict[str, str],
             thresholds: dict | None = None, no_signal: bool = False) -> Decision:
    """The shown decision of a (smoothed) state, in words."""
    if no_signal:
        return Decision("no_signal", "NO SIGNAL - waiting for video", "")
    p_gate = 0.0 if state is None else state.p_gate
    gate = f"P(retroflex view) {_pct(p_gate)}"
    if state is None or not state.gate_in:
        enter = (thresholds or {}).get("gate_enter", 0.6)
        if state is not None and p_gate >= enter:  # above the threshold, waiting out the dwell time
            return Decision("entering", "retroflex view: confirming...", gate)
        return Decision("out", "searching: no retroflex view", gate)
    detail = "; ".join(x for x in (gate, named_probs(state.p_a, labels.get("A", [])),
                                   named_probs(state.p_b, labels.get("B", [])) if state.grade in LDRF else "") if x)
    grade = state.grade
    if grade is None:
        return Decision("deciding", "retroflex view: deciding...", detail)
    if grade == UNCERTAIN:
        return Decision(UNCERTAIN, "UNCERTAIN", detail)
    if grade in LDRF and state.p_b is not None:
        p = float(state.p_b[labels["B"].index(grade)])
        return Decision(grade, f"HEMORRHOID {grade} {_pct(p)}", detail)
    if grade == "hemorrhoid":
        return Decision("hemorrhoid", "HEMORRHOID (grade uncertain)", detail)
    p = float(state.p_a[labels["A"].index(grade)]) if state.p_a is not None and grade in labels.get("A", []) else None
    return Decision(grade, grade.upper() + ("" if p is None else f" {_pct(p)}"), detail)


def shows_finding(decision: Decision) -> bool:
    """Whether the decision is a finding a heatmap should explain (a hemorrhoid, or its grade)."""
    return decision.key == "hemorrhoid" or decision.key in LDRF
