"""Video facts at sync time (sidecar first, ffprobe for the rest, the frame rate as an exact rational),
per-video annotation counts, and the thumbnail made once with ffmpeg. Real clips made by the host's
ffmpeg (installed by .ci/setup), served by the real backend on its own database and video directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from backend_harness import make_clip, write_video
from fovea_backend import media, videos


class Calls:
    """Counts calls of a real function while still calling it (instrumentation, not a mock)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> None:
        self.count = 0
        real = getattr(module, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)


@pytest.fixture
def isolated(isolated_backend) -> tuple[Path, httpx.Client]:  # type: ignore[no-untyped-def]
    return isolated_backend.root, isolated_backend.client


def _video(c: httpx.Client, filename: str) -> dict[str, Any]:
    response = c.get(f"/api/videos/{videos.video_id(filename)}")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_ntsc_clip_without_sidecar_gets_exact_facts_from_ffprobe(isolated, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    root, c = isolated
    make_clip(root / "ntsc.mp4")
    make_clip(root / "ntsc.mkv")  # Matroska stores no frame count: counted from the packets
    probes = Calls(monkeypatch, media, "probe")
    assert sorted(c.post("/api/videos/sync").json()["added"]) == ["ntsc.mkv", "ntsc.mp4"]
    for name in ("ntsc.mp4", "ntsc.mkv"):
        video = _video(c, name)
        assert (video["fpsNum"], video["fpsDen"], video["frameCount"]) == (30000, 1001, 100), name
        assert video["fps"] == 30000 / 1001
        assert (video["width"], video["height"], video["codec"]) == (320, 240, "h264")
        assert video["duration"] == pytest.approx(100 * 1001 / 30000, abs=0.01)
        assert (video["annotationCount"], video["annotationRevision"]) == (0, 0)
        assert video["metadata"] == {}
    assert probes.count == 2
    # Unchanged files are not probed again; a rewritten one is.
    assert c.post("/api/videos/sync").json()["unchanged"] == 2 and probes.count == 2
    make_clip(root / "ntsc.mkv", rate="25", frames=50)
    assert c.post("/api/videos/sync").json()["updated"] == ["ntsc.mkv"] and probes.count == 3
    assert (_video(c, "ntsc.mkv")["fpsNum"], _video(c, "ntsc.mkv")["fpsDen"], _video(c, "ntsc.mkv")["frameCount"]) == (25, 1, 50)


def test_sidecar_facts_win_and_its_rounded_fps_takes_the_files_rational(isolated) -> None:  # type: ignore[no-untyped-def]
    root, c = isolated
    clip = make_clip(root / "yt.mp4")
    clip.with_name("yt.info.json").write_text(json.dumps({"fps": 29.97, "duration": 3.5, "width": 640, "height": 480,
                                                          "vcodec": "avc1.64001F", "title": "downloaded"}))
    write_video(root, "opaque.webm", 4096, {"fps": 23.976, "duration": 10})  # not decodable: sidecar only
    write_video(root, "nothing.mkv", 4096)
    assert c.post("/api/videos/sync").status_code == 200
    yt = _video(c, "yt.mp4")
    assert (yt["fpsNum"], yt["fpsDen"], yt["frameCount"]) == (30000, 1001, 100)  # frame count from the file
    assert (yt["width"], yt["height"], yt["duration"], yt["codec"]) == (640, 480, 3.5, "avc1.64001F")
    opaque = _video(c, "opaque.webm")
    assert (opaque["fpsNum"], opaque["fpsDen"], opaque["frameCount"]) == (24000, 1001, 240)  # nominal: 10 s x 23.976
    assert opaque["width"] is None and opaque["codec"] is None
    nothing = _video(c, "nothing.mkv")
    assert [nothing[k] for k in ("fpsNum", "fpsDen", "fps", "frameCount", "duration", "width", "codec")] == [None] * 7


def test_annotation_count_and_revision_follow_changes(isolated) -> None:  # type: ignore[no-untyped-def]
    root, c = isolated
    write_video(root, "a.mp4", 1000, {"width": 100, "height": 100})
    c.post("/api/videos/sync")
    vid = videos.video_id("a.mp4")
    box = {"frame": 0, "x": 1, "y": 1, "width": 5, "height": 5}
    made = [c.post("/api/annotations", json={"videoId": vid, "type": "object", "label": str(i), "frames": [box]}).json()
            for i in range(3)]
    c.delete(f"/api/annotations/{made[0]['id']}", headers={"If-Match": f'"{made[0]["version"]}"'})
    video = _video(c, "a.mp4")
    assert video["annotationCount"] == 2 and video["annotationRevision"] == 4
    listed = c.get(f"/api/annotations/{vid}")
    assert listed.headers["etag"] == f'"{vid}-4"'
    assert c.get("/api/videos").json()[0]["annotationCount"] == 2


def test_thumbnail_is_a_jpeg_made_once_and_cached(isolated, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    root, c = isolated
    make_clip(root / "thumb.mp4")
    write_video(root, "broken.mp4", 4096)
    c.post("/api/videos/sync")
    runs = Calls(monkeypatch, media, "make_thumbnail")
    url = f"/api/videos/{videos.video_id('thumb.mp4')}/thumbnail"
    first = c.get(url)
    assert first.status_code == 200, first.text
    assert first.headers["content-type"] == "image/jpeg" and first.headers["cache-control"] == "private, max-age=86400"
    assert first.content[:3] == b"\xff\xd8\xff" and first.content[-2:] == b"\xff\xd9"
    cached = list((root / videos.THUMBNAIL_DIR).glob("*.jpg"))
    assert len(cached) == 1 and cached[0].read_bytes() == first.content
    made = cached[0].stat()
    second = c.get(url)
    assert second.content == first.content and runs.count == 1
    assert (cached[0].stat().st_mtime_ns, cached[0].stat().st_ino) == (made.st_mtime_ns, made.st_ino)
    # A replaced file gets a new thumbnail (the cache name carries size and mtime), the old one is removed.
    make_clip(root / "thumb.mp4", size="160x120", frames=10)
    assert c.get(url).status_code == 200 and runs.count == 2
    names = [p.name for p in (root / videos.THUMBNAIL_DIR).glob("*.jpg")]
    assert len(names) == 1 and names[0] != cached[0].name
    # An undecodable file: 404, and the failure is remembered rather than retried per request.
    broken = f"/api/videos/{videos.video_id('broken.mp4')}/thumbnail"
    assert c.get(broken).status_code == 404 and runs.count == 3
    assert c.get(broken).status_code == 404 and runs.count == 3
    assert c.get("/api/videos/0123456789abcdef/thumbnail").status_code == 404
    # The thumbnail directory is not mistaken for videos.
    assert c.post("/api/videos/sync").json()["added"] == []


def test_frame_rate_rationals() -> None:
    assert media.rate_from_float(29.97) == (30000, 1001)
    assert media.rate_from_float(23.976) == (24000, 1001)
    assert media.rate_from_float(59.94) == (60000, 1001)
    assert media.rate_from_float(25.0) == (25, 1)
    assert media.rate_from_float(12.5) == (25, 2)
    assert media.rate_from_float(1e9) is None
    assert media.parse_rate("30000/1001") == (30000, 1001)
    assert media.parse_rate("50/2") == (25, 1)
    assert media.parse_rate("0/0") is None and media.parse_rate("x") is None and media.parse_rate(None) is None
