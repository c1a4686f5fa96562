"""Only files under the video root are ever opened.

Requests name a video by a path relative to the root or by id; both are checked lexically (no `..`, no
absolute path outside the root, no NUL) and then again after resolving symlinks, so a link inside the
root that points elsewhere is refused too.
"""

from __future__ import annotations

import glob
import re
from pathlib import Path, PurePosixPath

VIDEO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


class VideoPathError(Exception):
    """A request named a video it may not read (status 400/403) or that does not exist (404)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def resolve_video(root: Path, video_path: str | None = None, video_id: str | None = None) -> Path:
    """The real path of a regular file under `root`, or VideoPathError."""
    if video_path:
        return _resolve_path(root, video_path)
    if video_id:
        return _resolve_id(root, video_id)
    raise VideoPathError(400, "give video_path (relative to the video root) or video_id")


def _resolve_path(root: Path, video_path: str) -> Path:
    if "\x00" in video_path:
        raise VideoPathError(400, "video_path contains a NUL byte")
    pure = PurePosixPath(video_path)
    if ".." in pure.parts:
        raise VideoPathError(400, f"video_path {video_path!r}: '..' is not allowed")
    root_real = root.resolve()
    if pure.is_absolute():
        # An absolute path is accepted only when it already points inside the root.
        if not (Path(pure) == root_real or Path(pure).is_relative_to(root_real) or Path(pure).is_relative_to(root)):
            raise VideoPathError(403, f"video_path {video_path!r} is outside the video root")
        candidate = Path(pure)
    else:
        candidate = root / pure
    return _checked(root_real, candidate, video_path)


def _resolve_id(root: Path, video_id: str) -> Path:
    if not VIDEO_ID.match(video_id):
        raise VideoPathError(400, f"video_id {video_id!r}: letters, digits, '.', '_' and '-' only")
    root_real = root.resolve()
    exact = root / video_id
    if exact.is_file():
        return _checked(root_real, exact, video_id)
    # The backend stores uploads as <id>.<ext>; an id names exactly one such file.
    matches = sorted(Path(p) for p in glob.glob(glob.escape(str(root / video_id)) + ".*"))
    matches = [m for m in matches if m.is_file()]
    if not matches:
        raise VideoPathError(404, f"no video with id {video_id!r} under the video root")
    if len(matches) > 1:
        raise VideoPathError(409, f"video id {video_id!r} is ambiguous: {', '.join(m.name for m in matches)}")
    return _checked(root_real, matches[0], video_id)


def _checked(root_real: Path, candidate: Path, shown: str) -> Path:
    try:
        real = candidate.resolve(strict=True)
    except (FileNotFoundError, NotADirectoryError):
        raise VideoPathError(404, f"video {shown!r} not found under the video root") from None
    except (OSError, RuntimeError) as exc:  # symlink loops, permission errors
        raise VideoPathError(403, f"video {shown!r} cannot be read: {exc}") from None
    if not real.is_relative_to(root_real):
        raise VideoPathError(403, f"video {shown!r} resolves outside the video root")
    if not real.is_file():
        raise VideoPathError(400, f"video {shown!r} is not a regular file")
    return real
