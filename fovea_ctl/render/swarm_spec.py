"""Desired Swarm state: each unit of the stack as the Swarm service it should be, with its config hash.

The hash is the local one (`desired.hash_parts_for`: definition, image id, mounted files, secrets) plus
what only Swarm has (replicas, placement), so `plan.change_cause` explains a Swarm update the same way.
Secrets and configs are immutable in Swarm, so each is named by its content's digest: a changed file is a
new object, and only the services that mount it change.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fovea_ctl import __version__
from fovea_ctl.reconcile.desired import HEALTH_INTERVAL_S, combined_hash, content_hash, hash_parts_for
from fovea_ctl.docker.labels import project_labels
from fovea_ctl.docker.sdk import import_docker_sdk
from fovea_ctl.images import ResolvedImage
from fovea_ctl.docker.labels import (
    LABEL_CONFIG_HASH,
    LABEL_HASH_PARTS,
    LABEL_PRIORITY,
    LABEL_ROLE,
    LABEL_SERVICE,
    LABEL_SWARM_STACK,
    LABEL_VERSION,
    LABEL_VOLUME,
    STACK_NAMESPACE,
)
from fovea_ctl.model import Service, Stack
from fovea_ctl.probes.kinds import healthcheck_test
from fovea_ctl.core.secrets import SecretStore
from fovea_ctl.settings.effective import Settings
from fovea_ctl.docker.swarm import NodeResources

JOB_ATTEMPTS = 3
SWARM_HEALTH_TIMEOUT_S = 30
SWARM_HEALTH_RETRIES = 5
SECRET_MODE = 0o400
CONFIG_MODE = 0o444


@dataclass(frozen=True)
class SwarmObject:
    """A Swarm secret or config: content-addressed name, where it comes from, where it is mounted."""

    kind: str  # secret | config
    name: str
    source: Path
    target: str  # secret: file name under /run/secrets; config: absolute path in the container

    def data(self) -> bytes:
        return self.source.read_bytes()


@dataclass
class DesiredSwarmService:
    unit: Service
    name: str
    image: ResolvedImage
    hash_parts: dict[str, str]
    replicas: int
    host_ports: dict[int, int]  # target -> published, host mode
    secrets: list[SwarmObject] = field(default_factory=list)
    configs: list[SwarmObject] = field(default_factory=list)

    @property
    def config_hash(self) -> str:
        return combined_hash(self.hash_parts)

    @property
    def one_shot(self) -> bool:
        return self.unit.one_shot


def stack_labels(settings: Settings) -> dict[str, str]:
    return {LABEL_SWARM_STACK: settings.project, STACK_NAMESPACE: settings.project, LABEL_VERSION: __version__}


def network_name(settings: Settings) -> str:
    return f"{settings.project}-swarm"


def _slug(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_.-]+", "-", text).strip("-")[:40]


def config_objects(service: Service, settings: Settings) -> list[SwarmObject]:
    """One config per file; a folder becomes one config per file in it (Swarm configs are files)."""
    objects: list[SwarmObject] = []
    for config in service.configs:
        path = settings.root / config.source
        files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
        for file in files:
            target = f"{config.target}/{file.name}" if path.is_dir() else config.target
            source = f"{config.source}/{file.name}" if path.is_dir() else config.source
            name = f"{settings.project}-{_slug(source.removeprefix('configs/'))}-{content_hash(file)[:12]}"
            objects.append(SwarmObject("config", name, file, target))
    return objects


def replicas_of(service: Service, stack: Stack) -> int:
    if service.one_shot:
        return 1
    if service.name in stack.replicas:
        return stack.replicas[service.name]
    return service.scale.replicas if service.scale else 1


def swarm_units(stack: Stack) -> dict[str, Service]:
    """The stack's units less local replica units: Swarm scales a service with its own replica count."""
    return {name: unit for name, unit in stack.units.items() if not unit.replica_of}


def desired_services(stack: Stack, settings: Settings, images: dict[str, ResolvedImage],
                     secrets: SecretStore) -> dict[str, DesiredSwarmService]:
    desired: dict[str, DesiredSwarmService] = {}
    for name, unit in swarm_units(stack).items():
        parts = hash_parts_for(unit, stack, settings, images[name], secrets)
        replicas = replicas_of(unit, stack)
        constraints = placement_constraints(unit)
        placement = json.dumps({"replicas": replicas, "constraints": constraints})
        parts["swarm:replicas/placement"] = hashlib.sha256(placement.encode()).hexdigest()[:16]
        desired[name] = DesiredSwarmService(
            unit=unit, name=f"{settings.project}-{name}", image=images[name], hash_parts=parts, replicas=replicas,
            host_ports={p.container: stack.host_port(p) for p in unit.ports},
            secrets=[SwarmObject("secret", f"{settings.project}-{s}-{secrets.fingerprint(s)[:12]}", secrets.path(s), s)
                     for s in unit.secrets],
            configs=config_objects(unit, settings),
        )
    return desired


def placement_constraints(service: Service) -> list[str]:
    labels = service.placement.node_labels if service.placement else {}
    return [f"node.labels.{key} == {value}" for key, value in sorted(labels.items())]


# Swarm schedules GPUs only as a generic resource that a node advertises (`node-generic-resources` in its
# daemon.json, e.g. "NVIDIA-GPU=GPU-<uuid>"); this is the kind name Docker's documentation uses.
GPU_RESOURCE_KIND = "NVIDIA-GPU"


def gpu_reservation(service: Service) -> dict[str, int] | None:
    """The generic resources a service reserves: its GPUs ("all" (-1) reserves one: Swarm counts devices)."""
    return {GPU_RESOURCE_KIND: max(1, service.gpu.count)} if service.gpu else None


def placement_problem(service: Service, nodes: list[NodeResources]) -> str | None:
    """Why no node can run this service (its placement labels, its GPUs), or None. Swarm itself would only
    leave the task pending ("no suitable node") with nothing said to the operator."""
    wanted = service.placement.node_labels if service.placement else {}
    for key, value in wanted.items():
        if not any(node.labels.get(key) == value for node in nodes):
            return (f"service {service.name!r}, field placement: no Swarm node has the label {key}={value}; "
                    f"label the node that should run it: `docker node update --label-add {key}={value} NODE`")
    reservation = gpu_reservation(service) or {}
    for kind, count in reservation.items():
        fitting = [node for node in nodes if all(node.labels.get(k) == v for k, v in wanted.items())]
        if not any(node.generic.get(kind, 0) >= count for node in fitting):
            return (f"service {service.name!r}, field gpu: no Swarm node{' so labelled' if wanted else ''} advertises "
                    f"{count} generic resource(s) {kind}; add `\"node-generic-resources\": [\"{kind}=GPU-<uuid>\"]` "
                    "(uuids from `nvidia-smi -L`) to that node's /etc/docker/daemon.json and restart dockerd")
    return None


def service_spec(desired: DesiredSwarmService, stack: Stack, settings: Settings, network_id: str,
                 object_ids: dict[str, str]) -> dict[str, Any]:
    """Keyword arguments of one create_service/update_service call (ids of secrets and configs resolved)."""
    import_docker_sdk()
    from docker.types import (
        ConfigReference,
        ContainerSpec,
        EndpointSpec,
        Healthcheck,
        Mount,
        NetworkAttachmentConfig,
        Placement,
        Resources,
        RestartPolicy,
        SecretReference,
        ServiceMode,
        TaskTemplate,
        UpdateConfig,
    )

    unit = desired.unit
    labels = {
        **stack_labels(settings), LABEL_SERVICE: unit.name, LABEL_ROLE: "job" if unit.one_shot else "service",
        LABEL_CONFIG_HASH: desired.config_hash, LABEL_HASH_PARTS: json.dumps(desired.hash_parts, sort_keys=True),
    }
    container_labels = {k: labels[k] for k in (LABEL_SWARM_STACK, STACK_NAMESPACE, LABEL_SERVICE, LABEL_CONFIG_HASH)}
    mounts = [
        Mount(target=m.target, source=settings.volume_name(m.volume), type="volume", read_only=m.read_only,
              labels={**project_labels(settings.project), LABEL_VOLUME: m.volume,
                      LABEL_PRIORITY: stack.volume(m.volume).priority.value})
        for m in unit.mounts
    ]
    healthcheck = None
    test = healthcheck_test(unit.probe)
    if unit.probe is not None and test is not None:
        # Swarm replaces a task whose container turns unhealthy (plain Docker only reports it), so the check
        # must be forgiving: failures within the probe's startup budget do not count (a worker still loading
        # its models), and a check slowed by a busy host (a Python import under load) is not a dead service.
        healthcheck = Healthcheck(test=test, interval=int(HEALTH_INTERVAL_S * 2e9),
                                  timeout=int(SWARM_HEALTH_TIMEOUT_S * 1e9), retries=SWARM_HEALTH_RETRIES,
                                  start_period=int(unit.probe.budget_s * 1e9))
    container = ContainerSpec(
        image=desired.image.ref, command=unit.entrypoint, args=unit.command, user=unit.user,
        env=[f"{k}={v}" for k, v in unit.env.items()], labels=container_labels, mounts=mounts,
        secrets=[SecretReference(object_ids[s.name], s.name, filename=s.target, uid="0", gid="0", mode=SECRET_MODE)
                 for s in desired.secrets] or None,
        configs=[ConfigReference(object_ids[c.name], c.name, filename=c.target, uid="0", gid="0", mode=CONFIG_MODE)
                 for c in desired.configs] or None,
        healthcheck=healthcheck, stop_grace_period=int(unit.stop_timeout_s * 1e9), init=True,
        # Capabilities as on one engine; no-new-privileges Swarm's API (1.41) cannot express.
        cap_drop=["ALL"], cap_add=list(unit.capabilities) or None,
    )
    resources = Resources(
        cpu_limit=int(unit.resources.cpus * 1e9) if unit.resources.cpus else None,
        mem_limit=unit.resources.memory_mb * 1024 * 1024 if unit.resources.memory_mb else None,
        generic_resources=gpu_reservation(unit),  # type: ignore[arg-type]  # dict is invariant; the SDK only reads it
    )
    task = TaskTemplate(
        container, resources=resources,
        # A job is retried a little: Swarm task starts can fail for the engine's own reasons (measured here:
        # "unable to remount dir as readonly ... secrets: device or resource busy", exit 128).
        restart_policy=(RestartPolicy(condition="on-failure", delay=int(1e9), max_attempts=JOB_ATTEMPTS - 1)
                        if unit.one_shot else RestartPolicy(condition="any", delay=int(1e9))),
        placement=Placement(constraints=placement_constraints(unit) or None),
        networks=[NetworkAttachmentConfig(target=network_id, aliases=[unit.name])],
    )
    # No IPVS on our kernel (DESIGN.md): DNS round robin instead of a virtual IP, ports published on the
    # node that runs the task instead of the routing mesh.
    ports = {published: (target, "tcp", "host") for target, published in desired.host_ports.items()}
    spec: dict[str, Any] = {
        "name": desired.name,
        "task_template": task,
        "labels": labels,
        "mode": ServiceMode("replicated-job", replicas=1) if unit.one_shot else ServiceMode("replicated", replicas=desired.replicas),
        # The SDK takes {published port (an int): (target, protocol, mode)}; the stub wants str keys.
        "endpoint_spec": EndpointSpec(mode="dnsrr", ports=ports or None),  # type: ignore[arg-type]  # int port keys
    }
    if not unit.one_shot:  # a job is rerun, not rolled: Swarm refuses an update policy on it
        # stop-first: a host-mode port on one node cannot be held by the old and the new task at once.
        spec["update_config"] = UpdateConfig(parallelism=1, order="stop-first", failure_action="pause")
    return spec
