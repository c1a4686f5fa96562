"""An honest offline summary: what was detected and tracked, when, how many, and a few key frames.

The text is a template over those facts (it embeds well and never invents anything). When models.yaml
names an OpenAI-compatible endpoint, that endpoint rewrites the text from the same facts; any failure
falls back to the template.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

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


@dataclass(frozen=True)
class Prose:
    """Who wrote a summary's text: the model at the configured endpoint, or the evidence template."""

    text: str | None  # the model's prose; None: use the template
    by: str  # built_from.text: "llm <model>" or "template"
    fallback: str | None = None  # why the template although an endpoint is configured (shown in the panel)


FACTS_PROMPT = ("Write a two-sentence factual summary of a video from the detections given as JSON. "
                "Mention only what the JSON says.")
# The persona's information need is in the JSON (persona.information_need); the instruction points the model at it.
PERSONA_PROMPT = ("You write for the analyst described under \"persona\" in the JSON: answer their information "
                  "need in two or three sentences from the video evidence given there (types seen with times and "
                  "counts, types not seen, what was said and shown). Mention only what the JSON says.")


def llm_text(config: SummarizerConfig, facts: dict[str, Any], instruction: str = FACTS_PROMPT) -> Prose:
    """The optional OpenAI-compatible rewrite of `facts` (sent as JSON); the template (with the reason) when not
    configured or on any failure: unreachable, an HTTP error, an empty or malformed answer."""
    if not config.llm_url:
        return Prose(None, "template")
    import httpx

    model = config.llm_model or "default"
    headers = {}
    key_file = os.environ.get("MODEL_LLM_API_KEY_FILE")
    if key_file and os.path.isfile(key_file):
        headers["Authorization"] = "Bearer " + open(key_file).read().strip()
    body = {
        "model": model,
        "messages": [
            {"role": "system", "content": instruction},
            {"role": "user", "content": json.dumps(facts)},
        ],
        "temperature": 0,
        "max_tokens": config.llm_max_tokens,
    }
    try:
        response = httpx.post(config.llm_url.rstrip("/") + "/chat/completions", json=body, headers=headers,
                              timeout=config.llm_timeout_s)
        response.raise_for_status()
        text = str(response.json()["choices"][0]["message"]["content"]).strip()
        if not text:
            raise ValueError("the model answered nothing")
        return Prose(text, f"llm {model}")
    except Exception as exc:  # noqa: BLE001 - any failure means: use the template text, and say why
        reason = f"llm {model} at {config.llm_url} failed ({type(exc).__name__}: {exc})"
        log.warning("LLM summary endpoint failed, using the template text: %s", reason)
        return Prose(None, "template", reason[:300])


def with_prose(summary: dict[str, Any], evidence_text: str, prose: Prose) -> str:
    """Record in `built_from` who wrote the text (and why not the model, when it failed); a model's text keeps the
    template beside it as `evidence_text`. Returns the text to store."""
    built = summary["built_from"]
    built["text"] = prose.by
    if prose.fallback:
        built["text_fallback"] = prose.fallback
    if prose.text:
        summary["evidence_text"] = evidence_text
    return prose.text or evidence_text


# --- summaries for a persona, from evidence ----------------------------------------------------------------
class PersonaRef(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    id: str | None = None
    name: str = ""
    role: str = ""
    information_need: str = Field("", alias="informationNeed")


class ManualTrack(BaseModel):
    """One of the annotators' own tracks of this video (any source but automatic), as the backend sends it."""

    model_config = ConfigDict(extra="ignore")
    type: str
    label: str = ""
    first_frame: int = Field(ge=0)
    last_frame: int = Field(ge=0)


class TranscriptQuote(BaseModel):
    """A transcript segment (what was said) or a text track (what was shown) of this video, as the backend sends it:
    start/end seconds and the text."""

    model_config = ConfigDict(extra="ignore")
    start: float = Field(ge=0)
    end: float = Field(ge=0)
    text: str


QUOTES_MAX = 3
QUOTE_MIN_SCORE = 0.15  # cosine of MiniLM vectors: below this a segment has nothing to do with the persona


def relevant_quotes(embed: Callable[[list[str]], list[list[float]]], persona: PersonaRef, type_names: dict[str, str],
                    segments: list[TranscriptQuote]) -> list[dict[str, Any]]:
    """The transcript segments (or on-screen texts) closest to what the persona wants (its name, role, information
    need and types), by embedding cosine, best first: the summary quotes them with their times."""
    spoken = [s for s in segments if s.text.strip()]
    if not spoken:
        return []
    need = ". ".join(x for x in (persona.name, persona.role, persona.information_need,
                                 ", ".join(type_names.values())) if x)
    vectors = embed([need] + [s.text for s in spoken])
    query = vectors[0]
    scored = [(sum(a * b for a, b in zip(query, vector)), segment) for vector, segment in zip(vectors[1:], spoken)]
    best = sorted((x for x in scored if x[0] >= QUOTE_MIN_SCORE), key=lambda x: -x[0])[:QUOTES_MAX]
    return [{"start": round(s.start, 2), "end": round(s.end, 2), "text": s.text.strip(), "score": round(score, 3)}
            for score, s in best]


def _seconds(frame: int, fps: float) -> float:
    return round(frame / fps, 3) if fps else 0.0


def persona_summary(detected: dict[str, Any], info: VideoInfo, persona: PersonaRef, type_names: dict[str, str],
                    manual_tracks: list[ManualTrack], max_key_frames: int,
                    quotes: list[dict[str, Any]] | None = None, transcript_segments: int = 0,
                    shown: list[dict[str, Any]] | None = None, screen_texts: int = 0
                    ) -> tuple[dict[str, Any], str, list[dict[str, Any]]]:
    """Which of the persona's types appear, when and how many (automatic tracks and the annotators' own), the
    key frames, the types never seen, detections no type maps to, what was said that matters to the persona
    (`quotes`, from relevant_quotes), the on-screen text that does (`shown`, ranked the same way from the video's
    text tracks), and what the summary was built from."""
    fps = info.fps
    step_s = detected["sample_every"] / fps if fps else 1.0
    per_frame: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for track in detected["tracks"]:
        by_type[track["type"]].append(track)
        for point in track["frames"]:
            if not point.get("outside"):
                per_frame[point["frame"]][type_names.get(track["type"], track["type"])] += 1
    manual_by_type: dict[str, list[ManualTrack]] = defaultdict(list)
    for manual in manual_tracks:
        manual_by_type[manual.type].append(manual)
    types = []
    for type_id, name in type_names.items():
        automatic = by_type.get(type_id, [])
        mine = manual_by_type.get(type_id, [])
        if not automatic and not mine:
            continue
        seen_frames = sorted({p["frame"] for t in automatic for p in t["frames"] if not p.get("outside")})
        first = min([f for f in seen_frames[:1]] + [m.first_frame for m in mine])
        last = max([f for f in seen_frames[-1:]] + [m.last_frame for m in mine])
        types.append({
            "type_id": type_id, "type_name": name,
            "automatic_tracks": len(automatic), "annotator_tracks": len(mine),
            "classes": dict(Counter(t["label"] for t in automatic)),
            "annotator_labels": sorted({m.label for m in mine if m.label}),
            "max_simultaneous": max((per_frame[f][name] for f in seen_frames), default=0),
            "first_seen_s": _seconds(first, fps), "last_seen_s": _seconds(last, fps),
            "time_spans": _spans([f / fps for f in seen_frames], gap=2.5 * step_s) if seen_frames else [],
        })
    present = {t["type_id"] for t in types}
    key = _key_frames(per_frame, fps, max_key_frames)
    built_from = {
        "detector": detected["model"], "frames_sampled": detected["frames_sampled"],
        "sample_every": detected["sample_every"], "automatic_tracks": len(detected["tracks"]),
        "annotator_tracks": len(manual_tracks), "classes_searched": detected["classes_searched"],
        "transcript_segments": transcript_segments, "screen_texts": screen_texts, "text": "template",
    }
    summary = {
        "persona": persona.model_dump(),
        "video": {"duration_s": round(info.duration_s, 3), "width": info.width, "height": info.height,
                  "fps": round(fps, 3)},
        "types": types,
        "not_seen": [name for type_id, name in type_names.items() if type_id not in present],
        "unmapped": detected["unmapped"],
        "quotes": quotes or [],
        "screen_text": shown or [],
        "key_frames": key,
        "built_from": built_from,
    }
    return summary, _persona_text(summary), [{"frame": k["frame"], "time_s": k["time_s"]} for k in key]


def persona_facts(summary: dict[str, Any]) -> dict[str, Any]:
    """What the LLM is given of a persona's summary: who asks (name, role, information need; not the persona's id)
    and the evidence; key frames and built_from are for the panel, not the prose."""
    persona = {k: summary["persona"][k] for k in ("name", "role", "information_need")}
    return {"persona": persona, **{k: summary[k] for k in ("video", "types", "not_seen", "quotes", "screen_text")}}


def _persona_text(summary: dict[str, Any]) -> str:
    persona, video, built = summary["persona"], summary["video"], summary["built_from"]
    need = f" ({persona['information_need']})" if persona["information_need"] else ""
    lines = [f"For {persona['name'] or 'this persona'}{need}: a {video['duration_s']:.1f} s video."]
    for t in summary["types"]:
        parts = []
        if t["automatic_tracks"]:
            classes = ", ".join(f"{n} {_plural(c, n)}" for c, n in sorted(t["classes"].items()))
            together = f", up to {t['max_simultaneous']} at once" if t["max_simultaneous"] > 1 else ""
            parts.append(f"{classes} detected{together}")
        if t["annotator_tracks"]:
            named = f" ({', '.join(t['annotator_labels'][:5])})" if t["annotator_labels"] else ""
            parts.append(f"{t['annotator_tracks']} marked by annotators{named}")
        lines.append(f"{t['type_name']}: {'; '.join(parts)}, from {t['first_seen_s']:.1f} s to "
                     f"{t['last_seen_s']:.1f} s.")
    if not summary["types"]:
        lines.append("None of the persona's types was seen.")
    if summary["not_seen"]:
        lines.append("Not seen: " + ", ".join(summary["not_seen"]) + ".")
    if summary["unmapped"]:
        lines.append("Also detected, no type of this persona: " + ", ".join(
            f"{u['class']} x {u['detections']}" for u in summary["unmapped"][:8]) + ".")
    if summary["quotes"]:
        lines.append("Said: " + "; ".join(f"\"{q['text']}\" ({q['start']:.1f} s)" for q in summary["quotes"]) + ".")
    if summary["screen_text"]:
        lines.append("Shown: " + "; ".join(f"\"{q['text']}\" ({q['start']:.1f} s)" for q in summary["screen_text"]) + ".")
    transcript = f", {built['transcript_segments']} transcript segment(s)" if built["transcript_segments"] else ""
    transcript += f", {built['screen_texts']} on-screen text(s)" if built["screen_texts"] else ""
    lines.append(f"Built from {built['detector']} detections on {built['frames_sampled']} sampled frames and "
                 f"{built['annotator_tracks']} annotator track(s){transcript}.")
    return " ".join(lines)
