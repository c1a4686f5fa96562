"""Crafted backups without an engine: secrets archives with names fovea never writes, volume archives with
devices, links or set-id bits, archives that unpack beyond their recorded size, manifests pointing outside
their folder, private-permission warnings and cluster identity. The faults on a live stack are in
tests/test_backup_safety.py."""

from __future__ import annotations

import io
import json
import os
import re
import tarfile
from pathlib import Path

import pytest

from fovea_ctl.data.backup import MANIFEST, BackupClass, BackupManifest, ItemRecord, sha256_file
from tests.conftest import ROOT
from tests.unit.warm_cli import run_fovea


# -- no engine: a crafted secrets archive ------------------------------------------------------------
def _crafted_backup(folder: Path, members: list[tarfile.TarInfo | tuple[str, bytes]], recipient: object) -> None:
    import pyrage

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                tar.addfile(member)
            else:
                name, data = member
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    folder.mkdir(parents=True)
    (folder / "secrets.tar.age").write_bytes(pyrage.encrypt(buffer.getvalue(), [recipient]))
    item = ItemRecord(name="secrets", kind="file", strategy="age", artifact="secrets.tar.age",
                      size=(folder / "secrets.tar.age").stat().st_size, sha256=sha256_file(folder / "secrets.tar.age"))
    from datetime import UTC, datetime

    manifest = BackupManifest(id=folder.name, project="crafted", backup_class=BackupClass.IMPORTANT,
                              created_at=datetime.now(UTC), stack_hash="x", items=[item])
    (folder / MANIFEST).write_text(manifest.model_dump_json())


def _link(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info


@pytest.mark.parametrize("member", [
    ("secrets/../../escaped", b"owned"),
    ("../escaped", b"owned"),
    ("secrets/not_declared", b"owned"),
    _link("secrets/admin_password", "/etc/passwd"),
], ids=["dotdot-under-secrets", "dotdot", "undeclared", "symlink"])
def test_restore_refuses_a_secrets_archive_with_names_fovea_never_writes(tmp_path: Path, member: object) -> None:
    import pyrage

    identity = pyrage.x25519.Identity.generate()
    (tmp_path / "key").write_text(str(identity) + "\n")
    folder = tmp_path / "backups" / "20250101T000000Z-important"
    # A valid-looking secret first: it must not be written either (the archive is checked whole).
    _crafted_backup(folder, [("secrets/session_secret", b"planted"), member], identity.to_public())  # type: ignore[list-item]
    secrets_dir = tmp_path / "p" / "secrets"
    env = {**os.environ, "FOVEA_ROOT": str(ROOT), "FOVEA_PROJECT": "crafted", "FOVEA_SECRETS_DIR": str(secrets_dir),
           "FOVEA_BACKUP_AGE_IDENTITY": str(tmp_path / "key"), "FOVEA_PORT_BASE": "25000"}

    result = run_fovea(["restore", str(folder), "--only", "secrets"], env, timeout=120)

    assert result.returncode == 8, result.stderr
    assert "refusing the secrets" in result.stderr and "nothing was written" in result.stderr
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "p" / "escaped").exists()
    assert not (secrets_dir / "session_secret").exists() and not (secrets_dir / "not_declared").exists()


def test_permission_warnings_name_a_backup_others_can_read(tmp_path: Path) -> None:
    from fovea_ctl.data.backup import permission_warnings
    from fovea_ctl.data.backup.files import make_private_dir, open_private

    folder = tmp_path / "b"
    make_private_dir(folder)
    with open_private(folder / "a.pgdump") as handle:
        handle.write(b"x")
    assert (folder.stat().st_mode & 0o777, (folder / "a.pgdump").stat().st_mode & 0o777) == (0o700, 0o600)
    assert permission_warnings(folder) == []
    os.chmod(folder / "a.pgdump", 0o644)
    assert "readable or writable by other users: b/a.pgdump (0644)" in permission_warnings(folder)[0]


def test_a_fresh_cluster_never_matches_an_old_backup() -> None:
    """A new cluster reuses the database oid and can even show the same transaction snapshot; its
    system identifier (chosen by initdb) is what tells it apart, and it is compared first."""
    from fovea_ctl.data.backup.write_markers import _what_changed, pg_unchanged
    from fovea_ctl.model import BackupStrategy, Priority, Volume

    then = "pg:7715248387900719126:16384:0/1AE4C80:745:745:"
    fresh = "pg:7715249283850338326:16384:0/1AE4C80:745:745:"
    volume = Volume(name="postgres-data", priority=Priority.CRITICAL, backup=BackupStrategy.PG_DUMP)
    assert not pg_unchanged(None, "", None, then, fresh)  # type: ignore[arg-type]  (decided before any engine call)
    assert "not the one backup b1 was taken from (a new cluster)" in _what_changed(volume, "b1", then, fresh)
    recreated = "pg:7715248387900719126:24576:0/1AE4C80:745:745:"
    assert not pg_unchanged(None, "", None, then, recreated)  # type: ignore[arg-type]
    assert "restored or recreated since" in _what_changed(volume, "b1", then, recreated)


# -- no engine: a crafted volume archive, a manifest pointing out of its folder -----------------------
def _archive(*members: tuple[tarfile.TarInfo, bytes | None]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def _member(name: str, kind: bytes = tarfile.REGTYPE, mode: int = 0o644, link: str = "", uid: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.linkname, info.uid, info.gid = kind, mode, link, uid, uid
    return info


def _guarded(raw: bytes, limit: int | None = None, chunk: int = 700) -> bytes:
    from fovea_ctl.data.backup.tar_guard import guarded_tar

    chunks = [raw[i:i + chunk] for i in range(0, len(raw), chunk)]
    return b"".join(guarded_tar(chunks, "video-data", (10001, 10001), len(raw) if limit is None else limit))


def test_a_restored_archive_has_no_setid_bits_and_belongs_to_the_volumes_service_user() -> None:
    raw = _archive((_member("bin", tarfile.DIRTYPE, 0o2755), None),
                   (_member("bin/" + "x" * 120, mode=0o6755), b"#!/bin/sh\nid\n"),  # setuid-root, a long name
                   (_member("current", tarfile.SYMTYPE, link="bin/" + "x" * 120), None),
                   (_member("hard", tarfile.LNKTYPE, link="bin/" + "x" * 120), None))

    with tarfile.open(fileobj=io.BytesIO(_guarded(raw))) as tar:
        members = {m.name: m for m in tar.getmembers()}

    assert {name: (oct(m.mode), m.uid, m.gid) for name, m in members.items()} == {
        "bin": ("0o755", 10001, 10001), "bin/" + "x" * 120: ("0o755", 10001, 10001),
        "current": ("0o644", 10001, 10001), "hard": ("0o644", 10001, 10001)}


@pytest.mark.parametrize("members, refusal", [
    ([(_member("null", tarfile.CHRTYPE), None)], "is a character device"),
    ([(_member("disk", tarfile.BLKTYPE), None)], "is a block device"),
    ([(_member("pipe", tarfile.FIFOTYPE), None)], "is a FIFO"),
    ([(_member("etc", tarfile.SYMTYPE, link="/etc"), None)], "points at the absolute path '/etc'"),
    ([(_member("up", tarfile.SYMTYPE, link="../../etc/passwd"), None)], "leads out of the volume"),
    ([(_member("here", tarfile.SYMTYPE, link="."), None), (_member("out", tarfile.SYMTYPE, link="here/../x"), None)],
     "'out' -> 'here/../x' leads out of the volume"),
    ([(_member("loop", tarfile.SYMTYPE, link="loop/x"), None)], "leads out of the volume"),
    ([(_member("../x"), b"x")], "climbs out of the volume"),
    ([(_member("/etc/cron.d/x"), b"x")], "is an absolute path"),
    ([(_member("d", tarfile.SYMTYPE, link="sub"), None), (_member("d/x"), b"x")], "lies behind the symlink 'd'"),
    ([(_member("h", tarfile.LNKTYPE, link="/etc/shadow"), None)], "is an absolute path"),
    ([(_member("h", tarfile.LNKTYPE, link="missing"), None)], "no regular file before it"),
], ids=["chardev", "blockdev", "fifo", "absolute-symlink", "dotdot-symlink", "symlink-through-symlink", "symlink-loop",
        "dotdot-name", "absolute-name", "behind-symlink", "absolute-hardlink", "dangling-hardlink"])
def test_a_volume_archive_with_devices_or_links_leaving_the_volume_is_refused(members: list, refusal: str) -> None:
    from fovea_ctl.errors import BackupDamaged

    with pytest.raises(BackupDamaged, match=re.escape(refusal)):
        _guarded(_archive(*members))


def test_an_archive_that_unpacks_beyond_its_recorded_size_stops_there() -> None:
    from fovea_ctl.errors import BackupDamaged

    raw = _archive((_member("big.bin"), bytes(5 << 20)))  # a zstd artifact of this is a few hundred bytes
    with pytest.raises(BackupDamaged, match="unpacks to more than the 1048576 bytes its manifest records"):
        _guarded(raw, limit=1 << 20, chunk=1 << 20)


@pytest.mark.parametrize("artifact", ["../20250101T000000Z-critical/postgres-data.pgdump", "/etc/passwd",
                                      "sub/postgres-data.pgdump"], ids=["dotdot", "absolute", "subfolder"])
def test_a_manifest_pointing_outside_its_own_folder_is_refused(tmp_path: Path, artifact: str) -> None:
    from datetime import UTC, datetime

    real = tmp_path / "backups" / "20250101T000000Z-critical"
    real.mkdir(parents=True)
    (real / "postgres-data.pgdump").write_bytes(b"a real dump")
    folder = tmp_path / "backups" / "20250102T000000Z-critical"
    folder.mkdir()
    manifest = BackupManifest(id=folder.name, project="crafted", backup_class=BackupClass.CRITICAL,
                              created_at=datetime.now(UTC), stack_hash="x").model_dump(mode="json")
    manifest["items"] = [{"name": "postgres-data", "kind": "volume", "strategy": "pg_dump", "artifact": artifact,
                          "size": 11, "sha256": sha256_file(real / "postgres-data.pgdump")}]
    (folder / MANIFEST).write_text(json.dumps(manifest))
    env = {**os.environ, "FOVEA_ROOT": str(ROOT), "FOVEA_PROJECT": "crafted", "FOVEA_PORT_BASE": "25000",
           "FOVEA_SECRETS_DIR": str(tmp_path / "secrets")}

    for command in (["backup", "verify", str(folder)], ["restore", str(folder)]):
        result = run_fovea(command, env, timeout=120)
        assert result.returncode == 8, (command, result.stderr)
        assert "its manifest is not one `fovea backup` writes" in result.stderr and "Traceback" not in result.stderr


def test_an_artifact_that_is_a_link_to_another_backups_file_does_not_verify(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from fovea_ctl.data.backup import check_checksums

    real = tmp_path / "real.pgdump"
    real.write_bytes(b"a real dump")
    folder = tmp_path / "b"
    folder.mkdir()
    (folder / "postgres-data.pgdump").symlink_to(real)
    manifest = BackupManifest(id="b", project="p", backup_class=BackupClass.CRITICAL, created_at=datetime.now(UTC),
                              stack_hash="x", items=[ItemRecord(name="postgres-data", kind="volume", strategy="pg_dump",
                                                                artifact="postgres-data.pgdump", size=11,
                                                                sha256=sha256_file(real))])
    assert check_checksums(folder, manifest) == [
        "postgres-data: artifact postgres-data.pgdump is not a regular file of the backup folder (a link or a folder): "
        "refusing to read it"]
