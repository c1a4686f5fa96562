"""The backend image as a container for the backend benchmarks: its migration job, then the API on a
127.0.0.1-published port, with PostgreSQL and Redis from tests/backend/conftest.py (one place for
container handling) and the secrets the stack would mount."""

from __future__ import annotations

import importlib.util
import json
import secrets
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "services" / "backend"))
sys.path.insert(0, str(ROOT / "tests" / "backend"))  # conftest imports backend_harness
_spec = importlib.util.spec_from_file_location("backend_engine", ROOT / "tests" / "backend" / "conftest.py")
assert _spec and _spec.loader
engine = importlib.util.module_from_spec(_spec)
sys.modules["backend_engine"] = engine  # dataclasses resolve annotations through sys.modules
_spec.loader.exec_module(engine)


def write_report(path: Path, report: dict[str, object]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {path}")
    return 0


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout.strip()


def stack_image() -> str:
    """The backend image this checkout's stack runs (built by `fovea images build`)."""
    from fovea_ctl.reconcile.project import Project
    from fovea_ctl.settings.effective import load_settings

    project = Project(load_settings())
    image = project.resolver().resolve(project.stack.units["backend"])
    if image.missing:
        raise SystemExit(f"image {image.ref} is not built; run `.venv/bin/fovea images build` first")
    return image.ref


@dataclass
class BackendContainer:
    name: str
    base_url: str
    admin_password: str
    deps: object  # tests/backend/conftest.py's BackendDeps

    def login(self) -> str:
        """A session cookie for admin."""
        response = httpx.post(f"{self.base_url}/api/auth/login", json={"username": "admin", "password": self.admin_password},
                              timeout=60)
        response.raise_for_status()
        return response.cookies["fovea_session"]

    def wait_ready(self) -> None:
        engine._wait(lambda: httpx.get(f"{self.base_url}/health", timeout=1).raise_for_status(), "backend")


@contextmanager
def _removed(directory: Path) -> Iterator[None]:
    try:
        yield
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def running_backend(image: str, video_root_files: dict[str, bytes] | None = None) -> Iterator[BackendContainer]:
    workdir = Path(tempfile.mkdtemp(prefix="fovea-bench-backend-"))
    secret_dir = workdir / "secrets"
    secret_dir.mkdir(mode=0o700)
    admin_password = secrets.token_urlsafe(18)
    for secret, value in (("admin_password", admin_password), ("session_secret", secrets.token_urlsafe(32))):
        (secret_dir / secret).write_text(value)
        (secret_dir / secret).chmod(0o600)
    name = f"fovea-bench-backend-{uuid.uuid4().hex[:8]}"
    with engine.running_deps() as deps, _removed(workdir):
        for relative, content in (video_root_files or {}).items():
            (deps.video_root / relative).write_bytes(content)
        env = ["-e", f"BACKEND_DB_HOST={deps.pg_container_host}",
               "-e", f"BACKEND_REDIS_URL=redis://{deps.redis_container_host}:6379/0",
               "-e", "BACKEND_REDIS_PASSWORD_FILE=/run/secrets/redis_password"]
        mounts = ["-v", f"{deps.pg_password_file}:/run/secrets/postgres_password:ro",
                  "-v", f"{deps.redis_password_file}:/run/secrets/redis_password:ro",
                  "-v", f"{secret_dir / 'admin_password'}:/run/secrets/admin_password:ro",
                  "-v", f"{secret_dir / 'session_secret'}:/run/secrets/session_secret:ro",
                  "-v", f"{deps.video_root}:/data/videos:ro"]
        docker("run", "--rm", "--network", deps.network, *env, *mounts, image, "python3", "-m", "fovea_backend.migrate")
        port = engine.free_port()
        docker("run", "-d", "--name", name, "--network", deps.network, "-p", f"127.0.0.1:{port}:3001", *env, *mounts, image)
        backend = BackendContainer(name, f"http://127.0.0.1:{port}", admin_password, deps)
        try:
            backend.wait_ready()
            yield backend
        finally:
            subprocess.run(["docker", "rm", "-f", name], capture_output=True)
