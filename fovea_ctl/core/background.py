"""Work on a daemon thread that the main thread waits for in short steps, so Ctrl-C and SIGTERM still
reach it while it waits (a plain `join()` would hold them off until the work ends)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar, cast

T = TypeVar("T")


class InBackground(Generic[T]):
    """`work()` started at once on a daemon thread; `result()` is its value, or raises what it raised."""

    def __init__(self, name: str, work: Callable[[], T]) -> None:
        self.value: T | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(work,), daemon=True, name=name)
        self.thread.start()

    def _run(self, work: Callable[[], T]) -> None:
        try:
            self.value = work()
        except BaseException as exc:  # re-raised by result(), in the caller's thread
            self.error = exc

    def done(self) -> bool:
        return not self.thread.is_alive()

    def wait(self) -> None:
        while self.thread.is_alive():
            self.thread.join(0.2)

    def result(self) -> T:
        self.wait()
        if self.error is not None:
            raise self.error
        return cast(T, self.value)
