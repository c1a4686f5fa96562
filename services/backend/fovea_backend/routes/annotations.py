"""Annotations: list per video, create, replace, delete; validated against the video they belong to.

Replacing or deleting one track needs `If-Match` with the track's `version` as the client last read it: a
whole-track write from a client that has not seen the newest keyframes would otherwise replace them (the
workspace saves through the merging bulk route instead, which carries only what changed)."""

from __future__ import annotations

import gzip
import json
import re
from typing import Annotated, Any
from uuid import UUID

import psycopg
from fastapi import APIRouter, Header, Path, Response

from fovea_backend.db import JsonText
from fovea_backend.errors import ApiError, invalid, not_found
from fovea_backend.merge import outside_the_frame
from fovea_backend.persona_scope import PersonaScope, ScopeParam
from fovea_backend.schemas import VIDEO_ID_PATTERN, AnnotationBody, AnnotationIn, AnnotationOut, Keyframe
from fovea_backend.state import StateDep
from fovea_backend.store import annotations as store

router = APIRouter(prefix="/api/annotations", tags=["annotations"])
NOT_FOUND = {404: {"description": "no such annotation (or video)"}}
GZIP_MIN_BYTES = 64 * 1024


def validate_frames(frames: list[Keyframe], width: int | None, height: int | None, loc: tuple[str | int, ...]) -> None:
    """Frames sorted and unique; every box inside the video frame when the video's size is known."""
    previous = -1
    for index, kf in enumerate(frames):
        if kf.frame <= previous:
            raise invalid((*loc, index, "frame"), f"frames must be sorted and unique: frame {kf.frame} follows {previous}")
        previous = kf.frame
        outside = outside_the_frame(kf, width, height)
        if outside:
            raise invalid((*loc, index, outside[0]), outside[1])


def check_references(conn: psycopg.Connection, video_id: str, body: AnnotationBody, video_status: int) -> None:
    video = store.video_size(conn, video_id)
    if video is None:
        if video_status == 404:
            raise not_found("video", video_id)
        raise invalid(("body", "videoId"), f"unknown video {video_id}")
    if body.persona_id is not None and not store.persona_exists(conn, body.persona_id):
        raise invalid(("body", "personaId"), f"unknown persona {body.persona_id}")
    if body.entity_id is not None and not store.world_entity_exists(conn, body.entity_id):
        raise invalid(("body", "entityId"), f"unknown world entity {body.entity_id!r}")
    validate_frames(body.frames, video[0], video[1], ("body", "frames"))


def _annotation(conn: psycopg.Connection, annotation_id: Any, status: int = 200) -> JsonText:
    text = store.track_json(conn, annotation_id)
    if text is None:
        raise not_found("annotation", annotation_id, ("path", "annotation_id"))
    return JsonText(content=text, status_code=status)


@router.get("/{video_id}", response_model=list[AnnotationOut],
            responses={**NOT_FOUND, 304: {"description": "unchanged since the ETag in If-None-Match"}})
def list_annotations(
    video_id: Annotated[str, Path(pattern=VIDEO_ID_PATTERN)],
    state: StateDep,
    persona: ScopeParam = None,
    if_none_match: str | None = Header(None, alias="If-None-Match", max_length=200),
    accept_encoding: str | None = Header(None, alias="Accept-Encoding", max_length=200),
) -> Response:
    """All annotations of a video (or one persona's: `personaId`), oldest first. The body is rendered once per change
    of the video's annotation revision (cached by revision and persona, ETag = revision), since a busy video has
    thousands."""
    scope = PersonaScope.of(persona)
    key = (scope.key,) if scope else ()
    with state.pool.connection() as conn:
        stored_revision = store.revision(conn, video_id)
        if stored_revision is None:
            raise not_found("video", video_id, ("path", "video_id"))
        revision: int = stored_revision
        if if_none_match == etag(video_id, revision):
            return Response(status_code=304, headers={"ETag": etag(video_id, revision)})
        body = state.annotation_bodies.get((video_id, revision, *key))
        if body is None:
            # Revision and body from one statement, i.e. one snapshot: the cache key matches the content.
            rendered = store.video_tracks(conn, video_id, scope)
            if rendered is None:
                raise not_found("video", video_id, ("path", "video_id"))
            revision, body = rendered[0], rendered[1].encode()
            state.annotation_bodies.put((video_id, revision, *key), body)
    headers = {"ETag": etag(video_id, revision), "Cache-Control": "private, no-cache", "Vary": "Accept-Encoding"}
    if accept_encoding and "gzip" in accept_encoding and len(body) > GZIP_MIN_BYTES:
        # Annotation JSON is repetitive (~15x smaller gzipped); compress once per revision, not per request.
        compressed = state.annotation_bodies.get((video_id, revision, *key, "gzip"))
        if compressed is None:
            compressed = gzip.compress(body, compresslevel=5, mtime=0)
            state.annotation_bodies.put((video_id, revision, *key, "gzip"), compressed)
        return JsonText(content=compressed, headers={**headers, "Content-Encoding": "gzip"})
    return JsonText(content=body, headers=headers)


def etag(video_id: str, revision: int) -> str:
    return f'"{video_id}-{revision}"'


@router.post("", response_model=AnnotationOut, status_code=201)
def create_annotation(body: AnnotationIn, state: StateDep) -> Response:
    with state.pool.connection() as conn:
        check_references(conn, body.video_id, body, 422)
        return _annotation(conn, store.create(conn, body.video_id, body), 201)


def lock_video_of(conn: psycopg.Connection, annotation_id: UUID) -> str:
    """Lock the annotation's video row, then the annotation: the order the bulk save locks in (video first,
    for its revision check), so a single-track write and a bulk save of the same track cannot deadlock."""
    while True:
        video_id = store.video_of(conn, annotation_id)
        if video_id is None:
            raise not_found("annotation", annotation_id, ("path", "annotation_id"))
        store.lock_video(conn, video_id)
        locked = store.video_of(conn, annotation_id, lock=True)
        if locked is None:
            raise not_found("annotation", annotation_id, ("path", "annotation_id"))
        if locked == video_id:
            return video_id
        # An import moved it to another video meanwhile: lock that one instead (rare; the loop ends).


TRACK_VERSION = re.compile(r'^(?:W/)?"?(?P<version>[0-9]{1,18})"?$')
IF_MATCH_HEADER = Header(None, alias="If-Match", max_length=200,
                         description='the track\'s version as last read, e.g. "3" (the `version` of the track)')
PRECONDITIONS = {409: {"description": "the track changed since If-Match; nothing written (the body holds the current track)"},
                 428: {"description": "If-Match missing"}}


def require_version(conn: psycopg.Connection, annotation_id: UUID, if_match: str | None) -> None:
    """Refuse a whole-track write or delete unless the client read the track's current version."""
    if if_match is None:
        raise ApiError(428, "If-Match is required: the track's version as you last read it, so this write cannot"
                            " replace changes made since (or save through PUT /api/videos/{id}/annotations)",
                       ("header", "If-Match"))
    match = TRACK_VERSION.match(if_match.strip())
    if match is None:
        raise invalid(("header", "If-Match"), f'If-Match must be a track version such as "3", got {if_match[:40]!r}')
    row = store.version_and_track(conn, annotation_id)
    if row is None:
        raise not_found("annotation", annotation_id, ("path", "annotation_id"))
    if row[2]:
        raise ApiError(409, "the track is locked: unlock it first (a bulk change of `locked` to false)",
                       ("path", "annotation_id"), {"current": json.loads(row[1])})
    if int(match.group("version")) != row[0]:
        raise ApiError(409, f"the track changed since version {match.group('version')} (now {row[0]}): nothing was"
                            " written; read it again and reapply your change", ("header", "If-Match"),
                       {"current": json.loads(row[1])})


@router.put("/{annotation_id}", response_model=AnnotationOut, responses={**NOT_FOUND, **PRECONDITIONS})
def update_annotation(annotation_id: UUID, body: AnnotationBody, state: StateDep,
                      if_match: str | None = IF_MATCH_HEADER) -> Response:
    with state.pool.connection() as conn:
        check_references(conn, lock_video_of(conn, annotation_id), body, 422)
        require_version(conn, annotation_id, if_match)
        store.update(conn, annotation_id, body)
        return _annotation(conn, annotation_id)


@router.delete("/{annotation_id}", status_code=204, response_class=Response, responses={**NOT_FOUND, **PRECONDITIONS})
def delete_annotation(annotation_id: UUID, state: StateDep, if_match: str | None = IF_MATCH_HEADER) -> Response:
    with state.pool.connection() as conn:
        lock_video_of(conn, annotation_id)
        require_version(conn, annotation_id, if_match)
        if not store.delete(conn, annotation_id):
            raise not_found("annotation", annotation_id, ("path", "annotation_id"))
        return Response(status_code=204)
