"""GET /api/export?format=jsonl and POST /api/import: the portable copy of what people made.

One JSON object per line, `{"type": ..., "data": {...}}`, types in dependency order: header, video,
persona, ontology, world, annotation, summary. Data uses the API's own camelCase shapes plus ids and
timestamps, so an import into a fresh database reproduces identical rows. Videos are included because
annotations reference them. Import validates every line before touching the database, then writes
everything in one transaction: any bad line or conflicting row → 422 naming the line, nothing written.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import psycopg
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from psycopg.types.json import Jsonb
from pydantic import Field, ValidationError
from starlette.concurrency import run_in_threadpool

from fovea_backend import render
from fovea_backend.errors import ApiError, invalid
from fovea_backend.jsoncheck import check_json
from fovea_backend.routes.annotations import validate_frames
from fovea_backend.schemas import AnnotationOut, ApiModel, ImportOut, OntologyOut, PersonaIn, Text, VideoRow, WorldOut
from fovea_backend.state import BackendState, get_state

router = APIRouter(tags=["export"])
FORMAT_VERSION = 1
MAX_IMPORT_BYTES = 256 * 1024 * 1024

EXPORT_QUERIES: list[tuple[str, str]] = [
    ("video", f"SELECT {render.VIDEO}::text FROM videos v ORDER BY v.id"),
    ("persona", f"SELECT {render.PERSONA}::text FROM personas p ORDER BY p.id"),
    ("ontology", f"SELECT {render.ONTOLOGY}::text FROM ontologies o ORDER BY o.persona_id"),
    ("world", f"SELECT {render.WORLD}::text FROM world_state w"),
    ("annotation", f"SELECT {render.ANNOTATION_EXPORT}::text FROM annotations a ORDER BY a.id"),
    ("summary", f"SELECT {render.SUMMARY_EXPORT}::text FROM video_summaries s ORDER BY s.id"),
]


def export_lines(state: BackendState) -> Iterator[bytes]:
    with state.pool.connection() as conn:
        # One snapshot for every table, so the export is consistent while people keep annotating.
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        now = conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
        header = {"format": "fovea-export", "version": FORMAT_VERSION, "exportedAt": now.isoformat()}
        yield (json.dumps({"type": "header", "data": header}) + "\n").encode()
        for kind, sql in EXPORT_QUERIES:
            with conn.cursor(name=f"export_{kind}") as cur:
                cur.itersize = 2000
                cur.execute(sql)
                for (data,) in cur:
                    yield f'{{"type": "{kind}", "data": {data}}}\n'.encode()


@router.get("/api/export", response_class=StreamingResponse,
            responses={200: {"description": "JSON Lines", "content": {"application/x-ndjson": {}}}})
def export(format: Literal["jsonl"] = Query("jsonl"), state: BackendState = Depends(get_state)) -> StreamingResponse:  # noqa: A002
    return StreamingResponse(
        export_lines(state),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": 'attachment; filename="fovea-export.jsonl"'},
    )


# --- import records: the exported shapes, validated again on the way in ----------------------------------
class HeaderRecord(ApiModel):
    format: Literal["fovea-export"]
    version: Literal[1]


class VideoRecord(VideoRow):
    id: str = Field(pattern=r"^[0-9a-f]{16}$")
    filename: Text(1, 4096)  # type: ignore[valid-type]
    path: Text(1, 4096)  # type: ignore[valid-type]
    # Exports made before migration 0003 lack these; the next sync fills them in.
    fps_num: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None
    fps_den: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None
    frame_count: Annotated[int, Field(ge=1, le=2**62)] | None = None
    codec: Text(1, 100) | None = None  # type: ignore[valid-type]


class PersonaRecord(PersonaIn):
    id: UUID
    created_at: datetime
    updated_at: datetime


class AnnotationRecord(AnnotationOut):
    dedupe_key: Text(1, 200) | None = None  # type: ignore[valid-type]


class SummaryRecord(ApiModel):
    id: UUID
    video_id: str = Field(pattern=r"^[0-9a-f]{16}$")
    persona_id: UUID | None
    summary: dict[str, Any]
    text: Text(0, 1_000_000)  # type: ignore[valid-type]
    key_frames: list[dict[str, Any]]
    job_id: UUID | None
    embedding: str | None = Field(None, max_length=20_000, pattern=r"^\[[0-9eE+\-., ]*\]$")
    created_at: datetime
    updated_at: datetime


RECORDS: dict[str, type[ApiModel]] = {
    "header": HeaderRecord,
    "video": VideoRecord,
    "persona": PersonaRecord,
    "ontology": OntologyOut,
    "world": WorldOut,
    "annotation": AnnotationRecord,
    "summary": SummaryRecord,
}


def parse(body: bytes) -> list[tuple[int, str, Any]]:
    records: list[tuple[int, str, Any]] = []
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise invalid(("body",), "import must be UTF-8 JSON Lines") from None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise invalid(("body", f"line {number}"), f"not JSON: {exc.msg}") from None
        if not isinstance(item, dict) or item.get("type") not in RECORDS or not isinstance(item.get("data"), dict):
            raise invalid(("body", f"line {number}", "type"), f"each line must be {{\"type\": one of {sorted(RECORDS)}, \"data\": {{...}}}}")
        check_json(item["data"], ("body", f"line {number}", "data"))
        try:
            record = RECORDS[item["type"]].model_validate(item["data"])
        except ValidationError as exc:
            first = exc.errors()[0]
            raise invalid(("body", f"line {number}", "data", *first["loc"]), str(first["msg"])) from None
        if isinstance(record, AnnotationRecord):
            validate_frames(record.frames, None, None, ("body", f"line {number}", "data", "frames"))
        if isinstance(record, SummaryRecord) and record.embedding is not None and record.embedding.count(",") != 383:
            raise invalid(("body", f"line {number}", "data", "embedding"), "embedding must have 384 dimensions")
        records.append((number, item["type"], record))
    if not records:
        raise invalid(("body",), "import is empty")
    return records


def write(conn: psycopg.Connection, kind: str, r: Any) -> None:
    if kind == "video":
        conn.execute(
            "INSERT INTO videos (id, filename, path, size_bytes, duration, fps_num, fps_den, fps, frame_count, width, height,"
            " codec, metadata, created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (id) DO UPDATE SET filename = excluded.filename, path = excluded.path,"
            " size_bytes = excluded.size_bytes, duration = excluded.duration, fps_num = excluded.fps_num,"
            " fps_den = excluded.fps_den, fps = excluded.fps, frame_count = excluded.frame_count, width = excluded.width,"
            " height = excluded.height, codec = excluded.codec, metadata = excluded.metadata,"
            " created_at = excluded.created_at, updated_at = excluded.updated_at",
            (r.id, r.filename, r.path, r.size_bytes, r.duration, r.fps_num, r.fps_den, r.fps, r.frame_count, r.width,
             r.height, r.codec, Jsonb(r.metadata), r.created_at, r.updated_at),
        )
    elif kind == "persona":
        conn.execute(
            "INSERT INTO personas (id, name, role, information_need, hidden, created_at, updated_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET name = excluded.name, role = excluded.role,"
            " information_need = excluded.information_need, hidden = excluded.hidden,"
            " created_at = excluded.created_at, updated_at = excluded.updated_at",
            (r.id, r.name, r.role, r.information_need, r.hidden, r.created_at, r.updated_at),
        )
    elif kind == "ontology":
        conn.execute(
            "INSERT INTO ontologies (persona_id, entity_types, event_types, role_types, relation_types, updated_at)"
            " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (persona_id) DO UPDATE SET entity_types = excluded.entity_types,"
            " event_types = excluded.event_types, role_types = excluded.role_types,"
            " relation_types = excluded.relation_types, updated_at = excluded.updated_at",
            (r.persona_id, Jsonb(r.entity_types), Jsonb(r.event_types), Jsonb(r.role_types), Jsonb(r.relation_types), r.updated_at),
        )
    elif kind == "world":
        conn.execute(
            "UPDATE world_state SET entities = %s, events = %s, times = %s, locations = %s, collections = %s,"
            " relations = %s, updated_at = %s WHERE id = 1",
            (*(Jsonb(getattr(r, f)) for f in ("entities", "events", "times", "locations", "collections", "relations")), r.updated_at),
        )
    elif kind == "annotation":
        conn.execute(
            "INSERT INTO annotations (id, video_id, persona_id, type, label, frames, source, confidence, job_id, dedupe_key,"
            " created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (id) DO UPDATE SET video_id = excluded.video_id, persona_id = excluded.persona_id,"
            " type = excluded.type, label = excluded.label, frames = excluded.frames, source = excluded.source,"
            " confidence = excluded.confidence, job_id = excluded.job_id, dedupe_key = excluded.dedupe_key,"
            " created_at = excluded.created_at, updated_at = excluded.updated_at",
            (r.id, r.video_id, r.persona_id, r.type, r.label, Jsonb([k.model_dump() for k in r.frames]), r.source,
             r.confidence, r.job_id, r.dedupe_key, r.created_at, r.updated_at),
        )
    elif kind == "summary":
        conn.execute(
            "INSERT INTO video_summaries (id, video_id, persona_id, summary, text, key_frames, embedding, job_id,"
            " created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s::vector, %s, %s, %s)"
            " ON CONFLICT (id) DO UPDATE SET video_id = excluded.video_id, persona_id = excluded.persona_id,"
            " summary = excluded.summary, text = excluded.text, key_frames = excluded.key_frames,"
            " embedding = excluded.embedding, job_id = excluded.job_id,"
            " created_at = excluded.created_at, updated_at = excluded.updated_at",
            (r.id, r.video_id, r.persona_id, Jsonb(r.summary), r.text, Jsonb(r.key_frames), r.embedding, r.job_id,
             r.created_at, r.updated_at),
        )


def import_jsonl(state: BackendState, body: bytes) -> ImportOut:
    records = parse(body)
    counts: dict[str, int] = {}
    with state.pool.connection() as conn:
        with conn.transaction():
            for number, kind, record in records:
                if kind == "header":
                    continue
                try:
                    with conn.transaction():  # savepoint: report the failing line, then abort everything
                        write(conn, kind, record)
                except (psycopg.IntegrityError, psycopg.DataError) as exc:
                    detail = exc.diag.message_detail or exc.diag.message_primary or str(exc)
                    raise invalid(("body", f"line {number}", "data"), f"{kind} conflicts with the database: {detail}") from None
                counts[kind] = counts.get(kind, 0) + 1
    return ImportOut(imported=counts)


@router.post(
    "/api/import",
    response_model=ImportOut,
    openapi_extra={"requestBody": {"required": True, "content": {"application/x-ndjson": {"schema": {"type": "string"}}}}},
    responses={413: {"description": "body larger than 256 MiB"}},
)
async def import_(request: Request, state: BackendState = Depends(get_state)) -> ImportOut:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_IMPORT_BYTES:
        raise ApiError(413, "import larger than 256 MiB", ("body",))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_IMPORT_BYTES:
            raise ApiError(413, "import larger than 256 MiB", ("body",))
        chunks.append(chunk)
    return await run_in_threadpool(import_jsonl, state, b"".join(chunks))
