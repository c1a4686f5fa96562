"""Who did what (issue 21): two users annotating one video keep their authorship through the merging save, a
track's history says who changed what when and restores an earlier version, the export and jobs carry authors,
personas are edited by their owners and admins only, and a viewer's write changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from backend_harness import ServedApp, table_digests
from fovea_backend.settings import Settings

PASSWORD = "Authors-pass-4711"


@pytest.fixture(scope="module")
def team(served: ServedApp, client: httpx.Client) -> Iterator[dict[str, httpx.Client]]:
    """Signed-in clients of two annotators and a viewer (their own cookies: their own sessions)."""
    clients: dict[str, httpx.Client] = {}
    suffix = uuid.uuid4().hex[:6]
    try:
        for who, role in (("ann", "annotator"), ("bob", "annotator"), ("vic", "viewer")):
            name = f"{who}-{suffix}"
            assert client.post("/api/users", json={"username": name, "role": role, "password": PASSWORD}).status_code == 201
            c = httpx.Client(base_url=served.url, timeout=30)
            assert c.post("/api/auth/login", json={"username": name, "password": PASSWORD}).status_code == 200
            clients[who] = c
        yield clients
    finally:
        for c in clients.values():
            c.close()


def _name(c: httpx.Client) -> str:
    return str(c.get("/api/auth/me").json()["username"])


def _revision(c: httpx.Client, vid: str) -> int:
    return int(c.get(f"/api/videos/{vid}").json()["annotationRevision"])


def _save(c: httpx.Client, vid: str, revision: int, *changes: dict[str, Any]) -> dict[str, Any]:
    response = c.put(f"/api/videos/{vid}/annotations", json={"changes": list(changes)}, headers={"If-Match": f'"{revision}"'})
    assert response.status_code == 200, response.text
    return dict(response.json())


def _box(x: float) -> dict[str, Any]:
    return {"x": x, "y": 20, "width": 30, "height": 40, "outside": False}


def _keyframe(track_id: str, frame: int, after: dict[str, Any]) -> dict[str, Any]:
    return {"op": "update", "id": track_id, "keyframes": [{"frame": frame, "from": None, "to": after}]}


def _new_track(c: httpx.Client, vid: str, label: str) -> tuple[str, int]:
    ident = str(uuid.uuid4())
    track = {"type": "entity", "label": label, "source": "manual", "frames": [{"frame": 10, **_box(10)}]}
    saved = _save(c, vid, _revision(c, vid), {"op": "create", "id": ident, "track": track})
    return ident, int(saved["revision"])


def test_two_users_editing_one_track_from_one_revision_both_land_and_each_is_recorded(
        team: dict[str, httpx.Client], video_a: str) -> None:
    ann, bob = team["ann"], team["bob"]
    track_id, base = _new_track(ann, video_a, "two authors")
    # Both start from the same revision; neither saw the other's keyframe: the per-keyframe merge keeps both.
    _save(ann, video_a, base, _keyframe(track_id, 30, _box(50)))
    merged = _save(bob, video_a, base, _keyframe(track_id, 60, _box(70)))
    assert merged["conflicts"] == []
    track = next(a for a in ann.get(f"/api/annotations/{video_a}").json() if a["id"] == track_id)
    assert [f["frame"] for f in track["frames"]] == [10, 30, 60]
    assert track["createdBy"] == _name(ann) and track["updatedBy"] == _name(bob)

    history = ann.get(f"/api/annotations/{track_id}/history").json()
    assert [(h["version"], h["op"], h["actor"], h["keyframes"]) for h in history] == [
        (3, "update", _name(bob), 3), (2, "update", _name(ann), 2), (1, "create", _name(ann), 1)]
    assert all(h["at"] for h in history)


def test_a_track_restored_to_an_earlier_version_is_a_new_version_by_the_restorer(
        team: dict[str, httpx.Client], video_a: str) -> None:
    ann, bob = team["ann"], team["bob"]
    track_id, base = _new_track(ann, video_a, "first label")
    _save(bob, video_a, base, {"op": "update", "id": track_id, "fields": {"label": {"from": "first label", "to": "second"}},
                               "keyframes": [{"frame": 40, "from": None, "to": _box(90)}]})
    restored = ann.post(f"/api/annotations/{track_id}/restore", json={"version": 1})
    assert restored.status_code == 200, restored.text
    assert restored.json()["label"] == "first label" and [f["frame"] for f in restored.json()["frames"]] == [10]
    assert restored.json()["version"] == 3 and restored.json()["updatedBy"] == _name(ann)
    assert ann.get(f"/api/annotations/{track_id}/history").json()[0]["actor"] == _name(ann)

    # A deleted track comes back from its history.
    gone = ann.put(f"/api/videos/{video_a}/annotations", json={"changes": [{"op": "delete", "id": track_id, "version": 3}]},
                   headers={"If-Match": f'"{_revision(ann, video_a)}"'})
    assert gone.status_code == 200 and gone.json()["conflicts"] == []
    assert ann.get(f"/api/annotations/{track_id}/history").json()[0]["op"] == "delete"
    back = bob.post(f"/api/annotations/{track_id}/restore", json={"version": 2})
    assert back.status_code == 200 and back.json()["label"] == "second"
    assert bob.post(f"/api/annotations/{track_id}/restore", json={"version": 99}).status_code == 404
    assert bob.get(f"/api/annotations/{uuid.uuid4()}/history").status_code == 404


def test_the_export_and_jobs_carry_their_authors(team: dict[str, httpx.Client], video_a: str) -> None:
    ann = team["ann"]
    track_id, _ = _new_track(ann, video_a, "exported")
    lines = [line for line in ann.get("/api/export", params={"videoId": video_a}).text.splitlines() if track_id in line]
    assert len(lines) == 1 and f'"createdBy": "{_name(ann)}"'.replace(" ", "") in lines[0].replace(" ", "")
    job = ann.post(f"/api/videos/{video_a}/detect", json={})
    assert job.status_code == 202, job.text
    assert ann.get(f"/api/jobs/{job.json()['jobId']}").json()["createdBy"] == _name(ann)


def test_a_viewers_writes_are_refused_and_change_nothing(team: dict[str, httpx.Client], video_a: str,
                                                          migrated: Settings) -> None:
    vic = team["vic"]
    before = table_digests(migrated)
    track = {"type": "entity", "label": "nope", "source": "manual", "frames": [{"frame": 1, **_box(1)}]}
    for response in (
        vic.put(f"/api/videos/{video_a}/annotations", headers={"If-Match": f'"{_revision(vic, video_a)}"'},
                json={"changes": [{"op": "create", "id": str(uuid.uuid4()), "track": track}]}),
        vic.post("/api/personas", json={"name": "viewer's"}),
        vic.put("/api/world", json={}),
    ):
        assert response.status_code == 403 and response.json()["detail"][0]["loc"] == ["role"], response.text
    after = table_digests(migrated)
    assert {k: v for k, v in after.items() if k != "sessions"} == {k: v for k, v in before.items() if k != "sessions"}


def test_personas_belong_to_their_maker_and_are_edited_by_them_and_admins_only(
        team: dict[str, httpx.Client], client: httpx.Client) -> None:
    ann, bob, vic = team["ann"], team["bob"], team["vic"]
    made = ann.post("/api/personas", json={"name": "ann's analyst"})
    assert made.status_code == 201 and made.json()["owner"] == _name(ann)
    persona = made.json()["id"]
    assert any(p["id"] == persona for p in vic.get("/api/personas").json())  # visible to the team
    refused = bob.put(f"/api/personas/{persona}", json={"name": "taken over"})
    assert refused.status_code == 403 and f"belongs to {_name(ann)}" in refused.json()["message"]
    assert bob.put(f"/api/personas/{persona}/ontology", json={"entityTypes": []}).status_code == 403
    assert bob.delete(f"/api/personas/{persona}").status_code == 403
    assert ann.put(f"/api/personas/{persona}", json={"name": "renamed by ann"}).json()["name"] == "renamed by ann"
    assert client.put(f"/api/personas/{persona}", json={"name": "renamed by admin"}).status_code == 200
    assert bob.get(f"/api/personas/{persona}").json()["name"] == "renamed by admin"
    assert ann.delete(f"/api/personas/{persona}").status_code == 204
