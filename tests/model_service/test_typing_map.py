"""Persona types -> detector classes, and detections across sampled frames joined into tracks (pure Python)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "services" / "model_service"))
from model_service.typing_map import (Box, Detection, TypeSpec, associate, class_to_type,  # noqa: E402
                                      propose, unmapped_counts)

COCO = ["person", "bicycle", "car", "motorcycle", "bus", "truck", "traffic light", "dog"]


def test_a_type_uses_its_own_classes_or_gets_scored_proposals_from_its_name_and_description() -> None:
    types = [TypeSpec(id="vehicle", name="Vehicle", description="A car, bus, truck or motorbike"),
             TypeSpec.model_validate({"id": "pet", "name": "Pet", "detectorClasses": ["dog", "unicorn"]}),
             TypeSpec(id="signal", name="Signal", description="traffic lights at crossings")]
    # A stand-in embedder (the real one is MiniLM in the image): "motorcycle" close to "Vehicle", nothing else.
    def embed(texts: list[str]) -> list[list[float]]:
        return [[1.0, 0.0] if t in ("Vehicle", "motorcycle") else [0.0, 1.0] if t == "Signal" else [0.6, 0.8]
                for t in texts]
    mappings = {m.type_id: m for m in propose(types, COCO, embed, min_score=0.9)}
    vehicle = mappings["vehicle"]
    assert vehicle.source == "proposed"
    assert [(c.name, c.score) for c in vehicle.classes] == [("bus", 1.0), ("car", 1.0), ("motorcycle", 1.0), ("truck", 1.0)]
    assert vehicle.classes[2].why.startswith("embedding") and vehicle.classes[0].why.startswith("named in")
    assert mappings["pet"].source == "ontology" and [c.name for c in mappings["pet"].classes] == ["dog"]
    assert [c.name for c in mappings["signal"].classes] == ["traffic light"]  # a two-word class, plural in the text
    assert class_to_type(list(mappings.values()))["bus"] == "vehicle"


def test_an_empty_mapping_of_the_persona_is_respected_not_replaced_by_a_proposal() -> None:
    mapping = propose([TypeSpec.model_validate({"id": "car", "name": "Car", "detectorClasses": []})], COCO, None, 0.5)
    assert mapping[0].source == "ontology" and mapping[0].classes == []


def _bus(x: float) -> Detection:
    return Detection("bus", 0.9, Box(x, 0.2, 0.5, 0.4))


def test_a_moving_object_is_one_track_and_an_object_elsewhere_another() -> None:
    samples = [(0, [_bus(0.0), Detection("person", 0.8, Box(0.8, 0.1, 0.1, 0.3))]), (5, [_bus(0.05)]),
               (10, [_bus(0.1), Detection("car", 0.7, Box(0.0, 0.8, 0.1, 0.1))]), (15, [_bus(0.15)])]
    tracks = associate(samples, {"bus": "vehicle", "car": "vehicle"}, iou_match=0.3, max_gap_samples=1, last_frame=19)
    assert [(t["label"], t["type"], [f["frame"] for f in t["frames"]]) for t in tracks] == [
        ("bus", "vehicle", [0, 5, 10, 15]), ("car", "vehicle", [10, 15])]
    assert tracks[1]["frames"][-1]["outside"] is True  # the car was gone at the next sample: its box goes away
    assert unmapped_counts(samples, {"bus": "vehicle"}) == [{"class": "car", "detections": 1},
                                                            {"class": "person", "detections": 1}]


def test_a_short_miss_keeps_the_track_and_a_long_one_ends_it() -> None:
    samples = [(0, [_bus(0.0)]), (5, []), (10, [_bus(0.02)]), (15, []), (20, []), (25, []), (30, [_bus(0.02)])]
    tracks = associate(samples, {"bus": "vehicle"}, iou_match=0.3, max_gap_samples=1, last_frame=30)
    assert [[f["frame"] for f in t["frames"]] for t in tracks] == [[0, 10, 15], [30]]
    assert tracks[0]["frames"][-1] == {**tracks[0]["frames"][-1], "frame": 15, "outside": True}
