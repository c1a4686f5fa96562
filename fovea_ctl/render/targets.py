"""The renderers by target name, one signature: a ResolvedStack and the command's options in, a Rendered out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fovea_ctl.render.compose import ComposeFile, render_compose
from fovea_ctl.render.k8s import render_k8s
from fovea_ctl.render.resolved import Rendered, ResolvedStack
from fovea_ctl.render.swarm import render_swarm_stack


@dataclass(frozen=True)
class RenderOptions:
    health_interval_s: float = 5.0  # compose's HEALTHCHECK interval
    project_name: str | None = None  # compose's project name (default: the project's)
    image_registry: str | None = None  # k8s: prefix of fovea-built images (REGISTRY/fovea/x:tag)


def compose_target(resolved: ResolvedStack, options: RenderOptions) -> Rendered:
    return ComposeFile(render_compose(resolved, options.health_interval_s, options.project_name))


def swarm_target(resolved: ResolvedStack, options: RenderOptions) -> Rendered:
    return ComposeFile(render_swarm_stack(resolved))


def k8s_target(resolved: ResolvedStack, options: RenderOptions) -> Rendered:
    return render_k8s(resolved, options.image_registry)


RENDERERS: dict[str, Callable[[ResolvedStack, RenderOptions], Rendered]] = {
    "compose": compose_target, "swarm": swarm_target, "k8s": k8s_target}
