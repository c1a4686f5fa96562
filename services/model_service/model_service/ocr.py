"""Text in frame: OCR on sampled frames, the same text joined over time into tracks.

The model is the registry's `ocr` model (configs/models.yaml; default PaddleOCR's PP-OCRv4 detection + recognition
with the mobile orientation classifier, as ONNX in the rapidocr-onnxruntime wheel), run by RapidOCR's own pre- and
post-processing on ONNX Runtime, CPU only (PyPI's onnxruntime has no CUDA provider; the GPU image runs it on its
CPU too). It loads once, on first use, from the model cache's folder, never from the package's own copy, so an
operator can put other PP-OCR ONNX files there.

Each sampled frame gives boxes with the recognised string and its score; strings below `min_confidence` are
dropped. Joining reuses the detection tracks' association (typing_map.associate): the recognised string plays the
class, so a track is the same text in boxes that overlap from one sample to the next (a text may go unread for
`max_gap_samples` samples, a blurred frame, and still be one track), and a track ends with an `outside` keyframe at
the first sample it was missing. Progress: frames done / total, checked for a cancel at every frame.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from model_service.models import ModelRegistry, ModelUnavailable
from model_service.typing_map import Box, Detection, associate
from model_service.video import FrameSelection, probe, read_frames

Progress = Callable[..., None]  # progress(fraction, frames_done=…, frames_total=…, stage=…)
TEXT_TYPE = "text"  # the annotation type text tracks carry (the backend stores them under it)
MAX_TEXT = 500  # the backend's label limit: longer strings (a paragraph read as one line) are cut
# The three ONNX files of a PP-OCR folder, found by the names PaddleOCR and RapidOCR give them.
PARTS = {"det": "*det*.onnx", "rec": "*rec*.onnx", "cls": "*cls*.onnx"}


def no_progress(_: float, **__: Any) -> None:
    return None


class ReadTextParams(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: str | None = Field(None, description="an ocr model of the catalog; default ocr.model")
    persona_id: str | None = None
    frames_per_second: float | None = Field(None, gt=0, description="default: the ocr section's")
    sample_every: int | None = Field(None, ge=1, description="every n-th frame (wins over frames_per_second)")
    min_confidence: float | None = Field(None, ge=0, le=1, description="default: the ocr section's")


def model_files(folder: Path) -> dict[str, Path]:
    """The det/rec/cls ONNX files of a PP-OCR folder, or ModelUnavailable naming what is missing or ambiguous."""
    found: dict[str, Path] = {}
    for part, pattern in PARTS.items():
        matches = sorted(folder.glob(pattern))
        if len(matches) != 1:
            raise ModelUnavailable(f"{folder}: want exactly one {pattern} (the {part} model), found "
                                   f"{len(matches)}: {', '.join(m.name for m in matches) or 'none'}")
        found[part] = matches[0]
    return found


def normalise(text: str) -> str:
    """One line, single spaces, at most MAX_TEXT characters: how a string is stored and compared."""
    return " ".join(text.split())[:MAX_TEXT]


class TextReader:
    """One loaded RapidOCR pipeline. Calls are serialised: its ONNX sessions are shared and its post-processing
    keeps per-call state on the object."""

    def __init__(self, entry: Any, folder: Path) -> None:
        from rapidocr_onnxruntime import RapidOCR

        files = model_files(folder)
        threads = os.cpu_count() or 1
        self.entry = entry
        self.lock = threading.Lock()
        # text_score 0: every string comes back with its score, and the job's min_confidence filters.
        self.engine = RapidOCR(det_model_path=str(files["det"]), rec_model_path=str(files["rec"]),
                               cls_model_path=str(files["cls"]), text_score=0.0, intra_op_num_threads=threads,
                               inter_op_num_threads=1)

    def read(self, frame: Any, min_confidence: float = 0.0, max_side: int | None = None) -> list[Detection]:
        """The strings in one BGR frame: boxes normalised to 0..1 (top-left origin), best-read first."""
        height, width = frame.shape[:2]
        image = _shrunk(frame, max_side) if max_side else frame
        scale_x, scale_y = width / image.shape[1], height / image.shape[0]
        with self.lock:
            found, _ = self.engine(image)
        out: list[Detection] = []
        for polygon, text, score in found or []:
            string = normalise(str(text))
            if not string or float(score) < min_confidence:
                continue
            xs = [float(p[0]) * scale_x for p in polygon]
            ys = [float(p[1]) * scale_y for p in polygon]
            x0, y0 = max(0.0, min(xs)) / width, max(0.0, min(ys)) / height
            x1, y1 = min(float(width), max(xs)) / width, min(float(height), max(ys)) / height
            if x1 <= x0 or y1 <= y0:
                continue
            out.append(Detection(string, round(float(score), 4), Box(x0, y0, x1 - x0, y1 - y0)))
        return sorted(out, key=lambda d: -d.confidence)


def _shrunk(frame: Any, max_side: int) -> Any:
    import cv2

    height, width = frame.shape[:2]
    longest = max(height, width)
    if longest <= max_side:
        return frame
    scale = max_side / longest
    return cv2.resize(frame, (max(1, round(width * scale)), max(1, round(height * scale))),
                      interpolation=cv2.INTER_AREA)


def read_text(registry: ModelRegistry, video: Path, params: ReadTextParams,
              progress: Progress = no_progress) -> dict[str, Any]:
    config = registry.config.ocr
    progress(0.0, stage="loading model")
    reader = registry.text_reader(params.model)
    info = probe(video)
    rate = params.frames_per_second or config.frames_per_second
    every = params.sample_every or max(1, round(info.fps / rate))
    selection = FrameSelection(sample_every=every)
    total = selection.expected(info)
    min_confidence = config.min_confidence if params.min_confidence is None else params.min_confidence
    _, frames = read_frames(video, selection)
    samples: list[tuple[int, list[Detection]]] = []
    progress(0.0, frames_done=0, frames_total=total, stage="reading text")
    for index, frame in frames:
        samples.append((index, reader.read(frame, min_confidence, config.max_side)))
        progress(min(1.0, len(samples) / total), frames_done=len(samples), frames_total=total, stage="reading text")
    # Every string read is its own "class": associate joins only equal strings whose boxes overlap.
    type_of = {d.label: TEXT_TYPE for _, found in samples for d in found}
    last_frame = info.frame_count - 1 if info.frame_count else None
    tracks = associate(samples, type_of, config.iou_match, config.max_gap_samples, last_frame)
    progress(1.0, frames_done=len(samples), frames_total=total, stage="done")
    return {
        "model": reader.entry.name, "width": info.width, "height": info.height, "fps": round(info.fps, 3),
        "persona_id": params.persona_id, "sample_every": every, "frames_sampled": len(samples),
        "min_confidence": min_confidence, "boxes": sum(len(found) for _, found in samples),
        "tracks": [{**track, "text": track["label"]} for track in tracks],
    }
