"""The fast path for volume files: a FIFO in a bind-mounted host folder, both ways.

Backup: a helper's tar writes into the FIFO and a host `zstd -1 -T0` compresses it into the artifact.
Restore: the host decompresses (and decrypts) the artifact into the FIFO and the helper's tar reads it.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from functools import partial
from pathlib import Path
from typing import IO, TYPE_CHECKING

from fovea_ctl.core.background import InBackground
from fovea_ctl.data.backup.containers import helper_container
from fovea_ctl.data.backup.files import CHUNK, open_private
from fovea_ctl.errors import FoveaError

if TYPE_CHECKING:
    from fovea_ctl.docker.exec_stream import ExecStream
    from fovea_ctl.data.project_protocol import DataProject

# -- the fast path: a FIFO in a bind-mounted host folder ----------------------------------------------
# `docker exec` streams top out near 90 MB/s (the engine copies every frame through containerd's shim).
# With a local engine, a helper container instead writes into a FIFO that lives in a host folder it has
# bind-mounted, and a host `zstd -1 -T0` reads the FIFO and writes the artifact; a thread on the host
# hashes the artifact as it grows. Nothing but the exit code and stderr crosses the exec connection.
# A restore runs the same path backwards (measured: 1 GiB of video staged in 10.2 s over exec stdin).
FIFO_DIR_PREFIX = ".fifo-"
OUT = "/fovea-out"
PIPE_BYTES = 1 << 20  # the FIFO's buffer: one chunk per write instead of sixteen 64 KiB hand-offs


class HostFifo:
    """A FIFO in a private host folder that a helper container bind-mounts (at `inside`)."""

    def __init__(self, folder: Path) -> None:
        self.dir = folder / f"{FIFO_DIR_PREFIX}{uuid.uuid4().hex[:12]}"
        self.dir.mkdir(mode=0o700)
        self.name = f"stream-{uuid.uuid4().hex[:12]}"
        self.path = self.dir / self.name
        os.mkfifo(self.path, 0o600)
        self.inside = f"{OUT}/{self.name}"

    @property
    def binds(self) -> dict[str, Path]:
        return {OUT: self.dir}

    def seen_by(self, project: DataProject, container: str) -> bool:
        """The container sees this very FIFO: the engine shares this machine's filesystem."""
        stream = project.engine.exec_stream(container, ["test", "-p", self.inside])
        b"".join(stream)
        return stream.exit_code == 0

    def unblock(self) -> None:
        """Let a reader still waiting to open the FIFO go on (it then sees end of file)."""
        try:
            os.close(os.open(self.path, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


class _Compressor:
    """`zstd -1 -T0` reading the FIFO into `target` (the CLI when the host has one, else zstandard in a thread)."""

    def __init__(self, source: Path, target: IO[bytes]) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None
        cli = shutil.which("zstd")
        if cli:
            self.process = subprocess.Popen([cli, "-q", "-1", "-T0", "--check", "-c", str(source)], stdout=target,
                                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        else:
            self.thread = threading.Thread(target=self._run, args=(source, target), daemon=True)
            self.thread.start()

    def _run(self, source: Path, target: IO[bytes]) -> None:
        import zstandard

        try:
            with source.open("rb") as handle:
                compressor = zstandard.ZstdCompressor(level=1, threads=-1, write_checksum=True)
                compressor.copy_stream(handle, target, read_size=4 * CHUNK, write_size=4 * CHUNK)
                target.flush()
        except BaseException as exc:
            self.error = exc

    def done(self) -> bool:
        if self.process is not None:
            return _has_exited(self.process)
        return self.thread is None or not self.thread.is_alive()

    def failure(self) -> str | None:
        if self.process is not None:
            code = self.process.wait()
            err = self.process.stderr.read().decode(errors="replace").strip() if self.process.stderr else ""
            return f"zstd exited {code}: {err[-400:]}" if code != 0 else None
        if self.thread is not None:
            self.thread.join()
        return f"compression failed: {self.error}" if self.error else None

    def kill(self) -> None:
        """Stop and reap zstd without Popen's waitpid lock (see `_has_exited`), so no interrupt can hang it."""
        process = self.process
        if process is None or process.returncode is not None:
            return
        with suppress(ProcessLookupError):
            if not _has_exited(process):
                os.kill(process.pid, signal.SIGKILL)
        try:
            _, status = os.waitpid(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
        except ChildProcessError:  # reaped already
            process.returncode = -signal.SIGKILL


def _has_exited(process: subprocess.Popen[bytes]) -> bool:
    """Whether the child has exited, without reaping it and without Popen's internal waitpid lock.

    `Popen.poll()` takes that lock with `acquire(False)` and releases it in a `finally` that begins one
    bytecode later: a Ctrl-C or SIGTERM (raised as KeyboardInterrupt in the main thread) landing between the
    two leaves the lock held for good, and every later `wait()` hangs. The copy loop asked every 10 ms, so
    an interrupted backup sometimes hung with zstd a zombie. `waitid(WNOWAIT)` only looks: the zombie stays
    for one `wait()` to reap after the loop."""
    if process.returncode is not None:
        return True
    try:
        return os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def fifo_to_artifact(project: DataProject, container: str, command: list[str], sink: HostFifo, path: Path,
                     on_bytes: Callable[[int], None]) -> tuple[int, str, bytes]:
    """Run `command` (which writes into `sink.inside`) in the container, compressing what it writes into
    `path` on the host; `path` hashed while it grows and fsynced: (size, sha256, the command's stderr)."""
    stream = project.engine.exec_stream(container, command)
    exited = InBackground("exec-drain", partial(_exit_code, stream))
    digest = hashlib.sha256()
    size = 0
    with open_private(path) as handle:
        compressor = _Compressor(sink.path, handle)
        try:
            with path.open("rb") as follow:
                unblocked = False
                while True:
                    finished = compressor.done()
                    if not unblocked and exited.done():
                        sink.unblock()  # the command ended, perhaps before it ever opened the FIFO
                        unblocked = True
                    chunk = follow.read(4 * CHUNK)
                    if chunk:
                        digest.update(chunk)
                        size += len(chunk)
                        on_bytes(len(chunk))
                    elif finished:
                        break
                    else:
                        time.sleep(0.01)
            code = exited.result()
            problem = compressor.failure()
        finally:
            compressor.kill()
            sink.unblock()
        _refuse_exit(command, code, stream)
        if problem:
            raise FoveaError(f"compressing into {path.name} failed: {problem}")
        os.fsync(handle.fileno())
    if path.stat().st_size != size:
        raise FoveaError(f"{path.name} changed while it was written ({path.stat().st_size} bytes, {size} hashed)")
    return size, digest.hexdigest(), stream.stderr


@contextmanager
def helper_with_fifo(project: DataProject, image: str, volumes: dict[str, str], folder: Path, *, read_only: bool = False,
                     wanted: bool = True) -> Iterator[tuple[str, HostFifo | None]]:
    """A helper container with `volumes` mounted, and a FIFO in `folder` it shares with this machine: None
    when not `wanted`, when the engine is remote or cannot bind-mount `folder` (the caller streams over exec)."""
    fifo = HostFifo(folder) if wanted and project.engine.is_local_socket() else None
    try:
        with ExitStack() as stack:
            helper = None
            if fifo is not None:
                try:
                    helper = stack.enter_context(helper_container(project, image, volumes, read_only=read_only,
                                                                  binds=fifo.binds))
                except FoveaError:
                    fifo.remove()
                    fifo = None
            if helper is None:
                helper = stack.enter_context(helper_container(project, image, volumes, read_only=read_only))
            if fifo is not None and not fifo.seen_by(project, helper):
                fifo.remove()
                fifo = None
            yield helper, fifo
    finally:
        if fifo is not None:
            fifo.remove()


def chunks_to_fifo(project: DataProject, container: str, command: list[str], fifo: HostFifo, chunks: Iterable[bytes]) -> None:
    """Run `command` (which reads `fifo.inside`) in the container while this thread writes `chunks` into the
    FIFO; a FoveaError with its stderr when it fails. Ctrl-C stops the writing: the reader sees a cut stream."""
    stream = project.engine.exec_stream(container, command)
    exited = InBackground("exec-drain", partial(_exit_code, stream))
    fd = _open_for_writing(fifo.path, reader_gone=exited.done)
    unreadable: Exception | None = None
    if fd is not None:
        try:
            for chunk in chunks:
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view):]
        except BrokenPipeError:
            pass  # the reader stopped early: its exit code and stderr say why
        except Exception as exc:  # the source (a file changed since its checksum, say): the reader sees a cut stream
            unreadable = exc
        finally:
            os.close(fd)
    code = exited.result()
    if isinstance(unreadable, FoveaError):  # the source refused itself (a restore's archive check): as it said
        raise unreadable
    if unreadable is not None:
        raise FoveaError(f"reading what goes into `{' '.join(command)[:80]}` failed: "
                         f"{type(unreadable).__name__}: {unreadable}") from None
    _refuse_exit(command, code, stream)


def _exit_code(stream: ExecStream) -> int | None:
    b"".join(stream)
    return stream.exit_code


def _refuse_exit(command: list[str], code: int | None, stream: ExecStream) -> None:
    if code != 0:
        raise FoveaError(f"`{' '.join(command)[:120]}` exited {code}: "
                         f"{stream.stderr.decode(errors='replace').strip()[-800:]}")


def _open_for_writing(path: Path, reader_gone: Callable[[], bool]) -> int | None:
    """The FIFO opened for writing once its reader has opened it; None when the reader ended first (a
    blocking open would then wait forever)."""
    while True:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno != errno.ENXIO:  # ENXIO: no reader yet
                raise
            if reader_gone():
                return None
            time.sleep(0.005)
            continue
        os.set_blocking(fd, True)
        try:
            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        except OSError:
            pass  # above the user's pipe limit: the default buffer only costs more hand-offs
        return fd
