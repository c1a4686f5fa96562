"""Fixtures for the backend suite: real PostgreSQL (+pgvector) and Redis, the app served in-process.

All container handling lives in `backend_deps` so it can later be swapped for `fovea up`: it yields
connection facts (and stop/start of redis for the /health test), nothing else. Containers get unique
names and random 127.0.0.1 ports and are always removed, even when the session fails.
"""

from __future__ import annotations

import os

import secrets
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest
import redis
from backend_harness import ServedApp, free_port, make_settings, write_video
from tests.response_contract import RECORDED
from fovea_backend import migrate
from fovea_backend.settings import Settings

STARTUP_BUDGET_S = 60.0


def pytest_configure(config: pytest.Config) -> None:
    # FastAPI 0.115 (Debian trixie's) with a newer host pydantic warns about aliases on body fields; harmless.
    config.addinivalue_line("filterwarnings", "ignore::pydantic.warnings.UnsupportedFieldAttributeWarning")


def _stack_image(service: str) -> str:
    """The image this checkout's stack runs for `service` (its content-hash tag). Not the repository's
    newest tag: on a shared engine that may be another branch's build with another contract."""
    from fovea_ctl.reconcile.project import Project
    from fovea_ctl.settings.effective import load_settings

    stack_project = Project(load_settings())
    image = stack_project.resolver().resolve(stack_project.stack.units[service])
    if image.missing:
        reason = f"image {image.ref} is not built; run `fovea images build` (or `fovea up`) first"
        if os.environ.get("CI"):
            pytest.fail(reason)  # .ci/run builds every image: missing here is a failure, not a skip
        pytest.skip(reason)
    return image.ref


def _docker(*args: str) -> str:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout.strip()


@dataclass
class BackendDeps:
    """What the backend tests need from the dependencies, whoever starts them. Used: the pg_*/redis_url
    facts (host side, 127.0.0.1), video_root (a writable temp dir), stop_redis/start_redis (/health test),
    and network + *_container_host (engine test: a backend container reaching postgres and redis)."""

    pg_host: str
    pg_port: int
    pg_user: str
    pg_db: str
    pg_password_file: Path
    redis_url: str  # carries the password: for the tests' own clients
    video_root: Path
    # The backend itself gets the password the way the stack gives it: BACKEND_REDIS_PASSWORD_FILE.
    redis_password_file: Path | None = None
    # Where a backend *container* finds the same services (engine test): a docker network and aliases.
    network: str | None = None
    pg_container_host: str = "postgres"
    redis_container_host: str = "redis"
    _redis_container: str = ""
    _cleanup: list[Callable[[], None]] = field(default_factory=list)

    @property
    def redis_url_without_password(self) -> str:
        return "redis://" + self.redis_url.split("@", 1)[-1].removeprefix("redis://")

    def stop_redis(self) -> None:
        _docker("stop", "-t", "2", self._redis_container)

    def start_redis(self) -> None:
        _docker("start", self._redis_container)
        _wait(lambda: redis.Redis.from_url(self.redis_url, socket_timeout=1).ping(), "redis")


def _wait(check: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + STARTUP_BUDGET_S
    delay = 0.05
    while True:
        try:
            check()
            return
        except Exception as exc:  # noqa: BLE001 - anything means "not yet"
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} not ready after {STARTUP_BUDGET_S:.0f}s: {exc}") from exc
            time.sleep(delay)
            delay = min(delay * 2, 0.5)


@pytest.fixture(scope="session")
def backend_deps() -> Iterator[BackendDeps]:
    with running_deps() as deps:
        yield deps


@contextmanager
def running_deps() -> Iterator[BackendDeps]:
    """The body of `backend_deps`, also used by bench/backend_api.py (one place for container handling)."""
    tag = uuid.uuid4().hex[:8]
    names = {"net": f"fovea-test-{tag}", "pg": f"fovea-test-{tag}-postgres", "redis": f"fovea-test-{tag}-redis"}
    workdir = Path(tempfile.mkdtemp(prefix="fovea-backend-test-"))
    secrets_dir = workdir / "secrets"
    secrets_dir.mkdir(mode=0o700)
    password_file = secrets_dir / "postgres_password"
    password_file.write_text(secrets.token_urlsafe(24))
    password_file.chmod(0o600)
    redis_password_file = secrets_dir / "redis_password"
    redis_password_file.write_text(secrets.token_urlsafe(24))
    redis_password_file.chmod(0o600)
    video_root = workdir / "videos"
    video_root.mkdir()
    pg_port, redis_port = free_port(), free_port()
    pg_image, redis_image = _stack_image("postgres"), _stack_image("redis")
    started: list[str] = []
    try:
        _docker("network", "create", "--label", "fovea.test=backend", names["net"])
        _docker("run", "-d", "--name", names["pg"], "--label", "fovea.test=backend", "--network", names["net"],
                "--network-alias", "postgres", "-p", f"127.0.0.1:{pg_port}:5432",
                "-e", "POSTGRES_USER=fovea", "-e", "POSTGRES_DB=fovea",
                "-e", "POSTGRES_PASSWORD_FILE=/run/secrets/postgres_password",
                "-v", f"{password_file}:/run/secrets/postgres_password:ro", "--tmpfs", "/var/lib/postgresql/data",
                pg_image)
        started.append(names["pg"])
        _docker("run", "-d", "--name", names["redis"], "--label", "fovea.test=backend", "--network", names["net"],
                "--network-alias", "redis", "-p", f"127.0.0.1:{redis_port}:6379",
                "-e", "REDIS_PASSWORD_FILE=/run/secrets/redis_password",
                "-v", f"{redis_password_file}:/run/secrets/redis_password:ro", redis_image)
        started.append(names["redis"])
        password = password_file.read_text()
        _wait(lambda: psycopg.connect(host="127.0.0.1", port=pg_port, user="fovea", dbname="fovea",
                                      password=password, connect_timeout=2).close(), "postgres")
        redis_url = f"redis://:{redis_password_file.read_text()}@127.0.0.1:{redis_port}/0"
        _wait(lambda: redis.Redis.from_url(redis_url, socket_timeout=1).ping(), "redis")
        yield BackendDeps(pg_host="127.0.0.1", pg_port=pg_port, pg_user="fovea", pg_db="fovea",
                          pg_password_file=password_file, redis_url=redis_url, video_root=video_root,
                          redis_password_file=redis_password_file,
                          network=names["net"], _redis_container=names["redis"])
    finally:
        for name in started:
            subprocess.run(["docker", "rm", "-f", "-v", name], capture_output=True)
        subprocess.run(["docker", "network", "rm", names["net"]], capture_output=True)
        shutil.rmtree(workdir, ignore_errors=True)


# --- everything below only uses the facts backend_deps yields ----------------------------------------------
@pytest.fixture(scope="session")
def secret_files(backend_deps: BackendDeps) -> dict[str, Path]:
    directory = Path(tempfile.mkdtemp(prefix="fovea-backend-secrets-"))
    files = {"admin_password": directory / "admin_password", "session_secret": directory / "session_secret"}
    for path in files.values():
        path.write_text(secrets.token_urlsafe(24) + "\n")
        path.chmod(0o600)
    files["postgres_password"] = backend_deps.pg_password_file
    return files


@pytest.fixture(scope="session")
def settings(backend_deps: BackendDeps, secret_files: dict[str, Path]) -> Settings:
    return make_settings(backend_deps, secret_files)


@pytest.fixture(scope="session")
def admin_conn(backend_deps: BackendDeps) -> Iterator[psycopg.Connection]:
    """Autocommit connection to the maintenance database, for CREATE/DROP DATABASE."""
    with psycopg.connect(host=backend_deps.pg_host, port=backend_deps.pg_port, user=backend_deps.pg_user,
                         dbname="postgres", password=backend_deps.pg_password_file.read_text(), autocommit=True) as conn:
        yield conn


@pytest.fixture
def fresh_database(admin_conn: psycopg.Connection) -> Iterator[Callable[[], str]]:
    """Factory: a new empty database (with pgvector available) per call, dropped afterwards."""
    created: list[str] = []

    def make() -> str:
        name = f"fovea_t_{uuid.uuid4().hex[:10]}"
        admin_conn.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return name

    yield make
    for name in created:
        admin_conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(autouse=True)
def responses_keep_their_contract() -> Iterator[None]:
    """Fails the test during which the backend sent a 2xx JSON body its route's response_model refuses
    (response_contract.py: the SQL-rendered routes are not validated by FastAPI itself)."""
    yield
    violations = RECORDED.drain()
    assert not violations, "\n\n".join(str(violation) for violation in violations)


@pytest.fixture(scope="session")
def migrated(settings: Settings) -> Settings:
    migrate.run(settings)
    return settings


@pytest.fixture(scope="session")
def served(migrated: Settings, backend_deps: BackendDeps) -> Iterator[ServedApp]:
    write_video(backend_deps.video_root, "clip-a.mp4", 300_000,
                {"duration": 12.0, "fps": 25, "width": 640, "height": 360, "title": "clip a"})
    write_video(backend_deps.video_root, "clip-b.webm", 50_000)
    with ServedApp(migrated) as served_app:
        yield served_app


@pytest.fixture(scope="session")
def admin_password(secret_files: dict[str, Path]) -> str:
    return secret_files["admin_password"].read_text().strip()


@pytest.fixture(scope="session")
def client(served: ServedApp, admin_password: str) -> Iterator[httpx.Client]:
    with served.client(admin_password) as logged_in:
        response = logged_in.post("/api/videos/sync")
        assert response.status_code == 200, response.text
        yield logged_in


@pytest.fixture
def anon(served: ServedApp) -> Iterator[httpx.Client]:
    with served.client() as anonymous:
        yield anonymous


@pytest.fixture(scope="session")
def video_a() -> str:
    from fovea_backend.videos import video_id

    return video_id("clip-a.mp4")


@dataclass
class IsolatedBackend:
    root: Path
    client: httpx.Client
    settings: Settings


@pytest.fixture
def isolated_backend(backend_deps: BackendDeps, secret_files: dict[str, Path], fresh_database: Callable[[], str],
                     tmp_path: Path) -> Iterator[IsolatedBackend]:
    """A logged-in backend on its own database, Redis database (3) and (empty) video directory, so exact
    assertions on lists and counts hold whatever else the session did. No job-sync thread."""
    root = tmp_path / "videos"
    root.mkdir()
    settings = make_settings(backend_deps, secret_files, fresh_database(), video_root=root,
                             redis_url=backend_deps.redis_url.rsplit("/", 1)[0] + "/3")
    migrate.run(settings)
    with ServedApp(settings, run_job_sync=False) as served, served.client(secret_files["admin_password"].read_text().strip()) as c:
        yield IsolatedBackend(root, c, settings)
