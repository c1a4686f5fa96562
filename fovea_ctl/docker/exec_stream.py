"""One exec's multiplexed stream, read as it comes: stdout as chunks, stdin fed from a thread, stderr kept for
the error message, the exit code once drained. `Engine.exec_stream` opens one."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any, Protocol

from fovea_ctl.docker.stream import STDERR, demultiplex


class ExecInspector(Protocol):
    """What a drained stream asks its engine for (`Engine` is one; named so this module does not import it back)."""

    def exec_exit_code(self, exec_id: str) -> int: ...


class ExecStream:
    """The stdout of one exec as an iterator of chunks; `exit_code` and `stderr` once it is drained."""

    def __init__(self, engine: ExecInspector, exec_id: str, sock: Any, stdin: Iterator[bytes] | None,
                 chunk_size: int) -> None:
        self.engine = engine
        self.exec_id = exec_id
        # The SDK keeps the HTTP response alive through this handle (a SocketIO; docker-py's own comment: "If
        # the response is garbage collected, it will close TLS sockets"), so it lives as long as we read from
        # the socket under it. A suspect, not a proven cause, for one EBADF mid-read in `backup important`:
        # 20 execs with gc.collect() between start and read passed with and without it.
        self.handle = sock
        self.raw = getattr(sock, "_sock", sock)
        self.chunk_size = chunk_size
        self.stderr = b""
        self.exit_code: int | None = None
        self.writer_error: BaseException | None = None
        self.writer: threading.Thread | None = None
        if stdin is not None:
            self.writer = threading.Thread(target=self._feed, args=(stdin,), daemon=True)
            self.writer.start()

    def _feed(self, stdin: Iterator[bytes]) -> None:
        try:
            for chunk in stdin:
                if chunk:
                    self.raw.sendall(chunk)
        except OSError:
            # The command stopped reading (tar stops at its end-of-archive marker, before the padding):
            # its exit code says whether that was success.
            pass
        except BaseException as exc:  # re-raised in the reading thread
            self.writer_error = exc
        finally:
            try:
                self.raw.shutdown(socket.SHUT_WR)  # the command sees the end of its input
            except OSError:
                pass

    def _read_exactly(self, n: int) -> bytes:
        view = bytearray(n)
        got = 0
        while got < n:
            read = self.raw.recv_into(memoryview(view)[got:], n - got)
            if not read:
                return bytes(view[:got])
            got += read
        return bytes(view)

    def __iter__(self) -> Iterator[bytes]:
        stderr = bytearray()
        try:
            for stream_id, data in demultiplex(self._read_exactly, self.chunk_size):
                if stream_id == STDERR:
                    stderr += data
                    del stderr[:-65536]
                else:
                    yield data
        finally:
            self.close()
            self.stderr = bytes(stderr)
        if self.writer is not None:
            self.writer.join()
        if self.writer_error is not None:
            raise self.writer_error
        self.exit_code = self.engine.exec_exit_code(self.exec_id)

    def close(self) -> None:
        try:
            self.raw.close()
        except OSError:
            pass
        self.handle = None

    def drain(self) -> tuple[int, bytes]:
        """Run to the end: (exit code, stdout then stderr), for short commands."""
        out = b"".join(self)
        return int(self.exit_code if self.exit_code is not None else -1), out + self.stderr

