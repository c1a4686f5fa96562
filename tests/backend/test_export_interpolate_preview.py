"""Export filtered by video and interpolated to every frame (outside spans omitted, keyframes flagged, an
import restores the keyframes), and the import dry run: counts, conflicts, every bad line, nothing written."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from backend_harness import NDJSON, write_video
from fovea_backend import tracks
from fovea_backend.videos import video_id

ALL_ROWS = {
    "videos": "SELECT * FROM videos ORDER BY id",  # annotation_rev included: a rolled-back trigger bump shows here
    "personas": "SELECT * FROM personas ORDER BY id",
    "ontologies": "SELECT * FROM ontologies ORDER BY persona_id",
    "world_state": "SELECT * FROM world_state",
    "annotations": "SELECT * FROM annotations ORDER BY id",
    "video_summaries": "SELECT id, video_id, text FROM video_summaries ORDER BY id",
}


def _rows(settings) -> dict[str, list[tuple[object, ...]]]:  # type: ignore[no-untyped-def]
    with psycopg.connect(**settings.db_kwargs()) as conn:
        return {table: conn.execute(sql).fetchall() for table, sql in ALL_ROWS.items()}


def _lines(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines()]


def _annotation(c: httpx.Client, vid: str, frames: list[dict[str, Any]], label: str = "car") -> dict[str, Any]:
    created = c.post("/api/annotations", json={"videoId": vid, "type": "entity", "label": label, "frames": frames})
    assert created.status_code == 201, created.text
    return created.json()  # type: ignore[no-any-return]


def _box(frame: int, x: float, y: float, width: float, height: float, outside: bool = False) -> dict[str, Any]:
    return {"frame": frame, "x": x, "y": y, "width": width, "height": height, "outside": outside}


def _two_videos(isolated_backend) -> tuple[httpx.Client, str, str]:  # type: ignore[no-untyped-def]
    c = isolated_backend.client
    write_video(isolated_backend.root, "main.mp4", 1000, {"width": 640, "height": 360, "fps": 25})
    write_video(isolated_backend.root, "other.mp4", 1000, {"width": 640, "height": 360, "fps": 25})
    assert c.post("/api/videos/sync").status_code == 200
    return c, video_id("main.mp4"), video_id("other.mp4")


def test_interpolated_export_of_one_video_has_every_frame_exactly(isolated_backend) -> None:  # type: ignore[no-untyped-def]
    c, main, other = _two_videos(isolated_backend)
    moving = _annotation(c, main, [_box(10, 10, 20, 30, 40), _box(20, 110, 20, 50, 40, outside=True),
                                   _box(30, 0, 0, 10, 10), _box(33, 3, 3, 13, 10)])
    thirds = _annotation(c, main, [_box(0, 0, 0, 1, 1), _box(3, 1, 2, 1, 1)], label="thirds")
    _annotation(c, other, [_box(0, 0, 0, 1, 1)], label="elsewhere")

    lines = _lines(c.get("/api/export", params={"videoId": main, "interpolate": "true"}))
    assert lines[0]["data"]["interpolated"] is True and lines[0]["data"]["videoId"] == main
    assert [line["data"]["id"] for line in lines if line["type"] == "video"] == [main]
    assert any(line["type"] == "persona" for line in lines)  # references stay, so the file imports on its own
    exported = {line["data"]["id"]: line["data"] for line in lines if line["type"] == "annotation"}
    assert set(exported) == {moving["id"], thirds["id"]}

    frames = exported[moving["id"]]["frames"]
    expected = [{**_box(10, 10, 20, 30, 40), "keyframe": True}]
    expected += [{**_box(f, 10 + 10 * (f - 10), 20, 30 + 2 * (f - 10), 40), "keyframe": False} for f in range(11, 20)]
    expected += [{**_box(20, 110, 20, 50, 40, outside=True), "keyframe": True}]  # 21..29: outside, omitted
    expected += [{**_box(30, 0, 0, 10, 10), "keyframe": True}, {**_box(31, 1, 1, 11, 10), "keyframe": False},
                 {**_box(32, 2, 2, 12, 10), "keyframe": False}, {**_box(33, 3, 3, 13, 10), "keyframe": True}]
    assert frames == expected
    assert [(f["frame"], f["x"], f["y"]) for f in exported[thirds["id"]]["frames"]] == [(0, 0, 0), (1, 0.333, 0.667),
                                                                                          (2, 0.667, 1.333), (3, 1, 2)]
    # Without interpolate: the stored keyframes, as before; without videoId: every video.
    plain = _lines(c.get("/api/export"))
    assert plain[0]["data"]["interpolated"] is False and "videoId" not in plain[0]["data"]
    stored = {line["data"]["id"]: line["data"]["frames"] for line in plain if line["type"] == "annotation"}
    assert len(stored) == 3 and stored[moving["id"]] == moving["frames"]


EXTENT_CASES = json.loads((Path(__file__).resolve().parents[2] / "services" / "frontend" / "src" / "editor"
                           / "extent.cases.json").read_text())["cases"]


@pytest.mark.parametrize("case", EXTENT_CASES, ids=[c["name"] for c in EXTENT_CASES])
def test_a_track_lasts_as_the_workspace_draws_it(case: dict[str, Any]) -> None:
    frames = tracks.expand(case["track"], case["frameCount"])
    assert [[f["frame"], f["x"], f["keyframe"], f["outside"]] for f in frames] == case["expect"]
    assert tracks.span(case["track"], case["frameCount"]) == case["expect"][-1][0] - case["expect"][0][0] + 1


def test_the_interpolated_export_holds_a_track_to_the_videos_end_as_the_workspace_shows_it(isolated_backend) -> None:  # type: ignore[no-untyped-def]
    c = isolated_backend.client
    write_video(isolated_backend.root, "two-seconds.mp4", 1000, {"width": 640, "height": 360, "fps": 25, "duration": 2})
    assert c.post("/api/videos/sync").status_code == 200
    vid = video_id("two-seconds.mp4")
    assert c.get(f"/api/videos/{vid}").json()["frameCount"] == 50
    held = _annotation(c, vid, [_box(10, 10, 20, 30, 40)], label="held")
    ended = _annotation(c, vid, [_box(10, 10, 20, 30, 40), _box(20, 10, 20, 30, 40, outside=True)], label="ended")
    exported = {line["data"]["id"]: line["data"]["frames"] for line in
                _lines(c.get("/api/export", params={"videoId": vid, "interpolate": "true"})) if line["type"] == "annotation"}
    assert [f["frame"] for f in exported[held["id"]]] == list(range(10, 50))
    assert exported[held["id"]][-1] == {**_box(49, 10, 20, 30, 40), "keyframe": False}
    assert [f["frame"] for f in exported[ended["id"]]] == list(range(10, 21))


def test_importing_an_interpolated_export_restores_the_keyframes(isolated_backend) -> None:  # type: ignore[no-untyped-def]
    c, main, _ = _two_videos(isolated_backend)
    _annotation(c, main, [_box(0, 0, 0, 10, 10), _box(50, 100, 100, 10, 10, outside=True), _box(90, 5, 5, 5, 5)])
    before = _rows(isolated_backend.settings)
    exported = c.get("/api/export", params={"interpolate": "true"}).content
    assert exported.count(b'"keyframe": false') == 49
    imported = c.post("/api/import", content=exported, headers=NDJSON)
    assert imported.status_code == 200, imported.text
    after = _rows(isolated_backend.settings)
    assert after["annotations"] == before["annotations"]


def test_export_filters_and_limits_are_checked(isolated_backend) -> None:  # type: ignore[no-untyped-def]
    c, main, _ = _two_videos(isolated_backend)
    assert c.get("/api/export", params={"videoId": "0123456789abcdef"}).status_code == 404
    malformed = c.get("/api/export", params={"videoId": "NOPE"})
    assert malformed.status_code == 422 and malformed.json()["detail"][0]["loc"] == ["query", "videoId"]
    _annotation(c, main, [_box(0, 0, 0, 1, 1), _box(tracks.MAX_TRACK_FRAMES + 5, 0, 0, 1, 1)])
    too_long = c.get("/api/export", params={"interpolate": "true"})
    assert too_long.status_code == 422 and too_long.json()["detail"][0]["loc"] == ["query", "interpolate"]
    assert c.get("/api/export").status_code == 200  # keyframes only: fine


def test_import_dry_run_reports_counts_conflicts_and_every_error_and_writes_nothing(isolated_backend) -> None:  # type: ignore[no-untyped-def]
    c, main, other = _two_videos(isolated_backend)
    existing = _annotation(c, main, [_box(0, 0, 0, 1, 1)])
    persona = c.post("/api/personas", json={"name": "Analyst"}).json()
    exported = {line["type"] + ":" + str(line["data"].get("id")): line for line in _lines(c.get("/api/export"))}
    stamp = {"createdAt": "2024-01-01T00:00:00Z", "updatedAt": "2024-01-01T00:00:00Z"}
    new_persona = {"id": str(uuid.uuid4()), "name": "New", "role": "", "informationNeed": "", "hidden": False, **stamp}
    ann = exported[f"annotation:{existing['id']}"]["data"]
    orphan = {**ann, "id": str(uuid.uuid4()), "videoId": "0123456789abcdef"}
    moved = {**ann, "videoId": other}
    lines = [
        {"type": "header", "data": {"format": "fovea-export", "version": 1}},           # 1
        {"type": "persona", "data": new_persona},                                        # 2 would import
        exported[f"persona:{persona['id']}"],                                            # 3 conflict: exists
        "not json at all",                                                               # 4 error: line
        {"type": "persona", "data": {**new_persona, "id": str(uuid.uuid4()), "name": ""}},  # 5 error: data.name
        {"type": "annotation", "data": orphan},                                          # 6 error: data.videoId
        {"type": "annotation", "data": moved},                                           # 7 conflict: moves
        {"type": "annotation", "data": {**ann, "id": str(uuid.uuid4()),                  # 8 error: frames
                                        "frames": [_box(3, 0, 0, 1, 1), _box(2, 0, 0, 1, 1)]}},
    ]
    body = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n"
    before = _rows(isolated_backend.settings)

    preview = c.post("/api/import", params={"dryRun": "true"}, content=body, headers=NDJSON)
    assert preview.status_code == 200, preview.text
    report = preview.json()
    assert report["wouldImport"] == {"persona": 2, "annotation": 1}
    # Each record once: new, or replacing a row (never both).
    assert report["wouldAdd"] == {"persona": 1} and report["wouldReplace"] == {"persona": 1, "annotation": 1}
    assert [(x["line"], x["kind"], x["id"]) for x in report["conflicts"]] == [(3, "persona", persona["id"]),
                                                                              (7, "annotation", existing["id"])]
    assert "replaces" in report["conflicts"][0]["reason"] and f"moves it to video {other}" in report["conflicts"][1]["reason"]
    assert [(e["line"], e["field"]) for e in report["errors"]] == [(4, "line"), (5, "data.name"), (6, "data.videoId"),
                                                                    (8, "data.frames.1.frame")]
    assert all(e["message"] for e in report["errors"])
    assert _rows(isolated_backend.settings) == before

    # The real import of the same body: 422 naming the first bad line, as before; nothing written either.
    real = c.post("/api/import", content=body, headers=NDJSON)
    assert real.status_code == 422 and real.json()["detail"][0]["loc"] == ["body", "line 4"]
    assert _rows(isolated_backend.settings) == before
    for junk, where in ((b"\xff\xfe", (1, "line")), (b"", (0, "body"))):
        whole = c.post("/api/import", params={"dryRun": "true"}, content=junk, headers=NDJSON).json()
        assert whole["wouldImport"] == {} and [(e["line"], e["field"]) for e in whole["errors"]] == [where]
    clean = c.post("/api/import", params={"dryRun": "true"}, content=json.dumps(lines[2]) + "\n", headers=NDJSON).json()
    assert clean["errors"] == [] and clean["wouldImport"] == {"persona": 1} and len(clean["conflicts"]) == 1
    assert clean["wouldAdd"] == {} and clean["wouldReplace"] == {"persona": 1}
    assert _rows(isolated_backend.settings) == before
