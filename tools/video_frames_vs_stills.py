"""P(hemorrhoid) of a bundle on phantom retroflexed scenes rendered as stills (`synth images`) and
as procedure-video frames (`synth video`), normal and Rf0: does a class read differently in the
videos than in the stills the models learn from?

    python tools/video_frames_vs_stills.py models/default --count 400
    python tools/video_frames_vs_stills.py models/default --grades normal --no-stills --zooms 1,0.69,0.86

Scenes: stills seeds [77, k], video frames seeds [88, k], k < count (one frame per scene, the camera
at rest as in a retroflexed episode; `--zooms`: the camera's zoom, 1 as in the videos, which show
the central two thirds of a scene, about 1.45x closer than the stills' farthest view; 0.69 shows
the whole scene). The same seeds give the same scenes at every zoom, so zooms compare pairwise.
Prints, per set, the median P(hemorrhoid), the share at 0.5 or more and the share gated in."""

from __future__ import annotations

import argparse


def main() -> None:
    import numpy as np

    from livescope.card import crops_to_area, masks_outside_area
    from livescope.data.endoscope_area import find_image_area
    from livescope.data.model_input import model_input
    from livescope.models.bundle import load_bundle
    from livescope.models.evaluate import predict_task
    from livescope.phantom.dataset import render_example
    from livescope.phantom.video import ProcedureRenderer

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bundle")
    ap.add_argument("--count", type=int, default=400)
    ap.add_argument("--grades", default="normal,Rf0")
    ap.add_argument("--zooms", default="1", help="camera zooms of the video frames, e.g. 1,0.69")
    ap.add_argument("--no-stills", action="store_true")
    args = ap.parse_args()
    model, card = load_bundle(args.bundle)
    size, crop, mask = int(card["input_size"]), crops_to_area(card), masks_outside_area(card)

    def still(k: int, grade: str) -> np.ndarray:
        return model_input(render_example(np.random.default_rng([77, k]), grade, 331).image, size, crop, mask)

    def video(k: int, grade: str, zoom: float) -> np.ndarray:
        rng = np.random.default_rng([88, k])
        frame = ProcedureRenderer(rng, 1280, 720, 30.0).frame_of("retroflex", grade, float(rng.uniform(-10, 10)), zoom)
        return model_input(frame, size, crop, mask, area=find_image_area(frame) if crop else None)

    hem = card["tasks"]["A"]["labels"].index("hemorrhoid")
    retro = card["tasks"]["gate"]["labels"].index("retroflex")
    sets = [] if args.no_stills else [("stills", still)]
    sets += [(f"video frames zoom {z}", lambda k, g, z=float(z): video(k, g, z)) for z in args.zooms.split(",")]
    for grade in args.grades.split(","):
        for name, render in sets:
            x = np.stack([render(k, grade) for k in range(args.count)])
            p = predict_task(model, "A", x)[:, hem]
            g = predict_task(model, "gate", x)[:, retro]
            print(f"{grade:6s} {name:22s} n={args.count}: P(hemorrhoid) median {np.median(p):.3f}, at 0.5 or more "
                  f"{int((p >= 0.5).sum())} ({100 * (p >= 0.5).mean():.1f} %); gated in (P(retroflex) >= 0.5) "
                  f"{100 * (g >= 0.5).mean():.1f} %", flush=True)


if __name__ == "__main__":
    main()
