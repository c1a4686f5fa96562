"""Video summaries (written by the job sync from summarize results) and similarity over their embeddings."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response

from fovea_backend import render
from fovea_backend.db import json_list
from fovea_backend.errors import invalid, not_found
from fovea_backend.routes.videos import VideoId
from fovea_backend.schemas import SimilarSummaryOut, SummaryOut
from fovea_backend.state import BackendState, get_state

router = APIRouter(prefix="/api/videos", tags=["summaries"])


@router.get("/{video_id}/summaries", response_model=list[SummaryOut], responses={404: {"description": "no such video"}})
def list_summaries(video_id: VideoId, state: BackendState = Depends(get_state)) -> Response:
    with state.pool.connection() as conn:
        if conn.execute("SELECT 1 FROM videos WHERE id = %s", (video_id,)).fetchone() is None:
            raise not_found("video", video_id, ("path", "video_id"))
        return json_list(conn, f"SELECT {render.SUMMARY} AS j FROM video_summaries s WHERE s.video_id = %s"
                               " ORDER BY s.created_at, s.id", (video_id,))


@router.get("/{video_id}/summaries/similar", response_model=list[SimilarSummaryOut],
            responses={404: {"description": "no such video or summary"}})
def similar_summaries(
    video_id: VideoId,
    summary_id: UUID | None = Query(None, alias="summaryId", description="rank other summaries by similarity to this one"),
    text: str | None = Query(None, max_length=2000, description="free-text search; needs an embedding model (not in the backend)"),
    limit: int = Query(10, ge=1, le=100),
    state: BackendState = Depends(get_state),
) -> Response:
    """Nearest summaries (any video) to one of this video's summaries, by cosine distance (HNSW index)."""
    if summary_id is None:
        if text is not None:
            raise invalid(("query", "text"), "text search needs an embedding model, which runs in the model service; "
                          "pass summaryId to rank by a stored summary's embedding")
        raise invalid(("query", "summaryId"), "summaryId is required")
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
