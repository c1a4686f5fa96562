"""Annotations: CRUD and validation (boxes inside the frame, sizes >= 0, frames sorted and unique,
known video and persona), each failure a 422 naming the field."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fovea_backend.seed import AUTOMATED_PERSONA_ID

MISSING = "00000000-0000-4000-8000-0000000000ff"


def _body(video_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "videoId": video_id, "personaId": str(AUTOMATED_PERSONA_ID), "type": "entity", "label": "person",
        "frames": [{"frame": 0, "x": 10, "y": 20, "width": 30, "height": 40},
                   {"frame": 5, "x": 600, "y": 300, "width": 40, "height": 60}],
        "source": "manual",
    }
    body.update(overrides)
    return body


def read(track: dict[str, Any]) -> dict[str, str]:
    """The precondition of a whole-track write or delete: the version the client last read."""
    return {"If-Match": '"%d"' % track["version"]}


def test_annotation_crud(client: httpx.Client, video_a: str) -> None:
    created = client.post("/api/annotations", json=_body(video_a, confidence=0.5))
    assert created.status_code == 201, created.text
    ann = created.json()
    assert ann["videoId"] == video_a and ann["frames"][1]["x"] == 600 and ann["confidence"] == 0.5 and ann["jobId"] is None
    assert ann in client.get(f"/api/annotations/{video_a}").json()
    replaced = client.put(f"/api/annotations/{ann['id']}", json={**_body(video_a), "label": "cyclist", "source": "ai-assisted"},
                          headers=read(ann))
    assert replaced.status_code == 200
    assert replaced.json()["label"] == "cyclist" and replaced.json()["createdAt"] == ann["createdAt"]
    assert client.delete(f"/api/annotations/{ann['id']}", headers=read(replaced.json())).status_code == 204
    assert client.delete(f"/api/annotations/{ann['id']}", headers=read(replaced.json())).status_code == 404
    assert client.put(f"/api/annotations/{ann['id']}", json=_body(video_a), headers=read(ann)).status_code == 404


def test_a_whole_track_write_needs_the_version_it_read_and_never_replaces_newer_keyframes(
        client: httpx.Client, video_a: str) -> None:
    ann = client.post("/api/annotations", json=_body(video_a)).json()
    newer = client.put(f"/api/annotations/{ann['id']}", headers=read(ann), json=_body(video_a, frames=[
        {"frame": 0, "x": 10, "y": 20, "width": 30, "height": 40}, {"frame": 9, "x": 50, "y": 50, "width": 5, "height": 5}]))
    assert newer.status_code == 200 and newer.json()["version"] > ann["version"]
    # A client that read the first version writes its whole track: refused, the newer keyframe 9 stays.
    stale = client.put(f"/api/annotations/{ann['id']}", json=_body(video_a, label="stale"), headers=read(ann))
    assert stale.status_code == 409, stale.text
    assert stale.json()["current"]["version"] == newer.json()["version"]
    assert client.delete(f"/api/annotations/{ann['id']}", headers=read(ann)).status_code == 409
    missing = client.put(f"/api/annotations/{ann['id']}", json=_body(video_a, label="blind"))
    assert missing.status_code == 428 and missing.json()["detail"][0]["loc"] == ["header", "If-Match"]
    assert client.delete(f"/api/annotations/{ann['id']}").status_code == 428
    garbled = client.put(f"/api/annotations/{ann['id']}", json=_body(video_a), headers={"If-Match": '"v3"'})
    assert garbled.status_code == 422
    stored = next(a for a in client.get(f"/api/annotations/{video_a}").json() if a["id"] == ann["id"])
    assert [kf["frame"] for kf in stored["frames"]] == [0, 9] and stored["label"] == "person"
    assert client.delete(f"/api/annotations/{ann['id']}", headers=read(stored)).status_code == 204


@pytest.mark.parametrize(
    ("overrides", "loc"),
    [
        ({"frames": [{"frame": 0, "x": 630, "y": 0, "width": 20, "height": 10}]}, ["body", "frames", 0, "width"]),
        ({"frames": [{"frame": 0, "x": 0, "y": 350, "width": 20, "height": 11}]}, ["body", "frames", 0, "height"]),
        ({"frames": [{"frame": 0, "x": 0, "y": 0, "width": -1, "height": 1}]}, ["body", "frames", 0, "width"]),
        ({"frames": [{"frame": 3, "x": 0, "y": 0, "width": 1, "height": 1},
                     {"frame": 3, "x": 0, "y": 0, "width": 1, "height": 1}]}, ["body", "frames", 1, "frame"]),
        ({"frames": [{"frame": 4, "x": 0, "y": 0, "width": 1, "height": 1},
                     {"frame": 2, "x": 0, "y": 0, "width": 1, "height": 1}]}, ["body", "frames", 1, "frame"]),
        ({"frames": []}, ["body", "frames"]),
        ({"frames": [{"frame": -1, "x": 0, "y": 0, "width": 1, "height": 1}]}, ["body", "frames", 0, "frame"]),
        ({"personaId": MISSING}, ["body", "personaId"]),
        ({"videoId": "0123456789abcdef"}, ["body", "videoId"]),
        ({"videoId": "nope"}, ["body", "videoId"]),
        ({"source": "guess"}, ["body", "source"]),
        ({"confidence": 1.5}, ["body", "confidence"]),
        ({"label": ""}, ["body", "label"]),
    ],
)
def test_invalid_annotations_are_422_naming_the_field(client: httpx.Client, video_a: str, overrides: dict[str, Any],
                                                      loc: list[Any]) -> None:
    response = client.post("/api/annotations", json=_body(video_a, **overrides))
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == loc


def test_update_validates_against_the_annotations_own_video(client: httpx.Client, video_a: str) -> None:
    ann = client.post("/api/annotations", json=_body(video_a)).json()
    body = _body(video_a, frames=[{"frame": 0, "x": 0, "y": 0, "width": 641, "height": 1}])
    response = client.put(f"/api/annotations/{ann['id']}", json=body, headers=read(ann))
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "frames", 0, "width"]


def test_video_without_known_size_accepts_any_non_negative_box(client: httpx.Client) -> None:
    from fovea_backend.videos import video_id

    response = client.post("/api/annotations", json=_body(video_id("clip-b.webm"), personaId=None,
                                                          frames=[{"frame": 1, "x": 5000, "y": 5000, "width": 1, "height": 1}]))
    assert response.status_code == 201


def test_list_for_unknown_video_is_404(client: httpx.Client) -> None:
    assert client.get("/api/annotations/0123456789abcdef").status_code == 404


def test_list_etag_and_cache_follow_every_change(client: httpx.Client, video_a: str) -> None:
    first = client.get(f"/api/annotations/{video_a}")
    etag = first.headers["etag"]
    assert client.get(f"/api/annotations/{video_a}", headers={"If-None-Match": etag}).status_code == 304
    persona = client.post("/api/personas", json={"name": "Temporary"}).json()["id"]
    ann = client.post("/api/annotations", json=_body(video_a, personaId=persona)).json()
    second = client.get(f"/api/annotations/{video_a}", headers={"If-None-Match": etag})
    assert second.status_code == 200 and second.headers["etag"] != etag and ann in second.json()
    client.put(f"/api/annotations/{ann['id']}", json=_body(video_a, personaId=persona, label="renamed"), headers=read(ann))
    third = client.get(f"/api/annotations/{video_a}")
    assert next(a for a in third.json() if a["id"] == ann["id"])["label"] == "renamed"
    # Deleting the persona nulls personaId through ON DELETE SET NULL; the cached body must not survive that.
    client.delete(f"/api/personas/{persona}")
    fourth = client.get(f"/api/annotations/{video_a}")
    assert fourth.headers["etag"] != third.headers["etag"]
    kept = next(a for a in fourth.json() if a["id"] == ann["id"])
    assert kept["personaId"] is None
    client.delete(f"/api/annotations/{ann['id']}", headers=read(kept))
    assert all(a["id"] != ann["id"] for a in client.get(f"/api/annotations/{video_a}").json())


def test_large_lists_are_served_gzipped_when_accepted(client: httpx.Client, backend_deps, video_a: str) -> None:  # type: ignore[no-untyped-def]
    import gzip
    import json

    frames = [{"frame": i, "x": 1, "y": 1, "width": 2, "height": 2} for i in range(400)]
    created = [client.post("/api/annotations", json=_body(video_a, frames=frames)).json() for _ in range(3)]
    with httpx.Client(base_url=str(client.base_url), cookies=client.cookies) as raw:
        plain = raw.get(f"/api/annotations/{video_a}", headers={"Accept-Encoding": "identity"})
        with raw.stream("GET", f"/api/annotations/{video_a}", headers={"Accept-Encoding": "gzip"}) as zipped:
            assert zipped.headers["content-encoding"] == "gzip"
            compressed = b"".join(zipped.iter_raw())
    assert "content-encoding" not in plain.headers
    assert len(compressed) < len(plain.content) / 5
    assert json.loads(gzip.decompress(compressed)) == plain.json()
    for track in created:
        client.delete(f"/api/annotations/{track['id']}", headers=read(track))
