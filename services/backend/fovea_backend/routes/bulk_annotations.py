"""PUT /api/videos/{id}/annotations: the workspace's save of every changed and deleted track at once.

Optimistic concurrency on the video's annotation revision (migration 0002, bumped by triggers in the
transaction of every change): the client sends the revision it last read in `If-Match`; the video row is
locked (`FOR UPDATE`) before the revision is compared, so two saves of one video serialise and the second
of two tabs that read the same revision gets 409 with the current revision, having written nothing.
Everything happens in one transaction: any invalid item → 422 naming it, nothing written.
"""

from __future__ import annotations

import re
from uuid import UUID

import psycopg
from fastapi import APIRouter, Depends, Header, Response
from psycopg.types.json import Jsonb

from fovea_backend import render
from fovea_backend.db import JsonText
from fovea_backend.errors import ApiError, invalid, not_found
from fovea_backend.routes.annotations import etag, validate_frames
from fovea_backend.routes.videos import VideoId
from fovea_backend.schemas import BulkAnnotationsIn, BulkAnnotationsOut, RevisionConflictOut
from fovea_backend.state import BackendState, get_state

router = APIRouter(tags=["annotations"])
IF_MATCH = ("header", "If-Match")
# `"12"`, `12`, `W/"12"`, or the list's ETag `"<videoId>-12"`.
REVISION = re.compile(r'^(?:W/)?"?(?:(?P<video>[0-9a-f]{16})-)?(?P<revision>\d{1,18})"?$')

UPSERT_SQL = """
INSERT INTO annotations (id, video_id, persona_id, type, label, frames, source, confidence)
SELECT r.id, %s, r.persona_id, r.type, r.label, r.frames, r.source, r.confidence
  FROM jsonb_to_recordset(%s) AS r(id uuid, persona_id uuid, type text, label text, frames jsonb, source text,
                                    confidence double precision)
ON CONFLICT (id) DO UPDATE SET persona_id = excluded.persona_id, type = excluded.type, label = excluded.label,
    frames = excluded.frames, source = excluded.source, confidence = excluded.confidence, updated_at = now()
  WHERE annotations.video_id = excluded.video_id
RETURNING id"""

SAVED_SQL = f"""
SELECT v.annotation_rev, json_build_object('revision', v.annotation_rev, 'annotations',
  (SELECT coalesce(json_agg({render.ANNOTATION} ORDER BY u.ord), '[]')
     FROM unnest(%s::uuid[]) WITH ORDINALITY AS u(id, ord) JOIN annotations a ON a.id = u.id))::text
  FROM videos v WHERE v.id = %s"""


def expected_revision(if_match: str | None, video_id: str) -> int | None:
    """The revision the client last saw; None when its ETag names another video (never a match)."""
    if if_match is None:
        raise ApiError(428, "If-Match is required: the annotation revision you last read (the list's ETag or the"
                            " video's annotationRevision), so a save cannot overwrite changes made since", IF_MATCH)
    match = REVISION.match(if_match.strip())
    if match is None:
        raise invalid(IF_MATCH, f'If-Match must be an annotation revision such as "12", got {if_match[:40]!r}')
    if match.group("video") not in (None, video_id):
        return None
    return int(match.group("revision"))


def _check_request(body: BulkAnnotationsIn) -> None:
    seen: set[UUID] = set()
    for index, item in enumerate(body.upsert):
        if item.id in seen:
            raise invalid(("body", "upsert", index, "id"), f"annotation {item.id} appears twice in upsert")
        seen.add(item.id)
    for index, ident in enumerate(body.delete):
        if ident in seen:
            raise invalid(("body", "delete", index), f"annotation {ident} is both upserted and deleted")


def _check_against_database(conn: psycopg.Connection, video_id: str, body: BulkAnnotationsIn,
                            width: int | None, height: int | None) -> None:
    personas = {p.persona_id for p in body.upsert if p.persona_id is not None}
    if personas:
        known = {row[0] for row in conn.execute("SELECT id FROM personas WHERE id = ANY(%s)", (list(personas),))}
        for index, item in enumerate(body.upsert):
            if item.persona_id is not None and item.persona_id not in known:
                raise invalid(("body", "upsert", index, "personaId"), f"unknown persona {item.persona_id}")
    for index, item in enumerate(body.upsert):
        validate_frames(item.frames, width, height, ("body", "upsert", index, "frames"))
    # Ids of another video's tracks are refused, never moved or deleted across videos.
    where: dict[UUID, tuple[str, int]] = {item.id: ("upsert", i) for i, item in enumerate(body.upsert)}
    where.update({ident: ("delete", i) for i, ident in enumerate(body.delete)})
    if not where:
        return
    for ident, owner in conn.execute("SELECT id, video_id FROM annotations WHERE id = ANY(%s) AND video_id <> %s",
                                     (list(where), video_id)):
        part, index = where[ident]
        loc = ("body", "upsert", index, "id") if part == "upsert" else ("body", "delete", index)
        raise invalid(loc, f"annotation {ident} belongs to video {owner}, not {video_id}")


def _rows(body: BulkAnnotationsIn) -> Jsonb:
    return Jsonb([{"id": str(item.id), "persona_id": str(item.persona_id) if item.persona_id else None,
                   "type": item.type, "label": item.label, "frames": [kf.model_dump() for kf in item.frames],
                   "source": item.source, "confidence": item.confidence} for item in body.upsert])


@router.put(
    "/api/videos/{video_id}/annotations",
    response_model=BulkAnnotationsOut,
    responses={
        404: {"description": "no such video"},
        409: {"model": RevisionConflictOut, "description": "the annotations changed since If-Match; nothing written"},
        428: {"description": "If-Match missing"},
    },
)
def save_annotations(
    video_id: VideoId,
    body: BulkAnnotationsIn,
    if_match: str | None = Header(None, alias="If-Match", max_length=200,
                                  description='the annotation revision last read, e.g. "12" (or the list\'s ETag)'),
    state: BackendState = Depends(get_state),
) -> Response:
    """Upsert and delete tracks of one video in one transaction, if nobody changed them since If-Match."""
    expected = expected_revision(if_match, video_id)
    _check_request(body)
    with state.pool.connection() as conn:
        video = conn.execute("SELECT annotation_rev, width, height FROM videos WHERE id = %s FOR UPDATE",
                             (video_id,)).fetchone()
        if video is None:
            raise not_found("video", video_id, ("path", "video_id"))
        current: int = video[0]
        if expected != current:
            raise ApiError(409, f"the annotations of video {video_id} changed since revision {expected}"
                                f" (now {current}); reload them and save again", IF_MATCH, {"revision": current})
        _check_against_database(conn, video_id, body, video[1], video[2])
        if body.delete:
            conn.execute("DELETE FROM annotations WHERE video_id = %s AND id = ANY(%s)", (video_id, body.delete))
        if body.upsert:
            written = {row[0] for row in conn.execute(UPSERT_SQL, (video_id, _rows(body)))}
            lost = [i for i, item in enumerate(body.upsert) if item.id not in written]
            if lost:  # another video's track took the id after the check above: refuse, as the check would have
                raise ApiError(409, f"annotation {body.upsert[lost[0]].id} was just created on another video",
                               ("body", "upsert", lost[0], "id"), {"revision": current})
        saved = conn.execute(SAVED_SQL, ([item.id for item in body.upsert], video_id)).fetchone()
        assert saved is not None
        revision: int = saved[0]
        text: str = saved[1]
    return JsonText(content=text, headers={"ETag": etag(video_id, revision)})
