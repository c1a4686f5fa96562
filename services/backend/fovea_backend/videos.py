"""The video directory: scanning it into rows, and serving byte ranges of its files.

Sync adds and updates but never deletes unless asked (`prune=true`), and refuses outright when the
directory is missing or holds no videos: an unmounted volume looks exactly like "every video was
deleted", and upstream's sync wiped every row and its annotations in that case.
"""

from __future__ import annotations

import hashlib
import json
import math
import mimetypes
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from fovea_backend.errors import ApiError
from fovea_backend.jsoncheck import check_json

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".webm", ".mkv", ".mov", ".avi", ".mpg", ".mpeg", ".ts"})
# yt-dlp sidecars carry every format URL and subtitle track; none of that is metadata worth a row.
BULKY_SIDECAR_KEYS = frozenset(
    {"formats", "requested_formats", "thumbnails", "automatic_captions", "subtitles", "heatmap", "requested_downloads", "fragments"}
)
CHUNK = 256 * 1024


def video_id(filename: str) -> str:
    return hashlib.md5(filename.encode()).hexdigest()[:16]  # noqa: S324 - an id, not a security hash


@dataclass(frozen=True)
class ScannedVideo:
    id: str
    filename: str
    size_bytes: int
    duration: float | None
    fps: float | None
    width: int | None
    height: int | None
    metadata: dict[str, Any]


def _number(value: Any, kind: type) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        return None
    return kind(value)


def read_sidecar(video: Path) -> dict[str, Any]:
    """`<name>.info.json` beside `<name>.<ext>`; unreadable or malformed sidecars count as absent."""
    sidecar = video.with_name(video.stem + ".info.json")
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            return {}
        data = {k: v for k, v in data.items() if k not in BULKY_SIDECAR_KEYS}
        check_json(data, ("sidecar",))
        return data
    except (OSError, ValueError, ApiError):
        return {}


def scan(root: Path) -> list[ScannedVideo]:
    found: list[ScannedVideo] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if name.startswith(".") or path.suffix.lower() not in VIDEO_SUFFIXES or not path.is_file():
                continue
            filename = path.relative_to(root).as_posix()
            meta = read_sidecar(path)
            fps = _number(meta.get("fps"), float)
            found.append(
                ScannedVideo(
                    id=video_id(filename),
                    filename=filename,
                    size_bytes=path.stat().st_size,
                    duration=_number(meta.get("duration"), float),
                    fps=fps,
                    width=_number(meta.get("width"), int),
                    height=_number(meta.get("height"), int),
                    metadata=meta,
                )
            )
    return found


def sync(conn: psycopg.Connection, root: Path, prune: bool) -> dict[str, Any]:
    if not root.is_dir():
        raise ApiError(409, f"video directory {root} does not exist or is not mounted; refusing to sync", ("BACKEND_VIDEO_ROOT",))
    scanned = scan(root)
    if not scanned:
        raise ApiError(
            409,
            f"video directory {root} contains no videos; refusing to sync (an unmounted volume looks the same)",
            ("BACKEND_VIDEO_ROOT",),
        )
    existing = {
        row[0]: row[1:]
        for row in conn.execute("SELECT id, size_bytes, duration, fps, width, height, metadata FROM videos").fetchall()
    }
    added: list[str] = []
    updated: list[str] = []
    unchanged = 0
    for video in scanned:
        current = (video.size_bytes, video.duration, video.fps, video.width, video.height, video.metadata)
        if video.id in existing and tuple(existing[video.id]) == current:
            unchanged += 1
            continue
        conn.execute(
            "INSERT INTO videos (id, filename, path, size_bytes, duration, fps, width, height, metadata)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (id) DO UPDATE SET size_bytes = excluded.size_bytes, duration = excluded.duration,"
            " fps = excluded.fps, width = coalesce(excluded.width, videos.width),"
            " height = coalesce(excluded.height, videos.height), metadata = excluded.metadata, updated_at = now()",
            (video.id, video.filename, video.filename, *current[:5], Jsonb(video.metadata)),
        )
        (updated if video.id in existing else added).append(video.filename)
    seen = {video.id for video in scanned}
    missing_rows = conn.execute("SELECT id, filename FROM videos ORDER BY filename").fetchall()
    missing = [filename for vid, filename in missing_rows if vid not in seen]
    pruned: list[str] = []
    if prune and missing:
        conn.execute("DELETE FROM videos WHERE NOT (id = ANY(%s))", (list(seen),))
        pruned, missing = missing, []
    return {"added": added, "updated": updated, "unchanged": unchanged, "missing": missing, "pruned": pruned}


def resolve(root: Path, relative: str) -> Path:
    """The file for a stored relative path, refusing anything that escapes the video root."""
    path = (root / relative).resolve()
    if not path.is_relative_to(root.resolve()):
        raise ApiError(404, "video file is outside the video directory")
    return path


RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """One `bytes=` range → inclusive (start, end); None means "unsatisfiable" (416).

    Multiple ranges are refused (416) rather than answered with multipart bodies no player asks for.
    """
    match = RANGE.match(header.strip())
    if not match or (not match.group(1) and not match.group(2)):
        return None
    first, last = match.group(1), match.group(2)
    if not first:  # suffix range: the last N bytes
        length = int(last)
        if length == 0 or size == 0:
            return None
        return max(size - length, 0), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if start >= size or end < start:
        return None
    return start, min(end, size - 1)


def read_bytes(path: Path, start: int, end: int) -> Iterator[bytes]:
    with path.open("rb") as handle:
        handle.seek(start)
        remaining = end - start + 1
        while remaining > 0:
            chunk = handle.read(min(CHUNK, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk


def content_type(path: Path) -> str:
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"
