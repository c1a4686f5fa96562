"""The restore journal: what a restore has swapped, so an interrupted one is rolled back or finished.

`fovea restore` writes `<state dir>/restore-journal.json` before it touches live data and updates it at
each phase; it holds `restore-journal.lock` while it runs, so another command can tell a live restore
from a dead one. Every step below is idempotent and checks what exists before it moves anything, so a
recovery that is itself interrupted can simply run again:

- database: live -> `<db>_old_<tag>`, then `<db>_restore_<tag>` -> live (two renames; the previous copy
  is kept until the restored services are ready).
- files: every live top-level entry moves into `.fovea-old-<tag>.partial`, which is renamed to
  `.fovea-old-<tag>` once it holds them all (the rename says "the root holds no live entry now"); then
  the staged entries move into the root. Rolling back moves the restored entries back into the stage,
  renames the previous copy to `.fovea-old-<tag>.returning` (the root is empty again) and moves its
  entries back.

Phases: `staging` (live data untouched: recovery drops the stages), `swapping` (recovery rolls back to the
previous data, exactly), `swapped` (the restored data is live and the previous copy kept: `up` finishes
it once the services are ready, `fovea restore --rollback` puts the previous copy back).
"""

from __future__ import annotations

import fcntl
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import IO, TYPE_CHECKING, Literal

from pydantic import BaseModel

from fovea_ctl.core.signals import signals_deferred
from fovea_ctl.errors import FoveaError

if TYPE_CHECKING:
    from fovea_ctl.model import Service
    from fovea_ctl.data.project_protocol import DataProject

JOURNAL = "restore-journal.json"
JOURNAL_LOCK = "restore-journal.lock"
PAUSE_ENV = "FOVEA_TEST_PAUSE_AT"  # tests: stop at a phase (print a line, sleep) so a signal lands there

Phase = Literal["staging", "swapping", "swapped"]


class JournalDatabase(BaseModel):
    item: str
    service: str
    database: str
    staged: str
    old: str


class JournalVolume(BaseModel):
    item: str
    volume: str  # engine volume name
    image: str
    staged: str  # folder inside the volume
    old: str


class RestoreJournal(BaseModel):
    backup_id: str
    tag: str
    phase: Phase = "staging"
    pid: int = 0
    databases: list[JournalDatabase] = []
    volumes: list[JournalVolume] = []
    stopped: list[str] = []  # services the swap stopped; restarted afterwards

    def where_previous(self) -> str:
        places = [f"database {d.old}" for d in self.databases] + [f"{d.volume}:/{d.old}" for d in self.volumes]
        return ", ".join(places) or "nowhere (nothing was swapped)"


def pause_point(phase: str) -> None:
    """With FOVEA_TEST_PAUSE_AT=<phase>: say so on stderr and wait here for a signal (tests only)."""
    if os.environ.get(PAUSE_ENV) == phase:
        sys.stderr.write(f"fovea: paused at {phase}\n")
        sys.stderr.flush()
        while True:
            time.sleep(0.1)


def journal_path(project: DataProject) -> Path:
    return project.settings.state_dir / JOURNAL


def load_journal(project: DataProject) -> RestoreJournal | None:
    path = journal_path(project)
    if not path.is_file():
        return None
    try:
        return RestoreJournal.model_validate_json(path.read_text())
    except ValueError as exc:
        raise FoveaError(f"the restore journal {path} is unreadable: {exc}",
                         hint="it describes an interrupted restore; inspect it before removing it") from None


_SAVING = threading.Lock()  # items stage on two threads; both record their entries here


def save_journal(project: DataProject, journal: RestoreJournal) -> None:
    from fovea_ctl.data.backup.files import write_json_atomic

    path = journal_path(project)
    project.settings.private_state_dir()
    with _SAVING:
        write_json_atomic(path, journal.model_dump_json(indent=2))


def drop_journal(project: DataProject) -> None:
    journal_path(project).unlink(missing_ok=True)


@contextmanager
def journal_owner(project: DataProject) -> Iterator[None]:
    """Held by a running restore: while it is, nobody else recovers its journal."""
    handle = _lock_file(project)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise FoveaError("another `fovea restore` of this project is running") from None
    try:
        yield
    finally:
        handle.close()


def _lock_file(project: DataProject) -> IO[str]:
    from fovea_ctl.settings.private_files import open_private

    fd = open_private(project.settings.private_state_dir() / JOURNAL_LOCK, os.O_RDWR | os.O_CREAT)
    return os.fdopen(fd, "r+")


def owner_alive(project: DataProject) -> bool:
    handle = _lock_file(project)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        handle.close()
    return False


# -- databases --------------------------------------------------------------------------------------
def _db_service(project: DataProject, entry: JournalDatabase) -> tuple[Service, str]:
    from fovea_ctl.data.backup import running_container

    service = project.stack.units[entry.service]
    return service, running_container(project, service)


# Database names come from the stack and the journal (a file of this user's): still quoted by psycopg's
# `sql` module, never pasted into a statement.
def _db_exists(project: DataProject, service: Service, container: str, name: str) -> bool:
    from psycopg import sql

    from fovea_ctl.data.backup import psql

    return psql(project, container, service, sql.SQL("select 1 from pg_database where datname = {}").format(sql.Literal(name)),
                database="postgres") == "1"


def _db_rename(project: DataProject, service: Service, container: str, source: str, target: str) -> None:
    from psycopg import sql

    from fovea_ctl.data.backup import psql

    psql(project, container, service, sql.SQL("select pg_terminate_backend(pid) from pg_stat_activity where datname = {} "
                                              "and pid <> pg_backend_pid()").format(sql.Literal(source)), database="postgres")
    psql(project, container, service, sql.SQL("alter database {} rename to {}").format(sql.Identifier(source),
                                                                                      sql.Identifier(target)),
         database="postgres")


def _db_drop(project: DataProject, service: Service, container: str, name: str) -> None:
    from psycopg import sql

    from fovea_ctl.data.backup import psql

    psql(project, container, service, sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)),
         database="postgres")


def swap_database(project: DataProject, entry: JournalDatabase) -> None:
    service, container = _db_service(project, entry)
    with signals_deferred():
        if not _db_exists(project, service, container, entry.old):
            _db_rename(project, service, container, entry.database, entry.old)
    pause_point("between-renames")
    with signals_deferred():
        if _db_exists(project, service, container, entry.staged):
            _db_rename(project, service, container, entry.staged, entry.database)


def rollback_database(project: DataProject, entry: JournalDatabase) -> None:
    service, container = _db_service(project, entry)
    if _db_exists(project, service, container, entry.old):
        if _db_exists(project, service, container, entry.database):
            if _db_exists(project, service, container, entry.staged):  # cannot happen after a swap; be exact anyway
                _db_drop(project, service, container, entry.staged)
            _db_rename(project, service, container, entry.database, entry.staged)
        _db_rename(project, service, container, entry.old, entry.database)
    _db_drop(project, service, container, entry.staged)


def finish_database(project: DataProject, entry: JournalDatabase) -> None:
    service, container = _db_service(project, entry)
    _db_drop(project, service, container, entry.old)


# -- file volumes -----------------------------------------------------------------------------------
LIVE_ENTRIES = "find . -mindepth 1 -maxdepth 1 ! -name '.fovea-restore-*' ! -name '.fovea-old-*'"
# The staged files reach the disk before any of them is swapped in (tar does not fsync): otherwise a power
# cut after the swap could leave a journal saying "swapped", and `up` would drop the previous copy while
# the restored files were still only in memory. `sync -f` is syncfs(2) on the volume's filesystem.
MOVE_ASIDE = f"""set -e
cd /v
[ ! -d "$1" ] || sync -f "$1" 2>/dev/null || sync
if [ ! -d "$2" ]; then
  mkdir -p "$2.partial"
  {LIVE_ENTRIES} -exec mv -t "$2.partial" {{}} +
  mv "$2.partial" "$2"
fi
"""
MOVE_IN = """set -e
cd /v
if [ -d "$1" ]; then
  find "$1" -mindepth 1 -maxdepth 1 -exec mv -t . {} +
  rmdir "$1"
fi
"""
ROLLBACK_FILES = f"""set -e
cd /v
if [ -d "$2.partial" ]; then
  find "$2.partial" -mindepth 1 -maxdepth 1 -exec mv -t . {{}} +
  rmdir "$2.partial"
fi
if [ -d "$2" ]; then
  mkdir -p "$1"
  {LIVE_ENTRIES} -exec mv -t "$1" {{}} +
  mv "$2" "$2.returning"
fi
if [ -d "$2.returning" ]; then
  find "$2.returning" -mindepth 1 -maxdepth 1 -exec mv -t . {{}} +
  rmdir "$2.returning"
fi
rm -rf "$1"
"""


@contextmanager
def _volume_helper(project: DataProject, entry: JournalVolume) -> Iterator[Callable[[str], None]]:
    """Run scripts (given the stage and old folder names) in one helper that mounts the volume."""
    from fovea_ctl.data.backup import exec_text, helper_container

    with helper_container(project, entry.image, {"/v": entry.volume}) as helper:
        def run(script: str) -> None:
            exec_text(project, helper, ["sh", "-c", script, "swap", entry.staged, entry.old])

        yield run


def swap_files(project: DataProject, entry: JournalVolume) -> None:
    with _volume_helper(project, entry) as run:
        with signals_deferred():
            run(MOVE_ASIDE)
        pause_point("file-swap")
        with signals_deferred():
            run(MOVE_IN)


def rollback_files(project: DataProject, entry: JournalVolume) -> None:
    with _volume_helper(project, entry) as run:
        run(ROLLBACK_FILES)


def finish_files(project: DataProject, entry: JournalVolume) -> None:
    with _volume_helper(project, entry) as run:
        run('rm -rf "/v/$2"')


# -- whole journal ----------------------------------------------------------------------------------
def rollback(project: DataProject, journal: RestoreJournal) -> None:
    """Put the previous data back, exactly (idempotent: an interrupted rollback runs again). Signals wait
    until it is done: a rename abandoned half-way would still run inside the container."""
    with signals_deferred():
        for database in journal.databases:
            rollback_database(project, database)
        for volume in journal.volumes:
            rollback_files(project, volume)


def finish(project: DataProject, journal: RestoreJournal) -> None:
    """The restored data stays: drop the previous copies, each on its own thread (a database drop and a
    helper's `rm -rf` wait on different things). Interrupted, the journal stays and `up` finishes it."""
    from concurrent.futures import ThreadPoolExecutor

    steps = [partial(finish_database, project, d) for d in journal.databases]
    steps += [partial(finish_files, project, v) for v in journal.volumes]
    with ThreadPoolExecutor(max_workers=max(1, len(steps))) as pool:
        for done in [pool.submit(step) for step in steps]:
            done.result()


def _start_database_servers(project: DataProject, journal: RestoreJournal) -> bool:
    """A rollback talks to postgres: start its stopped container and wait until it answers."""
    from fovea_ctl.data.backup import exec_text

    for name in {d.service for d in journal.databases}:
        container = project.observe().container(name)
        if container is None:
            return False
        if not container.running:
            project.engine.start_container(container.id)
        deadline = time.monotonic() + 120
        while True:
            try:
                exec_text(project, container.id, ["pg_isready", "-q"])
                break
            except FoveaError:
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.5)
    return True


def recover_interrupted_restore(project: DataProject, note: Callable[[str], None] | None = None,
                                on_rolled_back: Callable[[RestoreJournal], None] | None = None) -> RestoreJournal | None:
    """Called by every command that changes the project (under its lock, see `Project.writing`): an
    interrupted restore in `staging` or `swapping` is rolled back now (then `on_rolled_back` gets its
    journal: what it had stopped); one in `swapped` is left for `up` to finish. Returns the journal still
    pending (swapped), else None."""
    journal = load_journal(project)
    if journal is None or owner_alive(project):
        return None
    say = note if callable(note) else (lambda text: sys.stderr.write(f"fovea: {text}\n"))
    if journal.phase == "swapped":
        say(f"an interrupted restore from {journal.backup_id} swapped its data in; the previous data is kept at "
            f"{journal.where_previous()} (`fovea restore --rollback` puts it back)")
        return journal
    if journal.databases and not _start_database_servers(project, journal):
        say(f"an interrupted restore from {journal.backup_id} must be rolled back, but its postgres is not running; "
            "start it with `fovea up postgres`, then run `fovea restore --rollback`")
        return journal
    rollback(project, journal)
    drop_journal(project)
    say(f"an interrupted restore from {journal.backup_id} ({journal.phase}) was rolled back: the live data is "
        "the data from before it")
    if on_rolled_back is not None:
        on_rolled_back(journal)
    return None
