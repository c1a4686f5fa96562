"""The SQL of single tracks (routes/annotations.py) and their history and restore (routes/history.py). Reads return
the JSON PostgreSQL renders (render.ANNOTATION); None where there is no such row."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from fovea_backend import render
from fovea_backend.db import fetch_json
from fovea_backend.persona_scope import PersonaScope
from fovea_backend.schemas import AnnotationBody

HISTORY_ENTRY = """json_build_object('id', h.id, 'version', h.version, 'op', h.op, 'at', h.at,
  'actor', (SELECT u.username FROM users u WHERE u.id = h.actor),
  'label', h.track->>'label', 'type', h.track->>'type', 'keyframes', jsonb_array_length(h.track->'frames'),
  'track', h.track - 'dedupe_key')"""
HISTORY_OF = f"SELECT {HISTORY_ENTRY} AS j FROM annotation_history h WHERE h.annotation_id = %s ORDER BY h.id DESC"

# The content a restore puts back: everything a change can set (merge.TRACK_FIELDS and the keyframes); not the
# bookkeeping (ids, job, timestamps, authors, version).
RESTORED_COLUMNS = ("persona_id", "type", "label", "frames", "source", "confidence", "entity_id", "attributes", "locked")


def track_json(conn: psycopg.Connection, annotation_id: Any) -> str | None:
    return fetch_json(conn, f"SELECT {render.ANNOTATION}::text FROM annotations a WHERE id = %s", (annotation_id,))


def video_size(conn: psycopg.Connection, video_id: str) -> tuple[int | None, int | None] | None:
    """(width, height) of the video, or None: no such video."""
    row = conn.execute("SELECT width, height FROM videos WHERE id = %s", (video_id,)).fetchone()
    return (row[0], row[1]) if row else None


def persona_exists(conn: psycopg.Connection, persona_id: UUID) -> bool:
    return conn.execute("SELECT 1 FROM personas WHERE id = %s", (persona_id,)).fetchone() is not None


def world_entity_exists(conn: psycopg.Connection, entity_id: str) -> bool:
    return conn.execute("SELECT 1 FROM world_state, jsonb_array_elements(entities) e WHERE e->>'id' = %s",
                        (entity_id,)).fetchone() is not None


def revision(conn: psycopg.Connection, video_id: str) -> int | None:
    row = conn.execute("SELECT annotation_rev FROM videos WHERE id = %s", (video_id,)).fetchone()
    return row[0] if row else None


def video_tracks(conn: psycopg.Connection, video_id: str, scope: PersonaScope | None) -> tuple[int, str] | None:
    """(revision, the video's tracks as a JSON list, oldest first) from one statement, i.e. one snapshot: a body
    cached under the revision matches it. Every persona's, or the scope's."""
    scoped = f" AND {scope.condition('a')}" if scope else ""
    row = conn.execute(
        f"SELECT v.annotation_rev, (SELECT coalesce(json_agg(q.j), '[]')::text FROM (SELECT {render.ANNOTATION} AS j"
        f" FROM annotations a WHERE a.video_id = v.id{scoped}"
        " ORDER BY a.created_at, a.id) q) FROM videos v WHERE v.id = %(video)s",
        {"video": video_id, "persona": scope.persona_id if scope else None},
    ).fetchone()
    return (row[0], row[1]) if row else None


def _frames(body: AnnotationBody) -> Jsonb:
    return Jsonb([kf.stored() for kf in body.frames])


def create(conn: psycopg.Connection, video_id: str, body: AnnotationBody) -> UUID:
    row = conn.execute(
        "INSERT INTO annotations (video_id, persona_id, type, label, frames, source, confidence, entity_id, attributes,"
        " locked) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (video_id, body.persona_id, body.type, body.label, _frames(body), body.source, body.confidence,
         body.entity_id, Jsonb(body.attributes), body.locked),
    ).fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def update(conn: psycopg.Connection, annotation_id: UUID, body: AnnotationBody) -> None:
    conn.execute(
        "UPDATE annotations SET persona_id = %s, type = %s, label = %s, frames = %s, source = %s, confidence = %s,"
        " entity_id = %s, attributes = %s, locked = %s, updated_at = now() WHERE id = %s",
        (body.persona_id, body.type, body.label, _frames(body), body.source, body.confidence, body.entity_id,
         Jsonb(body.attributes), body.locked, annotation_id),
    )


def delete(conn: psycopg.Connection, annotation_id: UUID) -> bool:
    """False: there was no such track."""
    return conn.execute("DELETE FROM annotations WHERE id = %s", (annotation_id,)).rowcount > 0


def video_of(conn: psycopg.Connection, annotation_id: UUID, lock: bool = False) -> str | None:
    """The track's video (the track row locked, when asked), or None: no such track."""
    row = conn.execute("SELECT video_id FROM annotations WHERE id = %s" + (" FOR UPDATE" if lock else ""),
                       (annotation_id,)).fetchone()
    return str(row[0]) if row else None


def lock_video(conn: psycopg.Connection, video_id: str) -> bool:
    """Lock the video's row until the transaction ends (saves of one video serialise on it); False: no such video."""
    return conn.execute("SELECT 1 FROM videos WHERE id = %s FOR UPDATE", (video_id,)).fetchone() is not None


def version_and_track(conn: psycopg.Connection, annotation_id: UUID) -> tuple[int, str, bool] | None:
    """(version, the track's JSON, locked) of the track, or None: no such track."""
    row = conn.execute(f"SELECT a.version, {render.ANNOTATION}::text, a.locked FROM annotations a WHERE id = %s",
                       (annotation_id,)).fetchone()
    return (row[0], row[1], row[2]) if row else None


def history_snapshot(conn: psycopg.Connection, annotation_id: UUID, version: int) -> tuple[str, Any] | None:
    """(video id, the track as stored at that version) from its history; None: no such (undeleted) version."""
    row = conn.execute("SELECT video_id, track FROM annotation_history WHERE annotation_id = %s AND version = %s"
                       " AND op <> 'delete' ORDER BY id DESC LIMIT 1", (annotation_id, version)).fetchone()
    return (row[0], row[1]) if row else None


def locked_flag(conn: psycopg.Connection, annotation_id: UUID) -> bool | None:
    """Whether the track is locked, its row locked until the transaction ends; None: it does not exist (now)."""
    row = conn.execute("SELECT locked FROM annotations WHERE id = %s FOR UPDATE", (annotation_id,)).fetchone()
    return bool(row[0]) if row else None


def restore(conn: psycopg.Connection, snapshot: Any) -> None:
    """Put a history snapshot's content back (a deleted track comes back). A persona deleted since is not brought
    back: the track keeps no persona, as when it was deleted."""
    columns = ", ".join(RESTORED_COLUMNS)
    updates = ", ".join(f"{c} = excluded.{c}" for c in RESTORED_COLUMNS)
    conn.execute(
        f"INSERT INTO annotations (id, video_id, {columns})"
        f" SELECT r.id, r.video_id, (SELECT p.id FROM personas p WHERE p.id = r.persona_id),"
        f" {', '.join('r.' + c for c in RESTORED_COLUMNS[1:])}"
        f" FROM jsonb_populate_record(NULL::annotations, %s) r"
        f" ON CONFLICT (id) DO UPDATE SET {updates}",
        (Jsonb(snapshot),))
