"""The SQL of transcripts and of search over what was said and shown (routes/transcripts.py). Reads return the JSON
PostgreSQL renders (render.TRANSCRIPT; the hits' json_build_object)."""

from __future__ import annotations

import psycopg

from fovea_backend import render
from fovea_backend.db import JsonText, fetch_json, json_list


def transcript_json(conn: psycopg.Connection, video_id: str) -> str | None:
    """The video's transcript; None: it has none yet."""
    return fetch_json(conn, f"SELECT {render.TRANSCRIPT}::text FROM video_transcripts t WHERE t.video_id = %s",
                      (video_id,))


# Hits are rows of (j: the hit as JSON, r: its rank, vid, at: its start) from one of these; hits() orders and limits.
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


def hits(conn: psycopg.Connection, text: str, limit: int, *sources: str) -> JsonText:
    """The hits of the given sources (SAID_HITS, SAID_TEXT_HITS, SHOWN_HITS) as one JSON list: best rank first, then
    by video and time."""
    sql = f"SELECT j FROM ({' UNION ALL '.join(sources)}) hits ORDER BY r DESC, vid, at LIMIT %(limit)s"
    return json_list(conn, sql, {"text": text, "limit": limit})
