"""`livescope score`: a run's frames.jsonl against the phantom's truth JSON."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from livescope.errors import LivescopeError

STABLE = {"normal", "Rf0", "Rf1", "Rf2"}


def read_frames(path: Path) -> list[dict]:
    """Every complete line (a line cut by a crash is ignored)."""
    rows = []
    with open(path) as f:
        for line in f:
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                break
    return rows


def _runs(flags: list[bool]) -> list[tuple[int, int]]:
    runs, start = [], None
    for i, f in enumerate(flags):
        if f and start is None:
            start = i
        if not f and start is not None:
            runs.append((start, i - 1))
            start = None
    if start is not None:
        runs.append((start, len(flags) - 1))
    return runs


def resmooth(rows: list[dict], card: dict, overrides: dict | None = None) -> tuple[list[dict], dict]:
    """Run the smoothing and episode decisions again on a run's recorded raw probabilities,
    with the card's thresholds (and `overrides`): how thresholds are tuned without re-running
    the model. Returns the new per-frame rows and the episode grades by (start, end) frame."""
    from livescope.card import card_thresholds, task_positive
    from livescope.live.episodes import EpisodeTracker
    from livescope.live.smoothing import TemporalSmoother

    labels = {task: spec["labels"] for task, spec in card["tasks"].items()}
    positive = {task: task_positive(card, task) for task in card["tasks"]}  # as the live Cascade has them
    thresholds = {**card_thresholds(card), **(overrides or {})}
    smoother = TemporalSmoother(labels, thresholds, positive)
    tracker = EpisodeTracker(labels, positive)
    out = []
    last_t = 0.0
    for r in rows:
        raw = r.get("raw")
        if r.get("analysed") and raw is not None and r.get("result_of") == r["i"]:
            probs = {k: np.asarray(v, np.float64) for k, v in raw.items()}
            state = smoother.update(r["t"], probs)
            tracker.update(r["i"], r["t"], state, probs)
        else:
            state = smoother.current
        last_t = r["t"]
        out.append({**r, "state": state.state, "grade": state.grade, "a": state.a_label})
    tracker.finish(rows[-1]["i"] if rows else 0, last_t)
    decided = {(e.start_frame, e.end_frame): e.decision.get("grade") for e in tracker.episodes}
    return out, decided


def score_run(run_dir: str | Path, truth_path: str | Path, card: dict | None = None,
              overrides: dict | None = None) -> dict:
    """Score a run; with `card`, re-run the smoothing on its raw probabilities first (see resmooth)."""
    run_dir, truth_path = Path(run_dir), Path(truth_path)
    frames_path = run_dir / "frames.jsonl" if run_dir.is_dir() else run_dir
    if not frames_path.exists():
        raise LivescopeError(f"{frames_path} does not exist", "give the --out folder of a `livescope run`")
    if not truth_path.exists():
        raise LivescopeError(f"truth {truth_path} does not exist", "give the .json written next to a `livescope synth video`")
    truth = json.loads(truth_path.read_text())
    rows = [r for r in read_frames(frames_path) if r.get("i", -1) >= 0]
    if not rows:
        raise LivescopeError(f"{frames_path} has no frames", "the run wrote nothing; run it again")
    if card is not None:
        rows, decided = resmooth(rows, card, overrides)
    else:
        decided = _report_grades(run_dir)
    return score_rows(rows, truth, decided)


def _report_grades(run_dir: Path) -> dict:
    report_path = run_dir / "report.json" if run_dir.is_dir() else None
    decided = {}
    if report_path is not None and report_path.exists():
        for e in json.loads(report_path.read_text()).get("episodes", []):
            decided[(e["start_frame"], e["end_frame"])] = e.get("grade")
    return decided


def score_rows(rows: list[dict], truth: dict, decided: dict) -> dict:
    """Frame, episode, delay and flicker figures; `decided`: episode grades by (start, end) frame."""
    fps = float(truth["fps"])
    tg, ta, tb = truth["truth"]["gate"], truth["truth"]["A"], truth["truth"]["B"]
    n = min(len(rows), len(tg))
    by_index = {r["i"]: r for r in rows}
    pred_in = [by_index.get(i, {}).get("state") == "in" for i in range(n)]
    true_in = [tg[i] == "retroflex" for i in range(n)]
    shown = [by_index.get(i, {}).get("grade") for i in range(n)]
    a_shown = [by_index.get(i, {}).get("a") for i in range(n)]
    gate_acc = float(np.mean([p == t for p, t in zip(pred_in, true_in, strict=True)]))
    a_pairs = [(a_shown[i], ta[i]) for i in range(n) if true_in[i] and pred_in[i] and a_shown[i] in ("normal", "hemorrhoid")]
    b_pairs = [(shown[i], tb[i]) for i in range(n) if tb[i] and pred_in[i] and shown[i] in STABLE]
    true_eps = [(e["start_frame"], min(e["end_frame"], n - 1), e["grade"]) for e in truth["episodes"] if e["start_frame"] < n]
    pred_eps = _runs(pred_in)

    def pred_grade(s: int, e: int) -> str | None:
        for (ds, de), g in decided.items():
            if abs(ds - s) <= 1 and abs(de - e) <= 1:
                return g
        vals = [g for g in shown[s:e + 1] if g in STABLE]
        return max(set(vals), key=vals.count) if vals else None

    per_episode = []
    found = 0
    for s, e, grade in true_eps:
        best = None
        for ps, pe in pred_eps:
            ov = max(0, min(e, pe) - max(s, ps) + 1)
            if ov >= 0.5 * (e - s + 1) and (best is None or ov > best[2]):
                best = (ps, pe, ov)
        delay = None
        for i in range(s, e + 1):
            if pred_in[i] and shown[i] in STABLE:
                delay = (i - s) / fps
                break
        entry = {"true_start_s": round(s / fps, 3), "true_end_s": round(e / fps, 3), "true_grade": grade,
                 "found": best is not None, "decision_delay_s": None if delay is None else round(delay, 3)}
        if best is not None:
            found += 1
            g = pred_grade(best[0], best[1])
            entry.update({"pred_start_s": round(best[0] / fps, 3), "pred_end_s": round(best[1] / fps, 3),
                          "pred_grade": g, "grade_correct": g == grade})
        per_episode.append(entry)
    correct_pred = 0
    for ps, pe in pred_eps:
        if any(max(0, min(e, pe) - max(s, ps) + 1) >= 0.5 * (pe - ps + 1) for s, e, _ in true_eps):
            correct_pred += 1
    changes = sum(1 for i in range(1, n) if (pred_in[i], shown[i]) != (pred_in[i - 1], shown[i - 1]))
    # The truth changes too (each episode starts, shows its grade, ends): flicker is what is beyond that.
    true_shown = [(true_in[i], (tb[i] or ta[i]) if true_in[i] else None) for i in range(n)]
    # plus one "deciding..." step per episode, which no causal system can skip.
    true_changes = sum(1 for i in range(1, n) if true_shown[i] != true_shown[i - 1]) + len(true_eps)
    minutes = n / fps / 60
    delays = [p["decision_delay_s"] for p in per_episode if p["decision_delay_s"] is not None]
    graded = [p for p in per_episode if p["found"]]
    return {
        "frames_scored": n, "fps": fps,
        "frame_gate_accuracy": gate_acc,
        "frame_A_accuracy": float(np.mean([a == b for a, b in a_pairs])) if a_pairs else None,
        "frame_A_coverage": len(a_pairs) / max(1, sum(true_in)),
        "frame_B_accuracy": float(np.mean([a == b for a, b in b_pairs])) if b_pairs else None,
        "frame_B_coverage": len(b_pairs) / max(1, sum(1 for x in tb[:n] if x)),
        "episodes_true": len(true_eps), "episodes_predicted": len(pred_eps),
        "episode_recall": found / len(true_eps) if true_eps else None,
        "episode_precision": correct_pred / len(pred_eps) if pred_eps else None,
        "episode_grade_accuracy": float(np.mean([p["grade_correct"] for p in graded])) if graded else None,
        "decision_delay_s": {"median": float(np.median(delays)) if delays else None,
                             "max": float(np.max(delays)) if delays else None,
                             "undecided_episodes": len(per_episode) - len(delays)},
        "state_changes_per_min": changes / minutes if minutes > 0 else None,
        "truth_changes_per_min": true_changes / minutes if minutes > 0 else None,
        "flicker_changes_per_min": max(0, changes - true_changes) / minutes if minutes > 0 else None,
        "per_episode": per_episode,
    }


def parse_overrides(text: str | None) -> dict:
    """'grade_margin=0.15,grade_stable_s=0.8' -> {'grade_margin': 0.15, 'grade_stable_s': 0.8}."""
    from livescope.card import DEFAULT_THRESHOLDS

    out = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        key, _, value = part.partition("=")
        key = key.strip()
        if key not in DEFAULT_THRESHOLDS:
            raise LivescopeError(f"unknown threshold {key!r}", f"use names from {', '.join(DEFAULT_THRESHOLDS)}")
        try:
            out[key] = float(value)
        except ValueError:
            raise LivescopeError(f"threshold {key} needs a number, got {value!r}", "write it like grade_margin=0.15") from None
    return out


def summary_lines(s: dict) -> list[str]:
    """The score in words, each figure rounded, for a person reading the terminal."""
    def f(v, pct=False):
        if v is None:
            return "n/a"
        return f"{100 * v:.0f}%" if pct else f"{v:.2f}"

    d = s["decision_delay_s"]
    lines = [
        f"episodes: {s['episodes_true']} in the truth, {s['episodes_predicted']} found; recall {f(s['episode_recall'])}, "
        f"precision {f(s['episode_precision'])}",
        f"grade per episode: {f(s['episode_grade_accuracy'])} correct",
        f"decision delay (start of the view to a stable grade): median {f(d['median'])} s, max {f(d['max'])} s"
        + (f", {d['undecided_episodes']} episode(s) never decided" if d["undecided_episodes"] else ""),
        f"spurious state changes: {f(s['flicker_changes_per_min'])} a minute (beyond the truth's own "
        f"{f(s['truth_changes_per_min'])})",
        f"frames: gate accuracy {f(s['frame_gate_accuracy'])}; A accuracy {f(s['frame_A_accuracy'])} on "
        f"{f(s['frame_A_coverage'], True)} of the retroflexed frames (those shown as normal or hemorrhoid); "
        f"B accuracy {f(s['frame_B_accuracy'])} on {f(s['frame_B_coverage'], True)} of the graded frames "
        "(those shown with a stable grade)",
    ]
    return lines


def checks_summary_lines(s: dict) -> list[str]:
    """The summed check videos in words."""
    flicker = s["flicker_changes_per_min"]
    wrong = ", ".join(f"{m['true_grade']} called {m['pred_grade']} (video {m['video_seed']})" for m in s["misgraded"])
    return [
        f"check videos: {len(s['videos'])} (seeds {', '.join(str(v) for v in s['videos'])}), episodes "
        f"{s['check']['episodes']} each",
        f"episodes: {s['episodes_true']} in the truth, {s['episodes_found']} found, {s['episodes_predicted']} predicted; "
        f"recall {s['episode_recall']:.3f}, precision {s['episode_precision']:.3f}",
        f"grade per episode: {s['episodes_graded_right']} of {s['episodes_found']} correct "
        f"({s['episode_grade_accuracy'] if s['episode_grade_accuracy'] is None else round(s['episode_grade_accuracy'], 3)})"
        + (f"; wrong: {wrong}" if wrong else ""),
        "by grade: " + "; ".join(f"{g} {v['graded_right']}/{v['episodes']}" for g, v in s["by_grade"].items()),
        "decision delay: " + ("no episode decided" if s["decision_delay_s"]["median"] is None else
                              f"median {s['decision_delay_s']['median']:.2f} s, max {s['decision_delay_s']['max']:.2f} s"),
        f"spurious state changes: {flicker['mean']:.2f} a minute on average, at most {flicker['max']:.2f} "
        f"({flicker['videos_with_any']} of {len(s['videos'])} videos with any)",
    ]


def run_check_videos(args: argparse.Namespace) -> dict:
    """`livescope score --check-videos SEEDS`: the recipe's video check on several videos."""
    import shlex

    from livescope.card import model_card_markdown, read_card, resolve_bundle, utc_now, write_card
    from livescope.runs.video_check import parse_seeds, video_checks

    if args.run_dir or args.truth:
        raise LivescopeError("--check-videos makes and scores its own runs",
                             "give either a run folder and its truth, or --check-videos SEEDS")
    if args.resmooth or args.thresholds:
        raise LivescopeError("--resmooth and --thresholds re-score one recorded run",
                             "drop them from --check-videos, or give a run folder and its truth")
    seeds = parse_seeds(args.check_videos)
    bundle = resolve_bundle(args.model)
    card = read_card(bundle)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    result = video_checks(bundle, work, seeds, runs=work / bundle.resolve().name)
    result["command"] = ("livescope score --check-videos " + shlex.quote(args.check_videos)
                         + (f" --model {shlex.quote(args.model)}" if args.model else ""))
    result["date"] = utc_now()
    if args.card:
        card.setdefault("metrics", {})["phantom_videos"] = result
        write_card(card, bundle)
        if (bundle / "README.md").exists() and "--recipe default" in str(card.get("command", "")):
            (bundle / "README.md").write_text(model_card_markdown(card))
    return result


def run_score(args: argparse.Namespace) -> int:
    if args.check_videos:
        result = run_check_videos(args)
        if args.out:
            Path(args.out).write_text(json.dumps(result, indent=2))
        print(json.dumps(result, indent=2) if args.json else "\n".join(checks_summary_lines(result)))
        return 0
    if not (args.run_dir and args.truth):
        raise LivescopeError("score needs a run folder and the phantom's truth JSON",
                             "livescope score RUN_DIR TRUTH.json, or livescope score --check-videos 0-3")
    if args.card:
        raise LivescopeError("--card records the figures of --check-videos", "add --check-videos SEEDS, or drop --card")
    card = None
    overrides = parse_overrides(args.thresholds)
    if args.resmooth or overrides:
        from livescope.card import card_thresholds, read_card, resolve_bundle

        bundle = resolve_bundle(args.model)
        card = read_card(bundle)
    result = score_run(args.run_dir, args.truth, card, overrides)
    if card is not None:
        result["resmoothed"] = {"model": str(bundle), "thresholds": {**card_thresholds(card), **overrides}}
    text = json.dumps(result, indent=2)
    if args.out:
        Path(args.out).write_text(text)
    if args.json:
        print(text)
    else:
        print("\n".join(summary_lines(result)))
        if args.out:
            print(f"(all figures in {args.out}; --json prints them)")
    return 0
