"""The one demultiplexer of the engine's exec/log stream, on bytes recorded from a real engine.

data/exec_stream.bin is the body Docker 20.10 sent for `POST /exec/{id}/start` (no TTY) of
`sh -c "echo out-1; sleep 0.2; echo err-1 >&2; sleep 0.2; head -c 10000 /dev/zero | tr '\\0' x; sleep 0.2;
echo err-2 >&2; sleep 0.2; printf tail"`: five frames, stdout and stderr interleaved, one of 10 000 bytes.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest

from fovea_ctl.docker.stream import STDERR, STDOUT, demultiplex

RECORDED = (Path(__file__).parent / "data" / "exec_stream.bin").read_bytes()
FRAMES = [(STDOUT, b"out-1\n"), (STDERR, b"err-1\n"), (STDOUT, b"x" * 10_000), (STDERR, b"err-2\n"), (STDOUT, b"tail")]


def trickle(data: bytes, sizes: list[int]) -> Callable[[int], bytes]:
    """A reader that hands out at most the next of `sizes` bytes per call (cycling), like a socket would."""
    stream = io.BytesIO(data)
    calls = 0

    def read(n: int) -> bytes:
        nonlocal calls
        calls += 1
        return stream.read(min(n, sizes[(calls - 1) % len(sizes)]))

    return read


def joined(pieces: list[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
    """Consecutive pieces of one stream put back together (a frame may arrive in several pieces)."""
    frames: list[tuple[int, bytearray]] = []
    for stream_id, data in pieces:
        if frames and frames[-1][0] == stream_id:
            frames[-1][1].extend(data)
        else:
            frames.append((stream_id, bytearray(data)))
    return [(stream_id, bytes(data)) for stream_id, data in frames]


def test_the_recorded_stream_gives_each_frame_on_its_own_stream_in_order() -> None:
    assert list(demultiplex(io.BytesIO(RECORDED).read)) == FRAMES


@pytest.mark.parametrize("sizes", [[1], [3, 5, 7], [8], [9, 4096], [100_000]], ids=str)
def test_headers_and_payloads_split_across_reads_are_put_together(sizes: list[int]) -> None:
    assert list(demultiplex(trickle(RECORDED, sizes))) == FRAMES


def test_a_payload_longer_than_the_chunk_size_comes_in_pieces_no_larger() -> None:
    pieces = list(demultiplex(io.BytesIO(RECORDED).read, chunk_size=4096))
    assert max(len(data) for _, data in pieces) == 4096
    assert [len(data) for stream_id, data in pieces if data.startswith(b"x")] == [4096, 4096, 1808]
    assert joined(pieces) == FRAMES


def test_a_truncated_header_ends_the_stream_after_the_complete_frames() -> None:
    cut = len(RECORDED) - len(b"tail") - 3  # inside the last frame's 8-byte header
    assert list(demultiplex(io.BytesIO(RECORDED[:cut]).read)) == FRAMES[:-1]


def test_a_truncated_payload_yields_what_arrived_and_stops() -> None:
    cut = len(RECORDED) - len(b"tail") - 8 - len(b"err-2\n") - 8 - 2500  # 2 500 bytes short of the x frame's end
    assert list(demultiplex(trickle(RECORDED[:cut], [1000]))) == [*FRAMES[:2], (STDOUT, b"x" * 7500)]


def test_empty_frames_yield_nothing_and_an_empty_stream_nothing_at_all() -> None:
    empty_stdout_frame = bytes([STDOUT, 0, 0, 0, 0, 0, 0, 0])
    assert list(demultiplex(io.BytesIO(empty_stdout_frame + RECORDED).read)) == FRAMES
    assert list(demultiplex(io.BytesIO(b"").read)) == []
