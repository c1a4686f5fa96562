"""Artifacts on the host: written hashed and fsynced, read back in chunks, JSON replaced atomically."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

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


def write_artifact(chunks: Iterable[bytes], path: Path, *, compress: bool, on_bytes: Callable[[int], None],
                   encrypt_to: list[Any] | None = None) -> tuple[int, str, int]:
    """Write a stream to `path` (zstd level 1 on the host when `compress`, then age-encrypted to
    `encrypt_to` when given), fsynced: (stored size, sha256 of the stored bytes, raw bytes)."""
    from fovea_ctl.data.backup.encryption import Encrypting

    raw = 0
    with open_private(path) as handle:
        sink = _HashingFile(handle)
        target: Any = Encrypting(sink, encrypt_to) if encrypt_to else sink
        try:
            if compress:
                import zstandard

                compressor = zstandard.ZstdCompressor(level=1, threads=-1, write_checksum=True)
                with compressor.stream_writer(target, closefd=False) as writer:
                    for chunk in chunks:
                        writer.write(chunk)
                        raw += len(chunk)
                        on_bytes(len(chunk))
            else:
                for chunk in chunks:
                    target.write(chunk)
                    raw += len(chunk)
                    on_bytes(len(chunk))
        finally:
            if target is not sink:
                target.close()
        handle.flush()
        os.fsync(handle.fileno())
    return sink.size, sink.digest.hexdigest(), raw


def read_file_chunks(path: Path, decompress: bool = False, identity: Any = None) -> Iterator[bytes]:
    """An artifact's bytes as written: decrypted with `identity` when given, then decompressed."""
    if identity is not None:
        from fovea_ctl.data.backup.encryption import decrypted_chunks

        chunks = decrypted_chunks(path, identity)
    else:
        chunks = _plain_chunks(path)
    if not decompress:
        yield from chunks
        return
    import zstandard

    inflate = zstandard.ZstdDecompressor().decompressobj()
    for chunk in chunks:
        if out := inflate.decompress(chunk):
            yield out


def _plain_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


class ChunkReader(io.RawIOBase):
    """A readable file over an iterator of chunks (tarfile reads a decrypted stream through it)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks
        self.pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self.pending:
            try:
                self.pending = next(self.chunks)
            except StopIteration:
                return 0
        n = min(len(buffer), len(self.pending))
        buffer[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n


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
