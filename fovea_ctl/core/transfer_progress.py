"""Transfer progress for backup, verify and restore: rich bars on a terminal, lines in logs, or nothing."""

from __future__ import annotations

import sys
import threading
import time
from typing import IO, TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from rich.progress import TaskID

# -- progress ---------------------------------------------------------------------------------------
class TransferProgress(Protocol):
    def begin(self, item: str, total: int | None) -> None: ...
    def advance(self, item: str, nbytes: int) -> None: ...
    def end(self, item: str, summary: str) -> None: ...
    def note(self, text: str) -> None: ...
    def close(self) -> None: ...


class QuietProgress:
    def begin(self, item: str, total: int | None) -> None: ...
    def advance(self, item: str, nbytes: int) -> None: ...
    def end(self, item: str, summary: str) -> None: ...
    def note(self, text: str) -> None: ...
    def close(self) -> None: ...


class LineProgress(QuietProgress):
    """A line per item (and every 10 s while one runs): for cron logs and CI."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stderr
        self.counts: dict[str, tuple[int, float, float]] = {}

    def begin(self, item: str, total: int | None) -> None:
        self.counts[item] = (0, time.monotonic(), time.monotonic())
        self._write(f"{item}: started" + (f" ({human(total)})" if total else ""))

    def advance(self, item: str, nbytes: int) -> None:
        done, began, last = self.counts.get(item, (0, time.monotonic(), time.monotonic()))
        done += nbytes
        now = time.monotonic()
        if now - last > 10:
            self._write(f"{item}: {human(done)} at {human(done / max(now - began, 1e-6))}/s")
            last = now
        self.counts[item] = (done, began, last)

    def end(self, item: str, summary: str) -> None:
        self._write(f"{item}: {summary}")

    def note(self, text: str) -> None:
        self._write(text)

    def _write(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()


class BarProgress(QuietProgress):
    """rich bars with bytes and rate, on a terminal."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn,
                                   TransferSpeedColumn)

        self.progress = Progress(TextColumn("{task.description:<16}"), BarColumn(), DownloadColumn(),
                                 TransferSpeedColumn(), TimeElapsedColumn(), TextColumn("{task.fields[summary]}"),
                                 console=Console(stderr=True))
        self.tasks: dict[str, TaskID] = {}
        self.lock = threading.Lock()
        self.progress.start()

    def begin(self, item: str, total: int | None) -> None:
        with self.lock:
            self.tasks[item] = self.progress.add_task(item, total=total, summary="")

    def advance(self, item: str, nbytes: int) -> None:
        with self.lock:
            self.progress.advance(self.tasks[item], nbytes)

    def end(self, item: str, summary: str) -> None:
        with self.lock:
            task = self.tasks[item]
            done = self.progress.tasks[task].completed if task < len(self.progress.tasks) else 0
            self.progress.update(task, total=done or 1, completed=done or 1, summary=summary)

    def note(self, text: str) -> None:
        self.progress.console.print(text)

    def close(self) -> None:
        self.progress.stop()


def make_progress(json_out: bool) -> TransferProgress:
    if json_out:
        return LineProgress() if not sys.stderr.isatty() else QuietProgress()
    return BarProgress() if sys.stderr.isatty() else LineProgress()



def human(n: float | None) -> str:
    value = float(n or 0)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"
