"""`fovea status`: one engine listing, then every probe once, in parallel, with a short timeout.

The JSON form is a versioned schema (`StatusReport`, schema_version 1) with a `ready` boolean per
service, so scripts can gate on it.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

from pydantic import BaseModel

from fovea_ctl.engine import ContainerView
from fovea_ctl.project import Project

SCHEMA_VERSION = 1


class ServiceStatus(BaseModel):
    name: str
    role: str  # service | job
    state: str  # running | exited | created | restarting | absent | unavailable
    ready: bool
    detail: str = ""
    health: str | None = None
    uptime_s: float | None = None
    restarts: int = 0
    exit_code: int | None = None
    ports: dict[str, int] = {}  # "5432/tcp" -> host port on 127.0.0.1
    image: str = ""


class StatusReport(BaseModel):
    schema_version: int = SCHEMA_VERSION
    project: str
    services: list[ServiceStatus]

    @property
    def all_ready(self) -> bool:
        return all(s.ready for s in self.services if s.state != "unavailable")


def _one(project: Project, name: str, container: ContainerView | None) -> ServiceStatus:
    from fovea_ctl.probes import ProbeFailed, probe_context_for, probe_once

    stack = project.stack
    unit = stack.units.get(name)
    if container is None:
        return ServiceStatus(name=name, role="job" if unit and unit.one_shot else "service", state="absent",
                             ready=False, detail="no container")
    details = project.engine.inspect_container(container.id)
    uptime = None
    if details.state == "running" and details.started_at:
        uptime = (datetime.now(timezone.utc) - details.started_at).total_seconds()
    status = ServiceStatus(
        name=name, role=container.role, state=details.state, ready=False, health=details.health,
        uptime_s=uptime, restarts=details.restart_count,
        exit_code=details.exit_code if details.state in ("exited", "dead") else None,
        ports={f"{c}/tcp": h for c, h in sorted(container.ports.items())}, image=container.image,
    )
    if unit is None:
        status.detail = "orphan: not in the stack"
        return status
    if unit.one_shot:
        status.ready = details.state == "exited" and details.exit_code == 0
        status.detail = "completed" if status.ready else f"job {details.state}"
        return status
    if details.state != "running":
        status.detail = f"{details.state} (exit {details.exit_code})"
        return status
    if unit.probe is None:
        status.ready, status.detail = True, "running (no probe)"
        return status
    context = probe_context_for(unit, stack, project.engine, container.id, password=project.secrets.value,
                                timeout_s=1.0)
    try:
        probe_once(unit.probe, context, quick=True)
        status.ready, status.detail = True, "probe passed"
    except ProbeFailed as exc:
        status.detail = str(exc)
    return status


def collect_status(project: Project) -> StatusReport:
    observed = project.observe()
    stack = project.stack
    names = list(stack.units) + [c for c in observed.containers if c not in stack.units]
    with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
        services = list(pool.map(lambda n: _one(project, n, observed.containers.get(n)), names))
    for skipped in stack.skipped:
        services.append(ServiceStatus(name=skipped.name, role="service", state="unavailable", ready=False,
                                      detail=skipped.unavailable_reason or ""))
    return StatusReport(project=project.settings.project, services=services)
