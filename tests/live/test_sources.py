import numpy as np
import pytest

from livescope.errors import LivescopeError
from livescope.live.sources import FileSource, FolderSource, open_source

from .videos import FORMATS, make_frames, write_video


@pytest.mark.parametrize("kind", list(FORMATS))
def test_file_source_reads_every_codec_and_container(tmp_path, kind):
    frames = make_frames(20)
    path = write_video(tmp_path / f"v{FORMATS[kind][3]}", kind, frames)
    src = open_source(str(path))
    assert isinstance(src, FileSource) and not src.live
    got = list(src.frames())
    src.close()
    assert len(got) == 20
    assert [f.index for f in got] == list(range(20))
    assert all(b.arrival >= a.arrival for a, b in zip(got, got[1:], strict=False))
    # Lossy codecs: close to the original, not equal.
    err = np.abs(got[10].image.astype(int) - frames[10].astype(int)).mean()
    assert err < 12, err
    assert abs(src.fps - 15) < 0.01


def _played_live(path):
    import time

    src = FileSource(path, realtime=True)
    got = [(f, time.monotonic()) for f in src.frames()]
    src.close()
    return got


def test_a_live_frame_carries_its_own_packets_read_time(tmp_path):
    """With B-frames a frame leaves the decoder only after a later packet was read: its latency
    starts at its own packet's read, not at the read that released it. Without them (as a live
    stream is encoded) every frame is out within one frame period of its read."""
    frames = make_frames(24)
    b_frames = write_video(tmp_path / "b.mp4", "h264_mp4", frames, fps=20, codec_options={"bf": "3"})
    got = _played_live(b_frames)
    assert [f.index for f, _ in got] == list(range(24))
    arrivals = [f.arrival for f, _ in got]
    assert any(b < a for a, b in zip(arrivals, arrivals[1:], strict=False)), "no frame read out of display order"
    waits = [out - f.arrival for f, out in got]
    assert min(waits) >= 0 and max(waits) >= 0.9 / 20  # some frame waited for a later packet
    live = write_video(tmp_path / "live.mp4", "h264_mp4", frames, fps=20, codec_options={"tune": "zerolatency"})
    got = _played_live(live)
    assert len(got) == 24 and all(b.arrival >= a.arrival for (a, _), (b, _) in zip(got, got[1:], strict=False))
    assert max(out - f.arrival for f, out in got) < 0.9 / 20


def test_realtime_paces_a_file(tmp_path):
    import time

    path = write_video(tmp_path / "v.mp4", "h264_mp4", make_frames(15), fps=15)
    src = FileSource(path, realtime=True)
    t0 = time.monotonic()
    n = sum(1 for _ in src.frames())
    assert n == 15 and time.monotonic() - t0 >= 0.85  # 15 frames at 15 fps take about a second


def test_folder_source_skips_bad_images(tmp_path):
    import cv2

    for i, f in enumerate(make_frames(3)):
        cv2.imwrite(str(tmp_path / f"{i:02d}.png"), f)
    (tmp_path / "99.jpg").write_bytes(b"garbage")
    src = open_source(str(tmp_path))
    assert isinstance(src, FolderSource)
    got = list(src.frames())
    assert len(got) == 3 and src.stats["decode_errors"] == 1


@pytest.mark.parametrize("content,match", [
    (b"", "empty"),
    (b"this is a text file, not a video\n" * 20, "not a readable video"),
])
def test_bad_video_files(tmp_path, content, match):
    p = tmp_path / "bad.mp4"
    p.write_bytes(content)
    with pytest.raises(LivescopeError, match=match):
        open_source(str(p))


def test_audio_only_file(tmp_path):
    import av

    p = tmp_path / "audio.wav"
    with av.open(str(p), "w") as c:
        s = c.add_stream("pcm_s16le", rate=8000)
        fr = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        fr.sample_rate = 8000
        c.mux(s.encode(fr))
        c.mux(s.encode(None))
    with pytest.raises(LivescopeError, match="no video stream"):
        open_source(str(p))


def test_missing_paths_and_devices(tmp_path):
    with pytest.raises(LivescopeError, match="does not exist"):
        open_source(str(tmp_path / "nothing.mp4"))
    with pytest.raises(LivescopeError, match="capture device /dev/video97 does not exist"):
        open_source("/dev/video97")
    with pytest.raises(LivescopeError, match="no images"):
        open_source(str(tmp_path))


def test_corrupted_packets_in_the_middle_are_skipped_and_counted(tmp_path):
    frames = make_frames(30)
    path = write_video(tmp_path / "v.avi", "mjpeg_avi", frames)
    data = bytearray(path.read_bytes())
    # Overwrite the middle of the file (inside JPEG packets) with garbage.
    mid = len(data) // 2
    data[mid:mid + 3000] = bytes(np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8))
    path.write_bytes(bytes(data))
    src = FileSource(path)
    got = list(src.frames())
    assert src.stats["decode_errors"] >= 1
    assert 20 <= len(got) < 30  # decoding went on past the damage
    assert got[-1].image.shape == frames[0].shape


@pytest.mark.parametrize("fraction", [0.2, 0.5, 0.9])
def test_truncated_mp4(tmp_path, fraction):
    frames = make_frames(30)
    path = write_video(tmp_path / "v.mp4", "h264_mp4", frames, options={"movflags": "+faststart"})
    data = path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * fraction)])
    src = FileSource(cut)  # the index is at the start (faststart): it opens
    got = list(src.frames())  # no crash: what was there is decoded
    assert len(got) < 30 or fraction > 0.85
    if fraction >= 0.5:
        assert len(got) > 0
    # Without faststart the index is at the end: cutting it makes the file unreadable, clearly.
    path2 = write_video(tmp_path / "w.mp4", "h264_mp4", frames)
    cut2 = tmp_path / "cut2.mp4"
    cut2.write_bytes(path2.read_bytes()[: int(len(path2.read_bytes()) * fraction)])
    with pytest.raises(LivescopeError, match="not a readable video"):
        FileSource(cut2)


def test_resolution_change_mid_stream(tmp_path, tiny_cascade):
    """A stream whose size changes (MPEG-TS allows it): every frame is still analysed and recorded."""
    import av

    from livescope.runs.session import run_source as replay

    p = write_video(tmp_path / "change.ts", "mpeg2_ts", make_frames(10, 160, 120))
    write_video(tmp_path / "b.ts", "mpeg2_ts", make_frames(10, 240, 176))
    p.write_bytes(p.read_bytes() + (tmp_path / "b.ts").read_bytes())
    report, pipe = replay(str(p), out=tmp_path / "run", cascade=tiny_cascade)
    assert pipe.stats.frames_shown >= 15
    sizes = {f.image.shape[:2] for f in FileSource(p).frames()}
    assert len(sizes) == 2
    with av.open(str(tmp_path / "run" / "annotated.mp4")) as c:
        assert sum(1 for _ in c.decode(video=0)) == pipe.stats.frames_shown
