"""The recipe's video check: a fresh phantom procedure replayed through `livescope run` and
scored with `livescope score` (the phantom knows the truth of every frame)."""

from __future__ import annotations

from pathlib import Path

CHECK = {"seconds": 90, "fps": 30, "size": "1280x720", "episodes": "Rf1,normal,Rf2,Rf0"}


def video_score(bundle: Path, work: Path, seed: int, engine: str = "auto") -> dict:
    from livescope.phantom.video import synth_video
    from livescope.runs.score import score_run
    from livescope.runs.session import run_source

    video = work / f"check-video-{3000 + seed}.mp4"
    if not video.exists():
        synth_video(video, seconds=CHECK["seconds"], fps=CHECK["fps"], size=CHECK["size"], seed=3000 + seed,
                    episodes=CHECK["episodes"], progress=False)
    run_dir = work / f"check-run-{3000 + seed}"  # one per seed: runs of several seeds may share a work folder
    run_source(str(video), bundle, run_dir, engine=engine)
    s = score_run(run_dir, video.with_suffix(".json"))
    s["video"] = {**CHECK, "seed": 3000 + seed}
    return s
