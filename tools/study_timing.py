"""Cached-feature training against training through the frozen backbone, side by side.

    python tools/study_timing.py DATA --weights ../shared/weights/xception_imagenet_notop.weights.h5

Trains task A twice with the same seed, data order and settings (Xception at 331 by default):
once on pooled features computed once per image and augmentation draw (what `livescope study`
does), once sending every batch of every epoch through the frozen backbone (the textbook way).
Prints both times, how many times faster the cached way is, and how far the two models'
predictions on the validation images differ. A subset keeps the through-backbone run short;
its cost grows with the epochs, the cached one's hardly does.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data")
    ap.add_argument("--weights", required=True)
    ap.add_argument("--backbone", default="xception")
    ap.add_argument("--size", type=int, default=331)
    ap.add_argument("--images", type=int, default=200, help="images of task A to use (a subset, stratified)")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--aug-draws", type=int, default=2)
    ap.add_argument("--out", default="runs/study-timing")
    args = ap.parse_args()

    from livescope.data.dataset import load_images, load_labelled
    from livescope.models.bundle import load_bundle
    from livescope.models.evaluate import predict_task
    from livescope.models.train import TrainConfig, train

    out = Path(args.out)
    ds = load_labelled(args.data, "A")
    rng = np.random.default_rng(0)
    keep = sorted(rng.choice(len(ds.paths), min(args.images, len(ds.paths)), replace=False))
    subset = out / "data"
    for i in keep:  # a folder per class, as the study reads it
        dst = subset / ds.label_names[ds.labels[i]] / ds.paths[i].name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if not dst.exists():
            dst.symlink_to(ds.paths[i].resolve())
    common = dict(task="A", data=str(subset), backbone=args.backbone, weights=args.weights, size=args.size,
                  epochs=args.epochs, aug_draws=args.aug_draws, progress=False, seed=3)
    times = {}
    bundles = {}
    for name, cache in (("cached", True), ("through", False)):
        t0 = time.perf_counter()
        bundles[name], card = train(TrainConfig(out=str(out / name), cache=cache, **common))
        times[name] = {"total_s": round(time.perf_counter() - t0, 1), **card["training"]["timings"]}
    val = json.loads((bundles["cached"] / "split.json").read_text())["val"]
    images, _, _ = load_images([Path(p) for p in val], args.size, False, progress=False)
    pa = predict_task(load_bundle(bundles["cached"])[0], "A", images)
    pb = predict_task(load_bundle(bundles["through"])[0], "A", images)
    train_c = times["cached"]["feature_extraction_s"] + times["cached"]["head_training_s"]
    train_t = times["through"]["training_through_backbone_s"]
    result = {"backbone": args.backbone, "size": args.size, "images": len(keep), "epochs": args.epochs,
              "aug_draws": args.aug_draws, "times": times,
              "training_s": {"cached": round(train_c, 1), "through_backbone": round(train_t, 1)},
              "speedup": round(train_t / train_c, 2),
              "max_probability_difference": float(np.abs(pa - pb).max()),
              "same_decisions": bool((pa.argmax(1) == pb.argmax(1)).all()), "validation_images": len(val)}
    (out / "timing.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
