"""The SQL of the standard formats' export and import (routes/formats.py); the export's reading of one video is
formats.load_video."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb


def read_only_snapshot(conn: psycopg.Connection) -> None:
    """The rest of the transaction reads one snapshot and writes nothing: an export is consistent across videos."""
    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")


def all_video_ids(conn: psycopg.Connection) -> list[str]:
    """Every video, by filename."""
    return [r[0] for r in conn.execute("SELECT id FROM videos ORDER BY filename")]


def review_states(conn: psycopg.Connection, ids: list[str]) -> dict[str, tuple[bool, list[str]]]:
    """For each video of `ids` there is: (its review is done (0063's video_is_accepted), its assignments' states)."""
    return {row[0]: (row[1], row[2]) for row in conn.execute(
        "SELECT v.id, video_is_accepted(v.id), coalesce((SELECT array_agg(a.state ORDER BY a.state) FROM assignments a"
        " WHERE a.video_id = v.id), '{}') FROM videos v WHERE v.id = ANY(%s)", (ids,))}


def lock_video(conn: psycopg.Connection, video_id: str) -> tuple[int | None, int | None, int | None] | None:
    """(width, height, frame count) of the video, its row locked until the transaction ends; None: no such video."""
    row = conn.execute("SELECT width, height, frame_count FROM videos WHERE id = %s FOR UPDATE", (video_id,)).fetchone()
    return (row[0], row[1], row[2]) if row else None


def entity_types(conn: psycopg.Connection, persona_id: UUID) -> list[Any] | None:
    """The persona's ontology's entity types as stored; None: no such persona."""
    row = conn.execute("SELECT entity_types FROM ontologies WHERE persona_id = %s", (persona_id,)).fetchone()
    return row[0] if row else None


def videos_of_tracks(conn: psycopg.Connection, ids: list[str]) -> dict[str, str]:
    """Track id -> its video, for those of `ids` that exist."""
    return {str(r[0]): r[1] for r in conn.execute("SELECT id, video_id FROM annotations WHERE id = ANY(%s::uuid[])",
                                                   (ids,))}


def upsert_tracks(conn: psycopg.Connection, video_id: str, rows: list[dict[str, Any]]) -> None:
    """Write the tracks (id, persona_id, type, label, frames, source, attributes) into the video, replacing those of
    the same id in that video; a track of the same id in another video is left alone."""
    conn.execute(
        "INSERT INTO annotations (id, video_id, persona_id, type, label, frames, source, attributes)"
        " SELECT r.id, %s, r.persona_id, r.type, r.label, r.frames, r.source, r.attributes FROM jsonb_to_recordset(%s)"
        " AS r(id uuid, persona_id uuid, type text, label text, frames jsonb, source text, attributes jsonb)"
        " ON CONFLICT (id) DO UPDATE SET type = excluded.type, label = excluded.label, frames = excluded.frames,"
        " source = excluded.source, attributes = excluded.attributes, updated_at = now()"
        " WHERE annotations.video_id = excluded.video_id", (video_id, Jsonb(rows)))


def set_entity_types(conn: psycopg.Connection, persona_id: UUID, types: list[dict[str, Any]]) -> None:
    conn.execute("UPDATE ontologies SET entity_types = %s, updated_at = now() WHERE persona_id = %s",
                 (Jsonb(types), persona_id))
