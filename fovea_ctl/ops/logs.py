"""`fovea logs`: every selected container's log, multiplexed with a `service |` prefix like compose."""

from __future__ import annotations

import json
import queue
import re
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import IO

from fovea_ctl.errors import UsageError
from fovea_ctl.reconcile.project import Project

COLOURS = ["cyan", "magenta", "green", "yellow", "blue", "bright_red", "bright_cyan", "bright_magenta"]
RELATIVE = re.compile(r"^(\d+)([smhd])$")


def parse_time(value: str | None, option: str) -> datetime | None:
    """`10m`, `2h`, `30s`, `1d` (that long ago) or an ISO 8601 timestamp."""
    if value is None:
        return None
    match = RELATIVE.match(value)
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        delta = {"s": timedelta(seconds=amount), "m": timedelta(minutes=amount),
                 "h": timedelta(hours=amount), "d": timedelta(days=amount)}[unit]
        return datetime.now(timezone.utc) - delta
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{option} {value!r}: expected e.g. 10m, 2h, 1d or an ISO timestamp") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class LogLine:
    service: str
    stream: str
    timestamp: str | None
    message: str


def stream_logs(
    project: Project,
    services: list[str],
    *,
    follow: bool,
    tail: int | None,
    since: str | None,
    until: str | None,
    timestamps: bool,
) -> Iterator[LogLine]:
    observed = project.observe()
    unknown = [s for s in services if s not in observed.containers and s not in project.stack.units]
    if unknown:
        raise UsageError(f"unknown service {', '.join(unknown)} (known: {', '.join(project.stack.units)})")
    chosen = [c for name, c in observed.containers.items() if not services or name in services]
    since_at, until_at = parse_time(since, "--since"), parse_time(until, "--until")
    lines: queue.Queue[LogLine | None] = queue.Queue(maxsize=10000)

    def pump(service: str, container_id: str) -> None:
        try:
            for stream, raw in project.engine.logs(container_id, tail=tail if tail is not None else "all",
                                                   follow=follow, timestamps=True, since=since_at, until=until_at):
                text = raw.decode(errors="replace")
                stamp, _, message = text.partition(" ")
                lines.put(LogLine(service, stream, stamp if timestamps else None, message))
        finally:
            lines.put(None)

    threads = [threading.Thread(target=pump, args=(c.service, c.id), daemon=True) for c in chosen]
    for thread in threads:
        thread.start()
    remaining = len(threads)
    while remaining:
        item = lines.get()
        if item is None:
            remaining -= 1
        else:
            yield item


def print_logs(lines: Iterator[LogLine], *, as_json: bool, width: int = 0, out: IO[str] | None = None) -> None:
    out = out or sys.stdout
    if as_json:
        for line in lines:
            out.write(json.dumps({"service": line.service, "timestamp": line.timestamp, "stream": line.stream,
                                  "message": line.message}) + "\n")
        return
    from rich.console import Console
    from rich.markup import escape

    console = Console(file=out, highlight=False, soft_wrap=True)
    colours: dict[str, str] = {}
    for line in lines:
        colour = colours.setdefault(line.service, COLOURS[len(colours) % len(COLOURS)])
        width = max(width, len(line.service))
        stamp = f"{line.timestamp} " if line.timestamp else ""
        console.print(f"[{colour}]{line.service:<{width}} |[/] {stamp}{escape(line.message)}")
