import math

import numpy as np
import pytest

from livescope.live.smoothing import Hysteresis, ProbabilityFilter, StableLabel, TemporalSmoother

LABELS = {"gate": ["other", "retroflex"], "A": ["normal", "hemorrhoid"], "B": ["Rf0", "Rf1", "Rf2"]}
POS = {"gate": "retroflex", "A": "hemorrhoid", "B": "Rf2"}
TH = {"gate_enter": 0.6, "gate_exit": 0.4, "gate_min_dwell_s": 0.5, "confidence": 0.6,
      "smoothing_tau_s": 0.4, "grade_stable_s": 0.7}


def _step_time(fps: float, tau: float = 0.4) -> float:
    f = ProbabilityFilter(tau)
    f.update(0.0, [0.0])
    t = 0.0
    while True:
        t += 1.0 / fps
        if f.update(t, [1.0])[0] >= 1 - math.exp(-1):
            return t


@pytest.mark.parametrize("fps", [25.0, 60.0])
def test_step_response_in_seconds_not_frames(fps):
    # 63% of a step after about one time constant, whatever the frame rate.
    assert _step_time(fps) == pytest.approx(0.4, abs=1.0 / fps + 1e-9)


def test_same_behaviour_at_25_and_60_fps():
    assert abs(_step_time(25) - _step_time(60)) <= 1 / 25 + 1e-9


def test_hysteresis_enter_exit_and_dwell():
    h = Hysteresis(0.6, 0.4, 0.5)
    assert h.update(0.0, 0.55) is False  # below enter
    assert h.update(0.6, 0.65) is True  # enters
    assert h.update(0.8, 0.45) is True  # between thresholds: stays in
    assert h.update(0.9, 0.2) is True  # below exit, but dwell not over (0.3 s < 0.5 s)
    assert h.update(1.2, 0.2) is False  # leaves after the dwell
    with pytest.raises(ValueError):
        Hysteresis(0.4, 0.6, 0.1)


def test_stable_label_waits():
    s = StableLabel(0.7)
    assert s.update(0.0, "Rf1") is None
    assert s.update(0.71, "Rf1") == "Rf1"
    assert s.update(0.8, "Rf2") == "Rf1"  # new candidate, not yet stable
    assert s.update(1.2, "Rf1") == "Rf1"
    assert s.update(1.3, "Rf2") == "Rf1"
    assert s.update(2.05, "Rf2") == "Rf2"


def test_flicker_is_suppressed():
    """Raw gate probabilities that alternate across 0.5 every frame (with noise) do not make
    the shown state flicker."""
    rng = np.random.default_rng(0)
    sm = TemporalSmoother(LABELS, TH, POS)
    raw_changes, last = 0, None
    for i in range(30 * 20):
        p = 0.55 + 0.3 * (1 if i % 2 else -1) + rng.normal(0, 0.05)
        p = float(np.clip(p, 0, 1))
        raw = p >= 0.5
        raw_changes += last is not None and raw != last
        last = raw
        sm.update(i / 30, {"gate": np.array([1 - p, p]), "A": np.array([0.2, 0.8]), "B": np.array([0.1, 0.8, 0.1])})
    assert raw_changes > 500
    assert sm.shown_changes <= 3


def test_uncertain_below_confidence_and_grade_shown_when_stable():
    sm = TemporalSmoother(LABELS, TH, POS)
    t = 0.0
    for _ in range(60):  # 2 s of a clear retroflexed view with an uncertain A head
        t += 1 / 30
        st = sm.update(t, {"gate": np.array([0.05, 0.95]), "A": np.array([0.5, 0.5])})
    assert st.gate_in and st.a_label == "uncertain" and st.grade == "uncertain"
    for _ in range(60):
        t += 1 / 30
        st = sm.update(t, {"gate": np.array([0.05, 0.95]), "A": np.array([0.1, 0.9]), "B": np.array([0.1, 0.85, 0.05])})
    assert st.a_label == "hemorrhoid" and st.grade == "Rf1" and st.confidence > 0.6


def test_near_tie_keeps_the_grade_on_screen():
    """Rf1 and Rf2 alternating within the margin: the grade shown stays; a clear change wins."""
    from livescope.live.smoothing import candidate_label

    lb = LABELS["B"]
    assert candidate_label(np.array([0.0, 0.46, 0.54]), lb, "Rf1", 0.5, 0.1) == "Rf1"
    assert candidate_label(np.array([0.0, 0.46, 0.54]), lb, None, 0.5, 0.1) == "Rf2"
    assert candidate_label(np.array([0.0, 0.3, 0.7]), lb, "Rf1", 0.5, 0.1) == "Rf2"
    assert candidate_label(np.array([0.2, 0.35, 0.45]), lb, "Rf1", 0.5, 0.1) == "uncertain"
    rng = np.random.default_rng(1)
    counts = {}
    for margin in (0.0, 0.15):
        sm = TemporalSmoother(LABELS, {**TH, "confidence": 0.5, "grade_margin": margin}, POS)
        for i in range(30 * 30):
            # the grade's raw probability wanders slowly either side of the Rf1/Rf2 boundary
            d = 0.06 * math.sin(i / 30 * 1.3) + rng.normal(0, 0.02)
            sm.update(i / 30, {"gate": np.array([0.02, 0.98]), "A": np.array([0.05, 0.95]),
                               "B": np.array([0.0, 0.5 - d, 0.5 + d])})
        counts[margin] = sm.shown_changes
    assert counts[0.0] >= 8 and counts[0.15] <= 2


def test_grade_shows_with_the_hemorrhoid_decision_not_after_it():
    """A and B are followed side by side: a clear Rf1 view goes straight from deciding to Rf1."""
    sm = TemporalSmoother(LABELS, TH, POS)
    shown = []
    for i in range(90):
        st = sm.update(i / 30, {"gate": np.array([0.02, 0.98]), "A": np.array([0.1, 0.9]),
                                "B": np.array([0.05, 0.9, 0.05])})
        if not shown or shown[-1] != st.grade:
            shown.append(st.grade)
    assert shown == [None, "Rf1"]
