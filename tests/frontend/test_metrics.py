"""The Metrics page in headless Chromium against the full stack: after API traffic, a completed detection
job and a failed one, every panel of every provisioned dashboard holds a series with at least one real
point (read from each chart's own data through the panel's data attributes, not from pixels), with no
console errors; a screenshot of each dashboard goes to the test output."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, detect_and_wait
from tests.frontend.conftest import BrowserSession, FrontendStack

DASHBOARDS = sorted((ROOT / "configs" / "grafana" / "dashboards").glob("*.json"))
BROKEN_CLIP = "metrics-broken.mp4"
# Exports every 10 s and rates over two samples: the last panels fill within a minute or two.
DATA_TIMEOUT_MS = 180_000


@pytest.fixture(scope="module")
def traffic(full_stack: FrontendStack, tmp_path_factory: pytest.TempPathFactory) -> None:
    """What the dashboards show: API calls (some 4xx), a detection job that completes and one that fails
    (a file no decoder can open), submitted more than one export interval apart so 1 h increases move."""
    project = full_stack.project
    # `videos add` refuses a file no decoder can open, so the broken one goes into the volume directly, then a
    # sync catalogues it (the backend lists what it cannot probe, with its problem).
    backend = project.observe().containers["backend"]
    with project.writing():
        project.engine.exec(backend.id, ["sh", "-c", f"printf 'not a video at all\\n%.0s' $(seq 64) > /data/videos/{BROKEN_CLIP}"])
    with full_stack.api() as client:
        assert client.post("/api/videos/sync").status_code == 200
        for _ in range(3):
            assert client.get("/api/videos").status_code == 200
            assert 400 <= client.get("/api/videos/no-such-video").status_code < 500  # the 4xx panels
        videos = {v["filename"]: v for v in client.get("/api/videos").json()}
        assert detect_and_wait(client, full_stack.video["id"])["status"] == "completed"
        time.sleep(12)
        assert detect_and_wait(client, videos[BROKEN_CLIP]["id"])["status"] == "failed"
    # The broken file goes again, so the workspace tests see only real clips.
    project.engine.exec(backend.id, ["rm", "-f", f"/data/videos/{BROKEN_CLIP}"])
    with full_stack.api() as client:
        assert client.post("/api/videos/sync", params={"prune": "true"}).status_code == 200


def panels_of(page: Any) -> list[dict[str, Any]]:
    return page.eval_on_selector_all(
        "[data-testid=metrics-panel]",
        "els => els.map(e => ({title: e.dataset.title, type: e.dataset.type, state: e.dataset.state,"
        " series: Number(e.dataset.series), points: Number(e.dataset.points)}))")


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=lambda p: p.stem)
def test_every_panel_draws_a_series_with_points(dashboard: Path, traffic: None, full_app: BrowserSession,
                                                output_dir: Path) -> None:
    spec = json.loads(dashboard.read_text())
    page = full_app.page
    page.goto(f"/metrics?dashboard={spec['uid']}&range=15m&refresh=10s")
    page.get_by_test_id("metrics-grid").wait_for()
    assert page.get_by_test_id("metrics-dashboard").input_value() == spec["uid"]
    expected = len(spec["panels"])
    try:
        page.wait_for_function(
            "n => { const p = [...document.querySelectorAll('[data-testid=metrics-panel]')];"
            " return p.length === n && p.every(e => Number(e.dataset.points) > 0); }",
            arg=expected, timeout=DATA_TIMEOUT_MS, polling=1000)
    finally:
        page.screenshot(path=str(output_dir / f"metrics-{dashboard.stem}.png"), full_page=True)
    panels = panels_of(page)
    assert [p["title"] for p in panels] == [p["title"] for p in spec["panels"]]
    assert all(p["state"] == "ready" and p["series"] >= 1 for p in panels), panels
    assert not full_app.console_errors


def test_the_dashboard_picker_lists_every_provisioned_dashboard(full_app: BrowserSession) -> None:
    page = full_app.page
    page.goto("/metrics")
    page.get_by_test_id("nav-metrics").wait_for()
    picker = page.get_by_test_id("metrics-dashboard")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=metrics-dashboard] option').length > 0")
    options = picker.locator("option").evaluate_all("os => os.map(o => o.value)")
    assert sorted(options) == sorted(json.loads(p.read_text())["uid"] for p in DASHBOARDS)
    page.get_by_test_id("metrics-range").select_option("custom")
    page.get_by_test_id("metrics-from").wait_for()
    assert "range=custom" in page.url
    assert not full_app.console_errors
