"""The role matrix: every route of the OpenAPI document × every role answers as fovea_backend/roles.py says.

A route that is not in ROUTE_ROLES fails here by name (and is refused to everyone at run time); a line in the
table for a route that no longer exists fails too, so the table stays the truth about the API.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from backend_harness import ServedApp, concrete_path
from fovea_backend.roles import PUBLIC, ROLE_ORDER, ROUTE_ROLES, Role

PASSWORD = "Matrix-pass-7281"


@pytest.fixture(scope="module")
def role_tokens(served: ServedApp, client: httpx.Client) -> Iterator[dict[Role, str]]:
    """One user per role (made by the admin through the API), each signed in through an API token: a walk that
    calls POST /api/auth/logout must not end the session it walks with."""
    tokens: dict[Role, str] = {}
    for role in ROLE_ORDER:
        name = f"matrix-{role.value}"
        made = client.post("/api/users", json={"username": name, "role": role.value, "password": PASSWORD})
        assert made.status_code in (201, 409), made.text
        with served.client() as c:
            assert c.post("/api/auth/login", json={"username": name, "password": PASSWORD}).status_code == 200
            token = c.post("/api/auth/tokens", json={"name": "matrix"})
            if token.status_code == 409:  # a rerun in one session: replace it
                listed = c.get("/api/auth/tokens").json()
                c.delete(f"/api/auth/tokens/{next(t['id'] for t in listed if t['name'] == 'matrix')}")
                token = c.post("/api/auth/tokens", json={"name": "matrix"})
            assert token.status_code == 201, token.text
            tokens[role] = token.json()["token"]
    yield tokens


def _operations(spec: dict[str, object]) -> list[tuple[str, str]]:
    return [(method.upper(), path) for path, operations in spec["paths"].items() for method in operations]  # type: ignore[attr-defined]


def test_every_route_has_exactly_one_line_in_the_role_table(anon: httpx.Client) -> None:
    documented = set(_operations(anon.get("/openapi.json").json()))
    missing = sorted(documented - set(ROUTE_ROLES) - PUBLIC)
    assert not missing, f"routes without a line in fovea_backend/roles.py ROUTE_ROLES: {missing}"
    stale = sorted(set(ROUTE_ROLES) - documented)
    assert not stale, f"lines in ROUTE_ROLES for routes the API does not have: {stale}"
    assert not set(ROUTE_ROLES) & PUBLIC


def test_every_route_times_every_role_is_allowed_or_denied_as_the_table_says(
        served: ServedApp, anon: httpx.Client, role_tokens: dict[Role, str]) -> None:
    answers: list[str] = []
    wrong: list[str] = []
    for method, path in _operations(anon.get("/openapi.json").json()):
        if (method, path) in PUBLIC:
            continue
        needed = ROUTE_ROLES.get((method, path))
        for role in ROLE_ORDER:
            # Ids that exist nowhere and an empty body: an allowed call gets past the role check and then fails
            # (404/422/...) without changing anything; a denied one must stop at the check.
            response = anon.request(method, concrete_path(path), json={},
                                    headers={"Authorization": f"Bearer {role_tokens[role]}"})
            denied_by_role = response.status_code == 403 and response.json()["detail"][0]["loc"] == ["role"]
            allowed = needed is not None and role.includes(needed)
            answers.append(f"{role.value:9} {method:6} {path}: {response.status_code}")
            if response.status_code == 401 or allowed == denied_by_role:
                wrong.append(f"{role.value} {method} {path}: table says {'allowed' if allowed else 'denied'}, "
                             f"got {response.status_code} {response.text[:200]}")
    assert not wrong, "\n".join(wrong)
    assert len(answers) >= 4 * 50


def test_a_denial_names_the_role_needed_and_the_callers(anon: httpx.Client, role_tokens: dict[Role, str]) -> None:
    response = anon.put("/api/world", json={}, headers={"Authorization": f"Bearer {role_tokens[Role.viewer]}"})
    assert response.status_code == 403
    body = response.json()
    assert body["role"] == "viewer" and body["needed"] == "annotator"
    assert "needs the annotator role" in body["message"] and "matrix-viewer is viewer" in body["message"]


def test_public_routes_answer_without_signing_in(anon: httpx.Client) -> None:
    assert anon.get("/health").status_code == 200
    assert anon.post("/api/auth/login", json={"username": "nobody", "password": "x"}).status_code == 401
    # Off unless BACKEND_SELF_REGISTRATION: refused, and says so.
    refused = anon.post("/api/auth/register", json={"username": "walk-in", "password": PASSWORD})
    assert refused.status_code == 403 and "self-registration is off" in refused.json()["message"]
