"""ONNX detectors an operator imports (`fovea models import best.onnx --classes names.txt`), run by ONNX Runtime.

Why ONNX Runtime and not OpenCV DNN: the image already carries it (RapidOCR's OCR runs on it), it runs every
standard opset, while OpenCV DNN's ONNX importer lags behind newer exports (YOLO11's attention block, RT-DETR's
decoder), and it is the runtime the exporters themselves check their output with.

Only a layout this module can interpret is accepted, read from the model's declared output shape and the class
count: YOLOv8/YOLO11 exports, `[1, 4 + classes, anchors]` with rows cx, cy, w, h (input pixels) then one score
per class, before non-maximum suppression. Anything else (YOLOv5's objectness column, end-to-end NMS outputs,
RT-DETR's `[1, queries, 4 + classes]`) is refused at import, not guessed at: no model of those kinds could be
tested here.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model_service.config import ModelEntry
from model_service.loaded_weights import LoadedWeights
from model_service.typing_map import Box, Detection

# ultralytics' predict defaults: the same boxes come out of the .pt model and of its ONNX export.
NMS_IOU = 0.7
MAX_DETECTIONS = 300
PAD_VALUE = 114  # the grey ultralytics letterboxes with


class UnsupportedModel(Exception):
    """The ONNX file is no detector whose input and output this module can interpret."""


@dataclass(frozen=True)
class OnnxLayout:
    input_name: str
    height: int
    width: int
    classes: int
    anchors: int


def _static(dim: object) -> int | None:
    return dim if isinstance(dim, int) and dim > 0 else None


def read_layout(session: Any, class_count: int) -> OnnxLayout:
    """The model's input size and output layout from its declared shapes, checked against the class list."""
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1:
        raise UnsupportedModel(f"the model has {len(inputs)} inputs; a detector takes one image tensor")
    shape = list(inputs[0].shape)
    if len(shape) != 4 or _static(shape[1]) != 3:
        raise UnsupportedModel(f"input {inputs[0].name!r} is {shape}; want [1, 3, height, width] (RGB, NCHW)")
    height, width = _static(shape[2]), _static(shape[3])
    if height is None or width is None:
        raise UnsupportedModel(f"input {inputs[0].name!r} is {shape}: its size is not fixed; export with a fixed "
                               "image size (ultralytics: imgsz=640, dynamic=False)")
    if len(outputs) != 1:
        raise UnsupportedModel(f"the model has {len(outputs)} outputs ({', '.join(o.name for o in outputs)}); "
                               "the YOLOv8/YOLO11 layout has one, [1, 4 + classes, anchors]")
    out = list(outputs[0].shape)
    if len(out) != 3 or any(_static(d) is None for d in out[1:]):
        raise UnsupportedModel(f"output {outputs[0].name!r} is {out}; want [1, 4 + classes, anchors] with fixed sizes")
    rows, columns = int(out[1]), int(out[2])
    if rows == 4 + class_count and columns > rows:
        return OnnxLayout(inputs[0].name, height, width, class_count, columns)
    if columns == 4 + class_count:
        raise UnsupportedModel(f"output {out} is [1, boxes, 4 + classes] (RT-DETR style, or a transposed YOLO "
                               "export): not supported here; export a YOLOv8/YOLO11 model as [1, 4 + classes, anchors]")
    if rows == 5 + class_count or columns == 5 + class_count:
        raise UnsupportedModel(f"output {out} has an objectness column (YOLOv5 style): not supported here")
    if rows > 4 and columns > rows:
        raise UnsupportedModel(f"the model predicts {rows - 4} classes (output {out}) but the class list names "
                               f"{class_count}: give one name per class, in the model's order")
    raise UnsupportedModel(f"output {out} is no layout this service can read with {class_count} classes; want "
                           f"[1, {4 + class_count}, anchors] (YOLOv8/YOLO11)")


def open_session(path: Path, device: str = "cpu") -> Any:
    import onnxruntime

    providers = ["CPUExecutionProvider"]
    if device == "cuda" and "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    try:
        return onnxruntime.InferenceSession(str(path), providers=providers)
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types for every way a file is wrong
        raise UnsupportedModel(f"{path.name} does not load in ONNX Runtime: {str(exc)[:300]}") from None


@dataclass(frozen=True)
class Letterbox:
    """How a frame was fitted into the model's input: scaled by `scale`, then padded by (left, top)."""

    scale: float
    left: int
    top: int


def letterbox(cv2: Any, np: Any, frame: Any, height: int, width: int) -> tuple[Any, Letterbox]:
    """Scale the frame to fit (aspect kept), pad the rest grey, as ultralytics does: its ONNX models were trained
    and exported for exactly this input. Returns the NCHW float RGB tensor."""
    rows, cols = frame.shape[:2]
    scale = min(height / rows, width / cols)
    new_w, new_h = round(cols * scale), round(rows * scale)
    resized = cv2.resize(frame, (new_w, new_h), interpolation=cv2.INTER_LINEAR) if (new_w, new_h) != (cols, rows) \
        else frame
    pad_w, pad_h = (width - new_w) / 2, (height - new_h) / 2
    top, bottom = round(pad_h - 0.1), round(pad_h + 0.1)
    left, right = round(pad_w - 0.1), round(pad_w + 0.1)
    padded = cv2.copyMakeBorder(resized, top, bottom, left, right, cv2.BORDER_CONSTANT,
                                value=(PAD_VALUE, PAD_VALUE, PAD_VALUE))
    tensor = np.ascontiguousarray(padded[:, :, ::-1].transpose(2, 0, 1)[None], dtype=np.float32) / 255.0
    return tensor, Letterbox(scale, left, top)


class OnnxDetector:
    """An imported YOLOv8/YOLO11 ONNX export: letterbox, one forward pass, class-wise NMS, boxes back to the frame."""

    def __init__(self, entry: ModelEntry, weights: Path, device: str = "cpu") -> None:
        import cv2
        import numpy as np

        self.entry = entry
        self.weights = LoadedWeights(weights)
        self.session = open_session(weights, device)
        self.layout = read_layout(self.session, len(entry.classes))
        self.names = [entry.classes[i] for i in sorted(entry.classes)]
        self.lock = threading.Lock()  # one run at a time: ONNX Runtime already uses every core for one
        self._cv2, self._np = cv2, np

    def replaced(self) -> bool:
        """Whether the file was replaced since it loaded (an import copies, then renames over it)."""
        return self.weights.replaced()

    def detect(self, frame: Any, confidence: float) -> list[Detection]:
        cv2, np, layout = self._cv2, self._np, self.layout
        tensor, fit = letterbox(cv2, np, frame, layout.height, layout.width)
        with self.lock:
            output = self.session.run(None, {layout.input_name: tensor})[0]
        rows = output[0].T  # anchors x (4 + classes)
        scores = rows[:, 4:]
        best = scores.argmax(axis=1)
        score = scores[np.arange(len(best)), best]
        keep = score >= max(confidence, 1e-6)
        rows, best, score = rows[keep], best[keep], score[keep]
        if not len(rows):
            return []
        frame_h, frame_w = frame.shape[:2]
        # cx, cy, w, h in input pixels -> x, y, w, h in frame pixels (undo the padding, then the scale).
        x = (rows[:, 0] - rows[:, 2] / 2 - fit.left) / fit.scale
        y = (rows[:, 1] - rows[:, 3] / 2 - fit.top) / fit.scale
        w, h = rows[:, 2] / fit.scale, rows[:, 3] / fit.scale
        boxes = np.stack([x, y, w, h], axis=1)
        kept = cv2.dnn.NMSBoxesBatched(boxes.tolist(), score.tolist(), best.tolist(), 0.0, NMS_IOU)
        found: list[Detection] = []
        for i in np.asarray(kept, dtype=int).reshape(-1)[:MAX_DETECTIONS]:
            x1, y1 = max(0.0, float(x[i]) / frame_w), max(0.0, float(y[i]) / frame_h)
            x2 = min(1.0, (float(x[i]) + float(w[i])) / frame_w)
            y2 = min(1.0, (float(y[i]) + float(h[i])) / frame_h)
            if x2 > x1 and y2 > y1:
                found.append(Detection(self.names[int(best[i])], round(float(score[i]), 4), Box(x1, y1, x2 - x1,
                                                                                               y2 - y1)))
        return found
