"""Verification: every sha256, then a trial restore of each item in throwaway containers."""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fovea_ctl.data.backup.catalog import load_info
from fovea_ctl.data.backup.containers import (database_service, extensions_to_create, helper_container, image_for,
                                         postgres_access)
from fovea_ctl.data.backup.encryption import identity_from
from fovea_ctl.data.backup.files import CHUNK, ChunkReader, counting, permission_warnings, read_file_chunks, sha256_file, write_json_atomic
from fovea_ctl.data.backup.encryption import AGE_IDENTITY_ENV
from fovea_ctl.data.backup.manifest import MANIFEST, VERIFIED, BackupManifest, ItemRecord, VerifyRecord
from fovea_ctl.core.transfer_progress import TransferProgress, human
from fovea_ctl.errors import BackupDamaged, FoveaError
from fovea_ctl.model import BackupStrategy

if TYPE_CHECKING:
    from fovea_ctl.data.project_protocol import DataProject

# -- verification ----------------------------------------------------------------------------------
def check_checksums(folder: Path, manifest: BackupManifest, only: list[str] | None = None) -> list[str]:
    """Problems with the artifacts' sizes and sha256 (empty when every one matches)."""
    problems = []
    for item in manifest.copied:
        if only and item.name not in only:
            continue
        path = item.path_in(folder)
        if path.is_symlink() or (path.exists() and not path.is_file()):
            problems.append(f"{item.name}: artifact {path.name} is not a regular file of the backup folder "
                            "(a link or a folder): refusing to read it")
            continue
        if not path.is_file():
            problems.append(f"{item.name}: artifact {path.name} is missing")
            continue
        if path.stat().st_size != item.size:
            problems.append(f"{item.name}: {path.name} is {path.stat().st_size} bytes, the manifest says {item.size}")
            continue
        digest = sha256_file(path)
        if digest != item.sha256:
            problems.append(f"{item.name}: sha256 of {path.name} is {digest[:16]}…, the manifest says {str(item.sha256)[:16]}…")
    return problems


TRIAL_PG = """set -e
initdb -D /tmp/trial -U "$1" --auth=trust >/dev/null </dev/null
pg_ctl -D /tmp/trial -w -l /tmp/trial.log -o "-c listen_addresses= -c fsync=off" start >/dev/null </dev/null
createdb -U "$1" "$2" </dev/null
for ext in $(echo "$3" | tr ',' ' '); do psql -X -q -v ON_ERROR_STOP=1 -U "$1" -d "$2" -v ext="$ext" <<'SQL'
create extension if not exists :"ext";
SQL
done
pg_restore -U "$1" -d "$2" --exit-on-error --no-owner --no-privileges
psql -X -U "$1" -d "$2" -Atc "select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace \
where c.relkind = 'r' and n.nspname = 'public'" </dev/null
"""


def _trial_pg(project: DataProject, folder: Path, item: ItemRecord, progress: TransferProgress, identity: Any) -> str:
    """pg_restore into a throwaway server of the stack's image. Names come from the stack, and only the
    extensions it declares are made: a manifest never chooses what runs (see containers.extensions_to_create)."""
    service = database_service(project, item)
    extensions = extensions_to_create(service, item)
    user, database = postgres_access(service)
    image = image_for(project, service)
    path = item.path_in(folder)
    progress.begin(f"{item.name} (trial)", path.stat().st_size)
    with helper_container(project, image, {}) as helper:
        stream = project.engine.exec_stream(
            helper, ["sh", "-c", TRIAL_PG, "trial", user, database, ",".join(extensions)],
            user="postgres", stdin=counting(read_file_chunks(path, identity=identity),
                                            lambda n: progress.advance(f"{item.name} (trial)", n)))
        out = b"".join(stream).decode(errors="replace").strip()
        if stream.exit_code != 0:
            raise BackupDamaged(f"{item.name}: trial pg_restore failed (exit {stream.exit_code}): "
                                f"{stream.stderr.decode(errors='replace').strip()[-600:]}")
    return f"pg_restore into a throwaway postgres ok ({out.splitlines()[-1] if out else '?'} tables)"



def _trial_tar(project: DataProject, folder: Path, item: ItemRecord, progress: TransferProgress, identity: Any) -> str:
    import zstandard

    path = item.path_in(folder)
    members = 0
    data = 0
    label = f"{item.name} (read)"
    progress.begin(label, item.source_bytes)
    try:
        reader = io.BufferedReader(ChunkReader(read_file_chunks(path, decompress=True, identity=identity)), CHUNK)
        with tarfile.open(fileobj=reader, mode="r|") as tar:
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
    return f"full read ok ({members} entries, {human(data)} of file data)"


def _trial_rdb(project: DataProject, folder: Path, item: ItemRecord, progress: TransferProgress, identity: Any) -> str:
    service = project.stack.units.get(item.details.get("service", "redis"))
    if service is None:
        raise FoveaError(f"{item.name}: the stack has no service {item.details.get('service')!r} to take its image from")
    path = item.path_in(folder)
    with helper_container(project, image_for(project, service), {}) as helper:
        stream = project.engine.exec_stream(helper, ["sh", "-c", "cat > /tmp/dump.rdb && redis-check-rdb /tmp/dump.rdb"],
                                            stdin=read_file_chunks(path, identity=identity))
        out = b"".join(stream).decode(errors="replace")
        if stream.exit_code != 0:
            raise BackupDamaged(f"{item.name}: redis-check-rdb refuses the RDB: {(out + stream.stderr.decode(errors='replace'))[-600:]}")
    return "redis-check-rdb ok"


def _trial_secrets(project: DataProject, folder: Path, item: ItemRecord, progress: TransferProgress, identity: Any) -> str:
    names = _open_secrets(item.path_in(folder), identity, "the identity").getnames()
    return f"decrypted ok ({len(names)} files)"


def decrypt_secrets(path: Path, identity_file: Path) -> tarfile.TarFile:
    return _open_secrets(path, identity_from(identity_file), str(identity_file))


def _open_secrets(path: Path, identity: Any, named: str) -> tarfile.TarFile:
    import pyrage

    try:
        plain = pyrage.decrypt(path.read_bytes(), [identity])
    except Exception as exc:
        raise BackupDamaged(f"secrets: {path.name} does not decrypt with {named}: {exc}") from None
    return tarfile.open(fileobj=io.BytesIO(plain), mode="r")


TRIALS: dict[str, Callable[[DataProject, Path, ItemRecord, TransferProgress, Any], str]] = {
    BackupStrategy.PG_DUMP.value: _trial_pg,
    BackupStrategy.TAR.value: _trial_tar,
    BackupStrategy.REDIS_RDB.value: _trial_rdb,
    "age": _trial_secrets,
}


def verify_backup(project: DataProject, folder: Path, progress: TransferProgress) -> VerifyRecord:
    """Checksums, then a trial restore of each item; the outcome is recorded in `verified.json`.

    Raises BackupDamaged (after recording) when anything fails.
    """
    manifest = load_info(folder).manifest
    record = VerifyRecord(ok=False, verified_at=datetime.now(UTC), manifest_sha256=sha256_file(folder / MANIFEST))
    problems = check_checksums(folder, manifest)
    for warning in permission_warnings(folder):
        record.checks["permissions"] = f"warning: {warning}"
        progress.note(f"warning: {warning}")
    try:
        if problems:
            raise BackupDamaged(f"backup {manifest.id} is damaged:\n  " + "\n  ".join(problems),
                                hint="take a new backup; do not restore from this one")
        identity_file = os.environ.get(AGE_IDENTITY_ENV)
        identity = identity_from(Path(identity_file)) if identity_file else None
        for item in manifest.copied:
            trial = TRIALS.get(item.strategy)
            if item.encrypted and identity is None:  # the checksums are over the stored bytes: no key needed
                record.checks[item.name] = f"checksum ok; not decrypted ({AGE_IDENTITY_ENV} unset)"
            elif trial is not None:
                record.checks[item.name] = trial(project, folder, item, progress, identity if item.encrypted else None)
            else:
                record.checks[item.name] = "checksum ok"
            progress.end(item.name, record.checks[item.name])
        record.ok = True
    except BackupDamaged as exc:
        record.checks["error"] = exc.message
        raise
    finally:
        write_json_atomic(folder / VERIFIED, record.model_dump_json(indent=2))
    return record
