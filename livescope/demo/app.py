"""`livescope demo`: the Gradio app (images, recorded procedures, live webcam, model card).

It calls the same code as the command line (Cascade, explain_image, run_source, FrameStep,
the overlay and the decision wording): there is no second implementation of the cascade, the
verdict or the overlay here. Everything it returns is masked outside the endoscope image (the
on-screen text carries patient data)."""

from __future__ import annotations

import atexit
import json
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from livescope import RESEARCH_NOTICE
from livescope.card import repo_root
from livescope.errors import LivescopeError

DEMO_TMP = Path(tempfile.gettempdir()) / "livescope-demo"


def list_bundles(extra: str | None = None) -> dict[str, Path]:
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
                self._loaded[name] = Cascade(self.bundles[name], engine="auto")
            return self._loaded[name]


def card_as_data(card):
    """The card for a JSON component: a key named "path" would make Gradio's client take the
    value for a file to download (403); such keys travel as "location"."""
    if isinstance(card, dict):
        return {("location" if k == "path" else k): card_as_data(v) for k, v in card.items()}
    if isinstance(card, list):
        return [card_as_data(v) for v in card]
    return card


def _probs_dict(cascade, probs: dict, task) -> dict | None:
    if task not in probs:
        return None
    return {lab: float(p) for lab, p in zip(cascade.labels[task], probs[task], strict=True)}


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


def _explain_file(path, cascade):
    """Triptych, still analysis and the verdict in words for one image file (masked output)."""
    from livescope.data.images import read_image
    from livescope.live.decision import describe
    from livescope.runs.explain import explain_image

    trip, a, _caption = explain_image(read_image(path), cascade, mask_osd=True, cam_mode="findings")
    positive = {t: cascade.positive(t) for t in cascade.tasks}
    return trip, a, describe(a.state, cascade.labels, positive, cascade.thresholds)


def _image_handlers(gr, models):
    from livescope.data.images import ImageReadError

    def analyse_image(image_path, model_name):
        if not image_path:
            raise gr.Error("Upload, paste or pick an image first.")
        cascade = models.get(model_name)
        try:
            trip, a, d = _explain_file(image_path, cascade)
        except ImageReadError as exc:
            raise gr.Error(f"{Path(str(image_path)).name}: {exc}. Give a JPEG, PNG, BMP or TIFF image.") from None
        return (_probs_dict(cascade, a.probs, "gate"), _probs_dict(cascade, a.probs, "A"),
                _probs_dict(cascade, a.probs, "B"), f"{d.text} ({d.detail})", trip)

    def analyse_images(files, model_name):
        if not files:
            raise gr.Error("Choose one or more images.")
        cascade = models.get(model_name)
        rows = []
        for f in files:
            path = f if isinstance(f, str) else getattr(f, "name", str(f))
            try:
                trip, _a, d = _explain_file(path, cascade)
            except ImageReadError as exc:
                rows.append((np.full((64, 256, 3), 255, np.uint8), f"{Path(path).name}: {exc}"))
                continue
            rows.append((trip, f"{Path(path).name}: {d.text}"))
        return rows

    return analyse_image, analyse_images


def _video_handler(gr, models):
    from livescope.runs.session import run_source

    def analyse_video(video_path, model_name, progress=gr.Progress()):
        if not video_path:
            raise gr.Error("Upload a video or pick the sample first.")
        cascade = models.get(model_name)
        out = _job_dir()
        stop = threading.Event()
        box: dict = {}

        def work():
            try:
                box["report"], box["pipe"] = run_source(str(video_path), out=out, cascade=cascade, stop=stop,
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
        eps = [[e["episode"], f"{e['start_s']:.1f}-{e['end_s']:.1f}", e.get("grade"),
                None if e.get("confidence") is None else f"{100 * e['confidence']:.0f}%"] for e in report["episodes"]]
        gallery = []
        for e in report["episodes"]:
            for key, what in (("key_frame", "key frame"), ("key_frame_heatmap", "heatmap")):
                if e.get(key):
                    gallery.append((str(out / e[key]), f"episode {e['episode']}: {e.get('grade')} ({what})"))
        files = [str(out / "report.html"), str(out / "report.json"), str(out / "frames.jsonl")]
        s, v = report["summary"], report["verdict"]
        summary = (f"{s['frames']} frames ({s['duration_s']:.1f} s) analysed in {s['wall_s']:.1f} s; "
                   f"{len(eps)} episode(s); highest grade {v['highest_grade'] or 'none'}. "
                   + (f"Warning: {s['ended_early']}. " if s.get("ended_early") else "") + RESEARCH_NOTICE)
        yield (str(out / "annotated.mp4"), str(out / "timeline.png"), eps or [[None, None, "no episode", None]],
               gallery, files, summary)

    return analyse_video


def _live_handler(models):
    from livescope.live.frame_step import FrameStep
    from livescope.live.overlay import OverlayRenderer, Status
    from livescope.live.sources import Frame

    def live_frame(frame, model_name, session):
        if frame is None:
            return None, session, "waiting for the camera"
        if session is None or session.get("model") != model_name:  # per browser session, never shared
            cascade = models.get(model_name)
            step = FrameStep(cascade, key_frames=False)
            session = {"model": model_name, "step": step, "t0": time.monotonic(), "frames": 0,
                       "renderer": OverlayRenderer(step.labels, step.positive, cascade.thresholds)}
        step = session["step"]
        rgb = np.ascontiguousarray(np.asarray(frame)[..., :3].astype(np.uint8))
        now = time.monotonic()
        a = step.run([Frame(session["frames"], now, now - session["t0"], rgb)])[0]
        session["frames"] += 1
        from livescope.data.endoscope_area import blank_outside
        from livescope.live.decision import describe

        scene = session["renderer"].render(blank_outside(rgb, a.area), a.state, a.cam, a.area,
                                           Status(ai_latency_ms=a.ai_ms, model=step.cascade.name), a.cam_task)
        d = describe(a.state, step.labels, step.positive, step.cascade.thresholds)
        info = {"decision": d.text, "detail": d.detail, "state": a.state.state, "grade": a.state.grade,
                "p_retroflex": round(a.state.p_gate, 4), "frames": session["frames"],
                "episodes": len(step.episodes.episodes)}
        return scene, session, json.dumps(info)

    return live_frame


def _card_handler(models):
    from livescope.runs.report import card_table

    def card_markdown(model_name):
        cascade = models.get(model_name)
        c = cascade.card
        text = f"**{RESEARCH_NOTICE}**\n\n" + card_table(c) + f"\n\nbundle: {cascade.path}; engine: {cascade.engine}"
        return text, card_as_data(c)

    return card_markdown


def build_app(model: str | None = None, max_upload_mb: float = 500):
    import gradio as gr

    bundles = list_bundles(model)
    if not bundles:
        raise LivescopeError("no model bundle found", "give --model BUNDLE or restore models/default")
    models = DemoModels(bundles)
    default_name = Path(model).name if model else ("default" if "default" in bundles else next(iter(bundles)))
    samples = repo_root() / "samples"
    sample_images = sorted(samples.glob("*.jpg")) + sorted(samples.glob("*.png"))
    sample_video = str(samples / "demo.mp4") if (samples / "demo.mp4").exists() else None
    analyse_image, analyse_images = _image_handlers(gr, models)

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
                    decision = gr.Textbox(label="decision (as the live overlay would settle on it)")
            gr.Markdown("**Grad-CAM**: original, heatmap (yellow: strongest), overlay")
            # No label badge: it would sit on the figure's own caption.
            trip_out = gr.Image(show_label=False, elem_id="triptych", height=380)
            img_btn = gr.Button("Analyse image", variant="primary", elem_id="analyse-image")
            if sample_images:
                gr.Examples([str(p) for p in sample_images], inputs=img_in, label="sample stills (synthetic)",
                            example_labels=[p.stem.removeprefix("still_").replace("_", " ") for p in sample_images])
            img_btn.click(analyse_image, [img_in, picker], [gate_out, a_out, b_out, decision, trip_out],
                          api_name="analyse_image")
            with gr.Accordion("several images", open=False):
                files_in = gr.File(file_count="multiple", file_types=["image"], label="images")
                gal = gr.Gallery(label="one row per image", columns=1)
                gr.Button("Analyse all").click(analyse_images, [files_in, picker], gal, api_name="analyse_images")
        with gr.Tab("Recorded procedure"):
            vid_in = gr.Video(sources=["upload"], label="procedure video")
            if sample_video:
                gr.Examples([sample_video], inputs=vid_in, label="sample (synthetic)",
                            example_labels=["30 s phantom withdrawal: Rf1, then normal"])
            with gr.Row():
                run_btn = gr.Button("Analyse video", variant="primary")
                stop_btn = gr.Button("Stop")
            status = gr.Textbox(label="status")
            vid_out = gr.Video(label="annotated video")
            timeline = gr.Image(label="timeline (episodes shaded)")
            ep_table = gr.Dataframe(headers=["episode", "time (s)", "grade", "P(grade)"], label="episodes")
            keyframes = gr.Gallery(label="key frames and heatmaps", columns=4)
            downloads = gr.File(label="report and frames.jsonl", file_count="multiple")
            ev = run_btn.click(_video_handler(gr, models), [vid_in, picker],
                               [vid_out, timeline, ep_table, keyframes, downloads, status], api_name="analyse_video")
            stop_btn.click(None, None, None, cancels=[ev])
        with gr.Tab("Live"):
            gr.Markdown("Your browser's camera, analysed with the same cascade, smoothing and overlay as `livescope run`. "
                        "Each browser session has its own smoothing state.")
            session = gr.State(None)
            live_frame = _live_handler(models)
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
            card_md = gr.HTML()
            card_json = gr.JSON(label="card.json")
            card_markdown = _card_handler(models)
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


def check_port(host: str, port: int) -> None:
    """A port that cannot be served fails at once, with one line, before the model loads."""
    if not 1 <= port <= 65535:
        raise LivescopeError(f"--port {port} is not a port number", "give a number from 1 to 65535, e.g. --port 7860")
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, port))
    except OSError as exc:
        raise LivescopeError(f"cannot serve on {host}:{port} ({exc.strerror or exc})",
                             "the port is busy or not allowed: give another with --port") from None


def launch(app, host: str = "127.0.0.1", port: int = 7860, share: bool = False, auth=None,
           max_upload_mb: float = 500, block: bool = True):
    return app.queue(default_concurrency_limit=1).launch(
        server_name=host, server_port=port, share=share, auth=auth, max_file_size=f"{int(max_upload_mb)}mb",
        prevent_thread_lock=not block, quiet=not block, show_error=True, footer_links=[])


def run_demo(args) -> int:
    auth = parse_auth(args.auth)
    check_port(args.host, args.port)
    app = build_app(args.model, args.max_upload_mb)
    if args.host not in ("127.0.0.1", "localhost") and not auth:
        print("warning: serving beyond this machine without --auth; anyone on the network can use it")
    print(f"livescope demo on http://{args.host}:{args.port} - {RESEARCH_NOTICE}")
    launch(app, args.host, args.port, args.share, auth, args.max_upload_mb, block=True)
    return 0
