"""Transcripts (written by the job sync from transcribe results) and search over what was said and shown (on-screen
text: the text tracks read-text jobs write)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from fovea_backend.db import JsonText
from fovea_backend.errors import invalid, not_found
from fovea_backend.routes.videos import VideoId
from fovea_backend.schemas import TextHitOut, TranscriptHitOut, TranscriptOut
from fovea_backend.state import BackendState, StateDep
from fovea_backend.store import transcripts as store
from fovea_backend.store import videos as videos_store

router = APIRouter(tags=["transcripts"])


@router.get("/api/videos/{video_id}/transcript", response_model=TranscriptOut,
            responses={204: {"description": "the video has no transcript yet (POST .../transcribe makes one)"},
                       404: {"description": "no such video"}})
def get_transcript(video_id: VideoId, state: StateDep) -> Response:
    """The video's latest transcript: segments and words with start/end seconds and probability. None yet is 204, not
    404: the video exists and nothing is wrong (a browser would log a 404 as a failed load on every workspace visit)."""
    with state.pool.connection() as conn:
        if not videos_store.exists(conn, video_id):
            raise not_found("video", video_id, ("path", "video_id"))
        text = store.transcript_json(conn, video_id)
    return JsonText(content=text) if text is not None else Response(status_code=204)


def _hits(state: BackendState, text: str, limit: int, *sources: str) -> Response:
    """The hits of the given sources in one list: best rank first, then by video and time."""
    if not text.strip():
        raise invalid(("query", "text"), "text must not be blank")
    with state.pool.connection() as conn:
        return store.hits(conn, text, limit, *sources)


@router.get("/api/transcripts/search", response_model=list[TranscriptHitOut])
def search_transcripts(
    text: Annotated[str, Query(min_length=1, max_length=2000, description="words to find (stemmed English)")],
    state: StateDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> Response:
    """Where in which video the words were said: matching segments of every transcript, best first (PostgreSQL's
    ts_rank_cd, normalised to 0..1), each with its video and start/end seconds."""
    return _hits(state, text, limit, store.SAID_HITS)


@router.get("/api/search/text", response_model=list[TextHitOut])
def search_text(
    text: Annotated[str, Query(min_length=1, max_length=2000, description="words to find")],
    state: StateDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> Response:
    """Where in which video the words were said (transcript segments, stemmed English) or shown (text tracks, words as
    read: signs and plates are names, not prose), best first by PostgreSQL's ts_rank_cd; each hit with its video, its
    start/end seconds and whether it was `speech` or `screen`."""
    return _hits(state, text, limit, store.SAID_TEXT_HITS, store.SHOWN_HITS)
