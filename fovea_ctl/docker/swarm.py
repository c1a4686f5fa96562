"""The Swarm half of the engine adapter: services, tasks, secrets, configs, overlay networks, nodes.

Like `fovea_ctl.docker.engine`, it returns small typed views instead of the engine's JSON, and every write is one
engine call, made through `Engine`'s public methods, so errors map to the same exit codes.
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
    """Swarm's side of one engine, through `Engine`'s public calls: listings read into the views above."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

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
        return [node_resources(n) for n in self.engine.swarm_objects("nodes")]

    # -- listings ----------------------------------------------------------------------------------
    def services(self, stack: str) -> list[SwarmServiceView]:
        return [_service_view(s) for s in self.engine.swarm_objects("services", _of_stack(stack))]

    def tasks(self, service_id: str) -> list[TaskView]:
        return [_task_view(t) for t in self.engine.swarm_objects("tasks", {"service": [service_id]})]

    def secrets(self, stack: str) -> list[SwarmObjectView]:
        return [_object_view(s) for s in self.engine.swarm_objects("secrets", _of_stack(stack))]

    def configs(self, stack: str) -> list[SwarmObjectView]:
        return [_object_view(c) for c in self.engine.swarm_objects("configs", _of_stack(stack))]

    def networks(self, stack: str) -> list[SwarmObjectView]:
        return [SwarmObjectView(n.id, n.name, n.labels)
                for n in self.engine.networks_labelled(f"{LABEL_SWARM_STACK}={stack}")]

    def task_containers(self, stack: str, unit: str | None = None, running: bool = False) -> list[str]:
        """Ids of this stack's task containers on this node (of one unit, or all; running, or any)."""
        labels = [f"{LABEL_SWARM_STACK}={stack}"] + ([f"{LABEL_SERVICE}={unit}"] if unit else [])
        return [c.id for c in self.engine.containers_labelled(*labels, running_only=running)]

    # -- writes (one engine call each) -------------------------------------------------------------
    def create_network(self, name: str, labels: dict[str, str]) -> str:
        return self.engine.create_network(name, labels, overlay=True)

    def create_secret(self, name: str, data: bytes, labels: dict[str, str]) -> str:
        return self.engine.create_secret(name, data, labels)

    def create_config(self, name: str, data: bytes, labels: dict[str, str]) -> str:
        return self.engine.create_config(name, data, labels)

    def remove_secret(self, secret_id: str) -> None:
        self.engine.remove_secret(secret_id)

    def remove_config(self, config_id: str) -> None:
        self.engine.remove_config(config_id)

    def remove_network(self, network_id: str) -> None:
        self.engine.remove_network(network_id)

    def create_service(self, spec: dict[str, Any]) -> str:
        return self.engine.create_service(spec)

    def update_service(self, service: SwarmServiceView, spec: dict[str, Any]) -> None:
        self.engine.update_service(service.id, service.name, service.version, spec)

    def remove_service(self, service_id: str) -> None:
        """Remove it; one already gone (removed meanwhile, by `down` or by hand) is not an error."""
        try:
            self.engine.remove_service(service_id)
        except EngineError as exc:
            if "not found" not in exc.message:
                raise


def _of_stack(stack: str) -> dict[str, list[str]]:
    return {"label": [f"{LABEL_SWARM_STACK}={stack}"]}


def _object_view(raw: dict[str, Any]) -> SwarmObjectView:
    """A secret or a config of a listing."""
    return SwarmObjectView(raw["ID"], raw["Spec"]["Name"], raw["Spec"].get("Labels") or {})
