"""The recipe's video check: a fresh phantom procedure replayed through `livescope run` and
scored with `livescope score` (the phantom knows the truth of every frame).

One video holds one normal episode, so one rare rendering of a normal dentate line decides its
grade figure: `video_checks` scores several videos and sums their episodes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

CHECK = {"seconds": 90, "fps": 30, "size": "1280x720", "episodes": "Rf1,normal,Rf2,Rf0"}


def check_video(work: Path, seed: int) -> Path:
    """The check video of `seed` (phantom seed 3000 + seed) in `work`, made once."""
    from livescope.phantom.video import synth_video

    video = Path(work) / f"check-video-{3000 + seed}.mp4"
    if not video.with_suffix(".json").exists():  # the truth is written last: without it the video is unfinished
        synth_video(video, seconds=CHECK["seconds"], fps=CHECK["fps"], size=CHECK["size"], seed=3000 + seed,
                    episodes=CHECK["episodes"], progress=False)
    return video


def video_score(bundle: Path, work: Path, seed: int, engine: str = "auto", runs: Path | None = None,
                record: bool = True, cascade=None) -> dict:
    """Replay one check video and score it. `runs`: where the run folder goes (default `work`);
    `record=False` writes only the frame log the score needs (no annotated video or report)."""
    from livescope.runs.score import score_run
    from livescope.runs.session import run_source

    video = check_video(work, seed)
    run_dir = Path(runs or work) / f"check-run-{3000 + seed}"  # one per seed: seeds may share a folder
    run_source(str(video), bundle, run_dir, engine=engine, record=record, reports=record, cascade=cascade)
    s = score_run(run_dir, video.with_suffix(".json"))
    s["video"] = {**CHECK, "seed": 3000 + seed}
    return s


def video_checks(bundle: Path, work: Path, seeds: list[int], engine: str = "auto", runs: Path | None = None,
                 progress: bool = True, known: dict[int, dict] | None = None) -> dict:
    """Several check videos through one loaded cascade, their episodes summed. `known`: scores
    of some of the seeds already made (the recipe's recorded check), not replayed again."""
    from tqdm import tqdm

    from livescope.models.cascade import Cascade

    known = known or {}
    cascade = Cascade(bundle, engine=engine) if any(s not in known for s in seeds) else None
    scores = [known[s] if s in known else video_score(bundle, work, s, engine, runs, record=False, cascade=cascade)
              for s in tqdm(seeds, desc="check videos", unit="video", disable=not progress)]
    return summarise_checks(scores)


def parse_seeds(text: str) -> list[int]:
    """'0-3' or '0,100-111': check-video seeds (offsets from 3000), in order, each once."""
    from livescope.errors import LivescopeError

    seeds: list[int] = []
    try:
        for part in text.split(","):
            a, _, b = part.strip().partition("-")
            seeds += list(range(int(a), int(b) + 1)) if b else [int(a)]
    except ValueError:
        raise LivescopeError(f"check-video seeds {text!r} are not numbers", "write them like 0-3 or 0,100-111") from None
    if not seeds or min(seeds) < 0:
        raise LivescopeError(f"check-video seeds {text!r} name no video", "write them like 0-3 or 0,100-111")
    return list(dict.fromkeys(seeds))


def summarise_checks(scores: list[dict]) -> dict:
    episodes = [dict(p, video_seed=s["video"]["seed"]) for s in scores for p in s["per_episode"]]
    found = [p for p in episodes if p["found"]]
    predicted = sum(s["episodes_predicted"] for s in scores)
    delays = [p["decision_delay_s"] for p in found if p["decision_delay_s"] is not None]
    by_grade = {}
    for p in episodes:
        g = by_grade.setdefault(p["true_grade"], {"episodes": 0, "found": 0, "graded_right": 0, "called": {}})
        g["episodes"] += 1
        g["found"] += int(p["found"])
        g["graded_right"] += int(bool(p.get("grade_correct")))
        if p["found"]:
            called = str(p.get("pred_grade"))
            g["called"][called] = g["called"].get(called, 0) + 1
    flicker = [s["flicker_changes_per_min"] for s in scores]
    right = sum(bool(p.get("grade_correct")) for p in found)
    return {
        "videos": [s["video"]["seed"] for s in scores], "check": dict(CHECK),
        "episodes_true": len(episodes), "episodes_found": len(found), "episodes_predicted": predicted,
        "episode_recall": len(found) / max(len(episodes), 1),
        "episode_precision": len(found) / max(predicted, 1),
        "episodes_graded_right": right,
        "episode_grade_accuracy": right / len(found) if found else None,
        "by_grade": by_grade,
        "decision_delay_s": {"median": float(np.median(delays)) if delays else None,
                             "max": float(max(delays)) if delays else None},
        "flicker_changes_per_min": {"mean": float(np.mean(flicker)), "max": float(max(flicker)),
                                    "videos_with_any": int(sum(f > 0 for f in flicker))},
        "misgraded": [{"video_seed": p["video_seed"], "true_grade": p["true_grade"], "pred_grade": p.get("pred_grade")}
                      for p in found if not p.get("grade_correct")],
        "per_video": [{"seed": s["video"]["seed"], "episode_recall": s["episode_recall"],
                       "episode_precision": s["episode_precision"],
                       "episode_grade_accuracy": s["episode_grade_accuracy"],
                       "flicker_changes_per_min": s["flicker_changes_per_min"]} for s in scores],
    }
