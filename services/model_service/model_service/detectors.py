"""General detectors of the model registry (configs/models.yaml `catalog`), one interface over their runtimes.

OpenCV DNN runs the TensorFlow model-zoo SSD-MobileNetV2 COCO graph with Debian's python3-opencv (no TensorFlow);
ultralytics runs YOLO weights. Each returns every class it sees above the confidence, named by the catalog's
class list; the caller decides which classes a persona's types want and counts the rest as unmapped.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Protocol

from model_service.config import ModelEntry
from model_service.typing_map import Box, Detection


class Detector(Protocol):
    entry: ModelEntry

    def detect(self, frame: Any, confidence: float) -> list[Detection]: ...

    def replaced(self) -> bool:
        """Whether its weights were replaced since it loaded (`fovea models import --force`): the registry loads
        it again rather than keep running the old ones."""
        ...


class ConfiguredWeights:
    """Weights models.yaml's own catalog names (shipped in the image, or a .pt it points at): they load once per
    process, and replacing such a file takes effect at the service's next start, as models.yaml itself does."""

    def replaced(self) -> bool:
        return False


def _clipped_box(x1: float, y1: float, x2: float, y2: float) -> Box | None:
    x1, y1 = min(max(x1, 0.0), 1.0), min(max(y1, 0.0), 1.0)
    x2, y2 = min(max(x2, 0.0), 1.0), min(max(y2, 0.0), 1.0)
    if x2 <= x1 or y2 <= y1:
        return None
    return Box(x1, y1, x2 - x1, y2 - y1)


class OpenCvDnnDetector(ConfiguredWeights):
    """A TensorFlow object-detection graph through cv2.dnn: output rows are [_, class id, score, x1, y1, x2, y2]
    with normalised corners and the model's own class ids (COCO's 1..90 with gaps)."""

    def __init__(self, entry: ModelEntry, weights: Path, graph: Path) -> None:
        import cv2

        self.entry = entry
        self.net = cv2.dnn.readNetFromTensorflow(str(weights), str(graph))
        self.lock = threading.Lock()  # one forward pass at a time: the net keeps its blobs between calls
        self._cv2 = cv2

    def detect(self, frame: Any, confidence: float) -> list[Detection]:
        size = self.entry.input_size or 300
        blob = self._cv2.dnn.blobFromImage(frame, size=(size, size), swapRB=True, crop=False)
        with self.lock:
            self.net.setInput(blob)
            out = self.net.forward()
        found: list[Detection] = []
        for row in out.reshape(-1, 7):
            score = float(row[2])
            name = self.entry.classes.get(int(row[1]))
            if score < confidence or name is None:
                continue
            box = _clipped_box(float(row[3]), float(row[4]), float(row[5]), float(row[6]))
            if box is not None:
                found.append(Detection(name, round(score, 4), box))
        return found


class UltralyticsDetector(ConfiguredWeights):
    """YOLO weights through ultralytics, class ids named by the catalog (which may rename the model's own)."""

    def __init__(self, entry: ModelEntry, model: Any, device: str, lock: threading.Lock) -> None:
        self.entry = entry
        self.model = model
        self.device = device
        self.lock = lock

    def detect(self, frame: Any, confidence: float) -> list[Detection]:
        with self.lock:
            prediction = self.model.predict(frame, imgsz=self.entry.input_size or 640, conf=confidence,
                                            device=self.device, verbose=False)[0]
        boxes = prediction.boxes
        found: list[Detection] = []
        for xyxyn, score, cls in zip(boxes.xyxyn.tolist(), boxes.conf.tolist(), boxes.cls.tolist()):
            name = self.entry.classes.get(int(cls))
            box = _clipped_box(*xyxyn)
            if name is not None and box is not None:
                found.append(Detection(name, round(float(score), 4), box))
        return found


class ClassSourcedDetector:
    """A detector whose boxes of some classes come from other detectors that find those classes better (models.yaml
    general_detection.class_sources): the base's own boxes of those classes are dropped, the sources' boxes of their
    listed classes are renamed to the base's class. The classes are disjoint, so nothing needs merging."""

    def __init__(self, base: Detector, sources: list[tuple[Detector, dict[str, str]]]) -> None:
        self.entry = base.entry
        self.base = base
        self.sources = sources  # (detector, its class name -> the base's class name)
        self.taken = {target for _, rename in sources for target in rename.values()}

    def replaced(self) -> bool:
        return self.base.replaced() or any(detector.replaced() for detector, _ in self.sources)

    def detect(self, frame: Any, confidence: float) -> list[Detection]:
        found = [d for d in self.base.detect(frame, confidence) if d.label not in self.taken]
        for detector, rename in self.sources:
            found += [Detection(rename[d.label], d.confidence, d.box) for d in detector.detect(frame, confidence)
                      if d.label in rename]
        return found
