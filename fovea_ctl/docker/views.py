"""The engine's answers as small typed views: the one place fovea reads engine JSON (containers, their inspect,
volumes, networks, images, a stats sample), for `status` and for the reconciler's `observe` alike.

Standard library only and cheap to import: `fovea status` imports this module before anything else could answer,
so these are plain classes (a dataclass would import `dataclasses` and with it `inspect`, several times this whole
module) with `Final` attributes, which mypy holds read-only, and times are POSIX seconds (no `datetime`).
tests/unit/test_engine_views.py parses responses recorded from a real engine into them.
"""

from __future__ import annotations

import json

from fovea_ctl.docker.labels import LABEL_CONFIG_HASH, LABEL_HASH_PARTS, LABEL_ROLE, LABEL_SERVICE

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: `fovea status` imports this module
if TYPE_CHECKING:
    from typing import Any, Final

    EngineJson = dict[str, Any]  # one object of an engine answer, as json.loads made it


class View:
    """Equality and repr over `FIELDS`, what a frozen dataclass would give, without importing dataclasses."""

    FIELDS: tuple[str, ...] = ()
    UNSHOWN: tuple[str, ...] = ()  # left out of the repr (labels: long and seldom what a failure is about)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.FIELDS)

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.FIELDS if name not in self.UNSHOWN)
        return f"{type(self).__name__}({shown})"


class ContainerView(View):
    """One container of a listing (`GET /containers/json`): what fovea made it from, read back from its labels."""

    FIELDS = ("id", "name", "service", "role", "config_hash", "hash_parts", "state", "status_text", "image",
              "image_id", "ports", "labels")
    UNSHOWN = ("labels",)

    def __init__(self, id: str, name: str, service: str, role: str, config_hash: str, hash_parts: dict[str, str],
                 state: str, status_text: str, image: str, image_id: str, ports: dict[int, int],
                 labels: dict[str, str]) -> None:
        self.id: Final = id
        self.name: Final = name
        self.service: Final = service
        self.role: Final = role
        self.config_hash: Final = config_hash
        self.hash_parts: Final = hash_parts
        self.state: Final = state  # created | running | restarting | exited | dead | paused
        self.status_text: Final = status_text  # the engine's "Up 3 minutes (healthy)"
        self.image: Final = image
        self.image_id: Final = image_id
        self.ports: Final = ports  # container port -> host port
        self.labels: Final = labels

    @property
    def running(self) -> bool:
        return self.state == "running"


def container_from_listing(raw: EngineJson) -> ContainerView:
    labels = raw.get("Labels") or {}
    ports: dict[int, int] = {}
    for port in raw.get("Ports") or []:
        if port.get("PublicPort"):
            ports[int(port["PrivatePort"])] = int(port["PublicPort"])
    return ContainerView(
        id=raw["Id"],
        name=(raw.get("Names") or ["/?"])[0].lstrip("/"),
        service=labels.get(LABEL_SERVICE, ""),
        role=labels.get(LABEL_ROLE, "service"),
        config_hash=labels.get(LABEL_CONFIG_HASH, ""),
        hash_parts=json.loads(labels.get(LABEL_HASH_PARTS, "{}")),
        state=raw.get("State", ""),
        status_text=raw.get("Status", ""),
        image=raw.get("Image", ""),
        image_id=raw.get("ImageID", ""),
        ports=ports,
        labels=labels,
    )


class ContainerDetails(View):
    """What only an inspect (`GET /containers/{id}/json`) tells: exit code, health, start time, restarts."""

    FIELDS = ("state", "exit_code", "health", "started_at", "finished_at", "restart_count", "oom_killed", "error")

    def __init__(self, state: str, exit_code: int, health: str | None, started_at: float | None,
                 finished_at: float | None, restart_count: int, oom_killed: bool, error: str) -> None:
        self.state: Final = state
        self.exit_code: Final = exit_code
        self.health: Final = health  # starting | healthy | unhealthy; None without a HEALTHCHECK
        self.started_at: Final = started_at  # POSIX seconds; None before the first start
        self.finished_at: Final = finished_at  # POSIX seconds; None before the first exit
        self.restart_count: Final = restart_count
        self.oom_killed: Final = oom_killed
        self.error: Final = error


def container_details(raw: EngineJson) -> ContainerDetails:
    state = raw.get("State") or {}
    return ContainerDetails(
        state=state.get("Status", ""),
        exit_code=int(state.get("ExitCode") or 0),
        health=(state.get("Health") or {}).get("Status"),
        started_at=parse_engine_time(state.get("StartedAt")),
        finished_at=parse_engine_time(state.get("FinishedAt")),
        restart_count=int(raw.get("RestartCount") or 0),
        oom_killed=bool(state.get("OOMKilled")),
        error=state.get("Error") or "",
    )


class VolumeView(View):
    FIELDS = ("name", "labels", "created_at", "mountpoint")

    def __init__(self, name: str, labels: dict[str, str], created_at: str, mountpoint: str) -> None:
        self.name: Final = name
        self.labels: Final = labels
        self.created_at: Final = created_at  # the engine's own text (RFC 3339, local offset)
        self.mountpoint: Final = mountpoint


def volumes_from_listing(raw: EngineJson) -> list[VolumeView]:
    """The volumes of one `GET /volumes` answer ({"Volumes": [...], "Warnings": ...})."""
    return [VolumeView(v["Name"], v.get("Labels") or {}, v.get("CreatedAt", ""), v.get("Mountpoint", ""))
            for v in raw.get("Volumes") or []]


class NetworkView(View):
    FIELDS = ("id", "name", "labels")

    def __init__(self, id: str, name: str, labels: dict[str, str]) -> None:
        self.id: Final = id
        self.name: Final = name
        self.labels: Final = labels


def network_from_listing(raw: EngineJson) -> NetworkView:
    return NetworkView(raw["Id"], raw["Name"], raw.get("Labels") or {})


class ImageView(View):
    FIELDS = ("id", "tags", "created", "size", "unique_size", "labels")
    UNSHOWN = ("labels",)

    def __init__(self, id: str, tags: list[str], created: int, size: int, unique_size: int,
                 labels: dict[str, str]) -> None:
        self.id: Final = id
        self.tags: Final = tags  # repo:tag references; empty for a dangling image
        self.created: Final = created  # unix seconds
        self.size: Final = size  # bytes, shared layers included
        self.unique_size: Final = unique_size  # bytes only this image holds: what removing it frees
        self.labels: Final = labels


def image_from_listing(raw: EngineJson) -> ImageView:
    """One image of `GET /images/json?shared-size=1`."""
    size = int(raw.get("Size") or 0)
    shared = int(raw.get("SharedSize", -1))
    return ImageView(id=raw["Id"], tags=[t for t in raw.get("RepoTags") or [] if t != "<none>:<none>"],
                     created=int(raw.get("Created") or 0), size=size,
                     # -1: the engine did not compute it; then the whole size is the honest upper bound
                     unique_size=int(raw["Size"]) - shared if shared >= 0 else size,
                     labels=raw.get("Labels") or {})


class ContainerStats(View):
    """One sample of a container's resource use (the engine's two-reading CPU delta included)."""

    FIELDS = ("cpu_percent", "memory_bytes", "memory_limit_bytes", "net_rx_bytes", "net_tx_bytes",
              "block_read_bytes", "block_write_bytes")

    def __init__(self, cpu_percent: float, memory_bytes: int, memory_limit_bytes: int, net_rx_bytes: int,
                 net_tx_bytes: int, block_read_bytes: int, block_write_bytes: int) -> None:
        self.cpu_percent: Final = cpu_percent  # of one core: 200.0 is two cores busy
        self.memory_bytes: Final = memory_bytes  # without the page cache, as `docker stats` counts it
        self.memory_limit_bytes: Final = memory_limit_bytes  # the container's limit, or the host's memory
        self.net_rx_bytes: Final = net_rx_bytes
        self.net_tx_bytes: Final = net_tx_bytes
        self.block_read_bytes: Final = block_read_bytes
        self.block_write_bytes: Final = block_write_bytes


def stats_from_sample(raw: EngineJson) -> ContainerStats:
    """One answer of `GET /containers/{id}/stats?stream=false`."""
    cpu, precpu = raw.get("cpu_stats") or {}, raw.get("precpu_stats") or {}
    cpu_delta = (cpu.get("cpu_usage") or {}).get("total_usage", 0) - (precpu.get("cpu_usage") or {}).get("total_usage", 0)
    system_delta = cpu.get("system_cpu_usage", 0) - precpu.get("system_cpu_usage", 0)
    online = cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or []) or 1
    memory = raw.get("memory_stats") or {}
    detail = memory.get("stats") or {}
    cache = detail.get("inactive_file", detail.get("total_inactive_file", 0))  # cgroup v2, v1
    networks = (raw.get("networks") or {}).values()
    block = (raw.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []
    return ContainerStats(
        cpu_percent=cpu_delta / system_delta * online * 100.0 if system_delta > 0 and cpu_delta > 0 else 0.0,
        memory_bytes=max(0, int(memory.get("usage", 0)) - int(cache)),
        memory_limit_bytes=int(memory.get("limit", 0)),
        net_rx_bytes=sum(int(n.get("rx_bytes", 0)) for n in networks),
        net_tx_bytes=sum(int(n.get("tx_bytes", 0)) for n in networks),
        block_read_bytes=sum(int(e.get("value", 0)) for e in block if str(e.get("op", "")).lower() == "read"),
        block_write_bytes=sum(int(e.get("value", 0)) for e in block if str(e.get("op", "")).lower() == "write"),
    )


def _days_since_epoch(year: int, month: int, day: int) -> int:
    """Days from 1970-01-01 to a proleptic Gregorian date (Hinnant's days_from_civil): exact integer
    arithmetic instead of importing datetime (~1 ms of every `status`)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def parse_engine_time(value: str | None) -> float | None:
    """An engine timestamp (RFC 3339 in UTC, nanoseconds) as a POSIX time; None for the zero time."""
    if not value or value.startswith("0001-"):
        return None
    year, month, day, hour, minute, second = (int(value[a:b]) for a, b in ((0, 4), (5, 7), (8, 10), (11, 13),
                                                                          (14, 16), (17, 19)))
    whole = ((_days_since_epoch(year, month, day) * 24 + hour) * 60 + minute) * 60 + second
    _, _, tail = value[19:].partition(".")
    digits = "".join(ch for ch in tail[:9] if ch.isdigit())
    return whole + (int(digits) / 10 ** len(digits) if digits else 0.0)
