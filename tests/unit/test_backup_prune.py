"""Backup retention without an engine: prune keeps the newest backup per class and the newest verified one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from fovea_ctl.data.backup import (
    MANIFEST,
    VERIFIED,
    BackupClass,
    BackupManifest,
    ItemRecord,
    VerifyRecord,
    list_backups,
    prune_backups,
    sha256_file,
)


# -- no engine: layout, listing and retention -----------------------------------------------------
def _fake_backup(root: Path, backup_id: str, created: datetime, backup_class: str, verified: bool | None) -> None:
    folder = root / backup_id
    folder.mkdir(parents=True)
    manifest = BackupManifest(id=backup_id, project="p", backup_class=BackupClass(backup_class), created_at=created,
                              stack_hash="x", items=[ItemRecord(name="video-data", kind="volume", strategy="tar")])
    (folder / MANIFEST).write_text(manifest.model_dump_json())
    if verified is not None:
        record = VerifyRecord(ok=verified, verified_at=created, manifest_sha256=sha256_file(folder / MANIFEST))
        (folder / VERIFIED).write_text(record.model_dump_json())


def test_prune_keeps_the_newest_per_class_and_the_newest_verified_one(tmp_path: Path) -> None:
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    _fake_backup(tmp_path, "a-critical", t0, "critical", True)
    _fake_backup(tmp_path, "b-critical", t0 + timedelta(hours=1), "critical", False)
    _fake_backup(tmp_path, "c-critical", t0 + timedelta(hours=2), "critical", None)
    _fake_backup(tmp_path, "d-important", t0 + timedelta(hours=3), "important", None)
    (tmp_path / ".partial-e-critical-1").mkdir()  # an interrupted backup: never listed
    assert [b.id for b in list_backups(tmp_path, "p")] == ["a-critical", "b-critical", "c-critical", "d-important"]
    assert list_backups(tmp_path, "other") == []

    removed = prune_backups(tmp_path, "p", keep=1)

    assert removed == ["b-critical"]  # a-critical is the newest verified critical backup
    assert [b.id for b in list_backups(tmp_path, "p")] == ["a-critical", "c-critical", "d-important"]
