"""The SQL of video summaries and of similarity over them (routes/summaries.py). Reads return the JSON lists
PostgreSQL renders (render.SUMMARY, with `distance` added for the similar ones)."""

from __future__ import annotations

from uuid import UUID

import psycopg

from fovea_backend import render
from fovea_backend.db import JsonText, json_list


def of_video(conn: psycopg.Connection, video_id: str) -> JsonText:
    """The video's summaries, oldest first."""
    return json_list(conn, f"SELECT {render.SUMMARY} AS j FROM video_summaries s WHERE s.video_id = %s"
                           " ORDER BY s.created_at, s.id", (video_id,))


def matching_text(conn: psycopg.Connection, text: str, limit: int) -> JsonText:
    """Summaries (any video) whose text matches `text`, best first; `distance` is 1 - ts_rank_cd normalised to 0..1."""
    sql = (
        f"SELECT ({render.SUMMARY}::jsonb || jsonb_build_object('distance', 1 - r.rank)) AS j"
        " FROM video_summaries s, LATERAL (SELECT ts_rank_cd(to_tsvector('english', s.text), q, 32) AS rank"
        " FROM websearch_to_tsquery('english', %(text)s) q WHERE to_tsvector('english', s.text) @@ q) r"
        " ORDER BY r.rank DESC, s.created_at DESC LIMIT %(limit)s"
    )
    return json_list(conn, sql, {"text": text, "limit": limit})


def has_embedding(conn: psycopg.Connection, summary_id: UUID, video_id: str) -> bool | None:
    """Whether the video's summary has an embedding; None: the video has no such summary."""
    row = conn.execute("SELECT embedding IS NOT NULL FROM video_summaries WHERE id = %s AND video_id = %s",
                       (summary_id, video_id)).fetchone()
    return bool(row[0]) if row else None


def nearest(conn: psycopg.Connection, summary_id: UUID, limit: int) -> JsonText:
    """The other summaries (any video) nearest to this one by cosine distance of their embeddings (`distance`)."""
    sql = (
        f"SELECT ({render.SUMMARY}::jsonb || jsonb_build_object('distance', s.embedding <=> q.embedding)) AS j"
        " FROM video_summaries s, (SELECT embedding FROM video_summaries WHERE id = %(id)s) q"
        " WHERE s.id <> %(id)s AND s.embedding IS NOT NULL ORDER BY s.embedding <=> q.embedding LIMIT %(limit)s"
    )
    return json_list(conn, sql, {"id": summary_id, "limit": limit})
