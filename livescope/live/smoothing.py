"""Causal temporal smoothing (a live system cannot look ahead).

- ProbabilityFilter: first-order low-pass with a time constant in seconds, so it behaves the
  same at 25, 30 or 60 fps (alpha = 1 - exp(-dt / tau)).
- Hysteresis: the gate enters above one threshold and leaves below a lower one, and a state
  must last a minimum dwell before it may change again.
- StableLabel: the label shown changes only after the new label has held for a while.
- Below the confidence threshold the shown decision is "uncertain" rather than a guess, and
  between two labels the one on screen stays until another beats it by a margin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

UNCERTAIN = "uncertain"


class ProbabilityFilter:
    def __init__(self, tau_s: float, reset_after_s: float | None = None):
        self.tau = max(1e-6, tau_s)
        self.reset_after = reset_after_s if reset_after_s is not None else 4 * tau_s
        self.value: np.ndarray | None = None
        self.t: float | None = None

    def update(self, t: float, p) -> np.ndarray:
        p = np.asarray(p, np.float64)
        if self.value is None or self.t is None or t - self.t > self.reset_after:
            self.value = p.copy()
        else:
            alpha = 1.0 - math.exp(-max(0.0, t - self.t) / self.tau)
            self.value = self.value + alpha * (p - self.value)
        self.t = t
        return self.value


class Hysteresis:
    def __init__(self, enter: float, exit: float, min_dwell_s: float):
        if exit > enter:
            raise ValueError("exit threshold must not exceed the enter threshold")
        self.enter, self.exit, self.min_dwell = enter, exit, min_dwell_s
        self.state = False
        self.since: float | None = None

    def update(self, t: float, p: float) -> bool:
        if self.since is None:
            self.since = t
        want = (p >= self.enter) if not self.state else (p > self.exit)
        if want != self.state and t - self.since >= self.min_dwell:
            self.state = want
            self.since = t
        return self.state


class StableLabel:
    """Shows a label only once it has been the candidate for `stable_s` seconds."""

    def __init__(self, stable_s: float):
        self.stable_s = stable_s
        self.shown: str | None = None
        self.candidate: str | None = None
        self.candidate_since: float = 0.0

    def reset(self) -> None:
        self.shown = self.candidate = None

    def update(self, t: float, label: str) -> str | None:
        if label != self.candidate:
            self.candidate, self.candidate_since = label, t
        if self.shown is None and self.candidate is not None and t - self.candidate_since >= self.stable_s:
            self.shown = self.candidate
        elif self.candidate != self.shown and t - self.candidate_since >= self.stable_s:
            self.shown = self.candidate
        return self.shown


@dataclass
class SmoothedState:
    t: float
    gate_in: bool
    p_gate: float  # smoothed P(retroflex)
    p_a: np.ndarray | None  # smoothed task A probabilities (card order)
    p_b: np.ndarray | None  # smoothed task B probabilities
    a_label: str | None  # shown A decision (or "uncertain"), None while the gate is out
    grade: str | None  # shown grade: "normal", "Rf0".."Rf2", "hemorrhoid" (grade uncertain), "uncertain"
    confidence: float | None

    @property
    def state(self) -> str:
        return "in" if self.gate_in else "out"


def candidate_label(p: np.ndarray, labels: list[str], shown: str | None, confidence: float, margin: float) -> str:
    """The label to propose: the most probable, "uncertain" below the confidence threshold,
    and the label on screen as long as no other beats it by `margin` (a near tie keeps what
    the endoscopist already sees instead of flickering between two grades)."""
    best = int(p.argmax())
    if p[best] < confidence:
        return UNCERTAIN
    if shown in labels and labels[best] != shown and p[best] - p[labels.index(shown)] < margin:
        return shown
    return labels[best]


class TemporalSmoother:
    """Turns per-frame cascade results into what the overlay shows. Thresholds from the card
    (missing keys fall back to the defaults every bundle is written with)."""

    @classmethod
    def steady_state(cls, labels: dict[str, list[str]], thresholds: dict, positive: dict[str, str],
                     probs: dict[str, np.ndarray], fps: float = 30.0) -> SmoothedState:
        """What the overlay would show if this view stayed on screen: a still image's verdict
        with the live thresholds (hysteresis, dwell, stable time, confidence), not a second rule."""
        sm = cls(labels, thresholds, positive)
        th = sm.thresholds
        settle = 2 * (th["gate_min_dwell_s"] + th["grade_stable_s"]) + 6 * th["smoothing_tau_s"] + 0.5
        for i in range(int(settle * fps) + 1):
            state = sm.update(i / fps, probs)
        return state

    def __init__(self, labels: dict[str, list[str]], thresholds: dict, positive: dict[str, str]):
        from livescope.card import DEFAULT_THRESHOLDS

        th = {**DEFAULT_THRESHOLDS, **thresholds}
        self.thresholds = th
        self.labels = labels
        self.positive = positive
        tau = float(th["smoothing_tau_s"])
        self.conf = float(th["confidence"])
        self.margin = float(th["grade_margin"])
        self.f_gate = ProbabilityFilter(tau)
        self.f_a = ProbabilityFilter(tau)
        self.f_b = ProbabilityFilter(tau)
        self.gate = Hysteresis(float(th["gate_enter"]), float(th["gate_exit"]), float(th["gate_min_dwell_s"]))
        self.stable_a = StableLabel(float(th["grade_stable_s"]))
        self.stable_b = StableLabel(float(th["grade_stable_s"]))
        self.p_gate = 0.0
        self.p_a: np.ndarray | None = None
        self.p_b: np.ndarray | None = None
        self.shown_changes = 0
        self._last_shown: tuple | None = None
        self.current = SmoothedState(0.0, False, 0.0, None, None, None, None, None)

    def update(self, t: float, probs: dict[str, np.ndarray]) -> SmoothedState:
        """`probs`: the raw per-task probabilities of one analysed frame (tasks not run are absent)."""
        if "gate" in probs:
            gl = self.labels["gate"]
            self.p_gate = float(self.f_gate.update(t, probs["gate"])[gl.index(self.positive["gate"])])
        elif "gate" not in self.labels:
            self.p_gate = 1.0  # a bundle without a gate treats every frame as in
        was_in = self.gate.state
        gate_in = self.gate.update(t, self.p_gate)
        if gate_in and not was_in:
            self.stable_a.reset()
            self.stable_b.reset()
        if "A" in probs:
            self.p_a = self.f_a.update(t, probs["A"])
        if "B" in probs:
            self.p_b = self.f_b.update(t, probs["B"])
        a_label = grade = None
        confidence = None
        if gate_in and self.p_a is not None:
            la = self.labels["A"]
            a_label = self.stable_a.update(t, candidate_label(self.p_a, la, self.stable_a.shown, self.conf, self.margin))
            confidence = float(self.p_a.max())
            # The grade is followed beside A (on frames where B ran), so that once A settles on
            # hemorrhoid a grade that has already been stable shows at once, with no
            # intermediate "hemorrhoid" step.
            g = None
            if "B" in self.labels and "B" in probs and self.p_b is not None:
                g = self._follow_grade(t)
            elif "B" in self.labels:
                g = self.stable_b.shown
            if a_label == self.positive.get("A", "hemorrhoid") and "B" in self.labels:
                if g not in (None, UNCERTAIN) and self.p_b is not None:
                    grade = g
                    confidence = float(self.p_b.max())
                else:
                    grade = "hemorrhoid"
            elif a_label is not None:
                grade = a_label
        elif gate_in and "A" not in self.labels and "B" in probs and self.p_b is not None:
            # A bundle of task B alone (the study trains one): its grade is the whole decision.
            grade = self._follow_grade(t)
            confidence = float(self.p_b.max())
        shown = (gate_in, grade)
        if self._last_shown is not None and shown != self._last_shown:
            self.shown_changes += 1
        self._last_shown = shown
        self.current = SmoothedState(t, gate_in, self.p_gate,
                                     None if self.p_a is None else self.p_a.copy(),
                                     None if self.p_b is None else self.p_b.copy(),
                                     a_label if gate_in else None, grade if gate_in else None, confidence)
        return self.current

    def _follow_grade(self, t: float) -> str | None:
        """The stable grade after this frame's smoothed task B probabilities."""
        label = candidate_label(self.p_b, self.labels["B"], self.stable_b.shown, self.conf, self.margin)
        return self.stable_b.update(t, label)
