"""Jobs: enqueue → RQ worker (in this process) → status mirrored → results persisted idempotently."""

from __future__ import annotations

import sys
import time
import types
from typing import Any

import fake_model_service
import httpx
import psycopg
import pytest
import redis
from backend_harness import ServedApp
from fovea_backend import jobs as jobs_module
from fovea_backend.seed import AUTOMATED_PERSONA_ID
from rq import Queue, SimpleWorker
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer


@pytest.fixture(autouse=True)
def fake_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the dotted names the backend enqueues (`model_service.tasks.*`) resolve to the fakes."""
    package = types.ModuleType("model_service")
    package.__path__ = []  # type: ignore[attr-defined]
    package.tasks = fake_model_service  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "model_service", package)
    monkeypatch.setitem(sys.modules, "model_service.tasks", fake_model_service)


def run_worker(redis_url: str, kind: str) -> None:
    connection = redis.Redis.from_url(redis_url)
    # The model-service worker's serializer: JSON, never pickle.
    SimpleWorker([Queue(jobs_module.QUEUES[kind], connection=connection, serializer=JSONSerializer)],
                 connection=connection, serializer=JSONSerializer).work(burst=True)


def fetch(redis_url: str, job_id: str) -> Job:
    return Job.fetch(job_id, connection=redis.Redis.from_url(redis_url), serializer=JSONSerializer)


def wait_for(client: httpx.Client, job_id: str, status: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["status"] == status or time.monotonic() > deadline:
            assert job["status"] == status, job
            return job
        time.sleep(0.05)


def _count(settings, sql: str, *params: object) -> int:  # type: ignore[no-untyped-def]
    with psycopg.connect(**settings.db_kwargs()) as conn:
        return conn.execute(sql, params).fetchone()[0]  # type: ignore[index]


def test_detect_enqueue_run_status_and_idempotent_persistence(client: httpx.Client, served: ServedApp, backend_deps,
                                                              settings, video_a: str) -> None:  # type: ignore[no-untyped-def]
    submitted = client.post(f"/api/videos/{video_a}/detect", json={"confidence": 0.4, "sampleEvery": 5})
    assert submitted.status_code == 202
    job_id = submitted.json()["jobId"]
    queued = client.get(f"/api/jobs/{job_id}").json()
    assert (queued["status"], queued["queue"], queued["kind"]) == ("queued", "object-detection", "detect")
    assert queued["params"] == {"confidence": 0.4, "frames": None, "sample_every": 5, "classes": None}
    rq_job = fetch(backend_deps.redis_url, job_id)
    assert rq_job.func_name == "model_service.tasks.detect" and rq_job.retries_left == 1
    assert set(rq_job.kwargs) == {"video_id", "video_path", "params"} and rq_job.kwargs["video_path"] == "clip-a.mp4"

    run_worker(backend_deps.redis_url, "detect")
    done = wait_for(client, job_id, "completed")
    assert done["progress"] == 1.0 and done["result"]["model"] == "fake-yolo" and done["finishedAt"]

    mine = [a for a in client.get(f"/api/annotations/{video_a}").json() if a["jobId"] == job_id]
    assert len(mine) == 3
    assert all(a["type"] == "detection" and a["source"] == "automatic" for a in mine)
    first = next(a for a in mine if a["label"] == "person" and a["frames"][0]["frame"] == 0)
    assert first["frames"] == [{"frame": 0, "x": 64.0, "y": 72.0, "width": 192.0, "height": 144.0}]  # pixels
    clipped = next(a for a in mine if a["label"] == "Fall")
    assert clipped["frames"][0]["x"] + clipped["frames"][0]["width"] <= 640  # clamped inside the frame

    # Persisting again (a crash between insert and status update, or a second backend) adds nothing.
    with served.state.pool.connection() as conn:
        job = {"id": job_id, "kind": "detect", "video_id": video_a, "persona_id": None}
        result = jobs_module.DetectResult.model_validate(done["result"])
        assert jobs_module.persist_result(conn, job, result) == 0
        conn.execute("UPDATE jobs SET status = 'running' WHERE id = %s", (job_id,))
    served.state.job_sync.sync_one(job_id)
    assert client.get(f"/api/jobs/{job_id}").json()["status"] == "completed"
    assert _count(settings, "SELECT count(*) FROM annotations WHERE job_id = %s", job_id) == 3

    # The mirror survives Redis losing everything.
    redis.Redis.from_url(backend_deps.redis_url).flushdb()
    after = client.get(f"/api/jobs/{job_id}").json()
    assert after["status"] == "completed" and after["result"] == done["result"]


def test_progress_and_running_state_are_mirrored(client: httpx.Client, backend_deps, video_a: str) -> None:  # type: ignore[no-untyped-def]
    job_id = client.post(f"/api/videos/{video_a}/track").json()["jobId"]
    rq_job = fetch(backend_deps.redis_url, job_id)
    rq_job.meta["progress"] = 0.4
    rq_job.save_meta()
    rq_job.set_status(JobStatus.STARTED)
    running = client.get(f"/api/jobs/{job_id}").json()
    assert running["status"] == "running" and running["progress"] == 0.4 and running["startedAt"]
    run_worker(backend_deps.redis_url, "track")


def test_track_result_becomes_one_annotation_with_sorted_pixel_keyframes(client: httpx.Client, backend_deps,
                                                                         video_a: str) -> None:  # type: ignore[no-untyped-def]
    job_id = client.post(f"/api/videos/{video_a}/track", json={"confidence": 0.3}).json()["jobId"]
    run_worker(backend_deps.redis_url, "track")
    wait_for(client, job_id, "completed")
    tracks = [a for a in client.get(f"/api/annotations/{video_a}").json() if a["jobId"] == job_id]
    assert len(tracks) == 1 and tracks[0]["type"] == "track" and tracks[0]["label"] == "person"
    assert [f["frame"] for f in tracks[0]["frames"]] == [2, 4]
    assert tracks[0]["frames"][0] == {"frame": 2, "x": 256.0, "y": 180.0, "width": 64.0, "height": 72.0}


def test_a_detection_fills_the_size_and_rate_nothing_else_knew(client: httpx.Client, backend_deps) -> None:  # type: ignore[no-untyped-def]
    from backend_harness import write_video
    from fovea_backend.videos import video_id

    write_video(backend_deps.video_root, "no-facts.mp4", 2000)  # no sidecar, not decodable: no facts at all
    assert "no-facts.mp4" in client.post("/api/videos/sync").json()["added"]
    vid = video_id("no-facts.mp4")
    job_id = client.post(f"/api/videos/{vid}/detect").json()["jobId"]
    run_worker(backend_deps.redis_url, "detect")
    wait_for(client, job_id, "completed")
    video = client.get(f"/api/videos/{vid}").json()
    assert (video["width"], video["height"], video["fpsNum"], video["fpsDen"], video["fps"]) == (640, 360, 25, 1, 25.0)


def test_failing_job_is_retried_then_reported_failed(client: httpx.Client, backend_deps, video_a: str) -> None:  # type: ignore[no-untyped-def]
    job_id = client.post(f"/api/videos/{video_a}/detect", json={"classes": ["explode"]}).json()["jobId"]
    run_worker(backend_deps.redis_url, "detect")  # attempt 1 fails, retry re-queues at once (interval 0) ...
    run_worker(backend_deps.redis_url, "detect")  # ... attempt 2 fails for good
    failed = wait_for(client, job_id, "failed")
    assert "simulated model crash" in failed["error"] and failed["result"] is None


def test_summaries_are_stored_with_embeddings_and_ranked_by_similarity(client: httpx.Client, backend_deps,
                                                                       video_a: str) -> None:  # type: ignore[no-untyped-def]
    ids = []
    for seed in ("alpha", "beta", "alpha"):
        body = {"personaId": str(AUTOMATED_PERSONA_ID), "params": {"seed": seed}}
        ids.append(client.post(f"/api/videos/{video_a}/summaries", json=body).json()["jobId"])
    run_worker(backend_deps.redis_url, "summarize")
    for job_id in ids:
        wait_for(client, job_id, "completed")
    summaries = {s["jobId"]: s for s in client.get(f"/api/videos/{video_a}/summaries").json()}
    assert set(ids) <= set(summaries)
    first = summaries[ids[0]]
    assert first["hasEmbedding"] and first["personaId"] == str(AUTOMATED_PERSONA_ID) and len(first["keyFrames"]) == 2
    similar = client.get(f"/api/videos/{video_a}/summaries/similar", params={"summaryId": first["id"], "limit": 2}).json()
    assert similar[0]["id"] == summaries[ids[2]]["id"] and similar[0]["distance"] == pytest.approx(0, abs=1e-6)
    # Free text ranks by the evidence text (422 before, whatever the text).
    by_text = client.get(f"/api/videos/{video_a}/summaries/similar", params={"text": "alpha street"}).json()
    assert {s["id"] for s in by_text} >= {summaries[ids[0]]["id"], summaries[ids[2]]["id"]}
    assert summaries[ids[1]]["id"] not in {s["id"] for s in by_text} and all(0 <= s["distance"] < 1 for s in by_text)
    assert client.get(f"/api/videos/{video_a}/summaries/similar", params={"text": "bus"}).json() == []
    assert client.get(f"/api/videos/{video_a}/summaries/similar",
                      params={"summaryId": "00000000-0000-4000-8000-0000000000ff"}).status_code == 404


def test_augment_result_stays_on_the_job(client: httpx.Client, backend_deps) -> None:  # type: ignore[no-untyped-def]
    job_id = client.post("/api/ontology/augment", json={"personaId": str(AUTOMATED_PERSONA_ID)}).json()["jobId"]
    run_worker(backend_deps.redis_url, "augment")
    done = wait_for(client, job_id, "completed")
    assert done["result"]["suggestions"][0]["name"] == "Wheelchair" and done["queue"] == "ontology-augmentation"
    # The shape services/backend/README.md documents for the ontology editor: kind derived from category.
    assert done["result"]["suggestions"][0] == {"category": "entityTypes", "kind": "entity", "name": "Wheelchair",
                                                "description": "A mobility aid", "confidence": 0.7,
                                                "reason": "relevant to Automated", "evidence": None, "gloss": None,
                                                "hypernyms": []}  # a suggestion with no evidence or gloss says so


def test_job_submission_errors(client: httpx.Client, video_a: str) -> None:
    assert client.post("/api/videos/0123456789abcdef/detect").status_code == 404
    bad = client.post(f"/api/videos/{video_a}/detect", json={"confidence": 2})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "confidence"]
    assert client.post("/api/ontology/augment", json={"personaId": "00000000-0000-4000-8000-0000000000ff"}).status_code == 404
    assert client.post("/api/ontology/augment", json={}).json()["detail"][0]["loc"] == ["body", "personaId"]
    assert client.get("/api/jobs/00000000-0000-4000-8000-0000000000ff").status_code == 404


def test_result_breaking_the_contract_fails_the_job_instead_of_the_loop(client: httpx.Client, served: ServedApp,
                                                                         backend_deps, video_a: str,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(fake_model_service, "detect", lambda **_: {"model": "x", "frames": "nope"})
    job_id = client.post(f"/api/videos/{video_a}/detect").json()["jobId"]
    run_worker(backend_deps.redis_url, "detect")
    failed = wait_for(client, job_id, "failed")
    assert "breaks the detect contract" in failed["error"]


def test_job_missing_from_redis_is_failed_only_after_a_grace_period(client: httpx.Client, served: ServedApp,
                                                                    backend_deps, video_a: str) -> None:  # type: ignore[no-untyped-def]
    job_id = client.post(f"/api/videos/{video_a}/detect").json()["jobId"]
    fetch(backend_deps.redis_url, job_id).delete()
    assert client.get(f"/api/jobs/{job_id}").json()["status"] == "queued"  # could still be in flight
    with served.state.pool.connection() as conn:
        conn.execute("UPDATE jobs SET created_at = now() - interval '1 hour' WHERE id = %s", (job_id,))
    lost = client.get(f"/api/jobs/{job_id}").json()
    assert lost["status"] == "failed" and "disappeared from Redis" in lost["error"]


class PlantedPickle:
    """Unpickling this creates `marker`: proof that whoever read the job ran code planted in Redis."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (open, (self.marker, "w"))


def test_a_pickle_planted_in_a_job_is_never_executed(client: httpx.Client, backend_deps, video_a: str,
                                                     tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Anyone who can write to Redis could plant a pickle; the backend and the worker only read JSON."""
    import pickle
    from base64 import b64encode

    connection = redis.Redis.from_url(backend_deps.redis_url)
    marker = tmp_path / "pwned"
    payload = pickle.dumps(PlantedPickle(str(marker)))
    for step in ("worker", "backend"):
        job_id = client.post(f"/api/videos/{video_a}/detect").json()["jobId"]
        key = f"rq:job:{job_id}"
        assert pickle.loads(payload) and marker.exists()  # the payload is live: reading it with pickle runs it
        marker.unlink()
        connection.hset(key, "data", payload)
        if step == "worker":  # the worker dequeues it: the job fails, nothing runs
            # (a planted `meta` too is tested against the real model worker: tests/model_service/test_queue.py)
            run_worker(backend_deps.redis_url, "detect")
            assert fetch(backend_deps.redis_url, job_id).get_status() == JobStatus.FAILED
        else:  # "finished" with a pickled meta and result: the backend's sync fails the job cleanly
            connection.hset(key, mapping={"status": "finished", "meta": payload, "result": payload})
            connection.xadd(f"rq:results:{job_id}", {"type": 1, "worker_name": "", "return_value": b64encode(payload)})
            failed = wait_for(client, job_id, "failed")
            assert "is not JSON" in failed["error"]
        assert not marker.exists(), f"the {step} unpickled a planted payload"
        connection.delete(key, f"rq:results:{job_id}")


def _persona_with(client: httpx.Client, name: str, entity_types: list[dict[str, Any]]) -> str:
    persona = client.post("/api/personas", json={"name": name, "informationNeed": f"what {name} looks for"}).json()
    assert client.put(f"/api/personas/{persona['id']}/ontology", json={"entityTypes": entity_types}).status_code == 200
    return persona["id"]


def test_typed_detection_files_tracks_under_the_persona_and_its_type(client: httpx.Client, backend_deps,
                                                                     video_a: str) -> None:  # type: ignore[no-untyped-def]
    """Before: detections had no persona and the type 'detection', one one-frame track per box per frame."""
    persona = _persona_with(client, "Transit analyst", [
        {"id": "vehicle", "name": "Vehicle", "detectorClasses": ["car", "bus", "truck"]},
        {"id": "person", "name": "Person"}])
    refused = client.post(f"/api/videos/{video_a}/detect-types", json={"personaId": persona, "types": ["boat"]})
    assert refused.status_code == 422 and "boat" in refused.json()["detail"][0]["msg"]
    bad_map = client.put(f"/api/personas/{persona}/ontology", json={"entityTypes": [{"id": "v", "detectorClasses": "bus"}]})
    assert bad_map.status_code == 422 and bad_map.json()["detail"][0]["loc"][-1] == "detectorClasses"

    job_id = client.post(f"/api/videos/{video_a}/detect-types", json={"personaId": persona}).json()["jobId"]
    rq_job = fetch(backend_deps.redis_url, job_id)
    assert rq_job.func_name == "model_service.tasks.detect_types"
    sent = rq_job.kwargs["params"]["types"]
    assert sent == [{"id": "vehicle", "name": "Vehicle", "description": "", "detectorClasses": ["car", "bus", "truck"]},
                    {"id": "person", "name": "Person", "description": ""}]  # no mapping of its own: the worker proposes
    run_worker(backend_deps.redis_url, "detect-types")
    done = wait_for(client, job_id, "completed")
    assert done["personaId"] == persona and done["result"]["unmapped"] == [{"class": "person", "detections": 4}]
    mine = [a for a in client.get(f"/api/annotations/{video_a}").json() if a["jobId"] == job_id]
    assert len(mine) == 1, "one track for the bus across its frames, not one per frame"
    bus = mine[0]
    assert (bus["type"], bus["label"], bus["personaId"], bus["source"]) == ("vehicle", "bus", persona, "automatic")
    assert [(k["frame"], k.get("outside", False)) for k in bus["frames"]] == [(0, False), (10, False), (20, True)]

    # "Suggest types" gets what this persona's typed detections saw that no type of it maps.
    augment_id = client.post("/api/ontology/augment", json={"personaId": persona}).json()["jobId"]
    assert fetch(backend_deps.redis_url, augment_id).kwargs["params"]["evidence"] == {"person": {"detections": 4, "videos": 1}}


def test_track_box_replaces_only_the_keyframes_after_the_one_it_starts_from(client: httpx.Client, backend_deps,
                                                                           video_a: str) -> None:  # type: ignore[no-untyped-def]
    box = {"x": 64, "y": 36, "width": 64, "height": 36}
    created = client.post("/api/annotations", json={"videoId": video_a, "type": "person", "label": "runner", "frames": [
        {"frame": 0, **box}, {"frame": 10, **box, "x": 80}, {"frame": 30, **box, "x": 200}, {"frame": 60, **box}]})
    assert created.status_code == 201, created.text
    track = created.json()
    not_keyframe = client.post(f"/api/videos/{video_a}/track-box", json={"annotationId": track["id"], "fromFrame": 5})
    assert not_keyframe.status_code == 422
    job_id = client.post(f"/api/videos/{video_a}/track-box", json={"annotationId": track["id"], "fromFrame": 10}).json()["jobId"]
    run_worker(backend_deps.redis_url, "track-box")
    wait_for(client, job_id, "completed")
    after = next(a for a in client.get(f"/api/annotations/{video_a}").json() if a["id"] == track["id"])
    assert [(k["frame"], k.get("outside", False)) for k in after["frames"]] == [
        (0, False), (10, False), (15, False), (20, False), (25, True)]
    assert after["frames"][1]["x"] == 80 and after["version"] > track["version"]


def test_text_in_frame_files_text_tracks_a_rerun_replaces_all_but_accepted_ones_and_search_finds_them(
        client: httpx.Client, backend_deps, video_a: str) -> None:  # type: ignore[no-untyped-def]
    assert client.post(f"/api/videos/{video_a}/read-text", json={"minConfidence": 2}).status_code == 422
    unknown = client.post(f"/api/videos/{video_a}/read-text", json={"personaId": "00000000-0000-4000-8000-000000000009"})
    assert unknown.status_code == 404 and "persona" in unknown.text
    first = client.post(f"/api/videos/{video_a}/read-text", json={"minConfidence": 0.7}).json()["jobId"]
    rq_job = fetch(backend_deps.redis_url, first)
    assert (rq_job.func_name, rq_job.origin) == ("model_service.tasks.read_text", "object-detection")
    assert rq_job.kwargs["params"] == {"model": None, "frames_per_second": None, "min_confidence": 0.7, "persona_id": None}
    run_worker(backend_deps.redis_url, "read-text")
    wait_for(client, first, "completed")
    texts = {a["label"]: a for a in client.get(f"/api/annotations/{video_a}").json() if a["jobId"] == first}
    assert set(texts) == {"EXIT 42", "cero emisiones"} and {a["type"] for a in texts.values()} == {"text"}
    sign = texts["EXIT 42"]
    assert (sign["source"], sign["personaId"], sign["confidence"]) == ("automatic", None, 0.95)
    assert [(k["frame"], k.get("outside", False)) for k in sign["frames"]] == [(0, False), (10, False), (20, True)]

    # The annotator accepts the line; a rerun replaces the sign (automatic) but keeps the accepted line.
    line = texts["cero emisiones"]
    accepted = client.put(f"/api/annotations/{line['id']}", headers={"If-Match": f'"{line["version"]}"'},
                          json={**{k: line[k] for k in ("videoId", "type", "label", "frames")}, "source": "ai-assisted"})
    assert accepted.status_code == 200, accepted.text
    second = client.post(f"/api/videos/{video_a}/read-text", json={}).json()["jobId"]
    run_worker(backend_deps.redis_url, "read-text")
    wait_for(client, second, "completed")
    now = sorted((a["label"], a["source"], a["jobId"]) for a in client.get(f"/api/annotations/{video_a}").json()
                 if a["type"] == "text")
    assert now == [("EXIT 42", "automatic", second), ("cero emisiones", "ai-assisted", first),
                   ("cero emisiones", "automatic", second)]

    # One search over what was said and shown: the sign, with its video and when it was on screen.
    video = client.get(f"/api/videos/{video_a}").json()
    fps = video["fpsNum"] / video["fpsDen"] if video.get("fpsNum") else video["fps"]
    last_seen = pytest.approx(10 / fps) if fps else 0.0  # seconds need a known frame rate (0 without one)
    hits = client.get("/api/search/text", params={"text": "exit"}).json()
    shown = [(h["source"], h["text"], h["start"], h["end"]) for h in hits if h["videoId"] == video_a]
    assert shown == [("screen", "EXIT 42", 0.0, last_seen)], hits
    assert client.get("/api/search/text", params={"text": " "}).status_code == 422


def test_cancelling_a_queued_job_keeps_it_from_running(client: httpx.Client, backend_deps, video_a: str) -> None:  # type: ignore[no-untyped-def]
    job_id = client.post(f"/api/videos/{video_a}/track").json()["jobId"]
    cancelled = client.post(f"/api/jobs/{job_id}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    run_worker(backend_deps.redis_url, "track")
    assert client.get(f"/api/jobs/{job_id}").json()["status"] == "cancelled"
    assert not [a for a in client.get(f"/api/annotations/{video_a}").json() if a["jobId"] == job_id]
    assert client.post("/api/jobs/00000000-0000-4000-8000-0000000000ff/cancel").status_code == 404
