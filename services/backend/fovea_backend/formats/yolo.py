"""YOLO labels: one text file per frame (`labels/<video>/frame_000123.txt`, empty where nothing is visible), a line
per visible box `class x_center y_center width height` normalised to the frame (0..1, 6 decimals), class = the
category's index from 0; `classes.txt` names them one per line and `data.yaml` (ultralytics' dataset file) too."""

from __future__ import annotations

import io
import json
import zipfile

from fovea_backend.formats import VideoExport


def write_yolo(videos: list[VideoExport]) -> bytes:
    names: list[str] = []
    for video in videos:
        for c in video.categories:
            if c.name not in names:
                names.append(c.name)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("classes.txt", "".join(f"{n}\n" for n in names))
        archive.writestr("data.yaml", "path: .\ntrain: images\nval: images\nnames:\n"
                         + "".join(f"  {i}: {json.dumps(n)}\n" for i, n in enumerate(names)))
        for video in videos:
            lines: list[list[str]] = [[] for _ in range(video.frame_count)]
            for track in video.tracks:
                index = names.index(video.category(track.type).name)
                for f in track.frames:
                    if f["outside"] or f["frame"] >= video.frame_count or not video.width or not video.height:
                        continue
                    cx, cy = (f["x"] + f["width"] / 2) / video.width, (f["y"] + f["height"] / 2) / video.height
                    lines[f["frame"]].append(f"{index} {cx:.6f} {cy:.6f} {f['width'] / video.width:.6f}"
                                             f" {f['height'] / video.height:.6f}")
            for frame, boxes in enumerate(lines):
                archive.writestr(f"labels/{video.stem}/frame_{frame:06d}.txt", "".join(b + "\n" for b in boxes))
    return buffer.getvalue()
