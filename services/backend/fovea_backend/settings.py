"""Settings from `BACKEND_*` environment variables; secrets only ever through `*_FILE` paths.

A secret given as a plain environment value would show up in `docker inspect`, `/proc/*/environ` and
crash reports, so the plain names are refused outright rather than silently ignored.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

SECRET_NAMES = ("DB_PASSWORD", "ADMIN_PASSWORD", "SESSION_SECRET", "REDIS_PASSWORD")


class ConfigError(RuntimeError):
    """The environment does not describe a runnable backend; the message says which variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BACKEND_", extra="ignore", frozen=True)

    db_host: str = "postgres"
    db_port: int = 5432
    db_name: str = "fovea"
    db_user: str = "fovea"
    db_password_file: Path = Path("/run/secrets/postgres_password")
    redis_url: str = "redis://redis:6379/0"
    # The stack's Redis requires a password (its redis_password secret); None: a Redis without one.
    redis_password_file: Path | None = None
    admin_password_file: Path = Path("/run/secrets/admin_password")
    session_secret_file: Path = Path("/run/secrets/session_secret")
    video_root: Path = Path("/data/videos")
    otlp_endpoint: str | None = None
    cookie_secure: bool = False

    # Tuning knobs with safe defaults; not part of the stack's contract.
    pool_max_size: int = 16
    session_hours: int = 24
    job_sync_interval_s: float = 0.5
    job_retry_intervals: tuple[int, ...] = (10, 60, 300)
    job_timeout_s: int = 3600
    annotation_cache_mb: int = 64

    @cached_property
    def db_password(self) -> str:
        return read_secret(self.db_password_file, "BACKEND_DB_PASSWORD_FILE")

    @cached_property
    def admin_password(self) -> str:
        return read_secret(self.admin_password_file, "BACKEND_ADMIN_PASSWORD_FILE")

    @cached_property
    def session_secret(self) -> bytes:
        return read_secret(self.session_secret_file, "BACKEND_SESSION_SECRET_FILE").encode()

    @cached_property
    def redis_password(self) -> str | None:
        if self.redis_password_file is None:
            return None
        return read_secret(self.redis_password_file, "BACKEND_REDIS_PASSWORD_FILE")

    def db_kwargs(self) -> dict[str, object]:
        """psycopg connect kwargs; the password travels as a kwarg so it never appears in a conninfo string."""
        return {
            "host": self.db_host,
            "port": self.db_port,
            "dbname": self.db_name,
            "user": self.db_user,
            "password": self.db_password,
            "application_name": "fovea-backend",
            "connect_timeout": 5,
        }


def read_secret(path: Path, variable: str) -> str:
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{variable}: cannot read secret file {path}: {exc.strerror}") from None
    if not value:
        raise ConfigError(f"{variable}: secret file {path} is empty")
    return value


def load_settings() -> Settings:
    for name in SECRET_NAMES:
        if f"BACKEND_{name}" in os.environ:
            raise ConfigError(
                f"BACKEND_{name} is set as a plain environment value; secrets are only accepted as files: "
                f"set BACKEND_{name}_FILE to a path instead"
            )
    return Settings()

