"""CLI glue for `livescope synth`."""

from __future__ import annotations

import argparse

from livescope.errors import LivescopeError


def run_synth(args: argparse.Namespace) -> int:
    if args.what == "images":
        from livescope.phantom.dataset import synth_images

        if args.count < 6:
            raise LivescopeError(f"--count {args.count} is too small", "ask for at least 6 images")
        stats = synth_images(args.out, args.count, args.seed, args.size, args.balance, args.workers)
        print(f"wrote {stats['images']} phantom images to {args.out} "
              f"({stats['images_per_s']:.1f} images/s); labels in {args.out}/labels.csv")
    elif args.what == "video":
        from livescope.phantom.video import synth_video

        if not str(args.out).lower().endswith(".mp4"):
            raise LivescopeError(f"{args.out} does not end in .mp4", "name the output like procedure.mp4")
        doc = synth_video(args.out, args.seconds, args.fps, args.size, args.seed, args.episodes, args.crf,
                          low_delay=args.low_delay)
        grades = ", ".join(e["grade"] for e in doc["episodes"])
        print(f"wrote {args.out} ({doc['frames']} frames, {doc['width']}x{doc['height']} @ {doc['fps']:g} fps, "
              f"episodes: {grades}; {doc['realtime_factor']:.2f}x real time) and its truth "
              f"{args.out[:-4]}.json")
    elif args.what == "sheet":
        from livescope.phantom.dataset import compare_sheet, contact_sheet

        if args.compare_real:
            path = compare_sheet(args.out, args.compare_real, args.map, args.per_class, args.size, args.seed)
            print(f"wrote comparison sheet {path} (real images beside phantom images of the same class)")
        else:
            path = contact_sheet(args.out, args.seed, args.per_class, args.size)
            print(f"wrote contact sheet {path}")
    return 0
