"""Live progress of a run: a rich table on a terminal, plain lines otherwise, JSON lines with --json."""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import IO, TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from rich.table import Table

STATE_STYLES = {
    "ready": "green",
    "completed": "green",
    "kept": "green",
    "built": "green",
    "created": "green",
    "removed": "yellow",
    "failed": "bold red",
    "cancelled": "yellow",
    "skipped": "dim",
}


class Reporter(Protocol):
    def event(self, unit: str, state: str, detail: str = "", *, elapsed: float | None = None, quiet: bool = False) -> None:
        ...

    def close(self) -> None:
        ...


class JsonReporter:
    """One JSON object per line: {"t", "unit", "state", "detail", "elapsed_s"}; quiet events included."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stdout
        self.began = time.monotonic()
        self.lock = threading.Lock()

    def event(self, unit: str, state: str, detail: str = "", *, elapsed: float | None = None, quiet: bool = False) -> None:
        if quiet and state in ("building", "probing"):
            return  # per-line build output and every probe attempt would drown the stream
        record = {"t": round(time.monotonic() - self.began, 3), "unit": unit, "state": state, "detail": detail}
        if elapsed is not None:
            record["elapsed_s"] = round(elapsed, 3)
        with self.lock:
            self.stream.write(json.dumps(record) + "\n")
            self.stream.flush()

    def close(self) -> None:
        pass


class PlainReporter:
    """A line per significant event: for logs, pipes and CI."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stderr
        self.began = time.monotonic()
        self.lock = threading.Lock()

    def event(self, unit: str, state: str, detail: str = "", *, elapsed: float | None = None, quiet: bool = False) -> None:
        if quiet:
            return
        took = f" in {elapsed:.2f} s" if elapsed is not None else ""
        with self.lock:
            self.stream.write(f"[{time.monotonic() - self.began:6.2f}s] {unit:<22} {state}{took}{' — ' + detail if detail else ''}\n")
            self.stream.flush()

    def close(self) -> None:
        pass


class LiveReporter:
    """A rich table that redraws in place: each unit's state, what it waits on, and its time to ready."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.live import Live

        self.console = Console(stderr=True)
        self.rows: dict[str, tuple[str, str, str]] = {}
        self.began = time.monotonic()
        self.lock = threading.Lock()
        self.live = Live(self._render(), console=self.console, refresh_per_second=8, transient=False)
        self.live.start()

    def _render(self) -> Table:
        from rich.table import Table

        table = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
        table.add_column("unit")
        table.add_column("state")
        table.add_column("time", justify="right")
        table.add_column("detail", overflow="ellipsis", no_wrap=True, max_width=90)
        for unit, (state, took, detail) in self.rows.items():
            table.add_row(unit, f"[{STATE_STYLES.get(state, 'cyan')}]{state}[/]", took, detail)
        return table

    def event(self, unit: str, state: str, detail: str = "", *, elapsed: float | None = None, quiet: bool = False) -> None:
        with self.lock:
            took = f"{elapsed:.2f}s" if elapsed is not None else f"{time.monotonic() - self.began:.1f}s"
            self.rows[unit] = (state, took, detail)
            self.live.update(self._render())

    def close(self) -> None:
        self.live.stop()


def make_reporter(json_lines: bool) -> Reporter:
    if json_lines:
        return JsonReporter()
    if sys.stderr.isatty():
        return LiveReporter()
    return PlainReporter()
