"""GET /api/export?format=jsonl and POST /api/import: the portable copy of what people made.

One JSON object per line, `{"type": ..., "data": {...}}`, types in dependency order: header, video,
persona, ontology, world, annotation, summary. Data uses the API's own camelCase shapes plus ids and
timestamps, so an import into a fresh database reproduces identical rows. Videos are included because
annotations reference them. Import validates every line before touching the database, then writes
everything in one transaction: any bad line or conflicting row → 422 naming the line, nothing written.

`videoId` limits the video-scoped kinds (video, annotation, summary) to one video; personas, ontologies
and the world stay, so the file still imports on its own. `interpolate=true` expands each track to every
frame (see tracks.py); an import keeps only the frames marked `keyframe: true`, so it restores the track.
`POST /api/import?dryRun=true` runs the real import inside a transaction that is always rolled back and
reports what it would import, which rows it would replace, and every bad line: exact, and nothing written.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import psycopg
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from psycopg.types.json import Jsonb
from pydantic import Field, ValidationError
from pydantic.alias_generators import to_camel
from starlette.concurrency import run_in_threadpool

from fovea_backend import render, tracks
from fovea_backend.errors import ApiError, invalid, not_found
from fovea_backend.jsoncheck import check_json
from fovea_backend.routes.annotations import validate_frames
from fovea_backend.schemas import (
    VIDEO_ID_PATTERN, AnnotationOut, ApiModel, ImportConflict, ImportLineError, ImportOut, ImportPreviewOut, Keyframe,
    OntologyOut, PersonaIn, Text, VideoRow, WorldOut,
)
from fovea_backend.state import BackendState, get_state

router = APIRouter(tags=["export"])
FORMAT_VERSION = 1
MAX_IMPORT_BYTES = 256 * 1024 * 1024
MAX_PREVIEW_ERRORS = 1000

# kind, SQL without WHERE/ORDER, the column that names the video (video-scoped kinds), ORDER BY.
EXPORT_QUERIES: list[tuple[str, str, str | None, str]] = [
    ("video", f"SELECT {render.VIDEO}::text FROM videos v", "v.id", "v.id"),
    ("persona", f"SELECT {render.PERSONA}::text FROM personas p", None, "p.id"),
    ("ontology", f"SELECT {render.ONTOLOGY}::text FROM ontologies o", None, "o.persona_id"),
    ("world", f"SELECT {render.WORLD}::text FROM world_state w", None, "w.id"),
    ("annotation", f"SELECT {render.ANNOTATION_EXPORT}::text FROM annotations a", "a.video_id", "a.id"),
    ("summary", f"SELECT {render.SUMMARY_EXPORT}::text FROM video_summaries s", "s.video_id", "s.id"),
]


def export_sql(video_column: str | None, video_id: str | None) -> str:
    return f"WHERE {video_column} = %(video)s" if video_column and video_id else ""


def export_lines(state: BackendState, video_id: str | None = None, interpolate: bool = False) -> Iterator[bytes]:
    with state.pool.connection() as conn:
        # One snapshot for every table, so the export is consistent while people keep annotating.
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        now = conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
        header: dict[str, Any] = {"format": "fovea-export", "version": FORMAT_VERSION, "exportedAt": now.isoformat(),
                                  "interpolated": interpolate}
        if video_id is not None:
            header["videoId"] = video_id
        yield (json.dumps({"type": "header", "data": header}) + "\n").encode()
        for kind, select, video_column, order in EXPORT_QUERIES:
            with conn.cursor(name=f"export_{kind}") as cur:
                cur.itersize = 2000
                cur.execute(f"{select} {export_sql(video_column, video_id)} ORDER BY {order}", {"video": video_id})
                for (data,) in cur:
                    if kind == "annotation" and interpolate:
                        data = _interpolated(data)
                    yield f'{{"type": "{kind}", "data": {data}}}\n'.encode()


def _interpolated(data: str) -> str:
    record = json.loads(data)
    keyframes = record["frames"]
    if tracks.span(keyframes) <= tracks.MAX_TRACK_FRAMES:
        record["frames"] = tracks.interpolate(keyframes)
    else:  # only reachable when a track grew past the limit after the check before streaming: keyframes only
        record["frames"] = [{**key, "keyframe": True} for key in keyframes]
    return json.dumps(record, ensure_ascii=False)


def _check_interpolated_size(state: BackendState, video_id: str | None) -> None:
    """Refuse (422) before streaming an interpolated export that would run to gigabytes."""
    with state.pool.connection() as conn:
        row = conn.execute(
            "SELECT coalesce(max(q.span), 0), coalesce(sum(q.span), 0) FROM (SELECT (a.frames->-1->>'frame')::bigint"
            f" - (a.frames->0->>'frame')::bigint + 1 AS span FROM annotations a {export_sql('a.video_id', video_id)}) q",
            {"video": video_id},
        ).fetchone()
    longest, total = row if row else (0, 0)
    if longest > tracks.MAX_TRACK_FRAMES:
        raise invalid(("query", "interpolate"), f"a track spans {longest} frames; interpolated exports are limited to"
                                                f" {tracks.MAX_TRACK_FRAMES} per track (export keyframes only)")
    if total > tracks.MAX_EXPORT_FRAMES:
        raise invalid(("query", "interpolate"), f"the tracks span {total} frames in all; interpolated exports are limited"
                                                f" to {tracks.MAX_EXPORT_FRAMES} (filter by videoId or export keyframes only)")


@router.get("/api/export", response_class=StreamingResponse,
            responses={200: {"description": "JSON Lines", "content": {"application/x-ndjson": {}}},
                       404: {"description": "no such video (videoId)"}})
def export(
    format: Literal["jsonl"] = Query("jsonl"),  # noqa: A002
    video_id: Annotated[str | None, Query(alias="videoId", pattern=VIDEO_ID_PATTERN,
                                          description="only this video (and its annotations and summaries)")] = None,
    interpolate: bool = Query(False, description="every frame of each track from its first to its last keyframe"),
    state: BackendState = Depends(get_state),
) -> StreamingResponse:
    if video_id is not None:
        with state.pool.connection() as conn:
            if conn.execute("SELECT 1 FROM videos WHERE id = %s", (video_id,)).fetchone() is None:
                raise not_found("video", video_id, ("query", "videoId"))
    if interpolate:
        _check_interpolated_size(state, video_id)
    name = f"fovea-export-{video_id}" if video_id else "fovea-export"
    return StreamingResponse(
        export_lines(state, video_id, interpolate),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="{name}.jsonl"'},
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


class ExportedKeyframe(Keyframe):
    keyframe: bool = True  # false: a frame an interpolated export made; dropped on import


class AnnotationRecord(AnnotationOut):
    frames: Annotated[list[ExportedKeyframe], Field(min_length=1, max_length=tracks.MAX_TRACK_FRAMES)]
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


@dataclass(frozen=True)
class LineError:
    line: int  # 0: the body as a whole
    loc: tuple[str | int, ...]  # inside the line: ("data", "frames", 0, "width"); () for the whole line
    message: str

    def api_error(self) -> ApiError:
        return invalid(("body", f"line {self.line}", *self.loc) if self.line else ("body",), self.message)

    def out(self) -> ImportLineError:
        field = ".".join(str(part) for part in self.loc) or ("line" if self.line else "body")
        return ImportLineError(line=self.line, field=field, message=self.message)


Record = tuple[int, str, Any]  # line number, kind, validated record


def _parse_line(line: str) -> tuple[str, Any]:
    """One line → (kind, record); raises ApiError with a loc inside the line."""
    try:
        item = json.loads(line)
    except ValueError as exc:
        raise invalid((), f"not JSON: {exc.msg}") from None
    if not isinstance(item, dict) or item.get("type") not in RECORDS or not isinstance(item.get("data"), dict):
        raise invalid(("type",), f"each line must be {{\"type\": one of {sorted(RECORDS)}, \"data\": {{...}}}}")
    check_json(item["data"], ("data",))
    try:
        record = RECORDS[item["type"]].model_validate(item["data"])
    except ValidationError as exc:
        first = exc.errors()[0]
        raise invalid(("data", *first["loc"]), str(first["msg"])) from None
    if isinstance(record, AnnotationRecord):
        record.frames = [frame for frame in record.frames if frame.keyframe]  # an interpolated export's extras
        if not record.frames:
            raise invalid(("data", "frames"), "no frame is marked keyframe: true")
        validate_frames(record.frames, None, None, ("data", "frames"))
    if isinstance(record, SummaryRecord) and record.embedding is not None and record.embedding.count(",") != 383:
        raise invalid(("data", "embedding"), "embedding must have 384 dimensions")
    return item["type"], record


def parse(body: bytes) -> tuple[list[Record], list[LineError]]:
    """Every valid line, and every invalid one with the reason (the strict import stops at the first)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return [], [LineError(0, (), "import must be UTF-8 JSON Lines")]
    records: list[Record] = []
    errors: list[LineError] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            kind, record = _parse_line(line)
        except ApiError as exc:
            errors.append(LineError(number, exc.field, exc.message))
            continue
        records.append((number, kind, record))
    if not records and not errors:
        errors.append(LineError(0, (), "import is empty"))
    return records, errors


# What an existing row means for each kind: the import replaces it (ON CONFLICT DO UPDATE).
EXISTING: dict[str, str] = {
    "video": "SELECT 'the video row exists; the import replaces it' FROM videos WHERE id = %s",
    "persona": "SELECT 'the persona exists; the import replaces it' FROM personas WHERE id = %s",
    "ontology": "SELECT 'the ontology of this persona exists; the import replaces it' FROM ontologies WHERE persona_id = %s",
    "world": "SELECT 'the world state is replaced by the import' FROM world_state WHERE id = %s AND (entities <> '[]'"
             " OR events <> '[]' OR times <> '[]' OR locations <> '[]' OR collections <> '[]' OR relations <> '[]')",
    "annotation": "SELECT CASE WHEN video_id = %s THEN 'the annotation exists; the import replaces it' ELSE"
                  " 'the annotation exists on video ' || video_id || '; the import moves it to video ' || %s END"
                  " FROM annotations WHERE id = %s",
    "summary": "SELECT 'the summary exists; the import replaces it' FROM video_summaries WHERE id = %s",
}


TABLES = {"video": "videos", "persona": "personas", "ontology": "ontologies", "world": "world_state",
          "annotation": "annotations", "summary": "video_summaries"}


def _conflict(conn: psycopg.Connection, number: int, kind: str, r: Any) -> ImportConflict | None:
    key: Any = r.persona_id if kind == "ontology" else 1 if kind == "world" else r.id
    params: tuple[Any, ...] = (r.video_id, r.video_id, r.id) if kind == "annotation" else (key,)
    row = conn.execute(EXISTING[kind], params).fetchone()  # type: ignore[arg-type]
    return ImportConflict(line=number, kind=kind, id="world" if kind == "world" else str(key), reason=row[0]) if row else None


def _db_loc(kind: str, record: Any, exc: psycopg.Error) -> tuple[str | int, ...]:
    """The field a constraint names (`annotations_video_id_fkey` → data.videoId), else just data."""
    constraint, prefix = exc.diag.constraint_name or "", TABLES[kind] + "_"
    for suffix in ("_fkey", "_key"):
        if constraint.startswith(prefix) and constraint.endswith(suffix):
            column = constraint[len(prefix):-len(suffix)]
            if column in type(record).model_fields:
                return ("data", to_camel(column))
    return ("data",)


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
            # As exported: a keyframe without `outside` (older rows, job results) stays without it.
            (r.id, r.video_id, r.persona_id, r.type, r.label,
             Jsonb([k.model_dump(exclude_unset=True, exclude={"keyframe"}) for k in r.frames]), r.source,
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


def import_jsonl(state: BackendState, body: bytes, dry_run: bool = False) -> ImportOut | ImportPreviewOut:
    records, errors = parse(body)
    if errors and not dry_run:
        raise errors[0].api_error()
    counts: dict[str, int] = {}
    conflicts: list[ImportConflict] = []
    with state.pool.connection() as conn:
        # A dry run is the real import in a transaction that is always rolled back: what it reports is exact.
        with conn.transaction(force_rollback=dry_run):
            for number, kind, record in records:
                if kind == "header":
                    continue
                try:
                    with conn.transaction():  # savepoint: report the failing line, then abort everything
                        conflict = _conflict(conn, number, kind, record) if dry_run else None
                        write(conn, kind, record)
                except (psycopg.IntegrityError, psycopg.DataError) as exc:
                    detail = exc.diag.message_detail or exc.diag.message_primary or str(exc)
                    failed = LineError(number, _db_loc(kind, record, exc), f"{kind} conflicts with the database: {detail}")
                    if not dry_run:
                        raise failed.api_error() from None
                    errors.append(failed)
                    continue
                counts[kind] = counts.get(kind, 0) + 1
                if conflict is not None:
                    conflicts.append(conflict)
    if not dry_run:
        return ImportOut(imported=counts)
    errors.sort(key=lambda e: e.line)
    return ImportPreviewOut(would_import=counts, conflicts=conflicts,
                            errors=[e.out() for e in errors[:MAX_PREVIEW_ERRORS]])


@router.post(
    "/api/import",
    response_model=ImportOut | ImportPreviewOut,
    openapi_extra={"requestBody": {"required": True, "content": {"application/x-ndjson": {"schema": {"type": "string"}}}}},
    responses={413: {"description": "body larger than 256 MiB"}},
)
async def import_(
    request: Request,
    dry_run: bool = Query(False, alias="dryRun", description="validate and report (ImportPreviewOut); write nothing"),
    state: BackendState = Depends(get_state),
) -> ImportOut | ImportPreviewOut:
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
    return await run_in_threadpool(import_jsonl, state, b"".join(chunks), dry_run)
