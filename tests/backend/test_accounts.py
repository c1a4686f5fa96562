"""Accounts (issue 21): admins make, disable, re-role and reset users; users change their own password; API
tokens and sessions are listed and revoked; bad input is a 4xx naming the field that changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import psycopg
import pytest
from backend_harness import ServedApp, table_digests
from fovea_backend.settings import Settings

PASSWORD = "Accounts-pass-5150"


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def _make(client: httpx.Client, role: str, password: str | None = PASSWORD) -> dict[str, object]:
    body: dict[str, object] = {"username": _name(role), "role": role}
    if password is not None:
        body["password"] = password
    made = client.post("/api/users", json=body)
    assert made.status_code == 201, made.text
    return dict(made.json())


@contextmanager
def _signed_in(served: ServedApp, username: str, password: str = PASSWORD) -> Iterator[httpx.Client]:
    with served.client() as c:
        response = c.post("/api/auth/login", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        yield c


def test_a_user_made_without_a_password_gets_a_one_time_password_to_change_at_first_login(
        served: ServedApp, client: httpx.Client) -> None:
    made = _make(client, "annotator", password=None)
    name, otp = made["user"]["username"], made["oneTimePassword"]  # type: ignore[index]
    assert isinstance(otp, str) and len(otp) >= 12 and made["user"]["mustChangePassword"] is True  # type: ignore[index]
    with _signed_in(served, name, otp) as c:
        assert c.get("/api/auth/me").json()["mustChangePassword"] is True
        changed = c.put("/api/auth/password", json={"currentPassword": otp, "newPassword": PASSWORD})
        assert changed.status_code == 200, changed.text
        me = c.get("/api/auth/me").json()  # the session that changed it stays
        assert me["mustChangePassword"] is False and me["role"] == "annotator" and me["isAdmin"] is False
    with served.client() as c:
        assert c.post("/api/auth/login", json={"username": name, "password": otp}).status_code == 401


@pytest.mark.parametrize(("body", "status", "field", "says"), [
    ({"username": "admin", "role": "viewer", "password": PASSWORD}, 409, "username", "already exists"),
    ({"username": "weak-one", "role": "viewer", "password": "short"}, 422, "password", "too short"),
    ({"username": "weak-two", "role": "viewer", "password": "aaaaabbbbbaaaaa"}, 422, "password", "too weak"),
    ({"username": "weak-three", "role": "viewer", "password": "xx-weak-three-xx"}, 422, "password", "username"),
    ({"username": "bad-role", "role": "owner", "password": PASSWORD}, 422, "role", ""),
    ({"username": "Has Space", "role": "viewer", "password": PASSWORD}, 422, "username", "lower-case"),
    ({"username": "x", "role": "viewer", "password": PASSWORD}, 422, "username", "2 to 64"),
])
def test_bad_accounts_are_refused_naming_the_field_and_change_nothing(
        client: httpx.Client, migrated: Settings, body: dict[str, str], status: int, field: str, says: str) -> None:
    before = table_digests(migrated)["users"]
    response = client.post("/api/users", json=body)
    assert response.status_code == status, response.text
    assert response.json()["detail"][0]["loc"][-1] == field
    assert says in response.json()["message"]
    assert PASSWORD not in response.text
    assert table_digests(migrated)["users"] == before


def test_disabling_ends_sessions_and_stops_tokens_until_enabled(served: ServedApp, client: httpx.Client) -> None:
    made = _make(client, "annotator")
    user_id, name = made["user"]["id"], made["user"]["username"]  # type: ignore[index]
    with _signed_in(served, name) as c:
        token = c.post("/api/auth/tokens", json={"name": "pipeline"}).json()["token"]
        bearer = {"Authorization": f"Bearer {token}"}
        assert c.get("/api/personas").status_code == 200 and c.get("/api/personas", headers=bearer).status_code == 200

        disabled = client.patch(f"/api/users/{user_id}", json={"disabled": True})
        assert disabled.status_code == 200 and disabled.json()["disabled"] is True and disabled.json()["sessions"] == 0

        assert c.get("/api/personas").status_code == 401  # the old cookie
        with served.client() as other:
            assert other.get("/api/personas", headers=bearer).status_code == 401  # the token
            refused = other.post("/api/auth/login", json={"username": name, "password": PASSWORD})
            assert refused.status_code == 403 and "disabled" in refused.json()["message"]

        assert client.patch(f"/api/users/{user_id}", json={"disabled": False}).json()["disabled"] is False
        with served.client() as other:
            assert other.get("/api/personas", headers=bearer).status_code == 200
    with _signed_in(served, name):
        pass


def test_a_role_change_takes_effect_at_the_next_request_and_caps_the_users_tokens(
        served: ServedApp, client: httpx.Client) -> None:
    made = _make(client, "annotator")
    user_id, name = made["user"]["id"], made["user"]["username"]  # type: ignore[index]
    with _signed_in(served, name) as c:
        token = c.post("/api/auth/tokens", json={"name": "writer", "role": "annotator"}).json()["token"]
        bearer = {"Authorization": f"Bearer {token}"}
        persona = {"name": "role change", "role": "", "informationNeed": ""}
        assert c.post("/api/personas", json=persona).status_code == 201
        assert client.patch(f"/api/users/{user_id}", json={"role": "viewer"}).json()["role"] == "viewer"
        assert c.post("/api/personas", json=persona).status_code == 403
        with served.client() as other:
            assert other.post("/api/personas", json=persona, headers=bearer).status_code == 403
            assert other.get("/api/auth/me", headers=bearer).json()["role"] == "viewer"
        # A viewer cannot make a token above itself.
        too_high = c.post("/api/auth/tokens", json={"name": "escalate", "role": "annotator"})
        assert too_high.status_code == 403 and too_high.json()["detail"][0]["loc"] == ["body", "role"]


def test_the_last_enabled_admin_stays_one_and_an_admin_cannot_disable_themselves(client: httpx.Client) -> None:
    me = client.get("/api/auth/me").json()
    assert client.patch(f"/api/users/{me['id']}", json={"disabled": True}).status_code == 409
    users = client.get("/api/users").json()
    if [u for u in users if u["role"] == "admin" and not u["disabled"]] == [next(u for u in users if u["id"] == me["id"])]:
        refused = client.patch(f"/api/users/{me['id']}", json={"role": "viewer"})
        assert refused.status_code == 409 and "no enabled admin" in refused.json()["message"]
    assert client.get("/api/auth/me").json()["role"] == "admin"


def test_reset_password_ends_the_users_sessions_and_gives_a_one_time_password(served: ServedApp, client: httpx.Client) -> None:
    made = _make(client, "reviewer")
    user_id, name = made["user"]["id"], made["user"]["username"]  # type: ignore[index]
    with _signed_in(served, name) as c:
        reset = client.post(f"/api/users/{user_id}/reset-password")
        assert reset.status_code == 200 and reset.json()["user"]["mustChangePassword"] is True
        assert c.get("/api/auth/me").status_code == 401
    with _signed_in(served, name, reset.json()["oneTimePassword"]):
        pass
    assert client.post(f"/api/users/{uuid.uuid4()}/reset-password").status_code == 404


def test_changing_ones_password_ends_the_other_sessions_and_checks_the_current_one(
        served: ServedApp, client: httpx.Client) -> None:
    name = _make(client, "viewer")["user"]["username"]  # type: ignore[index]
    with _signed_in(served, name) as first, _signed_in(served, name) as second:
        wrong = first.put("/api/auth/password", json={"currentPassword": "not-it-at-all", "newPassword": "Another-pass-99"})
        assert wrong.status_code == 403 and wrong.json()["detail"][0]["loc"] == ["body", "currentPassword"]
        weak = first.put("/api/auth/password", json={"currentPassword": PASSWORD, "newPassword": "abc"})
        assert weak.status_code == 422 and weak.json()["detail"][0]["loc"] == ["body", "newPassword"]
        assert second.get("/api/auth/me").status_code == 200  # nothing changed so far
        changed = first.put("/api/auth/password", json={"currentPassword": PASSWORD, "newPassword": "Another-pass-99"})
        assert changed.status_code == 200 and changed.json()["endedSessions"] == 1
        assert first.get("/api/auth/me").status_code == 200
        assert second.get("/api/auth/me").status_code == 401


def test_tokens_are_shown_once_stored_hashed_listed_with_last_use_and_revocable(
        served: ServedApp, client: httpx.Client, migrated: Settings) -> None:
    name = _make(client, "annotator")["user"]["username"]  # type: ignore[index]
    with _signed_in(served, name) as c:
        made = c.post("/api/auth/tokens", json={"name": "ci", "role": "viewer", "expiresInDays": 30})
        assert made.status_code == 201, made.text
        token = made.json()["token"]
        assert token.startswith("fovea_") and made.json()["role"] == "viewer" and made.json()["expiresAt"]
        assert c.post("/api/auth/tokens", json={"name": "ci"}).status_code == 409
        listed = c.get("/api/auth/tokens").json()
        assert [t["name"] for t in listed] == ["ci"] and "token" not in listed[0] and listed[0]["lastUsedAt"] is None
        with psycopg.connect(**migrated.db_kwargs()) as conn:
            stored = conn.execute("SELECT token_hash FROM api_tokens WHERE id = %s", (listed[0]["id"],)).fetchone()
        assert stored is not None and token not in stored[0] and len(stored[0]) == 64

        with served.client() as script:
            bearer = {"Authorization": f"Bearer {token}"}
            assert script.get("/api/auth/me", headers=bearer).json()["username"] == name
            assert script.post("/api/personas", json={"name": "x"}, headers=bearer).status_code == 403  # a viewer token
            assert c.get("/api/auth/tokens").json()[0]["lastUsedAt"] is not None
            assert c.delete(f"/api/auth/tokens/{listed[0]['id']}").status_code == 204
            revoked = script.get("/api/auth/me", headers=bearer)
            assert revoked.status_code == 401 and revoked.json()["detail"][0]["loc"] == ["header", "Authorization"]
            assert script.get("/api/auth/me", headers={"Authorization": "Bearer fovea_forged"}).status_code == 401


def test_users_list_and_end_their_own_sessions_and_admins_everyones(served: ServedApp, client: httpx.Client) -> None:
    name = _make(client, "annotator")["user"]["username"]  # type: ignore[index]
    with _signed_in(served, name) as first, _signed_in(served, name) as second:
        mine = first.get("/api/auth/sessions").json()
        assert len(mine) == 2 and sum(s["current"] for s in mine) == 1
        other = next(s for s in mine if not s["current"])
        assert first.delete(f"/api/auth/sessions/{other['id']}").status_code == 204
        assert second.get("/api/auth/me").status_code == 401
        # Someone else's session is not "yours": 404, and it lives on.
        admins = client.get("/api/sessions").json()
        assert any(s["username"] == "admin" for s in admins)
        admin_session = next(s for s in admins if s["username"] == "admin")
        assert first.delete(f"/api/auth/sessions/{admin_session['id']}").status_code == 404
        assert first.get("/api/sessions").status_code == 403
        # An admin ends anyone's.
        current = first.get("/api/auth/sessions").json()[0]
        assert client.delete(f"/api/sessions/{current['id']}").status_code == 204
        assert first.get("/api/auth/me").status_code == 401


def test_self_registration_when_enabled_makes_a_viewer_and_signs_it_in(migrated: Settings) -> None:
    with ServedApp(migrated.model_copy(update={"self_registration": True})) as open_app, open_app.client() as c:
        name = _name("walk-in")
        weak = c.post("/api/auth/register", json={"username": name, "password": "weak"})
        assert weak.status_code == 422 and weak.json()["detail"][0]["loc"] == ["body", "password"]
        made = c.post("/api/auth/register", json={"username": name, "password": PASSWORD})
        assert made.status_code == 201, made.text
        assert made.json()["role"] == "viewer" and c.get("/api/auth/me").json()["username"] == name
        assert c.post("/api/auth/register", json={"username": name, "password": PASSWORD}).status_code == 409
