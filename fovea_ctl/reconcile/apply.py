"""Runs a plan: builds in parallel, then each unit starts the moment its own dependencies allow.

There are no level barriers: every unit has its own thread that waits for exactly the conditions its
operations need (an image build, a dependency started / ready / completed), runs its engine calls,
then its readiness gate (probe or job wait) when the plan gives it one. A failure stops only the units
that depend on it. The executor decides nothing: every engine call it makes is an operation of the plan.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from fovea_ctl.reconcile.desired import DesiredUnit
from fovea_ctl.docker.engine import Engine
from fovea_ctl.errors import EngineUnreachable, FoveaError, PortTaken
from fovea_ctl.images import build_image, pull_image
from fovea_ctl.model import Stack
from fovea_ctl.reconcile.observe import ObservedState
from fovea_ctl.reconcile.rollout import DependencyFailed, Outcome, Rollout, UnitRun
from fovea_ctl.reconcile.plan import GATE_KINDS, IMAGE_KINDS, Operation, OpKind, Plan
from fovea_ctl.probes import Cancelled, ContainerStopped, ProbeFailed, probe_context_for, wait_until_ready
from fovea_ctl.core.run_progress import Reporter
from fovea_ctl.core.secrets import SecretStore
from fovea_ctl.settings.effective import Settings

LOG_TAIL_LINES = 20


@dataclass
class Failure:
    unit: str
    kind: str  # exited | not ready | dependency failed | build failed | engine error | cancelled
    detail: str
    log_tail: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return f"{self.unit}: {self.kind}: {self.detail}"


@dataclass
class ApplyResult:
    runs: dict[str, UnitRun]
    failures: list[Failure]
    elapsed_s: float
    cancelled: bool = False
    engine_lost: EngineUnreachable | None = None  # the engine stopped answering mid-run

    @property
    def ok(self) -> bool:
        return not self.failures and not self.cancelled and self.engine_lost is None


@dataclass
class ApplyContext:
    stack: Stack
    settings: Settings
    engine: Engine
    secrets: SecretStore
    desired: dict[str, DesiredUnit]
    observed: ObservedState
    reporter: Reporter
    respec: Callable[[str, str | None], DesiredUnit]  # a unit again, with the id of the image its plan built
    cancel: threading.Event = field(default_factory=threading.Event)


class Executor:
    """Runs a plan's operations in their dependency order and decides nothing: what to build, create, start,
    remove and wait for, and after what, is the plan's. Operations outside any unit (images, network, volumes,
    removals of containers outside the stack) each run at once in a thread of their own; each unit's run in
    one thread, its operations in order, each after the operations and dependency conditions it names."""

    def __init__(self, plan: Plan, context: ApplyContext) -> None:
        self.plan = plan
        self.context = context
        self.rollout = Rollout(plan.units, context.reporter, context.cancel)
        self.runs = self.rollout.runs
        self.failures: list[Failure] = []
        self.finished: dict[int, threading.Event] = {}  # operations outside the units, by id
        self.op_errors: dict[int, str] = {}
        self.fatal: list[BaseException] = []  # a failed write outside the units (not an image): the run raises it
        self.image_ids: dict[int, str | None] = {}  # what each build/pull op made
        self.lock = threading.Lock()
        self.began = self.rollout.began
        self.engine_lost: EngineUnreachable | None = None

    # -- entry point ---------------------------------------------------------------------------
    def run(self, timeout_s: float | None = None) -> ApplyResult:
        threads: list[threading.Thread] = []
        for op in self.plan.unit_independent():
            self.finished[op.id] = threading.Event()
            threads.append(threading.Thread(target=self._independent, args=(op,), daemon=True, name=f"op-{op.id}"))
        threads += [threading.Thread(target=self._unit, args=(name,), daemon=True, name=f"unit-{name}")
                    for name in self.plan.units]
        try:
            self.rollout.run_threads(threads, timeout_s, on_timeout=lambda: self._fail_all_pending(
                "not ready", f"run timed out after {timeout_s:.0f} s"))
        except KeyboardInterrupt:
            return ApplyResult(self.runs, self.failures, time.monotonic() - self.began, cancelled=True)
        if self.fatal and self.engine_lost is None:
            raise self.fatal[0]
        return ApplyResult(self.runs, self.failures, time.monotonic() - self.began, engine_lost=self.engine_lost)

    # -- operations outside the units ------------------------------------------------------------
    def _independent(self, op: Operation) -> None:
        """An image's failure stops only the units that need it (they report it); any other write's stops the run."""
        image = op.kind in IMAGE_KINDS
        try:
            if self.context.cancel.is_set():
                raise Cancelled()
            if image:
                self._image(op)
            elif op.kind is OpKind.REMOVE_CONTAINER:
                self.context.engine.remove_container(op.engine_id or op.target)
                self.context.reporter.event(op.target, "removed", op.cause)
            else:
                self._infrastructure(op)
        except Cancelled:
            self.op_errors[op.id] = "cancelled"
        except EngineUnreachable as exc:  # nothing else can go on: stop every unit now
            self.op_errors[op.id] = exc.message
            self.engine_lost = exc
            self.context.cancel.set()
        except FoveaError as exc:
            self.op_errors[op.id] = str(exc)
            if image:
                self.context.reporter.event(op.target, "failed", exc.message.splitlines()[0])
            else:
                self.fatal.append(exc)
        except Exception as exc:  # a thread must always release its waiters
            self.op_errors[op.id] = f"{exc.__class__.__name__}: {exc}"
            if not image:
                self.fatal.append(exc)
        finally:
            self.finished[op.id].set()

    def _infrastructure(self, op: Operation) -> None:
        from fovea_ctl.docker.engine import create_stack_volume
        from fovea_ctl.docker.labels import project_labels
        from fovea_ctl.docker.labels import COMPOSE_NETWORK

        settings = self.context.settings
        if op.kind is OpKind.CREATE_NETWORK:
            self.context.engine.create_network(op.target, {**project_labels(settings.project),
                                                           COMPOSE_NETWORK: "default"})
        else:
            volume = next(v for v in self.context.stack.volumes if settings.volume_name(v.name) == op.target)
            create_stack_volume(self.context.engine, settings.project, op.target, volume)
        self.context.reporter.event(op.target, "created", op.cause)

    def _image(self, op: Operation) -> None:
        reporter = self.context.reporter
        reporter.event(op.target, "building" if op.kind is OpKind.BUILD_IMAGE else "pulling", op.cause)
        started = time.monotonic()
        if op.kind is OpKind.BUILD_IMAGE:
            recipe = next(d.image.recipe for d in self.context.desired.values() if d.image.ref == op.target)
            assert recipe is not None
            build_image(self.context.settings, recipe, op.target, cancel=self.context.cancel,
                        on_line=lambda line: reporter.event(op.target, "building", line[-90:], quiet=True))
        else:
            pull_image(self.context.engine, op.target)
        self.image_ids[op.id] = self.context.engine.image_id(op.target)  # the result a create op takes (image_from)
        reporter.event(op.target, "built", f"{time.monotonic() - started:.1f} s")

    # -- the units -------------------------------------------------------------------------------
    def _wait_operation(self, op_id: int) -> None:
        """One the plan runs first; a unit's own earlier operations have run already, in its thread."""
        finished = self.finished.get(op_id)
        if finished is None:
            return
        self.rollout.wait(finished)
        if op_id in self.op_errors:
            op = self.ops[op_id]
            what = "image build" if op.kind in IMAGE_KINDS else f"{op.kind.value} {op.target}"
            raise DependencyFailed(f"{what} failed: {self.op_errors[op_id].splitlines()[0]}")

    @cached_property
    def ops(self) -> dict[int, Operation]:
        return {op.id: op for op in self.plan.operations}

    def _unit(self, name: str) -> None:
        run = self.runs[name]
        context = self.context
        reporter = context.reporter
        unit = context.desired[name]
        existing = context.observed.container(name)
        run.container_id = existing.id if existing else None
        try:
            for op in self.plan.for_unit(name):
                for dep_id in op.after:
                    self._wait_operation(dep_id)
                for dependency, condition in op.needs:
                    self.rollout.wait_condition(name, dependency, condition)
                if context.cancel.is_set():
                    raise Cancelled()
                if op.kind in GATE_KINDS:
                    self._settle_started(run)
                self._operate(op, run, unit)
            self._settle_started(run)
            if run.ready_after_s is None:  # no gate: ready (or completed) once its writes are done
                run.ready_after_s = time.monotonic() - (run.start_time or self.began)
            run.outcome = Outcome.COMPLETED if unit.service.one_shot else Outcome.READY
            run.ready_at_s = time.monotonic() - self.began
            reporter.event(name, run.outcome.value, "", elapsed=run.ready_after_s)
        except Cancelled:
            run.outcome = Outcome.CANCELLED
            reporter.event(name, "cancelled", "")
        except DependencyFailed as exc:
            self._record(run, "dependency failed", str(exc).removeprefix("dependency "), tail=False)
        except ContainerStopped as exc:
            self._record(run, "exited", str(exc))
        except ProbeFailed as exc:
            self._record(run, "not ready", str(exc))
        except EngineUnreachable as exc:  # nothing else can go on: stop every unit now
            self.engine_lost = exc
            self.context.cancel.set()
            self._record(run, "engine error", exc.message, tail=False)
        except FoveaError as exc:
            self._record(run, "engine error", exc.message)
        except Exception as exc:  # a unit thread must always settle its outcome, or dependents hang
            self._record(run, "error", f"{exc.__class__.__name__}: {exc}")
        finally:
            run.done.set()

    def _settle_started(self, run: UnitRun) -> None:
        """Its writes are done: its container runs (what `needs X started` waits for)."""
        if run.started.is_set():
            return
        if run.container_id is None:
            raise FoveaError("no container was created")  # the plan always creates a missing one
        run.start_time = run.start_time or time.monotonic()
        run.started.set()

    def _operate(self, op: Operation, run: UnitRun, unit: DesiredUnit) -> None:
        engine = self.context.engine
        reporter = self.context.reporter
        if op.kind is OpKind.REMOVE_CONTAINER:
            reporter.event(run.name, "removing", op.cause, quiet=True)
            engine.remove_container(op.engine_id or op.target)
            run.container_id = None
        elif op.kind is OpKind.CREATE_CONTAINER:
            fresh = unit if op.image_from is None else self.context.respec(run.name, self.image_ids.get(op.image_from))
            self.context.desired[run.name] = fresh
            reporter.event(run.name, "creating", op.cause, quiet=True)
            run.container_id = engine.create_container(fresh.spec)
        elif op.kind is OpKind.START_CONTAINER:
            assert run.container_id is not None
            reporter.event(run.name, "starting", op.cause)
            run.start_time = time.monotonic()
            engine.start_container(run.container_id)
        elif op.kind is OpKind.WAIT_READY:
            self._wait_ready(run, unit)
        elif op.kind is OpKind.WAIT_COMPLETED:
            self._wait_job(run, unit)
        else:
            raise FoveaError(f"internal error: a unit's plan holds {op.describe()!r}")

    def _wait_ready(self, run: UnitRun, unit: DesiredUnit) -> None:
        probe = unit.service.probe
        if probe is None:
            run.ready_after_s = time.monotonic() - (run.start_time or self.began)
            return
        assert run.container_id is not None
        context = probe_context_for(
            unit.service, self.context.stack, self.context.engine, run.container_id,
            password=self.context.secrets.value, timeout_s=self.context.settings.probe_timeout_s,
            secrets_dir=str(self.context.settings.effective_secrets_dir),
        )
        self.context.reporter.event(run.name, "probing", "", quiet=True)
        wait_until_ready(
            context, budget_s=probe.budget_s, cancel=self.context.cancel,
            on_attempt=lambda n, err: self.context.reporter.event(run.name, "probing", f"attempt {n}: {err}", quiet=True),
        )
        run.ready_after_s = time.monotonic() - (run.start_time or self.began)

    def _wait_job(self, run: UnitRun, unit: DesiredUnit) -> None:
        assert run.container_id is not None
        engine = self.context.engine
        self.context.reporter.event(run.name, "running", "one-shot job", quiet=True)
        deadline = time.monotonic() + unit.service.budget_s
        while True:
            details = engine.inspect_container(run.container_id)
            if details.state in ("exited", "dead"):
                if details.exit_code != 0:
                    raise ContainerStopped(details.exit_code, f"job exited with code {details.exit_code}")
                run.ready_after_s = time.monotonic() - (run.start_time or self.began)
                return
            if time.monotonic() > deadline:
                raise ProbeFailed(f"job still running after {unit.service.budget_s:.0f} s")
            if self.context.cancel.wait(0.1):
                raise Cancelled()

    def _record(self, run: UnitRun, kind: str, detail: str, tail: bool = True) -> None:
        logs = self.context.engine.log_tail(run.container_id, LOG_TAIL_LINES) if tail and run.container_id else []
        failure = Failure(run.name, kind, detail, logs)
        with self.lock:
            if not any(f.unit == run.name for f in self.failures):  # the run's timeout already named it
                self.failures.append(failure)
        run.outcome = Outcome.FAILED
        self.context.reporter.event(run.name, "failed", f"{kind}: {detail}")

    def _fail_all_pending(self, kind: str, detail: str) -> None:
        for run in self.runs.values():
            if not run.done.is_set():
                with self.lock:
                    logs = self.context.engine.log_tail(run.container_id, LOG_TAIL_LINES) if run.container_id else []
                    self.failures.append(Failure(run.name, kind, detail, logs))


def ensure_host_ports_free(plan: Plan, desired: dict[str, DesiredUnit], observed: ObservedState) -> None:
    """Before any engine write: every host port a unit of this run will publish is free, unless a running
    container of this project holds it (a recreate frees it first). A port another process listens on
    would fail the start after the network, volumes and containers were made."""
    held = {port for container in observed.containers.values() if container.running for port in container.ports.values()}
    taken: list[str] = []
    for name in plan.units:
        if not any(op.kind in (OpKind.CREATE_CONTAINER, OpKind.START_CONTAINER) for op in plan.for_unit(name)):
            continue
        for host_port in desired[name].spec.port_bindings.values():
            if host_port not in held and host_port_taken(host_port):
                taken.append(f"service {name}: host port 127.0.0.1:{host_port}")
    if taken:
        raise PortTaken(f"{'; '.join(taken)} already taken by another process; nothing was changed "
                        "(stop that process, or move every port with FOVEA_PORT_BASE)")


def host_port_taken(host_port: int) -> bool:
    """Whether some process listens on 127.0.0.1:`host_port` (a socket in TIME_WAIT does not count)."""
    import errno
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", host_port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            return True
    return False
