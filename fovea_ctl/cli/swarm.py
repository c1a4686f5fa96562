"""`fovea swarm deploy | plan | status | down`: the stack on a Docker Swarm this engine manages."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from fovea_ctl.cli.app import app, echo_json, project

if TYPE_CHECKING:
    from fovea_ctl.reconcile.project import Project

swarm_app = typer.Typer(help="Deploy the stack to Docker Swarm in dependency order, read it back, remove it.",
                        no_args_is_help=True)
app.add_typer(swarm_app, name="swarm")


def _project(scale: list[str] | None, gpu: bool = False) -> Project:
    return project(scale=",".join(scale) if scale else None, gpu=True if gpu else None)


ScaleOption = Annotated[Optional[list[str]], typer.Option("--scale", help="SERVICE=N replicas of a scalable service (repeatable)")]
GpuOption = Annotated[bool, typer.Option("--gpu", help="The GPU variant of services that have one, on a node "
                                                       "advertising the NVIDIA-GPU generic resource")]


@swarm_app.command("plan")
def plan(scale: ScaleOption = None, gpu: GpuOption = False) -> None:
    """The Swarm writes `deploy` would make, one per line with its cause, or `nothing to do`."""
    from fovea_ctl.core.run_progress import make_reporter
    from fovea_ctl.reconcile.swarm import SwarmDeployer

    reporter = make_reporter(False)
    try:
        deployer = SwarmDeployer(_project(scale, gpu), reporter)
        deployer.preflight()
        sys.stdout.write(deployer.plan()[0].text() + "\n")
    finally:
        reporter.close()


@swarm_app.command("deploy")
def deploy(
    scale: ScaleOption = None,
    gpu: GpuOption = False,
    json_lines: Annotated[bool, typer.Option("--json", help="Events as JSON lines on stdout")] = False,
) -> None:
    """Create or update each Swarm service once its dependencies pass fovea's probes; nothing changed, nothing written."""
    from fovea_ctl.errors import ServiceFailed
    from fovea_ctl.core.run_progress import make_reporter
    from fovea_ctl.reconcile.swarm import SwarmDeployer

    reporter = make_reporter(json_lines)
    try:
        result = SwarmDeployer(_project(scale, gpu), reporter).deploy()
    finally:
        reporter.close()
    if not result.ok:
        raise ServiceFailed("swarm services failed to become ready:\n  " + "\n  ".join(result.failures),
                            hint="fix the cause, then `fovea swarm deploy` again (ready services are kept)")
    if not json_lines:
        summary = "nothing changed" if result.plan.empty else f"{len(result.plan.text().splitlines())} operations"
        sys.stderr.write(f"fovea: {len(result.outcomes)} swarm services ready in {result.elapsed_s:.2f} s ({summary})\n")


@swarm_app.command("status")
def status(json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """One row per Swarm service: tasks running / wanted, probe result; exit 1 unless all ready."""
    from rich.console import Console
    from rich.table import Table

    from fovea_ctl.reconcile.swarm import swarm_status

    report = swarm_status(project())
    if json_out:
        echo_json(report)
    else:
        table = Table(box=None, pad_edge=False)
        for column in ("service", "tasks", "ready", "ports", "image", "detail"):
            table.add_column(column)
        for row in report.services:
            ports = " ".join(f"*:{host}->{target}" for target, host in row.ports.items())
            table.add_row(row.name, f"{row.running}/{row.desired}", "yes" if row.ready else "no", ports, row.image,
                          row.detail[:60])
        Console(width=200).print(table)
    if not report.all_ready:
        raise typer.Exit(1)


@swarm_app.command("down")
def down(
    volumes: Annotated[bool, typer.Option(
        "--volumes", "-v", help="Also remove volumes (critical ones need a fresh verified backup, or --force)")] = False,
    force: Annotated[bool, typer.Option("--force", help="Remove critical volumes even without a fresh verified backup")] = False,
) -> None:
    """Remove the stack's services (dependents first), secrets, configs and network; volumes only on request."""
    from fovea_ctl.reconcile.swarm import swarm_down

    result = swarm_down(project(), volumes=volumes, force=force)
    for kind, names in (("service", result.removed_services), ("secret", result.removed_secrets),
                        ("config", result.removed_configs), ("volume", result.removed_volumes)):
        for name in names:
            sys.stderr.write(f"removed {kind} {name}\n")
    for name, why in result.kept_volumes.items():
        sys.stderr.write(f"kept volume {name}: {why}\n")
    if result.network_removed:
        sys.stderr.write("removed network\n")
