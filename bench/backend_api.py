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
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import httpx
import psycopg
from backend_container import ROOT, running_backend, stack_image, write_report

from fovea_backend.videos import video_id  # noqa: E402 - backend_container puts services/backend on the path


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

    # A realistic library: 20 videos, one of them heavily annotated.
    library = {f"clip-{i:02d}.mp4": os.urandom(1024) for i in range(20)}
    library.update({f"clip-{i:02d}.info.json": json.dumps({"width": 1280, "height": 720, "fps": 30, "duration": 60}).encode()
                    for i in range(20)})
    with running_backend(stack_image(), library) as backend:
        base = backend.base_url
        cookie = backend.login()
        assert httpx.post(f"{base}/api/videos/sync", cookies={"fovea_session": cookie}).status_code == 200
        vid = video_id("clip-00.mp4")
        seed_annotations(backend.deps, vid, args.annotations)
        results: dict[str, dict[str, float]] = {}
        # One request right after seeding misses the rendered-body cache: the cost of a change.
        started = time.perf_counter()
        assert httpx.get(f"{base}/api/annotations/{vid}", cookies={"fovea_session": cookie}, timeout=60).status_code == 200
        cache_miss_ms = round((time.perf_counter() - started) * 1000, 1)
        for label, path in (("GET /api/videos", "/api/videos"), ("GET /api/annotations/{id}", f"/api/annotations/{vid}")):
            results[label] = asyncio.run(load(base + path, cookie, args.concurrency, args.seconds, args.max_requests))
            print(label, results[label], flush=True)
        results["GET /api/annotations/{id}"]["first_request_ms_cache_miss"] = cache_miss_ms
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
    return write_report(args.out, report)


if __name__ == "__main__":
    sys.exit(main())
