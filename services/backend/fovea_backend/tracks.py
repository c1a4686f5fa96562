"""A track's keyframes expanded to every frame it lasts: what an interpolated export holds.

The rule the annotation workspace draws by (the editor library's `lastFrameOf` / `interpolatedFrames`, held to
the same cases in services/frontend/src/editor/extent.cases.json): between two keyframes the box moves linearly
in x, y, width and height; a keyframe with `outside: true` hides the track from that keyframe up to the next
one, so no in-between frames are made for that span; after the last keyframe a person's track keeps its last
box to the end of the video (CVAT's rule: a track lasts until it is marked outside) — the detector's candidates
and per-frame detections end at their last keyframe, and so does any track while the video's length is
unknown. Keyframes are always kept (with their `outside` flag) and marked `keyframe: true`, so dropping the
`keyframe: false` frames gives the stored track back exactly. Interpolated values are rounded to a thousandth
of a pixel (as detections are): float noise is not data.
"""

from __future__ import annotations

from typing import Any

BOX = ("x", "y", "width", "height")
# One track may span at most this many frames (about 9 h at 30 fps) in an interpolated export, and one
# export at most MAX_EXPORT_FRAMES: beyond that the export is refused up front (422), not streamed for hours.
MAX_TRACK_FRAMES = 1_000_000
MAX_EXPORT_FRAMES = 10_000_000


# last_frame in SQL over `annotations a JOIN videos v`: the same rule, for queries that list spans.
LAST_FRAME_SQL = ("CASE WHEN a.source <> 'automatic' AND a.type <> 'detection' AND NOT coalesce((a.frames->-1->>'outside')::boolean,"
                  " false) AND v.frame_count IS NOT NULL THEN greatest((a.frames->-1->>'frame')::bigint, v.frame_count - 1)"
                  " ELSE (a.frames->-1->>'frame')::bigint END")


def holds(track: dict[str, Any]) -> bool:
    """Whether the track's last box is held after its last keyframe (not for candidates and detections)."""
    return track.get("source") != "automatic" and track.get("type") != "detection"


def last_frame(track: dict[str, Any], frame_count: int | None) -> int:
    """The last frame the track has a box at (see the module's rule)."""
    keyframes = track["frames"]
    last = keyframes[-1]
    if last.get("outside", False) or not holds(track) or not frame_count:
        return int(last["frame"])
    return max(int(last["frame"]), frame_count - 1)


def interpolate(keyframes: list[dict[str, Any]], until: int | None = None) -> list[dict[str, Any]]:
    """Every frame from the first keyframe to `until` (default: the last keyframe), the last box held after it."""
    frames: list[dict[str, Any]] = []
    for index, key in enumerate(keyframes):
        outside = bool(key.get("outside", False))
        frames.append({**key, "outside": outside, "keyframe": True})
        if outside:
            continue
        if index + 1 == len(keyframes):
            held = {name: key[name] for name in BOX}
            frames.extend({"frame": frame, **held, "outside": False, "keyframe": False}
                          for frame in range(int(key["frame"]) + 1, (until if until is not None else -1) + 1))
            continue
        following = keyframes[index + 1]
        start, end = int(key["frame"]), int(following["frame"])
        for frame in range(start + 1, end):
            t = (frame - start) / (end - start)
            box = {name: round(key[name] + (following[name] - key[name]) * t, 3) for name in BOX}
            frames.append({"frame": frame, **box, "outside": False, "keyframe": False})
    return frames


def expand(track: dict[str, Any], frame_count: int | None) -> list[dict[str, Any]]:
    """The track's frames as the interpolated export holds them."""
    return interpolate(track["frames"], last_frame(track, frame_count))


def span(track: dict[str, Any], frame_count: int | None) -> int:
    """Frames from the first keyframe to the last frame the track lasts: an upper bound of expand()'s length."""
    keyframes = track["frames"]
    return last_frame(track, frame_count) - int(keyframes[0]["frame"]) + 1 if keyframes else 0
