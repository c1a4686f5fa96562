"""The frontend's nginx against a real stack: static files and their caching, the SPA fallback, the /api
proxy (Range, large bodies), security headers, health, the read-only Prometheus slice, a non-root
process, and the login page in a real Chromium."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.conftest import run_fovea
from tests.frontend.conftest import FrontendStack, console_errors

if TYPE_CHECKING:
    from playwright.sync_api import Page

ASSET = re.compile(r"""(?:src|href)="(/assets/[^"]+\.(?:js|css))\"""")
YEAR = "max-age=31536000"


@pytest.fixture(scope="module")
def http(frontend_stack: FrontendStack) -> httpx.Client:
    return httpx.Client(base_url=frontend_stack.base_url, timeout=60)


def test_range_request_through_the_proxy_returns_the_exact_bytes(frontend_stack: FrontendStack) -> None:
    data = frontend_stack.clip.read_bytes()
    url = f"/api/videos/{frontend_stack.video['id']}/stream"
    with frontend_stack.api() as client:
        middle = client.get(url, headers={"Range": "bytes=1000-4999"})
        assert middle.status_code == 206, middle.text
        assert middle.headers["content-range"] == f"bytes 1000-4999/{len(data)}"
        assert middle.content == data[1000:5000]
        tail = client.get(url, headers={"Range": "bytes=-777"})
        assert tail.status_code == 206 and tail.content == data[-777:]
        whole = client.get(url)
        assert whole.status_code == 200 and whole.content == data
        assert "content-encoding" not in whole.headers  # video is never re-encoded on the way


def test_hashed_assets_are_cached_for_a_year_and_index_html_is_not(http: httpx.Client) -> None:
    index = http.get("/")
    assert index.status_code == 200
    assert index.headers["cache-control"] == "no-cache"
    assert http.get("/index.html").headers["cache-control"] == "no-cache"
    assets = ASSET.findall(index.text)
    assert assets, index.text
    for asset in assets:
        response = http.get(asset, headers={"Accept-Encoding": "gzip"})
        assert response.status_code == 200
        assert YEAR in response.headers["cache-control"] and "immutable" in response.headers["cache-control"]
    script = next(a for a in assets if a.endswith(".js"))
    assert http.get(script, headers={"Accept-Encoding": "gzip"}).headers.get("content-encoding") == "gzip"


def test_an_unknown_path_returns_the_app_but_a_missing_asset_is_404(http: httpx.Client) -> None:
    index = http.get("/").text
    deep = http.get("/videos/00000000-0000-0000-0000-000000000000/annotate?frame=10")
    assert deep.status_code == 200 and deep.text == index
    assert deep.headers["cache-control"] == "no-cache"
    missing = http.get("/assets/no-such-chunk-0000.js")
    assert missing.status_code == 404
    assert YEAR not in missing.headers.get("cache-control", "")


def test_security_headers_are_on_every_response(http: httpx.Client) -> None:
    for path in ("/", "/health", "/api/health", "/some/route"):
        headers = http.get(path).headers
        policy = headers["content-security-policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy, policy
        assert "unsafe-eval" not in policy and not re.search(r"script-src[^;]*unsafe-inline", policy)
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"


def test_health_is_answered_by_nginx_and_api_health_by_the_backend(http: httpx.Client) -> None:
    own = http.get("/health")
    assert own.status_code == 200 and own.json() == {"status": "ok"}
    proxied = http.get("/api/health")
    assert proxied.status_code == 200 and proxied.json()["postgres"] == "ok"


def test_an_import_larger_than_nginx_default_body_limit_reaches_the_backend(frontend_stack: FrontendStack) -> None:
    body = b'{"kind": "nonsense"}\n' * (3 * 1024 * 1024 // 21)  # 3 MiB; nginx's default limit is 1 MiB
    with frontend_stack.api() as client:
        response = client.post("/api/import", content=body, headers={"Content-Type": "application/x-ndjson"})
    assert response.status_code != 413, response.text
    assert response.headers["content-type"].startswith("application/json")  # the backend's answer, not nginx's


def test_prometheus_is_read_only_and_needs_a_session(frontend_stack: FrontendStack, http: httpx.Client) -> None:
    assert http.get("/prometheus/api/v1/query", params={"query": "up"}).status_code == 401
    with frontend_stack.api() as client:
        query = client.get("/prometheus/api/v1/query", params={"query": "up"})
        assert query.status_code == 200 and query.json()["status"] == "success", query.text
        assert client.get("/prometheus/api/v1/label/job/values").json()["status"] == "success"
        for path in ("/prometheus/api/v1/admin/tsdb/delete_series?match[]=up", "/prometheus/api/v1/write",
                     "/prometheus/-/quit", "/prometheus/api/v1/status/config", "/prometheus/graph"):
            assert client.post(path).status_code == 404, path
            assert client.get(path).status_code == 404, path


def test_the_container_runs_as_a_non_root_user(frontend_stack: FrontendStack) -> None:
    """Every nginx process runs as www-data, with no capability: the entrypoint is root only long enough to
    write the Prometheus proxy's credential (the container's init, PID 1, only reaps)."""
    project = frontend_stack.project
    container = project.observe().containers["frontend"]
    # `|| continue`: the loop's status is its last command's, and the last /proc entry (the glob sorts them as
    # text) may be this very shell, not nginx; that made the exec exit 1 depending on the PIDs.
    code, output = project.engine.exec(container.id, ["sh", "-c", "for p in /proc/[0-9]*; do "
                                                      "grep -q '^Name:.nginx' $p/status 2>/dev/null || continue; "
                                                      "grep -hE '^(Uid|CapEff):' $p/status; done"])
    assert code == 0, output
    lines = output.decode().splitlines()
    uids = {line.split()[1] for line in lines if line.startswith("Uid:")}
    assert uids and "0" not in uids, output
    assert {line.split()[1] for line in lines if line.startswith("CapEff:")} == {"0000000000000000"}, output


def test_login_page_loads_clean_and_admin_reaches_the_video_list(page: Page, frontend_stack: FrontendStack) -> None:
    # test ids from services/frontend/README.md
    page.goto("/")
    page.get_by_test_id("login-form").wait_for()  # no session: the app sends the user to login
    assert not console_errors(page)
    page.get_by_test_id("login-username").fill(frontend_stack.username)
    page.get_by_test_id("login-password").fill(frontend_stack.password)
    page.get_by_test_id("login-submit").click()
    page.get_by_test_id("video-name").filter(has_text=frontend_stack.clip.name).wait_for()
    assert page.get_by_test_id("whoami").inner_text().startswith(frontend_stack.username)
    assert not console_errors(page)


def test_status_prints_the_app_and_metrics_urls(frontend_stack: FrontendStack) -> None:
    # status, not a second `up`: the session's stack differs from the stack file (no job retries), so an
    # `up` from the CLI would recreate the backend. Both print the same Stack.links of ready services.
    status = run_fovea(["status"], frontend_stack.cli_env)
    assert f"app: {frontend_stack.base_url}/" in status.stdout, status.stdout + status.stderr
    assert f"metrics: {frontend_stack.base_url}/metrics" in status.stdout
