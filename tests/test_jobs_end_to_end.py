"""A detection job through the whole stack — backend → Redis queue → model worker → backend — with the
worker killed mid-job: the job still completes after the worker restarts, and no annotation is doubled.
The worker lives in the model-service process (one copy of the models), so the kill takes the API down too."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from fovea_ctl.smoke import TEST_VIDEO_SCRIPT
from fovea_ctl.videos import add_videos
from tests.conftest import ProjectFactory, RecordingReporter


def test_detection_job_survives_a_killed_worker(make_project: ProjectFactory, tmp_path: Path) -> None:
    project = make_project()
    _, result = project.up(RecordingReporter(), ["backend", "model-service"])
    assert result.ok, [f.describe() for f in result.failures]
    engine = project.engine
    containers = project.observe().containers

    # the test clip: made by the model-service image's ffmpeg from a photo ultralytics ships
    script = (project.settings.root / TEST_VIDEO_SCRIPT).read_text().replace("/out/", "/tmp/e2e-")
    code, output = engine.exec(containers["model-service"].id, ["sh", "-c", script])
    assert code == 0, output
    clip = tmp_path / "e2e-bus_pan.mp4"
    clip.write_bytes(engine.read_file(containers["model-service"].id, "/tmp/e2e-bus_pan.mp4"))
    add_videos(project, [clip])

    port = project.stack.host_port(project.stack.units["backend"].ports[0])
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        assert client.post("/api/auth/login", json={"username": "admin",
                                                     "password": project.secrets.value("admin_password")}).status_code == 200
        video = next(v for v in client.get("/api/videos").json() if v["filename"] == clip.name)
        accepted = client.post(f"/api/videos/{video['id']}/detect", json={"sampleEvery": 1})
        assert accepted.status_code == 202, accepted.text
        job_id = accepted.json()["jobId"]

        worker = containers["model-service"].id
        deadline = time.monotonic() + 120
        while client.get(f"/api/jobs/{job_id}").json()["status"] != "running":
            assert time.monotonic() < deadline, "the worker never picked the job up"
            time.sleep(0.05)
        engine.api.kill(worker)  # SIGKILL mid-job: no chance to clean up or report
        engine.start_container(worker)

        deadline = time.monotonic() + 300
        while (job := client.get(f"/api/jobs/{job_id}").json())["status"] not in ("completed", "failed"):
            assert time.monotonic() < deadline, f"job not finished after the restart: {job}"
            time.sleep(0.5)
        assert job["status"] == "completed", job

        detections = sum(len(frame["detections"]) for frame in job["result"]["frames"])
        assert detections > 0, "the clip shows people"
        annotations = [a for a in client.get(f"/api/annotations/{video['id']}").json() if a["source"] == "automatic"]
        assert len(annotations) == detections  # at-least-once delivery, exactly-once persistence
