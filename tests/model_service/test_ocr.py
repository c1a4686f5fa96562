"""Text in frame through the queue: a clip drawn by the image's own ffmpeg (tests/text_clip.py) comes back as text
tracks carrying the drawn strings, where they were drawn, with an `outside` keyframe where a text went away; the same
text over consecutive samples is one track, not one per frame."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from rq.job import JobStatus

from tests.model_service.test_queue import enqueue, wait_for
from tests.text_clip import HEIGHT, LINE, SIGN, SIGN_X, SIGN_Y, WIDTH, squash, text_clip_script

pytestmark = pytest.mark.engine
CLIP = "text_in_frame.mp4"


@pytest.fixture(scope="module")
def text_clip(video_root: Path, run_in_image) -> Iterator[str]:
    """The clip, made in the image (its ffmpeg and font) in a folder its user may write, then put in the video root."""
    scratch = Path(tempfile.mkdtemp(prefix="fovea-ocrclip-"))
    scratch.chmod(0o777)
    try:
        made = run_in_image("sh", "-c", text_clip_script(f"/out/{CLIP}"), mounts={scratch: "/out"})
        assert made.returncode == 0, made.stderr
        shutil.copyfile(scratch / CLIP, video_root / CLIP)
        (video_root / CLIP).chmod(0o644)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    yield CLIP


def test_rendered_text_is_read_into_one_track_per_text_with_its_box_and_exit(worker, redis_url: str, text_clip: str,
                                                                             backend_accepts) -> None:
    job = enqueue(redis_url, "object-detection", "read_text", "vid-text", text_clip, {"frames_per_second": 2})
    assert wait_for(job, {JobStatus.FINISHED, JobStatus.FAILED}, budget=300) == JobStatus.FINISHED, job.exc_info
    result, meta = job.return_value(), job.get_meta(refresh=True)
    backend_accepts("read-text", result)
    assert (result["model"], result["sample_every"], result["frames_sampled"]) == ("pp-ocrv4", 5, 8), result
    assert (meta["progress"], meta["detail"]) == (1.0, {"frames_done": 8, "frames_total": 8, "stage": "done"})
    by_text = {squash(t["text"]): t for t in result["tracks"]}
    assert squash(SIGN) in by_text and squash(LINE) in by_text, [t["text"] for t in result["tracks"]]
    for text in (SIGN, LINE):  # each text is one track, however many samples read it
        assert [squash(t["text"]) for t in result["tracks"]].count(squash(text)) == 1, result["tracks"]
    sign, line = by_text[squash(SIGN)], by_text[squash(LINE)]
    assert sign["type"] == line["type"] == "text" and sign["confidence"] >= 0.6
    # The sign: read at every sample while drawn (frames 0-20), then one `outside` keyframe at the first sample
    # without it (frame 25), where it was drawn (its top-left corner within 12 px; a 48 px font, ~36 px of glyphs).
    seen = [p for p in sign["frames"] if not p.get("outside")]
    assert [p["frame"] for p in seen] == [0, 5, 10, 15, 20]
    assert sign["frames"][-1]["frame"] == 25 and sign["frames"][-1]["outside"] is True
    first = seen[0]
    assert abs(first["x"] * WIDTH - SIGN_X) <= 12 and abs(first["y"] * HEIGHT - SIGN_Y) <= 12, first
    assert 0.2 <= first["width"] <= 0.6 and 0.06 <= first["height"] <= 0.2, first
    # The drifting line: one track over all 8 samples, moving right, never outside (it is there to the end).
    assert [p["frame"] for p in line["frames"]] == [0, 5, 10, 15, 20, 25, 30, 35]
    assert line["frames"][-1]["x"] > line["frames"][0]["x"] and not any(p.get("outside") for p in line["frames"])


def test_an_unknown_ocr_model_fails_the_job_naming_the_choices(worker, redis_url: str, text_clip: str) -> None:
    job = enqueue(redis_url, "object-detection", "read_text", "vid-text", text_clip, {"model": "tesseract"})
    assert wait_for(job, {JobStatus.FINISHED, JobStatus.FAILED}, budget=120) == JobStatus.FAILED
    error = job.latest_result().exc_string
    assert "no ocr model 'tesseract'" in error and "pp-ocrv4" in error, error
