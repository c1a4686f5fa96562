"""Same-site CSRF: no state-changing route acts on a request a page on another origin could make.

Every port of 127.0.0.1 is the same *site*, so SameSite=Lax sends the session cookie along with a form a
page on another local port submits. The backend refuses such requests before any route runs (see
fovea_backend/csrf.py); the browser-level proof is tests/frontend/test_cross_site_e2e.py.
"""

from __future__ import annotations

import json

import httpx
from backend_harness import NDJSON, concrete_path, table_digests

SAFE = {"get", "head", "options"}
ATTACKER = "http://127.0.0.1:9"  # another port of the same host: same site, another origin
PERSONA_LINE = json.dumps({"type": "persona", "data": {
    "id": "00000000-0000-4000-8000-00000000f00d", "name": "planted", "role": "", "informationNeed": "", "hidden": False,
    "createdAt": "2024-01-01T00:00:00Z", "updatedAt": "2024-01-01T00:00:00Z"}})


def _state_changing_operations(c: httpx.Client) -> list[tuple[str, str]]:
    spec = c.get("/openapi.json").json()
    return [(method.upper(), concrete_path(path)) for path, operations in spec["paths"].items()
            for method in operations if method not in SAFE]


def test_every_state_changing_route_refuses_a_cross_site_request_and_writes_nothing(isolated_backend) -> None:  # type: ignore[no-untyped-def]
    c = isolated_backend.client
    own = str(c.base_url).rstrip("/")
    (isolated_backend.root / "gone.mp4").write_bytes(b"x" * 64)
    assert c.post("/api/videos/sync").status_code == 200
    (isolated_backend.root / "gone.mp4").unlink()  # a row whose file is gone: what prune=true would delete
    before = table_digests(isolated_backend.settings)
    operations = _state_changing_operations(c)
    assert len(operations) >= 15 and ("POST", "/api/import") in operations and ("POST", "/api/auth/login") in operations

    # (headers, body, the status and the header it must be refused with) — each a request a page can make.
    attacks = [
        ({"Origin": ATTACKER, "Content-Type": "text/plain"}, PERSONA_LINE[:-1] + ', "x": "="}', 403, "Origin"),
        ({"Origin": ATTACKER, "Content-Type": "application/x-www-form-urlencoded"}, "a=b", 403, "Origin"),
        ({"Origin": ATTACKER}, None, 403, "Origin"),  # a bodiless POST: sync?prune=true, logout, cancel ...
        ({"Origin": ATTACKER, "Content-Type": "application/json"}, "{}", 403, "Origin"),
        ({"Origin": "null", "Content-Type": "application/json"}, "{}", 403, "Origin"),  # a sandboxed page
        ({"Sec-Fetch-Site": "same-site", "Content-Type": "application/json"}, "{}", 403, "Sec-Fetch-Site"),
        ({"Origin": own, "Content-Type": "text/plain"}, PERSONA_LINE, 415, "Content-Type"),  # a form, even from here
        ({"Origin": own, "Content-Type": "multipart/form-data; boundary=x"}, "--x--", 415, "Content-Type"),
        ({}, PERSONA_LINE, 415, "Content-Type"),  # an untyped body (fetch with a Blob, no-cors)
    ]
    for method, path in operations:
        for headers, body, status, header in attacks:
            target = f"{path}?prune=true" if path == "/api/videos/sync" else path
            response = c.request(method, target, headers=headers, content=body)
            assert response.status_code == status, (method, path, headers, response.text)
            assert response.json()["detail"][0]["loc"] == ["header", header], (method, path, response.text)
    assert table_digests(isolated_backend.settings) == before
    assert c.get("/api/auth/me").status_code == 200  # the cross-site logouts did not end the session


def test_same_origin_json_and_clients_without_origin_still_work(isolated_backend) -> None:  # type: ignore[no-untyped-def]
    c = isolated_backend.client
    own = str(c.base_url).rstrip("/")
    made = c.post("/api/personas", json={"name": "from the app"}, headers={"Origin": own, "Sec-Fetch-Site": "same-origin"})
    assert made.status_code == 201, made.text
    assert c.post("/api/personas", json={"name": "from the CLI"}).status_code == 201  # no Origin: not a browser
    imported = c.post("/api/import", content=PERSONA_LINE + "\n", headers={**NDJSON, "Origin": own})
    assert imported.status_code == 200 and imported.json()["imported"] == {"persona": 1}, imported.text
    # The Host port decides: the same host on another port is another origin.
    other_port = own.rsplit(":", 1)[0] + ":1"
    assert c.post("/api/personas", json={"name": "x"}, headers={"Origin": other_port}).status_code == 403
