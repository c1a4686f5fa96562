#!/usr/bin/env python3
"""What recording who did what costs (migration 0061: authors as column defaults, update triggers, a history row per
content version): one INSERT of N tracks (20 keyframes each) and one UPDATE of all of them, with the authorship and
history triggers enabled and then disabled, on PostgreSQL from tests/backend/conftest.py. Best of --repeat runs.

    .venv/bin/python bench/history_cost.py [--tracks 10000] [--repeat 3] [--out bench/results/history_cost.json]
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import tempfile
import time
from pathlib import Path

import psycopg
from backend_container import ROOT, engine, write_report

from backend_harness import make_settings  # noqa: E402 - backend_container puts tests/backend on the path
from fovea_backend import migrate  # noqa: E402

# The authorship and history triggers (the author defaults cannot be switched off; they cost a function call a row).
TRIGGERS = ("annotations_author_keep", "annotations_version_author", "annotations_history_insert",
            "annotations_history_update", "annotations_history_delete")
VIDEO = "0123456789abcdef"


def _timed(conn: psycopg.Connection, tracks: int, repeat: int) -> dict[str, float]:
    frames = "[" + ",".join(f'{{"frame": {i}, "x": 1, "y": 2, "width": 3, "height": 4}}' for i in range(20)) + "]"
    inserts, updates = [], []
    for _ in range(repeat):
        conn.execute("DELETE FROM annotations")
        conn.execute("DELETE FROM annotation_history")
        started = time.perf_counter()
        conn.execute("INSERT INTO annotations (video_id, type, label, frames, source) SELECT %s, 't', 'l' || g, %s::jsonb,"
                     " 'manual' FROM generate_series(1, %s) g", (VIDEO, frames, tracks))
        inserts.append(time.perf_counter() - started)
        started = time.perf_counter()
        conn.execute("UPDATE annotations SET label = label || 'x'")
        updates.append(time.perf_counter() - started)
    return {"insert_ms": round(min(inserts) * 1000), "update_ms": round(min(updates) * 1000)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "history_cost.json")
    args = parser.parse_args()
    with engine.running_deps() as deps, tempfile.TemporaryDirectory() as tmp:
        files = {"admin_password": Path(tmp) / "admin_password", "session_secret": Path(tmp) / "session_secret"}
        for path in files.values():
            path.write_text(secrets.token_urlsafe(16))
        settings = make_settings(deps, files)
        migrate.run(settings)
        with psycopg.connect(**settings.db_kwargs(), autocommit=True) as conn:  # type: ignore[arg-type]
            row = conn.execute("INSERT INTO users (username, password_hash, role) VALUES ('bench', '-', 'annotator')"
                               " RETURNING id").fetchone()
            assert row is not None
            conn.execute("SELECT set_config('fovea.actor', %s, false)", (str(row[0]),))  # as the backend's pool does
            conn.execute("INSERT INTO videos (id, filename, path) VALUES (%s, 'v.mp4', 'v.mp4')", (VIDEO,))
            recorded = _timed(conn, args.tracks, args.repeat)
            for trigger in TRIGGERS:
                conn.execute(f"ALTER TABLE annotations DISABLE TRIGGER {trigger}")
            unrecorded = _timed(conn, args.tracks, args.repeat)
    report: dict[str, object] = {
        "tracks": args.tracks, "keyframes_per_track": 20, "repeat": args.repeat,
        "with_authorship_and_history": recorded, "without": unrecorded,
        "ratio": {k: round(recorded[k] / unrecorded[k], 2) for k in recorded},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "load_1m": round(os.getloadavg()[0], 1)},
    }
    print(report)
    return write_report(args.out, report)


if __name__ == "__main__":
    raise SystemExit(main())
