"""The Docker engine's multiplexed stream (exec and logs without a TTY), taken apart in one place.

Each frame is an 8-byte header — stream id (0 stdin, 1 stdout, 2 stderr), three zero bytes, the payload length
as a big-endian uint32 — then the payload. Standard library only: `fovea status`'s socket client uses it too.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator

STDOUT = 1
STDERR = 2
FRAME_HEADER = struct.Struct(">BxxxL")


def demultiplex(read: Callable[[int], bytes], chunk_size: int = 1 << 20) -> Iterator[tuple[int, bytes]]:
    """(stream id, payload bytes) from a multiplexed stream, in order.

    `read(n)` returns at most n bytes and b"" at the end (a socket's recv, a file's read); headers and payloads
    split across reads are put together. A payload longer than `chunk_size` comes in pieces of at most that
    many bytes, so a large frame is never held whole; empty frames yield nothing. A stream that ends inside a
    header or a payload stops after the bytes that did arrive: the caller learns how the command ended from
    the engine (its exit code), not from the stream.
    """
    while True:
        header = _read_up_to(read, FRAME_HEADER.size)
        if len(header) < FRAME_HEADER.size:
            return
        stream_id, remaining = FRAME_HEADER.unpack(header)
        while remaining:
            data = _read_up_to(read, min(remaining, chunk_size))
            if not data:
                return
            remaining -= len(data)
            yield stream_id, data


def _read_up_to(read: Callable[[int], bytes], size: int) -> bytes:
    """Exactly `size` bytes, or fewer only when the stream ended."""
    data = read(size)
    if len(data) == size or not data:
        return data
    pieces = bytearray(data)
    while len(pieces) < size:
        more = read(size - len(pieces))
        if not more:
            break
        pieces += more
    return bytes(pieces)
