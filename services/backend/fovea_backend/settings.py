"""Settings from `BACKEND_*` environment variables; secrets only ever through `*_FILE` paths.

A secret given as a plain environment value would show up in `docker inspect`, `/proc/*/environ` and
crash reports, so the plain names are refused outright rather than silently ignored.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

SECRET_NAMES = ("DB_PASSWORD", "ADMIN_PASSWORD", "SESSION_SECRET", "REDIS_PASSWORD", "OTLP_PASSWORD")
OTLP_USER = "fovea"  # the collector's basic-auth user (its password: BACKEND_OTLP_PASSWORD_FILE)


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
    # The stack's collector wants HTTP basic auth (its collector_password secret); None: one without.
    otlp_password_file: Path | None = None
    cookie_secure: bool = False
    # Origins other than the one a request was sent to that may make state-changing requests (a proxy that
    # rewrites Host); JSON list, e.g. ["https://fovea.example.org"]. See csrf.py.
    allowed_origins: tuple[str, ...] = ()
    # Peers whose X-Forwarded-For names the client (the login throttle's per-client key): host names,
    # resolved when asked. The stack's nginx is `frontend`; a direct peer is its own client.
    trusted_proxies: tuple[str, ...] = ("frontend",)
    # Swagger UI at /docs: off unless asked, and then served from the pinned copy in the image, never a CDN.
    api_docs: bool = False
    # Anyone may make an account at POST /api/auth/register (with this role): off unless the stack says so.
    self_registration: bool = False
    self_registration_role: Literal["viewer", "annotator"] = "viewer"

    # Tuning knobs with safe defaults; not part of the stack's contract.
    pool_max_size: int = 16
    session_hours: int = 24
    job_sync_interval_s: float = 0.5
    job_retry_intervals: tuple[int, ...] = (10, 60, 300)
    job_timeout_s: int = 3600
    annotation_cache_mb: int = 64
    # Login attempts (limits' notation) per account and per client, counted in Redis before the password
    # is checked; a successful login clears its account's count.
    login_limit_per_account: str = "10 per 5 minutes"
    login_limit_per_client: str = "60 per minute"

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

    def otlp_headers(self) -> dict[str, str]:
        """What the metrics exporter presents to the collector: basic auth from the password file."""
        if self.otlp_password_file is None:
            return {}
        import base64

        password = read_secret(self.otlp_password_file, "BACKEND_OTLP_PASSWORD_FILE")
        return {"Authorization": "Basic " + base64.b64encode(f"{OTLP_USER}:{password}".encode()).decode()}

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

