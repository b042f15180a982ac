"""`livescope score --check-videos`: the recipe's phantom check videos, made, replayed and summed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from livescope.runs.video_check import CHECK, video_checks


def test_check_videos_are_made_replayed_scored_and_written_to_the_card(tiny_bundles, tmp_path):
    bundle = shutil.copytree(tiny_bundles["cascade"], tmp_path / "bundle")  # --card writes into it
    work = tmp_path / "checks"
    r = subprocess.run([sys.executable, "-m", "livescope.cli", "score", "--check-videos", "0", "--model", str(bundle),
                        "--work", str(work), "--card", "--out", str(tmp_path / "checks.json")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "check videos: 1 (seeds 3000)" in r.stdout and "episodes: 4 in the truth" in r.stdout
    video = work / "check-video-3000.mp4"
    truth = json.loads(video.with_suffix(".json").read_text())
    assert truth["seed"] == 3000 and [e["grade"] for e in truth["episodes"]] == CHECK["episodes"].split(",")
    # The run wrote only what the score needs: no recording, no report.
    run = work / "bundle" / "check-run-3000"
    assert (run / "frames.jsonl").exists() and not (run / "annotated.mp4").exists()
    s = json.loads((tmp_path / "checks.json").read_text())
    card = json.loads((bundle / "card.json").read_text())
    assert card["metrics"]["phantom_videos"]["episodes_true"] == 4 == s["episodes_true"]
    assert card["metrics"]["phantom_videos"]["command"] == f"livescope score --check-videos 0 --model {bundle}"
    assert s["episodes_graded_right"] == s["episodes_found"] - len(s["misgraded"])
    assert sum(g["episodes"] for g in s["by_grade"].values()) == 4

    # Summing: a known score is taken as it is (no model is loaded for it), and episodes add up.
    from livescope.runs.score import score_run

    first = {**score_run(run, video.with_suffix(".json")), "video": {**CHECK, "seed": 3000}}
    second = json.loads(json.dumps(first))
    second["video"]["seed"] = 3005
    second["per_episode"][1].update(found=True, pred_grade="Rf0", grade_correct=False)  # its normal episode misgraded
    both = video_checks(Path("/nonexistent/bundle"), work, [0, 5], known={0: first, 5: second}, progress=False)
    assert both["videos"] == [3000, 3005] and both["episodes_true"] == 8
    assert {"video_seed": 3005, "true_grade": "normal", "pred_grade": "Rf0"} in both["misgraded"]
    assert both["by_grade"]["normal"]["episodes"] == 2 and both["by_grade"]["normal"]["called"].get("Rf0", 0) >= 1
    right = [p.get("grade_correct") is True for sc in (first, second) for p in sc["per_episode"] if p["found"]]
    assert both["episodes_graded_right"] == sum(right) and both["episodes_found"] == len(right)
    assert both["episodes_predicted"] == 2 * first["episodes_predicted"]
