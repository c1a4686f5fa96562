"""age encryption of whole artifacts, streamed: with FOVEA_BACKUP_AGE_RECIPIENT set, every artifact is
stored encrypted (as restic stores everything), and its sha256 is over the stored bytes, so `verify`
checks integrity without the key and only a trial restore or `restore` needs FOVEA_BACKUP_AGE_IDENTITY.

pyrage pulls from a reader and pushes to a writer; a pipe and a thread turn that into a file one writes
to (`Encrypting`) or chunks one reads (`decrypted_chunks`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from fovea_ctl.errors import BackupDamaged, UsageError

AGE_RECIPIENT_ENV = "FOVEA_BACKUP_AGE_RECIPIENT"
AGE_IDENTITY_ENV = "FOVEA_BACKUP_AGE_IDENTITY"
AGE_SUFFIX = ".age"
CHUNK = 1 << 20


def recipients() -> list[Any]:
    """The configured recipient (FOVEA_BACKUP_AGE_RECIPIENT), or none: artifacts then stay plain."""
    recipient = os.environ.get(AGE_RECIPIENT_ENV)
    if not recipient:
        return []
    import pyrage

    try:
        key = (pyrage.ssh.Recipient.from_str(recipient) if recipient.startswith("ssh-")
               else pyrage.x25519.Recipient.from_str(recipient))
    except Exception as exc:
        raise UsageError(f"{AGE_RECIPIENT_ENV} is not an age or ssh public key: {exc}") from None
    return [key]


def identity_from(identity_file: Path) -> Any:
    import pyrage

    text = identity_file.read_text()
    try:
        if "PRIVATE KEY" in text:
            return pyrage.ssh.Identity.from_buffer(text.encode())
        return pyrage.x25519.Identity.from_str(next(line for line in text.splitlines() if line.startswith("AGE-SECRET-KEY-")))
    except Exception as exc:
        raise UsageError(f"{identity_file} is not an age or ssh identity: {exc}") from None


def configured_identity(what: str) -> Any:
    identity = os.environ.get(AGE_IDENTITY_ENV)
    if not identity:
        raise UsageError(f"{what} is age-encrypted: set {AGE_IDENTITY_ENV} to the identity file to read it")
    return identity_from(Path(identity))


class Encrypting:
    """A write-only file: what is written reaches `sink` age-encrypted; `close` finishes the stream."""

    def __init__(self, sink: Any, keys: list[Any]) -> None:
        read_fd, write_fd = os.pipe()
        self._reader = os.fdopen(read_fd, "rb")
        self._writer = os.fdopen(write_fd, "wb")
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(sink, keys), daemon=True)
        self._thread.start()

    def _run(self, sink: Any, keys: list[Any]) -> None:
        import pyrage

        try:
            pyrage.encrypt_io(self._reader, sink, keys)
        except BaseException as exc:
            self._error = exc
        finally:
            self._reader.close()

    def write(self, data: bytes) -> int:
        self._writer.write(data)
        return len(data)

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        if not self._writer.closed:
            self._writer.close()
        self._thread.join()
        if self._error is not None:
            raise self._error


def decrypted_chunks(path: Path, identity: Any) -> Iterator[bytes]:
    """The plain bytes of an encrypted artifact, in chunks."""
    import pyrage

    read_fd, write_fd = os.pipe()
    reader: IO[bytes] = os.fdopen(read_fd, "rb")
    writer: IO[bytes] = os.fdopen(write_fd, "wb")
    error: list[BaseException] = []

    def run() -> None:
        try:
            with path.open("rb") as source:
                pyrage.decrypt_io(source, writer, [identity])
        except BaseException as exc:
            error.append(exc)
        finally:
            writer.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        while chunk := reader.read(CHUNK):
            yield chunk
    finally:
        reader.close()
        thread.join()
    if error:
        raise BackupDamaged(f"{path.name} does not decrypt: {error[0]}") from None
