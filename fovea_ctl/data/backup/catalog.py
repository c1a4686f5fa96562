"""Where backups live, and finding them: the root folder, the listing, a backup by id or path."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from fovea_ctl.data.backup.manifest import MANIFEST, VERIFIED, BackupInfo, BackupManifest, VerifyRecord
from fovea_ctl.errors import BackupDamaged, UsageError

if TYPE_CHECKING:
    from fovea_ctl.data.project_protocol import DataProject

# -- where backups live -----------------------------------------------------------------------------
def backup_root(project: DataProject, override: Path | None = None) -> Path:
    """`--to`/`--dir`, else FOVEA_BACKUP_DIR, else `<root>/backups`."""
    if override is not None:
        return Path(override).resolve()
    env = os.environ.get("FOVEA_BACKUP_DIR")
    return Path(env).resolve() if env else project.settings.root / "backups"


def load_info(path: Path) -> BackupInfo:
    """A backup's manifest and verify record; a manifest that is not one fovea writes is BackupDamaged
    (an artifact named by a path, a field of the wrong type, ...)."""
    from pydantic import ValidationError

    try:
        manifest = BackupManifest.model_validate_json((path / MANIFEST).read_text())
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()][:5]
        raise BackupDamaged(f"backup {path.name}: its manifest is not one `fovea backup` writes: " + "; ".join(problems),
                            hint="do not trust this folder; restore from another backup (`fovea backup list`)") from None
    verified = None
    if (path / VERIFIED).is_file():
        try:
            verified = VerifyRecord.model_validate_json((path / VERIFIED).read_text())
        except ValueError:
            verified = None
    return BackupInfo(id=path.name, path=path, manifest=manifest, verified=verified)


def list_backups(root: Path, project: str | None = None) -> list[BackupInfo]:
    """Complete backups under `root` (oldest first); partial folders and other projects' are left out."""
    if not root.is_dir():
        return []
    found: list[BackupInfo] = []
    for path in sorted(root.iterdir()):
        if path.name.startswith(".") or not (path / MANIFEST).is_file():
            continue
        try:
            info = load_info(path)
        except (ValueError, OSError, BackupDamaged):
            continue
        if project is None or info.manifest.project == project:
            found.append(info)
    return sorted(found, key=lambda i: i.manifest.created_at)


def resolve_backup(root: Path, ref: str) -> Path:
    """A backup folder from a path or an id (`20250101T000000Z-critical`) under `root`."""
    candidates = [Path(ref), root / ref]
    for candidate in candidates:
        if (candidate / MANIFEST).is_file():
            return candidate.resolve()
    raise UsageError(f"no backup at {ref!r} (looked in {root})", hint="`fovea backup list` shows the ids")
