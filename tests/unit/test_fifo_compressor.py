"""The backup's host-side compressor (fovea_ctl/data/backup/fifo_transport.py) can always be stopped.

Found by CI: a Ctrl-C mid-backup hung `fovea backup` for good with zstd a zombie. KeyboardInterrupt had landed
inside `Popen.poll()` between its waitpid lock's acquire and the `try` that releases it, so the lock stayed
held and the cleanup's `wait()` blocked on it. These tests hold that lock the way the interrupt left it.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

from fovea_ctl.data.backup.fifo_transport import _Compressor, _has_exited


@pytest.fixture()
def compressor(tmp_path: Path):  # type: ignore[no-untyped-def]  # yields the private class under test
    if not shutil.which("zstd"):
        pytest.fail("zstd is not installed (.ci/setup installs it)")
    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)
    with (tmp_path / "out.zst").open("wb") as target:
        running = _Compressor(fifo, target)  # zstd now waits for a writer to open the FIFO
        yield running
        running.kill()


def test_kill_stops_and_reaps_zstd_even_with_popens_waitpid_lock_left_held(compressor: _Compressor) -> None:
    assert compressor.process is not None and not compressor.done()
    compressor.process._waitpid_lock.acquire()  # what an interrupt inside Popen.poll() leaves behind
    killer = threading.Thread(target=compressor.kill, daemon=True)
    killer.start()
    killer.join(10)
    assert not killer.is_alive(), "kill() hung on Popen's waitpid lock"
    assert compressor.process.returncode is not None
    with pytest.raises(ChildProcessError):  # reaped: no zombie left
        os.waitpid(compressor.process.pid, os.WNOHANG)


def test_done_looks_without_reaping_so_failure_still_reads_the_exit_code(tmp_path: Path,
                                                                         compressor: _Compressor) -> None:
    assert compressor.process is not None
    with (tmp_path / "in.fifo").open("wb") as writer:  # a writer that sends nothing, then end of file
        writer.write(b"")
    compressor.process._waitpid_lock.acquire()
    try:
        while not compressor.done():  # never touches the lock
            threading.Event().wait(0.01)
    finally:
        compressor.process._waitpid_lock.release()
    assert _has_exited(compressor.process) and compressor.process.returncode is None  # looked, not reaped
    assert compressor.failure() is None  # wait() reaps it once, exit code 0
    assert compressor.process.returncode == 0
