"""Five of the app's flows end to end in Debian's Chromium against the stack fovea started (with the model-service):
"suggest types" on the ontology page, the workspace's summary panel, import with a preview, the transcript panel
(a click on a word seeks the player) and "Read text in frame" (the text tracks it makes). Plus personas: create,
rename, hide, delete. Each test drives the page as a person would, reads what the page shows from its DOM (test ids
and data attributes, see services/frontend/README.md) and checks the backend's state through the API.

Model jobs (ontology augmentation, summaries) run on the shared, loaded 2-core machine: the waits are in
minutes and nothing is timed. The test clip is the shared fixture's bus_pan.mp4 (made from bus.jpg).
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fovea_ctl.ops.videos import add_videos
from tests.frontend.conftest import BrowserSession, FrontendStack
from tests.conftest import make_clip
from tests.speech_clip import make_speech_clip, plain_word
from tests.text_clip import LINE, SIGN, squash, text_clip_script

if TYPE_CHECKING:
    import httpx
    from playwright.sync_api import Page

MODEL_JOB = 600_000  # ms: the first job loads its models on a loaded machine
SLOW = 120_000  # ms: page loads and saves on the same machine


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:6]}"


def new_persona(client: httpx.Client, name: str, information_need: str = "", hidden: bool = False) -> dict[str, Any]:
    created = client.post("/api/personas", json={"name": name, "role": "analyst", "informationNeed": information_need,
                                                 "hidden": hidden})
    assert created.status_code == 201, created.text
    return dict(created.json())


def open_persona(page: Page, persona_id: str) -> None:
    page.goto("/ontology")
    page.locator(f"[data-testid=persona-item][data-persona-id='{persona_id}']").click()
    page.wait_for_selector("[data-testid=suggest-types]", timeout=SLOW)


def type_names(ontology: dict[str, Any], category: str) -> list[str]:
    return [t["name"] for t in ontology[category]]


# -- 1. suggest types ------------------------------------------------------------------------------------
def test_suggested_types_show_confidence_and_reason_one_accepted_and_persisted_one_dismissed(
        full_app: BrowserSession, output_dir: Path) -> None:
    page = full_app.page
    with full_app.stack.api() as client:
        persona = new_persona(client, unique("Transit analyst"),
                              "People boarding and leaving the bus, pedestrians crossing, vehicles on the road")
    open_persona(page, persona["id"])
    page.get_by_test_id("suggest-types").click()
    page.wait_for_selector("[data-testid=suggestion]", timeout=MODEL_JOB)

    suggestions = page.get_by_test_id("suggestion")
    assert suggestions.count() >= 2, "the augmentation job suggested fewer than two types"
    for i in range(suggestions.count()):
        item = suggestions.nth(i)
        confidence = float(item.get_by_test_id("suggestion-confidence").get_attribute("data-confidence") or "nan")
        assert 0.0 <= confidence <= 1.0, confidence
        assert item.get_by_test_id("suggestion-confidence").inner_text().endswith("%")
        assert item.get_by_test_id("suggestion-reason").inner_text().strip(), f"suggestion {i} has no reason"
    # This persona has no videos yet: the fixed list, so no evidence; WordNet's gloss where it knows the word.
    assert page.get_by_test_id("suggestion-evidence").count() == 0
    glosses = page.get_by_test_id("suggestion-gloss")
    assert glosses.count() >= 1 and " — a kind of " in glosses.first.inner_text(), "no suggestion shows a WordNet gloss"
    page.get_by_test_id("suggestions").screenshot(path=str(output_dir / "ontology-suggestions.png"))
    page.screenshot(path=str(output_dir / "ontology-page.png"), full_page=True)

    accepted, dismissed = suggestions.nth(0), suggestions.nth(1)
    accepted_name, accepted_category = accepted.get_attribute("data-name"), accepted.get_attribute("data-category")
    dismissed_name, dismissed_category = dismissed.get_attribute("data-name"), dismissed.get_attribute("data-category")
    assert accepted_name and accepted_category and dismissed_name and dismissed_category
    offered = suggestions.count()
    accepted.get_by_test_id("suggestion-accept").click()
    page.wait_for_selector("[data-testid=ontology-status]:text-is('saved')", timeout=SLOW)
    page.locator(f"[data-testid=suggestion][data-name='{dismissed_name}'] [data-testid=suggestion-dismiss]").click()
    page.wait_for_selector(f"[data-testid=suggestion][data-name='{dismissed_name}']", state="detached", timeout=SLOW)
    assert page.locator(f"[data-testid=suggestion][data-name='{accepted_name}']").count() == 0
    assert page.get_by_test_id("suggestion").count() == offered - 2
    # The accepted one is a type row of its category on the page.
    rows = page.get_by_test_id(f"ontology-{accepted_category}").get_by_test_id("type-name")
    assert accepted_name in [rows.nth(i).input_value() for i in range(rows.count())]

    with full_app.stack.api() as client:
        ontology = client.get(f"/api/personas/{persona['id']}/ontology").json()
    assert accepted_name in type_names(ontology, accepted_category), ontology
    assert dismissed_name not in type_names(ontology, dismissed_category), ontology

    page.reload()
    open_persona(page, persona["id"])
    rows = page.get_by_test_id(f"ontology-{accepted_category}").get_by_test_id("type-name")
    rows.first.wait_for(timeout=SLOW)
    assert accepted_name in [rows.nth(i).input_value() for i in range(rows.count())]
    assert not full_app.console_errors


# -- 2. the summary panel --------------------------------------------------------------------------------
def test_summary_for_the_selected_persona_key_frames_seek_and_similar_videos_empty(
        full_app: BrowserSession, output_dir: Path) -> None:
    page = full_app.page
    video = full_app.stack.video
    with full_app.stack.api() as client:
        persona = new_persona(client, unique("Summary reader"), "Who is near the bus and what they do")
        other = new_persona(client, unique("Other reader"), "Signs and buildings")
    page.goto(f"/videos/{video['id']}")
    page.wait_for_selector("[data-testid=video][data-ready=true]", timeout=SLOW)
    page.get_by_test_id("persona-select").select_option(persona["id"])
    page.get_by_test_id("tab-summary").click()
    panel = page.get_by_test_id("summary-panel")
    # Before any summary of this video, similar videos is an empty state, not an error.
    assert panel.get_by_test_id("similar-error").count() == 0

    panel.get_by_test_id("summary-request").click()
    page.wait_for_selector("[data-testid=summary-keyframe]", timeout=MODEL_JOB)
    text = panel.get_by_test_id("summary-text").inner_text()
    assert text.strip()
    with full_app.stack.api() as client:
        stored = [s for s in client.get(f"/api/videos/{video['id']}/summaries").json() if s["personaId"] == persona["id"]]
    assert len(stored) == 1, stored
    assert stored[0]["text"].strip() == text.strip()
    # This stack runs no language model: the panel says the evidence template wrote the text.
    assert stored[0]["summary"]["built_from"]["text"] == "template"
    assert panel.get_by_test_id("summary-author").inner_text() == "Text written from the evidence template"
    key_frames = [int(b.get_attribute("data-frame") or "-1") for b in panel.get_by_test_id("summary-keyframe").all()]
    assert key_frames == [k["frame"] for k in stored[0]["keyFrames"]]
    assert all(0 <= k < video["frameCount"] for k in key_frames), key_frames

    # Stand on a frame that is no key frame, then click each key frame: the player goes there.
    elsewhere = next(f for f in range(video["frameCount"]) if f not in key_frames)
    page.get_by_test_id("goto-frame").fill(str(elsewhere))
    page.get_by_test_id("goto-frame").press("Enter")
    page.wait_for_selector(f"[data-testid=frame-counter][data-frame='{elsewhere}']", timeout=SLOW)
    for frame in key_frames:
        panel.locator(f"[data-testid=summary-keyframe][data-frame='{frame}']").click()
        page.wait_for_selector(f"[data-testid=frame-counter][data-frame='{frame}']", timeout=SLOW)
        page.wait_for_selector(f"[data-testid=overlay][data-frame='{frame}']", timeout=SLOW)

    # One video with one summary: similar videos is the empty state (or, on a stack with more summaries, the
    # list the API gives); never an error.
    assert_similar_as_the_api_says(page, full_app.stack, stored[0]["id"])
    if not page.get_by_test_id("similar-video").count():
        assert panel.get_by_test_id("similar-empty").is_visible()

    # Another persona has no summary of this video: the panel says so instead of showing the first one's.
    page.get_by_test_id("persona-select").select_option(other["id"])
    panel.get_by_test_id("summary-none").wait_for(timeout=SLOW)
    assert panel.get_by_test_id("summary-text").count() == 0
    # Its own summary: now the first persona's summary is a similar one, linking to this video.
    panel.get_by_test_id("summary-request").click()
    panel.get_by_test_id("summary-text").wait_for(timeout=MODEL_JOB)
    with full_app.stack.api() as client:
        others = [s for s in client.get(f"/api/videos/{video['id']}/summaries").json() if s["personaId"] == other["id"]]
    assert len(others) == 1, others
    page.wait_for_selector("[data-testid=similar-video]", timeout=SLOW)
    similar = assert_similar_as_the_api_says(page, full_app.stack, others[0]["id"])
    assert stored[0]["id"] in [s["id"] for s in similar]
    assert page.locator(f"[data-testid=similar-video] a[href='/videos/{video['id']}']").count() >= 1
    panel.screenshot(path=str(output_dir / "summary-panel.png"))

    page.get_by_test_id("persona-select").select_option(persona["id"])
    page.wait_for_selector(f"[data-testid=summary-text]:text-is({json.dumps(text.strip())})", timeout=SLOW)
    assert not full_app.console_errors


def assert_similar_as_the_api_says(page: Page, stack: FrontendStack, summary_id: str) -> list[dict[str, Any]]:
    page.wait_for_selector("[data-testid=similar-empty], [data-testid=similar-video], [data-testid=similar-error]",
                           timeout=SLOW)
    assert page.get_by_test_id("similar-error").count() == 0, page.get_by_test_id("similar-error").inner_text()
    with stack.api() as client:
        similar = client.get(f"/api/videos/{stack.video['id']}/summaries/similar", params={"summaryId": summary_id})
    assert similar.status_code == 200, similar.text
    assert page.get_by_test_id("similar-video").count() == len(similar.json())
    return list(similar.json())


# -- 3. import with a preview ----------------------------------------------------------------------------
def export_from_the_app(page: Page) -> list[str]:
    page.goto("/transfer")
    with page.expect_download(timeout=SLOW) as download:
        page.get_by_test_id("export-download").click()
    return Path(download.value.path()).read_text().splitlines()


def upload(page: Page, name: str, lines: list[str]) -> None:
    page.get_by_test_id("import-file").set_input_files(
        {"name": name, "mimeType": "application/x-ndjson", "buffer": ("\n".join(lines) + "\n").encode()})


def persona_line(template: str, persona_id: str, name: str, **changes: Any) -> str:
    record = json.loads(template)
    record["data"].update(id=persona_id, name=name, **changes)
    return json.dumps(record)


def test_import_previews_counts_and_conflicts_imports_on_confirm_and_refuses_a_bad_line(app: BrowserSession) -> None:
    page = app.page
    with app.stack.api() as client:
        existing = new_persona(client, unique("Exported"))
    exported = export_from_the_app(page)
    kinds = [json.loads(line)["type"] for line in exported]
    template = next(line for line in exported if json.loads(line)["type"] == "persona"
                    and json.loads(line)["data"]["id"] == existing["id"])

    # A new persona on top of the export: everything else is already there (conflicts: the import replaces it).
    added_id, added_name = str(uuid.uuid4()), unique("Imported")
    upload(page, "with-new-persona.jsonl", [*exported, persona_line(template, added_id, added_name)])
    page.wait_for_selector("[data-testid=import-preview]", timeout=SLOW)
    # Each record is listed once: the new persona under "would add", every record that exists already (the whole
    # export) under "would replace" — never both (issue 18, item 8).
    counts = {c.get_attribute("data-kind"): int(c.get_attribute("data-count") or "-1")
              for c in page.get_by_test_id("import-count").all()}
    # (the world singleton counts as new while it is empty: replacing nothing is not listed as a conflict)
    assert {k: n for k, n in counts.items() if k != "world"} == {"persona": 1}, counts
    replaced = page.get_by_test_id("import-conflicts").locator("li")
    conflicts = page.get_by_test_id("import-conflicts").inner_text()
    assert existing["id"] in conflicts and added_id not in conflicts, conflicts
    expected = Counter(k for k in kinds if k != "header")
    assert replaced.count() + sum(counts.values()) == sum(expected.values()) + 1
    assert page.get_by_test_id("import-errors").count() == 0
    with app.stack.api() as client:
        assert added_id not in [p["id"] for p in client.get("/api/personas").json()], "the preview wrote"
    page.get_by_test_id("import-confirm").click()
    page.wait_for_selector("[data-testid=import-done]", timeout=SLOW)
    assert "persona" in page.get_by_test_id("import-done").inner_text()
    with app.stack.api() as client:
        names = {p["id"]: p["name"] for p in client.get("/api/personas").json()}
    assert names.get(added_id) == added_name

    # A second file: one more new persona and a line whose field is wrong. The preview names line and field,
    # confirming is impossible, and nothing of the file is written.
    second_id = str(uuid.uuid4())
    bad = [persona_line(template, second_id, unique("Never")),
           persona_line(template, str(uuid.uuid4()), unique("Bad"), hidden="sometimes")]
    upload(page, "with-bad-line.jsonl", [exported[0], *bad])
    page.wait_for_selector("[data-testid=import-preview]", timeout=SLOW)
    errors = page.get_by_test_id("import-errors").locator("li")
    assert errors.count() == 1
    assert errors.first.inner_text().startswith("line 3, field data.hidden:"), errors.first.inner_text()
    assert page.get_by_test_id("import-confirm").is_disabled()
    with app.stack.api() as client:
        assert second_id not in [p["id"] for p in client.get("/api/personas").json()]
        # The API itself refuses the whole file at the bad line, naming it.
        refused = client.post("/api/import", content=("\n".join([exported[0], *bad]) + "\n").encode(),
                              headers={"Content-Type": "application/x-ndjson"})
        assert refused.status_code == 422, refused.text
        assert "line 3" in refused.text and "hidden" in refused.text
        assert second_id not in [p["id"] for p in client.get("/api/personas").json()]
    assert not app.console_errors


# -- 4. the transcript panel -----------------------------------------------------------------------------
def test_transcript_panel_highlights_the_word_at_the_playhead_and_a_click_seeks_to_it(
        full_app: BrowserSession, output_dir: Path, tmp_path: Path) -> None:
    page = full_app.page
    clip = tmp_path / "speech-panel.mp4"
    second = make_speech_clip(clip, tmp_path)[1]
    add_videos(full_app.stack.project, [clip], replace=True)
    with full_app.stack.api() as client:
        video = next(v for v in client.get("/api/videos").json() if v["filename"] == clip.name)
    page.goto(f"/videos/{video['id']}")
    page.wait_for_selector("[data-testid=video][data-ready=true]", timeout=SLOW)
    page.get_by_test_id("tab-transcript").click()
    panel = page.get_by_test_id("transcript-panel")
    panel.get_by_test_id("transcript-note").wait_for(timeout=SLOW)
    assert panel.get_by_test_id("transcript-note").inner_text() == "No transcript yet."

    # The model is chosen as in the Detect panel: the registry's transcript models (imported ones too), each with its
    # licence; the choice travels with the request.
    choice = panel.get_by_test_id("transcribe-model")
    page.wait_for_selector("[data-testid=transcribe-model] option[value=whisper-tiny-en]", state="attached",
                           timeout=SLOW)
    assert "MIT" in choice.locator("option[value=whisper-tiny-en]").inner_text()
    choice.select_option("whisper-tiny-en")
    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/transcribe")) as sent:
        panel.get_by_test_id("transcribe-request").click()
    assert json.loads(sent.value.post_data or "{}") == {"model": "whisper-tiny-en"}
    page.wait_for_selector("[data-testid=transcript-word]", timeout=MODEL_JOB)
    assert panel.get_by_test_id("transcript-model").inner_text().startswith("whisper-tiny-en")
    words = {plain_word(w.inner_text()): w for w in panel.get_by_test_id("transcript-word").all()}
    assert {"car", "police", "bridge"} <= set(words), list(words)
    # The words wrap inside the panel like text (no sideways scrolling to find the next one).
    assert page.evaluate("() => { const w = document.querySelector('[data-testid=transcript-words]');"
                         " return w.scrollWidth <= w.clientWidth; }")
    police = words["police"]
    start = float(police.get_attribute("data-start") or "-1")
    assert abs(start - second.onset) <= 0.5, (start, second)
    police.click()
    fps = video["fps"]
    page.wait_for_function(f"() => Math.abs(Number(document.querySelector('[data-testid=frame-counter]')"
                           f".dataset.frame) / {fps} - {start}) <= {1 / fps + 1e-6}", timeout=SLOW)
    # The player stands on the word now, and the word is the one marked as being said.
    page.wait_for_selector("[data-testid=transcript-word][aria-current=true]", timeout=SLOW)
    assert plain_word(panel.locator("[data-testid=transcript-word][aria-current=true]").inner_text()) == "police"
    current = page.evaluate("() => document.querySelector('video').currentTime")
    assert abs(current - start) <= 1 / fps, (current, start)
    panel.screenshot(path=str(output_dir / "transcript-panel.png"))

    # The videos page searches what was said: the hit opens the workspace at the frame the words start.
    page.goto("/")
    page.get_by_test_id("said-search-input").fill("closed the bridge")
    page.get_by_test_id("said-search-submit").click()
    hit = page.locator(f"[data-testid=said-hit][data-video-id='{video['id']}']")
    hit.wait_for(timeout=SLOW)
    said_frame = int(hit.get_attribute("data-frame") or "-1")
    page.screenshot(path=str(output_dir / "said-search.png"))
    assert abs(said_frame / fps - second.onset) <= 0.5 + 1 / fps, (said_frame, second)
    hit.get_by_role("link").click()
    page.wait_for_url(f"**/videos/{video['id']}?frame={said_frame}", timeout=SLOW)
    page.wait_for_function(f"() => Number(document.querySelector('[data-testid=frame-counter]')?.dataset.frame) === {said_frame}",
                           timeout=SLOW)
    page.goto("/")
    page.get_by_test_id("said-search-input").fill("zeppelin")
    page.get_by_test_id("said-search-submit").click()
    page.get_by_test_id("said-search-none").wait_for(timeout=SLOW)

    # The shared clip has no audio stream: the panel says so instead of an empty list.
    page.goto(f"/videos/{full_app.stack.video['id']}")
    page.wait_for_selector("[data-testid=video][data-ready=true]", timeout=SLOW)
    page.get_by_test_id("tab-transcript").click()
    page.get_by_test_id("transcribe-request").click()
    page.wait_for_selector("[data-testid=transcript-panel][data-status=no_audio]", timeout=MODEL_JOB)
    assert page.get_by_test_id("transcript-note").inner_text().startswith("No audio track")
    assert not full_app.console_errors


# -- 5. text in frame -----------------------------------------------------------------------------------
def test_read_text_in_frame_runs_from_the_detect_panel_and_shows_text_tracks_with_their_strings(
        full_app: BrowserSession, output_dir: Path, tmp_path: Path) -> None:
    page = full_app.page
    page.set_viewport_size({"width": 1366, "height": 768})  # the smallest laptop screen the layout must hold
    clip = make_clip(full_app.stack.project, tmp_path / "text-in-frame.mp4", text_clip_script("/tmp/clip.mp4"))
    add_videos(full_app.stack.project, [clip], replace=True)
    with full_app.stack.api() as client:
        video = next(v for v in client.get("/api/videos").json() if v["filename"] == clip.name)
    page.goto(f"/videos/{video['id']}")
    page.wait_for_selector("[data-testid=video][data-ready=true]", timeout=SLOW)
    page.get_by_test_id("tab-detect").click()
    panel = page.get_by_test_id("read-text")
    panel.get_by_test_id("read-text-fps").fill("2")
    panel.get_by_test_id("read-text-run").click()
    progress = panel.get_by_test_id("job-progress")
    progress.wait_for(timeout=SLOW)
    assert progress.get_by_test_id("job-progress-text").inner_text().startswith("read-text · ")
    panel.locator("[data-testid=job-progress][data-status=completed]").wait_for(timeout=MODEL_JOB)

    # The text tracks the job made, each with its string, once the workspace has merged them in.
    page.wait_for_function("() => document.querySelectorAll('[data-testid=text-track]').length >= 2", timeout=SLOW)
    rows = {squash(r.get_attribute("data-text") or ""): r for r in panel.get_by_test_id("text-track").all()}
    assert {squash(SIGN), squash(LINE)} <= set(rows), list(rows)
    with full_app.stack.api() as client:
        job = client.get("/api/jobs", params={"videoId": video["id"], "kind": "read-text"}).json()[0]
        texts = [a for a in client.get(f"/api/annotations/{video['id']}").json() if a["type"] == "text"]
    assert job["detail"] == {"framesDone": 8, "framesTotal": 8, "stage": "done"}, job
    assert sorted(squash(a["label"]) for a in texts) == sorted(rows)

    # A row seeks to where the text first shows and selects its track; the box on the video carries the string.
    sign = rows[squash(SIGN)]
    page.get_by_test_id("frame-counter").wait_for(timeout=SLOW)
    sign.click()
    page.wait_for_selector(f"[data-testid=frame-counter][data-frame='{sign.get_attribute('data-frame')}']", timeout=SLOW)
    page.wait_for_function(f"() => [...document.querySelectorAll('.box-label')].some(l => l.textContent.replace(/\\s/g, '')"
                           f".toUpperCase().startsWith('{squash(SIGN)}'))", timeout=SLOW)
    selected = page.get_by_test_id("selected-track")
    assert selected.get_attribute("data-track-id") == next(a["id"] for a in texts if squash(a["label"]) == squash(SIGN))
    assert squash(page.get_by_test_id("selected-label").input_value()) == squash(SIGN)
    # At 1366x768 nothing spills sideways: the page and the side panel hold the new section.
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    assert page.evaluate("() => { const s = document.querySelector('.ws-side'); return s.scrollWidth <= s.clientWidth; }")
    page.screenshot(path=str(output_dir / "read-text.png"))
    assert not full_app.console_errors


# -- personas --------------------------------------------------------------------------------------------
def test_persona_create_rename_hide_delete(app: BrowserSession, frontend_stack: FrontendStack) -> None:
    page = app.page
    page.goto("/ontology")
    name = unique("Fresh persona")
    page.get_by_test_id("persona-new-name").fill(name)
    page.get_by_test_id("persona-create").click()
    item = page.locator("[data-testid=persona-item]", has_text=name)
    item.wait_for(timeout=SLOW)
    persona_id = item.get_attribute("data-persona-id")
    with frontend_stack.api() as client:
        assert client.get(f"/api/personas/{persona_id}").json()["name"] == name

    item.click()
    renamed = unique("Renamed persona")
    page.get_by_test_id("persona-name").fill(renamed)
    page.get_by_test_id("persona-save").click()
    item = page.locator(f"[data-testid=persona-item][data-persona-id='{persona_id}']")
    page.wait_for_selector(f"[data-testid=persona-item][data-persona-id='{persona_id}']:has-text('{renamed}')", timeout=SLOW)

    page.get_by_test_id("persona-hide").click()
    page.wait_for_selector(f"[data-testid=persona-item][data-persona-id='{persona_id}'][data-hidden=true]", timeout=SLOW)
    with frontend_stack.api() as client:
        stored = client.get(f"/api/personas/{persona_id}").json()
    assert stored["name"] == renamed and stored["hidden"] is True

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("persona-delete").click()
    page.wait_for_selector(f"[data-testid=persona-item][data-persona-id='{persona_id}']", state="detached", timeout=SLOW)
    with frontend_stack.api() as client:
        assert client.get(f"/api/personas/{persona_id}").status_code == 404
    page.reload()
    page.wait_for_selector("[data-testid=persona-list]", timeout=SLOW)
    assert page.locator(f"[data-testid=persona-item][data-persona-id='{persona_id}']").count() == 0
    assert not app.console_errors
