"""The SQL of videos and of what each user keeps per video (routes/videos.py; `exists` for the routes under a
video). Reads of videos return the JSON PostgreSQL renders (render.VIDEO_OUT)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg

from fovea_backend import render
from fovea_backend.db import JsonText, fetch_json, json_list


def exists(conn: psycopg.Connection, video_id: str) -> bool:
    return conn.execute("SELECT 1 FROM videos WHERE id = %s", (video_id,)).fetchone() is not None


def list_json(conn: psycopg.Connection) -> JsonText:
    """Every video, by filename."""
    return json_list(conn, f"SELECT {render.VIDEO_OUT} AS j FROM videos v ORDER BY v.filename")


def video_json(conn: psycopg.Connection, video_id: str) -> str | None:
    return fetch_json(conn, f"SELECT {render.VIDEO_OUT}::text FROM videos v WHERE id = %s", (video_id,))


def path_of(conn: psycopg.Connection, video_id: str) -> str | None:
    """The video's file, relative to the video directory; None: no such video."""
    row = conn.execute("SELECT path FROM videos WHERE id = %s", (video_id,)).fetchone()
    return row[0] if row else None


def path_and_duration(conn: psycopg.Connection, video_id: str) -> tuple[str, float | None] | None:
    row = conn.execute("SELECT path, duration FROM videos WHERE id = %s", (video_id,)).fetchone()
    return (row[0], row[1]) if row else None


def lock_for_removal(conn: psycopg.Connection, video_id: str) -> tuple[str, str, int] | None:
    """(path, filename, number of tracks) of the video, its row locked until the transaction ends; None: no such
    video."""
    row = conn.execute("SELECT path, filename, (SELECT count(*) FROM annotations a WHERE a.video_id = v.id)"
                       " FROM videos v WHERE id = %s FOR UPDATE", (video_id,)).fetchone()
    return (row[0], row[1], row[2]) if row else None


def delete(conn: psycopg.Connection, video_id: str) -> None:
    """The video's row (its tracks and summaries go with it) and the history and tombstones of its tracks."""
    conn.execute("DELETE FROM videos WHERE id = %s", (video_id,))
    conn.execute("DELETE FROM annotation_tombstones WHERE video_id = %s", (video_id,))
    conn.execute("DELETE FROM annotation_history WHERE video_id = %s", (video_id,))


# What each user keeps per video (where they were, which tracks they hid): one row per user and video. Table and
# column names are constants of routes/videos.py, never input.
def user_pref(conn: psycopg.Connection, table: str, column: str, user_id: UUID, video_id: str) -> tuple[Any] | None:
    """(the user's value, None when they kept none); None: no such video."""
    row = conn.execute(f"SELECT (SELECT {column} FROM {table} p WHERE p.video_id = v.id AND p.user_id = %s)"
                       " FROM videos v WHERE v.id = %s", (user_id, video_id)).fetchone()
    return (row[0],) if row else None


def put_user_pref(conn: psycopg.Connection, table: str, column: str, user_id: UUID, video_id: str, value: Any) -> bool:
    """False: there is no such video (the transaction is then aborted: the caller answers 404 and rolls back)."""
    try:
        conn.execute(f"INSERT INTO {table} (user_id, video_id, {column}) VALUES (%s, %s, %s) ON CONFLICT"
                     f" (user_id, video_id) DO UPDATE SET {column} = excluded.{column}, updated_at = now()",
                     (user_id, video_id, value))
    except psycopg.errors.ForeignKeyViolation:
        return False
    return True


def view_prefs(conn: psycopg.Connection, user_id: UUID, video_id: str) -> tuple[list[Any] | None, UUID | None, bool] | None:
    """(hidden tracks, persona scope, all personas) the user keeps for the video, each None/false when unset; None:
    no such video."""
    row = conn.execute("SELECT p.hidden, p.persona_scope, coalesce(p.all_personas, false) FROM videos v LEFT JOIN"
                       " video_view_prefs p ON p.video_id = v.id AND p.user_id = %s WHERE v.id = %s",
                       (user_id, video_id)).fetchone()
    return (row[0], row[1], row[2]) if row else None
