"""`fovea up`, `fovea plan`, `fovea down`, `fovea migrate`, and `stop`/`start`/`restart` (ops/lifecycle)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Optional

import typer

if TYPE_CHECKING:
    from fovea_ctl.reconcile.apply import ApplyResult
    from fovea_ctl.reconcile.plan import Plan
    from fovea_ctl.reconcile.project import Project

from fovea_ctl.cli.app import app, complete_service, echo_json, project


@app.command()
def plan(
    services: Annotated[Optional[list[str]], typer.Argument(help="Limit to these services and their dependencies",
                                                            autocompletion=complete_service)] = None,
    remove_orphans: Annotated[bool, typer.Option("--remove-orphans")] = False,
) -> None:
    """Print the operations `up` would perform, one per line with its cause, or `nothing to do`."""
    result = project().plan(services or None, remove_orphans)
    for warning in result.warnings:
        sys.stderr.write(f"note: {warning}\n")
    sys.stdout.write(result.text() + "\n")


@app.command()
def up(
    services: Annotated[Optional[list[str]], typer.Argument(help="Start these services and their dependencies",
                                                            autocompletion=complete_service)] = None,
    json_lines: Annotated[bool, typer.Option("--json", help="Events as JSON lines on stdout")] = False,
    timeout: Annotated[Optional[float], typer.Option("--timeout", help="Bound the whole run (seconds)")] = None,
    remove_orphans: Annotated[bool, typer.Option("--remove-orphans")] = False,
    gpu: Annotated[bool, typer.Option("--gpu", help="Use the GPU variant of services that have one")] = False,
    scale: Annotated[Optional[list[str]], typer.Option("--scale", help="SERVICE=N instances of a scalable service (repeatable)")] = None,
) -> None:
    """Build what is missing, create what is absent, start each service the moment its dependencies are ready."""
    from fovea_ctl.core.run_progress import make_reporter

    target = project(gpu=True if gpu else None, scale=",".join(scale) if scale else None)
    reporter = make_reporter(json_lines)
    try:
        plan_, result = target.up(reporter, services or None, remove_orphans, timeout)
    finally:
        reporter.close()
    report_up(target, plan_, result, json_lines)


def report_up(target: Project, plan_: Plan, result: ApplyResult, json_lines: bool, verb: str = "up") -> None:
    """The end of every command that brings services up (`up`, `start`, `restart`): the same exit codes
    (130 interrupted, 3 engine lost, 5 a service failed) and the same summary and links."""
    from fovea_ctl.errors import EngineUnreachable, Interrupted

    if result.cancelled:
        raise Interrupted("interrupted: ready services stay up; run `fovea up` again to converge")
    if result.engine_lost is not None:  # one line: the units' failures all say the same
        raise EngineUnreachable(f"{result.engine_lost.message} during `{verb}`; start it, then run `fovea up` "
                                "again (it converges)")
    _raise_failures(result)
    if not json_lines:
        summary = "nothing changed" if plan_.empty else f"{len(plan_.operations)} operations"
        slowest = max((r.ready_at_s or 0.0 for r in result.runs.values()), default=0.0)
        sys.stderr.write(f"fovea: {len(result.runs)} services ready in {result.elapsed_s:.2f} s ({summary})"
                         f"{'' if plan_.empty else f'; last ready at {slowest:.2f} s'}\n")
        for label, url in target.stack.links(list(result.runs)).items():
            sys.stderr.write(f"fovea: {label}: open {url}\n")


def _raise_failures(result: ApplyResult) -> None:
    """A failed run → ServiceFailed naming each unit, the kind of failure and its log tail."""
    from fovea_ctl.errors import ServiceFailed

    if result.failures:
        lines = []
        for failure in result.failures:
            lines.append(failure.describe())
            lines += [f"    {service_line}" for service_line in failure.log_tail]
        ready = [n for n, r in result.runs.items() if r.outcome and r.outcome.value in ("ready", "completed")]
        raise ServiceFailed(
            "services failed to become ready:\n  " + "\n  ".join(lines)
            + (f"\n  still up: {', '.join(ready)}" if ready else ""),
            hint="fix the cause, then `fovea up` again (ready services are kept)",
        )


@app.command()
def down(
    volumes: Annotated[bool, typer.Option(
        "--volumes", "-v", help="Also remove volumes (critical ones need a fresh verified backup, or --force)")] = False,
    force: Annotated[bool, typer.Option("--force", help="Remove critical volumes even without a fresh verified backup")] = False,
    timeout: Annotated[Optional[int], typer.Option("--timeout", help="Seconds to wait for each stop")] = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Stop in reverse dependency order and remove containers and the network (volumes on request)."""
    target = project()
    if volumes and force:
        sys.stderr.write("fovea: WARNING: --volumes --force deletes critical volumes (database, videos); "
                         "their data is gone unless you have a backup\n")
    result = target.down(volumes=volumes, force=force, timeout_s=timeout)
    if json_out:
        echo_json(result.__dict__)
        return
    for name in result.removed_containers:
        sys.stderr.write(f"removed container {name}\n")
    for name in result.removed_volumes:
        held = result.covered_volumes.get(name)
        sys.stderr.write(f"removed volume {name}" + (f" (its data is in verified backup {held})" if held else "") + "\n")
    for name, why in result.kept_volumes.items():
        sys.stderr.write(f"kept volume {name}: {why}\n")
    if result.network_removed:
        sys.stderr.write(f"removed network {target.settings.network_name}\n")


@app.command()
def migrate() -> None:
    """Run the backend's migrations now (the init job `up` runs when migrations change)."""
    from fovea_ctl.core.run_progress import make_reporter

    target = project()
    reporter = make_reporter(False)
    try:
        result = target.rerun_job("backend-migrate", reporter)
    finally:
        reporter.close()
    _raise_failures(result)


ServicesArgument = Annotated[Optional[list[str]], typer.Argument(
    help="These services (default: all); what needs a stopped service stops with it", show_default=False,
    autocompletion=complete_service)]


@app.command()
def stop(
    services: ServicesArgument = None,
    timeout: Annotated[Optional[int], typer.Option("--timeout", "-t", help="Seconds to wait for each stop")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="What stopped, as JSON")] = False,
) -> None:
    """Stop services (and what needs them), dependents first; containers and data are kept."""
    from fovea_ctl.ops.lifecycle import stop_services

    target = project()
    result = stop_services(target, services or None, timeout, note=None if json_out else _note)
    if json_out:
        echo_json(result.__dict__)
        return
    for name in result.stopped:
        sys.stderr.write(f"stopped {name}\n")
    for name in result.already_stopped:
        sys.stderr.write(f"{name} was not running\n")
    if result.stopped:
        sys.stderr.write(f"fovea: {len(result.stopped)} stopped; `fovea start` starts them again\n")


@app.command()
def start(
    services: Annotated[Optional[list[str]], typer.Argument(
        help="These services and their dependencies (default: every stopped one)", show_default=False,
        autocompletion=complete_service)] = None,
    json_lines: Annotated[bool, typer.Option("--json", help="Events as JSON lines on stdout")] = False,
    timeout: Annotated[Optional[float], typer.Option("--timeout", help="Bound the whole run (seconds)")] = None,
) -> None:
    """Start stopped services through `up`'s plan: each waits for its dependencies, then for its own readiness."""
    from fovea_ctl.ops.lifecycle import start_services
    from fovea_ctl.core.run_progress import make_reporter

    target = project()
    reporter = make_reporter(json_lines)
    try:
        outcome = start_services(target, reporter, services or None, timeout)
    finally:
        reporter.close()
    if outcome is None:
        sys.stderr.write("fovea: nothing is stopped (`fovea up` creates what is missing)\n")
        return
    report_up(target, *outcome, json_lines, verb="start")


@app.command()
def restart(
    services: ServicesArgument = None,
    timeout: Annotated[Optional[int], typer.Option("--timeout", "-t", help="Seconds to wait for each stop")] = None,
    json_lines: Annotated[bool, typer.Option("--json", help="Events as JSON lines on stdout")] = False,
) -> None:
    """Stop services (and what needs them), then start them all again and wait until each is ready."""
    from fovea_ctl.ops.lifecycle import restart_services
    from fovea_ctl.core.run_progress import make_reporter

    target = project()
    reporter = make_reporter(json_lines)
    try:
        _, plan_, result = restart_services(target, reporter, services or None, timeout,
                                            note=None if json_lines else _note)
    finally:
        reporter.close()
    report_up(target, plan_, result, json_lines, verb="restart")


def _note(text: str) -> None:
    sys.stderr.write(f"fovea: {text}\n")
