"""What a container fovea runs is made of (`ContainerSpec`, the hardening every one gets) and its translation
into the docker SDK's create arguments: one place decides ports, mounts, limits, capabilities and HEALTHCHECK."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fovea_ctl.docker.sdk import import_docker_sdk

if TYPE_CHECKING:
    import docker
    from docker.types import Mount

@dataclass
class ContainerSpec:
    """Everything one `create container` call needs, already resolved (ports, mounts, labels)."""

    name: str
    image: str
    labels: dict[str, str]
    network: str
    aliases: list[str]
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    user: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    port_bindings: dict[int, int] = field(default_factory=dict)  # container -> host (127.0.0.1)
    volume_mounts: list[tuple[str, str, bool]] = field(default_factory=list)  # (volume, target, ro)
    bind_mounts: list[tuple[str, str, bool]] = field(default_factory=list)  # (host path, target, ro)
    healthcheck: list[str] | None = None
    health_interval_s: float = 5.0
    restart_policy: str | None = "unless-stopped"
    cpus: float | None = None
    memory_mb: int | None = None
    gpu: tuple[str, int, list[str]] | None = None  # (driver, count, capabilities)
    stop_timeout_s: int = 10
    cap_add: list[str] = field(default_factory=list)  # every other capability is dropped


# Every container fovea runs: no process in it gains privileges through execve (a setuid binary, file
# capabilities), and it holds no Linux capability beyond what its service lists.
NO_NEW_PRIVILEGES = ["no-new-privileges:true"]
# A helper writes a volume's files as their owners: chown them, set their modes and times (FOWNER), enter
# the service user's folders (DAC_OVERRIDE). No MKNOD (an archive's device file cannot be made) and no
# FSETID (a chown clears setuid bits, as the restore's own check does).
HELPER_CAPABILITIES = ["CHOWN", "DAC_OVERRIDE", "FOWNER"]


def sdk_mounts(volume_mounts: list[tuple[str, str, bool]], bind_mounts: list[tuple[str, str, bool]]) -> list[Mount]:
    """(volume, target, ro) and (host path, target, ro) as the SDK's mounts, volumes first."""
    import_docker_sdk()
    from docker.types import Mount

    mounts = [Mount(target=t, source=v, type="volume", read_only=ro) for v, t, ro in volume_mounts]
    mounts += [Mount(target=t, source=s, type="bind", read_only=ro) for s, t, ro in bind_mounts]
    return mounts


def container_create_args(api: docker.APIClient, spec: ContainerSpec, cpu_count: Callable[[], int]) -> dict[str, Any]:
    """The SDK's `create_container` arguments for `spec`; `cpu_count` (an engine call) is asked only when the
    spec limits CPUs."""
    import_docker_sdk()
    from docker.types import DeviceRequest

    host_config = api.create_host_config(
        port_bindings={c: ("127.0.0.1", h) for c, h in spec.port_bindings.items()},
        mounts=sdk_mounts(spec.volume_mounts, spec.bind_mounts),
        restart_policy={"Name": spec.restart_policy} if spec.restart_policy else None,
        # A limit above this machine's cores means "all of them" (the engine refuses more than it has).
        nano_cpus=int(min(spec.cpus, cpu_count()) * 1e9) if spec.cpus else None,
        mem_limit=f"{spec.memory_mb}m" if spec.memory_mb else None,
        device_requests=(
            [DeviceRequest(driver=spec.gpu[0], count=spec.gpu[1], capabilities=[spec.gpu[2]])]
            if spec.gpu
            else None
        ),
        init=True,
        cap_drop=["ALL"],
        cap_add=spec.cap_add or None,
        security_opt=NO_NEW_PRIVILEGES,
    )
    networking = api.create_networking_config(
        {spec.network: api.create_endpoint_config(aliases=spec.aliases)})  # type: ignore[arg-type]  # stub: one config; SDK: a dict
    healthcheck = None
    if spec.healthcheck:
        interval_ns = int(spec.health_interval_s * 1e9)
        healthcheck = {
            "test": ["CMD", *spec.healthcheck],
            "interval": interval_ns,
            "timeout": int(3e9),
            "retries": 3,
            "start_period": 0,
        }
    return {
        "image": spec.image,
        "command": spec.command,
        "entrypoint": spec.entrypoint,
        "user": spec.user,
        "name": spec.name,
        "environment": spec.env,
        "labels": spec.labels,
        "ports": list(spec.port_bindings),
        "host_config": host_config,
        "networking_config": networking,
        "healthcheck": healthcheck,
        "stop_timeout": spec.stop_timeout_s,
        "detach": True,
    }


def helper_host_config(api: docker.APIClient, volume_mounts: list[tuple[str, str, bool]],
                       bind_mounts: list[tuple[str, str, bool]]) -> dict[str, Any]:
    """A helper's host config (`Engine.run_helper`): no network, no log driver, only HELPER_CAPABILITIES."""
    import_docker_sdk()
    from docker.types import LogConfig

    host_config: dict[str, Any] = api.create_host_config(
        mounts=sdk_mounts(volume_mounts, bind_mounts), network_mode="none", init=True,
        log_config=LogConfig(type=LogConfig.types.NONE),
        cap_drop=["ALL"], cap_add=HELPER_CAPABILITIES, security_opt=NO_NEW_PRIVILEGES,
    )
    return host_config
