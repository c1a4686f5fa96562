#!/usr/bin/env python3
"""What "suggest types from the persona's own videos" costs: the augment job's seconds and the model-service image's
size, before (the image without WordNet and terms) and after, each image as fovea built it.

    .venv/bin/python bench/suggest_types.py --before fovea/model-service:TAG --after fovea/model-service:TAG \
        [--reps 15] [--out bench/results/suggest_types.json]

The job's own work (model_service.augment.augment) runs in a throwaway container of each image with the same request:
a persona, its ontology, unmapped detections and the words said and shown in its videos (the image before ignores
the words: that is the job it ran). The embedder loads before the timed calls, as the worker preloads it; the first
call after (which, after, also reads WordNet's index, once per worker process) is reported apart. Medians with
min-max (never best-of), and the load average before and after: this machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCKER = shutil.which("docker") or "docker"

REQUEST = {
    "persona": {"name": "Harbour bridge inspector", "informationNeed": "road closures at bridges and traffic in the harbour"},
    "ontology": {"entityTypes": [{"name": "Vehicle", "description": "road vehicles"}]},
    "params": {"evidence": {"bus": {"detections": 12, "videos": 3}, "person": {"detections": 40, "videos": 3}},
               "terms": {w: {"said": n, "said_videos": 1} for w, n in (
                   ("bridge", 4), ("police", 3), ("closed", 3), ("school", 2), ("parked", 2), ("red", 1), ("car", 1),
                   ("depot", 1), ("ferry", 1), ("weather", 1))} | {
                   "HARBOUR": {"shown_videos": 1}, "EXIT": {"shown_videos": 2}, "emisiones": {"shown_videos": 1}}},
}

SCRIPT = """
import json, sys, time
from model_service.augment import AugmentParams, augment
from model_service.tasks import _models
reps, request = int(sys.argv[1]), json.loads(sys.stdin.read())
models = _models("embedder")
models.embed(["warm up"])
def once():
    started = time.perf_counter()
    result = augment(models, request["persona"], request["ontology"], AugmentParams.model_validate(request["params"]))
    return time.perf_counter() - started, result
first, result = once()
times = [once()[0] for _ in range(reps)]
print(json.dumps({"first_s": first, "times_s": times, "suggestions": result["suggestions"]}))
"""


def run(image: str, reps: int) -> dict:
    done = subprocess.run([DOCKER, "run", "--rm", "-i", "--network", "none", "-v",
                           f"{ROOT / 'configs' / 'models.yaml'}:/etc/fovea/models.yaml:ro", image,
                           "python3", "-c", SCRIPT, str(reps)],
                          input=json.dumps(REQUEST), capture_output=True, text=True, timeout=900, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def size_mb(image: str) -> float:
    out = subprocess.run([DOCKER, "image", "inspect", "--format", "{{.Size}}", image], capture_output=True, text=True,
                         check=True).stdout
    return round(int(out) / 1e6, 1)


def summary(values: list[float]) -> dict:
    ordered = sorted(values)
    middle = len(ordered) // 2
    median = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    return {"median_ms": round(median * 1000, 1), "min_ms": round(ordered[0] * 1000, 1),
            "max_ms": round(ordered[-1] * 1000, 1), "n": len(ordered)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True)
    parser.add_argument("--after", required=True)
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "suggest_types.json")
    args = parser.parse_args()
    load_before = os.getloadavg()
    results = {}
    for name, image in (("before", args.before), ("after", args.after)):
        measured = run(image, args.reps)
        results[name] = {"image": image, "image_mb": size_mb(image), "first_call_ms": round(measured["first_s"] * 1000, 1),
                         "augment": summary(measured["times_s"]),
                         "suggestions": [f"{s['name']}: {s.get('evidence') or s['reason']}"
                                         for s in measured["suggestions"]]}
    report = {"bench": "suggest_types", "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
              "load_before": [round(x, 2) for x in load_before], "load_after": [round(x, 2) for x in os.getloadavg()],
              "image_added_mb": round(results["after"]["image_mb"] - results["before"]["image_mb"], 1), **results}
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
