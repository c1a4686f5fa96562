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
detect/track → annotations, summarize → a video_summaries row, transcribe → the video's video_transcripts row,
read-text → annotations of type "text" (replacing the video's earlier automatic ones for the same persona),
augment → the result stays on the job.
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
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from fovea_backend import media
from fovea_backend.settings import Settings
from fovea_backend.telemetry import Telemetry

log = logging.getLogger("fovea_backend.jobs")

QUEUES: dict[str, str] = {
    "detect": "object-detection",
    "track": "object-tracking",
    "summarize": "video-summarization",
    "augment": "ontology-augmentation",
    "detect-types": "object-detection",
    "track-box": "object-tracking",
    "transcribe": "speech-transcription",
    # OCR samples frames like detection and shares its queue (one worker process runs jobs one at a time anyway).
    "read-text": "object-detection",
}
TASKS: dict[str, str] = {
    "detect": "model_service.tasks.detect",
    "track": "model_service.tasks.track",
    "summarize": "model_service.tasks.summarize",
    "augment": "model_service.tasks.augment",
    "detect-types": "model_service.tasks.detect_types",
    "track-box": "model_service.tasks.track_box",
    "transcribe": "model_service.tasks.transcribe",
    "read-text": "model_service.tasks.read_text",
}
# The worker checks this key at every progress report and ends the job (model_service.tasks.CANCEL_KEY).
CANCEL_KEY = "fovea:cancel:{job_id}"
CANCEL_KEY_TTL_S = 24 * 3600
CANCELLED_ERROR = "JobCancelled"  # the worker's exception: its job failed because someone cancelled it
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
    # What in the persona's videos it comes from ("bus: 12 detections in 3 videos", "'depot': said 4 times in 2
    # videos"); none for the fixed vocabulary. The gloss and hypernyms are WordNet's, where it knows the word.
    evidence: str | None = None
    gloss: str | None = None
    hypernyms: list[str] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def kind(self) -> Literal["entity", "event", "role", "relation"]:
        """The category without its list suffix, as the ontology editor names the kinds."""
        return self.category.removesuffix("Types")  # type: ignore[return-value]


class AugmentResult(_Strict):
    suggestions: list[Suggestion]


class TypedPoint(NormBox):
    frame: int = Field(ge=0)
    outside: bool = False


class TypedTrack(_Strict):
    track_id: int
    type: str = Field(min_length=1, max_length=64)
    label: str = Field(min_length=1, max_length=500)
    confidence: float = Field(ge=0, le=1)
    frames: list[TypedPoint] = Field(min_length=1)


class Unmapped(_Strict):
    class_: str = Field(alias="class", min_length=1)
    detections: int = Field(ge=0)


class TypedDetectResult(_VideoResult):
    """detect-types: tracks typed by the persona's entity types, plus what was searched and what no type maps."""

    persona_id: str | None = None
    sample_every: int = Field(ge=1)
    frames_sampled: int = Field(ge=0)
    classes_searched: dict[str, list[str]]
    # Classes the default pipeline took from another detector than `model` (persons from the YOLOv8 person model).
    class_sources: dict[str, str] = Field(default_factory=dict)
    mapping: list[dict[str, Any]]
    tracks: list[TypedTrack]
    unmapped: list[Unmapped]
    detections: int = Field(ge=0)


class BoxPoint(NormBox):
    frame: int = Field(ge=0)
    confidence: float = Field(ge=0, le=1)
    outside: bool = False


class TrackBoxResult(_VideoResult):
    start_frame: int = Field(ge=0)
    frames: list[BoxPoint]
    lost_at: int | None = None
    frames_tracked: int = Field(ge=0)


class TranscriptWord(_Strict):
    start: float = Field(ge=0)
    end: float = Field(ge=0)
    word: str = Field(min_length=1, max_length=200)
    probability: float = Field(ge=0, le=1)


class TranscriptSegment(_Strict):
    start: float = Field(ge=0)
    end: float = Field(ge=0)
    text: str = Field(max_length=20_000)
    words: list[TranscriptWord]


class TranscribeResult(_Strict):
    """Speech to text with word times; 'no_audio' and 'no_speech' are results (with their message), not failures."""

    model: str = Field(min_length=1, max_length=200)
    language: str | None = Field(None, max_length=20)
    status: Literal["ok", "no_audio", "no_speech"]
    message: str | None = Field(None, max_length=200)
    duration_s: float = Field(ge=0)
    text: str = Field(max_length=2_000_000)
    segments: list[TranscriptSegment]


class TextTrack(TypedTrack):
    """One text read in consecutive samples: `text` is the recognised string (the annotation's label)."""

    type: Literal["text"]
    text: str = Field(min_length=1, max_length=500)


class ReadTextResult(_VideoResult):
    """read-text: OCR on sampled frames, the same text in overlapping boxes over consecutive samples one track."""

    persona_id: str | None = None
    sample_every: int = Field(ge=1)
    frames_sampled: int = Field(ge=0)
    min_confidence: float = Field(ge=0, le=1)
    boxes: int = Field(ge=0)
    tracks: list[TextTrack]


RESULT_MODELS: dict[str, type[_Strict]] = {
    "detect": DetectResult,
    "track": TrackResult,
    "summarize": SummarizeResult,
    "augment": AugmentResult,
    "detect-types": TypedDetectResult,
    "track-box": TrackBoxResult,
    "transcribe": TranscribeResult,
    "read-text": ReadTextResult,
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
        Queue(queue_name, connection=rq_redis, serializer=JSONSerializer).enqueue(
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
    # The tracks a job makes are its requester's (jobs.created_by, stamped when it was queued).
    conn.execute("SELECT set_config('fovea.actor', coalesce((SELECT created_by::text FROM jobs WHERE id = %s), ''), true)",
                 (job["id"],))
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
    if kind == "transcribe":
        assert isinstance(result, TranscribeResult)
        return _persist_transcript(conn, job, result)
    if kind == "track-box":
        assert isinstance(result, TrackBoxResult)
        return _persist_track_box(conn, job, result, video[0] or result.width, video[1] or result.height)
    assert isinstance(result, (DetectResult, TrackResult, TypedDetectResult, ReadTextResult))
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
    if isinstance(result, ReadTextResult):
        _drop_earlier_text(conn, job)
    if isinstance(result, (TypedDetectResult, ReadTextResult)):
        # One annotation per track, typed by the persona's entity type and labelled with the detector's class, or
        # (read-text) typed "text" and labelled with the string read.
        for typed in result.tracks:
            keyframes = [{"frame": p.frame, **_pixels(p, width, height), **({"outside": True} if p.outside else {})}
                         for p in sorted(typed.frames, key=lambda p: p.frame)]
            label = typed.text if isinstance(typed, TextTrack) else typed.label
            rows.append((typed.type, label, keyframes, typed.confidence, f"typed:{typed.track_id}"))
    elif isinstance(result, DetectResult):
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


def _drop_earlier_text(conn: psycopg.Connection, job: dict[str, Any]) -> None:
    """A video's on-screen text is its latest run's, as its transcript is: the text tracks earlier read-text jobs wrote
    for the same persona go, unless an annotator has since accepted one (its source is then 'ai-assisted') or locked
    it: those are theirs and stay."""
    conn.execute(
        "DELETE FROM annotations a USING jobs j WHERE a.video_id = %s AND a.type = 'text' AND a.source = 'automatic'"
        " AND NOT a.locked AND a.job_id = j.id AND j.kind = 'read-text' AND j.id <> %s"
        " AND a.persona_id IS NOT DISTINCT FROM %s",
        (job["video_id"], job["id"], job["persona_id"]))


def _persist_transcript(conn: psycopg.Connection, job: dict[str, Any], result: TranscribeResult) -> int:
    """The video's transcript is its latest finished run's: replaced unless this very job wrote it already."""
    cur = conn.execute(
        "INSERT INTO video_transcripts (video_id, job_id, model, language, status, duration_s, text, segments)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (video_id) DO UPDATE SET job_id = excluded.job_id, model = excluded.model,"
        " language = excluded.language, status = excluded.status, duration_s = excluded.duration_s,"
        " text = excluded.text, segments = excluded.segments, updated_at = now()"
        " WHERE video_transcripts.job_id IS DISTINCT FROM excluded.job_id",
        (job["video_id"], job["id"], result.model, result.language, result.status, result.duration_s, result.text,
         Jsonb([segment.model_dump() for segment in result.segments])),
    )
    return cur.rowcount


def _persist_track_box(conn: psycopg.Connection, job: dict[str, Any], result: TrackBoxResult, width: int,
                       height: int) -> int:
    """Replace the tracked annotation's keyframes after the start frame with the tracker's (those up to and at the
    start frame, the annotator's, stay): re-tracking from a corrected keyframe replaces only what follows it."""
    params = job.get("params") or {}
    annotation_id, start = params.get("annotation_id"), result.start_frame
    row = conn.execute("SELECT frames FROM annotations WHERE id = %s AND video_id = %s AND NOT locked FOR UPDATE",
                       (annotation_id, job["video_id"])).fetchone()
    if row is None:
        return 0  # deleted or locked while the job ran: nothing to replace
    kept = [k for k in row[0] if int(k["frame"]) <= start]
    tracked = [{"frame": p.frame, **_pixels(p, width, height), **({"outside": True} if p.outside else {})}
               for p in result.frames if p.frame > start]
    cur = conn.execute("UPDATE annotations SET frames = %s, updated_at = now() WHERE id = %s",
                       (Jsonb(kept + tracked), annotation_id))
    return cur.rowcount


def request_cancel(pool: ConnectionPool, rq_redis: redis.Redis, job_id: UUID) -> str | None:
    """Cancel a job: a queued one leaves the queue at once; a running one is told through CANCEL_KEY and stops at its
    next progress report (the sync then marks it cancelled). Returns the status now, None when there is no job."""
    with pool.connection() as conn:
        row = conn.execute("SELECT status FROM jobs WHERE id = %s FOR UPDATE", (job_id,)).fetchone()
        if row is None:
            return None
        if row[0] not in ("queued", "running"):
            return str(row[0])
        rq_redis.set(CANCEL_KEY.format(job_id=job_id), "1", ex=CANCEL_KEY_TTL_S)
        try:
            rq_job = Job.fetch(str(job_id), connection=rq_redis, serializer=JSONSerializer)
            running = rq_job.get_status(refresh=False) == JobStatus.STARTED
            if not running:
                rq_job.cancel()  # queued, scheduled for a retry or deferred: it never starts
        except NoSuchJobError:
            running = False
        if running:
            conn.execute("UPDATE jobs SET detail = detail || '{\"stage\": \"cancelling\"}', updated_at = now()"
                         " WHERE id = %s", (job_id,))
            return "running"
        conn.execute("UPDATE jobs SET status = 'cancelled', error = 'cancelled', finished_at = now(), updated_at = now()"
                     " WHERE id = %s", (job_id,))
        return "cancelled"


def _camel_detail(raw: Any) -> dict[str, Any] | None:
    """The worker's {frames_done, frames_total, stage} as the API spells it (framesDone, ...); None when absent."""
    if not isinstance(raw, dict):
        return None
    names = {"frames_done": "framesDone", "frames_total": "framesTotal", "stage": "stage"}
    return {names[k]: v for k, v in raw.items() if k in names and isinstance(v, int | float | str)}


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
        rq_jobs = Job.fetch_many([str(i) for i in ids], connection=self.redis, serializer=JSONSerializer)
        for job_id, rq_job in zip(ids, rq_jobs, strict=True):
            self._sync(job_id, rq_job)
        return len(ids)

    def sync_one(self, job_id: UUID) -> None:
        """Refresh one job now (GET /api/jobs/{id} calls this, so polling clients see fresh state)."""
        try:
            rq_job = Job.fetch_many([str(job_id)], connection=self.redis, serializer=JSONSerializer)[0]
        except redis.RedisError:
            return
        self._sync(job_id, rq_job)

    def _sync(self, job_id: UUID, rq_job: Job | None) -> None:
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT id, kind, queue, status, progress, video_id, persona_id, params,"
                " extract(epoch FROM now() - created_at) AS age FROM jobs WHERE id = %s FOR UPDATE SKIP LOCKED",
                (job_id,),
            ).fetchone()
            if row is None:
                return
            job = dict(zip(("id", "kind", "queue", "status", "progress", "video_id", "persona_id", "params", "age"),
                           row, strict=True))
            if job["status"] in ("completed", "failed", "cancelled"):
                return
            if rq_job is None:
                if job["age"] > LOST_AFTER_S:
                    self._finish(conn, job, "failed", error="job disappeared from Redis before finishing; resubmit it")
                return
            status = rq_job.get_status(refresh=False)
            meta = rq_job.meta if isinstance(rq_job.meta, dict) else {}
            progress = meta.get("progress", job["progress"])
            detail = _camel_detail(meta.get("detail"))
            try:
                progress = min(max(float(progress), 0.0), 1.0)
            except (TypeError, ValueError):
                progress = job["progress"]
            if detail and status in (JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
                # The last frames done / total: a short job may finish between two syncs of its running state.
                conn.execute("UPDATE jobs SET detail = detail || %s WHERE id = %s", (Jsonb(detail), job_id))
            if status == JobStatus.FINISHED:
                self._complete(conn, job, rq_job)
            elif status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
                error = _error_text(rq_job)
                cancelled = status == JobStatus.CANCELED or CANCELLED_ERROR in error
                self._finish(conn, job, "cancelled" if cancelled else "failed",
                             error="cancelled" if cancelled else error)
            elif status == JobStatus.STARTED:
                if job["status"] != "running" or progress != job["progress"] or detail is not None:
                    conn.execute(
                        "UPDATE jobs SET status = 'running', progress = %s, started_at = coalesce(started_at, now()),"
                        " detail = detail || %s, updated_at = now() WHERE id = %s",
                        (progress, Jsonb(detail or {}), job_id),
                    )
            elif job["status"] != "queued":  # queued, deferred, scheduled (waiting for a retry)
                conn.execute("UPDATE jobs SET status = 'queued', updated_at = now() WHERE id = %s", (job_id,))

    def _complete(self, conn: psycopg.Connection, job: dict[str, Any], rq_job: Job) -> None:
        try:
            raw = rq_job.return_value(refresh=True)
        except ValueError:  # JSONDecodeError, UnicodeDecodeError: not JSON (e.g. a planted pickle); never unpickled
            self._finish(conn, job, "failed", error="the worker's result in Redis is not JSON; it was not read")
            return
        try:
            result = RESULT_MODELS[job["kind"]].model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            self._finish(conn, job, "failed", error=f"worker result breaks the {job['kind']} contract at {where}: {first['msg']}")
            return
        persist_result(conn, job, result)
        self._finish(conn, job, "completed", result=result.model_dump(mode="json", by_alias=True))

    def _finish(self, conn: psycopg.Connection, job: dict[str, Any], status: str,
                result: Any = None, error: str | None = None) -> None:
        conn.execute(
            "UPDATE jobs SET status = %s, result = %s, error = %s, progress = CASE WHEN %s = 'completed' THEN 1 ELSE progress END,"
            " finished_at = now(), updated_at = now() WHERE id = %s",
            (status, Jsonb(result) if result is not None else None, error, status, job["id"]),
        )
        if status == "cancelled":
            return
        counter = self.telemetry.jobs_completed if status == "completed" else self.telemetry.jobs_failed
        counter.add(1, {"queue": job["queue"]})
