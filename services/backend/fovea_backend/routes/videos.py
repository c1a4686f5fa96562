"""Videos: list, get, stream with HTTP Range, sync from the video directory, remove (admins), and where each
user was last in each video."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Response
from fastapi.responses import StreamingResponse
from pydantic.alias_generators import to_camel

import psycopg

from fovea_backend import media, videos
from fovea_backend.auth import CurrentUser, require_session
from fovea_backend.db import JsonText
from fovea_backend.errors import ApiError, invalid, not_found
from fovea_backend.schemas import (VIDEO_ID_PATTERN, PositionIn, PositionOut, SyncOut, VideoOut, VideoRemovedOut, ViewPrefs,
                                   ViewPrefsIn)
from fovea_backend.state import StateDep
from fovea_backend.store import videos as store

router = APIRouter(prefix="/api/videos", tags=["videos"])
VideoId = Annotated[str, Path(pattern=VIDEO_ID_PATTERN, description="first 16 hex chars of md5(filename)")]
NOT_FOUND = {404: {"description": "no such video"}}


@router.get("", response_model=list[VideoOut])
def list_videos(state: StateDep) -> Response:
    with state.pool.connection() as conn:
        return store.list_json(conn)


@router.post("/sync", response_model=SyncOut, responses={409: {"description": "video directory missing or empty"}})
def sync_videos(
    state: StateDep,
    prune: bool = Query(False, description="delete rows (and their annotations) whose file is gone"),
) -> SyncOut:
    with state.pool.connection() as conn:
        return SyncOut(**videos.sync(conn, state.settings.video_root, prune))


@router.get("/{video_id}", response_model=VideoOut, responses=NOT_FOUND)
def get_video(video_id: VideoId, state: StateDep) -> Response:
    with state.pool.connection() as conn:
        text = store.video_json(conn, video_id)
    if text is None:
        raise not_found("video", video_id, ("path", "video_id"))
    return JsonText(content=text)


@router.delete("/{video_id}", response_model=VideoRemovedOut, responses={
    **NOT_FOUND, 403: {"description": "only an admin removes videos"},
    409: {"description": "the video has tracks and withAnnotations is not set, or its file cannot be removed"}})
def remove_video(
    video_id: VideoId,
    state: StateDep,
    with_annotations: bool = Query(False, alias="withAnnotations", description="also when it has tracks (deleted with it)"),
    user: CurrentUser = Depends(require_session),
) -> VideoRemovedOut:
    """Remove a video: its file (and sidecar, thumbnails) from the video directory and its row, with its summaries;
    its tracks only when asked (`withAnnotations`), since they are people's work."""
    if not user.is_admin:
        raise ApiError(403, "only an admin can remove videos")
    with state.pool.connection() as conn:
        row = store.lock_for_removal(conn, video_id)
        if row is None:
            raise not_found("video", video_id, ("path", "video_id"))
        path, filename, tracks = row
        if tracks and not with_annotations:
            raise ApiError(409, f"{filename} has {tracks} track(s), which would be deleted with it: export them first,"
                                " or remove it with withAnnotations=true", ("query", "withAnnotations"))
        store.delete(conn, video_id)
        # Last, inside the transaction: a file that cannot be removed rolls the row back.
        videos.remove_files(state.settings.video_root, path, video_id)
    return VideoRemovedOut(removed=filename, annotations=tracks)


# What each user keeps per video (where they were, which tracks they hid): one row per user and video, its video's
# 404 included. Table and column names are constants of this module, never input.
def _user_pref(conn: psycopg.Connection, table: str, column: str, user: CurrentUser, video_id: str) -> Any:
    row = store.user_pref(conn, table, column, user.id, video_id)
    if row is None:
        raise not_found("video", video_id, ("path", "video_id"))
    return row[0]


def _put_user_pref(conn: psycopg.Connection, table: str, column: str, user: CurrentUser, video_id: str, value: Any) -> None:
    if not store.put_user_pref(conn, table, column, user.id, video_id, value):
        raise not_found("video", video_id, ("path", "video_id"))


@router.get("/{video_id}/position", response_model=PositionOut, responses=NOT_FOUND)
def get_position(video_id: VideoId, state: StateDep, user: CurrentUser = Depends(require_session)) -> PositionOut:
    """Where this user was last in this video, so reopening it returns there."""
    with state.pool.connection() as conn:
        return PositionOut(frame=_user_pref(conn, "video_positions", "frame", user, video_id))


@router.put("/{video_id}/position", response_model=PositionOut, responses=NOT_FOUND)
def put_position(video_id: VideoId, body: PositionIn, state: StateDep,
                 user: CurrentUser = Depends(require_session)) -> PositionOut:
    with state.pool.connection() as conn:
        _put_user_pref(conn, "video_positions", "frame", user, video_id, body.frame)
    return PositionOut(frame=body.frame)


@router.get("/{video_id}/view", response_model=ViewPrefs, responses=NOT_FOUND)
def get_view(video_id: VideoId, state: StateDep, user: CurrentUser = Depends(require_session)) -> ViewPrefs:
    """How this user looks at this video (their preference, not an edit of the tracks): which tracks they hid, the
    persona whose annotations the workspace shows and saves, and whether they asked to see every persona's."""
    with state.pool.connection() as conn:
        return _view(conn, user, video_id)


def _view(conn: psycopg.Connection, user: CurrentUser, video_id: str) -> ViewPrefs:
    row = store.view_prefs(conn, user.id, video_id)
    if row is None:
        raise not_found("video", video_id, ("path", "video_id"))
    return ViewPrefs(hidden=row[0] or [], persona_id=row[1], all_personas=row[2])


# A view field of the API -> its column in video_view_prefs.
VIEW_COLUMNS = {"hidden": "hidden", "persona_id": "persona_scope", "all_personas": "all_personas"}


@router.put("/{video_id}/view", response_model=ViewPrefs, responses=NOT_FOUND)
def put_view(video_id: VideoId, body: ViewPrefsIn, state: StateDep,
             user: CurrentUser = Depends(require_session)) -> ViewPrefs:
    """Change some of the view (the fields sent; the others stay as they are) and answer the whole of it."""
    with state.pool.connection() as conn:
        for name in sorted(body.model_fields_set & VIEW_COLUMNS.keys()):
            value = getattr(body, name)
            if value is None and name != "persona_id":  # only the persona may be unchosen again
                raise invalid(("body", to_camel(name)), f"{to_camel(name)} must not be null")
            _put_user_pref(conn, "video_view_prefs", VIEW_COLUMNS[name], user, video_id, value)
        return _view(conn, user, video_id)


@router.get(
    "/{video_id}/thumbnail",
    response_class=Response,
    responses={
        200: {"description": "a JPEG of an early frame, 320 px wide", "content": {"image/jpeg": {}}},
        404: {"description": "no such video, its file is gone, or no frame of it can be decoded"},
        503: {"description": "ffmpeg is not installed where the backend runs"},
    },
)
def video_thumbnail(video_id: VideoId, state: StateDep) -> Response:
    with state.pool.connection() as conn:
        row = store.path_and_duration(conn, video_id)
    if row is None:
        raise not_found("video", video_id, ("path", "video_id"))
    path = videos.resolve(state.settings.video_root, row[0])
    if path.exists() and not path.is_file():  # a directory or a FIFO: nothing ffmpeg should open
        raise videos.not_a_file(video_id, path)
    try:
        jpeg = videos.thumbnail(state.settings.video_root, video_id, path, row[1])
    except media.ToolMissing as exc:
        raise ApiError(503, str(exc)) from None
    except FileNotFoundError:
        raise videos.file_gone(video_id) from None
    if jpeg is None:
        raise ApiError(404, f"no frame of video {video_id} can be decoded for a thumbnail")
    return Response(content=jpeg.read_bytes(), media_type="image/jpeg",
                    headers={"Cache-Control": "private, max-age=86400"})


@router.get(
    "/{video_id}/stream",
    response_class=StreamingResponse,
    responses={
        200: {"description": "the whole file", "content": {"video/mp4": {}}},
        206: {"description": "the requested byte range", "content": {"video/mp4": {}}},
        404: {"description": "no such video, or its file is gone"},
        416: {"description": "range not satisfiable (or more than one range)"},
    },
)
def stream_video(
    video_id: VideoId,
    state: StateDep,
    range_header: str | None = Header(None, alias="Range", max_length=200),
) -> Response:
    with state.pool.connection() as conn:
        stored = store.path_of(conn, video_id)
    if stored is None:
        raise not_found("video", video_id, ("path", "video_id"))
    path = videos.resolve(state.settings.video_root, stored)
    handle, size = videos.open_video(path, video_id)
    headers = {"Accept-Ranges": "bytes"}
    media_type = videos.content_type(path)
    if range_header is None:
        headers["Content-Length"] = str(size)
        return StreamingResponse(videos.read_bytes(handle, 0, size - 1), media_type=media_type, headers=headers)
    span = videos.parse_range(range_header, size)
    if span is None:
        handle.close()
        return Response(status_code=416, headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"})
    start, end = span
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(end - start + 1)
    return StreamingResponse(videos.read_bytes(handle, start, end), status_code=206, media_type=media_type, headers=headers)
