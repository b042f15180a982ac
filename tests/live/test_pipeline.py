import json

import av
import numpy as np

from livescope.live.commands import replay
from livescope.live.score import score_run


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
    x, y, w, h = truth["image_area"]
    with av.open(str(out / "raw.mp4")) as c:
        raw = next(iter(c.decode(video=0))).to_ndarray(format="rgb24")
    border = raw[:, : max(1, x - 4)] if x > 8 else raw[:, x + w + 4:]
    assert border.mean() < 2.0


def test_without_mask_the_text_is_there(short_video, tiny_cascade, tmp_path):
    out = tmp_path / "run"
    replay(str(short_video), out=out, cascade=tiny_cascade, record_raw=True, mask_osd=False, record=False)
    truth = json.loads(short_video.with_suffix(".json").read_text())
    x, y, w, h = truth["image_area"]
    with av.open(str(out / "raw.mp4")) as c:
        raw = next(iter(c.decode(video=0))).to_ndarray(format="rgb24")
    border = raw[:, : max(1, x - 4)] if x > 8 else raw[:, x + w + 4:]
    assert border.max() > 100  # OSD text pixels


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
    r2 = subprocess.run([sys.executable, "-m", "livescope.cli", "score", str(out), str(short_video.with_suffix(".json"))],
                        capture_output=True, text=True)
    assert r2.returncode == 0 and "episode_recall" in r2.stdout
    assert np.isfinite(json.loads(r2.stdout)["frame_gate_accuracy"])


def test_dark_frames_never_show_the_on_screen_text():
    """A frame too dark to find the endoscope area: the output is blanked, not left unmasked."""
    import cv2

    from livescope.data.images import mask_outside
    from livescope.live.pipeline import EndoscopeArea

    frame = np.zeros((360, 640, 3), np.uint8)
    frame[40:320, 250:560] = 6  # a very dark view inside the black border
    cv2.putText(frame, "DOE^JANE ID:1234567", (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (235, 235, 235), 1)
    area = EndoscopeArea()
    box = area.update(frame, 0.0)
    assert box is None
    assert mask_outside(frame, box).max() == 0
    lit = frame.copy()
    lit[40:320, 250:560] = 120
    assert area.update(lit, 0.0) is not None  # a lit frame of another content: found (shape same, refresh)
    box2 = EndoscopeArea().update(lit, 0.0)
    assert box2 is not None and mask_outside(lit, box2)[:35, :200].max() == 0  # the text is gone


def test_resmooth_reproduces_the_run_and_thresholds_change_it(short_video, tiny_bundles, tmp_path):
    """`score --resmooth` re-runs the smoothing on the recorded raw probabilities: with the
    card's own thresholds it gives back the run's states; other thresholds give other states."""
    import subprocess
    import sys

    from livescope.live.score import read_frames, resmooth
    from livescope.models.bundle import read_card

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
                        str(tiny_bundles["cascade"]), "--thresholds", "gate_enter=1.01,gate_exit=1.0"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["episodes_predicted"] == 0 and s["resmoothed"]["thresholds"]["gate_enter"] == 1.01
    bad = subprocess.run([sys.executable, "-m", "livescope.cli", "score", str(out), truth, "--thresholds", "gate=2"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown threshold 'gate'" in bad.stderr
