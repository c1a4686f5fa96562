"""The persona-scoped workspace in Chromium (issue 21, item 6), against the stack tests/frontend/conftest.py starts:
persona A's track is not shown to someone working as persona B; "all personas" shows it faded and read only (it
cannot be picked, moved or saved); a box drawn as B is stored under B and A's track is untouched; the choice of
persona and of "all personas" is the server's (a second browser context, with empty storage, opens the video the
same way); switching back to A shows A's track editable and hides B's. What the server stored is checked through the
API. Screenshots at 1366x768 go to test-output/frontend/.

The test works on a video of its own (a copy of the shared clip: 480x640, 10 fps, 30 frames)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.frontend.conftest import FrontendStack, clip_copy, console_errors
from tests.frontend.test_annotation_safety_e2e import BOX, person, stored
from tests.frontend.test_workspace_e2e import SLOW, drag, go_to_frame, open_workspace, wait_saved

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

SCOPE_CLIP = "personas.mp4"


@pytest.fixture(scope="module")
def video(frontend_stack: FrontendStack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return clip_copy(frontend_stack, tmp_path_factory.mktemp("personas"), SCOPE_CLIP)


def _work_as(page: Page, persona: str) -> None:
    page.get_by_test_id("persona-select").select_option(persona)
    # The workspace is made again for the persona (its document is that persona's): wait for the new one.
    page.wait_for_selector(f"[data-testid=persona-select][data-scope='{persona}']", timeout=SLOW)
    page.wait_for_selector("[data-testid=video][data-ready=true]", timeout=SLOW)


def test_a_persona_sees_and_saves_its_own_tracks_and_others_only_read_only(
        browser: Browser, frontend_stack: FrontendStack, video: dict[str, Any], output_dir: Path) -> None:
    suffix = uuid.uuid4().hex[:4]
    with frontend_stack.api() as client:
        a = client.post("/api/personas", json={"name": f"Traffic {suffix}"}).json()
        b = client.post("/api/personas", json={"name": f"Crowd {suffix}"}).json()
        listed = client.get(f"/api/annotations/{video['id']}")
        a_track = str(uuid.uuid4())
        seeded = client.put(f"/api/videos/{video['id']}/annotations", headers={"If-Match": listed.headers["ETag"]}, json={
            "upsert": [{"id": a_track, "personaId": a["id"], "type": "object", "label": "bus", "source": "manual",
                        "frames": [{"frame": 0, **BOX}, {"frame": 29, **BOX}]}],
            "delete": [t["id"] for t in listed.json()]})
        assert seeded.status_code == 200, seeded.text
        a_before = stored(client, video["id"])[a_track]

    with person(browser, frontend_stack) as (_, page):
        open_workspace(page, video)
        _work_as(page, b["id"])
        go_to_frame(page, 5)
        # B's workspace: A's track is neither drawn nor listed.
        assert page.locator(f"[data-track-id='{a_track}']").count() == 0
        assert page.get_by_test_id("overlay").get_attribute("data-box-count") == "0"
        page.screenshot(path=str(output_dir / "persona-scope-b-only-1366x768.png"))

        # All personas: A's box shows, faded and dotted with whose it is, and cannot be picked or moved.
        page.get_by_test_id("show-all-personas").check()
        other = page.locator(f"[data-testid=other-box][data-other-track-id='{a_track}']")
        other.wait_for(timeout=SLOW)
        assert other.get_attribute("stroke-opacity") == "0.7" and other.get_attribute("stroke-dasharray") == "6 4"
        assert page.locator("[data-testid=other-boxes] text").first.text_content() == f"bus · Traffic {suffix}"
        assert page.get_by_test_id("overlay").get_attribute("data-box-count") == "0"  # none of B's own
        assert page.get_by_test_id("others-count").get_attribute("data-count") == "1"
        drag(page, (150, 150), (250, 250))  # on A's box: nothing is picked, nothing moves
        assert page.get_by_test_id("selected-track").count() == 0
        page.screenshot(path=str(output_dir / "persona-scope-b-all-personas-1366x768.png"))

        # A box drawn as B over A's is B's.
        page.get_by_test_id("btn-draw").click()
        drag(page, (260, 300), (380, 440))
        wait_saved(page)
        page.screenshot(path=str(output_dir / "persona-scope-b-drew-1366x768.png"))
        with frontend_stack.api() as client:
            after = stored(client, video["id"])
        drawn = [t for t in after.values() if t["id"] != a_track]
        assert [(t["personaId"], t["frames"][0]["frame"]) for t in drawn] == [(b["id"], 5)], drawn
        assert after[a_track] == a_before  # A's track untouched: same version, same keyframes
        b_track = drawn[0]["id"]
        assert not [e for e in console_errors(page) if "favicon" not in e]

    # The choice is the server's, per user and video: a browser with empty storage opens as B, all shown.
    with person(browser, frontend_stack) as (_, again):
        open_workspace(again, video)
        assert again.get_by_test_id("persona-select").get_attribute("data-scope") == b["id"]
        assert again.get_by_test_id("show-all-personas").is_checked()
        go_to_frame(again, 5)
        again.locator(f"[data-testid=other-box][data-other-track-id='{a_track}']").wait_for(timeout=SLOW)
        again.locator(f"[data-testid=box][data-track-id='{b_track}']").wait_for(timeout=SLOW)
        again.get_by_test_id("show-all-personas").uncheck()
        again.wait_for_selector(f"[data-testid=other-box][data-other-track-id='{a_track}']", state="detached", timeout=SLOW)

        # Working as A again: A's track is drawn and editable, B's is not there.
        _work_as(again, a["id"])
        go_to_frame(again, 5)
        mine = again.locator(f"[data-testid=box][data-track-id='{a_track}']")
        mine.wait_for(timeout=SLOW)
        assert again.locator(f"[data-track-id='{b_track}']").count() == 0
        mine.click()
        again.locator(f"[data-testid=selected-track][data-track-id='{a_track}']").wait_for(timeout=SLOW)
        again.screenshot(path=str(output_dir / "persona-scope-a-again-1366x768.png"))
        assert not [e for e in console_errors(again) if "favicon" not in e]
    with frontend_stack.api() as client:
        view = client.get(f"/api/videos/{video['id']}/view").json()
    assert (view["personaId"], view["allPersonas"]) == (a["id"], False)
