"""Apply `migrations/NNNN_name.sql` in order; run as `python3 -m fovea_backend.migrate`.

Why a 100-line runner instead of Alembic, yoyo or sqitch: the schema is plain SQL owned by this service
(pgvector types and HNSW indexes have no ORM model to autogenerate from), Debian trixie ships none of those
tools as a package the image can reuse, and the needs are small and exact: ordered files, each applied once
in its own transaction, recorded in `schema_migrations` with a checksum so an edited, already-applied file
is refused instead of silently skipped, and a PostgreSQL advisory lock so two concurrent runs (an init job
and a manual `fovea migrate`) serialise instead of racing. Exit 0 when everything is applied (including
"nothing to do"), 1 on any failure with the reason on stderr.
"""

from __future__ import annotations

import hashlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import psycopg

from fovea_backend.settings import ConfigError, Settings, load_settings

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# Any constant works; it only has to be the same for every runner of this schema.
ADVISORY_LOCK_KEY = 0x0F0EA_0001
FILENAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    migrations: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = FILENAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files must be named NNNN_lower_snake.sql")
        migrations.append(Migration(int(match.group(1)), path.stem, path.read_text(encoding="utf-8")))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration versions in {directory}")
    return migrations


def apply_migrations(conn: psycopg.Connection, migrations: list[Migration]) -> list[str]:
    """Apply what is pending; return the names applied. `conn` must be in autocommit mode."""
    conn.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        applied = {
            row[0]: (row[1], row[2])
            for row in conn.execute("SELECT version, name, checksum FROM schema_migrations").fetchall()
        }
        done: list[str] = []
        for migration in migrations:
            if migration.version in applied:
                name, checksum = applied[migration.version]
                if checksum != migration.checksum:
                    raise MigrationError(
                        f"{migration.name}: already applied as {name} but the file has changed since; "
                        "add a new migration instead of editing an applied one"
                    )
                continue
            with conn.transaction():
                conn.execute(migration.sql.encode())
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                    (migration.version, migration.name, migration.checksum),
                )
            done.append(migration.name)
        return done
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK_KEY,))


def pending_versions(conn: psycopg.Connection, migrations: list[Migration]) -> list[int]:
    """Versions not yet applied; used by the server to refuse starting on an old schema."""
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    applied: set[int] = set()
    if exists and exists[0]:
        applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations").fetchall()}
    return [m.version for m in migrations if m.version not in applied]


def run(settings: Settings) -> list[str]:
    with psycopg.connect(**settings.db_kwargs(), autocommit=True) as conn:  # type: ignore[arg-type]
        return apply_migrations(conn, discover())


def main() -> int:
    try:
        applied = run(load_settings())
    except (ConfigError, MigrationError) as exc:
        print(f"migrate: {exc}", file=sys.stderr)
        return 1
    except psycopg.Error as exc:
        print(f"migrate: database error: {exc}", file=sys.stderr)
        return 1
    if applied:
        print(f"migrate: applied {', '.join(applied)}")
    else:
        print("migrate: nothing to do, schema is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
