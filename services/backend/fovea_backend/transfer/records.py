"""Import records: the exported shapes, validated again on the way in, one line of the body at a time."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import Field, ValidationError, field_validator

from fovea_backend import tracks, videos
from fovea_backend.errors import ApiError, invalid
from fovea_backend.jsoncheck import MAX_DEPTH, check_json
from fovea_backend.routes.annotations import validate_frames
from fovea_backend.schemas import (
    AnnotationOut, ApiModel, EventOut, ImportLineError, Keyframe, OntologyOut, PersonaIn, RelationOut, Text,
    TranscriptSegmentOut, VideoRow, WorldOut,
)
from fovea_backend.uploads import MAX_IMPORT_BYTES

# One line is parsed whole: 16 MiB holds a keyframes-only track at the API's limit of 100 000 keyframes.
MAX_LINE_BYTES = 16 * 1024 * 1024


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
