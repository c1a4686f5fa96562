"""The standard exports read by each ecosystem's own reader, and the imports read back (issue 22, item 7):
pycocotools loads our COCO, motmetrics reads our MOT gt.txt and scores it against the same tracks at 1.0 (MOTA,
IDF1), Datumaro (CVAT's converter library) reads our CVAT for video 1.1 XML, and our YOLO labels hold each visible
box normalised. What each file must hold comes from the interpolated JSONL export (the workspace's rule), not from
the code under test. CVAT export → import keeps every track, keyframe, outside span and attribute; MOT export →
import keeps every frame's box and every outside span. A malformed file is refused naming the line and field and
changes nothing. `acceptedOnly` leaves out a video whose review is not done, in every format (issue 21)."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from backend_harness import write_video
from test_annotation_model import make_persona, save

from fovea_backend.videos import video_id
from tests.formats_check import iou_distance

SIZE = (320, 240)
FRAMES = 30


@pytest.fixture(scope="module")
def videos(client: httpx.Client, backend_deps: Any) -> tuple[str, str]:
    """Two videos of 30 frames, 320x240: the source of the exports and the target of the imports."""
    for name in ("formats-src.mp4", "formats-dst.mp4"):
        write_video(backend_deps.video_root, name, 20_000, {"duration": 3.0, "fps": 10, "width": SIZE[0], "height": SIZE[1]})
    assert client.post("/api/videos/sync").status_code == 200
    return video_id("formats-src.mp4"), video_id("formats-dst.mp4")


@pytest.fixture(scope="module")
def scene(client: httpx.Client, videos: tuple[str, str]) -> dict[str, Any]:
    """A walker who leaves the frame (outside from 15 to 20) and whose `occluded` changes mid-track, a car, and a
    detector candidate (not accepted work: never exported)."""
    persona = make_persona(client, "Formats")
    walker = {"op": "create", "id": str(uuid.uuid4()), "track": {
        "personaId": persona, "type": "person", "label": "walker", "attributes": {"role": "walker"}, "frames": [
            {"frame": 0, "x": 10, "y": 10, "width": 40, "height": 80, "attributes": {"occluded": False}},
            {"frame": 10, "x": 60, "y": 20, "width": 40, "height": 80, "attributes": {"occluded": True}},
            {"frame": 15, "x": 70, "y": 20, "width": 40, "height": 80, "outside": True},
            {"frame": 20, "x": 80, "y": 20, "width": 40, "height": 80, "attributes": {"occluded": False}}]}}
    car = {"op": "create", "id": str(uuid.uuid4()), "track": {
        "personaId": persona, "type": "car", "label": "car", "attributes": {"plate": "B-XY 12"}, "frames": [
            {"frame": 5, "x": 100, "y": 100, "width": 60, "height": 30},
            {"frame": 25, "x": 150.5, "y": 110, "width": 60, "height": 30}]}}
    candidate = {"op": "create", "id": str(uuid.uuid4()), "track": {
        "personaId": persona, "type": "person", "label": "candidate", "source": "automatic",
        "frames": [{"frame": 3, "x": 1, "y": 1, "width": 5, "height": 5}]}}
    saved = save(client, videos[0], [walker, car, candidate])
    assert saved["rejected"] == []
    # Exports number tracks in the order the API lists them (created_at, then id).
    ids = [t["id"] for t in client.get(f"/api/videos/{videos[0]}/annotations").json()["tracks"] if t["source"] != "automatic"]
    lines = [json.loads(line) for line in client.get("/api/export", params={
        "format": "jsonl", "videoId": videos[0], "interpolate": "true"}).text.splitlines()]
    expanded = {a["data"]["id"]: a["data"] for a in lines if a["type"] == "annotation" and a["data"]["source"] != "automatic"}
    return {"persona": persona, "ids": ids, "expanded": expanded, "walker": ids.index(walker["id"]) + 1,
            "car": ids.index(car["id"]) + 1}


def visible(scene: dict[str, Any]) -> dict[tuple[int, int], tuple[float, float, float, float]]:
    """(track number 1.., frame) → box of every frame a track is shown at: what every per-frame format must hold."""
    return {(n, f["frame"]): (f["x"], f["y"], f["width"], f["height"])
            for n, ident in enumerate(scene["ids"], start=1) for f in scene["expanded"][ident]["frames"] if not f["outside"]}


def export(client: httpx.Client, video: str, fmt: str, persona: str | None = None) -> httpx.Response:
    response = client.get(f"/api/videos/{video}/export", params={"format": fmt, **({"personaId": persona} if persona else {})})
    assert response.status_code == 200, response.text
    return response


def test_motmetrics_reads_our_mot_and_scores_it_against_the_same_tracks_at_one(
        client: httpx.Client, videos: tuple[str, str], scene: dict[str, Any], tmp_path: Path) -> None:
    import motmetrics as mm

    gt_file = tmp_path / "gt.txt"
    gt_file.write_bytes(export(client, videos[0], "mot", scene["persona"]).content)
    gt = mm.io.loadtxt(str(gt_file), fmt="mot16")  # 1-based frames and pixels, as MOT files are
    truth = visible(scene)
    assert len(gt) == len(truth)
    accumulator = mm.MOTAccumulator(auto_id=True)
    for frame in range(FRAMES):
        mine = gt.loc[frame + 1] if frame + 1 in gt.index.get_level_values(0) else None
        hypotheses = sorted((n, box) for (n, f), box in truth.items() if f == frame)
        ids = [] if mine is None else list(mine.index)
        boxes = np.empty((0, 4)) if mine is None else mine[["X", "Y", "Width", "Height"]].to_numpy(float)
        theirs = np.array([box for _, box in hypotheses], dtype=float).reshape(-1, 4)
        accumulator.update(ids, [n for n, _ in hypotheses], iou_distance(boxes, theirs))
    summary = mm.metrics.create().compute(accumulator, metrics=["mota", "idf1", "num_switches", "num_objects"], name="fovea")
    assert summary["mota"].iloc[0] == 1.0 and summary["idf1"].iloc[0] == 1.0 and summary["num_switches"].iloc[0] == 0
    assert summary["num_objects"].iloc[0] == len(truth)


def test_pycocotools_loads_our_coco_with_every_frame_an_image_and_attributes(
        client: httpx.Client, videos: tuple[str, str], scene: dict[str, Any], tmp_path: Path) -> None:
    from pycocotools.coco import COCO

    path = tmp_path / "coco.json"
    path.write_bytes(export(client, videos[0], "coco", scene["persona"]).content)
    coco = COCO(str(path))
    assert len(coco.getImgIds()) == FRAMES
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == ["Person", "Car"]
    truth = visible(scene)
    assert len(coco.getAnnIds()) == len(truth)
    by_frame = {img["frame_index"]: img["id"] for img in coco.loadImgs(coco.getImgIds())}
    for (number, frame), box in truth.items():
        annotations = [a for a in coco.loadAnns(coco.getAnnIds(imgIds=[by_frame[frame]])) if a["attributes"]["track_id"] == number]
        assert len(annotations) == 1 and annotations[0]["bbox"] == pytest.approx(list(box), abs=1e-3), (number, frame)
    walker_12 = next(a for a in coco.loadAnns(coco.getAnnIds(imgIds=[by_frame[12]]))
                     if a["attributes"]["track_id"] == scene["walker"])
    assert walker_12["attributes"]["occluded"] is True and walker_12["attributes"]["role"] == "walker"  # held, fixed
    assert walker_12["category_id"] == coco.getCatIds(catNms=["Person"])[0]


def test_yolo_labels_hold_every_visible_box_normalised_with_their_classes(
        client: httpx.Client, videos: tuple[str, str], scene: dict[str, Any]) -> None:
    archive = zipfile.ZipFile(io.BytesIO(export(client, videos[0], "yolo", scene["persona"]).content))
    assert archive.read("classes.txt").decode().splitlines() == ["Person", "Car"]
    labels = sorted(n for n in archive.namelist() if n.startswith("labels/"))
    assert len(labels) == FRAMES
    truth = visible(scene)
    read = {}
    for frame, name in enumerate(labels):
        for line in archive.read(name).decode().splitlines():
            cls, cx, cy, w, h = line.split()
            read.setdefault(frame, []).append((int(cls), float(cx) * SIZE[0], float(cy) * SIZE[1], float(w) * SIZE[0], float(h) * SIZE[1]))
    assert sum(len(v) for v in read.values()) == len(truth)
    for (number, frame), (x, y, w, h) in truth.items():
        cls_of = 0 if number == scene["walker"] else 1  # classes.txt: Person, Car
        assert any(cls == cls_of and abs(cx - (x + w / 2)) < 0.01 and abs(cy - (y + h / 2)) < 0.01 and abs(bw - w) < 0.01
                   for cls, cx, cy, bw, _ in read[frame]), (number, frame)


def test_datumaro_reads_our_cvat_video_xml_with_keyframes_outside_and_attributes(
        client: httpx.Client, videos: tuple[str, str], scene: dict[str, Any], tmp_path: Path) -> None:
    import datumaro as dm

    (tmp_path / "annotations.xml").write_bytes(export(client, videos[0], "cvat", scene["persona"]).content)
    dataset = dm.Dataset.import_from(str(tmp_path), "cvat")
    labels = dataset.categories()[dm.AnnotationType.label]
    shapes = {(a.attributes["track_id"], int(item.attributes["frame"])): (labels[a.label].name, a)
              for item in dataset for a in item.annotations}
    truth = visible(scene)
    for (number, frame), box in truth.items():
        name, shape = shapes[(number - 1, frame)]
        assert name == ("Person" if number == scene["walker"] else "Car")
        # Datumaro keeps coordinates as float32 rounded to 2 decimals: 102.525 reads as 102.52.
        assert [shape.x, shape.y, shape.w, shape.h] == pytest.approx(list(box), abs=0.006)
        assert shape.attributes["outside"] is False
    w, c = scene["walker"] - 1, scene["car"] - 1
    for f in scene["expanded"][scene["ids"][w]]["frames"]:
        assert shapes[(w, f["frame"])][1].attributes["keyframe"] is f["keyframe"]
    assert shapes[(w, 15)][1].attributes["outside"] is True and (w, 16) not in shapes  # the outside span
    assert shapes[(w, 12)][1].attributes["occluded"] is True and shapes[(w, 22)][1].attributes["occluded"] is False
    assert shapes[(w, 3)][1].attributes["role"] == "walker" and shapes[(c, 7)][1].attributes["plate"] == "B-XY 12"


def _tracks(client: httpx.Client, video: str) -> list[dict[str, Any]]:
    return client.get(f"/api/videos/{video}/annotations").json()["tracks"]


def _clear(client: httpx.Client, video: str) -> None:
    listed = client.get(f"/api/annotations/{video}")
    client.put(f"/api/videos/{video}/annotations", headers={"If-Match": listed.headers["ETag"]},
               json={"upsert": [], "delete": [a["id"] for a in listed.json()]})


BODY_TYPE = {"cvat": "application/xml", "mot": "text/csv"}  # what the Transfer page sends


def _import(client: httpx.Client, video: str, fmt: str, persona: str, body: bytes, dry: bool) -> httpx.Response:
    return client.post(f"/api/videos/{video}/import", params={"format": fmt, "personaId": persona, "dryRun": str(dry).lower()},
                       content=body, headers={"Content-Type": BODY_TYPE[fmt]})


def test_cvat_export_then_import_keeps_every_track_keyframe_outside_span_and_attribute(
        client: httpx.Client, videos: tuple[str, str], scene: dict[str, Any]) -> None:
    source, target = videos
    _clear(client, target)
    body = export(client, source, "cvat", scene["persona"]).content
    preview = _import(client, target, "cvat", scene["persona"], body, dry=True).json()
    assert preview["wouldAdd"] == {"annotation": 2} and preview["errors"] == [] and preview["typesAdded"] == []
    assert _tracks(client, target) == []  # a dry run writes nothing
    done = _import(client, target, "cvat", scene["persona"], body, dry=False)
    assert done.status_code == 200, done.text
    original = {t["type"]: t for t in _tracks(client, source) if t["source"] != "automatic"}
    imported = {t["type"]: t for t in _tracks(client, target)}
    for type_ in ("person", "car"):
        assert imported[type_]["frames"] == original[type_]["frames"], type_
        assert imported[type_]["attributes"] == original[type_]["attributes"]
    again = _import(client, target, "cvat", scene["persona"], body, dry=True).json()
    assert again["wouldReplace"] == {"annotation": 2} and len(again["conflicts"]) == 2  # same file: replaces, no doubles


def test_mot_export_then_import_keeps_every_frames_box_and_outside_span(
        client: httpx.Client, videos: tuple[str, str], scene: dict[str, Any]) -> None:
    source, target = videos
    _clear(client, target)
    body = export(client, source, "mot", scene["persona"]).content
    done = _import(client, target, "mot", scene["persona"], body, dry=False)
    assert done.status_code == 200, done.text
    assert done.json()["wouldImport"] == {"annotation": 2}
    lines = [json.loads(line)["data"] for line in client.get("/api/export", params={
        "format": "jsonl", "videoId": target, "interpolate": "true"}).text.splitlines()]
    imported = [a for a in lines if "frames" in a and a.get("videoId") == target]
    truth = visible(scene)
    number = {"person": scene["walker"], "car": scene["car"]}
    read = {(number[a["type"]], f["frame"]): (f["x"], f["y"], f["width"], f["height"])
            for a in imported for f in a["frames"] if not f["outside"]}
    assert read.keys() == truth.keys()
    for key, box in truth.items():
        assert read[key] == pytest.approx(box, abs=0.002), key
    walker = next(a for a in imported if a["type"] == "person")
    assert [f["frame"] for f in walker["frames"] if f["keyframe"]] == [0, 10, 15, 20]  # the keyframes, rebuilt


BAD_CVAT = b"""<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta><task><labels><label><name>Person</name><attributes/></label></labels></task></meta>
  <track id="0" label="Person" source="manual">
    <box frame="0" keyframe="1" outside="0" occluded="0" xtl="1" ytl="1" ybr="9"/>
  </track>
</annotations>
"""


@pytest.mark.parametrize(("fmt", "body", "line", "field", "says"), [
    ("cvat", BAD_CVAT, 6, "xbr", "<box> lacks xbr"),
    ("cvat", b"<annotations>\n<track id='0' label='x'>\n</annotations>", 3, "column 3", "not well-formed XML"),
    ("cvat", b'<!DOCTYPE a [<!ENTITY x "y">]><annotations/>', 1, "line", "DOCTYPE"),
    ("mot", b"1,1,10,10,20,20,1,1,1\n2,1,abc,10,20,20,1,1,1\n", 2, "bb_left", "bb_left 'abc' is not a number"),
    ("mot", b"1,1,10,10\n", 1, "line", "at least 6"),
    ("mot", b"0,1,10,10,20,20,1,1,1\n", 1, "frame", "whole number from 1"),
])
def test_a_malformed_file_is_refused_naming_the_line_and_changes_nothing(
        client: httpx.Client, videos: tuple[str, str], scene: dict[str, Any], fmt: str, body: bytes, line: int,
        field: str, says: str) -> None:
    target = videos[1]
    before = client.get(f"/api/videos/{target}").json()["annotationRevision"]
    ontology = client.get(f"/api/personas/{scene['persona']}/ontology").json()
    preview = _import(client, target, fmt, scene["persona"], body, dry=True).json()
    assert preview["errors"][0]["line"] == line and preview["errors"][0]["field"] == field, preview
    assert says in preview["errors"][0]["message"]
    refused = _import(client, target, fmt, scene["persona"], body, dry=False)
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", f"line {line}", field]
    assert client.get(f"/api/videos/{target}").json()["annotationRevision"] == before
    assert client.get(f"/api/personas/{scene['persona']}/ontology").json() == ontology


def test_mot_classes_map_to_the_personas_types_or_are_refused(
        client: httpx.Client, videos: tuple[str, str], scene: dict[str, Any]) -> None:
    unknown = _import(client, videos[1], "mot", scene["persona"], b"1,7,10,10,20,20,1,9,1\n", dry=True).json()
    assert unknown["errors"][0]["field"] == "class" and "class 9" in unknown["errors"][0]["message"]
    one_type = client.post(f"/api/videos/{videos[1]}/import", content=b"1,7,10,10,20,20,1,9,1\n",
                           headers={"Content-Type": "text/csv"}, params={
        "format": "mot", "personaId": scene["persona"], "dryRun": "true", "typeId": "car"}).json()
    assert one_type["errors"] == [] and one_type["wouldImport"] == {"annotation": 1}


def test_all_videos_export_as_one_archive(client: httpx.Client, videos: tuple[str, str], scene: dict[str, Any]) -> None:
    response = client.get("/api/export", params={"format": "mot", "personaId": scene["persona"]})
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert "formats-src/gt/gt.txt" in names and "formats-src/seqinfo.ini" in names


# --- acceptedOnly: every format leaves out the videos whose review is not done (issue 21, item 5) ---------------
@pytest.fixture(scope="module")
def reviewed(client: httpx.Client, backend_deps: Any) -> Iterator[dict[str, Any]]:
    """Two videos with a track each, both assigned: one's assignment accepted, the other's still in progress."""
    names = {"accepted": "reviewed-accepted.mp4", "open": "reviewed-open.mp4"}
    for name in names.values():
        write_video(backend_deps.video_root, name, 20_000, {"duration": 3.0, "fps": 10, "width": SIZE[0], "height": SIZE[1]})
    assert client.post("/api/videos/sync").status_code == 200
    persona = make_persona(client, "Reviewed")
    ids = {key: video_id(name) for key, name in names.items()}
    assignments = {}
    for key, vid in ids.items():
        saved = save(client, vid, [{"op": "create", "id": str(uuid.uuid4()), "track": {
            "personaId": persona, "type": "car", "label": f"{key}-car", "frames": [
                {"frame": 0, "x": 10, "y": 10, "width": 60, "height": 30},
                {"frame": 20, "x": 100, "y": 50, "width": 60, "height": 30}]}}])
        assert saved["rejected"] == []
        made = client.post("/api/assignments", json={"videoId": vid, "assignee": "admin"})
        assert made.status_code == 201, made.text
        assignments[key] = made.json()["id"]
    for state in ("in_progress", "submitted", "in_review", "accepted"):
        moved = client.put(f"/api/assignments/{assignments['accepted']}/state", json={"state": state})
        assert moved.status_code == 200, moved.text
    assert client.put(f"/api/assignments/{assignments['open']}/state", json={"state": "in_progress"}).status_code == 200
    yield {"persona": persona, "ids": ids, "stems": {k: n.rsplit(".", 1)[0] for k, n in names.items()}}
    for assignment in assignments.values():  # the videos stay writable for whatever runs after
        client.delete(f"/api/assignments/{assignment}")


def _videos_in(fmt: str, body: bytes, reviewed: dict[str, Any]) -> dict[str, int]:
    """{"accepted" | "open": how many boxes (or annotation lines) of that video the export holds} for the videos in it."""
    stems, ids = reviewed["stems"], reviewed["ids"]
    found: dict[str, int] = {}
    if fmt == "jsonl":
        lines = [json.loads(line) for line in body.decode().splitlines()]
        for key, vid in ids.items():
            if any(r["type"] == "video" and r["data"]["id"] == vid for r in lines):
                found[key] = sum(r["type"] == "annotation" and r["data"]["videoId"] == vid for r in lines)
        return found
    if fmt == "coco":
        coco = json.loads(body)
        for key, vid in ids.items():
            images = {i["id"] for i in coco["images"] if i["video_id"] == vid}
            if images:
                found[key] = sum(a["image_id"] in images for a in coco["annotations"])
        return found
    archive = zipfile.ZipFile(io.BytesIO(body))
    for key, stem in stems.items():
        inside = {"mot": [f"{stem}/gt/gt.txt"], "cvat": [f"{stem}.xml"],
                  "yolo": [n for n in archive.namelist() if n.startswith(f"labels/{stem}/")]}[fmt]
        if inside and all(n in archive.namelist() for n in inside):
            text = "".join(archive.read(n).decode() for n in inside)
            found[key] = text.count("<box ") if fmt == "cvat" else len(text.splitlines())
    return found


@pytest.mark.parametrize("fmt", ["jsonl", "mot", "coco", "yolo", "cvat"])
def test_accepted_only_leaves_out_an_unaccepted_assignments_video_in_every_format(
        client: httpx.Client, reviewed: dict[str, Any], fmt: str) -> None:
    def export_all(accepted_only: bool) -> dict[str, int]:
        params = {"format": fmt, **({"acceptedOnly": "true"} if accepted_only else {}),
                  **({"personaId": reviewed["persona"]} if fmt != "jsonl" else {})}
        response = client.get("/api/export", params=params)
        assert response.status_code == 200, response.text
        return _videos_in(fmt, response.content, reviewed)

    everything = export_all(False)
    assert everything.keys() == {"accepted", "open"} and everything["open"] > 0  # without it: both, with their tracks
    accepted = export_all(True)
    assert accepted.keys() == {"accepted"} and accepted["accepted"] == everything["accepted"] > 0


@pytest.mark.parametrize("fmt", ["mot", "coco", "yolo", "cvat"])
def test_accepted_only_for_one_unaccepted_video_is_409_saying_why(client: httpx.Client, reviewed: dict[str, Any],
                                                                  fmt: str) -> None:
    refused = client.get(f"/api/videos/{reviewed['ids']['open']}/export", params={"format": fmt, "acceptedOnly": "true"})
    assert refused.status_code == 409 and "in progress" in refused.json()["message"], refused.text
    assert refused.json()["detail"][0]["loc"] == ["query", "acceptedOnly"]
    done = client.get(f"/api/videos/{reviewed['ids']['accepted']}/export", params={"format": fmt, "acceptedOnly": "true"})
    assert done.status_code == 200 and done.content, done.text
