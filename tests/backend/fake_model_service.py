"""Stand-ins for `model_service.tasks.*`: same signatures and result shapes as the real workers' contract,
so the backend's enqueue → RQ → job-sync → persistence path is tested without any model."""

from __future__ import annotations

import hashlib
from typing import Any

from rq import get_current_job


def _progress(value: float) -> None:
    job = get_current_job()
    if job is not None:
        job.meta["progress"] = value
        job.save_meta()


def detect(video_id: str, video_path: str, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("classes") == ["explode"]:
        raise RuntimeError("simulated model crash")
    assert video_path.endswith(".mp4") and "confidence" in params and "sample_every" in params
    _progress(0.5)
    box = {"x": 0.1, "y": 0.2, "width": 0.3, "height": 0.4}
    return {
        "model": "fake-yolo", "width": 640, "height": 360, "fps": 25.0,
        "frames": [
            {"frame": 0, "time_s": 0.0, "detections": [{"label": "person", "confidence": 0.9, "box": box},
                                                       {"label": "Fall", "confidence": 0.6, "box": {**box, "x": 0.9, "width": 0.5}}]},
            {"frame": 10, "time_s": 0.4, "detections": [{"label": "person", "confidence": 0.8, "box": box}]},
            {"frame": 20, "time_s": 0.8, "detections": []},
        ],
    }


def track(video_id: str, video_path: str, params: dict[str, Any]) -> dict[str, Any]:
    _progress(0.5)
    return {
        "model": "fake-bytetrack", "width": 640, "height": 360, "fps": 25.0,
        "tracks": [{"track_id": 7, "label": "person", "confidence": 0.85,
                    "frames": [{"frame": 4, "x": 0.5, "y": 0.5, "width": 0.1, "height": 0.2},
                               {"frame": 2, "x": 0.4, "y": 0.5, "width": 0.1, "height": 0.2}]}],
    }


def _embedding(seed: str) -> list[float]:
    digest = hashlib.sha256(seed.encode()).digest()
    return [((digest[i % 32] + i) % 17 - 8) / 8.0 for i in range(384)]


def summarize(video_id: str, video_path: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"summary": {"scene": "street", "params": params}, "text": f"A street scene ({params.get('seed', '')}).",
            "key_frames": [{"frame": 0, "time_s": 0.0}, {"frame": 50, "time_s": 2.0}],
            "embedding": _embedding(str(params.get("seed", video_id)))}


def augment(persona: dict[str, Any], ontology: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    assert persona["name"] and "entityTypes" in ontology
    return {"suggestions": [{"category": "entityTypes", "name": "Wheelchair", "description": "A mobility aid",
                             "confidence": 0.7, "reason": f"relevant to {persona['name']}"}]}


def detect_types(video_id: str, video_path: str, params: dict[str, Any]) -> dict[str, Any]:
    """The typed-detection contract: one bus track typed by whichever type maps 'bus', the rest unmapped."""
    owner = next((t["id"] for t in params["types"] if "bus" in t.get("detectorClasses", [])), None)
    box = {"x": 0.1, "y": 0.2, "width": 0.5, "height": 0.4}
    tracks = [] if owner is None else [{"track_id": 1, "type": owner, "label": "bus", "confidence": 0.9,
                                        "frames": [{"frame": 0, **box}, {"frame": 10, **box, "x": 0.2},
                                                   {"frame": 20, **box, "x": 0.2, "outside": True}]}]
    return {"model": "fake-ssd", "width": 640, "height": 360, "fps": 25.0, "persona_id": params["persona_id"],
            "sample_every": 10, "frames_sampled": 3,
            "mapping": [{"type_id": t["id"], "classes": t.get("detectorClasses", [])} for t in params["types"]],
            "classes_searched": {t["id"]: t.get("detectorClasses", []) for t in params["types"]},
            "tracks": tracks, "unmapped": [{"class": "person", "detections": 4}] + (
                [] if owner else [{"class": "bus", "detections": 2}]), "detections": 6}


def track_box(video_id: str, video_path: str, params: dict[str, Any]) -> dict[str, Any]:
    """The track-this-box contract: keyframes every 5 frames after the start, lost (outside) 15 frames on."""
    start, box = params["start_frame"], params["box"]
    x, y, w, h = box["x"] / 640, box["y"] / 360, box["width"] / 640, box["height"] / 360
    frames = [{"frame": start + n, "x": min(x + 0.01 * n, 1 - w), "y": y, "width": w, "height": h, "confidence": 0.8}
              for n in (5, 10)]
    frames.append({**frames[-1], "frame": start + 15, "confidence": 0.1, "outside": True})
    return {"model": "fake-csrt", "width": 640, "height": 360, "fps": 25.0, "start_frame": start, "frames": frames,
            "lost_at": start + 15, "frames_tracked": 15}


def read_text(video_id: str, video_path: str, params: dict[str, Any]) -> dict[str, Any]:
    """The text-in-frame contract: a sign read at frames 0 and 10 and gone at 20, and a line read at 0 and 30."""
    sign = {"x": 0.1, "y": 0.2, "width": 0.3, "height": 0.1}
    line = {"x": 0.1, "y": 0.6, "width": 0.5, "height": 0.1}
    tracks = [{"track_id": 1, "type": "text", "label": "EXIT 42", "text": "EXIT 42", "confidence": 0.95,
               "frames": [{"frame": 0, **sign}, {"frame": 10, **sign}, {"frame": 20, **sign, "outside": True}]},
              {"track_id": 2, "type": "text", "label": "cero emisiones", "text": "cero emisiones", "confidence": 0.9,
               "frames": [{"frame": 0, **line}, {"frame": 30, **line, "x": 0.2}]}]
    return {"model": "fake-ocr", "width": 640, "height": 360, "fps": 25.0, "persona_id": params.get("persona_id"),
            "sample_every": 10, "frames_sampled": 4, "min_confidence": params.get("min_confidence") or 0.6, "boxes": 6,
            "tracks": tracks}
