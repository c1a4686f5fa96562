"""A track's keyframes expanded to every frame: what an interpolated export holds.

The same rule the annotation workspace draws by: between two keyframes the box moves linearly in x, y,
width and height; a keyframe with `outside: true` hides the track from that keyframe up to the next one,
so no in-between frames are made for that span. Keyframes are always kept (with their `outside` flag)
and marked `keyframe: true`, so dropping the `keyframe: false` frames gives the stored track back exactly.
Interpolated values are rounded to a thousandth of a pixel (as detections are): float noise is not data.
"""

from __future__ import annotations

from typing import Any

BOX = ("x", "y", "width", "height")
# One track may span at most this many frames (about 9 h at 30 fps) in an interpolated export, and one
# export at most MAX_EXPORT_FRAMES: beyond that the export is refused up front (422), not streamed for hours.
MAX_TRACK_FRAMES = 1_000_000
MAX_EXPORT_FRAMES = 10_000_000


def interpolate(keyframes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    for index, key in enumerate(keyframes):
        outside = bool(key.get("outside", False))
        frames.append({**key, "outside": outside, "keyframe": True})
        if outside or index + 1 == len(keyframes):
            continue
        following = keyframes[index + 1]
        start, end = int(key["frame"]), int(following["frame"])
        for frame in range(start + 1, end):
            t = (frame - start) / (end - start)
            box = {name: round(key[name] + (following[name] - key[name]) * t, 3) for name in BOX}
            frames.append({"frame": frame, **box, "outside": False, "keyframe": False})
    return frames


def span(keyframes: list[dict[str, Any]]) -> int:
    """Frames from the first keyframe to the last, both included: an upper bound of interpolate()'s length."""
    return int(keyframes[-1]["frame"]) - int(keyframes[0]["frame"]) + 1 if keyframes else 0
