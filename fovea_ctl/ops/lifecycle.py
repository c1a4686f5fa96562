"""`fovea stop|start|restart [SERVICE...]`: stop in reverse dependency order (what needs a stopped service
stops first, and says so), start through `up`'s plan so every service waits for its dependencies and its
own readiness exactly as `up` does."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fovea_ctl.reconcile.observe import ObservedState

if TYPE_CHECKING:
    from fovea_ctl.reconcile.apply import ApplyResult
    from fovea_ctl.reconcile.plan import Plan
    from fovea_ctl.core.run_progress import Reporter
    from fovea_ctl.reconcile.project import Project

Note = Callable[[str], None]


@dataclass
class StopSelection:
    """What a stop of `targets` touches: the targets, and each unit that must stop with them because it
    depends on one (directly or not), mapped to the target it needs."""

    targets: list[str]
    dependents: dict[str, str] = field(default_factory=dict)  # unit -> the stopped target it needs

    @property
    def units(self) -> list[str]:
        return [*self.targets, *self.dependents]


@dataclass
class StopResult:
    stopped: list[str] = field(default_factory=list)  # containers this call stopped
    already_stopped: list[str] = field(default_factory=list)
    dependents: dict[str, str] = field(default_factory=dict)  # unit -> the target it needs


def stop_selection(project: Project, targets: list[str] | None) -> StopSelection:
    """The units a stop of `targets` touches (all of them without targets). Unknown names: UsageError."""
    stack = project.stack
    if not targets:
        return StopSelection(list(stack.units))
    project.check_targets(targets)
    dependents: dict[str, str] = {}
    for target in targets:
        for unit in stack.dependency_order(None):  # stable, readable order
            if unit in stack.dependents(target) and unit not in targets and unit not in dependents:
                dependents[unit] = target
    return StopSelection(list(dict.fromkeys(targets)), dependents)


def dependents_line(selection: StopSelection, running: set[str] | None = None) -> str | None:
    """One line naming what stops with the targets and why: "also stopping backend, frontend (they need
    postgres)"; with `running`, only those of them that run (the rest have nothing to stop)."""
    by_target: dict[str, list[str]] = {}
    for unit, target in selection.dependents.items():
        if running is None or unit in running:
            by_target.setdefault(target, []).append(unit)
    if not by_target:
        return None
    parts = [f"{', '.join(units)} ({'it needs' if len(units) == 1 else 'they need'} {target})"
             for target, units in by_target.items()]
    return "also stopping " + "; ".join(parts)


class _StopOrder:
    """Records the order containers actually stopped in (threads stop independents in parallel), and
    passes each event on."""

    def __init__(self, passes_to: Reporter | None) -> None:
        self.passes_to = passes_to
        self.order: list[str] = []

    def event(self, unit: str, state: str, detail: str = "", *, elapsed: float | None = None, quiet: bool = False) -> None:
        if state == "stopped":
            self.order.append(unit)
        if self.passes_to is not None:
            self.passes_to.event(unit, state, detail, elapsed=elapsed, quiet=quiet)

    def close(self) -> None:
        pass


def stop_services(project: Project, targets: list[str] | None, timeout_s: int | None = None,
                  reporter: Reporter | None = None, note: Note | None = None) -> StopResult:
    """Stop `targets` and everything that needs them, dependents first; containers are kept (`start`
    runs them again). One-shot jobs that already exited are left as they are."""
    selection = stop_selection(project, targets)
    with project.writing():
        observed = project.observe()
        chosen = {name: c for name, c in observed.containers.items() if name in selection.units}
        running = {name: c for name, c in chosen.items() if c.running}
        line = dependents_line(selection, set(running))
        if line and note:
            note(line)
        result = StopResult(dependents={u: t for u, t in selection.dependents.items() if u in running})
        result.already_stopped = [n for n in selection.targets if n in chosen and not chosen[n].running]
        order = _StopOrder(reporter)
        # Only the chosen, running containers: `down`'s ordered stop, without its removal.
        project.stop_in_reverse_order(ObservedState(observed.project, observed.network, observed.volumes, running),
                                      timeout_s, order, remove=False)
        result.stopped = order.order
    return result


def stopped_services(project: Project) -> list[str]:
    """Long-running services whose container exists but does not run: what a bare `fovea start` starts."""
    observed = project.observe()
    return [name for name, unit in project.stack.units.items()
            if not unit.one_shot and (c := observed.container(name)) is not None and not c.running]


def start_services(project: Project, reporter: Reporter, targets: list[str] | None,
                   timeout_s: float | None = None) -> tuple[Plan, ApplyResult] | None:
    """`up` of `targets` (their dependencies first, each waiting for readiness as `up` does); without
    targets, of the stopped services. None when nothing is stopped."""
    project.check_targets(targets)
    chosen = targets or stopped_services(project)
    if not chosen:
        return None
    return project.up(reporter, chosen, timeout_s=timeout_s)


def restart_services(project: Project, reporter: Reporter, targets: list[str] | None, timeout_s: int | None = None,
                     note: Note | None = None) -> tuple[StopResult, Plan, ApplyResult]:
    """Stop `targets` and what needs them, then start all of those again and wait until ready, under one
    hold of the project lock (no other command runs in between)."""
    selection = stop_selection(project, targets)
    with project.writing():
        stopped = stop_services(project, targets, timeout_s, reporter, note)
        # Only long-running services are started again by name; `up` reruns a job only when it must.
        again = [n for n in selection.units if not project.stack.units[n].one_shot]
        plan, result = project.up(reporter, again)
    return stopped, plan, result
