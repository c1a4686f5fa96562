"""The stack as every renderer reads it, resolved once: each unit's image, host ports and HEALTHCHECK test,
the volumes and secrets in use and their priorities. `fovea render compose | swarm | k8s` builds one
ResolvedStack and hands it to the target's renderer (RENDERERS); each returns a `Rendered` — text for stdout,
or files written to a path — so the command has one way to print or write any of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from fovea_ctl.core.secrets import SecretStore
from fovea_ctl.images import ResolvedImage
from fovea_ctl.model import Priority, Service, Stack
from fovea_ctl.probes.kinds import healthcheck_test
from fovea_ctl.settings.effective import Settings


@dataclass(frozen=True)
class HostPort:
    host: int  # on 127.0.0.1 (compose) or the node (Swarm's host mode)
    container: int


@dataclass(frozen=True)
class ResolvedUnit:
    service: Service
    image: ResolvedImage
    published: tuple[HostPort, ...]  # what this stack publishes under its publish setting (compose)
    ports: tuple[HostPort, ...]  # every port the unit declares, with its host port (Swarm publishes them all)
    healthcheck: list[str] | None  # the probe's Docker HEALTHCHECK test, if it declares one


@dataclass(frozen=True)
class ResolvedStack:
    stack: Stack
    settings: Settings
    secrets: SecretStore
    units: dict[str, ResolvedUnit]  # the stack's units, in its order
    volume_priorities: dict[str, Priority]  # every volume the units mount, in the stack's order
    used_secrets: tuple[str, ...]  # every secret the units mount, sorted

    @property
    def images(self) -> dict[str, ResolvedImage]:
        return {name: unit.image for name, unit in self.units.items()}


def resolve(stack: Stack, settings: Settings, images: dict[str, ResolvedImage], secrets: SecretStore) -> ResolvedStack:
    units = {}
    for name, unit in stack.units.items():
        units[name] = ResolvedUnit(
            service=unit, image=images[name],
            published=tuple(HostPort(stack.host_port(p), p.container) for p in stack.published_ports(unit)),
            ports=tuple(HostPort(stack.host_port(p), p.container) for p in unit.ports),
            healthcheck=healthcheck_test(unit.probe))
    mounted = {m.volume for unit in stack.units.values() for m in unit.mounts}
    return ResolvedStack(
        stack=stack, settings=settings, secrets=secrets, units=units,
        volume_priorities={v.name: v.priority for v in stack.volumes if v.name in mounted},
        used_secrets=tuple(sorted({s for unit in stack.units.values() for s in unit.secrets})))


class Rendered(Protocol):
    """What a renderer made: its text for stdout, or its files under `output` (the paths written)."""

    def text(self) -> str: ...

    def write(self, output: Path) -> list[Path]: ...

    def next_step(self, output: Path) -> str | None:
        """What to run with the written files, if anything."""
        ...
