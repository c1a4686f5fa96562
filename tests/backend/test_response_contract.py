"""Every route that declares a response model answers one real request with a body that model accepts.

The routes are enumerated from the served app itself, so a new route is covered the moment it exists: a read
(GET) is requested with the ids of the seeded data filled into its path, and a write needs its request written in
`WRITES` below, or this test fails naming it. Each answer must be 2xx JSON that `response_contract.contract_problem`
passes: the model's required fields present and valid, and no key the model does not declare (the SQL-rendered
routes are not validated by FastAPI; `json_build_object` with a key too many or a renamed column would reach the
frontend otherwise). Runs against its own database in the session's PostgreSQL and Redis (conftest.backend_deps),
with no job worker, so exact data does not depend on other tests.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from backend_harness import NDJSON, ServedApp, make_settings, write_video
from fastapi.routing import APIRoute
from fovea_backend import migrate
from fovea_backend.seed import AUTOMATED_PERSONA_ID
from fovea_backend.videos import video_id
from pydantic import TypeAdapter

from tests.response_contract import contract_problem

PASSWORD = "Contract-pass-42"
STAMP = "2026-01-02T03:04:05+00:00"


@dataclass
class Call:
    """One request: what the route gets besides its path (path parameters come from `Seeded.path_values`)."""

    json: Any = None
    params: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None
    as_user: bool = False  # sent by the seeded annotator (a route about the signed-in user's own account)
    signed_out: bool = False  # sent without a session (one that signs a new account in)


@dataclass
class Seeded:
    client: httpx.Client  # the admin
    user: httpx.Client  # an annotator, signed in
    path_values: dict[str, str]

    def revision(self) -> str:
        video = self.client.get(f"/api/videos/{self.path_values['video_id']}").json()
        return f'"{video["annotationRevision"]}"'

    def version(self, annotation_id: str) -> str:
        track = next(t for t in self.client.get(f"/api/annotations/{self.path_values['video_id']}").json()
                     if t["id"] == annotation_id)
        return f'"{track["version"]}"'


def _track(video: str, **extra: Any) -> dict[str, Any]:
    return {"videoId": video, "personaId": str(AUTOMATED_PERSONA_ID), "type": "entity", "label": "person",
            "frames": [{"frame": 0, "x": 10, "y": 20, "width": 30, "height": 40},
                       {"frame": 5, "x": 60, "y": 30, "width": 40, "height": 60}], "source": "manual", **extra}


# Each write's request, in the order they run (the removal of a video last). Keyed "METHOD path" as the app
# declares it; a value is a function of the seeded data, called just before its request.
WRITES: dict[str, Callable[[Seeded], Call]] = {
    "POST /api/auth/login": lambda s: Call(json={"username": "contract-annotator", "password": PASSWORD}, as_user=True),
    "PUT /api/auth/password": lambda s: Call(json={"currentPassword": PASSWORD, "newPassword": PASSWORD + "-new"},
                                             as_user=True),
    "POST /api/auth/register": lambda s: Call(json={"username": f"self-{uuid.uuid4().hex[:6]}", "password": PASSWORD},
                                              signed_out=True),
    "POST /api/auth/tokens": lambda s: Call(json={"name": "contract"}),
    "POST /api/users": lambda s: Call(json={"username": f"made-{uuid.uuid4().hex[:6]}", "role": "viewer",
                                            "password": PASSWORD}),
    "PATCH /api/users/{user_id}": lambda s: Call(json={"disabled": False}),
    "POST /api/users/{user_id}/reset-password": lambda s: Call(),
    "POST /api/personas": lambda s: Call(json={"name": "Another"}),
    "PUT /api/personas/{persona_id}": lambda s: Call(json={"name": "Traffic", "role": "analyst",
                                                            "informationNeed": "who drives"}),
    "PUT /api/personas/{persona_id}/ontology": lambda s: Call(json={"entityTypes": [{"id": "driver", "name": "Driver"}]}),
    "PUT /api/world": lambda s: Call(json={"entities": [{"id": "ann", "name": "Ann"}]},
                                     headers={"If-Match": s.client.get("/api/world").headers["ETag"]}),
    "POST /api/world/{kind}": lambda s: Call(json={"id": "bob", "name": "Bob"}),
    "PATCH /api/world/{kind}/{object_id}": lambda s: Call(json={"fields": {"name": {"from": "Ann", "to": "Anna"}}}),
    "PUT /api/world/{kind}/{object_id}/types/{persona_id}": lambda s: Call(json={"typeId": "driver"}),
    "POST /api/videos/sync": lambda s: Call(),
    "PUT /api/videos/{video_id}/position": lambda s: Call(json={"frame": 3}),
    "PUT /api/videos/{video_id}/view": lambda s: Call(json={"hidden": []}),
    "POST /api/annotations": lambda s: Call(json=_track(s.path_values["video_id"])),
    "PUT /api/annotations/{annotation_id}": lambda s: Call(
        json=_track(s.path_values["video_id"], label="cyclist"),
        headers={"If-Match": s.version(s.path_values["annotation_id"])}),
    "POST /api/annotations/{annotation_id}/restore": lambda s: Call(json={"version": 1}),
    "PUT /api/videos/{video_id}/annotations": lambda s: Call(
        json={"upsert": [{"id": str(uuid.uuid4()), **_track(s.path_values["video_id"])}]},
        headers={"If-Match": s.revision()}),
    "POST /api/videos/{video_id}/detect": lambda s: Call(json={}),
    "POST /api/videos/{video_id}/track": lambda s: Call(json={}),
    "POST /api/videos/{video_id}/summaries": lambda s: Call(json={"personaId": str(AUTOMATED_PERSONA_ID)}),
    "POST /api/videos/{video_id}/detect-types": lambda s: Call(json={"personaId": s.path_values["persona_id"]}),
    "POST /api/videos/{video_id}/track-box": lambda s: Call(json={"annotationId": s.path_values["annotation_id"],
                                                                  "fromFrame": 0}),
    "POST /api/videos/{video_id}/transcribe": lambda s: Call(json={}),
    "POST /api/videos/{video_id}/read-text": lambda s: Call(json={}),
    "POST /api/ontology/augment": lambda s: Call(json={"personaId": str(AUTOMATED_PERSONA_ID)}),
    "POST /api/jobs/{job_id}/cancel": lambda s: Call(),
    "POST /api/import": lambda s: Call(content=_import_lines(s.path_values["video_id"]), headers=NDJSON),
    "POST /api/videos/{video_id}/import": lambda s: Call(
        content=b"1,7,10,10,20,20,1,1,1\n", headers={"Content-Type": "text/csv"},
        params={"format": "mot", "personaId": s.path_values["persona_id"], "typeId": "driver"}),
    "POST /api/assignments": lambda s: Call(json={"videoId": s.path_values["other_video_id"], "assignee": "admin"}),
    "POST /api/assignments/{assignment_id}/issues": lambda s: Call(json={"frame": 1, "message": "check the box"}),
    "POST /api/review-issues/{issue_id}/resolve": lambda s: Call(),
    "PUT /api/assignments/{assignment_id}/state": lambda s: Call(json={"state": "changes_requested"}),
    "DELETE /api/videos/{video_id}": lambda s: Call(params={"withAnnotations": "true"}),
}
# What each read is asked (its required query parameters), beyond the seeded path values.
READ_PARAMS: dict[str, dict[str, str]] = {
    "/api/videos/{video_id}/summaries/similar": {"text": "street"},
    "/api/transcripts/search": {"text": "street"},
    "/api/search/text": {"text": "street"},
}


def _import_lines(video: str) -> bytes:
    """A summary and a transcript for the video (made by jobs otherwise, which need the model service)."""
    summary = {"id": str(uuid.uuid4()), "videoId": video, "personaId": str(AUTOMATED_PERSONA_ID),
               "summary": {"scene": "a street"}, "text": "a street with a bus", "keyFrames": [{"frame": 1}],
               "jobId": None, "createdAt": STAMP, "updatedAt": STAMP}
    transcript = {"videoId": video, "jobId": None, "model": "tiny", "language": "en", "status": "ok", "durationS": 2.0,
                  "text": "the street is busy", "segments": [{"start": 0.0, "end": 2.0, "text": "the street is busy",
                                                              "words": []}], "createdAt": STAMP, "updatedAt": STAMP}
    lines = [{"type": "header", "data": {"format": "fovea-export", "version": 1}},
             {"type": "summary", "data": summary}, {"type": "transcript", "data": transcript}]
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def _created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201, 202), f"seeding: {response.request.method} {response.request.url}" \
                                                    f" -> {response.status_code} {response.text[:500]}"
    return response.json()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def contract_app(backend_deps, secret_files, admin_conn, admin_password: str,  # type: ignore[no-untyped-def]
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServedApp, Seeded]]:
    db = f"fovea_contract_{uuid.uuid4().hex[:8]}"
    admin_conn.execute(f'CREATE DATABASE "{db}"')
    root: Path = tmp_path_factory.mktemp("contract-videos")
    for name in ("street.mp4", "harbour.mp4"):
        write_video(root, name, 4096, {"width": 320, "height": 240, "fps": 10, "duration": 2})
    settings = make_settings(backend_deps, secret_files, db, video_root=root, self_registration=True,
                             redis_url=backend_deps.redis_url.rsplit("/", 1)[0] + "/4")
    migrate.run(settings)
    try:
        with ServedApp(settings, run_job_sync=False) as served, served.client(admin_password) as admin, \
                served.client() as user:
            yield served, _seed(admin, user)
    finally:
        admin_conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def _seed(c: httpx.Client, user_client: httpx.Client) -> Seeded:
    """One of everything a path names, made through the API."""
    _created(c.post("/api/videos/sync"))
    video, other = video_id("street.mp4"), video_id("harbour.mp4")
    user = _created(c.post("/api/users", json={"username": "contract-annotator", "role": "annotator", "password": PASSWORD}))
    persona = _created(c.post("/api/personas", json={"name": "Traffic"}))["id"]
    _created(c.put(f"/api/personas/{persona}/ontology", json={"entityTypes": [{"id": "driver", "name": "Driver"}],
                                                              "eventTypes": [{"id": "crossing", "name": "Crossing"}]}))
    _created(c.post("/api/world/entities", json={"id": "ann", "name": "Ann"}))
    track = _created(c.post("/api/annotations", json=_track(video, entityId="ann")))["id"]
    job = _created(c.post(f"/api/videos/{video}/detect", json={}))["jobId"]
    assignment = _created(c.post("/api/assignments", json={"videoId": video, "assignee": "contract-annotator"}))["id"]
    for state in ("in_progress", "submitted", "in_review"):  # issues are raised in review
        _created(c.put(f"/api/assignments/{assignment}/state", json={"state": state}))
    issue = _created(c.post(f"/api/assignments/{assignment}/issues", json={"frame": 1, "message": "look"}))["id"]
    _created(c.post("/api/import", content=_import_lines(video), headers=NDJSON))
    _created(user_client.post("/api/auth/login", json={"username": "contract-annotator", "password": PASSWORD}))
    return Seeded(client=c, user=user_client, path_values={
        "video_id": video, "other_video_id": other, "persona_id": persona, "annotation_id": track, "job_id": job,
        "assignment_id": assignment, "issue_id": issue, "user_id": user["user"]["id"], "kind": "entities", "object_id": "ann"})


def _routes_with_a_model(served: ServedApp) -> list[APIRoute]:
    return [route for route in served.app.routes if isinstance(route, APIRoute) and route.response_model is not None]


def _request(seeded: Seeded, method: str, route: APIRoute) -> httpx.Response:
    key = f"{method} {route.path}"
    call = WRITES[key](seeded) if method != "GET" else Call(params=READ_PARAMS.get(route.path, {}))
    values = dict(seeded.path_values)
    if key == "DELETE /api/videos/{video_id}":  # the other video: the seeded one stays for the routes after it
        values["video_id"] = values["other_video_id"]
    path = route.path.format(**{name: values[name] for name in route.param_convertors})
    if call.signed_out:
        with httpx.Client(base_url=seeded.client.base_url, timeout=30) as anonymous:
            return anonymous.request(method, path, json=call.json, params=call.params, headers=call.headers)
    client = seeded.user if call.as_user else seeded.client
    return client.request(method, path, json=call.json, params=call.params, headers=call.headers, content=call.content)


def test_every_route_with_a_response_model_answers_a_body_its_model_accepts(
        contract_app: tuple[ServedApp, Seeded]) -> None:
    served, seeded = contract_app
    routes = _routes_with_a_model(served)
    calls = [(method, route) for route in routes for method in sorted(route.methods or ())]
    unwritten = sorted(f"{m} {r.path}" for m, r in calls if m != "GET" and f"{m} {r.path}" not in WRITES)
    assert not unwritten, f"routes with a response model but no request in WRITES: {unwritten}"
    stale = sorted(set(WRITES) - {f"{m} {r.path}" for m, r in calls})
    assert not stale, f"WRITES names routes the app does not have: {stale}"
    order = {key: index for index, key in enumerate(WRITES)}
    calls.sort(key=lambda c: -1 if c[0] == "GET" else order[f"{c[0]} {c[1].path}"])  # reads first, on the seeded data
    failures: list[str] = []
    for method, route in calls:
        response = _request(seeded, method, route)
        where = f"{method} {route.path} -> {response.status_code}"
        if not 200 <= response.status_code < 300 or response.headers.get("content-type", "").split(";")[0] != "application/json":
            failures.append(f"{where} {response.headers.get('content-type')}: {response.text[:300]}")
            continue
        problem = contract_problem(TypeAdapter(route.response_model), response.content)
        if problem is not None:
            failures.append(f"{where}, a body its response model refuses:\n{problem}")
    assert len(calls) >= 60
    assert not failures, "\n\n".join(failures)
