"""Observed state: the project's engine objects, read back from their labels (fovea keeps no state file)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from fovea_ctl.docker.engine import Engine
from fovea_ctl.docker.views import ContainerView, NetworkView, VolumeView


@dataclass
class ObservedState:
    project: str
    network: NetworkView | None = None
    volumes: dict[str, VolumeView] = field(default_factory=dict)  # by engine volume name
    containers: dict[str, ContainerView] = field(default_factory=dict)  # by unit name
    extra_containers: list[ContainerView] = field(default_factory=list)  # duplicates of a unit

    def container(self, unit: str) -> ContainerView | None:
        return self.containers.get(unit)


def observe(engine: Engine, project: str, network_name: str) -> ObservedState:
    """Three listings, in parallel: containers, volumes, networks of this project."""
    with ThreadPoolExecutor(max_workers=3) as pool:
        containers = pool.submit(engine.list_containers, project)
        volumes = pool.submit(engine.list_volumes, project)
        networks = pool.submit(engine.list_networks, project)
        state = ObservedState(project=project)
        for container in containers.result():
            if container.service in state.containers:
                state.extra_containers.append(container)
            else:
                state.containers[container.service] = container
        state.volumes = {v.name: v for v in volumes.result()}
        state.network = next((n for n in networks.result() if n.name == network_name), None)
    return state
