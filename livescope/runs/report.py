"""report.json, report.html (and report.pdf), the timeline plot and the episodes' key frames.

Nothing here contains text read from the frames; key frames are cropped to the endoscope image
and, with --mask-osd (the default), blanked outside its outline."""

from __future__ import annotations

import html
import json
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np

from livescope import RESEARCH_NOTICE, __version__
from livescope.cam.heatmap import blend
from livescope.card import backbone_summary, ensemble_members, json_default
from livescope.live.decision import LDRF
from livescope.live.episodes import EpisodeTracker

GRADE_ORDER = ["normal", "hemorrhoid", "Rf0", "Rf1", "Rf2"]  # the highest grade seen is the last of these
PAPER_REF = ("Lu J. et al., Deep learning in endoscopic diagnosis and risk grading of internal hemorrhoids, "
             "China Journal of Endoscopy 29(2), 2023; LDRf after the Chinese guideline for endoscopic treatment "
             "of internal hemorrhoids (2021).")


def percentiles(values) -> dict | None:
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


def verdict(episodes: list[dict], frames: int, frames_analysed: int) -> dict:
    """The procedure in one block: episodes found, the highest grade seen with its probability,
    the time in retroflexion."""
    graded = [e for e in episodes if e.get("grade") in GRADE_ORDER]
    top = max(graded, key=lambda e: (GRADE_ORDER.index(e["grade"]), e.get("confidence") or 0), default=None)
    return {"episodes": len(episodes), "highest_grade": top["grade"] if top else None,
            "highest_grade_probability": top.get("confidence") if top else None,
            "highest_grade_episode": top["episode"] if top else None,
            "time_in_retroflexion_s": round(sum(e["duration_s"] for e in episodes), 2),
            "frames": frames, "frames_analysed": frames_analysed}


def _key_frames(out: Path, ep, e: dict) -> None:
    if ep.key_frame is None:
        return
    kf = f"keyframes/episode_{ep.number}.png"
    cv2.imwrite(str(out / kf), cv2.cvtColor(ep.key_frame, cv2.COLOR_RGB2BGR))
    e["key_frame"] = kf
    if ep.key_cam is not None:
        over = blend(ep.key_frame, ep.key_cam, clip=ep.key_clip)
        hf = f"keyframes/episode_{ep.number}_heatmap.png"
        cv2.imwrite(str(out / hf), cv2.cvtColor(over, cv2.COLOR_RGB2BGR))
        e["key_frame_heatmap"] = hf


def write_reports(out: Path, pipeline, source_name: str, settings: dict, pdf: bool = False) -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "keyframes").mkdir(exist_ok=True)
    st = pipeline.stats
    cascade = pipeline.cascade
    card = cascade.card
    episodes = []
    for ep in pipeline.episodes.episodes:
        e = EpisodeTracker.summary(ep)
        _key_frames(out, ep, e)
        episodes.append(e)
    timeline = getattr(pipeline, "timeline", [])
    plot_timeline(timeline, pipeline.episodes.episodes, out / "timeline.png")
    duration = timeline[-1][0] if timeline else 0.0
    report = {
        "livescope_version": __version__, "notice": RESEARCH_NOTICE, "source": source_name,
        "model": {"name": cascade.name, "bundle": str(cascade.path),
                  "backbone": card.get("backbone", {}).get("name"), "members": ensemble_members(card),
                  "input_size": card["input_size"],
                  "tasks": {k: v["labels"] for k, v in card["tasks"].items()},
                  "thresholds": cascade.thresholds, "engine": cascade.engine,
                  "intended_use": card.get("intended_use", RESEARCH_NOTICE),
                  "synthetic_data_notice": card.get("synthetic_data_notice")},
        "settings": settings,
        "verdict": verdict(episodes, st.frames_shown, st.frames_analysed),
        "summary": {"frames": st.frames_shown, "frames_analysed": st.frames_analysed, "duration_s": round(duration, 3),
                    "wall_s": round(st.wall_s, 3), "fps_source": pipeline.fps,
                    "processing_fps": round(st.frames_shown / st.wall_s, 2) if st.wall_s else None,
                    "decode_errors": st.decode_errors, "dropped_input": st.dropped_input,
                    "dropped_display": st.dropped_display, "no_signal_frames": st.no_signal_frames,
                    "reconnects": st.reconnects, "recording_error": st.recording_error,
                    "recording_dropped": st.recording_dropped, "ended_early": st.ended_early,
                    "shown_state_changes": pipeline.smoother.shown_changes, "display_priority": st.priority,
                    "display_latency_ms": percentiles(st.display_latency_ms),
                    "ai_age_ms": percentiles(st.ai_age_ms)},
        "episodes": episodes,
        "outputs": {"annotated_video": "annotated.mp4" if (out / "annotated.mp4").exists() else None,
                    "frames": "frames.jsonl", "timeline": "timeline.png", "html": "report.html"},
    }
    (out / "report.json").write_text(json.dumps(report, indent=2, default=json_default))
    (out / "report.html").write_text(report_html(report, card))
    if pdf:
        report["outputs"]["pdf"] = str(write_pdf(out / "report.html", out / "report.pdf").name)
    return report


# --- the page ------------------------------------------------------------------------------

CSS = """body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#222}
h1{margin:.2em 0} h2{margin-top:1.4em;border-bottom:1px solid #ddd;padding-bottom:4px}
.notice{background:#fff3cd;padding:8px 12px;border:1px solid #e0c36c;border-radius:4px}
.warn{background:#fde2e1;padding:8px 12px;border:1px solid #e59a96;border-radius:4px}
.verdict{display:flex;gap:14px;flex-wrap:wrap;margin:12px 0}
.fig{background:#f5f7fa;border:1px solid #dde3ea;border-radius:6px;padding:10px 14px;min-width:150px}
.fig b{display:block;font-size:1.5em} .fig span{color:#555;font-size:.9em}
.card{border:1px solid #ccd;border-radius:6px;padding:12px;margin:12px 0;display:flex;gap:16px;flex-wrap:wrap}
.card .info{min-width:280px;flex:1} .card img{width:300px;border-radius:4px;background:#000}
.grade{font-size:1.3em;font-weight:bold} .Rf0{color:#a08000} .Rf1{color:#d06000} .Rf2{color:#c01020}
.normal{color:#208040} table{border-collapse:collapse} td,th{border:1px solid #ccc;padding:4px 8px;
vertical-align:top;text-align:left} video{width:100%;max-height:520px;background:#000}
a.seek{font-weight:bold} small{color:#666} figure{margin:0} code{background:#f0f0f0;padding:0 3px}"""


def _prose(text) -> str:
    """Card text for the page: escaped, and `commands` as code, never as literal back-ticks."""
    import re

    return re.sub(r"`([^`]*)`", r"<code>\1</code>", html.escape(str(text)))


def _fmt_probs(d: dict | None) -> str:
    if not d:
        return ""
    return ", ".join(f"P({html.escape(k)}) {100 * v:.0f}%" for k, v in d.items())


def _episode_card(e: dict) -> str:
    esc = html.escape
    grade = str(e.get("grade"))
    start, end = e["start_s"], e["end_s"]
    probs = [p for p in (_fmt_probs(e.get("p_A")), _fmt_probs(e.get("p_B"))) if p]
    stable = e.get("first_stable_grade_s")
    imgs = ""
    if e.get("key_frame"):
        imgs += f'<figure><img src="{esc(e["key_frame"])}" alt="key frame"><figcaption><small>key frame at ' \
                f'{e.get("key_frame_s", 0):.1f} s</small></figcaption></figure>'
    if e.get("key_frame_heatmap"):
        what = {"B": "the LDRf grade", "A": "normal vs hemorrhoid", "gate": "the retroflex view"}.get(
            e.get("key_frame_heatmap_task"), "the decision")
        imgs += f'<figure><img src="{esc(e["key_frame_heatmap"])}" alt="Grad-CAM heatmap"><figcaption><small>' \
                f'Grad-CAM: where the model sees {esc(what)} (yellow: strongest)</small></figcaption></figure>'
    label = {"normal": "normal (no hemorrhoid)", "hemorrhoid": "hemorrhoid, grade uncertain"}.get(grade, grade)
    if grade in LDRF:
        label = f"internal hemorrhoid, LDRf {grade}"
    return f"""<div class="card"><div class="info">
<div>Episode {e['episode']} &middot; <a class="seek" href="#t={start:.2f}" data-t="{start:.2f}"
 onclick="seek({start:.2f});return false;">{start:.1f}&ndash;{end:.1f} s</a> ({e['duration_s']:.1f} s,
 {e['analysed_frames']} frames analysed)</div>
<div class="grade {esc(grade)}">{esc(label)}</div>
<div>{'<br>'.join(probs) or 'no hemorrhoid probabilities (undetermined)'}</div>
<div><small>{'stable grade shown from ' + f'{stable:.1f} s' if stable is not None else 'no stable grade was shown'}</small></div>
</div>{imgs}</div>"""


def card_table(card: dict) -> str:
    esc = html.escape
    bb = card.get("backbone", {})
    rows = [("model", card.get("name") or bb.get("name")),
            ("backbone", f"{backbone_summary(card)} at {card['input_size']}x{card['input_size']} px, weights: "
                         f"{bb.get('weights')}"),
            ("tasks", "; ".join(f"{t}: {', '.join(v['labels'])}" for t, v in card["tasks"].items())),
            ("intended use", card.get("intended_use") or RESEARCH_NOTICE),
            ("training data", card.get("synthetic_data_notice") or "see the bundle's card.json"),
            ("retrain with", card.get("command")),
            ("thresholds", ", ".join(f"{k} {v}" for k, v in card.get("thresholds", {}).items()))]
    real = card.get("metrics", {}).get("sim_to_real")
    if real:
        rows.append(("real frames, no real training image", real.get("summary")))
    return "<table>" + "".join(f"<tr><th>{esc(k)}</th><td>{_prose(v)}</td></tr>" for k, v in rows if v) + "</table>"


def report_html(r: dict, card: dict) -> str:
    esc = html.escape
    s, v, m = r["summary"], r["verdict"], r["model"]
    top = v["highest_grade"]
    top_text = "none" if top is None else (f"{top} ({100 * v['highest_grade_probability']:.0f}%)"
                                           if v.get("highest_grade_probability") is not None else top)
    warnings = [w for w in (s.get("ended_early"), s.get("recording_error")) if w]
    video = r["outputs"].get("annotated_video")
    ldrf = "".join(f"<tr><td><b>{k}</b></td><td>{esc(d)}</td></tr>" for k, d in LDRF.items())
    cards = "".join(_episode_card(e) for e in r["episodes"]) or "<p>No retroflexed view of the dentate line was found.</p>"
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>livescope procedure report</title>
<style>{CSS}</style></head><body>
<p class="notice"><b>{esc(r['notice'])}</b> {_prose(m.get('intended_use') or '')}</p>
{''.join(f'<p class="warn">{esc(w)}</p>' for w in warnings)}
<h1>Procedure report</h1>
<p><small>Source: {esc(r['source'])} &middot; livescope {esc(r['livescope_version'])} &middot; model {esc(m['name'])}</small></p>
<div class="verdict">
<div class="fig"><b>{v['episodes']}</b><span>retroflexion episode(s)</span></div>
<div class="fig"><b>{esc(top_text)}</b><span>highest LDRf grade seen</span></div>
<div class="fig"><b>{v['time_in_retroflexion_s']:.1f} s</b><span>time in retroflexion</span></div>
<div class="fig"><b>{v['frames_analysed']}</b><span>frames analysed (of {v['frames']}, {s['duration_s']:.1f} s)</span></div>
</div>
{f'<video id="procedure" controls preload="metadata" src="{esc(video)}"></video>' if video else ''}
<h2>Episodes</h2>{cards}
<h2>Timeline</h2><img src="timeline.png" style="width:100%" alt="timeline">
<h2>LDRf bleeding-risk factors</h2>
<table><tr><th>grade</th><th>what the endoscopist sees</th></tr>{ldrf}</table>
<p><small>{esc(PAPER_REF)}</small></p>
<h2>Model</h2>{card_table(card)}
<p><small>Run: {s['frames']} frames in {s['wall_s']:.1f} s; decode errors {s['decode_errors']}; dropped frames
{s['dropped_input']} (analysis) / {s['dropped_display']} (display). Files: annotated.mp4, frames.jsonl, report.json.</small></p>
<script>
function seek(t){{var v=document.getElementById('procedure'); if(!v) return;
  var go=function(){{v.currentTime=t; v.play().catch(function(){{}});}};
  if(v.readyState>=1) go(); else v.addEventListener('loadedmetadata', go, {{once:true}});
  v.scrollIntoView({{behavior:'smooth'}});}}
if(location.hash.startsWith('#t=')) seek(parseFloat(location.hash.slice(3)));
</script>
</body></html>
"""


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome", "msedge"):
        found = shutil.which(name)
        if found:
            return found
    return None


def write_pdf(html_path: Path, pdf_path: Path) -> Path:
    """The same page as a PDF for the procedure record, printed by headless Chromium."""
    from livescope.errors import LivescopeError

    chromium = find_chromium()
    if chromium is None:
        raise LivescopeError("a PDF needs Chromium or Chrome, and none was found",
                             "install chromium (Debian: apt-get install chromium), or open report.html and print it")
    args = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-pdf-header-footer",
            f"--print-to-pdf={pdf_path.resolve()}", html_path.resolve().as_uri()]
    r = subprocess.run(args, capture_output=True, text=True, timeout=120)
    if r.returncode != 0 or not pdf_path.exists():
        raise LivescopeError(f"Chromium could not print {html_path.name} ({r.stderr.strip().splitlines()[-1:] or r.returncode})",
                             "open report.html in a browser and print it")
    return pdf_path
