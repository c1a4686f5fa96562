"""PUT /api/videos/{id}/annotations: one transaction, If-Match on the annotation revision (409 with the
current one, 428 without), idempotent deletes, upsert by client id, never across videos; `outside`."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import httpx
import pytest
from fovea_backend.videos import video_id


def _track(label: str = "car", ident: str | None = None, **overrides: Any) -> dict[str, Any]:
    track: dict[str, Any] = {
        "id": ident or str(uuid.uuid4()), "type": "entity", "label": label, "source": "manual",
        "frames": [{"frame": 10, "x": 10, "y": 20, "width": 30, "height": 40},
                   {"frame": 40, "x": 100, "y": 50, "width": 30, "height": 40, "outside": True}],
    }
    track.update(overrides)
    return track


def _revision(client: httpx.Client, vid: str) -> int:
    return int(client.get(f"/api/videos/{vid}").json()["annotationRevision"])


def _stored(client: httpx.Client, vid: str) -> dict[str, dict[str, Any]]:
    return {a["id"]: a for a in client.get(f"/api/annotations/{vid}").json()}


def _save(client: httpx.Client, vid: str, revision: int | str | None, upsert: list[dict[str, Any]] = (),  # type: ignore[assignment]
          delete: list[str] = ()) -> httpx.Response:  # type: ignore[assignment]
    headers = {} if revision is None else {"If-Match": revision if isinstance(revision, str) else f'"{revision}"'}
    return client.put(f"/api/videos/{vid}/annotations", json={"upsert": list(upsert), "delete": list(delete)}, headers=headers)


def test_bulk_creates_replaces_and_deletes_in_one_call(client: httpx.Client, video_a: str) -> None:
    keep, change, drop = _track("keep"), _track("change"), _track("drop")
    first = _save(client, video_a, _revision(client, video_a), [keep, change, drop])
    assert first.status_code == 200, first.text
    body = first.json()
    assert [a["id"] for a in body["annotations"]] == [keep["id"], change["id"], drop["id"]]
    assert body["annotations"][0]["frames"][1] == {**keep["frames"][1], "outside": True}
    assert body["annotations"][0]["frames"][0]["outside"] is False  # the default, stored explicitly
    assert body["revision"] == _revision(client, video_a)
    assert first.headers["etag"] == client.get(f"/api/annotations/{video_a}").headers["etag"]
    created_at = body["annotations"][1]["createdAt"]

    added = _track("added")
    changed = {**change, "label": "changed", "source": "ai-assisted", "confidence": 0.75}
    gone = str(uuid.uuid4())  # never existed: deleting it is not an error
    # The list's ETag is accepted as If-Match as well as the bare revision.
    second = _save(client, video_a, first.headers["etag"], [changed, added], [drop["id"], gone])
    assert second.status_code == 200, second.text
    assert [a["label"] for a in second.json()["annotations"]] == ["changed", "added"]
    stored = _stored(client, video_a)
    assert drop["id"] not in stored and stored[keep["id"]]["label"] == "keep"
    assert stored[change["id"]]["label"] == "changed" and stored[change["id"]]["confidence"] == 0.75
    assert stored[change["id"]]["createdAt"] == created_at and stored[change["id"]]["source"] == "ai-assisted"
    # A retried delete (the response was lost) succeeds with the new revision and changes nothing.
    retried = _save(client, video_a, second.json()["revision"], [], [drop["id"], gone])
    now = second.json()["revision"]
    assert retried.status_code == 200
    assert retried.json() == {"revision": now, "previousRevision": now, "annotations": [], "events": [], "relations": [],
                              "conflicts": [], "rejected": []}
    _save(client, video_a, retried.json()["revision"], [], [keep["id"], change["id"], added["id"]])


def test_two_writers_with_the_same_revision_the_second_gets_409_and_writes_nothing(client: httpx.Client, video_a: str) -> None:
    revision = _revision(client, video_a)
    tracks = [_track("tab-a"), _track("tab-b")]
    barrier = threading.Barrier(2)
    responses: dict[str, httpx.Response] = {}

    def tab(track: dict[str, Any]) -> None:
        with httpx.Client(base_url=str(client.base_url), cookies=client.cookies, timeout=60) as own:
            barrier.wait()
            responses[track["id"]] = _save(own, video_a, revision, [track])

    threads = [threading.Thread(target=tab, args=(t,)) for t in tracks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    statuses = sorted(r.status_code for r in responses.values())
    assert statuses == [200, 409], [r.text for r in responses.values()]
    winner = next(t for t in tracks if responses[t["id"]].status_code == 200)
    loser = next(t for t in tracks if responses[t["id"]].status_code == 409)
    conflict = responses[loser["id"]].json()
    now = _revision(client, video_a)
    assert conflict["revision"] == now == responses[winner["id"]].json()["revision"]
    assert conflict["detail"][0]["loc"] == ["header", "If-Match"]
    stored = _stored(client, video_a)
    assert winner["id"] in stored and loser["id"] not in stored
    # Sequentially, too: a stale revision is refused and the current one from the 409 works.
    stale = _save(client, video_a, revision, [loser])
    assert stale.status_code == 409 and loser["id"] not in _stored(client, video_a)
    assert _save(client, video_a, stale.json()["revision"], [loser], [winner["id"]]).status_code == 200
    _save(client, video_a, _revision(client, video_a), [], [loser["id"]])


@pytest.mark.parametrize(
    ("item", "loc"),
    [
        ({"frames": [{"frame": 0, "x": 630, "y": 0, "width": 20, "height": 10}]}, ["body", "upsert", 1, "frames", 0, "width"]),
        ({"frames": [{"frame": 0, "x": -1, "y": 0, "width": 20, "height": 10}]}, ["body", "upsert", 1, "frames", 0, "x"]),
        ({"frames": [{"frame": 5, "x": 0, "y": 0, "width": 1, "height": 1},
                     {"frame": 5, "x": 0, "y": 0, "width": 1, "height": 1}]}, ["body", "upsert", 1, "frames", 1, "frame"]),
        ({"frames": [{"frame": 5, "x": 0, "y": 0, "width": 1, "height": 1, "outside": "maybe"}]},
         ["body", "upsert", 1, "frames", 0, "outside"]),
        ({"personaId": "00000000-0000-4000-8000-0000000000ff"}, ["body", "upsert", 1, "personaId"]),
        ({"label": ""}, ["body", "upsert", 1, "label"]),
        ({"id": "not-a-uuid"}, ["body", "upsert", 1, "id"]),
    ],
)
def test_an_invalid_item_writes_nothing(client: httpx.Client, video_a: str, item: dict[str, Any], loc: list[Any]) -> None:
    existing = _track("existing")
    revision = _save(client, video_a, _revision(client, video_a), [existing]).json()["revision"]
    response = _save(client, video_a, revision, [_track("valid"), {**_track("invalid"), **item}], [existing["id"]])
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == loc
    assert _revision(client, video_a) == revision and existing["id"] in _stored(client, video_a)
    _save(client, video_a, revision, [], [existing["id"]])


def test_if_match_is_required_and_parsed(client: httpx.Client, video_a: str) -> None:
    missing = _save(client, video_a, None, [_track()])
    assert missing.status_code == 428 and missing.json()["detail"][0]["loc"] == ["header", "If-Match"]
    for junk in ("*", "abc", '"1.5"'):
        bad = _save(client, video_a, junk, [_track()])
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["header", "If-Match"], junk
    revision = _revision(client, video_a)
    other_video = video_id("clip-b.webm")
    assert _save(client, video_a, f'"{other_video}-{revision}"', [_track()]).status_code == 409  # another video's ETag
    assert _save(client, "0123456789abcdef", '"0"').status_code == 404
    assert _save(client, video_a, str(revision)).json() == {  # unquoted, empty
        "revision": revision, "previousRevision": revision, "annotations": [], "events": [], "relations": [],
        "conflicts": [], "rejected": []}


def test_ids_of_another_videos_tracks_are_refused_not_moved(client: httpx.Client, video_a: str) -> None:
    other_video = video_id("clip-b.webm")
    theirs = _save(client, other_video, _revision(client, other_video), [_track("theirs")]).json()["annotations"][0]
    revision = _revision(client, video_a)
    moved = _save(client, video_a, revision, [_track("mine", ident=theirs["id"])])
    assert moved.status_code == 422 and moved.json()["detail"][0]["loc"] == ["body", "upsert", 0, "id"]
    deleted = _save(client, video_a, revision, [_track("fine")], [theirs["id"]])
    assert deleted.status_code == 422 and deleted.json()["detail"][0]["loc"] == ["body", "delete", 0]
    assert _stored(client, other_video)[theirs["id"]]["label"] == "theirs" and _revision(client, video_a) == revision
    twice = _track("twice")
    dup = _save(client, video_a, revision, [twice, twice])
    assert dup.status_code == 422 and dup.json()["detail"][0]["loc"] == ["body", "upsert", 1, "id"]
    both = _save(client, video_a, revision, [twice], [twice["id"]])
    assert both.status_code == 422 and both.json()["detail"][0]["loc"] == ["body", "delete", 0]


def test_single_track_routes_accept_and_return_outside(client: httpx.Client, video_a: str) -> None:
    frames = [{"frame": 1, "x": 1, "y": 1, "width": 2, "height": 2, "outside": True},
              {"frame": 3, "x": 1, "y": 1, "width": 2, "height": 2}]
    created = client.post("/api/annotations", json={"videoId": video_a, "type": "entity", "label": "o", "frames": frames})
    assert created.status_code == 201
    assert [f["outside"] for f in created.json()["frames"]] == [True, False]
    client.delete(f"/api/annotations/{created.json()['id']}", headers={"If-Match": f'"{created.json()["version"]}"'})


# --- the merging save: `changes` against the If-Match revision -------------------------------------------
def _box(x: float, outside: bool = False) -> dict[str, Any]:
    return {"x": x, "y": 20, "width": 30, "height": 40, "outside": outside}


def _merge(client: httpx.Client, vid: str, revision: int, *changes: dict[str, Any]) -> dict[str, Any]:
    response = client.put(f"/api/videos/{vid}/annotations", json={"changes": list(changes)},
                          headers={"If-Match": f'"{revision}"'})
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == f'"{vid}-{response.json()["revision"]}"'
    return dict(response.json())


def _keyframe(track_id: str, frame: int, before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any]:
    return {"op": "update", "id": track_id, "keyframes": [{"frame": frame, "from": before, "to": after}]}


def _new_track(client: httpx.Client, vid: str, label: str = "merge") -> tuple[dict[str, Any], int]:
    track = _track(label)
    saved = _merge(client, vid, _revision(client, vid), {"op": "create", "id": track["id"], "track": track})
    return saved["annotations"][0], saved["revision"]


def test_two_saves_from_one_revision_editing_different_keyframes_both_survive(client: httpx.Client, video_a: str) -> None:
    track, base = _new_track(client, video_a)
    first = _merge(client, video_a, base, _keyframe(track["id"], 30, None, _box(50)))
    assert first["previousRevision"] == base and first["conflicts"] == [] and first["rejected"] == []
    # B started from the same revision and never saw A's keyframe 30.
    second = _merge(client, video_a, base, _keyframe(track["id"], 60, None, _box(70)))
    assert second["previousRevision"] == first["revision"] != base  # merged into the newer revision
    assert second["conflicts"] == []
    stored = _stored(client, video_a)[track["id"]]
    assert [(f["frame"], f["x"]) for f in stored["frames"]] == [(10, 10), (30, 50), (40, 100), (60, 70)]
    assert second["annotations"] == [stored]  # the answer carries the merged track, A's keyframe included
    assert stored["version"] == 3


def test_the_same_keyframe_changed_twice_is_a_conflict_and_theirs_stays(client: httpx.Client, video_a: str) -> None:
    track, base = _new_track(client, video_a)
    before = {k: track["frames"][0][k] for k in ("x", "y", "width", "height", "outside")}
    _merge(client, video_a, base, _keyframe(track["id"], 10, before, _box(11)))
    answer = _merge(client, video_a, base, {**_keyframe(track["id"], 10, before, _box(22)),
                                            "fields": {"label": {"from": "merge", "to": "mine"}}})
    conflict, = answer["conflicts"]
    assert conflict["part"] == "keyframe" and conflict["frame"] == 10 and conflict["index"] == 0
    assert conflict["theirs"]["x"] == 11 and conflict["mine"]["x"] == 22 and conflict["base"]["x"] == 10
    stored = _stored(client, video_a)[track["id"]]
    assert stored["frames"][0]["x"] == 11 and stored["label"] == "mine"  # the other part of the change went in


def test_one_change_per_track_per_save(client: httpx.Client, video_a: str) -> None:
    track, base = _new_track(client, video_a)
    response = client.put(f"/api/videos/{video_a}/annotations", headers={"If-Match": f'"{base}"'}, json={"changes": [
        _keyframe(track["id"], 30, None, _box(1)), _keyframe(track["id"], 31, None, _box(1))]})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "changes", 1, "id"]
    both = client.put(f"/api/videos/{video_a}/annotations", headers={"If-Match": f'"{base}"'},
                      json={"changes": [], "delete": [track["id"]]})
    assert both.status_code == 422 and both.json()["detail"][0]["loc"] == ["body", "changes"]


def test_a_retried_save_changes_nothing_the_second_time(client: httpx.Client, video_a: str) -> None:
    track, base = _new_track(client, video_a)
    change = {**_keyframe(track["id"], 30, None, _box(50)), "fields": {"label": {"from": "merge", "to": "retried"}}}
    first = _merge(client, video_a, base, change)
    again = _merge(client, video_a, base, change)  # the first answer was lost
    assert again["conflicts"] == [] and again["rejected"] == []
    assert again["revision"] == first["revision"]  # nothing written
    assert again["annotations"] == first["annotations"]


def test_a_bad_value_is_refused_where_it_is_and_the_rest_is_saved(client: httpx.Client, video_a: str) -> None:
    track, _ = _new_track(client, video_a)
    other, base = _new_track(client, video_a, "other")
    answer = _merge(client, video_a, base,
                    {"op": "update", "id": track["id"], "fields": {"label": {"from": "merge", "to": "x" * 501},
                                                                   "type": {"from": "entity", "to": "vehicle"}}},
                    {"op": "update", "id": other["id"], "fields": {"label": {"from": "other", "to": "fine"}},
                     "keyframes": [{"frame": 50, "from": None, "to": {**_box(630), "width": 20}}]})
    assert answer["revision"] > base
    assert [(r["index"], r["loc"]) for r in answer["rejected"]] == [
        (0, ["body", "changes", 0, "fields", "label", "to"]), (1, ["body", "changes", 1, "keyframes", 0, "to", "width"])]
    assert "500" in answer["rejected"][0]["message"] and "width" in answer["rejected"][1]["message"]
    stored = _stored(client, video_a)
    assert stored[track["id"]]["type"] == "vehicle" and stored[track["id"]]["label"] == "merge"
    assert stored[other["id"]]["label"] == "fine" and 50 not in [f["frame"] for f in stored[other["id"]]["frames"]]


def test_deleting_a_track_changed_since_is_a_conflict_and_unchanged_it_goes(client: httpx.Client, video_a: str) -> None:
    track, base = _new_track(client, video_a)
    assert track["version"] == 1
    moved = _merge(client, video_a, base, _keyframe(track["id"], 30, None, _box(50)))
    stale = _merge(client, video_a, base, {"op": "delete", "id": track["id"], "version": 1})
    conflict, = stale["conflicts"]
    assert conflict["part"] == "track" and conflict["mine"] is None and conflict["theirs"]["version"] == 2
    assert track["id"] in _stored(client, video_a) and stale["revision"] == moved["revision"]
    gone = _merge(client, video_a, moved["revision"], {"op": "delete", "id": track["id"], "version": 2})
    assert gone["conflicts"] == [] and gone["annotations"] == [] and track["id"] not in _stored(client, video_a)
    # Editing it now (from a revision that still had it) is a conflict too: it stays deleted.
    late = _merge(client, video_a, base, _keyframe(track["id"], 60, None, _box(1)))
    assert [c["part"] for c in late["conflicts"]] == ["track"] and late["conflicts"][0]["theirs"] is None


def test_a_create_retried_after_someone_deleted_the_track_does_not_resurrect_it(client: httpx.Client, video_a: str) -> None:
    body = _track("retried create")
    create = {"op": "create", "id": body["id"], "track": body}
    base = _revision(client, video_a)
    made = _merge(client, video_a, base, create)
    gone = _merge(client, video_a, made["revision"], {"op": "delete", "id": body["id"], "version": 1})
    retried = _merge(client, video_a, base, create)  # the first answer was lost
    assert [c["part"] for c in retried["conflicts"]] == ["track"] and body["id"] not in _stored(client, video_a)
    # Someone who has seen the deletion may bring it back on purpose.
    back = _merge(client, video_a, gone["revision"], create)
    assert back["conflicts"] == [] and body["id"] in _stored(client, video_a)


def test_a_version_moves_only_when_the_content_changes(client: httpx.Client, video_a: str) -> None:
    track, base = _new_track(client, video_a)
    same = _save(client, video_a, base, [{**_track("merge", ident=track["id"])}])
    assert same.status_code == 200 and same.json()["annotations"][0]["version"] == 1
    changed = _save(client, video_a, same.json()["revision"], [{**_track("renamed", ident=track["id"])}])
    assert changed.json()["annotations"][0]["version"] == 2


def test_changes_keep_to_this_video_and_to_if_match(client: httpx.Client, video_a: str) -> None:
    other_video = video_id("clip-b.webm")
    theirs, _ = _new_track(client, other_video, "theirs")
    base = _revision(client, video_a)
    answer = _merge(client, video_a, base, {"op": "delete", "id": theirs["id"], "version": 1})
    assert answer["rejected"][0]["loc"] == ["body", "changes", 0, "id"] and theirs["id"] in _stored(client, other_video)
    no_match = client.put(f"/api/videos/{video_a}/annotations", json={"changes": []})
    assert no_match.status_code == 428
    elsewhere = client.put(f"/api/videos/{video_a}/annotations", json={"changes": []},
                           headers={"If-Match": f'"{other_video}-{base}"'})
    assert elsewhere.status_code == 409 and elsewhere.json()["revision"] == base
