"""Retention: the newest N backups of each class stay, and so does the newest verified one."""

from __future__ import annotations

import shutil
from pathlib import Path

from fovea_ctl.data.backup.catalog import list_backups
from fovea_ctl.data.backup.manifest import BackupClass
from fovea_ctl.errors import UsageError

def prune_backups(root: Path, project: str, keep: int) -> list[str]:
    """Remove all but the newest `keep` backups of each class; the newest verified one of a class stays."""
    if keep < 1:
        raise UsageError("--keep must be at least 1")
    removed = []
    backups = list_backups(root, project)
    for backup_class in BackupClass:
        of_class = [b for b in backups if b.manifest.backup_class is backup_class]
        newest_verified = next((b.id for b in reversed(of_class) if b.verified_ok), None)
        for backup in of_class[:-keep]:
            if backup.id == newest_verified:
                continue
            shutil.rmtree(backup.path)
            removed.append(backup.id)
    return removed
