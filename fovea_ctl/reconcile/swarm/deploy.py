"""`fovea swarm deploy`: observed Swarm state → plan → a rollout that follows the stack's dependency DAG.

`docker stack deploy` creates every service at once and ignores `depends_on`; here each service is created
(or updated) only when its dependencies pass fovea's own probes — the same `Probe` objects `up` uses, over
the host-mode published ports, or `docker exec` into the task's container on this node. Independent
branches roll out in parallel. A re-deploy with nothing changed makes no engine write.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fovea_ctl.errors import FoveaError, UsageError
from fovea_ctl.images import ResolvedImage
from fovea_ctl.docker.labels import LABEL_SWARM_KIND
from fovea_ctl.reconcile.plan import GATE_KINDS, Operation, OpKind, Plan, change_cause
from fovea_ctl.reconcile.rollout import DependencyFailed, Outcome, Rollout, UnitRun
from fovea_ctl.probes import Cancelled, ContainerStopped, ProbeFailed, probe_context_for, wait_until_ready
from fovea_ctl.core.run_progress import Reporter
from fovea_ctl.docker.swarm import SwarmEngine, SwarmObjectView, SwarmServiceView, TaskView
from fovea_ctl.render.swarm_spec import (
    JOB_ATTEMPTS,
    DesiredSwarmService,
    SwarmObject,
    desired_services,
    network_name,
    placement_problem,
    service_spec,
    stack_labels,
)

if TYPE_CHECKING:
    from fovea_ctl.reconcile.project import Project

TASK_START_BUDGET_S = 180.0  # scheduling + container start; the probe's own budget follows
FAILED_TASKS_BEFORE_GIVING_UP = 3
POLL_S = 0.2
TERMINAL_TASK_STATES = ("complete", "failed", "rejected", "shutdown", "orphaned", "remove")


@dataclass
class SwarmObserved:
    services: dict[str, SwarmServiceView]  # by unit
    secrets: dict[str, SwarmObjectView]  # by name
    configs: dict[str, SwarmObjectView]
    network: SwarmObjectView | None


@dataclass
class SwarmDeployResult:
    plan: Plan
    outcomes: dict[str, UnitRun]
    elapsed_s: float
    why_failed: dict[str, str] = field(default_factory=dict)  # by unit

    @property
    def failures(self) -> list[str]:
        return [f"{name}: {self.why_failed.get(name, run.outcome or 'not settled')}"
                for name, run in self.outcomes.items() if not run.ok]

    @property
    def ok(self) -> bool:
        return not self.failures


def observe_swarm(swarm: SwarmEngine, project: str) -> SwarmObserved:
    services = {s.unit: s for s in swarm.services(project)}
    networks = [n for n in swarm.networks(project) if n.name == f"{project}-swarm"]
    return SwarmObserved(services=services, secrets={s.name: s for s in swarm.secrets(project)},
                         configs={c.name: c for c in swarm.configs(project)}, network=networks[0] if networks else None)


def make_swarm_plan(project: Project, desired: dict[str, DesiredSwarmService], observed: SwarmObserved,
                    swarm: SwarmEngine | None = None) -> Plan:
    """The Swarm writes a deploy makes, in the order it makes them, each with its cause: the network, the
    secrets and configs no service has yet, each service created or updated in dependency order, then what
    the stack no longer holds. The same `Plan` (and text) as the local one."""
    ops: list[Operation] = []

    def add(kind: OpKind, target: str, cause: str, unit: str | None = None, engine_id: str | None = None) -> None:
        ops.append(Operation(id=len(ops) + 1, kind=kind, target=target, cause=cause, unit=unit, engine_id=engine_id))

    if observed.network is None:
        add(OpKind.CREATE_NETWORK, network_name(project.settings), "no network")
    wanted = {o.name: o for unit in desired.values() for o in [*unit.secrets, *unit.configs]}
    existing = {**observed.secrets, **observed.configs}
    for name, obj in wanted.items():
        if name not in existing:
            add(OpKind.CREATE_SECRET if obj.kind == "secret" else OpKind.CREATE_CONFIG, name, "content changed or new")
    order = [n for n in project.stack.dependency_order() if n in desired]
    for name in order:
        unit, current = desired[name], observed.services.get(name)
        if current is None:
            add(OpKind.CREATE_SERVICE, name, "no service", unit=name)
        elif current.config_hash != unit.config_hash:
            add(OpKind.UPDATE_SERVICE, name, change_cause(unit, current), unit=name, engine_id=current.id)
        elif unit.one_shot and swarm is not None and _job_gave_up(swarm, current):
            add(OpKind.UPDATE_SERVICE, name, "job failed last time", unit=name, engine_id=current.id)
    for orphan in (s for unit, s in observed.services.items() if unit not in desired):
        add(OpKind.REMOVE_SERVICE, orphan.unit or orphan.name, "not in the stack", engine_id=orphan.id)
    for stale in (o for name, o in existing.items() if name not in wanted):
        kind = OpKind.REMOVE_SECRET if stale.labels.get(LABEL_SWARM_KIND) == "secret" else OpKind.REMOVE_CONFIG
        add(kind, stale.name, "no longer used", engine_id=stale.id)
    # Each service proves itself ready (tasks of its spec running, then its probe in each; a job: complete),
    # a kept one too: the deploy vouches for the whole stack. Gates read, so the text stays the writes.
    written = {op.unit: op.id for op in ops if op.unit is not None}
    gates = [Operation(id=len(ops) + i, kind=OpKind.WAIT_COMPLETED if desired[name].one_shot else OpKind.WAIT_READY,
                       target=name, cause="kept" if name not in written else "new spec", unit=name,
                       after=[written[name]] if name in written else [])
             for i, name in enumerate(order, 1)]
    return Plan(project.settings.project, order, ops, gates=gates)


def _job_gave_up(swarm: SwarmEngine, service: SwarmServiceView) -> bool:
    """A job of the current spec that never completed and has nothing left running: run it again."""
    tasks = [t for t in swarm.tasks(service.id) if t.config_hash == service.config_hash]
    settled = all(t.state in TERMINAL_TASK_STATES for t in tasks)
    return settled and any(t.state in ("failed", "rejected") for t in tasks) and not any(t.state == "complete" for t in tasks)


class SwarmDeployer:
    def __init__(self, project: Project, reporter: Reporter) -> None:
        self.project = project
        self.settings = project.settings
        self.stack = project.stack
        self.reporter = reporter
        self.swarm = SwarmEngine(project.engine)
        self.cancel = threading.Event()
        self.began = time.monotonic()

    # -- preflight -----------------------------------------------------------------------------------
    def preflight(self) -> None:
        problem = self.swarm.manager_problem()
        if problem:
            raise UsageError(f"cannot deploy to Swarm: {problem}")
        local = [c.name for c in self.project.observe().containers.values() if c.running]
        if local:
            raise UsageError(
                f"project {self.settings.project!r} also runs locally ({', '.join(sorted(local))}): both would write "
                "the same volumes; run `fovea down` first, or deploy under another FOVEA_PROJECT")
        nodes = self.swarm.node_resources()
        for unit in self.stack.units.values():
            if problem := placement_problem(unit, nodes):
                raise UsageError(problem)

    def images(self) -> dict[str, ResolvedImage]:
        """Every image this node needs, built (or pulled) now if missing: Swarm never resolves them."""
        from fovea_ctl.images import build_image, pull_image

        resolver = self.project.resolver()
        images = resolver.resolve_stack(self.stack)
        for ref, image in {i.ref: i for i in images.values() if i.missing}.items():
            self.reporter.event(ref, "building" if image.recipe else "pulling", "not on this node")
            if image.recipe is not None:
                build_image(self.settings, image.recipe, ref)
            else:
                pull_image(self.project.engine, ref)
        return {name: ResolvedImage(i.ref, i.recipe, i.present_id or self.project.engine.image_id(i.ref))
                for name, i in images.items()}

    def desired(self) -> dict[str, DesiredSwarmService]:
        return desired_services(self.stack, self.settings, self.images(), self.project.secrets)

    def plan(self) -> tuple[Plan, dict[str, DesiredSwarmService], SwarmObserved]:
        desired = self.desired()
        observed = observe_swarm(self.swarm, self.settings.project)
        return make_swarm_plan(self.project, desired, observed, self.swarm), desired, observed

    # -- rollout -------------------------------------------------------------------------------------
    def deploy(self, prune: bool = True) -> SwarmDeployResult:
        with self.project.writing():  # like every command that changes the project (see Project.writing)
            return self._deploy(prune)

    def _deploy(self, prune: bool) -> SwarmDeployResult:
        self.preflight()
        plan, desired, observed = self.plan()
        for skipped in self.stack.skipped:
            self.reporter.event(skipped.name, "skipped", skipped.unavailable_reason or "")
        network_id = observed.network.id if observed.network else ""
        objects = {o.name: o for unit in desired.values() for o in [*unit.secrets, *unit.configs]}
        object_ids = {o.name: o.id for o in [*observed.secrets.values(), *observed.configs.values()]}
        for op in plan.operations:
            if op.kind is OpKind.CREATE_NETWORK:
                network_id = self._create_network()
            elif op.kind in (OpKind.CREATE_SECRET, OpKind.CREATE_CONFIG):
                object_ids[op.target] = self._create_object(objects[op.target])
        rollout = Rollout(plan.units, self.reporter, self.cancel)
        why_failed: dict[str, str] = {}
        threads = [threading.Thread(target=self._unit, daemon=True, name=f"swarm-{name}",
                                    args=(desired[name], observed.services.get(name), plan.for_unit(name), rollout,
                                          why_failed, network_id, object_ids))
                   for name in plan.units]
        rollout.run_threads(threads)
        result = SwarmDeployResult(plan, rollout.runs, time.monotonic() - self.began, why_failed)
        if result.ok and prune:
            self._prune(plan)
        return result

    def _create_network(self) -> str:
        network_id = self.swarm.create_network(network_name(self.settings), stack_labels(self.settings))
        self.reporter.event(network_name(self.settings), "created", "no network")
        return network_id

    def _create_object(self, obj: SwarmObject) -> str:
        labels = {**stack_labels(self.settings), LABEL_SWARM_KIND: obj.kind}
        create = self.swarm.create_secret if obj.kind == "secret" else self.swarm.create_config
        object_id = create(obj.name, obj.data(), labels)
        self.reporter.event(obj.name, "created", f"{obj.kind} for {obj.target}")
        return object_id

    def _prune(self, plan: Plan) -> None:
        removals = {OpKind.REMOVE_SERVICE: self.swarm.remove_service, OpKind.REMOVE_SECRET: self.swarm.remove_secret,
                    OpKind.REMOVE_CONFIG: self.swarm.remove_config}
        for op in plan.operations:
            if op.kind in removals:
                assert op.engine_id is not None
                removals[op.kind](op.engine_id)
                self.reporter.event(op.target, "removed", op.cause)

    def _unit(self, desired: DesiredSwarmService, current: SwarmServiceView | None, operations: list[Operation],
              rollout: Rollout, why_failed: dict[str, str], network_id: str, object_ids: dict[str, str]) -> None:
        """`operations`: the unit's create or update (none keeps it) and its readiness gate, as planned."""
        name = desired.unit.name
        run = rollout.runs[name]
        started = time.monotonic()
        wrote = False
        try:
            for dependency, condition in self.stack.units[name].depends_on.items():
                rollout.wait_condition(name, dependency, condition)
            for op in operations:
                if op.kind in GATE_KINDS:
                    run.started.set()
                    self._wait_ready(desired)
                    continue
                spec = service_spec(desired, self.stack, self.settings, network_id, object_ids)
                self.reporter.event(name, "creating" if op.kind is OpKind.CREATE_SERVICE else "updating", op.cause)
                started, wrote = time.monotonic(), True
                if op.kind is OpKind.CREATE_SERVICE:
                    self.swarm.create_service(spec)
                else:
                    assert current is not None
                    if desired.one_shot:  # an update reruns a job only when its task template changes
                        spec["task_template"]["ForceUpdate"] = current.force_update + 1
                    self.swarm.update_service(current, spec)
            run.started.set()
            run.outcome = Outcome.COMPLETED if desired.one_shot else Outcome.READY
            run.ready_at_s = time.monotonic() - self.began
            self.reporter.event(name, run.outcome.value, f"in {time.monotonic() - started:.2f} s" if wrote else "kept",
                                elapsed=time.monotonic() - started)
        except (FoveaError, ProbeFailed, ContainerStopped, DependencyFailed, Cancelled) as exc:
            self._failed(run, why_failed, getattr(exc, "message", None) or str(exc) or "cancelled")
        except Exception as exc:  # a unit thread must settle its outcome, or its dependents wait forever
            self._failed(run, why_failed, f"{exc.__class__.__name__}: {exc}")
        finally:
            run.done.set()

    def _failed(self, run: UnitRun, why_failed: dict[str, str], why: str) -> None:
        why_failed[run.name] = why
        run.outcome = Outcome.FAILED
        self.reporter.event(run.name, "failed", why)

    def _current_tasks(self, desired: DesiredSwarmService) -> list[TaskView]:
        service = next((s for s in self.swarm.services(self.settings.project) if s.unit == desired.unit.name), None)
        if service is None:
            raise FoveaError("the service vanished during the rollout")
        return [t for t in self.swarm.tasks(service.id) if t.config_hash == desired.config_hash]

    def _wait_ready(self, desired: DesiredSwarmService) -> None:
        """Tasks of the current spec running (a job: complete), then the unit's probe passes in each."""
        deadline = time.monotonic() + TASK_START_BUDGET_S
        while True:
            tasks = self._current_tasks(desired)
            failed = [t for t in tasks if t.state in ("failed", "rejected")]
            if desired.one_shot and any(t.state == "complete" for t in tasks):
                return
            attempts = JOB_ATTEMPTS if desired.one_shot else FAILED_TASKS_BEFORE_GIVING_UP
            if failed and (len(failed) >= attempts or failed[0].state == "rejected"):
                raise FoveaError(self._task_failure(failed[-1]))
            running = [t for t in tasks if t.state == "running" and t.desired_state == "running" and t.container_id]
            if not desired.one_shot and len(running) >= desired.replicas:
                break
            if time.monotonic() > deadline:
                states = ", ".join(sorted({f"{t.state}{' (' + t.error + ')' if t.error else ''}" for t in tasks})) or "no task"
                raise FoveaError(f"tasks not running after {TASK_START_BUDGET_S:.0f} s: {states}")
            if self.cancel.wait(POLL_S):
                raise FoveaError("cancelled")
        probe = desired.unit.probe
        if probe is None:
            return
        for task in running[:desired.replicas]:
            assert task.container_id is not None
            context = probe_context_for(desired.unit, self.stack, self.project.engine, task.container_id,
                                        password=self.project.secrets.value, timeout_s=self.settings.probe_timeout_s,
                                        secrets_dir=str(self.settings.effective_secrets_dir))
            wait_until_ready(context, budget_s=probe.budget_s, cancel=self.cancel)

    def _task_failure(self, task: TaskView) -> str:
        detail = task.error or task.message or task.state
        if task.exit_code is not None:
            detail = f"exited with code {task.exit_code}: {detail}"
        if task.container_id:
            tail = self.project.engine.log_tail(task.container_id, 10)
            detail += "".join(f"\n    {line}" for line in tail)
        return f"task {task.state}: {detail}"
