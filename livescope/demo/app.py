"""`livescope demo`: the Gradio app (images, recorded procedures, live webcam, model card).

It calls the same code as the command line (Cascade, explain_image, replay, FrameAnalyzer):
there is no second implementation of the cascade or the overlay here. Everything it returns
is masked outside the endoscope area (the on-screen text carries patient data)."""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from livescope import RESEARCH_NOTICE
from livescope.errors import LivescopeError

DEMO_TMP = Path(tempfile.gettempdir()) / "livescope-demo"


def list_bundles(extra: str | None = None) -> dict[str, Path]:
    from livescope.models.bundle import repo_root

    found = {}
    for card in sorted((repo_root() / "models").glob("*/card.json")):
        found[card.parent.name] = card.parent
    if extra:
        found[Path(extra).name] = Path(extra)
    return found


class DemoModels:
    """Loads each bundle once (thread-safe); the demo's model picker chooses among them."""

    def __init__(self, bundles: dict[str, Path]):
        self.bundles = bundles
        self._loaded = {}
        self._lock = threading.Lock()

    def get(self, name: str | None):
        from livescope.models.cascade import Cascade

        name = name if name in self.bundles else next(iter(self.bundles))
        with self._lock:
            if name not in self._loaded:
                self._loaded[name] = Cascade(self.bundles[name])
            return self._loaded[name]


def _probs_dict(cascade, r, task) -> dict | None:
    if task not in r.probs:
        return None
    return {lab: float(p) for lab, p in zip(cascade.labels[task], r.probs[task], strict=True)}


def _decision(cascade, r) -> str:
    th = cascade.thresholds
    g = r.probs.get("gate")
    if g is None:
        return "no gate head"
    p_in = float(g[cascade.labels["gate"].index(cascade.positive("gate"))])
    if p_in < th["gate_enter"]:
        return f"not a retroflexed dentate-line view (P={p_in:.2f})"
    if "A" not in r.probs:
        return "retroflexed view"
    pa = r.probs["A"]
    if pa.max() < th["confidence"]:
        return "retroflexed view: uncertain (normal vs hemorrhoid)"
    a = r.labels["A"]
    if a != cascade.positive("A") or "B" not in r.probs:
        return f"retroflexed view: {a} ({pa.max():.2f})"
    pb = r.probs["B"]
    if pb.max() < th["confidence"]:
        return f"hemorrhoid ({pa.max():.2f}), grade uncertain"
    return f"hemorrhoid ({pa.max():.2f}), LDRf {r.labels['B']} ({pb.max():.2f})"


def _job_dir() -> Path:
    DEMO_TMP.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in DEMO_TMP.iterdir():  # remove results nobody has fetched for an hour
        try:
            if now - old.stat().st_mtime > 3600:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass
    return Path(tempfile.mkdtemp(dir=DEMO_TMP))


def build_app(model: str | None = None, max_upload_mb: float = 500):
    import gradio as gr

    from livescope.cam.commands import explain_image
    from livescope.data.images import ImageReadError, find_endoscope_area, mask_outside, read_image
    from livescope.live.commands import replay
    from livescope.live.frame_analyzer import FrameAnalyzer
    from livescope.models.bundle import repo_root

    bundles = list_bundles(model)
    if not bundles:
        raise LivescopeError("no model bundle found", "give --model BUNDLE or restore models/default")
    models = DemoModels(bundles)
    default_name = Path(model).name if model else ("default" if "default" in bundles else next(iter(bundles)))
    samples = repo_root() / "samples"
    sample_images = sorted(str(p) for p in samples.glob("*.png")) + sorted(str(p) for p in samples.glob("*.jpg"))
    sample_video = str(samples / "demo.mp4") if (samples / "demo.mp4").exists() else None

    def explain_file(path, cascade):
        """Triptych and result for one image file, masked outside the endoscope area first."""
        rgb = read_image(path)
        trip, r, _caption = explain_image(mask_outside(rgb, find_endoscope_area(rgb, fallback_full=False)), cascade)
        return trip, r

    def analyse_image(image_path, model_name):
        if not image_path:
            raise gr.Error("Upload, paste or pick an image first.")
        cascade = models.get(model_name)
        try:
            trip, r = explain_file(image_path, cascade)
        except ImageReadError as exc:
            raise gr.Error(f"{Path(str(image_path)).name}: {exc}. Give a JPEG, PNG, BMP or TIFF image.") from None
        return (_probs_dict(cascade, r, "gate"), _probs_dict(cascade, r, "A"), _probs_dict(cascade, r, "B"),
                _decision(cascade, r), trip)

    def analyse_images(files, model_name):
        if not files:
            raise gr.Error("Choose one or more images.")
        cascade = models.get(model_name)
        rows = []
        for f in files:
            path = f if isinstance(f, str) else getattr(f, "name", str(f))
            try:
                trip, r = explain_file(path, cascade)
            except ImageReadError as exc:
                rows.append((np.full((64, 256, 3), 255, np.uint8), f"{Path(path).name}: {exc}"))
                continue
            rows.append((trip, f"{Path(path).name}: {_decision(cascade, r)}"))
        return rows

    def analyse_video(video_path, model_name, progress=gr.Progress()):
        if not video_path:
            raise gr.Error("Upload a video or pick the sample first.")
        cascade = models.get(model_name)
        out = _job_dir()
        stop = threading.Event()
        box: dict = {}

        def work():
            try:
                box["report"], box["pipe"] = replay(str(video_path), out=out, cascade=cascade, stop=stop,
                                                    on_progress=lambda d, t: box.update(done=d, total=t))
            except LivescopeError as exc:
                box["error"] = exc.one_line().removeprefix("error: ")
            except Exception as exc:  # noqa: BLE001 - any failure is shown in the page; the server goes on
                box["error"] = f"analysis failed ({type(exc).__name__}: {exc})"

        th = threading.Thread(target=work, daemon=True)
        th.start()
        try:
            while th.is_alive():
                th.join(0.3)
                total = box.get("total")
                if total:
                    progress(min(1.0, box.get("done", 0) / total), desc=f"analysing frame {box.get('done', 0)} of {total}")
                else:
                    progress(None, desc=f"analysing frame {box.get('done', 0)}")
                yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), "analysing..."
        except GeneratorExit:  # the Stop button: finish the pipeline cleanly, keep nothing half-made
            stop.set()
            th.join(10)
            shutil.rmtree(out, ignore_errors=True)
            raise
        if "error" in box:
            shutil.rmtree(out, ignore_errors=True)
            raise gr.Error(box["error"])
        report = box["report"]
        eps = [[e["episode"], f"{e['start_s']:.1f}-{e['end_s']:.1f}", e.get("grade"), e.get("confidence")]
               for e in report["episodes"]]
        gallery = []
        for e in report["episodes"]:
            for key in ("key_frame", "key_frame_heatmap"):
                if e.get(key):
                    gallery.append((str(out / e[key]), f"episode {e['episode']}: {e.get('grade')}"))
        files = [str(out / "report.html"), str(out / "report.json"), str(out / "frames.jsonl")]
        s = report["summary"]
        summary = (f"{s['frames']} frames ({s['duration_s']:.1f} s) analysed in {s['wall_s']:.1f} s; "
                   f"{len(eps)} episode(s). {RESEARCH_NOTICE}")
        yield (str(out / "annotated.mp4"), str(out / "timeline.png"), eps or [[None, None, "no episode", None]],
               gallery, files, summary)

    def live_frame(frame, model_name, session):
        if frame is None:
            return None, session, "waiting for the camera"
        if session is None or session.get("model") != model_name:  # per browser session, never shared
            session = {"model": model_name, "analyzer": FrameAnalyzer(models.get(model_name))}
        out, info = session["analyzer"].process(np.asarray(frame)[..., :3].astype(np.uint8))
        return out, session, json.dumps(info)

    def card_markdown(model_name):
        cascade = models.get(model_name)
        c = cascade.card
        lines = [f"**{RESEARCH_NOTICE}**", "", c.get("intended_use", ""), "",
                 f"- bundle: `{cascade.path}`", f"- backbone: {c.get('backbone', {}).get('name')} at {c['input_size']} px",
                 "- tasks: " + "; ".join(f"{t}: {', '.join(v['labels'])}" for t, v in c["tasks"].items()),
                 f"- thresholds: `{json.dumps(c.get('thresholds', {}))}`"]
        if c.get("synthetic_data_notice"):
            lines.append(f"- data: {c['synthetic_data_notice']}")
        return "\n".join(lines), c

    with gr.Blocks(title="livescope - research use only", delete_cache=(1800, 3600)) as app:
        gr.Markdown(f"# livescope\nInternal hemorrhoid detection and LDRf grading with Grad-CAM. **{RESEARCH_NOTICE}**")
        picker = gr.Dropdown(choices=list(bundles), value=default_name, label="model")
        with gr.Tab("Image"):
            with gr.Row():
                img_in = gr.Image(type="filepath", sources=["upload", "clipboard"], label="still image")
                with gr.Column():
                    gate_out = gr.Label(label="retroflexed dentate-line view (gate)")
                    a_out = gr.Label(label="task A: normal vs hemorrhoid")
                    b_out = gr.Label(label="task B: LDRf grade")
                    decision = gr.Textbox(label="decision")
            trip_out = gr.Image(label="Grad-CAM: original, heatmap, overlay", elem_id="triptych")
            img_btn = gr.Button("Analyse image", variant="primary", elem_id="analyse-image")
            if sample_images:
                gr.Examples(sample_images, inputs=img_in, label="sample stills (synthetic)")
            img_btn.click(analyse_image, [img_in, picker], [gate_out, a_out, b_out, decision, trip_out],
                          api_name="analyse_image")
            with gr.Accordion("several images", open=False):
                files_in = gr.File(file_count="multiple", file_types=["image"], label="images")
                gal = gr.Gallery(label="one row per image", columns=1)
                gr.Button("Analyse all").click(analyse_images, [files_in, picker], gal, api_name="analyse_images")
        with gr.Tab("Recorded procedure"):
            vid_in = gr.Video(sources=["upload"], label="procedure video")
            if sample_video:
                gr.Examples([sample_video], inputs=vid_in, label="sample (synthetic)")
            with gr.Row():
                run_btn = gr.Button("Analyse video", variant="primary")
                stop_btn = gr.Button("Stop")
            status = gr.Textbox(label="status")
            vid_out = gr.Video(label="annotated video")
            timeline = gr.Image(label="timeline (episodes shaded)")
            ep_table = gr.Dataframe(headers=["episode", "time (s)", "grade", "confidence"], label="episodes")
            keyframes = gr.Gallery(label="key frames and heatmaps", columns=4)
            downloads = gr.File(label="report and frames.jsonl", file_count="multiple")
            ev = run_btn.click(analyse_video, [vid_in, picker], [vid_out, timeline, ep_table, keyframes, downloads, status],
                               api_name="analyse_video")
            stop_btn.click(None, None, None, cancels=[ev])
        with gr.Tab("Live"):
            gr.Markdown("Your browser's camera, analysed with the same cascade, smoothing and overlay as `livescope run`. "
                        "Each browser session has its own smoothing state.")
            session = gr.State(None)
            with gr.Row():
                cam = gr.Image(sources=["webcam"], streaming=True, type="numpy", label="camera")
                live_out = gr.Image(label="overlay")
            live_info = gr.Textbox(label="state")
            cam.stream(live_frame, [cam, picker, session], [live_out, session, live_info], stream_every=0.1,
                       time_limit=3600, api_name="live_stream", api_visibility="private")
            with gr.Accordion("one frame at a time (for scripts and slow connections)", open=False):
                gr.Button("analyse the current camera frame").click(
                    live_frame, [cam, picker, session], [live_out, session, live_info], api_name="live_frame")
        with gr.Tab("Model"):
            card_md = gr.Markdown()
            card_json = gr.JSON(label="card.json")
            picker.change(card_markdown, picker, [card_md, card_json], api_name="model_card")
            app.load(card_markdown, picker, [card_md, card_json], api_visibility="private")
    atexit.register(lambda: shutil.rmtree(DEMO_TMP, ignore_errors=True))
    return app


def parse_auth(text: str | None):
    if not text:
        return None
    if ":" not in text:
        raise LivescopeError("--auth must be USER:PASS", "for example --auth alice:s3cret")
    user, _, pw = text.partition(":")
    return (user, pw)


def launch(app, host: str = "127.0.0.1", port: int = 7860, share: bool = False, auth=None,
           max_upload_mb: float = 500, block: bool = True):
    return app.queue(default_concurrency_limit=1).launch(
        server_name=host, server_port=port, share=share, auth=auth, max_file_size=f"{int(max_upload_mb)}mb",
        prevent_thread_lock=not block, quiet=not block, show_error=True, footer_links=[])


def run_demo(args) -> int:
    auth = parse_auth(args.auth)
    app = build_app(args.model, args.max_upload_mb)
    if args.host not in ("127.0.0.1", "localhost") and not auth:
        print("warning: serving beyond this machine without --auth; anyone on the network can use it")
    print(f"livescope demo on http://{args.host}:{args.port} - {RESEARCH_NOTICE}")
    launch(app, args.host, args.port, args.share, auth, args.max_upload_mb, block=True)
    return 0
