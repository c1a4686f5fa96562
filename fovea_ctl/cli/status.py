"""`fovea status` (the usual call never gets here: fovea_ctl.cli answers it before typer loads)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from fovea_ctl.cli.app import app, project


@app.command()
def status(json_out: Annotated[bool, typer.Option("--json", help="Versioned JSON (schema_version 1)")] = False) -> None:
    """One row per service: state, readiness (probed now), health, uptime, restarts, ports, image."""
    from fovea_ctl.ops.status import collect_status, write_report

    code = write_report(collect_status(project()), json_out)
    if code:
        sys.exit(code)
