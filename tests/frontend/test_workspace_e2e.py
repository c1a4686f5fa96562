"""The annotation workspace end to end in Debian's Chromium against a stack fovea started: log in, the video
list with the clip's real frame rate, draw / move / interpolate / outside / undo / redo, all of it surviving a
reload, a delete that stays deleted, detection with an accepted candidate, the export, and a lost session.

Coordinates are read from the overlay's DOM attributes (video pixels, as the app holds them), never from
screen pixels. The clip is longer than the shared fixture's 30 frames (the scenario needs frame 60) and
runs at 30000/1001 fps, the rate that drifts when an app assumes 30.

The stack is the one tests/frontend/conftest.py starts (nginx image, backend, model-service), or with FOVEA_E2E_URL
a running one (see there).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from fovea_ctl.ops.videos import add_videos
from tests.frontend.conftest import BrowserSession, FrontendStack

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

CLIP = "bus_ntsc.mp4"
CLIP_FRAMES = 90
# The shared clip's photo (bus.jpg from ultralytics, people in it for the detector), 3 s at 29.97 fps.
CLIP_SCRIPT = f"""set -eu
assets=$(python3 -c 'import os, ultralytics; print(os.path.join(os.path.dirname(ultralytics.__file__), "assets"))')
ffmpeg -loglevel error -y -i "$assets/bus.jpg" \\
  -vf "zoompan=z=1+0.004*on:x=(iw-iw/zoom)*on/89:y=(ih-ih/zoom)/2:d={CLIP_FRAMES}:s=480x640:fps=30000/1001,format=yuv420p" \\
  -frames:v {CLIP_FRAMES} -c:v libx264 -preset veryfast -g 30 /tmp/{CLIP}
"""
SLOW = 120_000  # ms: the machine is shared and loaded; waits are generous, never timed assertions


@pytest.fixture(scope="module")
def clip_video(full_stack: FrontendStack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The 29.97 fps clip, made by the model-service image's ffmpeg and added with fovea's own `videos add`."""
    project = full_stack.project
    image = project.resolver().resolve(project.stack.units["model-service"]).ref
    docker = shutil.which("docker") or "/usr/bin/docker"
    name = f"{project.settings.project}-ntsc-{uuid.uuid4().hex[:6]}"
    destination = tmp_path_factory.mktemp("clip") / CLIP
    try:
        made = subprocess.run([docker, "run", "--name", name, "--network", "none", "--entrypoint", "sh", image, "-c",
                               CLIP_SCRIPT], capture_output=True, text=True, timeout=300)
        assert made.returncode == 0, made.stderr[-2000:]
        copied = subprocess.run([docker, "cp", f"{name}:/tmp/{CLIP}", str(destination)], capture_output=True, text=True, timeout=120)
        assert copied.returncode == 0, copied.stderr
    finally:
        subprocess.run([docker, "rm", "-f", name], capture_output=True, timeout=60)
    add_videos(project, [destination], replace=True)
    with full_stack.api() as client:
        video = next(v for v in client.get("/api/videos").json() if v["filename"] == CLIP)
        # A running stack may hold tracks of an earlier run: the scenario starts from none.
        listed = client.get(f"/api/annotations/{video['id']}")
        stale = [a["id"] for a in listed.json()]
        if stale:
            cleared = client.put(f"/api/videos/{video['id']}/annotations", json={"upsert": [], "delete": stale},
                                 headers={"If-Match": listed.headers["ETag"]})
            assert cleared.status_code == 200, cleared.text
        return video


# -- helpers that drive the page like a person, and read the app's state from the DOM ---------------------
def go_to_frame(page: Page, frame: int) -> None:
    page.get_by_test_id("goto-frame").fill(str(frame))
    page.get_by_test_id("goto-frame").press("Enter")
    page.wait_for_selector(f"[data-testid=frame-counter][data-frame='{frame}']", timeout=SLOW)
    page.wait_for_selector(f"[data-testid=overlay][data-frame='{frame}']", timeout=SLOW)


def video_to_client(page: Page, x: float, y: float) -> tuple[float, float]:
    """A point in video pixels to the page's client pixels, from the overlay's box and the video's size."""
    overlay = page.get_by_test_id("overlay")
    bounds = overlay.bounding_box()
    assert bounds is not None
    width, height = (float(v) for v in overlay.get_attribute("viewBox").split()[2:])  # type: ignore[union-attr]
    return bounds["x"] + x * bounds["width"] / width, bounds["y"] + y * bounds["height"] / height


def drag(page: Page, start: tuple[float, float], end: tuple[float, float]) -> None:
    page.mouse.move(*video_to_client(page, *start))
    page.mouse.down()
    page.mouse.move(*video_to_client(page, *end), steps=8)
    page.mouse.up()


def box_of(box: Locator) -> dict[str, float]:
    # The SVG rect's own attributes: the overlay's viewBox is the video's size, so these are video pixels.
    return {k: float(box.get_attribute(k) or "nan") for k in ("x", "y", "width", "height")}


def the_box(page: Page) -> dict[str, Any]:
    boxes = page.get_by_test_id("box")
    assert boxes.count() == 1, f"expected one box on frame {page.get_by_test_id('overlay').get_attribute('data-frame')}"
    box = boxes.first
    return {**box_of(box), "keyframe": box.get_attribute("data-keyframe") == "true", "id": box.get_attribute("data-track-id")}


def assert_box(actual: dict[str, Any], expected: dict[str, float], tolerance: float = 2.0) -> None:
    # The drag's mouse positions are whole client pixels, about 1.3 video pixels apart at this display size.
    for key, value in expected.items():
        assert abs(actual[key] - value) <= tolerance, f"{key}: {actual[key]} != {value} (±{tolerance}) in {actual}"


def wait_saved(page: Page) -> None:
    page.wait_for_selector("[data-testid=save-status][data-state=saved]", timeout=SLOW)


def open_workspace(page: Page, video: dict[str, Any]) -> None:
    page.goto(f"/videos/{video['id']}")
    page.wait_for_selector("[data-testid=overlay]", timeout=SLOW)
    # Selectors, not wait_for_function: the app's CSP (script-src 'self') forbids the eval it needs.
    page.wait_for_selector("[data-testid=video][data-ready=true]", timeout=SLOW)


def test_login_form_and_the_video_list_with_the_clips_real_frame_rate(page: Page, full_stack: FrontendStack,
                                                                       clip_video: dict[str, Any]) -> None:
    page.goto("/")
    page.wait_for_url("**/login?next=%2F", timeout=SLOW)
    page.get_by_test_id("login-password").fill("wrong password")
    page.get_by_test_id("login-submit").click()
    assert "Wrong username or password" in page.get_by_test_id("login-error").inner_text(timeout=SLOW)
    page.get_by_test_id("login-password").fill(full_stack.password)
    page.get_by_test_id("login-submit").click()
    card = page.locator(f"[data-testid=video-card][data-video-id='{clip_video['id']}']")
    card.wait_for(timeout=SLOW)
    assert page.get_by_test_id("whoami").inner_text().startswith("admin")
    assert card.get_by_test_id("video-fps").inner_text() == "29.97 fps"
    assert card.get_by_test_id("video-resolution").inner_text() == "480×640"
    page.get_by_test_id("video-filter").fill("no such video")
    assert card.count() == 0
    page.get_by_test_id("video-filter").fill("ntsc")
    card.click()
    page.wait_for_url(f"**/videos/{clip_video['id']}", timeout=SLOW)
    page.wait_for_selector("[data-testid=frame-counter]", timeout=SLOW)
    assert "/ 89" in page.get_by_test_id("frame-counter").inner_text()


def test_draw_move_interpolate_outside_undo_redo_and_reload(full_app: BrowserSession, clip_video: dict[str, Any],
                                                             output_dir: Path) -> None:
    page = full_app.page
    open_workspace(page, clip_video)
    assert page.get_by_test_id("box").count() == 0

    # Frame 10: a new box, dragged on the video.
    go_to_frame(page, 10)
    page.get_by_test_id("btn-draw").click()
    drag(page, (100, 150), (200, 300))
    drawn = the_box(page)
    assert_box(drawn, {"x": 100, "y": 150, "width": 100, "height": 150})
    assert drawn["keyframe"]

    # Frame 40: the box is held there; moving it makes a keyframe.
    go_to_frame(page, 40)
    assert not the_box(page)["keyframe"]
    drag(page, (150, 225), (210, 315))
    moved = the_box(page)
    assert_box(moved, {"x": drawn["x"] + 60, "y": drawn["y"] + 90, "width": drawn["width"], "height": drawn["height"]})
    assert moved["keyframe"]

    # Frame 25, halfway: the interpolated box.
    go_to_frame(page, 25)
    halfway = the_box(page)
    assert not halfway["keyframe"]
    assert_box(halfway, {k: (drawn[k] + moved[k]) / 2 for k in ("x", "y", "width", "height")}, tolerance=0.01)

    # Frame 60: outside (O on the selected track) hides the box from here on.
    go_to_frame(page, 60)
    page.get_by_test_id("box").first.click()
    page.keyboard.press("o")
    page.wait_for_selector("[data-testid=overlay][data-box-count='0']", timeout=SLOW)
    row = page.locator(f"[data-testid=track-row][data-track-id='{drawn['id']}']")
    assert row.get_attribute("data-keyframes") == "10,40,60"

    # Undo brings it back inside, redo hides it again.
    page.keyboard.press("Control+z")
    page.wait_for_selector("[data-testid=overlay][data-box-count='1']", timeout=SLOW)
    page.keyboard.press("Control+Shift+z")
    page.wait_for_selector("[data-testid=overlay][data-box-count='0']", timeout=SLOW)
    go_to_frame(page, 59)
    assert the_box(page)["id"] == drawn["id"]
    go_to_frame(page, 25)
    wait_saved(page)
    page.screenshot(path=str(output_dir / "workspace.png"))

    # A reload shows what the server stored: both keyframes, the interpolation, the outside span.
    page.reload()
    open_workspace(page, clip_video)
    go_to_frame(page, 25)
    assert_box(the_box(page), {k: halfway[k] for k in ("x", "y", "width", "height")}, tolerance=0.01)
    go_to_frame(page, 40)
    assert the_box(page)["keyframe"]
    go_to_frame(page, 60)
    assert page.get_by_test_id("box").count() == 0
    assert row.get_attribute("data-keyframes") == "10,40,60"

    # Delete the track (Del on the selection); a reload keeps it deleted.
    go_to_frame(page, 30)
    page.get_by_test_id("box").first.click()
    page.keyboard.press("Delete")
    assert page.get_by_test_id("track-row").count() == 0
    wait_saved(page)
    page.reload()
    open_workspace(page, clip_video)
    go_to_frame(page, 30)
    assert page.get_by_test_id("box").count() == 0
    assert page.locator(f"[data-testid=track-row][data-track-id='{drawn['id']}']").count() == 0
    with full_app.stack.api() as client:
        ids = [a["id"] for a in client.get(f"/api/annotations/{clip_video['id']}").json()]
    assert drawn["id"] not in ids


def test_detection_candidate_accepted_and_found_in_the_export(full_app: BrowserSession, clip_video: dict[str, Any]) -> None:
    page = full_app.page
    open_workspace(page, clip_video)
    page.get_by_test_id("tab-detect").click()
    page.get_by_test_id("detect-kind").select_option("detect")  # per-frame boxes (the panel opens on typed detection)
    page.get_by_test_id("detect-range").select_option("range")
    page.get_by_test_id("detect-from").fill("0")
    page.get_by_test_id("detect-to").fill("20")
    page.get_by_test_id("detect-every").fill("10")
    page.get_by_test_id("detect-run").click()
    page.wait_for_selector("[data-testid=job-progress][data-status=completed]", timeout=600_000)
    page.wait_for_selector("[data-testid=candidate-count]:not([data-count='0'])", timeout=SLOW)
    go_to_frame(page, 10)
    candidates = page.locator("[data-testid=box][data-candidate=true]")
    assert candidates.count() > 0, "no dashed candidate boxes on a detected frame"

    row = page.locator("[data-testid=track-row][data-source=automatic]").first
    accepted_id = row.get_attribute("data-track-id")
    row.get_by_test_id("candidate-accept").click()
    page.wait_for_selector(f"[data-testid=track-row][data-track-id='{accepted_id}'][data-source=ai-assisted]", timeout=SLOW)
    wait_saved(page)
    with full_app.stack.api() as client:
        stored = {a["id"]: a for a in client.get(f"/api/annotations/{clip_video['id']}").json()}
    assert stored[accepted_id]["source"] == "ai-assisted"

    # The export page's download, keyframes only and interpolated, both carry the accepted track.
    page.get_by_test_id("nav-transfer").click()
    page.get_by_test_id("export-video").select_option(clip_video["id"])
    for choice, interpolated in (("export-keyframes", False), ("export-interpolated", True)):
        page.get_by_test_id(choice).check()
        with page.expect_download(timeout=SLOW) as download:
            page.get_by_test_id("export-download").click()
        lines = [json.loads(line) for line in Path(download.value.path()).read_text().splitlines() if line.strip()]
        tracks = {r["data"]["id"]: r["data"] for r in lines if r["type"] == "annotation"}
        assert accepted_id in tracks, f"accepted track missing from the {'interpolated ' if interpolated else ''}export"
        assert tracks[accepted_id]["source"] == "ai-assisted"
        frames = tracks[accepted_id]["frames"]
        if interpolated:  # every frame from the first keyframe to the last, each flagged
            assert [f["frame"] for f in frames] == list(range(frames[0]["frame"], frames[-1]["frame"] + 1))
            assert frames[0]["keyframe"] is True


def test_typed_detection_chooses_types_shows_what_it_searched_and_files_typed_tracks(
        full_app: BrowserSession, clip_video: dict[str, Any]) -> None:
    """Choose the persona's types in the Detect panel, run, watch the job to its end: the bus becomes a track of the
    persona's Vehicle type, the class of the type left unticked is reported unmapped, and "add as type" makes it one."""
    page = full_app.page
    with full_app.stack.api() as client:
        persona = client.post("/api/personas", json={"name": f"Transit {uuid.uuid4().hex[:6]}",
                                                     "informationNeed": "vehicles on the road"}).json()
        saved = client.put(f"/api/personas/{persona['id']}/ontology", json={"entityTypes": [
            {"id": "vehicle", "name": "Vehicle", "detectorClasses": ["bus"]},
            {"id": "walker", "name": "Walker", "detectorClasses": ["person"]}]})
        assert saved.status_code == 200, saved.text
    open_workspace(page, clip_video)
    page.get_by_test_id("persona-select").select_option(persona["id"])
    page.get_by_test_id("tab-detect").click()
    page.get_by_test_id("detect-kind").select_option("types")
    page.locator("[data-testid=detect-type][data-type=walker]").uncheck()
    page.get_by_test_id("detect-every").fill("10")
    page.get_by_test_id("detect-run").click()
    page.wait_for_selector("[data-testid=job-progress][data-status=completed]", timeout=600_000)
    assert page.locator("[data-testid=typed-searched][data-type=vehicle]").inner_text() == "vehicle ← bus"
    assert "person ×" in page.get_by_test_id("typed-unmapped").inner_text()
    with full_app.stack.api() as client:
        mine = [a for a in client.get(f"/api/annotations/{clip_video['id']}").json() if a["personaId"] == persona["id"]]
    assert [(a["type"], a["label"]) for a in mine] == [("vehicle", "bus")], mine
    page.wait_for_selector(f"[data-testid=track-row][data-track-id='{mine[0]['id']}']", timeout=SLOW)
    # "add as type": the unmapped class becomes an entity type of the persona that stands for it.
    page.locator("[data-testid=typed-add-type][data-class=person]").click()
    page.wait_for_selector("[data-testid=typed-add-type][data-class=person]:disabled", timeout=SLOW)
    with full_app.stack.api() as client:
        ontology = client.get(f"/api/personas/{persona['id']}/ontology").json()
    assert [(t["name"], t["detectorClasses"]) for t in ontology["entityTypes"] if t["name"] == "Person"] == [("Person", ["person"])]


def test_a_removed_session_lands_on_login_keeping_the_place(full_app: BrowserSession, clip_video: dict[str, Any]) -> None:
    page = full_app.page
    open_workspace(page, clip_video)
    # The session ends on the server (as when it expires); the next call the app makes gets a 401.
    assert page.request.post("/api/auth/logout").ok
    page.get_by_test_id("nav-jobs").click()
    page.wait_for_url("**/login?next=*", timeout=SLOW)
    assert "next=%2Fjobs" in page.url or f"next=%2Fvideos%2F{clip_video['id']}" in page.url
    page.get_by_test_id("login-password").fill(full_app.password)
    page.get_by_test_id("login-submit").click()
    page.wait_for_url("**/jobs", timeout=SLOW)
