"""Migrations: from an empty database, rerun as a no-op, edited files refused, CLI exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from backend_harness import BACKEND_DIR, make_settings
from fovea_backend import migrate


def _tables(settings) -> set[str]:  # type: ignore[no-untyped-def]
    with psycopg.connect(**settings.db_kwargs()) as conn:
        return {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


def test_migrations_apply_from_empty_then_rerun_is_a_noop(backend_deps, secret_files, fresh_database) -> None:
    settings = make_settings(backend_deps, secret_files, fresh_database())
    assert _tables(settings) == set()
    applied = migrate.run(settings)
    assert applied == [m.name for m in migrate.discover()]
    assert {"users", "sessions", "personas", "ontologies", "world_state", "videos", "annotations",
            "video_summaries", "jobs", "schema_migrations"} <= _tables(settings)
    assert migrate.run(settings) == []


def test_migrate_command_exits_zero_and_is_idempotent(backend_deps, secret_files, fresh_database) -> None:
    db = fresh_database()
    env = {**os.environ, "PYTHONPATH": str(BACKEND_DIR), "BACKEND_DB_HOST": backend_deps.pg_host,
           "BACKEND_DB_PORT": str(backend_deps.pg_port), "BACKEND_DB_NAME": db, "BACKEND_DB_USER": backend_deps.pg_user,
           "BACKEND_DB_PASSWORD_FILE": str(backend_deps.pg_password_file)}
    first = subprocess.run([sys.executable, "-m", "fovea_backend.migrate"], env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert "applied 0001_initial" in first.stdout
    second = subprocess.run([sys.executable, "-m", "fovea_backend.migrate"], env=env, capture_output=True, text=True)
    assert second.returncode == 0 and "nothing to do" in second.stdout
    # A secret as a plain env value is refused, naming the variable, without ever echoing the value.
    bad = subprocess.run([sys.executable, "-m", "fovea_backend.migrate"], env={**env, "BACKEND_DB_PASSWORD": "hunter2"},
                         capture_output=True, text=True)
    assert bad.returncode == 1 and "BACKEND_DB_PASSWORD_FILE" in bad.stderr and "hunter2" not in bad.stderr


def test_edited_applied_migration_is_refused(backend_deps, secret_files, fresh_database, tmp_path: Path) -> None:
    settings = make_settings(backend_deps, secret_files, fresh_database())
    original = migrate.discover()
    with psycopg.connect(**settings.db_kwargs(), autocommit=True) as conn:
        migrate.apply_migrations(conn, original)
        edited = [migrate.Migration(m.version, m.name, m.sql + "\n-- edited") for m in original]
        with pytest.raises(migrate.MigrationError, match="has changed"):
            migrate.apply_migrations(conn, edited)
        extra = migrate.Migration(9999, "9999_extra", "CREATE TABLE extra_table (id int)")
        assert migrate.apply_migrations(conn, [*original, extra]) == ["9999_extra"]
        assert migrate.pending_versions(conn, [*original, extra]) == []


def test_failing_migration_rolls_back_and_records_nothing(backend_deps, secret_files, fresh_database) -> None:
    settings = make_settings(backend_deps, secret_files, fresh_database())
    broken = migrate.Migration(1, "0001_broken", "CREATE TABLE half_done (id int); SELECT no_such_function();")
    with psycopg.connect(**settings.db_kwargs(), autocommit=True) as conn:
        with pytest.raises(psycopg.Error):
            migrate.apply_migrations(conn, [broken])
        assert conn.execute("SELECT to_regclass('half_done')").fetchone() == (None,)
        assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone() == (0,)
