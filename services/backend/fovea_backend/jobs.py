"""Jobs for the model service, on RQ; the backend owns every row that a job's result turns into.

Why RQ: it is a maintained, plain-Redis job library (no broker besides the Redis the stack already runs),
jobs can be enqueued by dotted function name so the backend never imports model code, it has retries with
per-attempt intervals, `job.meta` for progress, and its StartedJobRegistry + worker heartbeats re-queue the
job of a worker that died mid-job (DESIGN.md: a killed worker must not lose the job). Dramatiq needs its
own actor modules on both sides; Celery is far heavier for four queues.

Flow: the API inserts a `jobs` row (status queued) and enqueues an RQ job with the same id. Workers have no
database access: they report progress in `job.meta["progress"]` and return a JSON-able result. A
background thread (JobSync) mirrors RQ status and progress into the row, so GET /api/jobs/{id} still works
after Redis loses its data, and when a job finishes it persists the result in ONE transaction:
detect/track → annotations, summarize → a video_summaries row, augment → the result stays on the job.
Persisting is idempotent: annotations carry UNIQUE(job_id, dedupe_key), summaries UNIQUE(job_id), and
inserts use ON CONFLICT DO NOTHING, so a crash between insert and status update, or two backends
syncing the same job, never duplicates rows.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Literal
from uuid import UUID

import psycopg
import redis
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool
from pydantic import BaseModel, ConfigDict, Field, ValidationError, computed_field
from rq import Queue, Retry
from rq.job import Job, JobStatus

from fovea_backend import media
from fovea_backend.settings import Settings
from fovea_backend.telemetry import Telemetry

log = logging.getLogger("fovea_backend.jobs")

QUEUES: dict[str, str] = {
    "detect": "object-detection",
    "track": "object-tracking",
    "summarize": "video-summarization",
    "augment": "ontology-augmentation",
}
TASKS: dict[str, str] = {
    "detect": "model_service.tasks.detect",
    "track": "model_service.tasks.track",
    "summarize": "model_service.tasks.summarize",
    "augment": "model_service.tasks.augment",
}
# A job row with no RQ job after this long was lost with Redis' data (or never enqueued).
LOST_AFTER_S = 120
RESULT_TTL_S = 7 * 24 * 3600


# --- the worker result contract ------------------------------------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="ignore")


class NormBox(_Strict):
    x: float = Field(ge=0, le=1)
    y: float = Field(ge=0, le=1)
    width: float = Field(ge=0, le=1)
    height: float = Field(ge=0, le=1)


class Detection(_Strict):
    label: str = Field(min_length=1, max_length=500)
    confidence: float = Field(ge=0, le=1)
    box: NormBox


class DetectFrame(_Strict):
    frame: int = Field(ge=0)
    time_s: float = Field(ge=0)
    detections: list[Detection]


class _VideoResult(_Strict):
    """What detect and track both report about the model and the decoded video."""

    model: str
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    fps: float = Field(ge=0)


class DetectResult(_VideoResult):
    frames: list[DetectFrame]


class TrackPoint(NormBox):
    frame: int = Field(ge=0)


class Track(_Strict):
    track_id: int
    label: str = Field(min_length=1, max_length=500)
    confidence: float = Field(ge=0, le=1)
    frames: list[TrackPoint] = Field(min_length=1)


class TrackResult(_VideoResult):
    tracks: list[Track]


class KeyFrame(_Strict):
    frame: int = Field(ge=0)
    time_s: float = Field(ge=0)


class SummarizeResult(_Strict):
    summary: dict[str, Any]
    text: str
    key_frames: list[KeyFrame]
    embedding: list[float] = Field(min_length=384, max_length=384)


class Suggestion(_Strict):
    category: Literal["entityTypes", "eventTypes", "roleTypes", "relationTypes"]
    name: str
    description: str
    confidence: float = Field(ge=0, le=1)
    reason: str

    @computed_field  # type: ignore[prop-decorator]
    @property
    def kind(self) -> Literal["entity", "event", "role", "relation"]:
        """The category without its list suffix, as the ontology editor names the kinds."""
        return self.category.removesuffix("Types")  # type: ignore[return-value]


class AugmentResult(_Strict):
    suggestions: list[Suggestion]


RESULT_MODELS: dict[str, type[_Strict]] = {
    "detect": DetectResult,
    "track": TrackResult,
    "summarize": SummarizeResult,
    "augment": AugmentResult,
}


# --- enqueue -------------------------------------------------------------------------------------------
class EnqueueError(RuntimeError):
    pass


def enqueue(
    pool: ConnectionPool,
    rq_redis: redis.Redis,
    settings: Settings,
    telemetry: Telemetry,
    kind: str,
    task_kwargs: dict[str, Any],
    video_id: str | None = None,
    persona_id: UUID | None = None,
) -> UUID:
    """Insert the row first (so a worker that finishes instantly always finds it), then enqueue."""
    import uuid

    job_id = uuid.uuid4()
    queue_name = QUEUES[kind]
    with pool.connection() as conn:
        conn.execute(
            "INSERT INTO jobs (id, queue, kind, status, video_id, persona_id, params)"
            " VALUES (%s, %s, %s, 'queued', %s, %s, %s)",
            (job_id, queue_name, kind, video_id, persona_id, Jsonb(task_kwargs.get("params", {}))),
        )
    intervals = list(settings.job_retry_intervals)
    try:
        Queue(queue_name, connection=rq_redis).enqueue(
            TASKS[kind],
            args=(),
            kwargs=task_kwargs,
            job_id=str(job_id),
            retry=Retry(max=len(intervals), interval=intervals) if intervals else None,
            job_timeout=settings.job_timeout_s,
            result_ttl=RESULT_TTL_S,
            failure_ttl=RESULT_TTL_S,
            meta={"progress": 0.0},
            description=f"{kind} {video_id or persona_id}",
        )
    except redis.RedisError as exc:
        with pool.connection() as conn:
            conn.execute(
                "UPDATE jobs SET status = 'failed', error = %s, finished_at = now(), updated_at = now() WHERE id = %s",
                (f"could not enqueue: redis unavailable ({type(exc).__name__})", job_id),
            )
        raise EnqueueError(f"redis unavailable: {exc}") from exc
    telemetry.jobs_submitted.add(1, {"queue": queue_name})
    return job_id


# --- persisting results ----------------------------------------------------------------------------------
def _pixels(box: NormBox, width: int, height: int) -> dict[str, float]:
    """Normalised box → pixel box clamped inside the frame (rounded: sub-millipixel noise is not data)."""
    x = min(max(box.x * width, 0.0), float(width))
    y = min(max(box.y * height, 0.0), float(height))
    w = min(max(box.width * width, 0.0), width - x)
    h = min(max(box.height * height, 0.0), height - y)
    return {"x": round(x, 3), "y": round(y, 3), "width": round(w, 3), "height": round(h, 3)}


def persist_result(conn: psycopg.Connection, job: dict[str, Any], result: BaseModel) -> int:
    """Write what a finished job produced; return rows inserted (0 when already persisted)."""
    kind = job["kind"]
    if kind == "augment":
        return 0
    video = conn.execute("SELECT width, height FROM videos WHERE id = %s", (job["video_id"],)).fetchone()
    if video is None:
        return 0  # the video was pruned while the job ran; nothing to attach results to
    if kind == "summarize":
        assert isinstance(result, SummarizeResult)
        embedding = "[" + ",".join(repr(float(v)) for v in result.embedding) + "]"
        cur = conn.execute(
            "INSERT INTO video_summaries (video_id, persona_id, summary, text, key_frames, embedding, job_id)"
            " VALUES (%s, %s, %s, %s, %s, %s::vector, %s) ON CONFLICT (job_id) DO NOTHING",
            (
                job["video_id"],
                job["persona_id"],
                Jsonb(result.summary),
                result.text,
                Jsonb([k.model_dump() for k in result.key_frames]),
                embedding,
                job["id"],
            ),
        )
        return cur.rowcount
    assert isinstance(result, (DetectResult, TrackResult))
    # Prefer the dimensions the video row knows (from its sidecar); fall back to what the worker decoded.
    width = video[0] or result.width
    height = video[1] or result.height
    if video[0] is None or video[1] is None:
        # The frame rate too, if nothing knew it: as a rational, like sync stores it (fps = fpsNum / fpsDen).
        rate = media.rate_from_float(result.fps) if result.fps else None
        conn.execute(
            "UPDATE videos SET width = %s, height = %s, fps_num = CASE WHEN fps IS NULL THEN %s ELSE fps_num END,"
            " fps_den = CASE WHEN fps IS NULL THEN %s ELSE fps_den END, fps = coalesce(fps, %s) WHERE id = %s",
            (width, height, *(rate or (None, None)), rate[0] / rate[1] if rate else None, job["video_id"]))
    rows: list[tuple[Any, ...]] = []
    if isinstance(result, DetectResult):
        for frame in result.frames:
            for index, det in enumerate(frame.detections):
                keyframe = {"frame": frame.frame, **_pixels(det.box, width, height)}
                rows.append(("detection", det.label, [keyframe], det.confidence, f"{frame.frame}:{index}"))
    else:
        for track in result.tracks:
            by_frame = {p.frame: p for p in track.frames}  # frames sorted and unique, as the API demands
            keyframes = [{"frame": f, **_pixels(by_frame[f], width, height)} for f in sorted(by_frame)]
            rows.append(("track", track.label, keyframes, track.confidence, f"track:{track.track_id}"))
    if not rows:
        return 0
    # One statement (not executemany): the annotation-revision trigger then fires once, not once per row.
    cur = conn.execute(
        "INSERT INTO annotations (video_id, persona_id, type, label, frames, source, confidence, job_id, dedupe_key)"
        " SELECT %s, %s, r.type, r.label, r.frames, 'automatic', r.confidence, %s, r.dedupe_key"
        " FROM jsonb_to_recordset(%s) AS r(type text, label text, frames jsonb, confidence double precision, dedupe_key text)"
        " ON CONFLICT (job_id, dedupe_key) DO NOTHING",
        (job["video_id"], job["persona_id"], job["id"],
         Jsonb([{"type": t, "label": label, "frames": frames, "confidence": conf, "dedupe_key": key}
                for t, label, frames, conf, key in rows])),
    )
    return max(cur.rowcount, 0)


def _error_text(rq_job: Job) -> str:
    try:
        latest = rq_job.latest_result()
        text = (latest.exc_string if latest is not None else None) or "failed"
    except Exception:  # noqa: BLE001 - the error text is best effort; the status is what matters
        text = "failed"
    return text[-4000:]


class JobSync:
    """Mirror RQ → jobs table. One thread per backend process; safe with several (row locks, SKIP LOCKED)."""

    def __init__(self, pool: ConnectionPool, rq_redis: redis.Redis, telemetry: Telemetry, interval_s: float) -> None:
        self.pool = pool
        self.redis = rq_redis
        self.telemetry = telemetry
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="fovea-job-sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.sync_all()
            except (redis.RedisError, psycopg.Error) as exc:
                # Redis or Postgres away: try again next tick; the rows keep their last known state.
                log.debug("job sync skipped: %s", exc)
            except Exception:  # noqa: BLE001 - the loop must survive anything one job throws at it
                log.exception("job sync failed")
            self._stop.wait(self.interval_s)

    def sync_all(self) -> int:
        with self.pool.connection() as conn:
            ids = [row[0] for row in conn.execute(
                "SELECT id FROM jobs WHERE status IN ('queued', 'running') ORDER BY created_at LIMIT 500").fetchall()]
        if not ids:
            return 0
        rq_jobs = Job.fetch_many([str(i) for i in ids], connection=self.redis)
        for job_id, rq_job in zip(ids, rq_jobs, strict=True):
            self._sync(job_id, rq_job)
        return len(ids)

    def sync_one(self, job_id: UUID) -> None:
        """Refresh one job now (GET /api/jobs/{id} calls this, so polling clients see fresh state)."""
        try:
            rq_job = Job.fetch_many([str(job_id)], connection=self.redis)[0]
        except redis.RedisError:
            return
        self._sync(job_id, rq_job)

    def _sync(self, job_id: UUID, rq_job: Job | None) -> None:
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT id, kind, queue, status, progress, video_id, persona_id,"
                " extract(epoch FROM now() - created_at) AS age FROM jobs WHERE id = %s FOR UPDATE SKIP LOCKED",
                (job_id,),
            ).fetchone()
            if row is None:
                return
            job = dict(zip(("id", "kind", "queue", "status", "progress", "video_id", "persona_id", "age"), row, strict=True))
            if job["status"] in ("completed", "failed"):
                return
            if rq_job is None:
                if job["age"] > LOST_AFTER_S:
                    self._finish(conn, job, "failed", error="job disappeared from Redis before finishing; resubmit it")
                return
            status = rq_job.get_status(refresh=False)
            progress = rq_job.meta.get("progress", job["progress"]) if isinstance(rq_job.meta, dict) else job["progress"]
            try:
                progress = min(max(float(progress), 0.0), 1.0)
            except (TypeError, ValueError):
                progress = job["progress"]
            if status == JobStatus.FINISHED:
                self._complete(conn, job, rq_job)
            elif status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
                self._finish(conn, job, "failed", error=_error_text(rq_job))
            elif status == JobStatus.STARTED:
                if job["status"] != "running" or progress != job["progress"]:
                    conn.execute(
                        "UPDATE jobs SET status = 'running', progress = %s, started_at = coalesce(started_at, now()),"
                        " updated_at = now() WHERE id = %s",
                        (progress, job_id),
                    )
            elif job["status"] != "queued":  # queued, deferred, scheduled (waiting for a retry)
                conn.execute("UPDATE jobs SET status = 'queued', updated_at = now() WHERE id = %s", (job_id,))

    def _complete(self, conn: psycopg.Connection, job: dict[str, Any], rq_job: Job) -> None:
        raw = rq_job.return_value(refresh=True)
        try:
            result = RESULT_MODELS[job["kind"]].model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            self._finish(conn, job, "failed", error=f"worker result breaks the {job['kind']} contract at {where}: {first['msg']}")
            return
        persist_result(conn, job, result)
        self._finish(conn, job, "completed", result=result.model_dump(mode="json"))

    def _finish(self, conn: psycopg.Connection, job: dict[str, Any], status: str,
                result: Any = None, error: str | None = None) -> None:
        conn.execute(
            "UPDATE jobs SET status = %s, result = %s, error = %s, progress = CASE WHEN %s = 'completed' THEN 1 ELSE progress END,"
            " finished_at = now(), updated_at = now() WHERE id = %s",
            (status, Jsonb(result) if result is not None else None, error, status, job["id"]),
        )
        counter = self.telemetry.jobs_completed if status == "completed" else self.telemetry.jobs_failed
        counter.add(1, {"queue": job["queue"]})
