"""Video summaries (written by the job sync from summarize results) and similarity over their embeddings."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Query, Response

from fovea_backend.errors import invalid, not_found
from fovea_backend.routes.videos import VideoId
from fovea_backend.schemas import SimilarSummaryOut, SummaryOut
from fovea_backend.state import StateDep
from fovea_backend.store import summaries as store
from fovea_backend.store import videos as videos_store

router = APIRouter(prefix="/api/videos", tags=["summaries"])


@router.get("/{video_id}/summaries", response_model=list[SummaryOut], responses={404: {"description": "no such video"}})
def list_summaries(video_id: VideoId, state: StateDep) -> Response:
    with state.pool.connection() as conn:
        if not videos_store.exists(conn, video_id):
            raise not_found("video", video_id, ("path", "video_id"))
        return store.of_video(conn, video_id)


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
            if not videos_store.exists(conn, video_id):
                raise not_found("video", video_id, ("path", "video_id"))
            return store.matching_text(conn, text, limit)
    if summary_id is None:
        raise invalid(("query", "summaryId"), "summaryId or text is required")
    with state.pool.connection() as conn:
        embedded = store.has_embedding(conn, summary_id, video_id)
        if embedded is None:
            raise not_found("summary", summary_id, ("query", "summaryId"))
        if not embedded:
            raise invalid(("query", "summaryId"), "that summary has no embedding")
        return store.nearest(conn, summary_id, limit)
