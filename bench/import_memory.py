#!/usr/bin/env python3
"""The backend's peak memory during a 256 MiB import (issue 19: one 229 MiB dry run took it to 1.28 GB).

The backend image runs as a container (its migration job, then the API; PostgreSQL and Redis as in the
backend tests). Each run logs in, resets the kernel's high-water mark of the backend process's resident set
(`clear_refs`), reads its resident set (VmRSS), streams a generated export of --mib MiB to POST /api/import
(--reps dry runs, then one real import into the empty database, as the frontend and a client would), and
reads the high-water mark again (VmHWM of the uvicorn process, PID 1: exact, no sampling). The body is an
export as fovea writes one: a header, the video row, then annotation tracks of --keyframes keyframes each.
The client generates it as it sends, so the client's memory stays small.

    .venv/bin/python bench/import_memory.py [--mib 256] [--reps 3] [--image fovea/backend:TAG] [--out bench/results/import_memory.json]

--image measures another build of the backend (e.g. main's, for the figure before the change); the
default is the image this checkout's stack runs (`fovea images build`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
from backend_container import ROOT, BackendContainer, docker, running_backend, stack_image, write_report

from fovea_backend.videos import video_id  # noqa: E402 - backend_container puts services/backend on the path

VIDEO = "bench-import.mp4"


def export_lines(total_bytes: int, keyframes: int) -> Iterator[bytes]:
    header = {"type": "header", "data": {"format": "fovea-export", "version": 1, "exportedAt": "2026-01-01T00:00:00+00:00"}}
    video = {"type": "video", "data": {
        "id": video_id(VIDEO), "filename": VIDEO, "path": VIDEO, "sizeBytes": 4096, "duration": 3600.0, "fpsNum": 30,
        "fpsDen": 1, "fps": 30.0, "frameCount": 108000, "width": 1280, "height": 720, "codec": "h264", "metadata": {},
        "createdAt": "2026-01-01T00:00:00+00:00", "updatedAt": "2026-01-01T00:00:00+00:00"}}
    sent = 0
    for record in (header, video):
        line = (json.dumps(record) + "\n").encode()
        sent += len(line)
        yield line
    frames = [{"frame": n * 10, "x": 100.5 + n, "y": 200.25, "width": 64.0, "height": 128.0, "keyframe": True}
              for n in range(keyframes)]
    batch: list[bytes] = []
    while True:
        record = {"type": "annotation", "data": {
            "id": str(uuid.uuid4()), "videoId": video_id(VIDEO), "personaId": None, "type": "entity", "label": "person",
            "frames": frames, "source": "manual", "confidence": None, "jobId": None,
            "createdAt": "2026-01-01T00:00:00+00:00", "updatedAt": "2026-01-01T00:00:00+00:00"}}
        line = (json.dumps(record) + "\n").encode()
        if sent + len(line) > total_bytes:  # the backend's limit is exactly 256 MiB
            break
        sent += len(line)
        batch.append(line)
        if len(batch) == 64:  # ~64 lines a chunk: fewer, larger writes, as a file upload makes
            yield b"".join(batch)
            batch.clear()
    if batch:
        yield b"".join(batch)


def process_memory_kib(backend: BackendContainer) -> dict[str, int]:
    status = docker("exec", backend.name, "cat", "/proc/1/status")
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return {key: int(fields[key].split()[0]) for key in ("VmRSS", "VmHWM")}


def one_run(backend: BackendContainer, mib: int, keyframes: int, dry_run: bool) -> dict[str, float]:
    cookie = backend.login()
    # The kernel's high-water mark starts again here (clear_refs 5: "reset the peak resident set size").
    docker("exec", "-u", "0", backend.name, "sh", "-c", "echo 5 > /proc/1/clear_refs")
    before = process_memory_kib(backend)
    started = time.perf_counter()
    response = httpx.post(f"{backend.base_url}/api/import", params={"dryRun": str(dry_run).lower()},
                          content=export_lines(mib * 1024 * 1024, keyframes),
                          headers={"Content-Type": "application/x-ndjson"}, cookies={"fovea_session": cookie}, timeout=3600)
    seconds = time.perf_counter() - started
    after = process_memory_kib(backend)
    if response.status_code != 200:
        raise SystemExit(f"import answered {response.status_code}: {response.text[:500]}")
    counts = response.json().get("wouldImport" if dry_run else "imported")
    return {"idle_rss_mib": round(before["VmRSS"] / 1024, 1), "peak_rss_mib": round(after["VmHWM"] / 1024, 1),
            "seconds": round(seconds, 1), "annotations": counts.get("annotation", 0)}


def summary(runs: list[dict[str, float]]) -> dict[str, object]:
    def spread(key: str) -> dict[str, float]:
        values = [run[key] for run in runs]
        return {"median": round(statistics.median(values), 1), "min": min(values), "max": max(values)}

    return {"runs": runs, "peak_rss_mib": spread("peak_rss_mib"), "idle_rss_mib": spread("idle_rss_mib"),
            "seconds": spread("seconds")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--keyframes", type=int, default=500, help="keyframes per annotation track (~50 KB a line at 500)")
    parser.add_argument("--reps", type=int, default=3, help="dry runs (the issue's case); one real import follows")
    parser.add_argument("--image", default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "import_memory.json")
    args = parser.parse_args()

    image = args.image or stack_image()
    load_before = os.getloadavg()
    with running_backend(image, {VIDEO: os.urandom(4096)}) as backend:
        dry_runs = []
        for rep in range(args.reps):
            dry_runs.append(one_run(backend, args.mib, args.keyframes, dry_run=True))
            print(f"dry run {rep + 1}: {dry_runs[-1]}", flush=True)
        real = one_run(backend, args.mib, args.keyframes, dry_run=False)
        print(f"import: {real}", flush=True)
    report = {
        "benchmark": "import_memory",
        "image": image,
        "import_mib": args.mib,
        "import_bytes": sum(len(chunk) for chunk in export_lines(args.mib * 1024 * 1024, args.keyframes)),
        "keyframes_per_track": args.keyframes,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "note": ("peak_rss_mib is VmHWM of the backend process (PID 1 in its container), read after the import and "
                 "reset (clear_refs) before it, so it is that run's peak; idle_rss_mib is VmRSS before the import"),
        "dry_run": summary(dry_runs),
        "import": real,
    }
    return write_report(args.out, report)


if __name__ == "__main__":
    sys.exit(main())
