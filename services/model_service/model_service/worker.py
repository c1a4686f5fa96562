"""The queue worker. In the stack it runs inside the API's process (`MODEL_WORKER=1`, see api.main), so
the models are loaded once and shared; `python3 -m model_service.worker` still runs it alone.

Why not RQ's default worker: it forks a work horse per job, and a fork either reloads the models or
inherits torch's OpenMP pool in a state it cannot use. SimpleWorker runs jobs in this process, where the
models were loaded once, before the first dequeue; pick-up is one BLPOP away.

At-least-once, and what RQ 2.6 does on its own (checked in rq/registry.py, rq/worker.py): a job whose
worker dies stays in the queue's StartedJobRegistry until its entry's score (heartbeat TTL) passes; then
StartedJobRegistry.cleanup(), run by some worker's maintenance every 10 min or by any client counting the
registry, retries it only if it was enqueued with `Retry` and otherwise moves it to the FailedJobRegistry
with AbandonedJobError. SimpleWorker does not even refresh that TTL during a job (it is job timeout + 60 s).
So, minimal additions here:
  * a heartbeat thread during each job keeps the started-registry entry alive in short steps (TTL 20 s),
    so a dead worker's job is detectably abandoned within seconds, not minutes;
  * a stable worker name (MODEL_WORKER_NAME, default `model-<hostname>`: a container keeps its hostname
    across restarts): on start, jobs still marked started by this very name belonged to our previous,
    killed incarnation and are requeued at once, at the front;
  * maintenance every 15 s also requeues jobs any worker abandoned (expired entry) and jobs RQ's own
    cleanup already failed with AbandonedJobError, whether or not the backend asked for Retry;
  * a job that kills its worker MAX_ABANDONED times is failed for good instead of looping forever.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from typing import TYPE_CHECKING

from rq import Queue, SimpleWorker
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, StartedJobRegistry
from rq.serializers import JSONSerializer
from rq.utils import as_text, current_timestamp, parse_composite_key

from model_service.config import QUEUES, redis_connection, settings
from model_service.models import refuse_without_cuda, registry

if TYPE_CHECKING:
    from redis import Redis

log = logging.getLogger("model_service.worker")

JOB_HEARTBEAT_S = 5
JOB_HEARTBEAT_TTL = 20
MAINTENANCE_S = 15
WORKER_TTL = 30  # idle BLPOP waits worker_ttl - 15 s, so maintenance also runs at least that often
MAX_ABANDONED = 3
CATALOG_KEY = "fovea:models:catalog"  # fovea_backend.routes.jobs reads it


class JobSerializer(JSONSerializer):
    """RQ's JSON serializer (never pickle: a job planted in Redis is data to reject, not code to run), whose
    dumps also copes with the raw bytes RQ keeps (under meta["unserialized"]) of a job whose meta was not
    JSON, so such a job can still be saved as failed instead of crashing the worker on every start."""

    @staticmethod
    def dumps(*args, **kwargs):  # type: ignore[no-untyped-def]
        return json.dumps(*args, default=_unreadable, **kwargs).encode("utf-8")


def _unreadable(value: object) -> str:
    if isinstance(value, bytes):
        return f"<{len(value)} bytes that are not JSON, not read>"
    raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")


class ModelWorker(SimpleWorker):
    """SimpleWorker with a job heartbeat and requeueing of abandoned jobs (see the module docstring)."""

    def get_heartbeat_ttl(self, job: Job) -> int:
        return JOB_HEARTBEAT_TTL

    def execute_job(self, job: Job, queue: Queue) -> None:
        stop = threading.Event()
        beat = threading.Thread(target=self._job_heartbeat, args=(job, stop), name="job-heartbeat", daemon=True)
        beat.start()
        try:
            super().execute_job(job, queue)
        finally:
            stop.set()
            beat.join()

    def handle_job_failure(self, job: Job, queue: Queue, started_job_registry=None, exc_string: str = "") -> None:  # type: ignore[no-untyped-def, override]
        """A cancelled job (tasks.JobCancelled) is stopped, not failed: RQ then neither retries it (the backend
        enqueues with Retry) nor counts it as a failure; the backend marks it cancelled."""
        if "JobCancelled" in (exc_string or ""):
            self._stopped_job_id = job.id
        super().handle_job_failure(job, queue, started_job_registry=started_job_registry, exc_string=exc_string)

    def _job_heartbeat(self, job: Job, stop: threading.Event) -> None:
        while not stop.wait(JOB_HEARTBEAT_S):
            execution = getattr(self, "execution", None)
            if execution is None:
                continue
            try:
                with self.connection.pipeline() as pipeline:
                    self.heartbeat(JOB_HEARTBEAT_TTL + WORKER_TTL, pipeline=pipeline)
                    # xx=True inside: refreshes the entry, never re-adds one the job's end already removed.
                    execution.heartbeat(job.started_job_registry, JOB_HEARTBEAT_TTL, pipeline=pipeline)
                    pipeline.execute()
            except Exception as exc:  # noqa: BLE001 - a missed beat is retried; the job goes on
                log.warning("job heartbeat for %s failed: %s", job.id, exc)

    def run_maintenance_tasks(self) -> None:
        self.requeue_abandoned()
        publish_catalog(self.connection)  # a model imported since (`fovea models import x.onnx`) is offered
        super().run_maintenance_tasks()

    def take_over_name(self) -> None:
        """A worker key under our name with no death mark is our killed predecessor's: clear it, or
        register_birth refuses to start ("There exists an active worker named ...")."""
        if self.connection.exists(self.key) and not self.connection.hexists(self.key, "death"):
            log.warning("worker %s: previous run of this worker did not shut down; taking over its name", self.name)
            self.connection.delete(self.key)

    def requeue_abandoned(self) -> list[str]:
        requeued: list[str] = []
        now = current_timestamp()
        for queue in self.queues:
            started = StartedJobRegistry(queue.name, connection=self.connection)
            for raw, score in self.connection.zrange(started.key, 0, -1, withscores=True):
                composite = as_text(raw)
                job_id, _ = parse_composite_key(composite)
                job = self._fetch(job_id)
                if job is None:
                    self.connection.zrem(started.key, composite)
                    continue
                # Between jobs nothing of ours is running, so an entry under our name is a dead run's.
                if job.worker_name != self.name and score >= now:
                    continue
                if self.connection.zrem(started.key, composite):  # whoever removes it requeues it
                    requeued += self._requeue(job, queue, "its worker died")
            failed = FailedJobRegistry(queue.name, connection=self.connection)
            for job_id in failed.get_job_ids(cleanup=False):
                job = self._fetch(job_id)
                if job is None or job.meta.get("abandoned_gave_up"):
                    continue
                if "AbandonedJobError" in (job.exc_info or "") and self.connection.zrem(failed.key, job_id):
                    requeued += self._requeue(job, queue, "RQ marked it abandoned")
        return requeued

    def _fetch(self, job_id: str) -> Job | None:
        try:
            return Job.fetch(job_id, connection=self.connection, serializer=self.serializer)
        except NoSuchJobError:
            return None

    def _requeue(self, job: Job, queue: Queue, why: str) -> list[str]:
        if job.get_status(refresh=True) in (JobStatus.FINISHED, JobStatus.CANCELED, JobStatus.STOPPED):
            return []
        count = int(job.meta.get("abandoned", 0)) + 1
        job.meta["abandoned"] = count
        job.meta["progress"] = 0.0
        if count > MAX_ABANDONED:
            job.meta["abandoned_gave_up"] = True
            job.save_meta()
            with self.connection.pipeline() as pipeline:
                job.set_status(JobStatus.FAILED, pipeline=pipeline)
                queue.failed_job_registry.add(
                    job, exc_string=f"AbandonedJobError: its worker died {count} times while running it; "
                                    "not requeued again", pipeline=pipeline)
                pipeline.execute()
            log.error("job %s (%s) abandoned %d times: failed for good", job.id, job.func_name, count)
            return []
        job.save_meta()
        queue.enqueue_job(job, at_front=True)
        log.warning("requeued job %s (%s) on %s: %s (attempt %d)", job.id, job.func_name, queue.name, why, count + 1)
        return [job.id]


def worker_name() -> str:
    return settings().worker_name or f"model-{socket.gethostname()}"


def queue_names() -> list[str]:
    """MODEL_QUEUES (comma-separated) narrows a worker to some queues, e.g. one per queue when scaling."""
    wanted = [q.strip() for q in os.environ.get("MODEL_QUEUES", "").split(",") if q.strip()]
    unknown = sorted(set(wanted) - set(QUEUES))
    if unknown:
        raise SystemExit(f"MODEL_QUEUES names unknown queue(s) {unknown}; known: {', '.join(QUEUES)}")
    return wanted or list(QUEUES)


def _registered(connection: Redis, key: str) -> bool:
    return bool(connection.exists(key)) and not connection.hexists(key, "death")


def check() -> int:
    """Readiness for an exec probe (`python3 -m model_service.worker --check`, also the model-service
    HEALTHCHECK): this container's worker is registered in Redis (which happens only after its models
    loaded) and not marked dead. No torch import."""
    key = ModelWorker.redis_worker_namespace_prefix + worker_name()
    try:
        connection = redis_connection(socket_timeout=2)
        alive = _registered(connection, key)
    except Exception as exc:  # noqa: BLE001 - any Redis trouble means: not ready
        print(f"not ready: redis {settings().redis_url}: {exc}")
        return 1
    print(("ready: " if alive else "not ready: no live worker ") + worker_name())
    return 0 if alive else 1


_running: ModelWorker | None = None  # this process's worker, once it consumes (for the API's /health/queues)


def consuming() -> tuple[bool, str]:
    """Whether this process's worker is registered in Redis and not marked dead (the API in-process view)."""
    worker = _running
    if worker is None:
        return False, "no worker running in this process (yet)"
    try:
        alive = _registered(worker.connection, worker.key)
    except Exception as exc:  # noqa: BLE001 - any Redis trouble means: not consuming
        return False, f"redis: {exc}"
    return alive, f"worker {worker.name} on {', '.join(q.name for q in worker.queues)}" if alive else \
        f"worker {worker.name} is not registered in Redis"


def publish_catalog(connection: Redis) -> None:
    """The backend's GET /api/models reads what this worker can run (the Detect panel's model choice)."""
    connection.set(CATALOG_KEY, json.dumps(registry().catalog_summary()))


def main() -> None:
    global _running
    import sys

    if "--check" in sys.argv[1:]:
        raise SystemExit(check())
    from model_service.telemetry import setup_logging

    setup_logging("fovea-model-worker")
    models = registry()
    if models.settings.device == "cuda":
        refuse_without_cuda()
    # No model is loaded before the first dequeue: the service takes jobs at once, a job loads what it needs
    # (its progress says "loading model"), and the preload below loads the usual ones a few seconds later.
    connection = redis_connection()
    publish_catalog(connection)
    worker = ModelWorker(
        [Queue(name, connection=connection, serializer=JobSerializer) for name in queue_names()],
        connection=connection,
        serializer=JobSerializer,
        name=worker_name(),
        worker_ttl=WORKER_TTL,
        maintenance_interval=MAINTENANCE_S,
    )
    worker.take_over_name()
    for job_id in worker.requeue_abandoned():
        log.info("recovered job %s", job_id)
    log.info("ready: worker %s on %s; models load on first use, or in the background in %.1f s",
             worker.name, ", ".join(queue_names()), models.config.preload.after_s)
    _running = worker
    models.preload()
    # with_scheduler: the backend enqueues with Retry(interval=...), and interval retries are scheduled
    # jobs that only RQ's scheduler (a small forked process, no models) moves back onto the queues.
    worker.work(logging_level=os.environ.get("MODEL_LOG_LEVEL", "INFO").upper(), with_scheduler=True)


if __name__ == "__main__":
    main()
