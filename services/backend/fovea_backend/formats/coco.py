"""COCO detection JSON for a video: every frame an image (by index: `<video>/frame_000123.jpg`, the names a frame
extractor such as `ffmpeg -start_number 0 %06d.jpg` writes), categories from the persona's entity types, one
annotation per visible box with `bbox` [x, y, width, height] in pixels and `attributes` — the track's attributes
and the mutable ones held at that frame, plus `track_id` and `keyframe` (as CVAT's COCO export carries them)."""

from __future__ import annotations

from typing import Any

from fovea_backend.formats import VideoExport


def frame_name(video: VideoExport, frame: int) -> str:
    return f"{video.stem}/frame_{frame:06d}.jpg"


def write_coco(videos: list[VideoExport]) -> dict[str, Any]:
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    categories: list[dict[str, Any]] = []
    by_name: dict[str, int] = {}
    for video in videos:
        for c in video.categories:  # one category list over all videos: by name
            by_name.setdefault(c.name, len(by_name) + 1)
        first = len(images) + 1
        images.extend({"id": first + f, "file_name": frame_name(video, f), "width": video.width, "height": video.height,
                       "frame_index": f, "video_id": video.id} for f in range(video.frame_count))
        for track in video.tracks:
            category = by_name[video.category(track.type).name]
            for f in track.frames:
                if f["outside"] or f["frame"] >= video.frame_count:
                    continue
                bbox = [round(f["x"], 3), round(f["y"], 3), round(f["width"], 3), round(f["height"], 3)]
                annotations.append({
                    "id": len(annotations) + 1, "image_id": first + f["frame"], "category_id": category, "bbox": bbox,
                    "area": round(bbox[2] * bbox[3], 3), "iscrowd": 0, "segmentation": [],
                    "attributes": {**track.attributes, **f["attributes"], "track_id": track.number,
                                   "keyframe": bool(f["keyframe"]), "occluded": bool(f["attributes"].get("occluded", False))},
                })
    categories = [{"id": i, "name": name, "supercategory": ""} for name, i in by_name.items()]
    return {"info": {"description": "FOVEA export", "version": "1.0"}, "licenses": [], "images": images,
            "annotations": annotations, "categories": categories}
