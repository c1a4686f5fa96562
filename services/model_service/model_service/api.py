"""The HTTP API (FastAPI on 0.0.0.0:8000): /health and synchronous detect / track / summarize / augment.

It answers as soon as it listens: no model is loaded before that. A request loads the models it needs
first (once per process; later requests find them in memory), and models.yaml's `preload` loads the usual
ones in the background a few seconds after start. GET /health is 200 {"status": "ok", "models_loaded": …}
while the process serves (503 "error" when the background load failed, naming why). Handlers are plain
`def`: FastAPI runs them in its thread pool, and the registry's per-model locks serialise use of each model.

With MODEL_WORKER=1 (the stack's model-service) this process also consumes the job queues: the RQ
worker runs in the main thread (RQ's job timeouts are SIGALRM, main thread only) and HTTP in another,
both on the one copy of the models, so torch and the weights are loaded once, not once per process.
Two healths: GET /health says the API is up; GET /health/queues says this process's worker is registered
in Redis and consuming, i.e. a job enqueued now is taken (the stack's readiness probe).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from model_service.augment import AugmentParams, augment
from model_service.config import settings
from model_service.inference import FrameParams, SummarizeParams, detect, summarize, track
from model_service.models import ModelRegistry, ModelUnavailable, refuse_without_cuda, registry
from model_service.paths import VideoPathError, resolve_video
from model_service.service_token import ServiceTokenMiddleware, configured_token
from model_service.video import VideoError

log = logging.getLogger("model_service.api")
CONSUME_QUEUES_ENV = "MODEL_WORKER"  # "1": this process also runs the queue worker (see the docstring)


class VideoRef(BaseModel):
    video_id: str | None = Field(None, description="a video stored as <video root>/<id>.<ext>")
    video_path: str | None = Field(None, description="a path relative to the video root")


class DetectRequest(FrameParams, VideoRef):
    model_config = ConfigDict(extra="forbid")


class SummarizeRequest(SummarizeParams, VideoRef):
    model_config = ConfigDict(extra="forbid")


class AugmentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    persona: dict[str, Any]
    ontology: dict[str, Any]
    params: AugmentParams = Field(default_factory=AugmentParams)


@asynccontextmanager
async def lifespan(_: FastAPI):
    if os.environ.get(CONSUME_QUEUES_ENV) != "1":  # with the worker, worker.main starts it once it consumes
        registry().preload()
    yield


app = FastAPI(title="FOVEA model-service", version="0.1.0", lifespan=lifespan)
app.add_middleware(ServiceTokenMiddleware, token=configured_token())  # everything but /health needs the token


def _registry_with(*names: str) -> ModelRegistry:
    """The registry with these models in memory (loaded now if no one did yet)."""
    models = registry()
    _run(models.require, names)
    return models


def _video(ref: VideoRef):
    try:
        return resolve_video(settings().video_root, ref.video_path, ref.video_id)
    except VideoPathError as exc:
        raise HTTPException(exc.status, exc.message) from None


def _run(fn, *args):
    try:
        return fn(*args)
    except VideoError as exc:
        raise HTTPException(422, str(exc)) from None
    except ModelUnavailable as exc:
        raise HTTPException(503, str(exc)) from None


@app.get("/health")
def health() -> JSONResponse:
    models = registry()
    body: dict[str, Any] = {"status": "error" if models.error else "ok"}
    try:
        body |= models.health()
    except Exception as exc:  # noqa: BLE001 - health must answer even when torch misbehaves
        body |= {"device": models.device, "error": str(exc)}
    if models.error:
        body["error"] = models.error
    return JSONResponse(body, status_code=503 if models.error else 200)


@app.get("/health/queues")
def health_queues() -> JSONResponse:
    """Whether this process consumes the job queues: its RQ worker is registered in Redis, not dead."""
    from model_service import worker

    consuming, detail = worker.consuming()
    return JSONResponse({"status": "ok" if consuming else "not consuming", "detail": detail},
                        status_code=200 if consuming else 503)


def _on_video(fn, request: VideoRef, params_class: type[FrameParams]) -> dict:
    """One video job run synchronously: path confined, params as the queue job gets them; the job function
    loads the models it needs (once per process)."""
    return _run(fn, registry(), _video(request), params_class.model_validate(request.model_dump()))


@app.post("/api/detect")
def api_detect(request: DetectRequest) -> dict:
    return _on_video(detect, request, FrameParams)


@app.post("/api/track")
def api_track(request: DetectRequest) -> dict:
    return _on_video(track, request, FrameParams)


@app.post("/api/summarize")
def api_summarize(request: SummarizeRequest) -> dict:
    return _on_video(summarize, request, SummarizeParams)


@app.post("/api/augment")
def api_augment(request: AugmentRequest) -> dict:
    return _run(augment, _registry_with("embedder"), request.persona, request.ontology, request.params)


def main() -> None:
    import uvicorn

    from model_service.telemetry import setup_logging

    setup_logging()
    active = settings()
    if active.device == "cuda":
        refuse_without_cuda()  # one clear line, not an API answering 503 while its loader thread failed
    server = uvicorn.Server(uvicorn.Config(app, host=active.host, port=active.port, log_level="info",
                                           access_log=False, ws="none"))  # no websockets: skips importing wsproto
    if os.environ.get(CONSUME_QUEUES_ENV) != "1":
        server.run()
        return
    http = threading.Thread(target=server.run, name="http", daemon=True)  # uvicorn skips signals off-main
    http.start()
    from model_service import worker

    failures = 0
    while True:
        try:
            worker.main()  # returns on SIGTERM/SIGINT (RQ's warm shutdown); the HTTP thread ends with the process
            return
        except Exception:  # noqa: BLE001 - Redis away, models that cannot load: /health/queues says so meanwhile
            failures += 1
            delay = min(30, 2 ** failures)
            log.exception("the queue worker stopped; the API keeps serving; worker retry in %d s", delay)
            time.sleep(delay)


if __name__ == "__main__":
    main()
