"""RQ job functions (enqueued by the backend by dotted name, run by model_service.worker).

The worker has no database access: each job returns a JSON-able result and the backend persists it
idempotently (a job may run twice: at-least-once delivery). Progress goes to job.meta["progress"] (0..1).
"""

from __future__ import annotations

from typing import Any

from rq import get_current_job

from model_service import inference
from model_service.augment import AugmentParams
from model_service.augment import augment as suggest_types
from model_service.config import settings
from model_service.inference import FrameParams, SummarizeParams
from model_service.models import ModelRegistry, registry
from model_service.paths import resolve_video


def _progress(value: float) -> None:
    job = get_current_job()
    if job is not None:
        job.meta["progress"] = value
        job.save_meta()


def _models() -> ModelRegistry:
    models = registry()
    models.ensure_loaded()  # the worker preloads; this covers jobs run in-process elsewhere (tests, rq CLI)
    return models


def _video(video_id: str, video_path: str):
    # The path the backend gives wins; the id is the fallback (<root>/<id>.<ext>).
    return resolve_video(settings().video_root, video_path or None, None if video_path else video_id)


def detect(video_id: str, video_path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    _progress(0.0)
    return inference.detect(_models(), _video(video_id, video_path), FrameParams.model_validate(params or {}),
                            _progress)


def track(video_id: str, video_path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    _progress(0.0)
    return inference.track(_models(), _video(video_id, video_path), FrameParams.model_validate(params or {}),
                           _progress)


def summarize(video_id: str, video_path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    _progress(0.0)
    return inference.summarize(_models(), _video(video_id, video_path),
                               SummarizeParams.model_validate(params or {}), _progress)


def augment(persona: dict[str, Any], ontology: dict[str, Any], params: dict[str, Any] | None = None
            ) -> dict[str, Any]:
    _progress(0.0)
    result = suggest_types(_models(), persona, ontology, AugmentParams.model_validate(params or {}))
    _progress(1.0)
    return result
