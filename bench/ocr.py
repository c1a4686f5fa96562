#!/usr/bin/env python3
"""OCR seconds per frame: the service's read-text job (through the RQ queue: decode, RapidOCR PP-OCRv4 on ONNX Runtime,
joining texts into tracks) against raw rapidocr in-process — the same model files, threads and frames inside the same
image (same ONNX Runtime, same OpenCV decode) — on the same clip of drawn text (tests/text_clip.py).

    .venv/bin/python bench/ocr.py [--reps 5] [--seconds 12] [--out bench/results/ocr.json]

Seconds per frame = wall seconds / frames read (lower is faster); the service's includes the queue round trip and the
track joining. service_vs_raw = raw s/frame / service s/frame (target >= 0.9). Methods alternate per repetition;
figures are medians with min-max (never best-of), with the load average before and after: this machine is shared,
so read them with it. The service's first job loads the model (lazy) and is kept out of the figures, as the raw
script's load is.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from redis import Redis
from rq import Queue
from rq.serializers import JSONSerializer

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
import detect as detect_bench  # noqa: E402 - the bench's containers and queue wait (bench/detect.py)
from tests.text_clip import FPS, text_clip_script  # noqa: E402

engine = detect_bench.engine

CLIP = "ocr_bench.mp4"
SAMPLE_EVERY = 5  # 2 frames a second of a 10 fps clip
MIN_CONFIDENCE = 0.6
MODEL_DIR = "/opt/models/ocr/pp-ocrv4"

RAW_SCRIPT = """
import glob, json, os, sys, time
import cv2
from rapidocr_onnxruntime import RapidOCR
folder, video, every, floor = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
one = lambda pattern: glob.glob(os.path.join(folder, pattern))[0]
engine = RapidOCR(det_model_path=one("*det*.onnx"), rec_model_path=one("*rec*.onnx"), cls_model_path=one("*cls*.onnx"),
                  text_score=0.0, intra_op_num_threads=os.cpu_count() or 1, inter_op_num_threads=1)
started = time.perf_counter()
capture = cv2.VideoCapture(video)
index = frames = strings = 0
while capture.grab():
    if index % every == 0:
        ok, frame = capture.retrieve()
        found, _ = engine(frame)
        strings += sum(1 for _, text, score in (found or []) if text.strip() and float(score) >= floor)
        frames += 1
    index += 1
elapsed = time.perf_counter() - started
print(json.dumps({"seconds": elapsed, "frames": frames, "strings": strings}))
"""


def raw_run(container: str) -> dict:
    # The model loads once per exec, outside the timed part, as it stays loaded in the service.
    result = subprocess.run(
        [engine.DOCKER, "exec", "-i", container, "python3", "-", MODEL_DIR, f"/data/videos/{CLIP}", str(SAMPLE_EVERY),
         str(MIN_CONFIDENCE)], input=RAW_SCRIPT, capture_output=True, text=True, timeout=900, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def resident_mb(container: str) -> float:
    """The service process's resident memory (PID 1: the entrypoint execs it), MB."""
    status = engine.docker("exec", container, "cat", "/proc/1/status").stdout
    return round(int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))) / 1024, 1)


def queue_run(redis_url: str) -> dict:
    queue = Queue("object-detection", connection=Redis.from_url(redis_url), serializer=JSONSerializer)
    started = time.perf_counter()
    job = queue.enqueue("model_service.tasks.read_text", "bench", CLIP,
                        {"sample_every": SAMPLE_EVERY, "min_confidence": MIN_CONFIDENCE}, job_timeout=900)
    detect_bench.wait(job, poll=0.02)
    elapsed = time.perf_counter() - started
    result = job.return_value()
    return {"seconds": elapsed, "frames": result["frames_sampled"], "strings": result["boxes"],
            "tracks": len(result["tracks"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=12, help="clip length (10 fps, 640x360)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "ocr.json")
    args = parser.parse_args()

    image = engine.build_image()
    load_before = os.getloadavg()
    with detect_bench.bench_service(image, 10, "fovea-ocrbench") as bench:
        engine.docker("run", "--rm", "--network", "none", "-v", f"{bench.root}:/out", image, "sh", "-c",
                      text_clip_script(f"/out/{CLIP}", args.seconds), timeout=300)
        redis_url = bench.redis_url
        rss_before = resident_mb(bench.names["service"])
        queue_run(redis_url)  # loads the model: kept out of the figures
        rss_loaded = resident_mb(bench.names["service"])
        runs: dict[str, list[dict]] = {"raw": [], "queue": []}
        for rep in range(args.reps):
            for method in runs:
                run = raw_run(bench.names["service"]) if method == "raw" else queue_run(redis_url)
                run["s_per_frame"] = run["seconds"] / run["frames"]
                run = {k: round(v, 4) if isinstance(v, float) else v for k, v in run.items()}
                runs[method].append(run)
                print(f"rep {rep} {method:5s} {run['seconds']:.2f} s for {run['frames']} frames: "
                      f"{run['s_per_frame']:.3f} s/frame, {run['strings']} strings", flush=True)
        median = {m: round(statistics.median(r["s_per_frame"] for r in runs[m]), 4) for m in runs}
        spread = {m: [round(min(r["s_per_frame"] for r in runs[m]), 4), round(max(r["s_per_frame"] for r in runs[m]), 4)]
                  for m in runs}
        report = {
            "benchmark": "bench/ocr.py",
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                        "load_average_before": [round(x, 2) for x in load_before],
                        "load_average_after": [round(x, 2) for x in os.getloadavg()]},
            "image": image,
            "clip": {"name": CLIP, "seconds": args.seconds, "fps": FPS, "size": "640x360",
                     "text": "tests/text_clip.py: a sign for 2.3 s and a drifting line throughout"},
            "settings": {"model": "pp-ocrv4 (rapidocr-onnxruntime 1.4.4, PP-OCRv4 det/rec + mobile v2.0 cls)",
                         "sample_every": SAMPLE_EVERY, "min_confidence": MIN_CONFIDENCE, "threads": "all cores"},
            "s_per_frame_median": median, "s_per_frame_min_max": spread,
            "service_vs_raw": round(median["raw"] / median["queue"], 3),
            "service_rss_mb": {"before_first_job": rss_before, "after_first_job": rss_loaded,
                               "after_runs": resident_mb(bench.names["service"])},
            "target": "service >= 0.9x raw (raw s/frame / service s/frame)", "runs": runs,
        }
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(json.dumps({k: report[k] for k in ("s_per_frame_median", "s_per_frame_min_max", "service_vs_raw",
                                                 "service_rss_mb")},
                         indent=2))


if __name__ == "__main__":
    main()
