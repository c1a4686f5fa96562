"""Submitting work to the model service (202 + jobId) and reading a job's mirrored state."""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any
from uuid import UUID

import redis
from pydantic import ValidationError

from fastapi import APIRouter, Query, Response

from fovea_backend.db import JsonText
from fovea_backend.errors import ApiError, invalid, not_found
from fovea_backend.jobs import EnqueueError, enqueue, request_cancel
from fovea_backend.jsoncheck import check_json
from fovea_backend.routes.videos import VideoId
from fovea_backend.schemas import (VIDEO_ID_PATTERN, AugmentIn, DetectIn, DetectTypesIn, JobAccepted, JobKind, JobOut,
                                   JobStatus, ModelOut, ReadTextIn, SummarizeIn, TrackBoxIn, TranscribeIn)
from fovea_backend.state import BackendState, StateDep
from fovea_backend.store import jobs as store
from fovea_backend.store import personas, videos
from fovea_backend.terms import count_terms

log = logging.getLogger("fovea_backend.jobs")
router = APIRouter(tags=["jobs"])
ACCEPTED = {404: {"description": "unknown video or persona"}, 503: {"description": "Redis unavailable; nothing was queued"}}


def _video_path(state: BackendState, video_id: str) -> str:
    with state.pool.connection() as conn:
        path = videos.path_of(conn, video_id)
    if path is None:
        raise not_found("video", video_id, ("path", "video_id"))
    return str(path)


def _submit(state: BackendState, kind: str, kwargs: dict[str, Any], video_id: str | None = None,
            persona_id: UUID | None = None) -> JobAccepted:
    try:
        job_id = enqueue(state.pool, state.redis, state.settings, state.telemetry, kind, kwargs, video_id, persona_id)
    except EnqueueError as exc:
        raise ApiError(503, str(exc)) from None
    return JobAccepted(job_id=job_id)


def _persona_exists(state: BackendState, persona_id: UUID | None) -> None:
    if persona_id is None:
        return
    with state.pool.connection() as conn:
        if not personas.exists(conn, persona_id):
            raise not_found("persona", persona_id, ("body", "personaId"))


@router.post("/api/videos/{video_id}/detect", status_code=202, response_model=JobAccepted, responses=ACCEPTED)
def detect(video_id: VideoId, state: StateDep, body: DetectIn | None = None) -> JobAccepted:
    params = (body or DetectIn()).model_dump()
    return _submit(state, "detect", {"video_id": video_id, "video_path": _video_path(state, video_id), "params": params}, video_id)


@router.post("/api/videos/{video_id}/track", status_code=202, response_model=JobAccepted, responses=ACCEPTED)
def track(video_id: VideoId, state: StateDep, body: DetectIn | None = None) -> JobAccepted:
    params = (body or DetectIn()).model_dump()
    return _submit(state, "track", {"video_id": video_id, "video_path": _video_path(state, video_id), "params": params}, video_id)


def _persona_types(state: BackendState, persona_id: UUID, wanted: list[str] | None = None) -> dict[str, Any]:
    """The persona (name, role, information need) and its entity types with their detector classes, as a job
    gets them; `wanted` narrows the types (an id the ontology lacks is refused, naming it)."""
    with state.pool.connection() as conn:
        persona, ontology = store.persona_and_ontology(conn, persona_id)
    if persona is None:
        raise not_found("persona", persona_id, ("body", "personaId"))
    entity_types = [t for t in ((ontology or {}).get("entityTypes") or []) if isinstance(t, dict)]
    known = {str(t.get("id")) for t in entity_types}
    unknown = sorted(set(wanted or ()) - known)
    if unknown:
        raise invalid(("body", "types"), f"not entity types of this persona: {', '.join(unknown)}"
                      f" (it has: {', '.join(sorted(known)) or 'none'})")
    types = [{"id": str(t["id"]), "name": str(t.get("name") or t["id"]), "description": str(t.get("description") or ""),
              **({"detectorClasses": [str(c) for c in t["detectorClasses"] if isinstance(c, str)]}
                 if isinstance(t.get("detectorClasses"), list) else {})}
             for t in entity_types if wanted is None or str(t["id"]) in wanted]
    p = persona
    return {"persona": {"id": str(persona_id), "name": p.get("name", ""), "role": p.get("role", ""),
                        "informationNeed": p.get("informationNeed", "")}, "types": types}


def _annotator_tracks(state: BackendState, video_id: str, persona_id: UUID) -> list[dict[str, Any]]:
    """The annotators' own tracks of this video for this persona (manual or accepted): type, label, first/last frame."""
    with state.pool.connection() as conn:
        rows = store.annotator_track_spans(conn, video_id, persona_id)
    return [{"type": t, "label": label, "first_frame": int(first), "last_frame": int(last)}
            for t, label, first, last in rows if first is not None]


def _transcript_segments(state: BackendState, video_id: str) -> list[dict[str, Any]]:
    """The video's transcript segments (start, end, text), for the summary's quotes; [] when it has none."""
    with state.pool.connection() as conn:
        return store.transcript_segments(conn, video_id)


def _screen_text(state: BackendState, video_id: str, persona_id: UUID) -> list[dict[str, Any]]:
    """The video's text tracks (this persona's and those under no persona) as (start, end, text) in seconds, from the
    first to the last keyframe it was seen at, for the summary's on-screen evidence; [] when none was read."""
    with state.pool.connection() as conn:
        rows = store.text_track_spans(conn, video_id, persona_id)
    return [{"start": round(first / fps, 3) if fps else 0.0, "end": round(last / fps, 3) if fps else 0.0, "text": text}
            for text, first, last, fps in rows if first is not None]


@router.post("/api/videos/{video_id}/summaries", status_code=202, response_model=JobAccepted, responses=ACCEPTED)
def summarize(video_id: VideoId, state: StateDep, body: SummarizeIn | None = None) -> JobAccepted:
    """A summary; with a persona that has entity types, built from the evidence for those types, its annotators'
    own tracks and what the transcript says and the screen shows that matters to it (a persona without any types gets the generic
    summary of what was detected)."""
    body = body or SummarizeIn()
    params = check_json(body.params, ("body", "params"))
    path = _video_path(state, video_id)
    _persona_exists(state, body.persona_id)
    if body.persona_id is not None:
        persona = _persona_types(state, body.persona_id)
        # A persona with no entity types has nothing to steer detection by: it gets the generic summary.
        if persona["types"]:
            params = {**params, **persona, "manual_tracks": _annotator_tracks(state, video_id, body.persona_id),
                      "transcript": _transcript_segments(state, video_id),
                      "screen_text": _screen_text(state, video_id, body.persona_id)}
    return _submit(state, "summarize", {"video_id": video_id, "video_path": path, "params": params}, video_id, body.persona_id)


@router.post("/api/videos/{video_id}/detect-types", status_code=202, response_model=JobAccepted, responses=ACCEPTED)
def detect_types(video_id: VideoId, body: DetectTypesIn, state: StateDep) -> JobAccepted:
    """Detect the persona's entity types (or the chosen subset): typed tracks under the persona, the classes each type
    searched, and the classes seen that no type maps to."""
    path = _video_path(state, video_id)
    params = {**_persona_types(state, body.persona_id, body.types), "persona_id": str(body.persona_id),
              "model": body.model, "confidence": body.confidence, "frames_per_second": body.frames_per_second,
              "sample_every": body.sample_every}
    params.pop("persona")
    return _submit(state, "detect-types", {"video_id": video_id, "video_path": path, "params": params}, video_id,
                   body.persona_id)


@router.post("/api/videos/{video_id}/track-box", status_code=202, response_model=JobAccepted, responses=ACCEPTED)
def track_box(video_id: VideoId, body: TrackBoxIn, state: StateDep) -> JobAccepted:
    """Track this box: from the track's keyframe at `fromFrame`, follow the box forward; when the job completes, the
    track's keyframes after that frame are replaced by the tracker's (every N frames, outside where it was lost)."""
    path = _video_path(state, video_id)
    with state.pool.connection() as conn:
        row = store.track_for_tracking(conn, body.annotation_id, video_id)
    if row is None:
        raise not_found("annotation", body.annotation_id, ("body", "annotationId"))
    if row[1]:
        raise ApiError(409, "the track is locked: unlock it before tracking it")
    keyframe = next((k for k in row[0] if int(k["frame"]) == body.from_frame and not k.get("outside")), None)
    if keyframe is None:
        raise invalid(("body", "fromFrame"), f"frame {body.from_frame} is not a visible keyframe of this track")
    params = {"annotation_id": str(body.annotation_id), "start_frame": body.from_frame,
              "box": {k: keyframe[k] for k in ("x", "y", "width", "height")},
              "end_frame": body.end_frame, "keyframe_every": body.keyframe_every}
    return _submit(state, "track-box", {"video_id": video_id, "video_path": path, "params": params}, video_id, row[2])


@router.post("/api/videos/{video_id}/transcribe", status_code=202, response_model=JobAccepted, responses=ACCEPTED)
def transcribe(video_id: VideoId, state: StateDep, body: TranscribeIn | None = None) -> JobAccepted:
    """Speech to text with word times (GET /api/videos/{id}/transcript once it completes). A clip with no audio track
    or no speech completes too, and its transcript says so."""
    path = _video_path(state, video_id)
    params = {"model": (body or TranscribeIn()).model}
    return _submit(state, "transcribe", {"video_id": video_id, "video_path": path, "params": params}, video_id)


@router.post("/api/videos/{video_id}/read-text", status_code=202, response_model=JobAccepted, responses=ACCEPTED)
def read_text(video_id: VideoId, state: StateDep, body: ReadTextIn | None = None) -> JobAccepted:
    """Text in frame: OCR on sampled frames. When the job completes, each text read becomes a track of type "text"
    whose label is the string (keyframes where it was read, `outside` where it went away), under the persona when one
    is given; they replace the video's earlier automatic text tracks for that persona."""
    body = body or ReadTextIn()
    path = _video_path(state, video_id)
    _persona_exists(state, body.persona_id)
    params = {"model": body.model, "frames_per_second": body.frames_per_second, "min_confidence": body.min_confidence,
              "persona_id": str(body.persona_id) if body.persona_id else None}
    return _submit(state, "read-text", {"video_id": video_id, "video_path": path, "params": params}, video_id,
                   body.persona_id)


@router.post("/api/jobs/{job_id}/cancel", response_model=JobOut, responses={404: {"description": "no such job"}})
def cancel_job(job_id: UUID, state: StateDep) -> Response:
    """Cancel a queued or running job (a finished one is left as it is). A running job stops at its next frame;
    its status reads `cancelled` once the worker has stopped."""
    if request_cancel(state.pool, state.redis, job_id) is None:
        raise not_found("job", job_id, ("path", "job_id"))
    return get_job(job_id, state)


def _unmapped_evidence(state: BackendState, persona_id: UUID) -> dict[str, dict[str, int]]:
    """Detector classes this persona's typed detections saw that none of its types maps to, with how many detections
    in how many videos: what "suggest types" ranks first ("bus: 12 detections in 3 videos")."""
    with state.pool.connection() as conn:
        rows = store.unmapped_classes(conn, persona_id)
    return {str(name): {"detections": int(count), "videos": int(videos)} for name, count, videos in rows if name}


def _said_and_shown(state: BackendState, persona_id: UUID) -> dict[str, dict[str, int]]:
    """Words said (transcripts) and shown (text tracks) in this persona's videos: those it has jobs or annotations
    on. What "suggest types" ranks after the unmapped classes ("'depot': said 4 times in 2 videos")."""
    with state.pool.connection() as conn:
        rows = store.said_and_shown(conn, persona_id)
    return count_terms(((video, text) for kind, video, text in rows if kind == "said"),
                       ((video, text) for kind, video, text in rows if kind == "shown"))


@router.post("/api/ontology/augment", status_code=202, response_model=JobAccepted, responses=ACCEPTED)
def augment(body: AugmentIn, state: StateDep) -> JobAccepted:
    params = check_json(body.params, ("body", "params"))
    with state.pool.connection() as conn:
        persona, ontology = store.persona_and_ontology(conn, body.persona_id)
    if persona is None:
        raise not_found("persona", body.persona_id, ("body", "personaId"))
    ontology_doc = ontology if ontology is not None else {"entityTypes": [], "eventTypes": [], "roleTypes": [], "relationTypes": []}
    if "evidence" not in params:
        evidence = _unmapped_evidence(state, body.persona_id)
        params = {**params, "evidence": evidence} if evidence else params
    if "terms" not in params:
        terms = _said_and_shown(state, body.persona_id)
        params = {**params, "terms": terms} if terms else params
    return _submit(state, "augment", {"persona": persona, "ontology": ontology_doc, "params": params}, None, body.persona_id)


MODELS_CATALOG_KEY = "fovea:models:catalog"  # written by the model-service worker at start (model_service.worker)


@router.get("/api/models", response_model=list[ModelOut])
def list_models(state: StateDep, task: Annotated[
        str | None, Query(description="detection | box-tracking | embedding | transcript | ocr")] = None) -> list[ModelOut]:
    """The models the running model-service offers (configs/models.yaml's registry, as its worker published it):
    the Detect panel's choice. Empty until a worker has started."""
    try:
        raw = state.redis.get(MODELS_CATALOG_KEY)
    except redis.RedisError as exc:
        raise ApiError(503, f"redis unavailable: {exc}") from None
    try:
        models = [ModelOut.model_validate(m) for m in json.loads(raw)] if raw else []
    except (ValueError, ValidationError):
        log.warning("the model catalog in Redis is not what the worker writes; ignored")
        return []
    return [m for m in models if task is None or m.task == task]


@router.get("/api/jobs", response_model=list[JobOut])
def list_jobs(
    state: StateDep,
    video_id: Annotated[str | None, Query(alias="videoId", pattern=VIDEO_ID_PATTERN)] = None,
    status: Annotated[list[JobStatus] | None, Query(description="one or more (repeat the parameter)")] = None,
    kind: Annotated[list[JobKind] | None, Query(description="one or more (repeat the parameter)")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    """Jobs newest first, as mirrored by the job-sync thread (at most its interval behind RQ)."""
    filters: dict[str, list[Any] | None] = {"video_id": [video_id] if video_id is not None else None,
                                            "status": list(status) if status is not None else None,
                                            "kind": list(kind) if kind is not None else None}
    with state.pool.connection() as conn:
        return store.list_json(conn, filters, limit)


@router.get("/api/jobs/{job_id}", response_model=JobOut, responses={404: {"description": "no such job"}})
def get_job(job_id: UUID, state: StateDep) -> Response:
    with state.pool.connection() as conn:
        status = store.status_of(conn, job_id)
    if status in ("queued", "running"):
        # Refresh from RQ so a polling client need not wait for the next sync tick; harmless if Redis is away.
        state.job_sync.sync_one(job_id)
    with state.pool.connection() as conn:
        text = store.job_json(conn, job_id)
    if text is None:
        raise not_found("job", job_id, ("path", "job_id"))
    return JsonText(content=text)
