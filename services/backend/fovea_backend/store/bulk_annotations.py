"""The SQL of a video's annotation document (routes/bulk_annotations.py): reading it whole at one revision, and the
bulk save's checks and writes of tracks, events and relations (kinds and their columns: merge.KINDS)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from fovea_backend import render
from fovea_backend.merge import KINDS, Kind
from fovea_backend.persona_scope import PersonaScope

UPSERT_SQL = """
INSERT INTO annotations (id, video_id, persona_id, type, label, frames, source, confidence, entity_id, attributes, locked)
SELECT r.id, %s, r.persona_id, r.type, r.label, r.frames, r.source, r.confidence, r.entity_id, r.attributes, r.locked
  FROM jsonb_to_recordset(%s) AS r(id uuid, persona_id uuid, type text, label text, frames jsonb, source text,
                                    confidence double precision, entity_id text, attributes jsonb, locked boolean)
ON CONFLICT (id) DO UPDATE SET persona_id = excluded.persona_id, type = excluded.type, label = excluded.label,
    frames = excluded.frames, source = excluded.source, confidence = excluded.confidence,
    entity_id = excluded.entity_id, attributes = excluded.attributes, locked = excluded.locked, updated_at = now()
  WHERE annotations.video_id = excluded.video_id
RETURNING id"""

# The objects a save named, as stored now, by kind, in request order (rendered by PostgreSQL, like the list).
_NAMED = "(SELECT coalesce(json_agg({render} ORDER BY u.ord), '[]') FROM unnest(%s::uuid[]) WITH ORDINALITY AS u(id, ord)" \
         " JOIN {table} {alias} ON {alias}.id = u.id)::text"
SAVED_SQL = (f"SELECT v.annotation_rev, {_NAMED.format(render=render.ANNOTATION, table='annotations', alias='a')},"
             f" {_NAMED.format(render=render.EVENT, table='annotation_events', alias='e')},"
             f" {_NAMED.format(render=render.RELATION, table='annotation_relations', alias='r')}"
             " FROM videos v WHERE v.id = %s")


def _columns(kind: Kind) -> list[tuple[str, str]]:
    return [(spec.column, spec.sql_type) for spec in kind.fields.values()] + ([("frames", "jsonb")] if kind.keyframes else [])


def _create_sql(kind: Kind) -> str:
    columns = _columns(kind)
    record = ", ".join(f"{column} {sql_type}" for column, sql_type in columns)
    return (f"INSERT INTO {kind.table} (id, video_id, {', '.join(c for c, _ in columns)})"
            f" SELECT r.id, %s, {', '.join(f'r.{c}' for c, _ in columns)} FROM jsonb_to_recordset(%s) AS r(id uuid, {record})"
            " ON CONFLICT (id) DO NOTHING RETURNING id")


def _update_sql(kind: Kind) -> str:
    columns = _columns(kind)
    record = ", ".join(f"{column} {sql_type}" for column, sql_type in columns)
    return (f"UPDATE {kind.table} a SET {', '.join(f'{c} = r.{c}' for c, _ in columns)}, updated_at = now()"
            f" FROM jsonb_to_recordset(%s) AS r(id uuid, {record}) WHERE a.id = r.id AND a.video_id = %s")


def _current_sql(kind: Kind) -> str:
    frames = "frames" if kind.keyframes else "'[]'::jsonb"
    return (f"SELECT id, video_id, {', '.join(spec.column for spec in kind.fields.values())}, {frames}, version"
            f" FROM {kind.table} WHERE id = ANY(%s) ORDER BY id FOR UPDATE")


CREATE_SQL = {name: _create_sql(kind) for name, kind in KINDS.items()}
UPDATE_SQL = {name: _update_sql(kind) for name, kind in KINDS.items()}
CURRENT_SQL = {name: _current_sql(kind) for name, kind in KINDS.items()}


def _document_sql(scope: PersonaScope | None) -> str:
    def where(alias: str) -> str:
        return f"{alias}.video_id = v.id" + (f" AND {scope.condition(alias)}" if scope else "")
    return f"""
SELECT v.annotation_rev, json_build_object('revision', v.annotation_rev,
  'tracks', (SELECT coalesce(json_agg({render.ANNOTATION} ORDER BY a.created_at, a.id), '[]') FROM annotations a
              WHERE {where('a')}),
  'events', (SELECT coalesce(json_agg({render.EVENT} ORDER BY e.created_at, e.id), '[]') FROM annotation_events e
              WHERE {where('e')}),
  'relations', (SELECT coalesce(json_agg({render.RELATION} ORDER BY r.created_at, r.id), '[]') FROM annotation_relations r
                 WHERE {where('r')}))::text
  FROM videos v WHERE v.id = %(video)s"""


DOCUMENT_SQL = _document_sql(None)
SCOPED_DOCUMENT_SQL = _document_sql(PersonaScope(None))  # the condition is the same for every persona: a parameter


def lock_video(conn: psycopg.Connection, video_id: str) -> tuple[int, int | None, int | None, int | None] | None:
    """The video's revision, width, height and frame count, its row locked until the transaction ends."""
    row = conn.execute("SELECT annotation_rev, width, height, frame_count FROM videos WHERE id = %s FOR UPDATE",
                       (video_id,)).fetchone()
    return (row[0], row[1], row[2], row[3]) if row else None


def revision(conn: psycopg.Connection, video_id: str) -> int | None:
    row = conn.execute("SELECT annotation_rev FROM videos WHERE id = %s", (video_id,)).fetchone()
    return row[0] if row else None


def document(conn: psycopg.Connection, video_id: str, scope: PersonaScope | None) -> tuple[int, str] | None:
    """(revision, the document's JSON) in one snapshot, of every persona or the scope's."""
    row = conn.execute(SCOPED_DOCUMENT_SQL if scope else DOCUMENT_SQL,
                       {"video": video_id, "persona": scope.persona_id if scope else None}).fetchone()
    return (row[0], row[1]) if row else None


def known_personas(conn: psycopg.Connection, ids: list[UUID]) -> set[UUID]:
    return {row[0] for row in conn.execute("SELECT id FROM personas WHERE id = ANY(%s)", (ids,))}


def tracks_of_other_videos(conn: psycopg.Connection, ids: list[UUID], video_id: str) -> list[tuple[UUID, str]]:
    """(id, its video) of those tracks that belong to another video."""
    return [(row[0], row[1]) for row in conn.execute(
        "SELECT id, video_id FROM annotations WHERE id = ANY(%s) AND video_id <> %s", (ids, video_id))]


def track_personas(conn: psycopg.Connection, ids: list[UUID], video_id: str) -> list[tuple[UUID, UUID | None]]:
    """(id, persona) of those tracks that belong to this video."""
    return [(row[0], row[1]) for row in conn.execute(
        "SELECT id, persona_id FROM annotations WHERE id = ANY(%s) AND video_id = %s", (ids, video_id))]


def upsert_tracks(conn: psycopg.Connection, video_id: str, rows: Jsonb) -> set[UUID]:
    """The ids written (a track of another video with one of the ids is left alone, and its id is missing here)."""
    return {row[0] for row in conn.execute(UPSERT_SQL, (video_id, rows))}


def saved(conn: psycopg.Connection, video_id: str, ids: dict[str, list[UUID]]) -> tuple[int, str, str, str]:
    """The revision now and the named tracks, events and relations as stored (JSON lists, in request order)."""
    row = conn.execute(SAVED_SQL, (ids["track"], ids["event"], ids["relation"], video_id)).fetchone()
    assert row is not None
    return row[0], row[1], row[2], row[3]


def current_objects(conn: psycopg.Connection, kind: str, ids: list[UUID]) -> list[tuple[Any, ...]]:
    """(id, video id, each of the kind's field columns, frames, version) of the named objects, locked."""
    return [tuple(row) for row in conn.execute(CURRENT_SQL[kind], (ids,))]


def tombstones(conn: psycopg.Connection, ids: list[UUID], video_id: str) -> dict[UUID, int]:
    """The revision each of these objects of this video was deleted at."""
    return dict(conn.execute("SELECT id, deleted_rev FROM annotation_tombstones WHERE id = ANY(%s) AND video_id = %s",
                             (ids, video_id)).fetchall())


def world_entities(conn: psycopg.Connection) -> dict[str, dict[str, Any]]:
    row = conn.execute("SELECT entities FROM world_state WHERE id = 1").fetchone()
    return {str(e["id"]): e for e in (row[0] if row else []) if isinstance(e, dict) and "id" in e}


def ontology_lists(conn: psycopg.Connection, persona_id: str) -> tuple[Any, Any, Any, Any] | None:
    """A persona's entity, event, role and relation types (semantics.Ontology.of takes them)."""
    row = conn.execute("SELECT entity_types, event_types, role_types, relation_types FROM ontologies"
                       " WHERE persona_id = %s", (persona_id,)).fetchone()
    return (row[0], row[1], row[2], row[3]) if row else None


def type_and_label(conn: psycopg.Connection, kind: str, ident: UUID, video_id: str) -> tuple[str, str] | None:
    row = conn.execute(f"SELECT type, label FROM {KINDS[kind].table} WHERE id = %s AND video_id = %s",
                       (ident, video_id)).fetchone()
    return (row[0], row[1]) if row else None


def delete_objects(conn: psycopg.Connection, kind: str, video_id: str, ids: list[UUID]) -> None:
    conn.execute(f"DELETE FROM {KINDS[kind].table} WHERE video_id = %s AND id = ANY(%s)", (video_id, ids))


def create_objects(conn: psycopg.Connection, kind: str, video_id: str, rows: Jsonb) -> set[UUID]:
    """The ids inserted (one taken meanwhile is missing here)."""
    return {row[0] for row in conn.execute(CREATE_SQL[kind], (video_id, rows))}


def update_objects(conn: psycopg.Connection, kind: str, video_id: str, rows: Jsonb) -> None:
    conn.execute(UPDATE_SQL[kind], (rows, video_id))
