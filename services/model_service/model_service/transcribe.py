"""Speech to text with word times: faster-whisper (CTranslate2) over a video's first audio stream.

The model is the registry's `transcript` model (configs/models.yaml; default Whisper tiny.en, int8 on the CPU),
loaded once on first use and kept. Voice activity detection (faster-whisper's bundled Silero VAD on ONNX
Runtime) skips silence, and faster-whisper maps every time back onto the clip's own timeline.

A clip without an audio stream, or whose audio holds no speech, is a result that says so ("no audio track",
"no speech found"), not an error: the backend stores it like any transcript and the panel shows it.
Progress follows the audio: seconds transcribed / seconds in the clip, checked for a cancel at every segment.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from model_service.models import ModelRegistry

Progress = Callable[..., None]  # progress(fraction, frames_done=…, frames_total=…, stage=…)
SAMPLE_RATE = 16_000  # what Whisper models take
Status = Literal["ok", "no_audio", "no_speech"]
MESSAGES: dict[str, str] = {"no_audio": "no audio track", "no_speech": "no speech found"}


def no_progress(_: float, **__: Any) -> None:
    return None


class TranscribeParams(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: str | None = Field(None, description="a transcript model of the catalog; default transcript.model")
    language: str | None = Field(None, description="default: the transcript section's language")
    vad: bool | None = Field(None, description="default: the transcript section's vad")


class AudioError(Exception):
    """The file's audio could not be read (a damaged stream; a missing one is a result, not this)."""


def has_audio(video: Path) -> bool:
    """Whether the container holds an audio stream (PyAV, on the image's own ffmpeg libraries)."""
    import av

    try:
        with av.open(str(video)) as container:
            return len(container.streams.audio) > 0
    except av.error.FFmpegError as exc:
        raise AudioError(f"{video.name}: ffmpeg cannot open it: {exc}") from exc


def decode_audio(video: Path) -> Any:  # -> numpy float32 mono at SAMPLE_RATE
    from faster_whisper.audio import decode_audio as whisper_decode

    try:
        return whisper_decode(str(video), sampling_rate=SAMPLE_RATE)
    except Exception as exc:  # noqa: BLE001 - PyAV raises several types; all mean the same to the job
        raise AudioError(f"{video.name}: cannot decode its audio: {exc}") from exc


def transcribe(registry: ModelRegistry, video: Path, params: TranscribeParams,
               progress: Progress = no_progress) -> dict[str, Any]:
    config = registry.config.transcript
    progress(0.0, stage="loading model")
    model, entry = registry.speech_model(params.model)
    language = params.language or config.language
    vad = config.vad if params.vad is None else params.vad
    header: dict[str, Any] = {"model": entry.name, "language": language, "vad": vad}
    if not has_audio(video):
        progress(1.0, stage="done")
        return _empty(header, "no_audio", duration=0.0)
    progress(0.0, stage="decoding audio")
    audio = decode_audio(video)
    duration = len(audio) / SAMPLE_RATE
    total = max(1, round(duration))
    started = time.perf_counter()
    segments_iter, info = model.transcribe(
        audio, language=language, beam_size=config.beam_size, word_timestamps=True, vad_filter=vad,
        # Each segment on its own: conditioning on earlier text makes Whisper repeat itself over long silences.
        condition_on_previous_text=False)
    segments: list[dict[str, Any]] = []
    progress(0.0, frames_done=0, frames_total=total, stage="transcribing")
    for segment in segments_iter:  # a generator: decoding happens as it is consumed
        # float(): faster-whisper hands out numpy floats, and the result travels as JSON.
        words = [{"start": round(float(w.start), 3), "end": round(float(w.end), 3), "word": w.word.strip(),
                  "probability": round(float(w.probability), 4)} for w in (segment.words or []) if w.word.strip()]
        if words:
            segments.append({"start": round(float(segment.start), 3), "end": round(float(segment.end), 3),
                             "text": segment.text.strip(), "words": words})
        done = min(total, round(float(segment.end)))
        progress(min(1.0, float(segment.end) / duration) if duration else 1.0, frames_done=done, frames_total=total,
                 stage="transcribing")
    elapsed = time.perf_counter() - started
    speech = getattr(info, "duration_after_vad", None)
    header.update(language=info.language or language, speech_s=round(float(speech), 3) if speech is not None else None,
                  transcribe_s=round(elapsed, 3))
    if not segments:
        progress(1.0, frames_done=total, frames_total=total, stage="done")
        return _empty(header, "no_speech", duration=duration)
    progress(1.0, frames_done=total, frames_total=total, stage="done")
    return {**header, "status": "ok", "message": None, "duration_s": round(duration, 3),
            "text": " ".join(s["text"] for s in segments), "segments": segments}


def _empty(header: dict[str, Any], status: Status, duration: float) -> dict[str, Any]:
    return {**header, "status": status, "message": MESSAGES[status], "duration_s": round(duration, 3),
            "text": "", "segments": []}
