"""`fovea render swarm`: the stack as a Compose v3 file for `docker stack deploy`, for interop and benchmarks.

It is what a user would hand to `docker stack deploy --resolve-image never`: the same images, env, volumes,
secrets (from their files), configs, replicas, placement, dnsrr + host-mode ports. What the format cannot
say, it cannot do: `depends_on` is ignored by `stack deploy` (listed here only as documentation) and an
init job is an ordinary service that restarts on failure until its dependencies happen to be up.
"""

from __future__ import annotations

from typing import Any

from fovea_ctl.render.compose import render_compose
from fovea_ctl.render.resolved import ResolvedStack
from fovea_ctl.render.swarm_spec import (
    SWARM_HEALTH_RETRIES,
    SWARM_HEALTH_TIMEOUT_S,
    config_objects,
    gpu_reservation,
    placement_constraints,
    replicas_of,
    swarm_units,
)

STACK_FILE_VERSION = "3.8"  # the 20.10 client accepts 3.0–3.9 (DESIGN.md)


def render_swarm_stack(resolved: ResolvedStack) -> dict[str, Any]:
    stack, settings = resolved.stack, resolved.settings
    compose = render_compose(resolved)
    units = swarm_units(stack)
    services: dict[str, Any] = {}
    configs: dict[str, Any] = {}
    for name, unit in units.items():
        entry = dict(compose["services"][name])
        entry.pop("restart", None)
        entry.pop("security_opt", None)  # `stack deploy` ignores it: Swarm's API (1.41) has no no-new-privileges
        entry["volumes"] = [v for v in entry.get("volumes", []) if v["type"] == "volume"] or None
        if ports := resolved.units[name].ports:
            entry["ports"] = [{"target": p.container, "published": p.host, "protocol": "tcp", "mode": "host"}
                              for p in ports]
        if "depends_on" in entry:
            entry["depends_on"] = list(entry["depends_on"])  # the only form 20.10 accepts; it is ignored
        if "healthcheck" in entry and unit.probe is not None:
            entry["healthcheck"] = {**entry["healthcheck"], "timeout": f"{SWARM_HEALTH_TIMEOUT_S}s",
                                    "retries": SWARM_HEALTH_RETRIES, "start_period": f"{unit.probe.budget_s:g}s"}
        for obj in config_objects(unit, settings):
            key = obj.name.removeprefix(f"{settings.project}-")  # stack deploy prefixes the stack's name itself
            configs[key] = {"file": str(obj.source)}
            entry.setdefault("configs", []).append({"source": key, "target": obj.target, "mode": 0o444})
        deploy = dict(entry.pop("deploy", {}))
        deploy.update({
            "endpoint_mode": "dnsrr",
            "replicas": replicas_of(unit, stack),
            "restart_policy": {"condition": "on-failure" if unit.one_shot else "any", "delay": "1s"},
        })
        if placement_constraints(unit):
            deploy["placement"] = {"constraints": placement_constraints(unit)}
        # v3 has no device reservations; a GPU is a generic resource the node advertises, as with the API.
        deploy.get("resources", {}).pop("reservations", None)
        if reservation := gpu_reservation(unit):
            deploy.setdefault("resources", {})["reservations"] = {"generic_resources": [
                {"discrete_resource_spec": {"kind": kind, "value": value}} for kind, value in reservation.items()]}
        entry["deploy"] = deploy
        services[name] = {k: v for k, v in entry.items() if v is not None}
    document: dict[str, Any] = {
        "version": STACK_FILE_VERSION,
        "services": services,
        "networks": {"default": {"driver": "overlay"}},
        "volumes": {v: {"name": settings.volume_name(v), **spec} for v, spec in compose["volumes"].items()},
        "secrets": compose["secrets"],
    }
    if configs:
        document["configs"] = configs
    return document
