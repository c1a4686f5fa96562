"""`fovea stats`: CPU, memory against the service's limit, network and block I/O of each running service."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from pydantic import BaseModel

if TYPE_CHECKING:
    from rich.console import JustifyMethod
    from rich.table import Table

    from fovea_ctl.docker.views import ContainerView
    from fovea_ctl.reconcile.project import Project


class ServiceStats(BaseModel):
    service: str
    container: str
    cpu_percent: float  # of one core
    cpu_limit: float | None  # cores the stack allows the service (None: no limit)
    memory_bytes: int
    memory_limit_bytes: int | None  # the service's limit from the stack (None: no limit, the host's memory applies)
    memory_percent: float  # of that limit, else of the host's memory
    net_rx_bytes: int
    net_tx_bytes: int
    block_read_bytes: int
    block_write_bytes: int


def collect_stats(project: Project, services: list[str] | None = None) -> list[ServiceStats]:
    """One sample of every running service (or of `services`), taken in parallel: each sample waits about
    a second for the engine's second CPU reading, so one at a time would take a second per service."""
    project.check_targets(services)
    observed = project.observe()
    units = project.stack.units
    running = [(name, c) for name, c in observed.containers.items()
               if c.running and (not services or name in services)]

    def one(item: tuple[str, ContainerView]) -> ServiceStats:
        name, container = item
        sample = project.engine.stats(container.id)
        unit = units.get(name)
        resources = unit.resources if unit is not None else None
        limit = resources.memory_mb * 1024 * 1024 if resources is not None and resources.memory_mb else None
        of = limit or sample.memory_limit_bytes
        return ServiceStats(
            service=name, container=container.name,
            cpu_percent=round(sample.cpu_percent, 2), cpu_limit=resources.cpus if resources is not None else None,
            memory_bytes=sample.memory_bytes, memory_limit_bytes=limit,
            memory_percent=round(sample.memory_bytes / of * 100.0, 2) if of else 0.0,
            net_rx_bytes=sample.net_rx_bytes, net_tx_bytes=sample.net_tx_bytes,
            block_read_bytes=sample.block_read_bytes, block_write_bytes=sample.block_write_bytes,
        )

    if not running:
        return []
    with ThreadPoolExecutor(max_workers=len(running)) as pool:
        return list(pool.map(one, running))


def stats_table(rows: list[ServiceStats]) -> Table:
    """A Rich table: one row per service; memory reads `used / limit (pct)`."""
    from rich.table import Table

    from fovea_ctl.core.transfer_progress import human as human_bytes

    table = Table(box=None, pad_edge=False, header_style="bold")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("SERVICE", "left"), ("CPU %", "right"), ("MEM USAGE / LIMIT", "right"), ("MEM %", "right"), ("NET I/O", "right"),
        ("BLOCK I/O", "right"))
    for column, justify in columns:
        table.add_column(column, justify=justify)
    for row in rows:
        cpu = f"{row.cpu_percent:.1f}" + (f" / {row.cpu_limit * 100:.0f}" if row.cpu_limit else "")
        limit = human_bytes(row.memory_limit_bytes) if row.memory_limit_bytes else "no limit"
        style = "red" if row.memory_percent >= 90 else ("yellow" if row.memory_percent >= 75 else "")
        table.add_row(row.service, cpu, f"{human_bytes(row.memory_bytes)} / {limit}",
                      f"[{style}]{row.memory_percent:.1f}[/]" if style else f"{row.memory_percent:.1f}",
                      f"{human_bytes(row.net_rx_bytes)} / {human_bytes(row.net_tx_bytes)}",
                      f"{human_bytes(row.block_read_bytes)} / {human_bytes(row.block_write_bytes)}")
    return table
