"""`livescope batch SOURCES... --out DIR`: many recorded procedures on Ray, results in DuckDB.

Locally a Ray instance with N workers is started for the run and listens on 127.0.0.1 only (a
hospital PC must not open ports to its network for a local batch); `--address auto|ray://...`
uses an existing cluster (the bundle, the videos and DIR must then be on storage every node
sees). Running the same command again skips procedures already done with the same model (the
video's content hash and the bundle's fingerprint) and retries the failed ones. A worker that
dies has its procedure retried on another worker. Ctrl-C leaves the database consistent: each
procedure is written in one transaction."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from livescope import __version__
from livescope.errors import LivescopeError

MAX_ATTEMPTS = 3  # a procedure whose worker died this many times is recorded as failed


def bundle_fingerprint(bundle: Path) -> str:
    h = hashlib.sha256()
    for name in ("model.keras", "card.json"):
        with open(bundle / name, "rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                h.update(block)
    return h.hexdigest()[:20]


def _need(module: str):
    try:
        return __import__(module)
    except ImportError:
        raise LivescopeError(f"livescope batch needs {module}, which is not installed",
                             "install the archive extra: pip install -e \".[archive]\"") from None


def start_ray(address: str | None, workers: int):
    if not address:
        # Every process of the local instance listens on loopback only (checked in the tests):
        # Ray reads this before it starts its processes, and they inherit it.
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    ray = _need("ray")
    if address:
        ray.init(address=address, log_to_driver=False, configure_logging=False)
    else:
        # Ray reads the variable when it is first imported; this process may have imported it
        # earlier, so its own copy of the setting is set too.
        from ray._private import ray_constants

        ray_constants.ENABLE_RAY_CLUSTER = False
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, configure_logging=False,
                 _node_ip_address="127.0.0.1")
    return ray


class _Progress:
    """One bar over procedures (frames a second in its postfix), one line per finished procedure."""

    def __init__(self, total: int):
        from tqdm import tqdm

        self.bar = tqdm(total=total, unit="procedure", desc="archive", file=sys.stderr, mininterval=1.0)
        self.frames = 0
        self.video_s = 0.0
        self.t0 = time.monotonic()

    def finished(self, r: dict) -> None:
        if r["status"] != "failed":
            self.frames += r["frames"]
            self.video_s += r["duration_s"]
            grades = [e.get("grade") for e in r["episodes"]]
            line = (f"{r['status']} {r['id']}: {r['duration_s']:.0f} s of video, {len(grades)} episode(s)"
                    + (f" ({', '.join(str(g) for g in grades)})" if grades else "")
                    + f", {r['frames'] / max(r['wall_s'], 1e-9):.0f} frames/s"
                    + (f"; {r['error']}" if r.get("error") else ""))
        else:
            line = f"failed {r['id']}: {r['error'].removeprefix('error: ')}"
        self.bar.write(line)
        self.bar.update(1)
        self.bar.set_postfix_str(f"{self.frames / max(time.monotonic() - self.t0, 1e-9):.0f} frames/s")

    def close(self) -> None:
        self.bar.close()


def _hashes(procedures) -> dict[str, str | None]:
    from livescope.archive.manifest import content_hash

    def one(p):
        try:
            return p.id, content_hash(p.source)
        except OSError:
            return p.id, None  # unreadable: the worker records why

    with ThreadPoolExecutor(4) as pool:
        return dict(pool.map(one, procedures))


def run_batch(sources: list[str], out: str | Path, model: str | None = None, workers: int | None = None,
              address: str | None = None, video: bool = True, analyze_every: int = 1, engine: str = "auto") -> dict:
    from livescope.archive.manifest import collect
    from livescope.archive.store import ArchiveStore
    from livescope.archive.worker import WORKER_ENV, ProcedureWorker
    from livescope.card import model_name, read_card, resolve_bundle

    procedures = collect(sources)
    bundle = resolve_bundle(model).resolve()
    card = read_card(bundle)
    fingerprint = bundle_fingerprint(bundle)
    _need("duckdb")
    store = ArchiveStore(out)
    hashes = _hashes(procedures)
    todo = [p for p in procedures if not (hashes[p.id] and store.done(p.id, hashes[p.id], fingerprint))]
    skipped = len(procedures) - len(todo)
    print(f"{len(procedures)} procedure(s): {skipped} already done with this model, {len(todo)} to analyse")
    stats = {"procedures": len(procedures), "skipped": skipped, "analysed": 0, "failed": 0, "video_s": 0.0,
             "frames": 0, "wall_s": 0.0, "workers": 0, "interrupted": False}
    if not todo:
        store.export()
        store.close()
        return stats
    n = max(1, min(workers or os.cpu_count() or 1, len(todo)))
    t0 = time.monotonic()
    ray = start_ray(address, n)
    remote_worker = ray.remote(num_cpus=1, max_restarts=0, runtime_env={"env_vars": WORKER_ENV})(ProcedureWorker)

    def new_actor():
        return remote_worker.remote(str(bundle), engine)

    actors = [new_actor() for _ in range(n)]
    stats["workers"] = n
    queue = [(p, 1) for p in todo]
    running: dict = {}  # ObjectRef -> (actor, procedure, attempt)
    idle = list(actors)
    progress = _Progress(len(todo))
    t_work = time.monotonic()
    try:
        while queue or running:
            while queue and idle:
                proc, attempt = queue.pop(0)
                actor = idle.pop(0)
                task = {"id": proc.id, "source": proc.source, "content_hash": hashes[proc.id]}
                ref = actor.analyse.remote(task, str(out), video, analyze_every)
                running[ref] = (actor, proc, attempt)
            done, _ = ray.wait(list(running), num_returns=1)
            ref = done[0]
            actor, proc, attempt = running.pop(ref)
            try:
                result = ray.get(ref)
                idle.append(actor)
            except ray.exceptions.RayActorError:
                # The worker process died (killed, out of memory): a fresh worker, and the
                # procedure goes back in the queue for whichever worker is free next.
                idle.append(new_actor())
                if attempt < MAX_ATTEMPTS:
                    queue.insert(0, (proc, attempt + 1))
                    progress.bar.write(f"worker died on {proc.id}; retrying it on another worker")
                    continue
                result = {"id": proc.id, "source": proc.source, "status": "failed", "wall_s": 0.0,
                          "error": f"error: the worker died {attempt} times on this procedure"}
            result["attempts"] = attempt
            store.record(result, model_name(card), fingerprint, __version__)
            progress.finished(result)
            _count(stats, result)
    except KeyboardInterrupt:
        stats["interrupted"] = True
        for ref in running:
            ray.cancel(ref, force=True)
    finally:
        progress.close()
        stats["wall_s"] = round(time.monotonic() - t_work, 2)
        stats["setup_s"] = round(t_work - t0, 2)
        store.export()
        store.close()
        ray.shutdown()
    return stats


def _count(stats: dict, result: dict) -> None:
    if result["status"] == "failed":
        stats["failed"] += 1
        return
    stats["analysed"] += 1
    stats["video_s"] += result["duration_s"]
    stats["frames"] += result["frames"]


def throughput(stats: dict) -> dict:
    """Real-time factors from a batch's own run, and what they would mean for a large archive
    (an extrapolation, said to be one)."""
    if not stats.get("analysed") or not stats.get("wall_s"):
        return {}
    overall = stats["video_s"] / stats["wall_s"]
    per_worker = overall / max(1, stats["workers"])
    archive_s = 4000 * 20 * 60
    return {"realtime_factor": round(overall, 2), "realtime_factor_per_worker": round(per_worker, 2),
            "procedures_per_hour": round(stats["analysed"] / stats["wall_s"] * 3600, 1),
            "extrapolated_hours_4000x20min_per_100_cores": round(archive_s / (per_worker * 100) / 3600, 2)}


def print_summary(folder: str | Path) -> int:
    from livescope.archive.store import ArchiveStore

    path = Path(folder) / "archive.duckdb"
    if not path.exists():
        raise LivescopeError(f"{path} does not exist", "give the --out folder of a `livescope batch` run")
    _need("duckdb")
    store = ArchiveStore(folder)
    s = store.summary()
    store.close()
    print(f"procedures: {s['done']} done, {s['partial']} partial (the file ended early), {s['failed']} failed; "
          f"{s['video_hours']:.2f} h of video analysed")
    print("highest grade per procedure: " + (", ".join(f"{k} {v}" for k, v in s["procedures_by_highest_grade"].items())
                                             or "none"))
    print("episodes by grade: " + (", ".join(f"{k} {v}" for k, v in s["episodes_by_grade"].items()) or "none"))
    for pid, error in s["failures"]:
        print(f"failed {pid}: {str(error).removeprefix('error: ')}")
    return 0


def run_batch_command(args) -> int:
    if args.summary:
        return print_summary(args.summary)
    if not args.sources or not args.out:
        raise LivescopeError("batch needs SOURCES and --out DIR", "or --summary DIR for the overview of a finished batch")
    stats = run_batch(args.sources, args.out, args.model, args.workers, args.address, video=not args.no_video,
                      analyze_every=args.analyze_every, engine=args.engine)
    t = throughput(stats)
    stats["throughput"] = t
    (Path(args.out) / "batch-run.json").write_text(json.dumps(stats, indent=2))
    if t:
        print(f"{stats['analysed']} analysed, {stats['failed']} failed in {stats['wall_s']:.0f} s with "
              f"{stats['workers']} worker(s): {t['realtime_factor']:.1f}x real time "
              f"({t['realtime_factor_per_worker']:.1f}x per worker), {t['procedures_per_hour']:.0f} procedures an hour")
        print(f"extrapolation from this run: a 4,000-procedure archive of 20-minute videos would take about "
              f"{t['extrapolated_hours_4000x20min_per_100_cores']:.1f} h on 100 such cores")
    elif stats["failed"]:
        print(f"{stats['failed']} failed (see `livescope batch --summary {args.out}`)")
    print_summary(args.out)
    if stats["interrupted"]:
        print("interrupted: finished procedures are saved; run the same command again to go on", file=sys.stderr)
        return 130
    return 0
