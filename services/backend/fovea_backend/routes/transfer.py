"""GET /api/export?format=jsonl and POST /api/import: the portable copy of what people made.

One JSON object per line, `{"type": ..., "data": {...}}`, types in dependency order: header, video,
persona, ontology, world, annotation, summary, transcript. Data uses the API's own camelCase shapes plus ids and
timestamps, so an import into a fresh database reproduces identical rows. Videos are included because
annotations reference them. Import streams: each line is read from the request as it arrives, validated
and written inside one transaction, then dropped, so memory holds one line (at most 16 MiB) whatever the
import's size (up to 256 MiB); any bad line or conflicting row → 422 naming the line and the transaction
is rolled back: nothing written. (The price: the import holds one database connection while it uploads.)

`videoId` limits the video-scoped kinds (video, annotation, summary, transcript) to one video; personas, ontologies
and the world stay, so the file still imports on its own. `interpolate=true` expands each track to every
frame it lasts, by the workspace's rule (see tracks.py); an import keeps only the frames marked `keyframe: true`, so it restores the track.
`POST /api/import?dryRun=true` runs the real import inside a transaction that is always rolled back and
reports what it would import, which rows it would replace, and every bad line: exact, and nothing written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal
from uuid import UUID

import psycopg
from anyio import from_thread
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from psycopg.types.json import Jsonb
from pydantic import Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel
from starlette.concurrency import run_in_threadpool

from fovea_backend import render, tracks, videos
from fovea_backend.errors import ApiError, invalid, not_found
from fovea_backend.jsoncheck import MAX_DEPTH, check_json
from fovea_backend.routes import formats
from fovea_backend.routes.annotations import validate_frames
from fovea_backend.schemas import (
    VIDEO_ID_PATTERN, AnnotationOut, ApiModel, EventOut, RelationOut, ImportConflict, ImportLineError, ImportOut,
    ImportPreviewOut, Keyframe, OntologyOut, PersonaIn, Text, TranscriptSegmentOut, VideoRow, WorldOut,
)
from fovea_backend.state import BackendState, StateDep
from fovea_backend.uploads import MAX_IMPORT_BYTES

router = APIRouter(tags=["export"])
FORMAT_VERSION = 1
# One line is parsed whole: 16 MiB holds a keyframes-only track at the API's limit of 100 000 keyframes.
MAX_LINE_BYTES = 16 * 1024 * 1024
MAX_PREVIEW_ERRORS = 1000  # listed in a dry run's report, each of errors and conflicts; the totals are exact

# kind, SQL without WHERE/ORDER, the column that names the video (video-scoped kinds), ORDER BY.
EXPORT_QUERIES: list[tuple[str, str, str | None, str]] = [
    ("video", f"SELECT {render.VIDEO}::text FROM videos v", "v.id", "v.id"),
    ("persona", f"SELECT {render.PERSONA}::text FROM personas p", None, "p.id"),
    ("ontology", f"SELECT {render.ONTOLOGY}::text FROM ontologies o", None, "o.persona_id"),
    ("world", f"SELECT {render.WORLD}::text FROM world_state w", None, "w.id"),
    ("annotation", f"SELECT {render.ANNOTATION_EXPORT}::text FROM annotations a", "a.video_id", "a.id"),
    ("event", f"SELECT {render.EVENT}::text FROM annotation_events e", "e.video_id", "e.id"),
    ("relation", f"SELECT {render.RELATION}::text FROM annotation_relations r", "r.video_id", "r.id"),
    ("summary", f"SELECT {render.SUMMARY_EXPORT}::text FROM video_summaries s", "s.video_id", "s.id"),
    ("transcript", f"SELECT {render.TRANSCRIPT}::text FROM video_transcripts t", "t.video_id", "t.video_id"),
]


def export_sql(video_column: str | None, video_id: str | None, accepted_only: bool = False) -> str:
    """`accepted_only`: only videos whose review is done (every assignment accepted: 0063's video_is_accepted)."""
    conditions = [f"{video_column} = %(video)s"] if video_column and video_id else []
    if video_column and accepted_only:
        conditions.append(f"video_is_accepted({video_column})")
    return f"WHERE {' AND '.join(conditions)}" if conditions else ""


def export_lines(state: BackendState, video_id: str | None = None, interpolate: bool = False,
                 accepted_only: bool = False) -> Iterator[bytes]:
    with state.pool.connection() as conn:
        # One snapshot for every table, so the export is consistent while people keep annotating.
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        now = conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
        header: dict[str, Any] = {"format": "fovea-export", "version": FORMAT_VERSION, "exportedAt": now.isoformat(),
                                  "interpolated": interpolate}
        if video_id is not None:
            header["videoId"] = video_id
        if accepted_only:
            header["acceptedOnly"] = True
        yield (json.dumps({"type": "header", "data": header}) + "\n").encode()
        # How long each video is: a track holds its last box to the video's end (tracks.py).
        frame_counts: dict[str, int | None] = dict(conn.execute("SELECT id, frame_count FROM videos").fetchall()) \
            if interpolate else {}
        for kind, select, video_column, order in EXPORT_QUERIES:
            with conn.cursor(name=f"export_{kind}") as cur:
                cur.itersize = 2000
                cur.execute(f"{select} {export_sql(video_column, video_id, accepted_only)} ORDER BY {order}",
                            {"video": video_id})
                for (data,) in cur:
                    if kind == "annotation" and interpolate:
                        data = _interpolated(data, frame_counts)
                    yield f'{{"type": "{kind}", "data": {data}}}\n'.encode()


def _interpolated(data: str, frame_counts: dict[str, int | None]) -> str:
    record = json.loads(data)
    frame_count = frame_counts.get(record["videoId"])
    if tracks.span(record, frame_count) <= tracks.MAX_TRACK_FRAMES:
        record["frames"] = tracks.expand(record, frame_count)
    else:  # only reachable when a track grew past the limit after the check before streaming: keyframes only
        record["frames"] = [{**key, "keyframe": True} for key in record["frames"]]
    return json.dumps(record, ensure_ascii=False)


def _check_interpolated_size(state: BackendState, video_id: str | None) -> None:
    """Refuse (422) before streaming an interpolated export that would run to gigabytes."""
    with state.pool.connection() as conn:
        row = conn.execute(
            # tracks.span in SQL: to the video's last frame for a track that holds its last box, else its last keyframe.
            f"SELECT coalesce(max(q.span), 0), coalesce(sum(q.span), 0) FROM (SELECT {tracks.LAST_FRAME_SQL}"
            " - (a.frames->0->>'frame')::bigint + 1 AS span"
            f" FROM annotations a JOIN videos v ON v.id = a.video_id {export_sql('a.video_id', video_id)}) q",
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
            if conn.execute("SELECT 1 FROM videos WHERE id = %s", (video_id,)).fetchone() is None:
                raise not_found("video", video_id, ("query", "videoId"))
    if interpolate:
        _check_interpolated_size(state, video_id)
    name = f"fovea-export-{video_id}" if video_id else "fovea-export"
    return StreamingResponse(
        export_lines(state, video_id, interpolate, accepted_only),
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

    @field_validator("path")
    @classmethod
    def _a_video_file_under_the_root(cls, path: str) -> str:
        """What a sync stores: a normalised relative path to a visible video file (serving a directory or
        a file outside the video directory is refused later anyway; here the line is named)."""
        parts = PurePosixPath(path).parts
        if path.startswith("/") or path != PurePosixPath(path).as_posix() or ".." in parts:
            raise ValueError("must be a relative path inside the video directory, without '..'")
        if any(part.startswith(".") for part in parts) or PurePosixPath(path).suffix.lower() not in videos.VIDEO_SUFFIXES:
            raise ValueError(f"must name a video file ({', '.join(sorted(videos.VIDEO_SUFFIXES))}) outside hidden folders")
        return path


class PersonaRecord(PersonaIn):
    id: UUID
    created_at: datetime
    updated_at: datetime


class ExportedKeyframe(Keyframe):
    keyframe: bool = True  # false: a frame an interpolated export made; dropped on import


class AnnotationRecord(AnnotationOut):
    frames: Annotated[list[ExportedKeyframe], Field(min_length=1, max_length=tracks.MAX_TRACK_FRAMES)]
    dedupe_key: Text(1, 200) | None = None  # type: ignore[valid-type]
    version: Annotated[int, Field(ge=1, le=2**62)] = 1  # exports made before migration 0010 lack it


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


class TranscriptRecord(ApiModel):
    """A video's transcript (TranscriptOut's shape; its `message` is derived from the status, not stored)."""

    video_id: str = Field(pattern=r"^[0-9a-f]{16}$")
    job_id: UUID | None
    model: Text(1, 200)  # type: ignore[valid-type]
    language: Text(0, 20) | None  # type: ignore[valid-type]
    status: Literal["ok", "no_audio", "no_speech"]
    duration_s: float = Field(ge=0)
    text: Text(0, 2_000_000)  # type: ignore[valid-type]
    segments: list[TranscriptSegmentOut]
    created_at: datetime
    updated_at: datetime


class EventRecord(EventOut):
    video_id: str = Field(pattern=r"^[0-9a-f]{16}$")
    version: Annotated[int, Field(ge=1, le=2**62)] = 1


class RelationRecord(RelationOut):
    video_id: str = Field(pattern=r"^[0-9a-f]{16}$")
    version: Annotated[int, Field(ge=1, le=2**62)] = 1


RECORDS: dict[str, type[ApiModel]] = {
    "header": HeaderRecord,
    "video": VideoRecord,
    "persona": PersonaRecord,
    "ontology": OntologyOut,
    "world": WorldOut,
    "annotation": AnnotationRecord,
    "event": EventRecord,
    "relation": RelationRecord,
    "summary": SummaryRecord,
    "transcript": TranscriptRecord,
}


class LineError(Exception):
    """A bad line: its number (0: the body as a whole), where inside it (("data", "frames", 0, "width"); ()
    for the whole line), and why."""

    def __init__(self, line: int, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.line, self.loc, self.message = line, loc, message

    def api_error(self) -> ApiError:
        return invalid(("body", f"line {self.line}", *self.loc) if self.line else ("body",), self.message)

    def out(self) -> ImportLineError:
        field = ".".join(str(part) for part in self.loc) or ("line" if self.line else "body")
        return ImportLineError(line=self.line, field=field, message=self.message)


def _parse_line(line: str) -> tuple[str, Any]:
    """One line → (kind, record); raises ApiError with a loc inside the line."""
    try:
        item = json.loads(line)
    except ValueError as exc:
        raise invalid((), f"not JSON: {exc.msg}") from None
    except RecursionError:
        raise invalid((), f"nested too deeply to parse (records nest at most {MAX_DEPTH} levels)") from None
    if not isinstance(item, dict) or item.get("type") not in RECORDS or not isinstance(item.get("data"), dict):
        raise invalid(("type",), f"each line must be {{\"type\": one of {sorted(RECORDS)}, \"data\": {{...}}}}")
    check_json(item["data"], ("data",))
    try:
        record = RECORDS[item["type"]].model_validate(item["data"])
    except ValidationError as exc:
        first = exc.errors()[0]
        raise invalid(("data", *first["loc"]), str(first["msg"])) from None
    if isinstance(record, VideoRecord) and record.id != videos.video_id(record.filename):
        # Ids are derived from file names: a row whose id is not its name's would hold that name against the
        # row a later sync makes for the file (a UniqueViolation on every sync).
        raise invalid(("data", "id"), f"must be the first 16 hex digits of md5(filename): {videos.video_id(record.filename)}")
    if isinstance(record, AnnotationRecord):
        record.frames = [frame for frame in record.frames if frame.keyframe]  # an interpolated export's extras
        if not record.frames:
            raise invalid(("data", "frames"), "no frame is marked keyframe: true")
        validate_frames(record.frames, None, None, ("data", "frames"))
    if isinstance(record, SummaryRecord) and record.embedding is not None and record.embedding.count(",") != 383:
        raise invalid(("data", "embedding"), "embedding must have 384 dimensions")
    return item["type"], record


def body_lines(chunks: Iterable[bytes]) -> Iterator[tuple[int, bytes | None]]:
    """The body's lines, numbered from 1, split at \\n only (JSON escapes every other line break inside its
    strings; `str.splitlines` would cut a line at a raw U+2028), holding one line and one chunk at a time.
    A line longer than MAX_LINE_BYTES is dropped as it arrives and yielded as None. Raises 413 once the
    body passes MAX_IMPORT_BYTES."""
    pending = bytearray()
    number = size = 0
    skipping = False  # inside a line that is too long: drop bytes up to its end
    for chunk in chunks:
        size += len(chunk)
        if size > MAX_IMPORT_BYTES:
            raise ApiError(413, "import larger than 256 MiB", ("body",))
        pending += chunk
        start = 0
        while (end := pending.find(b"\n", start)) != -1:
            if skipping:  # the end of a line already yielded as too long
                skipping = False
            else:
                number += 1
                yield number, bytes(pending[start:end]) if end - start <= MAX_LINE_BYTES else None
            start = end + 1
        del pending[:start]
        if len(pending) > MAX_LINE_BYTES:
            if not skipping:
                number += 1
                yield number, None
            skipping = True
            pending.clear()
    if pending and not skipping:
        yield number + 1, bytes(pending)


def read_record(number: int, raw: bytes | None) -> tuple[str, Any] | None:
    """A line of `body_lines` → (kind, record), or None for a blank line; raises LineError."""
    if raw is None:
        raise LineError(number, (), f"line longer than {MAX_LINE_BYTES // (1024 * 1024)} MiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LineError(number, (), f"not UTF-8 (byte {exc.start + 1} of the line)") from None
    if not text.strip():
        return None
    try:
        return _parse_line(text)
    except ApiError as exc:
        raise LineError(number, exc.field, exc.message) from None


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
    "transcript": "SELECT 'the video has a transcript; the import replaces it' FROM video_transcripts WHERE video_id = %s",
    "event": "SELECT 'the event exists; the import replaces it' FROM annotation_events WHERE id = %s",
    "relation": "SELECT 'the relation exists; the import replaces it' FROM annotation_relations WHERE id = %s",
}


TABLES = {"video": "videos", "persona": "personas", "ontology": "ontologies", "world": "world_state",
          "annotation": "annotations", "summary": "video_summaries", "event": "annotation_events",
          "relation": "annotation_relations", "transcript": "video_transcripts"}


def _conflict(conn: psycopg.Connection, number: int, kind: str, r: Any) -> ImportConflict | None:
    key: Any = r.persona_id if kind == "ontology" else 1 if kind == "world" else r.video_id if kind == "transcript" else r.id
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
            " version, entity_id, attributes, locked, created_at, updated_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (id) DO UPDATE SET video_id = excluded.video_id, persona_id = excluded.persona_id,"
            " type = excluded.type, label = excluded.label, frames = excluded.frames, source = excluded.source,"
            " confidence = excluded.confidence, job_id = excluded.job_id, dedupe_key = excluded.dedupe_key,"
            " entity_id = excluded.entity_id, attributes = excluded.attributes, locked = excluded.locked,"
            " created_at = excluded.created_at, updated_at = excluded.updated_at",
            # As exported: a keyframe without `outside` (older rows, job results) stays without it. The version of
            # a replaced row moves on only when its content changed (the row trigger of migration 0010).
            (r.id, r.video_id, r.persona_id, r.type, r.label,
             Jsonb([k.model_dump(exclude_unset=True, exclude={"keyframe"}) for k in r.frames]), r.source,
             r.confidence, r.job_id, r.dedupe_key, r.version, r.entity_id, Jsonb(r.attributes), r.locked, r.created_at,
             r.updated_at),
        )
    elif kind == "event":
        conn.execute(
            "INSERT INTO annotation_events (id, video_id, persona_id, type, label, start_frame, end_frame, roles, attributes,"
            " source, version, created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (id) DO UPDATE SET video_id = excluded.video_id, persona_id = excluded.persona_id,"
            " type = excluded.type, label = excluded.label, start_frame = excluded.start_frame,"
            " end_frame = excluded.end_frame, roles = excluded.roles, attributes = excluded.attributes,"
            " source = excluded.source, created_at = excluded.created_at, updated_at = excluded.updated_at",
            (r.id, r.video_id, r.persona_id, r.type, r.label, r.start_frame, r.end_frame,
             Jsonb(r.model_dump(mode="json", by_alias=True)["roles"]), Jsonb(r.attributes), r.source, r.version,
             r.created_at, r.updated_at),
        )
    elif kind == "relation":
        conn.execute(
            "INSERT INTO annotation_relations (id, video_id, persona_id, type, source, target, attributes, version,"
            " created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (id) DO UPDATE SET video_id = excluded.video_id, persona_id = excluded.persona_id,"
            " type = excluded.type, source = excluded.source, target = excluded.target, attributes = excluded.attributes,"
            " created_at = excluded.created_at, updated_at = excluded.updated_at",
            (r.id, r.video_id, r.persona_id, r.type, Jsonb(r.source.model_dump()), Jsonb(r.target.model_dump()),
             Jsonb(r.attributes), r.version, r.created_at, r.updated_at),
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
    elif kind == "transcript":
        conn.execute(
            "INSERT INTO video_transcripts (video_id, job_id, model, language, status, duration_s, text, segments,"
            " created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (video_id) DO UPDATE SET job_id = excluded.job_id, model = excluded.model,"
            " language = excluded.language, status = excluded.status, duration_s = excluded.duration_s,"
            " text = excluded.text, segments = excluded.segments,"
            " created_at = excluded.created_at, updated_at = excluded.updated_at",
            (r.video_id, r.job_id, r.model, r.language, r.status, r.duration_s, r.text,
             Jsonb([segment.model_dump() for segment in r.segments]), r.created_at, r.updated_at),
        )


@dataclass
class ImportReport:
    """What an import did or, in a dry run, would do: exact counts, the first MAX_PREVIEW_ERRORS of each list."""

    counts: dict[str, int] = field(default_factory=dict)
    conflicts: list[ImportConflict] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)
    replaced: dict[str, int] = field(default_factory=dict)  # per kind: every conflict, counted
    error_count: int = 0

    def conflict(self, found: ImportConflict) -> None:
        self.replaced[found.kind] = self.replaced.get(found.kind, 0) + 1
        if len(self.conflicts) < MAX_PREVIEW_ERRORS:
            self.conflicts.append(found)

    def error(self, failed: LineError) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_PREVIEW_ERRORS:
            self.errors.append(failed)

    def preview(self) -> ImportPreviewOut:
        # Each record is either new or replaces a row: listed once, under one of the two.
        added = {kind: n - self.replaced.get(kind, 0) for kind, n in self.counts.items() if n > self.replaced.get(kind, 0)}
        return ImportPreviewOut(would_import=self.counts, would_add=added, would_replace=self.replaced,
                                conflicts=self.conflicts, errors=[e.out() for e in self.errors],
                                conflict_count=sum(self.replaced.values()), error_count=self.error_count)


def import_jsonl(state: BackendState, lines: Iterable[tuple[int, bytes | None]], dry_run: bool = False) -> ImportOut | ImportPreviewOut:
    """Read, check and write each line in turn inside one transaction; the first bad line (any bad line, in a
    dry run, which reports them all) rolls it back whole."""
    report = ImportReport()
    records = 0
    with state.pool.connection() as conn:
        # A dry run is the real import in a transaction that is always rolled back: what it reports is exact.
        with conn.transaction(force_rollback=dry_run):
            for number, raw in lines:
                try:
                    parsed = read_record(number, raw)
                    if parsed is None:
                        continue
                    records += 1
                    kind, record = parsed
                    if kind == "header":
                        continue
                    try:
                        with conn.transaction():  # savepoint: in a dry run, report the line and go on
                            found = _conflict(conn, number, kind, record) if dry_run else None
                            write(conn, kind, record)
                    except (psycopg.IntegrityError, psycopg.DataError) as exc:
                        detail = exc.diag.message_detail or exc.diag.message_primary or str(exc)
                        raise LineError(number, _db_loc(kind, record, exc), f"{kind} conflicts with the database: {detail}") from None
                except LineError as failed:
                    if not dry_run:
                        raise failed.api_error() from None
                    report.error(failed)
                    continue
                report.counts[kind] = report.counts.get(kind, 0) + 1
                if found is not None:
                    report.conflict(found)
            if records == 0 and report.error_count == 0:
                empty = LineError(0, (), "import is empty")
                if not dry_run:
                    raise empty.api_error()
                report.error(empty)
    return report.preview() if dry_run else ImportOut(imported=report.counts)


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
        return await run_in_threadpool(import_jsonl, state, body_lines(received()), dry_run)
    except ApiError as refused:
        if refused.status != 413:
            # The answer comes before the rest of the body: read it (and drop it), so that the client, still
            # sending, gets the answer rather than a reset connection.
            async for _ in chunks:
                pass
        raise
