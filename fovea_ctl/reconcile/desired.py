"""Desired state: each unit of the stack turned into the container it should be, with its config hash.

The config hash covers the container's definition, the contents of mounted config files and
secrets, and the image id. Its parts are kept in a label so a plan can say *what* changed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from fovea_ctl.docker.container_spec import ContainerSpec
from fovea_ctl.docker.labels import project_labels
from fovea_ctl.errors import StackInvalid
from fovea_ctl.images import ResolvedImage, context_files, hash_paths
from fovea_ctl.docker.labels import (
    COMPOSE_CONFIG_HASH,
    COMPOSE_CONTAINER_NUMBER,
    COMPOSE_ONEOFF,
    COMPOSE_SERVICE,
    LABEL_CONFIG_HASH,
    LABEL_HASH_PARTS,
    LABEL_REPLICA_OF,
    LABEL_ROLE,
    LABEL_SERVICE,
)
from fovea_ctl.model import Service, Stack
from fovea_ctl.core.secrets import SecretStore
from fovea_ctl.settings.effective import Settings

HEALTH_INTERVAL_S = 5.0


@dataclass(frozen=True)
class DesiredUnit:
    service: Service
    image: ResolvedImage
    spec: ContainerSpec
    hash_parts: dict[str, str]

    @property
    def name(self) -> str:
        return self.service.name

    @property
    def config_hash(self) -> str:
        return combined_hash(self.hash_parts)


def combined_hash(parts: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def content_hash(path: Path) -> str:
    if path.is_dir():
        return hash_paths(path, context_files(path, []))[:16]
    if path.is_file():
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return "missing"


def definition_of(service: Service, stack: Stack) -> dict[str, object]:
    """The fields that shape the container; order, probes' budgets and descriptions do not."""
    return {
        "command": service.command,
        "entrypoint": service.entrypoint,
        "user": service.user,
        "env": service.env,
        "ports": {p.container: stack.host_port(p) for p in stack.published_ports(service)},
        "mounts": [m.model_dump() for m in service.mounts],
        "configs": [c.model_dump() for c in service.configs],
        "secrets": service.secrets,
        "healthcheck": service.probe.healthcheck if service.probe else None,
        "resources": service.resources.model_dump(),
        "capabilities": service.capabilities,
        "gpu": service.gpu.model_dump() if service.gpu else None,
        "one_shot": service.one_shot,
        "stop_timeout_s": service.stop_timeout_s,
    }


def hash_parts_for(
    service: Service, stack: Stack, settings: Settings, image: ResolvedImage, secrets: SecretStore
) -> dict[str, str]:
    parts = {
        "definition": hashlib.sha256(json.dumps(definition_of(service, stack), sort_keys=True).encode()).hexdigest()[:16],
        # The id once the image exists; before a build, its content-hash tag (the plan then says
        # "image rebuilt", and the container is created with the id's hash after the build).
        "image": image.present_id or image.ref,
    }
    for config in service.configs:
        parts[f"file:{config.source}"] = content_hash(settings.root / config.source)
    for source in service.hash_inputs:
        parts[f"input:{source}"] = content_hash(settings.root / source)
    for name in service.secrets:
        parts[f"secret:{name}"] = secrets.fingerprint(name)
    return parts


def desired_unit(
    service: Service,
    stack: Stack,
    settings: Settings,
    image: ResolvedImage,
    secrets: SecretStore,
    health_interval_s: float = HEALTH_INTERVAL_S,
) -> DesiredUnit:
    parts = hash_parts_for(service, stack, settings, image, secrets)
    labels = {
        **project_labels(settings.project),
        LABEL_SERVICE: service.name,
        LABEL_ROLE: "job" if service.one_shot else "service",
        LABEL_CONFIG_HASH: combined_hash(parts),
        LABEL_HASH_PARTS: json.dumps(parts, sort_keys=True),
        COMPOSE_SERVICE: service.name,
        # compose's `ps` lists only containers that carry a config hash of its own label name
        COMPOSE_CONFIG_HASH: combined_hash(parts),
        COMPOSE_ONEOFF: "False",
        COMPOSE_CONTAINER_NUMBER: "1",
    }
    if service.replica_of:
        labels[LABEL_REPLICA_OF] = service.replica_of
        labels[COMPOSE_SERVICE] = service.replica_of
        labels[COMPOSE_CONTAINER_NUMBER] = service.name.rpartition("-")[2]
    spec = ContainerSpec(
        name=settings.container_name(service.name),
        image=image.ref,
        labels=labels,
        network=settings.network_name,
        aliases=[service.name],
        command=service.command,
        entrypoint=service.entrypoint,
        user=service.user,
        env=dict(service.env),
        port_bindings={p.container: stack.host_port(p) for p in stack.published_ports(service)},
        volume_mounts=[(settings.volume_name(m.volume), m.target, m.read_only) for m in service.mounts],
        bind_mounts=[
            *[(str(settings.root / c.source), c.target, True) for c in service.configs],
            *[(str(secrets.path(name)), f"/run/secrets/{name}", True) for name in service.secrets],
        ],
        healthcheck=service.probe.healthcheck if service.probe else None,
        health_interval_s=health_interval_s,
        restart_policy=None if service.one_shot else "unless-stopped",
        cpus=service.resources.cpus,
        memory_mb=service.resources.memory_mb,
        gpu=(service.gpu.driver, service.gpu.count, service.gpu.capabilities) if service.gpu else None,
        stop_timeout_s=service.stop_timeout_s,
        cap_add=list(service.capabilities),
    )
    return DesiredUnit(service=service, image=image, spec=spec, hash_parts=parts)


def missing_files(stack: Stack, settings: Settings) -> list[str]:
    """Mounted config files that do not exist: the engine would refuse the container much later."""
    return [
        f"service {unit.name!r}, field configs: {config.source} does not exist under {settings.root}"
        for unit in stack.units.values()
        for config in unit.configs
        if not (settings.root / config.source).exists()
    ]


def desired_units(
    stack: Stack, settings: Settings, images: dict[str, ResolvedImage], secrets: SecretStore
) -> dict[str, DesiredUnit]:
    problems = missing_files(stack, settings)
    if problems:
        raise StackInvalid("invalid stack:\n  " + "\n  ".join(problems))
    return {name: desired_unit(unit, stack, settings, images[name], secrets) for name, unit in stack.units.items()}
