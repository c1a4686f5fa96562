"""RQ job functions (enqueued by the backend by dotted name, run by model_service.worker).

The worker has no database access: each job returns a JSON-able result and the backend persists it
idempotently (a job may run twice: at-least-once delivery). Progress goes to job.meta["progress"] (0..1), with
frames done / total and the stage under job.meta["detail"].

Cancel: the backend sets the key `fovea:cancel:<job id>` (CANCEL_KEY); every progress report checks it and ends
the job with JobCancelled, so a running job stops within one frame's work. (RQ's own stop command kills a work
horse; this worker runs jobs in its own process, see worker.py, so it would kill the models with the job.)
"""

from __future__ import annotations

import time
from typing import Any

from rq import get_current_job

from model_service import inference
from model_service.augment import AugmentParams
from model_service.augment import augment as suggest_types
from model_service.config import settings
from model_service.inference import FrameParams, SummarizeParams
from model_service.models import ModelRegistry, registry
from model_service.paths import resolve_video
from model_service.typed import TrackBoxParams, TypedDetectParams

CANCEL_KEY = "fovea:cancel:{job_id}"  # the backend's POST /api/jobs/{id}/cancel sets it (fovea_backend.jobs)
SAVE_EVERY_S = 0.5  # progress saves are Redis round trips: at most this often, and at every stage change


class JobCancelled(RuntimeError):
    """Someone cancelled the job while it ran (the backend marks it cancelled when it sees this)."""


_last_save: dict[str, float] = {}


def _progress(value: float, **detail: Any) -> None:
    job = get_current_job()
    if job is None:
        return
    if job.connection.exists(CANCEL_KEY.format(job_id=job.id)):
        raise JobCancelled(f"job {job.id} was cancelled")
    now = time.monotonic()
    previous = job.meta.get("detail") or {}
    stage_changed = detail.get("stage") not in (None, previous.get("stage"))
    if value < 1.0 and not stage_changed and now - _last_save.get(job.id, 0.0) < SAVE_EVERY_S:
        return
    _last_save[job.id] = now
    job.meta["progress"] = value
    if detail:
        job.meta["detail"] = {**previous, **detail}
    job.save_meta()


def _models(*needed: str) -> ModelRegistry:
    """The registry with the models this job needs in memory: loaded now, once per process, if the background
    preload has not yet (the job's progress says so meanwhile)."""
    models = registry()
    models.require(needed, loading=lambda: _progress(0.0, stage="loading model"))
    return models


def _video(video_id: str, video_path: str):
    # The path the backend gives wins; the id is the fallback (<root>/<id>.<ext>).
    return resolve_video(settings().video_root, video_path or None, None if video_path else video_id)


def detect(video_id: str, video_path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    _progress(0.0)
    return inference.detect(_models("detector"), _video(video_id, video_path), FrameParams.model_validate(params or {}),
                            _progress)


def track(video_id: str, video_path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    _progress(0.0)
    return inference.track(_models("tracker"), _video(video_id, video_path), FrameParams.model_validate(params or {}),
                           _progress)


def summarize(video_id: str, video_path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    _progress(0.0)
    return inference.summarize(_models("embedder"), _video(video_id, video_path),
                               SummarizeParams.model_validate(params or {}), _progress)


def augment(persona: dict[str, Any], ontology: dict[str, Any], params: dict[str, Any] | None = None
            ) -> dict[str, Any]:
    _progress(0.0)
    result = suggest_types(_models("embedder"), persona, ontology, AugmentParams.model_validate(params or {}))
    _progress(1.0)
    return result


def detect_types(video_id: str, video_path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Detection typed by the persona's entity types (model_service.typed.detect_types)."""
    from model_service import typed

    _progress(0.0)
    return typed.detect_types(_models("embedder"), _video(video_id, video_path),
                              TypedDetectParams.model_validate(params or {}), _progress)


def track_box(video_id: str, video_path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Follow an annotator's box forward (model_service.typed.track_box)."""
    from model_service import typed

    _progress(0.0)
    return typed.track_box(_models(), _video(video_id, video_path), TrackBoxParams.model_validate(params or {}),
                           _progress)


def transcribe(video_id: str, video_path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Speech to text with word times (model_service.transcribe)."""
    from model_service import transcribe as speech

    _progress(0.0)
    return speech.transcribe(_models(), _video(video_id, video_path),
                             speech.TranscribeParams.model_validate(params or {}), _progress)


def read_text(video_id: str, video_path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Text in frame: OCR on sampled frames, joined into text tracks (model_service.ocr)."""
    from model_service import ocr

    _progress(0.0)
    return ocr.read_text(_models(), _video(video_id, video_path), ocr.ReadTextParams.model_validate(params or {}),
                         _progress)
