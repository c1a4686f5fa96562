"""Taking a backup: every item of a class into a hidden folder, fsynced, then renamed into place."""

from __future__ import annotations

import hashlib
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from fovea_ctl.backup.files import fsync_dir, write_json_atomic
from fovea_ctl.backup.manifest import MANIFEST, PARTIAL_PREFIX, BackupClass, BackupManifest, BackupResult, ItemRecord
from fovea_ctl.backup.progress import TransferProgress
from fovea_ctl.backup.strategies import BackupContext, backup_dotenv, backup_secrets, copy_items
from fovea_ctl.model import BackupStrategy, Priority

if TYPE_CHECKING:
    from fovea_ctl.project import Project

def stack_hash(project: Project) -> str:
    return hashlib.sha256(project.stack.model_dump_json().encode()).hexdigest()


def _new_id(root: Path, backup_class: BackupClass) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    backup_id = f"{stamp}-{backup_class.value}"
    n = 2
    while (root / backup_id).exists():
        backup_id = f"{stamp}-{backup_class.value}-{n}"
        n += 1
    return backup_id


def create_backup(project: Project, backup_class: BackupClass, root: Path, progress: TransferProgress) -> BackupResult:
    """Back up every item of the class into `root/<UTC timestamp>-<class>/`, atomically."""
    root.mkdir(parents=True, exist_ok=True)
    backup_id = _new_id(root, backup_class)
    partial = root / f"{PARTIAL_PREFIX}{backup_id}-{os.getpid()}"
    partial.mkdir()
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
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return BackupResult(path=final, manifest=manifest)
