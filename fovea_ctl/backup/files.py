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
    with path.open("wb") as handle:
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
    with temporary.open("w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    fsync_dir(path.parent)



def counting(chunks: Iterable[bytes], on_bytes: Callable[[int], None]) -> Iterator[bytes]:
    for chunk in chunks:
        on_bytes(len(chunk))
        yield chunk
