#!/usr/bin/env python3
"""Backend API throughput and latency: GET /api/videos and GET /api/annotations/{id} for a video with
10 000 annotations, at concurrency 16, against the real image (migrate init job, then serve) on a
127.0.0.1-published port, with PostgreSQL and Redis from tests/backend/conftest.py (one place for
container handling).

    .venv/bin/python bench/backend_api.py [--annotations 10000] [--concurrency 16] [--seconds 20] [--out bench/results/backend_api.json]

Each endpoint: 1 s of warm-up, then closed-loop load for a fixed time (bounded: at most --max-requests),
bodies read fully but not parsed, so the client costs as little CPU as possible; client and server share
the machine's cores, which the result records.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "services" / "backend"))
sys.path.insert(0, str(ROOT / "tests" / "backend"))  # conftest imports backend_harness
_spec = importlib.util.spec_from_file_location("backend_engine", ROOT / "tests" / "backend" / "conftest.py")
assert _spec and _spec.loader
engine = importlib.util.module_from_spec(_spec)
sys.modules["backend_engine"] = engine  # dataclasses resolve annotations through sys.modules
_spec.loader.exec_module(engine)

from fovea_backend.videos import video_id  # noqa: E402

IMAGE = "fovea/backend:bench"


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout.strip()


def build_image() -> None:
    subprocess.run(["/usr/bin/docker", "build", "-q", "--secret", "id=ca_bundle,src=/etc/ssl/certs/ca-certificates.crt",
                    "-t", IMAGE, str(ROOT / "services" / "backend")], check=True, capture_output=True,
                   env={"DOCKER_BUILDKIT": "1", "PATH": "/usr/bin:/bin"})


def seed_annotations(deps, vid: str, count: int) -> None:  # type: ignore[no-untyped-def]
    frames = json.dumps([{"frame": i * 5, "x": 10.0 + i, "y": 20.0, "width": 64.0, "height": 48.0} for i in range(4)])
    with psycopg.connect(host=deps.pg_host, port=deps.pg_port, user=deps.pg_user, dbname=deps.pg_db,
                         password=deps.pg_password_file.read_text()) as conn:
        with conn.cursor().copy("COPY annotations (video_id, type, label, frames, source, confidence) FROM STDIN") as copy:
            for i in range(count):
                copy.write_row((vid, "detection", f"person-{i % 50}", frames, "automatic", 0.5 + (i % 50) / 100))


async def load(url: str, cookie: str, concurrency: int, seconds: float, max_requests: int) -> dict[str, float]:
    latencies: list[float] = []
    sizes: list[int] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(cookies={"fovea_session": cookie}, limits=limits, timeout=60) as client:
        async def worker(deadline: float, record: bool) -> None:
            nonlocal errors
            while time.perf_counter() < deadline and len(latencies) < max_requests:
                started = time.perf_counter()
                response = await client.get(url)
                elapsed = time.perf_counter() - started
                if response.status_code != 200:
                    errors += 1
                elif record:
                    latencies.append(elapsed)
                    sizes.append(len(response.content))

        warm = time.perf_counter() + 1.0
        await asyncio.gather(*(worker(warm, False) for _ in range(concurrency)))
        started = time.perf_counter()
        await asyncio.gather(*(worker(started + seconds, True) for _ in range(concurrency)))
        wall = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "seconds": round(wall, 3),
        "req_per_s": round(len(latencies) / wall, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 2),
        "response_bytes": sizes[0] if sizes else 0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--annotations", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--max-requests", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "backend_api.json")
    args = parser.parse_args()

    build_image()
    workdir = Path(tempfile.mkdtemp(prefix="fovea-bench-backend-"))
    secret_dir = workdir / "secrets"
    secret_dir.mkdir(mode=0o700)
    admin_password = secrets.token_urlsafe(18)
    for name, value in (("admin_password", admin_password), ("session_secret", secrets.token_urlsafe(32))):
        (secret_dir / name).write_text(value)
        (secret_dir / name).chmod(0o600)
    name = f"fovea-bench-backend-{uuid.uuid4().hex[:8]}"
    with engine.running_deps() as deps:
        videos = deps.video_root
        for i in range(20):  # a realistic library: 20 videos, one of them heavily annotated
            (videos / f"clip-{i:02d}.mp4").write_bytes(os.urandom(1024))
            (videos / f"clip-{i:02d}.info.json").write_text(json.dumps({"width": 1280, "height": 720, "fps": 30, "duration": 60}))
        env = ["-e", f"BACKEND_DB_HOST={deps.pg_container_host}", "-e", f"BACKEND_REDIS_URL=redis://{deps.redis_container_host}:6379/0"]
        mounts = ["-v", f"{deps.pg_password_file}:/run/secrets/postgres_password:ro",
                  "-v", f"{secret_dir / 'admin_password'}:/run/secrets/admin_password:ro",
                  "-v", f"{secret_dir / 'session_secret'}:/run/secrets/session_secret:ro",
                  "-v", f"{videos}:/data/videos:ro"]
        docker("run", "--rm", "--network", deps.network, *env, *mounts, IMAGE, "python3", "-m", "fovea_backend.migrate")
        port = engine.free_port()
        docker("run", "-d", "--name", name, "--network", deps.network, "-p", f"127.0.0.1:{port}:3001", *env, *mounts, IMAGE)
        try:
            base = f"http://127.0.0.1:{port}"
            engine._wait(lambda: httpx.get(f"{base}/health", timeout=1).raise_for_status(), "backend")
            login = httpx.post(f"{base}/api/auth/login", json={"username": "admin", "password": admin_password})
            cookie = login.cookies["fovea_session"]
            assert httpx.post(f"{base}/api/videos/sync", cookies={"fovea_session": cookie}).status_code == 200
            vid = video_id("clip-00.mp4")
            seed_annotations(deps, vid, args.annotations)
            results: dict[str, dict[str, float]] = {}
            # One request right after seeding misses the rendered-body cache: the cost of a change.
            started = time.perf_counter()
            assert httpx.get(f"{base}/api/annotations/{vid}", cookies={"fovea_session": cookie}, timeout=60).status_code == 200
            cache_miss_ms = round((time.perf_counter() - started) * 1000, 1)
            for label, path in (("GET /api/videos", "/api/videos"), ("GET /api/annotations/{id}", f"/api/annotations/{vid}")):
                results[label] = asyncio.run(load(base + path, cookie, args.concurrency, args.seconds, args.max_requests))
                print(label, results[label], flush=True)
            results["GET /api/annotations/{id}"]["first_request_ms_cache_miss"] = cache_miss_ms
        finally:
            subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    report = {
        "benchmark": "backend_api",
        "annotations_on_video": args.annotations,
        "videos": 20,
        "concurrency": args.concurrency,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python_client": platform.python_version()},
        "note": ("closed loop, client and server share the same cores; server = fovea/backend image, one uvicorn process; "
                 "annotations are served from the per-revision rendered-body cache, gzip (response_bytes is the "
                 "uncompressed JSON size); first_request_ms_cache_miss is one uncached render after seeding"),
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
