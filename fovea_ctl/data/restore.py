"""`fovea restore`: checksums first, then restore beside the live data and swap only on success.

Order: (1) every selected artifact's sha256 is checked, and a damaged backup is refused before anything
is touched; (2) missing secrets come back from the archive (only names the stack declares); (3) each item
is staged next to the live data while the services still run — a dump into a fresh database, files into a
hidden folder inside the target volume; a failure here drops the stage and leaves the live data as it was;
(4) under the project lock the services that use the targets stop, dependents first, and each stage is
swapped in, journalled (`data.journal`): any failure or signal rolls back to the previous data; (5)
`Project.up` starts the stopped services again, their init jobs (migrations) run again, and only once they
are ready is the previous copy dropped. `fovea restore --rollback` puts the previous copy back until then.
Staging (step 3) is `data.restore_stage`.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from fovea_ctl.data.backup import (
    AGE_IDENTITY_ENV,
    any_image,
    database_service,
    extensions_to_create,
    human,
    BackupManifest,
    InBackground,
    ItemRecord,
    TransferProgress,
    check_checksums,
    decrypt_secrets,
    exec_text,
    helper_container,
    image_for,
    load_info,
    mounting_service,
    permission_warnings,
)
from fovea_ctl.errors import BackupDamaged, FoveaError, ServiceFailed, UsageError
from fovea_ctl.model import BackupStrategy
from fovea_ctl.data.rotate import prepare_reapply_data_secrets
from fovea_ctl.core.signals import signals_deferred
from fovea_ctl.data.restore_stage import Stage, artifact_identity, ensure_volume, stage_database, stage_files
from fovea_ctl.data.journal import (
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
            artifact_identity(item)  # refused now, before anything is touched, when the key is missing
    return items


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


def _ready_before_the_swap(project: Project, stages: list[Stage],
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
        ensure_volume(project, name)
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


def _stage_all(project: Project, folder: Path, items: list[ItemRecord], journal: RestoreJournal,
               progress: TransferProgress, result: RestoreResult) -> list[Stage]:
    """Phase `staging`: every item beside the live data; on any failure or signal the stages go, live data stays.

    A database is restored by its own server (pg_restore in the postgres container), volume files by a
    helper's tar from the disk: they use different resources, so the database stages on a thread beside
    the files, and staging takes about as long as its longest item. Helpers stay on the calling thread, so
    Ctrl-C always reaches the code that removes them."""
    staged: dict[str, Stage] = {}
    cancel = threading.Event()

    def stage(item: ItemRecord) -> None:
        started = time.monotonic()
        if item.strategy == BackupStrategy.PG_DUMP.value:
            staged[item.name] = stage_database(project, folder, item, journal, progress, cancel)
        else:
            staged[item.name] = stage_files(project, folder, item, journal, progress)
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


def _swap(project: Project, journal: RestoreJournal, stages: list[Stage], result: RestoreResult,
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
