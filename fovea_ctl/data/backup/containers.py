"""Reaching a volume's data through the engine: the service that mounts it, its image, throwaway helper
containers, and short commands (psql) inside a running service."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from fovea_ctl.data.backup.manifest import ItemRecord
from fovea_ctl.docker.labels import helper_labels
from fovea_ctl.errors import BackupDamaged, FoveaError
from fovea_ctl.model import Service

if TYPE_CHECKING:
    from psycopg.sql import Composable

    from fovea_ctl.reconcile.observe import ObservedState
    from fovea_ctl.data.project_protocol import DataProject


# -- engine helpers ---------------------------------------------------------------------------------
def mounting_service(project: DataProject, volume: str) -> Service | None:
    for unit in project.stack.units.values():
        if not unit.job_of and any(m.volume == volume for m in unit.mounts):
            return unit
    return None


def image_for(project: DataProject, service: Service, observed: ObservedState | None = None) -> str:
    """The image a service runs now (its container's), else the one the stack resolves to."""
    observed = observed or project.observe()
    container = observed.container(service.name)
    if container is not None and container.image_id:
        return container.image_id
    resolved = project.resolver().resolve(service)
    if resolved.missing:
        raise FoveaError(f"image {resolved.ref} of {service.name} is not built", hint="run `fovea images build`")
    return resolved.ref


@contextmanager
def helper_container(project: DataProject, image: str, volumes: dict[str, str], read_only: bool = False,
                     binds: dict[str, Path] | None = None) -> Iterator[str]:
    """A throwaway, network-less container with the given engine volumes mounted (target -> volume) and
    host folders bind-mounted read-write (target -> host path; only for a local engine)."""
    engine = project.engine
    name = f"{project.settings.project}-helper-{uuid.uuid4().hex[:8]}"
    cid = engine.run_helper(name, image, helper_labels(project.settings.project),
                            volume_mounts=[(v, t, read_only) for t, v in volumes.items()],
                            bind_mounts=[(str(h), t, False) for t, h in (binds or {}).items()])
    try:
        yield cid
    finally:
        try:
            engine.remove_helper(cid)
        except FoveaError:
            pass


def exec_text(project: DataProject, container: str, command: list[str], user: str | None = None,
              stdin: Iterator[bytes] | None = None) -> str:
    """Run a short command; its stdout, or a FoveaError carrying its stderr."""
    stream = project.engine.exec_stream(container, command, user=user, stdin=stdin)
    out = b"".join(stream)
    if stream.exit_code != 0:
        raise FoveaError(f"`{' '.join(command)[:120]}` exited {stream.exit_code}: "
                         f"{stream.stderr.decode(errors='replace').strip()[-800:]}")
    return out.decode(errors="replace")


def running_container(project: DataProject, service: Service, observed: ObservedState | None = None) -> str:
    observed = observed or project.observe()
    container = observed.container(service.name)
    if container is None or not container.running:
        raise FoveaError(f"{service.name} is not running; its data is read through it",
                         hint=f"start it with `fovea up {service.name}`, then retry")
    return container.id


def postgres_access(service: Service) -> tuple[str, str]:
    """The cluster's superuser and the application's database: what fovea's maintenance (dumps, restores,
    rotations) uses, over the local socket inside the container."""
    return service.env.get("POSTGRES_USER", "postgres"), service.env.get("POSTGRES_DB", service.env.get("POSTGRES_USER", "postgres"))


def app_role(service: Service) -> str:
    """The role the application logs in as and that owns its database (not a superuser, see the image)."""
    return service.env.get("POSTGRES_APP_USER") or postgres_access(service)[0]


def declared_extensions(service: Service) -> list[str]:
    """The extensions the stack declares for this database (POSTGRES_EXTENSIONS): the only ones fovea makes."""
    return [name for name in service.env.get("POSTGRES_EXTENSIONS", "").split(",") if name]


def database_service(project: DataProject, item: ItemRecord) -> Service:
    """The service a database item of a backup belongs to: named by the manifest, and only one of the
    stack's that mounts that item's volume (a manifest cannot send SQL to another service)."""
    name = item.details.get("service", "postgres")
    service = project.stack.units.get(name)
    if service is None or not any(m.volume == item.name for m in service.mounts):
        raise BackupDamaged(f"{item.name}: the manifest names service {name!r}, which does not hold this volume in the stack",
                            hint="this manifest was not written by `fovea backup` for this stack; do not trust it")
    return service


def extensions_to_create(service: Service, item: ItemRecord) -> list[str]:
    """The extensions a dump needs before pg_restore (recorded in its manifest), each one the stack declares;
    anything else refuses the backup: a manifest never chooses what SQL runs."""
    recorded = [name for name in item.details.get("extensions", "").split(",") if name]
    undeclared = [name for name in recorded if name not in declared_extensions(service)]
    if undeclared:
        raise BackupDamaged(f"{item.name}: the manifest asks for extensions {', '.join(map(repr, undeclared))}, which the "
                            f"stack does not declare (declared: {', '.join(declared_extensions(service)) or 'none'}); "
                            "nothing was touched", hint="this manifest was not written by `fovea backup` for this stack; "
                                                        "do not trust it")
    return recorded


def psql(project: DataProject, container: str, service: Service, sql: str | Composable, database: str | None = None) -> str:
    """One statement as the superuser over the local socket. Build statements that carry names or values
    with psycopg's `sql` module (identifiers and literals quoted by it), never by pasting strings."""
    user, db = postgres_access(service)
    text = sql if isinstance(sql, str) else sql.as_string(None)
    return exec_text(project, container, ["psql", "-X", "-v", "ON_ERROR_STOP=1", "-U", user, "-d", database or db,
                                          "-Atc", text], user="postgres").strip()



def any_image(project: DataProject) -> str:
    for unit in project.stack.units.values():
        resolved = project.resolver().resolve(unit)
        if not resolved.missing:
            return resolved.ref
    raise FoveaError("no fovea image is built to run a helper container", hint="run `fovea images build`")
