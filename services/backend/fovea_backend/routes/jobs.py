"""Submitting work to the model service (202 + jobId) and reading a job's mirrored state."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response

from fovea_backend import render
from fovea_backend.db import json_list, json_or_404
from fovea_backend.errors import ApiError, not_found
from fovea_backend.jobs import EnqueueError, enqueue
from fovea_backend.jsoncheck import check_json
from fovea_backend.routes.videos import VideoId
from fovea_backend.schemas import VIDEO_ID_PATTERN, AugmentIn, DetectIn, JobAccepted, JobKind, JobOut, JobStatus, SummarizeIn
from fovea_backend.state import BackendState, get_state

router = APIRouter(tags=["jobs"])
ACCEPTED = {404: {"description": "unknown video or persona"}, 503: {"description": "Redis unavailable; nothing was queued"}}


def _video_path(state: BackendState, video_id: str) -> str:
    with state.pool.connection() as conn:
        row = conn.execute("SELECT path FROM videos WHERE id = %s", (video_id,)).fetchone()
    if row is None:
        raise not_found("video", video_id, ("path", "video_id"))
    return str(row[0])


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
        if conn.execute("SELECT 1 FROM personas WHERE id = %s", (persona_id,)).fetchone() is None:
            raise not_found("persona", persona_id, ("body", "personaId"))


@router.post("/api/videos/{video_id}/detect", status_code=202, response_model=JobAccepted, responses=ACCEPTED)
def detect(video_id: VideoId, body: DetectIn | None = None, state: BackendState = Depends(get_state)) -> JobAccepted:
    params = (body or DetectIn()).model_dump()
    return _submit(state, "detect", {"video_id": video_id, "video_path": _video_path(state, video_id), "params": params}, video_id)


@router.post("/api/videos/{video_id}/track", status_code=202, response_model=JobAccepted, responses=ACCEPTED)
def track(video_id: VideoId, body: DetectIn | None = None, state: BackendState = Depends(get_state)) -> JobAccepted:
    params = (body or DetectIn()).model_dump()
    return _submit(state, "track", {"video_id": video_id, "video_path": _video_path(state, video_id), "params": params}, video_id)


@router.post("/api/videos/{video_id}/summaries", status_code=202, response_model=JobAccepted, responses=ACCEPTED)
def summarize(video_id: VideoId, body: SummarizeIn | None = None, state: BackendState = Depends(get_state)) -> JobAccepted:
    body = body or SummarizeIn()
    params = check_json(body.params, ("body", "params"))
    path = _video_path(state, video_id)
    _persona_exists(state, body.persona_id)
    return _submit(state, "summarize", {"video_id": video_id, "video_path": path, "params": params}, video_id, body.persona_id)


@router.post("/api/ontology/augment", status_code=202, response_model=JobAccepted, responses=ACCEPTED)
def augment(body: AugmentIn, state: BackendState = Depends(get_state)) -> JobAccepted:
    params = check_json(body.params, ("body", "params"))
    with state.pool.connection() as conn:
        persona = conn.execute(f"SELECT {render.PERSONA} FROM personas p WHERE id = %s", (body.persona_id,)).fetchone()
        ontology = conn.execute(f"SELECT {render.ONTOLOGY} FROM ontologies o WHERE persona_id = %s", (body.persona_id,)).fetchone()
    if persona is None:
        raise not_found("persona", body.persona_id, ("body", "personaId"))
    ontology_doc = ontology[0] if ontology else {"entityTypes": [], "eventTypes": [], "roleTypes": [], "relationTypes": []}
    return _submit(state, "augment", {"persona": persona[0], "ontology": ontology_doc, "params": params}, None, body.persona_id)


@router.get("/api/jobs", response_model=list[JobOut])
def list_jobs(
    video_id: Annotated[str | None, Query(alias="videoId", pattern=VIDEO_ID_PATTERN)] = None,
    status: Annotated[list[JobStatus] | None, Query(description="one or more (repeat the parameter)")] = None,
    kind: Annotated[list[JobKind] | None, Query(description="one or more (repeat the parameter)")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    state: BackendState = Depends(get_state),
) -> Response:
    """Jobs newest first, as mirrored by the job-sync thread (at most its interval behind RQ)."""
    conditions: list[str] = []
    params: list[Any] = []
    for column, value in (("video_id", video_id), ("status", status), ("kind", kind)):
        if value is not None:
            conditions.append(f"j.{column} = ANY(%s)")
            params.append(value if isinstance(value, list) else [value])
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    with state.pool.connection() as conn:
        return json_list(conn, f"SELECT {render.JOB} AS j FROM jobs j {where} ORDER BY j.created_at DESC, j.id DESC LIMIT %s",
                         (*params, limit))


@router.get("/api/jobs/{job_id}", response_model=JobOut, responses={404: {"description": "no such job"}})
def get_job(job_id: UUID, state: BackendState = Depends(get_state)) -> Response:
    with state.pool.connection() as conn:
        row = conn.execute("SELECT status FROM jobs WHERE id = %s", (job_id,)).fetchone()
    if row is not None and row[0] in ("queued", "running"):
        # Refresh from RQ so a polling client need not wait for the next sync tick; harmless if Redis is away.
        state.job_sync.sync_one(job_id)
    with state.pool.connection() as conn:
        return json_or_404(conn, f"SELECT {render.JOB}::text FROM jobs j WHERE id = %s", (job_id,),
                           not_found("job", job_id, ("path", "job_id")))
