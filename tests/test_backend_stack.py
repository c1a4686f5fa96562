"""The backend as fovea runs it: after postgres/redis are ready and its migration job completed;
`fovea videos add` and `fovea migrate` against that live stack."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from fovea_ctl.reconcile.project import Project
from tests.conftest import ProjectFactory, host_clip, run_fovea


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

    video = host_clip(tmp_path / "walk.mp4")
    (tmp_path / "walk.info.json").write_text(json.dumps({"duration": 2.0, "fps": 25, "width": 320, "height": 240}))
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
    host_clip(video, seconds=1)
    again = run_fovea(["videos", "add", str(video)], env)
    assert again.returncode == 2 and "already in the video directory: walk.mp4" in again.stderr
    missing = run_fovea(["videos", "add", str(tmp_path / "nope.mp4")], env)
    assert missing.returncode == 2 and "not a file" in missing.stderr

    migrated = run_fovea(["migrate"], env)
    assert migrated.returncode == 0, migrated.stderr
    assert "backend-migrate" in migrated.stderr and "completed" in migrated.stderr

    # Broken files are refused with one line each and nothing is copied: random bytes, a cut H.264 file; an
    # HEVC file is a video (added, with a note that browsers may not play it).
    noise = tmp_path / "noise.mp4"
    noise.write_bytes(bytes(range(256)) * 400)
    cut = tmp_path / "cut.mp4"
    whole = host_clip(tmp_path / "whole.mp4", seconds=3, size="640x480").read_bytes()
    cut.write_bytes(whole[: len(whole) // 2])
    for broken, reason in ((noise, "not a video ffprobe can read"), (cut, "damaged or cut short")):
        refused = run_fovea(["videos", "add", str(broken)], env)
        assert refused.returncode == 2, refused.stderr
        lines = [line for line in refused.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and str(broken) in lines[0] and reason in lines[0] and "nothing added" in lines[0], lines
    hevc = host_clip(tmp_path / "hevc.mp4", codec="libx265")
    mixed = run_fovea(["videos", "add", str(hevc), str(noise)], env)  # one bad file: none of them is copied
    assert mixed.returncode == 2 and "noise.mp4" in mixed.stderr
    with _admin(project) as client:
        names = {v["filename"] for v in client.get("/api/videos").json()}
    assert names == {"walk.mp4"}, names
    ls = subprocess.run(["docker", "exec", f"{project.settings.project}-backend", "ls", "/data/videos"],
                        capture_output=True, text=True, timeout=60)
    assert ls.stdout.split() == ["walk.info.json", "walk.mp4"], ls.stdout
    accepted = run_fovea(["videos", "add", str(hevc)], env)
    assert accepted.returncode == 0, accepted.stderr
    assert "codec hevc" in json.loads(accepted.stdout)["notes"][0]

    # `videos rm`: a video with tracks only with --with-annotations; then it is gone, file and row.
    with _admin(project) as client:
        walk = next(v for v in client.get("/api/videos").json() if v["filename"] == "walk.mp4")
        created = client.post("/api/annotations", json={"videoId": walk["id"], "type": "t", "label": "l", "frames": [
            {"frame": 0, "x": 1, "y": 1, "width": 5, "height": 5}]})
        assert created.status_code == 201
    kept = run_fovea(["videos", "rm", "walk.mp4"], env)
    assert kept.returncode == 2 and "1 track(s)" in kept.stderr and "--with-annotations" in kept.stderr
    assert run_fovea(["videos", "rm", "no-such.mp4"], env).returncode == 2
    removed = run_fovea(["videos", "rm", "walk.mp4", "--with-annotations"], env)
    assert removed.returncode == 0, removed.stderr
    assert json.loads(removed.stdout) == {"removed": "walk.mp4", "annotations": 1}
    assert run_fovea(["videos", "rm", "hevc.mp4"], env).returncode == 0
    ls = subprocess.run(["docker", "exec", f"{project.settings.project}-backend", "ls", "/data/videos"],
                        capture_output=True, text=True, timeout=60)
    assert [n for n in ls.stdout.split() if not n.startswith(".")] == [], ls.stdout
    with _admin(project) as client:
        assert client.get("/api/videos").json() == []


@contextmanager
def _admin(project: Project) -> Iterator[httpx.Client]:
    from fovea_ctl.ops.videos import backend_session

    client = backend_session(project)  # already logged in (and so opened)
    try:
        yield client
    finally:
        client.close()
