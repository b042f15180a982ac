import json

import av
import numpy as np

from livescope.runs.score import score_run
from livescope.runs.session import run_source as replay


def test_replay_writes_playable_video_jsonl_and_reports(short_video, tiny_cascade, tmp_path):
    out = tmp_path / "run"
    report, pipe = replay(str(short_video), out=out, cascade=tiny_cascade, record_raw=True)
    truth = json.loads(short_video.with_suffix(".json").read_text())
    n = truth["frames"]
    with av.open(str(out / "annotated.mp4")) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == n and frames[0].shape == (240, 320, 3)
    lines = (out / "frames.jsonl").read_text().splitlines()
    assert len(lines) == n
    rec = json.loads(lines[5])
    for key in ("i", "t", "raw", "p_gate", "state", "grade", "latency_ms", "ai_age_ms"):
        assert key in rec
    assert all(json.loads(ln)["analysed"] for ln in lines)  # replay analyses every frame
    r = json.loads((out / "report.json").read_text())
    assert r["summary"]["frames"] == n and "not a medical device" in r["notice"].lower()
    html = (out / "report.html").read_text()
    assert "Research use only" in html and "timeline.png" in html
    assert (out / "timeline.png").stat().st_size > 5000
    # --mask-osd (default): the on-screen text (patient name, ID) is blanked in the raw recording.
    # (Compression leaves a faint ripple near the edge; the text is drawn at 235.)
    assert _outside_outline(out / "raw.mp4").max() < 60
    assert _outside_outline(out / "annotated.mp4", overlay=True).max() < 60


def _outside_outline(video, overlay: bool = False) -> np.ndarray:
    """The first frame's pixels outside the endoscope image's outline (the overlay's own drawing,
    which sits at the frame's top and bottom edges, left out)."""
    from livescope.data.endoscope_area import find_image_area

    with av.open(str(video)) as c:
        frame = next(iter(c.decode(video=0))).to_ndarray(format="rgb24")
    import cv2

    area = find_image_area(frame)
    # Compression smears the outline's edge by a pixel or two: look beyond a 4-pixel margin.
    outside = cv2.dilate(area.mask(*frame.shape[:2]), np.ones((9, 9), np.uint8)) == 0
    if overlay:  # panel (top left), notice (top right) and status line (bottom) are the overlay's
        outside[: frame.shape[0] // 3] = False
        outside[-frame.shape[0] // 8:] = False
    return frame[outside]


def test_without_mask_the_text_is_there(short_video, tiny_cascade, tmp_path):
    out = tmp_path / "run"
    replay(str(short_video), out=out, cascade=tiny_cascade, record_raw=True, mask_osd=False, record=False)
    assert _outside_outline(out / "raw.mp4").max() > 100  # OSD text pixels


def test_replay_is_reproducible_and_scores(short_video, tiny_cascade, tmp_path):
    a, _ = replay(str(short_video), out=tmp_path / "a", cascade=tiny_cascade, record=False)
    b, _ = replay(str(short_video), out=tmp_path / "b", cascade=tiny_cascade, record=False, analyze_every=3)
    la = [json.loads(x) for x in (tmp_path / "a" / "frames.jsonl").read_text().splitlines()]
    lb = [json.loads(x) for x in (tmp_path / "b" / "frames.jsonl").read_text().splitlines()]
    assert sum(r["analysed"] for r in lb) == len(lb) // 3 + (len(lb) % 3 > 0)
    a2, _ = replay(str(short_video), out=tmp_path / "a2", cascade=tiny_cascade, record=False)
    la2 = [json.loads(x) for x in (tmp_path / "a2" / "frames.jsonl").read_text().splitlines()]
    assert [r["p_gate"] for r in la] == [r["p_gate"] for r in la2]
    s = score_run(tmp_path / "a", short_video.with_suffix(".json"))
    for key in ("frame_gate_accuracy", "episode_recall", "episode_precision", "episode_grade_accuracy",
                "decision_delay_s", "flicker_changes_per_min"):
        assert key in s
    assert 0 <= s["frame_gate_accuracy"] <= 1 and s["episodes_true"] == 1


def test_score_on_perfect_predictions(short_video, tmp_path):
    """The scorer itself: a frames.jsonl equal to the truth scores 1.0 with no delay."""
    truth = json.loads(short_video.with_suffix(".json").read_text())
    run = tmp_path / "perfect"
    run.mkdir()
    with open(run / "frames.jsonl", "w") as f:
        for i, g in enumerate(truth["truth"]["gate"]):
            grade = truth["truth"]["B"][i] or (truth["truth"]["A"][i] or None)
            f.write(json.dumps({"i": i, "state": "in" if g == "retroflex" else "out",
                                "a": truth["truth"]["A"][i] or None, "grade": grade}) + "\n")
        f.write('{"i": 99999, "state": "in", "gra')  # a line cut by a crash is ignored
    s = score_run(run, short_video.with_suffix(".json"))
    assert s["frame_gate_accuracy"] == 1.0 and s["episode_recall"] == 1.0 and s["episode_precision"] == 1.0
    assert s["episode_grade_accuracy"] == 1.0 and s["decision_delay_s"]["median"] == 0.0
    assert s["frame_B_accuracy"] == 1.0


def test_run_command_end_to_end(short_video, tiny_bundles, tmp_path):
    import subprocess
    import sys

    out = tmp_path / "cli"
    r = subprocess.run([sys.executable, "-m", "livescope.cli", "run", str(short_video), "--model",
                        str(tiny_bundles["cascade"]), "--no-window", "--out", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "report.html" in r.stdout
    truth = str(short_video.with_suffix(".json"))
    r2 = subprocess.run([sys.executable, "-m", "livescope.cli", "score", str(out), truth, "--json"],
                        capture_output=True, text=True)
    assert r2.returncode == 0 and "episode_recall" in r2.stdout
    s = json.loads(r2.stdout)
    assert np.isfinite(s["frame_gate_accuracy"])
    # Without --json: the same figures as sentences a person reads, each rounded.
    r3 = subprocess.run([sys.executable, "-m", "livescope.cli", "score", str(out), truth], capture_output=True, text=True)
    lines = r3.stdout.strip().splitlines()
    assert r3.returncode == 0 and lines[0].startswith("episodes: 1 in the truth")
    assert f"gate accuracy {s['frame_gate_accuracy']:.2f}" in r3.stdout and "{" not in r3.stdout


def test_dark_frames_never_show_the_on_screen_text():
    """A frame too dark to find the endoscope area: the output is blanked, not left unmasked."""
    import cv2

    from livescope.data.endoscope_area import EndoscopeArea, blank_outside

    frame = np.zeros((360, 640, 3), np.uint8)
    frame[40:320, 250:560] = 6  # a very dark view inside the black border
    cv2.putText(frame, "DOE^JANE ID:1234567", (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (235, 235, 235), 1)
    tracker = EndoscopeArea()
    area = tracker.update(frame, 0.0)
    assert area is None
    assert blank_outside(frame, area).max() == 0
    lit = frame.copy()
    lit[40:320, 250:560] = 120
    assert tracker.update(lit, 0.0) is not None  # a lit frame of another content: found (shape same, refresh)
    area2 = EndoscopeArea().update(lit, 0.0)
    assert area2 is not None and blank_outside(lit, area2)[:35, :200].max() == 0  # the text is gone


def test_text_in_the_octagon_corners_is_masked_by_the_outline_not_the_box():
    """Text on the black of the octagon's cut corners lies inside the area's bounding box: masking
    must follow the outline (pixel check on the text and on the picture)."""
    import cv2

    from livescope.data.endoscope_area import blank_outside, find_image_area

    frame = np.zeros((480, 640, 3), np.uint8)
    c = 110
    octagon = np.array([[100 + c, 20], [600 - c, 20], [600, 20 + c], [600, 460 - c], [600 - c, 460], [100 + c, 460],
                        [100, 460 - c], [100, 20 + c]], np.int32)
    cv2.fillPoly(frame, [octagon], (180, 90, 80))
    cv2.putText(frame, "DOE^JANE", (104, 45), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (235, 235, 235), 1)  # in the corner
    area = find_image_area(frame)
    x, y, w, h = area.box
    assert x <= 104 and y <= 35  # the text is inside the bounding box ...
    out = blank_outside(frame, area)
    assert out[28:48, 104:180].max() == 0  # ... and gone from the output
    assert (out[240, 350] == frame[240, 350]).all()  # the picture is kept


def test_resmooth_reproduces_the_run_and_thresholds_change_it(short_video, tiny_bundles, tmp_path):
    """`score --resmooth` re-runs the smoothing on the recorded raw probabilities: with the
    card's own thresholds it gives back the run's states; other thresholds give other states."""
    import subprocess
    import sys

    from livescope.card import read_card
    from livescope.runs.score import read_frames, resmooth

    out = tmp_path / "run"
    replay(str(short_video), bundle=tiny_bundles["cascade"], out=out, record=False)
    rows = read_frames(out / "frames.jsonl")
    card = read_card(tiny_bundles["cascade"])
    again, decided = resmooth(rows, card)
    assert [(r["state"], r["grade"]) for r in again] == [(r["state"], r["grade"]) for r in rows]
    report = json.loads((out / "report.json").read_text())
    assert decided == {(e["start_frame"], e["end_frame"]): e["grade"] for e in report["episodes"]}
    never, _ = resmooth(rows, card, {"gate_enter": 1.01, "gate_exit": 1.0})
    assert all(r["state"] == "out" for r in never)
    always, eps = resmooth(rows, card, {"gate_enter": 0.0, "gate_exit": 0.0})
    assert sum(r["state"] == "in" for r in always) > 0.9 * len(rows) and len(eps) == 1
    truth = str(short_video.with_suffix(".json"))
    r = subprocess.run([sys.executable, "-m", "livescope.cli", "score", str(out), truth, "--model",
                        str(tiny_bundles["cascade"]), "--thresholds", "gate_enter=1.01,gate_exit=1.0", "--json"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["episodes_predicted"] == 0 and s["resmoothed"]["thresholds"]["gate_enter"] == 1.01
    bad = subprocess.run([sys.executable, "-m", "livescope.cli", "score", str(out), truth, "--thresholds", "gate=2"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown threshold 'gate'" in bad.stderr
