"""Data safety under faults: crafted archives, private backups, an exact `down --volumes` guard, a journalled
restore that SIGTERM (or SIGKILL) in any phase leaves exactly old or exactly restored, init jobs rerun,
secrets rotated on a running stack, a full destination, and a backup racing `up`.

One project (postgres, redis, backend) serves the module; the tests run in file order and each leaves the
stack up (but not necessarily with the same data).
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fovea_ctl.backup import MANIFEST, BackupClass, BackupManifest, ItemRecord, sha256_file
from fovea_ctl.project import project_lock
from tests.conftest import FOVEA, ROOT, run_fovea
from tests.test_backup import Live, live_stack


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
    from fovea_ctl.backup import permission_warnings
    from fovea_ctl.backup.files import make_private_dir, open_private

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
    from fovea_ctl.backup.write_markers import _what_changed, pg_unchanged
    from fovea_ctl.model import BackupStrategy, Priority, Volume

    then = "pg:7715248387900719126:16384:0/1AE4C80:745:745:"
    fresh = "pg:7715249283850338326:16384:0/1AE4C80:745:745:"
    volume = Volume(name="postgres-data", priority=Priority.CRITICAL, backup=BackupStrategy.PG_DUMP)
    assert not pg_unchanged(None, "", None, then, fresh)  # type: ignore[arg-type]  (decided before any engine call)
    assert "not the one backup b1 was taken from (a new cluster)" in _what_changed(volume, "b1", then, fresh)
    recreated = "pg:7715248387900719126:24576:0/1AE4C80:745:745:"
    assert not pg_unchanged(None, "", None, then, recreated)  # type: ignore[arg-type]
    assert "restored or recreated since" in _what_changed(volume, "b1", then, recreated)


# -- the real stack -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    yield from live_stack(tmp_path_factory, "safety")


def _personas(live: Live) -> list[str]:
    with live.client() as client:
        return sorted(p["name"] for p in client.get("/api/personas").json())


def _add_persona(live: Live, name: str) -> None:
    with live.client() as client:
        response = client.post("/api/personas", json={"name": name, "informationNeed": "x"})
        assert response.status_code in (200, 201), response.text


def _up(live: Live) -> None:
    up = live.fovea("up", "backend")
    assert up.returncode == 0, up.stderr


def _psql(live: Live, sql: str) -> str:
    container = live.project.observe().container("postgres")
    assert container is not None
    code, out = live.project.engine.exec(container.id, ["psql", "-X", "-At", "-U", "fovea", "-d", "fovea", "-c", sql],
                                         user="postgres")
    assert code == 0, out
    return out.decode().strip()


def test_backups_are_private_also_under_to_and_verify_warns_when_they_are_not(live: Live, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / ".partial-other-x-999999999").mkdir()  # not this project's: never touched
    dead = tmp_path / "elsewhere" / f".partial-{live.project.settings.project}-20250101T000000Z-critical-999999999"
    dead.mkdir()  # left by a killed backup of this project: the next backup removes it
    summary = live.backup("critical", "--to", str(tmp_path / "elsewhere"))
    folder = Path(str(summary["path"]))
    assert folder.stat().st_mode & 0o777 == 0o700
    assert {p.name: p.stat().st_mode & 0o777 for p in folder.iterdir()} == {
        "manifest.json": 0o600, "postgres-data.pgdump": 0o600, "video-data.tar.zst": 0o600}
    assert not dead.exists() and (tmp_path / "elsewhere" / ".partial-other-x-999999999").exists()

    os.chmod(folder / "postgres-data.pgdump", 0o644)
    verify = live.fovea("backup", "verify", str(folder))
    assert verify.returncode == 0, verify.stderr
    assert "readable or writable by other users" in verify.stderr and "postgres-data.pgdump (0644)" in verify.stderr


def test_down_volumes_keeps_a_database_written_after_the_verified_backup_and_says_why(live: Live) -> None:
    summary = live.backup("critical", "--verify")
    _add_persona(live, "written after the backup")

    down = live.fovea("down", "--volumes")

    assert down.returncode == 0, down.stderr
    postgres_volume = live.project.settings.volume_name("postgres-data")
    assert f"kept volume {postgres_volume}" in down.stderr
    assert f"transactions completed since the newest verified backup {summary['manifest']['id']}" in down.stderr  # type: ignore[index]
    _up(live)
    assert "written after the backup" in _personas(live)


def test_a_verified_backup_whose_artifact_was_corrupted_later_does_not_count(live: Live) -> None:
    summary = live.backup("critical", "--verify")
    folder = Path(str(summary["path"]))
    dump = folder / "postgres-data.pgdump"
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0x01
    dump.write_bytes(bytes(data))

    down = live.fovea("down", "--volumes")

    assert down.returncode == 0, down.stderr
    assert f"backup {folder.name} holds it, but postgres-data: sha256" in down.stderr
    assert live.project.settings.volume_name("postgres-data") in {
        v.name for v in live.project.engine.list_volumes(live.project.settings.project)}
    _up(live)


def test_a_full_destination_fails_clearly_leaves_no_partial_and_live_data_untouched(live: Live, tmp_path: Path) -> None:
    target = tmp_path / "small"
    target.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", str(target)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.fail(f"cannot mount a small tmpfs (needs root): {mounted.stderr}")
    try:
        code, out = live.project.engine.exec(live.backend(), ["sh", "-c", "head -c 40000000 /dev/urandom > /data/videos/big.bin"],
                                             user="0")
        assert code == 0, out
        personas, videos = _personas(live), live.video_digests()

        result = live.fovea("backup", "critical", "--to", str(target))

        assert result.returncode == 1, result.stderr
        assert f"backup destination {target} is full" in result.stderr and "Traceback" not in result.stderr
        assert list(target.iterdir()) == []
        listed = live.fovea("backup", "list", "--dir", str(target), "--json")
        assert json.loads(listed.stdout) == []
        assert _personas(live) == personas and live.video_digests() == videos
    finally:
        live.project.engine.exec(live.backend(), ["rm", "-f", "/data/videos/big.bin"], user="0")
        subprocess.run(["umount", str(target)], check=False)


def test_backup_while_up_recreates_postgres_is_serialized_by_the_project_lock(live: Live) -> None:
    # The lock held (as `up` holds it while it recreates postgres): the backup waits, reads nothing.
    with project_lock(live.project.settings):
        waiting = subprocess.Popen([*FOVEA, "backup", "critical", "--json"], env=live.env, cwd=ROOT,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(8)
        assert waiting.poll() is None
        assert not list(live.backups.glob(f".partial-{live.project.settings.project}-*"))
    out, err = waiting.communicate(timeout=300)
    assert waiting.returncode == 0, err
    assert "waiting: another fovea command holds this project" in err

    # The real race: postgres removed, `up` recreates it while a backup starts.
    postgres = live.project.observe().container("postgres")
    assert postgres is not None
    live.project.engine.remove_container(postgres.id)
    up = subprocess.Popen([*FOVEA, "up", "backend"], env=live.env, cwd=ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    time.sleep(1)
    backup = live.fovea("backup", "critical", "--verify", "--json")
    up_out, up_err = up.communicate(timeout=300)
    assert up.returncode == 0, up_err
    if backup.returncode == 0:  # it ran before or after `up`: whole, and it restores on trial
        assert json.loads(backup.stdout)["verified"]["ok"]
    else:  # it ran before postgres was back: refused cleanly, nothing listed half-made
        assert "is not running" in backup.stderr and "Traceback" not in backup.stderr
    assert not list(live.backups.glob(".partial-*"))


def test_with_a_recipient_every_artifact_is_encrypted_verify_needs_no_key_and_restore_does(live: Live,
                                                                                          tmp_path: Path) -> None:
    import pyrage

    identity = pyrage.x25519.Identity.generate()
    (tmp_path / "key").write_text(str(identity) + "\n")
    summary = live.backup("important", FOVEA_BACKUP_AGE_RECIPIENT=str(identity.to_public()))
    folder = Path(str(summary["path"]))
    stored = [p for p in folder.iterdir() if p.name != MANIFEST]
    assert stored and all(p.name.endswith(".age") and p.read_bytes().startswith(b"age-encryption.org/v1\n") for p in stored)
    _add_persona(live, "after the encrypted backup")

    verify = live.fovea("backup", "verify", folder.name, "--json")
    refused = live.fovea("restore", folder.name, "--only", "postgres-data")
    restored = live.fovea("restore", folder.name, "--only", "postgres-data", FOVEA_BACKUP_AGE_IDENTITY=str(tmp_path / "key"))

    assert verify.returncode == 0, verify.stderr
    assert "not decrypted" in json.loads(verify.stdout)["checks"]["postgres-data"]
    assert refused.returncode == 2 and "is age-encrypted: set FOVEA_BACKUP_AGE_IDENTITY" in refused.stderr
    assert restored.returncode == 0, restored.stderr
    assert "after the encrypted backup" not in _personas(live)


# -- restore under signals -------------------------------------------------------------------------
def _state(live: Live) -> tuple[list[str], dict[str, str]]:
    return _personas(live), live.video_digests()


@pytest.fixture(scope="module")
def restore_point(live: Live) -> dict[str, object]:
    """A verified backup, then live data that differs from it (a persona and a video more)."""
    summary = live.backup("critical", "--verify")
    restored = _state(live)
    _add_persona(live, "newer than the backup")
    live.put_videos({"newer.mp4": os.urandom(5000)})
    return {"id": summary["manifest"]["id"], "restored": restored}  # type: ignore[index]


def _restore_paused(live: Live, backup_id: str, phase: str) -> subprocess.Popen[str]:
    process = subprocess.Popen([*FOVEA, "restore", backup_id], env={**live.env, "FOVEA_TEST_PAUSE_AT": phase}, cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    seen = []
    deadline = time.monotonic() + 300
    for line in process.stderr:
        seen.append(line)
        if f"paused at {phase}" in line:
            return process
        assert time.monotonic() < deadline, "".join(seen)
    raise AssertionError(f"restore never reached {phase}: {''.join(seen)}")


@pytest.mark.parametrize("phase", ["staging", "between-renames", "file-swap"])
def test_sigterm_before_the_swap_is_done_leaves_exactly_the_old_data(live: Live, restore_point: dict[str, object],
                                                                     phase: str) -> None:
    old = _state(live)
    process = _restore_paused(live, str(restore_point["id"]), phase)
    process.send_signal(signal.SIGTERM)
    _, rest = process.communicate(timeout=300)

    assert process.returncode == 130, rest
    assert not (live.project.settings.state_dir / "restore-journal.json").exists()
    assert _psql(live, "select count(*) from pg_database where datname like 'fovea_%'") == "0"
    _up(live)  # the interrupted restore starts what it stopped, but does not wait for it to be ready
    assert _state(live) == old


def test_sigkill_between_renames_is_rolled_back_by_the_next_command(live: Live, restore_point: dict[str, object]) -> None:
    old = _state(live)
    process = _restore_paused(live, str(restore_point["id"]), "between-renames")
    process.kill()  # no handler runs: only the journal knows
    process.wait(timeout=60)
    assert (live.project.settings.state_dir / "restore-journal.json").exists()

    up = live.fovea("up", "backend")

    assert up.returncode == 0, up.stderr
    assert "was rolled back" in up.stdout + up.stderr
    assert _state(live) == old
    assert not (live.project.settings.state_dir / "restore-journal.json").exists()


def test_sigterm_in_restart_leaves_exactly_the_restored_data_and_rollback_puts_the_old_back(
        live: Live, restore_point: dict[str, object]) -> None:
    old = _state(live)
    process = _restore_paused(live, str(restore_point["id"]), "restart")
    process.send_signal(signal.SIGTERM)
    _, rest = process.communicate(timeout=300)
    assert process.returncode == 130, rest
    assert "previous data is kept at" in rest

    _up(live)  # a plain `up` would finish it; `up backend` restarts without dropping the previous copy
    assert _state(live) == restore_point["restored"]

    rollback = live.fovea("restore", "--rollback")
    assert rollback.returncode == 0, rollback.stderr
    assert _state(live) == old
    assert not (live.project.settings.state_dir / "restore-journal.json").exists()


def test_restore_of_an_older_schema_reruns_the_migrations(live: Live) -> None:
    # An older schema: migration 0002 undone, then backed up; the live database is migrated again.
    _psql(live, "drop trigger annotations_rev_insert on annotations; drop trigger annotations_rev_update on annotations; "
                "drop trigger annotations_rev_delete on annotations; drop function bump_annotation_rev(); "
                "alter table videos drop column annotation_rev; delete from schema_migrations where version = 2")
    summary = live.backup("critical", "--verify")
    migrate = live.fovea("migrate")
    assert migrate.returncode == 0, migrate.stderr

    restored = live.fovea("restore", str(summary["manifest"]["id"]), "--json")  # type: ignore[index]

    assert restored.returncode == 0, restored.stderr
    assert "backend-migrate" in json.loads(restored.stdout)["rerun_jobs"]
    latest = max(int(path.name.split("_", 1)[0]) for path in (ROOT / "services/backend/migrations").glob("*.sql"))
    assert _psql(live, "select max(version) from schema_migrations") == str(latest)  # every migration applied again
    with httpx.Client(base_url=live.url, timeout=30) as client:
        assert client.get("/health").status_code == 200


# -- secrets ----------------------------------------------------------------------------------------
def test_rotating_each_secret_on_a_running_stack_keeps_everything_authenticating(live: Live) -> None:
    secrets = live.project.secrets
    with httpx.Client(base_url=live.url, timeout=30) as old_session:
        response = old_session.post("/api/auth/login", json={"username": "admin", "password": secrets.value("admin_password")})
        assert response.status_code == 200
        for name in ("postgres_password", "admin_password", "session_secret"):
            before = secrets.value(name)
            rotated = live.fovea("secrets", "rotate", name)
            assert rotated.returncode == 0, rotated.stderr
            assert secrets.value(name) != before
            assert before not in rotated.stdout + rotated.stderr
            # rotate exits 0 only once postgres's probe logged in with the new value and the backend is ready
            assert len(_personas(live)) > 0  # logs in with the live admin password, reads through the database
            if name == "admin_password":
                with httpx.Client(base_url=live.url, timeout=30) as client:
                    refused = client.post("/api/auth/login", json={"username": "admin", "password": before})
                    assert refused.status_code == 401
                assert old_session.get("/api/personas").status_code == 200  # sessions outlive a password change
        assert "every session is invalidated" in rotated.stderr
        assert old_session.get("/api/personas").status_code == 401


def test_a_hand_edited_database_password_is_refused_by_plan_until_applied(live: Live) -> None:
    path = live.project.secrets.path("postgres_password")
    path.write_text("edited-by-hand-0123456789")

    plan = live.fovea("plan")

    assert plan.returncode == 2, plan.stdout + plan.stderr
    assert "secret postgres_password changed since" in plan.stderr and "--edited" in plan.stderr
    applied = live.fovea("secrets", "rotate", "postgres_password", "--edited")
    assert applied.returncode == 0, applied.stderr
    assert len(_personas(live)) > 0
