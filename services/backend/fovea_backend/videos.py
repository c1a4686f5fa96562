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
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import psycopg
from psycopg.types.json import Jsonb

from fovea_backend import media
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
    fps_num: int | None
    fps_den: int | None
    fps: float | None
    frame_count: int | None
    width: int | None
    height: int | None
    codec: str | None
    metadata: dict[str, Any]
    # size:mtime_ns when probed (None: not probed, try again next sync) and what ffprobe found.
    probe_key: str | None
    probe: dict[str, Any] | None

    def row(self) -> tuple[Any, ...]:
        """The stored columns, in COLUMNS order (after id, filename, path)."""
        return (self.size_bytes, self.duration, self.fps_num, self.fps_den, self.fps, self.frame_count, self.width,
                self.height, self.codec, self.metadata, self.probe_key, self.probe)


COLUMNS = ("size_bytes", "duration", "fps_num", "fps_den", "fps", "frame_count", "width", "height", "codec",
           "metadata", "probe_key", "probe")
JSON_COLUMNS = frozenset({"metadata", "probe"})


def _number(value: Any, kind: type) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        return None
    if kind is int and value > media.MAX_SIDE:
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


def _probe(path: Path, key: str, known: tuple[str | None, dict[str, Any] | None] | None) -> dict[str, Any] | None:
    """ffprobe's facts for the file, reused from the last sync while the file's size and mtime are unchanged."""
    if known is not None and known[0] == key and known[1] is not None:
        return known[1]
    try:
        return media.probe(path)
    except media.ToolMissing:
        return None


def facts(filename: str, size: int, key: str, meta: dict[str, Any], probed: dict[str, Any] | None) -> ScannedVideo:
    """Sidecar first, ffprobe for what it lacks. The one exception: a sidecar's float fps (yt-dlp rounds
    30000/1001 to 29.97) takes the file's exact rational when the two agree to 0.01 fps."""
    found = probed or {}
    probe_rate = (found["fpsNum"], found["fpsDen"]) if "fpsNum" in found else None
    sidecar_fps = _number(meta.get("fps"), float)
    sidecar_rate = media.rate_from_float(sidecar_fps) if sidecar_fps is not None else None
    rate = probe_rate
    agree = probe_rate is not None and sidecar_rate is not None and abs(
        probe_rate[0] / probe_rate[1] - sidecar_rate[0] / sidecar_rate[1]) < 0.01
    if sidecar_rate is not None and not agree:
        rate = sidecar_rate
    duration = _number(meta.get("duration"), float) or found.get("duration")
    fps = rate[0] / rate[1] if rate else None
    frame_count = found.get("frameCount")
    if frame_count is None and duration and fps and duration * fps < 2**62:
        frame_count = max(1, round(duration * fps))  # no exact count anywhere: the nominal one
    vcodec = meta.get("vcodec")
    codec = vcodec[:100] if isinstance(vcodec, str) and vcodec and vcodec != "none" else found.get("codec")
    return ScannedVideo(
        id=video_id(filename), filename=filename, size_bytes=size, duration=duration,
        fps_num=rate[0] if rate else None, fps_den=rate[1] if rate else None, fps=fps, frame_count=frame_count,
        width=_number(meta.get("width"), int) or found.get("width"),
        height=_number(meta.get("height"), int) or found.get("height"),
        codec=codec, metadata=meta, probe_key=key if probed is not None else None, probe=probed,
    )


def scan(root: Path, known: dict[str, tuple[str | None, dict[str, Any] | None]] | None = None) -> list[ScannedVideo]:
    """Every video file under root with its facts; `known` (id → stored probe_key, probe) spares ffprobe runs."""
    known = known or {}
    found: list[ScannedVideo] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if name.startswith(".") or path.suffix.lower() not in VIDEO_SUFFIXES or not path.is_file():
                continue
            filename = path.relative_to(root).as_posix()
            stat = path.stat()
            key = f"{stat.st_size}:{stat.st_mtime_ns}"
            probed = _probe(path, key, known.get(video_id(filename)))
            found.append(facts(filename, stat.st_size, key, read_sidecar(path), probed))
    return found


def sync(conn: psycopg.Connection, root: Path, prune: bool) -> dict[str, Any]:
    if not root.is_dir():
        raise ApiError(409, f"video directory {root} does not exist or is not mounted; refusing to sync", ("BACKEND_VIDEO_ROOT",))
    existing = {
        row[0]: row[1:]
        for row in conn.execute(f"SELECT id, {', '.join(COLUMNS)} FROM videos").fetchall()
    }
    probe_at = COLUMNS.index("probe_key")
    conn.commit()  # ffprobe may take minutes on a big library: hold no transaction (snapshot, locks) meanwhile
    scanned = scan(root, {vid: (row[probe_at], row[probe_at + 1]) for vid, row in existing.items()})
    if not scanned:
        raise ApiError(
            409,
            f"video directory {root} contains no videos; refusing to sync (an unmounted volume looks the same)",
            ("BACKEND_VIDEO_ROOT",),
        )
    added: list[str] = []
    updated: list[str] = []
    conflicts: list[str] = []
    unchanged = 0
    # width/height keep what a detection job learned when neither sidecar nor ffprobe knows them.
    keep_known = {"width", "height"}
    assignments = ", ".join(
        f"{c} = coalesce(excluded.{c}, videos.{c})" if c in keep_known else f"{c} = excluded.{c}" for c in COLUMNS
    )
    for video in scanned:
        current = video.row()
        if video.id in existing and tuple(existing[video.id]) == current:
            unchanged += 1
            continue
        values = tuple(Jsonb(v) if c in JSON_COLUMNS and v is not None else v for c, v in zip(COLUMNS, current, strict=True))
        try:
            with conn.transaction():  # savepoint: one file's collision must not fail the whole sync
                conn.execute(
                    f"INSERT INTO videos (id, filename, path, {', '.join(COLUMNS)})"
                    f" VALUES (%s, %s, %s, {', '.join(['%s'] * len(COLUMNS))})"
                    f" ON CONFLICT (id) DO UPDATE SET {assignments}, updated_at = now()",
                    (video.id, video.filename, video.filename, *values),
                )
        except psycopg.errors.UniqueViolation:
            conflicts.append(_collision(conn, video))
            continue
        (updated if video.id in existing else added).append(video.filename)
    seen = {video.id for video in scanned}
    missing_rows = conn.execute("SELECT id, filename FROM videos ORDER BY filename").fetchall()
    missing = [filename for vid, filename in missing_rows if vid not in seen]
    pruned: list[str] = []
    if prune and missing:
        conn.execute("DELETE FROM videos WHERE NOT (id = ANY(%s))", (list(seen),))
        pruned, missing = missing, []
    return {"added": added, "updated": updated, "unchanged": unchanged, "missing": missing, "pruned": pruned,
            "conflicts": conflicts}


def _collision(conn: psycopg.Connection, video: ScannedVideo) -> str:
    """Why a file's row could not be written: another row holds its name under an id that is not the name's
    (only an import from before ids were checked makes one). That row is reported as missing, so a sync with
    prune=true removes it (with its annotations) and the next sync adds the file."""
    holder = conn.execute("SELECT id FROM videos WHERE filename = %s", (video.filename,)).fetchone()
    who = f"video row {holder[0]}" if holder else "another video row"
    return (f"{video.filename}: {who} holds this file name under an id that is not md5(filename) ({video.id});"
            " the file was not synced: sync with prune=true to drop that row, or import it with its right id")


def resolve(root: Path, relative: str) -> Path:
    """The file for a stored relative path, refusing anything that escapes the video root."""
    path = (root / relative).resolve()
    if not path.is_relative_to(root.resolve()):
        raise ApiError(404, "video file is outside the video directory")
    return path


THUMBNAIL_DIR = ".fovea-thumbnails"  # inside the video volume; the scan skips dot directories


def remove_files(root: Path, relative: str, ident: str) -> None:
    """A video's file, its sidecar and its cached thumbnails. A file already gone is fine; one that cannot be
    removed (a read-only volume, another owner) raises, so the caller's transaction rolls the row back."""
    path = resolve(root, relative)
    for target in (path, path.with_name(path.stem + ".info.json")):
        try:
            target.unlink(missing_ok=True)
        except OSError as exc:
            raise ApiError(409, f"cannot remove {relative} from the video directory: {exc.strerror}") from None
    for directory in (root / THUMBNAIL_DIR, Path(tempfile.gettempdir()) / "fovea-thumbnails"):
        for cached in directory.glob(f"{ident}-*"):
            cached.unlink(missing_ok=True)


def thumbnail(root: Path, ident: str, video: Path, duration: float | None) -> Path | None:
    """The cached JPEG of a video, made once with ffmpeg; None when no frame can be decoded.

    The cache name carries the file's size and mtime, so a replaced file gets a new thumbnail and a hit is
    exact, not a guess. A failure is remembered the same way (a `.failed` marker) so an undecodable file
    does not cost an ffmpeg run per request. The video volume is the cache unless it is read-only; then
    the temp directory."""
    stat = video.stat()
    stem = f"{ident}-{stat.st_size}-{stat.st_mtime_ns}"
    for directory in (root / THUMBNAIL_DIR, Path(tempfile.gettempdir()) / "fovea-thumbnails"):
        target, failed = directory / f"{stem}.jpg", directory / f"{stem}.failed"
        if target.is_file():
            return target
        if failed.is_file():
            return None
        try:
            made = media.make_thumbnail(video, target, min(duration * 0.1, 10.0) if duration else 0.0)
        except OSError:
            continue  # a read-only (EROFS) or foreign-owned (EACCES) video volume: try the next directory
        for stale in directory.glob(f"{ident}-*"):
            if stale.name not in (target.name, failed.name) and not stale.name.startswith("."):
                stale.unlink(missing_ok=True)
        if not made:
            failed.touch()
            return None
        return target
    raise ApiError(503, "no writable directory for thumbnails (the video volume and the temp directory are read-only)")


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


def open_video(path: Path, ident: str) -> tuple[BinaryIO, int]:
    """The open file of a video and its size; 404 when it is gone or is not a regular file (a row whose
    path names a directory): checked on the open handle, before any byte of a response is sent."""
    try:
        handle = path.open("rb")
    except IsADirectoryError:
        raise not_a_file(ident, path) from None
    except OSError:
        raise file_gone(ident) from None
    info = os.fstat(handle.fileno())
    if not stat.S_ISREG(info.st_mode):
        handle.close()
        raise not_a_file(ident, path)
    return handle, info.st_size


def file_gone(ident: str) -> ApiError:
    return ApiError(404, f"file of video {ident} is missing from the video directory; run a sync", ("path", "video_id"))


def not_a_file(ident: str, path: Path) -> ApiError:
    return ApiError(404, f"the path of video {ident} ({path.name}) is not a regular file; fix the file or the row", ("path", "video_id"))


def read_bytes(handle: BinaryIO, start: int, end: int) -> Iterator[bytes]:
    """Bytes start..end (inclusive) of an open file, which it closes at the end."""
    with handle:
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
