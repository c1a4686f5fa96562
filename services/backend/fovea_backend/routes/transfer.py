"""GET /api/export?format=jsonl and POST /api/import: the portable copy of what people made (the format, and how an
import streams: fovea_backend/transfer/)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Literal
from uuid import UUID

from anyio import from_thread
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from fovea_backend.errors import ApiError, not_found
from fovea_backend.routes import formats
from fovea_backend.schemas import VIDEO_ID_PATTERN, ImportOut, ImportPreviewOut
from fovea_backend.state import StateDep
from fovea_backend.store import videos
from fovea_backend.transfer import exporter, importer, records
from fovea_backend.uploads import MAX_IMPORT_BYTES

router = APIRouter(tags=["export"])


@router.get("/api/export", response_class=StreamingResponse,
            responses={200: {"description": "JSON Lines", "content": {"application/x-ndjson": {}}},
                       404: {"description": "no such video (videoId)"}})
def export(
    state: StateDep,
    format: Literal["jsonl", "mot", "coco", "yolo", "cvat"] = Query("jsonl", description=(  # noqa: A002
        "jsonl: everything (this format); mot, coco, yolo, cvat: the accepted tracks of every video (or videoId's) in"
        " that format (routes/formats.py)")),
    persona_id: UUID | None = Query(None, alias="personaId", description="standard formats: only this persona's tracks"),
    video_id: Annotated[str | None, Query(alias="videoId", pattern=VIDEO_ID_PATTERN,
                                          description="only this video (and its annotations and summaries)")] = None,
    interpolate: bool = Query(False, description="every frame of each track from its first keyframe for as long as it"
                                                 " lasts: to the video's end unless marked outside (tracks.py)"),
    accepted_only: bool = Query(False, alias="acceptedOnly", description=(
        "only videos whose review is done (every assignment accepted) and their annotations; every format (a standard"
        " format of one videoId that is not accepted: 409)")),
) -> Response:
    if format != "jsonl":
        return formats.export_videos(state, [video_id] if video_id else None, format, persona_id, accepted_only)
    if video_id is not None:
        with state.pool.connection() as conn:
            if not videos.exists(conn, video_id):
                raise not_found("video", video_id, ("query", "videoId"))
    if interpolate:
        exporter.check_interpolated_size(state, video_id)
    name = f"fovea-export-{video_id}" if video_id else "fovea-export"
    return StreamingResponse(
        exporter.export_lines(state, video_id, interpolate, accepted_only),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="{name}.jsonl"'},
    )


@router.post(
    "/api/import",
    response_model=ImportOut | ImportPreviewOut,
    openapi_extra={"requestBody": {"required": True, "content": {"application/x-ndjson": {"schema": {"type": "string"}}}}},
    responses={413: {"description": "body larger than 256 MiB"},
               415: {"description": "the body is not typed application/x-ndjson (or application/json)"}},
)
async def import_(
    request: Request,
    state: StateDep,
    dry_run: bool = Query(False, alias="dryRun", description="validate and report (ImportPreviewOut); write nothing"),
) -> ImportOut | ImportPreviewOut:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_IMPORT_BYTES:
        raise ApiError(413, "import larger than 256 MiB", ("body",))
    chunks = request.stream()

    def received() -> Iterator[bytes]:
        """The body's chunks, each fetched from the event loop when the import thread wants the next one."""
        while True:
            try:
                yield from_thread.run(chunks.__anext__)
            except StopAsyncIteration:
                return

    try:
        return await run_in_threadpool(importer.import_jsonl, state, records.body_lines(received()), dry_run)
    except ApiError as refused:
        if refused.status != 413:
            # The answer comes before the rest of the body: read it (and drop it), so that the client, still
            # sending, gets the answer rather than a reset connection.
            async for _ in chunks:
                pass
        raise
