"""`fovea swarm status` (observed state read back from the engine's labels) and `fovea swarm down`."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import BaseModel

from fovea_ctl.errors import EngineError
from fovea_ctl.docker.labels import LABEL_PRIORITY, LABEL_VOLUME
from fovea_ctl.model import Priority
from fovea_ctl.probes import ProbeFailed, probe_context_for, probe_once
from fovea_ctl.docker.swarm import SwarmEngine, SwarmServiceView
from fovea_ctl.render.swarm_spec import network_name

if TYPE_CHECKING:
    from fovea_ctl.reconcile.project import Project

REMOVAL_WAIT_S = 120.0


class SwarmServiceStatus(BaseModel):
    name: str
    role: str  # service | job
    desired: int  # replicas (a job: 1)
    running: int  # tasks running (a job: completed)
    ready: bool
    detail: str = ""
    ports: dict[str, int] = {}
    image: str = ""
    config_hash: str = ""


class SwarmStatus(BaseModel):
    schema_version: int = 1
    project: str
    services: list[SwarmServiceStatus]

    @property
    def all_ready(self) -> bool:
        return bool(self.services) and all(s.ready for s in self.services)


def _one(project: Project, swarm: SwarmEngine, service: SwarmServiceView) -> SwarmServiceStatus:
    unit = project.stack.units.get(service.unit)
    tasks = [t for t in swarm.tasks(service.id) if t.config_hash == service.config_hash]
    job = service.replicas is None
    status = SwarmServiceStatus(
        name=service.unit or service.name, role="job" if job else "service", desired=1 if job else service.replicas or 0,
        running=0, ready=False, ports={f"{t}/tcp": p for t, p in sorted(service.ports.items())}, image=service.image,
        config_hash=service.config_hash)
    if job:
        status.running = sum(t.state == "complete" for t in tasks)
        status.ready = status.running >= 1
        status.detail = "completed" if status.ready else ", ".join(sorted({t.state for t in tasks})) or "no task"
        return status
    running = [t for t in tasks if t.state == "running" and t.container_id]
    status.running = len(running)
    if unit is None:
        status.detail = "orphan: not in the stack"
        return status
    if status.running < status.desired:
        errors = sorted({t.error for t in tasks if t.error})
        status.detail = f"{status.running}/{status.desired} tasks running" + (f": {errors[-1]}" if errors else "")
        return status
    if unit.probe is None:
        status.ready, status.detail = True, "running (no probe)"
        return status
    try:
        for task in running:
            assert task.container_id is not None
            context = probe_context_for(unit, project.stack, project.engine, task.container_id,
                                        password=project.secrets.value, timeout_s=1.0,
                                        secrets_dir=str(project.settings.effective_secrets_dir))
            probe_once(context, quick=True)
        status.ready, status.detail = True, "probe passed" + (f" in {len(running)} tasks" if len(running) > 1 else "")
    except ProbeFailed as exc:
        status.detail = str(exc)
    return status


def swarm_status(project: Project) -> SwarmStatus:
    swarm = SwarmEngine(project.engine)
    services = swarm.services(project.settings.project)
    order = {name: i for i, name in enumerate(project.stack.dependency_order())}
    services.sort(key=lambda s: order.get(s.unit, len(order)))
    with ThreadPoolExecutor(max_workers=max(1, len(services))) as pool:
        rows = list(pool.map(lambda s: _one(project, swarm, s), services))
    return SwarmStatus(project=project.settings.project, services=rows)


@dataclass
class SwarmDownResult:
    removed_services: list[str] = field(default_factory=list)
    removed_secrets: list[str] = field(default_factory=list)
    removed_configs: list[str] = field(default_factory=list)
    removed_volumes: list[str] = field(default_factory=list)
    kept_volumes: dict[str, str] = field(default_factory=dict)
    network_removed: bool = False


def swarm_down(project: Project, volumes: bool = False, force: bool = False) -> SwarmDownResult:
    """Services in reverse dependency order (each one's tasks gone before its dependencies stop), then
    secrets, configs and the network; volumes only on request, and critical ones as local `down` keeps them."""
    with project.writing():
        return _swarm_down(project, volumes, force)


def _swarm_down(project: Project, volumes: bool, force: bool) -> SwarmDownResult:
    swarm = SwarmEngine(project.engine)
    name = project.settings.project
    result = SwarmDownResult()
    services = {s.unit: s for s in swarm.services(name)}
    order = [u for u in reversed(project.stack.dependency_order()) if u in services]
    order += [u for u in services if u not in order]
    for unit in order:
        swarm.remove_service(services[unit].id)
        # B023 (a closure over the loop variable) does not apply: _wait_until calls it within this iteration.
        _wait_until(lambda: not swarm.task_containers(name, unit, running=True),  # noqa: B023
                    f"tasks of {unit} to stop")
        result.removed_services.append(unit)
    # Swarm reaps the stopped task containers of removed services in its own time (a finished job's may
    # stay); they hold the volumes, so remove what is left of this stack's, by its label only.
    deadline = time.monotonic() + 10
    while swarm.task_containers(name) and time.monotonic() < deadline:
        time.sleep(0.2)
    for container_id in swarm.task_containers(name):
        project.engine.remove_container(container_id)
    for secret in swarm.secrets(name):
        swarm.remove_secret(secret.id)
        result.removed_secrets.append(secret.name)
    for config in swarm.configs(name):
        swarm.remove_config(config.id)
        result.removed_configs.append(config.name)
    for network in swarm.networks(name):
        # The overlay is released a moment after its last task container: retry until it is.
        _wait_until(lambda: _try_remove_network(swarm, network.id),  # noqa: B023 - called within this iteration
                    f"network {network.name} to be released")
        result.network_removed = result.network_removed or network.name == network_name(project.settings)
    if volumes:
        _remove_volumes(project, force, result)
    return result


def _remove_volumes(project: Project, force: bool, result: SwarmDownResult) -> None:
    """The same rule as local `down --volumes`: a critical volume goes only with --force or a fresh verified backup."""
    from fovea_ctl.data.backup.write_markers import fresh_backups

    observed = project.observe()
    # The services are gone by now, so a database's write marker cannot be read: its volume is kept (the
    # safe answer) unless --force; file volumes are compared by their listing, as local `down` does.
    coverage = fresh_backups(project, observed) if not force else None
    for volume_name, volume in sorted(observed.volumes.items()):
        priority = volume.labels.get(LABEL_PRIORITY, Priority.CRITICAL.value)
        if priority == Priority.CRITICAL.value and coverage is not None and volume_name not in coverage.covered:
            result.kept_volumes[volume_name] = (
                f"{volume.labels.get(LABEL_VOLUME, volume_name)} is critical and no verified backup holds its latest "
                f"writes ({coverage.why_not.get(volume_name, 'not checked')}); run `fovea backup critical --verify` "
                "first, or pass --force to lose it")
            continue
        project.engine.remove_volume(volume_name)
        result.removed_volumes.append(volume_name)


def _try_remove_network(swarm: SwarmEngine, network_id: str) -> bool:
    try:
        swarm.remove_network(network_id)
        return True
    except EngineError as exc:
        if "not found" in exc.message or "No such network" in exc.message:
            return True
        return False


def _wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + REMOVAL_WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise EngineError(f"swarm down: gave up waiting for {what} after {REMOVAL_WAIT_S:.0f} s")
        time.sleep(0.2)
