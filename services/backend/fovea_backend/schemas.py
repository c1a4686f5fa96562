"""API models: camelCase on the wire, bounded sizes, no NaN, no NUL characters.

Inputs are validated here so a bad request fails with 422 naming the field before any SQL runs;
outputs document the JSON that the routes render in SQL (see db.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator
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
JobStatus = Literal["queued", "running", "completed", "failed", "cancelled"]
JobKind = Literal["detect", "track", "summarize", "augment", "detect-types", "track-box", "transcribe", "read-text"]
# Frame numbers and pixel coordinates: generous, but bounded so they fit every column and JSON parser.
FrameNumber = Annotated[int, Field(ge=0, le=1_000_000_000)]
Pixels = Annotated[float, Field(ge=0, le=1_000_000)]


class ApiModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, allow_inf_nan=False)


# --- auth -------------------------------------------------------------------------------------------
class LoginIn(ApiModel):
    username: Text(1, 200)  # type: ignore[valid-type]
    password: Text(1, 1024)  # type: ignore[valid-type]


RoleName = Literal["admin", "reviewer", "annotator", "viewer"]


class UserOut(ApiModel):
    id: UUID
    username: str
    is_admin: bool
    role: RoleName
    # Set when an admin made the password (a one-time password): the app asks for a new one first.
    must_change_password: bool = False


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
    # The username of who may edit it (with admins); null: the team's, edited by admins.
    owner: str | None = None


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


# One world object, written on its own (POST/PATCH/DELETE /api/world/{kind}/...): what each kind holds. Unknown
# fields are kept (upstream FOVEA's objects carry more); the known ones are checked.
WorldObjectId = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:-]+$")]
WorldKind = Literal["entities", "events", "times", "locations", "collections", "relations"]


class WorldObjectBase(ApiModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, allow_inf_nan=False, extra="allow")

    id: WorldObjectId
    name: Text(1, 500)  # type: ignore[valid-type]
    description: Text(0, 10_000) = ""  # type: ignore[valid-type]


class TypeAssignment(ApiModel):
    """How one persona types a world object: its entity type (entities) or event type (events)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")
    persona_id: UUID
    entity_type_id: Text(1, 200) | None = None  # type: ignore[valid-type]
    event_type_id: Text(1, 200) | None = None  # type: ignore[valid-type]


class TypedWorldObject(WorldObjectBase):
    type_assignments: Annotated[list[TypeAssignment], Field(max_length=1000, description=(
        "one per persona (upstream FOVEA's typeAssignments): set with PUT /api/world/{kind}/{id}/types/{personaId}"))] = []

    @model_validator(mode="after")
    def _one_per_persona(self) -> TypedWorldObject:
        seen: set[UUID] = set()
        for assignment in self.type_assignments:
            if assignment.persona_id in seen:
                raise ValueError(f"typeAssignments: persona {assignment.persona_id} is listed twice")
            seen.add(assignment.persona_id)
        return self


class WorldEntityIn(TypedWorldObject):
    """A real-world thing; tracks in any video link to it (`entityId`)."""


class WorldEventIn(TypedWorldObject):
    """A real-world happening, optionally at a world time and place."""

    time_id: WorldObjectId | None = None
    location_id: WorldObjectId | None = None


class WorldTimeIn(WorldObjectBase):
    """An instant (`at`) or an interval (`start`..`end`) in real time, and where a video shows it."""

    time_type: Literal["instant", "interval"]
    at: datetime | None = Field(None, description="instant: when (ISO 8601; without a zone: the scene's local time)")
    start: datetime | None = None
    end: datetime | None = None
    video_id: Annotated[str, Field(pattern=VIDEO_ID_PATTERN)] | None = Field(None, description="the video it was seen in")
    frame: FrameNumber | None = Field(None, description="the frame it was seen at (an interval: its first frame)")
    end_frame: FrameNumber | None = Field(None, description="an interval: the last frame it was seen at")

    @model_validator(mode="after")
    def _real_values(self) -> WorldTimeIn:
        if self.time_type == "instant" and self.at is None:
            raise ValueError("an instant needs a date and time (at)")
        if self.time_type == "interval":
            if self.start is None or self.end is None:
                raise ValueError("an interval needs a start and an end")
            if (self.start.tzinfo is None) != (self.end.tzinfo is None):
                raise ValueError("the start and the end must both carry a time zone, or neither")
            if self.end < self.start:
                raise ValueError("an interval's end must not be before its start")
        if (self.frame is not None or self.end_frame is not None) and self.video_id is None:
            raise ValueError("a frame needs the video it was seen in (videoId)")
        if self.end_frame is not None and (self.frame is None or self.end_frame < self.frame):
            raise ValueError("the last frame (endFrame) needs a first frame and must not be before it")
        return self


class WorldLocationIn(WorldObjectBase):
    """A place: a name and WGS 84 coordinates (no map tiles: none can be served offline)."""

    latitude: Annotated[float, Field(ge=-90, le=90, description="degrees north")]
    longitude: Annotated[float, Field(ge=-180, le=180, description="degrees east")]


class WorldRef(ApiModel):
    kind: Literal["entity", "event", "time", "location"]
    id: WorldObjectId


class WorldCollectionIn(WorldObjectBase):
    """A named set of world objects of one kind."""

    member_kind: Literal["entity", "event", "time", "location"]
    members: Annotated[list[WorldObjectId], Field(max_length=10_000)] = []


class WorldRelationIn(WorldObjectBase):
    """A relation of a persona's relation type between two world objects (its source/target constraints checked)."""

    name: Text(0, 500) = ""  # type: ignore[valid-type]
    persona_id: UUID
    type: Text(1, 200)  # type: ignore[valid-type]
    source: WorldRef
    target: WorldRef


WORLD_MODELS: dict[str, type[WorldObjectBase]] = {
    "entities": WorldEntityIn, "events": WorldEventIn, "times": WorldTimeIn, "locations": WorldLocationIn,
    "collections": WorldCollectionIn, "relations": WorldRelationIn,
}


class AppearanceOut(ApiModel):
    entity_id: str
    video_id: str
    filename: str
    track_id: UUID
    label: str
    type: str
    persona_id: UUID | None
    fps: float | None
    start_frame: int
    end_frame: int = Field(description="the last frame the track lasts (held to the video's end unless outside)")


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
    problem: str | None = Field(description="why the workspace cannot annotate it (no readable video stream, frame rate"
                                            " or duration unknown); null when ffprobe found what it needs or never ran")


class VideoRemovedOut(ApiModel):
    removed: str = Field(description="the file name")
    annotations: int = Field(description="tracks deleted with it")


class PositionIn(ApiModel):
    frame: FrameNumber


HiddenTracks = Annotated[list[UUID], Field(max_length=100_000, description="tracks this user hid in this video")]
PERSONA_SCOPE_PATTERN = r"^(none|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"
PersonaChoice = Annotated[str | None, Field(pattern=PERSONA_SCOPE_PATTERN, description=(
    "the persona whose annotations the workspace shows and saves (its id; `none`: those without a persona); null:"
    " never chosen"))]
ShowAllPersonas = Annotated[bool, Field(description="show every persona's tracks (others' read-only)")]


class ViewPrefs(ApiModel):
    """How this user looks at this video: what they hid, which persona they work as, whether they see all."""

    hidden: HiddenTracks
    persona_id: PersonaChoice = None
    all_personas: ShowAllPersonas = False


class ViewPrefsIn(ApiModel):
    """A change of some of the view: fields left out stay as they are."""

    hidden: HiddenTracks | None = None
    persona_id: PersonaChoice = None
    all_personas: ShowAllPersonas | None = None


class PositionOut(ApiModel):
    frame: int | None = Field(description="the frame this user was last on in this video; null: never opened")


class SyncOut(ApiModel):
    added: list[str]
    updated: list[str]
    unchanged: int
    missing: list[str] = Field(description="files with rows but no file on disk (kept unless prune=true)")
    pruned: list[str]
    conflicts: list[str] = Field(default=[], description="files not synced because another row holds their name, and why")


# --- annotations --------------------------------------------------------------------------------------
# An attribute's value (the ontology declares text, number, choice and checkbox attributes): a string, a number or a
# boolean; at most 100 per object, names up to 100 characters.
AttributeValue = Annotated[bool, Field(strict=True)] | float | Text(0, 1000)  # type: ignore[valid-type]
Attributes = Annotated[dict[Text(1, 100), AttributeValue], Field(max_length=100)]  # type: ignore[valid-type]
ObjectKind = Literal["track", "event", "relation"]


class Keyframe(ApiModel):
    frame: FrameNumber
    x: Pixels
    y: Pixels
    width: Pixels
    height: Pixels
    outside: bool = Field(False, description="the object left the frame here: hidden from this keyframe to the next")
    attributes: Attributes | None = Field(None, description="mutable attributes set from this keyframe on (each holds"
                                                             " until a later keyframe sets it again); absent: none")

    def stored(self) -> dict[str, Any]:
        """The keyframe as stored: without `attributes` when it sets none (the JSON older rows have)."""
        return self.model_dump(exclude={"attributes"} if not self.attributes else set())


class AnnotationBody(ApiModel):
    persona_id: UUID | None = None
    type: Text(1, 64)  # type: ignore[valid-type]
    label: Text(1, 500)  # type: ignore[valid-type]
    frames: Annotated[list[Keyframe], Field(min_length=1, max_length=100_000)]
    source: Source = "manual"
    confidence: Annotated[float, Field(ge=0, le=1)] | None = None
    entity_id: Text(1, 200) | None = Field(None, description="the world entity this track shows (GET /api/world)")  # type: ignore[valid-type]
    attributes: Attributes = Field({}, description="attribute values fixed for the whole track")
    locked: bool = Field(False, description="a locked track refuses every change but unlocking")


class Ref(ApiModel):
    """A reference to an annotated object of the same video (a track or an event) or to a world entity."""

    kind: Literal["track", "entity", "event"]
    id: Text(1, 200)  # type: ignore[valid-type]


class EventBody(ApiModel):
    """An event of one of the persona's event types over a span of frames; its role slots (role type ids of the
    event type) are filled with tracks, world entities or other events. A frame tag is an event without roles."""

    persona_id: UUID | None = None
    type: Text(1, 64)  # type: ignore[valid-type]
    label: Text(1, 500)  # type: ignore[valid-type]
    start_frame: FrameNumber
    end_frame: FrameNumber
    roles: Annotated[dict[Text(1, 200), Annotated[list[Ref], Field(max_length=100)]], Field(max_length=100)] = {}  # type: ignore[valid-type]
    attributes: Attributes = {}
    source: Source = "manual"


class RelationBody(ApiModel):
    """A relation of one of the persona's relation types from one annotated object to another."""

    persona_id: UUID | None = None
    type: Text(1, 64)  # type: ignore[valid-type]
    source: Ref
    target: Ref
    attributes: Attributes = {}


class AnnotationIn(AnnotationBody):
    video_id: Annotated[str, Field(pattern=VIDEO_ID_PATTERN)]


class AnnotationOut(AnnotationIn):
    id: UUID
    job_id: UUID | None
    version: int = Field(description="bumped whenever the track's content changes")
    created_at: datetime
    updated_at: datetime
    # Usernames: who made the track and who last changed its content (null: before accounts, or a job of no one).
    created_by: str | None = None
    updated_by: str | None = None


class EventOut(EventBody):
    id: UUID
    video_id: str
    version: int
    created_at: datetime
    updated_at: datetime


class RelationOut(RelationBody):
    id: UUID
    video_id: str
    version: int
    created_at: datetime
    updated_at: datetime


class AnnotationDocumentOut(ApiModel):
    revision: int = Field(description="the annotation revision these objects are at (If-Match of the next save)")
    tracks: list[AnnotationOut]
    events: list[EventOut]
    relations: list[RelationOut]


class AnnotationUpsert(AnnotationBody):
    id: UUID = Field(description="client-made for a new track; a known id replaces that track (of this video only)")


class FieldChange(ApiModel):
    from_: Any = Field(alias="from", description="the value this change started from (at the If-Match revision)")
    to: Any = Field(description="the new value, validated like the field of a whole track")


class WorldPatchIn(ApiModel):
    fields: Annotated[dict[Text(1, 64), FieldChange], Field(min_length=1, max_length=100, description=(  # type: ignore[valid-type]
        "per field: the value as you last read it (`from`) and the new one (`to`; null removes the field); a field"
        " someone changed since to something else is a conflict (409, nothing written)"))]


class TypeAssignmentIn(ApiModel):
    type_id: Text(1, 200) | None = Field(description="the persona's entity type (entities) or event type (events); null: untyped")  # type: ignore[valid-type]


class KeyframeChange(ApiModel):
    frame: FrameNumber
    from_: JsonObject | None = Field(alias="from", description="the box {x, y, width, height, outside} there at the"
                                                                " If-Match revision; null: no keyframe there")
    to: JsonObject | None = Field(description="the new box; null removes the keyframe")


KIND = Field("track", description="what the change is about: a track (the default), an event or a relation")


class CreateChange(ApiModel):
    op: Literal["create"]
    kind: ObjectKind = KIND
    id: UUID = Field(description="made by the client")
    track: JsonObject | None = Field(None, description="a whole track (kind track): personaId, type, label, frames,"
                                                       " source, confidence, entityId, attributes, locked")
    event: JsonObject | None = Field(None, description="a whole event (kind event)")
    relation: JsonObject | None = Field(None, description="a whole relation (kind relation)")

    @model_validator(mode="after")
    def _body_of_its_kind(self) -> CreateChange:
        if getattr(self, self.kind) is None:
            raise ValueError(f"a create of kind {self.kind} carries the whole object in `{self.kind}`")
        return self

    def body(self) -> JsonObject:
        return getattr(self, self.kind)  # type: ignore[no-any-return]


class UpdateChange(ApiModel):
    op: Literal["update"]
    kind: ObjectKind = KIND
    id: UUID
    fields: Annotated[dict[Text(1, 64), FieldChange], Field(max_length=100)] = {}  # type: ignore[valid-type]
    keyframes: Annotated[list[KeyframeChange], Field(max_length=100_000)] = []


class DeleteChange(ApiModel):
    op: Literal["delete"]
    kind: ObjectKind = KIND
    id: UUID
    version: Annotated[int, Field(ge=1, le=2**62, description="the object's version as last seen")]


TrackChange = Annotated[CreateChange | UpdateChange | DeleteChange, Field(discriminator="op")]


class BulkAnnotationsIn(ApiModel):
    changes: Annotated[list[TrackChange], Field(max_length=10_000, description=(
        "what changed since the If-Match revision, per track: merged per field and keyframe with what others saved"
        " since; instead of upsert/delete"))] | None = None
    upsert: Annotated[list[AnnotationUpsert], Field(max_length=10_000, description=(
        "whole tracks, only at the current revision (else 409)"))] = []
    delete: Annotated[list[UUID], Field(max_length=10_000, description="unknown ids are ignored (retries are safe)")] = []


class MergeConflictOut(ApiModel):
    index: int = Field(description="the change in the request")
    kind: ObjectKind = "track"
    id: UUID = Field(description="the track, event or relation")
    part: Literal["track", "field", "keyframe"]
    field: str | None = None
    frame: int | None = None
    message: str
    base: Any = Field(description="the value the change started from")
    theirs: Any = Field(description="the value stored now (null: absent), kept")
    mine: Any = Field(description="the change's value, not written")


class RejectedChangeOut(ApiModel):
    index: int = Field(description="the change in the request")
    id: UUID
    loc: list[str | int] = Field(description='where in the request, e.g. ["body", "changes", 3, "fields", "label", "to"]')
    message: str


class BulkAnnotationsOut(ApiModel):
    revision: int = Field(description="the annotation revision after this save: the next If-Match")
    previous_revision: int = Field(description="the revision this save was merged into (If-Match's, unless others saved"
                                               " since)")
    annotations: list[AnnotationOut] = Field(description="the tracks the request named that exist now, as stored, in"
                                                         " request order")
    events: list[EventOut] = Field([], description="the events the request named that exist now")
    relations: list[RelationOut] = Field([], description="the relations the request named that exist now")
    conflicts: list[MergeConflictOut] = Field(description="parts someone else changed since If-Match: not written")
    rejected: list[RejectedChangeOut] = Field(description="parts refused as invalid: not written; the rest was")


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


class DetectTypesIn(ApiModel):
    """Detection typed by a persona's ontology: its entity types (or the chosen subset) and their detector classes."""

    persona_id: UUID
    types: Annotated[list[Text(1, 200)], Field(max_length=500)] | None = Field(  # type: ignore[valid-type]
        None, description="entity type ids of the persona to look for; default: all of them")
    model: Text(1, 63) | None = Field(None, description="a detection model of the registry (GET /api/models)")  # type: ignore[valid-type]
    confidence: Annotated[float, Field(ge=0, le=1)] | None = None
    frames_per_second: Annotated[float, Field(gt=0, le=240)] | None = None
    sample_every: Annotated[int, Field(ge=1, le=1_000_000)] | None = None


class TranscribeIn(ApiModel):
    """Speech to text with word times for one video; its transcript replaces the one before when the job finishes."""

    model: Text(1, 63) | None = Field(None, description="a transcript model of the registry (GET /api/models?task=transcript)")  # type: ignore[valid-type]


class ReadTextIn(ApiModel):
    """Text in frame: OCR on sampled frames; the texts read become tracks of type "text" whose label is the string
    (under the persona when one is given, as the workspace shows them), replacing the earlier run's."""

    persona_id: UUID | None = Field(None, description="the workspace's persona: the text tracks are filed under it")
    model: Text(1, 63) | None = Field(None, description="an ocr model of the registry (GET /api/models?task=ocr)")  # type: ignore[valid-type]
    frames_per_second: Annotated[float, Field(gt=0, le=240)] | None = Field(
        None, description="sampling rate; default models.yaml's ocr.frames_per_second")
    min_confidence: Annotated[float, Field(ge=0, le=1)] | None = Field(
        None, description="recognition score below which a string is dropped; default ocr.min_confidence")


class TrackBoxIn(ApiModel):
    """Track this box: follow one track's keyframe box forward; what follows that keyframe is replaced."""

    annotation_id: UUID
    from_frame: FrameNumber = Field(description="a keyframe of the track: its box is where tracking starts")
    end_frame: FrameNumber | None = None
    keyframe_every: Annotated[int, Field(ge=1, le=10_000)] | None = None


class ModelOut(ApiModel):
    """A model of the registry the running model-service offers (configs/models.yaml)."""

    name: str
    task: str
    runtime: str
    description: str = ""
    licence: str
    device: str
    classes: list[str] = []
    default: bool = False


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
    detail: JsonObject = Field({}, description="the worker's frames done / total and stage (framesDone, framesTotal,"
                                               " stage), as last mirrored")
    # The username of who asked for it; the tracks it makes are theirs.
    created_by: str | None = None


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


class TranscriptWordOut(BaseModel):
    start: float
    end: float
    word: str
    probability: float


class TranscriptSegmentOut(BaseModel):
    start: float
    end: float
    text: str
    words: list[TranscriptWordOut]


class TranscriptOut(ApiModel):
    """A video's transcript: seconds on the video's own timeline. `status` 'no_audio' (the file has no audio stream)
    and 'no_speech' (nothing but silence or noise) are results, with `message` saying so."""

    video_id: str
    job_id: UUID | None
    model: str
    language: str | None
    status: Literal["ok", "no_audio", "no_speech"]
    message: str | None
    duration_s: float
    text: str
    segments: list[TranscriptSegmentOut]
    created_at: datetime
    updated_at: datetime


class TranscriptHitOut(ApiModel):
    """One transcript segment that matches a search: where in which video it was said."""

    video_id: str
    filename: str
    start: float
    end: float
    text: str
    rank: float


class TextHitOut(TranscriptHitOut):
    """Where in which video words were said (a transcript segment) or shown (a text track: from its first to its last
    sighting)."""

    source: Literal["speech", "screen"]
    annotation_id: UUID | None = Field(None, description="the text track, for on-screen hits")


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


class ImportConflict(ApiModel):
    line: int
    kind: str
    id: str
    reason: str = Field(description="what the import would replace (or move) that exists already")


class ImportLineError(ApiModel):
    line: int = Field(description="1-based line number; 0 for the body as a whole")
    field: str = Field(description='dotted path inside the line, e.g. "data.frames.0.width"; "line" for the whole line')
    message: str


class ImportPreviewOut(ApiModel):
    would_import: dict[str, int] = Field(description="records per kind the import would write (added + replaced)")
    would_add: dict[str, int] = Field(description="records per kind that are new")
    would_replace: dict[str, int] = Field(description="records per kind that replace (or move) an existing row: the"
                                                      " conflicts")
    conflicts: list[ImportConflict] = Field(description="rows the import would replace (the first 1000)")
    errors: list[ImportLineError] = Field(description="lines the import would refuse (the first 1000)")
    conflict_count: int = Field(description="every row the import would replace")
    error_count: int = Field(description="every line the import would refuse")
