#!/usr/bin/env python3
"""Persona summary wall time with and without the stack's language model: the summarize job through the RQ queue
(typed detection, tracks, quotes, the evidence template, its embedding) on a generated clip, by the model-service
alone (the template writes the text) and by the model-service pointed at the `llm` service (llama.cpp's server with
SmolLM2-135M-Instruct Q4_1, FOVEA_LLM=1) which writes the prose; plus the llm image's size and, with --cold-build,
its build time without layer cache.

    .venv/bin/python bench/llm_summary.py [--reps 3] [--seconds 30] [--cold-build] [--out bench/results/llm_summary.json]

(`--seconds 60 --reps 2 --out bench/results/llm_summary_60s.json`: the issue's 60 s clip.)

Both phases use the same image, clip and persona. They run one after the other (the model-service reads its endpoint
at start, so each phase has its own service container; two at once would share the two cores): figures are medians
with min-max per phase, with the load average before and after each. Each phase's first job loads the models and is
kept out of the figures. llm_s_per_summary = the difference of the medians: the time the model adds.
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
from fovea_ctl.images import build_missing, ensure_base  # noqa: E402
from fovea_ctl.reconcile.project import Project  # noqa: E402
from fovea_ctl.settings.effective import Settings  # noqa: E402
from fovea_ctl.probes.kinds import HTTP_GET_2XX  # noqa: E402
from stack.fovea_stack import LLM_MODEL, LLM_PORT, llm_env, llm_service  # noqa: E402

engine = detect_bench.engine

FPS = 10  # bench/detect.py's clip: a 1280x720 zoom over ultralytics' zidane.jpg (two people, a tie)
PERSONA = {"id": "bench", "name": "Match analyst", "role": "sports desk",
           "informationNeed": "who is on the pitch side and when they are in view"}
TYPES = [{"id": "person", "name": "Person", "description": "a human being", "detectorClasses": ["person"]},
         {"id": "vehicle", "name": "Vehicle", "description": "a road vehicle", "detectorClasses": ["car", "bus", "truck"]}]


def llm_image() -> tuple[str, float | None]:
    """The stack's own llm image (built by fovea when its content-hash tag is missing) and its build seconds."""
    project = Project(Settings(root=ROOT, project="fovea-llmbench", llm=True))
    ensure_base(project.settings, project.engine)
    image = project.resolver().resolve(project.stack.units["llm"])
    if not image.missing:
        return image.ref, None
    started = time.perf_counter()
    build_missing(project.settings, project.engine, [image])
    return image.ref, round(time.perf_counter() - started, 1)


def cold_build() -> float:
    """`fovea images build --no-cache llm`: apt from the mirror and the layers from scratch (the weight wheel is
    already in the context's wheelhouse, as on any machine after its first build; the base image is present)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "fovea_ctl", "images", "build", "--no-cache", "llm"], cwd=ROOT, check=True,
                   env={**os.environ, "FOVEA_ROOT": str(ROOT), "FOVEA_LLM": "1", "FOVEA_PROJECT": "fovea-llmbench"})
    return round(time.perf_counter() - started, 1)


def start_llm(image: str, network: str, name: str) -> None:
    """The stack's llm service as `fovea up` runs it (same command), reachable as http://llm:PORT on the network."""
    service = llm_service(enabled=True)
    env = [arg for key, value in service.env.items() for arg in ("-e", f"{key}={value}")]
    engine.docker("run", "-d", "--name", name, "--network", network, "--network-alias", "llm", "--cpus", "2", *env,
                  image, *service.command)
    deadline = time.monotonic() + 120
    while engine.docker("exec", name, *HTTP_GET_2XX, str(LLM_PORT), "/health", "", "", "", check=False).returncode:
        assert time.monotonic() < deadline, "llm: /health not 200 after 120 s"
        time.sleep(0.5)


def summarise(redis_url: str, clip: str) -> dict:
    queue = Queue("video-summarization", connection=Redis.from_url(redis_url), serializer=JSONSerializer)
    started = time.perf_counter()
    job = queue.enqueue("model_service.tasks.summarize", "bench", clip,
                        {"persona": PERSONA, "types": TYPES, "frames_per_second": 2}, job_timeout=900)
    detect_bench.wait(job, poll=0.05)
    elapsed = time.perf_counter() - started
    result = job.return_value()
    built = result["summary"]["built_from"]
    return {"seconds": round(elapsed, 3), "text_by": built["text"], "fallback": built.get("text_fallback"),
            "frames_sampled": built["frames_sampled"], "text": result["text"]}


def phase(image: str, frames: int, reps: int, llm: str | None) -> dict:
    load_before = os.getloadavg()
    env = llm_env(Settings(root=ROOT, llm=True)) if llm else None
    with detect_bench.bench_service(image, frames, "fovea-llmbench", env) as bench:
        llm_name = bench.names["net"].replace("-net", "-llm")
        try:
            if llm:
                start_llm(llm, bench.names["net"], llm_name)
            warm = summarise(bench.redis_url, detect_bench.BENCH_VIDEO)  # loads the detector and embedder
            runs = [summarise(bench.redis_url, detect_bench.BENCH_VIDEO) for _ in range(reps)]
        finally:
            engine.docker("rm", "-f", llm_name, check=False)
    for run in runs:
        print(f"{'llm' if llm else 'template'}: {run['seconds']:.2f} s, text by {run['text_by']}", flush=True)
    seconds = [r["seconds"] for r in runs]
    return {"median_s": round(statistics.median(seconds), 2), "min_max_s": [min(seconds), max(seconds)],
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()], "first_job_s": warm["seconds"], "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=30, help="clip length (10 fps, 1280x720)")
    parser.add_argument("--cold-build", action="store_true", help="also time a no-cache build of the llm image")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "llm_summary.json")
    args = parser.parse_args()

    image = engine.build_image()
    llm, built_s = llm_image()
    cold_s = cold_build() if args.cold_build else None
    size_mb = round(int(engine.docker("image", "inspect", "-f", "{{.Size}}", llm).stdout.strip()) / 1e6, 1)
    frames = args.seconds * FPS
    template = phase(image, frames, args.reps, None)
    written = phase(image, frames, args.reps, llm)
    assert all(r["text_by"] == "template" for r in template["runs"]), template["runs"]
    # Written either way, so a long run's template figures survive an llm phase that fell back (its runs say why).
    llm_wrote = all(r["text_by"] == f"llm {LLM_MODEL}" for r in written["runs"])
    report = {
        "benchmark": "bench/llm_summary.py",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "images": {"model_service": image, "llm": llm, "llm_size_mb": size_mb, "llm_build_s_when_missing": built_s,
                   "llm_cold_build_s": cold_s},
        "clip": {"seconds": args.seconds, "fps": FPS, "size": "1280x720", "made_by": "bench/detect.py make_video"},
        "settings": {"persona": PERSONA, "types": [t["name"] for t in TYPES], "frames_per_second": 2,
                     "llm": f"{LLM_MODEL} (llama.cpp server, 2 threads, 1 slot, max_tokens from configs/models.yaml)"},
        "template": template, "llm": written,
        "llm_s_per_summary": round(written["median_s"] - template["median_s"], 2) if llm_wrote else None,
        "llm_wrote_every_text": llm_wrote,
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    if not llm_wrote:
        fell_back = next(r["fallback"] for r in written["runs"] if r["text_by"] != f"llm {LLM_MODEL}")
        sys.exit(f"the llm phase fell back to the template (see {args.out}): {fell_back}")
    print(json.dumps({"template_median_s": template["median_s"], "template_min_max_s": template["min_max_s"],
                      "llm_median_s": written["median_s"], "llm_min_max_s": written["min_max_s"],
                      "llm_size_mb": size_mb, "llm_cold_build_s": cold_s}, indent=2))


if __name__ == "__main__":
    main()
