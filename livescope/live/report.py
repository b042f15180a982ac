"""report.json, report.html, the timeline plot and the episodes' key frames with heatmaps.

Nothing here contains text read from the frames; key frames are masked outside the
endoscope area when --mask-osd is on (the default)."""

from __future__ import annotations

import html
import json
from pathlib import Path

import cv2
import numpy as np

from livescope import RESEARCH_NOTICE, __version__
from livescope.cam.overlay import blend
from livescope.live.episodes import EpisodeTracker


def _percentiles(values) -> dict | None:
    if not values:
        return None
    a = np.asarray(values, np.float64)
    return {"p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)),
            "p99": float(np.percentile(a, 99)), "max": float(a.max()), "n": int(a.size)}


def plot_timeline(timeline, episodes, path: Path, truth_episodes=None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 2.8), dpi=110)
    if timeline:
        t = np.array([r[0] for r in timeline])
        ax.plot(t, [r[1] for r in timeline], color="tab:green", lw=1.3, label="P(retroflex view), smoothed")
        ph = np.array([np.nan if r[2] is None else r[2] for r in timeline], np.float64)
        ph[np.array([r[3] for r in timeline]) == 0] = np.nan
        ax.plot(t, ph, color="tab:purple", lw=1.3, label="P(hemorrhoid), smoothed, in view")
    for ep in episodes:
        ax.axvspan(ep.start_s, ep.end_s, color="tab:orange", alpha=0.18)
        ax.text((ep.start_s + ep.end_s) / 2, 1.02, ep.decision.get("grade", "?"), ha="center", va="bottom", fontsize=8)
    for te in truth_episodes or []:
        ax.axvspan(te["start_s"], te["end_s"], ymin=0, ymax=0.04, color="black", alpha=0.6)
    ax.set_ylim(0, 1.12)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("probability")
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("livescope timeline (episodes shaded) - research use only", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_reports(out: Path, pipeline, source_name: str, settings: dict) -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    kdir = out / "keyframes"
    kdir.mkdir(exist_ok=True)
    st = pipeline.stats
    card = pipeline.cascade.card
    episodes = []
    for ep in pipeline.episodes.episodes:
        e = EpisodeTracker.summary(ep)
        if ep.key_frame is not None:
            kf = f"keyframes/episode_{ep.number}.png"
            cv2.imwrite(str(out / kf), cv2.cvtColor(ep.key_frame, cv2.COLOR_RGB2BGR))
            e["key_frame"] = kf
            if ep.key_cam is not None and getattr(ep, "key_box", None) is not None:
                x, y, w, h = ep.key_box
                over = ep.key_frame.copy()
                over[y:y + h, x:x + w] = blend(over[y:y + h, x:x + w], ep.key_cam, alpha=0.5)
                hf = f"keyframes/episode_{ep.number}_heatmap.png"
                cv2.imwrite(str(out / hf), cv2.cvtColor(over, cv2.COLOR_RGB2BGR))
                e["key_frame_heatmap"] = hf
        episodes.append(e)
    plot_timeline(pipeline.timeline, pipeline.episodes.episodes, out / "timeline.png")
    duration = pipeline.timeline[-1][0] if pipeline.timeline else 0.0
    report = {
        "livescope_version": __version__, "notice": RESEARCH_NOTICE, "source": source_name,
        "model": {"name": pipeline.cascade.name, "bundle": str(pipeline.cascade.path),
                  "backbone": card.get("backbone", {}).get("name"), "input_size": card["input_size"],
                  "tasks": {k: v["labels"] for k, v in card["tasks"].items()},
                  "thresholds": pipeline.cascade.thresholds,
                  "intended_use": card.get("intended_use", RESEARCH_NOTICE),
                  "synthetic_data_notice": card.get("synthetic_data_notice")},
        "settings": settings,
        "summary": {"frames": st.frames_shown, "frames_analysed": st.frames_analysed, "duration_s": round(duration, 3),
                    "wall_s": round(st.wall_s, 3), "fps_source": pipeline.fps,
                    "processing_fps": round(st.frames_shown / st.wall_s, 2) if st.wall_s else None,
                    "decode_errors": st.decode_errors, "dropped_input": st.dropped_input,
                    "dropped_display": st.dropped_display, "no_signal_frames": st.no_signal_frames,
                    "reconnects": st.reconnects, "recording_error": st.recording_error,
                    "shown_state_changes": pipeline.smoother.shown_changes,
                    "display_latency_ms": _percentiles(st.display_latency_ms),
                    "ai_age_ms": _percentiles(st.ai_age_ms)},
        "episodes": episodes,
        "outputs": {"annotated_video": "annotated.mp4" if (out / "annotated.mp4").exists() else None,
                    "frames": "frames.jsonl", "timeline": "timeline.png", "html": "report.html"},
    }
    (out / "report.json").write_text(json.dumps(report, indent=2))
    (out / "report.html").write_text(_html(report))
    return report


def _html(r: dict) -> str:
    e = html.escape
    rows = []
    for ep in r["episodes"]:
        img = f'<img src="{e(ep["key_frame"])}" width="240">' if ep.get("key_frame") else ""
        hm = f'<img src="{e(ep["key_frame_heatmap"])}" width="240">' if ep.get("key_frame_heatmap") else ""
        rows.append(f"<tr><td>{ep['episode']}</td><td>{ep['start_s']:.1f}-{ep['end_s']:.1f}</td>"
                    f"<td><b>{e(str(ep.get('grade')))}</b></td><td>{ep.get('confidence')}</td>"
                    f"<td>{ep.get('first_stable_grade_s')}</td><td>{img}</td><td>{hm}</td></tr>")
    s = r["summary"]
    m = r["model"]
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>livescope report</title>
<style>body{{font-family:sans-serif;margin:24px;max-width:1100px}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;vertical-align:top}} .notice{{background:#fff3cd;padding:8px;border:1px solid #e0c36c}}</style>
</head><body>
<p class="notice"><b>{e(r['notice'])}</b> {e(m.get('intended_use') or '')}</p>
<h1>livescope report</h1>
<p>Source: {e(r['source'])} &middot; {s['frames']} frames ({s['duration_s']:.1f} s), {s['frames_analysed']} analysed,
decode errors {s['decode_errors']}, dropped {s['dropped_input']} (input) / {s['dropped_display']} (display),
shown-state changes {s['shown_state_changes']}.</p>
<h2>Timeline</h2><img src="timeline.png" width="100%">
<h2>Episodes (retroflexed dentate-line views)</h2>
<table><tr><th>#</th><th>time (s)</th><th>grade</th><th>confidence</th><th>stable grade at (s)</th><th>key frame</th><th>Grad-CAM</th></tr>
{''.join(rows) or '<tr><td colspan=7>no episode</td></tr>'}</table>
<h2>Model</h2><p>{e(m['name'])}: backbone {e(str(m['backbone']))} at {m['input_size']} px; tasks
{e(json.dumps(m['tasks']))}; thresholds {e(json.dumps(m['thresholds']))}.</p>
<p>{e(m.get('synthetic_data_notice') or '')}</p>
<p><small>livescope {e(r['livescope_version'])}. Files: annotated.mp4, frames.jsonl, report.json.</small></p>
</body></html>
"""
