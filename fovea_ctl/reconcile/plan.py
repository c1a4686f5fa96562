"""Desired vs observed → a plan: a DAG of operations, each one engine call with a cause.

`fovea plan` prints it; `fovea up` applies it. A converged project plans to exactly "nothing to do".
The same `Plan` and renderer serve both targets: local containers (`make_plan`) and Swarm services
(`fovea_ctl.reconcile.swarm.deploy.make_swarm_plan`). Besides the engine writes the text shows, a local plan
holds its readiness gates (each unit's probe or job wait), so the executor runs operations and decides nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from fovea_ctl.reconcile.desired import DesiredUnit
from fovea_ctl.docker.views import ContainerView
from fovea_ctl.docker.labels import LABEL_REPLICA_OF
from fovea_ctl.model import Condition, Stack
from fovea_ctl.reconcile.observe import ObservedState
from fovea_ctl.settings.effective import Settings

if TYPE_CHECKING:
    from fovea_ctl.images import ResolvedImage

NOTHING_TO_DO = "nothing to do"


class OpKind(StrEnum):
    BUILD_IMAGE = "build image"
    PULL_IMAGE = "pull image"
    CREATE_NETWORK = "create network"
    CREATE_VOLUME = "create volume"
    REMOVE_CONTAINER = "remove container"
    CREATE_CONTAINER = "create container"
    START_CONTAINER = "start container"
    # readiness gates: the engine calls that prove a unit ready (its probe, a job's exit), not writes
    WAIT_READY = "wait ready"
    WAIT_COMPLETED = "wait completed"
    # Swarm
    CREATE_SECRET = "create secret"
    CREATE_CONFIG = "create config"
    CREATE_SERVICE = "create service"
    UPDATE_SERVICE = "update service"
    REMOVE_SERVICE = "remove service"
    REMOVE_SECRET = "remove secret"
    REMOVE_CONFIG = "remove config"


IMAGE_KINDS = (OpKind.BUILD_IMAGE, OpKind.PULL_IMAGE)
GATE_KINDS = (OpKind.WAIT_READY, OpKind.WAIT_COMPLETED)


@dataclass
class Operation:
    id: int
    kind: OpKind
    target: str
    cause: str
    unit: str | None = None
    after: list[int] = field(default_factory=list)
    needs: list[tuple[str, Condition]] = field(default_factory=list)
    engine_id: str | None = None  # the engine object a removal or an update acts on
    image_from: int | None = None  # a create whose spec takes the id of the image this build/pull op makes

    def describe(self) -> str:
        extra: list[str] = []
        if self.after:
            extra.append("after " + " ".join(f"#{i}" for i in self.after))
        if self.needs:
            extra.append("needs " + ", ".join(f"{unit} {cond.value}" for unit, cond in self.needs))
        tail = f"  [{'; '.join(extra)}]" if extra else ""
        return f"#{self.id} {self.kind.value} {self.target} — {self.cause}{tail}"


@dataclass
class Plan:
    project: str
    units: list[str]  # the units this run brings up, in dependency order
    operations: list[Operation]  # the engine writes, what `fovea plan` prints
    warnings: list[str] = field(default_factory=list)
    gates: list[Operation] = field(default_factory=list)  # readiness gates, numbered after the writes

    @property
    def empty(self) -> bool:
        """No engine write: what `nothing to do` says (gates only read)."""
        return not self.operations

    def text(self) -> str:
        if self.empty:
            return NOTHING_TO_DO
        return "\n".join(op.describe() for op in self.operations)

    def for_unit(self, unit: str) -> list[Operation]:
        """A unit's own operations, in the order they run: its writes, then its readiness gate."""
        return [op for op in [*self.operations, *self.gates] if op.unit == unit and op.kind not in IMAGE_KINDS]

    def unit_independent(self) -> list[Operation]:
        """Operations that belong to no unit and wait for nothing: images, infrastructure, removals outside the stack."""
        return [op for op in self.operations if op.unit is None]


PART_CAUSES = {"definition": "definition changed", "image": "image changed"}


class HashedDesired(Protocol):
    """What `change_cause` reads of the desired side: a container's DesiredUnit or a Swarm service's."""

    @property
    def hash_parts(self) -> dict[str, str]: ...

    @property
    def image(self) -> ResolvedImage: ...


class HashedCurrent(Protocol):
    """What `change_cause` reads of what runs: a container's or a Swarm service's per-part hashes."""

    @property
    def hash_parts(self) -> dict[str, str]: ...


def change_cause(desired: HashedDesired, container: HashedCurrent) -> str:
    """Why a container's hash differs, from the per-part hashes kept in its label."""
    old, new = container.hash_parts, desired.hash_parts
    changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    if not changed:
        return "config hash changed"
    reasons: list[str] = []
    for key in changed:
        if key == "image" and desired.image.missing:
            reasons.append("image rebuilt")
        elif key in PART_CAUSES:
            reasons.append(PART_CAUSES[key])
        else:
            kind, _, name = key.partition(":")
            label = {"file": "config hash changed", "input": "input changed", "secret": "secret changed"}.get(kind, kind)
            reasons.append(f"{label}: {name}")
    return ", ".join(reasons)


def make_plan(
    stack: Stack,
    settings: Settings,
    desired: dict[str, DesiredUnit],
    observed: ObservedState,
    targets: list[str] | None = None,
    remove_orphans: bool = False,
) -> Plan:
    units = stack.dependency_order(targets)
    ops: list[Operation] = []

    def add(kind: OpKind, target: str, cause: str, **kwargs: Any) -> Operation:
        op = Operation(id=len(ops) + 1, kind=kind, target=target, cause=cause, **kwargs)
        ops.append(op)
        return op

    # Units whose container is (re)created this run: the plan needs to know before deciding dependents.
    actions: dict[str, tuple[str, str]] = {}  # unit -> (action, cause)
    for name in units:
        unit = desired[name]
        container = observed.container(name)
        service = unit.service
        if container is None:
            actions[name] = ("create", "no container")
        elif container.config_hash != unit.config_hash:
            actions[name] = ("recreate", change_cause(unit, container))
        elif not service.one_shot and (
            recreated := [d for d in service.depends_on if actions.get(d, ("",))[0] in ("create", "recreate")
                          and not stack.units[d].one_shot]
        ):
            actions[name] = ("recreate", f"dependency {recreated[0]} recreated")
        elif service.one_shot:
            if container.state == "exited" and container.status_text.startswith("Exited (0)"):
                continue
            if container.state == "exited":
                actions[name] = ("recreate", f"job failed last time ({container.status_text.lower()})")
            elif container.state == "created":
                actions[name] = ("start", "container created but never started")
        elif container.state in ("exited", "created", "dead"):
            actions[name] = ("start", f"container {container.state}")

    surplus = [c for c in _surplus_replicas(stack, observed) if c.labels[LABEL_REPLICA_OF] in units]
    if not actions and not surplus and not (remove_orphans and _orphans(stack, observed)):
        return Plan(settings.project, units, [], warnings=_orphan_warnings(stack, observed, remove_orphans),
                    gates=_gates(stack, observed, units, actions, []))

    image_ops: dict[str, Operation] = {}
    for name in units:
        unit = desired[name]
        if name in actions and actions[name][0] != "start" and unit.image.missing and unit.image.ref not in image_ops:
            if unit.image.recipe is not None:
                image_ops[unit.image.ref] = add(OpKind.BUILD_IMAGE, unit.image.ref, "no image with this content hash")
            else:
                image_ops[unit.image.ref] = add(OpKind.PULL_IMAGE, unit.image.ref, "image not present")

    infrastructure: list[int] = []
    if observed.network is None:
        infrastructure.append(add(OpKind.CREATE_NETWORK, settings.network_name, "no network").id)
    needed_volumes = {m.volume for n in units for m in stack.units[n].mounts}
    for volume in stack.volumes:
        engine_name = settings.volume_name(volume.name)
        if volume.name in needed_volumes and engine_name not in observed.volumes:
            infrastructure.append(add(OpKind.CREATE_VOLUME, engine_name, "no volume").id)

    for name in units:
        if name not in actions:
            continue
        action, cause = actions[name]
        unit = desired[name]
        container = observed.container(name)
        needs = [(dep, cond) for dep, cond in unit.service.depends_on.items()]
        if action == "start":
            add(OpKind.START_CONTAINER, name, cause, unit=name, needs=needs)
            continue
        after = list(infrastructure)
        image_op = image_ops.get(unit.image.ref)
        if image_op is not None:
            after.insert(0, image_op.id)
        if action == "recreate" and container is not None:
            removal = add(OpKind.REMOVE_CONTAINER, name, f"replaced: {cause}", unit=name, engine_id=container.id)
            after.append(removal.id)
        # Before its build the image has no id, and the id is part of the config hash: the create takes it from the build.
        create = add(OpKind.CREATE_CONTAINER, name, cause, unit=name, after=after,
                     image_from=image_op.id if image_op is not None else None)
        add(OpKind.START_CONTAINER, name, "new container", unit=name, after=[create.id], needs=needs)

    for extra in surplus:
        count = stack.replicas.get(extra.labels[LABEL_REPLICA_OF], 1)
        add(OpKind.REMOVE_CONTAINER, extra.name, f"scaled down to {count}", unit=None, engine_id=extra.id)
    if remove_orphans:
        for orphan in _orphans(stack, observed):
            add(OpKind.REMOVE_CONTAINER, orphan.name, "orphan", unit=None, engine_id=orphan.id)
    return Plan(settings.project, units, ops, warnings=_orphan_warnings(stack, observed, remove_orphans),
                gates=_gates(stack, observed, units, actions, ops))


def _gates(stack: Stack, observed: ObservedState, units: list[str], actions: dict[str, tuple[str, str]],
           writes: list[Operation]) -> list[Operation]:
    """Each unit's readiness gate, after its writes: a job's exit, else its probe. None for a job that already
    completed, a service without a probe, or one kept and marked healthy by its own HEALTHCHECK (at most one
    interval old: a no-op `up` need not exec into every container again to learn what the engine knows)."""
    gates: list[Operation] = []
    for name in units:
        service = stack.units[name]
        container = observed.container(name)
        action, why = actions.get(name, ("keep", ""))
        if service.one_shot:
            if action == "keep" and container is not None and container.status_text.startswith("Exited (0)"):
                continue
            kind, cause = OpKind.WAIT_COMPLETED, "job still running" if action == "keep" else "one-shot job"
        elif service.probe is None:
            continue
        elif action == "keep":
            if container is not None and container.status_text.endswith("(healthy)"):
                continue
            kind, cause = OpKind.WAIT_READY, "kept, not marked healthy by its HEALTHCHECK"
        else:
            kind, cause = OpKind.WAIT_READY, why if action == "start" else "new container"
        last_write = [op.id for op in writes if op.unit == name][-1:]
        gates.append(Operation(id=len(writes) + len(gates) + 1, kind=kind, target=name, cause=cause, unit=name,
                               after=last_write))
    return gates


def _surplus_replicas(stack: Stack, observed: ObservedState) -> list[ContainerView]:
    """Extra instances of a service that is still in the stack, beyond the count asked for now."""
    return [c for c in observed.containers.values()
            if c.service not in stack.units and c.labels.get(LABEL_REPLICA_OF) in stack.units]


def _orphans(stack: Stack, observed: ObservedState) -> list[ContainerView]:
    known = stack.units
    surplus = {c.id for c in _surplus_replicas(stack, observed)}
    return [c for c in observed.containers.values() if c.service not in known and c.id not in surplus] + observed.extra_containers


def _orphan_warnings(stack: Stack, observed: ObservedState, remove_orphans: bool) -> list[str]:
    if remove_orphans:
        return []
    return [
        f"orphan container {c.name} (service {c.service!r} is not in the stack); --remove-orphans removes it"
        for c in _orphans(stack, observed)
    ]
