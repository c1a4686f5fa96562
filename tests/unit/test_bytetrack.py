"""ByteTrack's Kalman filter and two-pass association (model_service.bytetrack), on hand-made detections.

numpy and scipy are in the host's venv (requirements.lock) as in both model-service images, so the logic runs here;
tests/model_service/test_multi_object_tracking.py runs it through the service on a real clip.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "services" / "model_service"))
from model_service.bytetrack import BoxKalman, ByteTrackSettings, assign, bytetrack, iou_matrix  # noqa: E402
from model_service.config import GeneralDetectionConfig  # noqa: E402
from model_service.typing_map import Box, Detection, associate  # noqa: E402

SETTINGS = ByteTrackSettings(high_confidence=0.4, low_confidence=0.1, match_iou=0.2, low_match_iou=0.5,
                             confirm_buffer=0.5, lost_buffer_samples=3)
PERSON = {"person": "human"}


def _person(x: float, confidence: float = 0.9, y: float = 0.3) -> Detection:
    return Detection("person", confidence, Box(x, y, 0.1, 0.3))


def _ids_by_side(tracks: list[dict]) -> dict[int, tuple[float, float]]:
    """track id -> (x of its first keyframe, x of its last seen keyframe)."""
    return {t["track_id"]: (t["frames"][0]["x"], [f for f in t["frames"] if not f.get("outside")][-1]["x"])
            for t in tracks}


def test_the_kalman_filter_learns_a_constant_velocity_and_predicts_the_next_box() -> None:
    kalman = BoxKalman(Box(0.10, 0.2, 0.1, 0.3))
    for step in range(1, 6):
        kalman.predict()
        kalman.update(Box(0.10 + 0.05 * step, 0.2, 0.1, 0.3))
    kalman.predict()
    predicted = kalman.box()
    assert predicted.iou(Box(0.40, 0.2, 0.1, 0.3)) > 0.85
    assert predicted.x == pytest.approx(0.40, abs=0.01)


def test_assignment_is_optimal_not_greedy_and_refuses_pairs_below_the_threshold() -> None:
    # Greedy would take the 0.6 pair and leave row 1 alone; the optimum pairs both rows (0.5 + 0.55 > 0.6).
    import numpy as np

    overlaps = np.array([[0.6, 0.5], [0.55, 0.0]])
    assert sorted(assign(overlaps, 0.2)) == [(0, 1), (1, 0)]
    assert assign(np.array([[0.1]]), 0.2) == []
    assert iou_matrix([Box(0, 0, 1, 1)], [Box(0.5, 0, 1, 1), Box(2, 2, 1, 1)]).round(3).tolist() == [[0.333, 0.0]]


def test_two_people_who_cross_keep_one_identity_each_where_the_greedy_joiner_swaps_them() -> None:
    # A walks right, B walks left, 0.04 a sample (boxes 0.1 wide); at the crossing B is hidden behind A.
    samples = []
    for step in range(16):
        a, b = 0.10 + 0.04 * step, 0.76 - 0.04 * step
        samples.append((step * 5, [_person(a)] + ([_person(b)] if step != 8 else [])))
    tracks = bytetrack(samples, PERSON, SETTINGS, last_frame=80)
    assert _ids_by_side(tracks) == {1: (pytest.approx(0.1), pytest.approx(0.7)),
                                    2: (pytest.approx(0.76), pytest.approx(0.16))}
    assert [len(t["frames"]) for t in tracks] == [16, 15]  # B's hidden sample: interpolated, not "outside"
    # The joiner it replaces matches B's old box to A's new one (and A's to B's) the sample after the crossing.
    greedy = associate(samples, PERSON, iou_match=0.3, max_gap_samples=2, last_frame=80)
    assert _ids_by_side(greedy) == {1: (pytest.approx(0.1), pytest.approx(0.16)),
                                    2: (pytest.approx(0.76), pytest.approx(0.7))}


def test_a_fast_walker_is_confirmed_from_its_second_sighting_and_then_followed() -> None:
    # 0.07 a sample with a box 0.1 wide: consecutive boxes overlap by IoU 0.18, under match_iou, and a new track
    # has no velocity to predict with; its widened box finds the second sighting, the filter does the rest.
    samples = [(i, [_person(0.05 + 0.07 * i)]) for i in range(10)]
    tracks = bytetrack(samples, PERSON, SETTINGS, last_frame=9)
    assert [[f["frame"] for f in t["frames"]] for t in tracks] == [list(range(10))]
    no_buffer = ByteTrackSettings(**{**SETTINGS.__dict__, "confirm_buffer": 0.0})
    assert bytetrack(samples, PERSON, no_buffer, last_frame=9) == []


def test_a_weak_box_keeps_a_track_alive_but_never_starts_one_and_a_one_sample_box_makes_no_track() -> None:
    samples = [(0, [_person(0.1)]), (1, [_person(0.12)]), (2, [_person(0.14, confidence=0.15)]),
               (3, [_person(0.16), _person(0.7, confidence=0.2)]), (4, [_person(0.18), _person(0.5, y=0.0)]),
               (5, [_person(0.20)])]
    tracks = bytetrack(samples, PERSON, SETTINGS, last_frame=10)
    assert [[f["frame"] for f in t["frames"]] for t in tracks] == [[0, 1, 2, 3, 4, 5]]
    assert tracks[0]["frames"][2]["x"] == pytest.approx(0.14)


def test_a_track_found_again_within_the_buffer_keeps_its_id_and_one_lost_longer_ends_outside() -> None:
    moving = [(i, [_person(0.1 + 0.02 * i)] if i not in (3, 4) else []) for i in range(7)]
    tracks = bytetrack(moving, PERSON, SETTINGS, last_frame=20)
    assert [[f["frame"] for f in t["frames"]] for t in tracks] == [[0, 1, 2, 5, 6]]  # the editor interpolates 3-4
    gone = [(i, [_person(0.1)] if i < 3 or i > 8 else []) for i in range(11)]
    tracks = bytetrack(gone, PERSON, SETTINGS, last_frame=20)
    assert [[(f["frame"], f.get("outside", False)) for f in t["frames"]] for t in tracks] == [
        [(0, False), (1, False), (2, False), (3, True)], [(9, False), (10, False)]]


def test_tracks_keep_their_class_and_type_where_boxes_of_two_classes_overlap() -> None:
    # A person in front of a bus, then a car at the bus's place: three tracks, none changes class.
    samples = [(i, [Detection("person", 0.9, Box(0.3, 0.3, 0.1, 0.3)),
                    Detection("bus" if i < 4 else "car", 0.8, Box(0.3, 0.3, 0.12, 0.3))]) for i in range(8)]
    tracks = bytetrack(samples, {"person": "human", "bus": "vehicle", "car": "vehicle"}, SETTINGS, last_frame=7)
    assert [(t["track_id"], t["label"], t["type"], [f["frame"] for f in t["frames"]]) for t in tracks] == [
        (1, "person", "human", list(range(8))), (2, "bus", "vehicle", [0, 1, 2, 3, 4]),
        (3, "car", "vehicle", [4, 5, 6, 7])]
    assert tracks[1]["frames"][-1]["outside"] is True


def test_a_low_confidence_above_the_confidence_is_refused() -> None:
    with pytest.raises(ValidationError, match="low_confidence"):
        GeneralDetectionConfig.model_validate({"confidence": 0.3, "bytetrack": {"low_confidence": 0.5}})
    assert GeneralDetectionConfig.model_validate({"confidence": 0.3, "association": "greedy",
                                                  "bytetrack": {"low_confidence": 0.5}}).association == "greedy"
