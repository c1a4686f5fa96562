"""What fovea keeps under `<root>/.fovea/`: every folder 0700, every file 0600, never through a link.

The state folder holds the project lock, the restore journal, the status roster, build logs, the secrets'
hash salt and (by default) the secrets themselves. Whoever can enter it, or swap a folder in it for a
link, could read those or aim fovea's writes at another file; so each level from `.fovea` down is made
0700 (one left looser by an older fovea is tightened), must be a real directory of this user, and files
are created 0600 whatever the umask, replaced atomically, and opened without following a link.

Standard library only: `fovea status` writes its roster through here.
"""

from __future__ import annotations

import os
import stat
import threading

from fovea_ctl.errors import LockUnsafe

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
STATE_FOLDER = ".fovea"


def _own_directory(path: str) -> None:
    """`path` exists as a real directory of this user, 0700 (created or tightened); else LockUnsafe."""
    try:
        os.mkdir(path, PRIVATE_DIR_MODE)
    except FileExistsError:
        pass
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        kind = "a symlink" if stat.S_ISLNK(info.st_mode) else ("a directory" if stat.S_ISDIR(info.st_mode) else "a file")
        raise LockUnsafe(f"{path} is {kind} owned by uid {info.st_uid}, not a directory of uid {os.getuid()}: "
                         "refusing to keep fovea's state there",
                         hint="remove it (fovea makes it again, private), then retry")
    if info.st_mode & 0o777 != PRIVATE_DIR_MODE:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            os.fchmod(fd, PRIVATE_DIR_MODE)
        finally:
            os.close(fd)


def private_dir(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> str:
    """`path` (at or under `<root>/.fovea`) as a private directory, each level from `.fovea` down checked.
    A `path` outside `.fovea` (a FOVEA_SECRETS_DIR elsewhere) has only its own level made private."""
    path, anchor = os.path.abspath(path), os.path.join(os.path.abspath(root), STATE_FOLDER)
    if path != anchor and not path.startswith(anchor + os.sep):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        _own_directory(path)
        return path
    level = anchor
    _own_directory(level)
    for part in os.path.relpath(path, anchor).split(os.sep):
        if part in ("", "."):
            continue
        level = os.path.join(level, part)
        _own_directory(level)
    return path


def open_private(path: str | os.PathLike[str], flags: int = os.O_WRONLY | os.O_CREAT | os.O_TRUNC) -> int:
    """A file descriptor on `path`, created 0600 (an existing file is made 0600), never through a link."""
    fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, PRIVATE_FILE_MODE)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise LockUnsafe(f"{path} is not a regular file: refusing to write there")
        os.fchmod(fd, PRIVATE_FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_private(path: str | os.PathLike[str], data: bytes, durable: bool = False) -> None:
    """Replace `path` with `data` atomically (a 0600 temporary file renamed over it)."""
    path = os.fspath(path)
    temporary = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = open_private(temporary)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
