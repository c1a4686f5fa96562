"""Video summaries (written by the job sync from summarize results) and similarity over their embeddings."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Query, Response

from fovea_backend import render
from fovea_backend.db import json_list
from fovea_backend.errors import invalid, not_found
from fovea_backend.routes.videos import VideoId
from fovea_backend.schemas import SimilarSummaryOut, SummaryOut
from fovea_backend.state import StateDep

router = APIRouter(prefix="/api/videos", tags=["summaries"])


@router.get("/{video_id}/summaries", response_model=list[SummaryOut], responses={404: {"description": "no such video"}})
def list_summaries(video_id: VideoId, state: StateDep) -> Response:
    with state.pool.connection() as conn:
        if conn.execute("SELECT 1 FROM videos WHERE id = %s", (video_id,)).fetchone() is None:
            raise not_found("video", video_id, ("path", "video_id"))
        return json_list(conn, f"SELECT {render.SUMMARY} AS j FROM video_summaries s WHERE s.video_id = %s"
                               " ORDER BY s.created_at, s.id", (video_id,))


@router.get("/{video_id}/summaries/similar", response_model=list[SimilarSummaryOut],
            responses={404: {"description": "no such video or summary"}})
def similar_summaries(
    video_id: VideoId,
    state: StateDep,
    summary_id: UUID | None = Query(None, alias="summaryId", description="rank other summaries by similarity to this one"),
    text: str | None = Query(None, min_length=1, max_length=2000,
                             description="free text: summaries whose evidence text matches it (full-text rank)"),
    limit: int = Query(10, ge=1, le=100),
) -> Response:
    """Nearest summaries (any video) to one of this video's summaries, by cosine distance of their evidence
    embeddings (HNSW index); or, with `text`, summaries whose evidence text matches it, best first, where `distance`
    is 1 - PostgreSQL's ts_rank_cd normalised to 0..1 (the backend runs no embedding model; the rank is exact-word,
    stemmed English)."""
    if summary_id is None and text is not None:
        if not text.strip():
            raise invalid(("query", "text"), "text must not be blank")
        with state.pool.connection() as conn:
            if conn.execute("SELECT 1 FROM videos WHERE id = %s", (video_id,)).fetchone() is None:
                raise not_found("video", video_id, ("path", "video_id"))
            sql = (
                f"SELECT ({render.SUMMARY}::jsonb || jsonb_build_object('distance', 1 - r.rank)) AS j"
                " FROM video_summaries s, LATERAL (SELECT ts_rank_cd(to_tsvector('english', s.text), q, 32) AS rank"
                " FROM websearch_to_tsquery('english', %(text)s) q WHERE to_tsvector('english', s.text) @@ q) r"
                " ORDER BY r.rank DESC, s.created_at DESC LIMIT %(limit)s"
            )
            return json_list(conn, sql, {"text": text, "limit": limit})
    if summary_id is None:
        raise invalid(("query", "summaryId"), "summaryId or text is required")
    with state.pool.connection() as conn:
        row = conn.execute("SELECT embedding IS NOT NULL FROM video_summaries WHERE id = %s AND video_id = %s",
                           (summary_id, video_id)).fetchone()
        if row is None:
            raise not_found("summary", summary_id, ("query", "summaryId"))
        if not row[0]:
            raise invalid(("query", "summaryId"), "that summary has no embedding")
        sql = (
            f"SELECT ({render.SUMMARY}::jsonb || jsonb_build_object('distance', s.embedding <=> q.embedding)) AS j"
            " FROM video_summaries s, (SELECT embedding FROM video_summaries WHERE id = %(id)s) q"
            " WHERE s.id <> %(id)s AND s.embedding IS NOT NULL ORDER BY s.embedding <=> q.embedding LIMIT %(limit)s"
        )
        return json_list(conn, sql, {"id": summary_id, "limit": limit})
