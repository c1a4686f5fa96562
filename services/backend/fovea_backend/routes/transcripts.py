"""Transcripts (written by the job sync from transcribe results) and search over what was said and shown (on-screen
text: the text tracks read-text jobs write)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from fovea_backend import render
from fovea_backend.db import JsonText, fetch_json, json_list
from fovea_backend.errors import invalid, not_found
from fovea_backend.routes.videos import VideoId
from fovea_backend.schemas import TextHitOut, TranscriptHitOut, TranscriptOut
from fovea_backend.state import BackendState, StateDep

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


# Hits are rows of (j: the hit as JSON, r: its rank, vid, at: its start) from one of these; _hits orders and limits.
# What was said: transcript segments matching the words, stemmed English; {tagged}: the fields a TextHitOut adds.
_SAID = (
    "SELECT json_build_object('videoId', t.video_id, 'filename', v.filename, 'start', (seg->>'start')::float,"
    " 'end', (seg->>'end')::float, 'text', seg->>'text', 'rank', ts_rank_cd(to_tsvector('english', seg->>'text'), q, 32)"
    "{tagged}) AS j, ts_rank_cd(to_tsvector('english', seg->>'text'), q, 32) AS r,"
    " t.video_id AS vid, (seg->>'start')::float AS at"
    " FROM websearch_to_tsquery('english', %(text)s) q, video_transcripts t JOIN videos v ON v.id = t.video_id,"
    " jsonb_array_elements(t.segments) seg"
    " WHERE to_tsvector('english', t.text) @@ q AND to_tsvector('english', seg->>'text') @@ q"
)
SAID_HITS = _SAID.format(tagged="")  # TranscriptHitOut
SAID_TEXT_HITS = _SAID.format(tagged=", 'source', 'speech', 'annotationId', NULL")  # TextHitOut
# A video's frame rate as the frame numbers of its annotations count it: the exact rational when known.
VIDEO_FPS = "coalesce(v.fps_num::float / nullif(v.fps_den, 0), v.fps)"
# A text track's first or last visible keyframe, in seconds (0 when the frame rate is unknown).
_SEEN = ("coalesce((SELECT {fn}((k->>'frame')::bigint) FROM jsonb_array_elements(a.frames) k"
         " WHERE NOT coalesce((k->>'outside')::boolean, false)) / nullif(" + VIDEO_FPS + ", 0), 0)")
# What was shown: text tracks whose string holds the words as read ('simple': signs and plates are names, not prose).
SHOWN_HITS = (
    "SELECT json_build_object('videoId', a.video_id, 'filename', v.filename,"
    f" 'start', {_SEEN.format(fn='min')}, 'end', {_SEEN.format(fn='max')}, 'text', a.label,"
    " 'rank', ts_rank_cd(to_tsvector('simple', a.label), q, 32), 'source', 'screen', 'annotationId', a.id) AS j,"
    f" ts_rank_cd(to_tsvector('simple', a.label), q, 32) AS r, a.video_id AS vid, {_SEEN.format(fn='min')} AS at"
    " FROM websearch_to_tsquery('simple', %(text)s) q, annotations a JOIN videos v ON v.id = a.video_id"
    " WHERE a.type = 'text' AND to_tsvector('simple', a.label) @@ q"
)


def _hits(state: BackendState, text: str, limit: int, *sources: str) -> Response:
    """The hits of the given sources in one list: best rank first, then by video and time."""
    if not text.strip():
        raise invalid(("query", "text"), "text must not be blank")
    sql = f"SELECT j FROM ({' UNION ALL '.join(sources)}) hits ORDER BY r DESC, vid, at LIMIT %(limit)s"
    with state.pool.connection() as conn:
        return json_list(conn, sql, {"text": text, "limit": limit})


@router.get("/api/transcripts/search", response_model=list[TranscriptHitOut])
def search_transcripts(
    text: Annotated[str, Query(min_length=1, max_length=2000, description="words to find (stemmed English)")],
    state: StateDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> Response:
    """Where in which video the words were said: matching segments of every transcript, best first (PostgreSQL's
    ts_rank_cd, normalised to 0..1), each with its video and start/end seconds."""
    return _hits(state, text, limit, SAID_HITS)


@router.get("/api/search/text", response_model=list[TextHitOut])
def search_text(
    text: Annotated[str, Query(min_length=1, max_length=2000, description="words to find")],
    state: StateDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> Response:
    """Where in which video the words were said (transcript segments, stemmed English) or shown (text tracks, words as
    read: signs and plates are names, not prose), best first by PostgreSQL's ts_rank_cd; each hit with its video, its
    start/end seconds and whether it was `speech` or `screen`."""
    return _hits(state, text, limit, SAID_TEXT_HITS, SHOWN_HITS)
