"""Write markers: has a volume changed since a backup? `down --volumes` asks before it removes one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fovea_ctl.backup.catalog import backup_root, list_backups
from fovea_ctl.backup.containers import any_image, exec_text, helper_container, image_for, mounting_service, psql, running_container
from fovea_ctl.errors import FoveaError
from fovea_ctl.model import BackupStrategy, Priority, Service, Volume

if TYPE_CHECKING:
    from fovea_ctl.observe import ObservedState
    from fovea_ctl.project import Project

# -- write markers: has a volume changed since a backup? ----------------------------------------------
LISTING = ("find /v -mindepth 1 \\( -name '.fovea-restore-*' -o -name '.fovea-old-*' \\) -prune -o "
           "-printf '%P\\t%y\\t%s\\t%T@\\t%m\\t%U:%G\\n' | LC_ALL=C sort | sha256sum | cut -c1-64")


# Row writes counted by the statistics collector, database oid included (a restore makes a new database).
# Not the WAL position: reads write WAL too (page pruning), which would make every backup look stale.
# The counters are flushed a moment after a commit, so a write racing the backup only ever makes it
# look stale, never fresh.
PG_WRITES = ("select d.oid || ':' || s.tup_inserted || ':' || s.tup_updated || ':' || s.tup_deleted "
             "from pg_stat_database s join pg_database d on d.oid = s.datid where d.datname = current_database()")


def pg_marker(project: Project, container: str, service: Service) -> str:
    return "pgwrites:" + psql(project, container, service, PG_WRITES)


def listing_marker(project: Project, container: str) -> str:
    return "files:" + exec_text(project, container, ["sh", "-c", LISTING]).strip()


def current_markers(project: Project, observed: ObservedState, volumes: list[Volume]) -> dict[str, str | None]:
    """Each volume's write marker now (None when it cannot be read: then no backup counts as fresh)."""
    markers: dict[str, str | None] = {}
    for volume in volumes:
        service = mounting_service(project, volume.name)
        engine_name = project.settings.volume_name(volume.name)
        try:
            if volume.backup_strategy is BackupStrategy.PG_DUMP:
                if service is None:
                    markers[volume.name] = None
                    continue
                markers[volume.name] = pg_marker(project, running_container(project, service, observed), service)
            elif volume.backup_strategy is BackupStrategy.TAR and engine_name in observed.volumes:
                image = image_for(project, service, observed) if service else any_image(project)
                with helper_container(project, image, {"/v": engine_name}, read_only=True) as helper:
                    markers[volume.name] = listing_marker(project, helper)
            else:
                markers[volume.name] = None
        except FoveaError:
            markers[volume.name] = None
    return markers



def fresh_backups(project: Project, observed: ObservedState) -> dict[str, str]:
    """Critical engine volumes that a verified backup taken after their last write covers: name -> backup id.

    Called by `down --volumes` before it stops anything (a stopping database writes a checkpoint).
    """
    backups = [b for b in list_backups(backup_root(project), project.settings.project) if b.verified_ok]
    if not backups:
        return {}
    critical = [v for v in project.stack.volumes if v.priority is Priority.CRITICAL
                and project.settings.volume_name(v.name) in observed.volumes]
    markers = current_markers(project, observed, critical)
    fresh: dict[str, str] = {}
    for volume in critical:
        marker = markers.get(volume.name)
        if marker is None:
            continue
        for backup in reversed(backups):
            item = next((i for i in backup.manifest.copied if i.name == volume.name), None)
            if item is not None and item.write_marker == marker:
                fresh[project.settings.volume_name(volume.name)] = backup.id
                break
    return fresh
