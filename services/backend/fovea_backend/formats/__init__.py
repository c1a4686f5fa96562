"""The formats other tools read: MOT Challenge (gt.txt), COCO, YOLO and CVAT for video 1.1 — written from a video's
accepted work (every track but the detector's unaccepted candidates), and CVAT and MOT read back into a persona.

One place (`load_video`) reads what every writer needs: the video's facts, its tracks with each frame they last
(tracks.expand: the workspace's rule, outside spans left out), the categories (the persona's entity types in
ontology order, then any other type a track has) and each type's attribute definitions. Each writer is a module
of its own (mot, coco, yolo, cvat); reading is in `read_mot` / `read_cvat`, which give plain tracks the import
route validates and writes like any other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg

from fovea_backend import tracks
from fovea_backend.errors import not_found

FORMATS = ("mot", "coco", "yolo", "cvat")


@dataclass
class Category:
    id: int  # 1-based, in order: COCO's category_id, MOT's class; YOLO's class is id - 1
    type_id: str
    name: str
    attributes: list[dict[str, Any]] = field(default_factory=list)  # the ontology's definitions


@dataclass
class ExportTrack:
    number: int  # 1-based, in creation order: MOT's id, CVAT's id - 1
    id: str
    type: str
    label: str
    source: str
    attributes: dict[str, Any]
    keyframes: list[dict[str, Any]]
    frames: list[dict[str, Any]]  # every frame it lasts: {frame, x, y, width, height, outside, keyframe, attributes}


@dataclass
class VideoExport:
    id: str
    filename: str
    width: int
    height: int
    frame_count: int
    fps: float | None
    categories: list[Category]
    tracks: list[ExportTrack]

    def category(self, type_id: str) -> Category:
        return next(c for c in self.categories if c.type_id == type_id)

    @property
    def stem(self) -> str:
        return self.filename.rsplit(".", 1)[0]


def held_attributes(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each expanded frame with the mutable attributes in force there (set by the last keyframe at or before it)."""
    held: dict[str, Any] = {}
    out = []
    for frame in frames:
        if frame.get("keyframe"):
            held = {**held, **(frame.get("attributes") or {})}
        out.append({**frame, "attributes": dict(held)})
    return out


def load_video(conn: psycopg.Connection, video_id: str, persona_id: str | None) -> VideoExport:
    row = conn.execute("SELECT filename, width, height, frame_count, fps FROM videos WHERE id = %s", (video_id,)).fetchone()
    if row is None:
        raise not_found("video", video_id, ("path", "video_id"))
    filename, width, height, frame_count, fps = row
    persona_filter = "AND persona_id = %s" if persona_id else ""
    rows = conn.execute(
        "SELECT id, type, label, source, attributes, frames, persona_id FROM annotations WHERE video_id = %s"
        f" AND source <> 'automatic' AND type <> 'detection' {persona_filter} ORDER BY created_at, id",
        (video_id, persona_id) if persona_id else (video_id,)).fetchall()
    personas = {str(r[6]) for r in rows if r[6] is not None} | ({persona_id} if persona_id else set())
    types: list[dict[str, Any]] = []
    for (entity_types,) in conn.execute("SELECT entity_types FROM ontologies WHERE persona_id = ANY(%s::uuid[])"
                                        " ORDER BY persona_id = %s DESC, persona_id", (list(personas), persona_id)):
        types.extend(t for t in entity_types if isinstance(t, dict) and "id" in t)
    categories: list[Category] = []
    for t in types:
        if all(c.type_id != t["id"] for c in categories):
            categories.append(Category(len(categories) + 1, str(t["id"]), str(t.get("name") or t["id"]),
                                       [a for a in t.get("attributes") or [] if isinstance(a, dict) and a.get("name")]))
    for r in rows:
        if all(c.type_id != r[1] for c in categories):
            categories.append(Category(len(categories) + 1, r[1], r[1]))
    count = int(frame_count or max((int(r[5][-1]["frame"]) + 1 for r in rows), default=1))
    out = [ExportTrack(n, str(r[0]), r[1], r[2], r[3], dict(r[4] or {}), r[5],
                       held_attributes(tracks.expand({"frames": r[5], "source": r[3], "type": r[1]}, count)))
           for n, r in enumerate(rows, start=1)]
    return VideoExport(video_id, filename, int(width or 0), int(height or 0), count, fps, categories, out)


def number(value: float) -> str:
    """A coordinate as text: at most 3 decimals (interpolated boxes are rounded to a thousandth of a pixel), no
    trailing zeros."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text
