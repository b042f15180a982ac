"""The `livescope` command line. Heavy modules are imported only by the command that runs."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from livescope import RESEARCH_NOTICE, __version__
from livescope.errors import LivescopeError

BACKBONE_CHOICES = [
    "xception", "resnet50v2", "efficientnetv2s", "vit_s16", "convmixer_768_32",
    "mobilenetv2", "mobilenetv3small", "mobilenetv3large", "efficientnetv2b0", "tiny_cnn",
]
CAM_MODES = ["findings", "all", "off"]
ENGINE_CHOICES = ["auto", "keras", "litert", "onnx"]
ENGINE_HELP = "model runtime: auto (the fastest available: litert, then onnx, then keras), keras, litert, onnx"
BACKBONE_HELP = f"one of {', '.join(BACKBONE_CHOICES)}, or tfhub:HANDLE (a TF-Hub/Kaggle handle or a SavedModel folder)"


def _names(values: list[str] | None) -> list[str] | None:
    """'a,b c' -> ['a', 'b', 'c'] (backbones may be given with commas or spaces)."""
    if values is None:
        return None
    return [v for item in values for v in item.split(",") if v]


def _add_synth(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("synth", help="generate phantom frames, datasets and procedure videos with ground truth")
    ss = p.add_subparsers(dest="what", required=True, metavar="{images,video,sheet}")
    im = ss.add_parser("images", help="labelled folder-per-class image sets")
    im.add_argument("out")
    im.add_argument("--count", type=int, default=1144, help="images per task tree (default 1144, as the paper)")
    im.add_argument("--seed", type=int, default=0)
    im.add_argument("--size", type=int, default=331)
    im.add_argument("--balance", default="paper",
                    help="'paper' (normal 808:hemorrhoid 336; Rf0 121:Rf1 173:Rf2 42), 'even', or "
                         "weights like 'normal=1,hemorrhoid=1,Rf0=1,Rf1=1,Rf2=1,retroflex=1,other=1'")
    im.add_argument("--workers", type=int, default=0, help="processes (default: all cores)")
    vd = ss.add_parser("video", help="an H.264 MP4 of a withdrawal with retroflexion episodes, and OUT.json truth")
    vd.add_argument("out")
    vd.add_argument("--seconds", type=float, default=60.0)
    vd.add_argument("--fps", type=float, default=30.0)
    vd.add_argument("--size", default="1920x1080", help="WxH")
    vd.add_argument("--seed", type=int, default=0)
    vd.add_argument("--episodes", default="auto", help="grades of the retroflexion episodes, e.g. 'Rf1,normal,Rf2' (default: random)")
    vd.add_argument("--crf", type=int, default=23)
    vd.add_argument("--low-delay", action="store_true",
                    help="encode as a live stream (no B-frames), as the benchmark's live source is")
    sh = ss.add_parser("sheet", help="a contact sheet PNG of example frames per class")
    sh.add_argument("out")
    sh.add_argument("--seed", type=int, default=0)
    sh.add_argument("--per-class", type=int, default=6)
    sh.add_argument("--size", type=int, default=200)
    sh.add_argument("--compare-real", default=None, metavar="DIR",
                    help="real images beside phantom images of the same class (DIR: retroflex/ and other/, or --map)")
    sh.add_argument("--map", default=None, help="class map for --compare-real, e.g. hyperkvasir-lower-gi")


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model bundle (the paper's transfer set-up, or the default cascade)")
    p.add_argument("--task", choices=["gate", "A", "B", "cascade"], required=False)
    p.add_argument("--data", help="folder per class, a CSV (path,label[,patient][,split]) or a `synth images` tree")
    p.add_argument("--backbone", default="efficientnetv2s", metavar="NAME", help=BACKBONE_HELP + " (default efficientnetv2s)")
    p.add_argument("--weights", default="imagenet",
                   help="imagenet (Keras download) | none | PATH to a Keras weights file of the same backbone without "
                        "its top, e.g. ../shared/weights/xception_imagenet_notop.weights.h5 (default imagenet)")
    p.add_argument("--hub-input-range", default="-1,1", choices=["-1,1", "0,1"],
                   help="pixel range a tfhub: module expects (default -1,1; the ConvMixer module: 0,1)")
    p.add_argument("--out", required=True, help="bundle folder to write")
    p.add_argument("--size", type=int, default=None, help="input size (default 331, as the paper)")
    p.add_argument("--epochs", type=int, default=None,
                   help="default 30 (the paper's); --recipe default: 14 (its phantom-only stage)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=None, help="default 1e-4; --recipe default: 3e-4 (its phantom-only stage)")
    p.add_argument("--val-fraction", type=float, default=None, help="default 0.2 for A and gate, 0.3 for B (as the paper)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--aug-draws", type=int, default=2, help="augmentation draws per image for the cached-feature training")
    p.add_argument("--early-stopping", action="store_true", help="stop on validation loss (off to match the paper)")
    p.add_argument("--fine-tune", type=int, default=0, metavar="N", help="unfreeze the top N backbone layers (beyond the paper)")
    p.add_argument("--no-class-weights", action="store_true")
    p.add_argument("--crop", action="store_true", help="crop to the endoscope image area before resizing")
    p.add_argument("--no-cache", action="store_true", help="train through the frozen backbone instead of on cached features")
    p.add_argument("--cascade", nargs=3, metavar=("GATE", "A", "B"),
                   help="assemble one live-assistant bundle from three bundles that share one backbone")
    p.add_argument("--ensemble", nargs="+", metavar="BUNDLE",
                   help="one bundle from two or more cascade bundles of one recipe: their backbones side by side, the "
                        "mean of their probabilities (live, every engine and Grad-CAM as for one model)")
    p.add_argument("--members", type=int, default=None, metavar="N",
                   help="--recipe default: train N members (seeds SEED..SEED+N-1) and ship their ensemble (default 4)")
    p.add_argument("--check-videos", type=int, default=None, metavar="N",
                   help="--recipe default: replay N phantom check videos at the end (seeds 3000+SEED..; the first "
                        "is metrics.phantom_video, all N summed are metrics.phantom_videos; default 4, 0: none)")
    p.add_argument("--recipe", choices=["default"], help="'default' retrains models/default from scratch (seeded)")
    p.add_argument("--real-data", default=None,
                   help="the default recipe's real images: the HyperKvasir folder (default ../shared/data/"
                        "hyperkvasir-lower-gi), or none for phantom images only")
    p.add_argument("--probe-epochs", type=int, default=None, metavar="N",
                   help="--recipe default: first train the heads alone on the frozen backbone for N epochs, then "
                        "everything (linear probe, then fine-tune; default 0)")


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    ev = sub.add_parser("evaluate", help="metrics with 95%% bootstrap intervals, reading time, confusion matrix and ROC")
    ev.add_argument("bundle")
    ev.add_argument("--data", required=True, help="a folder per class (the task's labels), a CSV, or any folder with --map")
    ev.add_argument("--out", required=True)
    ev.add_argument("--split", choices=["val", "all"], default="all",
                    help="'val': only the bundle's own validation split of DATA; 'all': every image (default)")
    ev.add_argument("--task", choices=["gate", "A", "B"], default=None, help="which head (needed for a cascade bundle)")
    ev.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the 95%% intervals (default 1000)")
    ev.add_argument("--batch-size", type=int, default=32)
    ev.add_argument("--map", default=None, metavar="MAP",
                    help="a class-map JSON for a folder whose classes are not the task's labels, or a shipped map's "
                         "name (hyperkvasir-lower-gi); see livescope/data/maps/")


def _add_study(sub: argparse._SubParsersAction) -> None:
    st = sub.add_parser("study", help="the paper's study: every backbone on task A and B, table and figures")
    st.add_argument("--data", required=True, help="a folder holding A/ and B/ class folders, or a `synth images` tree")
    st.add_argument("--out", required=True)
    st.add_argument("--backbones", nargs="+", default=None, metavar="NAME",
                    help="backbones, by spaces or commas (default: the paper's five); " + BACKBONE_HELP)
    st.add_argument("--weights", default="imagenet",
                    help="imagenet | none | NAME=PATH,NAME=PATH (a Keras weights file per backbone; backbones "
                         "without weights are skipped with a line saying why, unless --weights none)")
    st.add_argument("--hub-input-range", default="-1,1", choices=["-1,1", "0,1"],
                    help="pixel range tfhub: modules expect (default -1,1)")
    st.add_argument("--quick", action="store_true", help="224x224, 10 epochs: minutes on a 2-core CPU")
    st.add_argument("--epochs", type=int, default=None, help="default 30 (10 with --quick)")
    st.add_argument("--size", type=int, default=None, help="default 331 (224 with --quick)")
    st.add_argument("--seed", type=int, default=0)


def _add_explain(sub: argparse._SubParsersAction) -> None:
    ex = sub.add_parser("explain", help="Grad-CAM triptych (original, heatmap, overlay) for one image")
    ex.add_argument("image")
    ex.add_argument("--model", default=None, help="bundle folder (default: models/default)")
    ex.add_argument("--out", required=True, help="PNG or JPEG to write")
    ex.add_argument("--task", default=None, help="which head to explain (default: the deepest the cascade reaches)")
    ex.add_argument("--mask-osd", dest="mask_osd", action="store_true", default=True,
                    help="blank everything outside the endoscope image, the on-screen text included (default on)")
    ex.add_argument("--no-mask-osd", dest="mask_osd", action="store_false")
    ex.add_argument("--cam", dest="cam_mode", choices=CAM_MODES, default="all",
                    help="all: explain the deepest head reached (default); findings: only a hemorrhoid or its grade; off")
    ex.add_argument("--engine", default="auto", choices=ENGINE_CHOICES, help=ENGINE_HELP)


def _add_run(sub: argparse._SubParsersAction) -> None:
    rn = sub.add_parser("run", help="the live assistant: analyse a capture device, stream, file or image folder")
    rn.add_argument("source", help="video file, device index (0) or /dev/videoN, rtsp://|udp://|http:// stream, or image folder")
    rn.add_argument("--model", default=None, help="bundle folder (default: models/default)")
    rn.add_argument("--out", default=None, help="folder for the annotated video, frames.jsonl and reports")
    rn.add_argument("--window", dest="window", action="store_true", default=None)
    rn.add_argument("--no-window", dest="window", action="store_false")
    rn.add_argument("--fullscreen", action="store_true")
    rn.add_argument("--realtime", action="store_true", help="pace a file at its own fps, as a live feed")
    rn.add_argument("--cam", dest="cam_mode", nargs="?", const="findings", default="findings", choices=CAM_MODES,
                    help="heatmap: findings (a hemorrhoid and its grade; the default), all (every retroflexed view), off")
    rn.add_argument("--no-cam", dest="cam_mode", action="store_const", const="off", help="no heatmap (= --cam off)")
    rn.add_argument("--engine", default="auto", choices=ENGINE_CHOICES, help=ENGINE_HELP)
    rn.add_argument("--pdf", action="store_true", help="also print report.pdf (needs Chromium or Chrome)")
    rn.add_argument("--analyze-every", type=int, default=1, metavar="N")
    rn.add_argument("--ai-hz", type=float, default=0.0,
                    help="live: at most this many analyses a second (0, the default: every frame the model can take)")
    rn.add_argument("--record-raw", action="store_true", help="also record the raw input (masked, as every output)")
    rn.add_argument("--no-record", action="store_true", help="do not write the annotated video")
    rn.add_argument("--mask-osd", dest="mask_osd", action="store_true", default=True,
                    help="blank everything outside the endoscope image in outputs (default on)")
    rn.add_argument("--no-mask-osd", dest="mask_osd", action="store_false")
    rn.add_argument("--device-size", default=None, help="capture resolution WxH")
    rn.add_argument("--device-fps", type=float, default=None)
    rn.add_argument("--device-format", default=None, help="pixel format, e.g. mjpeg or yuyv422")
    rn.add_argument("--max-seconds", type=float, default=None, help="stop after this many seconds")
    rn.add_argument("--reconnect", type=float, default=30.0, help="seconds to keep retrying a lost live source (0: stop)")


def _add_score(sub: argparse._SubParsersAction) -> None:
    sc = sub.add_parser("score", help="compare a run's frames.jsonl with the phantom's truth JSON")
    sc.add_argument("run_dir", nargs="?", help="a run folder (its frames.jsonl); not with --check-videos")
    sc.add_argument("truth", nargs="?", help="the phantom video's truth JSON")
    sc.add_argument("--check-videos", default=None, metavar="SEEDS",
                    help="instead of one run: make the recipe's phantom check videos SEEDS (offsets from 3000: "
                         "0-3, or 0,100-111; each 90 s, 1280x720, episodes Rf1, normal, Rf2, Rf0), replay each "
                         "through --model and sum their episodes")
    sc.add_argument("--work", default="runs/video-checks",
                    help="with --check-videos: where the videos (made once) and the runs go")
    sc.add_argument("--card", action="store_true",
                    help="with --check-videos: also record the figures in the model's card (metrics.phantom_videos)")
    sc.add_argument("--out", default=None, help="write the JSON here too")
    sc.add_argument("--resmooth", action="store_true",
                    help="re-run the smoothing and episode decisions on the run's raw probabilities with the "
                         "model card's thresholds (the run's own shown states are ignored)")
    sc.add_argument("--thresholds", default=None, metavar="K=V,...",
                    help="with --resmooth: override card thresholds, e.g. grade_margin=0.15,grade_stable_s=0.8")
    sc.add_argument("--model", default=None, help="bundle whose card gives labels and thresholds (default: models/default)")
    sc.add_argument("--json", action="store_true", help="print every figure as JSON instead of the summary")


def _add_bench(sub: argparse._SubParsersAction) -> None:
    d = argparse.ArgumentDefaultsHelpFormatter
    bn = sub.add_parser("bench", help="latency percentiles and throughput of the live pipeline", formatter_class=d)
    bn.add_argument("--source", default="synthetic", help="a video file, or 'synthetic' (a phantom 1080p30 H.264 video)")
    bn.add_argument("--model", default=None, help="bundle folder (None: models/default)")
    bn.add_argument("--seconds", type=float, default=20.0, help="how long to run")
    bn.add_argument("--mode", choices=["live", "replay"], default="live",
                    help="live: the file paced as a live feed; replay: as fast as it goes, every frame analysed")
    bn.add_argument("--json", default=None, help="also write every figure to this JSON file")
    bn.add_argument("--baseline", choices=["naive"], default=None,
                    help="also time the naive keras.io loop (predict, full-tape Grad-CAM, OpenCV writer)")
    bn.add_argument("--backbones", nargs="*", default=None, metavar="NAME",
                    help="instead of the pipeline: time these backbones at 331x331 (none given: the paper's five)")
    bn.add_argument("--ai-hz", type=float, default=0.0, help="live mode: cap on analyses a second (0: every frame it can)")
    bn.add_argument("--engine", default="auto", choices=ENGINE_CHOICES, help=ENGINE_HELP)
    bn.add_argument("--stress", type=int, default=0, metavar="N",
                    help="run N CPU-hog processes beside the benchmark, for its length (a busy tower)")
    bn.add_argument("--no-record", action="store_true", help="do not record (the overlay is still drawn)")


def _add_demo(sub: argparse._SubParsersAction) -> None:
    d = argparse.ArgumentDefaultsHelpFormatter
    dm = sub.add_parser("demo", help="the Gradio demo in the browser", formatter_class=d)
    dm.add_argument("--model", default=None, help="an extra bundle to offer (the models/ folder's bundles always are)")
    dm.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1: this machine only)")
    dm.add_argument("--port", type=int, default=7860, help="port to serve on (1-65535, free)")
    dm.add_argument("--share", action="store_true", help="also open a public Gradio share link")
    dm.add_argument("--auth", default=None, metavar="USER:PASS", help="ask for this user name and password")
    dm.add_argument("--max-upload-mb", type=float, default=500, help="largest upload accepted, in MB")


def _add_batch(sub: argparse._SubParsersAction) -> None:
    d = argparse.ArgumentDefaultsHelpFormatter
    b = sub.add_parser("batch", formatter_class=d,
                       help="re-analyse many recorded procedures on Ray (local or a cluster), results in DuckDB")
    b.add_argument("sources", nargs="*", metavar="SOURCES",
                   help="video files, folders (searched for videos) or a CSV manifest path[,procedure_id]")
    b.add_argument("--out", default=None, help="folder for archive.duckdb, Parquet and one folder per procedure")
    b.add_argument("--model", default=None, help="bundle folder (None: models/default)")
    b.add_argument("--workers", type=int, default=None, help="Ray workers (None: one per core)")
    b.add_argument("--address", default=None, help="an existing Ray cluster (auto or ray://host:10001); None: a local "
                   "instance on 127.0.0.1 for this run")
    b.add_argument("--no-video", action="store_true", help="no annotated videos (frames.jsonl and reports only)")
    b.add_argument("--analyze-every", type=int, default=1, metavar="N", help="analyse every Nth frame")
    b.add_argument("--engine", default="auto", choices=ENGINE_CHOICES, help=ENGINE_HELP)
    b.add_argument("--summary", default=None, metavar="DIR", help="print the overview of a batch's database and stop")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="livescope",
        description=f"Real-time assistant for internal hemorrhoid grading in colonoscopy. {RESEARCH_NOTICE}",
    )
    parser.add_argument("--version", action="version", version=f"livescope {__version__}")
    parser.add_argument("--debug", action="store_true", help="show TensorFlow logs and full tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in (_add_synth, _add_train, _add_evaluate, _add_study, _add_explain, _add_run, _add_score, _add_bench,
                _add_demo, _add_batch):
        add(sub)
    sub.add_parser("doctor", help="versions, compute and capture devices, weights, engines, display priority")
    return parser


def _dispatch(args: argparse.Namespace) -> int:
    cmd = args.command
    if getattr(args, "backbones", None):
        args.backbones = _names(args.backbones)
    if cmd == "doctor":
        from livescope.doctor import run_doctor
        return run_doctor()
    if cmd == "synth":
        from livescope.phantom.commands import run_synth
        return run_synth(args)
    if cmd == "train":
        if args.recipe == "default":
            from livescope.recipes.default import run_recipe
            return run_recipe(args)
        from livescope.models.commands import run_train
        return run_train(args)
    if cmd == "evaluate":
        from livescope.models.commands import run_evaluate
        return run_evaluate(args)
    if cmd == "study":
        from livescope.models.study import run_study
        return run_study(args)
    if cmd == "explain":
        from livescope.runs.commands import run_explain
        return run_explain(args)
    if cmd == "run":
        from livescope.runs.commands import run_live
        return run_live(args)
    if cmd == "score":
        from livescope.runs.score import run_score
        return run_score(args)
    if cmd == "bench":
        from livescope.bench import run_bench
        return run_bench(args)
    if cmd == "demo":
        from livescope.demo.app import run_demo
        return run_demo(args)
    if cmd == "batch":
        from livescope.archive.batch import run_batch_command
        return run_batch_command(args)
    raise AssertionError(cmd)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    from livescope import tfenv

    tfenv.set_debug(args.debug)
    tfenv.quiet_environment()
    try:
        return int(_dispatch(args) or 0)
    except LivescopeError as exc:
        if args.debug:
            raise
        print(exc.one_line(), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `livescope score ... | head`: the reader has gone, which is not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0


if __name__ == "__main__":
    sys.exit(main())
