"""`fovea render compose`: the same stack as a Compose file, for interop and for benchmarks.

Same images, 127.0.0.1 ports, volumes, env, secrets (as file secrets), readiness as healthchecks,
and `depends_on` with conditions. Secret *paths* appear, never values.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fovea_ctl.docker.labels import LABEL_PRIORITY
from fovea_ctl.model import Condition
from fovea_ctl.render.resolved import ResolvedStack

COMPOSE_CONDITIONS = {
    Condition.STARTED: "service_started",
    Condition.READY: "service_healthy",
    Condition.COMPLETED: "service_completed_successfully",
}


def _seconds(value: float) -> str:
    return f"{value:g}s"


def render_compose(resolved: ResolvedStack, health_interval_s: float = 5.0,
                   project_name: str | None = None) -> dict[str, Any]:
    settings = resolved.settings
    project = project_name or settings.project
    services: dict[str, Any] = {}
    for name, resolved_unit in resolved.units.items():
        unit = resolved_unit.service
        entry: dict[str, Any] = {"image": resolved_unit.image.ref}
        if unit.entrypoint is not None:
            entry["entrypoint"] = unit.entrypoint
        if unit.command is not None:
            entry["command"] = unit.command
        if unit.user:
            entry["user"] = unit.user
        if unit.env:
            entry["environment"] = dict(unit.env)
        if resolved_unit.published:
            entry["ports"] = [f"127.0.0.1:{p.host}:{p.container}" for p in resolved_unit.published]
        volumes = [
            {"type": "volume", "source": m.volume, "target": m.target, "read_only": m.read_only} for m in unit.mounts
        ] + [
            {"type": "bind", "source": str(settings.root / c.source), "target": c.target, "read_only": True}
            for c in unit.configs
        ]
        if volumes:
            entry["volumes"] = volumes
        if unit.secrets:
            entry["secrets"] = list(unit.secrets)
        if unit.depends_on:
            entry["depends_on"] = {dep: {"condition": COMPOSE_CONDITIONS[cond]} for dep, cond in unit.depends_on.items()}
        if unit.probe is not None and resolved_unit.healthcheck is not None:
            entry["healthcheck"] = {
                "test": resolved_unit.healthcheck,
                "interval": _seconds(health_interval_s),
                "timeout": "3s",
                "retries": max(3, int(unit.probe.budget_s / health_interval_s)),
            }
        entry["cap_drop"] = ["ALL"]
        if unit.capabilities:
            entry["cap_add"] = list(unit.capabilities)
        entry["security_opt"] = ["no-new-privileges:true"]
        if unit.one_shot:
            entry["restart"] = "no"
        else:
            entry["restart"] = "unless-stopped"
        if unit.resources.cpus or unit.resources.memory_mb:
            limits: dict[str, Any] = {}
            if unit.resources.cpus:
                limits["cpus"] = str(unit.resources.cpus)
            if unit.resources.memory_mb:
                limits["memory"] = f"{unit.resources.memory_mb}M"
            entry.setdefault("deploy", {})["resources"] = {"limits": limits}
        if unit.gpu is not None:
            entry.setdefault("deploy", {}).setdefault("resources", {})["reservations"] = {
                "devices": [{"driver": unit.gpu.driver, "count": "all" if unit.gpu.count < 0 else unit.gpu.count,
                             "capabilities": unit.gpu.capabilities}]
            }
        services[name] = entry
    return {
        "name": project,
        "services": services,
        "networks": {"default": {"name": f"{project}-network"}},
        "volumes": {volume: {"labels": {LABEL_PRIORITY: priority.value}}
                    for volume, priority in resolved.volume_priorities.items()},
        "secrets": {name: {"file": str(resolved.secrets.path(name))} for name in resolved.used_secrets},
    }


def compose_yaml(document: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False)


@dataclass(frozen=True)
class ComposeFile:
    """A rendered Compose document (compose, or swarm's v3 file): one YAML file."""

    document: dict[str, Any]

    def text(self) -> str:
        return compose_yaml(self.document)

    def write(self, output: Path) -> list[Path]:
        output.write_text(self.text())
        return [output]

    def next_step(self, output: Path) -> str | None:
        return None
