"""The annotation model end to end (issue 22) in Debian's Chromium at 1366×768, against the stack
tests/frontend/conftest.py starts: a track linked to a world entity in two videos (its other appearance shown, a
jump there), an event with two participants in role slots (a wrong-type filler refused at its place, nothing
changed), an attribute that changes mid-track (held between keyframes, exported), split and merge, each standard
format downloaded from the Transfer page and read back by its ecosystem's reader (pycocotools, motmetrics,
Datumaro), the World page (per-persona types, appearances, times, places, collections, relations) and the
Ontology page's editors (attributes, role slots, constraints, a malformed one refused at its place).

The persona and its ontology are made through the API (the Ontology page has its own test); every scenario works
on two copies of the shared clip (480x640, 10 fps, 30 frames), emptied first. What the server stored is checked
through the API after each step; screenshots go to test-output/frontend/model-*.png.
"""

from __future__ import annotations

import json
import shutil
import uuid
import zipfile
from xml.etree import ElementTree
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from fovea_ctl.ops.videos import add_videos
from tests.formats_check import iou_distance
from tests.frontend.conftest import BrowserSession, FrontendStack
from tests.frontend.test_workspace_e2e import SLOW, drag, go_to_frame, open_workspace, wait_saved

if TYPE_CHECKING:
    import httpx
    from playwright.sync_api import Page

VIEWPORT = {"width": 1366, "height": 768}
CLIPS = ("model_a.mp4", "model_b.mp4")
ONTOLOGY = {
    "entityTypes": [
        {"id": "person", "name": "Person", "color": "#3ecf8e", "attributes": [
            {"id": "posture", "name": "posture", "type": "choice", "options": ["standing", "sitting"], "mutable": True},
            {"id": "badge", "name": "badge", "type": "text"}]},
        {"id": "vehicle", "name": "Vehicle", "color": "#4aa3ff"},
    ],
    "eventTypes": [{"id": "handover", "name": "Handover", "roles": [{"roleTypeId": "giver"}, {"roleTypeId": "taker"}],
                    "attributes": [{"id": "what", "name": "object", "type": "choice", "options": ["keys", "bag"]}]},
                   {"id": "rain", "name": "Rain"}],
    "roleTypes": [{"id": "giver", "name": "Giver", "allowedFillerTypes": ["person"]},
                  {"id": "taker", "name": "Taker", "allowedFillerTypes": ["entity"]}],
    "relationTypes": [{"id": "drives", "name": "drives", "sourceTypes": ["person"], "targetTypes": ["vehicle"]}],
}


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def model(frontend_stack: FrontendStack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A persona with the ontology above, and two videos (copies of the shared clip)."""
    folder = tmp_path_factory.mktemp("model")
    copies = [folder / name for name in CLIPS]
    for copy in copies:
        shutil.copyfile(frontend_stack.clip, copy)
    add_videos(frontend_stack.project, copies, replace=True)
    with frontend_stack.api() as client:
        persona = client.post("/api/personas", json={"name": unique("Field analyst")}).json()
        saved = client.put(f"/api/personas/{persona['id']}/ontology", json=ONTOLOGY)
        assert saved.status_code == 200, saved.text
        listed = {v["filename"]: v for v in client.get("/api/videos").json()}
    return {"persona": persona, "videos": [listed[name] for name in CLIPS]}


def document(client: httpx.Client, video_id: str) -> dict[str, Any]:
    response = client.get(f"/api/videos/{video_id}/annotations")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def save(client: httpx.Client, video_id: str, changes: list[dict[str, Any]]) -> dict[str, Any]:
    revision = document(client, video_id)["revision"]
    response = client.put(f"/api/videos/{video_id}/annotations", json={"changes": changes}, headers={"If-Match": f'"{revision}"'})
    assert response.status_code == 200 and response.json()["rejected"] == [], response.text
    return response.json()  # type: ignore[no-any-return]


def empty(stack: FrontendStack, *videos: dict[str, Any]) -> None:
    """No tracks, events or relations left in these videos (unlocked first: a locked track refuses a delete)."""
    with stack.api() as client:
        for video in videos:
            doc = document(client, video["id"])
            unlock = [{"op": "update", "id": t["id"], "fields": {"locked": {"from": True, "to": False}}}
                      for t in doc["tracks"] if t["locked"]]
            if unlock:
                save(client, video["id"], unlock)
                doc = document(client, video["id"])
            gone = [{"op": "delete", "kind": kind, "id": o["id"], "version": o["version"]}
                    for kind, key in (("relation", "relations"), ("event", "events"), ("track", "tracks")) for o in doc[key]]
            if gone:
                save(client, video["id"], gone)


def track(persona: str, type_: str, label: str, frames: list[tuple[int, float, float]], **fields: Any) -> dict[str, Any]:
    """A create change: a track with 80x160 boxes at (frame, x, y)."""
    return {"op": "create", "id": str(uuid.uuid4()), "track": {
        "personaId": persona, "type": type_, "label": label, "source": "manual",
        "frames": [{"frame": f, "x": x, "y": y, "width": 80, "height": 160} for f, x, y in frames], **fields}}


def start(app: BrowserSession, video: dict[str, Any], persona: dict[str, Any]) -> Page:
    """The workspace of `video` at 1366×768 with `persona` chosen."""
    page = app.page
    page.set_viewport_size(VIEWPORT)
    open_workspace(page, video)
    page.get_by_test_id("persona-select").select_option(persona["id"])
    return page


def select_track(page: Page, track_id: str) -> None:
    page.locator(f"[data-testid=track-row][data-track-id='{track_id}'] [data-testid=track-label]").click()
    page.wait_for_selector(f"[data-testid=selected-track][data-track-id='{track_id}']", timeout=SLOW)


def test_a_track_linked_to_an_entity_in_two_videos_shows_its_other_appearance_and_jumps_there(
        app: BrowserSession, model: dict[str, Any], output_dir: Path) -> None:
    stack, persona = app.stack, model["persona"]
    first, second = model["videos"]
    empty(stack, first, second)
    name = unique("Ann")
    with stack.api() as client:
        in_first = save(client, first["id"], [track(persona["id"], "person", name, [(4, 100, 200), (20, 180, 220)])])["annotations"][0]
        in_second = save(client, second["id"], [track(persona["id"], "person", "walker", [(10, 200, 300)])])["annotations"][0]

    # In the first video: a world entity made from the track, typed by this persona as the track is.
    page = start(app, first, persona)
    select_track(page, in_first["id"])
    page.get_by_test_id("entity-new").click()
    page.wait_for_selector("[data-testid=entity-appearances]", timeout=SLOW)
    wait_saved(page)
    with stack.api() as client:
        entity_id = document(client, first["id"])["tracks"][0]["entityId"]
        entity = next(e for e in client.get("/api/world").json()["entities"] if e["id"] == entity_id)
    assert entity["name"] == name
    assert entity["typeAssignments"] == [{"personaId": persona["id"], "entityTypeId": "person"}]

    # In the second video: the same entity picked for another track; the panel shows where else it is seen.
    page = start(app, second, persona)
    select_track(page, in_second["id"])
    page.get_by_test_id("entity-select").select_option(entity_id)
    wait_saved(page)
    other = page.locator(f"[data-testid=entity-appearance][data-video-id='{first['id']}']")
    other.wait_for(timeout=SLOW)
    assert first["filename"] in other.inner_text() and "frames 4–" in other.inner_text()
    page.screenshot(path=str(output_dir / "model-entity-appearances.png"))
    with stack.api() as client:
        assert document(client, second["id"])["tracks"][0]["entityId"] == entity_id
        seen = client.get("/api/world/appearances", params={"entityId": entity_id}).json()
    assert sorted(a["videoId"] for a in seen) == sorted([first["id"], second["id"]])

    # The link opens the first video at the frame the entity first appears.
    other.get_by_role("link").click()
    page.wait_for_url(f"**/videos/{first['id']}?frame=4", timeout=SLOW)
    page.wait_for_selector("[data-testid=frame-counter][data-frame='4']", timeout=SLOW)

    # The World page lists both appearances; each jumps to its video at its first frame.
    page.get_by_test_id("nav-world").click()
    row = page.locator(f"[data-testid=world-item][data-id='{entity_id}']")
    row.wait_for(timeout=SLOW)
    row.locator("[data-testid=world-appearance] >> nth=1").wait_for(timeout=SLOW)
    assert row.get_by_test_id("world-appearance").count() == 2
    page.screenshot(path=str(output_dir / "model-world-entities.png"))
    row.locator(f"[data-testid=world-appearance][data-video-id='{second['id']}'] a").click()
    page.wait_for_url(f"**/videos/{second['id']}?frame=10", timeout=SLOW)
    page.wait_for_selector("[data-testid=frame-counter][data-frame='10']", timeout=SLOW)
    assert not app.console_errors, app.console_errors


def role(page: Page, role_id: str):  # type: ignore[no-untyped-def]
    return page.locator(f"[data-testid=event-details] [data-testid=role][data-role='{role_id}']")


def test_an_event_with_two_participants_and_a_wrong_filler_refused_where_it_is(
        app: BrowserSession, model: dict[str, Any], output_dir: Path) -> None:
    stack, persona = app.stack, model["persona"]
    video = model["videos"][0]
    empty(stack, video)
    with stack.api() as client:
        tracks = save(client, video["id"], [track(persona["id"], "person", "courier", [(0, 60, 200), (29, 200, 220)]),
                                            track(persona["id"], "vehicle", "bus 7", [(0, 250, 150)])])["annotations"]
        courier, bus = tracks
        bob = {"id": f"entity-{uuid.uuid4().hex[:8]}", "name": unique("Bob"),
               "typeAssignments": [{"personaId": persona["id"], "entityTypeId": "person"}]}
        assert client.post("/api/world/entities", json=bob).status_code == 201

    page = start(app, video, persona)
    page.get_by_test_id("tab-events").click()
    page.get_by_test_id("event-type").select_option("handover")
    go_to_frame(page, 5)
    page.get_by_test_id("event-mark").click()
    details = page.get_by_test_id("event-details")
    details.wait_for(timeout=SLOW)
    event_id = details.get_attribute("data-event-id")

    # The giver: the courier's track, picked on the timeline; the taker: a world entity.
    select_row(page, courier["id"])
    role(page, "giver").get_by_test_id("role-fill-track").click()
    role(page, "giver").locator(f"[data-testid=role-filler][data-id='{courier['id']}']").wait_for(timeout=SLOW)
    role(page, "taker").get_by_test_id("role-entity").select_option(bob["id"])
    role(page, "taker").locator(f"[data-testid=role-filler][data-id='{bob['id']}']").wait_for(timeout=SLOW)

    details.get_by_test_id("event-attribute-object").select_option("keys")  # the event type's own attribute

    # A vehicle cannot be the giver: refused with the role named, the event unchanged.
    select_row(page, bus["id"])
    role(page, "giver").get_by_test_id("role-fill-track").click()
    refusal = page.get_by_test_id("event-error")
    refusal.wait_for(timeout=SLOW)
    assert "Giver" in refusal.inner_text() and "Vehicle" in refusal.inner_text() and "bus 7" in refusal.inner_text()
    assert role(page, "giver").get_by_test_id("role-filler").count() == 1
    page.screenshot(path=str(output_dir / "model-event-roles.png"))
    wait_saved(page)
    with stack.api() as client:
        stored = document(client, video["id"])["events"]
    assert [(e["id"], e["type"], e["startFrame"], e["roles"], e["attributes"]) for e in stored] == [(event_id, "handover", 5, {
        "giver": [{"kind": "track", "id": courier["id"]}], "taker": [{"kind": "entity", "id": bob["id"]}]}, {"object": "keys"})]

    # The bar on the events lane: its end dragged later (one undo step), then split at the playhead with X.
    bar = page.locator(f"[data-testid=event-bar][data-event-id='{event_id}']")
    end = int(bar.get_attribute("data-end") or -1)
    handle = bar.get_by_test_id("event-handle-end").bounding_box()
    ruler = page.get_by_test_id("timeline-ruler").bounding_box()
    assert handle and ruler
    per_frame = ruler["width"] / 30
    page.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
    page.mouse.down()
    page.mouse.move(handle["x"] + 5 * per_frame, handle["y"] + handle["height"] / 2, steps=6)
    page.mouse.up()
    page.wait_for_selector(f"[data-testid=event-bar][data-event-id='{event_id}']:not([data-end='{end}'])", timeout=SLOW)
    longer = int(bar.get_attribute("data-end") or -1)
    assert longer > end
    page.keyboard.press("Escape")  # nothing selected: X splits the event, not a track
    bar.click()
    go_to_frame(page, 10)
    page.keyboard.press("x")
    page.wait_for_selector("[data-testid=event-bar] >> nth=1", timeout=SLOW)
    wait_saved(page)
    with stack.api() as client:
        spans = sorted((e["startFrame"], e["endFrame"], len(e["roles"])) for e in document(client, video["id"])["events"])
    assert spans == [(5, 9, 2), (10, longer, 2)]
    assert not app.console_errors, app.console_errors


def test_a_relation_drawn_in_the_side_panel_and_one_breaking_its_constraint_refused(
        app: BrowserSession, model: dict[str, Any]) -> None:
    stack, persona = app.stack, model["persona"]
    video = model["videos"][1]
    empty(stack, video)
    with stack.api() as client:
        driver, bus = save(client, video["id"], [track(persona["id"], "person", "driver", [(0, 60, 200)]),
                                                 track(persona["id"], "vehicle", "bus 7", [(0, 250, 150)])])["annotations"]
    page = start(app, video, persona)
    select_track(page, driver["id"])
    page.get_by_test_id("relation-type").select_option("drives")
    page.get_by_test_id("relation-target").select_option(f"track:{bus['id']}")
    page.get_by_test_id("relation-add").click()
    page.get_by_test_id("relation").first.wait_for(timeout=SLOW)
    assert page.get_by_test_id("relation").inner_text().startswith("track driver drives track bus 7")
    # From the bus to the driver: a bus is no person, a person no vehicle; refused, nothing added.
    select_track(page, bus["id"])
    page.get_by_test_id("relation-type").select_option("drives")
    page.get_by_test_id("relation-target").select_option(f"track:{driver['id']}")
    page.get_by_test_id("relation-add").click()
    refusal = page.get_by_test_id("relation-error").inner_text(timeout=SLOW)
    assert refusal == "track «bus 7» is a Vehicle; a drives relation's source must be Person"
    wait_saved(page)
    with stack.api() as client:
        stored = document(client, video["id"])["relations"]
    assert [(r["source"]["id"], r["type"], r["target"]["id"]) for r in stored] == [(driver["id"], "drives", bus["id"])]
    assert not app.console_errors, app.console_errors


def select_row(page: Page, track_id: str) -> None:
    """Pick a track on the timeline (any tab)."""
    page.locator(f"[data-testid=track-row][data-track-id='{track_id}'] [data-testid=track-label]").click()
    page.wait_for_selector(f"[data-testid=track-row][data-track-id='{track_id}'].selected", timeout=SLOW)


def a_walker_selected(app: BrowserSession, model: dict[str, Any], video: dict[str, Any],
                      frames: list[tuple[int, float, float]]) -> tuple[Page, dict[str, Any]]:
    """The video emptied but for one person track with these keyframes, open in the workspace, the track selected."""
    empty(app.stack, video)
    with app.stack.api() as client:
        walker = save(client, video["id"], [track(model["persona"]["id"], "person", "walker", frames)])["annotations"][0]
    page = start(app, video, model["persona"])
    select_track(page, walker["id"])
    return page, walker


def test_an_attribute_that_changes_mid_track_is_held_between_keyframes_and_exported(
        app: BrowserSession, model: dict[str, Any], output_dir: Path) -> None:
    stack, video = app.stack, model["videos"][0]
    page, walker = a_walker_selected(app, model, video, [(0, 60, 200), (24, 200, 220)])
    go_to_frame(page, 0)
    page.get_by_test_id("attribute-posture").select_option("standing")
    badge = page.get_by_test_id("attribute-badge")
    badge.fill("B-12")
    badge.press("Tab")  # fixed for the whole track: kept when the field is left
    go_to_frame(page, 12)
    assert page.get_by_test_id("attribute-posture").input_value() == "standing"
    assert page.get_by_test_id("attribute-held").inner_text() == "held from frame 0"
    page.get_by_test_id("attribute-posture").select_option("sitting")  # a keyframe here, with the new value
    for frame, posture, note in ((6, "standing", "held from frame 0"), (12, "sitting", "set at frame 12"),
                                 (27, "sitting", "held from frame 12")):
        go_to_frame(page, frame)
        assert page.get_by_test_id("attribute-posture").input_value() == posture, frame
        assert page.get_by_test_id("attribute-held").inner_text() == note, frame
    assert page.get_by_test_id("attribute-badge").input_value() == "B-12"
    page.screenshot(path=str(output_dir / "model-attributes.png"))
    wait_saved(page)

    with stack.api() as client:
        stored = document(client, video["id"])["tracks"][0]
        assert stored["attributes"] == {"badge": "B-12"}
        assert {k["frame"]: k.get("attributes") for k in stored["frames"]} == {
            0: {"posture": "standing"}, 12: {"posture": "sitting"}, 24: None}
        xml = client.get(f"/api/videos/{video['id']}/export", params={"format": "cvat"}).text
    boxes = {int(b.get("frame")): {a.get("name"): a.text for a in b.findall("attribute")}
             for b in ElementTree.fromstring(xml).iter("box")}
    assert all(boxes[f]["posture"] == ("standing" if f < 12 else "sitting") and boxes[f]["badge"] == "B-12"
               for f in range(0, 30)), boxes
    assert not app.console_errors, app.console_errors


def test_split_then_merge_a_track(app: BrowserSession, model: dict[str, Any], output_dir: Path) -> None:
    stack, video = app.stack, model["videos"][1]
    page, walker = a_walker_selected(app, model, video, [(0, 60, 200), (20, 200, 220)])
    go_to_frame(page, 10)
    page.keyboard.press("x")
    page.wait_for_selector("[data-testid=track-row] >> nth=1", timeout=SLOW)
    rows = {r.get_attribute("data-track-id"): r.get_attribute("data-keyframes") for r in page.get_by_test_id("track-row").all()}
    second = next(i for i in rows if i != walker["id"])
    assert rows == {walker["id"]: "0,10", second: "10,20"}
    wait_saved(page)
    with stack.api() as client:
        split = {t["id"]: t for t in document(client, video["id"])["tracks"]}
    assert split[walker["id"]]["frames"][-1] == {"frame": 10, "x": 130, "y": 210, "width": 80, "height": 160, "outside": True}
    assert split[second]["frames"][0]["frame"] == 10 and not split[second]["frames"][0]["outside"]
    page.screenshot(path=str(output_dir / "model-split.png"))

    # M on the first, then a pick of the second: one track again, the same boxes.
    select_row(page, walker["id"])
    page.keyboard.press("m")
    page.get_by_test_id("workspace-message").wait_for(timeout=SLOW)
    select_row_no_wait(page, second)
    page.wait_for_selector(f"[data-testid=track-row][data-track-id='{second}']", state="detached", timeout=SLOW)
    assert page.get_by_test_id("track-row").count() == 1
    wait_saved(page)
    with stack.api() as client:
        merged = document(client, video["id"])["tracks"]
    assert [t["id"] for t in merged] == [walker["id"]]
    assert [(k["frame"], k["x"], k["outside"]) for k in merged[0]["frames"]] == [(0, 60, False), (10, 130, False), (20, 200, False)]
    assert not app.console_errors, app.console_errors


def select_row_no_wait(page: Page, track_id: str) -> None:
    page.locator(f"[data-testid=track-row][data-track-id='{track_id}'] [data-testid=track-label]").click()


def test_copy_lock_and_hide_from_the_keyboard_all_listed_in_the_help(app: BrowserSession, model: dict[str, Any]) -> None:
    stack, video = app.stack, model["videos"][1]
    page, walker = a_walker_selected(app, model, video, [(0, 60, 200), (20, 200, 220)])
    page.keyboard.press("?")
    help_text = page.get_by_test_id("help-overlay").inner_text()
    for key in ("X", "M", "C", "L", "H", "E"):
        assert f"\n{key}\t" in help_text or f"\n{key}\n" in help_text, (key, help_text)
    page.keyboard.press("Escape")

    # C at frame 12: frame 0's box copied there as a keyframe.
    go_to_frame(page, 12)
    page.keyboard.press("c")
    row = page.locator(f"[data-testid=track-row][data-track-id='{walker['id']}']")
    expect_keyframes(page, walker["id"], "0,12,20")
    # L locks: a drag on the box moves nothing and says why; L again unlocks.
    page.keyboard.press("l")
    page.wait_for_selector("[data-testid=track-lock]:checked", timeout=SLOW)
    drag(page, (100, 280), (160, 300))
    assert "is locked" in page.get_by_test_id("workspace-message").inner_text(timeout=SLOW)
    expect_keyframes(page, walker["id"], "0,12,20")
    page.keyboard.press("l")
    page.wait_for_selector("[data-testid=track-lock]:not(:checked)", timeout=SLOW)
    # H hides the track for this user, kept after a reload.
    page.keyboard.press("h")
    page.wait_for_selector("[data-testid=overlay][data-box-count='0']", timeout=SLOW)
    wait_saved(page)
    with stack.api() as client:
        stored = document(client, video["id"])["tracks"][0]
        assert [k["frame"] for k in stored["frames"]] == [0, 12, 20] and stored["locked"] is False
        assert stored["frames"][1] | {"frame": 0} == stored["frames"][0] | {"frame": 0}
        assert client.get(f"/api/videos/{video['id']}/view").json()["hidden"] == [walker["id"]]
    page.reload()
    open_workspace(page, video)
    go_to_frame(page, 12)
    assert page.get_by_test_id("box").count() == 0 and row.get_by_test_id("track-hide").inner_text() == "◌"
    row.get_by_test_id("track-hide").click()
    page.wait_for_selector("[data-testid=overlay][data-box-count='1']", timeout=SLOW)
    assert not app.console_errors, app.console_errors


def expect_keyframes(page: Page, track_id: str, frames: str) -> None:
    page.wait_for_selector(f"[data-testid=track-row][data-track-id='{track_id}'][data-keyframes='{frames}']", timeout=SLOW)


def visible_boxes(client: httpx.Client, video_id: str, ids: list[str]) -> dict[tuple[int, int], tuple[float, ...]]:
    """(track number 1.., frame) → box, of every frame a track is shown at, by the workspace's rule (the interpolated
    JSONL export): what every per-frame format must hold."""
    lines = [json.loads(line) for line in client.get("/api/export", params={
        "format": "jsonl", "videoId": video_id, "interpolate": "true"}).text.splitlines()]
    expanded = {r["data"]["id"]: r["data"] for r in lines if r["type"] == "annotation"}
    return {(n, f["frame"]): (f["x"], f["y"], f["width"], f["height"])
            for n, ident in enumerate(ids, start=1) for f in expanded[ident]["frames"] if not f["outside"]}


def download(page: Page, test_id: str, folder: Path) -> Path:
    with page.expect_download(timeout=SLOW) as started:
        page.get_by_test_id(test_id).click()
    path = folder / started.value.suggested_filename
    started.value.save_as(path)
    return path


def test_each_format_exported_from_the_transfer_page_reads_back_in_its_ecosystems_reader(
        app: BrowserSession, model: dict[str, Any], output_dir: Path, tmp_path: Path) -> None:
    import datumaro as dm
    import motmetrics as mm
    import numpy as np
    from pycocotools.coco import COCO

    stack, persona = app.stack, model["persona"]
    source, target = model["videos"]
    empty(stack, source, target)
    walker = track(persona["id"], "person", "walker", [(0, 60, 200), (12, 130, 210), (20, 200, 220)], attributes={"badge": "B-12"})
    walker["track"]["frames"][0]["attributes"] = {"posture": "standing"}
    walker["track"]["frames"][1]["attributes"] = {"posture": "sitting"}
    walker["track"]["frames"][2]["outside"] = True  # gone from frame 20 on
    bus = track(persona["id"], "vehicle", "bus 7", [(5, 250, 150), (25, 300, 160)])
    with stack.api() as client:
        save(client, source["id"], [walker, bus])
        ids = [t["id"] for t in document(client, source["id"])["tracks"]]
        truth = visible_boxes(client, source["id"], ids)
    assert len(truth) == 20 + 25
    number = ids.index(walker["id"]) + 1  # the walker's track number in every file (the API's order)

    page = app.page
    page.set_viewport_size(VIEWPORT)
    page.goto("/transfer")
    page.get_by_test_id("formats-video").select_option(source["id"])
    page.get_by_test_id("formats-persona").select_option(persona["id"])
    page.screenshot(path=str(output_dir / "model-transfer.png"))
    files = {fmt: download(page, f"formats-export-{fmt}", tmp_path) for fmt in ("mot", "coco", "yolo", "cvat")}

    # motmetrics: the MOT gt.txt, scored against the boxes the workspace shows, is perfect.
    gt = mm.io.loadtxt(str(files["mot"]), fmt="mot16")
    assert len(gt) == len(truth)
    accumulator = mm.MOTAccumulator(auto_id=True)
    for frame in range(30):
        mine = gt.loc[frame + 1] if frame + 1 in gt.index.get_level_values(0) else None
        expected = sorted((n, box) for (n, f), box in truth.items() if f == frame)
        boxes = np.empty((0, 4)) if mine is None else mine[["X", "Y", "Width", "Height"]].to_numpy(float)
        accumulator.update([] if mine is None else list(mine.index), [n for n, _ in expected],
                           iou_distance(boxes, np.array([b for _, b in expected], dtype=float).reshape(-1, 4)))
    summary = mm.metrics.create().compute(accumulator, metrics=["mota", "idf1"], name="fovea")
    assert summary["mota"].iloc[0] == 1.0 and summary["idf1"].iloc[0] == 1.0

    # pycocotools: every frame an image, every shown box an annotation, the held attribute on each.
    coco = COCO(str(files["coco"]))
    assert len(coco.getImgIds()) == 30 and len(coco.getAnnIds()) == len(truth)
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == ["Person", "Vehicle"]
    frame_of = {img["id"]: img["frame_index"] for img in coco.loadImgs(coco.getImgIds())}
    postures = {frame_of[a["image_id"]]: a["attributes"]["posture"] for a in coco.loadAnns(coco.getAnnIds())
                if a["attributes"]["track_id"] == number}
    assert postures == {f: "standing" if f < 12 else "sitting" for f in range(20)}

    # YOLO: a label file per frame, classes in the persona's order, each shown box normalised.
    with zipfile.ZipFile(files["yolo"]) as archive:
        assert archive.read("classes.txt").decode().splitlines() == ["Person", "Vehicle"]
        rows = [line.split() for name in archive.namelist() if name.startswith("labels/")
                for line in archive.read(name).decode().splitlines()]
    assert len(rows) == len(truth) and {r[0] for r in rows} == {"0", "1"}

    # Datumaro reads the CVAT for video XML: the boxes, the outside span, the held and fixed attributes.
    cvat_dir = tmp_path / "cvat"
    cvat_dir.mkdir()
    shutil.copyfile(files["cvat"], cvat_dir / "annotations.xml")
    dataset = dm.Dataset.import_from(str(cvat_dir), "cvat")
    shapes = {(a.attributes["track_id"], int(item.attributes["frame"])): a for item in dataset for a in item.annotations}
    for (n, frame), box in truth.items():
        shape = shapes[(n - 1, frame)]
        assert [shape.x, shape.y, shape.w, shape.h] == pytest.approx(list(box), abs=0.006)
    w = number - 1  # CVAT numbers tracks from 0
    assert shapes[(w, 20)].attributes["outside"] is True and (w, 21) not in shapes
    assert shapes[(w, 11)].attributes["posture"] == "standing" and shapes[(w, 15)].attributes["posture"] == "sitting"
    assert shapes[(w, 3)].attributes["badge"] == "B-12"

    # The CVAT file imported into the other video from the same page: a dry run first, then the import.
    page.get_by_test_id("formats-video").select_option(target["id"])
    page.get_by_test_id("formats-import-format").select_option("cvat")
    page.get_by_test_id("formats-import-file").set_input_files(str(files["cvat"]))
    summary_text = page.get_by_test_id("formats-summary")
    summary_text.wait_for(timeout=SLOW)
    assert page.get_by_test_id("formats-report").get_attribute("data-dry-run") == "true"
    assert summary_text.inner_text().startswith("Would import 2 track(s)")
    with stack.api() as client:
        assert document(client, target["id"])["tracks"] == []  # the dry run wrote nothing
    page.get_by_test_id("formats-import-confirm").click()
    page.wait_for_selector("[data-testid=formats-report][data-dry-run=false]", timeout=SLOW)
    page.screenshot(path=str(output_dir / "model-transfer-imported.png"))
    with stack.api() as client:
        imported = {t["type"]: t for t in document(client, target["id"])["tracks"]}
        original = {t["type"]: t for t in document(client, source["id"])["tracks"]}
    assert sorted(imported) == ["person", "vehicle"]  # CVAT tracks carry their label (type), not a name
    for type_, stored in original.items():
        assert imported[type_]["frames"] == stored["frames"] and imported[type_]["attributes"] == stored["attributes"]
    assert not app.console_errors, app.console_errors


def unexpected(errors: list[str], provoked: set[int]) -> list[str]:
    """Console errors but the browser's report of a refusal the test provoked on purpose (a 409 or 422 answer)."""
    return [e for e in errors if not any(f"status of {status} " in e for status in provoked)]


def world_row(page: Page, kind: str, item_id: str):  # type: ignore[no-untyped-def]
    return page.locator(f"[data-testid=world-{kind}] [data-testid=world-item][data-id='{item_id}']")


def new_row(page: Page, kind: str):  # type: ignore[no-untyped-def]
    return page.get_by_test_id(f"world-new-{kind}")


def added(page: Page, kind: str, name: str | None) -> str:
    """Press Add on the new row of `kind`; the id of the row that appears (with this name)."""
    before = set(page.locator(f"[data-testid=world-{kind}] [data-testid=world-item]").evaluate_all(
        "rows => rows.map(r => r.dataset.id)"))
    page.get_by_test_id(f"world-add-{kind}").click()
    page.wait_for_selector(f"[data-testid=world-{kind}] [data-testid=world-item] >> nth={len(before)}", timeout=SLOW)
    ids = page.locator(f"[data-testid=world-{kind}] [data-testid=world-item]").evaluate_all("rows => rows.map(r => r.dataset.id)")
    new = [i for i in ids if i not in before]
    assert len(new) == 1
    assert name is None or world_row(page, kind, new[0]).get_by_test_id("world-item-name").input_value() == name
    return str(new[0])


def test_the_world_page_types_entities_per_persona_and_records_times_places_collections_and_relations(
        app: BrowserSession, model: dict[str, Any], output_dir: Path) -> None:
    stack, persona = app.stack, model["persona"]
    video = model["videos"][0]
    with stack.api() as client:
        traffic = client.post("/api/personas", json={"name": unique("Traffic")}).json()
        assert client.put(f"/api/personas/{traffic['id']}/ontology", json={
            "entityTypes": [{"id": "driver", "name": "Driver"}, {"id": "car", "name": "Car"}]}).status_code == 200
        bus = {"id": f"entity-{uuid.uuid4().hex[:8]}", "name": unique("Bus"),
               "typeAssignments": [{"personaId": persona["id"], "entityTypeId": "vehicle"}]}
        assert client.post("/api/world/entities", json=bus).status_code == 201
    page = app.page
    page.set_viewport_size(VIEWPORT)
    page.goto("/world")
    page.get_by_test_id("world-persona").select_option(persona["id"])

    # An entity, typed by this persona on the new row, then by another persona its own way.
    carol = unique("Carol")
    new_row(page, "entities").get_by_test_id("world-item-name").fill(carol)
    new_row(page, "entities").get_by_test_id("world-type").select_option("person")
    carol_id = added(page, "entities", carol)
    page.get_by_test_id("world-persona").select_option(traffic["id"])
    world_row(page, "entities", carol_id).get_by_test_id("world-type").select_option("driver")
    other = world_row(page, "entities", carol_id).get_by_test_id("world-other-types")
    other.wait_for(timeout=SLOW)
    assert other.inner_text() == f"{persona['name']}: Person"
    page.screenshot(path=str(output_dir / "model-world-types.png"))
    with stack.api() as client:
        stored = next(e for e in client.get("/api/world").json()["entities"] if e["id"] == carol_id)
    assert sorted((a["personaId"], a["entityTypeId"]) for a in stored["typeAssignments"]) == sorted(
        [(persona["id"], "person"), (traffic["id"], "driver")])

    # A time with a real value, seen in a video at a frame: the link opens the workspace there.
    page.get_by_test_id("world-tab-times").click()
    new_row(page, "times").get_by_test_id("world-item-name").fill("arrival")
    new_row(page, "times").get_by_test_id("time-at").fill("2024-05-01T15:30:05")
    new_row(page, "times").get_by_test_id("time-at").press("Tab")
    new_row(page, "times").get_by_test_id("time-video").select_option(video["id"])
    new_row(page, "times").get_by_test_id("time-frame").fill("12")
    new_row(page, "times").get_by_test_id("time-frame").press("Tab")
    time_id = added(page, "times", "arrival")
    jump = world_row(page, "times", time_id).get_by_test_id("time-jump")
    assert jump.inner_text().strip() == "▶ 00:01.200"
    # An interval whose end is before its start is refused, naming why; nothing is added.
    new_row(page, "times").get_by_test_id("world-item-name").fill("backwards")
    new_row(page, "times").get_by_test_id("time-type").select_option("interval")
    for field, value in (("time-start", "2024-05-01T16:00:00"), ("time-end", "2024-05-01T15:00:00")):
        new_row(page, "times").get_by_test_id(field).fill(value)
        new_row(page, "times").get_by_test_id(field).press("Tab")
    page.get_by_test_id("world-add-times").click()
    assert page.get_by_test_id("world-new-error").inner_text(timeout=SLOW) == "an interval's end must not be before its start"
    page.screenshot(path=str(output_dir / "model-world-times.png"))

    # A place: a name and coordinates (a latitude out of range is refused at its field).
    page.get_by_test_id("world-tab-locations").click()
    new_row(page, "locations").get_by_test_id("world-item-name").fill("Harbour")
    for field, value in (("location-latitude", "95"), ("location-longitude", "4.47917")):
        new_row(page, "locations").get_by_test_id(field).fill(value)
        new_row(page, "locations").get_by_test_id(field).press("Tab")
    page.get_by_test_id("world-add-locations").click()
    assert page.get_by_test_id("world-new-error").inner_text(timeout=SLOW).startswith("latitude:")
    new_row(page, "locations").get_by_test_id("location-latitude").fill("51.9225")
    new_row(page, "locations").get_by_test_id("location-latitude").press("Tab")
    harbour = added(page, "locations", "Harbour")
    assert world_row(page, "locations", harbour).get_by_test_id("location-coordinates").inner_text() == "51.92250° N, 4.47917° E"

    # A collection of entities, and a relation of the persona's type between two of them.
    page.get_by_test_id("world-tab-collections").click()
    new_row(page, "collections").get_by_test_id("world-item-name").fill("suspects")
    new_row(page, "collections").locator(f"[data-testid=collection-member][data-id='{carol_id}']").check()
    suspects = added(page, "collections", "suspects")
    page.get_by_test_id("world-tab-relations").click()
    relation_row = new_row(page, "relations")
    relation_row.get_by_test_id("relation-persona").select_option(persona["id"])
    relation_row.get_by_test_id("relation-type").select_option("drives")
    relation_row.get_by_test_id("relation-source").select_option(f"entity:{bus['id']}")
    relation_row.get_by_test_id("relation-target").select_option(f"entity:{carol_id}")
    page.get_by_test_id("world-add-relations").click()  # a bus does not drive a person: refused, naming the ends
    refusal = page.get_by_test_id("world-new-error").inner_text(timeout=SLOW)
    assert "a drives relation's source must be Person" in refusal and "target must be Vehicle" in refusal
    relation_row.get_by_test_id("relation-source").select_option(f"entity:{carol_id}")
    relation_row.get_by_test_id("relation-target").select_option(f"entity:{bus['id']}")
    added(page, "relations", None)
    page.screenshot(path=str(output_dir / "model-world-relations.png"))

    # Carol is in a collection and a relation: deleting her is refused, saying so; she stays.
    page.get_by_test_id("world-tab-entities").click()
    world_row(page, "entities", carol_id).get_by_test_id("world-item-delete").click()
    refused = page.get_by_test_id("world-item-error").inner_text(timeout=SLOW)
    assert "'suspects'" in refused and "1 world relation(s)" in refused
    with stack.api() as client:
        world = client.get("/api/world").json()
    assert any(e["id"] == carol_id for e in world["entities"])
    assert next(c for c in world["collections"] if c["id"] == suspects)["members"] == [carol_id]
    assert next(t for t in world["times"] if t["id"] == time_id) == {
        "id": time_id, "name": "arrival", "description": "", "timeType": "instant", "at": "2024-05-01T15:30:05",
        "videoId": video["id"], "frame": 12}
    assert [(r["source"], r["target"]) for r in world["relations"] if r["personaId"] == persona["id"]] == [
        ({"kind": "entity", "id": carol_id}, {"kind": "entity", "id": bus["id"]})]
    page.get_by_test_id("world-tab-times").click()
    world_row(page, "times", time_id).get_by_test_id("time-jump").click()
    page.wait_for_url(f"**/videos/{video['id']}?frame=12", timeout=SLOW)
    page.wait_for_selector("[data-testid=frame-counter][data-frame='12']", timeout=SLOW)
    assert not unexpected(app.console_errors, {409, 422}), app.console_errors


def test_two_people_editing_the_world_at_once_keep_both_edits_and_a_clash_is_refused_not_overwritten(
        app: BrowserSession, model: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    stack = app.stack
    first, second = (f"entity-{uuid.uuid4().hex[:8]}" for _ in range(2))
    with stack.api() as client:
        for ident, name in ((first, "Dora"), (second, "Eli")):
            assert client.post("/api/world/entities", json={"id": ident, "name": name}).status_code == 201
    a = app.page
    a.set_viewport_size(VIEWPORT)
    a.goto("/world")
    b = a.context.browser.new_context(base_url=stack.base_url, viewport=VIEWPORT).new_page()  # type: ignore[union-attr]
    try:
        assert b.request.post("/api/auth/login", data={"username": stack.username, "password": stack.password}).ok
        b.goto("/world")
        for page in (a, b):
            world_row(page, "entities", second).wait_for(timeout=SLOW)
        # B starts renaming Dora (she reads "Dora"), then A renames her and saves, and describes Eli: A's are stored.
        name_b = world_row(b, "entities", first).get_by_test_id("world-item-name")
        name_b.fill("Dorothy")
        for item, field, value in ((first, "world-item-name", "Dora Brand"), (second, "world-item-description", "tall, red coat")):
            with a.expect_response(lambda r: "/api/world/entities/" in r.url and r.request.method == "PATCH") as answer:
                world_row(a, "entities", item).get_by_test_id(field).fill(value)
                world_row(a, "entities", item).get_by_test_id(field).press("Enter")
            assert answer.value.ok
        # B's rename started from "Dora": refused with a message, A's name kept and shown to B.
        with b.expect_response(lambda r: "/api/world/entities/" in r.url and r.request.method == "PATCH") as answer:
            name_b.press("Enter")
        assert answer.value.status == 409
        message = world_row(b, "entities", first).locator("xpath=following-sibling::tr[1]").get_by_test_id("world-item-error")
        assert "changed by someone else meanwhile" in message.inner_text(timeout=SLOW)
        expect(name_b).to_have_value("Dora Brand", timeout=SLOW)
        # Eli's description, written by A, reaches B too; B edits Eli's name: no clash, both kept.
        expect(world_row(b, "entities", second).get_by_test_id("world-item-description")).to_have_value("tall, red coat", timeout=SLOW)
        with b.expect_response(lambda r: "/api/world/entities/" in r.url and r.request.method == "PATCH") as answer:
            world_row(b, "entities", second).get_by_test_id("world-item-name").fill("Eli Stone")
            world_row(b, "entities", second).get_by_test_id("world-item-name").press("Enter")
        assert answer.value.ok
        with stack.api() as client:
            stored = {e["id"]: e for e in client.get("/api/world").json()["entities"]}
        assert stored[first]["name"] == "Dora Brand"
        assert (stored[second]["name"], stored[second]["description"]) == ("Eli Stone", "tall, red coat")
    finally:
        b.context.close()


def test_the_ontology_page_edits_attributes_role_slots_and_constraints_and_refuses_a_malformed_one_at_its_place(
        app: BrowserSession, output_dir: Path) -> None:
    stack = app.stack
    with stack.api() as client:
        persona = client.post("/api/personas", json={"name": unique("Referee")}).json()
        assert client.put(f"/api/personas/{persona['id']}/ontology", json={
            "entityTypes": [{"id": "player", "name": "Player"}, {"id": "ball", "name": "Ball"}],
            "roleTypes": [{"id": "scorer", "name": "Scorer"}],
            "eventTypes": [{"id": "goal", "name": "Goal"}]}).status_code == 200
    page = app.page
    page.set_viewport_size(VIEWPORT)
    page.goto("/ontology")
    page.locator(f"[data-testid=persona-item][data-persona-id='{persona['id']}']").click()

    def type_row(category: str, type_id: str):  # type: ignore[no-untyped-def]
        return page.locator(f"[data-testid=ontology-{category}] [data-testid=ontology-type][data-type-id='{type_id}']")

    def details(category: str, type_id: str):  # type: ignore[no-untyped-def]
        return type_row(category, type_id).locator("xpath=following-sibling::tr[1]").get_by_test_id("type-details")

    # Player: a choice that changes over time, and a fixed number.
    type_row("entityTypes", "player").get_by_test_id("type-details-toggle").click()
    player = details("entityTypes", "player")
    player.get_by_test_id("attribute-add").click()
    player.get_by_test_id("attribute-name").nth(0).fill("stance")
    player.get_by_test_id("attribute-type").nth(0).select_option("choice")
    player.get_by_test_id("attribute-mutable").nth(0).check()
    player.get_by_test_id("attribute-add").click()
    player.get_by_test_id("attribute-name").nth(1).fill("shirt")
    player.get_by_test_id("attribute-type").nth(1).select_option("number")
    # Goal: a role slot for the scorer, who must be a Player.
    type_row("eventTypes", "goal").get_by_test_id("type-details-toggle").click()
    details("eventTypes", "goal").get_by_test_id("role-slot-add").click()
    details("eventTypes", "goal").get_by_test_id("role-slot-max").fill("1")
    type_row("roleTypes", "scorer").get_by_test_id("type-details-toggle").click()
    details("roleTypes", "scorer").locator("[data-testid=constraint-option][data-value=player]").check()

    # The choice has no options yet: refused, the message under the Player type, nothing stored.
    page.get_by_test_id("ontology-save").click()
    problem = type_row("entityTypes", "player").locator("xpath=following-sibling::tr[1]").get_by_test_id("type-problem")
    assert "'stance' is a choice: give it at least one option" in problem.inner_text(timeout=SLOW)
    assert page.get_by_test_id("ontology-status").inner_text().startswith("Not saved: 1 problem")
    page.screenshot(path=str(output_dir / "model-ontology-problem.png"), full_page=True)
    with stack.api() as client:
        assert "attributes" not in client.get(f"/api/personas/{persona['id']}/ontology").json()["entityTypes"][0]

    player.get_by_test_id("attribute-options").fill("attacking, defending")
    page.get_by_test_id("ontology-save").click()
    page.wait_for_selector("[data-testid=ontology-status]:text-is('saved')", timeout=SLOW)
    assert problem.count() == 0
    page.screenshot(path=str(output_dir / "model-ontology.png"), full_page=True)
    with stack.api() as client:
        stored = client.get(f"/api/personas/{persona['id']}/ontology").json()
    attributes = [{k: a.get(k) for k in ("name", "type", "options", "mutable")} for a in stored["entityTypes"][0]["attributes"]]
    assert attributes == [{"name": "stance", "type": "choice", "options": ["attacking", "defending"], "mutable": True},
                          {"name": "shirt", "type": "number", "options": None, "mutable": False}]
    assert stored["eventTypes"][0]["roles"] == [{"roleTypeId": "scorer", "maxOccurrences": 1}]
    assert stored["roleTypes"][0]["allowedFillerTypes"] == ["player"]
    assert not unexpected(app.console_errors, {422}), app.console_errors
