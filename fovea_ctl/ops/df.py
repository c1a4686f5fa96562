"""`fovea df`: disk used by fovea's images, this project's volumes by backup priority class, and backups."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel

if TYPE_CHECKING:
    from fovea_ctl.reconcile.project import Project


class ImagesUsage(BaseModel):
    count: int
    bytes: int  # what they hold together (each shared layer once is not known: the sum of unique + shared once)
    reclaimable_bytes: int  # what `fovea images prune` (--keep 1) would free
    reclaimable_tags: int


class VolumeClassUsage(BaseModel):
    priority: str  # critical | important | recreatable
    volumes: dict[str, int]  # stack volume name -> bytes (-1: the engine did not say)
    bytes: int


class BackupsUsage(BaseModel):
    folder: str
    count: int
    bytes: int


class DiskUsage(BaseModel):
    images: ImagesUsage
    volumes: list[VolumeClassUsage]
    backups: BackupsUsage


def folder_bytes(path: Path) -> int:
    total = 0
    for entry in path.rglob("*") if path.is_dir() else []:
        try:
            if entry.is_file() and not entry.is_symlink():
                total += entry.stat().st_size
        except OSError:  # removed while walking (a prune beside us)
            pass
    return total


def disk_usage(project: Project) -> DiskUsage:
    from fovea_ctl.data.backup import backup_root, list_backups
    from fovea_ctl.docker.labels import LABEL_PRIORITY, LABEL_VOLUME
    from fovea_ctl.model import Priority
    from fovea_ctl.ops.prune import fovea_images, plan_prune

    images = fovea_images(project)
    shared = max((i.size - i.unique_size for i in images), default=0)  # the base layers most of them share
    prune = plan_prune(project, keep=1)
    sizes = project.engine.volume_sizes()
    classes: dict[str, dict[str, int]] = {p.value: {} for p in Priority}
    for name, volume in sorted(project.observe().volumes.items()):
        priority = volume.labels.get(LABEL_PRIORITY, Priority.CRITICAL.value)
        classes.setdefault(priority, {})[volume.labels.get(LABEL_VOLUME, name)] = sizes.get(name, -1)
    root = backup_root(project)
    backups = list_backups(root, project.settings.project) if root.is_dir() else []
    return DiskUsage(
        images=ImagesUsage(count=len(images), bytes=sum(i.unique_size for i in images) + shared,
                           reclaimable_bytes=prune.freed_bytes, reclaimable_tags=len(prune.remove)),
        volumes=[VolumeClassUsage(priority=priority, volumes=volumes, bytes=sum(max(0, s) for s in volumes.values()))
                 for priority, volumes in classes.items()],
        backups=BackupsUsage(folder=str(root), count=len(backups), bytes=folder_bytes(root)),
    )
