"""`fovea restore`'s staging: each item restored beside the live data (a dump into a fresh database, files into
a hidden folder of the target volume), journalled before it exists, and dropped again by its `discard`.
`data.restore` orders the phases around it: checksums, staging, the swap, the restart.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from fovea_ctl.data.backup import (
    app_role,
    database_service,
    extensions_to_create,
    OLD_PREFIX,
    STAGING_PREFIX,
    ItemRecord,
    TransferProgress,
    chunks_to_fifo,
    counting,
    exec_text,
    helper_container,
    helper_with_fifo,
    image_for,
    mounting_service,
    postgres_access,
    psql,
    read_file_chunks,
    running_container,
)
from fovea_ctl.data.backup.tar_guard import guarded_tar, limited
from fovea_ctl.errors import BackupDamaged, FoveaError
from fovea_ctl.model import BackupStrategy, Service
from fovea_ctl.data.journal import (
    JournalDatabase,
    JournalVolume,
    RestoreJournal,
    save_journal,
)

if TYPE_CHECKING:
    from fovea_ctl.reconcile.project import Project


class Stage:
    """One item staged beside the live data: its journal entry swaps it in; `discard` drops it."""

    def __init__(self, item: ItemRecord, stop: set[str], transfer: str = "") -> None:
        self.item = item
        self.stop = stop  # services that must not run during the swap
        self.transfer = transfer

    def discard(self) -> None: ...


class DatabaseStage(Stage):
    def __init__(self, project: Project, item: ItemRecord, service: Service, container: str,
                 entry: JournalDatabase) -> None:
        super().__init__(item, project.stack.dependents(service.name), "pg_restore reading exec stdin")
        self.project, self.service, self.container, self.entry = project, service, container, entry

    def discard(self) -> None:
        from psycopg import sql

        try:
            psql(self.project, self.container, self.service,
                 sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(self.entry.staged)),
                 database="postgres")
        except FoveaError:
            pass


class VolumeStage(Stage):
    def __init__(self, project: Project, item: ItemRecord, entry: JournalVolume) -> None:
        users = {u.name for u in project.stack.units.values() if any(m.volume == item.name for m in u.mounts)}
        stop = set(users)
        for name in users:
            stop |= project.stack.dependents(name)
        super().__init__(item, stop)
        self.project, self.entry = project, entry

    def discard(self) -> None:
        try:
            with helper_container(self.project, self.entry.image, {"/v": self.entry.volume}) as helper:
                exec_text(self.project, helper, ["rm", "-rf", f"/v/{self.entry.staged}"])
        except FoveaError:
            pass


# Loads the RDB into a private redis, then turns AOF on so the stage has the same persistence files as a
# live redis started with --appendonly yes (which would ignore a bare dump.rdb).
RDB_TO_AOF = """set -e
S="/v/$1"
redis-server --dir "$S" --dbfilename dump.rdb --appendonly no --port 0 --unixsocket /tmp/restore.sock \
  --daemonize yes --logfile /tmp/restore.log --save ''
until [ "$(redis-cli -s /tmp/restore.sock ping 2>/dev/null)" = PONG ]; do sleep 0.1; done
redis-cli -s /tmp/restore.sock config set appendonly yes >/dev/null
while :; do
  info=$(redis-cli -s /tmp/restore.sock info persistence | tr -d '\\r')
  case "$info" in *aof_rewrite_in_progress:0*) case "$info" in *aof_rewrite_scheduled:0*) \
    ls "$S"/appendonlydir/*.manifest >/dev/null 2>&1 && break;; esac;; esac
  sleep 0.1
done
redis-cli -s /tmp/restore.sock shutdown save >/dev/null 2>&1 || true
"""


def stage_database(project: Project, folder: Path, item: ItemRecord, journal: RestoreJournal,
                    progress: TransferProgress, cancel: threading.Event) -> Stage:
    """The dump restored into a fresh database owned by the application's role (not a superuser), and
    everything in it handed to that role, so the application owns what it reads after the swap."""
    from psycopg import sql

    service = database_service(project, item)
    container = running_container(project, service)
    user, database = postgres_access(service)
    owner = app_role(service)
    extensions = extensions_to_create(service, item)
    entry = JournalDatabase(item=item.name, service=service.name, database=database,
                            staged=f"{database}_restore_{journal.tag}", old=f"{database}_old_{journal.tag}")
    journal.databases.append(entry)
    save_journal(project, journal)  # recorded before it exists: a kill from here on is cleaned up
    stage = DatabaseStage(project, item, service, container, entry)
    try:
        psql(project, container, service, sql.SQL("create database {} owner {}").format(
            sql.Identifier(entry.staged), sql.Identifier(owner)), database="postgres")
        for extension in extensions:  # made by the superuser: the application's role cannot
            psql(project, container, service, sql.SQL("create extension if not exists {}").format(sql.Identifier(extension)),
                 database=entry.staged)
        path = item.path_in(folder)
        progress.begin(item.name, path.stat().st_size)
        # pg_restore reads the archive on stdin: `--jobs` would need it as a file inside a container that
        # reaches the server, and this stage runs beside the (longer) file stage anyway (DESIGN.md, Backups).
        stream = project.engine.exec_stream(
            container, ["pg_restore", "-U", user, "-d", entry.staged, "--exit-on-error", "--no-owner", "--no-privileges"],
            user="postgres", stdin=_until(cancel, counting(read_file_chunks(path, identity=artifact_identity(item)),
                                                           lambda n: progress.advance(item.name, n))))
        b"".join(stream)
        if stream.exit_code != 0:
            raise FoveaError(f"{item.name}: pg_restore into {entry.staged} failed (exit {stream.exit_code}); live data "
                             f"untouched: {stream.stderr.decode(errors='replace').strip()[-600:]}")
        if owner != user:
            _hand_to_application(project, container, service, entry.staged, owner)
    except BaseException:
        stage.discard()
        raise
    return stage


# The postgres image's own script: everything in a database's public schema that is not the application's
# goes to it (extension members stay); its entrypoint runs it when it converts an older cluster.
OWNERSHIP_SQL = "/usr/local/share/fovea/app-role-ownership.sql"


def _hand_to_application(project: Project, container: str, service: Service, database: str, owner: str) -> None:
    """What pg_restore made (as the superuser: a dump may comment on an extension, which only its owner
    can) is handed to the application's role, which owns the database itself already."""
    from psycopg import sql

    user = postgres_access(service)[0]
    exec_text(project, container, ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-U", user, "-d", database,
                                   "-c", sql.SQL("set fovea.app = {}").format(sql.Literal(owner)).as_string(None),
                                   "-f", OWNERSHIP_SQL], user="postgres")


def stage_files(project: Project, folder: Path, item: ItemRecord, journal: RestoreJournal,
                 progress: TransferProgress) -> Stage:
    """The artifact unpacked into a hidden folder of the volume. Archives pass `tar_guard` on the way:
    only what `fovea backup` writes, nothing leading out of the volume, every file owned by the volume's
    service user without setuid/setgid bits, and never more bytes than the manifest records."""
    engine_name = project.settings.volume_name(item.name)
    created = ensure_volume(project, item.name)
    service = mounting_service(project, item.name)
    if service is None:
        raise FoveaError(f"{item.name}: no enabled service mounts this volume in the stack")
    target = next(m.target for m in service.mounts if m.volume == item.name)
    entry = JournalVolume(item=item.name, volume=engine_name, image=image_for(project, service),
                          staged=f"{STAGING_PREFIX}{journal.tag}", old=f"{OLD_PREFIX}{journal.tag}")
    journal.volumes.append(entry)
    save_journal(project, journal)
    stage = VolumeStage(project, item, entry)
    path = item.path_in(folder)
    progress.begin(item.name, item.source_bytes)
    staged = entry.staged
    tar = item.strategy == BackupStrategy.TAR.value
    chunks = counting(read_file_chunks(path, decompress=tar, identity=artifact_identity(item)),
                      lambda n: progress.advance(item.name, n))
    try:
        # The artifact is decompressed (and decrypted) here and read by the helper from a bind-mounted FIFO,
        # the backup's fast path backwards; over exec stdin when the engine cannot share a folder with us.
        with helper_with_fifo(project, entry.image, {"/v": engine_name}, _fifo_folder(project)) as (helper, fifo):
            owner = _service_owner(project, helper, target)
            if created:  # a volume made just now: its root belongs to the service user, as `up` would make it
                exec_text(project, helper, ["chown", f"{owner[0]}:{owner[1]}", "/v"])
            exec_text(project, helper, ["sh", "-c", f'mkdir "/v/{staged}" && chown {owner[0]}:{owner[1]} "/v/{staged}"'])
            limit = item.source_bytes if item.source_bytes is not None else -1
            chunks = guarded_tar(chunks, item.name, owner, limit) if tar else limited(chunks, item.name, limit)
            source = fifo.inside if fifo is not None else "-"
            stage.transfer = "a FIFO in a bind-mounted host folder" if fifo is not None else "exec stdin"
            if tar:
                # --read-full-records: a FIFO hands out short reads, which tar takes for a broken archive.
                command = ["tar", "--numeric-owner", "--read-full-records", "-xpf", source, "-C", f"/v/{staged}"]
            else:
                command = ["sh", "-c", f'cat "$0" > "/v/{staged}/dump.rdb" && chown {owner[0]}:{owner[1]} "/v/{staged}/dump.rdb"',
                           source]
            try:
                if fifo is not None:
                    chunks_to_fifo(project, helper, command, fifo, chunks)
                else:
                    exec_text(project, helper, command, stdin=chunks)
            except BackupDamaged:
                raise
            except FoveaError as exc:
                raise FoveaError(f"{item.name}: unpacking into a staging folder failed; live data untouched: "
                                 f"{exc.message}") from None
            if item.strategy == BackupStrategy.REDIS_RDB.value:
                exec_text(project, helper, ["sh", "-c", RDB_TO_AOF, "rdb", staged], user=f"{owner[0]}:{owner[1]}")
    except BaseException:
        stage.discard()
        raise
    return stage


def _fifo_folder(project: Project) -> Path:
    """Where a restore's FIFO lives: the state directory (this user's, 0700); the backup folder may be read-only."""
    return project.settings.private_state_dir()


def _service_owner(project: Project, helper: str, target: str) -> tuple[int, int]:
    """Who owns the volume's files: the owner the service's image gives its mount path (Docker copies it
    into a fresh volume), read in a helper of that image; the volume root's where the image has no such path."""
    found = exec_text(project, helper, ["sh", "-c", 'stat -c "%u %g" "$0" 2>/dev/null || stat -c "%u %g" /v', target]).split()
    return int(found[0]), int(found[1])


def ensure_volume(project: Project, volume: str) -> bool:
    """A target volume that `down --volumes` removed is created as `up` would (same labels); True if it was."""
    from fovea_ctl.docker.engine import create_stack_volume

    engine_name = project.settings.volume_name(volume)
    if engine_name in project.observe().volumes:
        return False
    create_stack_volume(project.engine, project.settings.project, engine_name, project.stack.volume(volume))
    return True


def artifact_identity(item: ItemRecord) -> object:
    """The age identity for an encrypted artifact (None for a plain one)."""
    if not item.encrypted:
        return None
    from fovea_ctl.data.backup.encryption import configured_identity

    return configured_identity(f"{item.name} ({item.artifact})")


def _until(cancel: threading.Event, chunks: Iterator[bytes]) -> Iterator[bytes]:
    """`chunks` until `cancel` is set: the reader then sees a cut stream and fails at once."""
    for chunk in chunks:
        if cancel.is_set():
            return
        yield chunk
