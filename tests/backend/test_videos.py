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
    assert again == {"added": [], "updated": [], "unchanged": 2, "missing": [], "pruned": [], "conflicts": []}
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


def test_sync_survives_a_row_that_holds_a_files_name_under_another_id(isolated_backend) -> None:  # type: ignore[no-untyped-def]
    """Such a row came from an import before ids were checked against names; every sync was a 500 after it."""
    root, c = isolated_backend.root, isolated_backend.client
    write_video(root, "held.mp4", 1000)
    write_video(root, "fine.mp4", 1000)
    with psycopg.connect(**isolated_backend.settings.db_kwargs()) as conn:
        conn.execute("INSERT INTO videos (id, filename, path) VALUES ('00000000000000aa', 'held.mp4', 'held.mp4')")
    synced = c.post("/api/videos/sync")
    assert synced.status_code == 200, synced.text
    body = synced.json()
    assert body["added"] == ["fine.mp4"] and body["missing"] == ["held.mp4"]  # the stray row: its id has no file
    assert len(body["conflicts"]) == 1 and body["conflicts"][0].startswith("held.mp4: video row 00000000000000aa holds")
    again = c.post("/api/videos/sync")
    assert again.status_code == 200 and again.json()["conflicts"] == body["conflicts"]  # and every sync after
    pruned = c.post("/api/videos/sync", params={"prune": "true"}).json()  # what the conflict says to do
    assert pruned["pruned"] == ["held.mp4"] and pruned["conflicts"] == body["conflicts"]
    fixed = c.post("/api/videos/sync").json()
    assert fixed["added"] == ["held.mp4"] and fixed["conflicts"] == []
    assert c.get(f"/api/videos/{videos.video_id('held.mp4')}").status_code == 200


def test_a_video_row_whose_path_is_a_directory_is_a_404_before_any_byte(isolated) -> None:  # type: ignore[no-untyped-def]
    """The response used to start (200, Content-Length of the directory) and abort mid-body."""
    root, c = isolated
    write_video(root, "real.mp4", 1000)
    assert c.post("/api/videos/sync").status_code == 200
    (root / "real.mp4").unlink()
    (root / "real.mp4").mkdir()  # the row's path is now a directory
    ident = videos.video_id("real.mp4")
    for suffix, headers in (("stream", {}), ("stream", {"Range": "bytes=0-9"}), ("thumbnail", {})):
        response = c.get(f"/api/videos/{ident}/{suffix}", headers=headers)
        assert response.status_code == 404, (suffix, response.status_code, response.text[:200])
        assert response.json()["detail"][0]["loc"] == ["path", "video_id"]
        assert "not a regular file" in response.json()["message"]


def _user(settings, name: str, admin: bool = False) -> str:  # type: ignore[no-untyped-def]
    from fovea_backend.auth import hash_password

    password = f"{name}-password"
    with psycopg.connect(**settings.db_kwargs()) as conn:
        conn.execute("INSERT INTO users (username, password_hash, is_admin) VALUES (%s, %s, %s)",
                     (name, hash_password(password), admin))
    return password


def test_an_admin_removes_a_video_with_its_file_and_tracks_only_when_asked(isolated_backend) -> None:  # type: ignore[no-untyped-def]
    c, root = isolated_backend.client, isolated_backend.root
    write_video(root, "bad.mp4", 1000, {"fps": 25, "duration": 2, "width": 64, "height": 64})
    write_video(root, "keep.mp4", 1000)
    assert c.post("/api/videos/sync").status_code == 200
    bad = videos.video_id("bad.mp4")
    assert c.get(f"/api/videos/{bad}").json()["problem"] == "not a video ffprobe can read: no video stream found"
    track = c.post("/api/annotations", json={"videoId": bad, "type": "t", "label": "drawn on black",
                                             "frames": [{"frame": 0, "x": 0, "y": 0, "width": 5, "height": 5}]})
    assert track.status_code == 201
    c.delete(f"/api/annotations/{track.json()['id']}", headers={"If-Match": f'"{track.json()["version"]}"'})  # a tombstone of this video
    c.post("/api/annotations", json={"videoId": bad, "type": "t", "label": "kept", "frames": [
        {"frame": 0, "x": 0, "y": 0, "width": 5, "height": 5}]})

    refused = c.delete(f"/api/videos/{bad}")
    assert refused.status_code == 409 and "1 track(s)" in refused.json()["message"]
    assert (root / "bad.mp4").is_file() and c.get(f"/api/videos/{bad}").status_code == 200

    password = _user(isolated_backend.settings, "annotator")
    with httpx.Client(base_url=str(c.base_url), timeout=30) as other:
        assert other.post("/api/auth/login", json={"username": "annotator", "password": password}).status_code == 200
        assert other.delete(f"/api/videos/{bad}", params={"withAnnotations": "true"}).status_code == 403
    assert (root / "bad.mp4").is_file()

    removed = c.delete(f"/api/videos/{bad}", params={"withAnnotations": "true"})
    assert removed.status_code == 200 and removed.json() == {"removed": "bad.mp4", "annotations": 1}
    assert not (root / "bad.mp4").exists() and not (root / "bad.info.json").exists() and (root / "keep.mp4").is_file()
    assert c.get(f"/api/videos/{bad}").status_code == 404 and c.get(f"/api/annotations/{bad}").status_code == 404
    with psycopg.connect(**isolated_backend.settings.db_kwargs()) as conn:
        assert conn.execute("SELECT count(*) FROM annotation_tombstones WHERE video_id = %s", (bad,)).fetchone() == (0,)
    assert c.delete(f"/api/videos/{bad}").status_code == 404
    assert c.post("/api/videos/sync").json()["added"] == []  # gone for good, not found again


def test_each_user_returns_to_their_own_frame_of_each_video(isolated_backend) -> None:  # type: ignore[no-untyped-def]
    c, root = isolated_backend.client, isolated_backend.root
    write_video(root, "a.mp4", 1000)
    write_video(root, "b.mp4", 1000)
    assert c.post("/api/videos/sync").status_code == 200
    a, b = videos.video_id("a.mp4"), videos.video_id("b.mp4")
    assert c.get(f"/api/videos/{a}/position").json() == {"frame": None}
    assert c.put(f"/api/videos/{a}/position", json={"frame": 42}).json() == {"frame": 42}
    assert c.put(f"/api/videos/{b}/position", json={"frame": 7}).status_code == 200
    assert c.put(f"/api/videos/{a}/position", json={"frame": 43}).status_code == 200
    password = _user(isolated_backend.settings, "second")
    with httpx.Client(base_url=str(c.base_url), timeout=30) as other:
        assert other.post("/api/auth/login", json={"username": "second", "password": password}).status_code == 200
        assert other.get(f"/api/videos/{a}/position").json() == {"frame": None}
        other.put(f"/api/videos/{a}/position", json={"frame": 5})
    assert c.get(f"/api/videos/{a}/position").json() == {"frame": 43}
    assert c.get(f"/api/videos/{b}/position").json() == {"frame": 7}
    assert c.put("/api/videos/0123456789abcdef/position", json={"frame": 1}).status_code == 404
    bad = c.put(f"/api/videos/{a}/position", json={"frame": -1})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "frame"]
