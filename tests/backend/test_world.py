"""The world state written one object at a time (issue 22): entities typed per persona, times with real values,
located places, collections and relations checked against the persona's ontology; concurrent writers never lose
each other's objects, a stale field edit is a 409 that writes nothing, and nothing in use can be deleted. Also the
Ontology's structure (attributes, role slots, constraints) refused at its place when malformed."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import httpx
import pytest
from backend_harness import ServedApp


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def persona_with(client: httpx.Client, name: str, ontology: dict[str, Any]) -> str:
    persona = client.post("/api/personas", json={"name": name}).json()["id"]
    response = client.put(f"/api/personas/{persona}/ontology", json=ontology)
    assert response.status_code == 200, response.text
    return persona


PEOPLE = {"entityTypes": [{"id": "person", "name": "Person"}, {"id": "car", "name": "Car"}],
          "eventTypes": [{"id": "meeting", "name": "Meeting"}],
          "relationTypes": [{"id": "owns", "name": "owns", "sourceTypes": ["person"], "targetTypes": ["car"]}]}
VEHICLES = {"entityTypes": [{"id": "driver", "name": "Driver"}, {"id": "vehicle", "name": "Vehicle"}]}


def locs(response: httpx.Response) -> list[list[Any]]:
    return [item["loc"] for item in response.json()["detail"]]


def test_each_persona_types_an_entity_its_own_way(client: httpx.Client) -> None:
    analyst, traffic = persona_with(client, "Analyst", PEOPLE), persona_with(client, "Traffic", VEHICLES)
    ann = uid("entity")
    created = client.post("/api/world/entities", json={"id": ann, "name": "Ann", "typeAssignments": [
        {"personaId": analyst, "entityTypeId": "person"}]})
    assert created.status_code == 201, created.text
    assert created.headers["ETag"]
    typed = client.put(f"/api/world/entities/{ann}/types/{traffic}", json={"typeId": "driver"})
    assert typed.status_code == 200, typed.text
    assert sorted((a["personaId"], a["entityTypeId"]) for a in typed.json()["typeAssignments"]) == sorted(
        [(analyst, "person"), (traffic, "driver")])
    # Another persona's type is not one of this persona's: refused naming the field, nothing changed.
    wrong = client.put(f"/api/world/entities/{ann}/types/{traffic}", json={"typeId": "person"})
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"] == ["body", "typeId"]
    assert "Driver, Vehicle" in wrong.json()["message"]
    untyped = client.put(f"/api/world/entities/{ann}/types/{analyst}", json={"typeId": None}).json()
    assert untyped["typeAssignments"] == [{"personaId": traffic, "entityTypeId": "driver"}]
    world = client.get("/api/world").json()
    assert next(e for e in world["entities"] if e["id"] == ann) == untyped


def test_times_carry_real_values_and_where_a_video_shows_them(client: httpx.Client, video_a: str) -> None:
    instant = {"id": uid("time"), "name": "kick-off", "timeType": "instant", "at": "2024-05-01T15:30:00",
               "videoId": video_a, "frame": 25}
    assert client.post("/api/world/times", json=instant).json() == {**instant, "description": ""}
    interval = {"id": uid("time"), "name": "first half", "timeType": "interval", "start": "2024-05-01T15:30:00+02:00",
                "end": "2024-05-01T16:15:00+02:00", "videoId": video_a, "frame": 25, "endFrame": 200}
    assert client.post("/api/world/times", json=interval).status_code == 201
    bad = [({"timeType": "instant"}, ["body"]),  # an instant needs `at`
           ({"timeType": "interval", "start": "2024-05-01T16:00:00", "end": "2024-05-01T15:00:00"}, ["body"]),
           ({"timeType": "instant", "at": "yesterday"}, ["body", "at"]),
           ({"timeType": "instant", "at": "2024-05-01T15:30:00", "frame": 3}, ["body"]),  # a frame of which video?
           ({"timeType": "instant", "at": "2024-05-01T15:30:00", "videoId": video_a, "frame": 10_000}, ["body", "frame"])]
    for fields, loc in bad:
        response = client.post("/api/world/times", json={"id": uid("time"), "name": "x", **fields})
        assert response.status_code == 422, (fields, response.text)
        assert locs(response)[0] == loc, (fields, response.json())


def test_world_events_are_typed_per_persona_and_name_an_existing_time_and_place(client: httpx.Client) -> None:
    persona = persona_with(client, "Events", PEOPLE)
    when, where = uid("time"), uid("location")
    client.post("/api/world/times", json={"id": when, "name": "noon", "timeType": "instant", "at": "2024-05-01T12:00:00"})
    client.post("/api/world/locations", json={"id": where, "name": "Square", "latitude": 10, "longitude": 20})
    meeting = {"id": uid("event"), "name": "meeting", "timeId": "nowhen", "locationId": where}
    refused = client.post("/api/world/events", json=meeting)
    assert refused.status_code == 422 and locs(refused) == [["body", "timeId"]]
    assert client.post("/api/world/events", json={**meeting, "timeId": when}).status_code == 201
    typed = client.put(f"/api/world/events/{meeting['id']}/types/{persona}", json={"typeId": "meeting"})
    assert typed.status_code == 200 and typed.json()["typeAssignments"] == [{"personaId": persona, "eventTypeId": "meeting"}]
    assert client.put(f"/api/world/events/{meeting['id']}/types/{persona}", json={"typeId": "person"}).status_code == 422
    # The time it names cannot go while the event does.
    assert client.delete(f"/api/world/times/{when}").status_code == 409


def test_locations_need_coordinates_in_range(client: httpx.Client) -> None:
    place = {"id": uid("location"), "name": "Harbour", "latitude": 51.9225, "longitude": 4.47917}
    assert client.post("/api/world/locations", json=place).status_code == 201
    response = client.post("/api/world/locations", json={"id": uid("location"), "name": "Nowhere", "latitude": 91, "longitude": 0})
    assert response.status_code == 422 and locs(response) == [["body", "latitude"]]
    missing = client.post("/api/world/locations", json={"id": uid("location"), "name": "Somewhere"})
    assert missing.status_code == 422 and sorted(map(tuple, locs(missing))) == [("body", "latitude"), ("body", "longitude")]


def test_collections_and_relations_name_what_exists_and_relations_keep_their_constraints(client: httpx.Client) -> None:
    persona = persona_with(client, "Owners", PEOPLE)
    ann, bus = uid("entity"), uid("entity")
    client.post("/api/world/entities", json={"id": ann, "name": "Ann",
                                             "typeAssignments": [{"personaId": persona, "entityTypeId": "person"}]})
    client.post("/api/world/entities", json={"id": bus, "name": "Bus 7",
                                             "typeAssignments": [{"personaId": persona, "entityTypeId": "car"}]})
    group = {"id": uid("collection"), "name": "suspects", "memberKind": "entity", "members": [ann, "nobody"]}
    response = client.post("/api/world/collections", json=group)
    assert response.status_code == 422 and locs(response) == [["body", "members", 1]]
    assert client.post("/api/world/collections", json={**group, "members": [ann, bus]}).status_code == 201

    owns = {"id": uid("relation"), "personaId": persona, "type": "owns", "source": {"kind": "entity", "id": ann},
            "target": {"kind": "entity", "id": bus}}
    assert client.post("/api/world/relations", json=owns).status_code == 201
    backwards = client.post("/api/world/relations", json={**owns, "id": uid("relation"), "source": owns["target"],
                                                           "target": owns["source"]})
    assert backwards.status_code == 422
    assert locs(backwards) == [["body", "source"], ["body", "target"]]
    assert "a owns relation's source must be Person" in backwards.json()["message"]


def test_a_stale_field_edit_is_a_conflict_and_writes_nothing(client: httpx.Client) -> None:
    ident = uid("entity")
    client.post("/api/world/entities", json={"id": ident, "name": "Bob", "description": "tall"})
    mine = client.patch(f"/api/world/entities/{ident}", json={"fields": {"name": {"from": "Bob", "to": "Robert"}}})
    assert mine.status_code == 200 and mine.json()["name"] == "Robert" and mine.json()["description"] == "tall"
    # Someone who still saw "Bob" renames it too, and changes the description: nothing of theirs is written.
    theirs = client.patch(f"/api/world/entities/{ident}", json={"fields": {
        "description": {"from": "tall", "to": "short"}, "name": {"from": "Bob", "to": "Bobby"}}})
    assert theirs.status_code == 409 and theirs.json()["current"]["name"] == "Robert"
    assert theirs.json()["detail"][0]["loc"] == ["body", "fields", "name", "from"]
    stored = next(e for e in client.get("/api/world").json()["entities"] if e["id"] == ident)
    assert stored == {"id": ident, "name": "Robert", "description": "tall", "typeAssignments": []}
    # A field that ends where they wanted it is no conflict (a retried request).
    assert client.patch(f"/api/world/entities/{ident}", json={"fields": {"name": {"from": "Bob", "to": "Robert"}}}).status_code == 200
    empty = client.patch(f"/api/world/entities/{ident}", json={"fields": {"name": {"from": "Robert", "to": ""}}})
    assert empty.status_code == 422 and locs(empty) == [["body", "fields", "name", "to"]]


def test_concurrent_creates_and_edits_of_different_objects_all_survive(served: ServedApp, admin_password: str) -> None:
    ids = [uid("entity") for _ in range(24)]
    errors: list[str] = []

    def writer(mine: list[str]) -> None:
        with served.client(admin_password) as c:
            for ident in mine:
                response = c.post("/api/world/entities", json={"id": ident, "name": ident})
                if response.status_code != 201:
                    errors.append(response.text)
                response = c.patch(f"/api/world/entities/{ident}", json={"fields": {"description": {"from": "", "to": "seen"}}})
                if response.status_code != 200:
                    errors.append(response.text)

    threads = [threading.Thread(target=writer, args=(ids[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with served.client(admin_password) as c:
        stored = {e["id"]: e for e in c.get("/api/world").json()["entities"]}
    assert all(stored[i]["description"] == "seen" for i in ids)


def test_a_retried_create_is_answered_and_another_object_with_its_id_is_refused(client: httpx.Client) -> None:
    place = {"id": uid("location"), "name": "Dock", "latitude": 1.5, "longitude": 2.5}
    assert client.post("/api/world/locations", json=place).status_code == 201
    assert client.post("/api/world/locations", json=place).status_code == 200
    other = client.post("/api/world/locations", json={**place, "name": "Quay"})
    assert other.status_code == 409 and other.json()["current"]["name"] == "Dock"


def test_nothing_in_use_can_be_deleted(client: httpx.Client, video_a: str) -> None:
    ann = uid("entity")
    client.post("/api/world/entities", json={"id": ann, "name": "Ann"})
    revision = client.get(f"/api/videos/{video_a}").json()["annotationRevision"]
    track = str(uuid.uuid4())
    saved = client.put(f"/api/videos/{video_a}/annotations", headers={"If-Match": f'"{revision}"'}, json={"changes": [
        {"op": "create", "id": track, "track": {"type": "person", "label": "Ann", "entityId": ann,
                                                "frames": [{"frame": 0, "x": 1, "y": 1, "width": 5, "height": 5}]}}]})
    assert saved.status_code == 200 and saved.json()["rejected"] == []
    group = uid("collection")
    client.post("/api/world/collections", json={"id": group, "name": "them", "memberKind": "entity", "members": [ann]})
    refused = client.delete(f"/api/world/entities/{ann}")
    assert refused.status_code == 409
    assert "1 track(s) in 1 video(s)" in refused.json()["message"] and "'them'" in refused.json()["message"]
    assert any(e["id"] == ann for e in client.get("/api/world").json()["entities"])
    assert client.delete(f"/api/world/collections/{group}").status_code == 204
    version = client.get(f"/api/videos/{video_a}/annotations").json()["tracks"]
    current = next(t for t in version if t["id"] == track)
    assert client.delete(f"/api/annotations/{track}", headers={"If-Match": f'"{current["version"]}"'}).status_code == 204
    assert client.delete(f"/api/world/entities/{ann}").status_code == 204
    assert client.delete(f"/api/world/entities/{ann}").status_code == 404


def test_the_whole_state_put_with_if_match_refuses_to_replace_what_it_has_not_seen(client: httpx.Client) -> None:
    read = client.get("/api/world")
    seen = read.headers["ETag"]
    client.post("/api/world/entities", json={"id": uid("entity"), "name": "meanwhile"})
    stale = client.put("/api/world", json=read.json(), headers={"If-Match": seen})
    assert stale.status_code == 409 and stale.json()["revision"] > int(seen.strip('"'))
    fresh = client.get("/api/world")
    assert client.put("/api/world", json=fresh.json(), headers={"If-Match": fresh.headers["ETag"]}).status_code == 200


@pytest.mark.parametrize(("ontology", "loc", "words"), [
    ({"entityTypes": [{"id": "p", "name": "Person", "attributes": [{"name": "mood", "type": "choice"}]}]},
     ["body", "entityTypes", 0, "attributes", 0, "options"], "give it at least one option"),
    ({"entityTypes": [{"id": "p", "name": "Person", "attributes": [{"name": "age", "type": "integer"}]}]},
     ["body", "entityTypes", 0, "attributes", 0, "type"], "text, number, choice, checkbox"),
    ({"entityTypes": [{"id": "p", "name": "Person", "attributes": [{"name": "x", "type": "text"}, {"name": "x", "type": "number"}]}]},
     ["body", "entityTypes", 0, "attributes", 1, "name"], "two attributes are named 'x'"),
    ({"eventTypes": [{"id": "goal", "name": "Goal", "roles": [{"roleTypeId": "scorer"}]}],
      "roleTypes": [{"id": "keeper", "name": "Keeper"}]},
     ["body", "eventTypes", 0, "roles", 0, "roleTypeId"], "its role types: Keeper"),
    ({"eventTypes": [{"id": "goal", "name": "Goal", "roles": [{"roleTypeId": "k", "minOccurrences": 3, "maxOccurrences": 1}]}],
      "roleTypes": [{"id": "k", "name": "Keeper"}]},
     ["body", "eventTypes", 0, "roles", 0, "minOccurrences"], "more than maxOccurrences"),
    ({"roleTypes": [{"id": "k", "name": "Keeper", "allowedFillerTypes": ["entity", "ghost"]}]},
     ["body", "roleTypes", 0, "allowedFillerTypes", 1], "'ghost' is neither"),
    ({"entityTypes": [{"id": "car", "name": "Car"}], "relationTypes": [{"id": "r", "name": "drives", "targetTypes": ["lorry"]}]},
     ["body", "relationTypes", 0, "targetTypes", 0], "its types: Car"),
    ({"entityTypes": [{"id": "x", "name": "X"}], "eventTypes": [{"id": "x", "name": "Y"}]},
     ["body", "eventTypes", 0, "id"], "ambiguous"),
])
def test_a_malformed_ontology_is_refused_at_its_place(client: httpx.Client, ontology: dict[str, Any], loc: list[Any],
                                                      words: str) -> None:
    persona = client.post("/api/personas", json={"name": "Strict"}).json()["id"]
    response = client.put(f"/api/personas/{persona}/ontology", json=ontology)
    assert response.status_code == 422, response.text
    assert loc in locs(response)
    assert words in " ".join(item["msg"] for item in response.json()["detail"])
    assert client.get(f"/api/personas/{persona}/ontology").json()["entityTypes"] == []
