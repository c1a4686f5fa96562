"""The image itself: build it, run the migration init job, serve, and answer /health over 127.0.0.1."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest
from backend_harness import BACKEND_DIR, NDJSON, free_port, make_clip, write_video

pytestmark = pytest.mark.engine
IMAGE = "fovea/backend:test"


def _docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], check=check, capture_output=True, text=True)


@pytest.fixture(scope="module")
def image() -> str:
    build = subprocess.run(
        ["/usr/bin/docker", "build", "--secret", "id=ca_bundle,src=/etc/ssl/certs/ca-certificates.crt", "-t", IMAGE, str(BACKEND_DIR)],
        env={"DOCKER_BUILDKIT": "1", "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=600,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    return IMAGE


def test_container_migrates_then_serves_health_as_non_root(image: str, backend_deps,
                                                           secret_files: dict[str, Path], admin_password: str,
                                                           fresh_database, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert backend_deps.network, "the engine test needs the dependencies on a docker network"
    db = fresh_database()
    env = ["-e", f"BACKEND_DB_HOST={backend_deps.pg_container_host}", "-e", f"BACKEND_DB_NAME={db}",
           "-e", f"BACKEND_REDIS_URL=redis://{backend_deps.redis_container_host}:6379/2",
           "-e", "BACKEND_REDIS_PASSWORD_FILE=/run/secrets/redis_password"]
    write_video(videos := tmp_path / "videos", "engine.mp4", 5000,
                {"width": 320, "height": 240, "fps": 25, "duration": 1})
    make_clip(videos / "ntsc.mp4", frames=30)  # a real clip: the image's own ffprobe/ffmpeg read it
    for path in videos.iterdir():
        path.chmod(0o644)
    videos.chmod(0o755)
    mounts = ["-v", f"{videos}:/data/videos:ro", "-v", f"{backend_deps.pg_password_file}:/run/secrets/postgres_password:ro",
              "-v", f"{secret_files['admin_password']}:/run/secrets/admin_password:ro",
              "-v", f"{secret_files['session_secret']}:/run/secrets/session_secret:ro",
              "-v", f"{backend_deps.redis_password_file}:/run/secrets/redis_password:ro"]
    name = f"fovea-test-backend-{uuid.uuid4().hex[:8]}"
    # The init job, twice: the second run must be a successful no-op.
    for expected in ("applied 0001_initial", "nothing to do"):
        job = _docker("run", "--rm", "--network", backend_deps.network, *env, *mounts, image,
                      "python3", "-m", "fovea_backend.migrate", check=False)
        assert job.returncode == 0 and expected in job.stdout, job.stderr
    port = free_port()
    _docker("run", "-d", "--name", name, "--network", backend_deps.network, "-p", f"127.0.0.1:{port}:3001",
            *env, *mounts, image)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                if response.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, _docker("logs", name, check=False).stderr[-3000:]
            time.sleep(0.1)
        assert response.json() == {"status": "ok", "postgres": "ok", "redis": "ok", "failing": []}
        _exercise_api_on_debian_packages(f"http://127.0.0.1:{port}", admin_password)
        uids = _docker("exec", name, "grep", "^Uid:", "/proc/1/status").stdout.split()[1:]
        assert uids == ["10001"] * 4  # real, effective, saved and filesystem uid: root is gone for good
        copies = _docker("exec", name, "sh", "-c", "stat -c '%U %a' /run/fovea-secrets /run/fovea-secrets/*").stdout.splitlines()
        assert copies[0] == "fovea 700" and all(line == "fovea 600" for line in copies[1:]), copies
        logs = _docker("logs", name).stdout + _docker("logs", name).stderr
        assert admin_password not in logs
    finally:
        _docker("rm", "-f", name, check=False)


def _exercise_api_on_debian_packages(base: str, admin_password: str) -> None:
    """The image runs Debian's fastapi/pydantic/psycopg/redis, not the host venv's: walk the main paths once."""
    with httpx.Client(base_url=base, timeout=10) as c:
        assert c.get("/api/personas").status_code == 401
        assert c.post("/api/auth/login", json={"username": "admin", "password": admin_password}).status_code == 200
        assert c.post("/api/personas", json={"name": ""}).json()["detail"][0]["loc"] == ["body", "name"]
        persona = c.post("/api/personas", json={"name": "Engine"}).json()["id"]
        assert c.put(f"/api/personas/{persona}/ontology", json={"entityTypes": [{"name": "x"}]}).status_code == 200
        sync = c.post("/api/videos/sync").json()
        assert sync["added"] == ["engine.mp4", "ntsc.mp4"]
        video, ntsc = (v["id"] for v in c.get("/api/videos").json())
        facts = c.get(f"/api/videos/{ntsc}").json()
        assert (facts["fpsNum"], facts["fpsDen"], facts["frameCount"], facts["codec"]) == (30000, 1001, 30, "h264")
        # The video volume is mounted read-only here: the thumbnail is cached in the temp directory instead.
        thumbnail = c.get(f"/api/videos/{ntsc}/thumbnail")
        assert thumbnail.status_code == 200 and thumbnail.content[:3] == b"\xff\xd8\xff"
        assert c.get(f"/api/videos/{video}/stream", headers={"Range": "bytes=10-19"}).content.__len__() == 10
        body = {"videoId": video, "personaId": persona, "type": "entity", "label": "x",
                "frames": [{"frame": 0, "x": 1, "y": 1, "width": 2, "height": 2}]}
        assert c.post("/api/annotations", json=body).status_code == 201
        assert c.post("/api/annotations", json={**body, "frames": [{**body["frames"][0], "x": 319}]}).status_code == 422
        assert len(c.get(f"/api/annotations/{video}").json()) == 1
        revision = c.get(f"/api/videos/{video}").json()["annotationRevision"]
        track = {"id": "00000000-0000-4000-8000-00000000e001", "type": "entity", "label": "bulk",
                 "frames": [{"frame": 0, "x": 0, "y": 0, "width": 2, "height": 2}, {"frame": 4, "x": 4, "y": 0, "width": 2,
                                                                                   "height": 2, "outside": True}]}
        saved = c.put(f"/api/videos/{video}/annotations", json={"upsert": [track]}, headers={"If-Match": f'"{revision}"'})
        assert saved.status_code == 200, saved.text
        assert c.put(f"/api/videos/{video}/annotations", json={"upsert": [track]},
                     headers={"If-Match": f'"{revision}"'}).json()["revision"] == saved.json()["revision"]  # the 409 body
        interpolated = c.get("/api/export", params={"videoId": video, "interpolate": "true"}).text
        assert '"frame": 2, "x": 2.0' in interpolated
        assert c.post("/api/import", params={"dryRun": "true"}, content=interpolated, headers=NDJSON).json()["errors"] == []
        job = c.post(f"/api/videos/{video}/detect", json={"confidence": 0.3}).json()["jobId"]
        assert c.get(f"/api/jobs/{job}").json()["status"] == "queued"
        exported = c.get("/api/export").content
        assert c.post("/api/import", content=exported, headers=NDJSON).json()["imported"]["annotation"] == 2
