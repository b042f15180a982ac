"""`livescope bench`: latency percentiles and throughput of the real pipeline, the naive
baseline measured in the same run, and the paper backbones' reading times.

The display latency runs from the moment a frame is read from the source (before decoding)
to the moment the display sink has shown it; the display here is a stand-in that does what a
window does with a frame (copies it into a presentation buffer). Frames the display never
showed are in the figure: their latency runs until a newer frame took their place.
Benchmarks print figures; tests never assert timings."""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from livescope.runs.report import percentiles

# The paper's reading times for the task A validation set (229 images) on a Mac mini M1.
PAPER_A_SECONDS = {"xception": 3.2, "resnet50v2": 2.7, "efficientnetv2s": 3.5, "vit_s16": 9.5, "convmixer_768_32": 8.1}


class ResourceMonitor:
    """Samples the RSS of this process and its children (the encoder processes) and the CPU,
    twice a second on a thread."""

    def __init__(self, exclude: set[int] | None = None):
        import psutil

        self.proc = psutil.Process()
        self.exclude = exclude or set()  # the stress processes are not ours to count
        self.samples: list[tuple[float, float]] = []  # (seconds, rss MB of all processes)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _rss(self) -> float:
        import psutil

        total = self.proc.memory_info().rss
        for child in self.proc.children(recursive=True):
            if child.pid in self.exclude:
                continue
            try:
                total += child.memory_info().rss
            except psutil.Error:
                pass
        return total / 2**20

    def __enter__(self):
        self.t0 = time.monotonic()
        self.cpu0 = self.proc.cpu_times()
        self.thread.start()
        return self

    def _run(self):
        while not self.stop.wait(0.5):
            self.samples.append((time.monotonic() - self.t0, self._rss()))

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        self.wall = time.monotonic() - self.t0
        cpu1 = self.proc.cpu_times()
        self.cpu_s = (cpu1.user - self.cpu0.user) + (cpu1.system - self.cpu0.system)

    def summary(self) -> dict:
        rss = [s[1] for s in self.samples]
        growth = None
        if len(rss) >= 10:
            base = float(np.median(rss[len(rss) // 5: len(rss) // 5 + 5]))  # after warm-up
            growth = (float(np.median(rss[-5:])) - base) / base * 100
        return {"peak_rss_mb": round(max(rss), 1) if rss else None, "rss_scope": "this process and its children",
                "rss_growth_pct": None if growth is None else round(growth, 2),
                "cpu_percent": round(self.cpu_s / max(self.wall, 1e-9) * 100, 1), "cpu_cores": os.cpu_count()}


def _hog(stop_at: float) -> None:
    while time.time() < stop_at:
        sum(i * i for i in range(10000))


class Stress:
    """N CPU-hog processes for a bounded time (a second program, a virus scan on the tower)."""

    def __init__(self, n: int, seconds: float):
        self.n, self.seconds = n, seconds
        self.procs: list = []

    def __enter__(self):
        ctx = mp.get_context("spawn")
        stop_at = time.time() + self.seconds + 30  # bounded even if nobody stops them
        self.procs = [ctx.Process(target=_hog, args=(stop_at,), daemon=True) for _ in range(self.n)]
        for p in self.procs:
            p.start()
        return self

    @property
    def pids(self) -> set[int]:
        return {p.pid for p in self.procs}

    def __exit__(self, *exc):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.join(5)


def synthetic_source(seconds: float) -> Path:
    from livescope.card import repo_root
    from livescope.phantom.video import synth_video

    folder = repo_root() / "runs" / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    # Encoded as a live stream (no B-frames): a capture card's frames wait for no later frame.
    path = folder / f"phantom_1080p30_{int(seconds)}s_lowdelay.mp4"
    if not path.exists():
        print(f"generating a {seconds:.0f} s 1920x1080 30 fps phantom video for the benchmark: {path}")
        synth_video(path, seconds=max(seconds, 12), fps=30, size="1920x1080", seed=42, progress=False,
                    low_delay=True)
    return path


def bench_source(seconds: float) -> Path:
    """Live runs longer than a minute loop a 60 s phantom video."""
    return synthetic_source(min(seconds, 60))


class LoopingFileSource:
    """A file played as a live feed, over and over (long runs from a short phantom video); each
    frame is read from the file at its own time and stamped before it is decoded."""

    live = True

    def __init__(self, path: Path):
        from livescope.live.sources import FileSource

        probe = FileSource(path)
        self.path, self.fps, self.name, self.total = path, probe.fps, str(path), None
        probe.close()
        self.stats = {"decode_errors": 0, "frames": 0}
        self.decode_ms: list[float] = []

    def frames(self):
        from livescope.live.sources import FileSource, Frame

        offset, t0 = 0, time.monotonic()
        while True:
            src = FileSource(self.path, realtime=True)
            src.decode_ms = self.decode_ms
            src_t0 = t0 + offset / self.fps
            for f in src.frames():  # paced from its own start: shift it to the loop's clock
                idx = offset + f.index
                yield Frame(idx, max(f.arrival, src_t0 + f.index / self.fps), idx / self.fps, f.image)
                self.stats["frames"] = idx + 1
            offset += src.stats["frames"]
            src.close()

    def close(self) -> None:
        pass


def bench_pipeline(source: Path, cascade, seconds: float, mode: str, ai_hz: float = 0.0, record: bool = True,
                   stress: int = 0) -> dict:
    from livescope.live.frame_step import FrameStep
    from livescope.live.pipeline import Pipeline, RunOptions
    from livescope.live.sinks import DisplaySink, JsonlSink, RecordingSink
    from livescope.live.sources import FileSource

    out = Path(tempfile.mkdtemp(prefix="livescope-bench-"))
    src = LoopingFileSource(source) if mode == "live" else FileSource(source)
    live = mode == "live"
    sinks = [JsonlSink(out / "frames.jsonl")]
    if record:
        sinks.append(RecordingSink(out / "annotated.mp4", src.fps, live=live))
    opt = RunOptions(cam=True, max_seconds=seconds, progress=False, live=live, mask_osd=True, ai_hz=ai_hz)
    pipe = Pipeline(FrameStep(cascade), src, opt, sinks=sinks, display=DisplaySink() if live else None)
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    with Stress(stress, seconds + 15) as hog, ResourceMonitor(exclude=hog.pids) as mon:
        pipe.run()
    src.close()
    st = pipe.stats
    wall = st.wall_s
    timings = {**st.timings, **{k: v for k, v in pipe.step.timings.items() if v}}
    res = {
        "mode": mode, "source": str(source), "model": cascade.name, "engine": cascade.engine, "seconds": round(wall, 2),
        "stress": stress, "record": record, "display_priority": st.priority,
        "load_average": {"before": load_before, "after": os.getloadavg() if hasattr(os, "getloadavg") else None},
        "frames_in": st.frames_in, "frames_out": st.frames_shown, "frames_analysed": st.frames_analysed,
        "video_fps": round(st.frames_shown / wall, 2) if wall else None,
        "ai_hz": round(st.frames_analysed / wall, 2) if wall else None,
        "dropped_input": st.dropped_input, "dropped_display": st.dropped_display,
        "recording_dropped": st.recording_dropped,
        "display_latency_ms": percentiles(st.display_latency_ms),
        "display_latency_note": "from the read of each frame (before decoding) to the display's copy; frames the "
                                "display never showed count until a newer frame replaced them",
        "ai_age_ms": percentiles(st.ai_age_ms),
        "max_frame_gap_ms": round(max(st.frame_gaps_ms), 1) if st.frame_gaps_ms else None,
        # Where the longest gap was, and how many gaps a viewer could see (over 50 ms: 1.5 frame periods).
        "max_frame_gap_after_frame": int(np.argmax(st.frame_gaps_ms)) + 1 if st.frame_gaps_ms else None,
        "frame_gaps_over_50ms": sum(g > 50 for g in st.frame_gaps_ms),
        "stages_ms": {k: percentiles(v) for k, v in timings.items()},
        "recording_error": st.recording_error,
        **mon.summary(),
    }
    if mode == "replay":
        res["replay_fps"] = res["video_fps"]
    return res


def bench_naive(source: Path, bundle_path, seconds: float) -> dict:
    """The straightforward loop from the keras.io tutorials: read a frame, model.predict,
    Grad-CAM with a tape through the whole model, draw with OpenCV, write with VideoWriter."""
    import cv2

    from livescope.cam.gradcam import GradCam, full_tape_gradients
    from livescope.models.bundle import load_bundle
    from livescope.tfenv import tf

    t = tf()
    model, card = load_bundle(bundle_path)
    size = card["input_size"]
    task = "B" if "B" in card["tasks"] else list(card["tasks"])[0]
    cap = cv2.VideoCapture(str(source))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    out = Path(tempfile.mkdtemp(prefix="livescope-naive-")) / "naive.mp4"
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    n = 0
    lat = []
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        ok, bgr = cap.read()
        if not ok:
            break
        s = time.perf_counter()
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        x = cv2.resize(rgb, (size, size))[None]
        preds = model.predict(x, verbose=0)
        cls = int(np.argmax(preds[task][0]))
        fmap, grads = full_tape_gradients(model, task, t.constant(x), t.constant([cls], t.int32))
        heat = GradCam(np)(fmap.numpy(), grads.numpy())[0]
        heat = heat / (heat.max() + 1e-9)
        hm = cv2.applyColorMap((cv2.resize(heat, (w, h)) * 255).astype(np.uint8), cv2.COLORMAP_JET)
        frame = cv2.addWeighted(bgr, 0.6, hm, 0.4, 0)
        cv2.putText(frame, f"{task}: {cls}", (30, 60), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (255, 255, 255), 3)
        writer.write(frame)
        lat.append((time.perf_counter() - s) * 1000)
        n += 1
    wall = time.perf_counter() - t0
    writer.release()
    cap.release()
    return {"fps": round(n / wall, 2), "frames": n, "seconds": round(wall, 2), "per_frame_ms": percentiles(lat)}


def _median_ms(f, repeats: int) -> float:
    for _ in range(5):
        f()
    ts = []
    for _ in range(repeats):
        s = time.perf_counter()
        f()
        ts.append((time.perf_counter() - s) * 1000)
    return float(np.median(ts))


def bench_model_split(cascade, repeats: int = 200) -> dict:
    """One model call at batch 1 (backbone, three heads, Grad-CAM) through the cascade's engine,
    split into its parts, and the full-tape Grad-CAM (the keras.io way) beside it."""
    from livescope.cam.gradcam import full_tape_gradients
    from livescope.tfenv import tf

    t = tf()
    task = "B" if "B" in cascade.tasks else cascade.tasks[-1]
    x = np.random.default_rng(0).integers(0, 255, (1, cascade.size, cascade.size, 3)).astype(np.uint8)
    call = _median_ms(lambda: cascade.analyse(x, cam=True, cam_task=task), repeats)
    no_cam = _median_ms(lambda: cascade.analyse(x, cam=False), repeats)
    if cascade.engine == "keras":
        bb = t.function(lambda a: cascade.backbone(a, training=False))
        xt = t.constant(x)
        backbone = _median_ms(lambda: bb(xt).numpy(), repeats)
    else:
        backbone = _median_ms(lambda: cascade._runner(x), repeats)
    full = t.function(lambda a, c: full_tape_gradients(cascade.model, task, a, c))
    xt, cls = t.constant(x), t.constant([0], t.int32)
    full_ms = _median_ms(lambda: [v.numpy() for v in full(xt, cls)], repeats) - backbone
    head_cam = max(call - no_cam, 1e-3)
    return {"engine": cascade.engine, "model_call_ms": round(call, 3), "backbone_ms": round(backbone, 3),
            "heads_ms": round(max(no_cam - backbone, 0.0), 3), "gradcam_ms": round(head_cam, 3),
            "full_tape_gradcam_ms": round(max(full_ms, 0.0), 3),
            "full_tape_vs_head_ratio": round(max(full_ms, 0.0) / head_cam, 1), "task": task,
            "note": "medians at batch 1 through the engine; Grad-CAM = the call with the map minus without it; full "
                    "tape = the keras.io way (TF), a gradient taped through the whole model, its backbone pass "
                    "subtracted"}


def bench_backbones(names: list[str], size: int = 331) -> list[dict]:
    from livescope.models.backbones import build_backbone
    from livescope.models.head import assemble, build_head, feature_dim
    from livescope.tfenv import tf

    t = tf()
    rows = []
    for name in names:
        backbone = build_backbone(name, size, "none")
        model = assemble(backbone, {"A": build_head("A", feature_dim(backbone), 2)})
        f = t.function(lambda x, m=model: m(x, training=False)["A"])
        x1 = t.zeros((1, size, size, 3), t.uint8)
        x32 = t.zeros((32, size, size, 3), t.uint8)
        f(x1)
        f(x32)
        b1 = _median_ms(lambda f=f, x=x1: f(x).numpy(), 10)
        per = _median_ms(lambda f=f, x=x32: f(x).numpy(), 3) / 32
        rows.append({"backbone": name, "size": size, "ms_batch1": round(b1, 1),
                     "ms_per_image_batch32": round(per, 1), "reading_time_229_s": round(per * 229 / 1000, 2),
                     "paper_M1_A_s": PAPER_A_SECONDS.get(name)})
        print(f"  {name:<18} batch 1 {rows[-1]['ms_batch1']:7.1f} ms  batch 32 {per:7.1f} ms/img  "
              f"229 images {rows[-1]['reading_time_229_s']:6.2f} s  (paper M1: {PAPER_A_SECONDS.get(name, '-')} s)")
    return rows


def _fmt(p: dict | None) -> str:
    if not p:
        return "-"
    return f"{p['p50']:7.2f} {p['p95']:7.2f} {p['p99']:7.2f} {p['max']:8.2f}"


def print_table(r: dict) -> None:
    la = r["load_average"]
    print(f"\nlivescope bench - {r['mode']} - {r['model']} ({r['engine']}) - {Path(r['source']).name} - {r['seconds']} s"
          f" - stress {r['stress']} - load average {la['before']} before, {la['after']} after")
    print(f"{'stage (ms)':<22}{'p50':>7} {'p95':>7} {'p99':>7} {'max':>8}")
    for k, v in r["stages_ms"].items():
        print(f"{k:<22}{_fmt(v)}")
    print(f"{'display latency':<22}{_fmt(r['display_latency_ms'])}")
    print(f"{'AI result age':<22}{_fmt(r['ai_age_ms'])}")
    print(f"video out {r['video_fps']} fps | AI {r['ai_hz']} Hz | dropped input {r['dropped_input']} | "
          f"dropped display {r['dropped_display']} | recording dropped {r['recording_dropped']} | max frame gap "
          f"{r['max_frame_gap_ms']} ms | display priority {r['display_priority']} | CPU {r['cpu_percent']}% of one "
          f"core ({r['cpu_cores']} cores) | peak RSS {r['peak_rss_mb']} MB (all processes) | RSS growth "
          f"{r['rss_growth_pct']}%")


def run_bench(args: argparse.Namespace) -> int:
    from livescope.card import resolve_bundle
    from livescope.models.cascade import Cascade

    result: dict = {"machine": _machine()}
    if args.backbones is not None:
        names = args.backbones or list(PAPER_A_SECONDS)
        print("backbones at 331x331 (random weights; speed does not depend on the weights):")
        result["backbones"] = bench_backbones(names)
        _write_json(args.json, result)
        return 0
    source = bench_source(args.seconds) if args.source == "synthetic" else Path(args.source)
    if not source.exists():
        from livescope.errors import LivescopeError

        raise LivescopeError(f"benchmark source {source} does not exist", "give a video file or 'synthetic'")
    bundle = resolve_bundle(args.model)
    cascade = Cascade(bundle, engine=args.engine)
    r = bench_pipeline(source, cascade, args.seconds, args.mode, args.ai_hz, record=not args.no_record,
                       stress=args.stress)
    result.update(r)
    result["model_split"] = g = bench_model_split(cascade)
    print_table(r)
    print(f"model call ({g['engine']}) {g['model_call_ms']} ms = backbone {g['backbone_ms']} + heads {g['heads_ms']} + "
          f"Grad-CAM {g['gradcam_ms']} ms; full-tape Grad-CAM {g['full_tape_gradcam_ms']} ms "
          f"({g['full_tape_vs_head_ratio']}x the head-only one)")
    if args.baseline == "naive":
        nb = bench_naive(source, bundle, min(args.seconds, 30))
        result["naive"] = nb
        ours = r["video_fps"]
        result["speedup_vs_naive"] = round(ours / max(nb["fps"], 1e-9), 2)
        print(f"naive loop (predict + full-tape Grad-CAM + OpenCV writer, one thread): {nb['fps']} fps; "
              f"livescope {ours} fps = {result['speedup_vs_naive']}x")
    _write_json(args.json, result)
    return 0


def _write_json(path: str | None, result: dict) -> None:
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(result, indent=2))
        print(f"wrote {path}")


def _machine() -> dict:
    import platform

    return {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "system": platform.system(),
            "python": platform.python_version()}
