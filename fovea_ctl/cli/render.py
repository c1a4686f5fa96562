"""`fovea render compose | swarm | k8s | k8s-secrets`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from fovea_ctl.cli.app import app, fail, project

TARGETS = ("compose", "swarm", "k8s", "k8s-secrets")


@app.command()
def render(
    target: Annotated[str, typer.Argument(
        help="What to render: compose, swarm (a v3 file for docker stack deploy), k8s, k8s-secrets")] = "compose",
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Write to this file (k8s: this folder)")] = None,
    health_interval: Annotated[float, typer.Option("--health-interval", help="Healthcheck interval (s)")] = 5.0,
    project_name: Annotated[Optional[str], typer.Option("--project-name", help="Compose project name")] = None,
    image_registry: Annotated[Optional[str], typer.Option(
        "--image-registry", help="k8s: prefix for fovea-built images (REGISTRY/fovea/x:tag)")] = None,
    gpu: Annotated[bool, typer.Option("--gpu", help="Render the GPU variant of services that have one")] = False,
) -> None:
    """Print an equivalent Compose file, or write Kubernetes manifests (secrets by name only)."""
    if target not in TARGETS:
        fail(f"cannot render {target!r}: choose one of {', '.join(TARGETS)}", 2)
    p = project(gpu=True if gpu else None)
    if target == "k8s-secrets":
        from fovea_ctl.render.k8s import secret_commands

        sys.stdout.write(secret_commands(p.stack, p.settings, p.secrets.path))
        return
    from fovea_ctl.render.resolved import resolve
    from fovea_ctl.render.targets import RENDERERS, RenderOptions

    resolved = resolve(p.stack, p.settings, p.resolver().resolve_stack(p.stack), p.secrets)
    rendered = RENDERERS[target](resolved, RenderOptions(health_interval, project_name, image_registry))
    if output is None:
        sys.stdout.write(rendered.text())
        return
    for path in rendered.write(output):
        sys.stderr.write(f"wrote {path}\n")
    if step := rendered.next_step(output):
        sys.stderr.write(step + "\n")
