"""What the standard-format tests (backend API and browser) share: matching MOT boxes by IoU for motmetrics."""

from __future__ import annotations

import numpy as np


def iou_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """1 - IoU of every pair of (x, y, w, h) boxes, NaN beyond 0.5 (motmetrics' own iou_matrix uses np.asfarray,
    gone in NumPy 2)."""
    if len(a) == 0 or len(b) == 0:
        return np.empty((len(a), len(b)))
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 0] + a[:, None, 2], b[None, :, 0] + b[None, :, 2])
    y2 = np.minimum(a[:, None, 1] + a[:, None, 3], b[None, :, 1] + b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None, :] - inter
    distance = 1 - inter / union
    distance[distance > 0.5] = np.nan
    return distance
