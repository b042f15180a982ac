"""The archive's database: `DIR/archive.duckdb` (DuckDB, embedded, no server), tables
`procedures` and `episodes`, exported as Parquet beside it. One writer (the batch's driver);
each procedure is written in one transaction, so an interrupted batch leaves it consistent."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS procedures (
    id VARCHAR PRIMARY KEY,
    source VARCHAR,
    content_hash VARCHAR,
    duration_s DOUBLE,
    frames INTEGER,
    status VARCHAR,               -- done | partial (the file ended early) | failed
    error VARCHAR,                -- the one-line reason when failed
    model VARCHAR,
    model_fingerprint VARCHAR,
    livescope_version VARCHAR,
    analysed_at TIMESTAMP,
    retroflexion_s DOUBLE,        -- time in retroflexion
    highest_grade VARCHAR,        -- normal, hemorrhoid, Rf0, Rf1, Rf2, or NULL without an episode
    episodes INTEGER,
    wall_s DOUBLE,
    attempts INTEGER
);
CREATE TABLE IF NOT EXISTS episodes (
    procedure_id VARCHAR,
    episode INTEGER,
    start_s DOUBLE,
    end_s DOUBLE,
    grade VARCHAR,
    p_normal DOUBLE,
    p_hemorrhoid DOUBLE,
    p_rf0 DOUBLE,
    p_rf1 DOUBLE,
    p_rf2 DOUBLE,
    decision_delay_s DOUBLE,      -- from the start of the view to the first stable grade shown
    PRIMARY KEY (procedure_id, episode)
);
"""
GRADES = ("normal", "hemorrhoid", "Rf0", "Rf1", "Rf2")


class ArchiveStore:
    def __init__(self, folder: str | Path):
        import duckdb

        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / "archive.duckdb"
        self.db = duckdb.connect(str(self.path))
        self.db.execute(SCHEMA)

    def done(self, pid: str, content: str, model_fingerprint: str) -> bool:
        row = self.db.execute("SELECT 1 FROM procedures WHERE id = ? AND status IN ('done', 'partial') AND content_hash = ? "
                              "AND model_fingerprint = ?", [pid, content, model_fingerprint]).fetchone()
        return row is not None

    def record(self, result: dict, model: str, model_fingerprint: str, version: str) -> None:
        """One procedure's outcome, written whole or not at all."""
        episodes = result.get("episodes", [])
        grades = [e.get("grade") for e in episodes if e.get("grade") in GRADES]
        highest = max(grades, key=GRADES.index) if grades else None
        self.db.execute("BEGIN TRANSACTION")
        try:
            self.db.execute("DELETE FROM episodes WHERE procedure_id = ?", [result["id"]])
            self.db.execute("DELETE FROM procedures WHERE id = ?", [result["id"]])
            self.db.execute(
                "INSERT INTO procedures VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [result["id"], result["source"], result.get("content_hash"), result.get("duration_s"),
                 result.get("frames"), result["status"], result.get("error"), model, model_fingerprint, version,
                 _dt.datetime.now(_dt.UTC).replace(tzinfo=None), sum(e["duration_s"] for e in episodes) if episodes else 0.0,
                 highest, len(episodes), result.get("wall_s"), result.get("attempts", 1)])
            for e in episodes:
                pa, pb = e.get("p_A") or {}, e.get("p_B") or {}
                stable = e.get("first_stable_grade_s")
                self.db.execute("INSERT INTO episodes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                [result["id"], e["episode"], e["start_s"], e["end_s"], e.get("grade"),
                                 pa.get("normal"), pa.get("hemorrhoid"), pb.get("Rf0"), pb.get("Rf1"), pb.get("Rf2"),
                                 None if stable is None else round(stable - e["start_s"], 3)])
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def export(self) -> None:
        """Parquet copies of both tables, for tools that read files rather than databases."""
        for table in ("procedures", "episodes"):
            target = self.folder / f"{table}.parquet"
            self.db.execute(f"COPY (SELECT * FROM {table} ORDER BY 1, 2) TO '{target.as_posix()}' (FORMAT PARQUET)")

    def summary(self) -> dict:
        by_status = dict(self.db.execute("SELECT status, count(*) FROM procedures GROUP BY status").fetchall())
        by_grade = dict(self.db.execute("SELECT coalesce(grade, 'undetermined'), count(*) FROM episodes "
                                        "GROUP BY 1 ORDER BY 1").fetchall())
        highest = dict(self.db.execute("SELECT coalesce(highest_grade, 'no episode'), count(*) FROM procedures "
                                       "WHERE status <> 'failed' GROUP BY 1 ORDER BY 1").fetchall())
        failed = self.db.execute("SELECT id, error FROM procedures WHERE status = 'failed' ORDER BY id").fetchall()
        hours = self.db.execute("SELECT coalesce(sum(duration_s), 0) / 3600 FROM procedures WHERE status <> 'failed'"
                                ).fetchone()[0]
        return {"done": by_status.get("done", 0), "partial": by_status.get("partial", 0),
                "failed": by_status.get("failed", 0), "episodes_by_grade": by_grade,
                "procedures_by_highest_grade": highest, "failures": failed, "video_hours": round(float(hours), 3)}

    def close(self) -> None:
        self.db.close()
