"""The queue worker against a real Redis: jobs enqueued from this host (by dotted name, as the backend
does) are consumed with the exact result shapes the backend persists, report progress, and survive the
worker being killed mid-job (at-least-once)."""

from __future__ import annotations

import subprocess
import time

import pytest
from redis import Redis
from rq import Queue
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from tests.model_service.conftest import READY_LINE

pytestmark = pytest.mark.engine

TEST_VIDEO = "bus_pan.mp4"
BOX = {"x", "y", "width", "height"}


def wait_for(job: Job, statuses: set[str], budget: float = 120) -> str:
    deadline = time.monotonic() + budget
    while time.monotonic() < deadline:
        status = job.get_status(refresh=True)
        if status in statuses:
            return status
        time.sleep(0.1)
    raise AssertionError(f"job {job.id} still {job.get_status()} after {budget} s; wanted {statuses}")


def enqueue(redis_url: str, queue: str, func: str, *args: object) -> Job:
    connection = Redis.from_url(redis_url)
    # JSON, as the backend enqueues: the worker reads nothing else.
    return Queue(queue, connection=connection, serializer=JSONSerializer).enqueue(
        f"model_service.tasks.{func}", *args, job_timeout=600)


def start_long_job(redis_url: str, video_id: str) -> Job:
    """A job that is surely running when this returns: tracking every frame takes several seconds on a
    CPU, and its progress has passed 10 %, so a kill now lands mid-job."""
    job = enqueue(redis_url, "object-tracking", "track", video_id, TEST_VIDEO,
                  {"confidence": 0.3, "frames": None, "sample_every": None, "classes": None})
    deadline = time.monotonic() + 120
    while (job.get_meta(refresh=True).get("progress") or 0) < 0.1:
        assert time.monotonic() < deadline, f"job never made progress: {job.get_status()}"
        time.sleep(0.05)
    return job


def assert_detect_shape(result: dict) -> None:
    assert set(result) == {"model", "width", "height", "fps", "frames"}
    assert isinstance(result["model"], str) and isinstance(result["fps"], float)
    assert isinstance(result["width"], int) and isinstance(result["height"], int)
    for frame in result["frames"]:
        assert set(frame) == {"frame", "time_s", "detections"}
        for d in frame["detections"]:
            assert set(d) == {"label", "confidence", "box"} and set(d["box"]) == BOX
            assert all(0.0 <= d["box"][k] <= 1.0 for k in BOX)


def test_worker_consumes_a_detection_job_with_the_contract_result_and_progress(worker, redis_url: str,
                                                                              backend_accepts) -> None:
    job = enqueue(redis_url, "object-detection", "detect", "vid-1", TEST_VIDEO,
                  {"confidence": 0.3, "frames": None, "sample_every": 5, "classes": None})
    assert wait_for(job, {JobStatus.FINISHED, JobStatus.FAILED}) == JobStatus.FINISHED, job.exc_info
    result = job.return_value()
    assert_detect_shape(result)
    backend_accepts("detect", result)
    assert [f["frame"] for f in result["frames"]] == [0, 5, 10, 15, 20, 25]
    assert any(d["label"] == "person" for f in result["frames"] for d in f["detections"])
    assert job.get_meta(refresh=True)["progress"] == 1.0


def test_worker_readiness_check_for_exec_probes(worker) -> None:
    done = worker.check()
    assert done.returncode == 0
    assert done.stdout.startswith("ready: model-"), done.stdout + done.stderr


def test_api_and_worker_share_one_process_and_report_two_healths(worker, service_token: str) -> None:
    """The stack's model-service: HTTP API up (/health) and consuming queues (/health/queues) are answered
    separately, by one process that loaded each model once."""
    import httpx

    api = httpx.get(worker.url("/health"), timeout=30)
    assert api.status_code == 200 and api.json()["status"] == "ok", api.text
    queues = httpx.get(worker.url("/health/queues"), timeout=30, headers={"Authorization": f"Bearer {service_token}"})
    assert queues.status_code == 200 and queues.json()["detail"].startswith("worker model-"), queues.text
    assert_each_run_loaded_the_detector_at_most_once(worker)


def assert_each_run_loaded_the_detector_at_most_once(worker) -> None:
    logs = worker.logs()  # every run of the container so far (runs that were killed early may have loaded none)
    runs = logs.split(READY_LINE)[1:]
    assert runs and all(run.count("loaded detector on") <= 1 for run in runs), logs[-3000:]


def test_the_worker_takes_jobs_before_any_model_is_loaded_and_the_first_job_says_it_loads_one(
        worker, redis_url: str, service_token: str) -> None:
    """Ready means consuming, not models in memory: a restarted worker is ready with nothing loaded, the first
    detection's progress says "loading model" before "detecting", and the background preload (models.yaml:
    a few seconds after ready) then loads the rest without loading the detector a second time."""
    import httpx

    worker.kill()
    worker.start()
    worker.wait_ready()
    assert httpx.get(worker.url("/health"), timeout=30).json()["models_loaded"] == []
    job = enqueue(redis_url, "object-detection", "detect", "vid-first", TEST_VIDEO,
                  {"confidence": 0.3, "frames": [0, 10], "sample_every": None, "classes": None})
    stages: list[str] = []
    deadline = time.monotonic() + 180
    while job.get_status(refresh=True) not in (JobStatus.FINISHED, JobStatus.FAILED):
        assert time.monotonic() < deadline, f"job {job.id} still {job.get_status()}"
        stage = (job.get_meta(refresh=True).get("detail") or {}).get("stage")
        if stage and stage not in stages:
            stages.append(stage)
        time.sleep(0.02)
    assert job.get_status() == JobStatus.FINISHED, job.exc_info
    assert stages[:1] == ["loading model"] and "loading model" not in stages[1:], stages
    assert job.get_meta(refresh=True)["detail"]["stage"] == "detecting"
    assert [f["frame"] for f in job.return_value()["frames"]] == [0, 10]
    while len(httpx.get(worker.url("/health"), timeout=30).json()["models_loaded"]) < 3:
        assert time.monotonic() < deadline, "the background preload never loaded the tracker and the embedder"
        time.sleep(0.5)
    assert_each_run_loaded_the_detector_at_most_once(worker)


def test_worker_consumes_tracking_summary_and_augmentation_jobs(worker, redis_url: str, backend_accepts) -> None:
    tracking = enqueue(redis_url, "object-tracking", "track", "vid-1", TEST_VIDEO,
                       {"confidence": 0.3, "frames": None, "sample_every": 2, "classes": ["person"]})
    summary = enqueue(redis_url, "video-summarization", "summarize", "bus_pan", "", {})
    suggestions = enqueue(redis_url, "ontology-augmentation", "augment", {"name": "Traffic analyst"},
                          {"entityTypes": [], "eventTypes": [], "roleTypes": [], "relationTypes": []},
                          {"detections": ["person", "person"]})
    for job in (tracking, summary, suggestions):
        assert wait_for(job, {JobStatus.FINISHED, JobStatus.FAILED}) == JobStatus.FINISHED, job.exc_info

    tracks = tracking.return_value()
    backend_accepts("track", tracks)
    assert set(tracks) == {"model", "width", "height", "fps", "tracks"}
    assert tracks["tracks"]
    for t in tracks["tracks"]:
        assert set(t) == {"track_id", "label", "confidence", "frames"} and isinstance(t["track_id"], int)
        assert all(set(f) == {"frame", *BOX} for f in t["frames"])

    summarized = summary.return_value()
    backend_accepts("summarize", summarized)
    assert set(summarized) == {"summary", "text", "key_frames", "embedding"}
    assert len(summarized["embedding"]) == 384 and summarized["text"]

    backend_accepts("augment", suggestions.return_value())
    suggested = suggestions.return_value()["suggestions"]
    assert {"category": "entityTypes", "name": "Person"}.items() <= suggested[0].items()
    assert all(set(s) == {"category", "name", "description", "confidence", "reason", "evidence", "gloss", "hypernyms"}
               for s in suggested)
    assert (suggested[0]["evidence"], suggested[0]["gloss"]) == ("person: 2 detections", "a human being")


class PlantedPickle:
    """Unpickling this creates /tmp/fovea-planted in the worker: proof it ran code planted in Redis."""

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (open, ("/tmp/fovea-planted", "w"))


def test_a_pickle_planted_in_a_job_is_never_run_and_the_worker_survives(worker, redis_url: str) -> None:
    """Whoever can write to Redis plants a job whose data and meta are pickles that would run code in
    the worker: it is failed unread, and the worker goes on working (also after a restart)."""
    import pickle

    connection = Redis.from_url(redis_url)
    queue = Queue("ontology-augmentation", connection=connection, serializer=JSONSerializer)
    planted = queue.create_job("model_service.tasks.augment", args=({}, {}, {}))
    planted.save()
    payload = pickle.dumps(PlantedPickle())
    connection.hset(planted.key, mapping={"data": payload, "meta": payload})
    connection.rpush(queue.key, planted.id)  # straight onto the queue, as an intruder would
    assert wait_for(planted, {JobStatus.FINISHED, JobStatus.FAILED}) == JobStatus.FAILED
    assert "DeserializationError" in (planted.latest_result().exc_string or "")
    worker.kill()
    worker.start()  # a job it failed must not make its next start crash either
    worker.wait_ready()
    assert worker.check().returncode == 0
    after = enqueue(redis_url, "ontology-augmentation", "augment", {"name": "Traffic analyst"},
                    {"entityTypes": [], "eventTypes": [], "roleTypes": [], "relationTypes": []}, {})
    assert wait_for(after, {JobStatus.FINISHED, JobStatus.FAILED}) == JobStatus.FINISHED, after.exc_info
    planted_file = subprocess.run(["docker", "exec", worker.name, "test", "-e", "/tmp/fovea-planted"])
    assert planted_file.returncode == 1, "the worker unpickled a planted payload"


def test_a_job_whose_worker_is_killed_mid_job_completes_after_the_worker_restarts(worker, redis_url: str) -> None:
    job = start_long_job(redis_url, "vid-kill")
    worker.kill()
    assert job.get_status(refresh=True) == JobStatus.STARTED  # RQ alone would leave it here (or fail it)

    worker.start()
    worker.wait_ready(budget=300)  # the restart loads the models again: minutes on a shared, loaded host
    # FINISHED only: a FAILED (AbandonedJobError) on the way is requeued by the worker's maintenance.
    assert wait_for(job, {JobStatus.FINISHED}, budget=600) == JobStatus.FINISHED, job.exc_info
    result = job.return_value()
    assert max(len(t["frames"]) for t in result["tracks"]) >= 25
    meta = job.get_meta(refresh=True)
    assert meta["abandoned"] == 1 and meta["progress"] == 1.0
    assert "requeued job " + job.id in worker.logs()


def test_a_dead_workers_job_is_taken_over_by_a_replacement_with_another_name(worker, replacement_worker,
                                                                              redis_url: str) -> None:
    """As when `up` replaces a worker container: the new one has another hostname, so it cannot know the
    job by name; the dead worker's heartbeat lapses and maintenance requeues the job (RQ alone would fail
    it, since this job carries no Retry)."""
    job = start_long_job(redis_url, "vid-replace")
    worker.kill()
    try:
        replacement = replacement_worker()
        replacement.wait_ready()
        # RQ's own registry cleanup may first mark the job failed (AbandonedJobError); the replacement's
        # maintenance (every 15 s) requeues exactly those, so a FAILED on the way is not the end: wait for
        # FINISHED, and on a time-out the assertion names the status and error it ended with.
        assert wait_for(job, {JobStatus.FINISHED}, budget=180) == JobStatus.FINISHED, job.exc_info
        assert job.get_meta(refresh=True)["abandoned"] == 1
        assert job.worker_name != worker_name_of(worker)
    finally:
        worker.start()  # later tests use the session worker again
        worker.wait_ready()


def worker_name_of(worker) -> str:
    hostname = subprocess.run(["docker", "inspect", "-f", "{{.Config.Hostname}}", worker.name],
                              capture_output=True, text=True, check=True).stdout.strip()
    return f"model-{hostname}"
