"""`fovea render compose`: the same stack as a Compose file, for interop and for benchmarks.

Same images, 127.0.0.1 ports, volumes, env, secrets (as file secrets), readiness as healthchecks,
and `depends_on` with conditions. Secret *paths* appear, never values.
"""

from __future__ import annotations

from typing import Any

from fovea_ctl.images import ResolvedImage
from fovea_ctl.docker.labels import LABEL_PRIORITY
from fovea_ctl.model import Condition, Stack
from fovea_ctl.probes.kinds import healthcheck_test
from fovea_ctl.core.secrets import SecretStore
from fovea_ctl.settings.effective import Settings

COMPOSE_CONDITIONS = {
    Condition.STARTED: "service_started",
    Condition.READY: "service_healthy",
    Condition.COMPLETED: "service_completed_successfully",
}


def _seconds(value: float) -> str:
    return f"{value:g}s"


def render_compose(
    stack: Stack,
    settings: Settings,
    images: dict[str, ResolvedImage],
    secrets: SecretStore,
    health_interval_s: float = 5.0,
    project_name: str | None = None,
) -> dict[str, Any]:
    project = project_name or settings.project
    services: dict[str, Any] = {}
    used_secrets: set[str] = set()
    for name, unit in stack.units.items():
        entry: dict[str, Any] = {"image": images[name].ref}
        if unit.entrypoint is not None:
            entry["entrypoint"] = unit.entrypoint
        if unit.command is not None:
            entry["command"] = unit.command
        if unit.user:
            entry["user"] = unit.user
        if unit.env:
            entry["environment"] = dict(unit.env)
        if stack.published_ports(unit):
            entry["ports"] = [f"127.0.0.1:{stack.host_port(p)}:{p.container}" for p in stack.published_ports(unit)]
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
            used_secrets.update(unit.secrets)
        if unit.depends_on:
            entry["depends_on"] = {dep: {"condition": COMPOSE_CONDITIONS[cond]} for dep, cond in unit.depends_on.items()}
        test = healthcheck_test(unit.probe)
        if unit.probe is not None and test is not None:
            entry["healthcheck"] = {
                "test": test,
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
    used_volumes = {m.volume for unit in stack.units.values() for m in unit.mounts}
    return {
        "name": project,
        "services": services,
        "networks": {"default": {"name": f"{project}-network"}},
        "volumes": {v.name: {"labels": {LABEL_PRIORITY: v.priority.value}} for v in stack.volumes if v.name in used_volumes},
        "secrets": {name: {"file": str(secrets.path(name))} for name in sorted(used_secrets)},
    }


def compose_yaml(document: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False)
