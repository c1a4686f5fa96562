"""The types a stack is written in: the desired state, validated when it is loaded.

A stack file reads like the architecture page's service table: each `Service` names its image, ports,
dependencies, probe and volume mounts; volumes carry their backup priority. Every check here raises an
error that names the service and the field, because the person reading it is editing that file.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"


class Priority(StrEnum):
    """Backup priority classes from the seed page (critical must be backed up; recreatable need not)."""

    CRITICAL = "critical"
    IMPORTANT = "important"
    RECREATABLE = "recreatable"


class BackupStrategy(StrEnum):
    PG_DUMP = "pg_dump"  # consistent while the database runs; a file copy of a live data dir is not
    REDIS_RDB = "redis_rdb"  # BGSAVE, then copy the RDB
    TAR = "tar"  # plain files (videos)
    RECORD_ONLY = "record_only"  # recreatable: named in the manifest, not copied


class Condition(StrEnum):
    STARTED = "started"
    READY = "ready"
    COMPLETED = "completed"


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy validated like any new instance (pydantic's own copy skips validation and carries
        cached properties such as `Stack.units` over from the original)."""
        values = {name: getattr(self, name) for name in self.model_fields_set}
        values.update(update or {})
        return type(self).model_validate(copy.deepcopy(values) if deep else values)


class Volume(Model):
    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    priority: Priority
    backup: BackupStrategy | None = None
    description: str = ""

    @property
    def backup_strategy(self) -> BackupStrategy:
        if self.backup is not None:
            return self.backup
        return BackupStrategy.RECORD_ONLY if self.priority is Priority.RECREATABLE else BackupStrategy.TAR


class AppliedBy(Model):
    """How a secret's value gets into the data that keeps a copy of it (a role password, a password hash):
    a command the owning service's image ships, so fovea knows nothing of that service's tables.

    fovea runs `command` with `docker exec` in `service`'s running container, or, when none runs (a restore
    stops it), in a one-off container of it (its image, env, secrets and network; no volumes, no ports, no
    name on the network). The value comes on stdin, never in argv or env. The contract: exit 0 and one line
    on stdout saying what now holds the value; any other exit, nothing changed (a hook is one transaction).
    """

    service: Annotated[str, Field(min_length=1)]
    command: Annotated[list[str], Field(min_length=1)]
    user: str | None = None  # the exec's user; None: the image's

    @field_validator("command")
    @classmethod
    def _no_empty_argument(cls, command: list[str]) -> list[str]:
        if not command[0]:
            raise ValueError("the command's program is empty")
        return command


class Secret(Model):
    """A secret generated on first use (or supplied by the user) and mounted as a file, never as env."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    description: str = ""
    length: Annotated[int, Field(ge=16, le=256)] = 32
    # Data-bound (a copy lives in the data): rotation and restore run this hook. None: read by its services
    # when they start, so a new file and a recreate are the whole rotation.
    applied_by: AppliedBy | None = None


class Port(Model):
    """A published port. `host` is the host port at port base 0; the effective one is base + host."""

    container: Annotated[int, Field(ge=1, le=65535)]
    host: Annotated[int, Field(ge=1, le=65535)] | None = None
    name: str = ""

    @property
    def default_host(self) -> int:
        return self.host if self.host is not None else self.container


class Mount(Model):
    volume: str
    target: str
    read_only: bool = False


class ConfigFile(Model):
    """A file from the repository bind-mounted read-only; its content is part of the config hash."""

    source: str
    target: str


class BuildRecipe(Model):
    """A Dockerfile and its context, both relative to the repository root."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_./-]*$")]
    context: str
    dockerfile: str = "Dockerfile"
    args: dict[str, str] = {}
    exclude: list[str] = []  # glob patterns (relative to context) left out of the content hash
    # A command run in the context before building (e.g. fetch a hash-pinned wheelhouse that the
    # Dockerfile bind-mounts); what it fetches is pinned by files the hash does cover.
    prepare: list[str] | None = None


class ImageSpec(Model):
    recipe: BuildRecipe | None = None
    registry: str | None = None

    @model_validator(mode="after")
    def _one_source_at_least(self) -> ImageSpec:
        if self.recipe is None and self.registry is None:
            raise ValueError("an image needs a recipe, a registry reference, or both")
        return self


class ProbeBase(Model):
    # The startup budget: how long after start the service may take before it counts as failed.
    budget_s: Annotated[float, Field(gt=0)] = 60.0
    # Docker HEALTHCHECK test, so `docker ps` shows health; fovea's own probe is what gates startup.
    healthcheck: list[str] | None = None


class PostgresProbe(ProbeBase):
    kind: Literal["postgres"] = "postgres"
    port: int = 5432
    user: str = "postgres"
    database: str = "postgres"
    password_secret: str | None = None


class RedisProbe(ProbeBase):
    kind: Literal["redis"] = "redis"
    port: int = 6379
    # With a password the probe sends AUTH, then PING; NOAUTH or an open server never count as ready.
    password_secret: str | None = None


class HttpAuth(Model):
    """A credential an HTTP probe presents, read from one of the service's secrets: HTTP basic auth
    (`user` and the secret as password) or a bearer token (the secret)."""

    scheme: Literal["basic", "bearer"]
    secret: str
    user: str = ""


class HttpProbe(ProbeBase):
    kind: Literal["http"] = "http"
    port: int
    path: str = "/"
    auth: HttpAuth | None = None


class TcpBannerProbe(ProbeBase):
    kind: Literal["tcp-banner"] = "tcp-banner"
    port: int
    expect: str


class ExecProbe(ProbeBase):
    kind: Literal["exec"] = "exec"
    command: list[str]


class RqWorkerProbe(ProbeBase):
    """An RQ worker is ready once it is registered in Redis (and not marked dead): read from the host
    over the Redis service's published port, instead of a `docker exec` of a Python process."""

    kind: Literal["rq-worker"] = "rq-worker"
    redis: str = "redis"  # the service whose Redis the worker registers in
    redis_port: int = 6379  # that service's container port
    # The worker's RQ name; {hostname} is the container's hostname (Docker's default: the short id).
    worker: str = "model-{hostname}"


Probe = Annotated[
    PostgresProbe | RedisProbe | HttpProbe | TcpBannerProbe | ExecProbe | RqWorkerProbe,
    Field(discriminator="kind"),
]


class Resources(Model):
    """Limits a service's containers run under (Docker's NanoCpus/Memory, Swarm's and Kubernetes' limits)."""

    cpus: Annotated[float, Field(gt=0)] | None = None
    memory_mb: Annotated[int, Field(gt=0)] | None = None


# Linux capabilities a service may keep (without the CAP_ prefix). Every container runs with all the others
# dropped and with no-new-privileges; a service lists only what its own processes use.
CAPABILITIES = frozenset({
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "IPC_LOCK", "KILL",
    "NET_BIND_SERVICE", "NET_RAW", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT", "SYS_NICE",
    "SYS_RESOURCE",
})
# What an image whose entrypoint starts as root and then drops to its service user for good (every image
# fovea builds) needs: make the user's private copies of the mounted secrets and set their modes (CHOWN,
# FOWNER), read secrets owned by whoever runs fovea and enter the user's folders (DAC_OVERRIDE), switch
# user with setpriv (SETUID, SETGID). Once the user is switched, the process holds no capability at all.
ROOT_ENTRYPOINT_CAPABILITIES = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID"]


class GpuRequest(Model):
    driver: str = "nvidia"
    count: int = -1  # -1: all GPUs
    capabilities: list[str] = ["gpu"]


class ScalePolicy(Model):
    """A stateless service may run as several replicas: `up --scale`, Swarm and K8s replicas.

    Only a service that keeps no state of its own can scale: jobs from a queue, requests behind a
    balancer. A service without a policy runs as exactly one instance, and asking for more is refused
    with its `single_instance_reason`.
    """

    max_replicas: Annotated[int, Field(ge=1, le=256)]
    replicas: Annotated[int, Field(ge=1)] = 1  # what Swarm and K8s run when nothing else is asked


class Placement(Model):
    """Node labels a service must run on (the node holding its data, a node with a GPU).

    Rendered as Swarm placement constraints (`node.labels.K == V`) and Kubernetes node selectors;
    a single local engine ignores it.
    """

    node_labels: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")], str] = {}


class InitJob(Model):
    """A one-shot container run to completion before its service starts (migrations).

    It reruns only when its own config hash changes: the image, the command, or the content of `inputs`.
    """

    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    command: list[str]
    env: dict[str, str] = {}
    inputs: list[str] = []
    budget_s: Annotated[float, Field(gt=0)] = 300.0


class Service(Model):
    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    image: ImageSpec
    description: str = ""
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    user: str | None = None
    env: dict[str, str] = {}
    ports: list[Port] = []
    mounts: list[Mount] = []
    configs: list[ConfigFile] = []
    secrets: list[str] = []
    depends_on: dict[str, Condition] = {}
    probe: Probe | None = None
    init_jobs: list[InitJob] = []
    resources: Resources = Resources()
    # The Linux capabilities its processes need (all others are dropped; no-new-privileges always).
    capabilities: list[str] = []
    gpu: GpuRequest | None = None
    # Variants of one role (model-service CPU / GPU) are mutually exclusive: at most one enabled.
    role: str | None = None
    variant: str | None = None
    enabled: bool = True
    # Why a service cannot run in this configuration (e.g. no offline image): skipped, never "failed".
    unavailable_reason: str | None = None
    # What a person opens (frontend, backend API, Grafana, Prometheus): still published with
    # FOVEA_PUBLISH=user-facing, when every other port stays inside the project network.
    user_facing: bool = False
    one_shot: bool = False  # a job: "ready" means exited 0
    job_of: str | None = None  # set on the units derived from a service's init_jobs
    # Repository files or folders whose content is part of the config hash without being mounted
    # (an init job's migrations: changing them reruns the job).
    hash_inputs: list[str] = []
    budget_s: Annotated[float, Field(gt=0)] = 300.0  # a one-shot job's time budget
    stop_timeout_s: int = 10
    scale: ScalePolicy | None = None  # None: one instance only (see single_instance_reason)
    single_instance_reason: str = ""  # why it cannot scale, said when someone asks it to
    placement: Placement | None = None
    replica_of: str | None = None  # set on the units `up --scale` adds (model-worker-2 of model-worker)
    # What a person opens in a browser: label -> path on the service's first published port.
    links: dict[str, str] = {}

    @field_validator("capabilities")
    @classmethod
    def _known_capabilities(cls, capabilities: list[str]) -> list[str]:
        unknown = [c for c in capabilities if c not in CAPABILITIES]
        if unknown:
            raise ValueError(f"unknown capabilities {', '.join(unknown)} (known: {', '.join(sorted(CAPABILITIES))}; "
                             "write them without CAP_)")
        return sorted(set(capabilities))

    @field_validator("env")
    @classmethod
    def _no_secret_looking_env(cls, env: dict[str, str]) -> dict[str, str]:
        for key in env:
            if re.search(r"(PASSWORD|SECRET|TOKEN)$", key):
                raise ValueError(f"env {key}: secrets are mounted as files; name a *_FILE variable instead")
        return env

    def why_single_instance(self, stack: Stack) -> str:
        """The reason a service cannot run more than once, for the refusal message."""
        if self.single_instance_reason:
            return self.single_instance_reason
        priorities = {v.name: v.priority for v in stack.volumes}
        written = [m.volume for m in self.mounts
                   if not m.read_only and priorities.get(m.volume, Priority.CRITICAL) is not Priority.RECREATABLE]
        if written:
            return f"it writes the {written[0]} volume, which two instances would corrupt"
        return "the stack gives it no scale policy (set Service.scale once it keeps no state of its own)"

    def port_for(self, container_port: int) -> Port | None:
        return next((p for p in self.ports if p.container == container_port), None)


class StackError(ValueError):
    """Raised by validation; carries every problem, each naming a service and a field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class Stack(Model):
    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    port_base: Annotated[int, Field(ge=0, le=65535)] = 0
    # "all": every port on 127.0.0.1 (probes connect to it); "user-facing": only user-facing services',
    # the rest are probed through `docker exec`.
    publish: Literal["all", "user-facing"] = "all"
    services: list[Service]
    volumes: list[Volume] = []
    secrets: list[Secret] = []
    # Instances per service on this engine (`fovea up --scale model-worker=3`); absent means one.
    replicas: dict[str, Annotated[int, Field(ge=1)]] = {}

    model_config = ConfigDict(extra="forbid", frozen=True, ignored_types=(cached_property,))

    @model_validator(mode="after")
    def _validate_graph(self) -> Stack:
        problems = validate_stack(self)
        if problems:
            raise StackError(problems)
        return self

    def with_replicas(self, replicas: dict[str, int]) -> Stack:
        """The same stack with these instance counts (validated: raises StackError naming the refusal)."""
        fields = {name: getattr(self, name) for name in type(self).model_fields}
        return Stack(**{**fields, "replicas": {**self.replicas, **replicas}})

    # -- derived views -------------------------------------------------------------------------
    @cached_property
    def units(self) -> dict[str, Service]:
        """Every enabled, available service plus one job unit per init job, in definition order."""
        units: dict[str, Service] = {}
        for service in self.services:
            if not service.enabled or service.unavailable_reason:
                continue
            for job in service.init_jobs:
                job_unit = job_unit_for(service, job)
                units[job_unit.name] = job_unit
            job_deps = {job_unit_name(service, j): Condition.COMPLETED for j in service.init_jobs}
            units[service.name] = service.model_copy(update={"depends_on": {**service.depends_on, **job_deps}})
            for number in range(2, self.replicas.get(service.name, 1) + 1):
                replica = replica_unit_name(service, number)
                units[replica] = units[service.name].model_copy(update={"name": replica, "replica_of": service.name})
        return units

    @property
    def skipped(self) -> list[Service]:
        return [s for s in self.services if s.enabled and s.unavailable_reason]

    def volume(self, name: str) -> Volume:
        return next(v for v in self.volumes if v.name == name)

    def host_port(self, port: Port) -> int:
        return self.port_base + port.default_host

    def published_ports(self, service: Service) -> list[Port]:
        """The ports of `service` published on 127.0.0.1 under this stack's publish setting."""
        return service.ports if self.publish == "all" or service.user_facing else []

    def links(self, names: list[str] | None = None) -> dict[str, str]:
        """Browser URLs of the units in `names` (all when None): "app" -> "http://127.0.0.1:3000/"."""
        return {
            label: f"http://127.0.0.1:{self.host_port(unit.ports[0])}{path}"
            for unit in self.units.values() if unit.ports and (names is None or unit.name in names)
            for label, path in unit.links.items()
        }

    def dependency_order(self, names: list[str] | None = None) -> list[str]:
        """Units in an order where each comes after its dependencies (limited to `names` and their deps)."""
        wanted = self.with_dependencies(names) if names else set(self.units)
        order: list[str] = []
        seen: set[str] = set()

        def visit(name: str) -> None:
            if name in seen:
                return
            seen.add(name)
            for dep in self.units[name].depends_on:
                visit(dep)
            order.append(name)

        for name in self.units:
            if name in wanted:
                visit(name)
        return order

    def with_dependencies(self, names: list[str]) -> set[str]:
        result: set[str] = set()
        pending = list(names)
        while pending:
            name = pending.pop()
            if name in result:
                continue
            if name not in self.units:
                raise StackError([f"unknown service {name!r} (known: {', '.join(self.units)})"])
            result.add(name)
            pending.extend(self.units[name].depends_on)
            pending.extend(n for n, u in self.units.items() if u.replica_of == name)  # a scaled service's replicas
        return result

    def dependents(self, name: str) -> set[str]:
        """Units that depend on `name`, directly or not."""
        result: set[str] = set()
        changed = True
        while changed:
            changed = False
            for unit in self.units.values():
                if unit.name not in result and (name in unit.depends_on or result & set(unit.depends_on)):
                    result.add(unit.name)
                    changed = True
        return result


def job_unit_name(service: Service, job: InitJob) -> str:
    return f"{service.name}-{job.name}"


def replica_unit_name(service: Service, number: int) -> str:
    """Replica 1 keeps the service's own name, so scaling 1 → N never recreates the first instance."""
    return service.name if number == 1 else f"{service.name}-{number}"


def job_unit_for(service: Service, job: InitJob) -> Service:
    """An init job runs in its service's image with its env, secrets and mounts, but no ports or probe."""
    return service.model_copy(
        update={
            "name": job_unit_name(service, job),
            "command": job.command,
            "env": {**service.env, **job.env},
            "ports": [],
            "probe": None,
            "init_jobs": [],
            "one_shot": True,
            "job_of": service.name,
            "description": f"init job {job.name!r} of {service.name}",
            "hash_inputs": [*service.hash_inputs, *job.inputs],
            "budget_s": job.budget_s,
        }
    )


def validate_stack(stack: Stack) -> list[str]:
    problems: list[str] = []
    by_name = {s.name: s for s in stack.services}
    if len(by_name) != len(stack.services):
        names = [s.name for s in stack.services]
        problems += [f"service {n!r}: name: defined twice" for n in sorted({n for n in names if names.count(n) > 1})]
    volume_names = {v.name for v in stack.volumes}
    secret_names = {s.name for s in stack.secrets}
    enabled = {s.name: s for s in stack.services if s.enabled}

    for service in stack.services:
        where = f"service {service.name!r}"
        for dep, condition in service.depends_on.items():
            target = by_name.get(dep)
            if target is None:
                problems.append(f"{where}, field depends_on: unknown service {dep!r}")
            elif condition is Condition.READY and target.probe is None and not target.one_shot:
                problems.append(
                    f"{where}, field depends_on: {dep!r} is required ready but has no probe "
                    "(give it a probe or depend on it as 'started')"
                )
            elif condition is Condition.COMPLETED and not target.one_shot:
                problems.append(f"{where}, field depends_on: {dep!r} is not a one-shot job; 'completed' never happens")
            elif service.enabled and not target.enabled:
                problems.append(f"{where}, field depends_on: {dep!r} is disabled")
        for mount in service.mounts:
            if mount.volume not in volume_names:
                problems.append(f"{where}, field mounts: unknown volume {mount.volume!r} (declare it in the stack's volumes)")
        for secret in service.secrets:
            if secret not in secret_names:
                problems.append(f"{where}, field secrets: unknown secret {secret!r}")
        if isinstance(service.probe, RqWorkerProbe):
            redis_service = by_name.get(service.probe.redis)
            if redis_service is None or redis_service.port_for(service.probe.redis_port) is None:
                problems.append(f"{where}, field probe: rq-worker probe needs service {service.probe.redis!r} "
                                f"publishing port {service.probe.redis_port}")
        auth = getattr(service.probe, "auth", None)
        if auth is not None and auth.secret not in service.secrets:
            problems.append(f"{where}, field probe: auth secret {auth.secret!r} is not mounted")
        password_secret = getattr(service.probe, "password_secret", None)  # the probes that log in (redis, rq-worker)
        if password_secret and password_secret not in service.secrets:
            problems.append(f"{where}, field probe: password_secret {password_secret!r} is not mounted")

    # A hook with no service to run it would be found only by a rotation, after the new value was generated.
    for declared in stack.secrets:
        if declared.applied_by is not None and declared.applied_by.service not in by_name:
            problems.append(f"secret {declared.name!r}, field applied_by.service: {declared.applied_by.service!r} is not a "
                            f"service of the stack (services: {', '.join(sorted(by_name))})")

    cycle = find_cycle({s.name: list(s.depends_on) for s in stack.services})
    if cycle:
        problems.append(f"service {cycle[0]!r}, field depends_on: dependency cycle {' -> '.join(cycle)}")

    seen_ports: dict[int, str] = {}
    for service in enabled.values():
        for port in stack.published_ports(service):
            host = stack.port_base + port.default_host
            if host > 65535:
                problems.append(f"service {service.name!r}, field ports: host port {host} is above 65535 (lower the port base)")
            elif host in seen_ports:
                problems.append(
                    f"service {service.name!r}, field ports: host port {host} is already published by {seen_ports[host]!r}"
                )
            else:
                seen_ports[host] = service.name

    for service in stack.services:
        if service.scale is None:
            continue
        where = f"service {service.name!r}, field scale"
        if service.scale.replicas > service.scale.max_replicas:
            problems.append(f"{where}: replicas {service.scale.replicas} is above max_replicas {service.scale.max_replicas}")
        for mount in service.mounts:
            volume = next((v for v in stack.volumes if v.name == mount.volume), None)
            if volume is not None and not mount.read_only and volume.priority is not Priority.RECREATABLE:
                problems.append(f"{where}: it writes the {volume.priority.value} volume {volume.name!r}; "
                                "a service that keeps state cannot scale (mount it read-only or drop the policy)")

    problems += _replica_problems(stack, by_name)

    roles: dict[str, list[str]] = {}
    for service in enabled.values():
        if service.role:
            roles.setdefault(service.role, []).append(service.name)
    for role, names in roles.items():
        if len(names) > 1:
            problems.append(
                f"service {names[1]!r}, field enabled: variants of role {role!r} are exclusive, "
                f"but {', '.join(repr(n) for n in names)} are all enabled"
            )
    return problems


def _replica_problems(stack: Stack, by_name: dict[str, Service]) -> list[str]:
    """A scale request names a service that can scale, within its maximum, without a host port to share."""
    problems: list[str] = []
    for name, count in stack.replicas.items():
        service = by_name.get(name)
        where = f"service {name!r}, field replicas"
        if service is None:
            problems.append(f"{where}: unknown service (known: {', '.join(by_name)})")
        elif count > 1 and service.scale is None:
            problems.append(f"{where}: {name} cannot scale: {service.why_single_instance(stack)}")
        elif service.scale is not None and count > service.scale.max_replicas:
            problems.append(f"{where}: {count} is above its max_replicas {service.scale.max_replicas}")
        elif count > 1 and service.ports:
            problems.append(f"{where}: {name} publishes host port {stack.host_port(service.ports[0])}, which "
                            f"{count} instances on one node cannot share (Kubernetes replicas have no host port)")
        elif count > 1 and any(replica_unit_name(service, n) in by_name for n in range(2, count + 1)):
            problems.append(f"{where}: a replica's name {name}-N is already a service of the stack")
    return problems


def find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """A dependency cycle as a path that starts and ends with the same node, or None."""
    white, grey, black = 0, 1, 2
    colour = {node: white for node in graph}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = grey
        stack.append(node)
        for dep in graph.get(node, []):
            if dep not in colour:
                continue
            if colour[dep] == grey:
                return stack[stack.index(dep):] + [dep]
            if colour[dep] == white:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        colour[node] = black
        return None

    for node in graph:
        if colour[node] == white:
            found = visit(node)
            if found:
                return found
    return None
