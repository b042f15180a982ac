"""CLI glue for `livescope run`, `score` and `explain`. Paths and settings are checked before
TensorFlow loads, so a wrong path costs a second, not ten."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from livescope.errors import LivescopeError


def _check_bundle(model: str | None) -> None:
    from livescope.card import read_card, resolve_bundle

    read_card(resolve_bundle(model))


def run_live(args: argparse.Namespace) -> int:
    from livescope.live.sinks import window_available
    from livescope.live.sources import open_source

    window = args.window
    if window is None:
        window = window_available() and not args.out
    elif window and not window_available():
        raise LivescopeError("no display for a window", "use --no-window with --out DIR, or run on the tower's screen")
    if not window and not args.out:
        raise LivescopeError("nothing would be shown or saved", "give --out DIR, or run with a display and --window")
    _check_bundle(args.model)
    if not args.source.isdigit() and "://" not in args.source and not args.source.startswith("/dev/video"):
        open_source(args.source).close()  # a missing or unreadable file fails here, before TensorFlow loads
    from livescope.runs.session import run_source

    report, pipe = run_source(args.source, args.model, args.out, realtime=args.realtime, cam=args.cam_mode != "off",
                              cam_mode=args.cam_mode, analyze_every=args.analyze_every, mask_osd=args.mask_osd,
                              record=not args.no_record, progress=True, max_seconds=args.max_seconds, window=window,
                              fullscreen=args.fullscreen, record_raw=args.record_raw, reconnect_s=args.reconnect,
                              device_size=args.device_size, device_fps=args.device_fps,
                              device_format=args.device_format, ai_hz=args.ai_hz, engine=args.engine, pdf=args.pdf)
    st = pipe.stats
    if report is not None:
        s, v = report["summary"], report.get("verdict", {})
        print(f"analysed {s['frames']} frames ({s['duration_s']:.1f} s of video) in {s['wall_s']:.1f} s; "
              f"{len(report['episodes'])} episode(s): "
              + (", ".join(f"{e['start_s']:.1f}-{e['end_s']:.1f} s {e.get('grade')}" for e in report["episodes"]) or "none")
              + (f"; highest grade {v['highest_grade']}" if v.get("highest_grade") else ""))
        outs = ["annotated.mp4" if not args.no_record else None, "report.html (open it in a browser)",
                "report.pdf" if args.pdf else None, "report.json", "frames.jsonl", "timeline.png",
                "keyframes/" if report["episodes"] else None]
        print(f"outputs in {args.out}: " + ", ".join(o for o in outs if o))
    if st.recording_error:
        print(f"warning: {st.recording_error}", file=sys.stderr)
    if st.decode_errors:
        print(f"warning: {st.decode_errors} corrupted packet(s) were skipped", file=sys.stderr)
    return 0


def run_explain(args: argparse.Namespace) -> int:
    import cv2

    from livescope.data.images import read_image_or_exit

    rgb = read_image_or_exit(args.image)  # a wrong image fails before the model loads
    out = Path(args.out)
    if out.suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise LivescopeError(f"{out} does not end in .png or .jpg", "name the output like explain.png")
    _check_bundle(args.model)
    from livescope.models.cascade import Cascade
    from livescope.runs.explain import explain_image

    cascade = Cascade(args.model, engine=args.engine)
    if args.task is not None and args.task not in cascade.tasks:
        raise LivescopeError(f"the model has no head for task {args.task}", f"its heads are {', '.join(cascade.tasks)}")
    img, _a, caption = explain_image(rgb, cascade, args.task, mask_osd=args.mask_osd, cam_mode=args.cam_mode)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), cv2.cvtColor(img, cv2.COLOR_RGB2BGR)):
        raise LivescopeError(f"cannot write {out}", "give an output path ending in .png in a writable folder")
    print(f"{caption}\nwrote {out}")
    return 0
