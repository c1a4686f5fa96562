"""The project lock: one flock per project in its private state folder, serialising every command that changes
it; re-entrant within a process (a writer may call another: restore runs `up`)."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from fovea_ctl.errors import LockTimeout, LockUnsafe

if TYPE_CHECKING:
    from fovea_ctl.settings.effective import Settings


LOCK_FILE = "project.lock"
# Project locks this process holds: lock file -> (its descriptor, how many holders nest inside it). A
# writer may call another (restore runs `up`; `migrate` removes its job, then runs `up`): one flock per
# process, taken once, released by the outermost holder.
_held: dict[str, list[int]] = {}
_held_guard = threading.Lock()


def lock_path(settings: Settings) -> Path:
    """The project's lock: in its own 0700 state directory, which no other user can enter or pre-create."""
    return settings.private_state_dir() / LOCK_FILE


def holds_project_lock(settings: Settings) -> bool:
    with _held_guard:
        return str(settings.state_dir / LOCK_FILE) in _held


def open_lock_file(path: Path) -> int:
    """Open (creating 0600) without following a symlink and without truncating whatever is there."""
    import stat

    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise LockUnsafe(f"cannot open lock file {path}: {exc.strerror}"
                         + (" (it is a symlink; refusing to follow it)" if os.path.islink(path) else "")) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise LockUnsafe(f"lock file {path} is not a regular file: refusing to lock there")
    return fd


@contextmanager
def project_lock(settings: Settings, timeout_s: float = 600.0, on_wait: object = None) -> Iterator[None]:
    """Serialises every command that changes one project (other projects are not blocked). Re-entrant
    within a process. Commands take it through `Project.writing`, which also finishes an interrupted restore."""
    key = str(settings.state_dir / LOCK_FILE)
    with _held_guard:
        if key in _held:
            _held[key][1] += 1
            nested = True
        else:
            nested = False
    if nested:
        try:
            yield
        finally:
            with _held_guard:
                _held[key][1] -= 1
        return
    fd = open_lock_file(lock_path(settings))
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if callable(on_wait):
                on_wait()
            deadline = time.monotonic() + timeout_s
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise LockTimeout(
                            f"another fovea command holds project {settings.project!r} for more than {timeout_s:.0f} s"
                        ) from None
                    time.sleep(0.2)
        with _held_guard:
            _held[key] = [fd, 1]
        try:
            yield
        finally:
            with _held_guard:
                del _held[key]
    finally:
        os.close(fd)
