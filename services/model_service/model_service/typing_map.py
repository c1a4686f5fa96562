"""Which detector classes each of a persona's entity types stands for, and detections joined into tracks.

Pure Python (no cv2, no numpy): the host's tests run it without the image.

A type's classes come from its ontology entry (`detectorClasses`, edited on the Ontology page). A type without
that key gets a proposal: a class named as a word in the type's name or description scores 1.0 ("Vehicle: a car,
bus or truck" proposes car, bus, truck); otherwise the embedder's cosine similarity between the type's name and
the class name is the score, and classes at or above the threshold are proposed. Every proposal carries its score
and why, so the panel can show it and the annotator can keep or change it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

Embed = Callable[[list[str]], list[list[float]]]


class TypeSpec(BaseModel):
    """One entity type of the persona, as the backend sends it with a job."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    id: str = Field(min_length=1)
    name: str = ""
    description: str = ""
    # None: the ontology says nothing (propose); a list, even empty: the annotator's choice, used as is.
    classes: list[str] | None = Field(None, alias="detectorClasses")


class ClassChoice(BaseModel):
    name: str
    score: float
    why: str


class TypeMapping(BaseModel):
    type_id: str
    type_name: str
    source: str = Field(description="'ontology' (the persona's own mapping) or 'proposed' (scored here)")
    classes: list[ClassChoice]


def _named_in(class_name: str, text: str) -> bool:
    """'bus' in 'a car, bus or truck'; multi-word classes ('traffic light') and simple plurals ('traffic lights')."""
    words = r"\s+".join(re.escape(w) for w in class_name.lower().split())
    return re.search(rf"\b{words}(?:s|es)?\b", text.lower()) is not None


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    norm = (sum(x * x for x in a) ** 0.5) * (sum(y * y for y in b) ** 0.5)
    return dot / norm if norm else 0.0


def propose(types: list[TypeSpec], class_names: list[str], embed: Embed | None, min_score: float
            ) -> list[TypeMapping]:
    """Each type's classes: its own when the ontology has them, else scored proposals (see the docstring)."""
    known = {name.lower(): name for name in class_names}
    mappings: list[TypeMapping] = []
    need_scores = [t for t in types if t.classes is None]
    vectors: dict[str, list[float]] = {}
    if need_scores and embed is not None and class_names:
        texts = [t.name or t.id for t in need_scores] + list(class_names)
        for text, vector in zip(texts, embed(texts)):
            vectors[text] = vector
    for spec in types:
        if spec.classes is not None:
            chosen = [ClassChoice(name=known[c.lower()], score=1.0, why="the persona's ontology maps it")
                      for c in spec.classes if c.lower() in known]
            mappings.append(TypeMapping(type_id=spec.id, type_name=spec.name or spec.id, source="ontology",
                                        classes=chosen))
            continue
        text = f"{spec.name} {spec.description}"
        choices: list[ClassChoice] = []
        for name in class_names:
            if _named_in(name, text):
                choices.append(ClassChoice(name=name, score=1.0, why="named in the type's name or description"))
            elif vectors:
                score = round(_cosine(vectors[spec.name or spec.id], vectors[name]), 3)
                if score >= min_score:
                    choices.append(ClassChoice(name=name, score=score, why="embedding similarity to the type's name"))
        choices.sort(key=lambda c: (-c.score, c.name))
        mappings.append(TypeMapping(type_id=spec.id, type_name=spec.name or spec.id, source="proposed",
                                    classes=choices))
    return mappings


def class_to_type(mappings: list[TypeMapping]) -> dict[str, str]:
    """class name -> type id; a class two types claim goes to the first (ontology order), the others are told."""
    owner: dict[str, str] = {}
    for mapping in mappings:
        for choice in mapping.classes:
            owner.setdefault(choice.name, mapping.type_id)
    return owner


# --- association: detections across sampled frames -> tracks --------------------------------------------
@dataclass(frozen=True)
class Box:
    """Normalised 0..1, top-left origin."""

    x: float
    y: float
    width: float
    height: float

    def iou(self, other: Box) -> float:
        ix = max(0.0, min(self.x + self.width, other.x + other.width) - max(self.x, other.x))
        iy = max(0.0, min(self.y + self.height, other.y + other.height) - max(self.y, other.y))
        inter = ix * iy
        union = self.width * self.height + other.width * other.height - inter
        return inter / union if union > 0 else 0.0


@dataclass(frozen=True)
class Detection:
    label: str
    confidence: float
    box: Box


@dataclass
class TrackBuilder:
    track_id: int
    label: str
    type_id: str
    points: list[tuple[int, Box]] = field(default_factory=list)
    confidences: list[float] = field(default_factory=list)
    missed: int = 0


def associate(samples: list[tuple[int, list[Detection]]], type_of: dict[str, str], iou_match: float,
              max_gap_samples: int, last_frame: int | None = None) -> list[dict]:
    """The greedy joiner (`general_detection.association: greedy`; ByteTrack, model_service.bytetrack, is the
    default): each sample's detections go to the open tracks of the same class by IoU with their last box, highest
    overlap first; an unmatched detection opens a track, a track unseen for more than `max_gap_samples` samples
    closes. No motion model, so a fast object or two crossing ones break or swap tracks (bench/quality.py measures
    it). Only classes in `type_of` make tracks."""
    open_tracks: list[TrackBuilder] = []
    closed: list[TrackBuilder] = []
    next_id = 1
    for frame, detections in samples:
        candidates = [d for d in detections if d.label in type_of]
        pairs = sorted(((t.points[-1][1].iou(d.box), ti, di) for ti, t in enumerate(open_tracks)
                        for di, d in enumerate(candidates) if t.label == d.label), reverse=True)
        used_tracks: set[int] = set()
        used_detections: set[int] = set()
        for overlap, ti, di in pairs:
            if overlap < iou_match:
                break
            if ti in used_tracks or di in used_detections:
                continue
            used_tracks.add(ti)
            used_detections.add(di)
            track = open_tracks[ti]
            track.points.append((frame, candidates[di].box))
            track.confidences.append(candidates[di].confidence)
            track.missed = 0
        still_open: list[TrackBuilder] = []
        for ti, track in enumerate(open_tracks):
            if ti not in used_tracks:
                track.missed += 1
                if track.missed > max_gap_samples:
                    closed.append(track)
                    continue
            still_open.append(track)
        open_tracks = still_open
        for di, detection in enumerate(candidates):
            if di in used_detections:
                continue
            track = TrackBuilder(next_id, detection.label, type_of[detection.label],
                                 [(frame, detection.box)], [detection.confidence])
            next_id += 1
            open_tracks.append(track)
    return tracks_as_keyframes(closed + open_tracks, [f for f, _ in samples], last_frame)


def tracks_as_keyframes(builders: list[TrackBuilder], sample_frames: list[int], last_frame: int | None
                        ) -> list[dict]:
    """The result shape the backend files (both associations return it): per track, ordered by id, a keyframe per
    sample it was seen in and, when it was gone at a later sample within the video, an `outside` keyframe at the
    first such sample (so the box does not linger in the editor; between keyframes the editor interpolates)."""
    tracks = []
    for track in sorted(builders, key=lambda b: b.track_id):
        frames = [{"frame": f, "x": round(b.x, 6), "y": round(b.y, 6), "width": round(b.width, 6),
                   "height": round(b.height, 6)} for f, b in track.points]
        last_seen = track.points[-1][0]
        gone_at = next((f for f in sample_frames if f > last_seen), None)
        if gone_at is not None and (last_frame is None or gone_at <= last_frame):
            box = track.points[-1][1]
            frames.append({"frame": gone_at, "x": round(box.x, 6), "y": round(box.y, 6),
                           "width": round(box.width, 6), "height": round(box.height, 6), "outside": True})
        tracks.append({"track_id": track.track_id, "label": track.label, "type": track.type_id,
                       "confidence": round(sum(track.confidences) / len(track.confidences), 4),
                       "frames": frames})
    return tracks


def unmapped_counts(samples: list[tuple[int, list[Detection]]], type_of: dict[str, str]) -> list[dict]:
    """Detections of classes no type maps to: 'unmapped: bus x 12', most frequent first."""
    counts = Counter(d.label for _, detections in samples for d in detections if d.label not in type_of)
    return [{"class": name, "detections": count} for name, count in sorted(counts.items(), key=lambda i: (-i[1], i[0]))]
