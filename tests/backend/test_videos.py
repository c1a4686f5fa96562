"""Videos: sync semantics (refuse empty/missing, never delete without prune), metadata, Range streaming."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import httpx
import psycopg
import pytest
from backend_harness import ServedApp, make_settings, write_video
from fovea_backend import migrate, videos


def test_video_id_is_the_first_16_hex_of_md5_of_the_filename() -> None:
    assert videos.video_id("clip-a.mp4") == hashlib.md5(b"clip-a.mp4").hexdigest()[:16]


def test_list_and_get_carry_sidecar_metadata(client: httpx.Client, video_a: str) -> None:
    listed = {v["id"]: v for v in client.get("/api/videos").json()}
    assert video_a in listed
    video = client.get(f"/api/videos/{video_a}").json()
    assert video == listed[video_a]
    assert (video["filename"], video["width"], video["height"], video["fps"], video["duration"]) == ("clip-a.mp4", 640, 360, 25.0, 12.0)
    assert (video["fpsNum"], video["fpsDen"], video["frameCount"]) == (25, 1, 300)  # no decodable file: nominal count
    assert video["metadata"]["title"] == "clip a" and video["sizeBytes"] == 300_000
    no_sidecar = next(v for v in listed.values() if v["filename"] == "clip-b.webm")
    assert no_sidecar["width"] is None and no_sidecar["metadata"] == {}


def test_unknown_or_malformed_video_ids(client: httpx.Client) -> None:
    assert client.get("/api/videos/0123456789abcdef").status_code == 404
    bad = client.get("/api/videos/NOT-HEX")
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["path", "video_id"]
    assert client.get("/api/videos/0123456789abcdef/stream").status_code == 404


@pytest.fixture
def isolated(backend_deps, secret_files, fresh_database, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A backend on its own database and video directory, so pruning cannot touch the shared fixtures."""
    root = tmp_path / "videos"
    settings = make_settings(backend_deps, secret_files, fresh_database(), video_root=root)
    migrate.run(settings)
    with ServedApp(settings, run_job_sync=False) as served:
        with served.client(secret_files["admin_password"].read_text().strip()) as c:
            yield root, c


def test_sync_refuses_missing_and_empty_directories(isolated) -> None:  # type: ignore[no-untyped-def]
    root, c = isolated
    missing = c.post("/api/videos/sync")
    assert missing.status_code == 409 and "does not exist" in missing.json()["message"]
    root.mkdir()
    (root / "notes.txt").write_text("not a video")
    empty = c.post("/api/videos/sync")
    assert empty.status_code == 409 and "no videos" in empty.json()["message"]


def test_sync_adds_updates_and_deletes_only_with_prune(isolated) -> None:  # type: ignore[no-untyped-def]
    root, c = isolated
    write_video(root, "one.mp4", 1000, {"width": 100, "height": 50, "fps": 30, "duration": 2})
    write_video(root, "sub/two.mkv", 2000)
    first = c.post("/api/videos/sync").json()
    assert sorted(first["added"]) == ["one.mp4", "sub/two.mkv"] and first["updated"] == []
    one = videos.video_id("one.mp4")
    assert c.post("/api/annotations", json={"videoId": one, "type": "object", "label": "x",
                                            "frames": [{"frame": 0, "x": 1, "y": 1, "width": 5, "height": 5}]}).status_code == 201
    again = c.post("/api/videos/sync").json()
    assert again == {"added": [], "updated": [], "unchanged": 2, "missing": [], "pruned": []}
    write_video(root, "one.mp4", 1000, {"width": 200, "height": 50, "fps": 30, "duration": 2})
    assert c.post("/api/videos/sync").json()["updated"] == ["one.mp4"]
    assert c.get(f"/api/videos/{one}").json()["width"] == 200
    (root / "one.mp4").unlink()
    kept = c.post("/api/videos/sync").json()
    assert kept["missing"] == ["one.mp4"] and kept["pruned"] == []
    assert c.get(f"/api/videos/{one}").status_code == 200
    assert len(c.get(f"/api/annotations/{one}").json()) == 1
    assert c.get(f"/api/videos/{one}/stream").status_code == 404  # row kept, file gone: a clear 404
    shutil.rmtree(root / "sub")
    write_video(root, "three.mp4", 10)
    pruned = c.post("/api/videos/sync", params={"prune": "true"}).json()
    assert sorted(pruned["pruned"]) == ["one.mp4", "sub/two.mkv"] and pruned["added"] == ["three.mp4"]
    assert c.get(f"/api/videos/{one}").status_code == 404
    assert c.get(f"/api/annotations/{one}").status_code == 404


def test_stream_whole_file_and_exact_ranges(client: httpx.Client, backend_deps, video_a: str) -> None:  # type: ignore[no-untyped-def]
    data = (backend_deps.video_root / "clip-a.mp4").read_bytes()
    size = len(data)
    whole = client.get(f"/api/videos/{video_a}/stream")
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["accept-ranges"] == "bytes" and whole.headers["content-type"] == "video/mp4"
    cases = {"bytes=0-0": (0, 0), "bytes=100-199": (100, 199), "bytes=299990-": (299990, size - 1),
             "bytes=-10": (size - 10, size - 1), "bytes=5-999999999": (5, size - 1), "bytes=-999999999": (0, size - 1)}
    for header, (start, end) in cases.items():
        part = client.get(f"/api/videos/{video_a}/stream", headers={"Range": header})
        assert part.status_code == 206, header
        assert part.content == data[start:end + 1], header
        assert part.headers["content-range"] == f"bytes {start}-{end}/{size}"
        assert int(part.headers["content-length"]) == end - start + 1
    for header in (f"bytes={size}-", "bytes=10-5", "bytes=-0", "bytes=0-1,5-6", "items=0-1", "bytes=x-y", "bytes=-"):
        refused = client.get(f"/api/videos/{video_a}/stream", headers={"Range": header})
        assert refused.status_code == 416, header
        assert refused.headers["content-range"] == f"bytes */{size}"
        assert refused.content == b""


def test_parse_range_unit() -> None:
    assert videos.parse_range("bytes=0-9", 10) == (0, 9)
    assert videos.parse_range("bytes=9-", 10) == (9, 9)
    assert videos.parse_range("bytes=10-", 10) is None
    assert videos.parse_range("bytes=-1", 0) is None


def test_sync_rows_survive_in_the_database(settings) -> None:  # type: ignore[no-untyped-def]
    with psycopg.connect(**settings.db_kwargs()) as conn:
        assert conn.execute("SELECT count(*) FROM videos WHERE filename = 'clip-a.mp4'").fetchone() == (1,)
