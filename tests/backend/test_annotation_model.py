"""The annotation model through the API (issue 22): tracks linked to world entities, with attributes and a lock;
events with participants in role slots and relations, saved through the merging save and checked against the
persona's ontology — a role filled with the wrong type or a relation breaking its constraint is refused where it is,
and nothing of it is written."""

from __future__ import annotations

import uuid
from typing import Any

import httpx


def make_persona(client: httpx.Client, name: str = "Analyst") -> str:
    persona = client.post("/api/personas", json={"name": name}).json()["id"]
    ontology = {
        "entityTypes": [
            {"id": "person", "name": "Person", "attributes": [
                {"id": "a1", "name": "occluded", "type": "checkbox", "mutable": True},
                {"id": "a2", "name": "role", "type": "choice", "options": ["driver", "walker"], "mutable": False}]},
            {"id": "car", "name": "Car", "attributes": [{"id": "a3", "name": "plate", "type": "text", "mutable": False}]},
        ],
        "eventTypes": [{"id": "handover", "name": "Handover", "roles": [{"roleTypeId": "giver"}, {"roleTypeId": "taker"}]},
                       {"id": "rain", "name": "Rain", "roles": []}],
        "roleTypes": [{"id": "giver", "name": "Giver", "allowedFillerTypes": ["person"]},
                      {"id": "taker", "name": "Taker", "allowedFillerTypes": ["entity"]}],
        "relationTypes": [{"id": "drives", "name": "drives", "sourceTypes": ["person"], "targetTypes": ["car"]}],
    }
    assert client.put(f"/api/personas/{persona}/ontology", json=ontology).status_code == 200
    return persona


def save(client: httpx.Client, video: str, changes: list[dict[str, Any]]) -> dict[str, Any]:
    revision = client.get(f"/api/videos/{video}").json()["annotationRevision"]
    response = client.put(f"/api/videos/{video}/annotations", json={"changes": changes}, headers={"If-Match": f'"{revision}"'})
    assert response.status_code == 200, response.text
    return response.json()


def track(persona: str, type_: str = "person", frames: list[dict[str, Any]] | None = None, **fields: Any) -> dict[str, Any]:
    return {"op": "create", "id": str(uuid.uuid4()), "track": {
        "personaId": persona, "type": type_, "label": type_, "source": "manual",
        "frames": frames or [{"frame": 0, "x": 10, "y": 10, "width": 40, "height": 80}], **fields}}


def test_events_with_participants_and_relations_are_saved_and_a_wrong_filler_is_refused_where_it_is(
        client: httpx.Client, video_a: str) -> None:
    persona = make_persona(client)
    client.put("/api/world", json={"entities": [{"id": "ann", "name": "Ann", "typeAssignments": [
        {"personaId": persona, "entityTypeId": "person"}]}]})
    giver, car = track(persona), track(persona, "car")
    event = {"op": "create", "kind": "event", "id": str(uuid.uuid4()), "event": {
        "personaId": persona, "type": "handover", "label": "hands over keys", "startFrame": 5, "endFrame": 40,
        "roles": {"giver": [{"kind": "track", "id": giver["id"]}], "taker": [{"kind": "entity", "id": "ann"}]}}}
    relation = {"op": "create", "kind": "relation", "id": str(uuid.uuid4()), "relation": {
        "personaId": persona, "type": "drives", "source": {"kind": "track", "id": giver["id"]},
        "target": {"kind": "track", "id": car["id"]}}}
    saved = save(client, video_a, [giver, car, event, relation])
    assert saved["rejected"] == [] and saved["conflicts"] == []
    assert saved["events"][0]["roles"]["taker"] == [{"kind": "entity", "id": "ann"}]
    assert saved["relations"][0]["target"] == {"kind": "track", "id": car["id"]}
    document = client.get(f"/api/videos/{video_a}/annotations").json()
    assert {e["id"] for e in document["events"]} >= {event["id"]}
    assert {r["id"] for r in document["relations"]} >= {relation["id"]}

    # A car as the giver (a Person role) and a relation from the car: refused where they are, nothing written.
    version = saved["events"][0]["version"]
    bad = save(client, video_a, [
        {"op": "update", "kind": "event", "id": event["id"], "fields": {"roles": {
            "from": event["event"]["roles"], "to": {**event["event"]["roles"], "giver": [{"kind": "track", "id": car["id"]}]}}}},
        {"op": "create", "kind": "relation", "id": str(uuid.uuid4()), "relation": {
            "personaId": persona, "type": "drives", "source": {"kind": "track", "id": car["id"]},
            "target": {"kind": "track", "id": giver["id"]}}}])
    assert [r["loc"] for r in bad["rejected"]] == [["body", "changes", 0, "fields", "roles", "to", "giver", 0],
                                                   ["body", "changes", 1, "relation", "source"]]
    assert bad["rejected"][0]["message"] == "track «car» is a Car; the role Giver takes Person"
    assert bad["rejected"][1]["message"] == "track «car» is a Car; a drives relation's source must be Person"
    after = client.get(f"/api/videos/{video_a}/annotations").json()
    stored = next(e for e in after["events"] if e["id"] == event["id"])
    assert stored["roles"]["giver"] == [{"kind": "track", "id": giver["id"]}] and stored["version"] == version
    assert len([r for r in after["relations"] if r["source"]["id"] == car["id"]]) == 0


def test_a_track_links_an_entity_carries_attributes_and_a_lock_refuses_all_but_unlocking(
        client: httpx.Client, video_a: str) -> None:
    persona = make_persona(client, "Locker")
    client.put("/api/world", json={"entities": [{"id": "bob", "name": "Bob"}]})
    created = track(persona, frames=[{"frame": 0, "x": 1, "y": 1, "width": 5, "height": 5},
                                     {"frame": 9, "x": 2, "y": 1, "width": 5, "height": 5, "attributes": {"occluded": True}}],
                    entityId="bob", attributes={"role": "driver"})
    saved = save(client, video_a, [created])["annotations"][0]
    assert saved["entityId"] == "bob" and saved["attributes"] == {"role": "driver"}
    assert saved["frames"][1]["attributes"] == {"occluded": True} and "attributes" not in saved["frames"][0]
    unknown = save(client, video_a, [{"op": "update", "id": created["id"], "fields": {"entityId": {"from": "bob", "to": "nobody"}}}])
    assert unknown["rejected"][0]["loc"][-2:] == ["entityId", "to"] and "unknown world entity" in unknown["rejected"][0]["message"]

    save(client, video_a, [{"op": "update", "id": created["id"], "fields": {"locked": {"from": False, "to": True}}}])
    refused = save(client, video_a, [{"op": "update", "id": created["id"], "fields": {"label": {"from": "person", "to": "x"}},
                                      "keyframes": [{"frame": 0, "from": {"x": 1, "y": 1, "width": 5, "height": 5},
                                                     "to": {"x": 3, "y": 1, "width": 5, "height": 5}}]}])
    assert [r["message"] for r in refused["rejected"]] == ["the track is locked: unlock it first"] * 2
    assert refused["annotations"][0]["label"] == "person" and refused["annotations"][0]["frames"][0]["x"] == 1
    deleted = save(client, video_a, [{"op": "delete", "id": created["id"], "version": refused["annotations"][0]["version"]}])
    assert deleted["rejected"][0]["message"] == "the track is locked: unlock it first" and deleted["annotations"]
    unlocked = save(client, video_a, [{"op": "update", "id": created["id"], "fields": {
        "locked": {"from": True, "to": False}, "label": {"from": "person", "to": "Bob"}}}])
    assert unlocked["annotations"][0]["label"] == "Bob" and unlocked["rejected"] == []


def test_hidden_tracks_are_kept_per_user_and_video(client: httpx.Client, video_a: str) -> None:
    hidden = [str(uuid.uuid4())]
    assert client.put(f"/api/videos/{video_a}/view", json={"hidden": hidden}).json()["hidden"] == hidden
    assert client.get(f"/api/videos/{video_a}/view").json()["hidden"] == hidden
    assert client.put("/api/videos/0123456789abcdef/view", json={"hidden": []}).status_code == 404


def test_an_entity_lists_its_appearances_across_videos(client: httpx.Client, video_a: str, backend_deps: Any) -> None:
    from backend_harness import write_video
    from fovea_backend.videos import video_id

    write_video(backend_deps.video_root, "appear-b.mp4", 10_000, {"duration": 2.0, "fps": 10, "width": 320, "height": 240})
    client.post("/api/videos/sync")
    other = video_id("appear-b.mp4")
    persona = make_persona(client, "Appearances")
    client.put("/api/world", json={"entities": [{"id": "eve", "name": "Eve"}]})
    save(client, video_a, [track(persona, entityId="eve", frames=[{"frame": 4, "x": 1, "y": 1, "width": 5, "height": 5}])])
    save(client, other, [track(persona, entityId="eve", frames=[{"frame": 2, "x": 1, "y": 1, "width": 5, "height": 5},
                                                                 {"frame": 8, "x": 1, "y": 1, "width": 5, "height": 5,
                                                                  "outside": True}])])
    seen = client.get("/api/world/appearances", params={"entityId": "eve"}).json()
    assert sorted((a["videoId"], a["startFrame"], a["endFrame"]) for a in seen) == sorted(
        [(video_a, 4, 299), (other, 2, 8)])  # clip a: 12 s at 25 fps, held to its end; b: ends outside at 8
