import json

import av
import numpy as np

from livescope.phantom.video import ProcedureRenderer, frame_truth, plan_withdrawal


def test_truth_matches_video(short_video):
    truth = json.loads(short_video.with_suffix(".json").read_text())
    with av.open(str(short_video)) as c:
        s = c.streams.video[0]
        frames = sum(1 for _ in c.decode(video=0))
        assert (s.codec_context.width, s.codec_context.height) == (truth["width"], truth["height"]) == (320, 240)
        assert abs(float(s.average_rate) - truth["fps"]) < 1e-6
        assert s.codec_context.name == "h264"
    assert frames == truth["frames"] == len(truth["truth"]["gate"]) == 8 * 15
    (ep,) = truth["episodes"]
    assert ep["grade"] == "Rf1"
    gate = truth["truth"]["gate"]
    assert all(g == "retroflex" for g in gate[ep["start_frame"]:ep["end_frame"] + 1])
    assert gate[ep["start_frame"] - 1] == "other" and gate[ep["end_frame"] + 1] == "other"
    assert all(b == "Rf1" for b in truth["truth"]["B"][ep["start_frame"]:ep["end_frame"] + 1])


def _frames(seed, n=20):
    rng = np.random.default_rng([seed, 7])
    segs = plan_withdrawal(rng, 10, 10, ["Rf2"])
    r = ProcedureRenderer(rng, 320, 240, 10)
    out = []
    for i, f in r.frames(segs):
        out.append(f)
        if i + 1 >= n:
            break
    return out, segs


def test_video_frames_deterministic():
    a, segs = _frames(11)
    b, _ = _frames(11)
    c, _ = _frames(12)
    assert all(x.tobytes() == y.tobytes() for x, y in zip(a, b, strict=True))
    assert any(x.tobytes() != y.tobytes() for x, y in zip(a, c, strict=True))


def test_plan_covers_every_frame_with_several_grades():
    rng = np.random.default_rng(0)
    segs = plan_withdrawal(rng, 60, 30, ["Rf0", "normal", "Rf2"])
    assert segs[0].start == 0 and segs[-1].end == 1800
    assert all(a.end == b.start for a, b in zip(segs, segs[1:], strict=False))
    truth = frame_truth(segs)
    assert [s.grade for s in segs if s.kind == "retroflex"] == ["Rf0", "normal", "Rf2"]
    assert len(truth["gate"]) == 1800


def test_low_delay_video_has_no_frame_after_its_successor(tmp_path):
    """`synth video --low-delay` (the benchmark's live source): decode order is display order, so
    no frame waits in the decoder for a later one; the default encoding uses B-frames."""
    import subprocess
    import sys

    def decode_order(path):
        with av.open(str(path)) as c:
            return [p.pts for p in c.demux(video=0) if p.size]

    for flag, reordered in ((["--low-delay"], False), ([], True)):
        out = tmp_path / f"v{len(flag)}.mp4"
        r = subprocess.run([sys.executable, "-m", "livescope.cli", "synth", "video", str(out), "--seconds", "8",
                            "--size", "160x120", "--fps", "15", *flag], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        pts = decode_order(out)
        assert len(pts) == 120 and (pts != sorted(pts)) is reordered


def test_frame_of_shows_one_scene_inside_the_image_area_only():
    from livescope.phantom.processor import area_mask

    def frame(seed):
        r = ProcedureRenderer(np.random.default_rng([seed, 3]), 320, 240, 30.0)
        return r, r.frame_of("retroflex", "normal", angle=5.0)

    r, f = frame(4)
    assert f.shape == (240, 320, 3) and f.dtype == np.uint8
    assert np.array_equal(f, frame(4)[1]) and not np.array_equal(f, frame(5)[1])
    inside = area_mask(r.style) > 0
    x, y, aw, ah = r.style.area
    # The scene fills the image area (the endoscope's picture), and stays out of the rest of the canvas
    # apart from the on-screen text drawn there.
    assert f[inside].mean() > 20
    assert np.array_equal(f[~inside], r.base[~inside])
