"""Taking a backup: every item of a class into a hidden folder, fsynced, then renamed into place."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from fovea_ctl.data.backup.files import PRIVATE_DIR, fsync_dir, make_private_dir, write_json_atomic
from fovea_ctl.data.backup.manifest import MANIFEST, PARTIAL_PREFIX, BackupClass, BackupManifest, BackupResult, ItemRecord
from fovea_ctl.core.transfer_progress import TransferProgress
from fovea_ctl.data.backup.strategies import BackupContext, backup_dotenv, backup_secrets, copy_items
from fovea_ctl.errors import FoveaError
from fovea_ctl.model import BackupStrategy, Priority

if TYPE_CHECKING:
    from fovea_ctl.data.project_protocol import DataProject

def stack_hash(project: DataProject) -> str:
    return hashlib.sha256(project.stack.model_dump_json().encode()).hexdigest()


def _new_id(root: Path, backup_class: BackupClass) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    backup_id = f"{stamp}-{backup_class.value}"
    n = 2
    while (root / backup_id).exists():
        backup_id = f"{stamp}-{backup_class.value}-{n}"
        n += 1
    return backup_id


def create_backup(project: DataProject, backup_class: BackupClass, root: Path, progress: TransferProgress) -> BackupResult:
    """Back up every item of the class into `root/<UTC timestamp>-<class>/`, atomically.

    Under the project lock, like `up`, `down` and `restore`: a backup never reads a service that another
    command is recreating (it waits for that command, or that command waits for it).
    """
    with project.writing(on_wait=lambda: progress.note("waiting: another fovea command holds this project"),
                         note=progress.note):
        if not root.is_dir():
            root.mkdir(parents=True, mode=PRIVATE_DIR)
        _remove_dead_partials(root, project.settings.project, progress)
        try:
            return _create(project, backup_class, root, progress)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise _destination_full(root, exc.strerror or str(exc)) from None
            raise


ROOM_NEEDED = 4 << 20  # less than this left after a failure: the destination was full


def _destination_full(root: Path, why: str) -> FoveaError:
    return FoveaError(f"backup destination {root} is full ({why}); the partial backup was removed and the live "
                      "data is untouched", hint="free space there, or back up elsewhere with --to")


def _partial_prefix(project: str) -> str:
    return f"{PARTIAL_PREFIX}{project}-"


def _remove_dead_partials(root: Path, project: str, progress: TransferProgress) -> None:
    """`.partial-<project>-<id>-<pid>` folders whose process is gone: a backup killed before it could
    clean up (SIGKILL, power loss). Never listed; removed here, under the lock, by the next backup."""
    for path in root.glob(f"{_partial_prefix(project)}*"):
        pid = path.name.rsplit("-", 1)[-1]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        shutil.rmtree(path, ignore_errors=True)
        progress.note(f"removed {path.name}, left by a backup that was killed")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _create(project: DataProject, backup_class: BackupClass, root: Path, progress: TransferProgress) -> BackupResult:
    backup_id = _new_id(root, backup_class)
    partial = root / f"{_partial_prefix(project.settings.project)}{backup_id}-{os.getpid()}"
    make_private_dir(partial)
    try:
        ctx = BackupContext(project, partial, progress)
        manifest = BackupManifest(id=backup_id, project=project.settings.project, backup_class=backup_class,
                                  created_at=datetime.now(UTC), stack_hash=stack_hash(project),
                                  engine_version=str(project.engine.version().get("Version", "")))
        records: dict[str, ItemRecord] = {}
        copied = []
        for volume in project.stack.volumes:
            if not backup_class.includes(volume.priority) or volume.backup_strategy is BackupStrategy.RECORD_ONLY:
                why = ("recreatable: recorded, not copied" if volume.priority is Priority.RECREATABLE
                       else f"{volume.priority.value}: not part of a {backup_class.value} backup")
                records[volume.name] = ItemRecord(name=volume.name, kind="volume", strategy=volume.backup_strategy.value,
                                                  skipped=why)
            else:
                copied.append(volume)
        records.update(copy_items(ctx, copied))
        manifest.items.extend(records[v.name] for v in project.stack.volumes)
        if backup_class is not BackupClass.CRITICAL:
            manifest.items.append(backup_dotenv(ctx))
            manifest.items.append(backup_secrets(ctx))
        for warning in ctx.warnings:
            progress.note(f"warning: {warning}")
        manifest.postgres_version = ctx.postgres_version
        manifest.warnings = ctx.warnings
        manifest.finished_at = datetime.now(UTC)
        write_json_atomic(partial / MANIFEST, manifest.model_dump_json(indent=2))
        fsync_dir(partial)
        final = root / backup_id
        os.rename(partial, final)
        fsync_dir(root)
    except BaseException as exc:
        # Whichever part noticed first (zstd, tar's broken pipe, a write), a destination with no room left
        # is named as such; measured before the partial folder frees its space.
        full = isinstance(exc, (OSError, FoveaError)) and shutil.disk_usage(root).free < ROOM_NEEDED
        shutil.rmtree(partial, ignore_errors=True)
        if full:
            raise _destination_full(root, "no space left on device") from None
        raise
    return BackupResult(path=final, manifest=manifest)
