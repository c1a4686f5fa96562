"""MOT Challenge ground truth (gt/gt.txt): one line per visible box,

    frame, id, bb_left, bb_top, bb_width, bb_height, consider, class, visibility

frames 1-based, coordinates 1-based pixels (the MOT convention; motmetrics' reader subtracts 1), `consider` 1,
class the category's number, visibility 1. Outside spans have no lines. The file says nothing of keyframes or
attributes: `read_mot` rebuilds keyframes where the motion changes (a box that is the linear interpolation of
its neighbours is not one), an outside keyframe after each gap, and drops the box held to the video's end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fovea_backend.formats import VideoExport, number

COLUMNS = ("frame", "id", "bb_left", "bb_top", "bb_width", "bb_height", "consider", "class", "visibility")
TOLERANCE = 0.0025  # px: interpolated boxes are rounded to 0.001 px, so a straight line bends by at most 0.002


def write_mot(video: VideoExport) -> str:
    lines = []
    for track in video.tracks:
        category = video.category(track.type).id
        for f in track.frames:
            if f["outside"]:
                continue
            lines.append((f["frame"], track.number, f"{f['frame'] + 1},{track.number},{number(f['x'] + 1)},"
                          f"{number(f['y'] + 1)},{number(f['width'])},{number(f['height'])},1,{category},1"))
    return "".join(line + "\n" for _, _, line in sorted(lines, key=lambda item: (item[0], item[1])))


class FormatError(Exception):
    """A place in the file (line, field) and what is wrong there."""

    def __init__(self, line: int, field: str, message: str) -> None:
        super().__init__(message)
        self.line, self.field, self.message = line, field, message


@dataclass
class ReadTrack:
    """A track read from a file: its id there, label (a category or class), keyframes, attributes."""

    source_id: str
    label: str
    keyframes: list[dict[str, Any]]
    attributes: dict[str, Any] = field(default_factory=dict)
    source: str = "manual"


def _float(line: int, name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise FormatError(line, name, f"{name} {text.strip()!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise FormatError(line, name, f"{name} {text.strip()!r} is not a finite number")
    return value


def read_mot(text: str) -> tuple[dict[str, list[tuple[int, dict[str, float], int]]], int]:
    """Boxes by MOT id: [(frame 0-based, {x, y, width, height} 0-based px, class)], and how many lines were ignored
    (consider = 0). Raises FormatError naming the line and column."""
    by_id: dict[str, list[tuple[int, dict[str, float], int]]] = {}
    ignored = 0
    seen: set[tuple[str, int]] = set()
    for number_, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        cells = raw.replace(" ", "").split(",") if "," in raw else raw.split()
        if len(cells) < 6:
            raise FormatError(number_, "line", f"a MOT line has at least 6 comma-separated values ({', '.join(COLUMNS[:6])}),"
                                               f" this one {len(cells)}")
        values = [_float(number_, COLUMNS[i] if i < len(COLUMNS) else f"column {i + 1}", c) for i, c in enumerate(cells[:9])]
        frame, ident = values[0], values[1]
        if frame < 1 or frame != int(frame):
            raise FormatError(number_, "frame", f"frame {cells[0]!r} must be a whole number from 1")
        if values[4] < 0 or values[5] < 0:
            raise FormatError(number_, "bb_width" if values[4] < 0 else "bb_height", "a box has no negative size")
        if len(values) > 6 and values[6] == 0:
            ignored += 1  # MOT's "do not consider" (ignore regions, distractors)
            continue
        key = number(ident)
        if (key, int(frame)) in seen:
            raise FormatError(number_, "id", f"id {key} has two boxes at frame {int(frame)}")
        seen.add((key, int(frame)))
        category = int(values[7]) if len(values) > 7 else 1
        by_id.setdefault(key, []).append((int(frame) - 1, {"x": values[2] - 1, "y": values[3] - 1, "width": values[4],
                                                            "height": values[5]}, category))
    return by_id, ignored


def _on_line(a: dict[str, float], b: dict[str, float], c: dict[str, float], ta: int, tb: int, tc: int) -> bool:
    t = (tb - ta) / (tc - ta)
    return all(abs(a[k] + (c[k] - a[k]) * t - b[k]) <= TOLERANCE for k in ("x", "y", "width", "height"))


def keyframes_of(boxes: list[tuple[int, dict[str, float]]], frame_count: int | None) -> list[dict[str, Any]]:
    """Per-frame boxes (sorted by frame) → keyframes. Each run of consecutive frames keeps its first box and every box
    where the motion bends. A run followed by a gap (or ending before the video does) gets an outside keyframe on the
    frame after it, its box the run's motion carried one frame on (what the workspace interpolated towards), and its
    last box is kept only off that line; a run reaching the video's end keeps its last box only when it moved there
    (a box held to the end is the workspace's rule, not a keyframe)."""
    keyframes: list[dict[str, Any]] = []
    runs: list[list[tuple[int, dict[str, float]]]] = []
    for frame, box in boxes:
        if runs and runs[-1][-1][0] == frame - 1:
            runs[-1].append((frame, box))
        else:
            runs.append([(frame, box)])
    for run in runs:
        kept = [run[0]]
        for i in range(1, len(run) - 1):
            (fa, a), (fb, b), (fc, c) = kept[-1], run[i], run[i + 1]
            if not _on_line(a, b, c, fa, fb, fc):
                kept.append(run[i])
        end = run[-1][0] + 1
        last_frame, last = run[-1]
        reaches_end = frame_count is None or end >= frame_count
        if reaches_end:
            if len(run) > 1 and (frame_count is None or any(abs(last[k] - kept[-1][1][k]) > TOLERANCE for k in last)):
                kept.append(run[-1])
            keyframes.extend({"frame": f, **box} for f, box in kept)
            continue
        before = run[-2][1] if len(run) > 1 else last
        beyond = {k: max(0.0, round(last[k] + (last[k] - before[k]), 3)) for k in last}
        if len(run) > 1 and not _on_line(kept[-1][1], last, beyond, kept[-1][0], last_frame, end):
            kept.append(run[-1])
        keyframes.extend({"frame": f, **box} for f, box in kept)
        keyframes.append({"frame": end, **beyond, "outside": True})
    return keyframes
