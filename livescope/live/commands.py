"""`livescope run`: the live assistant from the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from livescope.errors import LivescopeError


def replay(source: str, bundle=None, out: str | Path | None = None, realtime: bool = False,
           cam: bool = True, analyze_every: int = 1, mask_osd: bool = True, record: bool = True,
           progress: bool = False, cascade=None, max_seconds: float | None = None, window: bool = False,
           fullscreen: bool = False, record_raw: bool = False, reconnect_s: float = 30.0,
           device_size=None, device_fps=None, device_format=None, on_progress=None, stop=None,
           ai_hz: float = 15.0):
    """Run the pipeline on SOURCE and write the outputs; returns (report dict, pipeline)."""
    from livescope.live.pipeline import Pipeline, RunOptions
    from livescope.live.report import write_reports
    from livescope.live.sources import StreamSource, open_source
    from livescope.models.cascade import Cascade

    # Open the source first: a wrong path fails at once, before the model loads.
    src = open_source(source, realtime=realtime, device_size=device_size, device_fps=device_fps,
                      device_format=device_format)
    try:
        cascade = cascade or Cascade(bundle)
    except BaseException:
        src.close()
        raise
    factory = None
    if isinstance(src, StreamSource):
        factory = lambda: StreamSource(source)  # noqa: E731
    out = Path(out) if out else None
    opt = RunOptions(out=out, window=window, fullscreen=fullscreen, cam=cam, analyze_every=analyze_every,
                     record=record, record_raw=record_raw, mask_osd=mask_osd, max_seconds=max_seconds,
                     reconnect_s=reconnect_s, progress=progress, ai_hz=ai_hz)
    pipe = Pipeline(cascade, src, opt, source_factory=factory, stop=stop, on_progress=on_progress)
    try:
        pipe.run()
    finally:
        src.close()
    report = None
    if out is not None:
        settings = {"realtime": realtime, "cam": cam, "analyze_every": analyze_every, "mask_osd": mask_osd,
                    "live": pipe.live}
        try:
            report = write_reports(out, pipe, Path(source).name if not isinstance(src, StreamSource) else source,
                                   settings)
        except OSError as exc:  # a full disk must not turn a finished run into a crash
            print(f"warning: reports not written: {exc}", file=sys.stderr)
            report = {"summary": {"frames": pipe.stats.frames_shown, "duration_s": 0.0, "wall_s": pipe.stats.wall_s},
                      "episodes": [], "error": str(exc)}
    return report, pipe


def run_live(args: argparse.Namespace) -> int:
    from livescope.live.sinks import window_available

    window = args.window
    if window is None:
        window = window_available() and not args.out
    elif window and not window_available():
        raise LivescopeError("no display for a window", "use --no-window with --out DIR, or run on the tower's screen")
    if not window and not args.out:
        raise LivescopeError("nothing would be shown or saved", "give --out DIR, or run with a display and --window")
    report, pipe = replay(args.source, args.model, args.out, realtime=args.realtime, cam=args.cam,
                          analyze_every=args.analyze_every, mask_osd=args.mask_osd, record=not args.no_record,
                          progress=True, max_seconds=args.max_seconds, window=window, fullscreen=args.fullscreen,
                          record_raw=args.record_raw, reconnect_s=args.reconnect, device_size=args.device_size,
                          device_fps=args.device_fps, device_format=args.device_format, ai_hz=args.ai_hz)
    st = pipe.stats
    if report is not None:
        s = report["summary"]
        print(f"analysed {s['frames']} frames ({s['duration_s']:.1f} s of video) in {s['wall_s']:.1f} s; "
              f"{len(report['episodes'])} episode(s): "
              + (", ".join(f"{e['start_s']:.1f}-{e['end_s']:.1f} s {e.get('grade')}" for e in report["episodes"]) or "none"))
        print(f"outputs in {args.out}: annotated.mp4, frames.jsonl, report.html (open it in a browser), report.json")
    if st.recording_error:
        print(f"warning: {st.recording_error}", file=sys.stderr)
    if st.decode_errors:
        print(f"warning: {st.decode_errors} corrupted packet(s) were skipped", file=sys.stderr)
    return 0
