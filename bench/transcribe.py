#!/usr/bin/env python3
"""Transcript real-time factor: the service's transcribe job (through the RQ queue: audio decode, Whisper tiny.en on
faster-whisper/CTranslate2 int8 with the VAD, word times) against raw faster-whisper in-process — the same model
files, settings and decode inside the same image (same CTranslate2, same threads) — on the same clip of synthetic
speech (espeak-ng, tests/speech_clip.py), plus the word error rate of what came back against the script.

    .venv/bin/python bench/transcribe.py [--reps 5] [--out bench/results/transcribe.json]

Real-time factor = processing seconds / audio seconds (lower is faster); service_vs_raw = raw seconds / service
seconds (target >= 0.9). Methods alternate per repetition; figures are medians with min-max (never best-of), with
the load average before and after: this machine is shared, so read them with it. The service's first job loads the
model (lazy) and is kept out of the figures, as the raw script's load is.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from redis import Redis
from rq import Queue
from rq.serializers import JSONSerializer

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
import detect as detect_bench  # noqa: E402 - the bench's containers and queue wait (bench/detect.py)
from tests.speech_clip import GAP_S, SPEECH_WPM, make_speech_clip, word_error_rate  # noqa: E402

engine = detect_bench.engine

CLIP = "speech_bench.mp4"
SCRIPT = (
    "The morning bus to the harbour was twenty minutes late.",
    "Police closed the north bridge after a truck lost its load.",
    "Traffic was sent through the old town, past the market and the station.",
    "By noon the bridge was open again and the buses were back on time.",
    "Two people were taken to hospital with minor injuries.",
    "The city council will discuss the closure at its meeting on Thursday.",
)
MODEL_DIR = "/opt/models/speech/whisper-tiny-en"

RAW_SCRIPT = """
import json, os, sys, time
from faster_whisper import WhisperModel
from faster_whisper.audio import decode_audio
model = WhisperModel(sys.argv[1], device="cpu", compute_type="int8", cpu_threads=os.cpu_count() or 1,
                     local_files_only=True)
started = time.perf_counter()
audio = decode_audio(sys.argv[2], sampling_rate=16000)
segments, info = model.transcribe(audio, language="en", beam_size=5, word_timestamps=True, vad_filter=True,
                                  condition_on_previous_text=False)
text = " ".join(s.text.strip() for s in segments)
elapsed = time.perf_counter() - started
print(json.dumps({"seconds": elapsed, "audio_s": len(audio) / 16000, "text": text}))
"""


def raw_run(container: str) -> dict:
    # The model loads once per exec, outside the timed part, as it stays loaded in the service.
    result = subprocess.run(
        [engine.DOCKER, "exec", "-i", container, "python3", "-", MODEL_DIR, f"/data/videos/{CLIP}"],
        input=RAW_SCRIPT, capture_output=True, text=True, timeout=900, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def queue_run(redis_url: str) -> dict:
    queue = Queue("speech-transcription", connection=Redis.from_url(redis_url), serializer=JSONSerializer)
    started = time.perf_counter()
    job = queue.enqueue("model_service.tasks.transcribe", "bench", CLIP, {}, job_timeout=900)
    detect_bench.wait(job, poll=0.02)
    elapsed = time.perf_counter() - started
    result = job.return_value()
    return {"seconds": elapsed, "audio_s": result["duration_s"], "text": result["text"],
            "worker_transcribe_s": result["transcribe_s"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "transcribe.json")
    args = parser.parse_args()

    image = engine.build_image()
    load_before = os.getloadavg()
    with detect_bench.bench_service(image, 10, "fovea-speechbench") as bench:
        with tempfile.TemporaryDirectory(prefix="fovea-speech-") as scratch:
            make_speech_clip(bench.root / CLIP, Path(scratch), SCRIPT)
        (bench.root / CLIP).chmod(0o644)
        redis_url = bench.redis_url
        queue_run(redis_url)  # loads the model: kept out of the figures
        runs: dict[str, list[dict]] = {"raw": [], "queue": []}
        for rep in range(args.reps):
            for method in runs:
                run = raw_run(bench.names["service"]) if method == "raw" else queue_run(redis_url)
                run["rtf"] = run["seconds"] / run["audio_s"]
                run["wer"] = word_error_rate(" ".join(SCRIPT), run.pop("text"))
                run = {k: round(v, 4) if isinstance(v, float) else v for k, v in run.items()}
                runs[method].append(run)
                print(f"rep {rep} {method:5s} {run['seconds']:.2f} s for {run['audio_s']:.1f} s of audio: RTF "
                      f"{run['rtf']:.3f}, WER {run['wer']:.3f}", flush=True)
        median = {m: round(statistics.median(r["rtf"] for r in runs[m]), 4) for m in runs}
        spread = {m: [round(min(r["rtf"] for r in runs[m]), 4), round(max(r["rtf"] for r in runs[m]), 4)] for m in runs}
        report = {
            "benchmark": "bench/transcribe.py",
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                        "load_average_before": [round(x, 2) for x in load_before],
                        "load_average_after": [round(x, 2) for x in os.getloadavg()]},
            "image": image,
            "clip": {"name": CLIP, "audio_s": runs["queue"][0]["audio_s"], "sentences": len(SCRIPT),
                     "words": len(" ".join(SCRIPT).split()), "speech": f"espeak-ng en-us, {SPEECH_WPM} wpm, {GAP_S} s pauses"},
            "settings": {"model": "whisper-tiny-en (faster-whisper 1.2.1, CTranslate2 4.8.5)", "compute_type": "int8",
                         "beam_size": 5, "vad": True, "word_timestamps": True},
            "rtf_median": median, "rtf_min_max": spread,
            "service_vs_raw": round(median["raw"] / median["queue"], 3),
            "wer_median": {m: round(statistics.median(r["wer"] for r in runs[m]), 4) for m in runs},
            "target": "service >= 0.9x raw (raw RTF / service RTF)", "runs": runs,
        }
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(json.dumps({k: report[k] for k in ("rtf_median", "rtf_min_max", "service_vs_raw", "wer_median")}, indent=2))


if __name__ == "__main__":
    main()
