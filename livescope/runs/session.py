"""Run the live assistant on one source with its outputs: the annotated recording, frames.jsonl,
the raw recording, a window, and afterwards the report. `livescope run`, the demo's recorded
procedure tab, the recipe's video check and the archive's workers all come through here."""

from __future__ import annotations

import sys
from pathlib import Path

from livescope.live.sinks import JsonlSink, RecordingSink, WindowSink


class TimelineSink:
    """The smoothed P(retroflex) and P(hemorrhoid) of every shown frame, for the report's plot."""

    def __init__(self, labels: dict, positive: dict):
        self.rows: list[tuple[float, float, float | None, int]] = []  # pts, p_gate, p_hem, in
        self.a_index = labels["A"].index(positive["A"]) if "A" in labels else None

    def write(self, frame, scene, analysis) -> None:
        state = analysis.state if analysis is not None else None
        if state is None or frame.index < 0:
            return
        p_hem = float(state.p_a[self.a_index]) if state.p_a is not None and self.a_index is not None else None
        self.rows.append((frame.pts, state.p_gate, p_hem, int(state.gate_in)))

    def close(self) -> None:
        pass


def run_source(source: str, bundle=None, out: str | Path | None = None, realtime: bool = False,
               cam: bool = True, cam_mode: str = "findings", analyze_every: int = 1, mask_osd: bool = True,
               record: bool = True, progress: bool = False, cascade=None, max_seconds: float | None = None,
               window: bool = False, fullscreen: bool = False, record_raw: bool = False, reconnect_s: float = 30.0,
               device_size=None, device_fps=None, device_format=None, on_progress=None, stop=None,
               ai_hz: float = 0.0, engine: str = "auto", reports: bool = True, pdf: bool = False,
               source_name: str | None = None):
    """Open SOURCE (a file, folder, device or stream), run the pipeline and write the outputs;
    returns (report dict or None, pipeline). `source_name`: what the report calls the source
    (default its file name; the archive gives a procedure id, as file names carry patient names)."""
    from livescope.live.frame_step import FrameStep
    from livescope.live.pipeline import Pipeline, RunOptions
    from livescope.live.sources import StreamSource, open_source

    # Open the source first: a wrong path fails at once, before the model loads.
    src = open_source(source, realtime=realtime, device_size=device_size, device_fps=device_fps,
                      device_format=device_format)
    try:
        if cascade is None:
            from livescope.models.cascade import Cascade

            cascade = Cascade(bundle, engine=engine)
    except BaseException:
        src.close()
        raise
    factory = (lambda: StreamSource(source)) if isinstance(src, StreamSource) else None  # noqa: E731
    out = Path(out) if out else None
    live = src.live
    step = FrameStep(cascade, cam=cam, mask_osd=mask_osd)
    timeline = TimelineSink(step.labels, step.positive)
    sinks: list = [timeline]
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        sinks.append(JsonlSink(out / "frames.jsonl"))
        if record:
            sinks.append(RecordingSink(out / "annotated.mp4", src.fps or 30.0, live=live))
        if record_raw:
            sinks.append(RecordingSink(out / "raw.mp4", src.fps or 30.0, live=live, raw=True, mask_osd=mask_osd))
    opt = RunOptions(cam=cam, cam_mode=cam_mode, analyze_every=analyze_every, mask_osd=mask_osd,
                     max_seconds=max_seconds, reconnect_s=reconnect_s, progress=progress, ai_hz=ai_hz, out=out)
    pipe = Pipeline(step, src, opt, sinks=sinks, source_factory=factory, stop=stop, on_progress=on_progress)
    if window:
        pipe.display = WindowSink(fullscreen=fullscreen, on_key=pipe.on_key)
    try:
        pipe.run()
    finally:
        src.close()
    pipe.timeline = timeline.rows
    if pipe.stats.ended_early:
        print(f"warning: {pipe.stats.ended_early}", file=sys.stderr)
    report = None
    if out is not None and reports:
        from livescope.runs.report import write_reports

        settings = {"realtime": realtime, "cam": cam, "cam_mode": cam_mode, "analyze_every": analyze_every,
                    "mask_osd": mask_osd, "live": pipe.live, "engine": cascade.engine}
        name = source_name or (source if isinstance(src, StreamSource) else Path(source).name)
        try:
            report = write_reports(out, pipe, name, settings, pdf=pdf)
        except OSError as exc:  # a full disk must not turn a finished run into a crash
            print(f"warning: reports not written: {exc}", file=sys.stderr)
            report = {"summary": {"frames": pipe.stats.frames_shown, "duration_s": 0.0, "wall_s": pipe.stats.wall_s},
                      "episodes": [], "error": str(exc)}
    return report, pipe
