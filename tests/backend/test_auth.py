"""Auth: login sets an httpOnly SameSite=Lax cookie; every route but /health and login needs a session."""

from __future__ import annotations

import re

import httpx
import pytest
from backend_harness import ServedApp, concrete_path
from fovea_backend.roles import PUBLIC


def test_every_route_except_the_public_ones_needs_a_session(served: ServedApp, anon: httpx.Client) -> None:
    spec = anon.get("/openapi.json").json()
    checked = 0
    for path, operations in spec["paths"].items():
        for method in operations:
            if (method.upper(), path) in PUBLIC:
                continue
            # Any syntactically valid id: the session check runs before the lookup, so 401 must come first.
            response = anon.request(method.upper(), concrete_path(path), json={})
            assert response.status_code == 401, (method, path, response.text)
            assert response.json()["detail"][0]["loc"] == ["cookie", "fovea_session"]
            checked += 1
    assert checked >= 25


def test_login_cookie_is_httponly_samesite_and_secure_only_when_configured(served: ServedApp, migrated,
                                                                           admin_password: str) -> None:  # type: ignore[no-untyped-def]
    """The stack serves plain HTTP on 127.0.0.1, so Secure is off by default (a browser would drop the
    cookie); BACKEND_COOKIE_SECURE=true, for a deployment behind TLS, turns it on."""
    with served.client() as c:
        response = c.post("/api/auth/login", json={"username": "admin", "password": admin_password})
        assert response.status_code == 200
        assert response.json()["username"] == "admin" and response.json()["isAdmin"] is True
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
        assert "secure" not in cookie.replace("httponly", "")  # BACKEND_COOKIE_SECURE=false by default
        assert c.get("/api/auth/me").json()["username"] == "admin"
        assert c.post("/api/auth/logout").status_code == 204
        c.cookies.clear()
        assert c.get("/api/auth/me").status_code == 401
    with ServedApp(migrated.model_copy(update={"cookie_secure": True})) as behind_tls, behind_tls.client() as c:
        response = c.post("/api/auth/login", json={"username": "admin", "password": admin_password})
        assert response.status_code == 200
        attributes = [part.strip() for part in response.headers["set-cookie"].lower().split(";")]
        assert "secure" in attributes and "httponly" in attributes


def test_logout_invalidates_the_session_server_side(served: ServedApp, admin_password: str) -> None:
    with served.client(admin_password) as c:
        token = c.cookies["fovea_session"]
        assert c.post("/api/auth/logout").status_code == 204
    with served.client() as replay:
        replay.cookies.set("fovea_session", token)
        assert replay.get("/api/auth/me").status_code == 401


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"username": "admin", "password": "Pw-Secret-9"}, 401, "password"),
        ({"username": "nobody", "password": "Pw-Secret-9"}, 401, "password"),
        ({"username": "admin"}, 422, "password"),
        ({"username": "", "password": "x"}, 422, "username"),
        ({"username": "admin", "password": "a\u0000b"}, 422, "password"),
    ],
)
def test_bad_logins_are_4xx_naming_the_field(anon: httpx.Client, body: dict[str, str], status: int, field: str) -> None:
    response = anon.post("/api/auth/login", json=body)
    assert response.status_code == status
    assert response.json()["detail"][0]["loc"][-1] == field
    assert "Pw-Secret-9" not in response.text  # inputs (passwords) are never echoed back


def test_forged_cookie_is_rejected(anon: httpx.Client) -> None:
    anon.cookies.set("fovea_session", "forged-token")
    assert anon.get("/api/personas").status_code == 401


def test_health_is_public_and_reports_both_dependencies(anon: httpx.Client) -> None:
    response = anon.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "postgres": "ok", "redis": "ok", "failing": []}


def test_an_unknown_user_costs_a_full_bcrypt_check_and_never_passes() -> None:
    import bcrypt

    from fovea_backend import auth

    # A real hash at the users' cost (so a wrong username takes as long as a wrong password)...
    assert auth._DUMMY_HASH.startswith(f"$2b${auth.BCRYPT_ROUNDS:02d}$".encode())
    assert bcrypt.checkpw(b"not-a-password", auth._DUMMY_HASH)
    # ...that no password opens.
    assert auth.verify_password("not-a-password", None) is False


def test_api_docs_are_off_unless_asked_and_then_load_nothing_from_another_origin(served: ServedApp, migrated) -> None:  # type: ignore[no-untyped-def]
    """FastAPI's /docs loaded a floating swagger-ui-dist@5 from a CDN into the API's origin."""
    with served.client() as c:
        assert c.get("/docs").status_code == 404 and c.get("/redoc").status_code == 404
        assert c.get("/openapi.json").status_code == 200  # the document itself stays (clients, tests)
    with ServedApp(migrated.model_copy(update={"api_docs": True})) as documented, documented.client() as c:
        page = c.get("/docs")
        assert page.status_code == 200 and "swagger-ui" in page.text
        sources = re.findall(r"""(?:src|href)\s*=\s*['"]([^'"]+)['"]|url:\s*['"]([^'"]+)['"]""", page.text)
        urls = [url for pair in sources for url in pair if url]
        assert len(urls) >= 3 and all(url.startswith("/") and not url.startswith("//") for url in urls), urls
        assert "cdn" not in page.text.lower() and "https://" not in page.text, page.text
        for url in urls:
            assert c.get(url).status_code == 200, url  # the pinned assets, served by the backend itself
