"""The SQL behind submitting jobs (what a job is given: the video's file, the persona and its types, its annotators'
tracks, transcript and screen text, the evidence for "suggest types") and reading their mirrored state
(routes/jobs.py). Reads of jobs return the JSON PostgreSQL renders (render.JOB)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg

from fovea_backend import render
from fovea_backend.db import JsonText, fetch_json, json_list
from fovea_backend.store.transcripts import VIDEO_FPS


def persona_and_ontology(conn: psycopg.Connection, persona_id: UUID) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(the persona, its ontology) as render.PERSONA and render.ONTOLOGY give them; None where there is no row."""
    persona = conn.execute(f"SELECT {render.PERSONA} FROM personas p WHERE id = %s", (persona_id,)).fetchone()
    ontology = conn.execute(f"SELECT {render.ONTOLOGY} FROM ontologies o WHERE persona_id = %s", (persona_id,)).fetchone()
    return (persona[0] if persona else None), (ontology[0] if ontology else None)


def annotator_track_spans(conn: psycopg.Connection, video_id: str, persona_id: UUID) -> list[tuple[Any, ...]]:
    """(type, label, first frame, last frame) of the persona's tracks of the video that are not automatic, oldest
    first, at most 5000."""
    return conn.execute(
        "SELECT a.type, a.label, (SELECT min((k->>'frame')::bigint) FROM jsonb_array_elements(a.frames) k),"
        " (SELECT max((k->>'frame')::bigint) FROM jsonb_array_elements(a.frames) k)"
        " FROM annotations a WHERE a.video_id = %s AND a.persona_id = %s AND a.source <> 'automatic'"
        " ORDER BY a.created_at LIMIT 5000", (video_id, persona_id)).fetchall()


def transcript_segments(conn: psycopg.Connection, video_id: str) -> list[dict[str, Any]]:
    """The video's transcript segments as (start, end, text) objects; [] when it has none."""
    row = conn.execute("SELECT coalesce(jsonb_agg(jsonb_build_object('start', s->'start', 'end', s->'end',"
                       " 'text', s->'text')), '[]') FROM video_transcripts t, jsonb_array_elements(t.segments) s"
                       " WHERE t.video_id = %s", (video_id,)).fetchone()
    return list(row[0]) if row else []


def text_track_spans(conn: psycopg.Connection, video_id: str, persona_id: UUID) -> list[tuple[Any, ...]]:
    """(text, first visible frame, last visible frame, the video's frame rate or 0) of the video's text tracks of the
    persona or of none, by first frame, at most 2000."""
    return conn.execute(
        "SELECT a.label, (SELECT min((k->>'frame')::bigint) FROM jsonb_array_elements(a.frames) k"
        " WHERE NOT coalesce((k->>'outside')::boolean, false)),"
        " (SELECT max((k->>'frame')::bigint) FROM jsonb_array_elements(a.frames) k"
        f" WHERE NOT coalesce((k->>'outside')::boolean, false)), coalesce({VIDEO_FPS}, 0)"
        " FROM annotations a JOIN videos v ON v.id = a.video_id WHERE a.video_id = %s AND a.type = 'text'"
        " AND (a.persona_id = %s OR a.persona_id IS NULL) ORDER BY 2 LIMIT 2000", (video_id, persona_id)).fetchall()


def track_for_tracking(conn: psycopg.Connection, annotation_id: UUID, video_id: str) -> tuple[Any, ...] | None:
    """(keyframes, locked, persona) of the video's track; None: the video has no such track."""
    return conn.execute("SELECT frames, locked, persona_id FROM annotations WHERE id = %s AND video_id = %s",
                        (annotation_id, video_id)).fetchone()


def unmapped_classes(conn: psycopg.Connection, persona_id: UUID) -> list[tuple[Any, ...]]:
    """(detector class, detections, videos) that the persona's completed detect-types jobs saw and no type maps to,
    most detections first, at most 50."""
    return conn.execute(
        "SELECT u->>'class', sum((u->>'detections')::bigint), count(DISTINCT j.video_id)"
        " FROM jobs j, jsonb_array_elements(CASE WHEN jsonb_typeof(j.result->'unmapped') = 'array'"
        " THEN j.result->'unmapped' ELSE '[]' END) u"
        " WHERE j.kind = 'detect-types' AND j.status = 'completed' AND j.persona_id = %s AND u ? 'class'"
        " GROUP BY 1 ORDER BY 2 DESC LIMIT 50", (persona_id,)).fetchall()


def said_and_shown(conn: psycopg.Connection, persona_id: UUID) -> list[tuple[Any, ...]]:
    """('said' or 'shown', video, text): the transcripts and text tracks of the videos the persona has jobs or
    annotations on."""
    return conn.execute(
        "WITH mine AS (SELECT video_id FROM jobs WHERE persona_id = %(p)s AND video_id IS NOT NULL"
        " UNION SELECT video_id FROM annotations WHERE persona_id = %(p)s)"
        " SELECT 'said', t.video_id, t.text FROM video_transcripts t JOIN mine USING (video_id)"
        " WHERE t.status = 'ok'"
        " UNION ALL SELECT DISTINCT 'shown', a.video_id, a.label FROM annotations a JOIN mine USING (video_id)"
        " WHERE a.type = 'text'", {"p": persona_id}).fetchall()


def list_json(conn: psycopg.Connection, filters: dict[str, list[Any] | None], limit: int) -> JsonText:
    """Jobs newest first whose column is one of the values, for each column with values (video_id, status, kind;
    names are code constants, never input)."""
    conditions: list[str] = []
    params: list[Any] = []
    for column, value in filters.items():
        if value is not None:
            conditions.append(f"j.{column} = ANY(%s)")
            params.append(value)
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    return json_list(conn, f"SELECT {render.JOB} AS j FROM jobs j {where} ORDER BY j.created_at DESC, j.id DESC LIMIT %s",
                     (*params, limit))


def status_of(conn: psycopg.Connection, job_id: UUID) -> str | None:
    row = conn.execute("SELECT status FROM jobs WHERE id = %s", (job_id,)).fetchone()
    return row[0] if row else None


def job_json(conn: psycopg.Connection, job_id: UUID) -> str | None:
    return fetch_json(conn, f"SELECT {render.JOB}::text FROM jobs j WHERE id = %s", (job_id,))
