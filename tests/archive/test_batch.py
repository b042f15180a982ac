"""`livescope batch` on a real local Ray instance with two workers: short phantom procedures and
one corrupt file; the database, a rerun, a worker killed mid-run, the frames.jsonl of `livescope
run`, and no Ray port beyond loopback."""

import json
import subprocess
import sys
import threading
import time

import pytest

pytest.importorskip("ray", reason="the archive extra (ray, duckdb, pyarrow) is not installed")
duckdb = pytest.importorskip("duckdb")


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    from livescope.phantom.video import synth_video

    folder = tmp_path_factory.mktemp("procedures")
    synth_video(folder / "DOE_JANE_2024-03-01.mp4", seconds=8, fps=15, size="320x240", seed=11, episodes="Rf1",
                progress=False)
    synth_video(folder / "ROE_JOHN_2024-03-02.mp4", seconds=8, fps=15, size="320x240", seed=12, episodes="normal",
                progress=False)
    synth_video(folder / "long" / "SMITH_ANNA.mp4", seconds=120, fps=15, size="320x240", seed=13,
                episodes="Rf2,Rf0", progress=False)
    (folder / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 40)
    for truth in folder.rglob("*.json"):
        truth.unlink()  # only videos in the folder
    return folder


def _rows(out, sql):
    db = duckdb.connect(str(out / "archive.duckdb"), read_only=True)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def _kill_a_busy_worker(stop: threading.Event, killed: list) -> None:
    """Kill the Ray worker process that has the long procedure open (not whichever worker is busy:
    a short procedure may end before the kill lands, and then nothing is retried)."""
    import psutil

    while not stop.is_set() and not killed:
        for p in psutil.process_iter(["cmdline"]):
            if "ProcedureWorker" not in " ".join(p.info["cmdline"] or []):
                continue
            try:
                if any(f.path.endswith("SMITH_ANNA.mp4") for f in p.open_files()):
                    # At once: the procedure has just begun (it takes seconds). A pause here let a
                    # loaded machine finish it first, and the kill then hit an idle worker.
                    p.kill()
                    killed.append(p.pid)
                    return
            except psutil.Error:
                continue
        time.sleep(0.05)


def test_batch_on_a_local_ray_instance(videos, tiny_bundles, tmp_path):
    from livescope.archive.batch import run_batch

    out = tmp_path / "archive"
    stop, killed = threading.Event(), []
    killer = threading.Thread(target=_kill_a_busy_worker, args=(stop, killed), daemon=True)
    killer.start()
    stats = run_batch([str(videos)], out, model=str(tiny_bundles["cascade"]), workers=2, video=False)
    stop.set()
    assert killed, "no worker was killed: the test did not test the retry"
    assert stats["analysed"] == 3 and stats["failed"] == 1 and stats["workers"] == 2
    procs = {r[0]: r for r in _rows(out, "SELECT id, status, error, frames, attempts, source, episodes FROM procedures")}
    assert len(procs) == 4
    good = [r for r in procs.values() if r[1] == "done"]
    assert len(good) == 3 and all(r[3] > 0 for r in good)
    long = next(r for r in good if r[5].endswith("SMITH_ANNA.mp4"))
    assert long[4] >= 2  # the killed worker's procedure was retried, not lost
    bad = next(r for r in procs.values() if r[1] == "failed")
    assert bad[5].endswith("corrupt.mp4") and bad[2].startswith("error: ") and "\n" not in bad[2]
    # Ids are hashes of the paths: no patient name in any folder name.
    assert all(not any(name in str(p) for name in ("DOE", "ROE", "SMITH")) for p in out.iterdir())
    episodes = _rows(out, "SELECT procedure_id, grade, p_rf0, p_rf1, p_rf2, decision_delay_s FROM episodes")
    for pid, *_ in good:
        report = json.loads((out / pid / "report.json").read_text())
        assert len([e for e in episodes if e[0] == pid]) == len(report["episodes"])
        assert (out / pid / "frames.jsonl").exists() and not (out / pid / "annotated.mp4").exists()  # --no-video
    import pyarrow.parquet as pq

    assert pq.read_table(out / "procedures.parquet").num_rows == 4
    assert pq.read_table(out / "episodes.parquet").num_rows == len(episodes)
    # A rerun skips what is done with this model and retries the failed one.
    again = run_batch([str(videos)], out, model=str(tiny_bundles["cascade"]), workers=2, video=False)
    assert again["skipped"] == 3 and again["analysed"] == 0 and again["failed"] == 1
    r = subprocess.run([sys.executable, "-m", "livescope.cli", "batch", "--summary", str(out)], capture_output=True,
                       text=True)
    assert r.returncode == 0 and "procedures: 3 done, 0 partial (the file ended early), 1 failed" in r.stdout


def test_a_procedure_gives_the_frames_jsonl_of_livescope_run(videos, tiny_bundles, tmp_path):
    from livescope.archive.batch import run_batch
    from livescope.archive.manifest import path_id

    video = videos / "DOE_JANE_2024-03-01.mp4"
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(f"path,procedure_id\n{video},case-0001\n")
    run_batch([str(manifest)], tmp_path / "a", model=str(tiny_bundles["cascade"]), workers=1)
    r = subprocess.run([sys.executable, "-m", "livescope.cli", "run", str(video), "--model",
                        str(tiny_bundles["cascade"]), "--no-window", "--out", str(tmp_path / "run")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr

    def lines(path):
        rows = [json.loads(x) for x in path.read_text().splitlines()]
        for row in rows:
            for key in ("latency_ms", "ai_age_ms", "ai_ms"):  # timings, not results
                row.pop(key)
        return rows

    assert lines(tmp_path / "a" / "case-0001" / "frames.jsonl") == lines(tmp_path / "run" / "frames.jsonl")
    assert (tmp_path / "a" / "case-0001" / "annotated.mp4").exists()
    assert json.loads((tmp_path / "a" / "case-0001" / "report.json").read_text())["source"] == "case-0001"
    assert path_id(video) != "case-0001"


def test_the_local_ray_instance_listens_on_loopback_only(tiny_bundles):
    import psutil

    from livescope.archive.batch import start_ray

    ray = start_ray(None, 1)
    try:
        ray.get(ray.remote(lambda: 1).remote())
        listening = [c for c in psutil.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN and c.pid
                     and any(n in (psutil.Process(c.pid).name() + " ".join(psutil.Process(c.pid).cmdline()))
                             for n in ("ray", "raylet", "gcs_server"))]
        assert listening, "found no Ray process listening at all"
        assert all(c.laddr.ip in ("127.0.0.1", "::1", "::ffff:127.0.0.1") for c in listening), [c.laddr for c in listening]
    finally:
        ray.shutdown()
