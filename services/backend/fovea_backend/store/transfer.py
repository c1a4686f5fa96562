"""The SQL of export and import (transfer/): what an export reads, in one snapshot, and how each imported record is
written (an upsert per kind, so an import into a database that holds the rows replaces them)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from pydantic.alias_generators import to_camel

from fovea_backend import render, tracks
from fovea_backend.schemas import ImportConflict

# kind, SQL without WHERE/ORDER, the column that names the video (video-scoped kinds), ORDER BY.
EXPORT_QUERIES: list[tuple[str, str, str | None, str]] = [
    ("video", f"SELECT {render.VIDEO}::text FROM videos v", "v.id", "v.id"),
    ("persona", f"SELECT {render.PERSONA}::text FROM personas p", None, "p.id"),
    ("ontology", f"SELECT {render.ONTOLOGY}::text FROM ontologies o", None, "o.persona_id"),
    ("world", f"SELECT {render.WORLD}::text FROM world_state w", None, "w.id"),
    ("annotation", f"SELECT {render.ANNOTATION_EXPORT}::text FROM annotations a", "a.video_id", "a.id"),
    ("event", f"SELECT {render.EVENT}::text FROM annotation_events e", "e.video_id", "e.id"),
    ("relation", f"SELECT {render.RELATION}::text FROM annotation_relations r", "r.video_id", "r.id"),
    ("summary", f"SELECT {render.SUMMARY_EXPORT}::text FROM video_summaries s", "s.video_id", "s.id"),
    ("transcript", f"SELECT {render.TRANSCRIPT}::text FROM video_transcripts t", "t.video_id", "t.video_id"),
]


def export_sql(video_column: str | None, video_id: str | None, accepted_only: bool = False) -> str:
    """`accepted_only`: only videos whose review is done (every assignment accepted: 0063's video_is_accepted)."""
    conditions = [f"{video_column} = %(video)s"] if video_column and video_id else []
    if video_column and accepted_only:
        conditions.append(f"video_is_accepted({video_column})")
    return f"WHERE {' AND '.join(conditions)}" if conditions else ""



def begin_snapshot(conn: psycopg.Connection) -> datetime:
    """One snapshot for every table, so the export is consistent while people keep annotating; its time."""
    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    return conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index,no-any-return]


def frame_counts(conn: psycopg.Connection) -> dict[str, int | None]:
    """How long each video is: a track holds its last box to the video's end (tracks.py)."""
    return dict(conn.execute("SELECT id, frame_count FROM videos").fetchall())


def exported_rows(conn: psycopg.Connection, video_id: str | None, accepted_only: bool) -> Iterator[tuple[str, str]]:
    """(kind, the row's JSON) for every exported row, kinds in EXPORT_QUERIES' order, through server-side cursors."""
    for kind, select, video_column, order in EXPORT_QUERIES:
        with conn.cursor(name=f"export_{kind}") as cur:
            cur.itersize = 2000
            cur.execute(f"{select} {export_sql(video_column, video_id, accepted_only)} ORDER BY {order}",
                        {"video": video_id})
            for (data,) in cur:
                yield kind, data


def track_spans(conn: psycopg.Connection, video_id: str | None) -> tuple[int, int]:
    """(the longest, the sum) of the tracks' spans in frames (of one video, or all)."""
    row = conn.execute(
        # tracks.span in SQL: to the video's last frame for a track that holds its last box, else its last keyframe.
        f"SELECT coalesce(max(q.span), 0), coalesce(sum(q.span), 0) FROM (SELECT {tracks.LAST_FRAME_SQL}"
        " - (a.frames->0->>'frame')::bigint + 1 AS span"
        f" FROM annotations a JOIN videos v ON v.id = a.video_id {export_sql('a.video_id', video_id)}) q",
        {"video": video_id},
    ).fetchone()
    return (row[0], row[1]) if row else (0, 0)


# What an existing row means for each kind: the import replaces it (ON CONFLICT DO UPDATE).
EXISTING: dict[str, str] = {
    "video": "SELECT 'the video row exists; the import replaces it' FROM videos WHERE id = %s",
    "persona": "SELECT 'the persona exists; the import replaces it' FROM personas WHERE id = %s",
    "ontology": "SELECT 'the ontology of this persona exists; the import replaces it' FROM ontologies WHERE persona_id = %s",
    "world": "SELECT 'the world state is replaced by the import' FROM world_state WHERE id = %s AND (entities <> '[]'"
             " OR events <> '[]' OR times <> '[]' OR locations <> '[]' OR collections <> '[]' OR relations <> '[]')",
    "annotation": "SELECT CASE WHEN video_id = %s THEN 'the annotation exists; the import replaces it' ELSE"
                  " 'the annotation exists on video ' || video_id || '; the import moves it to video ' || %s END"
                  " FROM annotations WHERE id = %s",
    "summary": "SELECT 'the summary exists; the import replaces it' FROM video_summaries WHERE id = %s",
    "transcript": "SELECT 'the video has a transcript; the import replaces it' FROM video_transcripts WHERE video_id = %s",
    "event": "SELECT 'the event exists; the import replaces it' FROM annotation_events WHERE id = %s",
    "relation": "SELECT 'the relation exists; the import replaces it' FROM annotation_relations WHERE id = %s",
}


TABLES = {"video": "videos", "persona": "personas", "ontology": "ontologies", "world": "world_state",
          "annotation": "annotations", "summary": "video_summaries", "event": "annotation_events",
          "relation": "annotation_relations", "transcript": "video_transcripts"}


def conflict(conn: psycopg.Connection, number: int, kind: str, r: Any) -> ImportConflict | None:
    key: Any = r.persona_id if kind == "ontology" else 1 if kind == "world" else r.video_id if kind == "transcript" else r.id
    params: tuple[Any, ...] = (r.video_id, r.video_id, r.id) if kind == "annotation" else (key,)
    row = conn.execute(EXISTING[kind], params).fetchone()  # type: ignore[arg-type]
    return ImportConflict(line=number, kind=kind, id="world" if kind == "world" else str(key), reason=row[0]) if row else None


def db_loc(kind: str, record: Any, exc: psycopg.Error) -> tuple[str | int, ...]:
    """The field a constraint names (`annotations_video_id_fkey` → data.videoId), else just data."""
    constraint, prefix = exc.diag.constraint_name or "", TABLES[kind] + "_"
    for suffix in ("_fkey", "_key"):
        if constraint.startswith(prefix) and constraint.endswith(suffix):
            column = constraint[len(prefix):-len(suffix)]
            if column in type(record).model_fields:
                return ("data", to_camel(column))
    return ("data",)


def write(conn: psycopg.Connection, kind: str, r: Any) -> None:
    if kind == "video":
        conn.execute(
            "INSERT INTO videos (id, filename, path, size_bytes, duration, fps_num, fps_den, fps, frame_count, width, height,"
            " codec, metadata, created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (id) DO UPDATE SET filename = excluded.filename, path = excluded.path,"
            " size_bytes = excluded.size_bytes, duration = excluded.duration, fps_num = excluded.fps_num,"
            " fps_den = excluded.fps_den, fps = excluded.fps, frame_count = excluded.frame_count, width = excluded.width,"
            " height = excluded.height, codec = excluded.codec, metadata = excluded.metadata,"
            " created_at = excluded.created_at, updated_at = excluded.updated_at",
            (r.id, r.filename, r.path, r.size_bytes, r.duration, r.fps_num, r.fps_den, r.fps, r.frame_count, r.width,
             r.height, r.codec, Jsonb(r.metadata), r.created_at, r.updated_at),
        )
    elif kind == "persona":
        conn.execute(
            "INSERT INTO personas (id, name, role, information_need, hidden, created_at, updated_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET name = excluded.name, role = excluded.role,"
            " information_need = excluded.information_need, hidden = excluded.hidden,"
            " created_at = excluded.created_at, updated_at = excluded.updated_at",
            (r.id, r.name, r.role, r.information_need, r.hidden, r.created_at, r.updated_at),
        )
    elif kind == "ontology":
        conn.execute(
            "INSERT INTO ontologies (persona_id, entity_types, event_types, role_types, relation_types, updated_at)"
            " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (persona_id) DO UPDATE SET entity_types = excluded.entity_types,"
            " event_types = excluded.event_types, role_types = excluded.role_types,"
            " relation_types = excluded.relation_types, updated_at = excluded.updated_at",
            (r.persona_id, Jsonb(r.entity_types), Jsonb(r.event_types), Jsonb(r.role_types), Jsonb(r.relation_types), r.updated_at),
        )
    elif kind == "world":
        conn.execute(
            "UPDATE world_state SET entities = %s, events = %s, times = %s, locations = %s, collections = %s,"
            " relations = %s, updated_at = %s WHERE id = 1",
            (*(Jsonb(getattr(r, f)) for f in ("entities", "events", "times", "locations", "collections", "relations")), r.updated_at),
        )
    elif kind == "annotation":
        conn.execute(
            "INSERT INTO annotations (id, video_id, persona_id, type, label, frames, source, confidence, job_id, dedupe_key,"
            " version, entity_id, attributes, locked, created_at, updated_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (id) DO UPDATE SET video_id = excluded.video_id, persona_id = excluded.persona_id,"
            " type = excluded.type, label = excluded.label, frames = excluded.frames, source = excluded.source,"
            " confidence = excluded.confidence, job_id = excluded.job_id, dedupe_key = excluded.dedupe_key,"
            " entity_id = excluded.entity_id, attributes = excluded.attributes, locked = excluded.locked,"
            " created_at = excluded.created_at, updated_at = excluded.updated_at",
            # As exported: a keyframe without `outside` (older rows, job results) stays without it. The version of
            # a replaced row moves on only when its content changed (the row trigger of migration 0010).
            (r.id, r.video_id, r.persona_id, r.type, r.label,
             Jsonb([k.model_dump(exclude_unset=True, exclude={"keyframe"}) for k in r.frames]), r.source,
             r.confidence, r.job_id, r.dedupe_key, r.version, r.entity_id, Jsonb(r.attributes), r.locked, r.created_at,
             r.updated_at),
        )
    elif kind == "event":
        conn.execute(
            "INSERT INTO annotation_events (id, video_id, persona_id, type, label, start_frame, end_frame, roles, attributes,"
            " source, version, created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (id) DO UPDATE SET video_id = excluded.video_id, persona_id = excluded.persona_id,"
            " type = excluded.type, label = excluded.label, start_frame = excluded.start_frame,"
            " end_frame = excluded.end_frame, roles = excluded.roles, attributes = excluded.attributes,"
            " source = excluded.source, created_at = excluded.created_at, updated_at = excluded.updated_at",
            (r.id, r.video_id, r.persona_id, r.type, r.label, r.start_frame, r.end_frame,
             Jsonb(r.model_dump(mode="json", by_alias=True)["roles"]), Jsonb(r.attributes), r.source, r.version,
             r.created_at, r.updated_at),
        )
    elif kind == "relation":
        conn.execute(
            "INSERT INTO annotation_relations (id, video_id, persona_id, type, source, target, attributes, version,"
            " created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (id) DO UPDATE SET video_id = excluded.video_id, persona_id = excluded.persona_id,"
            " type = excluded.type, source = excluded.source, target = excluded.target, attributes = excluded.attributes,"
            " created_at = excluded.created_at, updated_at = excluded.updated_at",
            (r.id, r.video_id, r.persona_id, r.type, Jsonb(r.source.model_dump()), Jsonb(r.target.model_dump()),
             Jsonb(r.attributes), r.version, r.created_at, r.updated_at),
        )
    elif kind == "summary":
        conn.execute(
            "INSERT INTO video_summaries (id, video_id, persona_id, summary, text, key_frames, embedding, job_id,"
            " created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s::vector, %s, %s, %s)"
            " ON CONFLICT (id) DO UPDATE SET video_id = excluded.video_id, persona_id = excluded.persona_id,"
            " summary = excluded.summary, text = excluded.text, key_frames = excluded.key_frames,"
            " embedding = excluded.embedding, job_id = excluded.job_id,"
            " created_at = excluded.created_at, updated_at = excluded.updated_at",
            (r.id, r.video_id, r.persona_id, Jsonb(r.summary), r.text, Jsonb(r.key_frames), r.embedding, r.job_id,
             r.created_at, r.updated_at),
        )
    elif kind == "transcript":
        conn.execute(
            "INSERT INTO video_transcripts (video_id, job_id, model, language, status, duration_s, text, segments,"
            " created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (video_id) DO UPDATE SET job_id = excluded.job_id, model = excluded.model,"
            " language = excluded.language, status = excluded.status, duration_s = excluded.duration_s,"
            " text = excluded.text, segments = excluded.segments,"
            " created_at = excluded.created_at, updated_at = excluded.updated_at",
            (r.video_id, r.job_id, r.model, r.language, r.status, r.duration_s, r.text,
             Jsonb([segment.model_dump() for segment in r.segments]), r.created_at, r.updated_at),
        )
