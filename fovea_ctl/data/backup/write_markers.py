"""Write markers: has a volume changed since a backup? `down --volumes` asks before it removes one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fovea_ctl.data.backup.catalog import backup_root, list_backups
from fovea_ctl.data.backup.verify import check_checksums
from fovea_ctl.data.backup.containers import (any_image, exec_text, helper_container, image_for, mounting_service,
                                         postgres_access, psql, running_container)
from fovea_ctl.errors import FoveaError
from fovea_ctl.model import BackupStrategy, Priority, Service, Volume

if TYPE_CHECKING:
    from fovea_ctl.reconcile.observe import ObservedState
    from fovea_ctl.data.project_protocol import DataProject

# -- write markers: has a volume changed since a backup? ----------------------------------------------
# Names, types, sizes, mtimes (ns), modes and owners of every entry, sorted and hashed. Restore's own
# staging and previous-copy folders are left out: the restore journal accounts for those.
LISTING = ("find /v -mindepth 1 \\( -name '.fovea-restore-*' -o -name '.fovea-old-*' \\) -prune -o "
           "-printf '%P\\t%y\\t%s\\t%T@\\t%m\\t%U:%G\\n' | LC_ALL=C sort | sha256sum | cut -c1-64")

# Which cluster and database, and where its transactions and its WAL stand. Read before pg_dump takes its
# snapshot, and by `down --volumes` after every writer has stopped. The dump holds every committed write
# exactly when no transaction that changed the database completed after the marker was read:
# - `system_identifier` is chosen by initdb and the database oid by CREATE DATABASE: a fresh cluster
#   (which reuses the oids of a new cluster) or a restored database never matches an old backup.
# - `pg_current_snapshot()` is `xmin:xmax:in-progress xids` with 64-bit ids. Every change that a dump
#   holds runs in a transaction that is assigned an id, and an id that completes raises xmax or leaves
#   the in-progress list: an unchanged snapshot means no transaction completed since. Reading it assigns
#   no id. This alone is exact, but autovacuum's ANALYZE completes transactions too (it rewrites
#   pg_statistic, which no dump holds), so a second exact test decides when the snapshot moved:
# - the WAL between the two positions, read with pg_walinspect: no tuple insert, update, delete, multi-
#   insert or sequence record on any relation of the database other than pg_statistic (and its toast and
#   index). The WAL position alone is not compared: checkpoints, a clean shutdown's checkpoint, page
#   pruning on reads and hint-bit images move it without any write. This test is used only when no
#   transaction with an id was in progress at the marker (its in-progress list empty): the position is
#   read before the snapshot, so a transaction whose records lie before the position had its id before
#   the snapshot and had completed by then — inside pg_dump's later snapshot. When the WAL since is gone
#   (recycled after a checkpoint) or pg_walinspect is missing, only the snapshot counts: stale, never
#   wrongly fresh.
PG_POSITION = ("select (select system_identifier from pg_control_system()) || ' ' || "
               "(select oid from pg_database where datname = {database}) || ' ' || pg_current_wal_lsn(); "
               "select pg_current_snapshot()")
PG_WALINSPECT = "create extension if not exists pg_walinspect"
STATISTICS_FILENODES = ("select string_agg(pg_relation_filenode(c.oid)::text, ',') from pg_class c where c.oid = "
                        "'pg_statistic'::regclass or c.oid = (select reltoastrelid from pg_class where oid = 'pg_statistic'::regclass) "
                        "or c.oid in (select indexrelid from pg_index where indrelid in ('pg_statistic'::regclass, "
                        "(select reltoastrelid from pg_class where oid = 'pg_statistic'::regclass)))")
WAL_WRITES = ("select count(*) from pg_get_wal_block_info({since}, pg_current_wal_lsn()) b where b.reldatabase = {oid} "
              "and b.relfilenode not in ({excluded}) and ((b.resource_manager = 'Heap' and split_part(b.record_type, '+', 1) "
              "in ('INSERT', 'DELETE', 'UPDATE', 'HOT_UPDATE')) or (b.resource_manager = 'Heap2' and "
              "split_part(b.record_type, '+', 1) = 'MULTI_INSERT') or b.resource_manager = 'Sequence')")


def pg_position(project: DataProject, container: str, service: Service) -> tuple[str, str]:
    """(marker `pg:<cluster>:<database oid>:<WAL position>:<snapshot>`, the WAL position for the record)."""
    database = postgres_access(service)[1]
    try:
        psql(project, container, service, PG_WALINSPECT, database="postgres")  # before the marker: its commit precedes it
    except FoveaError:
        pass  # without it only the snapshot is compared
    from psycopg import sql

    first, snapshot = psql(project, container, service, sql.SQL(PG_POSITION).format(database=sql.Literal(database)),
                           database="postgres").splitlines()
    cluster, oid, lsn = first.split(" ")
    return f"pg:{cluster}:{oid}:{lsn}:{snapshot}", lsn


def pg_marker(project: DataProject, container: str, service: Service) -> str:
    return pg_position(project, container, service)[0]


def pg_unchanged(project: DataProject, container: str, service: Service, then: str, now: str) -> bool:
    """The database holds exactly what it held when marker `then` was read (see PG_POSITION)."""
    try:
        _, cluster, oid, lsn, snapshot = then.split(":", 4)
        _, cluster_now, oid_now, _, snapshot_now = now.split(":", 4)
    except ValueError:
        return False
    if (cluster, oid) != (cluster_now, oid_now):
        return False
    if snapshot == snapshot_now:
        return True
    if snapshot.split(":")[2] != "":  # a transaction with an id was in flight at the marker
        return False
    from psycopg import sql

    try:
        database = postgres_access(service)[1]
        excluded = psql(project, container, service, STATISTICS_FILENODES, database=database)
        # `lsn` comes from the backup's manifest: a value, quoted as one, never part of the statement
        statement = sql.SQL(WAL_WRITES).format(since=sql.Literal(lsn), oid=sql.Literal(int(oid)),
                                               excluded=sql.SQL(", ").join(sql.Literal(int(n)) for n in excluded.split(",")))
        writes = psql(project, container, service, statement, database="postgres")
    except (FoveaError, ValueError):  # the WAL since is recycled, pg_walinspect is missing, or the marker is not ours
        return False
    return writes == "0"


def listing_marker(project: DataProject, container: str) -> str:
    return "files:" + exec_text(project, container, ["sh", "-c", LISTING]).strip()


def current_markers(project: DataProject, observed: ObservedState, volumes: list[Volume]) -> dict[str, str]:
    """Each volume's write marker now; a volume whose marker cannot be read is left out (so no backup
    counts as holding it), its reason under the name prefixed with `!`."""
    markers: dict[str, str] = {}
    for volume in volumes:
        service = mounting_service(project, volume.name)
        engine_name = project.settings.volume_name(volume.name)
        try:
            if volume.backup_strategy is BackupStrategy.PG_DUMP:
                if service is None:
                    raise FoveaError("no enabled service mounts it")
                markers[volume.name] = pg_marker(project, running_container(project, service, observed), service)
            elif volume.backup_strategy is BackupStrategy.TAR and engine_name in observed.volumes:
                image = image_for(project, service, observed) if service else any_image(project)
                with helper_container(project, image, {"/v": engine_name}, read_only=True) as helper:
                    markers[volume.name] = listing_marker(project, helper)
            else:
                raise FoveaError(f"its strategy ({volume.backup_strategy.value}) keeps no write marker")
        except FoveaError as exc:
            markers[f"!{volume.name}"] = exc.message
    return markers


def marker_readers(project: DataProject) -> set[str]:
    """Services that must still run while `down --volumes` reads the markers (postgres answers for its
    data); every other service stops first, so nothing writes while they are compared."""
    readers = set()
    for volume in project.stack.volumes:
        if volume.priority is Priority.CRITICAL and volume.backup_strategy is BackupStrategy.PG_DUMP:
            service = mounting_service(project, volume.name)
            if service is not None:
                readers.add(service.name)
    return readers


@dataclass
class Coverage:
    covered: dict[str, str] = field(default_factory=dict)  # engine volume -> id of the backup holding its data
    why_not: dict[str, str] = field(default_factory=dict)  # engine volume -> why no backup counts


def fresh_backups(project: DataProject, observed: ObservedState) -> Coverage:
    """Which critical engine volumes a verified backup holds whole, and why the others are not held.

    Called by `down --volumes` after the writers stopped. A backup counts for a volume only when it is
    verified (for this very manifest), its artifact still has the checksum the manifest records (checked
    now, not trusted from the verify), and its marker equals the volume's marker now.
    """
    coverage = Coverage()
    critical = [v for v in project.stack.volumes if v.priority is Priority.CRITICAL
                and project.settings.volume_name(v.name) in observed.volumes]
    if not critical:
        return coverage
    backups = list_backups(backup_root(project), project.settings.project)
    verified = [b for b in backups if b.verified_ok]
    markers = current_markers(project, observed, critical) if verified else {}
    for volume in critical:
        engine_name = project.settings.volume_name(volume.name)
        if not verified:
            coverage.why_not[engine_name] = "there is no verified backup of this project"
            continue
        marker = markers.get(volume.name)
        if marker is None:
            coverage.why_not[engine_name] = f"its write marker cannot be read ({markers.get('!' + volume.name)})"
            continue
        holding = [b for b in reversed(verified) if any(i.name == volume.name for i in b.manifest.copied)]
        if not holding:
            coverage.why_not[engine_name] = "no verified backup has a copy of it"
            continue
        reasons: list[str] = []
        for backup in holding:
            item = backup.manifest.item(volume.name)
            if not _unchanged(project, observed, volume, item.write_marker, marker):
                if not reasons:
                    reasons.append(_what_changed(volume, backup.id, item.write_marker, marker))
                continue
            damaged = check_checksums(backup.path, backup.manifest, [volume.name])
            if damaged:
                reasons.append(f"backup {backup.id} holds it, but {'; '.join(damaged)} now")
                continue
            coverage.covered[engine_name] = backup.id
            break
        else:
            coverage.why_not[engine_name] = "; ".join(reasons)
    return coverage


def _unchanged(project: DataProject, observed: ObservedState, volume: Volume, then: str | None, now: str) -> bool:
    if then is None:
        return False
    if then == now:
        return True
    if volume.backup_strategy is BackupStrategy.PG_DUMP and then.startswith("pg:") and now.startswith("pg:"):
        service = mounting_service(project, volume.name)
        if service is None:
            return False
        try:
            container = running_container(project, service, observed)
        except FoveaError:
            return False
        return pg_unchanged(project, container, service, then, now)
    return False


def _what_changed(volume: Volume, backup_id: str, then: str | None, now: str) -> str:
    if then and then.startswith("pg:") and now.startswith("pg:"):
        if then.split(":")[1] != now.split(":")[1]:
            return f"the postgres cluster is not the one backup {backup_id} was taken from (a new cluster)"
        if then.split(":")[2] != now.split(":")[2]:
            return f"the database is not the one backup {backup_id} was taken from (restored or recreated since)"
        return (f"transactions completed since the newest verified backup {backup_id} "
                f"(snapshot {then.split(':', 4)[4]} then, {now.split(':', 4)[4]} now)")
    if then and not then.startswith("pg:") and now.startswith("pg:"):
        return f"backup {backup_id} recorded its postgres position in an older format"
    return f"files changed since the newest verified backup {backup_id}"
