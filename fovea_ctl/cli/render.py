"""`fovea render compose`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from fovea_ctl.cli.app import app, fail, project


@app.command()
def render(
    target: Annotated[str, typer.Argument(help="What to render: compose")] = "compose",
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Write to this file")] = None,
    health_interval: Annotated[float, typer.Option("--health-interval", help="Healthcheck interval (s)")] = 5.0,
    project_name: Annotated[Optional[str], typer.Option("--project-name", help="Compose project name")] = None,
) -> None:
    """Print an equivalent Compose file (same images, ports, volumes, secrets as files, healthchecks)."""
    if target != "compose":
        fail(f"cannot render {target!r}: only 'compose' is supported", 2)
    from fovea_ctl.render import compose_yaml, render_compose

    p = project()
    images = p.resolver().resolve_stack(p.stack)
    text = compose_yaml(render_compose(p.stack, p.settings, images, p.secrets, health_interval, project_name))
    if output:
        output.write_text(text)
        sys.stderr.write(f"wrote {output}\n")
    else:
        sys.stdout.write(text)
