"""Artifacts on the host: written hashed and fsynced, read back in chunks, JSON replaced atomically."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO

CHUNK = 1 << 20

# -- streams to files -------------------------------------------------------------------------------
class _HashingFile:
    """A write-only file that hashes and counts what passes, for zstandard's stream writer."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.handle.write(data)
        self.digest.update(data)
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        self.handle.flush()


def write_artifact(chunks: Iterable[bytes], path: Path, *, compress: bool, on_bytes: Callable[[int], None]) -> tuple[int, str, int]:
    """Write a stream to `path` (zstd level 1 on the host when `compress`), fsynced: (size, sha256, raw bytes)."""
    raw = 0
    with open_private(path) as handle:
        sink = _HashingFile(handle)
        if compress:
            import zstandard

            compressor = zstandard.ZstdCompressor(level=1, threads=-1, write_checksum=True)
            with compressor.stream_writer(sink, closefd=False) as writer:
                for chunk in chunks:
                    writer.write(chunk)
                    raw += len(chunk)
                    on_bytes(len(chunk))
        else:
            for chunk in chunks:
                sink.write(chunk)
                raw += len(chunk)
                on_bytes(len(chunk))
        handle.flush()
        os.fsync(handle.fileno())
    return sink.size, sink.digest.hexdigest(), raw



def read_file_chunks(path: Path, decompress: bool = False) -> Iterator[bytes]:
    with path.open("rb") as handle:
        if decompress:
            import zstandard

            reader = zstandard.ZstdDecompressor().stream_reader(handle)
            while chunk := reader.read(CHUNK):
                yield chunk
        else:
            while chunk := handle.read(CHUNK):
                yield chunk


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json_atomic(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    with open_private(temporary) as handle:
        handle.write(text.encode())
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    fsync_dir(path.parent)



def counting(chunks: Iterable[bytes], on_bytes: Callable[[int], None]) -> Iterator[bytes]:
    for chunk in chunks:
        on_bytes(len(chunk))
        yield chunk


PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def open_private(path: Path) -> IO[bytes]:
    """A new file only its owner can read (0600 from the start, whatever the umask): backups hold every
    user's password hash and every annotation."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, PRIVATE_FILE)
    os.fchmod(fd, PRIVATE_FILE)
    return os.fdopen(fd, "wb")


def make_private_dir(path: Path) -> None:
    path.mkdir(mode=PRIVATE_DIR)
    os.chmod(path, PRIVATE_DIR)


def permission_warnings(folder: Path) -> list[str]:
    """Lines about a backup others can read or write (the folder or any file in it)."""
    loose = []
    for path in [folder, *sorted(folder.rglob("*"))]:
        mode = path.lstat().st_mode & 0o777
        if mode & 0o077:
            loose.append(f"{path.relative_to(folder.parent)} ({mode:04o})")
    if not loose:
        return []
    return [f"backup {folder.name} is readable or writable by other users: {', '.join(loose[:5])}"
            f"{' …' if len(loose) > 5 else ''}; run `chmod -R go-rwx {folder}`"]
