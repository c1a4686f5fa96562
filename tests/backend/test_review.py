"""Assignment and review (issue 21): new → in progress → submitted → in review → accepted | changes requested,
issues anchored to a frame and a track, accepted work read-only until reopened, annotators kept to their own
(or open) videos, the export limited to accepted work, progress per person and per video.

On its own database (isolated_backend): an accepted video refuses writes, which other tests' videos must not."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
from backend_harness import write_video

PASSWORD = "Review-pass-3141"


def _user(admin: httpx.Client, base_url: str, name: str, role: str) -> httpx.Client:
    assert admin.post("/api/users", json={"username": name, "role": role, "password": PASSWORD}).status_code == 201
    c = httpx.Client(base_url=base_url, timeout=30)
    assert c.post("/api/auth/login", json={"username": name, "password": PASSWORD}).status_code == 200
    return c


def _save(c: httpx.Client, vid: str, change: dict[str, Any]) -> httpx.Response:
    revision = c.get(f"/api/videos/{vid}").json()["annotationRevision"]
    return c.put(f"/api/videos/{vid}/annotations", json={"changes": [change]}, headers={"If-Match": f'"{revision}"'})


def _save_track(c: httpx.Client, vid: str, label: str, ident: str | None = None) -> httpx.Response:
    track = {"type": "entity", "label": label, "source": "manual",
             "frames": [{"frame": 10, "x": 1, "y": 2, "width": 30, "height": 40}]}
    return _save(c, vid, {"op": "create", "id": ident or str(uuid.uuid4()), "track": track})


def _relabel(c: httpx.Client, vid: str, ident: str, before: str, after: str) -> httpx.Response:
    response = _save(c, vid, {"op": "update", "id": ident, "fields": {"label": {"from": before, "to": after}}})
    assert response.status_code != 200 or response.json()["conflicts"] == [], response.text
    return response


def _move(c: httpx.Client, assignment: str, state: str) -> httpx.Response:
    return c.put(f"/api/assignments/{assignment}/state", json={"state": state})


def test_assign_submit_review_fix_accept_reopen(isolated_backend) -> None:  # type: ignore[no-untyped-def]
    admin = isolated_backend.client
    for name in ("review-me.mp4", "unassigned.mp4"):
        write_video(isolated_backend.root, name, 20_000, {"duration": 10.0, "fps": 25, "width": 640, "height": 360})
    assert admin.post("/api/videos/sync").status_code == 200
    videos = {v["filename"]: v["id"] for v in admin.get("/api/videos").json()}
    vid, other = videos["review-me.mp4"], videos["unassigned.mp4"]
    base = str(admin.base_url)
    ann, bob, rita = (_user(admin, base, "ann", "annotator"), _user(admin, base, "bob", "annotator"),
                      _user(admin, base, "rita", "reviewer"))
    _user(admin, base, "vic", "viewer").close()
    try:
        # Bad assignments: a viewer, nobody, a half range, an unknown video; and only admins assign.
        for body, field in (({"videoId": vid, "assignee": "vic"}, "assignee"), ({"videoId": vid, "assignee": "nobody"}, "assignee"),
                            ({"videoId": vid, "assignee": "ann", "firstFrame": 3}, "lastFrame")):
            refused = admin.post("/api/assignments", json=body)
            assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", field], refused.text
        assert admin.post("/api/assignments", json={"videoId": "0123456789abcdef", "assignee": "ann"}).status_code == 404
        assert rita.post("/api/assignments", json={"videoId": vid, "assignee": "ann"}).status_code == 403
        made = admin.post("/api/assignments", json={"videoId": vid, "assignee": "ann"})
        assert made.status_code == 201 and made.json()["state"] == "new"
        assignment = made.json()["id"]

        # Annotators annotate their own and open videos only.
        refused = _save_track(bob, vid, "not mine")
        assert refused.status_code == 403 and "assigned to others" in refused.json()["message"]
        assert _save_track(bob, other, "open video").status_code == 200
        track = str(uuid.uuid4())
        assert _save_track(ann, vid, "car", track).status_code == 200

        mine = ann.get("/api/assignments", params={"mine": "true"}).json()
        assert [(a["id"], a["state"], a["video"]) for a in mine] == [(assignment, "new", "review-me.mp4")]
        assert bob.get("/api/assignments", params={"mine": "true"}).json() == []
        assert _move(bob, assignment, "in_progress").status_code == 403  # not bob's
        assert _move(ann, assignment, "in_progress").json()["state"] == "in_progress"
        assert _move(ann, assignment, "submitted").json()["state"] == "submitted"

        # Review: opened first; a reviewer's issue anchored to a frame and a track; then changes requested.
        early = _move(rita, assignment, "accepted")
        assert early.status_code == 409 and "in_review" in early.json()["message"]
        assert _move(ann, assignment, "in_review").status_code == 403  # nobody reviews their own work
        assert _move(rita, assignment, "in_review").json()["reviewer"] == "rita"
        assert ann.post(f"/api/assignments/{assignment}/issues", json={"frame": 10, "message": "x"}).status_code == 403
        bad_track = rita.post(f"/api/assignments/{assignment}/issues",
                              json={"frame": 10, "trackId": str(uuid.uuid4()), "message": "which?"})
        assert bad_track.status_code == 422 and bad_track.json()["detail"][0]["loc"] == ["body", "trackId"]
        issue = rita.post(f"/api/assignments/{assignment}/issues",
                          json={"frame": 10, "trackId": track, "message": "this is a bus, not a car"})
        assert issue.status_code == 201 and issue.json()["author"] == "rita" and issue.json()["trackId"] == track
        assert _move(rita, assignment, "accepted").status_code == 409  # an open issue
        assert _move(rita, assignment, "changes_requested").json()["openIssues"] == 1

        # The fix, then the issue resolved by the annotator, then submitted again.
        assert _relabel(ann, vid, track, "car", "bus").status_code == 200
        blocked = _move(ann, assignment, "submitted")
        assert blocked.status_code == 409 and "not resolved" in blocked.json()["message"]
        resolved = ann.post(f"/api/review-issues/{issue.json()['id']}/resolve")
        assert resolved.status_code == 200 and resolved.json()["resolvedBy"] == "ann"
        assert bob.post(f"/api/review-issues/{issue.json()['id']}/resolve").status_code == 403
        assert _move(ann, assignment, "submitted").json()["state"] == "submitted"
        assert _move(rita, assignment, "in_review").status_code == 200
        accepted = _move(rita, assignment, "accepted")
        assert accepted.status_code == 200 and accepted.json()["state"] == "accepted"

        # Accepted work is read-only, for everyone, until reopened.
        for who in (ann, admin):
            locked = _relabel(who, vid, track, "bus", "late")
            assert locked.status_code == 409 and "accepted" in locked.json()["message"], locked.text
        assert _move(ann, assignment, "in_progress").status_code == 403  # reopening is a reviewer's

        # The export limited to accepted work: this video and its track, not the open one's.
        lines = [json.loads(line) for line in admin.get("/api/export", params={"acceptedOnly": "true"}).text.splitlines()]
        assert lines[0]["data"]["acceptedOnly"] is True
        assert {r["data"]["id"] for r in lines if r["type"] == "video"} == {vid}
        assert [(r["data"]["label"], r["data"]["createdBy"], r["data"]["updatedBy"])
                for r in lines if r["type"] == "annotation"] == [("bus", "ann", "ann")]

        progress = admin.get("/api/assignments/progress").json()
        assert progress["people"] == [{"name": "ann", "id": ann.get("/api/auth/me").json()["id"],
                                       "states": {"accepted": 1}, "total": 1}]
        assert [(v["name"], v["states"]) for v in progress["videos"]] == [("review-me.mp4", {"accepted": 1})]

        assert _move(rita, assignment, "in_progress").json()["state"] == "in_progress"
        assert _relabel(ann, vid, track, "bus", "truck").status_code == 200
    finally:
        for c in (ann, bob, rita):
            c.close()
