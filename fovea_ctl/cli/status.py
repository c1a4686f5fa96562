"""`fovea status`."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from fovea_ctl.cli.app import app, echo_json, project


def _uptime(seconds: float | None) -> str:
    if seconds is None:
        return ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


@app.command()
def status(json_out: Annotated[bool, typer.Option("--json", help="Versioned JSON (schema_version 1)")] = False) -> None:
    """One row per service: state, readiness (probed now), health, uptime, restarts, ports, image."""
    from fovea_ctl.status import collect_status

    target = project()
    report = collect_status(target)
    if json_out:
        echo_json(report)
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(box=None, header_style="bold", pad_edge=False)
        for column in ("service", "state", "ready", "health", "uptime", "restarts", "ports", "image", "detail"):
            table.add_column(column)
        for s in report.services:
            ready = "[green]yes[/]" if s.ready else ("[dim]n/a[/]" if s.state == "unavailable" else "[red]no[/]")
            ports = " ".join(f"127.0.0.1:{h}->{c}" for c, h in s.ports.items())
            table.add_row(s.name, s.state, ready, s.health or "", _uptime(s.uptime_s), str(s.restarts), ports,
                          s.image, s.detail if not s.ready else "")
        console = Console()
        if not console.is_terminal:
            console = Console(width=200)  # piped output: never truncate cells
        console.print(table)
        for label, url in target.stack.links([s.name for s in report.services if s.ready]).items():
            console.print(f"{label}: {url}", highlight=False)
    if not report.all_ready:
        sys.exit(1)
