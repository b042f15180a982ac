"""A bounded fuzz test of the image and video readers: no crash beyond the clear-error path."""

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livescope.data.images import ImageReadError, read_image
from livescope.errors import LivescopeError
from livescope.live.sources import FileSource

JPEG_HEAD = bytes.fromhex("ffd8ffe000104a46494600010100000100010000")
MP4_HEAD = bytes.fromhex("000000186674797069736f6d0000020069736f6d69736f32")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(head=st.sampled_from([b"", JPEG_HEAD, b"\x89PNG\r\n\x1a\n", b"BM"]), body=st.binary(max_size=4000))
def test_image_reader_fuzz(tmp_path, head, body):
    p = tmp_path / "fuzz.jpg"
    p.write_bytes(head + body)
    try:
        img = read_image(p)
        assert img.ndim == 3 and img.shape[2] == 3
    except ImageReadError:
        pass


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(head=st.sampled_from([b"", MP4_HEAD, b"\x1aE\xdf\xa3", b"RIFF"]), body=st.binary(max_size=6000))
def test_video_reader_fuzz(tmp_path, head, body):
    p = tmp_path / "fuzz.mp4"
    p.write_bytes(head + body)
    try:
        src = FileSource(p)
    except LivescopeError:
        return
    try:
        for f in src.frames():
            assert f.image.ndim == 3
    finally:
        src.close()


def test_mutated_real_video(short_video, tmp_path):
    """Flip bytes all over a real H.264 file: the reader skips what it cannot decode."""
    import numpy as np

    data = bytearray(Path(short_video).read_bytes())
    rng = np.random.default_rng(0)
    for seed in range(5):
        d = bytearray(data)
        for pos in rng.integers(2000, len(d), 30):
            d[pos] ^= 0xFF
        p = tmp_path / f"m{seed}.mp4"
        p.write_bytes(bytes(d))
        try:
            src = FileSource(p)
        except LivescopeError as exc:  # the one-line error, with what to do
            assert "not a readable video" in exc.one_line() or "no video stream" in exc.one_line()
            continue
        frames = list(src.frames())
        src.close()
        # It decodes what it can: frames of the file's own size, and not more than it holds.
        assert 0 < len(frames) <= 120 + 5, len(frames)
        assert all(f.image.shape == (240, 320, 3) for f in frames)
        assert [f.index for f in frames] == list(range(len(frames)))
