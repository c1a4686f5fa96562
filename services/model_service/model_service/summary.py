"""An honest offline summary: what was detected and tracked, when, how many, and a few key frames.

The text is a template over those facts (it embeds well and never invents anything). When models.yaml
names an OpenAI-compatible endpoint, that endpoint rewrites the text from the same facts; any failure
falls back to the template.
"""

from __future__ import annotations

import json
import logging
import os
from collections import defaultdict
from typing import Any

from model_service.config import SummarizerConfig
from model_service.video import VideoInfo

log = logging.getLogger(__name__)


def _plural(label: str, count: int) -> str:
    if count == 1:
        return label
    if label.endswith("person"):
        return label[: -len("person")] + "people"
    return label + ("es" if label.endswith(("s", "x", "ch", "sh")) else "s")


def _spans(times: list[float], gap: float) -> list[dict[str, float]]:
    """Merge sorted sample times into [start, end] spans, splitting where nothing was seen for > gap."""
    spans: list[dict[str, float]] = []
    for t in times:
        if spans and t - spans[-1]["end_s"] <= gap:
            spans[-1]["end_s"] = t
        else:
            spans.append({"start_s": t, "end_s": t})
    return [{"start_s": round(s["start_s"], 3), "end_s": round(s["end_s"], 3)} for s in spans]


def build_summary(tracked: dict[str, Any], info: VideoInfo, sample_every: int, max_key_frames: int
                  ) -> tuple[dict[str, Any], str, list[dict[str, Any]]]:
    fps = info.fps
    step_s = sample_every / fps
    per_frame: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    label_tracks: dict[str, set[int]] = defaultdict(set)
    for t in tracked["tracks"]:
        label_tracks[t["label"]].add(t["track_id"])
        for f in t["frames"]:
            per_frame[f["frame"]][t["label"]] += 1

    objects = []
    for label in sorted(label_tracks):
        frames = sorted(f for f, counts in per_frame.items() if counts.get(label))
        times = [f / fps for f in frames]
        objects.append({
            "label": label,
            "count": len(label_tracks[label]),
            "max_simultaneous": max(per_frame[f][label] for f in frames),
            "first_seen_s": round(times[0], 3),
            "last_seen_s": round(times[-1], 3),
            "time_spans": _spans(times, gap=2.5 * step_s),
        })

    key = _key_frames(per_frame, fps, max_key_frames)
    summary = {
        "video": {"duration_s": round(info.duration_s, 3), "width": info.width, "height": info.height,
                  "fps": round(fps, 3), "frames_sampled": info.frame_count and -(-info.frame_count // sample_every),
                  "sample_every": sample_every},
        "model": tracked["model"],
        "objects": objects,
        "tracks": [{"track_id": t["track_id"], "label": t["label"], "confidence": t["confidence"],
                    "first_seen_s": round(t["frames"][0]["frame"] / fps, 3),
                    "last_seen_s": round(t["frames"][-1]["frame"] / fps, 3), "observations": len(t["frames"])}
                   for t in tracked["tracks"]],
        "key_frames": key,
    }
    return summary, _text(summary), [{"frame": k["frame"], "time_s": k["time_s"]} for k in key]


def _key_frames(per_frame: dict[int, dict[str, int]], fps: float, limit: int) -> list[dict[str, Any]]:
    """Frames worth showing, most telling first: the busiest, each label's first sighting, the first and
    last frame with anything, then frames where the count changes; kept in time order."""
    if not per_frame or limit <= 0:
        return []
    frames = sorted(per_frame)
    total = {f: sum(per_frame[f].values()) for f in frames}
    reasons: dict[int, str] = {}

    def add(frame: int, reason: str) -> None:
        if frame not in reasons and len(reasons) < limit:
            reasons[frame] = reason

    busiest = max(frames, key=lambda f: (total[f], -f))
    add(busiest, f"most objects at once ({total[busiest]})")
    seen: set[str] = set()
    for f in frames:
        for label in sorted(per_frame[f]):
            if label not in seen:
                seen.add(label)
                add(f, f"first {label}")
    add(frames[0], "first detection")
    add(frames[-1], "last detection")
    for previous, current in zip(frames, frames[1:]):
        if total[current] != total[previous]:
            add(current, f"object count {total[previous]} -> {total[current]}")
    return [{"frame": f, "time_s": round(f / fps, 3), "reason": reasons[f], "objects": dict(per_frame[f])}
            for f in sorted(reasons)]


def _text(summary: dict[str, Any]) -> str:
    video = summary["video"]
    head = f"A {video['duration_s']:.1f} s video ({video['width']}x{video['height']})."
    if not summary["objects"]:
        return head + " No objects were detected."
    parts = []
    for o in summary["objects"]:
        span = f"from {o['first_seen_s']:.1f} s to {o['last_seen_s']:.1f} s"
        together = f", up to {o['max_simultaneous']} at once" if o["max_simultaneous"] > 1 else ""
        parts.append(f"{o['count']} {_plural(o['label'], o['count'])} {span}{together}")
    busiest = max(summary["key_frames"], key=lambda k: sum(k["objects"].values()))
    return (f"{head} Detected " + "; ".join(parts) + ". "
            f"Busiest moment at {busiest['time_s']:.1f} s with {sum(busiest['objects'].values())} objects in view.")


def llm_text(config: SummarizerConfig, summary: dict[str, Any]) -> str | None:
    """The optional OpenAI-compatible rewrite; None when not configured or when it fails."""
    if not config.llm_url:
        return None
    import httpx

    headers = {}
    key_file = os.environ.get("MODEL_LLM_API_KEY_FILE")
    if key_file and os.path.isfile(key_file):
        headers["Authorization"] = "Bearer " + open(key_file).read().strip()
    body = {
        "model": config.llm_model or "default",
        "messages": [
            {"role": "system", "content": "Write a two-sentence factual summary of a video from the detections "
                                          "given as JSON. Mention only what the JSON says."},
            {"role": "user", "content": json.dumps({k: summary[k] for k in ("video", "objects")})},
        ],
        "temperature": 0,
    }
    try:
        response = httpx.post(config.llm_url.rstrip("/") + "/chat/completions", json=body, headers=headers,
                              timeout=30)
        response.raise_for_status()
        return str(response.json()["choices"][0]["message"]["content"]).strip() or None
    except Exception as exc:  # noqa: BLE001 - any failure means: use the template text
        log.warning("LLM summary endpoint %s failed, using the template text: %s", config.llm_url, exc)
        return None
