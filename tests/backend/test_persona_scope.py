"""The workspace's persona scope through the API (issue 21, item 6): the annotation reads keep one persona's tracks,
events and relations and the team's (no persona) ones (`personaId=`; `none`: only those without one), and a save
scoped to persona A that names B's track — updating, deleting, or moving one there — is refused whole with 422
naming the part: nothing written, the revision unchanged. The chosen persona and "show all" are kept per user and
video with the rest of the view."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest


def _persona(client: httpx.Client, name: str) -> str:
    response = client.post("/api/personas", json={"name": f"{name} {uuid.uuid4().hex[:6]}"})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _revision(client: httpx.Client, video: str) -> int:
    return int(client.get(f"/api/videos/{video}").json()["annotationRevision"])


def _put(client: httpx.Client, video: str, body: dict[str, Any], scope: str | None) -> httpx.Response:
    params = {"personaId": scope} if scope else {}
    return client.put(f"/api/videos/{video}/annotations", json=body, params=params,
                      headers={"If-Match": f'"{_revision(client, video)}"'})


def _create(persona: str | None, label: str) -> dict[str, Any]:
    return {"op": "create", "id": str(uuid.uuid4()), "track": {
        "personaId": persona, "type": "object", "label": label, "source": "manual",
        "frames": [{"frame": 0, "x": 10, "y": 10, "width": 40, "height": 80}]}}


@pytest.fixture
def three_tracks(client: httpx.Client, video_a: str) -> dict[str, Any]:
    """A track of persona A, one of persona B and one of no persona, saved unscoped (as an API script may)."""
    a, b = _persona(client, "A"), _persona(client, "B")
    made = [_create(a, "a-track"), _create(b, "b-track"), _create(None, "no-persona-track")]
    saved = _put(client, video_a, {"changes": made}, None)
    assert saved.status_code == 200 and saved.json()["rejected"] == [], saved.text
    tracks = {t["label"]: t for t in saved.json()["annotations"]}
    return {"a": a, "b": b, "A": tracks["a-track"], "B": tracks["b-track"], "N": tracks["no-persona-track"]}


def test_the_document_and_the_list_keep_to_the_persona_asked_for(client: httpx.Client, video_a: str,
                                                                  three_tracks: dict[str, Any]) -> None:
    t = three_tracks
    ours = {t[k]["id"] for k in "ABN"}

    def ids(path: str, scope: str | None) -> set[str]:
        response = client.get(path, params={"personaId": scope} if scope else {})
        assert response.status_code == 200, response.text
        body = response.json()
        return {x["id"] for x in (body["tracks"] if isinstance(body, dict) else body)} & ours

    for path in (f"/api/videos/{video_a}/annotations", f"/api/annotations/{video_a}"):
        assert ids(path, t["a"]) == {t["A"]["id"], t["N"]["id"]}  # the team's track shows in every persona's
        assert ids(path, t["b"]) == {t["B"]["id"], t["N"]["id"]}
        assert ids(path, "none") == {t["N"]["id"]}
        assert ids(path, None) == ours  # unscoped: every persona's, as before
    bad = client.get(f"/api/videos/{video_a}/annotations", params={"personaId": "nobody"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "personaId"]


def _scoped_refusal(client: httpx.Client, video: str, body: dict[str, Any], scope: str, loc: list[Any]) -> str:
    before_rev = _revision(client, video)
    before = client.get(f"/api/annotations/{video}").json()
    response = _put(client, video, body, scope)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == loc
    assert _revision(client, video) == before_rev and client.get(f"/api/annotations/{video}").json() == before
    return str(response.json()["message"])


def test_a_save_scoped_to_a_that_names_bs_track_is_refused_whole_and_changes_nothing(
        client: httpx.Client, video_a: str, three_tracks: dict[str, Any]) -> None:
    t = three_tracks
    a_label = {"op": "update", "id": t["A"]["id"], "fields": {"label": {"from": "a-track", "to": "renamed"}}}
    b_label = {"op": "update", "id": t["B"]["id"], "fields": {"label": {"from": "b-track", "to": "overwritten"}}}
    # A's own edit rides along and is not written either: the save is refused as a whole.
    message = _scoped_refusal(client, video_a, {"changes": [a_label, b_label]}, t["a"], ["body", "changes", 1, "id"])
    assert f"belongs to persona {t['b']}" in message and f"scoped to persona {t['a']}" in message
    _scoped_refusal(client, video_a, {"changes": [{"op": "delete", "id": t["B"]["id"], "version": t["B"]["version"]}]},
                    t["a"], ["body", "changes", 0, "id"])
    _scoped_refusal(client, video_a, {"changes": [b_label]}, "none", ["body", "changes", 0, "id"])
    # Nor can A's track be moved to B, or a new track be made under B, from A's scope.
    move = {"op": "update", "id": t["A"]["id"], "fields": {"personaId": {"from": t["a"], "to": t["b"]}}}
    _scoped_refusal(client, video_a, {"changes": [move]}, t["a"], ["body", "changes", 0, "fields", "personaId", "to"])
    _scoped_refusal(client, video_a, {"changes": [_create(t["b"], "sneaked")]}, t["a"],
                    ["body", "changes", 0, "track", "personaId"])
    give = {"op": "update", "id": t["N"]["id"], "fields": {"personaId": {"from": None, "to": t["b"]}}}
    _scoped_refusal(client, video_a, {"changes": [give]}, t["a"], ["body", "changes", 0, "fields", "personaId", "to"])
    # The whole-track form keeps the same promise.
    whole_b = {k: t["B"][k] for k in ("id", "personaId", "type", "label", "frames", "source")}
    _scoped_refusal(client, video_a, {"upsert": [{**whole_b, "personaId": t["a"], "label": "taken"}]}, t["a"],
                    ["body", "upsert", 0, "id"])
    _scoped_refusal(client, video_a, {"delete": [t["B"]["id"]]}, t["a"], ["body", "delete", 0])
    stored = {x["id"]: x for x in client.get(f"/api/annotations/{video_a}").json()}
    assert stored[t["B"]["id"]]["label"] == "b-track" and stored[t["B"]["id"]]["personaId"] == t["b"]
    assert stored[t["A"]["id"]]["label"] == "a-track" and stored[t["A"]["id"]]["personaId"] == t["a"]


def test_a_scoped_save_of_its_own_personas_work_goes_through(client: httpx.Client, video_a: str,
                                                             three_tracks: dict[str, Any]) -> None:
    t = three_tracks
    made = _create(t["a"], "new-a")
    response = _put(client, video_a, {"changes": [
        {"op": "update", "id": t["A"]["id"], "fields": {"label": {"from": "a-track", "to": "renamed"}}}, made]}, t["a"])
    assert response.status_code == 200 and response.json()["rejected"] == [], response.text
    assert {x["label"] for x in response.json()["annotations"]} == {"renamed", "new-a"}
    # The team's track (no persona) is edited from any persona's workspace, and stays the team's.
    shared = _put(client, video_a, {"changes": [
        {"op": "update", "id": t["N"]["id"], "fields": {"label": {"from": "no-persona-track", "to": "by A"}}}]}, t["a"])
    assert shared.status_code == 200 and shared.json()["annotations"][0]["personaId"] is None, shared.text
    nobody = _put(client, video_a, {"changes": [
        {"op": "update", "id": t["N"]["id"], "fields": {"label": {"from": "by A", "to": "still none"}}}]}, "none")
    assert nobody.status_code == 200 and nobody.json()["annotations"][0]["personaId"] is None


def test_the_chosen_persona_and_show_all_are_kept_per_user_and_video(client: httpx.Client, video_a: str) -> None:
    persona = _persona(client, "Chosen")
    view = f"/api/videos/{video_a}/view"
    client.put(view, json={"hidden": [], "personaId": None, "allPersonas": False})
    assert client.get(view).json() == {"hidden": [], "personaId": None, "allPersonas": False}
    chosen = client.put(view, json={"personaId": persona})
    assert chosen.status_code == 200 and chosen.json() == {"hidden": [], "personaId": persona, "allPersonas": False}
    hidden = [str(uuid.uuid4())]
    # Each field sent changes; the others stay.
    assert client.put(view, json={"hidden": hidden}).json() == {"hidden": hidden, "personaId": persona, "allPersonas": False}
    assert client.put(view, json={"allPersonas": True}).json()["personaId"] == persona
    assert client.get(view).json() == {"hidden": hidden, "personaId": persona, "allPersonas": True}
    assert client.put(view, json={"personaId": "none"}).json()["personaId"] == "none"
    for body, field in (({"personaId": "someone"}, "personaId"), ({"allPersonas": None}, "allPersonas"),
                        ({"hidden": None}, "hidden")):
        refused = client.put(view, json=body)
        assert refused.status_code == 422 and refused.json()["detail"][0]["loc"][-1] == field, refused.text
    assert client.get(view).json() == {"hidden": hidden, "personaId": "none", "allPersonas": True}
