"""The SQL of the world state (routes/world.py): one row of JSON lists, read whole or locked for a write, and what in
the annotations refers to its objects."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from fovea_backend import render, tracks

FIELDS = ("entities", "events", "times", "locations", "collections", "relations")


def world_json(conn: psycopg.Connection) -> tuple[str, int]:
    """(the world as WorldOut's JSON, its revision)."""
    row = conn.execute(f"SELECT {render.WORLD}::text, w.revision FROM world_state w WHERE id = 1").fetchone()
    assert row is not None, "migration 0001 creates the world row"
    return row[0], row[1]


def locked_lists(conn: psycopg.Connection) -> tuple[Any, ...]:
    """The world's lists in FIELDS order, its row locked until the transaction ends: world writes serialise here."""
    row = conn.execute(f"SELECT {', '.join(FIELDS)} FROM world_state WHERE id = 1 FOR UPDATE").fetchone()
    assert row is not None, "migration 0001 creates the world row"
    return tuple(row)


def locked_revision(conn: psycopg.Connection) -> int | None:
    row = conn.execute("SELECT revision FROM world_state WHERE id = 1 FOR UPDATE").fetchone()
    return row[0] if row else None


def store_list(conn: psycopg.Connection, kind: str, items: list[dict[str, Any]]) -> int:
    """Write one of the lists (kind: one of FIELDS, never input); the world's revision after it."""
    assert kind in FIELDS
    conn.execute(f"UPDATE world_state SET {kind} = %s, updated_at = now() WHERE id = 1", (Jsonb(items),))
    revision = conn.execute("SELECT revision FROM world_state WHERE id = 1").fetchone()
    return revision[0] if revision else 0


def replace_all(conn: psycopg.Connection, values: list[Any]) -> None:
    """Every list at once, in FIELDS order."""
    conn.execute("UPDATE world_state SET entities = %s, events = %s, times = %s, locations = %s, collections = %s,"
                 " relations = %s, updated_at = now() WHERE id = 1", tuple(Jsonb(v) for v in values))


def ontology_lists(conn: psycopg.Connection, persona_id: Any) -> tuple[Any, Any, Any, Any] | None:
    """A persona's entity, event, role and relation types (semantics.Ontology.of takes them)."""
    row = conn.execute("SELECT entity_types, event_types, role_types, relation_types FROM ontologies WHERE persona_id = %s",
                       (str(persona_id),)).fetchone()
    return (row[0], row[1], row[2], row[3]) if row else None


def persona_types(conn: psycopg.Connection, persona_id: Any, column: str) -> tuple[Any] | None:
    """(one list of a persona's ontology,), column: "entity_types" or "event_types" (a constant, never input)."""
    assert column in ("entity_types", "event_types")
    row = conn.execute(f"SELECT {column} FROM ontologies WHERE persona_id = %s", (str(persona_id),)).fetchone()
    return (row[0],) if row else None


def frame_count(conn: psycopg.Connection, video_id: str) -> tuple[int | None] | None:
    """(the video's frame count,), or None: no such video."""
    row = conn.execute("SELECT frame_count FROM videos WHERE id = %s", (video_id,)).fetchone()
    return (row[0],) if row else None


def entity_tracks(conn: psycopg.Connection, entity_id: str) -> tuple[int, int]:
    """(tracks linked to the entity, the videos they are in)."""
    row = conn.execute("SELECT count(*), count(DISTINCT video_id) FROM annotations WHERE entity_id = %s",
                       (entity_id,)).fetchone()
    return (row[0], row[1]) if row else (0, 0)


def entity_in_annotations(conn: psycopg.Connection, entity_id: str) -> tuple[int, int]:
    """(annotated event roles, annotated relations) naming the entity."""
    ref = Jsonb({"kind": "entity", "id": entity_id})
    row = conn.execute("SELECT (SELECT count(*) FROM annotation_events e, jsonb_each(e.roles) r WHERE r.value @> %s),"
                       " (SELECT count(*) FROM annotation_relations WHERE source = %s OR target = %s)",
                       (Jsonb([{"kind": "entity", "id": entity_id}]), ref, ref)).fetchone()
    return (row[0], row[1]) if row else (0, 0)


def appearances_sql(one_entity: bool) -> str:
    """Each track linked to an entity (or to %(entity)s), one JSON row `j` each (AppearanceOut)."""
    where = "a.entity_id = %(entity)s" if one_entity else "a.entity_id IS NOT NULL"
    return ("SELECT json_build_object('entityId', a.entity_id, 'videoId', a.video_id, 'filename', v.filename,"
            " 'trackId', a.id, 'label', a.label, 'type', a.type, 'personaId', a.persona_id,"
            " 'fps', v.fps, 'startFrame', (a.frames->0->>'frame')::bigint,"
            f" 'endFrame', {tracks.LAST_FRAME_SQL}) AS j FROM annotations a JOIN videos v ON v.id = a.video_id"
            f" WHERE {where} ORDER BY v.filename, (a.frames->0->>'frame')::bigint")
