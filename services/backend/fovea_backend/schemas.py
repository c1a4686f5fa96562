"""API models: camelCase on the wire, bounded sizes, no NaN, no NUL characters.

Inputs are validated here so a bad request fails with 422 naming the field before any SQL runs;
outputs document the JSON that the routes render in SQL (see db.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def Text(min_length: int = 0, max_length: int = 10_000) -> Any:  # noqa: N802 - reads like a type
    return Annotated[str, StringConstraints(min_length=min_length, max_length=max_length), AfterValidator(_no_nul)]


VIDEO_ID_PATTERN = r"^[0-9a-f]{16}$"
JsonObject = dict[str, Any]
JsonList = Annotated[list[JsonObject], Field(max_length=10_000)]
Source = Literal["manual", "ai-assisted", "automatic"]
JobStatus = Literal["queued", "running", "completed", "failed"]
JobKind = Literal["detect", "track", "summarize", "augment"]
# Frame numbers and pixel coordinates: generous, but bounded so they fit every column and JSON parser.
FrameNumber = Annotated[int, Field(ge=0, le=1_000_000_000)]
Pixels = Annotated[float, Field(ge=0, le=1_000_000)]


class ApiModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, allow_inf_nan=False)


# --- auth -------------------------------------------------------------------------------------------
class LoginIn(ApiModel):
    username: Text(1, 200)  # type: ignore[valid-type]
    password: Text(1, 1024)  # type: ignore[valid-type]


class UserOut(ApiModel):
    id: UUID
    username: str
    is_admin: bool


# --- personas and ontologies --------------------------------------------------------------------------
class PersonaIn(ApiModel):
    name: Text(1, 200)  # type: ignore[valid-type]
    role: Text(0, 500) = ""  # type: ignore[valid-type]
    information_need: Text(0, 10_000) = ""  # type: ignore[valid-type]
    hidden: bool = False


class PersonaOut(ApiModel):
    id: UUID
    name: str
    role: str
    information_need: str
    hidden: bool
    created_at: datetime
    updated_at: datetime


class OntologyIn(ApiModel):
    entity_types: JsonList = []
    event_types: JsonList = []
    role_types: JsonList = []
    relation_types: JsonList = []


class OntologyOut(OntologyIn):
    persona_id: UUID
    updated_at: datetime


# --- world state --------------------------------------------------------------------------------------
class WorldIn(ApiModel):
    entities: JsonList = []
    events: JsonList = []
    times: JsonList = []
    locations: JsonList = []
    collections: JsonList = []
    relations: JsonList = []


class WorldOut(WorldIn):
    updated_at: datetime


# --- videos -------------------------------------------------------------------------------------------
class VideoRow(ApiModel):
    """A video as stored (and exported): the file and its facts."""

    id: str
    filename: str
    path: str
    size_bytes: int | None
    duration: float | None = Field(description="seconds")
    fps_num: int | None = Field(description="frame rate numerator (30000 of 30000/1001)")
    fps_den: int | None = Field(description="frame rate denominator (1001 of 30000/1001)")
    fps: float | None = Field(description="fpsNum / fpsDen")
    frame_count: int | None
    width: int | None
    height: int | None
    codec: str | None = Field(description="the sidecar's vcodec, else ffprobe's codec_name (h264, vp9, ...)")
    metadata: JsonObject
    created_at: datetime
    updated_at: datetime


class VideoOut(VideoRow):
    annotation_count: int = Field(description="tracks of this video")
    annotation_revision: int = Field(description="the annotation revision: If-Match of a bulk save, the list's ETag")


class SyncOut(ApiModel):
    added: list[str]
    updated: list[str]
    unchanged: int
    missing: list[str] = Field(description="files with rows but no file on disk (kept unless prune=true)")
    pruned: list[str]


# --- annotations --------------------------------------------------------------------------------------
class Keyframe(ApiModel):
    frame: FrameNumber
    x: Pixels
    y: Pixels
    width: Pixels
    height: Pixels
    outside: bool = Field(False, description="the object left the frame here: hidden from this keyframe to the next")


class AnnotationBody(ApiModel):
    persona_id: UUID | None = None
    type: Text(1, 64)  # type: ignore[valid-type]
    label: Text(1, 500)  # type: ignore[valid-type]
    frames: Annotated[list[Keyframe], Field(min_length=1, max_length=100_000)]
    source: Source = "manual"
    confidence: Annotated[float, Field(ge=0, le=1)] | None = None


class AnnotationIn(AnnotationBody):
    video_id: Annotated[str, Field(pattern=VIDEO_ID_PATTERN)]


class AnnotationOut(AnnotationIn):
    id: UUID
    job_id: UUID | None
    created_at: datetime
    updated_at: datetime


class AnnotationUpsert(AnnotationBody):
    id: UUID = Field(description="client-made for a new track; a known id replaces that track (of this video only)")


class BulkAnnotationsIn(ApiModel):
    upsert: Annotated[list[AnnotationUpsert], Field(max_length=10_000)] = []
    delete: Annotated[list[UUID], Field(max_length=10_000, description="unknown ids are ignored (retries are safe)")] = []


class BulkAnnotationsOut(ApiModel):
    revision: int = Field(description="the annotation revision after this save: the next If-Match")
    annotations: list[AnnotationOut] = Field(description="the upserted tracks as stored, in request order")


class RevisionConflictOut(BaseModel):
    detail: list[JsonObject]
    message: str
    revision: int = Field(description="the current annotation revision")


# --- jobs ---------------------------------------------------------------------------------------------
class DetectIn(ApiModel):
    confidence: Annotated[float, Field(ge=0, le=1)] = 0.25
    frames: Annotated[list[FrameNumber], Field(max_length=100_000)] | None = None
    sample_every: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    classes: Annotated[list[Text(1, 100)], Field(max_length=1000)] | None = None  # type: ignore[valid-type]


class SummarizeIn(ApiModel):
    persona_id: UUID | None = None
    params: JsonObject = {}


class AugmentIn(ApiModel):
    persona_id: UUID
    params: JsonObject = {}


class JobAccepted(ApiModel):
    job_id: UUID


class JobOut(ApiModel):
    id: UUID
    queue: str
    kind: JobKind
    status: JobStatus
    progress: float
    video_id: str | None
    persona_id: UUID | None
    params: JsonObject
    result: JsonObject | None
    error: str | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class SummaryOut(ApiModel):
    id: UUID
    video_id: str
    persona_id: UUID | None
    summary: JsonObject
    text: str
    key_frames: list[JsonObject]
    job_id: UUID | None
    has_embedding: bool
    created_at: datetime
    updated_at: datetime


class SimilarSummaryOut(SummaryOut):
    distance: float = Field(description="cosine distance to the query summary (0 = same direction)")


# --- health and import --------------------------------------------------------------------------------
class HealthOut(BaseModel):
    status: Literal["ok", "unavailable"]
    postgres: str
    redis: str
    failing: list[str]


class ImportOut(ApiModel):
    imported: dict[str, int]
