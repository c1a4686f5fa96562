"""Backups by priority class: each volume's strategy comes from the stack, never guessed.

A backup is a folder `<UTC timestamp>-<class>/` holding one artifact per item and `manifest.json`
(`BackupManifest`). It is written under a hidden `.partial-*` name, fsynced and renamed into place, so a
crash or Ctrl-C never leaves a half backup that `list` shows. `verify` checks every sha256 and then
restores each item on trial (pg_restore into a throwaway postgres of the same image, a full read of
each tar, redis-check-rdb) and records the outcome in `verified.json` beside the manifest.

Volume files go, with a local engine, through a FIFO in a bind-mounted host folder (`fifo_transport`:
host `zstd -1 -T0`, hashed while the artifact grows); otherwise, and for dumps, over `docker exec` (never
through a container's log driver), compressed and hashed on the host as they arrive.

The modules: `manifest` (records and layout names), `catalog` (where backups live), `progress` (display),
`containers` (helper containers, psql), `files` (hashed artifacts), `fifo_transport`, `write_markers`
(has a volume changed since?), `strategies` (per volume), `create`, `verify`, `prune`. This module is the
public face: `restore`, the CLI and `down` import from here only.
"""

from fovea_ctl.core.background import InBackground
from fovea_ctl.data.backup.catalog import backup_root, list_backups, load_info, resolve_backup
from fovea_ctl.data.backup.containers import (any_image, app_role, database_service, exec_text, extensions_to_create,
                                         helper_container, image_for, mounting_service, postgres_access, psql,
                                         running_container)
from fovea_ctl.data.backup.create import create_backup, stack_hash
from fovea_ctl.data.backup.fifo_transport import chunks_to_fifo, helper_with_fifo
from fovea_ctl.data.backup.files import counting, permission_warnings, read_file_chunks, sha256_file
from fovea_ctl.data.backup.encryption import AGE_IDENTITY_ENV, AGE_RECIPIENT_ENV
from fovea_ctl.data.backup.manifest import (MANIFEST, OLD_PREFIX, PARTIAL_PREFIX,
                                       SCHEMA_VERSION, STAGING_PREFIX, VERIFIED, BackupClass, BackupInfo,
                                       BackupManifest, BackupResult, ItemRecord, VerifyRecord)
from fovea_ctl.core.transfer_progress import QuietProgress, TransferProgress, human, make_progress
from fovea_ctl.data.backup.prune import prune_backups
from fovea_ctl.data.backup.verify import check_checksums, decrypt_secrets, verify_backup
from fovea_ctl.data.backup.write_markers import fresh_backups

__all__ = [
    "AGE_IDENTITY_ENV", "AGE_RECIPIENT_ENV", "MANIFEST", "OLD_PREFIX", "PARTIAL_PREFIX", "SCHEMA_VERSION",
    "STAGING_PREFIX", "VERIFIED", "BackupClass", "BackupInfo", "BackupManifest", "BackupResult", "InBackground",
    "ItemRecord", "QuietProgress", "TransferProgress", "VerifyRecord", "any_image", "app_role", "backup_root",
    "database_service", "extensions_to_create", "check_checksums", "chunks_to_fifo", "counting", "create_backup",
    "decrypt_secrets",
    "exec_text", "fresh_backups", "helper_container", "helper_with_fifo", "human", "image_for", "list_backups",
    "load_info", "make_progress",
    "mounting_service", "permission_warnings", "postgres_access", "prune_backups", "psql", "read_file_chunks", "resolve_backup",
    "running_container", "sha256_file", "stack_hash", "verify_backup",
]
