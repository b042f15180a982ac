"""Faults: killed mid-recording, clean stops on SIGINT/SIGTERM, a full disk."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest

from livescope.runs.session import run_source as replay


def _start_run(video, bundle, out, extra=()):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "livescope.cli", "run", str(video), "--model", str(bundle),
                             "--no-window", "--realtime", "--out", str(out), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _wait_for_lines(path: Path, n: int, timeout: float = 90) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if path.exists() and len(path.read_text().splitlines()) >= n:
            return
        time.sleep(0.2)
    raise AssertionError(f"{path} did not reach {n} lines")


def _decoded_frames(path: Path) -> int:
    n = 0
    try:
        with av.open(str(path)) as c:
            for _ in c.decode(video=0):
                n += 1
    except av.error.FFmpegError:
        pass  # a cut last fragment: count what decoded
    return n


def test_sigkill_keeps_the_recording_and_every_complete_line(short_video, tiny_bundles, tmp_path):
    out = tmp_path / "killed"
    proc = _start_run(short_video, tiny_bundles["cascade"], out)
    _wait_for_lines(out / "frames.jsonl", 60)  # 4 s of a 15 fps file played as live
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    lines = (out / "frames.jsonl").read_text().splitlines()
    complete = []
    for ln in lines:
        try:
            complete.append(json.loads(ln))
        except json.JSONDecodeError:
            assert ln is lines[-1]  # only the very last line may be cut
    shown = len(complete)
    frames = _decoded_frames(out / "annotated.mp4")
    # Fragmented MP4 with a keyframe a second: at most about one second (15 frames) lost.
    assert frames >= shown - 15 - 8, (frames, shown)  # 8: frames still queued for the encoder
    assert frames > 0


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_sigint_and_sigterm_finish_files_cleanly(short_video, tiny_bundles, tmp_path, sig):
    out = tmp_path / f"sig{int(sig)}"
    proc = _start_run(short_video, tiny_bundles["cascade"], out)
    _wait_for_lines(out / "frames.jsonl", 30)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    report = json.loads((out / "report.json").read_text())
    lines = [json.loads(x) for x in (out / "frames.jsonl").read_text().splitlines()]
    assert report["summary"]["frames"] == len(lines) < 120
    assert _decoded_frames(out / "annotated.mp4") == len(lines)  # the whole recording, nothing lost
    assert (out / "report.html").exists()


def _small_fs(tmp_path: Path, size: str = "3m") -> Path:
    mnt = tmp_path / "small"
    mnt.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("needs root and mount to make a small filesystem")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {r.stderr.decode().strip()}")
    return mnt


def test_disk_full_stops_recording_but_not_the_run(short_video, tiny_cascade, tmp_path, capsys):
    mnt = _small_fs(tmp_path, "150k")
    try:
        report, pipe = replay(str(short_video), out=mnt / "run", cascade=tiny_cascade, record_raw=True)
        st = pipe.stats
        truth = json.loads(short_video.with_suffix(".json").read_text())
        assert st.frames_shown == truth["frames"]  # the overlay went on to the end
        assert st.recording_error and "recording stopped" in st.recording_error
        assert "recording stopped" in capsys.readouterr().err
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
