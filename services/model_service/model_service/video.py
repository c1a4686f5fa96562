"""Decoding: each wanted frame is decoded once, read sequentially (seeking is slow and inexact for many
codecs), and skipped frames are only grabbed, never converted."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy arrives with cv2 when frames are read; not before the service is ready
    import numpy as np


class VideoError(Exception):
    """The file is not a video OpenCV can decode."""


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float
    frame_count: int

    @property
    def duration_s(self) -> float:
        return self.frame_count / self.fps if self.fps else 0.0


@dataclass(frozen=True)
class FrameSelection:
    """Which frames to decode: an explicit list, every n-th frame, or all."""

    frames: tuple[int, ...] | None = None
    sample_every: int | None = None

    def expected(self, info: VideoInfo) -> int:
        if self.frames is not None:
            return len([f for f in self.frames if f < info.frame_count]) if info.frame_count else len(self.frames)
        step = self.sample_every or 1
        return max(1, math.ceil(info.frame_count / step)) if info.frame_count else 1

    def wants(self, index: int) -> bool:
        if self.frames is not None:
            return index in self._frame_set
        return index % (self.sample_every or 1) == 0

    def last(self) -> int | None:
        return max(self.frames) if self.frames else (-1 if self.frames is not None else None)

    @property
    def _frame_set(self) -> frozenset[int]:
        return frozenset(self.frames or ())


def _open(path: Path):  # -> cv2.VideoCapture
    import cv2

    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise VideoError(f"{path.name}: not a video OpenCV can open")
    return capture


def probe(path: Path) -> VideoInfo:
    import cv2

    capture = _open(path)
    try:
        return _info(capture, cv2)
    finally:
        capture.release()


def _info(capture, cv2) -> VideoInfo:
    fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
    return VideoInfo(
        width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
        height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        fps=fps if math.isfinite(fps) and fps > 0 else 25.0,
        frame_count=max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT))),
    )


def read_frames(path: Path, selection: FrameSelection) -> tuple[VideoInfo, Iterator[tuple[int, np.ndarray]]]:
    """The video's info and an iterator of (frame index, BGR array) for the selected frames."""
    import cv2

    capture = _open(path)
    info = _info(capture, cv2)
    last = selection.last()

    def frames() -> Iterator[tuple[int, np.ndarray]]:
        index = 0
        try:
            while last is None or index <= last:
                if not capture.grab():
                    break
                if selection.wants(index):
                    ok, frame = capture.retrieve()
                    if not ok:
                        break
                    yield index, frame
                index += 1
        finally:
            capture.release()

    return info, frames()


def batched(items: Iterator[tuple[int, np.ndarray]], size: int) -> Iterator[list[tuple[int, np.ndarray]]]:
    batch: list[tuple[int, np.ndarray]] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
