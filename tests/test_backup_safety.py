"""Data safety under faults: crafted archives, private backups, an exact `down --volumes` guard, a journalled
restore that SIGTERM (or SIGKILL) in any phase leaves exactly old or exactly restored, init jobs rerun,
secrets rotated on a running stack, a full destination, and a backup racing `up`.

One project (postgres, redis, backend) serves the module; the tests run in file order and each leaves the
stack up (but not necessarily with the same data).
"""

from __future__ import annotations

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

from fovea_ctl.data.backup import MANIFEST, BackupClass, BackupManifest, ItemRecord, sha256_file
from fovea_ctl.core.lock import project_lock
from tests.conftest import FOVEA, ROOT, host_clip
from tests.test_backup import Live, live_stack
from tests.unit.test_backup_archives import _archive, _member


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
    with live.project.writing():
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
    # An older schema: the newest migration (0051, the world's revision) undone, then backed up; the live database
    # is migrated again. The newest one because nothing later depends on it (0002's function is used by 0050).
    _psql(live, "drop trigger world_state_revision on world_state; drop function bump_world_revision(); "
                "alter table world_state drop column revision; delete from schema_migrations where version = 51")
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
def test_rotating_each_secret_keeps_everything_authenticating_and_a_password_rotation_ends_that_users_sessions(
        live: Live) -> None:
    secrets = live.project.secrets
    for name in ("postgres_password", "admin_password", "session_secret"):
        with httpx.Client(base_url=live.url, timeout=30) as signed_in:  # a session from before this rotation
            response = signed_in.post("/api/auth/login", json={"username": "admin", "password": secrets.value("admin_password")})
            assert response.status_code == 200
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
                # whoever was signed in with the old password is out (before: the session outlived the change)
                assert signed_in.get("/api/personas").status_code == 401
                assert "session ended" in rotated.stderr or "sessions ended" in rotated.stderr
            elif name == "postgres_password":
                assert signed_in.get("/api/personas").status_code == 200  # the database's own password: no one's session
            else:
                assert "every session is invalidated" in rotated.stderr
                assert signed_in.get("/api/personas").status_code == 401


def test_a_hand_edited_database_password_is_refused_by_plan_until_applied(live: Live) -> None:
    path = live.project.secrets.path("postgres_password")
    path.write_text("edited-by-hand-0123456789")

    plan = live.fovea("plan")

    assert plan.returncode == 2, plan.stdout + plan.stderr
    assert "secret postgres_password changed since" in plan.stderr and "--edited" in plan.stderr
    applied = live.fovea("secrets", "rotate", "postgres_password", "--edited")
    assert applied.returncode == 0, applied.stderr
    assert len(_personas(live)) > 0


# -- the hooks the stack declares (`Secret(applied_by=…)`) -------------------------------------------------
def _helpers(live: Live) -> list[str]:
    return [c.name for c in live.project.engine.list_helpers(live.project.settings.project)]


def test_the_admin_password_rotated_through_the_backends_hook_logs_in_over_http_also_with_the_backend_stopped(
        live: Live) -> None:
    """The backend's own `fovea_backend.apply_secret` sets it: in its running container, and in a one-off
    container of it (its image, env, secrets, network) when it is stopped; the one-off one is gone after."""
    secrets = live.project.secrets
    for backend_stopped in (False, True):
        before = secrets.value("admin_password")
        if backend_stopped:
            subprocess.run(["docker", "stop", live.backend()], check=True, capture_output=True, timeout=60)

        rotated = live.fovea("secrets", "rotate", "admin_password")

        assert rotated.returncode == 0, rotated.stderr
        assert "now in the backend's admin user (its " in rotated.stderr, rotated.stderr
        new = secrets.value("admin_password")
        assert new != before and before not in rotated.stdout + rotated.stderr
        assert _login(live, new) == 200 and _login(live, before) == 401  # real HTTP, through the restarted backend
        assert not _helpers(live)


def test_a_hook_that_fails_changes_nothing_keeps_the_old_password_in_force_and_exits_1(live: Live) -> None:
    """The backend's hook finds no users table; psql's refuses a value that is two lines. Either way the
    secret file keeps the old value, the data too, and the message says whose command refused."""
    old = live.project.secrets.value("admin_password")
    subprocess.run(["docker", "stop", live.backend()], check=True, capture_output=True, timeout=60)
    _psql(live, "alter table users rename to users_elsewhere")
    try:  # the backend stopped: its hook fails in a one-off container of it, which goes too
        rotated = live.fovea("secrets", "rotate", "admin_password")
    finally:
        _psql(live, "alter table users_elsewhere rename to users")

    assert rotated.returncode == 1, rotated.stderr
    assert "secret admin_password not rotated: backend's `fovea-backend-entrypoint python3 -m fovea_backend.apply_secret" \
           in rotated.stderr and "relation \"users\" does not exist" in rotated.stderr, rotated.stderr
    assert "the old value stays in force" in rotated.stderr and "Traceback" not in rotated.stderr
    assert "hint: backend is not running: the hook ran in a one-off container of it" in rotated.stderr
    assert not _helpers(live)
    _up(live)
    assert live.project.secrets.value("admin_password") == old and _login(live, old) == 200

    path = live.project.secrets.path("postgres_password")
    kept = path.read_text()
    path.write_text("first-line-0123456789\nsecond-line-0123456789")
    try:
        applied = live.fovea("secrets", "rotate", "postgres_password", "--edited")
        assert applied.returncode == 1, applied.stderr
        assert "secret postgres_password not applied: postgres's `sh -c" in applied.stderr, applied.stderr
        assert "the data keeps the old value" in applied.stderr
        assert live.fovea("plan").returncode == 2  # the edit is still refused until applied or undone
    finally:
        path.write_text(kept)
    assert live.fovea("plan").returncode == 0
    assert len(_personas(live)) > 0  # the role still has the password the services use
    assert not _helpers(live)


# -- restore against the live secrets, and every writer after a killed restore (issue 19) -----------
def _login(live: Live, password: str) -> int:
    with httpx.Client(base_url=live.url, timeout=30) as client:
        return client.post("/api/auth/login", json={"username": "admin", "password": password}).status_code


def _sidecar_clip(folder: Path, name: str) -> Path:
    # `videos add` checks every file with ffprobe: a real clip, as a user adds.
    return host_clip(folder / name, seconds=1, size="64x64")


def test_a_restore_after_a_password_rotation_keeps_the_rotated_password_working(live: Live, tmp_path: Path) -> None:
    """Before: the restore hashed the live admin password in the backend while it stopped the backend (exit
    137), exited 0 anyway, and the restored (old) password logged in while the live one was refused."""
    summary = live.backup("critical")
    old = live.project.secrets.value("admin_password")
    rotated = live.fovea("secrets", "rotate", "admin_password")
    assert rotated.returncode == 0, rotated.stderr
    live_password = live.project.secrets.value("admin_password")

    restored = live.fovea("restore", str(summary["manifest"]["id"]), "--only", "postgres-data")  # type: ignore[index]

    assert restored.returncode == 0, restored.stderr
    assert "live admin_password applied to the restored data" in restored.stderr, restored.stderr
    assert _login(live, live_password) == 200 and _login(live, old) == 401
    added = live.fovea("videos", "add", str(_sidecar_clip(tmp_path, "after-restore.mp4")))
    assert added.returncode == 0, added.stderr


def test_a_restore_whose_live_secrets_cannot_be_written_is_rolled_back_and_exits_non_zero(live: Live) -> None:
    _psql(live, "alter table users rename to users_elsewhere")
    try:  # a backup whose database has no users table: the live admin hash has nowhere to go
        summary = live.backup("critical")
    finally:
        _psql(live, "alter table users_elsewhere rename to users")
    _add_persona(live, "after the backup without users")
    before = _state(live)

    restored = live.fovea("restore", str(summary["manifest"]["id"]), "--only", "postgres-data")  # type: ignore[index]

    assert restored.returncode == 1, restored.stderr
    assert "could not be written into the restored data" in restored.stderr and "rolled back" in restored.stderr
    assert _state(live) == before
    assert not (live.project.settings.state_dir / "restore-journal.json").exists()
    assert _psql(live, "select count(*) from pg_database where datname like 'fovea_%'") == "0"


def _restore_killed_between_renames(live: Live, restore_point: dict[str, object], phase: str) -> None:
    process = _restore_paused(live, str(restore_point["id"]), phase)
    process.kill()  # no handler runs: only the journal knows
    process.wait(timeout=60)
    assert (live.project.settings.state_dir / "restore-journal.json").exists()


def test_secrets_rotate_after_a_killed_restore_first_rolls_the_restore_back(
        live: Live, restore_point: dict[str, object]) -> None:
    """Before: rotate wrote the new password into the half-swapped database, which the next `up` rolled
    back: the role and the admin hash went back to values no file held any more."""
    old = _state(live)
    _restore_killed_between_renames(live, restore_point, "between-renames")

    rotated = live.fovea("secrets", "rotate", "admin_password")

    assert rotated.returncode == 0, rotated.stderr
    assert "was rolled back" in rotated.stderr
    assert _state(live) == old  # the live data from before the restore, read with the rotated password
    assert not (live.project.settings.state_dir / "restore-journal.json").exists()


def test_videos_add_after_a_killed_restore_first_rolls_the_restore_back(
        live: Live, restore_point: dict[str, object], tmp_path: Path) -> None:
    """Before: `videos add` took no lock and did not look for an interrupted restore: its files went into the
    half-swapped volume, and the rollback that followed moved them out of sight."""
    personas, videos = _state(live)
    _restore_killed_between_renames(live, restore_point, "file-swap")

    added = live.fovea("videos", "add", str(_sidecar_clip(tmp_path, "after-killed-restore.mp4")))

    assert added.returncode == 0, added.stderr
    assert "was rolled back" in added.stderr
    assert _personas(live) == personas
    now = live.video_digests()
    assert {k: v for k, v in now.items() if "after-killed-restore" not in k} == videos
    assert "./after-killed-restore.mp4" in now


def test_an_engine_write_outside_project_writing_is_refused_before_it_reaches_the_engine(live: Live) -> None:
    from fovea_ctl.errors import FoveaError

    name = f"{live.project.settings.project}_never-made"
    with pytest.raises(FoveaError, match=r"outside `Project.writing\(\)`"):
        live.project.engine.create_volume(name, {})
    assert name not in {v.name for v in live.project.engine.list_volumes(live.project.settings.project)}
    with live.project.writing():  # the one way in: the lock, an interrupted restore finished first
        live.project.engine.create_volume(name, {"io.fovea.project": live.project.settings.project})
        live.project.engine.remove_volume(name)


# -- the database: no superuser for the application, no SQL from a manifest (issue 19) ---------------
def test_the_backend_and_its_migrations_run_as_a_role_that_is_not_a_superuser(live: Live) -> None:
    import psycopg

    connected = _psql(live, "select distinct usename from pg_stat_activity where datname = 'fovea' "
                            "and application_name = 'fovea-backend'")
    assert connected == "fovea_app"
    assert _psql(live, "select rolsuper or rolcreaterole or rolcreatedb from pg_roles where rolname = 'fovea_app'") == "f"
    assert _psql(live, "select distinct tableowner from pg_tables where schemaname = 'public'") == "fovea_app"
    assert _psql(live, "select pg_get_userbyid(datdba) from pg_database where datname = 'fovea'") == "fovea_app"
    port = live.project.stack.host_port(live.project.stack.units["postgres"].ports[0])
    password = live.project.secrets.value("postgres_password")
    with psycopg.connect(host="127.0.0.1", port=port, user="fovea_app", dbname="fovea", password=password) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("COPY (SELECT 1) TO PROGRAM 'touch /tmp/owned'")
    with pytest.raises(psycopg.OperationalError, match="rejects connection"):  # the superuser: never over the network
        psycopg.connect(host="127.0.0.1", port=port, user="fovea", dbname="fovea", password=password).close()


def _tampered_copy(live: Live, tmp_path: Path, backup_id: str, change: object) -> Path:
    import shutil

    folder = tmp_path / f"{backup_id}-tampered"
    shutil.copytree(live.backups / backup_id, folder)
    manifest = json.loads((folder / MANIFEST).read_text())
    change(manifest)  # type: ignore[operator]
    (folder / MANIFEST).write_text(json.dumps(manifest))
    return folder


@pytest.mark.parametrize("field, value, refusal", [
    ("extensions", "vector\"; COPY (SELECT 1) TO PROGRAM 'touch /tmp/owned'; --", "which the stack does not declare"),
    ("extensions", "plpython3u", "which the stack does not declare"),
    ("service", "backend", "which does not hold this volume in the stack"),
], ids=["sql-in-extensions", "undeclared-extension", "another-service"])
def test_a_crafted_manifest_cannot_choose_the_sql_a_restore_or_verify_runs(live: Live, tmp_path: Path, field: str,
                                                                           value: str, refusal: str) -> None:
    summary = live.backup("critical")

    def change(manifest: dict) -> None:
        next(i for i in manifest["items"] if i["name"] == "postgres-data")["details"][field] = value

    folder = _tampered_copy(live, tmp_path, str(summary["manifest"]["id"]), change)  # type: ignore[index]
    before = _state(live)

    verify = live.fovea("backup", "verify", str(folder))
    restore = live.fovea("restore", str(folder), "--only", "postgres-data")

    for result in (verify, restore):
        assert result.returncode == 8, result.stderr
        assert refusal in result.stderr and "Traceback" not in result.stderr
    assert _state(live) == before
    postgres = live.project.observe().container("postgres")
    assert postgres is not None
    assert live.project.engine.exec(postgres.id, ["test", "-e", "/tmp/owned"])[0] != 0
    assert _psql(live, "select count(*) from pg_database where datname like 'fovea_%'") == "0"


# -- crafted volume archives: owners, setuid bits, devices, sizes, free space (issue 19) --------------
def _crafted_video_backup(live: Live, tmp_path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]],
                          source_bytes: int | None = None) -> Path:
    """A backup folder of this project holding only a video-data archive made here, checksums and all."""
    from datetime import UTC, datetime

    import zstandard

    raw = _archive(*members)
    folder = tmp_path / "crafted-videos"
    folder.mkdir()
    (folder / "video-data.tar.zst").write_bytes(zstandard.ZstdCompressor(level=1).compress(raw))
    item = ItemRecord(name="video-data", kind="volume", strategy="tar", artifact="video-data.tar.zst",
                      size=(folder / "video-data.tar.zst").stat().st_size, sha256=sha256_file(folder / "video-data.tar.zst"),
                      source_bytes=len(raw) if source_bytes is None else source_bytes)
    manifest = BackupManifest(id=folder.name, project=live.project.settings.project, backup_class=BackupClass.CRITICAL,
                              created_at=datetime.now(UTC), stack_hash="x", items=[item])
    (folder / MANIFEST).write_text(manifest.model_dump_json())
    return folder


def _in_backend(live: Live, command: str) -> str:
    code, out = live.project.engine.exec(live.backend(), ["sh", "-c", command])
    assert code == 0, out
    return out.decode().strip()


def test_a_restored_volume_has_no_setuid_root_file_and_belongs_to_its_service_user(live: Live, tmp_path: Path) -> None:
    """Before: a tar's setuid-root file came back setuid root, and gave the service user euid 0."""
    folder = _crafted_video_backup(live, tmp_path, [
        (_member("escalate", mode=0o4755, uid=0), b"#!/bin/sh\nid -u\n"),
        (_member("clip.mp4", uid=0), os.urandom(4096))])

    restored = live.fovea("restore", str(folder), "--only", "video-data")

    assert restored.returncode == 0, restored.stderr
    assert _in_backend(live, "stat -c '%a %u %g' /data/videos/escalate /data/videos/clip.mp4").splitlines() == [
        "755 10001 10001", "644 10001 10001"]


@pytest.mark.parametrize("members, source_bytes, code, refusal", [
    ([(_member("null", tarfile.CHRTYPE), None)], None, 8, "is a character device"),
    ([(_member("etc", tarfile.SYMTYPE, link="/etc"), None)], None, 8, "outside the volume"),
    ([(_member("big.bin"), bytes(3 << 20))], 1 << 20, 8, "unpacks to more than the 1048576 bytes its manifest records"),
    ([(_member("small.bin"), b"x")], 1 << 50, 1, "not enough free space to stage video-data"),
], ids=["device", "link-out", "bigger-than-recorded", "no-room"])
def test_a_crafted_volume_archive_is_refused_and_the_live_volume_stays(live: Live, tmp_path: Path, members: list,
                                                                       source_bytes: int | None, code: int,
                                                                       refusal: str) -> None:
    folder = _crafted_video_backup(live, tmp_path, members, source_bytes)
    before = live.video_digests()

    restored = live.fovea("restore", str(folder), "--only", "video-data")

    assert restored.returncode == code, restored.stderr
    assert refusal in restored.stderr and "Traceback" not in restored.stderr
    assert live.video_digests() == before
    assert _in_backend(live, "ls -A /data/videos | grep '^.fovea-' || true") == ""  # no stage left behind


def test_every_container_runs_without_new_privileges_with_only_its_listed_capabilities_and_limits(live: Live) -> None:
    units = live.project.stack.units
    containers = live.project.observe().containers
    assert containers
    for name, container in containers.items():
        host = live.project.engine.inspect_raw(container.id)["HostConfig"]
        unit = units[name]
        assert host["SecurityOpt"] == ["no-new-privileges:true"], name
        assert host["CapDrop"] == ["ALL"] and sorted(host["CapAdd"] or []) == unit.capabilities, name
        assert unit.resources.memory_mb and host["Memory"] == unit.resources.memory_mb << 20, name
        assert unit.resources.cpus and host["NanoCpus"] > 0, name
    status = _in_backend(live, "grep -E '^(NoNewPrivs|CapBnd)' /proc/1/status")
    assert "NoNewPrivs:\t1" in status and "CapBnd:\t00000000000000cb" in status  # CHOWN DAC_OVERRIDE FOWNER SETGID SETUID
    # the service itself (dropped to its user) holds no capability at all
    service = _in_backend(
        live, "for p in /proc/[0-9]*; do grep -q '^Uid:.10001' $p/status 2>/dev/null && grep CapEff $p/status; done | sort -u")
    assert service == "CapEff:\t0000000000000000"


def test_a_cluster_from_before_the_application_role_is_handed_to_it_on_its_first_start(live: Live) -> None:
    """A volume made by an older fovea: its superuser (`fovea`, with the password) owned the database and
    everything in it, and the backend logged in as that superuser. Started by this image, the cluster
    gets the application's role, which takes the database and its objects over; the superuser loses its
    password; the backend then works as the application's role."""
    postgres = live.project.observe().container("postgres")
    assert postgres is not None
    with live.project.writing():  # back to how an older fovea left it
        live.project.engine.stop_container(live.backend(), 10)
        password = live.project.secrets.value("postgres_password").replace("'", "''")
        _psql(live, "select pg_terminate_backend(pid) from pg_stat_activity where usename = 'fovea_app'")
        _psql(live, "alter database fovea owner to fovea")
        _psql(live, "reassign owned by fovea_app to fovea")
        _psql(live, "drop owned by fovea_app")
        _psql(live, f"alter role fovea password '{password}'")
        _psql(live, "drop role fovea_app")
        assert live.project.engine.exec(postgres.id, ["rm", "/var/lib/postgresql/data/fovea-app-role"])[0] == 0
        live.project.engine.stop_container(postgres.id, 10)
        live.project.engine.start_container(postgres.id)
    _up(live)

    assert _psql(live, "select distinct tableowner from pg_tables where schemaname = 'public'") == "fovea_app"
    assert _psql(live, "select rolpassword is null from pg_authid where rolname = 'fovea'") == "t"
    assert _psql(live, "select distinct usename from pg_stat_activity where datname = 'fovea' "
                       "and application_name = 'fovea-backend'") == "fovea_app"
    assert len(_personas(live)) > 0
    code, logs = live.project.engine.exec(postgres.id, ["cat", "/var/lib/postgresql/data/fovea-app-role"])
    assert code == 0 and logs.decode().strip() == "fovea_app"
