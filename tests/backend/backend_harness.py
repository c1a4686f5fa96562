"""Helpers for the backend tests that involve no containers: settings from the dependency facts, the app
served in-process, test videos. A module with its own name (not conftest) so `from backend_harness import`
means the same thing however many test folders pytest collects."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

BACKEND_DIR = Path(__file__).resolve().parents[2] / "services" / "backend"
if str(BACKEND_DIR) not in sys.path:
    sys.path.insert(0, str(BACKEND_DIR))

from fovea_backend.app import create_app  # noqa: E402
from fovea_backend.settings import Settings  # noqa: E402
from tests.response_contract import ContractCheck  # noqa: E402


# What an import's body is typed as: the backend refuses an untyped body (see fovea_backend/csrf.py).
NDJSON = {"Content-Type": "application/x-ndjson"}


def concrete_path(path: str) -> str:
    """An OpenAPI path template with syntactically valid ids filled in (nothing need exist under them)."""
    path = path.replace("{video_id}", "0123456789abcdef")
    return re.sub(r"\{[a-z_]+\}", "00000000-0000-4000-8000-00000000abcd", path)


def table_digests(settings: Settings) -> dict[str, str]:
    """md5 of every table's rows in the app's database: equal before and after means nothing was written."""
    import psycopg

    with psycopg.connect(**settings.db_kwargs()) as conn:
        tables = [row[0] for row in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename").fetchall()]
        return {table: conn.execute(f'SELECT md5(coalesce(string_agg(t::text, \'|\' ORDER BY t::text), \'\')) FROM "{table}" t')
                .fetchone()[0] for table in tables}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_settings(deps: Any, secret_files: dict[str, Path], db_name: str | None = None, **extra: object) -> Settings:
    values: dict[str, object] = dict(
        db_host=deps.pg_host, db_port=deps.pg_port, db_name=db_name or deps.pg_db, db_user=deps.pg_user,
        db_password_file=deps.pg_password_file, redis_url=deps.redis_url_without_password,
        redis_password_file=deps.redis_password_file,
        admin_password_file=secret_files["admin_password"], session_secret_file=secret_files["session_secret"],
        video_root=deps.video_root, pool_max_size=8, job_sync_interval_s=0.1, job_retry_intervals=(0,),
    )
    values.update(extra)
    return Settings(**values)  # type: ignore[arg-type]


class ServedApp:
    """The real ASGI app under uvicorn on 127.0.0.1, in a thread of the test process."""

    def __init__(self, settings: Settings, run_job_sync: bool = True) -> None:
        import uvicorn

        self.app = create_app(settings, run_job_sync=run_job_sync)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # proxy_headers=False as in fovea_backend.__main__: the backend decides whose X-Forwarded-For it trusts.
        # Served through ContractCheck: every test's JSON answers are checked against their route's model.
        self.server = uvicorn.Server(uvicorn.Config(ContractCheck(self.app), host="127.0.0.1", port=self.port,
                                                    log_level="warning", lifespan="on", proxy_headers=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ServedApp:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("backend did not start; see the log above")
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)

    @property
    def state(self):  # type: ignore[no-untyped-def]
        return self.app.state.backend

    @contextmanager
    def client(self, login_password: str | None = None) -> Iterator[httpx.Client]:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            if login_password is not None:
                response = client.post("/api/auth/login", json={"username": "admin", "password": login_password})
                assert response.status_code == 200, response.text
            yield client


def write_video(root: Path, name: str, size: int, info: dict[str, object] | None = None) -> Path:
    """A file of random bytes that no decoder reads as video: without NUL bytes there is no start code
    (00 00 01, 00 00 8x) for the raw MPEG/H.26x probes to find; plain random bytes pass ffprobe as a
    one-frame H.263 stream about once in a hundred files."""
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(size).replace(b"\x00", b"\x01"))
    if info is not None:
        path.with_name(path.stem + ".info.json").write_text(json.dumps(info))
    return path


def make_clip(path: Path, rate: str = "30000/1001", frames: int = 100, size: str = "320x240") -> Path:
    """A real H.264 clip of exactly `frames` frames at `rate` (the container follows the suffix)."""
    if shutil.which("ffmpeg") is None:
        if os.environ.get("CI"):
            pytest.fail("ffmpeg is not installed; .ci/setup installs it")
        pytest.skip("ffmpeg is not installed (apt-get install ffmpeg)")
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}",
                    "-frames:v", str(frames), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)],
                   check=True, timeout=120)
    return path
