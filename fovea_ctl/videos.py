"""`fovea videos add`: copy video files (and `<name>.info.json` sidecars) into the video-data volume,
then ask the backend to sync its catalogue.

Files travel as a tar stream into the running backend container (the engine's archive API), owned by
the backend's user; an existing file of the same name is never overwritten unless asked.
"""

from __future__ import annotations

import tarfile
import tempfile
from pathlib import Path
from typing import Any

from fovea_ctl.errors import FoveaError, UsageError
from fovea_ctl.project import Project

VIDEO_DIR = "/data/videos"
BACKEND_UID = 10001  # the backend image's `fovea` user (services/backend/Dockerfile)


def files_to_copy(paths: list[Path]) -> list[Path]:
    chosen: list[Path] = []
    for path in paths:
        if not path.is_file():
            raise UsageError(f"{path}: not a file")
        chosen.append(path)
        sidecar = path.with_name(f"{path.stem}.info.json")
        if sidecar.is_file() and sidecar not in chosen:
            chosen.append(sidecar)
    names = [p.name for p in chosen]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise UsageError(f"two files share the name {', '.join(duplicates)}; the video directory is flat")
    return chosen


def backend_session(project: Project) -> Any:
    """An httpx client logged in as admin (password from the admin_password secret)."""
    import httpx

    port = project.stack.host_port(project.stack.units["backend"].ports[0])
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
    response = client.post("/api/auth/login", json={"username": "admin",
                                                    "password": project.secrets.value("admin_password")})
    if response.status_code != 200:
        client.close()
        raise FoveaError(f"backend login as admin failed: {response.status_code} {response.text[:200]}")
    return client


def add_videos(project: Project, paths: list[Path], replace: bool = False,
               backend_container: str | None = None) -> dict[str, Any]:
    """`backend_container`: the container to copy through when it is not the local one (a Swarm task)."""
    files = files_to_copy(paths)
    if backend_container is None:
        backend = project.observe().containers.get("backend")
        if backend is None or not backend.running:
            raise FoveaError("the backend is not running", hint="run `fovea up backend` first")
        backend_container = backend.id
    engine = project.engine
    check = ["sh", "-c", f'for f; do [ -e "{VIDEO_DIR}/$f" ] && echo "$f"; done; true', "sh", *[f.name for f in files]]
    _, existing_raw = engine.exec(backend_container, check)
    existing = existing_raw.decode().split()
    if existing and not replace:
        raise UsageError(f"already in the video directory: {', '.join(existing)} (pass --replace to overwrite)")
    with tempfile.TemporaryFile() as archive:
        with tarfile.open(fileobj=archive, mode="w") as tar:
            for path in files:
                info = tar.gettarinfo(str(path), arcname=path.name)
                info.uid = info.gid = BACKEND_UID
                info.uname = info.gname = ""
                info.mode = 0o644
                with path.open("rb") as handle:
                    tar.addfile(info, handle)
        archive.seek(0)
        engine.put_archive(backend_container, VIDEO_DIR, archive)
    client = backend_session(project)
    try:
        response = client.post("/api/videos/sync")
    finally:
        client.close()
    if response.status_code != 200:
        raise FoveaError(f"video sync failed: {response.status_code} {response.text[:300]}")
    return {"copied": [f.name for f in files], "sync": response.json()}
