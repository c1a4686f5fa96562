"""Backups by priority class: each volume's strategy comes from the stack, never guessed.

A backup is a folder `<UTC timestamp>-<class>/` holding one artifact per item and `manifest.json`
(`BackupManifest`). It is written under a hidden `.partial-*` name, fsynced and renamed into place, so a
crash or Ctrl-C never leaves a half backup that `list` shows. `verify` checks every sha256 and then
restores each item on trial (pg_restore into a throwaway postgres of the same image, a full read of
each tar, redis-check-rdb) and records the outcome in `verified.json` beside the manifest.

Volume files go, with a local engine, through a FIFO in a bind-mounted host folder (`fifo_to_artifact`:
host `zstd -1 -T0`, hashed while the artifact grows); otherwise, and for dumps, over `docker exec` (never
through a container's log driver), compressed and hashed on the host as they arrive.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol

from pydantic import BaseModel, Field

from fovea_ctl import __version__
from fovea_ctl.errors import BackupDamaged, FoveaError, UsageError
from fovea_ctl.model import BackupStrategy, Priority, Service, Volume

if TYPE_CHECKING:
    from fovea_ctl.observe import ObservedState
    from fovea_ctl.project import Project

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
VERIFIED = "verified.json"
PARTIAL_PREFIX = ".partial-"
STAGING_PREFIX = ".fovea-restore-"  # restore stages files here, inside the target volume
OLD_PREFIX = ".fovea-old-"
HELPER_LABEL = "io.fovea.helper-of"
AGE_RECIPIENT_ENV = "FOVEA_BACKUP_AGE_RECIPIENT"
AGE_IDENTITY_ENV = "FOVEA_BACKUP_AGE_IDENTITY"
CHUNK = 1 << 20


class BackupClass(StrEnum):
    CRITICAL = "critical"
    IMPORTANT = "important"
    ALL = "all"

    def includes(self, priority: Priority) -> bool:
        if priority is Priority.CRITICAL:
            return True
        return priority is Priority.IMPORTANT and self is not BackupClass.CRITICAL


class ItemRecord(BaseModel):
    name: str  # a stack volume name, or `dotenv` / `secrets`
    kind: str  # volume | file
    strategy: str
    artifact: str | None = None
    size: int = 0
    sha256: str | None = None
    duration_s: float = 0.0
    source_bytes: int | None = None
    skipped: str | None = None  # why it is not in this backup
    # What the data looked like when it was copied (WAL position, file listing digest): `down --volumes`
    # compares it with now to know whether the backup still holds every byte.
    write_marker: str | None = None
    details: dict[str, str] = {}


class BackupManifest(BaseModel):
    schema_version: int = SCHEMA_VERSION
    id: str
    project: str
    backup_class: BackupClass
    created_at: datetime
    finished_at: datetime | None = None
    stack_hash: str
    fovea_version: str = __version__
    engine_version: str = ""
    postgres_version: str = ""
    items: list[ItemRecord] = []
    warnings: list[str] = []

    def item(self, name: str) -> ItemRecord:
        for item in self.items:
            if item.name == name:
                return item
        raise UsageError(f"backup {self.id} has no item {name!r} (items: {', '.join(i.name for i in self.copied)})")

    @property
    def copied(self) -> list[ItemRecord]:
        return [i for i in self.items if i.artifact]


class VerifyRecord(BaseModel):
    ok: bool
    verified_at: datetime
    manifest_sha256: str
    checks: dict[str, str] = {}


class BackupInfo(BaseModel):
    id: str
    path: Path
    manifest: BackupManifest
    verified: VerifyRecord | None = None

    @property
    def verified_ok(self) -> bool:
        return bool(self.verified and self.verified.ok and self.verified.manifest_sha256 == _sha256_file(self.path / MANIFEST))


class BackupResult(BaseModel):
    path: Path
    manifest: BackupManifest
    verified: VerifyRecord | None = None


# -- progress ---------------------------------------------------------------------------------------
class TransferProgress(Protocol):
    def begin(self, item: str, total: int | None) -> None: ...
    def advance(self, item: str, nbytes: int) -> None: ...
    def end(self, item: str, summary: str) -> None: ...
    def note(self, text: str) -> None: ...
    def close(self) -> None: ...


class QuietProgress:
    def begin(self, item: str, total: int | None) -> None: ...
    def advance(self, item: str, nbytes: int) -> None: ...
    def end(self, item: str, summary: str) -> None: ...
    def note(self, text: str) -> None: ...
    def close(self) -> None: ...


class LineProgress(QuietProgress):
    """A line per item (and every 10 s while one runs): for cron logs and CI."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stderr
        self.counts: dict[str, tuple[int, float, float]] = {}

    def begin(self, item: str, total: int | None) -> None:
        self.counts[item] = (0, time.monotonic(), time.monotonic())
        self._write(f"{item}: started" + (f" ({_human(total)})" if total else ""))

    def advance(self, item: str, nbytes: int) -> None:
        done, began, last = self.counts.get(item, (0, time.monotonic(), time.monotonic()))
        done += nbytes
        now = time.monotonic()
        if now - last > 10:
            self._write(f"{item}: {_human(done)} at {_human(done / max(now - began, 1e-6))}/s")
            last = now
        self.counts[item] = (done, began, last)

    def end(self, item: str, summary: str) -> None:
        self._write(f"{item}: {summary}")

    def note(self, text: str) -> None:
        self._write(text)

    def _write(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()


class BarProgress(QuietProgress):
    """rich bars with bytes and rate, on a terminal."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn,
                                   TransferSpeedColumn)

        self.progress = Progress(TextColumn("{task.description:<16}"), BarColumn(), DownloadColumn(),
                                 TransferSpeedColumn(), TimeElapsedColumn(), TextColumn("{task.fields[summary]}"),
                                 console=Console(stderr=True))
        self.tasks: dict[str, int] = {}
        self.lock = threading.Lock()
        self.progress.start()

    def begin(self, item: str, total: int | None) -> None:
        with self.lock:
            self.tasks[item] = self.progress.add_task(item, total=total, summary="")

    def advance(self, item: str, nbytes: int) -> None:
        with self.lock:
            self.progress.advance(self.tasks[item], nbytes)

    def end(self, item: str, summary: str) -> None:
        with self.lock:
            task = self.tasks[item]
            done = self.progress.tasks[task].completed if task < len(self.progress.tasks) else 0
            self.progress.update(task, total=done or 1, completed=done or 1, summary=summary)

    def note(self, text: str) -> None:
        self.progress.console.print(text)

    def close(self) -> None:
        self.progress.stop()


def make_progress(json_out: bool) -> TransferProgress:
    if json_out:
        return LineProgress() if not sys.stderr.isatty() else QuietProgress()
    return BarProgress() if sys.stderr.isatty() else LineProgress()


# -- where backups live -----------------------------------------------------------------------------
def backup_root(project: Project, override: Path | None = None) -> Path:
    """`--to`/`--dir`, else FOVEA_BACKUP_DIR, else `<root>/backups`."""
    if override is not None:
        return Path(override).resolve()
    env = os.environ.get("FOVEA_BACKUP_DIR")
    return Path(env).resolve() if env else project.settings.root / "backups"


def load_info(path: Path) -> BackupInfo:
    manifest = BackupManifest.model_validate_json((path / MANIFEST).read_text())
    verified = None
    if (path / VERIFIED).is_file():
        try:
            verified = VerifyRecord.model_validate_json((path / VERIFIED).read_text())
        except ValueError:
            verified = None
    return BackupInfo(id=path.name, path=path, manifest=manifest, verified=verified)


def list_backups(root: Path, project: str | None = None) -> list[BackupInfo]:
    """Complete backups under `root` (oldest first); partial folders and other projects' are left out."""
    if not root.is_dir():
        return []
    found: list[BackupInfo] = []
    for path in sorted(root.iterdir()):
        if path.name.startswith(".") or not (path / MANIFEST).is_file():
            continue
        try:
            info = load_info(path)
        except (ValueError, OSError):
            continue
        if project is None or info.manifest.project == project:
            found.append(info)
    return sorted(found, key=lambda i: i.manifest.created_at)


def resolve_backup(root: Path, ref: str) -> Path:
    """A backup folder from a path or an id (`20250101T000000Z-critical`) under `root`."""
    candidates = [Path(ref), root / ref]
    for candidate in candidates:
        if (candidate / MANIFEST).is_file():
            return candidate.resolve()
    raise UsageError(f"no backup at {ref!r} (looked in {root})", hint="`fovea backup list` shows the ids")


# -- engine helpers ---------------------------------------------------------------------------------
def mounting_service(project: Project, volume: str) -> Service | None:
    for unit in project.stack.units.values():
        if not unit.job_of and any(m.volume == volume for m in unit.mounts):
            return unit
    return None


def image_for(project: Project, service: Service, observed: ObservedState | None = None) -> str:
    """The image a service runs now (its container's), else the one the stack resolves to."""
    observed = observed or project.observe()
    container = observed.container(service.name)
    if container is not None and container.image_id:
        return container.image_id
    resolved = project.resolver().resolve(service)
    if resolved.missing:
        raise FoveaError(f"image {resolved.ref} of {service.name} is not built", hint="run `fovea images build`")
    return resolved.ref


@contextmanager
def helper_container(project: Project, image: str, volumes: dict[str, str], read_only: bool = False,
                     binds: dict[str, Path] | None = None) -> Iterator[str]:
    """A throwaway, network-less container with the given engine volumes mounted (target -> volume) and
    host folders bind-mounted read-write (target -> host path; only for a local engine)."""
    engine = project.engine
    name = f"{project.settings.project}-helper-{uuid.uuid4().hex[:8]}"
    cid = engine.run_helper(name, image, {HELPER_LABEL: project.settings.project},
                            volume_mounts=[(v, t, read_only) for t, v in volumes.items()],
                            bind_mounts=[(str(h), t, False) for t, h in (binds or {}).items()])
    try:
        yield cid
    finally:
        try:
            engine.remove_container(cid)
        except FoveaError:
            pass


def exec_text(project: Project, container: str, command: list[str], user: str | None = None,
              stdin: Iterator[bytes] | None = None) -> str:
    """Run a short command; its stdout, or a FoveaError carrying its stderr."""
    stream = project.engine.exec_stream(container, command, user=user, stdin=stdin)
    out = b"".join(stream)
    if stream.exit_code != 0:
        raise FoveaError(f"`{' '.join(command)[:120]}` exited {stream.exit_code}: "
                         f"{stream.stderr.decode(errors='replace').strip()[-800:]}")
    return out.decode(errors="replace")


def running_container(project: Project, service: Service, observed: ObservedState | None = None) -> str:
    observed = observed or project.observe()
    container = observed.container(service.name)
    if container is None or not container.running:
        raise FoveaError(f"{service.name} is not running; its data is read through it",
                         hint=f"start it with `fovea up {service.name}`, then retry")
    return container.id


def postgres_access(service: Service) -> tuple[str, str]:
    return service.env.get("POSTGRES_USER", "postgres"), service.env.get("POSTGRES_DB", service.env.get("POSTGRES_USER", "postgres"))


def _psql(project: Project, container: str, service: Service, sql: str, database: str | None = None) -> str:
    user, db = postgres_access(service)
    return exec_text(project, container, ["psql", "-X", "-v", "ON_ERROR_STOP=1", "-U", user, "-d", database or db,
                                          "-Atc", sql], user="postgres").strip()


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


# -- the fast path: a FIFO in a bind-mounted host folder ----------------------------------------------
# `docker exec` streams top out near 90 MB/s (the engine copies every frame through containerd's shim).
# With a local engine, a helper container instead writes into a FIFO that lives in a host folder it has
# bind-mounted, and a host `zstd -1 -T0` reads the FIFO and writes the artifact; a thread on the host
# hashes the artifact as it grows. Nothing but the exit code and stderr crosses the exec connection.
FIFO_DIR_PREFIX = ".fifo-"
OUT = "/fovea-out"


class FifoSink:
    """A FIFO in a private host folder, and the host side that compresses what arrives into `artifact`."""

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

    def seen_by(self, project: Project, container: str) -> bool:
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
            return self.process.poll() is not None
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
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def fifo_to_artifact(project: Project, container: str, command: list[str], sink: FifoSink, path: Path,
                     on_bytes: Callable[[int], None]) -> tuple[int, str, bytes]:
    """Run `command` (which writes into `sink.inside`) in the container, compressing what it writes into
    `path` on the host; `path` hashed while it grows and fsynced: (size, sha256, the command's stderr)."""
    outcome: dict[str, object] = {}
    stream = project.engine.exec_stream(container, command)

    def drain() -> None:
        try:
            b"".join(stream)
            outcome["code"] = stream.exit_code
        except BaseException as exc:  # re-raised by the caller
            outcome["error"] = exc

    digest = hashlib.sha256()
    size = 0
    with path.open("wb") as handle:
        compressor = _Compressor(sink.path, handle)
        waiter = threading.Thread(target=drain, daemon=True)
        waiter.start()
        try:
            with path.open("rb") as follow:
                unblocked = False
                while True:
                    finished = compressor.done()
                    if not unblocked and not waiter.is_alive():
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
            waiter.join()
            problem = compressor.failure()
        finally:
            compressor.kill()
            sink.unblock()
        if "error" in outcome:
            raise outcome["error"]  # type: ignore[misc]
        if outcome.get("code") != 0:
            raise FoveaError(f"`{' '.join(command)[:120]}` exited {outcome.get('code')}: "
                             f"{stream.stderr.decode(errors='replace').strip()[-800:]}")
        if problem:
            raise FoveaError(f"compressing into {path.name} failed: {problem}")
        os.fsync(handle.fileno())
    if path.stat().st_size != size:
        raise FoveaError(f"{path.name} changed while it was written ({path.stat().st_size} bytes, {size} hashed)")
    return size, digest.hexdigest(), stream.stderr


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


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_json_atomic(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    _fsync_dir(path.parent)


# -- write markers: has a volume changed since a backup? ----------------------------------------------
LISTING = ("find /v -mindepth 1 \\( -name '.fovea-restore-*' -o -name '.fovea-old-*' \\) -prune -o "
           "-printf '%P\\t%y\\t%s\\t%T@\\t%m\\t%U:%G\\n' | LC_ALL=C sort | sha256sum | cut -c1-64")


# Row writes counted by the statistics collector, database oid included (a restore makes a new database).
# Not the WAL position: reads write WAL too (page pruning), which would make every backup look stale.
# The counters are flushed a moment after a commit, so a write racing the backup only ever makes it
# look stale, never fresh.
PG_WRITES = ("select d.oid || ':' || s.tup_inserted || ':' || s.tup_updated || ':' || s.tup_deleted "
             "from pg_stat_database s join pg_database d on d.oid = s.datid where d.datname = current_database()")


def pg_marker(project: Project, container: str, service: Service) -> str:
    return "pgwrites:" + _psql(project, container, service, PG_WRITES)


def listing_marker(project: Project, container: str) -> str:
    return "files:" + exec_text(project, container, ["sh", "-c", LISTING]).strip()


def current_markers(project: Project, observed: ObservedState, volumes: list[Volume]) -> dict[str, str | None]:
    """Each volume's write marker now (None when it cannot be read: then no backup counts as fresh)."""
    markers: dict[str, str | None] = {}
    for volume in volumes:
        service = mounting_service(project, volume.name)
        engine_name = project.settings.volume_name(volume.name)
        try:
            if volume.backup_strategy is BackupStrategy.PG_DUMP:
                if service is None:
                    markers[volume.name] = None
                    continue
                markers[volume.name] = pg_marker(project, running_container(project, service, observed), service)
            elif volume.backup_strategy is BackupStrategy.TAR and engine_name in observed.volumes:
                image = image_for(project, service, observed) if service else _any_image(project)
                with helper_container(project, image, {"/v": engine_name}, read_only=True) as helper:
                    markers[volume.name] = listing_marker(project, helper)
            else:
                markers[volume.name] = None
        except FoveaError:
            markers[volume.name] = None
    return markers


def _any_image(project: Project) -> str:
    for unit in project.stack.units.values():
        resolved = project.resolver().resolve(unit)
        if not resolved.missing:
            return resolved.ref
    raise FoveaError("no fovea image is built to run a helper container", hint="run `fovea images build`")


def fresh_backups(project: Project, observed: ObservedState) -> dict[str, str]:
    """Critical engine volumes that a verified backup taken after their last write covers: name -> backup id.

    Called by `down --volumes` before it stops anything (a stopping database writes a checkpoint).
    """
    backups = [b for b in list_backups(backup_root(project), project.settings.project) if b.verified_ok]
    if not backups:
        return {}
    critical = [v for v in project.stack.volumes if v.priority is Priority.CRITICAL
                and project.settings.volume_name(v.name) in observed.volumes]
    markers = current_markers(project, observed, critical)
    fresh: dict[str, str] = {}
    for volume in critical:
        marker = markers.get(volume.name)
        if marker is None:
            continue
        for backup in reversed(backups):
            item = next((i for i in backup.manifest.copied if i.name == volume.name), None)
            if item is not None and item.write_marker == marker:
                fresh[project.settings.volume_name(volume.name)] = backup.id
                break
    return fresh


# -- taking a backup ---------------------------------------------------------------------------------
class BackupContext:
    def __init__(self, project: Project, folder: Path, progress: TransferProgress) -> None:
        self.project = project
        self.folder = folder
        self.progress = progress
        self.observed = project.observe()
        self.warnings: list[str] = []
        self.postgres_version = ""


def _backup_pg(ctx: BackupContext, volume: Volume) -> ItemRecord:
    project = ctx.project
    service = mounting_service(project, volume.name)
    if service is None:
        raise FoveaError(f"volume {volume.name}: no enabled service mounts it, so nothing can run pg_dump")
    container = running_container(project, service, ctx.observed)
    user, database = postgres_access(service)
    marker = pg_marker(project, container, service)
    ctx.postgres_version = _psql(project, container, service, "show server_version")
    size = int(_psql(project, container, service, f"select pg_database_size('{database}')") or 0)
    # Extensions made while initdb's single-user bootstrap ran get system OIDs, and pg_dump skips those
    # (pgvector here): they are recorded and created before pg_restore instead.
    extensions = _psql(project, container, service, "select string_agg(extname, ',') from pg_extension where extname <> 'plpgsql'")
    artifact = f"{volume.name}.pgdump"
    ctx.progress.begin(volume.name, size)
    # -Fc with zstd level 1 inside pg_dump: one consistent snapshot while the backend writes, and a file
    # pg_restore reads as it is. Level 1: the measured default-level dump took 3x as long (DESIGN.md).
    stream = project.engine.exec_stream(container, ["pg_dump", "-U", user, "-d", database, "-Fc", "-Z", "zstd:1"],
                                        user="postgres")
    size_out, digest, raw = write_artifact(stream, ctx.folder / artifact, compress=False,
                                           on_bytes=lambda n: ctx.progress.advance(volume.name, n))
    if stream.exit_code != 0:
        raise FoveaError(f"pg_dump of {database} failed (exit {stream.exit_code}): "
                         f"{stream.stderr.decode(errors='replace').strip()[-800:]}")
    return ItemRecord(name=volume.name, kind="volume", strategy=volume.backup_strategy.value, artifact=artifact,
                      size=size_out, sha256=digest, source_bytes=size, write_marker=marker,
                      details={"database": database, "user": user, "service": service.name, "format": "pg_dump -Fc -Z zstd:1",
                               "extensions": extensions})


def _backup_tar(ctx: BackupContext, volume: Volume) -> ItemRecord:
    project = ctx.project
    engine_name = project.settings.volume_name(volume.name)
    if engine_name not in ctx.observed.volumes:
        return ItemRecord(name=volume.name, kind="volume", strategy=volume.backup_strategy.value,
                          skipped="the volume does not exist (nothing to back up)")
    service = mounting_service(project, volume.name)
    image = image_for(project, service, ctx.observed) if service else _any_image(project)
    artifact = f"{volume.name}.tar.zst"
    tar = ["tar", "--numeric-owner", "--blocking-factor=2048", "--totals", "-C", "/v",
           f"--exclude=./{STAGING_PREFIX}*", f"--exclude=./{OLD_PREFIX}*"]
    path = ctx.folder / artifact
    sink = FifoSink(ctx.folder) if project.engine.is_local_socket() else None
    try:
        with ExitStack() as stack:
            helper = None
            if sink is not None:
                try:
                    helper = stack.enter_context(helper_container(project, image, {"/v": engine_name}, read_only=True,
                                                                  binds=sink.binds))
                except FoveaError:  # the engine cannot bind-mount this folder: stream over exec instead
                    sink.remove()
                    sink = None
            if helper is None:
                helper = stack.enter_context(helper_container(project, image, {"/v": engine_name}, read_only=True))
            if sink is not None and not sink.seen_by(project, helper):
                sink.remove()
                sink = None
            marker = listing_marker(project, helper)
            total = int(exec_text(project, helper, ["sh", "-c", "du -sb /v | cut -f1"]).strip() or 0)
            ctx.progress.begin(volume.name, total)
            on_bytes = lambda n: ctx.progress.advance(volume.name, n)  # noqa: E731
            if sink is not None:
                size, digest, stderr = fifo_to_artifact(project, helper, [*tar, "-cf", sink.inside, "."], sink, path,
                                                        on_bytes)
                written = re.search(rb"Total bytes written: (\d+)", stderr)
                raw = int(written.group(1)) if written else total
                how = "tar into a FIFO, zstd -1 on the host"
            else:
                stream = project.engine.exec_stream(helper, [*tar, "-cf", "-", "."])
                size, digest, raw = write_artifact(stream, path, compress=True, on_bytes=on_bytes)
                if stream.exit_code != 0:
                    raise FoveaError(f"tar of volume {engine_name} failed (exit {stream.exit_code}): "
                                     f"{stream.stderr.decode(errors='replace').strip()[-800:]}")
                how = "tar over exec, zstd -1 on the host"
    finally:
        if sink is not None:
            sink.remove()
    return ItemRecord(name=volume.name, kind="volume", strategy=volume.backup_strategy.value, artifact=artifact,
                      size=size, sha256=digest, source_bytes=raw, write_marker=marker,
                      details={"format": "tar (numeric owners) + zstd -1", "image": image, "transfer": how})


def _redis_info(project: Project, container: str) -> dict[str, str]:
    text = exec_text(project, container, ["redis-cli", "INFO", "persistence"])
    return dict(line.split(":", 1) for line in text.replace("\r", "").splitlines() if ":" in line)


def _backup_rdb(ctx: BackupContext, volume: Volume) -> ItemRecord:
    project = ctx.project
    service = mounting_service(project, volume.name)
    if service is None:
        raise FoveaError(f"volume {volume.name}: no enabled service mounts it, so nothing can BGSAVE")
    container = running_container(project, service, ctx.observed)
    before = int(_redis_info(project, container).get("rdb_saves", "0"))
    reply = exec_text(project, container, ["redis-cli", "BGSAVE", "SCHEDULE"]).strip()
    deadline = time.monotonic() + 600
    while True:
        info = _redis_info(project, container)
        if info.get("rdb_bgsave_in_progress") == "0" and int(info.get("rdb_saves", "0")) > before:
            break
        if time.monotonic() > deadline:
            raise FoveaError(f"redis BGSAVE did not finish in 600 s (reply: {reply})")
        time.sleep(0.1)
    if info.get("rdb_last_bgsave_status") != "ok":
        raise FoveaError("redis BGSAVE failed", hint=f"see `fovea logs {service.name}`")
    directory = exec_text(project, container, ["redis-cli", "--raw", "CONFIG", "GET", "dir"]).split()[-1]
    filename = exec_text(project, container, ["redis-cli", "--raw", "CONFIG", "GET", "dbfilename"]).split()[-1]
    artifact = f"{volume.name}.rdb"
    ctx.progress.begin(volume.name, None)
    stream = project.engine.exec_stream(container, ["cat", f"{directory}/{filename}"])
    size, digest, raw = write_artifact(stream, ctx.folder / artifact, compress=False,
                                       on_bytes=lambda n: ctx.progress.advance(volume.name, n))
    if stream.exit_code != 0:
        raise FoveaError(f"copying the RDB out of {service.name} failed: {stream.stderr.decode(errors='replace')}")
    return ItemRecord(name=volume.name, kind="volume", strategy=volume.backup_strategy.value, artifact=artifact,
                      size=size, sha256=digest, source_bytes=raw,
                      details={"service": service.name, "format": "redis RDB (BGSAVE)"})


SECRET_LINE = re.compile(r"^\s*(export\s+)?([A-Za-z_][A-Za-z0-9_]*(SECRET|PASSWORD|TOKEN|KEY)[A-Za-z0-9_]*)\s*=")


def _backup_dotenv(ctx: BackupContext) -> ItemRecord:
    """`.env` with secret-looking values redacted (the full file travels in the encrypted secrets item)."""
    source = ctx.project.settings.root / ".env"
    if not source.is_file():
        return ItemRecord(name="dotenv", kind="file", strategy="copy", skipped=f"{source} does not exist")
    lines = []
    redacted = 0
    for line in source.read_text().splitlines():
        match = SECRET_LINE.match(line)
        if match:
            lines.append(f"# {match.group(2)}=<redacted by fovea backup>")
            redacted += 1
        else:
            lines.append(line)
    started = time.monotonic()
    data = ("\n".join(lines) + "\n").encode()
    size, digest, _ = write_artifact([data], ctx.folder / "dotenv", compress=False, on_bytes=lambda n: None)
    return ItemRecord(name="dotenv", kind="file", strategy="copy", artifact="dotenv", size=size, sha256=digest,
                      source_bytes=source.stat().st_size, duration_s=time.monotonic() - started,
                      details={"source": str(source), "redacted_lines": str(redacted)})


def _backup_secrets(ctx: BackupContext) -> ItemRecord:
    settings = ctx.project.settings
    directory = settings.effective_secrets_dir
    recipient = os.environ.get(AGE_RECIPIENT_ENV)
    if not recipient:
        why = (f"secrets left out: set {AGE_RECIPIENT_ENV} to an age public key (age1...) to include them encrypted, "
               f"or keep a copy of {directory} (and .env) somewhere safe yourself")
        ctx.warnings.append(why)
        return ItemRecord(name="secrets", kind="file", strategy="age", skipped=why)
    import pyrage

    try:
        key = pyrage.ssh.Recipient.from_str(recipient) if recipient.startswith("ssh-") else pyrage.x25519.Recipient.from_str(recipient)
    except Exception as exc:
        raise UsageError(f"{AGE_RECIPIENT_ENV} is not an age or ssh public key: {exc}") from None
    started = time.monotonic()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for info in ctx.project.secrets.list():
            if info.path.is_file():
                tar.add(info.path, arcname=f"secrets/{info.name}")
        env_file = settings.root / ".env"
        if env_file.is_file():
            tar.add(env_file, arcname="dotenv")
    encrypted = pyrage.encrypt(buffer.getvalue(), [key])
    size, digest, _ = write_artifact([encrypted], ctx.folder / "secrets.tar.age", compress=False, on_bytes=lambda n: None)
    return ItemRecord(name="secrets", kind="file", strategy="age", artifact="secrets.tar.age", size=size, sha256=digest,
                      duration_s=time.monotonic() - started,
                      details={"recipient": recipient, "decrypt_with": f"{AGE_IDENTITY_ENV}=<identity file>"})


STRATEGIES: dict[BackupStrategy, Callable[[BackupContext, Volume], ItemRecord]] = {
    BackupStrategy.PG_DUMP: _backup_pg,
    BackupStrategy.TAR: _backup_tar,
    BackupStrategy.REDIS_RDB: _backup_rdb,
}


# Dumps run inside the service's own container, so they hold no helper to clean up and may run beside the
# volume copies (pg_dump is bound by the server's CPU, tar+zstd by the disk): a critical backup takes about
# as long as its longest item. Helper-container strategies stay on the calling thread, so Ctrl-C always
# reaches the code that removes their helpers.
IN_SERVICE = {BackupStrategy.PG_DUMP, BackupStrategy.REDIS_RDB}


def _copy_item(ctx: BackupContext, volume: Volume) -> ItemRecord:
    started = time.monotonic()
    record = STRATEGIES[volume.backup_strategy](ctx, volume)
    record.duration_s = round(time.monotonic() - started, 3)
    if record.artifact:
        rate = (record.source_bytes or record.size) / max(record.duration_s, 1e-6)
        ctx.progress.end(volume.name, f"{_human(record.size)} in {record.duration_s:.1f} s ({_human(rate)}/s)")
    return record


def _copy_items(ctx: BackupContext, volumes: list[Volume]) -> dict[str, ItemRecord]:
    records: dict[str, ItemRecord] = {}
    errors: list[BaseException] = []

    def in_background(volume: Volume) -> None:
        try:
            records[volume.name] = _copy_item(ctx, volume)
        except BaseException as exc:  # re-raised on the calling thread
            errors.append(exc)

    workers = [threading.Thread(target=in_background, args=(v,), daemon=True, name=f"backup-{v.name}")
               for v in volumes if v.backup_strategy in IN_SERVICE]
    for worker in workers:
        worker.start()
    for volume in volumes:
        if volume.backup_strategy not in IN_SERVICE and not errors:
            records[volume.name] = _copy_item(ctx, volume)
    for worker in workers:
        while worker.is_alive():
            worker.join(0.2)
    if errors:
        raise errors[0]
    return records


def stack_hash(project: Project) -> str:
    return hashlib.sha256(project.stack.model_dump_json().encode()).hexdigest()


def _new_id(root: Path, backup_class: BackupClass) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    backup_id = f"{stamp}-{backup_class.value}"
    n = 2
    while (root / backup_id).exists():
        backup_id = f"{stamp}-{backup_class.value}-{n}"
        n += 1
    return backup_id


def create_backup(project: Project, backup_class: BackupClass, root: Path, progress: TransferProgress) -> BackupResult:
    """Back up every item of the class into `root/<UTC timestamp>-<class>/`, atomically."""
    root.mkdir(parents=True, exist_ok=True)
    backup_id = _new_id(root, backup_class)
    partial = root / f"{PARTIAL_PREFIX}{backup_id}-{os.getpid()}"
    partial.mkdir()
    try:
        ctx = BackupContext(project, partial, progress)
        manifest = BackupManifest(id=backup_id, project=project.settings.project, backup_class=backup_class,
                                  created_at=datetime.now(UTC), stack_hash=stack_hash(project),
                                  engine_version=str(project.engine.version().get("Version", "")))
        records: dict[str, ItemRecord] = {}
        copied = []
        for volume in project.stack.volumes:
            if not backup_class.includes(volume.priority) or volume.backup_strategy is BackupStrategy.RECORD_ONLY:
                why = ("recreatable: recorded, not copied" if volume.priority is Priority.RECREATABLE
                       else f"{volume.priority.value}: not part of a {backup_class.value} backup")
                records[volume.name] = ItemRecord(name=volume.name, kind="volume", strategy=volume.backup_strategy.value,
                                                  skipped=why)
            else:
                copied.append(volume)
        records.update(_copy_items(ctx, copied))
        manifest.items.extend(records[v.name] for v in project.stack.volumes)
        if backup_class is not BackupClass.CRITICAL:
            manifest.items.append(_backup_dotenv(ctx))
            manifest.items.append(_backup_secrets(ctx))
        for warning in ctx.warnings:
            progress.note(f"warning: {warning}")
        manifest.postgres_version = ctx.postgres_version
        manifest.warnings = ctx.warnings
        manifest.finished_at = datetime.now(UTC)
        _write_json_atomic(partial / MANIFEST, manifest.model_dump_json(indent=2))
        _fsync_dir(partial)
        final = root / backup_id
        os.rename(partial, final)
        _fsync_dir(root)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return BackupResult(path=final, manifest=manifest)


# -- verification ----------------------------------------------------------------------------------
def check_checksums(folder: Path, manifest: BackupManifest, only: list[str] | None = None) -> list[str]:
    """Problems with the artifacts' sizes and sha256 (empty when every one matches)."""
    problems = []
    for item in manifest.copied:
        if only and item.name not in only:
            continue
        path = folder / str(item.artifact)
        if not path.is_file():
            problems.append(f"{item.name}: artifact {path.name} is missing")
            continue
        if path.stat().st_size != item.size:
            problems.append(f"{item.name}: {path.name} is {path.stat().st_size} bytes, the manifest says {item.size}")
            continue
        digest = _sha256_file(path)
        if digest != item.sha256:
            problems.append(f"{item.name}: sha256 of {path.name} is {digest[:16]}…, the manifest says {str(item.sha256)[:16]}…")
    return problems


TRIAL_PG = """set -e
initdb -D /tmp/trial -U "$1" --auth=trust >/dev/null </dev/null
pg_ctl -D /tmp/trial -w -l /tmp/trial.log -o "-c listen_addresses= -c fsync=off" start >/dev/null </dev/null
createdb -U "$1" "$2" </dev/null
for ext in $(echo "$3" | tr ',' ' '); do psql -X -q -U "$1" -d "$2" -c "create extension if not exists \"$ext\"" </dev/null; done
pg_restore -U "$1" -d "$2" --exit-on-error --no-owner --no-privileges
psql -X -U "$1" -d "$2" -Atc "select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.relkind = 'r' and n.nspname = 'public'" </dev/null
"""


def _trial_pg(project: Project, folder: Path, item: ItemRecord, progress: TransferProgress) -> str:
    service = project.stack.units.get(item.details.get("service", "postgres"))
    if service is None:
        raise FoveaError(f"{item.name}: the stack has no service {item.details.get('service')!r} to take its image from")
    image = image_for(project, service)
    path = folder / str(item.artifact)
    progress.begin(f"{item.name} (trial)", path.stat().st_size)
    with helper_container(project, image, {}) as helper:
        stream = project.engine.exec_stream(
            helper, ["sh", "-c", TRIAL_PG, "trial", item.details.get("user", "postgres"), item.details.get("database", "postgres"),
                     item.details.get("extensions", "")],
            user="postgres", stdin=_counting(read_file_chunks(path), lambda n: progress.advance(f"{item.name} (trial)", n)))
        out = b"".join(stream).decode(errors="replace").strip()
        if stream.exit_code != 0:
            raise BackupDamaged(f"{item.name}: trial pg_restore failed (exit {stream.exit_code}): "
                                f"{stream.stderr.decode(errors='replace').strip()[-600:]}")
    return f"pg_restore into a throwaway postgres ok ({out.splitlines()[-1] if out else '?'} tables)"


def _counting(chunks: Iterable[bytes], on_bytes: Callable[[int], None]) -> Iterator[bytes]:
    for chunk in chunks:
        on_bytes(len(chunk))
        yield chunk


def _trial_tar(project: Project, folder: Path, item: ItemRecord, progress: TransferProgress) -> str:
    import zstandard

    path = folder / str(item.artifact)
    members = 0
    data = 0
    label = f"{item.name} (read)"
    progress.begin(label, item.source_bytes)
    try:
        with path.open("rb") as handle, zstandard.ZstdDecompressor().stream_reader(handle) as reader, \
                tarfile.open(fileobj=reader, mode="r|") as tar:
            for member in tar:
                members += 1
                if member.isfile():
                    extracted = tar.extractfile(member)
                    assert extracted is not None
                    while chunk := extracted.read(CHUNK):
                        data += len(chunk)
                        progress.advance(label, len(chunk))
    except (tarfile.TarError, zstandard.ZstdError, OSError, EOFError) as exc:
        raise BackupDamaged(f"{item.name}: {path.name} does not read back whole: {exc}") from None
    return f"full read ok ({members} entries, {_human(data)} of file data)"


def _trial_rdb(project: Project, folder: Path, item: ItemRecord, progress: TransferProgress) -> str:
    service = project.stack.units.get(item.details.get("service", "redis"))
    if service is None:
        raise FoveaError(f"{item.name}: the stack has no service {item.details.get('service')!r} to take its image from")
    path = folder / str(item.artifact)
    with helper_container(project, image_for(project, service), {}) as helper:
        stream = project.engine.exec_stream(helper, ["sh", "-c", "cat > /tmp/dump.rdb && redis-check-rdb /tmp/dump.rdb"],
                                            stdin=read_file_chunks(path))
        out = b"".join(stream).decode(errors="replace")
        if stream.exit_code != 0:
            raise BackupDamaged(f"{item.name}: redis-check-rdb refuses the RDB: {(out + stream.stderr.decode(errors='replace'))[-600:]}")
    return "redis-check-rdb ok"


def _trial_secrets(project: Project, folder: Path, item: ItemRecord, progress: TransferProgress) -> str:
    identity = os.environ.get(AGE_IDENTITY_ENV)
    if not identity:
        return f"checksum ok; not decrypted ({AGE_IDENTITY_ENV} unset)"
    names = decrypt_secrets(folder / str(item.artifact), Path(identity)).getnames()
    return f"decrypted ok ({len(names)} files)"


def decrypt_secrets(path: Path, identity_file: Path) -> tarfile.TarFile:
    import pyrage

    text = identity_file.read_text()
    try:
        if "PRIVATE KEY" in text:
            identity = pyrage.ssh.Identity.from_buffer(text.encode())
        else:
            identity = pyrage.x25519.Identity.from_str(next(l for l in text.splitlines() if l.startswith("AGE-SECRET-KEY-")))
        plain = pyrage.decrypt(path.read_bytes(), [identity])
    except Exception as exc:
        raise BackupDamaged(f"secrets: {path.name} does not decrypt with {identity_file}: {exc}") from None
    return tarfile.open(fileobj=io.BytesIO(plain), mode="r")


TRIALS: dict[str, Callable[[Project, Path, ItemRecord, TransferProgress], str]] = {
    BackupStrategy.PG_DUMP.value: _trial_pg,
    BackupStrategy.TAR.value: _trial_tar,
    BackupStrategy.REDIS_RDB.value: _trial_rdb,
    "age": _trial_secrets,
}


def verify_backup(project: Project, folder: Path, progress: TransferProgress) -> VerifyRecord:
    """Checksums, then a trial restore of each item; the outcome is recorded in `verified.json`.

    Raises BackupDamaged (after recording) when anything fails.
    """
    manifest = load_info(folder).manifest
    record = VerifyRecord(ok=False, verified_at=datetime.now(UTC), manifest_sha256=_sha256_file(folder / MANIFEST))
    problems = check_checksums(folder, manifest)
    try:
        if problems:
            raise BackupDamaged(f"backup {manifest.id} is damaged:\n  " + "\n  ".join(problems),
                                hint="take a new backup; do not restore from this one")
        for item in manifest.copied:
            trial = TRIALS.get(item.strategy)
            record.checks[item.name] = trial(project, folder, item, progress) if trial else "checksum ok"
            progress.end(item.name, record.checks[item.name])
        record.ok = True
    except BackupDamaged as exc:
        record.checks["error"] = exc.message
        raise
    finally:
        _write_json_atomic(folder / VERIFIED, record.model_dump_json(indent=2))
    return record


def prune_backups(root: Path, project: str, keep: int) -> list[str]:
    """Remove all but the newest `keep` backups of each class; the newest verified one of a class stays."""
    if keep < 1:
        raise UsageError("--keep must be at least 1")
    removed = []
    backups = list_backups(root, project)
    for backup_class in BackupClass:
        of_class = [b for b in backups if b.manifest.backup_class is backup_class]
        newest_verified = next((b.id for b in reversed(of_class) if b.verified_ok), None)
        for backup in of_class[:-keep]:
            if backup.id == newest_verified:
                continue
            shutil.rmtree(backup.path)
            removed.append(backup.id)
    return removed


def _human(n: float | None) -> str:
    value = float(n or 0)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"
