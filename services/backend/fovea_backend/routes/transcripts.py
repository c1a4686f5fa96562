"""Transcripts (written by the job sync from transcribe results) and search over what was said."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from fovea_backend import render
from fovea_backend.db import JsonText, fetch_json, json_list
from fovea_backend.errors import invalid, not_found
from fovea_backend.routes.videos import VideoId
from fovea_backend.schemas import TranscriptHitOut, TranscriptOut
from fovea_backend.state import StateDep

router = APIRouter(tags=["transcripts"])


@router.get("/api/videos/{video_id}/transcript", response_model=TranscriptOut,
            responses={204: {"description": "the video has no transcript yet (POST .../transcribe makes one)"},
                       404: {"description": "no such video"}})
def get_transcript(video_id: VideoId, state: StateDep) -> Response:
    """The video's latest transcript: segments and words with start/end seconds and probability. None yet is 204, not
    404: the video exists and nothing is wrong (a browser would log a 404 as a failed load on every workspace visit)."""
    with state.pool.connection() as conn:
        if conn.execute("SELECT 1 FROM videos WHERE id = %s", (video_id,)).fetchone() is None:
            raise not_found("video", video_id, ("path", "video_id"))
        text = fetch_json(conn, f"SELECT {render.TRANSCRIPT}::text FROM video_transcripts t WHERE t.video_id = %s",
                          (video_id,))
    return JsonText(content=text) if text is not None else Response(status_code=204)


@router.get("/api/transcripts/search", response_model=list[TranscriptHitOut])
def search_transcripts(
    text: Annotated[str, Query(min_length=1, max_length=2000, description="words to find (stemmed English)")],
    state: StateDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> Response:
    """Where in which video the words were said: matching segments of every transcript, best first (PostgreSQL's
    ts_rank_cd, normalised to 0..1), each with its video and start/end seconds."""
    if not text.strip():
        raise invalid(("query", "text"), "text must not be blank")
    sql = (
        "SELECT json_build_object('videoId', t.video_id, 'filename', v.filename, 'start', (seg->>'start')::float,"
        " 'end', (seg->>'end')::float, 'text', seg->>'text',"
        " 'rank', ts_rank_cd(to_tsvector('english', seg->>'text'), q, 32)) AS j"
        " FROM websearch_to_tsquery('english', %(text)s) q, video_transcripts t JOIN videos v ON v.id = t.video_id,"
        " jsonb_array_elements(t.segments) seg"
        " WHERE to_tsvector('english', t.text) @@ q AND to_tsvector('english', seg->>'text') @@ q"
        " ORDER BY ts_rank_cd(to_tsvector('english', seg->>'text'), q, 32) DESC, t.video_id, (seg->>'start')::float"
        " LIMIT %(limit)s"
    )
    with state.pool.connection() as conn:
        return json_list(conn, sql, {"text": text, "limit": limit})
