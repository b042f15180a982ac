"""A batch worker: one Ray actor per worker, the model loaded once, one task per procedure,
each through the same code as `livescope run` (`run_source`), single-threaded so that workers
do not fight over cores."""

from __future__ import annotations

import os
import time
from pathlib import Path

# Threads per worker: one for the model, the decoder and OpenCV (set before they load).
WORKER_ENV = {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1", "OMP_NUM_THREADS": "1",
              "LIVESCOPE_DECODE_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}


class ProcedureWorker:
    def __init__(self, bundle: str, engine: str = "auto"):
        os.environ.update(WORKER_ENV)
        import cv2

        cv2.setNumThreads(1)
        from livescope import tfenv

        tfenv.quiet_environment()
        from livescope.models.cascade import Cascade

        self.cascade = Cascade(bundle, engine=engine)

    def analyse(self, procedure: dict, out_root: str, video: bool = True, analyze_every: int = 1) -> dict:
        """Analyse one procedure into OUT/<id>/; never raises for a bad video (it is a result)."""
        from livescope.archive.manifest import content_hash
        from livescope.errors import LivescopeError
        from livescope.runs.session import run_source

        t0 = time.perf_counter()
        base = {"id": procedure["id"], "source": procedure["source"], "worker_pid": os.getpid()}
        try:
            # The driver hashed the file to decide what to skip; reading a long video twice costs minutes.
            digest = procedure.get("content_hash") or content_hash(procedure["source"])
            report, pipe = run_source(procedure["source"], out=Path(out_root) / procedure["id"], cascade=self.cascade,
                                      record=video, analyze_every=analyze_every, progress=False,
                                      source_name=procedure["id"])
            s = report["summary"]
            # A cut file is analysed up to the cut: "partial", with where it ended as the reason.
            return {**base, "status": "partial" if s.get("ended_early") else "done", "error": s.get("ended_early"),
                    "content_hash": digest, "duration_s": s["duration_s"], "frames": s["frames"],
                    "episodes": report["episodes"], "wall_s": round(time.perf_counter() - t0, 3)}
        except LivescopeError as exc:
            error = exc.one_line()
        except OSError as exc:
            error = f"error: cannot read {procedure['source']} ({exc.strerror or exc})"
        except Exception as exc:  # noqa: BLE001 - a broken file must not stop the archive
            error = f"error: analysis failed ({type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''})"
        return {**base, "status": "failed", "error": error, "wall_s": round(time.perf_counter() - t0, 3)}
