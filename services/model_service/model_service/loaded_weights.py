"""Which weights a loaded model came from, so the registry can tell when an import replaced them."""

from __future__ import annotations

from pathlib import Path


class LoadedWeights:
    """A weights file or folder as it was when a model loaded it. `fovea models import --force` copies beside the
    old one and renames over it, so the path then names another inode: the model in memory is stale."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._identity = self._read()

    def _read(self) -> tuple[int, int]:
        stat = self.path.stat()
        return stat.st_ino, stat.st_mtime_ns

    def replaced(self) -> bool:
        """Whether the path now holds other weights than were loaded (gone counts: load again, or fail clearly)."""
        try:
            return self._read() != self._identity
        except OSError:
            return True
