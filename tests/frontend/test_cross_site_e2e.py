"""Same-site CSRF, as an attacker would do it: a page on another port of 127.0.0.1, opened in Debian's
Chromium by someone signed in to the app, auto-submits forms at the stack fovea started — an import typed
text/plain (a JSON line hidden in a form field's name and value) and a prune sync. Both ports are one site,
so SameSite=Lax sends the session cookie along; the backend must refuse (fovea_backend/csrf.py) and nothing
may be written. The signed-in app on its own origin keeps working (the other e2e tests use it throughout).
"""

from __future__ import annotations

import html
import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.frontend.conftest import BrowserSession

NDJSON = {"Content-Type": "application/x-ndjson"}


def _auto_submitting_form(action: str, name: str = "", value: str = "") -> str:
    field = f'<input name="{html.escape(name)}" value="{html.escape(value)}">' if name else ""
    return (f'<!doctype html><form method="POST" enctype="text/plain" action="{html.escape(action)}">{field}</form>'
            "<script>document.forms[0].submit()</script>")


@pytest.fixture
def attacker_site() -> Iterator[tuple[str, dict[str, str]]]:
    """A web server on another free 127.0.0.1 port that serves whatever page the test puts in `pages`."""
    pages: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            body = pages.get(self.path, "").encode()
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", pages
    finally:
        server.shutdown()
        server.server_close()


def test_a_form_on_another_local_port_can_neither_import_nor_prune(app: BrowserSession, attacker_site: tuple[str, dict[str, str]],
                                                                   output_dir: Path) -> None:
    attacker, pages = attacker_site
    assert attacker.rsplit(":", 1)[1] != app.base_url.rsplit(":", 1)[1]
    planted = str(uuid.uuid4())
    line = json.dumps({"type": "persona", "data": {"id": planted, "name": "planted by another site", "role": "",
                                                   "informationNeed": "", "hidden": False,
                                                   "createdAt": "2024-01-01T00:00:00Z", "updatedAt": "2024-01-01T00:00:00Z"}})
    # text/plain sends `name=value`: split the line at a string so the `=` lands inside it (a valid JSON line).
    name, value = line[:-1] + ', "pad": "', '"}'
    ghost = f"ghost-{uuid.uuid4().hex[:8]}.mp4"  # a row whose file is gone: what a prune deletes
    with app.stack.api() as client:
        row = {"id": _video_id(ghost), "filename": ghost, "path": ghost, "sizeBytes": 1, "duration": None, "fpsNum": None,
               "fpsDen": None, "fps": None, "frameCount": None, "width": None, "height": None, "codec": None, "metadata": {},
               "createdAt": "2024-01-01T00:00:00Z", "updatedAt": "2024-01-01T00:00:00Z"}
        made = client.post("/api/import", content=json.dumps({"type": "video", "data": row}) + "\n", headers=NDJSON)
        assert made.status_code == 200, made.text
    pages["/import.html"] = _auto_submitting_form(f"{app.base_url}/api/import", name, value)
    pages["/prune.html"] = _auto_submitting_form(f"{app.base_url}/api/videos/sync?prune=true")
    sent: list[dict[str, str]] = []
    page = app.page
    page.on("request", lambda request: sent.append(request.all_headers())
            if request.method == "POST" and "/api/" in request.url else None)
    try:
        for attack in ("/import.html", "/prune.html"):
            with page.expect_navigation(url=f"{app.base_url}/api/**"):
                page.goto(f"{attacker}{attack}")
            answer = page.locator("body").inner_text()
            assert "cross-origin request refused" in answer and attacker in answer, answer
            page.screenshot(path=output_dir / f"cross-site-refused-{attack.strip('/').split('.')[0]}.png")
        # The attack was real: the forms went out as text/plain from the attacker's origin, cookie attached.
        assert len(sent) == 2, sent
        for headers in sent:
            assert headers["origin"] == attacker and headers["content-type"].startswith("text/plain"), headers
            assert "fovea_session=" in headers.get("cookie", ""), headers
        with app.stack.api() as client:
            assert planted not in [p["id"] for p in client.get("/api/personas").json()]  # nothing imported
            assert ghost in [v["filename"] for v in client.get("/api/videos").json()]  # nothing pruned
    finally:
        with app.stack.api() as client:  # drop the ghost row (its file never existed) before any page lists it
            assert client.post("/api/videos/sync", params={"prune": "true"}).json()["pruned"] == [ghost]
    # The refused navigations were the attack's, not the app's: what counts is the app from here on.
    app.console_errors.clear()
    # The signed-in app itself, on its own origin, still writes.
    page.goto("/")
    created = page.evaluate("""async () => {
        const r = await fetch('/api/personas', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                                body: JSON.stringify({name: 'from the app'})});
        return [r.status, (await r.json()).id];
    }""")
    assert created[0] == 201, created
    with app.stack.api() as client:
        assert client.delete(f"/api/personas/{created[1]}").status_code == 204
    page.goto("/transfer")
    page.get_by_test_id("import-file").set_input_files(files=[{"name": "again.jsonl", "mimeType": "application/x-ndjson",
                                                               "buffer": (line + "\n").encode()}])
    page.wait_for_selector("[data-testid=import-preview]")  # the app's own import still previews
    page.screenshot(path=output_dir / "cross-site-app-still-imports.png")
    assert not app.console_errors, app.console_errors


def _video_id(filename: str) -> str:
    from hashlib import md5

    return md5(filename.encode()).hexdigest()[:16]  # noqa: S324 - the backend's id scheme, not security
