"""Per-volume backup strategies (pg_dump, tar, redis RDB) and the file items (.env, secrets)."""

from __future__ import annotations

import io
import os
import re
import tarfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from fovea_ctl.core.background import InBackground
from fovea_ctl.data.backup.containers import (any_image, exec_text, image_for, mounting_service,
                                         postgres_access, psql, running_container)
from fovea_ctl.data.backup.fifo_transport import fifo_to_artifact, helper_with_fifo
from fovea_ctl.data.backup.encryption import AGE_SUFFIX, recipients
from fovea_ctl.data.backup.files import write_artifact
from fovea_ctl.data.backup.encryption import AGE_IDENTITY_ENV, AGE_RECIPIENT_ENV
from fovea_ctl.data.backup.manifest import OLD_PREFIX, STAGING_PREFIX, ItemRecord
from fovea_ctl.core.transfer_progress import TransferProgress, human
from fovea_ctl.data.backup.write_markers import listing_marker, pg_position
from fovea_ctl.errors import FoveaError
from fovea_ctl.docker.redis_cli import REDIS_PASSWORD_SECRET
from fovea_ctl.docker.redis_cli import redis_cli as redis_cli_command
from fovea_ctl.model import BackupStrategy, Service, Volume

if TYPE_CHECKING:
    from fovea_ctl.data.project_protocol import DataProject

# -- taking a backup ---------------------------------------------------------------------------------
class BackupContext:
    def __init__(self, project: DataProject, folder: Path, progress: TransferProgress) -> None:
        self.project = project
        self.folder = folder
        self.progress = progress
        self.observed = project.observe()
        self.warnings: list[str] = []
        self.postgres_version = ""
        self.encrypt_to = recipients()  # every artifact age-encrypted when a recipient is configured

    def artifact(self, name: str) -> str:
        return name + AGE_SUFFIX if self.encrypt_to else name

    def details(self, **values: str) -> dict[str, str]:
        return {**values, **({"encrypted": "age"} if self.encrypt_to else {})}


def _serving_container(ctx: BackupContext, volume: Volume, action: str) -> tuple[Service, str]:
    """The service that mounts `volume` and its running container: the database that dumps it."""
    service = mounting_service(ctx.project, volume.name)
    if service is None:
        raise FoveaError(f"volume {volume.name}: no enabled service mounts it, so nothing can {action}")
    return service, running_container(ctx.project, service, ctx.observed)


def _backup_pg(ctx: BackupContext, volume: Volume) -> ItemRecord:
    project = ctx.project
    service, container = _serving_container(ctx, volume, "run pg_dump")
    user, database = postgres_access(service)
    marker, wal_lsn = pg_position(project, container, service)  # before pg_dump's snapshot: see write_markers
    ctx.postgres_version = psql(project, container, service, "show server_version")
    from psycopg import sql

    size = int(psql(project, container, service, sql.SQL("select pg_database_size({})").format(sql.Literal(database))) or 0)
    # Extensions made while initdb's single-user bootstrap ran get system OIDs, and pg_dump skips those
    # (pgvector here): they are recorded and created before pg_restore instead.
    extensions = psql(project, container, service, "select string_agg(extname, ',') from pg_extension where extname <> 'plpgsql'")
    artifact = ctx.artifact(f"{volume.name}.pgdump")
    ctx.progress.begin(volume.name, size)
    # -Fc with zstd level 1 inside pg_dump: one consistent snapshot while the backend writes, and a file
    # pg_restore reads as it is. Level 1: the measured default-level dump took 3x as long (DESIGN.md).
    stream = project.engine.exec_stream(container, ["pg_dump", "-U", user, "-d", database, "-Fc", "-Z", "zstd:1"],
                                        user="postgres")
    size_out, digest, raw = write_artifact(stream, ctx.folder / artifact, compress=False, encrypt_to=ctx.encrypt_to,
                                           on_bytes=lambda n: ctx.progress.advance(volume.name, n))
    if stream.exit_code != 0:
        raise FoveaError(f"pg_dump of {database} failed (exit {stream.exit_code}): "
                         f"{stream.stderr.decode(errors='replace').strip()[-800:]}")
    return ItemRecord(name=volume.name, kind="volume", strategy=volume.backup_strategy.value, artifact=artifact,
                      size=size_out, sha256=digest, source_bytes=size, write_marker=marker,
                      details=ctx.details(database=database, user=user, service=service.name, format="pg_dump -Fc -Z zstd:1",
                                          extensions=extensions, wal_lsn=wal_lsn))


def _backup_tar(ctx: BackupContext, volume: Volume) -> ItemRecord:
    project = ctx.project
    engine_name = project.settings.volume_name(volume.name)
    if engine_name not in ctx.observed.volumes:
        return ItemRecord(name=volume.name, kind="volume", strategy=volume.backup_strategy.value,
                          skipped="the volume does not exist (nothing to back up)")
    service = mounting_service(project, volume.name)
    image = image_for(project, service, ctx.observed) if service else any_image(project)
    artifact = ctx.artifact(f"{volume.name}.tar.zst")
    tar = ["tar", "--numeric-owner", "--blocking-factor=2048", "--totals", "-C", "/v",
           f"--exclude=./{STAGING_PREFIX}*", f"--exclude=./{OLD_PREFIX}*"]
    path = ctx.folder / artifact
    # The FIFO path compresses with the host's zstd straight into the file; encrypted artifacts go over exec.
    with helper_with_fifo(project, image, {"/v": engine_name}, ctx.folder, read_only=True,
                          wanted=not ctx.encrypt_to) as (helper, sink):
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
            size, digest, raw = write_artifact(stream, path, compress=True, on_bytes=on_bytes, encrypt_to=ctx.encrypt_to)
            if stream.exit_code != 0:
                raise FoveaError(f"tar of volume {engine_name} failed (exit {stream.exit_code}): "
                                 f"{stream.stderr.decode(errors='replace').strip()[-800:]}")
            how = "tar over exec, zstd -1 on the host"
    return ItemRecord(name=volume.name, kind="volume", strategy=volume.backup_strategy.value, artifact=artifact,
                      size=size, sha256=digest, source_bytes=raw, write_marker=marker,
                      details=ctx.details(format="tar (numeric owners) + zstd -1", image=image, transfer=how))


def redis_cli(project: DataProject, container: str, *args: str) -> str:
    """redis-cli in the redis container, authenticated from the mounted secret when the stack gives Redis one."""
    redis = project.stack.units.get("redis")
    secret = REDIS_PASSWORD_SECRET if redis is not None and REDIS_PASSWORD_SECRET in redis.secrets else None
    return exec_text(project, container, redis_cli_command(*args, secret=secret))


def _redis_info(project: DataProject, container: str) -> dict[str, str]:
    text = redis_cli(project, container, "INFO", "persistence")
    return dict(line.split(":", 1) for line in text.replace("\r", "").splitlines() if ":" in line)


def _backup_rdb(ctx: BackupContext, volume: Volume) -> ItemRecord:
    project = ctx.project
    service, container = _serving_container(ctx, volume, "BGSAVE")
    before = int(_redis_info(project, container).get("rdb_saves", "0"))
    reply = redis_cli(project, container, "BGSAVE", "SCHEDULE").strip()
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
    directory = redis_cli(project, container, "--raw", "CONFIG", "GET", "dir").split()[-1]
    filename = redis_cli(project, container, "--raw", "CONFIG", "GET", "dbfilename").split()[-1]
    artifact = ctx.artifact(f"{volume.name}.rdb")
    ctx.progress.begin(volume.name, None)
    stream = project.engine.exec_stream(container, ["cat", f"{directory}/{filename}"])
    size, digest, raw = write_artifact(stream, ctx.folder / artifact, compress=False, encrypt_to=ctx.encrypt_to,
                                       on_bytes=lambda n: ctx.progress.advance(volume.name, n))
    if stream.exit_code != 0:
        raise FoveaError(f"copying the RDB out of {service.name} failed: {stream.stderr.decode(errors='replace')}")
    return ItemRecord(name=volume.name, kind="volume", strategy=volume.backup_strategy.value, artifact=artifact,
                      size=size, sha256=digest, source_bytes=raw,
                      details=ctx.details(service=service.name, format="redis RDB (BGSAVE)"))


SECRET_LINE = re.compile(r"^\s*(export\s+)?([A-Za-z_][A-Za-z0-9_]*(SECRET|PASSWORD|TOKEN|KEY)[A-Za-z0-9_]*)\s*=")


def backup_dotenv(ctx: BackupContext) -> ItemRecord:
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
    artifact = ctx.artifact("dotenv")
    size, digest, _ = write_artifact([data], ctx.folder / artifact, compress=False, on_bytes=lambda n: None,
                                     encrypt_to=ctx.encrypt_to)
    return ItemRecord(name="dotenv", kind="file", strategy="copy", artifact=artifact, size=size, sha256=digest,
                      source_bytes=source.stat().st_size, duration_s=time.monotonic() - started,
                      details=ctx.details(source=str(source), redacted_lines=str(redacted)))


def backup_secrets(ctx: BackupContext) -> ItemRecord:
    settings = ctx.project.settings
    directory = settings.effective_secrets_dir
    if not ctx.encrypt_to:
        why = (f"secrets left out: set {AGE_RECIPIENT_ENV} to an age public key (age1...) to include them encrypted, "
               f"or keep a copy of {directory} (and .env) somewhere safe yourself")
        ctx.warnings.append(why)
        return ItemRecord(name="secrets", kind="file", strategy="age", skipped=why)
    recipient = os.environ.get(AGE_RECIPIENT_ENV, "")
    started = time.monotonic()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for info in ctx.project.secrets.list():
            if info.path.is_file():
                tar.add(info.path, arcname=f"secrets/{info.name}")
        env_file = settings.root / ".env"
        if env_file.is_file():
            tar.add(env_file, arcname="dotenv")
    size, digest, _ = write_artifact([buffer.getvalue()], ctx.folder / "secrets.tar.age", compress=False,
                                     on_bytes=lambda n: None, encrypt_to=ctx.encrypt_to)
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
        ctx.progress.end(volume.name, f"{human(record.size)} in {record.duration_s:.1f} s ({human(rate)}/s)")
    return record


def copy_items(ctx: BackupContext, volumes: list[Volume]) -> dict[str, ItemRecord]:
    records: dict[str, ItemRecord] = {}
    dumps = {v.name: InBackground(f"backup-{v.name}", partial(_copy_item, ctx, v))
             for v in volumes if v.backup_strategy in IN_SERVICE}
    for volume in volumes:
        if volume.backup_strategy not in IN_SERVICE and not any(d.error for d in dumps.values()):
            records[volume.name] = _copy_item(ctx, volume)
    for dump in dumps.values():
        dump.wait()
    for name, dump in dumps.items():
        records[name] = dump.result()
    return records
