"""Detection, tracking and summaries over one video: shared by the HTTP API and the queue jobs.

Every function takes a resolved path (see paths.py), plain parameters and a progress callback (0..1), and
returns the JSON-able result shapes the backend persists. Boxes are normalised to 0..1, top-left origin.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from model_service.models import ModelRegistry
from model_service.summary import ManualTrack, PersonaRef, TranscriptQuote
from model_service.typing_map import TypeSpec
from model_service.telemetry import METRICS
from model_service.video import FrameSelection, VideoInfo, batched, probe, read_frames

log = logging.getLogger(__name__)

Progress = Callable[..., None]  # progress(fraction, frames_done=…, frames_total=…, stage=…)


def no_progress(_: float, **__: Any) -> None:
    return None


class FrameParams(BaseModel):
    """detect/track job params (extra keys from the backend are ignored, not refused)."""

    model_config = ConfigDict(extra="ignore")
    confidence: float = Field(0.25, ge=0.0, le=1.0)
    frames: list[int] | None = Field(None, description="explicit frame numbers (0-based)")
    sample_every: int | None = Field(None, ge=1, description="every n-th frame; default every frame")
    classes: list[str] | None = Field(None, description="labels to keep ('person') or the model's class names")

    def selection(self) -> FrameSelection:
        if self.frames is not None:
            return FrameSelection(frames=tuple(sorted({f for f in self.frames if f >= 0})))
        return FrameSelection(sample_every=self.sample_every)


def _clip(value: float) -> float:
    return round(min(1.0, max(0.0, float(value))), 6)


def _box(xyxyn: Any) -> dict[str, float]:
    x1, y1, x2, y2 = (_clip(v) for v in xyxyn)
    return {"x": x1, "y": y1, "width": round(x2 - x1, 6), "height": round(y2 - y1, 6)}


def _video_header(model_name: str, info: VideoInfo) -> dict[str, Any]:
    return {"model": model_name, "width": info.width, "height": info.height, "fps": round(info.fps, 3)}


def _model_name(weights: str) -> str:
    return Path(weights).stem


class _Reporter:
    """Progress in steps of >= 2 %: every save is a Redis round trip."""

    def __init__(self, progress: Progress, total: int, stage: str, start: float = 0.0, end: float = 1.0) -> None:
        self.progress, self.total, self.stage, self.start, self.end = progress, max(1, total), stage, start, end
        self.done = 0
        self.last = -1.0

    def advance(self, count: int) -> None:
        self.done += count
        value = self.start + (self.end - self.start) * min(1.0, self.done / self.total)
        if value - self.last >= 0.02 or value >= self.end:
            self.last = value
            self.progress(round(value, 4), frames_done=self.done, frames_total=self.total, stage=self.stage)


def _loading(progress: Progress) -> Callable[[], None]:
    return lambda: progress(0.0, stage="loading model")


def detect(registry: ModelRegistry, video: Path, params: FrameParams, progress: Progress = no_progress) -> dict:
    registry.require(("detector",), _loading(progress))
    config = registry.config.detector
    model = registry.detector
    classes = registry.class_ids(model, params.classes)
    if classes == []:  # a filter that matches none of the model's classes: nothing to decode or find
        progress(1.0)
        return {**_video_header(_model_name(config.weights), probe(video)), "frames": []}
    info, frames = read_frames(video, params.selection())
    result = _video_header(_model_name(config.weights), info)
    result["frames"] = out = []
    reporter = _Reporter(progress, params.selection().expected(info), "detecting")
    for batch in batched(frames, config.batch):
        with registry.detector_lock, METRICS.inference("detect", str(registry.device), len(batch)):
            predictions = model.predict(
                [frame for _, frame in batch], imgsz=config.imgsz, conf=params.confidence, classes=classes,
                device=registry.device, half=registry.half, verbose=False,
            )
        for (index, _), prediction in zip(batch, predictions):
            boxes = prediction.boxes
            detections = [
                {"label": registry.label(model, cls), "confidence": round(float(conf), 4), "box": _box(xyxyn)}
                for xyxyn, conf, cls in zip(boxes.xyxyn.tolist(), boxes.conf.tolist(), boxes.cls.tolist())
            ]
            out.append({"frame": index, "time_s": round(index / info.fps, 4), "detections": detections})
        reporter.advance(len(batch))
    progress(1.0)
    return result


def track(registry: ModelRegistry, video: Path, params: FrameParams, progress: Progress = no_progress,
          *, end: float = 1.0) -> dict:
    """ByteTrack through ultralytics over the selected frames, one frame at a time (the tracker needs order)."""
    registry.require(("tracker",), _loading(progress))
    config = registry.config
    model = registry.tracker
    classes = registry.class_ids(model, params.classes)
    weights = config.tracker.weights or config.detector.weights
    if classes == []:
        progress(end)
        return {**_video_header(_model_name(weights), probe(video)), "tracks": []}
    info, frames = read_frames(video, params.selection())
    result = _video_header(_model_name(weights), info)
    tracks: dict[int, dict[str, Any]] = {}
    labels: dict[int, Counter[str]] = defaultdict(Counter)
    confidences: dict[int, list[float]] = defaultdict(list)
    reporter = _Reporter(progress, params.selection().expected(info), "tracking", end=end)
    # The lock covers the whole video: the tracker's state belongs to one video at a time.
    with registry.tracker_lock:
        first = True
        for index, frame in frames:
            # persist=False on the first frame makes ultralytics build fresh trackers: ids restart per video.
            # ByteTrack associates low-score boxes too (its second pass): feed it down to 0.1 and drop
            # tracks that never reach the asked confidence below.
            with METRICS.inference("track", str(registry.device), 1):
                prediction = model.track(
                    frame, persist=not first, tracker=config.tracker.tracker, imgsz=config.detector.imgsz,
                    conf=min(0.1, params.confidence), classes=classes, device=registry.device, half=registry.half,
                    verbose=False,
                )[0]
            first = False
            boxes = prediction.boxes
            if boxes is not None and boxes.id is not None:
                for track_id, xyxyn, conf, cls in zip(boxes.id.tolist(), boxes.xyxyn.tolist(),
                                                      boxes.conf.tolist(), boxes.cls.tolist()):
                    tid = int(track_id)
                    entry = tracks.setdefault(tid, {"track_id": tid, "frames": []})
                    entry["frames"].append({"frame": index, **_box(xyxyn)})
                    labels[tid][registry.label(model, cls)] += 1
                    confidences[tid].append(float(conf))
            reporter.advance(1)
    for tid, entry in tracks.items():
        entry["label"] = labels[tid].most_common(1)[0][0]
        entry["confidence"] = round(sum(confidences[tid]) / len(confidences[tid]), 4)
    result["tracks"] = [
        {"track_id": t["track_id"], "label": t["label"], "confidence": t["confidence"], "frames": t["frames"]}
        for t in sorted(tracks.values(), key=lambda t: t["track_id"])
        if max(confidences[t["track_id"]]) >= params.confidence
    ]
    progress(end)
    return result


class SummarizeParams(FrameParams):
    frames_per_second: float | None = Field(None, gt=0, description="sampling rate; default from models.yaml")
    # For a persona (the backend sends all three): the summary is built from its types' evidence.
    persona: PersonaRef | None = None
    types: list[TypeSpec] | None = None
    manual_tracks: list[ManualTrack] = Field(default_factory=list)
    transcript: list[TranscriptQuote] = Field(default_factory=list, description="the video's transcript segments")
    screen_text: list[TranscriptQuote] = Field(default_factory=list, description="the video's text tracks (OCR)")
    model: str | None = Field(None, description="the detection model for a persona's summary")


def summarize(registry: ModelRegistry, video: Path, params: SummarizeParams,
              progress: Progress = no_progress) -> dict:
    """Sample, detect and track, then a structured summary, a short text and its 384-dim embedding. With a
    persona: typed detection of its entity types plus the annotators' own tracks (summary.persona_summary)."""
    from model_service.summary import build_summary, llm_text, with_prose

    config = registry.config.summarizer
    if params.persona is not None and params.types is not None:
        return _summarize_for_persona(registry, video, params, progress)
    info = probe(video)
    if params.frames is None and params.sample_every is None:
        rate = params.frames_per_second or config.frames_per_second
        params = params.model_copy(update={"sample_every": max(1, round(info.fps / rate))})
    tracked = track(registry, video, params, progress, end=0.9)
    summary, text, key_frames = build_summary(tracked, info, params.sample_every or 1, config.max_key_frames)
    summary["built_from"] = {"detector": summary["model"], "frames_sampled": summary["video"]["frames_sampled"],
                             "annotator_tracks": 0}
    written = with_prose(summary, text, llm_text(config, {k: summary[k] for k in ("video", "objects")}))
    progress(0.95)
    # The embedding is of the evidence text, as a persona's summary's is.
    embedding = registry.embed([text])[0]
    progress(1.0)
    return {"summary": summary, "text": written, "key_frames": key_frames, "embedding": embedding}


def _summarize_for_persona(registry: ModelRegistry, video: Path, params: SummarizeParams,
                           progress: Progress) -> dict:
    from model_service.summary import PERSONA_PROMPT, llm_text, persona_facts, persona_summary, relevant_quotes, with_prose
    from model_service.typed import TypedDetectParams, detect_types

    assert params.persona is not None and params.types is not None
    detected = detect_types(registry, video, TypedDetectParams(
        model=params.model, persona_id=params.persona.id, types=params.types,
        frames_per_second=params.frames_per_second or registry.config.general_detection.frames_per_second,
        sample_every=params.sample_every), progress, end=0.9)
    info = probe(video)
    names = {t.id: t.name or t.id for t in params.types}
    quotes = relevant_quotes(registry.embed, params.persona, names, params.transcript)
    shown = relevant_quotes(registry.embed, params.persona, names, params.screen_text)
    summary, text, key_frames = persona_summary(detected, info, params.persona, names, params.manual_tracks,
                                                registry.config.summarizer.max_key_frames, quotes,
                                                len(params.transcript), shown, len(params.screen_text))
    written = with_prose(summary, text, llm_text(registry.config.summarizer, persona_facts(summary), PERSONA_PROMPT))
    progress(0.95)
    # The embedding is of the evidence text (types, classes, times), so similar evidence ranks close.
    embedding = registry.embed([text])[0]
    progress(1.0)
    return {"summary": summary, "text": written, "key_frames": key_frames, "embedding": embedding}
