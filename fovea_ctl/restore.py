"""`fovea restore`: checksums first, then restore beside the live data and swap only on success.

Order: (1) every selected artifact's sha256 is checked, and a damaged backup is refused before anything
is touched; (2) each item is staged next to the live data while the services still run — a dump into a
fresh database, files into a hidden folder inside the target volume; a failure here drops the stage and
leaves the live data as it was; (3) the services that use the targets stop, dependents first; (4) the
stage is swapped in (database renames; file renames on one filesystem); (5) `Project.up` starts the
stopped services again and waits until they are ready.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from fovea_ctl.backup import (
    OLD_PREFIX,
    STAGING_PREFIX,
    AGE_IDENTITY_ENV,
    BackupManifest,
    ItemRecord,
    TransferProgress,
    counting,
    psql,
    check_checksums,
    decrypt_secrets,
    exec_text,
    helper_container,
    image_for,
    load_info,
    mounting_service,
    postgres_access,
    read_file_chunks,
    running_container,
)
from fovea_ctl.errors import BackupDamaged, FoveaError, ServiceFailed, UsageError
from fovea_ctl.model import BackupStrategy, Service

if TYPE_CHECKING:
    from fovea_ctl.progress import Reporter
    from fovea_ctl.project import Project


@dataclass
class RestoreResult:
    backup_id: str
    restored: dict[str, float] = field(default_factory=dict)  # item -> seconds
    skipped: dict[str, str] = field(default_factory=dict)
    stopped: list[str] = field(default_factory=list)
    restarted: list[str] = field(default_factory=list)


class _Stage:
    """One item staged beside the live data: `swap` puts it in place, `discard` drops it."""

    def __init__(self, item: ItemRecord, stop: set[str]) -> None:
        self.item = item
        self.stop = stop  # services that must not run during the swap

    def swap(self) -> None: ...

    def discard(self) -> None: ...


class _DatabaseStage(_Stage):
    def __init__(self, project: Project, item: ItemRecord, service: Service, container: str, staged: str) -> None:
        super().__init__(item, project.stack.dependents(service.name))
        self.project, self.service, self.container, self.staged = project, service, container, staged

    def swap(self) -> None:
        _, database = postgres_access(self.service)
        old = f"{self.staged}_old"
        psql(self.project, self.container, self.service,
              f"select pg_terminate_backend(pid) from pg_stat_activity where datname = '{database}' "
              "and pid <> pg_backend_pid()", database="postgres")
        psql(self.project, self.container, self.service, f'alter database "{database}" rename to "{old}"', database="postgres")
        try:
            psql(self.project, self.container, self.service,
                  f'alter database "{self.staged}" rename to "{database}"', database="postgres")
        except FoveaError:
            psql(self.project, self.container, self.service, f'alter database "{old}" rename to "{database}"', database="postgres")
            raise
        psql(self.project, self.container, self.service, f'drop database "{old}" with (force)', database="postgres")

    def discard(self) -> None:
        try:
            psql(self.project, self.container, self.service, f'drop database if exists "{self.staged}" with (force)',
                  database="postgres")
        except FoveaError:
            pass


SWAP_FILES = """set -e
cd /v
mkdir "$2"
find . -mindepth 1 -maxdepth 1 ! -name "$1" ! -name "$2" -exec mv -t "$2" {} +
find "$1" -mindepth 1 -maxdepth 1 -exec mv -t . {} +
rmdir "$1"
rm -rf "$2"
"""


class _VolumeStage(_Stage):
    def __init__(self, project: Project, item: ItemRecord, volume: str, image: str, staged: str) -> None:
        users = {u.name for u in project.stack.units.values() if any(m.volume == item.name for m in u.mounts)}
        stop = set(users)
        for name in users:
            stop |= project.stack.dependents(name)
        super().__init__(item, stop)
        self.project, self.volume, self.image, self.staged = project, volume, image, staged

    def swap(self) -> None:
        with helper_container(self.project, self.image, {"/v": self.volume}) as helper:
            exec_text(self.project, helper, ["sh", "-c", SWAP_FILES, "swap", self.staged,
                                             self.staged.replace(STAGING_PREFIX, OLD_PREFIX, 1)])

    def discard(self) -> None:
        try:
            with helper_container(self.project, self.image, {"/v": self.volume}) as helper:
                exec_text(self.project, helper, ["rm", "-rf", f"/v/{self.staged}"])
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


def _stage_database(project: Project, folder: Path, item: ItemRecord, tag: str, progress: TransferProgress) -> _Stage:
    service = project.stack.units.get(item.details.get("service", "postgres"))
    if service is None:
        raise FoveaError(f"{item.name}: the stack has no service {item.details.get('service')!r} to restore into")
    container = running_container(project, service)
    user, database = postgres_access(service)
    staged = f"{database}_restore_{tag}"
    psql(project, container, service, f'create database "{staged}"', database="postgres")
    stage = _DatabaseStage(project, item, service, container, staged)
    for extension in filter(None, item.details.get("extensions", "").split(",")):
        psql(project, container, service, f'create extension if not exists "{extension}"', database=staged)
    path = folder / str(item.artifact)
    progress.begin(item.name, path.stat().st_size)
    try:
        stream = project.engine.exec_stream(
            container, ["pg_restore", "-U", user, "-d", staged, "--exit-on-error", "--no-owner", "--no-privileges"],
            user="postgres", stdin=counting(read_file_chunks(path), lambda n: progress.advance(item.name, n)))
        b"".join(stream)
        if stream.exit_code != 0:
            raise FoveaError(f"{item.name}: pg_restore into {staged} failed (exit {stream.exit_code}); live data untouched: "
                             f"{stream.stderr.decode(errors='replace').strip()[-600:]}")
    except BaseException:
        stage.discard()
        raise
    return stage


def _stage_files(project: Project, folder: Path, item: ItemRecord, tag: str, progress: TransferProgress) -> _Stage:
    engine_name = project.settings.volume_name(item.name)
    _ensure_volume(project, item.name)
    service = mounting_service(project, item.name)
    if service is None:
        raise FoveaError(f"{item.name}: no enabled service mounts this volume in the stack")
    image = image_for(project, service)
    staged = f"{STAGING_PREFIX}{tag}"
    stage = _VolumeStage(project, item, engine_name, image, staged)
    path = folder / str(item.artifact)
    progress.begin(item.name, item.source_bytes)
    try:
        with helper_container(project, image, {"/v": engine_name}) as helper:
            exec_text(project, helper, ["sh", "-c", f'mkdir "/v/{staged}" && chown --reference=/v "/v/{staged}"'])
            if item.strategy == BackupStrategy.TAR.value:
                command = ["tar", "--numeric-owner", "-xpf", "-", "-C", f"/v/{staged}"]
                chunks = read_file_chunks(path, decompress=True)
            else:
                command = ["sh", "-c", f'cat > "/v/{staged}/dump.rdb" && chown --reference=/v "/v/{staged}/dump.rdb"']
                chunks = read_file_chunks(path)
            stream = project.engine.exec_stream(helper, command,
                                                stdin=counting(chunks, lambda n: progress.advance(item.name, n)))
            b"".join(stream)
            if stream.exit_code != 0:
                raise FoveaError(f"{item.name}: unpacking into a staging folder failed (exit {stream.exit_code}); "
                                 f"live data untouched: {stream.stderr.decode(errors='replace').strip()[-600:]}")
            if item.strategy == BackupStrategy.REDIS_RDB.value:
                owner = exec_text(project, helper, ["stat", "-c", "%u", "/v"]).strip()
                exec_text(project, helper, ["sh", "-c", RDB_TO_AOF, "rdb", staged], user=owner)
    except BaseException:
        stage.discard()
        raise
    return stage


def _ensure_volume(project: Project, volume: str) -> None:
    """A target volume that `down --volumes` removed is created as `up` would (same labels)."""
    from fovea_ctl.engine import create_stack_volume

    engine_name = project.settings.volume_name(volume)
    if engine_name in project.observe().volumes:
        return
    create_stack_volume(project.engine, project.settings.project, engine_name, project.stack.volume(volume))


def restore_backup(project: Project, folder: Path, reporter: Reporter, progress: TransferProgress,
                   only: list[str] | None = None) -> RestoreResult:
    from fovea_ctl.project import project_lock

    info = load_info(folder)
    manifest: BackupManifest = info.manifest
    result = RestoreResult(backup_id=manifest.id)
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
    volumes = {v.name for v in project.stack.volumes}
    for item in items:
        if item.kind == "volume" and item.name not in volumes:
            raise UsageError(f"the stack has no volume {item.name!r} to restore into")

    tag = f"{time.strftime('%Y%m%d%H%M%S')}_{uuid.uuid4().hex[:6]}"
    needs_db = [i for i in items if i.strategy == BackupStrategy.PG_DUMP.value]
    if needs_db:  # the database server itself must run: pg_restore talks to it
        service_name = needs_db[0].details.get("service", "postgres")
        _, applied = project.up(reporter, [service_name])
        if applied.failures:
            raise ServiceFailed(f"{service_name} did not become ready; nothing was restored")

    stages: list[_Stage] = []
    try:
        for item in items:
            started = time.monotonic()
            if item.strategy == BackupStrategy.PG_DUMP.value:
                stages.append(_stage_database(project, folder, item, tag, progress))
            elif item.strategy in (BackupStrategy.TAR.value, BackupStrategy.REDIS_RDB.value):
                stages.append(_stage_files(project, folder, item, tag, progress))
            elif item.name == "secrets":
                result.skipped[item.name] = _restore_secrets(project, folder, item)
                continue
            else:
                result.skipped[item.name] = ("a redacted copy of .env for reference; compare it with yours by hand"
                                             if item.name == "dotenv" else "no restore step for this item")
                continue
            result.restored[item.name] = round(time.monotonic() - started, 3)
            progress.end(item.name, f"staged in {result.restored[item.name]:.1f} s")
    except BaseException:
        for stage in stages:
            stage.discard()
        raise

    stop: set[str] = set().union(*(s.stop for s in stages)) if stages else set()
    try:
        with project_lock(project.settings):
            result.stopped = _stop_dependents_first(project, stop)
            for stage in stages:
                started = time.monotonic()
                stage.swap()
                result.restored[stage.item.name] += round(time.monotonic() - started, 3)
    except BaseException:
        for stage in stages:
            stage.discard()
        raise
    finally:
        if result.stopped:
            _, applied = project.up(reporter, result.stopped)
            result.restarted = [n for n in result.stopped if n in applied.runs]
            if applied.failures:
                raise ServiceFailed("restored, but services failed to start again: "
                                    + "; ".join(f.describe() for f in applied.failures))
    return result


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
    """Secrets come back only where none exist: a restore never overwrites a live secret silently."""
    import os

    identity = os.environ.get(AGE_IDENTITY_ENV)
    if not identity:
        return f"left encrypted: set {AGE_IDENTITY_ENV} to the age identity file to restore missing secrets"
    directory = project.settings.effective_secrets_dir
    restored = []
    with decrypt_secrets(folder / str(item.artifact), Path(identity)) as tar:
        for member in tar.getmembers():
            if not member.name.startswith("secrets/") or not member.isfile():
                continue
            name = member.name.removeprefix("secrets/")
            target = directory / name
            if target.exists():
                continue
            data = tar.extractfile(member)
            assert data is not None
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            from fovea_ctl.secrets import SecretStore

            SecretStore._write(target, data.read().decode())
            restored.append(name)
    return f"restored missing secrets: {', '.join(restored) or 'none (all present)'}"
