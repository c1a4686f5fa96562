"""The backend as fovea runs it: after postgres/redis are ready and its migration job completed;
`fovea videos add` and `fovea migrate` against that live stack."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.conftest import ProjectFactory, run_fovea


def test_backend_starts_after_its_dependencies_and_migrations(make_project: ProjectFactory, tmp_path: Path) -> None:
    project = make_project()
    env = make_project.env(project)
    up = run_fovea(["up", "--json", "backend"], env, timeout=600)
    assert up.returncode == 0, up.stderr
    events = [json.loads(line) for line in up.stdout.splitlines()]

    def first(unit: str, state: str) -> float:
        return next(e["t"] for e in events if e["unit"] == unit and e["state"] == state)

    assert first("backend-migrate", "starting") >= first("postgres", "ready")
    assert first("backend", "starting") >= max(first("backend-migrate", "completed"), first("redis", "ready"))
    # a second up reruns nothing: the migration job is complete and unchanged
    assert run_fovea(["plan", "backend"], env).stdout.strip() == "nothing to do"

    video = tmp_path / "walk.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    (tmp_path / "walk.info.json").write_text(json.dumps({"duration": 4.0, "fps": 25, "width": 640, "height": 360}))
    added = run_fovea(["videos", "add", str(video)], env)
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["sync"]["added"] == ["walk.mp4"]

    port = project.stack.host_port(project.stack.units["backend"].ports[0])
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        assert client.get("/api/videos").status_code == 401  # no session, no videos
        login = client.post("/api/auth/login", json={"username": "admin",
                                                      "password": project.secrets.value("admin_password")})
        assert login.status_code == 200
        listed = client.get("/api/videos").json()
        entry = next(v for v in (listed if isinstance(listed, list) else listed["videos"]) if v["filename"] == "walk.mp4")
        streamed = client.get(f"/api/videos/{entry['id']}/stream", headers={"Range": "bytes=0-11"})
        assert streamed.status_code == 206 and streamed.content == video.read_bytes()[:12]

    # the same name again is refused (nothing overwritten) unless --replace
    video.write_bytes(b"different bytes")
    again = run_fovea(["videos", "add", str(video)], env)
    assert again.returncode == 2 and "already in the video directory: walk.mp4" in again.stderr
    missing = run_fovea(["videos", "add", str(tmp_path / "nope.mp4")], env)
    assert missing.returncode == 2 and "not a file" in missing.stderr

    migrated = run_fovea(["migrate"], env)
    assert migrated.returncode == 0, migrated.stderr
    assert "backend-migrate" in migrated.stderr and "completed" in migrated.stderr
