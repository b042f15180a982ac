import numpy as np

from livescope.data.endoscope_area import ImageArea
from livescope.live.episodes import EpisodeTracker
from livescope.live.smoothing import TemporalSmoother

LABELS = {"gate": ["other", "retroflex"], "A": ["normal", "hemorrhoid"], "B": ["Rf0", "Rf1", "Rf2"]}
POS = {"gate": "retroflex", "A": "hemorrhoid", "B": "Rf2"}
AREA = ImageArea((0, 0, 64, 48), np.array([[0, 0], [63, 0], [63, 47], [0, 47]], np.int32))
TH = {"gate_enter": 0.6, "gate_exit": 0.4, "gate_min_dwell_s": 0.3, "confidence": 0.6,
      "smoothing_tau_s": 0.2, "grade_stable_s": 0.5}


def test_two_episodes_with_their_grades_and_key_frames():
    sm = TemporalSmoother(LABELS, TH, POS)
    tr = EpisodeTracker(LABELS, POS)
    fps = 30
    script = [(3, None), (4, "Rf2"), (3, None), (4, "normal"), (2, None)]
    i = 0
    img = np.zeros((48, 64, 3), np.uint8)
    for seconds, grade in script:
        for _ in range(seconds * fps):
            t = i / fps
            if grade is None:
                probs = {"gate": np.array([0.95, 0.05])}
            elif grade == "normal":
                probs = {"gate": np.array([0.1, 0.9]), "A": np.array([0.85, 0.15]), "B": np.array([0.4, 0.3, 0.3])}
            else:
                probs = {"gate": np.array([0.1, 0.9]), "A": np.array([0.1, 0.9]), "B": np.array([0.1, 0.15, 0.75])}
            st = sm.update(t, probs)
            tr.update(i, t, st, probs, img, np.ones((3, 3), np.float32), AREA, "B")
            i += 1
    tr.finish(i - 1, (i - 1) / fps)
    eps = [EpisodeTracker.summary(e) for e in tr.episodes]
    assert [e["grade"] for e in eps] == ["Rf2", "normal"]
    assert abs(eps[0]["start_s"] - 3.0) < 0.6 and abs(eps[0]["end_s"] - 7.0) < 0.6
    assert eps[0]["confidence"] > 0.6 and eps[0]["first_stable_grade_s"] is not None
    assert all(e.key_frame is not None and e.key_cam is not None for e in tr.episodes)
