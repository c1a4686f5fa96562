"""`fovea restore`: checksums first, then restore beside the live data and swap only on success.

Order: (1) every selected artifact's sha256 is checked, and a damaged backup is refused before anything
is touched; (2) missing secrets come back from the archive (only names the stack declares); (3) each item
is staged next to the live data while the services still run — a dump into a fresh database, files into a
hidden folder inside the target volume; a failure here drops the stage and leaves the live data as it was;
(4) under the project lock the services that use the targets stop, dependents first, and each stage is
swapped in, journalled (`data.journal`): any failure or signal rolls back to the previous data; (5)
`Project.up` starts the stopped services again, their init jobs (migrations) run again, and only once they
are ready is the previous copy dropped. `fovea restore --rollback` puts the previous copy back until then.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from fovea_ctl.data.backup import (
    AGE_IDENTITY_ENV,
    any_image,
    app_role,
    database_service,
    extensions_to_create,
    human,
    OLD_PREFIX,
    STAGING_PREFIX,
    BackupManifest,
    InBackground,
    ItemRecord,
    TransferProgress,
    check_checksums,
    chunks_to_fifo,
    counting,
    decrypt_secrets,
    exec_text,
    helper_container,
    helper_with_fifo,
    image_for,
    load_info,
    mounting_service,
    permission_warnings,
    postgres_access,
    psql,
    read_file_chunks,
    running_container,
)
from fovea_ctl.data.backup.tar_guard import guarded_tar, limited
from fovea_ctl.errors import BackupDamaged, FoveaError, ServiceFailed, UsageError
from fovea_ctl.model import BackupStrategy, Service
from fovea_ctl.data.rotate import prepare_reapply_data_secrets
from fovea_ctl.core.signals import signals_deferred
from fovea_ctl.data.journal import (
    JournalDatabase,
    JournalVolume,
    RestoreJournal,
    drop_journal,
    finish,
    journal_owner,
    load_journal,
    pause_point,
    rollback,
    save_journal,
    swap_database,
    swap_files,
)

if TYPE_CHECKING:
    from fovea_ctl.core.run_progress import Reporter
    from fovea_ctl.reconcile.project import Project


@dataclass
class RestoreResult:
    backup_id: str
    restored: dict[str, float] = field(default_factory=dict)  # item -> seconds
    transfers: dict[str, str] = field(default_factory=dict)  # item -> how its bytes reached the stage
    skipped: dict[str, str] = field(default_factory=dict)
    stopped: list[str] = field(default_factory=list)
    restarted: list[str] = field(default_factory=list)
    rerun_jobs: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class _Stage:
    """One item staged beside the live data: its journal entry swaps it in; `discard` drops it."""

    def __init__(self, item: ItemRecord, stop: set[str], transfer: str = "") -> None:
        self.item = item
        self.stop = stop  # services that must not run during the swap
        self.transfer = transfer

    def discard(self) -> None: ...


class _DatabaseStage(_Stage):
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


class _VolumeStage(_Stage):
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


def _stage_database(project: Project, folder: Path, item: ItemRecord, journal: RestoreJournal,
                    progress: TransferProgress, cancel: threading.Event) -> _Stage:
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
    stage = _DatabaseStage(project, item, service, container, entry)
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
            user="postgres", stdin=_until(cancel, counting(read_file_chunks(path, identity=_identity(item)),
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


def _stage_files(project: Project, folder: Path, item: ItemRecord, journal: RestoreJournal,
                 progress: TransferProgress) -> _Stage:
    """The artifact unpacked into a hidden folder of the volume. Archives pass `tar_guard` on the way:
    only what `fovea backup` writes, nothing leading out of the volume, every file owned by the volume's
    service user without setuid/setgid bits, and never more bytes than the manifest records."""
    engine_name = project.settings.volume_name(item.name)
    created = _ensure_volume(project, item.name)
    service = mounting_service(project, item.name)
    if service is None:
        raise FoveaError(f"{item.name}: no enabled service mounts this volume in the stack")
    target = next(m.target for m in service.mounts if m.volume == item.name)
    entry = JournalVolume(item=item.name, volume=engine_name, image=image_for(project, service),
                          staged=f"{STAGING_PREFIX}{journal.tag}", old=f"{OLD_PREFIX}{journal.tag}")
    journal.volumes.append(entry)
    save_journal(project, journal)
    stage = _VolumeStage(project, item, entry)
    path = item.path_in(folder)
    progress.begin(item.name, item.source_bytes)
    staged = entry.staged
    tar = item.strategy == BackupStrategy.TAR.value
    chunks = counting(read_file_chunks(path, decompress=tar, identity=_identity(item)),
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


def _ensure_volume(project: Project, volume: str) -> bool:
    """A target volume that `down --volumes` removed is created as `up` would (same labels); True if it was."""
    from fovea_ctl.docker.engine import create_stack_volume

    engine_name = project.settings.volume_name(volume)
    if engine_name in project.observe().volumes:
        return False
    create_stack_volume(project.engine, project.settings.project, engine_name, project.stack.volume(volume))
    return True


def _selected_items(project: Project, folder: Path, manifest: BackupManifest, only: list[str] | None) -> list[ItemRecord]:
    """The items to restore, refused (touching nothing) when one is damaged or has no target in the stack.

    Measured: hashing the volume artifacts on a thread beside their staging instead saved nothing on two
    cores (the staging then ran slower by as much), so every checksum is checked first."""
    items = manifest.copied
    if only:
        items = [manifest.item(name) for name in only]
        for item in items:
            if not item.artifact:
                raise UsageError(f"item {item.name} is not in backup {manifest.id}: {item.skipped}")
    problems = check_checksums(folder, manifest, [i.name for i in items])
    if problems:
        raise BackupDamaged(f"refusing to restore from {manifest.id}: it is damaged; nothing was touched\n  "
                            + "\n  ".join(problems), hint="restore from another backup (`fovea backup list`)")
    volumes = {v.name: v for v in project.stack.volumes}
    for item in items:
        if item.kind == "volume" and item.name not in volumes:
            raise UsageError(f"the stack has no volume {item.name!r} to restore into")
        if item.kind == "volume" and item.strategy != volumes[item.name].backup_strategy.value:
            raise BackupDamaged(f"{item.name}: the manifest says {item.strategy!r}, the stack backs this volume up with "
                                f"{volumes[item.name].backup_strategy.value!r}; nothing was touched")
        if item.strategy == BackupStrategy.PG_DUMP.value:
            extensions_to_create(database_service(project, item), item)  # refused now, before anything is touched
        elif item.kind == "volume" and item.source_bytes is None:
            raise BackupDamaged(f"{item.name}: the manifest records no size for it, so its unpacking could not be "
                                "bounded; nothing was touched")
        if item.encrypted and item.kind == "volume":
            _identity(item)  # refused now, before anything is touched, when the key is missing
    return items


def _identity(item: ItemRecord) -> object:
    """The age identity for an encrypted artifact (None for a plain one)."""
    if not item.encrypted:
        return None
    from fovea_ctl.data.backup.encryption import configured_identity

    return configured_identity(f"{item.name} ({item.artifact})")


def restore_backup(project: Project, folder: Path, reporter: Reporter, progress: TransferProgress,
                   only: list[str] | None = None) -> RestoreResult:
    """Checksums, secrets, staging beside the live data, a journalled swap, restart; the previous data is
    kept until the restored services are ready (see `data.journal`). All of it under the project lock
    (`Project.writing`): no other command changes the project while a restore runs."""
    info = load_info(folder)
    manifest: BackupManifest = info.manifest
    result = RestoreResult(backup_id=manifest.id)
    result.notes += permission_warnings(folder)
    with project.writing(note=result.notes.append) as pending:
        if pending is not None:
            raise FoveaError(f"an earlier restore from {pending.backup_id} is not finished; its previous data is at "
                             f"{pending.where_previous()}",
                             hint="`fovea up` finishes it, `fovea restore --rollback` undoes it")
        items = _selected_items(project, folder, manifest, only)
        # Secrets first, before anything starts: a service started now would generate the missing ones.
        for item in items:
            if item.name == "secrets":
                result.skipped[item.name] = _restore_secrets(project, folder, item)
        needs_db = [i for i in items if i.strategy == BackupStrategy.PG_DUMP.value]
        if needs_db:  # the database server itself must run: pg_restore talks to it
            service_name = needs_db[0].details.get("service", "postgres")
            _, applied = project.up(reporter, [service_name])
            if applied.failures:
                raise ServiceFailed(f"{service_name} did not become ready; nothing was restored")
        with journal_owner(project):
            _check_free_space(project, items)
            journal = RestoreJournal(backup_id=manifest.id, tag=f"{time.strftime('%Y%m%d%H%M%S')}_{uuid.uuid4().hex[:6]}",
                                     pid=os.getpid())
            # The live secrets win over the restored data. Their values are read while every service still
            # runs, beside the staging; the swap runs their hooks (`Secret.applied_by`), and a restore whose
            # live secrets cannot be written is rolled back.
            live_secrets = InBackground("live-secrets", partial(prepare_reapply_data_secrets, project)) if needs_db else None
            stages = _stage_all(project, folder, items, journal, progress, result)
            apply_live_secrets = _ready_before_the_swap(project, stages, live_secrets)
            _swap(project, journal, stages, result, apply_live_secrets)
            _restart(project, journal, reporter, result)
    return result


def _ready_before_the_swap(project: Project, stages: list[_Stage],
                           live_secrets: InBackground[Callable[[], list[str]]] | None) -> Callable[[], list[str]] | None:
    """The live secrets' writes, prepared before anything is stopped; a failure here drops the stages
    and leaves every service and the live data as they were."""
    if live_secrets is None:
        return None
    try:
        return live_secrets.result()
    except BaseException as exc:
        for stage in stages:
            stage.discard()
        drop_journal(project)
        if isinstance(exc, FoveaError):
            raise FoveaError(f"the live secrets could not be prepared for the restored data ({exc.message}); nothing "
                             "was swapped in, the live data is untouched") from None
        raise


FREE_SPACE_MARGIN = 64 << 20  # room left for the filesystem's own metadata and the services' writes meanwhile


def _check_free_space(project: Project, items: list[ItemRecord]) -> None:
    """Every target volume's filesystem must hold what the restore stages there, beside the live data:
    checked before anything is written. Volumes on one filesystem add up (the engine keeps them side by
    side); a database needs its recorded size, Redis its RDB twice (the RDB and the AOF made from it)."""
    needs: dict[str, int] = {}
    for item in items:
        if item.kind != "volume":
            continue
        size = item.source_bytes or item.size
        needs[item.name] = 2 * size if item.strategy == BackupStrategy.REDIS_RDB.value else size
    if not needs:
        return
    for name in needs:
        _ensure_volume(project, name)
    volumes = {f"/v{n}": project.settings.volume_name(name) for n, name in enumerate(needs)}
    service = mounting_service(project, next(iter(needs)))
    image = image_for(project, service) if service is not None else any_image(project)
    with helper_container(project, image, volumes, read_only=True) as helper:
        # filesystem id, free blocks for unprivileged users, block size: one line per mount point
        stats = exec_text(project, helper, ["stat", "-f", "-c", "%i %a %S", *volumes]).strip().splitlines()
    by_filesystem: dict[str, tuple[int, int, list[str]]] = {}
    for name, line in zip(needs, stats, strict=True):
        fsid, blocks, block_size = line.split()
        _, needed, names = by_filesystem.get(fsid, (0, 0, []))
        by_filesystem[fsid] = (int(blocks) * int(block_size), needed + needs[name], [*names, name])
    for free, needed, names in by_filesystem.values():
        if needed + FREE_SPACE_MARGIN > free:
            raise FoveaError(f"not enough free space to stage {', '.join(names)} beside the live data: "
                             f"{human(needed)} needed (plus {human(FREE_SPACE_MARGIN)} to spare), {human(free)} free; "
                             "nothing was touched", hint="free space on the engine's volume filesystem, then retry")


def _until(cancel: threading.Event, chunks: Iterator[bytes]) -> Iterator[bytes]:
    """`chunks` until `cancel` is set: the reader then sees a cut stream and fails at once."""
    for chunk in chunks:
        if cancel.is_set():
            return
        yield chunk


def _stage_all(project: Project, folder: Path, items: list[ItemRecord], journal: RestoreJournal,
               progress: TransferProgress, result: RestoreResult) -> list[_Stage]:
    """Phase `staging`: every item beside the live data; on any failure or signal the stages go, live data stays.

    A database is restored by its own server (pg_restore in the postgres container), volume files by a
    helper's tar from the disk: they use different resources, so the database stages on a thread beside
    the files, and staging takes about as long as its longest item. Helpers stay on the calling thread, so
    Ctrl-C always reaches the code that removes them."""
    staged: dict[str, _Stage] = {}
    cancel = threading.Event()

    def stage(item: ItemRecord) -> None:
        started = time.monotonic()
        if item.strategy == BackupStrategy.PG_DUMP.value:
            staged[item.name] = _stage_database(project, folder, item, journal, progress, cancel)
        else:
            staged[item.name] = _stage_files(project, folder, item, journal, progress)
        result.restored[item.name] = round(time.monotonic() - started, 3)
        result.transfers[item.name] = staged[item.name].transfer
        progress.end(item.name, f"staged in {result.restored[item.name]:.1f} s")

    save_journal(project, journal)
    databases: list[InBackground[None]] = []
    try:
        databases = [InBackground(f"stage-{item.name}", partial(stage, item))
                     for item in items if item.strategy == BackupStrategy.PG_DUMP.value]
        pause_point("staging")
        for item in items:
            if item.strategy in (BackupStrategy.TAR.value, BackupStrategy.REDIS_RDB.value):
                stage(item)
            elif item.strategy != BackupStrategy.PG_DUMP.value and item.name != "secrets":
                result.skipped[item.name] = ("a redacted copy of .env for reference; compare it with yours by hand"
                                             if item.name == "dotenv" else "no restore step for this item")
        if journal.volumes and project.engine.is_local_socket():
            # The swap flushes the staged files first (`data.journal.MOVE_ASIDE`); with the engine on
            # this machine their write-back starts now, beside the database still staging.
            threading.Thread(target=os.sync, daemon=True, name="flush-staged").start()
        for database in databases:
            database.result()
    except BaseException:
        cancel.set()  # a database still staging stops reading and drops its stage
        for database in databases:
            database.wait()
        for done in staged.values():
            done.discard()
        drop_journal(project)
        raise
    return [staged[item.name] for item in items if item.name in staged]


def _swap(project: Project, journal: RestoreJournal, stages: list[_Stage], result: RestoreResult,
          apply_live_secrets: Callable[[], list[str]] | None) -> None:
    """Phase `swapping`: stop the users, swap each item in, write the live secrets into the restored data;
    any failure or signal rolls every item back to the previous data (and the journal lets the next
    command finish that), so the data and the secrets never disagree."""
    stop: set[str] = set().union(*(s.stop for s in stages)) if stages else set()
    try:
        try:
            journal.phase = "swapping"
            save_journal(project, journal)
            result.stopped = _stop_dependents_first(project, stop)
            journal.stopped = result.stopped
            result.rerun_jobs = _init_jobs_of(project, stop)
            save_journal(project, journal)
            for database in journal.databases:
                swap_database(project, database)
            for volume in journal.volumes:
                swap_files(project, volume)
            if apply_live_secrets is not None:
                with signals_deferred():
                    try:
                        result.notes += apply_live_secrets()
                    except FoveaError as exc:
                        raise FoveaError(f"the live secrets could not be written into the restored data ({exc.message}); "
                                         "rolled back: the live data is the data from before the restore") from None
            journal.phase = "swapped"
            save_journal(project, journal)
        except BaseException:
            try:
                rollback(project, journal)
                drop_journal(project)
            except BaseException as exc:  # the journal stays: the next fovea command rolls back
                result.notes.append(f"rollback did not finish ({exc}); the next fovea command finishes it")
            raise
    except BaseException:
        if result.stopped:
            project.up(_quiet(), result.stopped)
        raise


def _restart(project: Project, journal: RestoreJournal, reporter: Reporter, result: RestoreResult) -> None:
    """Phase `swapped`: the restored data's init jobs (migrations) run again, then what was stopped
    starts; only once it is ready is the previous copy dropped."""
    try:
        pause_point("restart")
        failures: list[str] = []
        try:
            _rerun_init_jobs(project, result.rerun_jobs)
        except ServiceFailed as exc:
            failures.append(exc.message)
        targets = sorted(journal.stopped)
        if targets and not failures:
            _, applied = project.up(reporter, targets)
            result.restarted = [n for n in journal.stopped if n in applied.runs]
            failures = [f.describe() for f in applied.failures]
        if failures:
            raise ServiceFailed("restored, but services failed to start again: " + "; ".join(failures),
                                hint=f"the previous data is kept at {journal.where_previous()}; "
                                     "`fovea restore --rollback` puts it back")
    except KeyboardInterrupt:
        sys.stderr.write(f"fovea: interrupted after the swap: the restored data is live; the previous data is kept at "
                         f"{journal.where_previous()} (`fovea restore --rollback` puts it back)\n")
        raise
    finish(project, journal)
    drop_journal(project)


def _init_jobs_of(project: Project, stopped_set: set[str]) -> list[str]:
    """Init jobs (migrations) of the services whose data is restored, in dependency order."""
    observed = project.observe()
    return [name for name in project.stack.dependency_order() if name in stopped_set
            and project.stack.units[name].one_shot and observed.container(name) is not None]


def _rerun_init_jobs(project: Project, jobs: list[str]) -> None:
    """Each job's own container runs its command again (an older schema is migrated) before its service
    starts. Started again, not recreated: the container and its network identity stay as `up` made them."""
    for name in jobs:
        container = project.observe().container(name)
        if container is None:
            continue
        project.engine.start_container(container.id)
        deadline = time.monotonic() + 600
        while (details := project.engine.inspect_container(container.id)).state not in ("exited", "dead"):
            if time.monotonic() > deadline:
                raise ServiceFailed(f"{name} did not finish within 600 s on the restored data")
            time.sleep(0.05)  # a migration that has nothing to do ends in ~0.5 s
        if details.exit_code != 0:
            tail = "\n    ".join(project.engine.log_tail(container.id, 20))
            raise ServiceFailed(f"{name} failed on the restored data (exit {details.exit_code}):\n    {tail}")


def rollback_restore(project: Project, reporter: Reporter) -> RestoreResult:
    """`fovea restore --rollback`: the previous data of the last restore back in place, its services restarted."""
    with project.writing(), journal_owner(project):
        journal = load_journal(project)  # read under the lock: an interrupted one was just rolled back
        if journal is None:
            raise UsageError("there is no restore to roll back (no restore journal)")
        result = RestoreResult(backup_id=journal.backup_id)
        if journal.databases:
            _, applied = project.up(reporter, sorted({d.service for d in journal.databases}))
            if applied.failures:
                raise ServiceFailed("postgres did not become ready; nothing was rolled back")
        stop: set[str] = set()
        for database in journal.databases:
            stop |= project.stack.dependents(database.service)
        for volume in journal.volumes:
            item = project.stack.volume(volume.item).name
            users = {u.name for u in project.stack.units.values() if any(m.volume == item for m in u.mounts)}
            stop |= users.union(*(project.stack.dependents(u) for u in users))
        result.stopped = _stop_dependents_first(project, stop)
        result.rerun_jobs = _init_jobs_of(project, stop)
        rollback(project, journal)
        drop_journal(project)
        _rerun_init_jobs(project, result.rerun_jobs)
        targets = sorted(set(result.stopped) | set(journal.stopped))
        if targets:
            _, applied = project.up(reporter, targets)
            result.restarted = [n for n in targets if n in applied.runs]
            if applied.failures:
                raise ServiceFailed("rolled back, but services failed to start again: "
                                    + "; ".join(f.describe() for f in applied.failures))
    result.notes.append(f"rolled back: the data from before the restore of {journal.backup_id} is live again")
    return result


def _quiet() -> Reporter:
    from fovea_ctl.core.run_progress import PlainReporter

    return PlainReporter(stream=open(os.devnull, "w"))


def _stop_dependents_first(project: Project, names: set[str]) -> list[str]:
    """Stop the running containers among `names`, each after the ones that depend on it; the stopped names."""
    observed = project.observe()
    order = [n for n in reversed(project.stack.dependency_order()) if n in names]
    stopped = []
    for name in order:
        container = observed.container(name)
        if container is None or not container.running:
            continue
        project.engine.stop_container(container.id, project.stack.units[name].stop_timeout_s)
        stopped.append(name)
    return list(reversed(stopped))


def _restore_secrets(project: Project, folder: Path, item: ItemRecord) -> str:
    """Secrets come back only where none exist: a restore never overwrites a live secret silently.

    The archive is checked whole before anything is written: every member must be `dotenv` or
    `secrets/<a secret the stack declares>`, a regular file. Anyone can encrypt to the user's public key,
    so a member name is never trusted as a path.
    """
    identity = os.environ.get(AGE_IDENTITY_ENV)
    if not identity:
        return f"left encrypted: set {AGE_IDENTITY_ENV} to the age identity file to restore missing secrets"
    store = project.secrets
    declared = set(store.declared)
    with decrypt_secrets(item.path_in(folder), Path(identity)) as tar:
        members = tar.getmembers()
        wanted = []
        for member in members:
            if member.name == "dotenv" and member.isfile():
                continue
            name = member.name.removeprefix("secrets/")
            if not member.name.startswith("secrets/") or name not in declared or not member.isfile():
                what = "a link" if member.issym() or member.islnk() else ("not a regular file" if not member.isfile()
                                                                           else "not a secret this stack declares")
                raise BackupDamaged(f"refusing the secrets of {folder.name}: the archive holds {member.name!r} ({what}); "
                                    f"only secrets/<{'|'.join(sorted(declared))}> are restored; nothing was written",
                                    hint="this archive was not written by `fovea backup`; do not trust it")
            wanted.append((name, member))
        restored = []
        for name, member in wanted:
            if store.supplied_by_user(name) or (store.directory / name).exists():
                continue
            data = tar.extractfile(member)
            assert data is not None
            store.write(name, data.read().decode())
            restored.append(name)
    return f"restored missing secrets: {', '.join(restored) or 'none (all present)'}"
