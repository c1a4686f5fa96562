"""ByteTrack over the general detector's boxes: multi-object tracks that keep one class each.

ByteTrack (Zhang et al., "ByteTrack: Multi-Object Tracking by Associating Every Detection Box", ECCV 2022), written
here in numpy with scipy's Hungarian solver (both Debian packages in the CPU and GPU images). Per sampled frame:

1. every track's constant-velocity Kalman filter predicts where its box is now;
2. detections at or above the job's confidence ("high") are matched to all live tracks, active and lost, by IoU
   with the predicted boxes (optimal assignment, IoU >= `match_iou`);
3. detections between `low_confidence` and the confidence ("low": partly hidden, blurred) are matched to the
   *active* tracks the first pass left over (IoU >= `low_match_iou`); this is what keeps an object through an
   occlusion its detector only half sees;
4. tentative tracks (started by the last sample) are confirmed by a high detection left over, matched with both
   boxes widened by `confirm_buffer` (the track has no velocity yet), and dropped otherwise (no one-frame tracks);
5. high detections still unmatched start tentative tracks; active tracks unmatched become lost, and a track lost
   for more than `lost_buffer_samples` samples (models.yaml's `lost_buffer_s` at the job's sampling rate) ends.

Each detector class is tracked on its own, so a track keeps one class (and with it the persona's type). Steps are
samples, not video frames: the filter's velocity is per sample, which holds while samples are evenly spaced (they
are: FrameSelection samples every Nth frame).

Keyframes carry the detector's boxes, not the filtered ones: what the annotator accepts is what the model saw, and
the quality bench (bench/quality.py) compares this association with the greedy joiner on identical boxes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from model_service.typing_map import Box, Detection, TrackBuilder, tracks_as_keyframes

# Process and measurement noise scale with the box height (as in the filter of SORT/DeepSORT that ByteTrack uses):
# a large, near box moves more pixels per step than a small, far one. Their velocity weight, 1/160, is for steps of
# one video frame; ours are samples (0.5 s at the default 2 frames/s), between which an object's velocity changes
# far more, and with it the filter took five samples to learn a walk (predicted 1/3 of a box width behind after
# three). 1/40 learns it in two (tests/unit/test_bytetrack.py).
POSITION_NOISE = 1.0 / 20
VELOCITY_NOISE = 1.0 / 40


class BoxKalman:
    """Constant-velocity Kalman filter of one box in (centre x, centre y, aspect w/h, height) and their velocities."""

    _transition = np.eye(8)
    _transition[:4, 4:] = np.eye(4)  # x' = x + v per step
    _observe = np.eye(4, 8)

    def __init__(self, box: Box) -> None:
        measured = _to_xyah(box)
        self.mean = np.concatenate([measured, np.zeros(4)])
        h = measured[3]
        std = [2 * POSITION_NOISE * h, 2 * POSITION_NOISE * h, 1e-2, 2 * POSITION_NOISE * h,
               10 * VELOCITY_NOISE * h, 10 * VELOCITY_NOISE * h, 1e-5, 10 * VELOCITY_NOISE * h]
        self.covariance = np.diag(np.square(std))

    def predict(self, hold_height: bool = False) -> None:
        if hold_height:
            self.mean[7] = 0.0  # a lost box keeps its size; drifting height only makes re-association harder
        h = self.mean[3]
        std = [POSITION_NOISE * h, POSITION_NOISE * h, 1e-2, POSITION_NOISE * h,
               VELOCITY_NOISE * h, VELOCITY_NOISE * h, 1e-5, VELOCITY_NOISE * h]
        self.mean = self._transition @ self.mean
        self.covariance = self._transition @ self.covariance @ self._transition.T + np.diag(np.square(std))

    def update(self, box: Box) -> None:
        h = self.mean[3]
        noise = np.diag(np.square([POSITION_NOISE * h, POSITION_NOISE * h, 1e-1, POSITION_NOISE * h]))
        projected_cov = self._observe @ self.covariance @ self._observe.T + noise
        # K = P H^T S^-1, solved rather than inverted (S is symmetric positive definite).
        gain = np.linalg.solve(projected_cov, self._observe @ self.covariance).T
        self.mean = self.mean + gain @ (_to_xyah(box) - self._observe @ self.mean)
        self.covariance = self.covariance - gain @ projected_cov @ gain.T

    def box(self) -> Box:
        cx, cy, aspect, h = (float(v) for v in self.mean[:4])
        w = aspect * h
        return Box(cx - w / 2, cy - h / 2, w, h)


def _to_xyah(box: Box) -> np.ndarray:
    return np.array([box.x + box.width / 2, box.y + box.height / 2, box.width / max(box.height, 1e-9), box.height])


def iou_matrix(a: list[Box], b: list[Box]) -> np.ndarray:
    """IoU of every box in `a` with every box in `b` (len(a) x len(b))."""
    if not a or not b:
        return np.zeros((len(a), len(b)))
    first = np.array([[x.x, x.y, x.x + x.width, x.y + x.height] for x in a])[:, None, :]
    second = np.array([[x.x, x.y, x.x + x.width, x.y + x.height] for x in b])[None, :, :]
    iw = np.clip(np.minimum(first[..., 2], second[..., 2]) - np.maximum(first[..., 0], second[..., 0]), 0, None)
    ih = np.clip(np.minimum(first[..., 3], second[..., 3]) - np.maximum(first[..., 1], second[..., 1]), 0, None)
    inter = iw * ih
    area_a = (first[..., 2] - first[..., 0]) * (first[..., 3] - first[..., 1])
    area_b = (second[..., 2] - second[..., 0]) * (second[..., 3] - second[..., 1])
    union = area_a + area_b - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def widened(box: Box, share: float) -> Box:
    """The box grown by `share` of its width and height on each side (same centre)."""
    return Box(box.x - share * box.width, box.y - share * box.height, box.width * (1 + 2 * share),
               box.height * (1 + 2 * share))


def assign(overlaps: np.ndarray, min_iou: float) -> list[tuple[int, int]]:
    """Row/column pairs of the assignment that maximises total IoU, keeping only pairs with IoU >= min_iou."""
    if overlaps.size == 0:
        return []
    # Pairs below the threshold may not match at all: give them a cost the solver never prefers to leaving
    # both unmatched (an optimal assignment over all pairs could otherwise trade a good pair for two poor ones).
    cost = np.where(overlaps >= min_iou, 1.0 - overlaps, 1e6)
    rows, cols = linear_sum_assignment(cost)
    return [(int(r), int(c)) for r, c in zip(rows, cols) if overlaps[r, c] >= min_iou]


@dataclass(frozen=True)
class ByteTrackSettings:
    """configs/models.yaml `general_detection.bytetrack`, with the job's confidence as the high/low split."""

    high_confidence: float
    low_confidence: float
    match_iou: float
    low_match_iou: float
    confirm_buffer: float
    lost_buffer_samples: int


@dataclass
class _Track:
    builder: TrackBuilder
    kalman: BoxKalman
    state: str = "tentative"  # tentative -> active <-> lost -> ended
    lost_since: int = 0  # samples since the last match


@dataclass
class ClassTracker:
    """ByteTrack for one detector class."""

    settings: ByteTrackSettings
    tracks: list[_Track] = field(default_factory=list)
    finished: list[TrackBuilder] = field(default_factory=list)

    def step(self, frame: int, detections: list[Detection], new_track: TrackBuilderFactory) -> None:
        s = self.settings
        for track in self.tracks:
            track.kalman.predict(hold_height=track.state == "lost")
        high = [d for d in detections if d.confidence >= s.high_confidence]
        low = [d for d in detections if s.low_confidence <= d.confidence < s.high_confidence]
        matched: set[int] = set()

        # 1. High detections against active and lost tracks.
        live = [i for i, t in enumerate(self.tracks) if t.state in ("active", "lost")]
        pairs = assign(iou_matrix([self.tracks[i].kalman.box() for i in live], [d.box for d in high]), s.match_iou)
        used_high = set()
        for row, col in pairs:
            self._match(self.tracks[live[row]], frame, high[col])
            matched.add(live[row])
            used_high.add(col)

        # 2. Low detections against the active tracks the first pass left (a lost track needs a confident sighting).
        left = [i for i in live if i not in matched and self.tracks[i].state == "active"]
        for row, col in assign(iou_matrix([self.tracks[i].kalman.box() for i in left], [d.box for d in low]),
                               s.low_match_iou):
            self._match(self.tracks[left[row]], frame, low[col])
            matched.add(left[row])

        # 3. Tentative tracks (last sample's new ones) confirm against the high detections still free. They have
        #    no velocity yet and at 2 frames/s a walker moves half its width a sample: both boxes are widened
        #    first (the buffered IoU of C-BIoU, Yang et al. 2023, made for fast motion).
        remaining = [c for c in range(len(high)) if c not in used_high]
        tentative = [i for i, t in enumerate(self.tracks) if t.state == "tentative"]
        for row, col in assign(iou_matrix([widened(self.tracks[i].kalman.box(), s.confirm_buffer) for i in tentative],
                                          [widened(high[c].box, s.confirm_buffer) for c in remaining]), s.match_iou):
            self._match(self.tracks[tentative[row]], frame, high[remaining[col]])
            matched.add(tentative[row])
            used_high.add(remaining[col])

        # 4. Misses: tentative tracks go, active ones become lost, lost ones past the buffer end.
        kept: list[_Track] = []
        for index, track in enumerate(self.tracks):
            if index not in matched:
                if track.state == "tentative":
                    continue
                track.state = "lost"
                track.lost_since += 1
                if track.lost_since > s.lost_buffer_samples:
                    self.finished.append(track.builder)
                    continue
            kept.append(track)
        self.tracks = kept

        # 5. Unmatched high detections start tentative tracks.
        for col, detection in enumerate(high):
            if col not in used_high:
                self.tracks.append(_Track(new_track(frame, detection), BoxKalman(detection.box)))

    @staticmethod
    def _match(track: _Track, frame: int, detection: Detection) -> None:
        track.kalman.update(detection.box)
        track.state = "active"
        track.lost_since = 0
        if track.builder.points[-1][0] != frame:
            track.builder.points.append((frame, detection.box))
            track.builder.confidences.append(detection.confidence)

    def close(self) -> list[TrackBuilder]:
        """Every confirmed track, finished or still open at the end of the video."""
        return self.finished + [t.builder for t in self.tracks if t.state != "tentative"]


class TrackBuilderFactory:
    """Numbers tracks across classes in the order they start (ids are renumbered once tracks are confirmed)."""

    def __init__(self, type_of: dict[str, str]) -> None:
        self.type_of = type_of
        self.next_id = 1

    def __call__(self, frame: int, detection: Detection) -> TrackBuilder:
        builder = TrackBuilder(self.next_id, detection.label, self.type_of[detection.label],
                               [(frame, detection.box)], [detection.confidence])
        self.next_id += 1
        return builder


def bytetrack(samples: list[tuple[int, list[Detection]]], type_of: dict[str, str], settings: ByteTrackSettings,
              last_frame: int | None = None) -> list[dict]:
    """Tracks of the classes in `type_of` over the sampled frames, in the shape typing_map.associate returns (the
    backend files both the same way): ids from 1 in order of first sighting, a keyframe per sample the track was
    matched, an `outside` keyframe at the first sample after it was last seen when it ended before the video did."""
    factory = TrackBuilderFactory(type_of)
    per_class: dict[str, ClassTracker] = {}
    for frame, detections in samples:
        by_class: dict[str, list[Detection]] = {label: [] for label in per_class}
        for detection in detections:
            if detection.label in type_of:
                by_class.setdefault(detection.label, []).append(detection)
        for label, found in by_class.items():
            tracker = per_class.setdefault(label, ClassTracker(settings))
            tracker.step(frame, found, factory)
    confirmed = sorted((b for tracker in per_class.values() for b in tracker.close()),
                       key=lambda b: (b.points[0][0], b.track_id))
    for number, builder in enumerate(confirmed, start=1):
        builder.track_id = number
    return tracks_as_keyframes(confirmed, [f for f, _ in samples], last_frame)
