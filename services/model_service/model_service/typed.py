"""Jobs steered by a persona's ontology: detection typed by its entity types, and "track this box".

The backend sends the persona's entity types with each job (their `detectorClasses` when the ontology has them);
results carry the persona, the type of every track, the classes each type searched, and the classes seen that no
type maps to. Progress reports frames done / total and the stage ("loading model", "detecting", "tracking").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from model_service.config import GeneralDetectionConfig
from model_service.detectors import ClassSourcedDetector, Detector
from model_service.models import ModelRegistry
from model_service.typing_map import (Detection, TypeSpec, associate, class_to_type, propose,
                                      unmapped_counts)
from model_service.video import FrameSelection, probe, read_frames

# progress(fraction 0..1, frames_done=…, frames_total=…, stage=…); the queue's version also checks for a cancel.
Progress = Callable[..., None]


def no_progress(_: float, **__: Any) -> None:
    return None


class TypedDetectParams(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: str | None = Field(None, description="a detection model of the catalog; default general_detection.model")
    persona_id: str | None = None
    types: list[TypeSpec] = Field(default_factory=list, description="the persona's entity types to look for")
    confidence: float | None = Field(None, ge=0, le=1)
    frames_per_second: float | None = Field(None, gt=0)
    sample_every: int | None = Field(None, ge=1)


def sampling(registry: ModelRegistry, fps: float, params: TypedDetectParams) -> int:
    if params.sample_every:
        return params.sample_every
    rate = params.frames_per_second or registry.config.general_detection.frames_per_second
    return max(1, round(fps / rate))


def detect_types(registry: ModelRegistry, video: Path, params: TypedDetectParams,
                 progress: Progress = no_progress, *, end: float = 1.0) -> dict[str, Any]:
    config = registry.config.general_detection
    progress(0.0, stage="loading model")
    base = registry.general_detector(params.model)
    entry = base.entry
    embed = registry.embed
    mappings = propose(params.types, list(entry.classes.values()), embed, config.propose_min_score)
    type_of = class_to_type(mappings)
    detector, sourced = with_class_sources(registry, base, set(type_of))
    info = probe(video)
    every = sampling(registry, info.fps, params)
    selection = FrameSelection(sample_every=every)
    total = selection.expected(info)
    _, frames = read_frames(video, selection)
    samples: list[tuple[int, list[Detection]]] = []  # everything the detector returned (low ones too)
    confidence = config.confidence if params.confidence is None else params.confidence
    # ByteTrack also uses the detector's less sure boxes (to keep tracks through occlusion): ask for them.
    floor = min(confidence, config.bytetrack.low_confidence) if config.association == "bytetrack" else confidence
    progress(0.0, frames_done=0, frames_total=total, stage="detecting")
    for index, frame in frames:
        samples.append((index, detector.detect(frame, floor)))
        progress(end * min(1.0, len(samples) / total), frames_done=len(samples), frames_total=total,
                 stage="detecting")
    last_frame = info.frame_count - 1 if info.frame_count else None
    tracks = join_tracks(samples, type_of, config, confidence, last_frame, info.fps / every)
    # What the job reports as found is what passed the confidence; low boxes only ever extend a track.
    confident = at_least(samples, confidence)
    progress(end, frames_done=len(samples), frames_total=total, stage="done")
    return {
        "model": entry.name, "class_sources": sourced, "width": info.width, "height": info.height, "fps": round(info.fps, 3),
        "persona_id": params.persona_id, "sample_every": every, "frames_sampled": len(samples),
        "mapping": [m.model_dump() for m in mappings],
        "classes_searched": {m.type_id: [c.name for c in m.classes] for m in mappings},
        "tracks": tracks,
        "unmapped": unmapped_counts(confident, type_of),
        "detections": sum(len(d) for _, d in confident),
    }


def with_class_sources(registry: ModelRegistry, base: Detector, wanted: set[str]) -> tuple[Detector, dict[str, str]]:
    """On the default model, the classes models.yaml takes from better detectors (persons from the YOLOv8 person
    model), each only when a type wants it: no model runs that the persona's types do not need. The base always
    runs: it is what finds the classes no type maps ("unmapped"). Returns the detector and class -> model used."""
    config = registry.config.general_detection
    if base.entry.name != config.model:
        return base, {}
    used = {name: source for name, source in config.class_sources.items() if name in wanted}
    if not used:
        return base, {}
    sources = [(registry.general_detector(source.model), dict.fromkeys(source.classes, name))
               for name, source in used.items()]
    return ClassSourcedDetector(base, sources), {name: source.model for name, source in used.items()}


def at_least(samples: list[tuple[int, list[Detection]]], confidence: float) -> list[tuple[int, list[Detection]]]:
    return [(index, [d for d in found if d.confidence >= confidence]) for index, found in samples]


def join_tracks(samples: list[tuple[int, list[Detection]]], type_of: dict[str, str], config: GeneralDetectionConfig,
                confidence: float, last_frame: int | None, samples_per_second: float) -> list[dict[str, Any]]:
    """Detections across samples -> typed tracks, by the association models.yaml chooses."""
    if config.association == "greedy":
        return associate(at_least(samples, confidence), type_of, config.iou_match, config.max_gap_samples,
                         last_frame)
    # scipy.optimize takes a while to import: with the first job, not while the service gets ready.
    from model_service.bytetrack import ByteTrackSettings, bytetrack

    settings = ByteTrackSettings(high_confidence=confidence,
                                 low_confidence=min(confidence, config.bytetrack.low_confidence),
                                 match_iou=config.bytetrack.match_iou, low_match_iou=config.bytetrack.low_match_iou,
                                 confirm_buffer=config.bytetrack.confirm_buffer,
                                 lost_buffer_samples=math.ceil(config.bytetrack.lost_buffer_s * samples_per_second))
    return bytetrack(samples, type_of, settings, last_frame)


# --- track this box ------------------------------------------------------------------------------------
class PixelBox(BaseModel):
    x: float = Field(ge=0)
    y: float = Field(ge=0)
    width: float = Field(gt=0)
    height: float = Field(gt=0)


class TrackBoxParams(BaseModel):
    model_config = ConfigDict(extra="ignore")
    start_frame: int = Field(ge=0)
    box: PixelBox
    end_frame: int | None = Field(None, ge=0, description="stop here at the latest")
    keyframe_every: int | None = Field(None, ge=1)
    model: str | None = None


def _tracker(cv2: Any, name: str) -> Any:
    """OpenCV's trackers moved between cv2, cv2.legacy and Class.create() across 4.x; take what this build has."""
    kind = {"opencv-csrt": "CSRT", "opencv-kcf": "KCF", "opencv-mil": "MIL"}.get(name, "CSRT")
    for factory in (getattr(cv2, f"Tracker{kind}_create", None),
                    getattr(getattr(cv2, f"Tracker{kind}", None), "create", None),
                    getattr(getattr(cv2, "legacy", None), f"Tracker{kind}_create", None)):
        if factory is not None:
            return factory()
    return cv2.TrackerMIL_create()  # in OpenCV's main video module: always there


def _patch(cv2: Any, frame: Any, box: tuple[int, int, int, int]) -> Any:
    x, y, w, h = box
    height, width = frame.shape[:2]
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(width, x + w), min(height, y + h)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    gray = cv2.cvtColor(frame[y0:y1, x0:x1], cv2.COLOR_BGR2GRAY)
    return cv2.resize(gray, (32, 32)).astype("float32")


def _similarity(a: Any, b: Any) -> float:
    """Normalised cross-correlation of two 32x32 patches, clamped to 0..1: the tracker's confidence."""
    if a is None or b is None:
        return 0.0
    a0, b0 = a - a.mean(), b - b.mean()
    norm = math.sqrt(float((a0 * a0).sum()) * float((b0 * b0).sum()))
    return max(0.0, min(1.0, float((a0 * b0).sum()) / norm)) if norm else 0.0


def track_box(registry: ModelRegistry, video: Path, params: TrackBoxParams,
              progress: Progress = no_progress) -> dict[str, Any]:
    """Follow one box forward from `start_frame`: a keyframe every N frames with its confidence (appearance
    similarity to the first frame's box), and at the first frame the tracker fails or the confidence drops below
    `lost_below`, one keyframe marked outside, and stop."""
    import cv2

    config = registry.config.box_tracking
    entry = registry.catalog_entry(params.model, "box-tracking")
    every = params.keyframe_every or config.keyframe_every
    info = probe(video)
    last = info.frame_count - 1 if info.frame_count else params.start_frame + config.max_frames
    end = min(last, params.end_frame if params.end_frame is not None else last,
              params.start_frame + config.max_frames)
    if end <= params.start_frame:
        progress(1.0, frames_done=0, frames_total=0, stage="done")
        return {"model": entry.name, "width": info.width, "height": info.height, "fps": round(info.fps, 3),
                "start_frame": params.start_frame, "frames": [], "lost_at": None, "frames_tracked": 0}
    total = end - params.start_frame
    _, frames = read_frames(video, FrameSelection(frames=tuple(range(params.start_frame, end + 1))))
    tracker = None
    template = None
    out: list[dict[str, Any]] = []
    lost_at: int | None = None
    done = 0
    previous: tuple[int, tuple[int, int, int, int], float] | None = None
    progress(0.0, frames_done=0, frames_total=total, stage="tracking")
    for index, frame in frames:
        if tracker is None:
            start = (int(round(params.box.x)), int(round(params.box.y)), max(1, int(round(params.box.width))),
                     max(1, int(round(params.box.height))))
            tracker = _tracker(cv2, entry.name)
            tracker.init(frame, start)
            template = _patch(cv2, frame, start)
            continue
        ok, found = tracker.update(frame)
        box = tuple(int(round(v)) for v in found) if ok else None
        confidence = _similarity(template, _patch(cv2, frame, box)) if box else 0.0
        done += 1
        if box is None or confidence < config.lost_below:
            lost_at = index
            where = previous[1] if previous else (int(params.box.x), int(params.box.y), int(params.box.width),
                                                  int(params.box.height))
            out.append(_keyframe(index, where, info, confidence, outside=True))
            break
        previous = (index, box, confidence)
        if (index - params.start_frame) % every == 0 or index == end:
            out.append(_keyframe(index, box, info, confidence))
        progress(done / total, frames_done=done, frames_total=total, stage="tracking")
    if lost_at is None and previous is not None and (not out or out[-1]["frame"] != previous[0]):
        out.append(_keyframe(previous[0], previous[1], info, previous[2]))
    progress(1.0, frames_done=done, frames_total=total, stage="done")
    return {"model": entry.name, "width": info.width, "height": info.height, "fps": round(info.fps, 3),
            "start_frame": params.start_frame, "frames": out, "lost_at": lost_at, "frames_tracked": done}


def _keyframe(frame: int, box: tuple[int, int, int, int], info: Any, confidence: float, outside: bool = False
              ) -> dict[str, Any]:
    """Normalised, clipped to the frame (the backend turns it back into pixels with the video's size)."""
    x, y, w, h = box
    x0 = min(max(x / info.width, 0.0), 1.0)
    y0 = min(max(y / info.height, 0.0), 1.0)
    keyframe = {"frame": frame, "x": round(x0, 6), "y": round(y0, 6),
                "width": round(min(max(w / info.width, 0.0), 1.0 - x0), 6),
                "height": round(min(max(h / info.height, 0.0), 1.0 - y0), 6), "confidence": round(confidence, 4)}
    if outside:
        keyframe["outside"] = True
    return keyframe
