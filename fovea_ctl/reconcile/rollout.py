"""The part of running a plan that no target changes: one thread per unit, each waiting for exactly the
dependency conditions it needs (started / ready / completed), cancellation, and the join with the run's deadline.

Local containers (`apply.Executor`) and Swarm services (`swarm.deploy.SwarmDeployer`) both roll out through it;
what differs between them is only how each operation reaches the engine.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from fovea_ctl.core.run_progress import Reporter
from fovea_ctl.model import Condition
from fovea_ctl.probes import Cancelled

POLL_S = 0.05


class Outcome(StrEnum):
    READY = "ready"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass
class UnitRun:
    name: str
    started: threading.Event = field(default_factory=threading.Event)  # its writes are done: it exists and runs
    done: threading.Event = field(default_factory=threading.Event)  # settled, whatever the outcome
    outcome: Outcome | None = None
    container_id: str | None = None
    start_time: float | None = None
    ready_after_s: float | None = None  # from its own start to ready
    ready_at_s: float | None = None  # since the run began

    @property
    def ok(self) -> bool:
        return self.outcome in (Outcome.READY, Outcome.COMPLETED)


class DependencyFailed(Exception):
    pass


class Rollout:
    def __init__(self, units: list[str], reporter: Reporter, cancel: threading.Event) -> None:
        self.runs = {name: UnitRun(name) for name in units}
        self.reporter = reporter
        self.cancel = cancel
        self.began = time.monotonic()

    def wait(self, event: threading.Event) -> None:
        while not event.wait(POLL_S):
            if self.cancel.is_set():
                raise Cancelled()

    def wait_condition(self, unit: str, dependency: str, condition: Condition) -> None:
        """Until `dependency` is started / ready / completed; DependencyFailed when it settled otherwise."""
        dep_run = self.runs.get(dependency)
        if dep_run is None:  # not part of this run (targeted up): it must already be there
            return
        self.reporter.event(unit, "waiting", f"for {dependency} {condition.value}", quiet=True)
        if condition is Condition.STARTED:
            # `started` is set only once it really runs: a dependency that failed before that (create
            # refused, image missing) ends `done` without it and stops this unit.
            while not dep_run.started.wait(POLL_S):
                if dep_run.done.is_set():
                    break
                if self.cancel.is_set():
                    raise Cancelled()
            if dep_run.started.is_set():
                return
        else:
            self.wait(dep_run.done)
        if not dep_run.ok or (condition is Condition.COMPLETED and dep_run.outcome is not Outcome.COMPLETED):
            raise DependencyFailed(f"dependency {dependency} failed")

    def run_threads(self, threads: list[threading.Thread], timeout_s: float | None = None,
                    on_timeout: Callable[[], None] = lambda: None) -> None:
        """Start them all and wait; past `timeout_s` (from the run's start) `on_timeout` runs once and every
        unit is cancelled. Ctrl-C cancels them, waits for them to settle, and is raised again."""
        deadline = self.began + timeout_s if timeout_s else None
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                while thread.is_alive():
                    thread.join(0.1)
                    if deadline and time.monotonic() > deadline and not self.cancel.is_set():
                        on_timeout()
                        self.cancel.set()
        except KeyboardInterrupt:
            self.cancel.set()
            for thread in threads:
                thread.join(30)
            raise
