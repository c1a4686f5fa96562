"""The Swarm half of the engine adapter: services, tasks, secrets, configs, overlay networks, nodes.

Like `fovea_ctl.docker.engine`, it returns small typed views instead of the engine's JSON, and every write is one
engine call. Errors go through `Engine._call`, so they map to the same exit codes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from fovea_ctl.docker.engine import Engine
from fovea_ctl.errors import EngineError
from fovea_ctl.docker.labels import LABEL_CONFIG_HASH, LABEL_HASH_PARTS, LABEL_SERVICE, LABEL_SWARM_STACK


@dataclass(frozen=True)
class SwarmServiceView:
    id: str
    name: str
    unit: str
    version: int
    config_hash: str
    hash_parts: dict[str, str]
    replicas: int | None  # None: a job
    ports: dict[int, int]  # target -> published (host mode)
    image: str
    force_update: int  # TaskTemplate.ForceUpdate: raising it reruns a job with an unchanged spec
    labels: dict[str, str] = field(repr=False)


@dataclass(frozen=True)
class TaskView:
    id: str
    slot: int | None
    state: str  # new | pending | assigned | ... | running | complete | failed | rejected | shutdown
    desired_state: str
    container_id: str | None
    config_hash: str
    exit_code: int | None
    error: str
    message: str


@dataclass(frozen=True)
class SwarmObjectView:
    id: str
    name: str
    labels: dict[str, str]


def _service_view(raw: dict[str, Any]) -> SwarmServiceView:
    spec = raw.get("Spec") or {}
    labels = spec.get("Labels") or {}
    mode = spec.get("Mode") or {}
    ports = {int(p["TargetPort"]): int(p["PublishedPort"])
             for p in (spec.get("EndpointSpec") or {}).get("Ports") or [] if p.get("PublishedPort")}
    return SwarmServiceView(
        id=raw["ID"], name=spec.get("Name", ""), unit=labels.get(LABEL_SERVICE, ""),
        version=int((raw.get("Version") or {}).get("Index") or 0), config_hash=labels.get(LABEL_CONFIG_HASH, ""),
        hash_parts=json.loads(labels.get(LABEL_HASH_PARTS, "{}")),
        replicas=(mode.get("Replicated") or {}).get("Replicas") if "Replicated" in mode else None,
        ports=ports, image=((spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}).get("Image", ""),
        force_update=int((spec.get("TaskTemplate") or {}).get("ForceUpdate") or 0), labels=labels,
    )


def _task_view(raw: dict[str, Any]) -> TaskView:
    status = raw.get("Status") or {}
    container = status.get("ContainerStatus") or {}
    labels = (((raw.get("Spec") or {}).get("ContainerSpec") or {}).get("Labels")) or {}
    exit_code = container.get("ExitCode")
    return TaskView(
        id=raw["ID"], slot=raw.get("Slot"), state=status.get("State", ""), desired_state=raw.get("DesiredState", ""),
        container_id=container.get("ContainerID") or None, config_hash=labels.get(LABEL_CONFIG_HASH, ""),
        exit_code=int(exit_code) if exit_code is not None else None, error=status.get("Err") or "",
        message=status.get("Message") or "",
    )


@dataclass(frozen=True)
class NodeResources:
    labels: dict[str, str]
    generic: dict[str, int]  # kind → how many (a discrete count, or the number of named resources of that kind)


def node_resources(node: dict[str, Any]) -> NodeResources:
    """From one node of `GET /nodes`: Spec.Labels and Description.Resources.GenericResources, where each
    entry is {"DiscreteResourceSpec": {"Kind", "Value"}} or {"NamedResourceSpec": {"Kind", "Value"}}."""
    generic: dict[str, int] = {}
    for resource in ((node.get("Description") or {}).get("Resources") or {}).get("GenericResources") or []:
        if discrete := resource.get("DiscreteResourceSpec"):
            generic[discrete["Kind"]] = generic.get(discrete["Kind"], 0) + int(discrete.get("Value") or 0)
        elif named := resource.get("NamedResourceSpec"):
            generic[named["Kind"]] = generic.get(named["Kind"], 0) + 1
    return NodeResources(labels=(node.get("Spec") or {}).get("Labels") or {}, generic=generic)


class SwarmEngine:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.api = engine.api

    # -- the node ----------------------------------------------------------------------------------
    def manager_problem(self) -> str | None:
        """Why this engine cannot deploy a Swarm stack, or None when it is an active manager."""
        swarm = self.engine.info().get("Swarm") or {}
        if swarm.get("LocalNodeState") != "active":
            return (f"the engine is not part of a Swarm (state: {swarm.get('LocalNodeState') or 'unknown'}); "
                    "run `docker swarm init --advertise-addr <this host's address>` first")
        if not swarm.get("ControlAvailable"):
            return "this engine is a Swarm worker; run fovea against a manager node (FOVEA_DOCKER_HOST)"
        return None

    def node_resources(self) -> list[NodeResources]:
        """Each node's labels and the generic resources it advertises (dockerd's `node-generic-resources`)."""
        return [node_resources(n) for n in self.engine._call(self.api.nodes)]

    # -- listings ----------------------------------------------------------------------------------
    def services(self, stack: str) -> list[SwarmServiceView]:
        raw = self.engine._call(self.api.services, filters={"label": f"{LABEL_SWARM_STACK}={stack}"})
        return [_service_view(s) for s in raw]

    def tasks(self, service_id: str) -> list[TaskView]:
        return [_task_view(t) for t in self.engine._call(self.api.tasks, filters={"service": service_id})]

    def secrets(self, stack: str) -> list[SwarmObjectView]:
        raw = self.engine._call(self.api.secrets, filters={"label": f"{LABEL_SWARM_STACK}={stack}"})
        return [SwarmObjectView(s["ID"], s["Spec"]["Name"], s["Spec"].get("Labels") or {}) for s in raw]

    def configs(self, stack: str) -> list[SwarmObjectView]:
        raw = self.engine._call(self.api.configs, filters={"label": f"{LABEL_SWARM_STACK}={stack}"})
        return [SwarmObjectView(c["ID"], c["Spec"]["Name"], c["Spec"].get("Labels") or {}) for c in raw]

    def networks(self, stack: str) -> list[SwarmObjectView]:
        raw = self.engine._call(self.api.networks, filters={"label": f"{LABEL_SWARM_STACK}={stack}"})
        return [SwarmObjectView(n["Id"], n["Name"], n.get("Labels") or {}) for n in raw]

    def task_containers(self, stack: str, unit: str | None = None, running: bool = False) -> list[str]:
        """Ids of this stack's task containers on this node (of one unit, or all; running, or any)."""
        labels = [f"{LABEL_SWARM_STACK}={stack}"] + ([f"{LABEL_SERVICE}={unit}"] if unit else [])
        raw = self.engine._call(self.api.containers, all=not running, filters={"label": labels})
        return [c["Id"] for c in raw]

    # -- writes (one engine call each) -------------------------------------------------------------
    def create_network(self, name: str, labels: dict[str, str]) -> str:
        self.engine.guard_write(f"create network {name}")
        return str(self.engine._call(self.api.create_network, name, driver="overlay", attachable=False,
                                     labels=labels)["Id"])

    def create_secret(self, name: str, data: bytes, labels: dict[str, str]) -> str:
        self.engine.guard_write(f"create secret {name}")
        return str(self.engine._call(self.api.create_secret, name, data, labels=labels)["ID"])

    def create_config(self, name: str, data: bytes, labels: dict[str, str]) -> str:
        self.engine.guard_write(f"create config {name}")
        return str(self.engine._call(self.api.create_config, name, data, labels=labels)["ID"])

    def remove_secret(self, secret_id: str) -> None:
        self.engine.guard_write(f"remove secret {secret_id[:12]}")
        self.engine._call(self.api.remove_secret, secret_id)

    def remove_config(self, config_id: str) -> None:
        self.engine.guard_write(f"remove config {config_id[:12]}")
        self.engine._call(self.api.remove_config, config_id)

    def remove_network(self, network_id: str) -> None:
        self.engine.guard_write(f"remove network {network_id[:12]}")
        self.engine._call(self.api.remove_network, network_id)

    def create_service(self, spec: dict[str, Any]) -> str:
        self.engine.guard_write("create a service")
        return str(self.engine._call(self.api.create_service, **spec)["ID"])

    def update_service(self, service: SwarmServiceView, spec: dict[str, Any]) -> None:
        self.engine.guard_write(f"update service {service.name}")
        self.engine._call(self.api.update_service, service.id, service.version, **spec)

    def remove_service(self, service_id: str) -> None:
        self.engine.guard_write(f"remove service {service_id[:12]}")
        try:
            self.engine._call(self.api.remove_service, service_id)
        except EngineError as exc:
            if "not found" not in exc.message:
                raise
