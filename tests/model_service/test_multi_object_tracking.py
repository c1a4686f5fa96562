"""Multi-object tracking through the service: the queue's detect_types job (COCO SSD-MobileNetV2, then ByteTrack)
on a clip of two people who cross (tests/quality_clips.py's `crossing`, rendered by the image), checked against the
generator's own ground truth."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.model_service.conftest import render_quality_clips
from tests.model_service.test_queue import enqueue, wait_for
from tests.quality_clips import SCENES, ground_truth

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "services" / "model_service"))
from model_service.typing_map import Box  # noqa: E402 - pure Python, as tests/model_service/test_typing_map.py

pytestmark = pytest.mark.engine

CROSSING = next(s for s in SCENES if s.name == "crossing")


@pytest.fixture(scope="module")
def crossing_clip(model_image: str, video_root: Path) -> Iterator[str]:
    """The clip in the workers' video folder (made writable for the render only; video_root removes it)."""
    video_root.chmod(0o777)
    try:
        render_quality_clips(model_image, video_root, CROSSING.name)
    finally:
        video_root.chmod(0o755)
    yield f"{CROSSING.name}.mp4"


def _box(corners: tuple[float, float, float, float]) -> Box:
    return Box(corners[0], corners[1], corners[2] - corners[0], corners[3] - corners[1])


def test_two_people_who_cross_keep_one_identity_each_through_the_service(worker, redis_url: str, crossing_clip: str,
                                                                         backend_accepts) -> None:
    # The SSD scores these pasted walkers 0.25-0.6: ask for 0.25 so both start tracks; every 2nd frame (5/s).
    job = enqueue(redis_url, "object-detection", "detect_types", "vid-cross", crossing_clip,
                  {"persona_id": "p-1", "types": [{"id": "walker", "name": "Walker", "detectorClasses": ["person"]}],
                   "confidence": 0.25, "sample_every": 2})
    assert wait_for(job, {"finished", "failed"}, budget=300) == "finished", job.exc_info
    result = job.return_value()
    backend_accepts("detect-types", result)
    tracks = [t for t in result["tracks"] if t["type"] == "walker"]
    truth = ground_truth(CROSSING)
    boxes = {(o.frame, o.object_id): _box(o.box) for o in truth.objects}
    width, height = result["width"], result["height"]
    assert (width, height) == (CROSSING.width, CROSSING.height)

    # Which person each track follows, at the keyframes where the two are apart (boxes not touching): exactly one,
    # before the crossing and after it.
    followed: dict[int, set[int]] = {}
    spans: dict[int, list[int]] = {}
    for track in tracks:
        for key in track["frames"]:
            if key.get("outside") or boxes[key["frame"], 1].iou(boxes[key["frame"], 2]) > 0:
                continue
            seen = Box(key["x"] * width, key["y"] * height, key["width"] * width, key["height"] * height)
            matched = {person for person in (1, 2) if seen.iou(boxes[key["frame"], person]) >= 0.5}
            if matched:
                followed.setdefault(track["track_id"], set()).update(matched)
                spans.setdefault(track["track_id"], []).append(key["frame"])
    summary = {t: (sorted(p), min(spans[t]), max(spans[t])) for t, p in followed.items()}
    long_tracks = {t: people for t, people in followed.items() if min(spans[t]) < 20 and max(spans[t]) > 60}
    assert sorted(len(people) for people in long_tracks.values()) == [1, 1], summary
    assert set.union(*long_tracks.values()) == {1, 2}, summary  # one track per person, from start to end
    assert result["persona_id"] == "p-1" and all(t["label"] == "person" for t in tracks)
