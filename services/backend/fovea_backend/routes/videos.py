"""Videos: list, get, stream with HTTP Range, sync from the video directory."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Response
from fastapi.responses import StreamingResponse

from fovea_backend import media, render, videos
from fovea_backend.db import json_list, json_or_404
from fovea_backend.errors import ApiError, not_found
from fovea_backend.schemas import VIDEO_ID_PATTERN, SyncOut, VideoOut
from fovea_backend.state import BackendState, get_state

router = APIRouter(prefix="/api/videos", tags=["videos"])
VideoId = Annotated[str, Path(pattern=VIDEO_ID_PATTERN, description="first 16 hex chars of md5(filename)")]
NOT_FOUND = {404: {"description": "no such video"}}


@router.get("", response_model=list[VideoOut])
def list_videos(state: BackendState = Depends(get_state)) -> Response:
    with state.pool.connection() as conn:
        return json_list(conn, f"SELECT {render.VIDEO_OUT} AS j FROM videos v ORDER BY v.filename")


@router.post("/sync", response_model=SyncOut, responses={409: {"description": "video directory missing or empty"}})
def sync_videos(
    prune: bool = Query(False, description="delete rows (and their annotations) whose file is gone"),
    state: BackendState = Depends(get_state),
) -> SyncOut:
    with state.pool.connection() as conn:
        return SyncOut(**videos.sync(conn, state.settings.video_root, prune))


@router.get("/{video_id}", response_model=VideoOut, responses=NOT_FOUND)
def get_video(video_id: VideoId, state: BackendState = Depends(get_state)) -> Response:
    with state.pool.connection() as conn:
        return json_or_404(conn, f"SELECT {render.VIDEO_OUT}::text FROM videos v WHERE id = %s", (video_id,),
                           not_found("video", video_id, ("path", "video_id")))


@router.get(
    "/{video_id}/thumbnail",
    response_class=Response,
    responses={
        200: {"description": "a JPEG of an early frame, 320 px wide", "content": {"image/jpeg": {}}},
        404: {"description": "no such video, its file is gone, or no frame of it can be decoded"},
        503: {"description": "ffmpeg is not installed where the backend runs"},
    },
)
def video_thumbnail(video_id: VideoId, state: BackendState = Depends(get_state)) -> Response:
    with state.pool.connection() as conn:
        row = conn.execute("SELECT path, duration FROM videos WHERE id = %s", (video_id,)).fetchone()
    if row is None:
        raise not_found("video", video_id, ("path", "video_id"))
    path = videos.resolve(state.settings.video_root, row[0])
    try:
        jpeg = videos.thumbnail(state.settings.video_root, video_id, path, row[1])
    except media.ToolMissing as exc:
        raise ApiError(503, str(exc)) from None
    except FileNotFoundError:
        raise _file_gone(video_id) from None
    if jpeg is None:
        raise ApiError(404, f"no frame of video {video_id} can be decoded for a thumbnail")
    return Response(content=jpeg.read_bytes(), media_type="image/jpeg",
                    headers={"Cache-Control": "private, max-age=86400"})


def _file_gone(video_id: str) -> ApiError:
    return ApiError(404, f"file of video {video_id} is missing from the video directory; run a sync")


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
    range_header: str | None = Header(None, alias="Range", max_length=200),
    state: BackendState = Depends(get_state),
) -> Response:
    with state.pool.connection() as conn:
        row = conn.execute("SELECT path FROM videos WHERE id = %s", (video_id,)).fetchone()
    if row is None:
        raise not_found("video", video_id, ("path", "video_id"))
    path = videos.resolve(state.settings.video_root, row[0])
    try:
        size = path.stat().st_size
    except OSError:
        raise _file_gone(video_id) from None
    headers = {"Accept-Ranges": "bytes"}
    media_type = videos.content_type(path)
    if range_header is None:
        headers["Content-Length"] = str(size)
        return StreamingResponse(videos.read_bytes(path, 0, size - 1), media_type=media_type, headers=headers)
    span = videos.parse_range(range_header, size)
    if span is None:
        return Response(status_code=416, headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"})
    start, end = span
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(end - start + 1)
    return StreamingResponse(videos.read_bytes(path, start, end), status_code=206, media_type=media_type, headers=headers)
