"""`fovea videos add` / `rm`: copy video files (and `<name>.info.json` sidecars) into the video-data volume,
then ask the backend to sync its catalogue; remove one through the backend.

Every file is checked with ffprobe before anything is copied (a video stream with a size, a frame rate and a
duration; every packet readable; the first frame decodable): a broken file is refused naming it and why. Files
travel as a tar stream into the running backend container (the engine's archive API), owned by the backend's
user; an existing file of the same name is never overwritten unless asked.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fovea_ctl.errors import FoveaError, UsageError
from fovea_ctl.reconcile.project import Project

VIDEO_DIR = "/data/videos"
BACKEND_UID = 10001  # the backend image's `fovea` user (services/backend/Dockerfile)
# What browsers play without extra codecs; anything else is accepted with a note (the app flags it per browser).
BROWSER_CODECS = frozenset({"h264", "vp8", "vp9", "av1"})
CHECK_TIMEOUT_S = 600


@dataclass(frozen=True)
class VideoFacts:
    codec: str
    width: int
    height: int
    fps: str
    duration: float


def _ffprobe() -> str:
    tool = shutil.which("ffprobe")
    if tool is None:
        raise FoveaError("ffprobe is needed to check videos before they are added", hint="apt-get install ffmpeg")
    return tool


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=CHECK_TIMEOUT_S, stdin=subprocess.DEVNULL,
                          check=False)


def _reason(stderr: str, target: str) -> str:
    """ffmpeg's last error line without its prefixes (`file:<path>: `, `[mov,mp4 @ 0x55d...] `)."""
    line = (stderr.strip().splitlines() or [""])[-1].removeprefix(f"{target}: ")
    return re.sub(r"^\[[^\]]* @ 0x[0-9a-f]+\] ", "", line)


def check_video(path: Path) -> VideoFacts:
    """The file's facts, or UsageError naming it and the first reason it is not a video the app can annotate:
    no video stream, no size, frame rate or duration, a damaged or truncated stream (every packet is read), no
    decodable first frame. `file:` keeps a name from being read as an option or a protocol."""
    target = f"file:{path.resolve()}"
    probe = _run([_ffprobe(), "-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries",
                  "stream=codec_name,width,height,r_frame_rate,avg_frame_rate,nb_frames,nb_read_packets,duration"
                  ":format=duration", "-of", "json", target])
    problem = _reason(probe.stderr, target)
    if probe.returncode != 0:
        raise UsageError(f"{path}: not a video ffprobe can read ({problem or f'exit {probe.returncode}'}); nothing added")
    report = json.loads(probe.stdout or "{}")
    stream = (report.get("streams") or [{}])[0]
    if not stream:
        raise UsageError(f"{path}: has no video stream; nothing added")
    if problem:  # every packet was read: an error on the way is a damaged or truncated file
        raise UsageError(f"{path}: the video stream is damaged or cut short ({problem}); nothing added")
    declared, read = stream.get("nb_frames"), stream.get("nb_read_packets")
    if str(declared).isdigit() and str(read).isdigit() and int(read) < int(declared):
        raise UsageError(f"{path}: cut short: {read} of its {declared} frames are there; nothing added")
    width, height = int(stream.get("width") or 0), int(stream.get("height") or 0)
    if width <= 0 or height <= 0:
        raise UsageError(f"{path}: the video stream has no picture size; nothing added")
    fps = next((r for r in (stream.get("avg_frame_rate"), stream.get("r_frame_rate"))
                if isinstance(r, str) and r.partition("/")[0] not in ("", "0") and r.partition("/")[2] != "0"), None)
    if fps is None:
        raise UsageError(f"{path}: the video stream has no frame rate; nothing added")
    duration = next((float(d) for d in (stream.get("duration"), (report.get("format") or {}).get("duration"))
                     if d not in (None, "N/A") and float(d) > 0), None)
    if duration is None:
        raise UsageError(f"{path}: the video has no duration; nothing added")
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is not None:
        decoded = _run([ffmpeg, "-v", "error", "-xerror", "-i", target, "-map", "0:v:0", "-frames:v", "1", "-f", "null", "-"])
        if decoded.returncode != 0 or decoded.stderr.strip():
            why = _reason(decoded.stderr, target) or f"exit {decoded.returncode}"
            raise UsageError(f"{path}: its first frame cannot be decoded ({why}); nothing added")
    return VideoFacts(codec=str(stream.get("codec_name") or "?"), width=width, height=height, fps=fps, duration=duration)


def codec_note(path: Path, facts: VideoFacts) -> str | None:
    if facts.codec in BROWSER_CODECS:
        return None
    return (f"{path.name}: codec {facts.codec}: browsers without it (Debian's Chromium among them) cannot play it;"
            " the app says so where it cannot")


def files_to_copy(paths: list[Path]) -> list[Path]:
    chosen: list[Path] = []
    for path in paths:
        if not path.is_file():
            raise UsageError(f"{path}: not a file")
        if path in chosen:
            continue
        chosen.append(path)
        sidecar = path.with_name(f"{path.stem}.info.json")
        if sidecar.is_file() and sidecar not in chosen:
            chosen.append(sidecar)
    names = [p.name for p in chosen]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise UsageError(f"two files share the name {', '.join(duplicates)}; the video directory is flat")
    return chosen


def backend_url(project: Project) -> str:
    """Where the backend's API answers from this machine: its own port, or, when only what a person opens
    is published (FOVEA_PUBLISH=user-facing), the app's, whose nginx proxies /api/ to it."""
    stack = project.stack
    for name in ("backend", "frontend"):
        unit = stack.units.get(name)
        published = stack.published_ports(unit) if unit is not None else []
        if published:
            return f"http://127.0.0.1:{stack.host_port(published[0])}"
    raise FoveaError("neither the backend nor the frontend publishes a port on this machine")


def backend_session(project: Project) -> Any:
    """An httpx client logged in as admin (password from the admin_password secret)."""
    import httpx

    client = httpx.Client(base_url=backend_url(project), timeout=60)
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
    notes = [note for path in dict.fromkeys(paths) if (note := codec_note(path, check_video(path)))]
    # Under the project lock, once an interrupted restore is rolled back: the files land in the volume that
    # stays, never beside a restore's swap.
    with project.writing():
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
        return {"copied": [f.name for f in files], "sync": response.json(), **({"notes": notes} if notes else {})}


def remove_video(project: Project, name: str, with_annotations: bool = False) -> dict[str, Any]:
    """Remove a video by its file name through the backend (file, sidecar, row; its tracks only when asked)."""
    with project.writing():
        return _remove_video(project, name, with_annotations)


def _remove_video(project: Project, name: str, with_annotations: bool) -> dict[str, Any]:
    client = backend_session(project)
    try:
        listed = client.get("/api/videos")
        if listed.status_code != 200:
            raise FoveaError(f"listing videos failed: {listed.status_code} {listed.text[:300]}")
        ident = next((v["id"] for v in listed.json() if v["filename"] == name), None)
        if ident is None:
            raise UsageError(f"no video named {name}", hint="`fovea videos add` lists names in its output; the app's"
                                                            " Videos page shows them too")
        response = client.delete(f"/api/videos/{ident}", params={"withAnnotations": str(with_annotations).lower()})
    finally:
        client.close()
    if response.status_code == 409:
        message = response.json().get("message", response.text[:300])
        raise UsageError(f"{name}: {message.removeprefix('query.withAnnotations: ')}",
                         hint="pass --with-annotations to delete its tracks with it" if not with_annotations else None)
    if response.status_code != 200:
        raise FoveaError(f"removing {name} failed: {response.status_code} {response.text[:300]}")
    return dict(response.json())
