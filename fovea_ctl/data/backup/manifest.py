"""What a backup folder holds: the manifest's records, the verify record, and the names in the layout."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import Path

from typing import Annotated

from pydantic import BaseModel, Field

from fovea_ctl import __version__
from fovea_ctl.data.backup.files import sha256_file
from fovea_ctl.errors import UsageError
from fovea_ctl.model import Priority

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
VERIFIED = "verified.json"
PARTIAL_PREFIX = ".partial-"
STAGING_PREFIX = ".fovea-restore-"  # restore stages files here, inside the target volume
OLD_PREFIX = ".fovea-old-"



class BackupClass(StrEnum):
    CRITICAL = "critical"
    IMPORTANT = "important"
    ALL = "all"

    def includes(self, priority: Priority) -> bool:
        if priority is Priority.CRITICAL:
            return True
        return priority is Priority.IMPORTANT and self is not BackupClass.CRITICAL


# An artifact is a plain file name inside its backup folder: never a path (absolute, `../`, a subfolder),
# so a manifest can only point at files of its own folder.
ARTIFACT_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


class ItemRecord(BaseModel):
    name: str  # a stack volume name, or `dotenv` / `secrets`
    kind: str  # volume | file
    strategy: str
    artifact: Annotated[str, Field(pattern=ARTIFACT_NAME)] | None = None
    size: int = 0
    sha256: str | None = None
    duration_s: float = 0.0
    source_bytes: int | None = None
    skipped: str | None = None  # why it is not in this backup
    # What the data looked like when it was copied (WAL position, file listing digest): `down --volumes`
    # compares it with now to know whether the backup still holds every byte.
    write_marker: str | None = None
    details: dict[str, str] = {}

    def path_in(self, folder: Path) -> Path:
        """The artifact's file in backup `folder` (its name is a plain file name: see ARTIFACT_NAME)."""
        if not self.artifact:
            raise UsageError(f"item {self.name} has no artifact: {self.skipped}")
        return folder / self.artifact

    @property
    def encrypted(self) -> bool:
        """Stored age-encrypted: its checksum is over the encrypted bytes; reading it needs the identity."""
        return self.details.get("encrypted") == "age" or self.strategy == "age"


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
        return bool(self.verified and self.verified.ok and self.verified.manifest_sha256 == sha256_file(self.path / MANIFEST))


class BackupResult(BaseModel):
    path: Path
    manifest: BackupManifest
    verified: VerifyRecord | None = None
