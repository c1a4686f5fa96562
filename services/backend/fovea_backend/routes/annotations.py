"""Annotations: list per video, create, replace, delete; validated against the video they belong to."""

from __future__ import annotations

import gzip
from typing import Annotated, Any
from uuid import UUID

import psycopg
from fastapi import APIRouter, Depends, Header, Path, Response
from psycopg.types.json import Jsonb

from fovea_backend import render
from fovea_backend.db import JsonText, delete_or_404, json_or_404
from fovea_backend.errors import invalid, not_found
from fovea_backend.schemas import VIDEO_ID_PATTERN, AnnotationBody, AnnotationIn, AnnotationOut, Keyframe
from fovea_backend.state import BackendState, get_state

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
        if width is not None and kf.x + kf.width > width:
            raise invalid((*loc, index, "width"), f"box exceeds the video width: x + width = {kf.x + kf.width} > {width}")
        if height is not None and kf.y + kf.height > height:
            raise invalid((*loc, index, "height"), f"box exceeds the video height: y + height = {kf.y + kf.height} > {height}")


def check_references(conn: psycopg.Connection, video_id: str, body: AnnotationBody, video_status: int) -> None:
    video = conn.execute("SELECT width, height FROM videos WHERE id = %s", (video_id,)).fetchone()
    if video is None:
        if video_status == 404:
            raise not_found("video", video_id)
        raise invalid(("body", "videoId"), f"unknown video {video_id}")
    if body.persona_id is not None and conn.execute("SELECT 1 FROM personas WHERE id = %s", (body.persona_id,)).fetchone() is None:
        raise invalid(("body", "personaId"), f"unknown persona {body.persona_id}")
    validate_frames(body.frames, video[0], video[1], ("body", "frames"))


def _frames(body: AnnotationBody) -> Jsonb:
    return Jsonb([kf.model_dump() for kf in body.frames])


def _annotation(conn: psycopg.Connection, annotation_id: Any, status: int = 200) -> JsonText:
    return json_or_404(conn, f"SELECT {render.ANNOTATION}::text FROM annotations a WHERE id = %s", (annotation_id,),
                       not_found("annotation", annotation_id, ("path", "annotation_id")), status)


@router.get("/{video_id}", response_model=list[AnnotationOut],
            responses={**NOT_FOUND, 304: {"description": "unchanged since the ETag in If-None-Match"}})
def list_annotations(
    video_id: Annotated[str, Path(pattern=VIDEO_ID_PATTERN)],
    if_none_match: str | None = Header(None, alias="If-None-Match", max_length=200),
    accept_encoding: str | None = Header(None, alias="Accept-Encoding", max_length=200),
    state: BackendState = Depends(get_state),
) -> Response:
    """All annotations of a video, oldest first. The body is rendered once per change of the video's
    annotation revision (cached by revision, ETag = revision), since a busy video has thousands."""
    with state.pool.connection() as conn:
        row = conn.execute("SELECT annotation_rev FROM videos WHERE id = %s", (video_id,)).fetchone()
        if row is None:
            raise not_found("video", video_id, ("path", "video_id"))
        revision: int = row[0]
        if if_none_match == etag(video_id, revision):
            return Response(status_code=304, headers={"ETag": etag(video_id, revision)})
        body = state.annotation_bodies.get((video_id, revision))
        if body is None:
            # Revision and body from one statement, i.e. one snapshot: the cache key matches the content.
            rendered = conn.execute(
                f"SELECT v.annotation_rev, (SELECT coalesce(json_agg(q.j), '[]')::text FROM (SELECT {render.ANNOTATION} AS j"
                " FROM annotations a WHERE a.video_id = v.id ORDER BY a.created_at, a.id) q) FROM videos v WHERE v.id = %s",
                (video_id,),
            ).fetchone()
            if rendered is None:
                raise not_found("video", video_id, ("path", "video_id"))
            revision, body = rendered[0], rendered[1].encode()
            state.annotation_bodies.put((video_id, revision), body)
    headers = {"ETag": etag(video_id, revision), "Cache-Control": "private, no-cache", "Vary": "Accept-Encoding"}
    if accept_encoding and "gzip" in accept_encoding and len(body) > GZIP_MIN_BYTES:
        # Annotation JSON is repetitive (~15x smaller gzipped); compress once per revision, not per request.
        compressed = state.annotation_bodies.get((video_id, revision, "gzip"))
        if compressed is None:
            compressed = gzip.compress(body, compresslevel=5, mtime=0)
            state.annotation_bodies.put((video_id, revision, "gzip"), compressed)
        return JsonText(content=compressed, headers={**headers, "Content-Encoding": "gzip"})
    return JsonText(content=body, headers=headers)


def etag(video_id: str, revision: int) -> str:
    return f'"{video_id}-{revision}"'


@router.post("", response_model=AnnotationOut, status_code=201)
def create_annotation(body: AnnotationIn, state: BackendState = Depends(get_state)) -> Response:
    with state.pool.connection() as conn:
        check_references(conn, body.video_id, body, 422)
        row = conn.execute(
            "INSERT INTO annotations (video_id, persona_id, type, label, frames, source, confidence)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (body.video_id, body.persona_id, body.type, body.label, _frames(body), body.source, body.confidence),
        ).fetchone()
        assert row is not None
        return _annotation(conn, row[0], 201)


@router.put("/{annotation_id}", response_model=AnnotationOut, responses=NOT_FOUND)
def update_annotation(annotation_id: UUID, body: AnnotationBody, state: BackendState = Depends(get_state)) -> Response:
    with state.pool.connection() as conn:
        row = conn.execute("SELECT video_id FROM annotations WHERE id = %s FOR UPDATE", (annotation_id,)).fetchone()
        if row is None:
            raise not_found("annotation", annotation_id, ("path", "annotation_id"))
        check_references(conn, row[0], body, 422)
        conn.execute(
            "UPDATE annotations SET persona_id = %s, type = %s, label = %s, frames = %s, source = %s, confidence = %s,"
            " updated_at = now() WHERE id = %s",
            (body.persona_id, body.type, body.label, _frames(body), body.source, body.confidence, annotation_id),
        )
        return _annotation(conn, annotation_id)


@router.delete("/{annotation_id}", status_code=204, response_class=Response, responses=NOT_FOUND)
def delete_annotation(annotation_id: UUID, state: BackendState = Depends(get_state)) -> Response:
    with state.pool.connection() as conn:
        return delete_or_404(conn, "annotations", annotation_id, not_found("annotation", annotation_id, ("path", "annotation_id")))
