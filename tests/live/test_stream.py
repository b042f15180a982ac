"""A phantom video served over udp://127.0.0.1 and read live by `livescope run`."""

import json

from livescope.runs.session import run_source as replay

from .streaming import UdpServer, free_udp_port


def test_loopback_udp_stream_end_to_end(short_video, tiny_cascade, tmp_path):
    port = free_udp_port()
    server = UdpServer(short_video, port, seconds=6).start()
    report, pipe = replay(f"udp://127.0.0.1:{port}", out=tmp_path / "live", cascade=tiny_cascade,
                          max_seconds=5, reconnect_s=0)
    server.stop.set()
    server.join()
    st = pipe.stats
    assert pipe.live is True
    assert st.frames_shown >= 25, st.frames_shown  # about 5 s at 15 fps, minus start-up
    assert st.frames_analysed >= 10
    # Every frame received is accounted for: shown, or dropped from the display (newest wins),
    # or the one frame still waiting when the run stopped; none appears from nowhere. (The display
    # also shows "no signal" frames of its own while the stream starts.)
    assert st.frames_in <= server.sent
    shown = st.frames_shown - st.no_signal_frames
    assert shown + st.dropped_display <= st.frames_in <= shown + st.dropped_display + 1
    # The analysis saw each frame it analysed once, and the rest were counted as dropped.
    assert st.frames_analysed + st.dropped_input <= st.frames_in
    assert st.frames_in - (st.frames_analysed + st.dropped_input) <= 2  # at most one waiting, one in flight
    assert report["summary"]["dropped_input"] == st.dropped_input
    assert report["summary"]["dropped_display"] == st.dropped_display
    lines = [json.loads(x) for x in (tmp_path / "live" / "frames.jsonl").read_text().splitlines()]
    assert len(lines) == st.frames_shown
    assert all(r["ai_age_ms"] is None or r["ai_age_ms"] >= 0 for r in lines)


def test_stream_lost_shows_no_signal_and_reconnects(short_video, tiny_cascade, tmp_path):
    import threading
    import time

    port = free_udp_port()
    first = UdpServer(short_video, port, seconds=3).start()

    def second_later():
        first.join()
        time.sleep(7.0)  # the cable is out for 7 s: longer than the stream's 5 s read timeout
        second.start()

    second = UdpServer(short_video, port, seconds=4)
    threading.Thread(target=second_later, daemon=True).start()
    report, pipe = replay(f"udp://127.0.0.1:{port}", out=tmp_path / "live", cascade=tiny_cascade,
                          max_seconds=16, reconnect_s=30)
    second.stop.set()
    second.join()
    lines = [json.loads(x) for x in (tmp_path / "live" / "frames.jsonl").read_text().splitlines()]
    assert pipe.stats.no_signal_frames > 0 and any(r["no_signal"] for r in lines)
    first_no_signal = next(i for i, r in enumerate(lines) if r["no_signal"])
    assert any(not r["no_signal"] and r["i"] >= 0 for r in lines[first_no_signal:])  # frames came back
    assert pipe.stats.reconnects >= 1
