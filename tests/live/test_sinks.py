"""Sinks share one protocol, and the display never waits behind a queue of old frames."""

import time

import numpy as np

from livescope.live.frame_step import FrameStep
from livescope.live.pipeline import Pipeline, RunOptions
from livescope.live.sinks import DisplaySink
from livescope.live.sources import FileSource


class CountingSink:
    """A new output written against the protocol alone: write(frame, scene, analysis), close()."""

    needs_scene = True

    def __init__(self):
        self.indices, self.analysed, self.closed = [], 0, False
        self.shapes = set()

    def write(self, frame, scene, analysis) -> None:
        self.indices.append(frame.index)
        self.shapes.add(scene.shape)
        self.analysed += analysis is not None and analysis.index == frame.index

    def close(self) -> None:
        self.closed = True


def test_a_sink_written_against_the_protocol_receives_every_frame(short_video, tiny_cascade):
    sink = CountingSink()
    src = FileSource(short_video)
    total = src.total
    pipe = Pipeline(FrameStep(tiny_cascade), src, RunOptions(progress=False), sinks=[sink])
    pipe.run()
    src.close()
    assert sink.indices == list(range(total)) and sink.analysed == total
    assert sink.shapes == {(240, 320, 3)} and sink.closed


class StallingDisplay(DisplaySink):
    """A display that stalls now and then (a busy machine), recording how far behind the newest
    frame read each frame it shows is."""

    def __init__(self, pipe_ref: list):
        super().__init__()
        self.pipe_ref = pipe_ref
        self.behind: list[int] = []
        self.indices: list[int] = []

    def write(self, frame, scene, analysis) -> None:
        super().write(frame, scene, analysis)
        if frame.index >= 0:
            self.behind.append(self.pipe_ref[0].stats.frames_in - 1 - frame.index)
            self.indices.append(frame.index)
        if self.shown % 10 == 0:
            time.sleep(0.4)  # six frame periods at 15 fps


def test_a_stalled_display_never_queues_more_than_one_frame(short_video, tiny_cascade):
    ref: list = []
    display = StallingDisplay(ref)
    src = FileSource(short_video, realtime=True)
    pipe = Pipeline(FrameStep(tiny_cascade), src, RunOptions(progress=False, max_seconds=4), display=display)
    ref.append(pipe)
    pipe.run()
    src.close()
    st = pipe.stats
    assert st.dropped_display > 0  # the stalls cost frames ...
    # ... but after each stall the display shows the newest frame, not a backlog: a stall of six
    # frame periods leaves the next frame shown at most two behind the newest read (one more may
    # arrive while it is composed on a busy machine); a queue of old frames would show them all.
    assert max(display.behind) <= 2, display.behind
    after_stall = [display.indices[i + 1] - display.indices[i] for i in range(9, len(display.indices) - 1, 10)]
    assert after_stall and min(after_stall) >= 4, after_stall  # it skipped the frames that waited
    # Every frame read was shown or counted as dropped (one may still wait at the end).
    shown = st.frames_shown - st.no_signal_frames
    assert shown + st.dropped_display <= st.frames_in <= shown + st.dropped_display + 1
    # The dropped frames are in the latency figure too: one sample per frame read, not per frame shown.
    assert len(st.display_latency_ms) == shown + st.dropped_display
    assert np.isfinite(st.display_latency_ms).all()


def test_a_replay_does_not_wait_forever_for_a_dead_recording_process(tmp_path):
    """The encoder process killed mid-recording: a replay (blocking puts) stops recording with
    one warning and the file keeps the frames before the fault."""
    import av

    from livescope.live.encoder import EncoderProcess

    path = tmp_path / "rec.mp4"
    frame = np.zeros((64, 96, 3), np.uint8)
    with EncoderProcess(path, 30, (96, 64), block=True, slots=4) as enc:
        for i in range(75):  # a key frame (and an MP4 fragment) each second
            frame[:] = i * 3
            assert enc.put(frame)
        deadline = time.monotonic() + 20
        while enc.free.qsize() < 4 and time.monotonic() < deadline:  # let it encode what it has
            time.sleep(0.05)
        enc.proc.kill()
        enc.proc.join(5)
        taken = [enc.put(frame) for _ in range(12)]  # the ring fills; a put must then see the dead process
        assert not all(taken) and enc.failed and "recording process stopped" in enc.failed
    with av.open(str(path)) as c:  # fragmented MP4: readable up to the last whole fragment
        assert sum(1 for _ in c.decode(video=0)) >= 60
